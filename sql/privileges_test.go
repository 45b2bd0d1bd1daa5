package sql

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/store"
)

// One test per attack a client without privileges could try (issue 9, part 5).
// Each fails on a strata without roles, where every session could do anything.

// newRolesDB returns a DB with table events (owned by the superuser strata) and
// login roles alice and bob, and the superuser's session.
func newRolesDB(t *testing.T) (*DB, *Session) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db := Open(st, Options{})
	su := db.NewSession("strata", "strata")
	for _, q := range []string{
		"CREATE TABLE events (ts timestamptz NOT NULL, user_id text, price double precision)",
		"INSERT INTO events VALUES ('2026-01-01 10:00:00+00', 'u1', 9.5)",
		"CREATE ROLE alice LOGIN PASSWORD 'alice-pw'",
		"CREATE USER bob",
	} {
		mustExec(t, su, q)
	}
	return db, su
}

// run prepares and executes q, returning the error of either step.
func run(s *Session, q string) (*Result, error) {
	st, err := s.Prepare(context.Background(), q, nil)
	if err != nil {
		return nil, err
	}
	return s.Execute(context.Background(), st, nil)
}

// wantDenied checks that q fails with code and PostgreSQL's message.
func wantDenied(t *testing.T, s *Session, q, code, msg string) *engine.Error {
	t.Helper()
	_, err := run(s, q)
	var e *engine.Error
	if !errors.As(err, &e) || e.Code != code || e.Message != msg {
		t.Fatalf("%s as %s: got %v, want %s %q", q, s.User, err, code, msg)
	}
	return e
}

func TestNonOwnerCannotDropTable(t *testing.T) {
	db, su := newRolesDB(t)
	alice := db.NewSession("alice", "strata")
	wantDenied(t, alice, "DROP TABLE events", sqlstate.InsufficientPrivilege, "must be owner of table events")
	if got := collect(t, mustExec(t, su, "SELECT count(*) FROM events")); got[0][0] != "1" {
		t.Fatalf("table lost its rows: %v", got)
	}
	// Granting every privilege does not make alice the owner.
	mustExec(t, su, "GRANT ALL ON events TO alice")
	wantDenied(t, alice, "DROP TABLE events", sqlstate.InsufficientPrivilege, "must be owner of table events")
	// The lake verbs and ingest verbs are the owner's too.
	wantDenied(t, alice, "OPTIMIZE events", sqlstate.InsufficientPrivilege, "must be owner of table events")
	wantDenied(t, alice, "VACUUM events", sqlstate.InsufficientPrivilege, "must be owner of table events")
	wantDenied(t, alice, "ALTER TABLE events PAUSE INGEST", sqlstate.InsufficientPrivilege, "must be owner of table events")
	wantDenied(t, alice, "ALTER TABLE events OWNER TO alice", sqlstate.InsufficientPrivilege, "must be owner of table events")
	// A table alice creates (once allowed to) is hers to drop.
	wantDenied(t, alice, "CREATE TABLE mine (ts timestamptz NOT NULL)", sqlstate.InsufficientPrivilege, "permission denied for schema public")
	mustExec(t, su, "GRANT CREATE ON SCHEMA public TO alice")
	mustExec(t, alice, "CREATE TABLE mine (ts timestamptz NOT NULL)")
	bob := db.NewSession("bob", "strata")
	wantDenied(t, bob, "DROP TABLE mine", sqlstate.InsufficientPrivilege, "must be owner of table mine")
	mustExec(t, alice, "DROP TABLE mine")
}

func TestSelectNeedsPrivilege(t *testing.T) {
	db, su := newRolesDB(t)
	alice := db.NewSession("alice", "strata")
	for _, q := range []string{
		"SELECT * FROM events",
		"SELECT count(*) FROM (SELECT price FROM events) x",
		"WITH e AS (SELECT * FROM events) SELECT * FROM e",
		"EXPLAIN SELECT * FROM events",
		"DESCRIBE HISTORY events",
		"COPY events TO STDOUT",
	} {
		_, err := run(alice, q)
		if !codeIs(err, sqlstate.InsufficientPrivilege) && !(strings.HasPrefix(q, "COPY") && codeIs(err, sqlstate.FeatureNotSupported)) {
			t.Errorf("%s: %v, want 42501", q, err)
		}
	}
	wantDenied(t, alice, "SELECT * FROM events", sqlstate.InsufficientPrivilege, "permission denied for table events")
	// A statement prepared by a superuser-granted session is checked again when it runs.
	mustExec(t, su, "GRANT SELECT ON events TO alice")
	st, err := alice.Prepare(context.Background(), "SELECT user_id FROM events", nil)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, su, "REVOKE SELECT ON events FROM alice")
	if _, err := alice.Execute(context.Background(), st, nil); !codeIs(err, sqlstate.InsufficientPrivilege) {
		t.Fatalf("prepared SELECT after REVOKE: %v", err)
	}
}

func TestGrantThenRevoke(t *testing.T) {
	db, su := newRolesDB(t)
	alice := db.NewSession("alice", "strata")
	mustExec(t, su, "GRANT SELECT ON TABLE events TO alice")
	if got := collect(t, mustExec(t, alice, "SELECT user_id FROM events")); len(got) != 1 || got[0][0] != "u1" {
		t.Fatalf("after GRANT: %v", got)
	}
	wantDenied(t, alice, "INSERT INTO events VALUES (now(), 'x', 1)", sqlstate.InsufficientPrivilege, "permission denied for table events")
	mustExec(t, su, "REVOKE SELECT ON events FROM alice")
	wantDenied(t, alice, "SELECT user_id FROM events", sqlstate.InsufficientPrivilege, "permission denied for table events")
	// PUBLIC, and ALL TABLES IN SCHEMA public.
	mustExec(t, su, "GRANT SELECT ON events TO PUBLIC")
	mustExec(t, alice, "SELECT * FROM events")
	mustExec(t, su, "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC")
	wantDenied(t, alice, "SELECT * FROM events", sqlstate.InsufficientPrivilege, "permission denied for table events")
	mustExec(t, su, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO alice")
	mustExec(t, alice, "SELECT * FROM events")
	// A non-owner cannot grant itself (or anyone) more.
	wantDenied(t, alice, "GRANT INSERT ON events TO alice", sqlstate.InsufficientPrivilege, "permission denied for table events")
}

func TestInsertNeedsPrivilege(t *testing.T) {
	db, su := newRolesDB(t)
	alice := db.NewSession("alice", "strata")
	wantDenied(t, alice, "INSERT INTO events VALUES (now(), 'x', 1)", sqlstate.InsufficientPrivilege, "permission denied for table events")
	wantDenied(t, alice, "COPY events FROM STDIN", sqlstate.InsufficientPrivilege, "permission denied for table events")
	mustExec(t, su, "GRANT SELECT ON events TO alice")
	// INSERT ... SELECT needs INSERT on the target even with SELECT on the source.
	wantDenied(t, alice, "INSERT INTO events SELECT * FROM events", sqlstate.InsufficientPrivilege, "permission denied for table events")
	mustExec(t, su, "GRANT INSERT ON events TO alice")
	mustExec(t, alice, "INSERT INTO events VALUES ('2026-01-01 11:00:00+00', 'u2', 1)")
	res := mustExec(t, alice, "COPY events FROM STDIN")
	if res.CopyIn == nil {
		t.Fatal("COPY FROM STDIN with INSERT: no copy-in")
	}
	// pg_write_all_data writes every table.
	bob := db.NewSession("bob", "strata")
	mustExec(t, su, "GRANT pg_write_all_data TO bob")
	mustExec(t, bob, "INSERT INTO events VALUES ('2026-01-01 12:00:00+00', 'u3', 1)")
	wantDenied(t, bob, "SELECT * FROM events", sqlstate.InsufficientPrivilege, "permission denied for table events")
}

func TestCopyFromFileNeedsReadServerFiles(t *testing.T) {
	db, su := newRolesDB(t)
	secret := filepath.Join(db.store.Dir(), "lake", "secret.csv") // under the default lake root
	if err := os.WriteFile(secret, []byte("2026-01-01 10:00:00+00,TOPSECRET,1\nnot a row TOPSECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustExec(t, su, "GRANT INSERT, SELECT ON events TO alice")
	alice := db.NewSession("alice", "strata")
	for _, q := range []string{"COPY events FROM '" + secret + "' (FORMAT csv)", "COPY events FROM 'secret.csv' (FORMAT csv)", "COPY events FROM '/nonexistent/file'"} {
		_, err := run(alice, q)
		var e *engine.Error
		if !errors.As(err, &e) || e.Code != sqlstate.InsufficientPrivilege ||
			e.Message != "must be superuser or have privileges of the pg_read_server_files role to COPY from a file" {
			t.Fatalf("%s: %v", q, err)
		}
		// The refusal is the same whether the file exists or not, and shows nothing of it.
		if strings.Contains(e.Message+e.Detail+e.Hint, "TOPSECRET") || strings.Contains(e.Message+e.Detail+e.Hint, "secret") {
			t.Fatalf("refusal leaks the file: %+v", e)
		}
	}
	if got := collect(t, mustExec(t, su, "SELECT count(*) FROM events WHERE user_id = 'TOPSECRET'")); got[0][0] != "0" {
		t.Fatal("a refused COPY loaded rows")
	}
	mustExec(t, su, "GRANT pg_read_server_files TO alice")
	mustExec(t, alice, "COPY events FROM '"+secret+"' (FORMAT csv)")
}

func TestSuperuserOnlyPathsAndOptions(t *testing.T) {
	db, su := newRolesDB(t)
	mustExec(t, su, "GRANT CREATE ON SCHEMA public TO alice")
	alice := db.NewSession("alice", "strata")
	lake := t.TempDir()
	for q, msg := range map[string]string{
		"SELECT * FROM delta_scan('" + lake + "')":                                         "must be superuser to read a Delta table with delta_scan",
		"CREATE EXTERNAL TABLE ext LOCATION '" + lake + "'":                                "must be superuser to create an external table",
		"CREATE TABLE t1 (ts timestamptz NOT NULL) WITH (lake_path = '" + lake + "')":      `must be superuser to set table option "lake_path"`,
		"CREATE TABLE t2 (ts timestamptz NOT NULL) WITH (kafka_topic = 'x')":               `must be superuser to set table option "kafka_topic"`,
		"CREATE TABLE t3 (ts timestamptz NOT NULL) WITH (kafka_sasl_password = 'hunter2')": `must be superuser to set table option "kafka_sasl_password"`,
		"SET strata.vacuum_retention_check = off":                                          `permission denied to set parameter "strata.vacuum_retention_check"`,
		"CREATE TABLE t4 (ts timestamptz NOT NULL) WITH (kafka_group = 'evil')":            `must be superuser to set table option "kafka_group"`,
	} {
		wantDenied(t, alice, q, sqlstate.InsufficientPrivilege, msg)
	}
	if err := alice.Set("strata.vacuum_retention_check", "off"); !codeIs(err, sqlstate.InsufficientPrivilege) {
		t.Fatalf("startup parameter strata.vacuum_retention_check: %v", err)
	}
	if _, ok := db.store.Table("ext"); ok {
		t.Fatal("refused CREATE EXTERNAL TABLE created a table")
	}
	// The superuser may.
	mustExec(t, su, "SET strata.vacuum_retention_check = off")
}

func TestReadOnlyTransactions(t *testing.T) {
	db, su := newRolesDB(t)
	_ = db
	writes := map[string]string{
		"INSERT INTO events VALUES (now(), 'x', 1)": "INSERT",
		"COPY events FROM STDIN":                    "COPY FROM",
		"CREATE TABLE t (ts timestamptz NOT NULL)":  "CREATE TABLE",
		"DROP TABLE events":                         "DROP TABLE",
		"OPTIMIZE events":                           "OPTIMIZE",
		"VACUUM events":                             "VACUUM",
		"CREATE ROLE carol":                         "CREATE ROLE",
		"ALTER ROLE alice PASSWORD 'x'":             "ALTER ROLE",
		"DROP ROLE bob":                             "DROP ROLE",
		"GRANT SELECT ON events TO alice":           "GRANT",
		"REVOKE SELECT ON events FROM alice":        "REVOKE",
		"GRANT pg_read_all_data TO alice":           "GRANT ROLE",
		"ALTER TABLE events PAUSE INGEST":           "ALTER TABLE",
		"CREATE EXTERNAL TABLE x LOCATION '/tmp/x'": "CREATE EXTERNAL TABLE",
		"ALTER TABLE events OWNER TO alice":         "ALTER TABLE",
	}
	check := func(how string) {
		t.Helper()
		for q, cmd := range writes {
			wantDenied(t, su, q, sqlstate.ReadOnlySQLTransaction, "cannot execute "+cmd+" in a read-only transaction")
		}
		mustExec(t, su, "SELECT count(*) FROM events") // reads still work
		if got := collect(t, mustExec(t, su, "SHOW transaction_read_only")); got[0][0] != "on" {
			t.Errorf("%s: transaction_read_only %v", how, got)
		}
	}
	mustExec(t, su, "BEGIN READ ONLY")
	check("BEGIN READ ONLY")
	mustExec(t, su, "ROLLBACK")
	mustExec(t, su, "INSERT INTO events VALUES ('2026-01-01 10:30:00+00', 'after', 1)")

	mustExec(t, su, "BEGIN")
	mustExec(t, su, "SET TRANSACTION READ ONLY")
	check("SET TRANSACTION READ ONLY")
	mustExec(t, su, "COMMIT")

	// SET TRANSACTION outside a block changes nothing (PostgreSQL warns).
	res := mustExec(t, su, "SET TRANSACTION READ ONLY")
	if len(res.Notices) != 1 {
		t.Errorf("SET TRANSACTION outside a block: notices %v", res.Notices)
	}
	mustExec(t, su, "INSERT INTO events VALUES ('2026-01-01 10:31:00+00', 'after', 1)")

	mustExec(t, su, "SET default_transaction_read_only = on")
	check("default_transaction_read_only")
	mustExec(t, su, "BEGIN READ WRITE")
	mustExec(t, su, "INSERT INTO events VALUES ('2026-01-01 10:32:00+00', 'rw', 1)")
	mustExec(t, su, "COMMIT")
	mustExec(t, su, "RESET default_transaction_read_only")

	mustExec(t, su, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
	check("SET SESSION CHARACTERISTICS")
	if err := su.Set("default_transaction_read_only", "off"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, su, "INSERT INTO events VALUES ('2026-01-01 10:33:00+00', 'rw', 1)")

	// A statement prepared before BEGIN READ ONLY is refused when it runs inside it.
	st, err := su.Prepare(context.Background(), "INSERT INTO events VALUES ('2026-01-01 10:34:00+00', 'p', 1)", nil)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, su, "START TRANSACTION READ ONLY")
	if _, err := su.Execute(context.Background(), st, nil); !codeIs(err, sqlstate.ReadOnlySQLTransaction) {
		t.Fatalf("prepared INSERT in a read-only transaction: %v", err)
	}
	mustExec(t, su, "ROLLBACK")
}

func TestRoleMembershipInheritance(t *testing.T) {
	db, su := newRolesDB(t)
	for _, q := range []string{
		"CREATE ROLE readers",
		"CREATE ROLE analysts IN ROLE readers",
		"GRANT SELECT ON events TO readers",
		"GRANT analysts TO alice",
		"CREATE ROLE noinherit LOGIN NOINHERIT",
		"GRANT readers TO noinherit",
	} {
		mustExec(t, su, q)
	}
	alice := db.NewSession("alice", "strata")
	// alice → analysts → readers: SELECT through two memberships.
	mustExec(t, alice, "SELECT * FROM events")
	// A NOINHERIT role has no privileges of its roles until SET ROLE.
	ni := db.NewSession("noinherit", "strata")
	wantDenied(t, ni, "SELECT * FROM events", sqlstate.InsufficientPrivilege, "permission denied for table events")
	mustExec(t, ni, "SET ROLE readers")
	mustExec(t, ni, "SELECT * FROM events")
	if got := collect(t, mustExec(t, ni, "SELECT current_user, session_user, current_role")); got[0][0] != "readers" || got[0][1] != "noinherit" {
		t.Fatalf("current_user, session_user: %v", got)
	}
	mustExec(t, ni, "RESET ROLE")
	wantDenied(t, ni, "SET ROLE strata", sqlstate.InsufficientPrivilege, `permission denied to set role "strata"`)
	// Revoking the middle membership takes the privilege away.
	mustExec(t, su, "REVOKE analysts FROM alice")
	wantDenied(t, alice, "SELECT * FROM events", sqlstate.InsufficientPrivilege, "permission denied for table events")
	// pg_read_all_data reads every table, present and future.
	mustExec(t, su, "GRANT pg_read_all_data TO alice")
	mustExec(t, alice, "SELECT * FROM events")
	mustExec(t, su, "CREATE TABLE later (ts timestamptz NOT NULL)")
	mustExec(t, alice, "SELECT * FROM later")
	wantDenied(t, alice, "INSERT INTO later VALUES (now())", sqlstate.InsufficientPrivilege, "permission denied for table later")
	// A membership loop is refused.
	if _, err := run(su, "GRANT alice TO readers"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(su, "GRANT readers TO analysts"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(su, "GRANT analysts TO readers"); !codeIs(err, "0LP01") {
		t.Fatalf("membership loop: %v", err)
	}
}

func TestRoleStatementsNeedPrivilege(t *testing.T) {
	db, su := newRolesDB(t)
	alice := db.NewSession("alice", "strata")
	wantDenied(t, alice, "CREATE ROLE mallory SUPERUSER", sqlstate.InsufficientPrivilege, "permission denied to create role")
	wantDenied(t, alice, "ALTER ROLE alice SUPERUSER", sqlstate.InsufficientPrivilege, "must be superuser to alter superuser roles or change superuser attribute")
	wantDenied(t, alice, "ALTER ROLE strata PASSWORD 'owned'", sqlstate.InsufficientPrivilege, "must be superuser to alter superuser roles or change superuser attribute")
	wantDenied(t, alice, "ALTER ROLE bob PASSWORD 'x'", sqlstate.InsufficientPrivilege, "permission denied")
	wantDenied(t, alice, "DROP ROLE bob", sqlstate.InsufficientPrivilege, "permission denied to drop role")
	wantDenied(t, alice, "GRANT pg_read_all_data TO alice", sqlstate.InsufficientPrivilege, `must have admin option on role "pg_read_all_data"`)
	wantDenied(t, alice, "GRANT strata TO alice", sqlstate.InsufficientPrivilege, "must be superuser to alter superusers")
	// A role changes its own password.
	mustExec(t, alice, "ALTER ROLE alice PASSWORD 'new-pw'")
	mustExec(t, alice, "ALTER ROLE CURRENT_USER PASSWORD 'newer-pw'")
	// CREATEROLE may create and drop ordinary roles, never superusers.
	mustExec(t, su, "ALTER ROLE alice CREATEROLE")
	mustExec(t, alice, "CREATE ROLE helper")
	wantDenied(t, alice, "CREATE ROLE boss SUPERUSER", sqlstate.InsufficientPrivilege, "must be superuser to create superusers")
	wantDenied(t, alice, "DROP ROLE strata", sqlstate.DependentObjectsStillExist, "cannot drop role strata because it is required by the database system")
	mustExec(t, alice, "DROP ROLE helper")
	// DROP ROLE of an owner: 2BP01, as PostgreSQL.
	mustExec(t, su, "CREATE ROLE owner_role")
	mustExec(t, su, "ALTER TABLE events OWNER TO owner_role")
	e := wantDenied(t, su, "DROP ROLE owner_role", sqlstate.DependentObjectsStillExist, `role "owner_role" cannot be dropped because some objects depend on it`)
	if e.Detail != "owner of table events" {
		t.Fatalf("detail %q", e.Detail)
	}
	mustExec(t, su, "ALTER TABLE events OWNER TO strata")
	mustExec(t, su, "DROP ROLE owner_role")
	wantDenied(t, su, "DROP ROLE owner_role", sqlstate.UndefinedObject, `role "owner_role" does not exist`)
	mustExec(t, su, "DROP ROLE IF EXISTS owner_role")
}

func TestPasswordsStoredAsVerifiers(t *testing.T) {
	db, su := newRolesDB(t)
	ra, _ := db.RoleAuth("alice")
	if !strings.HasPrefix(ra.Verifier, "SCRAM-SHA-256$4096:") || strings.Contains(ra.Verifier, "alice-pw") {
		t.Fatalf("alice's password stored as %q", ra.Verifier)
	}
	const v = "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$9ZYaQhvzvRZf4oLvqnKlR0fXQyK1D0kVPIuqTSNVq3M=:7HZ1SJhgJ5mdMEKNxXL5BcsHsL2W+iKcC6eYW9P+3gE="
	mustExec(t, su, "ALTER ROLE bob PASSWORD '"+v+"'")
	if ra, _ := db.RoleAuth("bob"); ra.Verifier != v {
		t.Fatalf("verifier given as is became %q", ra.Verifier)
	}
	if _, err := run(su, "ALTER ROLE bob PASSWORD 'md5"+strings.Repeat("0", 32)+"'"); !codeIs(err, sqlstate.FeatureNotSupported) {
		t.Fatalf("md5 hash: %v", err)
	}
	res := mustExec(t, su, "ALTER ROLE bob PASSWORD ''")
	if ra, _ := db.RoleAuth("bob"); ra.Verifier != "" || len(res.Notices) != 1 {
		t.Fatalf("empty password: %q %v", ra.Verifier, res.Notices)
	}
	mustExec(t, su, "ALTER ROLE bob VALID UNTIL '2030-01-02 03:04:05+00' NOLOGIN")
	if ra, _ := db.RoleAuth("bob"); ra.Login || ra.ValidUntil.Year() != 2030 {
		t.Fatalf("bob: %+v", ra)
	}
	mustExec(t, su, "ALTER ROLE bob RENAME TO robert")
	if _, ok := db.RoleAuth("robert"); !ok {
		t.Fatal("rename")
	}
}
