package lake

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/stratadb/strata/storage"
)

// DictIDs is a string column chunk of one row group read as a list of values
// and, per row, the index into it, as the file stores them: the dictionary
// page is decoded once into Values and the dictionary-encoded data pages'
// RLE/bit-packed indices into IDs, so no such row's value is materialized or
// hashed. A data page stored PLAIN (a writer's fallback once its dictionary
// grew too big, or a chunk without dictionary) appends its values to Values,
// its rows indexing them in order.
//
// Values are the dictionary page's values in its order, then the PLAIN pages'
// values. They need not be distinct (a PLAIN page repeats values, and the
// Parquet format does not promise a distinct dictionary either), nor is every
// one used; callers that need either check. IDs holds one index per live row
// (the deletion vector applied), each < len(Values); a NULL row's index is 0
// and its row is in Nulls (ascending live row numbers; nil when no row is
// NULL).
type DictIDs struct {
	Values []string
	IDs    []uint32
	Nulls  []uint32
}

// errNotDictionary stops ReadDictIDs when a page turns out to be encoded
// otherwise than the footer said, in an encoding it does not decode: the
// caller reads the chunk the general way (which reports a real corruption).
var errNotDictionary = errors.New("not dictionary-encoded")

// ReadDictIDs reads logical string column column of row group rg as
// values and indices (see DictIDs), taking the chunk's bytes from pre when it
// holds them. ok is false, with no error, when the chunk cannot be read so:
// not a plain (non-nested, non-repeated) BYTE_ARRAY string column of the file,
// a partition column, a data page neither dictionary-encoded nor PLAIN (the
// DELTA encodings), encrypted chunks, or level encodings other than RLE.
// ReadColumnWith reads those.
func (d *DataFile) ReadDictIDs(ctx context.Context, rg int, column string, pre *ChunkBytes) (out *DictIDs, ok bool, err error) {
	return d.readDictIDs(ctx, rg, column, pre, 0, -1)
}

// ReadDictIDsRange is ReadDictIDs for rows [lo, hi) of row group rg, which
// must have no deleted row: only the dictionary page and the data pages
// holding those rows are fetched, located by the file's offset index (without
// one, the pages before lo are read and skipped).
func (d *DataFile) ReadDictIDsRange(ctx context.Context, rg int, column string, lo, hi int64) (out *DictIDs, ok bool, err error) {
	if rg >= 0 && rg < len(d.live) && (lo < 0 || hi < lo || hi > d.meta.RowGroup(rg).NumRows() || d.RowGroupHasDeletes(rg)) {
		return nil, false, fmt.Errorf("lake: file %s: row group %d: rows [%d, %d) cannot be read apart", d.file.DecodedPath, rg, lo, hi)
	}
	return d.readDictIDs(ctx, rg, column, nil, lo, hi)
}

// readDictIDs reads rows [lo, hi) (hi < 0: all rows, the deletion vector
// applied).
func (d *DataFile) readDictIDs(ctx context.Context, rg int, column string, pre *ChunkBytes, lo, hi int64) (out *DictIDs, ok bool, err error) {
	defer func() {
		if err != nil {
			out, ok = nil, false
			err = fmt.Errorf("lake: table %s: file %s: row group %d: column %s: %w", d.snap.table.name(), d.file.DecodedPath, rg, column, err)
		}
	}()
	if rg < 0 || rg >= len(d.live) {
		return nil, false, fmt.Errorf("no row group %d", rg)
	}
	fd := d.snap.field(column)
	if fd == nil || fd.Type.Name != "string" {
		return nil, false, nil
	}
	ci, isLeaf := d.leafColumn(column)
	if !isLeaf {
		return nil, false, nil
	}
	descr := d.meta.Schema.Column(ci)
	if descr.PhysicalType() != parquet.Types.ByteArray || descr.MaxRepetitionLevel() != 0 || descr.MaxDefinitionLevel() > 1 {
		return nil, false, nil
	}
	cc, err := d.meta.RowGroup(rg).ColumnChunk(ci)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", storage.ErrCorrupt, err)
	}
	if cc.CryptoMetadata() != nil || !dictOrPlainEncoded(cc) {
		return nil, false, nil
	}
	rows := d.meta.RowGroup(rg).NumRows()
	whole := hi < 0
	if whole {
		lo, hi = 0, rows
	}
	r := d.snap.newTrackedReader(ctx, d.file)
	r.chunks = pre
	defer func() {
		if p := recover(); p != nil {
			if cp, isCaller := p.(callerPanic); isCaller {
				panic(cp.v)
			}
			err = r.classify(ctx, fmt.Errorf("parquet decoder failed: %v", p))
		}
	}()
	var opts []file.ReadOption
	opts = append(opts, file.WithMetadata(d.meta))
	if !whole {
		// Read pages as they are asked for, not the whole chunk at once.
		props := parquet.NewReaderProperties(nil)
		props.BufferedStreamEnabled = true
		props.BufferSize = rangeBufferSize
		opts = append(opts, file.WithReadProps(props))
	}
	pr, err := file.NewParquetReader(r, opts...)
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	if !whole {
		if err := onlyOffsetIndex(pr, rg, ci); err != nil {
			return nil, false, r.classify(ctx, err)
		}
	}
	pages, err := pr.RowGroup(rg).GetColumnPageReader(ci)
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	defer pages.Close()
	res, err := readDictPages(pages, rows, descr.MaxDefinitionLevel() == 1, lo, hi, !whole && lo > 0, cc.HasDictionaryPage())
	if errors.Is(err, errNotDictionary) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	if whole && d.live[rg] != rows {
		res = d.dropDeletedIDs(res, d.rgStart[rg])
	}
	return res, true, nil
}

// rangeBufferSize is the read size of a page-by-page read of a column chunk
// (a read of some of its rows).
const rangeBufferSize = 16 << 10

// readDictPages decodes the pages of one column chunk of rows rows whose data
// pages are dictionary-encoded or PLAIN, keeping rows [lo, hi). optional: the
// column's max definition level is 1. seek: position at the page holding row
// lo first (by the offset index when the file has one), reading the
// dictionary page apart when the chunk has one (hasDict).
func readDictPages(pages file.PageReader, rows int64, optional bool, lo, hi int64, seek, hasDict bool) (*DictIDs, error) {
	out := &DictIDs{IDs: make([]uint32, 0, hi-lo)}
	haveDict := false
	setDict := func(p *file.DictionaryPage) error {
		if haveDict || len(out.Values) > 0 {
			return fmt.Errorf("%w: a second dictionary page, or one after data pages", storage.ErrCorrupt)
		}
		switch parquet.Encoding(p.Encoding()) {
		case parquet.Encodings.Plain, parquet.Encodings.PlainDict:
		default:
			return errNotDictionary
		}
		vals, err := PlainByteArrays(p.Data(), int(p.NumValues()))
		if err != nil {
			return fmt.Errorf("dictionary page: %w", err)
		}
		out.Values, haveDict = vals, true
		return nil
	}
	next, err := pageCursor(pages, lo, seek, hasDict, setDict)
	if err != nil {
		return nil, err
	}
	nDict := uint32(len(out.Values)) // the dictionary's values; PLAIN pages' follow
	var levels, ids []uint32         // scratch: a page's definition levels and ids
	var nulls []uint32               // scratch: a page's NULL rows
	pageEnd := int64(-1)
	for next() {
		switch p := pages.Page().(type) {
		case *file.DictionaryPage:
			if err := setDict(p); err != nil {
				return nil, err
			}
			nDict = uint32(len(out.Values))
		case *file.DataPageV1, *file.DataPageV2:
			dp := p.(file.DataPage)
			plain := false
			switch parquet.Encoding(dp.Encoding()) {
			case parquet.Encodings.RLEDict, parquet.Encodings.PlainDict:
				if !haveDict {
					return nil, fmt.Errorf("%w: a dictionary-encoded data page without a dictionary page before it", storage.ErrCorrupt)
				}
			case parquet.Encodings.Plain:
				plain = true
			default:
				return nil, errNotDictionary
			}
			n := int(dp.NumValues())
			first := dp.FirstRowIndex()
			if n < 0 || first < 0 || first+int64(n) > rows || (pageEnd >= 0 && first != pageEnd) {
				return nil, fmt.Errorf("%w: a data page of rows [%d, %d) in a row group of %d", storage.ErrCorrupt, first, first+int64(n), rows)
			}
			pageEnd = first + int64(n)
			if first+int64(n) <= lo {
				continue // before the range
			}
			if cap(ids) < n {
				ids = make([]uint32, n)
			}
			ids, nulls = ids[:n], nulls[:0]
			var err error
			if plain {
				levels, err = decodePlainTextPage(p, dp.Data(), optional, out, ids, levels, &nulls)
			} else {
				levels, err = decodeDictPage(p, dp.Data(), optional, nDict, ids, levels, &nulls)
			}
			if err != nil {
				return nil, err
			}
			a, b := max(lo, first)-first, min(hi, first+int64(n))-first
			before := int64(len(out.IDs))
			out.IDs = append(out.IDs, ids[a:b]...)
			for _, r := range nulls {
				if int64(r) >= a && int64(r) < b {
					out.Nulls = append(out.Nulls, uint32(before+int64(r)-a))
				}
			}
		default:
			// Index pages and unknown page types carry no rows.
		}
		if int64(len(out.IDs)) == hi-lo && (haveDict || !hasDict) {
			break
		}
	}
	if err := pages.Err(); err != nil {
		return nil, err
	}
	if int64(len(out.IDs)) != hi-lo {
		return nil, fmt.Errorf("%w: read %d rows of [%d, %d), the footer says %d", storage.ErrCorrupt, len(out.IDs), lo, hi, rows)
	}
	return out, nil
}

// decodePlainTextPage decodes the n = len(ids) rows of PLAIN BYTE_ARRAY data
// page p (data: its bytes): the values are appended to out.Values and each
// present row's id is its value's index there; NULL rows (page row numbers,
// ascending) are appended to nulls with id 0. levels is scratch, returned for
// reuse.
func decodePlainTextPage(p file.Page, data []byte, optional bool, out *DictIDs, ids, levels []uint32, nulls *[]uint32) ([]uint32, error) {
	n := len(ids)
	present := n
	var err error
	if optional {
		if data, levels, present, err = defLevels(p, data, n, levels); err != nil {
			return levels, err
		}
	} else if v, isV2 := p.(*file.DataPageV2); isV2 && (v.DefinitionLevelByteLen() != 0 || v.RepetitionLevelByteLen() != 0) {
		return levels, fmt.Errorf("%w: levels in a required column's page", storage.ErrCorrupt)
	}
	base := len(out.Values)
	if base+present > math.MaxUint32 {
		return levels, fmt.Errorf("%w: more than 2^32 values in a column chunk", storage.ErrCorrupt)
	}
	vals, err := plainByteArrays(data, present, false)
	if err != nil {
		return levels, fmt.Errorf("PLAIN values: %w", err)
	}
	out.Values = append(out.Values, vals...)
	if present == n {
		for i := range ids {
			ids[i] = uint32(base + i)
		}
		return levels, nil
	}
	k := base
	for r := range ids {
		if levels[r] == 1 {
			ids[r] = uint32(k)
			k++
		} else {
			ids[r] = 0
			*nulls = append(*nulls, uint32(r))
		}
	}
	return levels, nil
}

// defLevels splits a data page of a column with max definition level 1 into
// its definition levels, decoded into levels (n of them, each 0 or 1), and the
// bytes of its values; present counts the levels that are 1.
func defLevels(p file.Page, data []byte, n int, levels []uint32) (rest []byte, _ []uint32, present int, err error) {
	var lv []byte
	switch v := p.(type) {
	case *file.DataPageV1:
		if parquet.Encoding(v.DefinitionLevelEncoding()) != parquet.Encodings.RLE {
			return nil, levels, 0, errNotDictionary
		}
		if len(data) < 4 {
			return nil, levels, 0, fmt.Errorf("%w: definition levels: truncated length", storage.ErrCorrupt)
		}
		l := int(binary.LittleEndian.Uint32(data))
		if l < 0 || l > len(data)-4 {
			return nil, levels, 0, fmt.Errorf("%w: definition levels: length %d past the page end", storage.ErrCorrupt, l)
		}
		lv, data = data[4:4+l], data[4+l:]
	case *file.DataPageV2:
		l, rl := int(v.DefinitionLevelByteLen()), int(v.RepetitionLevelByteLen())
		if l < 0 || rl != 0 || l > len(data) {
			return nil, levels, 0, fmt.Errorf("%w: definition levels: length %d of a %d-byte page", storage.ErrCorrupt, l, len(data))
		}
		lv, data = data[:l], data[l:]
	}
	if cap(levels) < n {
		levels = make([]uint32, n)
	}
	levels = levels[:n]
	if err := decodeHybrid(levels, lv, 1); err != nil {
		return nil, levels, 0, fmt.Errorf("definition levels: %w", err)
	}
	for _, l := range levels {
		present += int(l)
	}
	return data, levels, present, nil
}

// decodeDictPage decodes the n = len(ids) rows of dictionary-encoded data page
// p (data: its bytes) into ids, appending its NULL rows (page row numbers,
// ascending) to nulls. nd is the dictionary's size; levels is scratch, returned
// for reuse.
func decodeDictPage(p file.Page, data []byte, optional bool, nd uint32, ids, levels []uint32, nulls *[]uint32) ([]uint32, error) {
	n := len(ids)
	present := n
	if optional {
		var err error
		if data, levels, present, err = defLevels(p, data, n, levels); err != nil {
			return levels, err
		}
	} else if v, isV2 := p.(*file.DataPageV2); isV2 && (v.DefinitionLevelByteLen() != 0 || v.RepetitionLevelByteLen() != 0) {
		return levels, fmt.Errorf("%w: levels in a required column's page", storage.ErrCorrupt)
	}
	if present > 0 {
		if len(data) < 1 {
			return levels, fmt.Errorf("%w: dictionary indices: no bit width", storage.ErrCorrupt)
		}
		width := int(data[0])
		if width > 32 {
			return levels, fmt.Errorf("%w: dictionary indices: bit width %d", storage.ErrCorrupt, width)
		}
		// Present rows' indices go to the front of ids, then move to their
		// rows (back to front, so none is overwritten unread).
		if err := decodeHybrid(ids[:present], data[1:], width); err != nil {
			return levels, fmt.Errorf("dictionary indices: %w", err)
		}
		for _, id := range ids[:present] {
			if id >= nd {
				return levels, fmt.Errorf("%w: dictionary index %d of %d values", storage.ErrCorrupt, id, nd)
			}
		}
	}
	if present < n {
		first := len(*nulls)
		k := present - 1
		for r := n - 1; r >= 0; r-- {
			if levels[r] == 1 {
				ids[r] = ids[k]
				k--
			} else {
				ids[r] = 0
				*nulls = append(*nulls, uint32(r))
			}
		}
		slices.Reverse((*nulls)[first:])
	}
	return levels, nil
}

// dropDeletedIDs keeps the live rows of c, whose first row is file row base.
func (d *DataFile) dropDeletedIDs(c *DictIDs, base int64) *DictIDs {
	out := &DictIDs{Values: c.Values, IDs: c.IDs[:0]}
	ni := 0
	for r, id := range c.IDs {
		isNull := ni < len(c.Nulls) && c.Nulls[ni] == uint32(r)
		if isNull {
			ni++
		}
		if d.dv.Contains(uint64(base + int64(r))) {
			continue
		}
		if isNull {
			out.Nulls = append(out.Nulls, uint32(len(out.IDs)))
		}
		out.IDs = append(out.IDs, id)
	}
	return out
}

// decodeHybrid decodes len(dst) values of bit width width (0..32) from the
// Parquet RLE/bit-packing hybrid encoding in b: runs of a ULEB128 header whose
// low bit is 1 for a bit-packed run (header>>1 groups of 8 values, width bits
// each, LSB first) and 0 for a repeated run (header>>1 copies of one value
// stored in ceil(width/8) little-endian bytes).
func decodeHybrid(dst []uint32, b []byte, width int) error {
	if width < 0 || width > 32 {
		return fmt.Errorf("%w: bit width %d", storage.ErrCorrupt, width)
	}
	mask := uint64(1)<<width - 1
	n := 0
	for n < len(dst) {
		h, k := binary.Uvarint(b)
		if k <= 0 {
			return fmt.Errorf("%w: run header at value %d of %d", storage.ErrCorrupt, n, len(dst))
		}
		b = b[k:]
		if h&1 == 0 { // repeated run
			cnt := h >> 1
			nb := (width + 7) / 8
			if len(b) < nb {
				return fmt.Errorf("%w: truncated repeated run", storage.ErrCorrupt)
			}
			var v uint32
			for i := 0; i < nb; i++ {
				v |= uint32(b[i]) << (8 * i)
			}
			b = b[nb:]
			if uint64(v) > mask {
				return fmt.Errorf("%w: repeated value %d wider than %d bits", storage.ErrCorrupt, v, width)
			}
			if cnt == 0 {
				return fmt.Errorf("%w: empty repeated run", storage.ErrCorrupt)
			}
			m := int(min(cnt, uint64(len(dst)-n)))
			run := dst[n : n+m]
			for i := range run {
				run[i] = v
			}
			n += m
			continue
		}
		groups := h >> 1
		if groups == 0 {
			return fmt.Errorf("%w: empty bit-packed run", storage.ErrCorrupt)
		}
		vals := groups * 8
		bytes := uint64(0)
		if width > 0 {
			if groups > uint64(len(b)) {
				groups = uint64(len(b)) // bytes >= groups: bounds the product
			}
			bytes = groups * uint64(width)
			if bytes > uint64(len(b)) {
				// A writer may end a page's last run early: take the values
				// the bytes hold.
				bytes = uint64(len(b))
			}
			vals = min(vals, bytes*8/uint64(width))
		}
		m := int(min(vals, uint64(len(dst)-n)))
		if m == 0 {
			return fmt.Errorf("%w: truncated bit-packed run", storage.ErrCorrupt)
		}
		unpack(dst[n:n+m], b[:bytes], uint(width), mask)
		n += m
		b = b[bytes:]
	}
	return nil
}

// unpack reads len(dst) values of width bits, LSB first, from b, which holds
// at least len(dst)*width bits.
func unpack(dst []uint32, b []byte, width uint, mask uint64) {
	if width == 0 {
		clear(dst)
		return
	}
	var acc uint64
	var have uint
	p := 0
	for i := range dst {
		if have < width {
			// Refill: 4 bytes at once when they are there.
			if p+4 <= len(b) {
				acc |= uint64(binary.LittleEndian.Uint32(b[p:])) << have
				p += 4
				have += 32
			} else {
				for have < width {
					acc |= uint64(b[p]) << have
					p++
					have += 8
				}
			}
		}
		dst[i] = uint32(acc & mask)
		acc >>= width
		have -= width
	}
}

// pageCursor returns the function that steps through the pages of a column
// chunk (pages.Page is then the current one). With seek, the dictionary page,
// when the chunk has one (hasDict), goes to setDict first, and the cursor starts
// at the page holding row lo (by the offset index) instead of the first page.
func pageCursor(pages file.PageReader, lo int64, seek, hasDict bool, setDict func(*file.DictionaryPage) error) (func() bool, error) {
	if !seek {
		return pages.Next, nil
	}
	if hasDict {
		dp, err := pages.GetDictionaryPage()
		if err != nil {
			return nil, err
		}
		if dp == nil {
			return nil, errNotDictionary
		}
		if err := setDict(dp); err != nil {
			return nil, err
		}
	}
	if err := pages.SeekToPageWithRow(lo); err != nil {
		return nil, err
	}
	first := true
	return func() bool {
		if first {
			first = false
			return pages.Page() != nil
		}
		return pages.Next()
	}, nil
}
