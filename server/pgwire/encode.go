package pgwire

import (
	"context"
	"encoding/binary"
	"fmt"
	"github.com/stratadb/strata/internal/pguuid"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// PostgreSQL's epoch, 2000-01-01, relative to the Unix epoch.
const (
	pgEpochDays = 10957
	pgEpochUs   = pgEpochDays * 86400 * 1_000_000
)

// wireOID is the type OID sent for t. An unknown-typed result (a bare NULL) is
// described as text, as PostgreSQL ≥ 10 does.
func wireOID(t engine.Type) uint32 {
	if t.ID == engine.TypeUnknown {
		return engine.Text.OID()
	}
	return t.OID()
}

func wireSize(t engine.Type) int16 {
	if t.ID == engine.TypeUnknown {
		return -1
	}
	return t.Size()
}

// typeForOID maps a client-declared parameter type OID to an engine type; types
// strata does not have map to Unknown (the value then travels as text).
func typeForOID(oid uint32) engine.Type {
	switch oid {
	case 16:
		return engine.Bool
	case 21:
		return engine.Int16
	case 23:
		return engine.Int32
	case 20, 26: // int8, oid
		return engine.Int64
	case 700:
		return engine.Float32
	case 701:
		return engine.Float64
	case 1700:
		return engine.Numeric
	case 25, 1043, 1042, 19: // text, varchar, bpchar, name
		return engine.Text
	case 1114:
		return engine.Timestamp
	case 1184:
		return engine.TimestampTZ
	case 1082:
		return engine.Date
	case 1186:
		return engine.Interval
	case 2950:
		return engine.UUID
	}
	return engine.Unknown
}

func appendUint16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }
func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
func appendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
func putUint32(b []byte, v uint32) { binary.BigEndian.PutUint32(b, v) }

// cursor walks a result's batches for the row streamer.
type cursor struct {
	rows   engine.Rows
	fields []engine.Field
	binary []bool // per column; missing entries are text
	batch  arrow.RecordBatch
	row    int // next row of batch to send
	enc    rowEncoder
}

// next releases the current batch and loads the next one (io.EOF at the end).
func (cur *cursor) next(ctx context.Context) error {
	if cur.batch != nil {
		cur.batch.Release()
		cur.batch = nil
	}
	b, err := cur.rows.Next(ctx)
	if err != nil {
		return err
	}
	if b == nil {
		return fmt.Errorf("BUG: Rows.Next returned no batch and no error")
	}
	cur.batch, cur.row = b, 0
	if int(b.NumCols()) != len(cur.fields) {
		return engine.Errorf(sqlstate.InternalError, "result batch has %d columns, the statement describes %d", b.NumCols(), len(cur.fields))
	}
	return cur.enc.reset(b, cur.fields, cur.binary)
}

func (cur *cursor) close() {
	if cur.batch != nil {
		cur.batch.Release()
		cur.batch = nil
	}
	if cur.rows != nil {
		cur.rows.Close()
		cur.rows = nil
	}
}

// colKind names the physical array a column encoder reads.
type colKind uint8

const (
	kindNull colKind = iota
	kindBool
	kindInt
	kindFloat
	kindString
	kindDict
	kindTimestamp
	kindDate
	kindInterval
)

// colEncoder encodes one column of one batch: the typed array is unpacked once per
// batch so that encoding a value is a switch, not an interface call.
type colEncoder struct {
	kind   colKind
	typ    engine.Type
	binary bool
	arr    arrow.Array
	valid  []byte // validity bitmap; nil when the column has no NULLs
	offset int    // the array's offset into valid

	bools   *array.Boolean
	ints    []int64
	floats  []float64
	strs    *array.String
	dictIdx []uint32 // indices of a uint32/int32-indexed dictionary, else nil
	dict    *array.Dictionary
	times   []arrow.Timestamp
	zoned   bool // a timestamptz printed in a session zone other than UTC (engine.ArrayZone)
	dates   []arrow.Date32
	ivals   []arrow.MonthDayNanoInterval
}

// rowEncoder writes DataRow messages for one batch.
type rowEncoder struct {
	cols []colEncoder
}

func (e *rowEncoder) reset(b arrow.RecordBatch, fields []engine.Field, binary []bool) error {
	n := int(b.NumCols())
	if cap(e.cols) < n {
		e.cols = make([]colEncoder, n)
	}
	e.cols = e.cols[:n]
	for i := range e.cols {
		bin := i < len(binary) && binary[i]
		if err := e.cols[i].reset(b.Column(i), fields[i].Type, bin); err != nil {
			return fmt.Errorf("column %q: %w", fields[i].Name, err)
		}
	}
	return nil
}

func (c *colEncoder) reset(arr arrow.Array, t engine.Type, binary bool) error {
	*c = colEncoder{typ: t, binary: binary, arr: arr}
	if arr.NullN() > 0 {
		c.valid = arr.NullBitmapBytes()
		c.offset = arr.Data().Offset()
	}
	switch a := arr.(type) {
	case *array.Null:
		c.kind = kindNull
	case *array.Boolean:
		c.kind, c.bools = kindBool, a
	case *array.Int64:
		c.kind, c.ints = kindInt, a.Int64Values()
	case *engine.RegArray: // an oid of a reg type, printed by its name
		c.kind, c.ints = kindInt, a.Int64Values()
	case *array.Float64:
		c.kind, c.floats = kindFloat, a.Float64Values()
	case *array.String:
		c.kind, c.strs = kindString, a
	case *array.Dictionary:
		s, ok := a.Dictionary().(*array.String)
		if !ok {
			return fmt.Errorf("dictionary of %s, want string", a.Dictionary().DataType())
		}
		c.kind, c.dict, c.strs = kindDict, a, s
		switch idx := a.Indices().(type) {
		case *array.Uint32:
			c.dictIdx = idx.Uint32Values()
		case *array.Int32:
			vals := idx.Int32Values()
			c.dictIdx = toUint32s(vals)
		}
	case *array.Timestamp:
		c.kind, c.times = kindTimestamp, a.TimestampValues()
		c.zoned = engine.ArrayZone(a) != nil
	case *array.Date32:
		c.kind, c.dates = kindDate, a.Date32Values()
	case *array.MonthDayNanoInterval:
		c.kind, c.ivals = kindInterval, a.MonthDayNanoIntervalValues()
	default:
		return engine.Errorf(sqlstate.InternalError, "cannot send arrow %s as %s", arr.DataType(), t)
	}
	return nil
}

func toUint32s(v []int32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = uint32(x)
	}
	return out
}

// appendRow appends the DataRow message for row r.
func (e *rowEncoder) appendRow(dst []byte, r int) []byte {
	n := len(e.cols)
	dst = append(dst, 'D', 0, 0, 0, 0, byte(n>>8), byte(n))
	start := len(dst) - 6
	for i := range e.cols {
		dst = e.cols[i].appendValue(dst, r)
	}
	putUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

// appendValue appends one length-prefixed value (-1 for NULL).
func (c *colEncoder) appendValue(dst []byte, r int) []byte {
	if c.kind == kindNull || c.valid != nil && c.valid[(c.offset+r)>>3]&(1<<uint((c.offset+r)&7)) == 0 {
		return append(dst, 0xff, 0xff, 0xff, 0xff)
	}
	if c.binary {
		switch c.kind {
		case kindBool:
			if c.bools.Value(r) {
				return append(dst, 0, 0, 0, 1, 1)
			}
			return append(dst, 0, 0, 0, 1, 0)
		case kindInt:
			if b, ok := appendBinaryInt(dst, c.ints[r], c.typ); ok {
				return b
			}
		case kindFloat:
			if b, ok := appendBinaryFloat(dst, c.floats[r], c.typ); ok {
				return b
			}
		case kindTimestamp:
			us := int64(c.times[r])
			if us != math.MaxInt64 && us != math.MinInt64 {
				us -= pgEpochUs
			}
			return appendUint64(append(dst, 0, 0, 0, 8), uint64(us))
		case kindDate:
			d := int32(c.dates[r])
			if d != math.MaxInt32 && d != math.MinInt32 {
				d -= pgEpochDays
			}
			return appendUint32(append(dst, 0, 0, 0, 4), uint32(d))
		case kindInterval:
			v := c.ivals[r]
			dst = append(dst, 0, 0, 0, 16)
			dst = appendUint64(dst, uint64(engine.IntervalMicros(v)))
			dst = appendUint32(dst, uint32(v.Days))
			return appendUint32(dst, uint32(v.Months))
		case kindString, kindDict:
			if c.typ.IsArray() {
				return c.appendBinaryTextArray(dst, r)
			}
			if c.typ.ID == engine.TypeUUID { // its 16 bytes
				if u, ok := pguuid.Bytes(c.stringAt(r)); ok {
					return append(append(dst, 0, 0, 0, 16), u[:]...)
				}
			}
			if c.typ.ID == engine.TypeNumeric && c.kind == kindString { // an exact numeric's text
				dst = append(dst, 0, 0, 0, 0)
				start := len(dst)
				dst = appendNumericText(dst, c.strs.Value(r))
				putUint32(dst[start-4:], uint32(len(dst)-start))
				return dst
			}
		}
		// Text, unknown and mismatched types: the binary form is the text form.
	}
	dst = append(dst, 0, 0, 0, 0)
	start := len(dst)
	switch c.kind {
	case kindBool:
		if c.bools.Value(r) {
			dst = append(dst, 't')
		} else {
			dst = append(dst, 'f')
		}
	case kindInt:
		if c.typ.IsDecimal() {
			dst = engine.AppendDecimal(dst, c.ints[r], int(c.typ.Scale))
		} else if c.typ.Reg != 0 {
			dst = engine.AppendText(dst, c.arr, r, c.typ)
		} else {
			dst = strconv.AppendInt(dst, c.ints[r], 10)
		}
	case kindString:
		dst = engine.AppendBpchar(dst, c.strs.Value(r), c.typ) // character(n) is padded
	case kindDict:
		var idx int
		if c.dictIdx != nil {
			idx = int(c.dictIdx[r])
		} else {
			idx = c.dict.GetValueIndex(r)
		}
		if c.strs.IsNull(idx) {
			return append(dst[:start-4], 0xff, 0xff, 0xff, 0xff)
		}
		dst = engine.AppendBpchar(dst, c.strs.Value(idx), c.typ)
	case kindTimestamp:
		dst = c.appendTimestampText(dst, r)
	case kindDate:
		dst = c.appendDateText(dst, r)
	case kindFloat:
		dst = c.appendFloatText(dst, r)
	default:
		dst = engine.AppendText(dst, c.arr, r, c.typ)
	}
	putUint32(dst[start-4:], uint32(len(dst)-start))
	return dst
}

// stringAt is row r of a string or dictionary column (not NULL).
func (c *colEncoder) stringAt(r int) string {
	if c.kind == kindDict {
		idx := 0
		if c.dictIdx != nil {
			idx = int(c.dictIdx[r])
		} else {
			idx = c.dict.GetValueIndex(r)
		}
		return c.strs.Value(idx)
	}
	return c.strs.Value(r)
}

func appendBinaryInt(dst []byte, v int64, t engine.Type) ([]byte, bool) {
	if t.Reg != 0 { // oid and the reg types: an unsigned 32-bit oid
		return append(dst, 0, 0, 0, 4, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)), true
	}
	switch t.ID {
	case engine.TypeInt16:
		return append(dst, 0, 0, 0, 2, byte(v>>8), byte(v)), true
	case engine.TypeInt32:
		return appendUint32(append(dst, 0, 0, 0, 4), uint32(v)), true
	case engine.TypeInt64:
		return appendUint64(append(dst, 0, 0, 0, 8), uint64(v)), true
	case engine.TypeFloat32, engine.TypeFloat64:
		return appendBinaryFloat(dst, float64(v), t)
	case engine.TypeNumeric:
		dst = append(dst, 0, 0, 0, 0)
		start := len(dst)
		var tmp [24]byte
		neg := v < 0
		u := uint64(v)
		if neg {
			u = -u
		}
		digits := strconv.AppendUint(tmp[:0], u, 10)
		dst = appendNumericDigits(dst, digits, len(digits)-1, neg)
		putUint32(dst[start-4:], uint32(len(dst)-start))
		return dst, true
	case engine.TypeDecimal:
		dst = append(dst, 0, 0, 0, 0)
		start := len(dst)
		dst = appendNumericDecimal(dst, v, int(t.Scale))
		putUint32(dst[start-4:], uint32(len(dst)-start))
		return dst, true
	}
	return dst, false
}

// appendNumericDecimal appends the binary numeric form of scaled value v (without
// the length), with display scale scale: 10.10 keeps dscale 2.
func appendNumericDecimal(dst []byte, v int64, scale int) []byte {
	var tmp [24]byte
	u := uint64(v)
	if v < 0 {
		u = -u
	}
	digits := strconv.AppendUint(tmp[:0], u, 10)
	start := len(dst)
	if u == 0 {
		return appendNumericHeader(dst, 0, 0, numericPos, scale)
	}
	dst = appendNumericDigits(dst, digits, len(digits)-1-scale, v < 0)
	binary.BigEndian.PutUint16(dst[start+6:], uint16(scale)) // dscale: trailing zeros count
	return dst
}

func appendBinaryFloat(dst []byte, f float64, t engine.Type) ([]byte, bool) {
	switch t.ID {
	case engine.TypeFloat32:
		return appendUint32(append(dst, 0, 0, 0, 4), math.Float32bits(float32(f))), true
	case engine.TypeFloat64:
		return appendUint64(append(dst, 0, 0, 0, 8), math.Float64bits(f)), true
	case engine.TypeNumeric:
		dst = append(dst, 0, 0, 0, 0)
		start := len(dst)
		dst = appendNumericFloat(dst, f)
		putUint32(dst[start-4:], uint32(len(dst)-start))
		return dst, true
	}
	return dst, false
}

// Numeric's binary sign words (PostgreSQL's numeric.c).
const (
	numericPos    = 0x0000
	numericNeg    = 0x4000
	numericNaN    = 0xC000
	numericPosInf = 0xD000
	numericNegInf = 0xF000
)

// appendNumericFloat appends the binary numeric form of f (without the length):
// the shortest decimal that round-trips f, in base-10000 digits.
func appendNumericFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return appendNumericHeader(dst, 0, 0, numericNaN, 0)
	case math.IsInf(f, 1):
		return appendNumericHeader(dst, 0, 0, numericPosInf, 0)
	case math.IsInf(f, -1):
		return appendNumericHeader(dst, 0, 0, numericNegInf, 0)
	case f == 0:
		return appendNumericHeader(dst, 0, 0, numericPos, 0)
	}
	neg := f < 0
	var tmp [32]byte
	s := strconv.AppendFloat(tmp[:0], math.Abs(f), 'e', -1, 64) // d[.ddd]e±XX
	var digits [24]byte
	nd := 0
	i := 0
	for ; i < len(s) && s[i] != 'e'; i++ {
		if s[i] != '.' {
			digits[nd] = s[i]
			nd++
		}
	}
	exp, err := strconv.Atoi(string(s[i+1:]))
	if err != nil {
		panic("BUG: strconv produced " + string(s))
	}
	return appendNumericDigits(dst, digits[:nd], exp, neg)
}

// appendNumericText appends the binary numeric form (without the length) of numeric
// text as the engine prints an exact numeric ("-12.500", "NaN", "Infinity"): its
// digits, and its display scale as written.
func appendNumericText(dst []byte, s string) []byte {
	switch s {
	case "NaN":
		return appendNumericHeader(dst, 0, 0, numericNaN, 0)
	case "Infinity":
		return appendNumericHeader(dst, 0, 0, numericPosInf, 0)
	case "-Infinity":
		return appendNumericHeader(dst, 0, 0, numericNegInf, 0)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	dscale := len(fp)
	digits := strings.TrimLeft(ip+fp, "0")
	if digits == "" {
		return appendNumericHeader(dst, 0, 0, numericPos, dscale)
	}
	start := len(dst)
	dst = appendNumericDigits(dst, []byte(digits), len(digits)-1-dscale, neg)
	binary.BigEndian.PutUint16(dst[start+6:], uint16(dscale)) // trailing zeros count
	return dst
}

// appendNumericDigits appends the binary numeric value 0.d1d2d3... × 10^(exp+1),
// that is, decimal digits (ASCII, first one non-zero) whose first digit has
// weight 10^exp.
func appendNumericDigits(dst []byte, digits []byte, exp int, neg bool) []byte {
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return appendNumericHeader(dst, 0, 0, numericPos, 0)
	}
	firstGroup := floorDiv4(exp)
	lastGroup := floorDiv4(exp - (len(digits) - 1))
	var small [16]uint16
	n := firstGroup - lastGroup + 1
	groups := small[:]
	if n > len(small) { // an exact numeric of more than 60 digits
		groups = make([]uint16, n)
	}
	for i, d := range digits {
		p := exp - i
		g := floorDiv4(p)
		groups[firstGroup-g] += uint16(d-'0') * pow10[p-4*g]
	}
	for n > 0 && groups[n-1] == 0 {
		n--
	}
	dscale := len(digits) - 1 - exp
	if dscale < 0 {
		dscale = 0
	}
	sign := uint16(numericPos)
	if neg {
		sign = numericNeg
	}
	dst = appendNumericHeader(dst, n, firstGroup, sign, dscale)
	for _, g := range groups[:n] {
		dst = appendUint16(dst, g)
	}
	return dst
}

var pow10 = [4]uint16{1, 10, 100, 1000}

func floorDiv4(x int) int {
	if x >= 0 {
		return x / 4
	}
	return -((-x + 3) / 4)
}

func appendNumericHeader(dst []byte, ndigits, weight int, sign uint16, dscale int) []byte {
	dst = appendUint16(dst, uint16(ndigits))
	dst = appendUint16(dst, uint16(int16(weight)))
	dst = appendUint16(dst, sign)
	return appendUint16(dst, uint16(dscale))
}

// appendBinaryTextArray appends row r, an array in its text form, in array_send's
// binary form: ndim, has-NULLs flag, element type, then per dimension its length
// and lower bound, then each element length-prefixed (-1 for NULL).
func (c *colEncoder) appendBinaryTextArray(dst []byte, r int) []byte {
	var s string
	if c.kind == kindDict {
		var idx int
		if c.dictIdx != nil {
			idx = int(c.dictIdx[r])
		} else {
			idx = c.dict.GetValueIndex(r)
		}
		s = c.strs.Value(idx)
	} else {
		s = c.strs.Value(r)
	}
	elems, err := engine.ParseTextArray(s)
	if err != nil {
		panic("BUG: text[] value is not an array literal: " + s)
	}
	elemT, _ := engine.ArrayElemType(c.typ)
	dst = append(dst, 0, 0, 0, 0)
	start := len(dst)
	if len(elems) == 0 {
		dst = appendUint32(dst, 0) // ndim
		dst = appendUint32(dst, 0) // no NULLs
		dst = appendUint32(dst, elemT.OID())
	} else {
		hasNull := uint32(0)
		for _, e := range elems {
			if e.Null {
				hasNull = 1
			}
		}
		dst = appendUint32(dst, 1)
		dst = appendUint32(dst, hasNull)
		dst = appendUint32(dst, elemT.OID())
		dst = appendUint32(dst, uint32(len(elems)))
		dst = appendUint32(dst, 1)
		for _, e := range elems {
			if e.Null {
				dst = append(dst, 0xff, 0xff, 0xff, 0xff)
				continue
			}
			dst = appendBinaryElem(dst, e.S, elemT)
		}
	}
	putUint32(dst[start-4:], uint32(len(dst)-start))
	return dst
}
