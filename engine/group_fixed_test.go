package engine

import (
	"fmt"
	"math"
	"strconv"
	"testing"
)

// TestGroupByTwoFixedKeys checks GROUP BY over two keys that findFixed serves
// (integer, float, bool, dictionary text by id) against counts from a plain loop,
// with NULLs, -0 next to 0 and NaN, over sources with sorted and shuffled
// dictionaries (a shuffled one sends a partial table back to the encoded map), in
// parallel and single-threaded.
func TestGroupByTwoFixedKeys(t *testing.T) {
	d := newDataset(11, 7, 3000)
	for k, src := range d.sources {
		if k%3 == 1 {
			d.sources[k] = newUnsortedSource(src, newRand(uint64(k)))
		}
	}
	// -0, 0 and NaN prices in the first source (and in the reference rows).
	first := d.sources[0].(*memSource)
	for i, f := range []float64{math.Copysign(0, -1), 0, math.NaN(), math.Copysign(0, -1)} {
		first.cols.Cols[cPrice].Float64[i] = f
		if len(first.cols.Cols[cPrice].Null) > i {
			first.cols.Cols[cPrice].Null[i] = false
		}
		d.rows[i][cPrice] = Value{Type: Float64, F: f}
	}
	text := func(v Value) string {
		switch {
		case v.Null:
			return "NULL"
		case v.Type == Float64 && v.F == 0:
			return "0"
		case v.Type == Float64 && v.F != v.F:
			return "NaN"
		case v.Type == Float64:
			return strconv.FormatFloat(v.F, 'g', -1, 64)
		case v.Type == Bool:
			return map[bool]string{true: "t", false: "f"}[v.B]
		case v.Type == Text:
			return v.S
		}
		return strconv.FormatInt(v.I, 10)
	}
	for _, keys := range [][2]int{{cQty, cDevice}, {cPrice, cFlag}, {cDevice, cPrice}, {cQty, cPrice}} {
		counts := map[[2]string]int{}
		for _, row := range d.rows {
			counts[[2]string{text(row[keys[0]]), text(row[keys[1]])}]++
		}
		var want [][]string
		for k, n := range counts {
			want = append(want, []string{k[0], k[1], strconv.Itoa(n)})
		}
		sortRows(want)
		for _, par := range []int{1, 2} {
			p := &Aggregate{
				Input:  scanOf(d, []int{keys[0], keys[1]}, nil),
				Groups: []Expr{&ColRef{Index: 0, T: colTypes[keys[0]]}, &ColRef{Index: 1, T: colTypes[keys[1]]}},
				Aggs:   []AggCall{{Func: "count", T: Int64}},
				Out:    []Field{{"a", colTypes[keys[0]]}, {"b", colTypes[keys[1]]}, {"n", Int64}},
			}
			got := run(t, p, Options{Parallelism: par})
			for _, r := range got {
				for c := 0; c < 2; c++ {
					if r[c] == "-0" {
						r[c] = "0"
					}
				}
			}
			sameRows(t, fmt.Sprintf("group by %v, parallelism %d", keys, par), sortRows(got), want)
		}
	}
}
