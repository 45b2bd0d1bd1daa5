package sql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/internal/sqlstate"
)

// TestRollupAnswersAsRaw loads the same random rows into a raw table and a rollup
// table and checks that every aggregate rollup keeps answers the same over both,
// grouped and filtered in several ways; that the rollup table stores fewer rows;
// and that the uses rollup cannot answer are refused with 0A000.
func TestRollupAnswersAsRaw(t *testing.T) {
	s, _ := newTestSession(t)
	cols := `(ts timestamptz NOT NULL, event text, mobile boolean, price double precision, qty integer)`
	mustExec(t, s, `CREATE TABLE raw `+cols)
	mustExec(t, s, `CREATE TABLE rolled `+cols+` WITH (rollup = '10 seconds')`)
	r := rand.New(rand.NewPCG(8, 9))
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var vals []string
	for i := 0; i < 3000; i++ {
		ts := base.Add(time.Duration(r.IntN(600_000)) * time.Millisecond)
		ev := []string{"'view'", "'click'", "'cart'", "NULL"}[r.IntN(4)]
		mob := []string{"true", "false", "NULL"}[r.IntN(3)]
		price, qty := fmt.Sprintf("%d.25", r.IntN(100)), fmt.Sprint(r.IntN(9)-2)
		if r.IntN(5) == 0 {
			price = "NULL"
		}
		if r.IntN(5) == 0 {
			qty = "NULL"
		}
		vals = append(vals, fmt.Sprintf("('%s', %s, %s, %s, %s)", ts.Format("2006-01-02 15:04:05.000Z07"), ev, mob, price, qty))
	}
	// Two INSERTs into the rollup table: its rows are rolled up per insert, and the
	// answers must still merge across them.
	mustExec(t, s, `INSERT INTO raw VALUES `+strings.Join(vals, ","))
	mustExec(t, s, `INSERT INTO rolled VALUES `+strings.Join(vals[:1500], ","))
	mustExec(t, s, `INSERT INTO rolled VALUES `+strings.Join(vals[1500:], ","))

	queries := []string{
		`SELECT count(*), count(price), count(qty), sum(price), sum(qty), min(price), max(price), min(qty), max(qty) FROM %s`,
		`SELECT event, count(*), sum(qty), avg(price), avg(qty) FROM %s GROUP BY event ORDER BY event`,
		`SELECT date_trunc('minute', ts) AS m, mobile, count(*), max(qty) FROM %s GROUP BY 1, 2 ORDER BY 1, 2`,
		`SELECT count(*) FILTER (WHERE event = 'cart'), sum(price) FILTER (WHERE mobile) FROM %s WHERE ts >= '2026-11-20 10:03:00+00'`,
		`SELECT count(DISTINCT event), count(*) FROM %s WHERE event IN ('view', 'click') AND mobile IS NOT NULL`,
		`SELECT event FROM %s GROUP BY event HAVING count(*) > 700 ORDER BY 1`,
	}
	storedRows := func() int {
		n := 0
		sn, err := s.db.store.Snapshot("rolled")
		if err != nil {
			t.Fatal(err)
		}
		for _, src := range sn.Sources {
			n += src.NumRows()
		}
		sn.Release()
		return n
	}
	check := func(stage string) {
		for _, q := range queries {
			want := collect(t, mustExec(t, s, fmt.Sprintf(q, "raw")))
			got := collect(t, mustExec(t, s, fmt.Sprintf(q, "rolled")))
			if !reflect.DeepEqual(roundCells(got), roundCells(want)) {
				t.Errorf("%s: %s\n rolled %v\n    raw %v", stage, q, got, want)
			}
		}
	}
	check("after two inserts")
	before := storedRows()
	if before >= 3000 {
		t.Errorf("rollup table stores %d rows for 3000 raw rows", before)
	}
	// Compaction merges the two inserts' segments and rolls their rows up again.
	if err := s.db.store.Compact(context.Background(), "rolled"); err != nil {
		t.Fatal(err)
	}
	check("after compaction")
	if after := storedRows(); after >= before {
		t.Errorf("compaction left %d rows (before: %d): buckets of two inserts not merged", after, before)
	}
	// SELECT * shows the declared columns only: the stored rows, sums for metrics.
	if res := mustExec(t, s, `SELECT * FROM rolled LIMIT 1`); len(res.Fields) != 5 {
		t.Errorf("SELECT * has %d columns, want the 5 declared", len(res.Fields))
	}
	for _, q := range []string{
		`SELECT event, price FROM rolled GROUP BY event, price`,
		`SELECT count(*) FROM rolled WHERE qty > 1`,
		`SELECT stddev(price) FROM rolled`,
		`SELECT count(DISTINCT qty) FROM rolled`,
		`SELECT count(*) FROM (SELECT event FROM rolled) s`,
		`SELECT __rows FROM rolled`,
	} {
		stmt, err := s.Prepare(context.Background(), q, nil)
		if err == nil {
			_, err = s.Execute(context.Background(), stmt, nil)
		}
		if !codeIs(err, sqlstate.FeatureNotSupported) && !codeIs(err, sqlstate.UndefinedColumn) {
			t.Errorf("%s: got %v, want 0A000 (or 42703 for a hidden column)", q, err)
		}
	}
}

// roundCells rounds numeric cells to 9 significant digits: float sums added in
// another order differ in the last bits.
func roundCells(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, c := range r {
			var f float64
			if _, err := fmt.Sscan(c, &f); err == nil && strings.ContainsAny(c, ".e") {
				c = fmt.Sprintf("%.9g", f)
			}
			out[i][j] = c
		}
	}
	return out
}
