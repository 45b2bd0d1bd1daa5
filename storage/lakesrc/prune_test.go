package lakesrc

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

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

// TestRowsWithIDs: the rows of some ids found in one pass equal the OR of the
// ids' bitmaps, NULL rows excluded.
func TestRowsWithIDs(t *testing.T) {
	tt, schema, deltaCols := pruneTable(t)
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	ds, err := cache.DirectSources(context.Background(), tt.location, tt.snap, tt.snap.Files()[0], schema, deltaCols, storage.NoPrune)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		dict, err := d.Dict(1)
		if err != nil {
			t.Fatal(err)
		}
		for _, ids := range [][]uint32{{}, {0}, {1}, {0, 1}} {
			got, err := d.RowsWithIDs(1, ids)
			if err != nil {
				t.Fatal(err)
			}
			want := roaring.New()
			for _, id := range ids {
				bm, err := d.Bitmap(1, id)
				if err != nil {
					t.Fatal(err)
				}
				want.Or(bm)
			}
			if !got.Equals(want) || (len(ids) > 0 && got.IsEmpty()) {
				t.Fatalf("%s: ids %v: %d rows, bitmaps give %d", d.Name(), ids, got.GetCardinality(), want.GetCardinality())
			}
		}
		if _, err := d.RowsWithIDs(1, []uint32{uint32(dict.Len())}); err == nil {
			t.Fatal("an id past the dictionary was accepted")
		}
	}
	// NULL rows are never returned, whatever id they carry.
	c := &directCol{ids: []uint32{0, 0, 1, 0}, dict: &directDict{vals: []string{"a", "b"}}, nulls: roaring.BitmapOf(1)}
	if got := c.rowsWithIDs([]uint32{0}); !got.Equals(roaring.BitmapOf(0, 3)) {
		t.Fatalf("rows of id 0: %v", got.ToArray())
	}
}

// BenchmarkIDFilter compares finding the rows of dictionary ids in a 128Ki-row
// column of 5,000 values through per-id postings (Bitmap, as before) and in one
// pass (RowsWithIDs), as a fresh row group does once per query.
func BenchmarkIDFilter(b *testing.B) {
	const n, nd = 128 << 10, 5000
	vals := make([]string, nd)
	for i := range vals {
		vals[i] = fmt.Sprint("user", i)
	}
	ids := make([]uint32, n)
	for r := range ids {
		ids[r] = uint32((r * 7919) % nd)
	}
	for _, k := range []int{1, 20} {
		want := make([]uint32, k)
		for i := range want {
			want[i] = uint32(i * 13)
		}
		b.Run(fmt.Sprintf("postings/ids=%d", k), func(b *testing.B) {
			for b.Loop() {
				c := &directCol{ids: ids, dict: &directDict{vals: vals}}
				c.postings()
				bms := make([]*roaring.Bitmap, 0, k)
				for _, id := range want {
					bm := roaring.New()
					bm.AddMany(c.rowsByID[c.offs[id]:c.offs[id+1]])
					bms = append(bms, bm)
				}
				roaring.FastOr(bms...)
			}
		})
		b.Run(fmt.Sprintf("onepass/ids=%d", k), func(b *testing.B) {
			for b.Loop() {
				c := &directCol{ids: ids, dict: &directDict{vals: vals}}
				c.rowsWithIDs(want)
			}
		})
	}
}

// rangesFS is a countingFS that also fetches several ranges at once, as
// objstore.GetRanges does on S3 (counted as one call).
type rangesFS struct {
	*countingFS
	calls atomic.Int64
}

func (r *rangesFS) GetRanges(ctx context.Context, key string, ranges []lake.Range) ([][]byte, error) {
	r.calls.Add(1)
	out := make([][]byte, len(ranges))
	for i, rg := range ranges {
		b, err := r.countingFS.FS.GetRange(ctx, key, rg.Off, rg.N) // not counted as a read of its own
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// TestDirectPrefetch: Prefetch fetches the chunks of the announced columns in
// one call; decoding them then reads nothing; ReleaseDecoded drops them.
func TestDirectPrefetch(t *testing.T) {
	tt, schema, deltaCols := pruneTable(t)
	rfs := &rangesFS{countingFS: tt.fs}
	snap, err := lake.OpenTable(rfs, "tbl").Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	plain, err := cache.DirectSources(context.Background(), tt.location, tt.snap, tt.snap.Files()[1], schema, deltaCols, storage.NoPrune)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := cache.DirectSources(context.Background(), "other", snap, snap.Files()[1], schema, deltaCols, storage.NoPrune)
	if err != nil || len(ds) != 2 {
		t.Fatal(len(ds), err)
	}
	for i, d := range ds {
		for pass := range 2 {
			reads := tt.fs.dataReads.Load()
			d.Prefetch([]int{1, 2, 0})
			if c := rfs.calls.Load(); c != int64(2*i+pass+1) {
				t.Fatalf("%s pass %d: %d GetRanges calls in all", d.Name(), pass, c)
			}
			got := rowKeys(readSource(t, d))
			if r := tt.fs.dataReads.Load() - reads; r != 0 {
				t.Fatalf("%s pass %d: %d reads after Prefetch", d.Name(), pass, r)
			}
			sameMultiset(t, "prefetched", got, rowKeys(readSource(t, plain[i])))
			d.Prefetch([]int{1}) // decoded: nothing to fetch
			d.ReleaseDecoded()
		}
	}
}

// TestFileStatsBounds: Delta stats become bounds; a string max of 32 or more
// characters (possibly a truncated prefix) is not trusted; millisecond
// timestamps are widened by a millisecond.
func TestFileStatsBounds(t *testing.T) {
	tt, schema, deltaCols := pruneTable(t)
	f := *tt.snap.Files()[0]
	long := strings.Repeat("x", 32)
	f.Stats = `{"numRecords":5,"minValues":{"name":"a","n":1,"ts":"2023-11-14T22:13:20.000Z"},` +
		`"maxValues":{"name":"` + long + `","n":9,"ts":"2023-11-14T22:13:20.123Z"},"nullCount":{"name":0}}`
	fs := newFileStats(tt.snap, &f, schema, deltaCols)
	if st := fs.Stats(1); st.HasMinMax || !st.Bounds {
		t.Fatalf("a 32-character string max was trusted: %+v", st)
	}
	if st := fs.Stats(2); !st.HasMinMax || st.MinInt != 1 || st.MaxInt != 9 || !st.Bounds {
		t.Fatalf("n: %+v", st)
	}
	const us = 1_700_000_000_000_000
	if st := fs.Stats(0); !st.HasMinMax || st.MinInt != us-1000 || st.MaxInt != us+123_000+1000 {
		t.Fatalf("ts: [%d, %d], want [%d, %d]", st.MinInt, st.MaxInt, us-1000, us+124_000)
	}
	f.Stats = strings.Replace(f.Stats, long, long[:31], 1)
	if st := newFileStats(tt.snap, &f, schema, deltaCols).Stats(1); !st.HasMinMax || st.MaxString != long[:31] {
		t.Fatalf("a 31-character string max was not used: %+v", st)
	}
	f.Stats = ""
	if st := newFileStats(tt.snap, &f, schema, deltaCols); st.NumRows() != -1 || st.Stats(2).HasMinMax {
		t.Fatal("a file without stats has bounds")
	}
}

// BenchmarkUserEquality is what "user_id = X" costs a fresh row group of 128Ki
// rows and 40,000 distinct users: decode the chunk, look the value up, find
// its rows.
func BenchmarkUserEquality(b *testing.B) {
	schema := &storage.Schema{TimeColumn: 0, Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "user_id", Type: storage.TypeString, SQLType: "text"},
	}}
	const n = 128 << 10
	cols := storage.NewColumns(schema, n)
	for r := range n {
		cols.Cols[0].Int64 = append(cols.Cols[0].Int64, int64(r))
		cols.Cols[1].String = append(cols.Cols[1].String, fmt.Sprintf("u%07d", (r*7919)%40000))
		cols.Len++
	}
	tt := writeTable(b, cols, nil, lake.WriteOptions{})
	got, deltaCols, err := TableSchema(tt.snap, "ts")
	if err != nil {
		b.Fatal(err)
	}
	cache, err := OpenCache(b.TempDir(), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer cache.Close()
	ds, err := cache.DirectSources(context.Background(), tt.location, tt.snap, tt.snap.Files()[0], got, deltaCols, storage.NoPrune)
	if err != nil || len(ds) != 1 {
		b.Fatal(len(ds), err)
	}
	d := ds[0]
	for b.Loop() {
		d.ReleaseDecoded()
		dict, err := d.Dict(1)
		if err != nil {
			b.Fatal(err)
		}
		id, ok := dict.Lookup("u0001234")
		if !ok {
			b.Fatal("no such user")
		}
		if _, err := d.RowsWithIDs(1, []uint32{id}); err != nil {
			b.Fatal(err)
		}
	}
}
