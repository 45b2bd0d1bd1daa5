package lakesrc

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// directAll reads every file of tt's snapshot through DirectSources.
func directAll(t *testing.T, c *Cache, location string, snap *lake.Snapshot, schema *storage.Schema, deltaCols []string) (srcs []*Direct, rows []string, n int) {
	t.Helper()
	for _, f := range snap.Files() {
		ds, err := c.DirectSources(context.Background(), location, snap, f, schema, deltaCols, storage.NoPrune)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			cols := readSource(t, d)
			n += cols.Len
			rows = append(rows, rowKeys(cols)...)
			srcs = append(srcs, d)
		}
	}
	return srcs, rows, n
}

// TestDirectRoundTrip writes tables of every column type and reads them back
// through Direct Sources: the rows equal what was written, the time bounds and
// statistics bound the rows, and only the footer is read before a column is.
func TestDirectRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		partitions []string
		opts       lake.WriteOptions
		n          int
	}{
		{"one file", nil, lake.WriteOptions{}, 1500},
		{"split files small row groups", nil, lake.WriteOptions{MaxRowsPerFile: 700, RowGroupRows: 300}, 2000},
		{"partitioned", []string{"region"}, lake.WriteOptions{MaxRowsPerFile: 500}, 2000},
		{"empty strings and no rows", nil, lake.WriteOptions{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema := testSchema()
			in := genColumns(schema, uint64(tc.n), tc.n)
			tt := writeTable(t, in, tc.partitions, tc.opts)
			got, deltaCols, err := TableSchema(tt.snap, "ts")
			if err != nil {
				t.Fatal(err)
			}
			cache, err := OpenCache(t.TempDir(), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer cache.Close()
			srcs, keys, _ := directAll(t, cache, tt.location, tt.snap, got, deltaCols)
			sameMultiset(t, "direct read", keys, rowKeys(in))
			if n := len(cacheFiles(t, cache.dir)); n != 0 {
				t.Fatalf("direct reads left %d cache files", n)
			}
			for _, d := range srcs {
				cols := readSource(t, d)
				checkStatsBound(t, d, cols)
				d.ReleaseDecoded()
				again := readSource(t, d) // decoded again after the release
				sameMultiset(t, "after ReleaseDecoded", rowKeys(again), rowKeys(cols))
			}
		})
	}
}

// checkStatsBound verifies that d's time bounds and column statistics hold for
// its rows cols, exactly unless they are marked Bounds.
func checkStatsBound(t *testing.T, d storage.Source, cols *storage.Columns) {
	t.Helper()
	for ci, c := range cols.Schema.Columns {
		st := d.Stats(ci)
		nulls := 0
		var lo, hi string
		var ilo, ihi int64 = math.MaxInt64, math.MinInt64
		var flo, fhi = math.Inf(1), math.Inf(-1)
		seen := false
		for r := 0; r < cols.Len; r++ {
			if cols.IsNull(ci, r) {
				nulls++
				continue
			}
			switch c.Type {
			case storage.TypeString:
				v := cols.Cols[ci].String[r]
				if !seen || v < lo {
					lo = v
				}
				if !seen || v > hi {
					hi = v
				}
			case storage.TypeInt64, storage.TypeTimestamp:
				ilo, ihi = min(ilo, cols.Cols[ci].Int64[r]), max(ihi, cols.Cols[ci].Int64[r])
			case storage.TypeFloat64:
				flo, fhi = min(flo, cols.Cols[ci].Float64[r]), max(fhi, cols.Cols[ci].Float64[r])
			}
			seen = true
		}
		if st.Bounds {
			continue
		}
		if st.NullCount != nulls || st.HasMinMax != seen {
			t.Fatalf("%s: column %s: stats %+v, rows have %d NULLs, values %v", d.Name(), c.Name, st, nulls, seen)
		}
		if !seen {
			continue
		}
		switch c.Type {
		case storage.TypeString:
			if st.MinString != lo || st.MaxString != hi {
				t.Fatalf("%s: column %s: stats %q..%q, rows %q..%q", d.Name(), c.Name, st.MinString, st.MaxString, lo, hi)
			}
		case storage.TypeInt64, storage.TypeTimestamp:
			if st.MinInt != ilo || st.MaxInt != ihi {
				t.Fatalf("%s: column %s: stats %d..%d, rows %d..%d", d.Name(), c.Name, st.MinInt, st.MaxInt, ilo, ihi)
			}
			if ci == cols.Schema.TimeColumn && (d.MinTime() != ilo || d.MaxTime() != ihi) {
				t.Fatalf("%s: MinTime..MaxTime %d..%d, rows %d..%d", d.Name(), d.MinTime(), d.MaxTime(), ilo, ihi)
			}
		case storage.TypeFloat64:
			if st.MinFloat != flo || st.MaxFloat != fhi {
				t.Fatalf("%s: column %s: stats %g..%g, rows %g..%g", d.Name(), c.Name, st.MinFloat, st.MaxFloat, flo, fhi)
			}
		}
	}
}

// TestDirectDeltaTables reads every table of the shared Delta test data
// (Spark, Databricks and delta-rs files: deletion vectors, column mapping,
// every checkpoint kind) through Direct Sources: the row counts are the
// manifest's and the rows equal the cache path's.
func TestDirectDeltaTables(t *testing.T) {
	ctx := context.Background()
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	for name, want := range manifestCounts(t) {
		t.Run(name, func(t *testing.T) {
			snap, err := lake.OpenTable(lake.LocalFolder(deltaTestdata), name).Snapshot(ctx)
			if errors.Is(err, lake.ErrUnsupported) {
				t.Skipf("lake refuses: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			schema, deltaCols, _, err := ReadableSchema(snap, "")
			if err != nil {
				t.Fatal(err)
			}
			loc := "file:///testdata/" + name
			_, direct, n := directAll(t, cache, loc, snap, schema, deltaCols)
			if n != want {
				t.Fatalf("direct: %d rows, manifest %d", n, want)
			}
			// The bounds a file's Delta stats give (FileWanted prunes by them)
			// hold every value of the file.
			for _, f := range snap.Files() {
				fs := newFileStats(snap, f, schema, deltaCols)
				ds, err := cache.DirectSources(ctx, loc, snap, f, schema, deltaCols, storage.NoPrune)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range ds {
					checkBoundsHold(t, f.DecodedPath, fs, readSource(t, d))
				}
			}
			var converted []string
			for _, f := range snap.Files() {
				s, err := cache.Source(ctx, loc, snap, f, schema, deltaCols)
				if err != nil {
					t.Fatal(err)
				}
				mustLoad(t, s)
				converted = append(converted, rowKeys(readSource(t, s))...)
				s.Close()
			}
			sameMultiset(t, "direct vs cached segment", direct, converted)
		})
	}
}

// checkBoundsHold fails unless every non-NULL value of cols lies within the
// min/max that v gives its column.
func checkBoundsHold(t *testing.T, what string, v storage.StatsView, cols *storage.Columns) {
	t.Helper()
	for ci, c := range cols.Schema.Columns {
		st := v.Stats(ci)
		if !st.HasMinMax {
			continue
		}
		d := &cols.Cols[ci]
		for r := 0; r < cols.Len; r++ {
			if cols.IsNull(ci, r) {
				continue
			}
			var ok bool
			var val any
			switch c.Type {
			case storage.TypeInt64, storage.TypeTimestamp:
				val, ok = d.Int64[r], d.Int64[r] >= st.MinInt && d.Int64[r] <= st.MaxInt
			case storage.TypeFloat64:
				x := d.Float64[r]
				val, ok = x, x != x || x >= st.MinFloat && x <= st.MaxFloat
			case storage.TypeString:
				val, ok = d.String[r], d.String[r] >= st.MinString && d.String[r] <= st.MaxString
			default:
				ok = true
			}
			if !ok {
				t.Fatalf("%s: column %s: value %v outside the stats bounds %+v", what, c.Name, val, st)
			}
		}
	}
}

// TestDirectCorruptParquet: a truncated or overwritten data file gives an error
// wrapping storage.ErrCorrupt that names the file, never a panic.
func TestDirectCorruptParquet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"footer overwritten", func(b []byte) []byte {
			for i := len(b) - 200; i < len(b)-8; i++ {
				b[i] = 0xA5
			}
			return b
		}},
		{"pages overwritten", func(b []byte) []byte {
			for i := 4; i < len(b)/2; i++ {
				b[i] = byte(i * 7)
			}
			return b
		}},
		{"magic only", func(b []byte) []byte { return []byte("PAR1PAR1") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema := testSchema()
			in := genColumns(schema, 7, 3000)
			tt := writeTable(t, in, nil, lake.WriteOptions{})
			got, deltaCols, err := TableSchema(tt.snap, "ts")
			if err != nil {
				t.Fatal(err)
			}
			f := tt.snap.Files()[0]
			p := filepath.Join(tt.dir, "tbl", filepath.FromSlash(f.DecodedPath))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, tc.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			cache, err := OpenCache(t.TempDir(), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer cache.Close()
			err = readAllDirect(cache, tt, got, deltaCols)
			if err == nil {
				t.Fatal("damaged file read without error")
			}
			if !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			if !strings.Contains(err.Error(), f.DecodedPath) {
				t.Fatalf("error does not name the file: %v", err)
			}
		})
	}
}

func readAllDirect(cache *Cache, tt *testTable, schema *storage.Schema, deltaCols []string) error {
	for _, f := range tt.snap.Files() {
		ds, err := cache.DirectSources(context.Background(), tt.location, tt.snap, f, schema, deltaCols, storage.NoPrune)
		if err != nil {
			return err
		}
		for _, d := range ds {
			for ci, c := range schema.Columns {
				var err error
				switch c.Type {
				case storage.TypeTimestamp, storage.TypeInt64:
					_, err = d.ReadInt64(ci, 0, d.NumRows(), nil)
				case storage.TypeFloat64:
					_, err = d.ReadFloat64(ci, 0, d.NumRows(), nil)
				case storage.TypeBool:
					_, err = d.ReadBool(ci, 0, d.NumRows(), nil)
				case storage.TypeString:
					// The dictionary page alone first (MayHold), then the chunk.
					if _, err = d.MayHold(ci, []string{"alpha", "zz"}); err == nil {
						_, err = d.ReadDictIDs(ci, 0, d.NumRows(), nil)
					}
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// BenchmarkDirectDecode decodes every column of a 200,000-row file written by
// lake.WriteFiles (the handoff path), as a first query would.
func BenchmarkDirectDecode(b *testing.B) {
	schema := testSchema()
	in := genColumns(schema, 1, 200_000)
	tt := writeTable(b, in, nil, lake.WriteOptions{})
	got, deltaCols, err := TableSchema(tt.snap, "ts")
	if err != nil {
		b.Fatal(err)
	}
	cache, err := OpenCache(b.TempDir(), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer cache.Close()
	b.ResetTimer()
	for range b.N {
		if err := readAllDirect(cache, tt, got, deltaCols); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDirectConcurrent reads one Direct Source from several goroutines while
// others release its decoded columns: every read sees the file's rows (run
// with -race).
func TestDirectConcurrent(t *testing.T) {
	schema := testSchema()
	in := genColumns(schema, 3, 4000)
	tt := writeTable(t, in, nil, lake.WriteOptions{})
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
		t.Fatalf("DirectSources: %d sources, %v", len(ds), err)
	}
	want := rowKeys(in)
	done := make(chan []string)
	for g := 0; g < 4; g++ {
		go func() {
			var keys []string
			for range 3 {
				cols, err := readSourceErr(ds[0])
				if err != nil {
					t.Error(err)
					break
				}
				keys = rowKeys(cols)
				ds[0].ReleaseDecoded()
				ds[0].Bitmap(1, 0)
			}
			done <- keys
		}()
	}
	for range 4 {
		sameMultiset(t, "concurrent read", <-done, want)
	}
}

// FuzzDirectParquet overwrites bytes of a valid lake file (footer, page headers,
// dictionary and data pages alike) and reads every column of every row group
// through Direct Sources (string columns' dictionary pages alone first, as
// MayHold reads them): the read either succeeds or fails with an error
// wrapping storage.ErrCorrupt that names the file; it never panics.
func FuzzDirectParquet(f *testing.F) {
	schema := testSchema()
	in := genColumns(schema, 11, 600)
	tt := writeTable(f, in, nil, lake.WriteOptions{RowGroupRows: 200})
	got, deltaCols, err := TableSchema(tt.snap, "ts")
	if err != nil {
		f.Fatal(err)
	}
	file := tt.snap.Files()[0]
	path := filepath.Join(tt.dir, "tbl", filepath.FromSlash(file.DecodedPath))
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(0), []byte("XXXX"))
	f.Add(uint32(len(valid)-8), []byte{0xff, 0xff, 0xff, 0x7f})
	f.Add(uint32(len(valid)/2), []byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint32(len(valid)-100), []byte{0x15, 0x04, 0x15, 0xff, 0xff, 0x0f})
	f.Add(uint32(4), []byte{0x15, 0x00, 0x15, 0x80, 0x80, 0x80, 0x80, 0x08})
	f.Fuzz(func(t *testing.T, pos uint32, patch []byte) {
		b := slices.Clone(valid)
		copy(b[int(pos)%len(b):], patch)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		cache, err := OpenCache(t.TempDir(), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer cache.Close()
		err = readAllDirect(cache, tt, got, deltaCols)
		if err == nil {
			return
		}
		if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), file.DecodedPath) {
			t.Fatalf("error does not wrap ErrCorrupt and name the file: %v", err)
		}
	})
}
