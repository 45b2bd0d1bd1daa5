package engine

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/segment"
)

// countingSegment is a real segment that counts the reads of its column values,
// so that a test sees which sources a query scanned. With noSums it answers no
// column sums, as a segment of format 1 (storage.Summer's contract).
type countingSegment struct {
	*segment.Reader
	reads  *atomic.Int64 // calls of Read*
	noSums bool
}

func (c countingSegment) ColumnSum(col int) (storage.ColumnSum, bool) {
	if c.noSums {
		return storage.ColumnSum{}, false
	}
	return c.Reader.ColumnSum(col)
}
func (c countingSegment) ReadInt64(col, start, end int, dst []int64) ([]int64, error) {
	c.reads.Add(1)
	return c.Reader.ReadInt64(col, start, end, dst)
}
func (c countingSegment) ReadFloat64(col, start, end int, dst []float64) ([]float64, error) {
	c.reads.Add(1)
	return c.Reader.ReadFloat64(col, start, end, dst)
}
func (c countingSegment) ReadDictIDs(col, start, end int, dst []uint32) ([]uint32, error) {
	c.reads.Add(1)
	return c.Reader.ReadDictIDs(col, start, end, dst)
}
func (c countingSegment) ReadBool(col, start, end int, dst []bool) ([]bool, error) {
	c.reads.Add(1)
	return c.Reader.ReadBool(col, start, end, dst)
}

// TestSumsFromSegmentMetadata checks count, sum, avg, min and max over every
// row and over time ranges, across segments answered from their column sums
// (sum_meta.go), segments partly in the range, segments without sums and
// in-memory sources (heads), against a loop over the input rows (integers
// exactly, a sum past int64 included; floats to 1e-9) and against the scan
// path (fastPaths off), which must give the same text; and that the segments
// answered from metadata are not read.
func TestSumsFromSegmentMetadata(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(41, 42))
	reads := make([]atomic.Int64, 6) // per segment
	var sources []storage.Source
	var inputs []*storage.Columns
	for k := 0; k < 8; k++ {
		c := genEvents(r, 300+r.IntN(400), k)
		switch k {
		case 2: // a sum past int64
			for i := range c.Cols[cQty].Int64 {
				if !c.IsNull(cQty, i) {
					c.Cols[cQty].Int64[i] = math.MaxInt64 - int64(i)
				}
			}
		case 3: // NaN and infinity: the sum, avg and max are NaN
			for _, i := range []int{5, 9} {
				if c.Cols[cPrice].Null != nil {
					c.Cols[cPrice].Null[i] = false
				}
			}
			c.Cols[cPrice].Float64[5], c.Cols[cPrice].Float64[9] = math.NaN(), math.Inf(1)
		case 4: // every price NULL
			for i := range c.Cols[cPrice].Float64 {
				c.SetNull(cPrice, i)
				c.Cols[cPrice].Float64[i] = 0
			}
		}
		inputs = append(inputs, c)
		if k >= 6 { // in memory, as a head
			sources = append(sources, newMemSource(fmt.Sprint("head", k), c))
			continue
		}
		path := filepath.Join(dir, fmt.Sprintf("seg%d", k))
		if _, err := segment.Write(path, c); err != nil {
			t.Fatal(err)
		}
		rd, err := segment.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rd.Close() })
		sources = append(sources, countingSegment{Reader: rd, reads: &reads[k], noSums: k == 5})
	}
	d := &dataset{sources: sources}
	price, qty, ts, note := &ColRef{Index: 0, T: Float64}, &ColRef{Index: 1, T: Int64}, &ColRef{Index: 2, T: TimestampTZ}, &ColRef{Index: 3, T: Text}
	type agg struct {
		fn string
		x  *ColRef
		rt Type
	}
	aggs := []agg{{"count", nil, Int64}, {"count", price, Int64}, {"sum", price, Float64}, {"avg", price, Float64},
		{"min", price, Float64}, {"max", price, Float64}, {"count", qty, Int64}, {"sum", qty, Numeric}, {"avg", qty, Numeric},
		{"min", qty, Int64}, {"max", qty, Int64}, {"min", ts, TimestampTZ}, {"max", ts, TimestampTZ}, {"min", note, Text}, {"max", note, Text}}
	mk := func(tmin, tmax int64, filter Expr) Plan {
		s := scanOf(d, []int{cPrice, cQty, cTS, cNote}, filter)
		s.TimeMin, s.TimeMax = tmin, tmax
		p := &Aggregate{Input: s}
		for _, a := range aggs {
			var args []Expr
			if a.x != nil {
				args = []Expr{a.x}
			}
			p.Aggs = append(p.Aggs, AggCall{Func: a.fn, Args: args, T: a.rt})
			p.Out = append(p.Out, Field{a.fn, a.rt})
		}
		return p
	}
	// want computes the aggregates over the input rows with times in [tmin, tmax].
	want := func(tmin, tmax int64) []string {
		var n, np, nq int64
		var sp float64
		sq := new(big.Int)
		var minP, maxP float64
		var minQ, maxQ, minT, maxT int64
		var minN, maxN string
		var hasN bool
		for _, c := range inputs {
			for i := 0; i < c.Len; i++ {
				t := c.Cols[cTS].Int64[i]
				if t < tmin || t > tmax {
					continue
				}
				if n == 0 || t < minT {
					minT = t
				}
				if n == 0 || t > maxT {
					maxT = t
				}
				n++
				if !c.IsNull(cPrice, i) {
					p := c.Cols[cPrice].Float64[i]
					if np == 0 || cmpFloat(p, minP) < 0 {
						minP = p
					}
					if np == 0 || cmpFloat(p, maxP) > 0 {
						maxP = p
					}
					np++
					sp += p
				}
				if !c.IsNull(cQty, i) {
					q := c.Cols[cQty].Int64[i]
					if nq == 0 || q < minQ {
						minQ = q
					}
					if nq == 0 || q > maxQ {
						maxQ = q
					}
					nq++
					sq.Add(sq, big.NewInt(q))
				}
				if !c.IsNull(cNote, i) {
					s := c.Cols[cNote].String[i]
					if !hasN || s < minN {
						minN = s
					}
					if !hasN || s > maxN {
						maxN = s
					}
					hasN = true
				}
			}
		}
		f := func(v float64, ok bool) string {
			if !ok {
				return "NULL"
			}
			return fnum(v, Float64)
		}
		i := func(v int64, ok bool) string {
			if !ok {
				return "NULL"
			}
			return strconv.FormatInt(v, 10)
		}
		sumQ, avgQ := "NULL", "NULL"
		if nq > 0 {
			sumQ = sq.String()
			v, _ := new(big.Rat).SetFrac(sq, big.NewInt(nq)).Float64()
			avgQ = fnum(v, Float64)
		}
		tsText := func(v int64, ok bool) string {
			if !ok {
				return "NULL"
			}
			return textOf(Value{Type: TimestampTZ, I: v})
		}
		txt := func(s string) string {
			if !hasN {
				return "NULL"
			}
			return s
		}
		return []string{i(n, true), i(np, true), f(sp, np > 0), f(sp/float64(np), np > 0), f(minP, np > 0), f(maxP, np > 0),
			i(nq, true), sumQ, avgQ, i(minQ, nq > 0), i(maxQ, nq > 0), tsText(minT, n > 0), tsText(maxT, n > 0), txt(minN), txt(maxN)}
	}
	exact := []int{0, 1, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14} // columns compared as text; the others to 1e-9
	for _, tc := range []struct {
		name       string
		tmin, tmax int64
		filter     Expr
		read       []bool // per segment: scanned (else answered from metadata or pruned)
		fromMeta   int    // segments answered from metadata
	}{
		// Segment k holds hour k; segment 5 has no sums.
		{"every row", MinTime, MaxTime, nil, []bool{false, false, false, false, false, true}, 5},
		{"segments 1-3 whole, 4 in part", baseTime + usPerHour, baseTime + 4*usPerHour + usPerHour/2, nil,
			[]bool{false, false, false, false, true, false}, 3},
		{"nothing selected", baseTime + 100*usPerHour, MaxTime, nil, make([]bool, 6), 0},
		{"a filter", MinTime, MaxTime, fn("=", col(cCountry), ks("de")), []bool{true, true, true, true, true, true}, 0},
	} {
		p := mk(tc.tmin, tc.tmax, tc.filter)
		if tc.filter != nil {
			p.(*Aggregate).Input.(*Scan).Columns = []int{cPrice, cQty, cTS, cNote, cCountry}
		}
		for _, par := range []int{1, 2} {
			what := fmt.Sprintf("%s, parallelism %d", tc.name, par)
			for k := range reads {
				reads[k].Store(0)
			}
			got := run(t, p, Options{Parallelism: par})
			for k := range reads {
				if n := reads[k].Load(); (n > 0) != tc.read[k] {
					t.Fatalf("%s: segment %d: %d reads of its values", what, k, n)
				}
			}
			fastPaths = false
			scanned := run(t, p, Options{Parallelism: par})
			fastPaths = true
			if par == 1 {
				// The same sources folded in the same order: the same text, floats included.
				sameRows(t, what+": metadata path vs scan", got, scanned)
			}
			if tc.filter == nil {
				w := want(tc.tmin, tc.tmax)
				closeRows(t, what, got, [][]string{w})
				for _, c := range exact {
					if got[0][c] != w[c] {
						t.Fatalf("%s: column %d (%s %s) = %s, want %s", what, c, aggs[c].fn, p.(*Aggregate).Aggs[c].Args, got[0][c], w[c])
					}
				}
			}
		}
		ex := strings.Join(Explain(p), "\n")
		if tc.filter == nil && !strings.Contains(ex, fmt.Sprintf("(from metadata: %d of 8 sources)", tc.fromMeta)) {
			t.Fatalf("%s: EXPLAIN does not say %d of 8 sources from metadata:\n%s", tc.name, tc.fromMeta, ex)
		}
	}
	// min and max alone (newMetaAgg): a float max over segments that count
	// their NaNs is not read either (segment 5, without sums, is).
	mm := &Aggregate{Input: scanOf(d, []int{cPrice}, nil),
		Aggs: []AggCall{{Func: "max", Args: []Expr{price}, T: Float64}, {Func: "min", Args: []Expr{price}, T: Float64}},
		Out:  []Field{{"max", Float64}, {"min", Float64}}}
	for k := range reads {
		reads[k].Store(0)
	}
	w := want(MinTime, MaxTime)
	sameRows(t, "min/max", run(t, mm, Options{Parallelism: 2}), [][]string{{w[5], w[4]}})
	for k := range reads {
		if n := reads[k].Load(); (n > 0) != (k == 5) {
			t.Fatalf("min/max: segment %d: %d reads of its values", k, n)
		}
	}

	// Without sums (format 1) no segment is answered from metadata: all are read.
	for i := range d.sources {
		if s, ok := d.sources[i].(countingSegment); ok {
			s.noSums = true
			d.sources[i] = s
		}
	}
	p := mk(MinTime, MaxTime, nil)
	closeRows(t, "without sums", run(t, p, Options{Parallelism: 2}), [][]string{want(MinTime, MaxTime)})
	for k := range reads {
		if reads[k].Load() == 0 {
			t.Fatalf("without sums: segment %d not read", k)
		}
	}
	if ex := strings.Join(Explain(p), "\n"); !strings.Contains(ex, "(from metadata: 0 of 8 sources)") {
		t.Fatalf("without sums: EXPLAIN says\n%s", ex)
	}
}
