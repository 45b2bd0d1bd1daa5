package lake

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// INT96 timestamps (Spark's legacy format: 8 bytes LE nanoseconds of the day, 4
// bytes LE Julian day) are decoded here straight to microseconds, because pqarrow
// converts them to nanoseconds and fails beyond year 2262 (test table
// table_with_edge_timestamps holds year 9999).
const julianUnixEpoch = 2440588

func int96Micros(v parquet.Int96) int64 {
	nanos := int64(binary.LittleEndian.Uint64(v[:8]))
	day := int64(binary.LittleEndian.Uint32(v[8:]))
	return (day-julianUnixEpoch)*86400e6 + floorDiv(nanos, 1000)
}

// int96Column is a whole top-level INT96 column of a file, in microseconds.
type int96Column struct {
	micros []int64
	null   []bool
}

func readInt96Column(pr *file.Reader, col int) (*int96Column, error) {
	out := &int96Column{}
	for rg := 0; rg < pr.NumRowGroups(); rg++ {
		if err := out.appendRowGroup(pr, col, rg); err != nil {
			return nil, err
		}
	}
	if int64(len(out.micros)) != pr.NumRows() {
		return nil, fmt.Errorf("column %s: %d values for %d rows", pr.MetaData().Schema.Column(col).Name(), len(out.micros), pr.NumRows())
	}
	return out, nil
}

// appendRowGroup appends the values of INT96 column col of row group rg.
func (out *int96Column) appendRowGroup(pr *file.Reader, col, rg int) error {
	descr := pr.MetaData().Schema.Column(col)
	maxDef := descr.MaxDefinitionLevel()
	if descr.MaxRepetitionLevel() != 0 {
		return fmt.Errorf("repeated INT96 column %s", descr.Name())
	}
	const batch = 4096
	vals := make([]parquet.Int96, batch)
	defs := make([]int16, batch)
	cr, err := pr.RowGroup(rg).Column(col)
	if err != nil {
		return err
	}
	r, ok := cr.(*file.Int96ColumnChunkReader)
	if !ok {
		return fmt.Errorf("column %s is not INT96", descr.Name())
	}
	for r.HasNext() {
		total, nv, err := r.ReadBatch(batch, vals, defs, nil)
		if err != nil {
			return err
		}
		if maxDef == 0 {
			for i := 0; i < nv; i++ {
				out.micros = append(out.micros, int96Micros(vals[i]))
				out.null = append(out.null, false)
			}
			continue
		}
		k := 0
		for i := 0; i < int(total); i++ {
			if defs[i] == maxDef {
				if k >= nv {
					return fmt.Errorf("column %s: more defined levels than values", descr.Name())
				}
				out.micros = append(out.micros, int96Micros(vals[k]))
				out.null = append(out.null, false)
				k++
			} else {
				out.micros = append(out.micros, 0)
				out.null = append(out.null, true)
			}
		}
	}
	return nil
}

// slice builds rows [from, from+n) as a timestamp array of type t.
func (c *int96Column) slice(mem memory.Allocator, t arrow.DataType, from, n int64) (arrow.Array, error) {
	tt, ok := t.(*arrow.TimestampType)
	if !ok {
		return nil, fmt.Errorf("cannot read Parquet INT96 as %s", t)
	}
	b := array.NewTimestampBuilder(mem, tt)
	defer b.Release()
	b.Reserve(int(n))
	for i := from; i < from+n; i++ {
		if c.null[i] {
			b.AppendNull()
		} else {
			b.UnsafeAppend(arrow.Timestamp(c.micros[i]))
		}
	}
	return b.NewArray(), nil
}
