package sql

import (
	"context"
	"fmt"
	"testing"
)

// TestPreparedStatementSeesChanges executes prepared statements again after the
// data or the catalog changed: each execution reads the state at its own start,
// not at Prepare (pgx, JDBC and Grafana prepare a statement once and run it many
// times).
func TestPreparedStatementSeesChanges(t *testing.T) {
	s, _ := newTestSession(t)
	ctx := context.Background()
	mustExec(t, s, "CREATE TABLE ev (ts timestamptz NOT NULL, kind text)")
	mustExec(t, s, "CREATE ROLE bob")
	for _, c := range []struct {
		name, query, change, before, after string
	}{
		{"table rows", "SELECT count(*) FROM ev", "INSERT INTO ev VALUES ('2024-01-01 00:00:00+00', 'view')", "[[0]]", "[[1]]"},
		{"pg_tables", "SELECT tableowner FROM pg_tables WHERE tablename = 'ev'", "ALTER TABLE ev OWNER TO bob", "[[strata]]", "[[bob]]"},
		{"pg_class", "SELECT count(*) FROM pg_class WHERE relname = 'ev2'", "CREATE TABLE ev2 (ts timestamptz NOT NULL)", "[[0]]", "[[1]]"},
		{"information_schema", "SELECT count(*) FROM information_schema.tables WHERE table_name = 'ev3'", "CREATE TABLE ev3 (ts timestamptz NOT NULL)", "[[0]]", "[[1]]"},
		{"pg_roles", "SELECT count(*) FROM pg_roles WHERE rolname = 'carol'", "CREATE ROLE carol", "[[0]]", "[[1]]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := s.Prepare(ctx, c.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			run := func() string {
				res, err := s.Execute(ctx, st, nil)
				if err != nil {
					t.Fatal(err)
				}
				return fmt.Sprint(collect(t, res))
			}
			if got := run(); got != c.before {
				t.Fatalf("first execution: %s, want %s", got, c.before)
			}
			mustExec(t, s, c.change)
			if got := run(); got != c.after {
				t.Errorf("after %q: %s, want %s", c.change, got, c.after)
			}
		})
	}
}
