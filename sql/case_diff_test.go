package sql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stratadb/strata/sql/internal/slt"
	"github.com/stratadb/strata/storage/store"
)

// TestConditionalsAgainstPostgres generates random nested CASE (both forms),
// COALESCE, NULLIF, AND/OR/NOT and guarded divisions over a small table with
// NULLs and zeros, and checks every result row against PostgreSQL 15 running
// the same query: the class of bug where a nested conditional returns a value
// where NULL is right (or raises where a guard should have kept a row out) shows
// up as a difference, whatever form it takes.
func TestConditionalsAgainstPostgres(t *testing.T) {
	pg := slt.StartPG(t)
	if pg == nil {
		t.Skip("PostgreSQL 15 server not installed: nothing to compare with (apt-get install -y postgresql-15)")
	}
	ctx := context.Background()
	conn := pg.Database(t, "conditionals")
	defer conn.Close(ctx)
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	strata := &strataRunner{s: Open(st, Options{}).NewSession("strata", "strata")}
	postgres := &slt.PGRunner{Conn: conn}
	setup := []string{
		"CREATE TABLE t (ts timestamptz NOT NULL, id int, x int, y int, s text)",
		`INSERT INTO t VALUES ('2024-01-01 00:00:00+00', 1, 10, 2, 'a'), ('2024-01-01 00:01:00+00', 2, 7, 0, 'b'),
		 ('2024-01-01 00:02:00+00', 3, NULL, 0, NULL), ('2024-01-01 00:03:00+00', 4, 3, NULL, 'c'),
		 ('2024-01-01 00:04:00+00', 5, 0, 5, 'a'), ('2024-01-01 00:05:00+00', 6, NULL, NULL, 'b')`,
	}
	for _, q := range setup {
		for _, r := range []slt.Runner{strata, postgres} {
			if _, _, _, _, err := r.Run(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	g := &condGen{r: rand.New(rand.NewPCG(7, 8))}
	const n = 400
	var raised int
	for i := range n {
		e := g.intExpr(3)
		q := fmt.Sprintf("SELECT id, %s FROM t ORDER BY id", e)
		_, _, want, wantCode, wantErr := postgres.Run(ctx, q)
		_, _, got, gotCode, gotErr := strata.Run(ctx, q)
		switch {
		case wantErr != nil || gotErr != nil:
			if wantCode != gotCode {
				t.Errorf("query %d: %s\nPostgreSQL: %v (%s)\nstrata:     %v (%s)", i, q, wantErr, wantCode, gotErr, gotCode)
			}
			raised++
		case !slices.EqualFunc(want, got, slices.Equal[[]string]):
			t.Errorf("query %d: %s\nPostgreSQL: %v\nstrata:     %v", i, q, want, got)
		}
	}
	t.Logf("%d random conditional expressions equal to PostgreSQL's (%d raised the same error on both)", n, raised)
}

// condGen generates integer expressions over t's columns x and y (and text s).
type condGen struct{ r *rand.Rand }

func (g *condGen) intExpr(depth int) string {
	if depth == 0 || g.r.IntN(4) == 0 {
		return []string{"x", "y", "NULL::int", "0", "1", "2", "x - y"}[g.r.IntN(7)]
	}
	d := depth - 1
	switch g.r.IntN(7) {
	case 0: // searched CASE, ELSE optional
		var b strings.Builder
		b.WriteString("CASE")
		for range 1 + g.r.IntN(2) {
			fmt.Fprintf(&b, " WHEN %s THEN %s", g.cond(d), g.intExpr(d))
		}
		if g.r.IntN(2) == 0 {
			fmt.Fprintf(&b, " ELSE %s", g.intExpr(d))
		}
		return b.String() + " END"
	case 1: // simple CASE
		var b strings.Builder
		fmt.Fprintf(&b, "CASE %s", g.intExpr(d))
		for range 1 + g.r.IntN(2) {
			fmt.Fprintf(&b, " WHEN %s THEN %s", g.intExpr(0), g.intExpr(d))
		}
		if g.r.IntN(2) == 0 {
			fmt.Fprintf(&b, " ELSE %s", g.intExpr(d))
		}
		return b.String() + " END"
	case 2:
		return fmt.Sprintf("COALESCE(%s, %s)", g.intExpr(d), g.intExpr(d))
	case 3:
		return fmt.Sprintf("NULLIF(%s, %s)", g.intExpr(d), g.intExpr(d))
	case 4: // a division guarded by a CASE
		v := g.intExpr(d)
		return fmt.Sprintf("CASE WHEN %s <> 0 THEN %s / %s END", v, g.intExpr(d), v)
	case 5:
		return fmt.Sprintf("(%s + %s)", g.intExpr(d), g.intExpr(d))
	}
	return fmt.Sprintf("CASE WHEN %s THEN 1 ELSE 0 END", g.cond(d))
}

func (g *condGen) cond(depth int) string {
	if depth == 0 || g.r.IntN(3) == 0 {
		switch g.r.IntN(4) {
		case 0:
			return fmt.Sprintf("%s IS NULL", g.intExpr(0))
		case 1:
			return fmt.Sprintf("s = '%s'", []string{"a", "b", "c"}[g.r.IntN(3)])
		}
		return fmt.Sprintf("%s %s %s", g.intExpr(0), []string{"=", "<>", "<", ">="}[g.r.IntN(4)], g.intExpr(0))
	}
	d := depth - 1
	switch g.r.IntN(4) {
	case 0:
		return fmt.Sprintf("(%s AND %s)", g.cond(d), g.cond(d))
	case 1:
		return fmt.Sprintf("(%s OR %s)", g.cond(d), g.cond(d))
	case 2:
		return fmt.Sprintf("NOT %s", g.cond(d))
	}
	// A guard: y <> 0 AND x / y > 1 must not raise where y = 0.
	return fmt.Sprintf("(y <> 0 AND %s / y > %s)", g.intExpr(d), g.intExpr(0))
}
