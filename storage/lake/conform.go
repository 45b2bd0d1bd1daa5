package lake

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// conform converts an array read from Parquet to the Arrow type of the Delta type
// dt: struct children are matched by physical name and renamed to logical names,
// integers and floats are widened, timestamps are brought to microseconds. A
// conversion it does not know is an error, never a silent reinterpretation. The
// result is a new reference the caller releases.
func conform(mem memory.Allocator, arr arrow.Array, dt *DataType, mode string) (arrow.Array, error) {
	target, err := dt.ArrowType()
	if err != nil {
		return nil, err
	}
	if arrow.TypeEqual(arr.DataType(), target) {
		arr.Retain()
		return arr, nil
	}
	n := arr.Len()
	switch dt.Name {
	case "struct":
		sa, ok := arr.(*array.Struct)
		if !ok {
			break
		}
		if sa.Data().Offset() != 0 {
			return nil, fmt.Errorf("struct array with offset %d", sa.Data().Offset())
		}
		st := sa.DataType().(*arrow.StructType)
		children := make([]arrow.ArrayData, len(dt.Fields))
		defer func() {
			for _, c := range children {
				if c != nil {
					c.Release()
				}
			}
		}()
		for i := range dt.Fields {
			f := &dt.Fields[i]
			idx := -1
			pn := f.PhysicalName(mode)
			for j := 0; j < st.NumFields(); j++ {
				if st.Field(j).Name == pn {
					idx = j
				}
			}
			var child arrow.Array
			if idx < 0 {
				ct, err := f.Type.ArrowType()
				if err != nil {
					return nil, err
				}
				child = array.MakeArrayOfNull(mem, ct, n)
			} else if child, err = conform(mem, sa.Field(idx), f.Type, mode); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			children[i] = child.Data()
			children[i].Retain()
			child.Release()
		}
		data := array.NewData(target, n, []*memory.Buffer{sa.Data().Buffers()[0]}, children, sa.NullN(), 0)
		defer data.Release()
		return array.MakeFromData(data), nil
	case "array":
		la, ok := arr.(*array.List)
		if !ok || la.Data().Offset() != 0 {
			break
		}
		vals, err := conform(mem, la.ListValues(), dt.Element, mode)
		if err != nil {
			return nil, err
		}
		defer vals.Release()
		data := array.NewData(target, n, la.Data().Buffers()[:2], []arrow.ArrayData{vals.Data()}, la.NullN(), 0)
		defer data.Release()
		return array.MakeFromData(data), nil
	case "map":
		ma, ok := arr.(*array.Map)
		if !ok || ma.Data().Offset() != 0 {
			break
		}
		keys, err := conform(mem, ma.Keys(), dt.Key, mode)
		if err != nil {
			return nil, err
		}
		defer keys.Release()
		items, err := conform(mem, ma.Items(), dt.Value, mode)
		if err != nil {
			return nil, err
		}
		defer items.Release()
		mt := target.(*arrow.MapType)
		entries := ma.ListValues().Data()
		ed := array.NewData(mt.Elem(), entries.Len(), entries.Buffers()[:1], []arrow.ArrayData{keys.Data(), items.Data()}, entries.NullN(), 0)
		defer ed.Release()
		data := array.NewData(target, n, ma.Data().Buffers()[:2], []arrow.ArrayData{ed}, ma.NullN(), 0)
		defer data.Release()
		return array.MakeFromData(data), nil
	}
	return conformPrimitive(mem, arr, target)
}

func conformPrimitive(mem memory.Allocator, arr arrow.Array, target arrow.DataType) (arrow.Array, error) {
	n := arr.Len()
	fail := func() (arrow.Array, error) {
		return nil, fmt.Errorf("cannot read Parquet type %s as %s", arr.DataType(), target)
	}
	switch target.ID() {
	case arrow.INT64, arrow.INT32, arrow.INT16:
		var get func(i int) int64
		switch a := arr.(type) {
		case *array.Int8:
			get = func(i int) int64 { return int64(a.Value(i)) }
		case *array.Int16:
			get = func(i int) int64 { return int64(a.Value(i)) }
		case *array.Int32:
			get = func(i int) int64 { return int64(a.Value(i)) }
		default:
			return fail()
		}
		if arr.DataType().(arrow.FixedWidthDataType).BitWidth() >= target.(arrow.FixedWidthDataType).BitWidth() {
			return fail()
		}
		b := array.NewBuilder(mem, target)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if arr.IsNull(i) {
				b.AppendNull()
				continue
			}
			switch bb := b.(type) {
			case *array.Int64Builder:
				bb.UnsafeAppend(get(i))
			case *array.Int32Builder:
				bb.UnsafeAppend(int32(get(i)))
			case *array.Int16Builder:
				bb.UnsafeAppend(int16(get(i)))
			}
		}
		return b.NewArray(), nil
	case arrow.FLOAT64:
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if arr.IsNull(i) {
				b.AppendNull()
				continue
			}
			switch a := arr.(type) {
			case *array.Float32:
				b.UnsafeAppend(float64(a.Value(i)))
			case *array.Int8:
				b.UnsafeAppend(float64(a.Value(i)))
			case *array.Int16:
				b.UnsafeAppend(float64(a.Value(i)))
			case *array.Int32:
				b.UnsafeAppend(float64(a.Value(i)))
			default:
				return fail()
			}
		}
		return b.NewArray(), nil
	case arrow.TIMESTAMP:
		var conv func(i int) (int64, bool)
		switch a := arr.(type) {
		case *array.Timestamp:
			unit := a.DataType().(*arrow.TimestampType).Unit
			conv = func(i int) (int64, bool) {
				v := int64(a.Value(i))
				switch unit {
				case arrow.Second:
					return v * 1e6, v <= math.MaxInt64/1000000 && v >= math.MinInt64/1000000
				case arrow.Millisecond:
					return v * 1e3, v <= math.MaxInt64/1000 && v >= math.MinInt64/1000
				case arrow.Nanosecond:
					return floorDiv(v, 1e3), true
				}
				return v, true
			}
		case *array.Date32:
			conv = func(i int) (int64, bool) { return int64(a.Value(i)) * 86400e6, true }
		default:
			return fail()
		}
		b := array.NewTimestampBuilder(mem, target.(*arrow.TimestampType))
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if arr.IsNull(i) {
				b.AppendNull()
				continue
			}
			v, ok := conv(i)
			if !ok {
				return nil, fmt.Errorf("timestamp %d of %s overflows microseconds", v, arr.DataType())
			}
			b.UnsafeAppend(arrow.Timestamp(v))
		}
		return b.NewArray(), nil
	case arrow.STRING:
		if arr.DataType().ID() == arrow.BINARY {
			return array.MakeFromData(array.NewData(target, n, arr.Data().Buffers(), nil, arr.NullN(), arr.Data().Offset())), nil
		}
	case arrow.BINARY:
		if arr.DataType().ID() == arrow.STRING {
			return array.MakeFromData(array.NewData(target, n, arr.Data().Buffers(), nil, arr.NullN(), arr.Data().Offset())), nil
		}
	case arrow.DECIMAL128:
		a, ok := arr.(*array.Decimal128)
		if !ok {
			return fail()
		}
		src, dst := a.DataType().(*arrow.Decimal128Type), target.(*arrow.Decimal128Type)
		if dst.Scale < src.Scale || dst.Precision-dst.Scale < src.Precision-src.Scale {
			return fail()
		}
		b := array.NewDecimal128Builder(mem, dst)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if arr.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.UnsafeAppend(a.Value(i).IncreaseScaleBy(dst.Scale - src.Scale))
		}
		return b.NewArray(), nil
	case arrow.NULL:
		return array.MakeArrayOfNull(mem, target, n), nil
	}
	return fail()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// ParsePartitionValue converts a partition value string to the Go value of its
// Delta type: int64 for integral types, float64, bool, string, []byte, int32 days
// for date, int64 microseconds for timestamps, decimal128.Num for decimals.
// Timestamps without a zone are read as UTC.
func ParsePartitionValue(dt *DataType, v string) (any, error) {
	switch dt.Name {
	case "string":
		return v, nil
	case "binary":
		return []byte(v), nil
	case "long", "integer", "short", "byte":
		bits := map[string]int{"long": 64, "integer": 32, "short": 16, "byte": 8}[dt.Name]
		return strconv.ParseInt(v, 10, bits)
	case "float":
		f, err := strconv.ParseFloat(v, 32)
		return f, err
	case "double":
		return strconv.ParseFloat(v, 64)
	case "boolean":
		return strconv.ParseBool(v)
	case "date":
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return nil, err
		}
		return int32(floorDiv(t.Unix(), 86400)), nil
	case "timestamp", "timestamp_ntz":
		for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t.Unix()*1e6 + int64(t.Nanosecond()/1e3), nil
			}
		}
		return nil, fmt.Errorf("invalid timestamp %q", v)
	case "decimal":
		return decimal128.FromString(strings.TrimSpace(v), int32(dt.Precision), int32(dt.Scale))
	}
	return nil, fmt.Errorf("partition column of type %s", dt)
}

// partitionArray builds an n-row constant array of a partition value.
func partitionArray(mem memory.Allocator, dt *DataType, v string, null bool, n int) (arrow.Array, error) {
	t, err := dt.ArrowType()
	if err != nil {
		return nil, err
	}
	if null {
		return array.MakeArrayOfNull(mem, t, n), nil
	}
	val, err := ParsePartitionValue(dt, v)
	if err != nil {
		return nil, fmt.Errorf("partition value %q: %w", v, err)
	}
	b := array.NewBuilder(mem, t)
	defer b.Release()
	b.Reserve(n)
	// One type switch per batch, not per row.
	switch bb := b.(type) {
	case *array.StringBuilder:
		for i := 0; i < n; i++ {
			bb.Append(val.(string))
		}
	case *array.BinaryBuilder:
		for i := 0; i < n; i++ {
			bb.Append(val.([]byte))
		}
	case *array.Int64Builder:
		fillConst(bb.UnsafeAppend, val.(int64), n)
	case *array.Int32Builder:
		fillConst(bb.UnsafeAppend, int32(val.(int64)), n)
	case *array.Int16Builder:
		fillConst(bb.UnsafeAppend, int16(val.(int64)), n)
	case *array.Int8Builder:
		fillConst(bb.UnsafeAppend, int8(val.(int64)), n)
	case *array.Float32Builder:
		fillConst(bb.UnsafeAppend, float32(val.(float64)), n)
	case *array.Float64Builder:
		fillConst(bb.UnsafeAppend, val.(float64), n)
	case *array.BooleanBuilder:
		fillConst(bb.UnsafeAppend, val.(bool), n)
	case *array.Date32Builder:
		fillConst(bb.UnsafeAppend, arrow.Date32(val.(int32)), n)
	case *array.TimestampBuilder:
		fillConst(bb.UnsafeAppend, arrow.Timestamp(val.(int64)), n)
	case *array.Decimal128Builder:
		fillConst(bb.UnsafeAppend, val.(decimal128.Num), n)
	default:
		return nil, fmt.Errorf("partition column of type %s", dt)
	}
	return b.NewArray(), nil
}

func fillConst[T any](appendFn func(T), v T, n int) {
	for i := 0; i < n; i++ {
		appendFn(v)
	}
}
