package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/stratadb/strata/storage"
)

func TestExplain(t *testing.T) {
	d := newDataset(8, 4, 50) // source k covers hour k
	s := scanOf(d, []int{cCountry, cPrice}, &BoolOp{Op: And, Args: []Expr{
		fn("=", col(cDevice), ks("ios")),
		fn(">=", col(cTS), &Const{V: Value{Type: TimestampTZ, I: baseTime + 2*usPerHour}}),
	}})
	country, price := &ColRef{Index: 0, T: Text, Name: "country"}, &ColRef{Index: 1, T: Float64, Name: "price"}
	agg := &Aggregate{Input: s, Groups: []Expr{country},
		Aggs: []AggCall{{Func: "count", T: Int64}, {Func: "sum", Args: []Expr{price}, Filter: fn(">", price, kf(1)), T: Float64}},
		Out:  []Field{{"country", Text}, {"count", Int64}, {"sum", Float64}}}
	p := &Limit{Input: &Sort{Input: agg, Keys: []SortKey{{Expr: &ColRef{Index: 1, T: Int64, Name: "count"}, Desc: true, NullsFirst: true}}}, Count: 5}
	got := strings.Join(Explain(p), "\n")
	want := strings.Join([]string{
		"TopN 5 offset=0 [count DESC]",
		"  Aggregate groups=[country] aggs=[count(*), sum(price) FILTER (WHERE (price > 1))] (partial per source)",
		"    Scan events columns=[country, price] time=[2023-10-01 02:00:00, infinity] filter=((device = 'ios') AND (ts >= '2023-10-01 02:00:00+00'::timestamp with time zone)) segments: 2 of 4 (2 pruned by time, 0 by stats)",
	}, "\n")
	if got != want {
		t.Errorf("explain:\n%s\nwant:\n%s", got, want)
	}
	// Expression rendering.
	cases := map[string]Expr{
		"(- qty)":                             fn("neg", col(cQty)),
		"(NOT flag)":                          fn("not", col(cFlag)),
		"(qty)::double precision":             &Cast{X: col(cQty), T: Float64},
		"CASE WHEN flag THEN 1 ELSE NULL END": &Case{Whens: []When{{Cond: col(cFlag), Then: ki(1)}}, Else: knull(Int32), T: Int32},
		"(device NOT IN ('a', 'it''s'))":      &InList{X: col(cDevice), List: []Expr{ks("a"), ks("it's")}, Negated: true},
		"(note NOT ILIKE 'x%')":               &Like{X: col(cNote), Pattern: ks("x%"), CaseInsensitive: true, Negated: true},
		"(price IS NOT NULL)":                 &IsNull{X: col(cPrice), Negated: true},
		"date_trunc('hour', ts)":              fn("date_trunc", ks("hour"), col(cTS)),
		"(flag OR (qty < 3))":                 &BoolOp{Op: Or, Args: []Expr{col(cFlag), fn("<", col(cQty), ki(3))}},
		"'26:00:00'::interval":                kt(Interval, "26 hours"),
		"'-1.5'::double precision":            kf(-1.5),
		"2.5":                                 kf(2.5),
	}
	for want, e := range cases {
		if got := e.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

// pathSource is a source that reports a lake read path and, with bounds, marks
// its statistics as bounds only (with a NullCount that means nothing).
type pathSource struct {
	storage.Source
	path   string
	bounds bool
}

func (p pathSource) ReadPath() string   { return p.path }
func (p pathSource) SortedByTime() bool { return storage.IsSortedByTime(p.Source) }
func (p pathSource) Stats(col int) storage.ColumnStats {
	st := p.Source.Stats(col)
	if p.bounds {
		st.Bounds, st.NullCount, st.HasMinMax = true, 0, false
	}
	return st
}

// TestExplainLakePaths: EXPLAIN counts, per scan, the lake sources left after
// pruning by the path they read.
func TestExplainLakePaths(t *testing.T) {
	d := newDataset(8, 4, 50)
	for i, src := range d.sources {
		d.sources[i] = pathSource{Source: src, path: []string{"parquet", "cache", "parquet", "parquet"}[i]}
	}
	s := scanOf(d, []int{cCountry}, fn(">=", col(cTS), &Const{V: Value{Type: TimestampTZ, I: baseTime + 1*usPerHour}}))
	got := Explain(s)[0]
	if !strings.HasSuffix(got, "segments: 3 of 4 (1 pruned by time, 0 by stats) lake: cache=1 parquet=2") {
		t.Errorf("explain: %s", got)
	}
}

// TestStatsBoundsDoNotPrune: statistics marked Bounds (a Parquet row group with
// deleted rows or without null counts) never prune by NULL counts nor answer
// min/max: the rows equal those of the same sources with exact statistics.
func TestStatsBoundsDoNotPrune(t *testing.T) {
	d := newDataset(9, 4, 60)
	b := newDataset(9, 4, 60)
	for i, src := range b.sources {
		b.sources[i] = pathSource{Source: src, path: "parquet", bounds: true}
	}
	for _, tc := range []struct {
		name string
		plan func(d *dataset) Plan
	}{
		{"is null", func(d *dataset) Plan {
			return &Aggregate{Input: scanOf(d, []int{cPrice}, &IsNull{X: col(cPrice)}), Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"count", Int64}}}
		}},
		{"is not null", func(d *dataset) Plan {
			return &Aggregate{Input: scanOf(d, []int{cPrice}, &IsNull{X: col(cPrice), Negated: true}), Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"count", Int64}}}
		}},
		{"max qty", func(d *dataset) Plan {
			qty := &ColRef{Index: 0, T: Int64, Name: "qty"}
			return &Aggregate{Input: scanOf(d, []int{cQty}, nil), Aggs: []AggCall{{Func: "max", Args: []Expr{qty}, T: Int64}}, Out: []Field{{"max", Int64}}}
		}},
	} {
		want := run(t, tc.plan(d), Options{Parallelism: 2})
		got := run(t, tc.plan(b), Options{Parallelism: 2})
		if strings.Join(got[0], ",") != strings.Join(want[0], ",") {
			t.Errorf("%s: %v with bounds-only stats, %v with exact ones", tc.name, got, want)
		}
	}
}

// nullCountingSource counts NULLs from its statistics and fails any read of
// its NULL bitmaps, so a count(col) it answers comes from metadata alone.
type nullCountingSource struct{ pathSource }

func (n nullCountingSource) NullCount(col int) (int, bool) {
	return n.Source.Stats(col).NullCount, true
}
func (n nullCountingSource) Nulls(col int) (*roaring.Bitmap, error) {
	return nil, errors.New("Nulls read: count(col) should come from NullCount")
}

// TestCountColumnFromNullCounter: count(col) over whole sources that count
// their NULLs from metadata equals the count from the NULL bitmaps.
func TestCountColumnFromNullCounter(t *testing.T) {
	plan := func(d *dataset) Plan {
		price := &ColRef{Index: 0, T: Float64, Name: "price"}
		return &Aggregate{Input: scanOf(d, []int{cPrice}, nil),
			Aggs: []AggCall{{Func: "count", T: Int64}, {Func: "count", Args: []Expr{price}, T: Int64}},
			Out:  []Field{{"count", Int64}, {"count", Int64}}}
	}
	want := run(t, plan(newDataset(10, 4, 80)), Options{Parallelism: 2})
	d := newDataset(10, 4, 80)
	for i, src := range d.sources {
		d.sources[i] = nullCountingSource{pathSource{Source: src, path: "parquet"}}
	}
	got := run(t, plan(d), Options{Parallelism: 2})
	if strings.Join(got[0], ",") != strings.Join(want[0], ",") {
		t.Errorf("count(*), count(price) = %v from NullCount, %v from the NULL bitmaps", got, want)
	}
}
