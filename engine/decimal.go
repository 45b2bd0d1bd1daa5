package engine

import (
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
)

// Exact numeric with a fixed scale. A TypeDecimal value is an int64 holding
// value × 10^Scale (a scaled integer, as DuckDB's DECIMAL(18,s)); its vec is a
// kInt vec, so filters, sorts, GROUP BY, min and max run the int64 kernels
// unchanged. What differs from an integer is done here: text in and out with the
// scale, + - * with PostgreSQL's result scales (max of the scales; their sum),
// comparisons and casts across scales, round/trunc/abs/ceil/floor.
//
// numeric(p,s) columns with p <= 18 are decimals. A decimal never holds more than
// 18 digits (Prec 0: any int64); + - * past that are 22003. sum of a decimal is
// summed in 128 bits (agg.go sumIntAcc, window_agg.go wideSums) into a TypeNumeric,
// exact however large, as are the results PostgreSQL gives a value-dependent scale
// (x / y, avg, numeric without a typmod, the math functions): exact with a
// per-value scale where numeric.go computes them, else double precision.

// MaxDecimalPrecision is the largest numeric(p,s) precision kept exactly.
const MaxDecimalPrecision = 18

var pow10 = [19]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
	1e14, 1e15, 1e16, 1e17, 1e18}

// Decimal returns numeric(prec, scale) as an exact decimal type; prec 0 is a
// computed decimal with no declared precision.
func Decimal(prec, scale int) Type {
	return Type{ID: TypeDecimal, Prec: uint8(prec), Scale: uint8(scale)}
}

// IsDecimal reports whether t is an exact fixed-scale numeric.
func (t Type) IsDecimal() bool { return t.ID == TypeDecimal }

// SQLName is the type as format_type prints it for a column: numeric(10,2) for a
// decimal with a declared precision, else String().
func (t Type) SQLName() string {
	if t.ID == TypeDecimal && t.Prec > 0 {
		return "numeric(" + strconv.Itoa(int(t.Prec)) + "," + strconv.Itoa(int(t.Scale)) + ")"
	}
	return t.String()
}

// Typmod is pg_attribute.atttypmod: ((p << 16) | s) + 4 for numeric(p,s), -1 otherwise.
func (t Type) Typmod() int32 {
	if t.ID == TypeDecimal && t.Prec > 0 {
		return (int32(t.Prec)<<16 | int32(t.Scale)) + VarHdrSz
	}
	return -1
}

// DecimalByName parses the stored column type "numeric(p,s)".
func DecimalByName(name string) (Type, bool) {
	rest, ok := strings.CutPrefix(name, "numeric(")
	if !ok {
		return Unknown, false
	}
	rest, ok = strings.CutSuffix(rest, ")")
	if !ok {
		return Unknown, false
	}
	ps, ss, _ := strings.Cut(rest, ",")
	p, err1 := strconv.Atoi(ps)
	s, err2 := strconv.Atoi(ss)
	if err1 != nil || err2 != nil || p < 1 || p > MaxDecimalPrecision || s < 0 || s > MaxDecimalPrecision {
		return Unknown, false
	}
	return Decimal(p, s), true
}

// NumericTypmod returns the type numeric(p,s) stands for (a CAST target or a
// column): an exact decimal for p <= 18 and 0 <= s <= 18 (PostgreSQL 15 allows
// s > p: numeric(2,3) holds values below 0.1); for the wider ones and negative
// scales Numeric, double precision like numeric without a modifier; 22023 where
// PostgreSQL rejects the modifier.
func NumericTypmod(p, s int64) (Type, error) {
	switch {
	case p < 1 || p > 1000:
		return Unknown, Errorf(sqlstate.InvalidParameterValue, "NUMERIC precision %d must be between 1 and 1000", p)
	case s < -1000 || s > 1000:
		return Unknown, Errorf(sqlstate.InvalidParameterValue, "NUMERIC scale %d must be between -1000 and 1000", s)
	case p > MaxDecimalPrecision || s < 0 || s > MaxDecimalPrecision:
		return Numeric, nil
	}
	return Decimal(int(p), int(s)), nil
}

func decimalOverflow() *Error {
	return Errorf(sqlstate.NumericValueOutOfRange, "numeric value out of range: strata keeps at most 18 digits exactly")
}

// fieldOverflow is PostgreSQL's error for a value that does not fit numeric(p,s).
func fieldOverflow(t Type) *Error {
	e := Errorf(sqlstate.NumericValueOutOfRange, "numeric field overflow")
	limit := "1" // 10^0, as PostgreSQL prints it
	if m := int(t.Prec) - int(t.Scale); m != 0 {
		limit = "10^" + strconv.Itoa(m)
	}
	e.Detail = "A field with precision " + strconv.Itoa(int(t.Prec)) + ", scale " + strconv.Itoa(int(t.Scale)) +
		" must round to an absolute value less than " + limit + "."
	return e
}

// decimalFits reports whether scaled value v fits t's precision.
func decimalFits(v int64, t Type) bool {
	if t.Prec == 0 {
		return true
	}
	lim := pow10[t.Prec]
	return v < lim && v > -lim
}

// AppendDecimal appends the text of scaled value v with scale digits after the point.
func AppendDecimal(dst []byte, v int64, scale int) []byte {
	u := uint64(v)
	if v < 0 {
		u = uint64(-v) // also right for MinInt64
	}
	return appendScaled(dst, u, v < 0, scale)
}

// ParseDecimal reads numeric text ("12.34", "-1e3", " 5 ") as a value of decimal
// type t, rounding extra fractional digits half away from zero as PostgreSQL does;
// 22003 when it does not fit, 22P02 when it is not a number.
func ParseDecimal(s string, t Type) (int64, error) {
	v, ok, syntax := storage.ParseDecimal(s, int(t.Prec), int(t.Scale))
	if syntax {
		return 0, invalidText(t, s)
	}
	if !ok {
		if t.Prec > 0 {
			return 0, fieldOverflow(t)
		}
		return 0, decimalOverflow()
	}
	return v, nil
}

// DecimalLiteral types a numeric literal as PostgreSQL does when it fits 18
// digits: 0.10 is numeric with scale 2. false sends it to double precision.
func DecimalLiteral(s string) (Value, bool) {
	digits, exp, _, ok := storage.SplitNumber(s)
	if !ok {
		return Value{}, false
	}
	scale := max(0, -exp)
	if scale > MaxDecimalPrecision {
		return Value{}, false
	}
	t := Decimal(0, scale)
	v, ok := storage.ScaleDigits(digits, exp+scale, strings.HasPrefix(strings.TrimSpace(s), "-"))
	if !ok || v >= pow10[18] || v <= -pow10[18] {
		return Value{}, false
	}
	return Value{Type: t, I: v}, true
}

// rescale returns v (scale from) at scale to, rounding half away from zero when
// digits are dropped; false on overflow.
func rescale(v int64, from, to uint8) (int64, bool) {
	switch {
	case to == from:
		return v, true
	case to > from:
		m := pow10[to-from]
		hi, lo := bits.Mul64(uint64(absI(v)), uint64(m))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		if v < 0 {
			return -int64(lo), true
		}
		return int64(lo), true
	}
	return roundDiv(v, pow10[from-to]), true
}

func absI(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// roundDiv is v / d rounded half away from zero (d > 0).
func roundDiv(v, d int64) int64 {
	q, r := v/d, v%d
	if r < 0 {
		r = -r
	}
	if r >= d-r { // 2r >= d without overflow
		if v < 0 {
			q--
		} else {
			q++
		}
	}
	return q
}

// decimalOf returns x as decimal values at scale s (integers and decimals), or false.
func decimalOf(x *vec, s uint8) ([]int64, error) {
	from := uint8(0)
	if x.t.ID == TypeDecimal {
		from = x.t.Scale
	}
	if from == s {
		return x.i, nil
	}
	out := make([]int64, x.n)
	for i, v := range x.i[:x.n] {
		if x.isNull(i) {
			continue
		}
		r, ok := rescale(v, from, s)
		if !ok {
			return nil, decimalOverflow()
		}
		out[i] = r
	}
	return out, nil
}

// numFloat is number constant v as a float64: a decimal's value, not its scaled
// integer (REQUIRES: v is a number).
func numFloat(v Value) float64 {
	switch {
	case v.Type.IsDecimal():
		return decimalFloats(constVec(v, 1))[0]
	case kindOf(v.Type) == kInt:
		return float64(v.I)
	}
	return v.F
}

// decimalFloats returns the values of decimal vec x as float64.
func decimalFloats(x *vec) []float64 {
	out := make([]float64, x.n)
	d := float64(pow10[x.t.Scale])
	for i, v := range x.i[:x.n] {
		out[i] = float64(v) / d // correctly rounded while |v| < 2^53
		if v >= 1<<53 || v <= -(1<<53) {
			out[i], _ = strconv.ParseFloat(string(AppendDecimal(nil, v, int(x.t.Scale))), 64)
		}
	}
	return out
}

// decimalArithType is the result type of x op y when one side is a decimal and
// the other a decimal or an integer; false when the result is not a decimal. When
// both are declared numeric(p,s) (Prec > 0) and x + y, x - y or x * y may pass 18
// digits (PostgreSQL would go on where int64 units stop), it is Numeric, computed
// exactly with apd (numericArith); a computed decimal or an integer operand has no
// declared bound and keeps the int64 path (22003 past 18 digits).
func decimalArithType(op string, x, y Type) (Type, bool) {
	if !(x.IsDecimal() || y.IsDecimal()) || !(x.IsDecimal() || x.IsInteger()) || !(y.IsDecimal() || y.IsInteger()) {
		return Unknown, false
	}
	switch op {
	case "+", "-":
		if x.Prec > 0 && y.Prec > 0 && max(x.Prec-x.Scale, y.Prec-y.Scale)+1+max(x.Scale, y.Scale) > MaxDecimalPrecision {
			return Numeric, true // two declared columns whose sum may pass 18 digits: exact numeric
		}
		return Decimal(0, int(max(x.Scale, y.Scale))), true
	case "%", "mod":
		return Decimal(0, int(max(x.Scale, y.Scale))), true
	case "*":
		if x.Prec > 0 && y.Prec > 0 && int(x.Prec)+int(y.Prec) > MaxDecimalPrecision {
			return Numeric, true // two declared columns whose product may pass 18 digits
		}
		if s := int(x.Scale) + int(y.Scale); s <= MaxDecimalPrecision {
			return Decimal(0, s), true
		}
	}
	return Unknown, false
}

// decimalArith computes x op y into decimal type rt (decimalArithType's).
func decimalArith(op string, x, y *vec, rt Type) (*vec, error) {
	n := x.n
	out := newVec(rt, n)
	out.nulls = unionNulls(n, x, y)
	null := func(i int) bool { return out.nulls != nil && out.nulls[i] }
	r := out.i
	switch op {
	case "+", "-":
		a, err := decimalOf(x, rt.Scale)
		if err != nil {
			return nil, err
		}
		b, err := decimalOf(y, rt.Scale)
		if err != nil {
			return nil, err
		}
		if op == "+" {
			for i := range r {
				r[i] = a[i] + b[i]
			}
		} else {
			for i := range r {
				r[i] = a[i] - b[i]
			}
		}
		// Operands hold at most 18 digits (< 10^18), so a sum never wraps int64.
		for i, v := range r {
			if (v >= pow10[18] || v <= -pow10[18]) && !null(i) {
				return nil, decimalOverflow()
			}
		}
	case "*":
		a, b := x.i, y.i
		for i := range r {
			p := a[i] * b[i]
			if a[i] != 0 && !null(i) {
				hi, lo := bits.Mul64(uint64(absI(a[i])), uint64(absI(b[i])))
				if hi != 0 || lo >= uint64(pow10[18]) {
					return nil, decimalOverflow()
				}
			}
			r[i] = p
		}
	case "%", "mod":
		a, err := decimalOf(x, rt.Scale)
		if err != nil {
			return nil, err
		}
		b, err := decimalOf(y, rt.Scale)
		if err != nil {
			return nil, err
		}
		for i := range r {
			if b[i] == 0 {
				if null(i) {
					continue
				}
				return nil, errDivZero
			}
			r[i] = a[i] % b[i]
		}
	default:
		panic("BUG: decimal op " + op)
	}
	return out, nil
}

// castDecimal converts x to or from a decimal type; ok is false when neither side
// is a decimal.
func castDecimal(x *vec, t Type) (*vec, bool, error) {
	from := x.t
	if !from.IsDecimal() && !t.IsDecimal() {
		return nil, false, nil
	}
	n := x.n
	null := func(i int) bool { return x.nulls != nil && x.nulls[i] }
	switch {
	case t.IsDecimal() && (from.IsDecimal() || from.IsInteger()):
		fs := uint8(0)
		if from.IsDecimal() {
			fs = from.Scale
		}
		out := newVec(t, n)
		out.nulls = x.nulls
		for i, v := range x.i[:n] {
			if null(i) {
				continue
			}
			r, ok := rescale(v, fs, t.Scale)
			if !ok || !decimalFits(r, t) {
				if t.Prec > 0 {
					return nil, true, fieldOverflow(t)
				}
				return nil, true, decimalOverflow()
			}
			out.i[i] = r
		}
		return out, true, nil
	case t.IsDecimal() && kindOf(from) == kFloat:
		// As PostgreSQL's float8 → numeric: through the 15 significant digits of its text.
		out := newVec(t, n)
		out.nulls = x.nulls
		var buf []byte
		for i, f := range x.f[:n] {
			if null(i) {
				continue
			}
			if x.nx != nil && x.nx[i] != "NaN" && !strings.HasSuffix(x.nx[i], "Infinity") { // exact (numeric.go)
				v, err := ParseDecimal(x.nx[i], t)
				if err != nil {
					return nil, true, err
				}
				out.i[i] = v
				continue
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, true, Unsupported("NaN and Infinity in numeric with a scale")
			}
			prec := 15
			if from.ID == TypeFloat32 {
				prec = 6
			}
			buf = strconv.AppendFloat(buf[:0], f, 'e', prec-1, 64)
			v, err := ParseDecimal(string(buf), t)
			if err != nil {
				return nil, true, err
			}
			out.i[i] = v
		}
		return out, true, nil
	case from.IsDecimal() && t.IsInteger():
		out := newVec(t, n)
		out.nulls = x.nulls
		d := pow10[from.Scale]
		for i, v := range x.i[:n] {
			if null(i) {
				continue
			}
			r := roundDiv(v, d)
			if !intFits(r, t) {
				return nil, true, intRangeErr(t)
			}
			out.i[i] = r
		}
		return out, true, nil
	case from.IsDecimal() && t.ID == TypeNumeric:
		return toExactNumeric(x), true, nil // numeric.go
	case from.IsDecimal() && kindOf(t) == kFloat:
		out := newVec(t, n)
		out.nulls = x.nulls
		out.f = decimalFloats(x)
		if t.ID == TypeFloat32 {
			for i, v := range out.f {
				out.f[i] = float64(float32(v))
			}
		}
		return out, true, nil
	}
	return nil, false, nil
}

// decimalCallType is the result type of round/trunc/abs/ceil/floor/sign over a
// decimal, which stay exact; t (the overload's) otherwise. round(x, n) and
// trunc(x, n) are decimals only with a constant n, their result scale.
func decimalCallType(name string, args []Expr, t Type) Type {
	if len(args) == 0 || !args[0].Type().IsDecimal() {
		return t
	}
	x := args[0].Type()
	switch name {
	case "abs":
		return Decimal(0, int(x.Scale))
	case "ceil", "ceiling", "floor", "sign":
		if len(args) == 1 {
			return Decimal(0, 0)
		}
	case "round", "trunc":
		if len(args) == 1 {
			return Decimal(0, 0)
		}
		if k, ok := args[1].(*Const); ok && len(args) == 2 && !k.V.Null && k.V.Type.IsInteger() {
			return Decimal(0, int(min(max(k.V.I, 0), MaxDecimalPrecision)))
		}
	}
	return t
}

// decimalCall runs round/trunc/abs/ceil/floor/sign over a decimal into c.T; ok is
// false when the call is not one (decimalCallType did not make it a decimal).
func decimalCall(name string, args []*vec, rt Type) (*vec, bool, error) {
	switch name {
	case "abs", "sign", "ceil", "ceiling", "floor", "round", "trunc":
	default:
		return nil, false, nil
	}
	if !rt.IsDecimal() || len(args) == 0 || !args[0].t.IsDecimal() {
		return nil, false, nil
	}
	x := args[0]
	n := x.n
	out := newVec(rt, n)
	out.nulls = x.nulls
	if len(args) > 1 {
		out.nulls = unionNulls(n, args...)
	}
	s := int(x.t.Scale)
	for i, v := range x.i[:n] {
		if out.isNull(i) {
			continue
		}
		digits := int(rt.Scale) // round(x, n): the digits kept
		if len(args) > 1 {
			digits = int(max(min(args[1].i[i], MaxDecimalPrecision), -MaxDecimalPrecision))
		}
		var r int64
		switch name {
		case "abs":
			r = absI(v)
		case "sign":
			r = int64(cmpInt(v, 0))
		case "ceil", "ceiling", "floor":
			d := pow10[s]
			r = v / d
			if name == "floor" && v%d < 0 {
				r--
			}
			if name != "floor" && v%d > 0 {
				r++
			}
		case "round", "trunc":
			if digits >= s {
				r = v
				digits = s
			} else {
				drop := s - digits
				if drop > MaxDecimalPrecision {
					r = 0
				} else if name == "round" {
					r = roundDiv(v, pow10[drop])
				} else {
					r = v / pow10[drop]
				}
			}
			// r is at scale digits (maybe negative: tens, hundreds).
			var ok bool
			if digits < 0 {
				if -digits > MaxDecimalPrecision {
					r = 0
				} else {
					hi, lo := bits.Mul64(uint64(absI(r)), uint64(pow10[-digits]))
					if hi != 0 || lo >= uint64(pow10[18]) {
						return nil, true, decimalOverflow()
					}
					r = r * pow10[-digits]
				}
				digits = 0
			}
			if r, ok = rescale(r, uint8(digits), rt.Scale); !ok || r >= pow10[18] || r <= -pow10[18] {
				return nil, true, decimalOverflow()
			}
		}
		out.i[i] = r
	}
	return out, true, nil
}
