package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/klauspost/compress/s2"
	"golang.org/x/sys/unix"

	"github.com/stratadb/strata/storage"
)

// Reader is an open, memory-mapped segment. It implements storage.Source and is
// safe for concurrent use; see the package comment for what it caches.
type Reader struct {
	path      string
	data      []byte // the read-only mapping of the whole file
	dirOff    uint64 // sections live in [headerLen, dirOff)
	version   byte   // format version of the file
	info      Info
	blockRows int
	schema    storage.Schema
	cols      []column
	closed    atomic.Bool
}

var (
	_ storage.Source = (*Reader)(nil)
	_ storage.Summer = (*Reader)(nil)
)

// column is the directory entry of one column plus its caches.
type column struct {
	name     string
	typ      storage.Type
	isTime   bool
	stats    storage.ColumnStats
	nullsRef sectionRef
	dictLen  int
	dictRef  sectionRef
	blocks   []sectionRef
	sum      storage.ColumnSum // when hasSum (version 2: int64 and float64 columns)
	hasSum   bool

	nulls   atomic.Pointer[roaring.Bitmap]
	dict    atomic.Pointer[dictionary]
	decoded []atomic.Pointer[decodedBlock] // one slot per block
}

// decodedBlock is one block decoded; only the slice of the column's type is set.
type decodedBlock struct {
	i64 []int64
	f64 []float64
	b   []bool
	ids []uint32
}

// Open memory-maps path and validates the header, footer and column directory
// checksums. Column blocks, dictionaries and bitmaps are validated when first read.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open segment %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open segment %s: %w", path, err)
	}
	if st.Size() < headerLen+footerLen {
		return nil, fmt.Errorf("segment %s: file is %d bytes, shorter than header and footer: %w",
			path, st.Size(), storage.ErrCorrupt)
	}
	if st.Size() > math.MaxInt {
		return nil, fmt.Errorf("segment %s: file of %d bytes too large to map", path, st.Size())
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("open segment %s: mmap: %w", path, err)
	}
	r, err := newReader(path, data)
	if err != nil {
		unix.Munmap(data)
		return nil, err
	}
	return r, nil
}

// Close unmaps the file. REQUIRES: no read is in flight; reads after Close return
// an error. Dictionaries and bitmaps returned earlier stay valid.
func (r *Reader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	if err := unix.Munmap(r.data); err != nil {
		return fmt.Errorf("close segment %s: %w", r.path, err)
	}
	return nil
}

// Info returns the row count, time range and file size.
func (r *Reader) Info() Info { return r.info }

// Path returns the path the segment was opened from.
func (r *Reader) Path() string { return r.path }

// Name identifies the segment in errors and EXPLAIN: its path.
func (r *Reader) Name() string { return r.path }

func (r *Reader) Schema() *storage.Schema { return &r.schema }
func (r *Reader) NumRows() int            { return int(r.info.Rows) }
func (r *Reader) MinTime() int64          { return r.info.MinTime }
func (r *Reader) MaxTime() int64          { return r.info.MaxTime }

// Stats returns the statistics of column col, recorded at write time.
func (r *Reader) Stats(col int) storage.ColumnStats { return r.cols[col].stats }

// corrupt returns an error wrapping storage.ErrCorrupt that names the file and, when
// c is not nil, the column.
func (r *Reader) corrupt(c *column, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if c == nil {
		return fmt.Errorf("segment %s: %s: %w", r.path, msg, storage.ErrCorrupt)
	}
	return fmt.Errorf("segment %s: column %s: %s: %w", r.path, c.name, msg, storage.ErrCorrupt)
}

// validRef reports whether ref lies inside the section area and can hold a CRC.
func (r *Reader) validRef(ref sectionRef) bool {
	return ref.off >= headerLen && ref.len >= crcLen && ref.off <= r.dirOff && ref.len <= r.dirOff-ref.off
}

// section returns the payload of a valid ref, or false when its CRC does not match.
func (r *Reader) section(ref sectionRef) ([]byte, bool) {
	b := r.data[ref.off : ref.off+ref.len]
	payload := b[:len(b)-crcLen]
	return payload, checksum(payload) == binary.LittleEndian.Uint32(b[len(b)-crcLen:])
}

// newReader validates header, footer and directory of a segment held in data.
func newReader(path string, data []byte) (*Reader, error) {
	r := &Reader{path: path, data: data}
	if len(data) < headerLen+footerLen {
		return nil, r.corrupt(nil, "file is %d bytes, shorter than header and footer", len(data))
	}
	if !bytes.Equal(data[:len(magic)], magic[:]) {
		return nil, r.corrupt(nil, "bad magic in header")
	}
	r.version = data[len(magic)]
	if r.version < minVersion || r.version > Version {
		return nil, r.corrupt(nil, "unsupported format version %d in header (want %d to %d)", r.version, minVersion, Version)
	}
	footer := data[len(data)-footerLen:]
	if !bytes.Equal(footer[20:27], magic[:]) || footer[27] != r.version {
		return nil, r.corrupt(nil, "bad magic or version in footer (truncated file?)")
	}
	if checksum(footer[:16]) != binary.LittleEndian.Uint32(footer[16:20]) {
		return nil, r.corrupt(nil, "footer checksum mismatch")
	}
	dirRef := sectionRef{off: binary.LittleEndian.Uint64(footer[0:8]), len: binary.LittleEndian.Uint64(footer[8:16])}
	end := uint64(len(data) - footerLen)
	if dirRef.off < headerLen || dirRef.len < crcLen || dirRef.off > end || dirRef.len != end-dirRef.off {
		return nil, r.corrupt(nil, "directory reference [%d,+%d) out of bounds", dirRef.off, dirRef.len)
	}
	r.dirOff = dirRef.off
	dir, ok := r.section(dirRef)
	if !ok {
		return nil, r.corrupt(nil, "directory checksum mismatch")
	}
	if err := r.parseDirectory(dir); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader) parseDirectory(dir []byte) error {
	d := &decoder{b: dir}
	numRows := d.uvarint()
	blockRows := d.uvarint()
	r.info.MinTime = d.varint()
	r.info.MaxTime = d.varint()
	numCols := d.uvarint()
	timeCol := d.uvarint()
	switch {
	case d.bad:
		return r.corrupt(nil, "truncated directory header")
	case numRows > maxNumRows:
		return r.corrupt(nil, "directory claims %d rows", numRows)
	case blockRows == 0 || blockRows > maxBlockRows:
		return r.corrupt(nil, "directory claims %d rows per block", blockRows)
	case numCols == 0 || numCols > uint64(len(d.b)):
		return r.corrupt(nil, "directory claims %d columns", numCols)
	case timeCol >= numCols:
		return r.corrupt(nil, "time column %d of %d columns", timeCol, numCols)
	}
	r.info.Rows = int64(numRows)
	r.info.Bytes = int64(len(r.data))
	r.blockRows = int(blockRows)
	nb := uint64(numBlocks(int(numRows), int(blockRows)))
	r.schema.TimeColumn = int(timeCol)
	r.schema.Columns = make([]storage.Column, numCols)
	r.cols = make([]column, numCols)
	for i := range r.cols {
		c := &r.cols[i]
		sc := &r.schema.Columns[i]
		sc.Name = d.string()
		c.name = sc.Name
		if c.name == "" {
			c.name = fmt.Sprintf("#%d", i)
		}
		c.typ = storage.Type(d.byte())
		sc.Type = c.typ
		sc.SQLType = d.string()
		flags := d.byte()
		sc.NotNull = flags&1 != 0
		c.isTime = i == int(timeCol)
		if d.bad {
			return r.corrupt(c, "truncated directory entry")
		}
		if c.typ == storage.TypeInvalid || c.typ > storage.TypeBool {
			return r.corrupt(c, "invalid type %d", c.typ)
		}
		if flags&^1 != 0 {
			return r.corrupt(c, "unknown flags %#x", flags)
		}
		nullCount := d.uvarint()
		if nullCount > numRows {
			return r.corrupt(c, "%d NULLs in %d rows", nullCount, numRows)
		}
		st := &c.stats
		st.NullCount = int(nullCount)
		switch d.byte() {
		case 0:
		case 1:
			st.HasMinMax = true
			switch c.typ {
			case storage.TypeTimestamp, storage.TypeInt64, storage.TypeBool:
				st.MinInt, st.MaxInt = d.varint(), d.varint()
				if st.MinInt > st.MaxInt || (c.typ == storage.TypeBool && (st.MinInt < 0 || st.MaxInt > 1)) {
					return r.corrupt(c, "min %d > max %d", st.MinInt, st.MaxInt)
				}
			case storage.TypeFloat64:
				st.MinFloat = math.Float64frombits(d.uint64())
				st.MaxFloat = math.Float64frombits(d.uint64())
			case storage.TypeString:
				st.MinString, st.MaxString = d.string(), d.string()
			}
		default:
			return r.corrupt(c, "bad min/max flag")
		}
		c.nullsRef = d.ref()
		if d.bad {
			return r.corrupt(c, "truncated directory entry")
		}
		if (nullCount == 0) != (c.nullsRef == sectionRef{}) {
			return r.corrupt(c, "null count %d disagrees with null bitmap reference", nullCount)
		}
		if nullCount > 0 && !r.validRef(c.nullsRef) {
			return r.corrupt(c, "null bitmap reference out of bounds")
		}
		if c.typ == storage.TypeString {
			dictLen := d.uvarint()
			c.dictRef = d.ref()
			if d.bad {
				return r.corrupt(c, "truncated directory entry")
			}
			if dictLen > numRows-nullCount || (dictLen == 0) != (numRows == nullCount) {
				return r.corrupt(c, "dictionary of %d values for %d non-NULL rows", dictLen, numRows-nullCount)
			}
			if !r.validRef(c.dictRef) {
				return r.corrupt(c, "dictionary reference out of bounds")
			}
			c.dictLen = int(dictLen)
		}
		if n := d.uvarint(); d.bad || n != nb {
			return r.corrupt(c, "%d blocks for %d rows, want %d", n, numRows, nb)
		}
		if nb > uint64(len(d.b))/2 { // a block reference takes at least 2 bytes
			return r.corrupt(c, "%d block references in %d directory bytes", nb, len(d.b))
		}
		c.blocks = make([]sectionRef, nb)
		for b := range c.blocks {
			c.blocks[b] = d.ref()
			if d.bad {
				return r.corrupt(c, "truncated directory entry")
			}
			if !r.validRef(c.blocks[b]) || c.blocks[b].len < crcLen+1 {
				return r.corrupt(c, "block %d reference out of bounds", b)
			}
		}
		c.decoded = make([]atomic.Pointer[decodedBlock], nb)
	}
	if r.version >= 2 {
		if err := r.parseSums(d); err != nil {
			return err
		}
	}
	if len(d.b) != 0 {
		return r.corrupt(nil, "%d trailing bytes in directory", len(d.b))
	}
	if err := r.schema.Validate(); err != nil {
		return r.corrupt(nil, "invalid schema: %v", err)
	}
	tc := &r.cols[timeCol]
	if tc.stats.NullCount != 0 || (numRows > 0) != tc.stats.HasMinMax ||
		(numRows > 0 && (tc.stats.MinInt != r.info.MinTime || tc.stats.MaxInt != r.info.MaxTime)) {
		return r.corrupt(tc, "time column statistics disagree with the segment time range")
	}
	return nil
}

// column returns column col after checking it exists and has one of the types.
func (r *Reader) column(col int, op string, types ...storage.Type) (*column, error) {
	if col < 0 || col >= len(r.cols) {
		return nil, fmt.Errorf("segment %s: %s: column %d out of range [0,%d)", r.path, op, col, len(r.cols))
	}
	c := &r.cols[col]
	for _, t := range types {
		if c.typ == t {
			if r.closed.Load() {
				return nil, fmt.Errorf("segment %s: column %s: %s after Close", r.path, c.name, op)
			}
			return c, nil
		}
	}
	return nil, fmt.Errorf("segment %s: column %s: %s on a %s column", r.path, c.name, op, c.typ)
}

// readRange copies rows [start, end) of column c out of its decoded blocks.
func readRange[T any](r *Reader, c *column, start, end int, dst []T, pick func(*decodedBlock) []T) ([]T, error) {
	dst = dst[:0]
	if start < 0 || end > int(r.info.Rows) || start > end {
		return dst, fmt.Errorf("segment %s: column %s: row range [%d,%d) out of range [0,%d)",
			r.path, c.name, start, end, r.info.Rows)
	}
	dst = growCap(dst, end-start)
	for start < end {
		b := start / r.blockRows
		blk, err := r.block(c, b)
		if err != nil {
			return dst, err
		}
		vals := pick(blk)
		base := b * r.blockRows
		hi := min(end-base, len(vals))
		dst = append(dst, vals[start-base:hi]...)
		start = base + hi
	}
	return dst, nil
}

func growCap[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s
	}
	return make([]T, 0, n)
}

// ReadInt64 reads rows [start, end) of a timestamp or int64 column; NULL rows read as 0.
func (r *Reader) ReadInt64(col, start, end int, dst []int64) ([]int64, error) {
	c, err := r.column(col, "ReadInt64", storage.TypeInt64, storage.TypeTimestamp)
	if err != nil {
		return dst[:0], err
	}
	return readRange(r, c, start, end, dst, func(b *decodedBlock) []int64 { return b.i64 })
}

// ReadFloat64 reads rows [start, end) of a float64 column; NULL rows read as 0.
func (r *Reader) ReadFloat64(col, start, end int, dst []float64) ([]float64, error) {
	c, err := r.column(col, "ReadFloat64", storage.TypeFloat64)
	if err != nil {
		return dst[:0], err
	}
	return readRange(r, c, start, end, dst, func(b *decodedBlock) []float64 { return b.f64 })
}

// ReadBool reads rows [start, end) of a bool column; NULL rows read as false.
func (r *Reader) ReadBool(col, start, end int, dst []bool) ([]bool, error) {
	c, err := r.column(col, "ReadBool", storage.TypeBool)
	if err != nil {
		return dst[:0], err
	}
	return readRange(r, c, start, end, dst, func(b *decodedBlock) []bool { return b.b })
}

// ReadDictIDs reads rows [start, end) of a string column as dictionary ids; NULL rows
// read as id 0.
func (r *Reader) ReadDictIDs(col, start, end int, dst []uint32) ([]uint32, error) {
	c, err := r.column(col, "ReadDictIDs", storage.TypeString)
	if err != nil {
		return dst[:0], err
	}
	return readRange(r, c, start, end, dst, func(b *decodedBlock) []uint32 { return b.ids })
}

// block returns block b of column c, decoding and caching it on first use.
func (r *Reader) block(c *column, b int) (*decodedBlock, error) {
	if blk := c.decoded[b].Load(); blk != nil {
		return blk, nil
	}
	payload, ok := r.section(c.blocks[b])
	if !ok {
		return nil, r.corrupt(c, "block %d: checksum mismatch", b)
	}
	lo := b * r.blockRows
	n := min(lo+r.blockRows, int(r.info.Rows)) - lo
	raw := payload[1:]
	switch payload[0] {
	case codecStored:
	case codecS2:
		l, err := s2.DecodedLen(raw)
		if err != nil || l > maxRawLen(n) {
			return nil, r.corrupt(c, "block %d: bad compressed length", b)
		}
		if raw, err = s2.Decode(make([]byte, l), raw); err != nil {
			return nil, r.corrupt(c, "block %d: %v", b, err)
		}
	default:
		return nil, r.corrupt(c, "block %d: unknown codec %d", b, payload[0])
	}
	blk := &decodedBlock{}
	var err error
	switch c.typ {
	case storage.TypeTimestamp, storage.TypeInt64:
		blk.i64, err = decodeInt64Block(raw, n)
		if err == nil && c.isTime {
			err = checkTimes(blk.i64, r.info.MinTime, r.info.MaxTime)
		}
	case storage.TypeFloat64:
		blk.f64, err = decodeFloat64Block(raw, n)
	case storage.TypeBool:
		blk.b, err = decodeBoolBlock(raw, n)
	case storage.TypeString:
		blk.ids, err = decodeIDBlock(raw, n, c.dictLen)
	}
	if err != nil {
		return nil, r.corrupt(c, "block %d: %v", b, err)
	}
	if c.stats.NullCount > 0 && c.typ != storage.TypeString {
		// NULL slots hold filler on disk (see the format); expose the zero value.
		nulls, err := r.nullBitmap(c)
		if err != nil {
			return nil, err
		}
		it := nulls.Iterator()
		it.AdvanceIfNeeded(uint32(lo))
		for it.HasNext() {
			row := int(it.Next())
			if row >= lo+n {
				break
			}
			switch {
			case blk.i64 != nil:
				blk.i64[row-lo] = 0
			case blk.f64 != nil:
				blk.f64[row-lo] = 0
			case blk.b != nil:
				blk.b[row-lo] = false
			}
		}
	}
	c.decoded[b].Store(blk)
	return blk, nil
}

// maxRawLen bounds the raw body of a block of n rows (an int64 block is the largest).
func maxRawLen(n int) int { return 1 + 2*binary.MaxVarintLen64 + 1 + 8*n + 8 }

func decodeInt64Block(raw []byte, n int) ([]int64, error) {
	d := &decoder{b: raw}
	kind := d.byte()
	var first int64
	if kind == intDelta {
		first = d.varint()
	}
	base := d.varint()
	w := uint(d.byte())
	if d.bad {
		return nil, errors.New("truncated int64 block header")
	}
	if w > 64 {
		return nil, fmt.Errorf("bit width %d", w)
	}
	out := make([]int64, n)
	switch kind {
	case intFOR:
		if len(d.b) != packedLen(n, w) {
			return nil, fmt.Errorf("%d packed bytes for %d values of %d bits", len(d.b), n, w)
		}
		unpack(out, d.b, w)
		for i := range out {
			out[i] += base
		}
	case intDelta:
		if n == 0 || len(d.b) != packedLen(n-1, w) {
			return nil, fmt.Errorf("%d packed bytes for %d deltas of %d bits", len(d.b), n-1, w)
		}
		out[0] = first
		unpack(out[1:], d.b, w)
		prev := first
		for i := 1; i < n; i++ {
			prev += out[i] + base
			out[i] = prev
		}
	default:
		return nil, fmt.Errorf("unknown int64 encoding %d", kind)
	}
	return out, nil
}

// checkTimes verifies a decoded time block is sorted and inside the segment's range.
func checkTimes(ts []int64, minTime, maxTime int64) error {
	if len(ts) == 0 {
		return nil
	}
	if ts[0] < minTime || ts[len(ts)-1] > maxTime {
		return fmt.Errorf("times [%d,%d] outside the segment range [%d,%d]", ts[0], ts[len(ts)-1], minTime, maxTime)
	}
	for i := 1; i < len(ts); i++ {
		if ts[i] < ts[i-1] {
			return fmt.Errorf("time column not sorted at row %d of the block", i)
		}
	}
	return nil
}

func decodeFloat64Block(raw []byte, n int) ([]float64, error) {
	if len(raw) != 8*n {
		return nil, fmt.Errorf("%d bytes for %d float64 values", len(raw), n)
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return out, nil
}

func decodeBoolBlock(raw []byte, n int) ([]bool, error) {
	if len(raw) != (n+7)/8 {
		return nil, fmt.Errorf("%d bytes for %d bool values", len(raw), n)
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = raw[i>>3]&(1<<(i&7)) != 0
	}
	return out, nil
}

func decodeIDBlock(raw []byte, n, dictLen int) ([]uint32, error) {
	if len(raw) < 1 {
		return nil, errors.New("empty id block")
	}
	w := uint(raw[0])
	if w != dictWidth(dictLen) {
		return nil, fmt.Errorf("id width %d for a dictionary of %d values", w, dictLen)
	}
	if len(raw)-1 != packedLen(n, w) {
		return nil, fmt.Errorf("%d packed bytes for %d ids of %d bits", len(raw)-1, n, w)
	}
	out := make([]uint32, n)
	unpack(out, raw[1:], w)
	if dictLen > 0 {
		for i, id := range out {
			if int(id) >= dictLen {
				return nil, fmt.Errorf("row %d: id %d outside a dictionary of %d values", i, id, dictLen)
			}
		}
	}
	return out, nil
}

// Nulls returns the NULL rows of column col, nil when there are none. The bitmap is
// shared and read-only.
func (r *Reader) Nulls(col int) (*roaring.Bitmap, error) {
	if col < 0 || col >= len(r.cols) {
		return nil, fmt.Errorf("segment %s: Nulls: column %d out of range [0,%d)", r.path, col, len(r.cols))
	}
	c := &r.cols[col]
	if c.stats.NullCount == 0 {
		return nil, nil
	}
	if _, err := r.column(col, "Nulls", c.typ); err != nil {
		return nil, err
	}
	return r.nullBitmap(c)
}

func (r *Reader) nullBitmap(c *column) (*roaring.Bitmap, error) {
	if bm := c.nulls.Load(); bm != nil {
		return bm, nil
	}
	payload, ok := r.section(c.nullsRef)
	if !ok {
		return nil, r.corrupt(c, "null bitmap: checksum mismatch")
	}
	bm, err := decodeBitmap(payload, uint64(r.info.Rows))
	if err == nil && bm.GetCardinality() != uint64(c.stats.NullCount) {
		err = fmt.Errorf("%d rows for a null count of %d", bm.GetCardinality(), c.stats.NullCount)
	}
	if err != nil {
		return nil, r.corrupt(c, "null bitmap: %v", err)
	}
	if !c.nulls.CompareAndSwap(nil, bm) {
		bm = c.nulls.Load()
	}
	return bm, nil
}

// decodeBitmap decodes a portable roaring bitmap whose rows must be < numRows.
// The roaring decoder is third-party code fed bytes from disk; a panic inside it is
// turned into an error (the CRC makes this a last line of defence).
func decodeBitmap(b []byte, numRows uint64) (bm *roaring.Bitmap, err error) {
	defer func() {
		if p := recover(); p != nil {
			bm, err = nil, fmt.Errorf("malformed roaring bitmap: %v", p)
		}
	}()
	bm = roaring.New()
	n, err := bm.ReadFrom(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("malformed roaring bitmap: %v", err)
	}
	if n != int64(len(b)) {
		return nil, fmt.Errorf("%d trailing bytes after roaring bitmap", int64(len(b))-n)
	}
	if err := bm.Validate(); err != nil {
		return nil, fmt.Errorf("invalid roaring bitmap: %v", err)
	}
	if !bm.IsEmpty() && uint64(bm.Maximum()) >= numRows {
		return nil, fmt.Errorf("row %d beyond the %d rows of the segment", bm.Maximum(), numRows)
	}
	return bm, nil
}

// dictionary is the sorted dictionary of a string column, copied out of the mapping,
// with the references and lazily decoded value bitmaps.
type dictionary struct {
	values     string   // all values concatenated
	offs       []uint32 // value id spans values[offs[id]:offs[id+1]]
	bitmapRefs []sectionRef
	bitmaps    []atomic.Pointer[roaring.Bitmap]

	byIDOnce sync.Once
	byID     []string // Values: built on first use, substrings of values
}

// Values returns every value by id (storage.DictValues). The slice is built once per
// open segment (16 bytes of string header per value; the bytes are shared with the
// dictionary) and is read-only.
func (d *dictionary) Values() []string {
	d.byIDOnce.Do(func() {
		d.byID = make([]string, d.Len())
		for i := range d.byID {
			d.byID[i] = d.values[d.offs[i]:d.offs[i+1]]
		}
	})
	return d.byID
}

func (d *dictionary) Len() int     { return len(d.offs) - 1 }
func (d *dictionary) Sorted() bool { return true }

func (d *dictionary) Value(id uint32) string {
	if int(id) >= d.Len() {
		panic(fmt.Sprintf("BUG: dictionary id %d out of range [0,%d)", id, d.Len()))
	}
	return d.values[d.offs[id]:d.offs[id+1]]
}

// Lookup finds s by binary search over the sorted values.
func (d *dictionary) Lookup(s string) (uint32, bool) {
	n := d.Len()
	i := sort.Search(n, func(i int) bool { return d.values[d.offs[i]:d.offs[i+1]] >= s })
	if i < n && d.values[d.offs[i]:d.offs[i+1]] == s {
		return uint32(i), true
	}
	return 0, false
}

// Dict returns the sorted dictionary of string column col.
func (r *Reader) Dict(col int) (storage.Dict, error) {
	c, err := r.column(col, "Dict", storage.TypeString)
	if err != nil {
		return nil, err
	}
	d, err := r.dictionary(c)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (r *Reader) dictionary(c *column) (*dictionary, error) {
	if d := c.dict.Load(); d != nil {
		return d, nil
	}
	payload, ok := r.section(c.dictRef)
	if !ok {
		return nil, r.corrupt(c, "dictionary: checksum mismatch")
	}
	d, err := r.decodeDictionary(payload, c)
	if err != nil {
		return nil, r.corrupt(c, "dictionary: %v", err)
	}
	if !c.dict.CompareAndSwap(nil, d) {
		d = c.dict.Load()
	}
	return d, nil
}

func (r *Reader) decodeDictionary(p []byte, c *column) (*dictionary, error) {
	n := uint64(c.dictLen)
	if uint64(len(p)) < 4*(n+1)+12*n {
		return nil, fmt.Errorf("%d bytes for %d values", len(p), n)
	}
	offs := make([]uint32, n+1)
	for i := range offs {
		offs[i] = binary.LittleEndian.Uint32(p[4*i:])
	}
	if offs[0] != 0 || uint64(len(p)) != 4*(n+1)+uint64(offs[n])+12*n {
		return nil, fmt.Errorf("%d bytes for %d values of %d bytes", len(p), n, offs[n])
	}
	for i := 1; i < len(offs); i++ {
		if offs[i] < offs[i-1] {
			return nil, fmt.Errorf("offset of value %d goes backwards", i)
		}
	}
	valStart := 4 * (n + 1)
	values := p[valStart : valStart+uint64(offs[n])]
	for i := uint64(1); i < n; i++ {
		if bytes.Compare(values[offs[i-1]:offs[i]], values[offs[i]:offs[i+1]]) >= 0 {
			return nil, fmt.Errorf("values %d and %d not in strictly increasing order", i-1, i)
		}
	}
	d := &dictionary{
		values:     string(values),
		offs:       offs,
		bitmapRefs: make([]sectionRef, n),
		bitmaps:    make([]atomic.Pointer[roaring.Bitmap], n),
	}
	refs := p[valStart+uint64(offs[n]):]
	for i := range d.bitmapRefs {
		ref := sectionRef{
			off: binary.LittleEndian.Uint64(refs[12*i:]),
			len: uint64(binary.LittleEndian.Uint32(refs[12*i+8:])),
		}
		if !r.validRef(ref) {
			return nil, fmt.Errorf("bitmap %d reference out of bounds", i)
		}
		d.bitmapRefs[i] = ref
	}
	if st := c.stats; n > 0 && (!st.HasMinMax || st.MinString != d.Value(0) || st.MaxString != d.Value(uint32(n-1))) {
		return nil, errors.New("first and last values disagree with the column statistics")
	}
	return d, nil
}

// Bitmap returns the rows of string column col whose dictionary id is id. The
// bitmap is decoded on first use, then shared; it is read-only.
func (r *Reader) Bitmap(col int, id uint32) (*roaring.Bitmap, error) {
	c, err := r.column(col, "Bitmap", storage.TypeString)
	if err != nil {
		return nil, err
	}
	d, err := r.dictionary(c)
	if err != nil {
		return nil, err
	}
	if int(id) >= d.Len() {
		return nil, fmt.Errorf("segment %s: column %s: dictionary id %d out of range [0,%d)", r.path, c.name, id, d.Len())
	}
	if bm := d.bitmaps[id].Load(); bm != nil {
		return bm, nil
	}
	payload, ok := r.section(d.bitmapRefs[id])
	if !ok {
		return nil, r.corrupt(c, "bitmap of id %d: checksum mismatch", id)
	}
	bm, err := decodeBitmap(payload, uint64(r.info.Rows))
	if err != nil {
		return nil, r.corrupt(c, "bitmap of id %d: %v", id, err)
	}
	if !d.bitmaps[id].CompareAndSwap(nil, bm) {
		bm = d.bitmaps[id].Load()
	}
	return bm, nil
}
