package engine

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/segment"
)

// TestSegmentSources runs the same queries over real segment files and over the
// in-memory sources built from the same columns; results must be identical.
func TestSegmentSources(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(99, 1))
	mem := &dataset{}
	seg := &dataset{}
	for k := 0; k < 5; k++ {
		c := genEvents(r, 700+r.IntN(600), k)
		path := filepath.Join(dir, fmt.Sprintf("seg%d.seg", k))
		if _, err := segment.Write(path, c); err != nil {
			t.Fatalf("write segment: %v", err)
		}
		rd, err := segment.Open(path)
		if err != nil {
			t.Fatalf("open segment: %v", err)
		}
		t.Cleanup(func() { rd.Close() })
		seg.sources = append(seg.sources, rd)
		mem.sources = append(mem.sources, newMemSource(path, c))
	}
	rp := rand.New(rand.NewPCG(5, 6))
	all := []int{cTS, cCountry, cDevice, cPrice, cQty, cFlag, cNote}
	for iter := 0; iter < 60; iter++ {
		p := genPred(rp, 3)
		want := sortRows(run(t, scanOf(mem, all, p.e), Options{}))
		got := sortRows(run(t, scanOf(seg, all, p.e), Options{}))
		sameRows(t, fmt.Sprintf("iter %d: %s", iter, p.e), got, want)
		cnt := run(t, &Aggregate{Input: scanOf(seg, []int{cTS}, p.e), Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"count", Int64}}}, Options{})
		sameRows(t, "count", cnt, [][]string{{strconv.Itoa(len(want))}})
	}
	// Group by a dictionary column and a time bucket, with a time range.
	country := &ColRef{Index: 0, T: Text}
	price := &ColRef{Index: 1, T: Float64}
	tsc := &ColRef{Index: 2, T: TimestampTZ}
	mk := func(d *dataset) Plan {
		s := scanOf(d, []int{cCountry, cPrice, cTS}, nil)
		s.TimeMin, s.TimeMax = baseTime+usPerHour/2, baseTime+3*usPerHour
		return &Aggregate{Input: s, Groups: []Expr{country, fn("date_trunc", ks("hour"), tsc)},
			Aggs: []AggCall{{Func: "count", T: Int64}, {Func: "sum", Args: []Expr{price}, T: Float64}, {Func: "max", Args: []Expr{price}, T: Float64}},
			Out:  []Field{{"country", Text}, {"hour", TimestampTZ}, {"count", Int64}, {"sum", Float64}, {"max", Float64}}}
	}
	closeRows(t, "group by over segments", sortRows(run(t, mk(seg), Options{})), sortRows(run(t, mk(mem), Options{})))
	var _ storage.Source = seg.sources[0]
}
