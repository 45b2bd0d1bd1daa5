package lakesrc

import (
	"context"
	"fmt"
	"testing"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// TestDirectPageWindow writes one row group of 200,000 rows of every column
// type (NULLs in every nullable column) in pages of about 8 KiB, with page
// indexes, the time column rising with the row and name "n<row/100>" (so
// both are ordered by row). A scan that wants 2,000 rows in the middle, by
// time or by a judgement over name's bounds, reads a window of the row group
// of under a tenth of its rows: the rows it returns that pass the filter are
// exactly the generated rows that do, over every column. Over columns whose
// pages carry their values (the time column, small-dictionary text, booleans),
// it reads under a third of the bytes a full read of the row group does.
// Columns of random numbers, which arrow-go dictionary-encodes, need their
// whole dictionary page for any row: their bytes are not checked.
func TestDirectPageWindow(t *testing.T) {
	ctx := context.Background()
	schema := testSchema()
	const n = 200_000
	cols := genColumns(schema, 3, n)
	const t0 = int64(1_700_000_000_000_000)
	const nameCol = 1
	for r := range n {
		cols.Cols[0].Int64[r] = t0 + int64(r)*1000
		cols.Cols[nameCol].String[r] = fmt.Sprintf("n%06d", r/100)
	}
	cols.Cols[nameCol].Null = nil
	tt := writeTable(t, cols, nil, lake.WriteOptions{RowGroupRows: n, PageBytes: 8192})
	full, deltaCols, err := TableSchema(tt.snap, "ts")
	if err != nil {
		t.Fatal(err)
	}
	f := tt.snap.Files()[0]
	const a, b = 100_000, 101_999 // the wanted rows
	byTime := storage.Prune{TimeMin: t0 + a*1000, TimeMax: t0 + b*1000}
	lo, hi := fmt.Sprintf("n%06d", a/100), fmt.Sprintf("n%06d", b/100)
	byName := storage.NoPrune
	byName.Allow = func(v storage.StatsView) bool {
		st := v.Stats(nameCol)
		return !st.HasMinMax && st.Bounds || st.HasMinMax && st.MaxString >= lo && st.MinString <= hi
	}
	wanted := func(r int) bool { return r >= a && r <= b }

	// read returns the rows of the sources p gives over schema sc that keep
	// accepts (by time and name), how many rows the sources have, and the
	// bytes of the file read.
	read := func(sc *storage.Schema, dc []string, p storage.Prune) (keys []string, rows int, bytes int64) {
		t.Helper()
		cache, err := OpenCache(t.TempDir(), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer cache.Close()
		if _, err := cache.dataFile(ctx, tt.location, tt.snap, f); err != nil { // the footer, apart
			t.Fatal(err)
		}
		before := tt.fs.dataBytes.Load()
		srcs, err := cache.DirectSources(ctx, tt.location, tt.snap, f, sc, dc, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range srcs {
			c := readSource(t, s)
			rows += s.NumRows()
			for r, k := range rowKeys(c) {
				ts := c.Cols[0].Int64[r]
				if wanted(int((ts - t0) / 1000)) {
					keys = append(keys, k)
				}
			}
		}
		return keys, rows, tt.fs.dataBytes.Load() - before
	}
	project := func(names ...string) (*storage.Schema, []string) {
		sc := &storage.Schema{TimeColumn: 0}
		var dc []string
		for _, name := range names {
			for i, c := range full.Columns {
				if c.Name == name {
					sc.Columns = append(sc.Columns, c)
					dc = append(dc, deltaCols[i])
				}
			}
		}
		return sc, dc
	}
	allKeys := rowKeys(cols)
	var want []string
	for r := range n {
		if wanted(r) {
			want = append(want, allKeys[r])
		}
	}
	cheap, cheapCols := project("ts", "name", "region", "flag")
	_, fullRows, fullBytes := read(cheap, cheapCols, storage.NoPrune)
	if fullRows != n {
		t.Fatalf("full read: %d rows, want %d", fullRows, n)
	}
	for _, tc := range []struct {
		name string
		p    storage.Prune
	}{{"time", byTime}, {"bounds", byName}} {
		t.Run(tc.name, func(t *testing.T) {
			keys, rows, _ := read(full, deltaCols, tc.p)
			sameMultiset(t, tc.name, keys, want)
			if rows < b-a+1 || rows > n/10 {
				t.Errorf("window of %d rows, want %d..%d", rows, b-a+1, n/10)
			}
			_, _, bytes := read(cheap, cheapCols, tc.p)
			if bytes*3 > fullBytes {
				t.Errorf("read %d bytes of ts, name, region, flag; a full read %d: want under a third", bytes, fullBytes)
			}
			t.Logf("%s: window of %d rows; %d bytes of ts, name, region, flag read, a full read %d", tc.name, rows, bytes, fullBytes)
		})
	}
}
