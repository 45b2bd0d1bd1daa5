package segment

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/stratadb/strata/storage"
)

// TestDictHintSameFile writes the same rows with and without a dictionary hint
// (storage.ColumnData.Dict, IDs) and requires byte-identical files: the hint
// changes how the writer finds the values, never what it writes. The hinted
// dictionary holds values no row uses, in an order of its own, and rows arrive out
// of time order (so the writer permutes them). A hint that disagrees with String
// (a wrong id, an id out of range, ids of the wrong length) is ignored.
func TestDictHintSameFile(t *testing.T) {
	schema := &storage.Schema{TimeColumn: 0, Columns: []storage.Column{
		{Name: "t", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "s", Type: storage.TypeString, SQLType: "text"},
	}}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 20_000
	dict := make([]string, 500)
	for i, k := range rng.Perm(len(dict)) {
		dict[i] = fmt.Sprintf("v%03d", k)
	}
	cols := storage.NewColumns(schema, n)
	ids := make([]uint32, n)
	cols.Cols[1].Null = make([]bool, n)
	for i := range n {
		cols.Cols[0].Int64 = append(cols.Cols[0].Int64, int64(rng.IntN(1_000_000)))
		ids[i] = uint32(rng.IntN(len(dict) / 2)) // the second half stays unused
		v := dict[ids[i]]
		if i%7 == 0 {
			cols.Cols[1].Null[i], v, ids[i] = true, "", 0
		}
		cols.Cols[1].String = append(cols.Cols[1].String, v)
	}
	cols.Len = n
	write := func(name string, c *storage.Columns) []byte { t.Helper(); return writeBytes(t, name, c) }
	want := write("plain", cols)
	hinted := func(d []string, ids []uint32) *storage.Columns {
		c := *cols
		c.Cols = append([]storage.ColumnData(nil), cols.Cols...)
		c.Cols[1].Dict, c.Cols[1].IDs = d, ids
		return &c
	}
	// The hint is used (not just ignored): the values are found from it, and
	// a bad hint is refused.
	if got, _, _, _ := dictFromHint(&hinted(dict, ids).Cols[1], nil, cols.Cols[1].Null); got == nil {
		t.Fatal("a valid hint was refused")
	}
	if got, _, _, _ := dictFromHint(&hinted(dict[1:], ids).Cols[1], nil, cols.Cols[1].Null); got != nil {
		t.Fatal("a hint that disagrees with String was used")
	}
	if got := write("hinted", hinted(dict, ids)); !bytes.Equal(got, want) {
		t.Fatalf("hinted segment differs from the plain one (%d vs %d bytes)", len(got), len(want))
	}
	// A sorted hint (a COPY batch's) is numbered in its own order, no sort.
	sortedDict := slices.Clone(dict)
	slices.Sort(sortedDict)
	rank := map[string]uint32{}
	for i, v := range sortedDict {
		rank[v] = uint32(i)
	}
	sortedIDs := make([]uint32, n)
	for i, id := range ids {
		if !cols.Cols[1].Null[i] {
			sortedIDs[i] = rank[dict[id]]
		}
	}
	if got, _, _, sorted := dictFromHint(&hinted(sortedDict, sortedIDs).Cols[1], nil, cols.Cols[1].Null); got == nil || !sorted {
		t.Fatalf("a sorted hint was refused or not seen as sorted (sorted %v)", sorted)
	}
	if got := write("sorted", hinted(sortedDict, sortedIDs)); !bytes.Equal(got, want) {
		t.Fatal("a sorted hint changed the segment")
	}
	wrong := func(f func(ids []uint32) []uint32) []uint32 { return f(append([]uint32(nil), ids...)) }
	// Two ids of one value (not what the head makes, but a hint may): the
	// segment's dictionary must still hold the value once.
	dup := append([]string(nil), dict...)
	dup[1] = dict[0]
	dupCols := hinted(nil, nil)
	dupCols.Cols[1].String = make([]string, n)
	for i, id := range ids {
		if !cols.Cols[1].Null[i] {
			dupCols.Cols[1].String[i] = dup[id]
		}
	}
	wantDup := write("dupPlain", dupCols)
	dupCols.Cols[1].Dict, dupCols.Cols[1].IDs = dup, ids
	if got := write("dup", dupCols); !bytes.Equal(got, wantDup) {
		t.Error("a hint with a value twice changed the segment")
	}
	// The same value twice in a row of a sorted hint is not strictly ascending:
	// the writer must not take it as sorted.
	sortedDup := slices.Clone(sortedDict)
	sortedDup[1] = sortedDup[0]
	dupCols.Cols[1].String = make([]string, n)
	for i, id := range sortedIDs {
		if !cols.Cols[1].Null[i] {
			dupCols.Cols[1].String[i] = sortedDup[id]
		}
	}
	dupCols.Cols[1].Dict, dupCols.Cols[1].IDs = nil, nil
	wantSortedDup := write("sortedDupPlain", dupCols)
	dupCols.Cols[1].Dict, dupCols.Cols[1].IDs = sortedDup, sortedIDs
	if got := write("sortedDup", dupCols); !bytes.Equal(got, wantSortedDup) {
		t.Error("a sorted hint with a value twice changed the segment")
	}
	for name, bad := range map[string][]uint32{
		"wrong value":  wrong(func(x []uint32) []uint32 { x[3] = (x[3] + 1) % uint32(len(dict)/2); return x }),
		"out of range": wrong(func(x []uint32) []uint32 { x[5] = uint32(len(dict)); return x }),
		"short":        ids[:n-1],
	} {
		if got := write(name, hinted(dict, bad)); !bytes.Equal(got, want) {
			t.Errorf("%s: a bad hint changed the segment", name)
		}
	}
	// The writer must not write into the caller's ids (the head's parts share them).
	before := append([]uint32(nil), ids...)
	write("again", hinted(dict, ids))
	if !slices.Equal(before, ids) {
		t.Fatal("Write changed the hint's ids")
	}
}

// TestSortedOrder checks sortedOrder against a plain sort of the values: empty
// strings, NUL bytes (a short string and its zero-padded prefix agree), shared
// 8-byte prefixes, bytes above 0x7f.
func TestSortedOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{0, 1, 'a', 'b', 0x7f, 0x80, 0xff}
	seen := map[string]bool{}
	var vals []string
	for len(vals) < 5000 {
		b := []byte("prefix12")[:rng.IntN(9)]
		for range rng.IntN(6) {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		if !seen[string(b)] {
			seen[string(b)] = true
			vals = append(vals, string(b))
		}
	}
	order := sortedOrder(vals)
	want := slices.Clone(vals)
	slices.Sort(want)
	for i, id := range order {
		if vals[id] != want[i] {
			t.Fatalf("position %d: %q, want %q", i, vals[id], want[i])
		}
	}
}

// sortedOrderIndirect is the plain way (ids sorted through the values), the
// reference BenchmarkSortedOrder compares sortedOrder with.
func sortedOrderIndirect(vals []string) []uint32 {
	order := make([]uint32, len(vals))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return strings.Compare(vals[a], vals[b]) })
	return order
}

// BenchmarkSortedOrder sorts the distinct values of a 100k-row batch's session
// column (50,000 of the generator's "s<user>_<n>" shape), by sortedOrder and by
// sortedOrderIndirect.
func BenchmarkSortedOrder(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	vals := make([]string, 50_000)
	for i := range vals {
		vals[i] = fmt.Sprintf("s%d_%d", 1+rng.IntN(100_000), i)
	}
	for _, f := range []struct {
		name string
		sort func([]string) []uint32
	}{{"prefix", sortedOrder}, {"indirect", sortedOrderIndirect}} {
		b.Run(f.name, func(b *testing.B) {
			for range b.N {
				f.sort(vals)
			}
		})
	}
}

// BenchmarkDictEncode encodes a 100k-row column of 50k distinct values, as a
// COPY batch's session column, once per segment.
func BenchmarkDictEncode(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	vals := make([]string, 100_000)
	for i := range vals {
		vals[i] = fmt.Sprintf("s%d", rng.IntN(50_000))
	}
	b.ReportAllocs()
	for range b.N {
		dictEncode(vals, nil)
	}
}

// TestSmallBitmapMatchesRoaring compares appendSmallBitmap with roaring's
// AddMany + RunOptimize + WriteTo, byte for byte, on row lists of every shape it
// takes (one row, runs, scattered rows, 4096 rows in a container, one to twenty
// containers, mixed run and array containers) and checks that it refuses those it
// must leave to roaring (a container of more than 4096 rows).
func TestSmallBitmapMatchesRoaring(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	roar := func(rows []uint32) []byte {
		bm := roaring.New()
		bm.AddMany(rows)
		bm.RunOptimize()
		var buf bytes.Buffer
		if _, err := bm.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	var lists [][]uint32
	lists = append(lists, []uint32{0}, []uint32{65535}, []uint32{7 << 16}, []uint32{1, 2}, []uint32{1, 2, 3}, []uint32{1, 3, 4, 5, 6})
	for range 3000 {
		key := uint32(rng.IntN(4)) << 16
		keys := 1 + rng.IntN(3)
		if rng.IntN(4) == 0 {
			keys = 1 + rng.IntN(20) // one to twenty containers: offsets from 4 on
		}
		n := 1 + rng.IntN(64)
		if rng.IntN(10) == 0 {
			n = 1 + rng.IntN(4096)
		}
		set := map[uint32]bool{}
		r := uint32(rng.IntN(65536))
		for len(set) < n {
			if rng.IntN(3) == 0 { // runs of consecutive rows
				r = uint32(rng.IntN(65536))
			}
			set[key+uint32(rng.IntN(keys))<<16|r&0xffff] = true
			r++
		}
		rows := slices.Sorted(maps.Keys(set))
		lists = append(lists, rows)
	}
	// k containers of a 5-row run each (run containers): offsets written from
	// k = 4 on, the run flags spill into a second byte at k = 9.
	for _, k := range []int{1, 3, 4, 5, 8, 9, 17} {
		var rows []uint32
		for key := range k {
			for r := range 5 {
				rows = append(rows, uint32(key)<<16|uint32(100+r))
			}
			if key%2 == 1 {
				rows = append(rows, uint32(key)<<16|200) // a second run
			}
		}
		lists = append(lists, rows)
	}
	full := make([]uint32, 4096)
	for i := range full {
		full[i] = uint32(i)
	}
	lists = append(lists, full)
	for _, rows := range lists {
		got, _, ok := appendSmallBitmap(nil, rows, nil)
		if !ok {
			t.Fatalf("refused %d rows of small containers", len(rows))
		}
		if want := roar(rows); !bytes.Equal(got, want) {
			t.Fatalf("%d rows %v...: got %x, want %x", len(rows), rows[:min(len(rows), 8)], got[:min(len(got), 32)], want[:min(len(want), 32)])
		}
	}
	for _, rows := range [][]uint32{nil, append(full, 4096), append([]uint32{1}, append(full, 4096)[1:]...)} {
		if _, _, ok := appendSmallBitmap(nil, rows, nil); ok {
			t.Errorf("took %d rows it must leave to roaring", len(rows))
		}
	}
}

// TestPreparedAheadSameFile checks that preparing string columns on a second
// goroutine (WriteUnsynced, from parallelPrepareRows rows on) writes the same
// bytes as preparing each one when it is written (Write; WriteUnsynced with one
// goroutine), for a segment of three string columns with NULLs, unsorted times
// and several blocks.
func TestPreparedAheadSameFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	cols := genColumns(rng, genOpts{n: 2*BlockRows + 99, nullProb: 0.2, distinct: 3000})
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	ahead := writeBytesWith(t, WriteUnsynced, "ahead", cols)
	if got := writeBytes(t, "inline", cols); !bytes.Equal(got, ahead) {
		t.Fatalf("segment prepared ahead differs from one prepared inline (%d vs %d bytes)", len(ahead), len(got))
	}
	runtime.GOMAXPROCS(1)
	if got := writeBytesWith(t, WriteUnsynced, "one goroutine", cols); !bytes.Equal(got, ahead) {
		t.Fatal("WriteUnsynced on one goroutine wrote other bytes")
	}
}

// writeBytes writes c as a segment file named name and returns its bytes.
func writeBytes(t *testing.T, name string, c *storage.Columns) []byte {
	t.Helper()
	return writeBytesWith(t, Write, name, c)
}

// writeBytesWith is writeBytes with write (Write or WriteUnsynced).
func writeBytesWith(t *testing.T, write func(string, *storage.Columns) (Info, error), name string, c *storage.Columns) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if _, err := write(path, c); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
