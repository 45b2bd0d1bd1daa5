package segment

import (
	"encoding/binary"
	"math"

	"github.com/stratadb/strata/storage"
)

// Column sums (format version 2): the directory ends with the sum of every
// int64 and float64 column, so that an aggregate over a whole segment reads
// them instead of the column (storage.Summer). Version 1 files have none.

// intSum returns the exact sum of the non-NULL values of vals as
// storage.ColumnSum's High × 2^64 + Low.
func intSum(vals []int64, nulls []bool) storage.ColumnSum {
	var lo, hi int64
	for i, v := range vals {
		if nulls != nil && nulls[i] {
			continue
		}
		s := lo + v
		switch {
		case v > 0 && s < lo:
			hi++ // wrapped past MaxInt64
		case v < 0 && s > lo:
			hi-- // wrapped past MinInt64
		}
		lo = s
	}
	return storage.ColumnSum{High: hi, Low: lo}
}

// floatSum returns the sum of the non-NULL values of vals added in row order
// (what a scan in row order computes) and the number of NaNs among them.
func floatSum(vals []float64, nulls []bool) storage.ColumnSum {
	var s float64
	nans := 0
	for i, v := range vals {
		if nulls != nil && nulls[i] {
			continue
		}
		s += v
		if v != v {
			nans++
		}
	}
	return storage.ColumnSum{Float: s, NaNs: nans}
}

// hasSum reports whether the directory keeps a sum for a column of type t.
func hasSum(t storage.Type) bool { return t == storage.TypeInt64 || t == storage.TypeFloat64 }

// appendSums appends the directory's sums: uvarint count, then per column with
// a sum, in column order, uvarint column and by type varint high, varint low
// (int64) or the 8-byte IEEE-754 sum and uvarint NaN count (float64).
func appendSums(dst []byte, metas []columnMeta) []byte {
	n := 0
	for i := range metas {
		if hasSum(metas[i].col.Type) {
			n++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	for i := range metas {
		m := &metas[i]
		switch m.col.Type {
		case storage.TypeInt64:
			dst = binary.AppendUvarint(dst, uint64(i))
			dst = binary.AppendVarint(dst, m.sum.High)
			dst = binary.AppendVarint(dst, m.sum.Low)
		case storage.TypeFloat64:
			dst = binary.AppendUvarint(dst, uint64(i))
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(m.sum.Float))
			dst = binary.AppendUvarint(dst, uint64(m.sum.NaNs))
		}
	}
	return dst
}

// parseSums reads the sums appendSums wrote into r's columns: every int64 and
// float64 column exactly once, in column order.
func (r *Reader) parseSums(d *decoder) error {
	n := d.uvarint()
	if d.bad || n > uint64(len(r.cols)) {
		return r.corrupt(nil, "directory claims %d column sums", n)
	}
	next := 0 // the lowest column the next sum may name
	for range n {
		col := d.uvarint()
		if d.bad || col >= uint64(len(r.cols)) || int(col) < next {
			return r.corrupt(nil, "column sum of column %d out of order or range", col)
		}
		next = int(col) + 1
		c := &r.cols[col]
		switch c.typ {
		case storage.TypeInt64:
			c.sum.High, c.sum.Low = d.varint(), d.varint()
		case storage.TypeFloat64:
			c.sum.Float = math.Float64frombits(d.uint64())
			nans := d.uvarint()
			if nans > uint64(r.info.Rows)-uint64(c.stats.NullCount) {
				return r.corrupt(c, "%d NaNs in %d non-NULL rows", nans, r.info.Rows-int64(c.stats.NullCount))
			}
			if nans > 0 && !math.IsNaN(c.sum.Float) {
				return r.corrupt(c, "%d NaNs and a sum of %v", nans, c.sum.Float)
			}
			c.sum.NaNs = int(nans)
		default:
			return r.corrupt(c, "a column sum for a %s column", c.typ)
		}
		if d.bad {
			return r.corrupt(c, "truncated column sum")
		}
		c.hasSum = true
	}
	for i := range r.cols {
		if c := &r.cols[i]; hasSum(c.typ) && !c.hasSum {
			return r.corrupt(c, "no column sum")
		}
	}
	return nil
}

// ColumnSum returns the sum of int64 or float64 column col recorded at write
// time (storage.Summer); ok is false for other columns and in version 1 files.
func (r *Reader) ColumnSum(col int) (storage.ColumnSum, bool) {
	if col < 0 || col >= len(r.cols) || !r.cols[col].hasSum {
		return storage.ColumnSum{}, false
	}
	return r.cols[col].sum, true
}
