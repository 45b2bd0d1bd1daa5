package engine

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
)

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

// sessionData is nsrc in-memory sources of rows events each: note holds one of
// users user ids and device one of each user's sessions (a handful per user, as
// bench's e-commerce events), so that count(DISTINCT device) GROUP BY note has
// many groups of few ids out of large dictionaries. It returns, per user, the
// number of distinct sessions.
func sessionData(seed uint64, nsrc, rows, users int) ([]storage.Source, map[string]int) {
	r := rand.New(rand.NewPCG(seed, 3))
	sessions := map[string]map[string]bool{}
	var srcs []storage.Source
	for k := 0; k < nsrc; k++ {
		c := genEvents(r, rows, k)
		for i := 0; i < c.Len; i++ {
			u := r.IntN(users)
			user := fmt.Sprintf("user%06d", u)
			sess := fmt.Sprintf("s%d_%d", u, r.IntN(1+u%9))
			c.Cols[cNote].String[i], c.Cols[cDevice].String[i] = user, sess
			if sessions[user] == nil {
				sessions[user] = map[string]bool{}
			}
			sessions[user][sess] = true
		}
		c.Cols[cNote].Null, c.Cols[cDevice].Null = nil, nil
		srcs = append(srcs, newMemSource(fmt.Sprintf("sess%d", k), c))
	}
	want := map[string]int{}
	for u, s := range sessions {
		want[u] = len(s)
	}
	return srcs, want
}

func perUserDistinct(srcs []storage.Source) *Aggregate {
	user, sess := &ColRef{Index: 0, T: Text}, &ColRef{Index: 1, T: Text}
	return &Aggregate{Input: scanOf(&dataset{sources: srcs}, []int{cNote, cDevice}, nil), Groups: []Expr{user},
		Aggs: []AggCall{{Func: "count", Args: []Expr{sess}, Distinct: true, T: Int64}},
		Out:  []Field{{"user", Text}, {"sessions", Int64}}}
}

var (
	sessionOnce sync.Once
	sessionSrcs []storage.Source
)

// BenchmarkCountDistinctPerUser is count(DISTINCT session) GROUP BY user over
// 1.2M rows in 10 sources, 200k users (bench's sessions_per_user_histogram).
func BenchmarkCountDistinctPerUser(b *testing.B) {
	sessionOnce.Do(func() { sessionSrcs, _ = sessionData(1, 10, 120_000, 200_000) })
	p := perUserDistinct(sessionSrcs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1.2e6, "ns/row")
}

// BenchmarkNumericSummary is sum, avg, min and max of a float and an integer
// column (with NULLs) over every row of benchData, no GROUP BY (bench's
// numeric_summary).
func BenchmarkNumericSummary(b *testing.B) {
	price, qty := &ColRef{Index: 0, T: Float64}, &ColRef{Index: 1, T: Int64}
	var aggs []AggCall
	var out []Field
	for _, x := range []*ColRef{price, qty} {
		for _, f := range []string{"sum", "avg", "min", "max"} {
			rt := x.T
			if x.T == Int64 && f != "min" && f != "max" {
				rt = Numeric
			}
			aggs = append(aggs, AggCall{Func: f, Args: []Expr{x}, T: rt})
			out = append(out, Field{f, rt})
		}
	}
	p := &Aggregate{Input: benchScan([]int{cPrice, cQty}, nil), Aggs: aggs, Out: out}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1.2e6, "ns/row")
}

// BenchmarkDateTruncConstUnit evaluates date_trunc('hour', ts) over one batch
// (bench's hourly_by_device_week, per_minute_one_day): the unit is a constant.
func BenchmarkDateTruncConstUnit(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ts := &vec{t: TimestampTZ, n: BatchSize, i: make([]int64, BatchSize)}
	for i := range ts.i {
		ts.i[i] = baseTime + r.Int64N(24*usPerHour)
	}
	bt := &batch{n: BatchSize, cols: []*vec{ts}}
	e := fn("date_trunc", ks("hour"), &ColRef{Index: 0, T: TimestampTZ})
	ev := newEvaluator(time.Unix(0, 0))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ev.eval(e, bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/BatchSize, "ns/row")
}

// BenchmarkGroupByUserSums is sum(qty), sum(price) GROUP BY user over benchData
// (~200k groups; bench's top_users_items_revenue before its top-N).
func BenchmarkGroupByUserSums(b *testing.B) {
	user, price, qty := &ColRef{Index: 0, T: Text}, &ColRef{Index: 1, T: Float64}, &ColRef{Index: 2, T: Int64}
	p := &Aggregate{Input: benchScan([]int{cNote, cPrice, cQty}, nil), Groups: []Expr{user},
		Aggs: []AggCall{{Func: "sum", Args: []Expr{qty}, T: Numeric}, {Func: "sum", Args: []Expr{price}, T: Float64}},
		Out:  []Field{{"user", Text}, {"items", Numeric}, {"revenue", Float64}}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1.2e6, "ns/row")
}
