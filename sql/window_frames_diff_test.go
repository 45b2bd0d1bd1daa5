package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/sql/internal/slt"
	"github.com/stratadb/strata/storage/store"
)

// TestWindowFramesAgainstPostgres generates random window frames — ROWS, RANGE
// (integer, float and interval offsets) and GROUPS, every bound kind, EXCLUDE,
// ASC/DESC with NULLS FIRST/LAST, FILTER — over a table with duplicate and NULL
// ORDER BY values in a few partitions, and checks every row against PostgreSQL
// 15 running the same query. Results are made independent of the order of peers
// (ROWS frames order by a unique key as well; first_value/last_value read the
// ORDER BY column, equal among peers).
func TestWindowFramesAgainstPostgres(t *testing.T) {
	pg := slt.StartPG(t)
	if pg == nil {
		t.Skip("PostgreSQL 15 server not installed: nothing to compare with (apt-get install -y postgresql-15)")
	}
	ctx := context.Background()
	conn := pg.Database(t, "window_frames")
	defer conn.Close(ctx)
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	strata := &strataRunner{s: Open(st, Options{}).NewSession("strata", "strata")}
	postgres := &slt.PGRunner{Conn: conn}

	r := rand.New(rand.NewPCG(12, 5))
	var rows []string
	null := func(p int, s string) string {
		if r.IntN(100) < p {
			return "NULL"
		}
		return s
	}
	for id := 1; id <= 80; id++ {
		// times on a coarse grid so that peers and exact-distance rows occur
		ts := fmt.Sprintf("2024-01-%02d %02d:%02d:00+00", 1+r.IntN(3), r.IntN(4), 15*r.IntN(4))
		rows = append(rows, fmt.Sprintf("('%s', %d, %s, %s, %s, %s)", ts, id,
			null(5, fmt.Sprintf("'p%d'", r.IntN(3))), null(15, strconv.Itoa(r.IntN(8)-2)),
			null(15, strconv.Itoa(r.IntN(20))), null(10, fmt.Sprintf("%g", float64(r.IntN(16))/4))))
	}
	setup := []string{
		"CREATE TABLE w (ts timestamptz NOT NULL, id int, p text, k int, x int, f double precision)",
		"INSERT INTO w VALUES " + strings.Join(rows, ", "),
	}
	for _, q := range setup {
		for _, run := range []slt.Runner{strata, postgres} {
			if _, _, _, _, err := run.Run(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	const n = 600
	var raised int
	for i := range n {
		q := randomFrameQuery(r)
		_, _, want, wantCode, wantErr := postgres.Run(ctx, q)
		_, _, got, gotCode, gotErr := strata.Run(ctx, q)
		switch {
		case wantErr != nil || gotErr != nil:
			if wantCode != gotCode {
				t.Errorf("query %d: %s\nPostgreSQL: %v (%s)\nstrata:     %v (%s)", i, q, wantErr, wantCode, gotErr, gotCode)
			}
			raised++
		case !sameRows(want, got):
			t.Errorf("query %d: %s\nPostgreSQL: %v\nstrata:     %v", i, q, want, got)
		}
	}
	t.Logf("%d random window frames equal to PostgreSQL's (%d raised the same error on both)", n, raised)
}

// randomFrameQuery returns SELECT id, f(…) OVER (…) FROM w ORDER BY id with a
// random function and frame.
func randomFrameQuery(r *rand.Rand) string {
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	mode := pick("ROWS", "RANGE", "GROUPS")
	// the ORDER BY column and the offsets that fit it
	col, offs := "k", []string{"0", "1", "2", "5"}
	if mode == "RANGE" {
		switch r.IntN(3) {
		case 1:
			col, offs = "f", []string{"0", "0.25", "1.5", "3"}
		case 2:
			col, offs = "ts", []string{"'0 minutes'", "'15 minutes'", "'1 hour'", "'1 day'", "'1 day 2 hours'"}
		}
	}
	order := col + pick("", " DESC") + pick("", " NULLS FIRST", " NULLS LAST")
	if mode == "ROWS" {
		order += ", id"
	}
	bound := func(start bool) string {
		switch r.IntN(5) {
		case 0:
			if start {
				return "UNBOUNDED PRECEDING"
			}
			return "UNBOUNDED FOLLOWING"
		case 1:
			return "CURRENT ROW"
		case 2, 3:
			return pick(offs...) + " PRECEDING"
		}
		return pick(offs...) + " FOLLOWING"
	}
	frame := mode + " BETWEEN " + bound(true) + " AND " + bound(false)
	frame += pick("", "", " EXCLUDE CURRENT ROW", " EXCLUDE GROUP", " EXCLUDE TIES", " EXCLUDE NO OTHERS")
	fn := pick("count(*)", "count(x)", "sum(x)", "avg(x)", "min(x)", "max(x)", "sum(f)", "avg(f)", "max(f)",
		"min(ts)", "first_value("+col+")", "last_value("+col+")")
	if strings.HasPrefix(fn, "count") || strings.HasPrefix(fn, "sum") || strings.HasPrefix(fn, "avg") ||
		strings.HasPrefix(fn, "min") || strings.HasPrefix(fn, "max") {
		fn += pick("", "", " FILTER (WHERE x > 5)", " FILTER (WHERE p = 'p1' OR k IS NULL)")
	}
	part := pick("", "PARTITION BY p ")
	return fmt.Sprintf("SELECT id, %s OVER (%sORDER BY %s %s) FROM w ORDER BY id", fn, part, order, frame)
}

// sameRows compares result rows cell by cell; numbers are equal when they agree to
// 12 significant digits (PostgreSQL's avg is exact numeric, strata's a double).
func sameRows(want, got [][]string) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if len(want[i]) != len(got[i]) {
			return false
		}
		for j := range want[i] {
			a, b := want[i][j], got[i][j]
			if a == b {
				continue
			}
			x, err1 := strconv.ParseFloat(a, 64)
			y, err2 := strconv.ParseFloat(b, 64)
			if err1 != nil || err2 != nil || math.Abs(x-y) > 1e-12*math.Max(math.Abs(x), math.Abs(y)) {
				return false
			}
		}
	}
	return true
}

// TestWindowFrameParameters binds frame offsets as parameters, as drivers send
// them: $1 takes bigint for ROWS and interval for RANGE over a timestamp, is
// read once per execution, and NULL or negative values give PostgreSQL's
// errors. Expected sums are computed by hand.
func TestWindowFrameParameters(t *testing.T) {
	s, _ := newTestSession(t)
	mustExec(t, s, "CREATE TABLE tp (ts timestamptz NOT NULL, id int, x int)")
	mustExec(t, s, `INSERT INTO tp VALUES ('2024-01-01 00:00:00+00', 1, 10), ('2024-01-01 00:30:00+00', 2, 20),
		('2024-01-01 01:00:00+00', 3, 30), ('2024-01-01 02:00:00+00', 4, 40)`)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		sql   string
		param engine.Value
		want  string // the sums in id order, or the SQLSTATE
		typ   engine.Type
	}{
		{"rows 1", "SELECT sum(x) OVER (ORDER BY id ROWS BETWEEN $1 PRECEDING AND CURRENT ROW) FROM tp ORDER BY id",
			engine.Value{Type: engine.Unknown, S: "1"}, "10 30 50 70", engine.Int64},
		{"rows 2", "SELECT sum(x) OVER (ORDER BY id ROWS BETWEEN $1 PRECEDING AND CURRENT ROW) FROM tp ORDER BY id",
			engine.Value{Type: engine.Unknown, S: "2"}, "10 30 60 90", engine.Int64},
		{"groups", "SELECT sum(x) OVER (ORDER BY id GROUPS BETWEEN CURRENT ROW AND $1 FOLLOWING) FROM tp ORDER BY id",
			engine.Value{Type: engine.Unknown, S: "1"}, "30 50 70 40", engine.Int64},
		{"range hour", "SELECT sum(x) OVER (ORDER BY ts RANGE BETWEEN $1 PRECEDING AND CURRENT ROW) FROM tp ORDER BY id",
			engine.Value{Type: engine.Unknown, S: "1 hour"}, "10 30 60 70", engine.Interval},
		{"range 30 minutes", "SELECT sum(x) OVER (ORDER BY ts RANGE BETWEEN $1 PRECEDING AND CURRENT ROW) FROM tp ORDER BY id",
			engine.Value{Type: engine.Unknown, S: "30 minutes"}, "10 30 50 40", engine.Interval},
		{"null", "SELECT sum(x) OVER (ORDER BY id ROWS BETWEEN $1 PRECEDING AND CURRENT ROW) FROM tp ORDER BY id",
			engine.Value{Null: true}, "22004", engine.Int64},
		{"negative", "SELECT sum(x) OVER (ORDER BY ts RANGE BETWEEN CURRENT ROW AND $1 FOLLOWING) FROM tp ORDER BY id",
			engine.Value{Type: engine.Unknown, S: "-1 hour"}, "22013", engine.Interval},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := s.Prepare(ctx, tc.sql, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.ParamTypes) != 1 || st.ParamTypes[0] != tc.typ {
				t.Fatalf("parameter types %v, want [%v]", st.ParamTypes, tc.typ)
			}
			res, err := s.Execute(ctx, st, []engine.Value{tc.param})
			var sums []string
			for err == nil {
				var rec arrow.RecordBatch
				if rec, err = res.Rows.Next(ctx); err != nil {
					break
				}
				for i := 0; i < int(rec.NumRows()); i++ {
					sums = append(sums, string(engine.AppendText(nil, rec.Column(0), i, res.Fields[0].Type)))
				}
				rec.Release()
			}
			if res != nil && res.Rows != nil {
				res.Rows.Close()
			}
			got := strings.Join(sums, " ")
			if !errors.Is(err, io.EOF) {
				got = codeOf(err)
			}
			if got != tc.want {
				t.Errorf("got %s (%v), want %s", got, err, tc.want)
			}
		})
	}
}
