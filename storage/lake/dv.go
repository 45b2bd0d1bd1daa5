package lake

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"path"

	"github.com/RoaringBitmap/roaring/v2"
)

// Deletion vector format ([P] "Deletion Vector Format"):
//
//	DV file:   version byte (1) | at offset: u32 BE size | bitmap (size bytes) | u32 BE CRC-32 of bitmap
//	bitmap:    u32 LE magic 1681511377 | u64 LE bucket count | per bucket: u32 LE key + portable 32-bit Roaring
//
// Buckets are parsed here rather than by roaring64, whose decoder trusts the
// bucket count and can be made to allocate without bound. Inline DVs ('i') hold
// the bitmap Z85-encoded in pathOrInlineDv.
const dvMagic = 1681511377

const z85Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

var z85Decode = func() (t [256]int16) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(z85Alphabet); i++ {
		t[z85Alphabet[i]] = int16(i)
	}
	return t
}()

// decodeZ85 decodes Z85 text (length a multiple of 5) into 4 bytes per 5 characters.
func decodeZ85(s string) ([]byte, error) {
	if len(s)%5 != 0 {
		return nil, fmt.Errorf("z85: length %d is not a multiple of 5", len(s))
	}
	out := make([]byte, 0, len(s)/5*4)
	for i := 0; i < len(s); i += 5 {
		var v uint64
		for j := 0; j < 5; j++ {
			d := z85Decode[s[i+j]]
			if d < 0 {
				return nil, fmt.Errorf("z85: invalid character %q", s[i+j])
			}
			v = v*85 + uint64(d)
		}
		if v > 0xFFFFFFFF {
			return nil, fmt.Errorf("z85: group %q overflows", s[i:i+5])
		}
		out = binary.BigEndian.AppendUint32(out, uint32(v))
	}
	return out, nil
}

// dvFileKey returns the key (relative to the table root, or absolute for 'p') of
// an on-disk deletion vector.
func dvFileKey(dv *DeletionVector) (key string, absolute bool, err error) {
	switch dv.StorageType {
	case "u":
		s := dv.PathOrInlineDv
		if len(s) < 20 {
			return "", false, fmt.Errorf("deletion vector: pathOrInlineDv %q too short", s)
		}
		prefix, enc := s[:len(s)-20], s[len(s)-20:]
		raw, err := decodeZ85(enc)
		if err != nil {
			return "", false, fmt.Errorf("deletion vector %q: %w", s, err)
		}
		h := hex.EncodeToString(raw)
		uuid := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
		return path.Join(prefix, "deletion_vector_"+uuid+".bin"), false, nil
	case "p":
		k, abs, err := decodePath(dv.PathOrInlineDv)
		return k, abs, err
	}
	return "", false, fmt.Errorf("deletion vector: storage type %q has no file", dv.StorageType)
}

// DeletedRows is a decoded deletion vector: row indexes of a data file that are
// not part of the table. Buckets hold the low 32 bits for one high-32-bit key,
// keys strictly increasing. Read-only once built.
type DeletedRows struct {
	keys    []uint32
	buckets []*roaring.Bitmap
}

// Contains reports whether row is deleted.
func (d *DeletedRows) Contains(row uint64) bool {
	hi := uint32(row >> 32)
	for i, k := range d.keys {
		if k == hi {
			return d.buckets[i].Contains(uint32(row))
		}
	}
	return false
}

// Cardinality is the number of deleted rows.
func (d *DeletedRows) Cardinality() uint64 {
	var n uint64
	for _, b := range d.buckets {
		n += b.GetCardinality()
	}
	return n
}

// Max returns the largest deleted row; ok is false when none is deleted.
func (d *DeletedRows) Max() (row uint64, ok bool) {
	for i := len(d.buckets) - 1; i >= 0; i-- {
		if !d.buckets[i].IsEmpty() {
			return uint64(d.keys[i])<<32 | uint64(d.buckets[i].Maximum()), true
		}
	}
	return 0, false
}

// parseDVBitmap parses magic + portable 64-bit Roaring bitmap.
func parseDVBitmap(b []byte) (*DeletedRows, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("deletion vector: bitmap of %d bytes", len(b))
	}
	if m := binary.LittleEndian.Uint32(b); m != dvMagic {
		return nil, fmt.Errorf("deletion vector: bad magic %d", m)
	}
	n := binary.LittleEndian.Uint64(b[4:])
	rest := b[12:]
	// Each bucket takes at least its 4-byte key and an 8-byte Roaring header.
	if n > uint64(len(rest))/12 {
		return nil, fmt.Errorf("deletion vector: %d buckets in %d bytes", n, len(rest))
	}
	d := &DeletedRows{}
	for i := uint64(0); i < n; i++ {
		if len(rest) < 4 {
			return nil, fmt.Errorf("deletion vector: truncated at bucket %d", i)
		}
		key := binary.LittleEndian.Uint32(rest)
		if len(d.keys) > 0 && key <= d.keys[len(d.keys)-1] {
			return nil, fmt.Errorf("deletion vector: bucket keys not increasing (%d after %d)", key, d.keys[len(d.keys)-1])
		}
		bm := roaring.New()
		used, err := bm.FromBuffer(append([]byte(nil), rest[4:]...))
		if err != nil {
			return nil, fmt.Errorf("deletion vector: bucket %d: %w", i, err)
		}
		if used <= 0 || used > int64(len(rest)-4) {
			return nil, fmt.Errorf("deletion vector: bucket %d: bad length %d", i, used)
		}
		rest = rest[4+used:]
		d.keys = append(d.keys, key)
		d.buckets = append(d.buckets, bm)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("deletion vector: %d trailing bytes", len(rest))
	}
	return d, nil
}

// parseDVFile extracts and checks the bitmap at offset in the bytes of a DV file
// region (data starts at the 4-byte size field).
func parseDVRegion(region []byte, size int32) (*DeletedRows, error) {
	if size < 0 || len(region) < 8+int(size) {
		return nil, fmt.Errorf("deletion vector: truncated (%d bytes for size %d)", len(region), size)
	}
	if n := int32(binary.BigEndian.Uint32(region)); n != size {
		return nil, fmt.Errorf("deletion vector: size field %d, descriptor says %d", n, size)
	}
	bm := region[4 : 4+size]
	want := binary.BigEndian.Uint32(region[4+size:])
	if got := crc32.ChecksumIEEE(bm); got != want {
		return nil, fmt.Errorf("deletion vector: checksum mismatch (%08x != %08x)", got, want)
	}
	return parseDVBitmap(bm)
}

// LoadDeletionVector reads the deleted row indexes of a file. It checks the CRC and
// that the bitmap holds exactly cardinality rows.
func (s *Snapshot) LoadDeletionVector(ctx context.Context, dv *DeletionVector) (*DeletedRows, error) {
	var bm *DeletedRows
	switch dv.StorageType {
	case "i":
		raw, err := decodeZ85(dv.PathOrInlineDv)
		if err != nil {
			return nil, fmt.Errorf("inline deletion vector: %w", err)
		}
		if int(dv.SizeInBytes) > len(raw) || dv.SizeInBytes < 0 {
			return nil, fmt.Errorf("inline deletion vector: %d bytes, descriptor says %d", len(raw), dv.SizeInBytes)
		}
		if bm, err = parseDVBitmap(raw[:dv.SizeInBytes]); err != nil {
			return nil, err
		}
	case "u", "p":
		key, abs, err := dvFileKey(dv)
		if err != nil {
			return nil, err
		}
		if abs {
			return nil, fmt.Errorf("deletion vector %s: absolute paths are not supported", key)
		}
		off := int64(1)
		if dv.Offset != nil {
			off = int64(*dv.Offset)
		}
		region, err := s.table.fs.GetRange(ctx, s.table.key(key), off, int64(dv.SizeInBytes)+8)
		if err != nil {
			return nil, fmt.Errorf("deletion vector %s: %w", key, err)
		}
		if bm, err = parseDVRegion(region, dv.SizeInBytes); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	default:
		return nil, fmt.Errorf("deletion vector: unknown storage type %q", dv.StorageType)
	}
	if c := bm.Cardinality(); c != uint64(dv.Cardinality) {
		return nil, fmt.Errorf("deletion vector: %d rows set, descriptor cardinality %d", c, dv.Cardinality)
	}
	return bm, nil
}

func (d *DeletedRows) maxRow() (uint64, bool) {
	if d == nil {
		return 0, false
	}
	return d.Max()
}
