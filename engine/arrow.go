package engine

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Operators exchange Arrow record batches (operator.next). Inside an operator the
// kernels work on vecs: typed Go slices that view the Arrow buffers. Crossing a
// boundary is zero-copy for the fixed-width columns that dominate analytic results
// (integers, timestamps, floats, dictionary ids): the Arrow buffers are the vecs'
// slices and the receiving vec's slices are the Arrow buffers. Validity and boolean
// bitmaps are packed and unpacked (one pass over n/8 bytes), plain text is laid out
// as an Arrow String array, dates and intervals are converted (Arrow Date32 is 32-bit,
// Arrow intervals count nanoseconds, the engine days and microseconds).
//
// The engine Type of each column travels in its field's metadata under typeKey, so
// smallint and bigint (both Arrow Int64) or numeric and double precision (both
// Float64) cross a boundary unchanged.

// typeKey is the arrow.Field metadata key holding a column's engine TypeID.
const typeKey = "strata.type"

// absent marks a batch column that no consumer reads (a pruned scan column): it
// crosses as an Arrow Null array and arrives as a nil vec.
const absent = 255

// batchOperator is what an operator implements: the next batch of vecs, or nil at
// the end. asOperator wraps it so that its batches leave as Arrow record batches.
type batchOperator interface {
	nextBatch(ctx context.Context) (*batch, error)
	close()
}

// arrowOp adapts a batchOperator to the operator interface.
type arrowOp struct {
	c  *codec
	op batchOperator
}

func (o arrowOp) next(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := o.op.nextBatch(ctx)
	if b == nil || err != nil {
		return nil, err
	}
	return o.c.record(b, false), nil
}

func (o arrowOp) close() { o.op.close() }

// pull reads the next record batch of in as a batch of vecs viewing its buffers,
// or nil at the end.
func (c *codec) pull(ctx context.Context, in operator) (*batch, error) {
	// Every batch that crosses an operator boundary checks for a cancel or a
	// statement timeout, so that no operator (a join producing many rows from few)
	// runs on after its query ended.
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	rec, err := in.next(ctx)
	if rec == nil || err != nil {
		return nil, err
	}
	b := c.batch(rec)
	rec.Release()
	return b, nil
}

// codec converts between batches and Arrow record batches for one query. It caches
// the Arrow schemas it has built and the Arrow String array of each dictionary it
// has exported, so a dictionary crosses boundaries as a shared array, converted once
// per query. Safe for concurrent use.
type codec struct {
	mu      sync.Mutex
	schemas map[string]*arrow.Schema
	dicts   map[*string]*array.String    // by &dict[0]
	back    map[arrow.ArrayData][]string // by the dictionary array's data
}

func newCodec() *codec {
	return &codec{
		schemas: make(map[string]*arrow.Schema),
		dicts:   make(map[*string]*array.String),
		back:    make(map[arrow.ArrayData][]string),
	}
}

// exportDict reports whether dictionary text v leaves as an Arrow Dictionary array:
// when the batch is large against its dictionary. A few rows of a large dictionary
// (a top-N, a LIMIT) leave as plain strings instead of dragging the dictionary along.
func exportDict(v *vec) bool {
	return v.isDict && len(v.dict) > 0 && len(v.dict) <= 4*v.n
}

// record returns b as an Arrow record batch. With plain, text always leaves as a
// String array (the form Rows promises its callers).
func (c *codec) record(b *batch, plain bool) arrow.RecordBatch {
	cols := make([]arrow.Array, len(b.cols))
	key := make([]byte, 0, 4*len(b.cols))
	for i, v := range b.cols {
		if v == nil { // a column no consumer reads (pruned)
			cols[i] = array.NewNull(b.n)
			key = append(key, absent, 0, 0, 0)
			continue
		}
		dict := !plain && exportDict(v)
		cols[i] = c.array(v, dict)
		layout := boolByte(dict)
		if v.nx != nil {
			layout = 2 // an exact numeric's texts
		}
		key = append(key, byte(v.t.ID), layout, v.t.Prec, v.t.Scale)
	}
	rec := array.NewRecordBatch(c.schema(string(key), cols), cols, int64(b.n))
	for _, a := range cols {
		a.Release()
	}
	return rec
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func (c *codec) schema(key string, cols []arrow.Array) *arrow.Schema {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.schemas[key]; ok {
		return s
	}
	fs := make([]arrow.Field, len(cols))
	for i, a := range cols {
		fs[i] = arrow.Field{
			Name:     "c" + strconv.Itoa(i),
			Type:     a.DataType(),
			Nullable: true,
			Metadata: arrow.NewMetadata([]string{typeKey}, []string{typeMeta(key[4*i], key[4*i+2], key[4*i+3])}),
		}
	}
	s := arrow.NewSchema(fs, nil)
	c.schemas[key] = s
	return s
}

// validity packs v's NULL flags into an Arrow validity bitmap (nil without NULLs).
func validity(v *vec) (*memory.Buffer, int) {
	if v.nulls == nil {
		return nil, 0
	}
	bits := make([]byte, bitutil.BytesForBits(int64(v.n)))
	nulls := 0
	for i, null := range v.nulls[:v.n] {
		if null {
			nulls++
		} else {
			bitutil.SetBit(bits, i)
		}
	}
	if nulls == 0 {
		return nil, 0
	}
	return memory.NewBufferBytes(bits), nulls
}

func sliceBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(s[0])))
}

func bytesAs[T any](b []byte, off, n int) []T {
	if n == 0 {
		return nil
	}
	var zero T
	all := unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/int(unsafe.Sizeof(zero)))
	return all[off : off+n]
}

// array returns v as an Arrow array (dictionary text as a Dictionary array when dict).
func (c *codec) array(v *vec, dict bool) arrow.Array {
	valid, nulls := validity(v)
	n := v.n
	data := func(dt arrow.DataType, values []byte) arrow.Array {
		d := array.NewData(dt, n, []*memory.Buffer{valid, memory.NewBufferBytes(values)}, nil, nulls, 0)
		defer d.Release()
		return array.MakeFromData(d)
	}
	switch kindOf(v.t) {
	case kInt:
		if v.t.ID == TypeDate {
			days := make([]int32, n)
			for i, x := range v.i[:n] {
				days[i] = int32(x)
			}
			return data(v.t.Arrow(), sliceBytes(days))
		}
		return data(v.t.Arrow(), sliceBytes(v.i[:n]))
	case kFloat:
		if v.nx != nil { // exact numeric: its texts (numeric.go)
			offsets, bytes := stringLayout(&vec{t: Text, n: n, nulls: v.nulls, s: v.nx})
			d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{valid, memory.NewBufferBytes(sliceBytes(offsets)), memory.NewBufferBytes(bytes)}, nil, nulls, 0)
			defer d.Release()
			return array.MakeFromData(d)
		}
		return data(v.t.Arrow(), sliceBytes(v.f[:n]))
	case kBool:
		bits := make([]byte, bitutil.BytesForBits(int64(n)))
		for i, x := range v.b[:n] {
			if x {
				bitutil.SetBit(bits, i)
			}
		}
		return data(v.t.Arrow(), bits)
	case kInterval:
		out := make([]arrow.MonthDayNanoInterval, n)
		for i, x := range v.iv[:n] {
			out[i] = IntervalArrow(x.M, x.D, x.U)
		}
		return data(v.t.Arrow(), sliceBytes(out))
	case kText:
		if dict {
			dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint32, ValueType: arrow.BinaryTypes.String}
			values := c.dictArray(v.dict)
			d := array.NewDataWithDictionary(dt, n, []*memory.Buffer{valid, memory.NewBufferBytes(sliceBytes(v.ids[:n]))}, nulls, 0, values.Data().(*array.Data))
			defer d.Release()
			return array.MakeFromData(d)
		}
		offsets, bytes := stringLayout(v)
		d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{valid, memory.NewBufferBytes(sliceBytes(offsets)), memory.NewBufferBytes(bytes)}, nil, nulls, 0)
		defer d.Release()
		return array.MakeFromData(d)
	}
	panic("BUG: codec: no Arrow layout for type " + v.t.String())
}

// stringLayout returns the Arrow String offsets and value bytes of text vec v.
func stringLayout(v *vec) ([]int32, []byte) {
	size := 0
	for i := 0; i < v.n; i++ {
		if !v.isNull(i) {
			size += len(v.str(i))
		}
	}
	offsets := make([]int32, v.n+1)
	bytes := make([]byte, 0, size)
	for i := 0; i < v.n; i++ {
		if !v.isNull(i) {
			bytes = append(bytes, v.str(i)...)
		}
		offsets[i+1] = int32(len(bytes))
	}
	return offsets, bytes
}

// dictArray returns the Arrow String array of dictionary values, built once per
// query and dictionary.
func (c *codec) dictArray(values []string) *array.String {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.dicts[&values[0]]; ok && a.Len() == len(values) {
		return a
	}
	v := &vec{t: Text, n: len(values), s: values}
	offsets, bytes := stringLayout(v)
	d := array.NewData(arrow.BinaryTypes.String, len(values), []*memory.Buffer{nil, memory.NewBufferBytes(sliceBytes(offsets)), memory.NewBufferBytes(bytes)}, nil, 0, 0)
	a := array.NewStringData(d)
	d.Release()
	c.dicts[&values[0]] = a
	c.back[a.Data()] = values
	return a
}

// dictValues returns the values of an Arrow String dictionary as a []string: the
// engine's own slice when this codec exported it, else strings viewing its bytes.
func (c *codec) dictValues(a *array.String) []string {
	c.mu.Lock()
	vals, ok := c.back[a.Data()]
	c.mu.Unlock()
	if ok {
		return vals
	}
	vals = make([]string, a.Len())
	for i := range vals {
		vals[i] = a.Value(i)
	}
	return vals
}

// batch returns the columns of rec as vecs that view its buffers.
func (c *codec) batch(rec arrow.RecordBatch) *batch {
	n := int(rec.NumRows())
	b := &batch{n: n, cols: make([]*vec, rec.NumCols())}
	for i := range b.cols {
		if _, ok := rec.Column(i).(*array.Null); !ok {
			b.cols[i] = c.vec(rec.Column(i), fieldType(rec.Schema().Field(i)))
		}
	}
	return b
}

// typeMeta is the typeKey metadata of a column: its TypeID, and for a decimal
// "id:prec:scale".
func typeMeta(id, prec, scale byte) string {
	if TypeID(id) == TypeDecimal {
		return fmt.Sprintf("%d:%d:%d", id, prec, scale)
	}
	return strconv.Itoa(int(id))
}

// fieldType returns the engine type of an Arrow field: from its metadata when an
// engine operator wrote it, else from its Arrow type.
func fieldType(f arrow.Field) Type {
	if s, ok := f.Metadata.GetValue(typeKey); ok {
		var id, p, sc int
		if _, err := fmt.Sscanf(s, "%d:%d:%d", &id, &p, &sc); err == nil {
			return Type{ID: TypeID(id), Prec: uint8(p), Scale: uint8(sc)}
		}
		if id, err := strconv.Atoi(s); err == nil {
			return Type{ID: TypeID(id)}
		}
	}
	switch dt := f.Type.(type) {
	case *arrow.BooleanType:
		return Bool
	case *arrow.Int64Type:
		return Int64
	case *arrow.Float64Type:
		return Float64
	case *arrow.StringType, *arrow.DictionaryType:
		return Text
	case *arrow.TimestampType:
		if dt.TimeZone != "" {
			return TimestampTZ
		}
		return Timestamp
	case *arrow.Date32Type:
		return Date
	case *arrow.MonthDayNanoIntervalType:
		return Interval
	}
	return Unknown
}

// vec returns arr, a column of engine type t, as a vec viewing its buffers.
func (c *codec) vec(arr arrow.Array, t Type) *vec {
	n := arr.Len()
	v := &vec{t: t, n: n}
	if arr.NullN() > 0 {
		v.nulls = make([]bool, n)
		for i := range v.nulls {
			v.nulls[i] = arr.IsNull(i)
		}
	}
	data := arr.Data()
	off := data.Offset()
	values := func() []byte { return data.Buffers()[1].Bytes() }
	switch a := arr.(type) {
	case *array.Int64:
		v.i = a.Int64Values()
	case *array.Timestamp:
		v.i = bytesAs[int64](values(), off, n)
	case *array.Date32:
		v.i = make([]int64, n)
		for i, d := range a.Date32Values() {
			v.i[i] = int64(d)
		}
	case *array.Float64:
		v.f = a.Float64Values()
	case *array.Boolean:
		v.b = make([]bool, n)
		for i := range v.b {
			v.b[i] = a.Value(i)
		}
	case *array.MonthDayNanoInterval:
		v.iv = make([]ival, n)
		for i, x := range a.MonthDayNanoIntervalValues() {
			v.iv[i] = ival{x.Months, x.Days, IntervalMicros(x)}
		}
	case *array.String:
		if t.ID == TypeNumeric { // exact numeric texts (numeric.go)
			v.nx, v.f = make([]string, n), make([]float64, n)
			for i := range v.nx {
				if !a.IsNull(i) {
					v.nx[i] = a.Value(i)
					v.f[i] = numericTextFloat(v.nx[i])
				}
			}
			break
		}
		v.s = make([]string, n)
		for i := range v.s {
			if !a.IsNull(i) {
				v.s[i] = a.Value(i)
			}
		}
	case *array.Dictionary:
		v.isDict = true
		v.ids = a.Indices().(*array.Uint32).Uint32Values()
		v.dict = c.dictValues(a.Dictionary().(*array.String))
	default:
		panic("BUG: codec: unsupported Arrow array " + arr.DataType().String())
	}
	return v
}

// An interval leaves the engine as an arrow MonthDayNanoInterval whose
// Nanoseconds field holds microseconds, PostgreSQL's unit: so PostgreSQL's whole
// range of an interval's time part (int64 µs, ±2562047788 hours) fits, which
// nanoseconds would end at ±2562047 hours. Read and build it only with these.

// IntervalMicros is the time part of x, in microseconds.
func IntervalMicros(x arrow.MonthDayNanoInterval) int64 { return x.Nanoseconds }

// IntervalArrow is the interval of months, days and us microseconds.
func IntervalArrow(months, days int32, us int64) arrow.MonthDayNanoInterval {
	return arrow.MonthDayNanoInterval{Months: months, Days: days, Nanoseconds: us}
}
