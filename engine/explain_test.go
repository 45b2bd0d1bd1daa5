package engine

import (
	"strings"
	"testing"
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
