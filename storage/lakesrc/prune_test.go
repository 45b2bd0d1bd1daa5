package lakesrc

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// pruneTable writes 3 files of 2 row groups of 500 rows: n is the row number
// (file k holds n in [1000k, 1000k+999]); name alternates "a"/"c" in even row
// groups and "b"/"d" in odd ones, so the footer's min/max of every row group
// admits "b" and only the dictionaries tell them apart.
func pruneTable(t *testing.T) (*testTable, *storage.Schema, []string) {
	schema := &storage.Schema{TimeColumn: 0, Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "name", Type: storage.TypeString, SQLType: "text"},
		{Name: "n", Type: storage.TypeInt64, SQLType: "bigint"},
	}}
	cols := storage.NewColumns(schema, 3000)
	for r := range 3000 {
		cols.Cols[0].Int64 = append(cols.Cols[0].Int64, 1_700_000_000_000_000+int64(r))
		vals := [2][2]string{{"a", "c"}, {"b", "d"}}[(r/500)%2]
		cols.Cols[1].String = append(cols.Cols[1].String, vals[r%2])
		cols.Cols[2].Int64 = append(cols.Cols[2].Int64, int64(r))
		cols.Len++
	}
	tt := writeTable(t, cols, nil, lake.WriteOptions{MaxRowsPerFile: 1000, RowGroupRows: 500})
	got, deltaCols, err := TableSchema(tt.snap, "ts")
	if err != nil {
		t.Fatal(err)
	}
	return tt, got, deltaCols
}

// nIn returns a Prune that wants rows with n in [lo, hi], judging by bounds as
// the engine does.
func nIn(lo, hi int64) storage.Prune {
	p := storage.NoPrune
	p.Allow = func(v storage.StatsView) bool {
		st := v.Stats(2)
		return !st.HasMinMax && st.Bounds || st.HasMinMax && st.MaxInt >= lo && st.MinInt <= hi
	}
	return p
}

// TestDirectPruneByFileStats: a file whose Delta stats rule out the filter is not
// opened (no byte of it read); a row group whose footer stats rule it out is left
// out.
func TestDirectPruneByFileStats(t *testing.T) {
	ctx := context.Background()
	tt, schema, deltaCols := pruneTable(t)
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	var kept []string
	for _, f := range tt.snap.Files() {
		before := tt.fs.dataReads.Load()
		ds, err := cache.DirectSources(ctx, tt.location, tt.snap, f, schema, deltaCols, nIn(1200, 1300))
		if err != nil {
			t.Fatal(err)
		}
		fs := newFileStats(tt.snap, f, schema, deltaCols)
		st := fs.Stats(2)
		inFile := st.MinInt <= 1300 && st.MaxInt >= 1200
		if !st.HasMinMax || !st.Bounds || fs.NumRows() != 1000 {
			t.Fatalf("file stats of n: %+v, rows %d", st, fs.NumRows())
		}
		reads := tt.fs.dataReads.Load() - before
		if !inFile && (reads != 0 || len(ds) != 0) {
			t.Fatalf("file with n in [%d, %d]: %d reads, %d sources; want none", st.MinInt, st.MaxInt, reads, len(ds))
		}
		for _, d := range ds {
			kept = append(kept, fmt.Sprintf("%d-%d", d.Stats(2).MinInt, d.Stats(2).MaxInt))
		}
	}
	if want := []string{"1000-1499"}; !slices.Equal(kept, want) {
		t.Fatalf("row groups kept: %v, want %v", kept, want)
	}
}

// TestDirectMayHold: a row group whose dictionary lacks every wanted value is
// recognised from its dictionary page alone, reading a small fraction of the
// column chunk; one whose dictionary has one of them is not.
func TestDirectMayHold(t *testing.T) {
	tt, schema, deltaCols := pruneTable(t)
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	var got []string
	for _, f := range tt.snap.Files() {
		ds, err := cache.DirectSources(context.Background(), tt.location, tt.snap, f, schema, deltaCols, storage.NoPrune)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			before := tt.fs.dataBytes.Load()
			hasB, err := d.MayHold(1, []string{"b"})
			if err != nil {
				t.Fatal(err)
			}
			read := tt.fs.dataBytes.Load() - before
			if read == 0 || read > 200 {
				t.Fatalf("%s: probing the dictionary read %d bytes", d.Name(), read)
			}
			hasAny, err := d.MayHold(1, []string{"x", "d", "y", "z", "w"})
			if err != nil {
				t.Fatal(err)
			}
			none, err := d.MayHold(1, []string{"x", "b\x00"})
			if err != nil {
				t.Fatal(err)
			}
			if none {
				t.Fatalf("%s: may hold values no row has", d.Name())
			}
			got = append(got, fmt.Sprint(hasB, hasAny))
			// After the column is decoded the decoded dictionary answers.
			readSource(t, d)
			again, err := d.MayHold(1, []string{"b"})
			if err != nil || again != hasB {
				t.Fatalf("%s: decoded column says %v (%v), dictionary page said %v", d.Name(), again, err, hasB)
			}
		}
	}
	want := strings.Repeat("false false true true ", 3)
	if s := strings.Join(got, " ") + " "; s != want {
		t.Fatalf("MayHold per row group: %s, want %s", s, want)
	}
}

// TestDirectMayHoldFallback: a column chunk whose dictionary overflowed (data
// pages fell back to plain encoding) is not judged by its dictionary.
func TestDirectMayHoldFallback(t *testing.T) {
	schema := &storage.Schema{TimeColumn: 0, Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "name", Type: storage.TypeString, SQLType: "text"},
	}}
	const n = 30000
	cols := storage.NewColumns(schema, n)
	for r := range n {
		cols.Cols[0].Int64 = append(cols.Cols[0].Int64, int64(r))
		cols.Cols[1].String = append(cols.Cols[1].String, fmt.Sprintf("%064d", r))
		cols.Len++
	}
	tt := writeTable(t, cols, nil, lake.WriteOptions{})
	got, deltaCols, err := TableSchema(tt.snap, "ts")
	if err != nil {
		t.Fatal(err)
	}
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	ds, err := cache.DirectSources(context.Background(), tt.location, tt.snap, tt.snap.Files()[0], got, deltaCols, storage.NoPrune)
	if err != nil || len(ds) != 1 {
		t.Fatal(len(ds), err)
	}
	last := fmt.Sprintf("%064d", n-1) // past the dictionary's 1 MiB: in a plain page
	vals, ok, err := ds[0].df.DictionaryValues(context.Background(), 0, "name")
	if err != nil {
		t.Fatal(err)
	}
	if ok || slices.Contains(vals, last) {
		t.Fatalf("a fallen-back chunk's dictionary (%d values) was taken as complete", len(vals))
	}
	may, err := ds[0].MayHold(1, []string{last})
	if err != nil || !may {
		t.Fatalf("MayHold(%q) = %v, %v; the row holds it", last, may, err)
	}
	if p := (storage.Prune{TimeMin: math.MinInt64, TimeMax: math.MaxInt64}); !p.Allows(ds[0]) {
		t.Fatal("a Prune without Allow refuses a source")
	}
}
