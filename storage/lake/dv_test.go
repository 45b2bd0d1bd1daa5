package lake

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/stratadb/strata/storage/objstore"
)

// encodeZ85 is a test-side Z85 encoder (4 bytes → 5 characters, big-endian).
func encodeZ85(b []byte) string {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	var sb strings.Builder
	for i := 0; i < len(b); i += 4 {
		v := binary.BigEndian.Uint32(b[i:])
		var grp [5]byte
		for j := 4; j >= 0; j-- {
			grp[j] = z85Alphabet[v%85]
			v /= 85
		}
		sb.Write(grp[:])
	}
	return sb.String()
}

// dvBytes serializes rows in the Delta RoaringBitmapArray format, written here
// independently of the parser: magic, u64 bucket count, then key + 32-bit Roaring.
func dvBytes(t *testing.T, rows []uint64) []byte {
	buckets := map[uint32]*roaring.Bitmap{}
	var keys []uint32
	for _, r := range rows {
		k := uint32(r >> 32)
		if buckets[k] == nil {
			buckets[k] = roaring.New()
			keys = append(keys, k)
		}
		buckets[k].Add(uint32(r))
	}
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, uint32(dvMagic))
	binary.Write(&buf, binary.LittleEndian, uint64(len(keys)))
	for _, k := range keys { // rows are given in increasing order
		binary.Write(&buf, binary.LittleEndian, k)
		if _, err := buckets[k].WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestZ85KnownVector(t *testing.T) {
	// ZeroMQ RFC 32 test vector.
	got, err := decodeZ85("HelloWorld")
	if err != nil || !bytes.Equal(got, []byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}) {
		t.Fatalf("decodeZ85(HelloWorld) = %x, %v", got, err)
	}
	if _, err := decodeZ85("Hell"); err == nil {
		t.Fatal("length 4 accepted")
	}
	// The DV of table-with-dv-small names deletion_vector_61d16c75-….bin.
	key, abs, err := dvFileKey(&DeletionVector{StorageType: "u", PathOrInlineDv: "vBn[lx{q8@P<9BNH/isA"})
	if err != nil || abs || key != "deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin" {
		t.Fatalf("dvFileKey = %q, %v, %v", key, abs, err)
	}
	key, _, _ = dvFileKey(&DeletionVector{StorageType: "u", PathOrInlineDv: "ab" + "vBn[lx{q8@P<9BNH/isA"})
	if key != "ab/deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin" {
		t.Fatalf("prefixed dvFileKey = %q", key)
	}
}

func TestInlineDeletionVector(t *testing.T) {
	rows := []uint64{0, 3, 70000, 1<<32 + 5}
	raw := dvBytes(t, rows)
	s := newSnapshot(OpenTable(objstore.LocalAt(t.TempDir()), "t"))
	dv := &DeletionVector{StorageType: "i", PathOrInlineDv: encodeZ85(raw), SizeInBytes: int32(len(raw)), Cardinality: int64(len(rows))}
	d, err := s.LoadDeletionVector(context.Background(), dv)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if !d.Contains(r) {
			t.Errorf("row %d not deleted", r)
		}
	}
	for _, r := range []uint64{1, 2, 69999, 5, 1 << 32} {
		if d.Contains(r) {
			t.Errorf("row %d deleted", r)
		}
	}
	if m, ok := d.Max(); !ok || m != 1<<32+5 {
		t.Errorf("max %d", m)
	}
	dv.Cardinality = 3
	if _, err := s.LoadDeletionVector(context.Background(), dv); err == nil {
		t.Error("wrong cardinality accepted")
	}
}

func TestOnDiskDeletionVectorChecksum(t *testing.T) {
	ctx := context.Background()
	fsys, root := copyTable(t, "table-with-dv-small")
	tbl := OpenTable(fsys, root)
	s, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := s.Files()[0]
	d, err := s.LoadDeletionVector(ctx, f.DeletionVector)
	if err != nil || d.Cardinality() != 2 || !d.Contains(0) || !d.Contains(9) {
		t.Fatalf("dv: %v", err)
	}
	// Flip one bitmap byte: the CRC must catch it, and reading the file must fail
	// rather than return rows.
	p := filepath.Join(fsys.Root(), root, "deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin")
	b, _ := os.ReadFile(p)
	b[1+4+20] ^= 0x40
	os.WriteFile(p, b, 0o644)
	if _, err := s.LoadDeletionVector(ctx, f.DeletionVector); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("corrupt DV: %v", err)
	}
	if _, err := s.CountFile(ctx, f); err == nil {
		t.Fatal("file with corrupt DV was read")
	}
}
