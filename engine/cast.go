package engine

import (
	"math"

	"github.com/stratadb/strata/internal/sqlstate"
)

func intRangeErr(t Type) *Error {
	switch t.ID {
	case TypeInt16:
		return Errorf(sqlstate.NumericValueOutOfRange, "smallint out of range")
	case TypeInt32:
		return Errorf(sqlstate.NumericValueOutOfRange, "integer out of range")
	}
	return Errorf(sqlstate.NumericValueOutOfRange, "bigint out of range")
}

var boolWord = map[bool]string{true: "true", false: "false"}

// castVec converts x to type t with PostgreSQL's cast rules.
func castVec(x *vec, t Type) (*vec, error) {
	if x.t == t {
		return x, nil
	}
	if out, ok, err := castDecimal(x, t); ok { // decimal.go
		return out, err
	}
	from := x.t
	if (from.ID == TypeUUID && t.ID != TypeText) || (t.ID == TypeUUID && kindOf(from) != kText) {
		// uuid casts to and from text (and its kin) only, by its text form
		return nil, Errorf(sqlstate.CannotCoerce, "cannot cast type %s to %s", from, t)
	}
	n := x.n
	out := newVec(t, n)
	out.nulls = x.nulls
	null := func(i int) bool { return x.nulls != nil && x.nulls[i] }
	switch {
	case kindOf(from) == kText && t.ID == TypeText && t.Pad != 0:
		return toBpchar(x, t), nil
	case kindOf(from) == kText && t.ID == TypeText:
		// Unknown → text, or dictionary text relabelled.
		c := *x
		c.t = t
		return &c, nil
	case kindOf(from) == kText:
		// Text input: parse each distinct string once when dictionary encoded.
		var memo []Value
		var done []bool
		if x.isDict {
			memo = make([]Value, len(x.dict))
			done = make([]bool, len(x.dict))
		}
		for i := 0; i < n; i++ {
			if null(i) {
				continue
			}
			var v Value
			if x.isDict {
				id := x.ids[i]
				if !done[id] {
					pv, err := ParseValue(x.dict[id], t)
					if err != nil {
						return nil, err
					}
					memo[id], done[id] = pv, true
				}
				v = memo[id]
			} else {
				pv, err := ParseValue(x.s[i], t)
				if err != nil {
					return nil, err
				}
				v = pv
			}
			out.set(i, v)
		}
		return out, nil
	case from.ID == TypeBool && t.ID == TypeText:
		// PostgreSQL's bool-to-text cast spells the value (true/false);
		// only the output form is t/f (outputText)
		for i, b := range x.b {
			if !null(i) {
				out.s[i] = boolWord[b]
			}
		}
		return out, nil
	case t.ID == TypeText:
		buf := make([]byte, 0, 32)
		for i := 0; i < n; i++ {
			if null(i) {
				continue
			}
			buf = appendValueText(buf[:0], x.value(i))
			out.s[i] = string(buf)
		}
		return out, nil
	case from.IsInteger() && t.IsInteger():
		copy(out.i, x.i)
		if numRank(t) < numRank(from) {
			for i, v := range x.i {
				if !null(i) && !intFits(v, t) {
					return nil, intRangeErr(t)
				}
			}
		}
		return out, nil
	case from.IsInteger() && t.ID == TypeNumeric:
		return toExactNumeric(x), nil // numeric.go
	case from.IsInteger() && kindOf(t) == kFloat:
		for i, v := range x.i {
			out.f[i] = float64(v)
		}
		if t.ID == TypeFloat32 {
			for i, v := range out.f {
				out.f[i] = float64(float32(v))
			}
		}
		return out, nil
	case (from.ID == TypeFloat32 || from.ID == TypeFloat64) && t.ID == TypeNumeric:
		// float8 → numeric: its 15 significant digits (6 of a real), exactly (numeric.go).
		copy(out.f, x.f)
		out.nx = make([]string, n)
		for i, f := range x.f[:n] {
			if !null(i) {
				out.nx[i] = floatNumericText(f, from)
				out.f[i] = numericTextFloat(out.nx[i])
			}
		}
		return out, nil
	case kindOf(from) == kFloat && kindOf(t) == kFloat:
		copy(out.f, x.f)
		if t.ID == TypeFloat32 {
			for i, v := range out.f {
				if !null(i) && !math.IsInf(v, 0) && math.Abs(v) > math.MaxFloat32 {
					return nil, Errorf(sqlstate.NumericValueOutOfRange, "value out of range: overflow")
				}
				out.f[i] = float64(float32(v))
			}
		}
		return out, nil
	case kindOf(from) == kFloat && t.IsInteger():
		lo, hi := -9.223372036854775808e18, 9.223372036854775808e18
		switch t.ID {
		case TypeInt16:
			lo, hi = math.MinInt16-0.5, math.MaxInt16+0.5
		case TypeInt32:
			lo, hi = math.MinInt32-0.5, math.MaxInt32+0.5
		}
		for i, v := range x.f {
			if null(i) {
				continue
			}
			var r float64
			if from.ID == TypeNumeric {
				r = math.Round(v) // numeric rounds half away from zero
			} else {
				r = math.RoundToEven(v) // float8 → int uses rint
			}
			if math.IsNaN(r) || r < lo || r >= hi {
				return nil, intRangeErr(t)
			}
			out.i[i] = int64(r)
		}
		return out, nil
	case from.ID == TypeBool && t.IsInteger():
		if t.ID != TypeInt32 {
			break
		}
		for i, v := range x.b {
			if v {
				out.i[i] = 1
			}
		}
		return out, nil
	case from.IsInteger() && t.ID == TypeBool:
		if from.ID != TypeInt32 {
			break
		}
		for i, v := range x.i {
			out.b[i] = v != 0
		}
		return out, nil
	case from.IsTime() && t.IsTime():
		copy(out.i, x.i)
		return out, nil
	case from.IsTime() && t.ID == TypeDate:
		for i, v := range x.i {
			out.i[i] = floorDiv(v, usPerDay)
		}
		return out, nil
	case from.ID == TypeDate && t.IsTime():
		for i, v := range x.i {
			if null(i) {
				continue
			}
			if v > math.MaxInt64/usPerDay || v < math.MinInt64/usPerDay {
				return nil, Errorf(sqlstate.DatetimeFieldOverflow, "date out of range for timestamp")
			}
			out.i[i] = v * usPerDay
		}
		return out, nil
	}
	return nil, Errorf(sqlstate.CannotCoerce, "cannot cast type %s to %s", from, t)
}
