package lake

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/stratadb/strata/storage"
)

// numericLeaf checks that logical column column is a stored, non-nested,
// non-repeated column of the file whose physical type reads as RangeValues
// (see ReadValuesRange), and returns its leaf, its descriptor and, for
// timestamps, the scale to microseconds (multiply when > 0, floor-divide by
// -scale when < 0).
func (d *DataFile) numericLeaf(column string) (ci int, descr *schema.Column, scale int64, ok bool) {
	fd := d.snap.field(column)
	ci, isLeaf := d.leafColumn(column)
	if fd == nil || !isLeaf {
		return 0, nil, 0, false
	}
	descr = d.meta.Schema.Column(ci)
	if descr.MaxRepetitionLevel() != 0 || descr.MaxDefinitionLevel() > 1 {
		return 0, nil, 0, false
	}
	switch pt, name := descr.PhysicalType(), fd.Type.Name; {
	case pt == parquet.Types.Int32 && isIntegerType(name) && name != "long":
	case pt == parquet.Types.Int64 && name == "long":
	case pt == parquet.Types.Int64 && (name == "timestamp" || name == "timestamp_ntz"):
		ts, isTS := descr.LogicalType().(schema.TimestampLogicalType)
		if !isTS {
			return 0, nil, 0, false
		}
		switch ts.TimeUnit() {
		case schema.TimeUnitMicros:
		case schema.TimeUnitMillis:
			scale = 1000
		case schema.TimeUnitNanos:
			scale = -1000
		default:
			return 0, nil, 0, false
		}
	case pt == parquet.Types.Double && (name == "double" || name == "float"):
	case pt == parquet.Types.Float && (name == "double" || name == "float"):
	case pt == parquet.Types.Boolean && name == "boolean":
	default:
		return 0, nil, 0, false
	}
	return ci, descr, scale, true
}

// ReadValues reads logical column column of row group rg, which must have no
// deleted row, whole as Go values (see RangeValues), taking the chunk's bytes
// from pre when it holds them. Its pages are decoded here, not by arrow-go's
// record reader: PLAIN and dictionary-encoded data pages (V1 or V2) with RLE
// definition levels. ok is false, with no error, for what it does not read so:
// the columns ReadValuesRange declines, a row group with deleted rows, and
// chunks in other encodings (DELTA_BINARY_PACKED, BYTE_STREAM_SPLIT, RLE
// booleans) or encrypted. ReadColumnWith reads those.
func (d *DataFile) ReadValues(ctx context.Context, rg int, column string, pre *ChunkBytes) (out *RangeValues, ok bool, err error) {
	defer func() {
		if err != nil {
			out, ok = nil, false
			err = fmt.Errorf("lake: table %s: file %s: row group %d: column %s: %w", d.snap.table.name(), d.file.DecodedPath, rg, column, err)
		}
	}()
	if rg < 0 || rg >= len(d.live) {
		return nil, false, fmt.Errorf("no row group %d", rg)
	}
	if d.RowGroupHasDeletes(rg) {
		return nil, false, nil
	}
	rows := d.meta.RowGroup(rg).NumRows()
	return d.readValuesPages(ctx, rg, column, pre, 0, rows, false)
}

// readValuesPages reads rows [lo, hi) of a numeric column with this package's
// page decoder; seek: read page by page from the page holding lo on (a range
// read), else the whole chunk at once. ok is false when the column or an
// encoding met is not one it decodes.
func (d *DataFile) readValuesPages(ctx context.Context, rg int, column string, pre *ChunkBytes, lo, hi int64, seek bool) (out *RangeValues, ok bool, err error) {
	ci, descr, scale, isNum := d.numericLeaf(column)
	if !isNum {
		return nil, false, nil
	}
	cc, err := d.meta.RowGroup(rg).ColumnChunk(ci)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", storage.ErrCorrupt, err)
	}
	if cc.CryptoMetadata() != nil || !dictOrPlainEncoded(cc) {
		return nil, false, nil
	}
	r := d.snap.newTrackedReader(ctx, d.file)
	r.chunks = pre
	defer func() {
		if p := recover(); p != nil {
			if cp, isCaller := p.(callerPanic); isCaller {
				panic(cp.v)
			}
			out, ok, err = nil, false, r.classify(ctx, fmt.Errorf("parquet decoder failed: %v", p))
		}
	}()
	opts := []file.ReadOption{file.WithMetadata(d.meta)}
	if seek {
		props := parquet.NewReaderProperties(nil)
		props.BufferedStreamEnabled = true
		props.BufferSize = rangeBufferSize
		opts = append(opts, file.WithReadProps(props))
	}
	pr, err := file.NewParquetReader(r, opts...)
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	if seek {
		if err := onlyOffsetIndex(pr, rg, ci); err != nil {
			return nil, false, r.classify(ctx, err)
		}
	}
	pages, err := pr.RowGroup(rg).GetColumnPageReader(ci)
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	defer pages.Close()
	rows := d.meta.RowGroup(rg).NumRows()
	out, err = readNumPages(pages, descr.PhysicalType(), rows, descr.MaxDefinitionLevel() == 1, lo, hi, seek && lo > 0, cc.HasDictionaryPage())
	if err == errNotDictionary {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	switch {
	case scale > 0:
		for i, x := range out.Int64 {
			if x > math.MaxInt64/scale || x < math.MinInt64/scale {
				return nil, false, fmt.Errorf("%w: timestamp %d ms out of range", storage.ErrCorrupt, x)
			}
			out.Int64[i] = x * scale
		}
	case scale < 0:
		for i, x := range out.Int64 {
			out.Int64[i] = floorDiv(x, -scale)
		}
	}
	return out, true, nil
}

// numWidth is the PLAIN width in bytes of a value of physical type pt (0 for
// booleans, stored one bit each).
func numWidth(pt parquet.Type) int {
	switch pt {
	case parquet.Types.Int32, parquet.Types.Float:
		return 4
	case parquet.Types.Int64, parquet.Types.Double:
		return 8
	}
	return 0
}

// numPage is the values of one page or dictionary, by physical type: ints
// (INT32, INT64), floats (FLOAT, DOUBLE) or bools.
type numPage struct {
	ints   []int64
	floats []float64
	bools  []bool
}

// plainNums decodes n PLAIN values of physical type pt from b into dst
// (reset), checking b holds them.
func plainNums(dst *numPage, pt parquet.Type, b []byte, n int) error {
	w := numWidth(pt)
	need := n * w
	if pt == parquet.Types.Boolean {
		need = (n + 7) / 8
	}
	if n < 0 || need > len(b) {
		return fmt.Errorf("%w: %d values of %s in %d bytes", storage.ErrCorrupt, n, pt, len(b))
	}
	switch pt {
	case parquet.Types.Int32:
		dst.ints = resize(dst.ints, n)
		for i := range dst.ints {
			dst.ints[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case parquet.Types.Int64:
		dst.ints = resize(dst.ints, n)
		for i := range dst.ints {
			dst.ints[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
	case parquet.Types.Float:
		dst.floats = resize(dst.floats, n)
		for i := range dst.floats {
			dst.floats[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case parquet.Types.Double:
		dst.floats = resize(dst.floats, n)
		for i := range dst.floats {
			dst.floats[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
	case parquet.Types.Boolean:
		dst.bools = resize(dst.bools, n)
		for i := range dst.bools {
			dst.bools[i] = b[i>>3]>>(i&7)&1 == 1
		}
	default:
		return errNotDictionary
	}
	return nil
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// readNumPages decodes rows [lo, hi) of one column chunk of rows rows of
// physical type pt whose data pages are PLAIN or dictionary-encoded, as
// readDictPages does for text: optional, seek and hasDict alike.
func readNumPages(pages file.PageReader, pt parquet.Type, rows int64, optional bool, lo, hi int64, seek, hasDict bool) (*RangeValues, error) {
	n := int(hi - lo)
	out := &RangeValues{}
	switch pt {
	case parquet.Types.Int32, parquet.Types.Int64:
		out.Int64 = make([]int64, 0, n)
	case parquet.Types.Float, parquet.Types.Double:
		out.Float64 = make([]float64, 0, n)
	case parquet.Types.Boolean:
		out.Bool = make([]bool, 0, n)
	default:
		return nil, errNotDictionary
	}
	var dict numPage
	haveDict := false
	setDict := func(p *file.DictionaryPage) error {
		if haveDict || len(out.Int64)+len(out.Float64)+len(out.Bool) > 0 {
			return fmt.Errorf("%w: a second dictionary page, or one after data pages", storage.ErrCorrupt)
		}
		switch parquet.Encoding(p.Encoding()) {
		case parquet.Encodings.Plain, parquet.Encodings.PlainDict:
		default:
			return errNotDictionary
		}
		if pt == parquet.Types.Boolean {
			return errNotDictionary
		}
		if err := plainNums(&dict, pt, p.Data(), int(p.NumValues())); err != nil {
			return fmt.Errorf("dictionary page: %w", err)
		}
		haveDict = true
		return nil
	}
	next, err := pageCursor(pages, lo, seek, hasDict, setDict)
	if err != nil {
		return nil, err
	}
	var levels, ids []uint32 // scratch: a page's definition levels and dictionary ids
	var vals numPage         // scratch: a page's present values
	got := 0
	pageEnd := int64(-1)
	for next() {
		switch p := pages.Page().(type) {
		case *file.DictionaryPage:
			if err := setDict(p); err != nil {
				return nil, err
			}
		case *file.DataPageV1, *file.DataPageV2:
			dp := p.(file.DataPage)
			pn := int(dp.NumValues())
			first := dp.FirstRowIndex()
			if pn < 0 || first < 0 || first+int64(pn) > rows || (pageEnd >= 0 && first != pageEnd) {
				return nil, fmt.Errorf("%w: a data page of rows [%d, %d) in a row group of %d", storage.ErrCorrupt, first, first+int64(pn), rows)
			}
			pageEnd = first + int64(pn)
			if pageEnd <= lo {
				continue // before the range
			}
			data := dp.Data()
			present := pn
			if optional {
				var err error
				if data, levels, present, err = defLevels(p, data, pn, levels); err != nil {
					return nil, err
				}
			} else if v, isV2 := p.(*file.DataPageV2); isV2 && (v.DefinitionLevelByteLen() != 0 || v.RepetitionLevelByteLen() != 0) {
				return nil, fmt.Errorf("%w: levels in a required column's page", storage.ErrCorrupt)
			}
			switch parquet.Encoding(dp.Encoding()) {
			case parquet.Encodings.Plain:
				if err := plainNums(&vals, pt, data, present); err != nil {
					return nil, err
				}
			case parquet.Encodings.RLEDict, parquet.Encodings.PlainDict:
				if !haveDict {
					return nil, fmt.Errorf("%w: a dictionary-encoded data page without a dictionary page before it", storage.ErrCorrupt)
				}
				ids = resize(ids, present)
				if present > 0 {
					if len(data) < 1 || data[0] > 32 {
						return nil, fmt.Errorf("%w: dictionary indices: no bit width, or over 32", storage.ErrCorrupt)
					}
					if err := decodeHybrid(ids, data[1:], int(data[0])); err != nil {
						return nil, fmt.Errorf("dictionary indices: %w", err)
					}
				}
				nd := uint32(len(dict.ints) + len(dict.floats))
				for _, id := range ids {
					if id >= nd {
						return nil, fmt.Errorf("%w: dictionary index %d of %d values", storage.ErrCorrupt, id, nd)
					}
				}
				if dict.ints != nil {
					vals.ints = resize(vals.ints, present)
					for i, id := range ids {
						vals.ints[i] = dict.ints[id]
					}
				} else {
					vals.floats = resize(vals.floats, present)
					for i, id := range ids {
						vals.floats[i] = dict.floats[id]
					}
				}
			default:
				return nil, errNotDictionary
			}
			// Rows [a, b) of the page are wanted; present values are spread
			// over the page's rows by the definition levels.
			a, b := int(max(lo, first)-first), int(min(hi, pageEnd)-first)
			if present == pn {
				switch {
				case out.Int64 != nil:
					out.Int64 = append(out.Int64, vals.ints[a:b]...)
				case out.Float64 != nil:
					out.Float64 = append(out.Float64, vals.floats[a:b]...)
				default:
					out.Bool = append(out.Bool, vals.bools[a:b]...)
				}
				got += b - a
				break
			}
			k := 0 // present values before row a
			for _, l := range levels[:a] {
				k += int(l)
			}
			for r := a; r < b; r++ {
				if levels[r] == 0 {
					out.Nulls = append(out.Nulls, uint32(got+r-a))
				}
			}
			switch {
			case out.Int64 != nil:
				out.Int64 = spreadPresent(out.Int64, vals.ints, levels[a:b], k)
			case out.Float64 != nil:
				out.Float64 = spreadPresent(out.Float64, vals.floats, levels[a:b], k)
			default:
				out.Bool = spreadPresent(out.Bool, vals.bools, levels[a:b], k)
			}
			got += b - a
		default:
			// Index pages and unknown page types carry no rows.
		}
		if got == n && (haveDict || !hasDict) {
			break
		}
	}
	if err := pages.Err(); err != nil {
		return nil, err
	}
	if got != n {
		return nil, fmt.Errorf("%w: read %d rows of [%d, %d), the footer says %d", storage.ErrCorrupt, got, lo, hi, rows)
	}
	return out, nil
}

// spreadPresent appends a value per level to dst: the next of vals (from k on)
// for a level 1, zero for a level 0 (a NULL).
func spreadPresent[T any](dst, vals []T, levels []uint32, k int) []T {
	var zero T
	for _, l := range levels {
		if l == 1 {
			dst = append(dst, vals[k])
			k++
		} else {
			dst = append(dst, zero)
		}
	}
	return dst
}
