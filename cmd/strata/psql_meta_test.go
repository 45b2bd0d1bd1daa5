package main

import (
	"os/exec"
	"regexp"
	"slices"
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
	pgPort := startPGAsStrata(t)
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

// TestPsqlDescribeFunctions runs psql's \df against strata and PostgreSQL 15. With
// no pattern (user functions: none in either) the output must be identical. For
// \df to_char and \df upper the header and every row of an overload both have must
// be identical byte for byte; the overloads only one side has are listed here,
// with why:
//
//   - to_char(date, text): strata formats a date itself; PostgreSQL has no such
//     overload and reaches to_char(timestamptz, text) by its implicit cast from
//     date, which strata does not have (engine/fn_datetime.go).
//   - upper(anyrange), upper(anymultirange): strata has no range types.
func TestPsqlDescribeFunctions(t *testing.T) {
	pgtest.Need(t, "psql", "psql")
	pg := pgtest.Shared(t)
	s := startStrata(t, t.TempDir())
	pgPort := strconv.Itoa(pg.Port)
	for _, tc := range []struct {
		cmd                string
		strataOnly, pgOnly []string // "Argument data types" of rows only one side lists
	}{
		{cmd: `\df`},
		{cmd: `\df to_char`, strataOnly: []string{"date, text"}},
		{cmd: `\df upper`, pgOnly: []string{"anymultirange", "anyrange"}},
	} {
		got := psqlFull(t, s.port(), "strata", "strata", "-c", tc.cmd)
		want := psqlFull(t, pgPort, "postgres", "postgres", "-c", tc.cmd)
		if tc.strataOnly == nil && tc.pgOnly == nil {
			if got != want {
				t.Errorf("psql %s differs from PostgreSQL's:\n--- strata\n%s\n--- postgres\n%s", tc.cmd, got, want)
			}
			continue
		}
		gotHead, gotRows, gotOnly := splitFunctionList(got, tc.strataOnly)
		wantHead, wantRows, wantOnly := splitFunctionList(want, tc.pgOnly)
		if gotHead != wantHead || strings.Join(gotRows, "\n") != strings.Join(wantRows, "\n") {
			t.Errorf("psql %s: the overloads both have differ:\n--- strata\n%s\n--- postgres\n%s", tc.cmd, got, want)
		}
		if len(gotOnly) != len(tc.strataOnly) || len(wantOnly) != len(tc.pgOnly) {
			t.Errorf("psql %s: strata-only rows %q (want %q), PostgreSQL-only rows %q (want %q)",
				tc.cmd, gotOnly, tc.strataOnly, wantOnly, tc.pgOnly)
		}
		if n := len(gotRows) + len(gotOnly); !strings.HasSuffix(strings.TrimSpace(got), "("+strconv.Itoa(n)+" rows)") &&
			!(n == 1 && strings.HasSuffix(strings.TrimSpace(got), "(1 row)")) {
			t.Errorf("psql %s: row count line of\n%s", tc.cmd, got)
		}
	}
	// \df+ adds volatility, parallel safety, owner, language and source columns.
	if got := psqlFull(t, s.port(), "strata", "strata", "-c", `\df+ upper`); !strings.Contains(got,
		"| upper | text             | text                | func | immutable  | safe     | strata | invoker  |                   | internal | upper       |") {
		t.Errorf("psql \\df+ upper:\n%s", got)
	}
}

// splitFunctionList splits psql's \df output into its header (title, column
// names, rule), its rows except those whose argument list is in only, and the
// argument lists of those.
func splitFunctionList(out string, only []string) (head string, rows, onlyArgs []string) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i, l := range lines {
		switch {
		case i < 3:
			head += l + "\n"
		case strings.HasPrefix(l, "("):
		case l == "":
		default:
			cells := strings.Split(l, "|")
			if len(cells) > 3 && slices.Contains(only, strings.TrimSpace(cells[3])) {
				onlyArgs = append(onlyArgs, strings.TrimSpace(cells[3]))
				continue
			}
			rows = append(rows, l)
		}
	}
	return head, rows, onlyArgs
}

// startPGAsStrata starts a PostgreSQL 15 server of the test's own whose bootstrap
// superuser is renamed strata, so that owners print as strata's do.
func startPGAsStrata(t *testing.T) string {
	t.Helper()
	pg := pgtest.Start(t)
	pgPort := strconv.Itoa(pg.Port)
	psqlFull(t, pgPort, "postgres", "postgres", "-c", "CREATE ROLE rename_su SUPERUSER LOGIN")
	psqlFull(t, pgPort, "rename_su", "postgres", "-c", "ALTER ROLE postgres RENAME TO strata")
	psqlFull(t, pgPort, "strata", "postgres", "-c", "DROP ROLE rename_su")
	return pgPort
}

// catalogSchema is the schema TestPsqlCatalogCommands makes in both servers: an
// event table and two lookup tables (no time column) with primary keys and
// unique constraints, column and table constraints, and columns with type
// modifiers (varchar(20), numeric(10,2), char(2), in a key too), which \d prints.
var catalogSchema = []string{
	`CREATE TABLE events (ts timestamptz NOT NULL, user_id text, product_id text, price numeric, qty integer,
		score double precision, ok boolean, n bigint, s smallint, r real, t timestamp, v varchar, code varchar(20),
		amount numeric(10,2), whole numeric(5), country char(2), grade character, day date)`,
	`CREATE TABLE products (product_id text PRIMARY KEY, name text NOT NULL, sku varchar(32) UNIQUE, price numeric(12,2), iso character(3) UNIQUE)`,
	`CREATE TABLE users (id bigint, email text, "Country" text, PRIMARY KEY (id), UNIQUE (email), UNIQUE ("Country", email))`,
	`CREATE TABLE users_pkey_clash (a integer PRIMARY KEY)`,
	`CREATE TABLE a_table_name_long_enough_that_its_keys_are_cut ("a column with a long name as well" text PRIMARY KEY,
		"another long column name here" text UNIQUE, "and a third one - also quite long" text, UNIQUE ("and a third one - also quite long", "another long column name here"))`,
}

// TestPsqlCatalogCommands runs psql's describe commands against strata and
// against a PostgreSQL 15 server of its own with the same schema (catalogSchema),
// and requires the same text. What is normalized, and why:
//
//   - PostgreSQL's plpgsql extension is dropped there first: strata has no
//     procedural language, and \dL lists installed ones.
//   - \d+ and \dt+ print each table's size: PostgreSQL's heap and TOAST pages
//     against strata's segment bytes. The Size cells are replaced by "SIZE".
//   - \dF lists PostgreSQL's built-in text search configurations (schema
//     pg_catalog, which initdb creates); strata has no text search, so those rows
//     are removed from PostgreSQL's output (and the row count with them).
//   - \dC: PostgreSQL's casts of types strata does not have are removed (oid and
//     name among them: an oid is a bigint and a name is text in strata), and its
//     length coercions (a type to itself, applying a type modifier): strata
//     applies no type modifier in a cast. Every other cast must be listed alike.
//
// After a size or row is replaced the column widths differ, so those outputs
// are compared with runs of spaces and dashes collapsed; all others byte for byte.
func TestPsqlCatalogCommands(t *testing.T) {
	pgtest.Need(t, "psql", "psql")
	pgPort := startPGAsStrata(t)
	s := startStrata(t, t.TempDir())
	var args []string
	for _, q := range catalogSchema {
		args = append(args, "-c", q)
	}
	psqlFull(t, s.port(), "strata", "strata", args...)
	psqlFull(t, pgPort, "strata", "postgres", append(args, "-c", "DROP EXTENSION plpgsql")...)
	long := `a_table_name_long_enough_that_its_keys_are_cut`
	for _, cmd := range []string{
		`\d`, `\d+`, `\dt+`, `\di`, `\d events`, `\d+ events`, `\d products`, `\d+ products`, `\d users`, `\d+ users`,
		`\d users_pkey_clash`, `\d ` + long, `\d products_pkey`, `\d+ "users_Country_email_key"`,
		`\df`, `\dT`, `\dT+`, `\dD`, `\dp`, `\dL`, `\db`, `\do`, `\dc`, `\dy`, `\dl`, `\des`, `\dew`, `\dF`, `\dC`,
	} {
		got := psqlFull(t, s.port(), "strata", "strata", "-c", cmd)
		want := psqlFull(t, pgPort, "strata", "postgres", "-c", cmd)
		switch cmd {
		case `\d+`, `\dt+`:
			got, want = normalizeTable(sizeCells.ReplaceAllString(got, "SIZE")), normalizeTable(sizeCells.ReplaceAllString(want, "SIZE"))
		case `\dF`:
			want = normalizeTable(dropRows(want, func(cells []string) bool { return cells[0] == "pg_catalog" }))
			got = normalizeTable(got)
		case `\dC`:
			want = normalizeTable(dropRows(want, func(cells []string) bool {
				return !strataTypes[cells[0]] || !strataTypes[cells[1]] || cells[0] == cells[1]
			}))
			got = normalizeTable(got)
		}
		if got != want {
			t.Errorf("psql %s differs from PostgreSQL's:\n--- strata\n%s\n--- postgres\n%s", cmd, got, want)
		}
	}
	// \d+ shows the options a table was created with, as PostgreSQL shows storage
	// parameters; never a secret, never the options strata sets itself.
	psqlFull(t, s.port(), "strata", "strata", "-c",
		`CREATE TABLE opts (ts timestamptz NOT NULL, v text) WITH (segment_granularity = 'day', persist_rows = 1000)`)
	if got := psqlFull(t, s.port(), "strata", "strata", "-c", `\d+ opts`); !strings.Contains(got, "Options: persist_rows=1000, segment_granularity=day\n") {
		t.Errorf(`psql \d+ opts: no or wrong Options line:%s`, got)
	}
	if got := psqlFull(t, s.port(), "strata", "strata", "-c", `\d+ products`); strings.Contains(got, "Options:") {
		t.Errorf(`psql \d+ products shows strata's own options:%s`, got)
	}
}

// strataTypes are the types strata has, as format_type prints them.
var strataTypes = map[string]bool{"bigint": true, "boolean": true, "character varying": true, "date": true,
	"double precision": true, "integer": true, "interval": true, "numeric": true, "real": true, "smallint": true,
	"text": true, "timestamp with time zone": true, "timestamp without time zone": true}

var sizeCells = regexp.MustCompile(`\d+ (bytes|kB|MB|GB)`)

// dropRows removes from psql's aligned output the rows whose cells (trimmed)
// match drop, and corrects the "(N rows)" line.
func dropRows(out string, drop func(cells []string) bool) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	kept := lines[:3] // title, column names, rule
	n := 0
	for _, l := range lines[3:] {
		cells := strings.Split(l, "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if strings.HasPrefix(l, "(") || drop(cells) {
			continue
		}
		kept = append(kept, l)
		n++
	}
	rows := "(" + strconv.Itoa(n) + " rows)"
	if n == 1 {
		rows = "(1 row)"
	}
	return strings.Join(append(kept, rows), "\n")
}
