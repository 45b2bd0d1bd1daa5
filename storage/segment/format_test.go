package segment

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stratadb/strata/storage"
)

// TestFormatSpec parses a tiny segment by hand, following only the byte layout in
// the package comment, so the comment and the writer cannot drift apart.
func TestFormatSpec(t *testing.T) {
	s := &storage.Schema{Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "s", Type: storage.TypeString, SQLType: "text"},
		{Name: "i", Type: storage.TypeInt64, SQLType: "bigint"},
	}}
	c := storage.NewColumns(s, 3)
	c.Len = 3
	c.Cols[0].Int64 = []int64{30, 10, 20}
	c.Cols[1].String = []string{"b", "a", "b"}
	c.Cols[2].Int64 = []int64{5, 0, 7}
	c.SetNull(2, 1)
	path := filepath.Join(t.TempDir(), "seg")
	if _, err := Write(path, c); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	crc := func(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
	// section returns the payload of the section at [off, off+n) after checking its CRC.
	section := func(off, n uint64) []byte {
		t.Helper()
		b := data[off : off+n]
		p := b[:len(b)-4]
		if crc(p) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
			t.Fatalf("section at %d: bad CRC", off)
		}
		return p
	}

	if string(data[:7]) != "STRASEG" || data[7] != 2 {
		t.Fatalf("header % x", data[:8])
	}
	f := data[len(data)-28:]
	if string(f[20:27]) != "STRASEG" || f[27] != 2 || crc(f[:16]) != binary.LittleEndian.Uint32(f[16:20]) {
		t.Fatalf("footer % x", f)
	}
	dirOff, dirLen := binary.LittleEndian.Uint64(f[0:8]), binary.LittleEndian.Uint64(f[8:16])
	if dirOff+dirLen != uint64(len(data)-28) {
		t.Fatalf("directory [%d,+%d) does not end at the footer", dirOff, dirLen)
	}
	dir := section(dirOff, dirLen)

	// A tiny reader over the directory.
	uv := func() uint64 {
		v, n := binary.Uvarint(dir)
		if n <= 0 {
			t.Fatal("bad uvarint")
		}
		dir = dir[n:]
		return v
	}
	sv := func() int64 {
		v, n := binary.Varint(dir)
		if n <= 0 {
			t.Fatal("bad varint")
		}
		dir = dir[n:]
		return v
	}
	by := func() byte { b := dir[0]; dir = dir[1:]; return b }
	str := func() string { n := uv(); v := string(dir[:n]); dir = dir[n:]; return v }
	expect := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}

	expect("numRows", uv(), uint64(3))
	expect("blockRows", uv(), uint64(BlockRows))
	expect("minTime", sv(), int64(10))
	expect("maxTime", sv(), int64(30))
	expect("numColumns", uv(), uint64(3))
	expect("timeColumn", uv(), uint64(0))

	// Column ts: delta encoding, deltas 10, 10 → base 10, width 0, no packed words.
	expect("name", str(), "ts")
	expect("type", by(), byte(storage.TypeTimestamp))
	expect("sqlType", str(), "timestamptz")
	expect("flags", by(), byte(1))
	expect("nullCount", uv(), uint64(0))
	expect("hasMinMax", by(), byte(1))
	expect("min", sv(), int64(10))
	expect("max", sv(), int64(30))
	expect("nulls off", uv(), uint64(0))
	expect("nulls len", uv(), uint64(0))
	expect("numBlocks", uv(), uint64(1))
	blk := section(uv(), uv())
	if want := []byte{codecStored, intDelta, 20 /* zigzag 10 */, 20, 0}; !bytes.Equal(blk, want) {
		t.Fatalf("ts block % x, want % x", blk, want)
	}

	// Column s: sorted rows are a, b, b → ids 0, 1, 1 at width 1: word 0b110.
	expect("name", str(), "s")
	expect("type", by(), byte(storage.TypeString))
	expect("sqlType", str(), "text")
	expect("flags", by(), byte(0))
	expect("nullCount", uv(), uint64(0))
	expect("hasMinMax", by(), byte(1))
	expect("min", str(), "a")
	expect("max", str(), "b")
	expect("nulls off", uv(), uint64(0))
	expect("nulls len", uv(), uint64(0))
	expect("dictLen", uv(), uint64(2))
	dict := section(uv(), uv())
	expect("numBlocks", uv(), uint64(1))
	blk = section(uv(), uv())
	if want := []byte{codecStored, 1, 6, 0, 0, 0, 0, 0, 0, 0}; !bytes.Equal(blk, want) {
		t.Fatalf("s block % x, want % x", blk, want)
	}
	if want := []byte{0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 'a', 'b'}; !bytes.Equal(dict[:14], want) {
		t.Fatalf("dictionary % x, want % x", dict[:14], want)
	}
	refs := dict[14:]
	expect("dictionary length", len(refs), 24)
	for id, rows := range [][]uint32{{0}, {1, 2}} {
		p := section(binary.LittleEndian.Uint64(refs[12*id:]), uint64(binary.LittleEndian.Uint32(refs[12*id+8:])))
		bm := roaring.New()
		if err := bm.UnmarshalBinary(p); err != nil {
			t.Fatal(err)
		}
		if !bm.Equals(roaring.BitmapOf(rows...)) {
			t.Fatalf("bitmap of id %d = %v, want %v", id, bm, rows)
		}
	}

	// Column i: sorted rows NULL, 7, 5; the NULL slot is written as the preceding
	// value (the min, 5): frame of reference base 5, width 2, values 0, 2, 0.
	expect("name", str(), "i")
	expect("type", by(), byte(storage.TypeInt64))
	expect("sqlType", str(), "bigint")
	expect("flags", by(), byte(0))
	expect("nullCount", uv(), uint64(1))
	expect("hasMinMax", by(), byte(1))
	expect("min", sv(), int64(5))
	expect("max", sv(), int64(7))
	nulls := section(uv(), uv())
	bm := roaring.New()
	if err := bm.UnmarshalBinary(nulls); err != nil || !bm.Equals(roaring.BitmapOf(0)) {
		t.Fatalf("null bitmap %v, %v; want {0}", bm, err)
	}
	expect("numBlocks", uv(), uint64(1))
	blk = section(uv(), uv())
	if want := []byte{codecStored, intFOR, 10 /* zigzag 5 */, 2, 2 << 2, 0, 0, 0, 0, 0, 0, 0}; !bytes.Equal(blk, want) {
		t.Fatalf("i block % x, want % x", blk, want)
	}
	// Column sums: one, of column i (5 + 7; the NULL row left out).
	expect("numSums", uv(), uint64(1))
	expect("sum column", uv(), uint64(2))
	expect("sum high", sv(), int64(0))
	expect("sum low", sv(), int64(12))
	expect("trailing directory bytes", len(dir), 0)
}
