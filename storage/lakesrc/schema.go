package lakesrc

import (
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// HiddenTimeColumn is the name of the constant time column TableSchema appends when
// the Delta table has no time column.
const HiddenTimeColumn = "__time"

const microsPerDay = 86_400_000_000

// columnFor maps one Delta field to a strata column (NOT NULL unset), or an error
// naming the column when strata cannot hold its type.
func columnFor(f *lake.Field) (storage.Column, error) {
	c := storage.Column{Name: f.Name}
	switch f.Type.Name {
	case "string":
		c.Type, c.SQLType = storage.TypeString, "text"
	case "byte", "short":
		c.Type, c.SQLType = storage.TypeInt64, "smallint"
	case "integer":
		c.Type, c.SQLType = storage.TypeInt64, "integer"
	case "long":
		c.Type, c.SQLType = storage.TypeInt64, "bigint"
	case "float":
		c.Type, c.SQLType = storage.TypeFloat64, "real"
	case "double":
		c.Type, c.SQLType = storage.TypeFloat64, "double precision"
	case "decimal":
		if f.Type.Precision >= 1 && f.Type.Precision <= 18 && f.Type.Scale >= 0 && f.Type.Scale <= f.Type.Precision {
			// exact: the scaled int64 of numeric(p,s)
			c.Type, c.SQLType = storage.TypeInt64, fmt.Sprintf("numeric(%d,%d)", f.Type.Precision, f.Type.Scale)
			break
		}
		if f.Type.Precision >= 1 && f.Type.Precision <= decimal128.MaxPrecision && f.Type.Scale >= 0 && f.Type.Scale <= f.Type.Precision {
			// exact: numeric(p,s) as canonical text (storage/numeric.go)
			c.Type, c.SQLType, c.TypMod = storage.TypeString, "numeric", numericTypMod(f.Type.Precision, f.Type.Scale)
			break
		}
		c.Type, c.SQLType = storage.TypeFloat64, "numeric"
	case "boolean":
		c.Type, c.SQLType = storage.TypeBool, "boolean"
	case "timestamp":
		c.Type, c.SQLType = storage.TypeTimestamp, "timestamptz"
	case "timestamp_ntz":
		c.Type, c.SQLType = storage.TypeTimestamp, "timestamp"
	case "date": // days since 1970-01-01 (a time column: midnight UTC, tableSchema)
		c.Type, c.SQLType = storage.TypeInt64, "date"
	default:
		return c, fmt.Errorf("column %q has Delta type %s, which strata cannot read", f.Name, f.Type)
	}
	return c, nil
}

// numericTypMod is PostgreSQL's atttypmod of numeric(prec, scale).
func numericTypMod(prec, scale int) int32 { return int32(prec<<16|scale&0x7ff) + 4 }

// lakeDecimal reports the Delta decimal(p,s) a numeric text column is written as
// (storage/numeric.go): numeric(p,s) with 1 <= p <= 38 and 0 <= s <= p, the
// decimals Parquet's FIXED_LEN_BYTE_ARRAY holds in 16 bytes and Spark, Trino and
// DuckDB read. Any other numeric text column (numeric without a modifier, wider
// precision, a negative scale) is a Delta string of the canonical text: Spark's
// decimal(38,18) for an unconstrained numeric would lose each value's display
// scale and every value beyond 20 integer or 18 fractional digits.
func lakeDecimal(c *storage.Column) (prec, scale int, ok bool) {
	p, s, hasMod, isNum := c.NumericTextColumn()
	if !isNum || !hasMod || p < 1 || p > decimal128.MaxPrecision || s < 0 || s > p {
		return 0, 0, false
	}
	return p, s, true
}

// TableSchema maps the Delta snapshot's columns (partition columns included, in
// schema order) to a strata schema. timeColumn names the Delta column (timestamp,
// timestamp_ntz or date; matched case-insensitively) used as the time column: it
// becomes NOT NULL, and a NULL in it is an error when a file is read. With
// timeColumn == "" a hidden constant column "__time" (timestamptz, value 0) is
// appended last. Types: string → text, byte/short → smallint, int → integer,
// long → bigint, float → real, double → double precision, decimal(p,s) →
// numeric(p,s) for p <= 18 (exact, int64) and p <= 38 (exact, canonical text),
// numeric (double precision) above,
// boolean, timestamp → timestamptz, timestamp_ntz → timestamp, date → date (a date
// time column: timestamp, midnight UTC); any other type (binary, struct, array, map, void) is refused with
// an error naming the column. deltaCols[i] is the Delta column read for schema
// column i ("" for __time).
func TableSchema(snap *lake.Snapshot, timeColumn string) (schema *storage.Schema, deltaCols []string, err error) {
	schema, deltaCols, _, err = tableSchema(snap, timeColumn, false)
	return schema, deltaCols, err
}

// ReadableSchema is TableSchema that leaves out the columns of types strata cannot
// read (binary, nested, void) instead of refusing the table, and names them in
// skipped. The time column cannot be left out.
func ReadableSchema(snap *lake.Snapshot, timeColumn string) (schema *storage.Schema, deltaCols, skipped []string, err error) {
	return tableSchema(snap, timeColumn, true)
}

func tableSchema(snap *lake.Snapshot, timeColumn string, skip bool) (schema *storage.Schema, deltaCols, skipped []string, err error) {
	schema = &storage.Schema{TimeColumn: -1}
	for i := range snap.Schema.Fields {
		f := &snap.Schema.Fields[i]
		isTime := timeColumn != "" && strings.EqualFold(f.Name, timeColumn)
		c, err := columnFor(f)
		if err != nil && skip && !isTime {
			skipped = append(skipped, f.Name)
			continue
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("delta table schema: %w", err)
		}
		if isTime {
			if f.Type.Name == "date" {
				c.Type, c.SQLType = storage.TypeTimestamp, "timestamp"
			}
			if c.Type != storage.TypeTimestamp {
				return nil, nil, nil, fmt.Errorf("delta table schema: time column %q has Delta type %s, not timestamp, timestamp_ntz or date", f.Name, f.Type)
			}
			c.NotNull = true
			schema.TimeColumn = len(schema.Columns)
		}
		schema.Columns = append(schema.Columns, c)
		deltaCols = append(deltaCols, f.Name)
	}
	if timeColumn == "" {
		schema.TimeColumn = len(schema.Columns)
		schema.Columns = append(schema.Columns, storage.Column{Name: HiddenTimeColumn, Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true})
		deltaCols = append(deltaCols, "")
	} else if schema.TimeColumn < 0 {
		return nil, nil, nil, fmt.Errorf("delta table schema: no column %q for the time column", timeColumn)
	}
	if err := schema.Validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("delta table schema: %w", err)
	}
	return schema, deltaCols, skipped, nil
}

// nonEmpty returns the Delta columns to read: deltaCols without the "" entries.
// The result is never nil (nil would ask lake.ReadFile for every column).
func nonEmpty(deltaCols []string) []string {
	out := make([]string, 0, len(deltaCols))
	for _, c := range deltaCols {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// ToColumns converts one batch read by Snapshot.ReadFile(ctx, f, nonEmpty(deltaCols),
// ...) into Columns of schema: batch column k is the k-th non-empty deltaCols entry.
// A schema column whose deltaCols entry is "" is all zero when it is the time column
// and all NULL otherwise. Strings are copied out of the batch. A NULL in the time
// column, or an Arrow type that does not fit the schema column, is an error naming
// the column.
func ToColumns(schema *storage.Schema, deltaCols []string, rec arrow.RecordBatch) (*storage.Columns, error) {
	if len(deltaCols) != len(schema.Columns) {
		return nil, fmt.Errorf("%d Delta columns for %d schema columns", len(deltaCols), len(schema.Columns))
	}
	n := int(rec.NumRows())
	cols := storage.NewColumns(schema, n)
	cols.Len = n
	k := 0
	for ci := range schema.Columns {
		c := &schema.Columns[ci]
		d := &cols.Cols[ci]
		if deltaCols[ci] == "" {
			fillNull(d, c.Type, n, ci != schema.TimeColumn)
			continue
		}
		if k >= int(rec.NumCols()) {
			return nil, fmt.Errorf("batch has %d columns, want %d", rec.NumCols(), len(nonEmpty(deltaCols)))
		}
		arr := rec.Column(k)
		k++
		if err := convertColumn(d, c, arr, n); err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		if arr.NullN() > 0 {
			if ci == schema.TimeColumn {
				return nil, fmt.Errorf("column %s: NULL in the time column", c.Name)
			}
			d.Null = make([]bool, n)
			for r := 0; r < n; r++ {
				d.Null[r] = arr.IsNull(r)
			}
		}
	}
	if k != int(rec.NumCols()) {
		return nil, fmt.Errorf("batch has %d columns, want %d", rec.NumCols(), k)
	}
	return cols, nil
}

// fillNull appends n zero values of type t to d, flagged NULL when null.
func fillNull(d *storage.ColumnData, t storage.Type, n int, null bool) {
	switch t {
	case storage.TypeTimestamp, storage.TypeInt64:
		d.Int64 = append(d.Int64, make([]int64, n)...)
	case storage.TypeFloat64:
		d.Float64 = append(d.Float64, make([]float64, n)...)
	case storage.TypeBool:
		d.Bool = append(d.Bool, make([]bool, n)...)
	case storage.TypeString:
		d.String = append(d.String, make([]string, n)...)
	}
	if null && n > 0 {
		d.Null = make([]bool, n)
		for i := range d.Null {
			d.Null[i] = true
		}
	}
}

// convertColumn appends the n values of arr to d (NULL slots hold zero values).
// The type switch runs once per batch.
func convertColumn(d *storage.ColumnData, c *storage.Column, arr arrow.Array, n int) error {
	mismatch := func() error {
		return fmt.Errorf("Delta data of type %s cannot be read as %s", arr.DataType(), c.SQLType)
	}
	base := valueCount(d, c.Type)
	switch c.Type {
	case storage.TypeString:
		switch a := arr.(type) {
		case *array.String:
			d.String = appendStrings(d.String, n, a.IsNull, a.Value)
		case *array.LargeString:
			d.String = appendStrings(d.String, n, a.IsNull, a.Value)
		case *array.Decimal128: // a numeric text column (storage/numeric.go)
			if _, _, _, ok := c.NumericTextColumn(); !ok {
				return mismatch()
			}
			scale := a.DataType().(*arrow.Decimal128Type).Scale
			for r := 0; r < n; r++ {
				var t string
				if a.IsValid(r) {
					t = a.Value(r).ToString(scale)
				}
				d.String = append(d.String, t)
			}
			if err := canonicalNumerics(c, d.String[base:]); err != nil {
				return err
			}
		default:
			return mismatch()
		}
	case storage.TypeInt64:
		switch a := arr.(type) {
		case *array.Int8:
			d.Int64 = appendConv(d.Int64, a.Int8Values(), func(v int8) int64 { return int64(v) })
		case *array.Int16:
			d.Int64 = appendConv(d.Int64, a.Int16Values(), func(v int16) int64 { return int64(v) })
		case *array.Int32:
			d.Int64 = appendConv(d.Int64, a.Int32Values(), func(v int32) int64 { return int64(v) })
		case *array.Int64:
			d.Int64 = append(d.Int64, a.Int64Values()...)
		case *array.Date32: // a date column: days
			d.Int64 = appendConv(d.Int64, a.Date32Values(), func(v arrow.Date32) int64 { return int64(v) })
		case *array.Decimal128: // numeric(p,s): the unscaled value, at the column's scale
			p, sc, ok := c.DecimalScale()
			if !ok || int(a.DataType().(*arrow.Decimal128Type).Scale) != sc {
				return mismatch()
			}
			for r := 0; r < n; r++ {
				var v int64
				if a.IsValid(r) {
					x := a.Value(r)
					if !x.FitsInPrecision(int32(p)) {
						return fmt.Errorf("decimal value %s does not fit %s", x.ToString(int32(sc)), c.SQLType)
					}
					v = int64(x.LowBits())
				}
				d.Int64 = append(d.Int64, v)
			}
		default:
			return mismatch()
		}
	case storage.TypeFloat64:
		switch a := arr.(type) {
		case *array.Float32:
			d.Float64 = appendConv(d.Float64, a.Float32Values(), func(v float32) float64 { return float64(v) })
		case *array.Float64:
			d.Float64 = append(d.Float64, a.Float64Values()...)
		case *array.Decimal128:
			scale := a.DataType().(*arrow.Decimal128Type).Scale
			for r := 0; r < n; r++ {
				var v float64
				if a.IsValid(r) {
					v = a.Value(r).ToFloat64(scale)
				}
				d.Float64 = append(d.Float64, v)
			}
		case *array.Decimal256:
			scale := a.DataType().(*arrow.Decimal256Type).Scale
			for r := 0; r < n; r++ {
				var v float64
				if a.IsValid(r) {
					v = a.Value(r).ToFloat64(scale)
				}
				d.Float64 = append(d.Float64, v)
			}
		default:
			return mismatch()
		}
	case storage.TypeBool:
		a, ok := arr.(*array.Boolean)
		if !ok {
			return mismatch()
		}
		for r := 0; r < n; r++ {
			d.Bool = append(d.Bool, a.IsValid(r) && a.Value(r))
		}
	case storage.TypeTimestamp:
		switch a := arr.(type) {
		case *array.Timestamp:
			for r := 0; r < n; r++ {
				var v int64
				if a.IsValid(r) {
					us, err := lake.TimestampMicros(a, r)
					if err != nil {
						return err
					}
					v = us
				}
				d.Int64 = append(d.Int64, v)
			}
		case *array.Date32:
			d.Int64 = appendConv(d.Int64, a.Date32Values(), func(v arrow.Date32) int64 { return int64(v) * microsPerDay })
		case *array.Date64:
			d.Int64 = appendConv(d.Int64, a.Date64Values(), func(v arrow.Date64) int64 { return int64(v) * 1000 })
		default:
			return mismatch()
		}
	default:
		return fmt.Errorf("unsupported column type %s", c.Type)
	}
	// NULL slots must hold the zero value (storage.ColumnData).
	if arr.NullN() > 0 {
		for r := 0; r < n; r++ {
			if arr.IsNull(r) {
				zeroAt(d, c.Type, base+r)
			}
		}
	}
	return nil
}

// valueCount is the number of values in the slice of d that type t uses.
func valueCount(d *storage.ColumnData, t storage.Type) int {
	switch t {
	case storage.TypeTimestamp, storage.TypeInt64:
		return len(d.Int64)
	case storage.TypeFloat64:
		return len(d.Float64)
	case storage.TypeBool:
		return len(d.Bool)
	case storage.TypeString:
		return len(d.String)
	}
	return 0
}

func zeroAt(d *storage.ColumnData, t storage.Type, i int) {
	switch t {
	case storage.TypeTimestamp, storage.TypeInt64:
		d.Int64[i] = 0
	case storage.TypeFloat64:
		d.Float64[i] = 0
	case storage.TypeBool:
		d.Bool[i] = false
	case storage.TypeString:
		d.String[i] = ""
	}
}

func appendConv[S, D any](dst []D, src []S, f func(S) D) []D {
	for _, v := range src {
		dst = append(dst, f(v))
	}
	return dst
}

// decimalFromText is canonical numeric text t (storage/numeric.go) as the unscaled
// decimal128 of the given scale; NaN, infinities and values of more than 38 digits
// are errors (Delta's decimal holds neither).
func decimalFromText(t string, scale int) (decimal128.Num, error) {
	n, ok := storage.NumericDigits(t, scale)
	if !ok || n.BitLen() > 127 {
		return decimal128.Num{}, fmt.Errorf("numeric value %q does not fit a Delta decimal of scale %d", t, scale)
	}
	return decimal128.FromBigInt(n), nil
}

// canonicalNumerics rewrites the texts vals of numeric text column c (read from
// a decimal or string Delta column) in canonical form, NULL slots ("") kept.
func canonicalNumerics(c *storage.Column, vals []string) error {
	p, s, hasMod, _ := c.NumericTextColumn()
	var buf []byte
	for i, v := range vals {
		if v == "" {
			continue
		}
		var bad storage.NumericError
		if buf, bad = storage.CanonicalNumeric(buf[:0], v, p, s, hasMod); bad != storage.NumericOK {
			return fmt.Errorf("value %q is not a %s: %w", v, c.SQLType, storage.ErrCorrupt)
		}
		if string(buf) != v {
			vals[i] = string(buf)
		}
	}
	return nil
}

// appendStrings copies n strings out of an Arrow array with one allocation: the
// Arrow buffers are released when the batch is.
func appendStrings(dst []string, n int, isNull func(int) bool, value func(int) string) []string {
	total := 0
	for r := 0; r < n; r++ {
		if !isNull(r) {
			total += len(value(r))
		}
	}
	var b strings.Builder
	b.Grow(total)
	for r := 0; r < n; r++ {
		if !isNull(r) {
			b.WriteString(value(r))
		}
	}
	all := b.String()
	off := 0
	for r := 0; r < n; r++ {
		if isNull(r) {
			dst = append(dst, "")
			continue
		}
		l := len(value(r))
		dst = append(dst, all[off:off+l])
		off += l
	}
	return dst
}

// arrowType is the Arrow type of a strata column when written to Delta.
func arrowType(c *storage.Column) arrow.DataType {
	if p, s, ok := c.DecimalScale(); ok {
		return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(s)}
	}
	if p, s, ok := lakeDecimal(c); ok {
		return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(s)}
	}
	if _, _, _, ok := c.NumericTextColumn(); ok {
		return arrow.BinaryTypes.String // its canonical text (lakeDecimal)
	}
	switch c.SQLType {
	case "timestamptz":
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case "timestamp":
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case "text", "varchar":
		return arrow.BinaryTypes.String
	case "smallint":
		return arrow.PrimitiveTypes.Int16
	case "integer":
		return arrow.PrimitiveTypes.Int32
	case "bigint":
		return arrow.PrimitiveTypes.Int64
	case "real":
		return arrow.PrimitiveTypes.Float32
	case "double precision", "numeric":
		return arrow.PrimitiveTypes.Float64
	case "boolean":
		return arrow.FixedWidthTypes.Boolean
	case "date":
		return arrow.FixedWidthTypes.Date32
	}
	switch c.Type { // an SQLType this package does not know: by physical type
	case storage.TypeTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case storage.TypeString:
		return arrow.BinaryTypes.String
	case storage.TypeInt64:
		return arrow.PrimitiveTypes.Int64
	case storage.TypeFloat64:
		return arrow.PrimitiveTypes.Float64
	case storage.TypeBool:
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.Null
}

// ArrowSchema is the Arrow schema of schema's columns for writing Delta files
// (timestamptz → timestamp[us, UTC], timestamp → timestamp[us] (Delta
// timestamp_ntz), text/varchar → string, smallint/integer/bigint → int16/int32/int64,
// real → float32, double precision/numeric → float64, boolean → bool, date →
// date32; a NOT NULL
// column is a non-nullable field), followed by the extra fields given.
func ArrowSchema(schema *storage.Schema, extra ...arrow.Field) *arrow.Schema {
	fs := make([]arrow.Field, 0, len(schema.Columns)+len(extra))
	for i := range schema.Columns {
		c := &schema.Columns[i]
		fs = append(fs, arrow.Field{Name: c.Name, Type: arrowType(c), Nullable: !c.NotNull})
	}
	return arrow.NewSchema(append(fs, extra...), nil)
}

// FromColumns builds one record batch of ArrowSchema(schema) from cols (which must
// have schema's column names and types). An integer that does not fit its column's
// Arrow width (smallint, integer) is an error; real values are rounded to float32.
func FromColumns(mem memory.Allocator, schema *storage.Schema, cols *storage.Columns) (arrow.RecordBatch, error) {
	if err := storage.CheckColumns(schema, cols); err != nil {
		return nil, fmt.Errorf("columns to arrow: %w", err)
	}
	as := ArrowSchema(schema)
	b := array.NewRecordBuilder(mem, as)
	defer b.Release()
	n := cols.Len
	for ci := range schema.Columns {
		d := &cols.Cols[ci]
		null := func(r int) bool { return r < len(d.Null) && d.Null[r] }
		fb := b.Field(ci)
		fb.Reserve(n)
		name := schema.Columns[ci].Name
		switch bb := fb.(type) {
		case *array.TimestampBuilder:
			for r := 0; r < n; r++ {
				if null(r) {
					bb.AppendNull()
				} else {
					bb.Append(arrow.Timestamp(d.Int64[r]))
				}
			}
		case *array.StringBuilder:
			for r := 0; r < n; r++ {
				if null(r) {
					bb.AppendNull()
				} else {
					bb.Append(d.String[r])
				}
			}
		case *array.Int16Builder:
			for r := 0; r < n; r++ {
				if null(r) {
					bb.AppendNull()
				} else if v := d.Int64[r]; v < math.MinInt16 || v > math.MaxInt16 {
					return nil, fmt.Errorf("columns to arrow: column %s: %d out of range for smallint", name, v)
				} else {
					bb.Append(int16(v))
				}
			}
		case *array.Int32Builder:
			for r := 0; r < n; r++ {
				if null(r) {
					bb.AppendNull()
				} else if v := d.Int64[r]; v < math.MinInt32 || v > math.MaxInt32 {
					return nil, fmt.Errorf("columns to arrow: column %s: %d out of range for integer", name, v)
				} else {
					bb.Append(int32(v))
				}
			}
		case *array.Date32Builder:
			for r := 0; r < n; r++ {
				if null(r) {
					bb.AppendNull()
				} else {
					bb.Append(arrow.Date32(d.Int64[r]))
				}
			}
		case *array.Int64Builder:
			for r := 0; r < n; r++ {
				if null(r) {
					bb.AppendNull()
				} else {
					bb.Append(d.Int64[r])
				}
			}
		case *array.Decimal128Builder:
			if schema.Columns[ci].Type == storage.TypeString { // numeric(p,s) kept as text
				scale := int(bb.Type().(*arrow.Decimal128Type).Scale)
				for r := 0; r < n; r++ {
					if null(r) {
						bb.AppendNull()
						continue
					}
					v, err := decimalFromText(d.String[r], scale)
					if err != nil {
						return nil, fmt.Errorf("columns to arrow: column %s: %w", name, err)
					}
					bb.Append(v)
				}
				break
			}
			// numeric(p,s), p <= 18: the scaled int64 is the unscaled value
			for r := 0; r < n; r++ {
				if null(r) {
					bb.AppendNull()
				} else {
					bb.Append(decimal128.FromI64(d.Int64[r]))
				}
			}
		case *array.Float32Builder:
			for r := 0; r < n; r++ {
				if null(r) {
					bb.AppendNull()
				} else {
					bb.Append(float32(d.Float64[r]))
				}
			}
		case *array.Float64Builder:
			for r := 0; r < n; r++ {
				if null(r) {
					bb.AppendNull()
				} else {
					bb.Append(d.Float64[r])
				}
			}
		case *array.BooleanBuilder:
			for r := 0; r < n; r++ {
				if null(r) {
					bb.AppendNull()
				} else {
					bb.Append(d.Bool[r])
				}
			}
		default:
			return nil, fmt.Errorf("columns to arrow: column %s: no Arrow builder for %s", name, fb.Type())
		}
	}
	return b.NewRecordBatch(), nil
}
