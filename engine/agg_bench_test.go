package engine

import "testing"

// Benchmarks of the DISTINCT and multi-key GROUP BY paths over benchData (10
// sources, ~1.2M rows; note holds ~200k distinct user ids).

func BenchmarkCountDistinctHighCardinality(b *testing.B) {
	user := &ColRef{Index: 0, T: Text}
	p := &Aggregate{Input: benchScan([]int{cNote}, nil),
		Aggs: []AggCall{{Func: "count", Args: []Expr{user}, Distinct: true, T: Int64}}, Out: []Field{{"n", Int64}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
}

func BenchmarkCountDistinctByGroup(b *testing.B) {
	country, user := &ColRef{Index: 0, T: Text}, &ColRef{Index: 1, T: Text}
	p := &Aggregate{Input: benchScan([]int{cCountry, cNote}, nil), Groups: []Expr{country},
		Aggs: []AggCall{{Func: "count", T: Int64}, {Func: "count", Args: []Expr{user}, Distinct: true, T: Int64}},
		Out:  []Field{{"country", Text}, {"count", Int64}, {"n", Int64}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
}

func BenchmarkGroupByTwoDictKeys(b *testing.B) {
	user, device := &ColRef{Index: 0, T: Text}, &ColRef{Index: 1, T: Text}
	p := &Aggregate{Input: benchScan([]int{cNote, cDevice}, nil), Groups: []Expr{user, device},
		Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"user", Text}, {"device", Text}, {"count", Int64}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
}
