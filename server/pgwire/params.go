package pgwire

import (
	"encoding/binary"
	"github.com/stratadb/strata/internal/pguuid"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// decodeParam turns one Bind parameter into an engine.Value. oid is the parameter's
// described type, want the type the statement expects. Text-format values travel as
// Unknown with the client's text in S (the SQL layer converts them); binary values
// are decoded by oid and then carried towards want when both are numbers or both
// timestamps. data is only valid during the call.
func decodeParam(oid uint32, want engine.Type, format int16, data []byte) (engine.Value, error) {
	if data == nil {
		return engine.NullValue(want), nil
	}
	switch format {
	case 0:
		if !utf8.Valid(data) {
			return engine.Value{}, engine.Errorf(sqlstate.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
		}
		return engine.Value{Type: engine.Unknown, S: string(data)}, nil
	case 1:
	default:
		return engine.Value{}, engine.Errorf(sqlstate.ProtocolViolation, "unsupported format code: %d", format)
	}
	if oid == 0 {
		oid = wireOID(want)
	}
	if oid == 1700 && want.IsDecimal() { // exact into numeric(p,s), no float between
		txt, err := numericText(data)
		if err != nil {
			return engine.Value{}, err
		}
		if txt == nil {
			txt = []byte("0")
		}
		n, err := engine.ParseDecimal(string(txt), want)
		return engine.Value{Type: want, I: n}, err
	}
	if oid == 1700 && want.ID == engine.TypeNumeric { // exact, with the client's display scale
		txt, err := numericText(data)
		if err != nil {
			return engine.Value{}, err
		}
		if txt == nil {
			txt = []byte("0")
		}
		v, err := engine.ParseValue(string(txt), engine.Numeric)
		if err != nil {
			return v, err
		}
		if dscale := int(binary.BigEndian.Uint16(data[6:])); v.S != "NaN" && !math.IsInf(v.F, 0) && dscale <= 1000 {
			v.S = engine.NumericWithScale(v.S, dscale)
		}
		return v, nil
	}
	v, err := decodeBinary(oid, data)
	if err != nil {
		return v, err
	}
	switch {
	case want.IsInteger() && v.Type.IsInteger():
		v.Type = want
	case want.IsNumeric() && !want.IsInteger() && v.Type.IsNumeric():
		if v.Type.IsInteger() {
			v.F = float64(v.I)
			v.I = 0
		}
		v.Type = want
	case want.IsTime() && v.Type.IsTime():
		v.Type = want
	}
	return v, nil
}

func badBinary(oid uint32, n int) error {
	return engine.Errorf(sqlstate.InvalidBinaryRepresentation, "incorrect binary data format: %d bytes for type oid %d", n, oid)
}

func decodeBinary(oid uint32, b []byte) (engine.Value, error) {
	be := binary.BigEndian
	switch oid {
	case 16:
		if len(b) != 1 {
			return engine.Value{}, badBinary(oid, len(b))
		}
		return engine.Value{Type: engine.Bool, B: b[0] != 0}, nil
	case 21:
		if len(b) != 2 {
			return engine.Value{}, badBinary(oid, len(b))
		}
		return engine.Value{Type: engine.Int16, I: int64(int16(be.Uint16(b)))}, nil
	case 23:
		if len(b) != 4 {
			return engine.Value{}, badBinary(oid, len(b))
		}
		return engine.Value{Type: engine.Int32, I: int64(int32(be.Uint32(b)))}, nil
	case 26:
		if len(b) != 4 {
			return engine.Value{}, badBinary(oid, len(b))
		}
		return engine.Value{Type: engine.Int64, I: int64(be.Uint32(b))}, nil
	case 20:
		if len(b) != 8 {
			return engine.Value{}, badBinary(oid, len(b))
		}
		return engine.Value{Type: engine.Int64, I: int64(be.Uint64(b))}, nil
	case 700:
		if len(b) != 4 {
			return engine.Value{}, badBinary(oid, len(b))
		}
		return engine.Value{Type: engine.Float32, F: float64(math.Float32frombits(be.Uint32(b)))}, nil
	case 701:
		if len(b) != 8 {
			return engine.Value{}, badBinary(oid, len(b))
		}
		return engine.Value{Type: engine.Float64, F: math.Float64frombits(be.Uint64(b))}, nil
	case 1700:
		f, err := decodeNumeric(b)
		if err != nil {
			return engine.Value{}, err
		}
		return engine.Value{Type: engine.Numeric, F: f}, nil
	case 2950: // uuid: its 16 bytes
		if len(b) != 16 {
			return engine.Value{}, badBinary(oid, len(b))
		}
		return engine.Value{Type: engine.UUID, S: string(pguuid.Append(nil, [16]byte(b)))}, nil
	case 25, 1043, 1042, 19, 705:
		if !utf8.Valid(b) {
			return engine.Value{}, engine.Errorf(sqlstate.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
		}
		return engine.Value{Type: engine.Text, S: string(b)}, nil
	case 1114, 1184:
		if len(b) != 8 {
			return engine.Value{}, badBinary(oid, len(b))
		}
		us := int64(be.Uint64(b))
		if us != math.MaxInt64 && us != math.MinInt64 {
			if us > math.MaxInt64-pgEpochUs {
				return engine.Value{}, engine.Errorf(sqlstate.DatetimeFieldOverflow, "timestamp out of range")
			}
			us += pgEpochUs
		}
		t := engine.Timestamp
		if oid == 1184 {
			t = engine.TimestampTZ
		}
		return engine.Value{Type: t, I: us}, nil
	case 1082:
		if len(b) != 4 {
			return engine.Value{}, badBinary(oid, len(b))
		}
		d := int64(int32(be.Uint32(b)))
		if d != math.MaxInt32 && d != math.MinInt32 {
			d += pgEpochDays
		}
		return engine.Value{Type: engine.Date, I: d}, nil
	case 1186:
		if len(b) != 16 {
			return engine.Value{}, badBinary(oid, len(b))
		}
		return engine.Value{Type: engine.Interval, I: int64(be.Uint64(b)), Days: int32(be.Uint32(b[8:])), Months: int32(be.Uint32(b[12:]))}, nil
	}
	return engine.Value{}, engine.Errorf(sqlstate.InvalidBinaryRepresentation, "no binary input for parameters of type oid %d", oid)
}

// decodeNumeric decodes PostgreSQL's binary numeric into the nearest float64.
func decodeNumeric(b []byte) (float64, error) {
	buf, err := numericText(b)
	if err != nil || buf == nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(buf), 64)
	if err != nil && !isRangeErr(err) {
		return 0, engine.Errorf(sqlstate.InvalidBinaryRepresentation, "invalid external \"numeric\" value")
	}
	return f, nil
}

// numericText is binary numeric b as exact text, "[-]digitsE±exp"; nil for zero.
// NaN and ±Infinity come back as their text.
func numericText(b []byte) ([]byte, error) {
	if len(b) < 8 {
		return nil, badBinary(1700, len(b))
	}
	be := binary.BigEndian
	ndigits := int(int16(be.Uint16(b)))
	weight := int(int16(be.Uint16(b[2:])))
	sign := be.Uint16(b[4:])
	if ndigits < 0 || len(b) != 8+2*ndigits {
		return nil, badBinary(1700, len(b))
	}
	switch sign {
	case numericNaN:
		return []byte("NaN"), nil
	case numericPosInf:
		return []byte("Infinity"), nil
	case numericNegInf:
		return []byte("-Infinity"), nil
	case numericPos, numericNeg:
	default:
		return nil, engine.Errorf(sqlstate.InvalidBinaryRepresentation, "invalid sign in external \"numeric\" value")
	}
	if ndigits == 0 {
		return nil, nil
	}
	// The digits as an integer mantissa and a decimal exponent: exact (decodeNumeric
	// lets strconv round once, correctly).
	buf := make([]byte, 0, 4*ndigits+8)
	if sign == numericNeg {
		buf = append(buf, '-')
	}
	for i := range ndigits {
		d := be.Uint16(b[8+2*i:])
		if d > 9999 {
			return nil, engine.Errorf(sqlstate.InvalidBinaryRepresentation, "invalid digit in external \"numeric\" value")
		}
		buf = append(buf, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
	}
	buf = append(buf, 'e')
	buf = strconv.AppendInt(buf, int64(4*(weight-ndigits+1)), 10)
	return buf, nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
