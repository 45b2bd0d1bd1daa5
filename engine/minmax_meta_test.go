package engine

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestMetaMinMax checks ungrouped min/max of the time column, of an integer
// column and of text and float columns, with count(*) and count(col), answered from metadata (newMetaAgg), against a plain loop
// and against the general aggregation (the same aggregates with a FILTER (WHERE
// true), which newMetaAgg declines), over random data with NULLs, index-answerable
// and residual filters, time ranges, overlapping and empty sources.
func TestMetaMinMax(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	quanta := []int64{1, 1_000_000, usPerHour}
	for iter := 0; iter < 200; iter++ {
		d := timeTopNData(r, 1+r.IntN(7), quanta[r.IntN(len(quanta))])
		var pr *pred
		if r.IntN(3) > 0 {
			p := genPred(r, 2)
			pr = &p
		}
		tmin, tmax := int64(MinTime), int64(MaxTime)
		if r.IntN(2) == 0 {
			tmin = baseTime + r.Int64N(5*usPerHour)
			tmax = tmin + r.Int64N(3*usPerHour)
		}
		// Expected: a plain loop.
		var n, nQty, nNote int64
		var tsMin, tsMax, qMin, qMax int64
		var hasTS, hasQ bool
		for _, row := range d.rows {
			ts := row[cTS].I
			if ts < tmin || ts > tmax || (pr != nil && pr.eval(row) != tvTrue) {
				continue
			}
			n++
			if !hasTS || ts < tsMin {
				tsMin = ts
			}
			if !hasTS || ts > tsMax {
				tsMax = ts
			}
			hasTS = true
			if !row[cNote].Null {
				nNote++
			}
			if q := row[cQty]; !q.Null {
				nQty++
				if !hasQ || q.I < qMin {
					qMin = q.I
				}
				if !hasQ || q.I > qMax {
					qMax = q.I
				}
				hasQ = true
			}
		}
		tsText := func(v int64, ok bool) string {
			if !ok {
				return "NULL"
			}
			return textOf(Value{Type: TimestampTZ, I: v})
		}
		intText := func(v int64, ok bool) string {
			if !ok {
				return "NULL"
			}
			return strconv.FormatInt(v, 10)
		}
		want := [][]string{{tsText(tsMin, hasTS), tsText(tsMax, hasTS), intText(qMin, hasQ), intText(qMax, hasQ), strconv.FormatInt(n, 10),
			strconv.FormatInt(nQty, 10), strconv.FormatInt(nNote, 10)}}

		mk := func(general bool) Plan {
			s := scanOf(d, []int{cQty, cTS, cNote, cPrice}, nil)
			s.TimeMin, s.TimeMax = tmin, tmax
			if pr != nil {
				s.Filter = pr.e
			}
			var filter Expr
			if general {
				filter = &Const{V: Value{Type: Bool, B: true}}
			}
			ts := &ColRef{Index: 1, T: TimestampTZ}
			qty := &ColRef{Index: 0, T: Int64}
			return &Aggregate{Input: s,
				Aggs: []AggCall{
					{Func: "min", Args: []Expr{ts}, T: TimestampTZ, Filter: filter},
					{Func: "max", Args: []Expr{ts}, T: TimestampTZ, Filter: filter},
					{Func: "min", Args: []Expr{qty}, T: Int64, Filter: filter},
					{Func: "max", Args: []Expr{qty}, T: Int64, Filter: filter},
					{Func: "count", T: Int64, Filter: filter},
					{Func: "count", Args: []Expr{qty}, T: Int64, Filter: filter},
					{Func: "count", Args: []Expr{&ColRef{Index: 2, T: Text}}, T: Int64, Filter: filter},
					{Func: "min", Args: []Expr{&ColRef{Index: 2, T: Text}}, T: Text, Filter: filter},
					{Func: "max", Args: []Expr{&ColRef{Index: 2, T: Text}}, T: Text, Filter: filter},
					{Func: "min", Args: []Expr{&ColRef{Index: 3, T: Float64}}, T: Float64, Filter: filter},
					{Func: "max", Args: []Expr{&ColRef{Index: 3, T: Float64}}, T: Float64, Filter: filter},
				},
				Out: []Field{{"min_ts", TimestampTZ}, {"max_ts", TimestampTZ}, {"min_q", Int64}, {"max_q", Int64}, {"n", Int64}, {"n_qty", Int64}, {"n_note", Int64},
					{"min_note", Text}, {"max_note", Text}, {"min_price", Float64}, {"max_price", Float64}}}
		}
		what := fmt.Sprintf("iter %d: time [%d, %d]", iter, tmin, tmax)
		if pr != nil {
			what += " " + pr.e.String()
		}
		fast, general := mk(false), mk(true)
		pl, _ := pipelineOf(fast.(*Aggregate).Input)
		if newMetaAgg(&query{}, fast.(*Aggregate), pl) == nil {
			t.Fatalf("%s: not answered from metadata", what)
		}
		if newMetaAgg(&query{}, general.(*Aggregate), pl) != nil {
			t.Fatalf("%s: FILTER answered from metadata", what)
		}
		opts := Options{Parallelism: 1 + iter%3}
		// min/max of text and float: the general aggregation is the reference.
		gen := run(t, general, opts)
		sameRows(t, what+" (general)", [][]string{gen[0][:7]}, want)
		sameRows(t, what+" (metadata)", run(t, fast, opts), gen)
	}
}
