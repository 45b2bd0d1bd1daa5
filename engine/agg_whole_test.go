package engine

import (
	"fmt"
	"math"
	"testing"

	"github.com/stratadb/strata/storage"
)

// TestWholeAggregatesMatchGrouped checks the kernels of aggregates without GROUP
// BY (updateWhole) against the grouped path (update, the same aggregates grouped
// by one constant key): count, sum, avg, min and max of a float column with NaN,
// infinities, -0 and NULLs, and of an integer column with NULLs and sums past
// int64 (spilled to float), over sources whose batches start with NaN, NULL or
// numbers.
func TestWholeAggregatesMatchGrouped(t *testing.T) {
	prices := [][]float64{
		{3, 1.5, -2, 7, 0, 2.25},
		{math.NaN(), 4, -9.5, math.NaN(), 1},
		{math.Inf(-1), math.Copysign(0, -1), 0, math.Inf(1), 5},
		{8, 9, 10},
		{math.NaN()},
	}
	var srcs []storage.Source
	for k, ps := range prices {
		c := storage.NewColumns(eventsSchema, len(ps))
		c.Len = len(ps)
		for i, p := range ps {
			c.Cols[cTS].Int64 = append(c.Cols[cTS].Int64, baseTime+int64(i))
			c.Cols[cCountry].String = append(c.Cols[cCountry].String, "de")
			c.Cols[cDevice].String = append(c.Cols[cDevice].String, "web")
			c.Cols[cPrice].Float64 = append(c.Cols[cPrice].Float64, p)
			q := int64(i*7 - 10)
			if k == 3 {
				q = math.MaxInt64/2 + 10 // two of them (the third is NULL) overflow int64
			}
			c.Cols[cQty].Int64 = append(c.Cols[cQty].Int64, q)
			c.Cols[cFlag].Bool = append(c.Cols[cFlag].Bool, i%2 == 0)
			c.Cols[cNote].String = append(c.Cols[cNote].String, "n")
		}
		for i := range ps {
			if (i+k)%4 == 1 {
				c.SetNull(cPrice, i)
				c.Cols[cPrice].Float64[i] = 0
			}
			if (i+k)%3 == 2 {
				c.SetNull(cQty, i)
				c.Cols[cQty].Int64[i] = 0
			}
		}
		srcs = append(srcs, newMemSource(fmt.Sprint("w", k), c))
	}
	price, qty := &ColRef{Index: 0, T: Float64}, &ColRef{Index: 1, T: Int64}
	var aggs []AggCall
	var out []Field
	for _, x := range []*ColRef{price, qty} {
		for _, f := range []string{"count", "sum", "avg", "min", "max"} {
			rt := x.T
			switch {
			case f == "count":
				rt = Int64
			case f == "avg" && x.T == Int64, f == "sum" && x.T == Int64:
				rt = Numeric
			}
			aggs = append(aggs, AggCall{Func: f, Args: []Expr{x}, T: rt})
			out = append(out, Field{f, rt})
		}
	}
	aggs = append(aggs, AggCall{Func: "count", T: Int64})
	out = append(out, Field{"count", Int64})
	for _, n := range [][]int{{0, 1, 2, 3, 4}, {1}, {4}, {2, 0}, {3}} {
		var sub []storage.Source
		for _, i := range n {
			sub = append(sub, srcs[i])
		}
		d := &dataset{sources: sub}
		for _, par := range []int{1, 2} {
			whole := run(t, &Aggregate{Input: scanOf(d, []int{cPrice, cQty}, nil), Aggs: aggs, Out: out}, Options{Parallelism: par})
			grouped := run(t, &Aggregate{Input: scanOf(d, []int{cPrice, cQty}, nil), Groups: []Expr{ks("all")}, Aggs: aggs,
				Out: append([]Field{{"k", Text}}, out...)}, Options{Parallelism: par})
			for i := range grouped {
				grouped[i] = grouped[i][1:]
			}
			sameRows(t, fmt.Sprint("sources ", n, ", parallelism ", par), whole, grouped)
		}
	}
}
