package pgwire

import (
	"math"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/pguuid"
)

// appendBinaryElem appends one non-NULL array element, given in its text form,
// in the binary form of its type (length-prefixed), as array_send calls the
// element type's send function. A text element is its bytes.
func appendBinaryElem(dst []byte, s string, t engine.Type) []byte {
	if t.ID == engine.TypeText {
		return append(appendUint32(dst, uint32(len(s))), s...)
	}
	v, err := engine.ParseValue(s, t)
	if err != nil {
		panic("BUG: array element " + s + " is not a " + t.String() + ": " + err.Error())
	}
	switch t.ID {
	case engine.TypeBool:
		b := byte(0)
		if v.B {
			b = 1
		}
		return append(dst, 0, 0, 0, 1, b)
	case engine.TypeInt16, engine.TypeInt32, engine.TypeInt64:
		dst, _ = appendBinaryInt(dst, v.I, t)
		return dst
	case engine.TypeFloat32, engine.TypeFloat64, engine.TypeNumeric:
		dst, _ = appendBinaryFloat(dst, v.F, t)
		return dst
	case engine.TypeTimestamp, engine.TypeTimestampTZ:
		us := v.I
		if us != math.MaxInt64 && us != math.MinInt64 {
			us -= pgEpochUs
		}
		return appendUint64(append(dst, 0, 0, 0, 8), uint64(us))
	case engine.TypeDate:
		d := int32(v.I)
		if d != math.MaxInt32 && d != math.MinInt32 {
			d -= pgEpochDays
		}
		return appendUint32(append(dst, 0, 0, 0, 4), uint32(d))
	case engine.TypeInterval:
		dst = append(dst, 0, 0, 0, 16)
		dst = appendUint64(dst, uint64(v.I))
		dst = appendUint32(dst, uint32(v.Days))
		return appendUint32(dst, uint32(v.Months))
	case engine.TypeUUID:
		if u, ok := pguuid.Bytes(v.S); ok {
			return append(append(dst, 0, 0, 0, 16), u[:]...)
		}
	}
	panic("BUG: no binary form for array elements of type " + t.String())
}
