package engine

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stratadb/strata/storage"
)

var (
	windowBenchOnce sync.Once
	windowBenchSrc  []storage.Source
)

// windowBenchRows events, one every 0.86 s on average over 10 days (so a one-hour
// RANGE frame holds ~4,200 rows), in one source, unordered.
const windowBenchRows = 1_000_000

func windowBenchData() []storage.Source {
	windowBenchOnce.Do(func() {
		r := rand.New(rand.NewPCG(3, 4))
		c := genEvents(r, windowBenchRows, 0)
		for i := range c.Cols[cTS].Int64 {
			c.Cols[cTS].Int64[i] = baseTime + r.Int64N(10*24*usPerHour)
		}
		windowBenchSrc = []storage.Source{newMemSource("win", c)}
	})
	return windowBenchSrc
}

// BenchmarkWindowRangeInterval is a moving one-hour aggregate over one partition
// of 1M rows: f(x) OVER (ORDER BY ts RANGE BETWEEN interval '1 hour' PRECEDING AND
// CURRENT ROW), end to end (scan, sort, frames, aggregate). ns/row is per input row.
func BenchmarkWindowRangeInterval(b *testing.B) {
	// the scan's output: ts, price, qty, flag
	out := func(i, c int) *ColRef { return &ColRef{Index: i, T: colTypes[c], Name: eventsSchema.Columns[c].Name} }
	ts, price, qty, flag := out(0, cTS), out(1, cPrice), out(2, cQty), out(3, cFlag)
	hour := &Const{V: Value{Type: Interval, I: usPerHour}}
	frame := Frame{Mode: FrameRange, Start: FrameBound{Kind: Preceding, Offset: hour}, End: FrameBound{Kind: CurrentRow}}
	qty32 := &Cast{X: qty, T: Int32}
	for _, c := range []struct {
		name   string
		fn     string
		args   []Expr
		filter Expr
		t      Type
	}{
		{"sum_int", "sum", []Expr{qty32}, nil, Int64},     // prefix sums
		{"sum_float", "sum", []Expr{price}, nil, Float64}, // segment tree
		{"max_float", "max", []Expr{price}, nil, Float64}, // segment tree
		{"count_filter", "count", nil, flag, Int64},       // prefix counts
	} {
		b.Run(c.name, func(b *testing.B) {
			d := &dataset{sources: windowBenchData()}
			p := &Window{Input: scanOf(d, []int{cTS, cPrice, cQty, cFlag}, nil), Funcs: []WindowFunc{{
				Func: c.fn, Args: c.args, Filter: c.filter, Order: []SortKey{{Expr: ts}}, Frame: frame, T: c.t,
			}}}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if n := drain(b, p); n != windowBenchRows {
					b.Fatal(fmt.Sprintf("%d rows", n))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/windowBenchRows, "ns/row")
		})
	}
}
