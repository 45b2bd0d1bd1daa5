package segment

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stratadb/strata/storage"
)

// TestColumnSums checks the sums a segment records against sums computed here
// from the rows read back: int64 sums exactly (math/big, so sums far past int64
// are covered by the extreme values), float64 sums bit for bit against adding
// the rows in row order, with the NaN count.
func TestColumnSums(t *testing.T) {
	dir := t.TempDir()
	for i, o := range []genOpts{
		{n: 0},
		{n: 1},
		{n: 500, nullProb: 0.2, allNull: true},
		{n: 3000, extreme: true, nullProb: 0.1},
		{n: 2*BlockRows + 17, sorted: true, extreme: true},
		{n: 1000, sorted: true},
	} {
		path := filepath.Join(dir, fmt.Sprint("seg", i))
		if _, err := Write(path, genColumns(rand.New(rand.NewPCG(uint64(i), 77)), o)); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		n := r.NumRows()
		for col, c := range r.Schema().Columns {
			sum, ok := r.ColumnSum(col)
			if ok != (c.Type == storage.TypeInt64 || c.Type == storage.TypeFloat64) {
				t.Fatalf("case %d: column %s (%s): ColumnSum ok = %v", i, c.Name, c.Type, ok)
			}
			if !ok {
				continue
			}
			nulls, err := r.Nulls(col)
			if err != nil {
				t.Fatal(err)
			}
			isNull := func(row int) bool { return nulls != nil && nulls.Contains(uint32(row)) }
			switch c.Type {
			case storage.TypeInt64:
				vals, err := r.ReadInt64(col, 0, n, nil)
				if err != nil {
					t.Fatal(err)
				}
				want := new(big.Int)
				for row, v := range vals {
					if !isNull(row) {
						want.Add(want, big.NewInt(v))
					}
				}
				got := new(big.Int).Lsh(big.NewInt(sum.High), 64)
				got.Add(got, big.NewInt(sum.Low))
				if got.Cmp(want) != 0 {
					t.Fatalf("case %d: column %s: sum %v (high %d, low %d), want %v", i, c.Name, got, sum.High, sum.Low, want)
				}
			case storage.TypeFloat64:
				vals, err := r.ReadFloat64(col, 0, n, nil)
				if err != nil {
					t.Fatal(err)
				}
				var want float64
				nans := 0
				for row, v := range vals {
					if !isNull(row) {
						want += v
						if math.IsNaN(v) {
							nans++
						}
					}
				}
				if math.Float64bits(sum.Float) != math.Float64bits(want) && !(math.IsNaN(want) && math.IsNaN(sum.Float)) || sum.NaNs != nans {
					t.Fatalf("case %d: column %s: sum %v with %d NaNs, want %v with %d", i, c.Name, sum.Float, sum.NaNs, want, nans)
				}
			}
		}
		r.Close()
	}
}

// TestReadVersion1 opens a segment written by the version 1 writer (commit
// 0d726b6, before the column sums; testdata/v1.seg): its rows and statistics
// read as before, and it has no column sums.
func TestReadVersion1(t *testing.T) {
	r, err := Open(filepath.Join("testdata", "v1.seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.NumRows() != 6 || r.MinTime() != 10 || r.MaxTime() != 60 {
		t.Fatalf("rows %d, time [%d, %d]", r.NumRows(), r.MinTime(), r.MaxTime())
	}
	// The rows as written, sorted by time: ts 10..60.
	ts, err := r.ReadInt64(0, 0, 6, nil)
	if err != nil || fmt.Sprint(ts) != "[10 20 30 40 50 60]" {
		t.Fatalf("ts %v, %v", ts, err)
	}
	is, err := r.ReadInt64(2, 0, 6, nil)
	if err != nil || fmt.Sprint(is) != fmt.Sprint([]int64{7, -3, 0, math.MaxInt64, math.MaxInt64, 9}) {
		t.Fatalf("i %v, %v", is, err)
	}
	fs, err := r.ReadFloat64(3, 0, 6, nil)
	if err != nil || fmt.Sprint(fs) != "[NaN 0 1e+300 -2.25 1.5 3]" {
		t.Fatalf("f %v, %v", fs, err)
	}
	d, err := r.Dict(1)
	if err != nil || d.Len() != 3 || d.Value(0) != "a" || d.Value(2) != "c" {
		t.Fatalf("dictionary of s: %v", err)
	}
	for col, want := range []int{0, 1, 1, 1, 1} {
		if st := r.Stats(col); st.NullCount != want {
			t.Fatalf("column %d: %d NULLs, want %d", col, st.NullCount, want)
		}
	}
	if st := r.Stats(2); !st.HasMinMax || st.MinInt != -3 || st.MaxInt != math.MaxInt64 {
		t.Fatalf("stats of i %+v", st)
	}
	for col := range r.Schema().Columns {
		if _, ok := r.ColumnSum(col); ok {
			t.Fatalf("column %d of a version 1 file has a sum", col)
		}
	}
}
