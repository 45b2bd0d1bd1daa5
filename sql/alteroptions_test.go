package sql

import (
	"testing"

	"github.com/stratadb/strata/internal/sqlstate"
)

// TestAlterTableOptions: ALTER TABLE … SET/RESET changes a table's options
// (shown by pg_class.reloptions), checks them as CREATE TABLE does, refuses
// options fixed at CREATE TABLE, and is the owner's (superuser-only options the
// superuser's).
func TestAlterTableOptions(t *testing.T) {
	db, su := newRolesDB(t)
	opts := func() string {
		t.Helper()
		got := collect(t, mustExec(t, su, "SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = 'events'"))
		return got[0][0]
	}
	mustExec(t, su, "ALTER TABLE events SET (handoff_grace = '5 minutes', lake_refresh = '3 seconds')")
	if got := opts(); got != "handoff_grace=5 minutes,lake_refresh=3 seconds" {
		t.Fatalf("reloptions after SET: %q", got)
	}
	mustExec(t, su, "ALTER TABLE events RESET (handoff_grace)")
	if got := opts(); got != "lake_refresh=3 seconds" {
		t.Fatalf("reloptions after RESET: %q", got)
	}
	if def, _ := db.store.Table("events"); def.Options["lake_refresh"] != "3 seconds" || def.Options["handoff_grace"] != "" {
		t.Fatalf("stored options %v", def.Options)
	}
	wantCode(t, su, "ALTER TABLE events SET (time_column = 'ts')", sqlstate.FeatureNotSupported)
	wantCode(t, su, "ALTER TABLE events SET (lake_path = '/tmp')", sqlstate.FeatureNotSupported)
	wantCode(t, su, "ALTER TABLE events SET (bogus = 1)", sqlstate.InvalidParameterValue)
	wantCode(t, su, "ALTER TABLE events SET (persist_rows = -3)", sqlstate.InvalidParameterValue)
	wantCode(t, su, "ALTER TABLE events RESET (lookup)", sqlstate.InvalidParameterValue)
	alice := db.NewSession("alice", "strata")
	wantDenied(t, alice, "ALTER TABLE events SET (lake_refresh = '1 second')", sqlstate.InsufficientPrivilege, "must be owner of table events")
	mustExec(t, su, "ALTER TABLE events OWNER TO alice")
	mustExec(t, alice, "ALTER TABLE events SET (lake_refresh = '1 second')")
	wantDenied(t, alice, "ALTER TABLE events SET (kafka_tls = true)", sqlstate.InsufficientPrivilege, `must be superuser to set table option "kafka_tls"`)
	if got := collect(t, mustExec(t, su, "SELECT count(*) FROM events")); got[0][0] != "1" {
		t.Fatalf("rows after ALTER: %v", got)
	}
}
