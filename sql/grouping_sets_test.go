package sql

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stratadb/strata/engine"
)

// TestGroupingSetsPlans covers what the .slt file cannot: EXPLAIN, $n parameters
// in every branch, and grouping sets over an ingest-time rollup table.
func TestGroupingSetsPlans(t *testing.T) {
	s, _ := newTestSession(t)
	mustExec(t, s, "CREATE TABLE ev (ts timestamptz NOT NULL, kind text, n int)")
	mustExec(t, s, `INSERT INTO ev VALUES ('2023-10-01 00:00:00+00', 'view', 1),
		('2023-10-01 01:00:00+00', 'buy', 2), ('2023-10-01 02:00:00+00', 'view', 3)`)

	plan := fmt.Sprint(collect(t, mustExec(t, s, "EXPLAIN SELECT kind, sum(n) FROM ev GROUP BY ROLLUP (kind)")))
	if !strings.Contains(plan, "UnionAll") {
		t.Errorf("EXPLAIN shows no union of the grouping sets:\n%s", plan)
	}
	// Each branch's scan gets the WHERE's time range and reads only its columns.
	plan = fmt.Sprint(collect(t, mustExec(t, s, "EXPLAIN SELECT kind, sum(n) FROM ev WHERE ts >= '2023-10-01 01:00:00+00' GROUP BY ROLLUP (kind)")))
	if strings.Count(plan, "Scan ev columns=[") != 2 || strings.Contains(plan, "time=[-infinity") || strings.Contains(plan, "columns=[ts") {
		t.Errorf("grouping-set branches are not optimized:\n%s", plan)
	}

	q := "SELECT kind, grouping(kind), sum(n) FILTER (WHERE n > $1) FROM ev WHERE n < $2 GROUP BY CUBE (kind) HAVING count(*) >= $3 ORDER BY 2, 1"
	st, err := s.Prepare(context.Background(), q, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st, []engine.Value{
		{Type: engine.Int32, I: 1}, {Type: engine.Int32, I: 10}, {Type: engine.Int32, I: 1}})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(collect(t, res))
	if want := "[[buy 0 2] [view 0 3] [NULL 1 5]]"; got != want {
		t.Errorf("params: got %s, want %s", got, want)
	}

	mustExec(t, s, "CREATE TABLE r (ts timestamptz NOT NULL, kind text, n int) WITH (rollup = '1 hour')")
	mustExec(t, s, `INSERT INTO r VALUES ('2023-10-01 00:00:00+00', 'view', 1),
		('2023-10-01 00:10:00+00', 'view', 2), ('2023-10-01 00:20:00+00', 'buy', 4)`)
	got = fmt.Sprint(collect(t, mustExec(t, s, "SELECT kind, count(*), sum(n), avg(n) FROM r GROUP BY ROLLUP (kind) ORDER BY 1")))
	if want := "[[buy 1 4 4.0000000000000000] [view 2 3 1.5000000000000000] [NULL 3 7 2.3333333333333333]]"; got != want { // as PostgreSQL prints avg(int)
		t.Errorf("rollup table: got %s, want %s", got, want)
	}
}
