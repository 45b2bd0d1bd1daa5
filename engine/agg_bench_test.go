package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
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

// BenchmarkGroupByBucketAndDict is count(*) GROUP BY floor(extract(epoch from
// ts)/300)*300, device over benchData: two fixed-width keys, a float time bucket
// and a small dictionary (bench's grafana_events_by_type).
func BenchmarkGroupByBucketAndDict(b *testing.B) {
	ts, device := &ColRef{Index: 0, T: TimestampTZ}, &ColRef{Index: 1, T: Text}
	epoch := &Call{Func: "extract", Args: []Expr{ks("epoch"), ts}, T: Numeric}
	c300 := &Const{V: Value{Type: Numeric, F: 300}}
	bucket := &Call{Func: "*", Args: []Expr{&Call{Func: "floor", Args: []Expr{
		&Call{Func: "/", Args: []Expr{epoch, c300}, T: Numeric}}, T: Numeric}, c300}, T: Numeric}
	p := &Aggregate{Input: benchScan([]int{cTS, cDevice}, nil), Groups: []Expr{bucket, device},
		Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"time", Numeric}, {"device", Text}, {"count", Int64}}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1.2e6, "ns/row")
}

// BenchmarkDistinctPairsMerge is the final merge of count(DISTINCT) partials in
// pairs mode (idSets.mergeAll: the dictionary merge, then the pairs translated
// into one set) as count(DISTINCT session) GROUP BY user leaves it: 10 partials of
// 120k (group, id) pairs over sorted dictionaries of 100k of 1M values, 200k
// groups, merged by one worker and by two.
func BenchmarkDistinctPairsMerge(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	const nparts, pairs, dictLen, values, groups = 10, 120_000, 100_000, 1_000_000, 200_000
	type partial struct {
		dict []string
		keys []uint64
		m    []int32
	}
	var ps []partial
	for k := 0; k < nparts; k++ {
		var p partial
		for _, v := range r.Perm(values)[:dictLen] {
			p.dict = append(p.dict, fmt.Sprintf("s%07d", v))
		}
		slices.Sort(p.dict)
		local := pairs / 4
		p.m = make([]int32, local)
		for g := range p.m {
			p.m[g] = int32(r.IntN(groups))
		}
		for i := 0; i < pairs; i++ {
			p.keys = append(p.keys, packPair(int32(r.IntN(local)), uint32(r.IntN(dictLen))))
		}
		ps = append(ps, p)
	}
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("par=%d", par), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var parts []idPart
				for _, p := range ps {
					o := &idSets{space: newIDSpace(p.dict), n: len(p.m), pairs: newPairSet(len(p.keys))}
					for _, k := range p.keys {
						o.pairs.insert(k)
					}
					parts = append(parts, idPart{sets: o, m: p.m})
				}
				a := &idSets{par: par}
				a.grow(groups)
				b.StartTimer()
				if err := a.mergeAll(parts); err != nil {
					b.Fatal(err)
				}
				c := make([]int64, groups)
				a.counts(c)
			}
		})
	}
}
