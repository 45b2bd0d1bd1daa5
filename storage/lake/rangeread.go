package lake

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"

	"github.com/stratadb/strata/storage"
)

// RangeValues are rows [lo, hi) of a numeric, timestamp or boolean column
// chunk as Go values, one per row: Int64 for integer types and timestamps (in
// microseconds), Float64 for float and double, Bool for booleans. A NULL
// row's value is zero and its row (counted from lo) is in Nulls, ascending.
type RangeValues struct {
	Int64   []int64
	Float64 []float64
	Bool    []bool
	Nulls   []uint32
}

// ReadValuesRange reads rows [lo, hi) of logical column column of row group
// rg, which must have no deleted row: only the pages holding those rows are
// fetched, located by the file's offset index (without one, earlier pages are
// read and skipped), and decoded as ReadValues decodes them (other encodings
// by arrow-go's column chunk reader). ok is false,
// with no error, for columns it does not read so (strings, decimals, dates,
// nested or repeated columns, INT96 or other physical types than the Delta
// type's usual one, encrypted chunks): read those whole with ReadColumnWith.
func (d *DataFile) ReadValuesRange(ctx context.Context, rg int, column string, lo, hi int64) (out *RangeValues, ok bool, err error) {
	defer func() {
		if err != nil {
			out, ok = nil, false
			err = fmt.Errorf("lake: table %s: file %s: row group %d: column %s: %w", d.snap.table.name(), d.file.DecodedPath, rg, column, err)
		}
	}()
	if rg < 0 || rg >= len(d.live) || lo < 0 || hi < lo || hi > d.meta.RowGroup(rg).NumRows() || d.RowGroupHasDeletes(rg) {
		return nil, false, fmt.Errorf("rows [%d, %d) cannot be read apart", lo, hi)
	}
	// PLAIN and dictionary-encoded pages are decoded here; other encodings
	// by arrow-go's column chunk reader below.
	if out, ok, err := d.readValuesPages(ctx, rg, column, nil, lo, hi, true); ok || err != nil {
		return out, ok, err
	}
	ci, descr, scale, ok := d.numericLeaf(column)
	if !ok {
		return nil, false, nil
	}
	cc, err := d.meta.RowGroup(rg).ColumnChunk(ci)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", storage.ErrCorrupt, err)
	}
	if cc.CryptoMetadata() != nil {
		return nil, false, nil
	}
	r := d.snap.newTrackedReader(ctx, d.file)
	defer func() {
		if p := recover(); p != nil {
			if cp, isCaller := p.(callerPanic); isCaller {
				panic(cp.v)
			}
			err = r.classify(ctx, fmt.Errorf("parquet decoder failed: %v", p))
		}
	}()
	props := parquet.NewReaderProperties(nil)
	props.BufferedStreamEnabled = true
	props.BufferSize = rangeBufferSize
	pr, err := file.NewParquetReader(r, file.WithMetadata(d.meta), file.WithReadProps(props))
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	if err := onlyOffsetIndex(pr, rg, ci); err != nil {
		return nil, false, r.classify(ctx, err)
	}
	ccr, err := pr.RowGroup(rg).Column(ci)
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	n := int(hi - lo)
	out = &RangeValues{}
	if n == 0 {
		return out, true, nil
	}
	if lo > 0 {
		if err := ccr.SeekToRow(lo); err != nil {
			return nil, false, r.classify(ctx, err)
		}
	}
	var def []int16
	if descr.MaxDefinitionLevel() == 1 {
		def = make([]int16, n)
	}
	var got int
	switch cr := ccr.(type) {
	case *file.Int32ColumnChunkReader:
		v := make([]int32, n)
		got, err = readLevels(n, def, func(k int, b int64, d []int16) (int64, int, error) { return cr.ReadBatch(b, v[k:], d, nil) })
		out.Int64 = make([]int64, n)
		for i, x := range v[:got] {
			out.Int64[i] = int64(x)
		}
	case *file.Int64ColumnChunkReader:
		out.Int64 = make([]int64, n)
		got, err = readLevels(n, def, func(k int, b int64, d []int16) (int64, int, error) {
			return cr.ReadBatch(b, out.Int64[k:], d, nil)
		})
		switch {
		case scale > 0:
			for i, x := range out.Int64[:got] {
				if x > math.MaxInt64/scale || x < math.MinInt64/scale {
					return nil, false, fmt.Errorf("%w: timestamp %d ms out of range", storage.ErrCorrupt, x)
				}
				out.Int64[i] = x * scale
			}
		case scale < 0:
			for i, x := range out.Int64[:got] {
				out.Int64[i] = floorDiv(x, -scale)
			}
		}
	case *file.Float32ColumnChunkReader:
		v := make([]float32, n)
		got, err = readLevels(n, def, func(k int, b int64, d []int16) (int64, int, error) { return cr.ReadBatch(b, v[k:], d, nil) })
		out.Float64 = make([]float64, n)
		for i, x := range v[:got] {
			out.Float64[i] = float64(x)
		}
	case *file.Float64ColumnChunkReader:
		out.Float64 = make([]float64, n)
		got, err = readLevels(n, def, func(k int, b int64, d []int16) (int64, int, error) {
			return cr.ReadBatch(b, out.Float64[k:], d, nil)
		})
	case *file.BooleanColumnChunkReader:
		out.Bool = make([]bool, n)
		got, err = readLevels(n, def, func(k int, b int64, d []int16) (int64, int, error) {
			return cr.ReadBatch(b, out.Bool[k:], d, nil)
		})
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	if def == nil {
		if got != n {
			return nil, false, fmt.Errorf("%w: %d values for %d rows", storage.ErrCorrupt, got, n)
		}
		return out, true, nil
	}
	// Spread the got present values over the rows, back to front.
	k := got - 1
	for i := n - 1; i >= 0; i-- {
		present := def[i] == 1
		if present && k < 0 || !present && k >= i {
			return nil, false, fmt.Errorf("%w: %d values for the definition levels of %d rows", storage.ErrCorrupt, got, n)
		}
		switch {
		case out.Int64 != nil:
			out.Int64[i] = spread(out.Int64, i, k, present)
		case out.Float64 != nil:
			out.Float64[i] = spread(out.Float64, i, k, present)
		default:
			out.Bool[i] = spread(out.Bool, i, k, present)
		}
		if present {
			k--
		} else {
			out.Nulls = append(out.Nulls, uint32(i))
		}
	}
	if k != -1 {
		return nil, false, fmt.Errorf("%w: %d values for the definition levels of %d rows", storage.ErrCorrupt, got, n)
	}
	for i, j := 0, len(out.Nulls)-1; i < j; i, j = i+1, j-1 {
		out.Nulls[i], out.Nulls[j] = out.Nulls[j], out.Nulls[i]
	}
	return out, true, nil
}

func spread[T any](v []T, i, k int, present bool) T {
	if present {
		return v[k]
	}
	var zero T
	return zero
}

// readLevels calls read until n levels were read (read is given where its
// values go, how many levels to read at most, and the definition levels to
// fill, nil for a required column), returning the values read.
func readLevels(n int, def []int16, read func(k int, batch int64, d []int16) (int64, int, error)) (int, error) {
	levels, vals := 0, 0
	for levels < n {
		var d []int16
		if def != nil {
			d = def[levels:]
		}
		// For a required column a level is a value: index values by levels.
		k := vals
		if def == nil {
			k = levels
		}
		total, got, err := read(k, int64(n-levels), d)
		if err != nil {
			return vals, err
		}
		if total == 0 {
			return vals, fmt.Errorf("%w: the chunk ends after %d of %d rows", storage.ErrCorrupt, levels, n)
		}
		levels += int(total)
		vals += got
	}
	return vals, nil
}

// onlyOffsetIndex tells pr's page index reader that a seek in column ci of
// row group rg needs that column's offset index alone (by default it reads
// the row group's column and offset indexes of every column).
func onlyOffsetIndex(pr *file.Reader, rg, ci int) error {
	pir := pr.GetPageIndexReader()
	if pir == nil {
		return nil
	}
	return pir.WillNeed([]int32{int32(rg)}, []int32{int32(ci)}, metadata.PageIndexSelection{OffsetIndex: true})
}
