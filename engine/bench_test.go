package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stratadb/strata/storage"
)

var (
	benchOnce sync.Once
	benchSrcs []storage.Source
)

// benchData is ~1.2M rows in 10 in-memory sources; "user" is high-cardinality text.
func benchData() []storage.Source {
	benchOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 2))
		for k := 0; k < 10; k++ {
			c := genEvents(r, 120_000, k)
			// Reuse the note column as a high-cardinality user id.
			for i := range c.Cols[cNote].String {
				c.Cols[cNote].String[i] = fmt.Sprintf("user%06d", r.IntN(200_000))
			}
			c.Cols[cNote].Null = nil
			benchSrcs = append(benchSrcs, newMemSource(fmt.Sprintf("seg%d", k), c))
		}
	})
	return benchSrcs
}

func drain(b *testing.B, p Plan) int {
	ctx := context.Background()
	rs, err := Execute(ctx, p, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	n := 0
	for {
		rec, err := rs.Next(ctx)
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n += int(rec.NumRows())
		rec.Release()
	}
}

func benchScan(cols []int, filter Expr) *Scan {
	d := &dataset{sources: benchData()}
	return scanOf(d, cols, filter)
}

func BenchmarkScanFilterCount(b *testing.B) {
	p := &Aggregate{Input: benchScan([]int{cTS}, fn("=", col(cCountry), ks("de"))), Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"count", Int64}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
}

func BenchmarkScanFilterCountVectorized(b *testing.B) {
	// price > 50: not index-answerable; the compare runs over []float64.
	p := &Aggregate{Input: benchScan([]int{cTS}, fn(">", col(cPrice), kf(50))), Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"count", Int64}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
}

func BenchmarkHashAggregate(b *testing.B) {
	in := &ColRef{Index: 0, T: Text}
	price := &ColRef{Index: 1, T: Float64}
	p := &Aggregate{Input: benchScan([]int{cCountry, cPrice}, nil), Groups: []Expr{in},
		Aggs: []AggCall{{Func: "sum", Args: []Expr{price}, T: Float64}}, Out: []Field{{"country", Text}, {"sum", Float64}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
}

func BenchmarkGroupByHighCardinality(b *testing.B) {
	user := &ColRef{Index: 0, T: Text}
	p := &Aggregate{Input: benchScan([]int{cNote}, nil), Groups: []Expr{user},
		Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"user", Text}, {"count", Int64}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
}

func BenchmarkSortTopN(b *testing.B) {
	price := &ColRef{Index: 1, T: Float64}
	p := &Limit{Input: &Sort{Input: benchScan([]int{cTS, cPrice}, nil), Keys: []SortKey{{Expr: price, Desc: true}}}, Count: 10}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
}
