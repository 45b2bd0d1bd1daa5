package lakesrc

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// TestDecimalStats: a numeric(p,s) column (p <= 18, the scaled int64) gets Delta
// minValues/maxValues as decimal numbers with its scale, read back as scaled
// bounds, and row-group bounds from the Parquet footer, so files and row groups
// that cannot match a filter on it are pruned.
func TestDecimalStats(t *testing.T) {
	ctx := context.Background()
	schema := &storage.Schema{TimeColumn: 0, Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "name", Type: storage.TypeString, SQLType: "text"},
		{Name: "price", Type: storage.TypeInt64, SQLType: "numeric(10,2)"},
		{Name: "q", Type: storage.TypeInt64, SQLType: "numeric(6,3)"},
	}}
	cols := storage.NewColumns(schema, 3000)
	for r := range 3000 {
		cols.Cols[0].Int64 = append(cols.Cols[0].Int64, 1_700_000_000_000_000+int64(r))
		cols.Cols[1].String = append(cols.Cols[1].String, "x")
		cols.Cols[2].Int64 = append(cols.Cols[2].Int64, int64(r)*100-150_050) // -1500.50 .. 28489.50
		cols.Cols[3].Int64 = append(cols.Cols[3].Int64, int64(r%7)-3)         // -0.003 .. 0.003
		cols.Len++
	}
	tt := writeTable(t, cols, nil, lake.WriteOptions{MaxRowsPerFile: 1000, RowGroupRows: 500})
	got, deltaCols, err := TableSchema(tt.snap, "ts")
	if err != nil {
		t.Fatal(err)
	}
	if got.Columns[2].Type != storage.TypeInt64 || got.Columns[2].SQLType != "numeric(10,2)" {
		t.Fatalf("price read back as %+v", got.Columns[2])
	}
	files := tt.snap.Files()
	if len(files) != 3 {
		t.Fatalf("%d files, want 3", len(files))
	}
	for _, f := range files {
		var st struct{ MinValues, MaxValues map[string]json.RawMessage }
		if err := json.Unmarshal([]byte(f.Stats), &st); err != nil {
			t.Fatal(err)
		}
		k := -1 // the file holding rows [1000k, 1000k+999], by its price's least
		for i := range 3 {
			if string(st.MinValues["price"]) == storage.FormatDecimal(int64(1000*i)*100-150_050, 2) {
				k = i
			}
		}
		if k < 0 {
			t.Fatalf("file %s: price min %s", f.DecodedPath, st.MinValues["price"])
		}
		// the file holds rows [1000k, 1000k+999]; Spark writes decimals as JSON numbers at their scale
		lo := storage.FormatDecimal(int64(1000*k)*100-150_050, 2)
		hi := storage.FormatDecimal(int64(1000*k+999)*100-150_050, 2)
		if string(st.MinValues["price"]) != lo || string(st.MaxValues["price"]) != hi {
			t.Errorf("file %d: price stats %s..%s, want %s..%s", k, st.MinValues["price"], st.MaxValues["price"], lo, hi)
		}
		if string(st.MinValues["q"]) != "-0.003" || string(st.MaxValues["q"]) != "0.003" {
			t.Errorf("file %d: q stats %s..%s, want -0.003..0.003", k, st.MinValues["q"], st.MaxValues["q"])
		}
		fs := newFileStats(tt.snap, f, got, deltaCols)
		ps := fs.Stats(2)
		if !ps.HasMinMax || ps.MinInt != int64(1000*k)*100-150_050 || ps.MaxInt != int64(1000*k+999)*100-150_050 {
			t.Errorf("file %d: price bounds %+v", k, ps)
		}
	}

	// price in [0.00, 100.00]: rows 1500..1501 of file 1, its first row group
	want := func(v storage.StatsView) bool {
		st := v.Stats(2)
		return !st.HasMinMax && st.Bounds || st.HasMinMax && st.MaxInt >= 0 && st.MinInt <= 10_000
	}
	p := storage.NoPrune
	p.Allow = want
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	var groups int
	for _, f := range files {
		before := tt.fs.dataReads.Load()
		ds, err := cache.DirectSources(ctx, tt.location, tt.snap, f, got, deltaCols, p)
		if err != nil {
			t.Fatal(err)
		}
		k := int((newFileStats(tt.snap, f, got, deltaCols).Stats(2).MinInt + 150_050) / 100_000)
		if k != 1 && (len(ds) != 0 || tt.fs.dataReads.Load() != before) {
			t.Errorf("file %d was read for a price it cannot hold", k)
		}
		for _, d := range ds {
			st := d.Stats(2)
			if !st.HasMinMax {
				t.Errorf("file %d: a row group without price bounds", k)
			}
			groups++
		}
	}
	if groups != 1 {
		t.Errorf("%d row groups kept, want 1", groups)
	}

	// bounds with digits below the scale, or not numbers, are not trusted
	for _, tc := range []struct {
		raw   string
		v     int64
		trust bool
	}{{`12.30`, 1230, true}, {`"12.3"`, 1230, true}, {`-0.5`, -50, true}, {`1e2`, 10000, true},
		{`12.301`, 0, false}, {`12.3010`, 0, false}, {`12.3000`, 1230, true}, {`"x"`, 0, false}, {`1e30`, 0, false}} {
		v, ok := scaledBound(json.RawMessage(tc.raw), 2)
		if ok != tc.trust || ok && v != tc.v {
			t.Errorf("scaledBound(%s) = %d, %v; want %d, %v", tc.raw, v, ok, tc.v, tc.trust)
		}
	}
}
