package segment

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

const (
	// BlockRows is the number of rows per column block. 65536 rows is the largest
	// range the query engine asks for in one call, so a block-aligned scan touches one
	// block per call, and a decoded block of int64 (512 KiB) still compresses and
	// decodes in well under a millisecond.
	BlockRows = 65536

	// Version is the format version written in the header and the footer.
	// Version 2 added the column sums at the end of the directory (sums.go);
	// Open reads versions 1 and 2.
	Version = 2
	// minVersion is the oldest version Open reads.
	minVersion = 1

	headerLen = 8
	footerLen = 28
	crcLen    = 4

	codecStored = 0
	codecS2     = 1

	intFOR   = 0
	intDelta = 1

	// maxBlockRows bounds blockRows read from a file, so a corrupt directory cannot
	// make a block decode allocate without limit.
	maxBlockRows = 1 << 20
	// maxNumRows is the most rows a segment holds: row numbers are uint32 in roaring.
	maxNumRows = 1<<32 - 1
)

// magic opens and closes every segment file; "STRASEG" = STRAta SEGment.
var magic = [7]byte{'S', 'T', 'R', 'A', 'S', 'E', 'G'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// bitWidth returns the bits needed to store values 0..max.
func bitWidth(max uint64) uint { return uint(bits.Len64(max)) }

// dictWidth returns ceil(log2(n)): the id width of a dictionary of n values.
func dictWidth(n int) uint {
	if n <= 1 {
		return 0
	}
	return uint(bits.Len64(uint64(n - 1)))
}

// packedLen returns the byte length of n values of w bits packed into 64-bit words.
func packedLen(n int, w uint) int {
	return int((uint64(n)*uint64(w) + 63) / 64 * 8)
}

// appendPacked appends vals packed LSB-first at w bits each into little-endian
// 64-bit words. Every value must fit in w bits.
func appendPacked(dst []byte, vals []uint64, w uint) []byte {
	if w == 0 {
		return dst
	}
	var word uint64
	var used uint // bits of word filled
	for _, v := range vals {
		word |= v << used
		if used+w >= 64 {
			dst = binary.LittleEndian.AppendUint64(dst, word)
			spill := used + w - 64
			if spill > 0 {
				word = v >> (w - spill)
			} else {
				word = 0
			}
			used = spill
		} else {
			used += w
		}
	}
	if used > 0 {
		dst = binary.LittleEndian.AppendUint64(dst, word)
	}
	return dst
}

// unpack decodes len(dst) values of w bits from src, which must hold at least
// packedLen(len(dst), w) bytes (the caller checks). Values wider than T are
// truncated; callers keep w within T's width.
func unpack[T uint64 | int64 | uint32](dst []T, src []byte, w uint) {
	if w == 0 {
		clear(dst)
		return
	}
	mask := ^uint64(0) >> (64 - w)
	var word uint64 // unread bits of the current word, LSB first
	var have uint   // number of unread bits in word
	for i := range dst {
		if have >= w {
			dst[i] = T(word & mask)
			word >>= w
			have -= w
			continue
		}
		next := binary.LittleEndian.Uint64(src)
		src = src[8:]
		v := word | next<<have
		dst[i] = T(v & mask)
		// Go defines shifts by >= 64 as 0, so w-have = 64 is fine.
		word = next >> (w - have)
		have = 64 - (w - have)
	}
}

// decoder reads the primitives of the directory and block headers from a byte
// slice. The first out-of-bounds or malformed read sets bad; later reads return
// zero values, so a parse checks d.bad once at the points that matter.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.bad {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.bad || len(d.b) < 1 {
		d.bad = true
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint64() uint64 {
	if d.bad || len(d.b) < 8 {
		d.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// bytes returns the next n bytes (aliasing the input).
func (d *decoder) bytes(n uint64) []byte {
	if d.bad || uint64(len(d.b)) < n {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// string reads a uvarint-length-prefixed string, copying it.
func (d *decoder) string() string {
	n := d.uvarint()
	return string(d.bytes(n))
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// sectionRef locates a section: off is its file offset, len counts payload + CRC.
// The zero ref means "absent".
type sectionRef struct {
	off, len uint64
}

func appendRef(dst []byte, r sectionRef) []byte {
	dst = binary.AppendUvarint(dst, r.off)
	return binary.AppendUvarint(dst, r.len)
}

func (d *decoder) ref() sectionRef {
	return sectionRef{off: d.uvarint(), len: d.uvarint()}
}
