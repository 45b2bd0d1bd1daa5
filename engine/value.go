package engine

import (
	"errors"
	"github.com/stratadb/strata/internal/pginterval"
	"github.com/stratadb/strata/internal/pguuid"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stratadb/strata/internal/sqlstate"
)

const (
	usPerSec  = int64(1_000_000)
	usPerMin  = 60 * usPerSec
	usPerHour = 60 * usPerMin
	usPerDay  = 24 * usPerHour
)

// AppendText appends PostgreSQL's text output of row of arr (which must not be NULL)
// to dst. arr is the physical array of type t; text may be a Dictionary array.
func AppendText(dst []byte, arr arrow.Array, row int, t Type) []byte {
	switch a := arr.(type) {
	case *array.Boolean:
		return appendBool(dst, a.Value(row))
	case *array.Int64:
		if t.ID == TypeDecimal {
			return AppendDecimal(dst, a.Value(row), int(t.Scale))
		}
		if t.Reg != 0 {
			return append(dst, RegText(t, a.Value(row), nil)...)
		}
		return strconv.AppendInt(dst, a.Value(row), 10)
	case *RegArray:
		return append(dst, RegText(t, a.Value(row), a.Names)...)
	case *array.Float64:
		return appendFloat(dst, a.Value(row), t)
	case *array.String:
		return AppendBpchar(dst, a.Value(row), t)
	case *array.Dictionary:
		d := a.Dictionary().(*array.String)
		return AppendBpchar(dst, d.Value(a.GetValueIndex(row)), t)
	case *array.Timestamp:
		if loc := arrayZone(a); loc != nil && t.ID == TypeTimestampTZ { // tz.go
			return appendTimestampIn(dst, int64(a.Value(row)), loc)
		}
		return appendTimestamp(dst, int64(a.Value(row)), t.ID == TypeTimestampTZ)
	case *array.Date32:
		return appendDate(dst, int64(a.Value(row)))
	case *array.MonthDayNanoInterval:
		v := a.Value(row)
		return appendInterval(dst, v.Months, v.Days, IntervalMicros(v))
	}
	panic("BUG: AppendText: unexpected array type " + arr.DataType().String())
}

// appendValueText appends the text output of a non-NULL Value.
func appendValueText(dst []byte, v Value) []byte {
	switch v.Type.ID {
	case TypeBool:
		return appendBool(dst, v.B)
	case TypeInt16, TypeInt32, TypeInt64:
		if v.Type.Reg != 0 {
			return append(dst, RegText(v.Type, v.I, nil)...)
		}
		return strconv.AppendInt(dst, v.I, 10)
	case TypeDecimal:
		return AppendDecimal(dst, v.I, int(v.Type.Scale))
	case TypeNumeric:
		if v.S != "" { // exact (numeric.go)
			return append(dst, v.S...)
		}
		return appendFloat(dst, v.F, v.Type)
	case TypeFloat32, TypeFloat64:
		return appendFloat(dst, v.F, v.Type)
	case TypeTimestamp:
		return appendTimestamp(dst, v.I, false)
	case TypeTimestampTZ:
		return appendTimestamp(dst, v.I, true)
	case TypeDate:
		return appendDate(dst, v.I)
	case TypeInterval:
		return appendInterval(dst, v.Months, v.Days, v.I)
	}
	return AppendBpchar(dst, v.S, v.Type)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 't')
	}
	return append(dst, 'f')
}

// appendFloat prints like PostgreSQL 15: shortest round-trip digits, exponent form
// when the decimal exponent is < -4 or >= 15 (6 for real). Numeric is printed in plain
// positional notation (strata keeps numeric in float64).
func appendFloat(dst []byte, f float64, t Type) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	if t.ID == TypeNumeric {
		if f == 0 {
			return append(dst, '0')
		}
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	bits, maxExp := 64, 15
	if t.ID == TypeFloat32 {
		bits, maxExp = 32, 6
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits)
	i := strings.LastIndexByte(string(e), 'e')
	exp, _ := strconv.Atoi(string(e[i+1:]))
	if exp < -4 || exp >= maxExp {
		return append(dst, e...)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, bits)
}

func appendPad(dst []byte, v int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
func civil(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return
}

// daysFromCivil is the inverse of civil.
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mm := int64(m)
	if mm > 2 {
		mm -= 3
	} else {
		mm += 9
	}
	doy := (153*mm+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func appendDateParts(dst []byte, y int64, m, d int) []byte {
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	dst = appendPad(dst, y, 4)
	dst = append(dst, '-')
	dst = appendPad(dst, int64(m), 2)
	dst = append(dst, '-')
	dst = appendPad(dst, int64(d), 2)
	_ = bc
	return dst
}

func appendDate(dst []byte, days int64) []byte {
	y, m, d := civil(days)
	dst = appendDateParts(dst, y, m, d)
	if y <= 0 {
		dst = append(dst, " BC"...)
	}
	return dst
}

func appendTimestamp(dst []byte, us int64, tz bool) []byte {
	if us == math.MaxInt64 {
		return append(dst, "infinity"...)
	}
	if us == math.MinInt64 {
		return append(dst, "-infinity"...)
	}
	days := floorDiv(us, usPerDay)
	rem := us - days*usPerDay
	y, m, d := civil(days)
	dst = appendDateParts(dst, y, m, d)
	dst = append(dst, ' ')
	dst = appendPad(dst, rem/usPerHour, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, rem/usPerMin%60, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, rem/usPerSec%60, 2)
	dst = pginterval.AppendFraction(dst, rem%usPerSec)
	if tz {
		dst = append(dst, "+00"...)
	}
	if y <= 0 {
		dst = append(dst, " BC"...)
	}
	return dst
}

// appendInterval prints PostgreSQL's default "postgres" interval style (internal/pginterval).
func appendInterval(dst []byte, months, days int32, us int64) []byte {
	return pginterval.Append(dst, months, days, us)
}

func invalidText(t Type, s string) *Error {
	return Errorf(sqlstate.InvalidTextRepresentation, "invalid input syntax for type %s: \"%s\"", t, s)
}

// ParseValue parses PostgreSQL's text input of a value of type t.
func ParseValue(s string, t Type) (Value, error) { return ParseValueIn(s, t, nil) }

// ParseValueIn is ParseValue reading a timestamptz written without a zone in loc
// (the session's TimeZone; nil is UTC).
func ParseValueIn(s string, t Type, loc *time.Location) (Value, error) {
	v := Value{Type: t}
	switch t.ID {
	case TypeUnknown, TypeText:
		v.S = s
		if t.Pad != 0 { // character(n): kept without trailing spaces (bpchar.go)
			v.S = strings.TrimRight(s, " ")
		}
		return v, nil
	case TypeUUID:
		u, ok := pguuid.Canonical(s)
		if !ok {
			return v, invalidText(t, s)
		}
		v.S = u
		return v, nil
	case TypeTextArray:
		elems, err := ParseTextArray(s)
		if err != nil {
			return v, err
		}
		v.S = FormatTextArray(elems)
		return v, nil
	case TypeBoolArray, TypeInt16Array, TypeInt32Array, TypeInt64Array, TypeFloat32Array, TypeFloat64Array,
		TypeNumericArray, TypeTimestampArray, TypeTimestampTZArray, TypeDateArray, TypeIntervalArray, TypeUUIDArray:
		return parseArrayIn(s, t, loc) // array_types.go
	case TypeBool:
		b, ok := parseBool(s)
		if !ok {
			return v, invalidText(t, s)
		}
		v.B = b
	case TypeInt16, TypeInt32, TypeInt64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return v, Errorf(sqlstate.NumericValueOutOfRange, "value \"%s\" is out of range for type %s", s, t)
			}
			return v, invalidText(t, s)
		}
		if !intFits(n, t) {
			return v, Errorf(sqlstate.NumericValueOutOfRange, "value \"%s\" is out of range for type %s", s, t)
		}
		v.I = n
	case TypeDecimal:
		n, err := ParseDecimal(s, t)
		if err != nil {
			return v, err
		}
		v.I = n
	case TypeNumeric:
		d, err := parseNumeric(s) // numeric.go: exact, with the scale written
		if err != nil {
			return v, err
		}
		v.S = numericText(&d)
		v.F = exactFloat(&d)
	case TypeFloat32, TypeFloat64:
		f, err := parseFloat(s)
		if err != nil {
			if err == strconv.ErrRange {
				return v, Errorf(sqlstate.NumericValueOutOfRange, "\"%s\" is out of range for type %s", s, t)
			}
			return v, invalidText(t, s)
		}
		if t.ID == TypeFloat32 && !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
			return v, Errorf(sqlstate.NumericValueOutOfRange, "\"%s\" is out of range for type real", s)
		}
		if t.ID == TypeFloat32 {
			f = float64(float32(f))
		}
		v.F = f
	case TypeTimestamp, TypeTimestampTZ:
		us, err := parseTimestampIn(s, t, loc)
		if err != nil {
			return v, err
		}
		v.I = us
	case TypeDate:
		us, err := parseTimestamp(s, t)
		if err != nil {
			return v, err
		}
		v.I = floorDiv(us, usPerDay)
	case TypeInterval:
		m, d, us, err := pginterval.Check(s)
		if errors.Is(err, pginterval.ErrFieldRange) {
			return v, Errorf(sqlstate.IntervalFieldOverflow, "interval field value out of range: \"%s\"", s)
		}
		if err != nil {
			return v, Errorf(sqlstate.InvalidDatetimeFormat, "invalid input syntax for type interval: \"%s\"", s)
		}
		v.Months, v.Days, v.I = m, d, us
	default:
		return v, Unsupported("input of type " + t.String())
	}
	return v, nil
}

func intFits(n int64, t Type) bool {
	switch t.ID {
	case TypeInt16:
		return n >= math.MinInt16 && n <= math.MaxInt16
	case TypeInt32:
		return n >= math.MinInt32 && n <= math.MaxInt32
	}
	return true
}

func parseBool(s string) (bool, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return false, false
	}
	for _, w := range []string{"true", "yes"} {
		if strings.HasPrefix(w, s) {
			return true, true
		}
	}
	for _, w := range []string{"false", "no"} {
		if strings.HasPrefix(w, s) {
			return false, true
		}
	}
	switch s {
	case "on", "1":
		return true, true
	case "off", "of", "0":
		return false, true
	}
	return false, false
}

func parseFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "nan":
		return math.NaN(), nil
	case "infinity", "inf", "+infinity", "+inf":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	if s == "" || strings.ContainsAny(s, "_xXpPiInN") {
		return 0, strconv.ErrSyntax
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok {
			return 0, ne.Err
		}
		return 0, err
	}
	return f, nil
}

// parseTimestamp parses ISO 8601 / PostgreSQL timestamp input into µs since the epoch,
// UTC. A zone offset is applied for timestamptz and ignored for timestamp and date, as
// PostgreSQL does; timestamptz input without a zone is taken as UTC (the session zone).
func parseTimestamp(s string, t Type) (int64, error) { return parseTimestampIn(s, t, nil) }

// parseTimestampIn parses a timestamp or timestamptz; a timestamptz written
// without a zone is read in loc (nil: UTC), as PostgreSQL reads it in the
// session's TimeZone.
func parseTimestampIn(s string, t Type, loc *time.Location) (int64, error) {
	bad := func() (int64, error) {
		return 0, Errorf(sqlstate.InvalidDatetimeFormat, "invalid input syntax for type %s: \"%s\"", t, s)
	}
	in := strings.TrimSpace(s)
	switch strings.ToLower(in) {
	case "epoch":
		return 0, nil
	case "infinity", "+infinity":
		return math.MaxInt64, nil
	case "-infinity":
		return math.MinInt64, nil
	}
	p := in
	num := func(minDigits, maxDigits int) (int64, bool) {
		i := 0
		for i < len(p) && i < maxDigits && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		if i < minDigits {
			return 0, false
		}
		n, _ := strconv.ParseInt(p[:i], 10, 64)
		p = p[i:]
		return n, true
	}
	y, ok := num(4, 6)
	if !ok || len(p) == 0 || p[0] != '-' {
		return bad()
	}
	p = p[1:]
	mo, ok := num(1, 2)
	if !ok || len(p) == 0 || p[0] != '-' {
		return bad()
	}
	p = p[1:]
	d, ok := num(1, 2)
	if !ok {
		return bad()
	}
	var hh, mi, ss, frac int64
	if len(p) > 0 && (p[0] == 'T' || p[0] == 't' || p[0] == ' ') {
		rest := strings.TrimLeft(p[1:], " ")
		if len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
			p = rest
			if hh, ok = num(1, 2); !ok || len(p) == 0 || p[0] != ':' {
				return bad()
			}
			p = p[1:]
			if mi, ok = num(1, 2); !ok {
				return bad()
			}
			if len(p) > 0 && p[0] == ':' {
				p = p[1:]
				if ss, ok = num(1, 2); !ok {
					return bad()
				}
				if len(p) > 0 && p[0] == '.' {
					p = p[1:]
					i := 0
					for i < len(p) && p[i] >= '0' && p[i] <= '9' {
						i++
					}
					if i == 0 {
						return bad()
					}
					digits := p[:i]
					p = p[i:]
					// Round to microseconds as PostgreSQL does.
					for len(digits) < 7 {
						digits += "0"
					}
					f, _ := strconv.ParseInt(digits[:7], 10, 64)
					frac = (f + 5) / 10
				}
			}
		} else {
			p = rest
		}
	}
	// Zone.
	p = strings.TrimLeft(p, " ")
	var offset int64
	hasZone := p != "" && !strings.EqualFold(p, "BC")
	if p != "" {
		switch {
		case p == "Z" || p == "z" || strings.EqualFold(p, "UTC") || strings.EqualFold(p, "GMT"):
		case p[0] == '+' || p[0] == '-':
			sign := int64(1)
			if p[0] == '-' {
				sign = -1
			}
			p = p[1:]
			oh, ok := num(1, 2)
			if !ok {
				return bad()
			}
			var om, os int64
			if len(p) > 0 && p[0] == ':' {
				p = p[1:]
				if om, ok = num(2, 2); !ok {
					return bad()
				}
				if len(p) > 0 && p[0] == ':' {
					p = p[1:]
					if os, ok = num(2, 2); !ok {
						return bad()
					}
				}
			} else if len(p) > 0 {
				if om, ok = num(2, 2); !ok {
					return bad()
				}
			}
			if p != "" || oh > 15 || om > 59 {
				return bad()
			}
			offset = sign * (oh*usPerHour + om*usPerMin + os*usPerSec)
		default:
			if strings.EqualFold(p, "BC") {
				y = 1 - y
				break
			}
			zone, err := LoadZone(p)
			if err != nil {
				return bad()
			}
			tt := time.Date(int(y), time.Month(mo), int(d), int(hh), int(mi), int(ss), 0, zone)
			_, off := tt.Zone()
			offset = int64(off) * usPerSec
		}
	}
	if mo < 1 || mo > 12 || d < 1 || d > int64(daysIn(y, int(mo))) || hh > 24 || mi > 59 || ss > 60 ||
		(hh == 24 && (mi != 0 || ss != 0 || frac != 0)) {
		return 0, Errorf(sqlstate.DatetimeFieldOverflow, "date/time field value out of range: \"%s\"", s)
	}
	days := daysFromCivil(y, int(mo), int(d))
	if days < minTimestampUs/usPerDay || days >= endTimestampUs/usPerDay {
		// PostgreSQL's first day, 4714-11-24 BC, to the last whole day before int64
		// microseconds from 1970 end (294247-01-09; PostgreSQL's timestamps end at
		// 294276, its dates at 5874897, past it)
		what := "timestamp"
		if t.ID == TypeDate {
			what = "date"
		}
		return 0, Errorf(sqlstate.DatetimeFieldOverflow, "%s out of range: \"%s\"", what, s)
	}
	us := days*usPerDay + hh*usPerHour + mi*usPerMin + ss*usPerSec + frac
	if t.ID == TypeTimestampTZ {
		if !hasZone && loc != nil {
			return localToUTC(us, loc), nil
		}
		us -= offset
	}
	return us, nil
}

func daysIn(y int64, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseInterval parses PostgreSQL interval input (internal/pginterval).
func parseInterval(s string) (months, days int32, us int64, ok bool) { return pginterval.Parse(s) }
