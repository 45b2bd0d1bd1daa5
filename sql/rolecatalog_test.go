package sql

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stratadb/strata/internal/sqlstate"
)

func TestRoleCatalogViews(t *testing.T) {
	db, su := newRolesDB(t)
	for _, q := range []string{
		"CREATE ROLE readers",
		"GRANT readers TO alice",
		"GRANT SELECT ON events TO readers",
		`CREATE ROLE "odd name"`,
		`GRANT SELECT, INSERT ON events TO "odd name"`,
		"GRANT SELECT ON events TO PUBLIC",
	} {
		mustExec(t, su, q)
	}
	got := collect(t, mustExec(t, su, "SELECT relacl, relowner FROM pg_class WHERE relname = 'events'"))
	want := [][]string{{`{strata=arwdDxt/strata,readers=r/strata,"\"odd name\"=ar/strata",=r/strata}`, "10"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("relacl %v, want %v", got, want)
	}
	got = collect(t, mustExec(t, su, "SELECT rolname, rolsuper, rolcanlogin, rolpassword FROM pg_roles WHERE rolname IN ('strata', 'alice', 'readers') ORDER BY 1"))
	want = [][]string{{"alice", "f", "t", "********"}, {"readers", "f", "f", "********"}, {"strata", "t", "t", "********"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pg_roles %v", got)
	}
	got = collect(t, mustExec(t, su, "SELECT r.rolname, m.rolname FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member"))
	if !reflect.DeepEqual(got, [][]string{{"readers", "alice"}}) {
		t.Fatalf("pg_auth_members %v", got)
	}
	got = collect(t, mustExec(t, su, "SELECT usename FROM pg_user ORDER BY 1"))
	if !reflect.DeepEqual(got, [][]string{{"alice"}, {"bob"}, {"strata"}}) {
		t.Fatalf("pg_user %v", got)
	}
	// pg_authid: the superuser sees the verifier; nobody else reads the relation.
	got = collect(t, mustExec(t, su, "SELECT rolpassword FROM pg_authid WHERE rolname = 'alice'"))
	if !strings.HasPrefix(got[0][0], "SCRAM-SHA-256$4096:") {
		t.Fatalf("pg_authid for a superuser: %v", got)
	}
	alice := db.NewSession("alice", "strata")
	wantDenied(t, alice, "SELECT rolpassword FROM pg_authid", sqlstate.InsufficientPrivilege, "permission denied for table pg_authid")
	wantDenied(t, alice, "SELECT count(*) FROM pg_catalog.pg_authid", sqlstate.InsufficientPrivilege, "permission denied for table pg_authid")
	for _, q := range []string{"SELECT * FROM pg_roles", "SELECT * FROM pg_user"} {
		for _, row := range collect(t, mustExec(t, alice, q)) {
			if strings.Contains(strings.Join(row, " "), "SCRAM") {
				t.Fatalf("%s shows a verifier: %v", q, row)
			}
		}
	}
	// has_table_privilege, both forms.
	got = collect(t, mustExec(t, alice, "SELECT has_table_privilege('events', 'SELECT'), has_table_privilege('events', 'INSERT'), has_table_privilege('bob', 'events', 'select'), has_table_privilege('strata', 'events', 'INSERT, SELECT')"))
	if !reflect.DeepEqual(got, [][]string{{"t", "f", "t", "t"}}) {
		t.Fatalf("has_table_privilege %v", got)
	}
	got = collect(t, mustExec(t, su, "SELECT relname, has_table_privilege('alice', oid, 'INSERT') FROM pg_class WHERE relname = 'events'"))
	if !reflect.DeepEqual(got, [][]string{{"events", "f"}}) {
		t.Fatalf("has_table_privilege by oid %v", got)
	}
	if _, err := run(alice, "SELECT has_table_privilege('events', 'FLY')"); !codeIs(err, "22023") {
		t.Fatalf("bad privilege: %v", err)
	}
	// information_schema.table_privileges: what alice may see.
	got = collect(t, mustExec(t, alice, "SELECT grantor, grantee, table_name, privilege_type, is_grantable, with_hierarchy FROM information_schema.table_privileges ORDER BY grantee, privilege_type"))
	want = [][]string{{"strata", "PUBLIC", "events", "SELECT", "NO", "YES"}, {"strata", "readers", "events", "SELECT", "NO", "YES"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("table_privileges as alice %v", got)
	}
	got = collect(t, mustExec(t, alice, "SELECT current_user, session_user, current_role, current_setting('is_superuser')"))
	if !reflect.DeepEqual(got, [][]string{{"alice", "alice", "alice", "off"}}) {
		t.Fatalf("session functions %v", got)
	}
	got = collect(t, mustExec(t, su, "SELECT tableowner FROM pg_tables WHERE tablename = 'events'"))
	if got[0][0] != "strata" {
		t.Fatalf("tableowner %v", got)
	}
}
