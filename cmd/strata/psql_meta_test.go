package main

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/internal/pgtest"
)

// psqlFull runs psql with its normal (aligned) output and no psqlrc.
func psqlFull(t *testing.T, port, user, db string, args ...string) string {
	t.Helper()
	full := append([]string{"-h", "127.0.0.1", "-p", port, "-U", user, "-d", db, "-X", "-v", "ON_ERROR_STOP=1"}, args...)
	out, err := exec.Command("psql", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestPsqlDescribeCommands runs psql's \dt, \d user_behavior and \dn against strata
// and against PostgreSQL 15 with the same table, and compares the printed text
// (the owner, strata vs postgres, is the one difference allowed).
func TestPsqlDescribeCommands(t *testing.T) {
	pgtest.Need(t, "psql", "psql")
	pg := pgtest.Shared(t)
	s := startStrata(t, t.TempDir())
	pgPort := strconv.Itoa(pg.Port)
	psqlFull(t, s.port(), "strata", "strata", "-c", bench.CreateTableSQL)
	psqlFull(t, pgPort, "postgres", "postgres", "-c", "DROP TABLE IF EXISTS user_behavior", "-c", bench.CreateTableSQL)
	// \l: PostgreSQL lists its own databases; strata has one.
	if got := psqlFull(t, s.port(), "strata", "strata", "-c", `\l`); !strings.Contains(got, "strata | strata | UTF8") {
		t.Errorf("psql \\l:\n%s", got)
	}
	for _, cmd := range []string{`\dt`, `\d user_behavior`, `\dn`} {
		got := psqlFull(t, s.port(), "strata", "strata", "-c", cmd)
		want := psqlFull(t, pgPort, "postgres", "postgres", "-c", cmd)
		// PostgreSQL's public schema is owned by pg_database_owner since 15, the table
		// by postgres; the owner's length changes column widths, so the texts are
		// compared with runs of spaces and of dashes collapsed.
		want = strings.NewReplacer("pg_database_owner", "strata", "postgres", "strata").Replace(want)
		got, want = normalizeTable(got), normalizeTable(want)
		if got != want {
			t.Errorf("psql %s differs from PostgreSQL's:\n--- strata\n%s\n--- postgres (owner renamed)\n%s", cmd, got, want)
		}
	}
}

var dashes, spaces = regexp.MustCompile(`-+`), regexp.MustCompile(`[ \t]+`)

func normalizeTable(s string) string {
	return spaces.ReplaceAllString(dashes.ReplaceAllString(strings.TrimSpace(s), "-"), " ")
}

// TestPsqlRolesAndPrivileges runs psql's \du, \du+, \dp and \z against strata and
// against a PostgreSQL 15 server of its own in which the same roles, memberships,
// tables and grants were made, and requires the printed text to be identical, byte
// for byte. The PostgreSQL server's bootstrap superuser is renamed strata, so that
// both list the same superuser with the same attributes.
func TestPsqlRolesAndPrivileges(t *testing.T) {
	pgtest.Need(t, "psql", "psql")
	pg := pgtest.Start(t)
	pgPort := strconv.Itoa(pg.Port)
	psqlFull(t, pgPort, "postgres", "postgres", "-c", "CREATE ROLE rename_su SUPERUSER LOGIN")
	psqlFull(t, pgPort, "rename_su", "postgres", "-c", "ALTER ROLE postgres RENAME TO strata")
	psqlFull(t, pgPort, "strata", "postgres", "-c", "DROP ROLE rename_su")

	s := startStrata(t, t.TempDir())
	setup := []string{
		"CREATE ROLE alice LOGIN",
		"CREATE ROLE readers",
		`CREATE ROLE "Bob Smith" LOGIN`,
		"CREATE ROLE writers NOINHERIT",
		"CREATE ROLE admin CREATEDB CREATEROLE LOGIN",
		"GRANT readers TO alice",
		`GRANT readers TO "Bob Smith"`,
		`GRANT writers TO "Bob Smith"`,
		"GRANT writers TO readers",
		"CREATE TABLE events (ts timestamptz NOT NULL, uid text, amount double precision)",
		`CREATE TABLE "odd, name" (ts timestamptz NOT NULL, v bigint)`,
		"CREATE TABLE untouched (ts timestamptz NOT NULL, v bigint)",
		"GRANT SELECT ON events TO readers",
		"GRANT SELECT, INSERT, UPDATE ON events TO writers",
		`GRANT SELECT ON events TO "Bob Smith"`,
		"GRANT SELECT ON events TO PUBLIC",
		`GRANT ALL ON "odd, name" TO alice`,
		`REVOKE DELETE ON "odd, name" FROM alice`,
		`GRANT SELECT ON "odd, name" TO "Bob Smith"`,
	}
	var args []string
	for _, q := range setup {
		args = append(args, "-c", q)
	}
	psqlFull(t, s.port(), "strata", "strata", args...)
	psqlFull(t, pgPort, "strata", "postgres", args...)
	for _, cmd := range []string{`\du`, `\du+`, `\dp`, `\z`, `\dp events`, `\z "odd, name"`, `\du a*`} {
		got := psqlFull(t, s.port(), "strata", "strata", "-c", cmd)
		want := psqlFull(t, pgPort, "strata", "postgres", "-c", cmd)
		if got != want {
			t.Errorf("psql %s differs from PostgreSQL's:\n--- strata\n%s\n--- postgres\n%s", cmd, got, want)
		}
	}
}
