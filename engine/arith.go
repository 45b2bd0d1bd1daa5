package engine

import (
	"math"

	"github.com/stratadb/strata/internal/sqlstate"
)

func (ev *evaluator) evalArgs(args []Expr, b *batch) ([]*vec, error) {
	out := make([]*vec, len(args))
	for i, a := range args {
		v, err := ev.eval(a, b)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// floats returns v's values as float64 (ints converted).
func floats(v *vec) []float64 {
	if v.f != nil || kindOf(v.t) == kFloat {
		return v.f
	}
	if v.t.IsDecimal() {
		return decimalFloats(v)
	}
	out := make([]float64, v.n)
	for i, x := range v.i {
		out[i] = float64(x)
	}
	return out
}

var errDivZero = Errorf(sqlstate.DivisionByZero, "division by zero")

// arith computes x op y for + - * / % with result type rt.
func arith(op string, x, y *vec, rt Type) (*vec, error) {
	n := x.n
	// Untyped literal operands.
	if x.t.ID == TypeUnknown || y.t.ID == TypeUnknown {
		var err error
		if x.t.ID == TypeUnknown {
			want := y.t
			if y.t.IsTime() || y.t.ID == TypeDate {
				want = Interval
			}
			if x, err = castVec(x, want); err != nil {
				return nil, err
			}
		}
		if y.t.ID == TypeUnknown {
			want := x.t
			if x.t.IsTime() {
				want = Interval
			} else if x.t.ID == TypeDate {
				want = Int32
			}
			if y, err = castVec(y, want); err != nil {
				return nil, err
			}
		}
	}
	if rt.IsDecimal() {
		return decimalArith(op, x, y, rt) // decimal.go
	}
	if rt.ID == TypeNumeric && hasExact(x) && hasExact(y) {
		return numericArith(op, x, y) // numeric.go
	}
	if kindOf(rt) == kFloat && (x.t.IsDecimal() || y.t.IsDecimal()) {
		var err error
		if x, err = castVec(x, Float64); err != nil {
			return nil, err
		}
		if y, err = castVec(y, Float64); err != nil {
			return nil, err
		}
	}
	out := newVec(rt, n)
	out.nulls = unionNulls(n, x, y)
	null := func(i int) bool { return out.nulls != nil && out.nulls[i] }
	switch {
	case rt.IsInteger() && x.t.IsInteger() && y.t.IsInteger():
		a, b, r := x.i, y.i, out.i
		switch op {
		case "+":
			for i := range r {
				s := a[i] + b[i]
				if (a[i] >= 0) == (b[i] >= 0) && (s >= 0) != (a[i] >= 0) && !null(i) {
					return nil, intRangeErr(rt)
				}
				r[i] = s
			}
		case "-":
			for i := range r {
				s := a[i] - b[i]
				if (a[i] >= 0) != (b[i] >= 0) && (s >= 0) != (a[i] >= 0) && !null(i) {
					return nil, intRangeErr(rt)
				}
				r[i] = s
			}
		case "*":
			for i := range r {
				p := a[i] * b[i]
				if a[i] != 0 && !null(i) && (p/a[i] != b[i] || (a[i] == -1 && b[i] == math.MinInt64) || (b[i] == -1 && a[i] == math.MinInt64)) {
					return nil, intRangeErr(rt)
				}
				r[i] = p
			}
		case "/":
			for i := range r {
				if b[i] == 0 {
					if null(i) {
						continue
					}
					return nil, errDivZero
				}
				if b[i] == -1 && a[i] == math.MinInt64 && !null(i) {
					return nil, intRangeErr(rt)
				}
				r[i] = a[i] / b[i]
			}
		case "%", "mod":
			for i := range r {
				if b[i] == 0 {
					if null(i) {
						continue
					}
					return nil, errDivZero
				}
				if b[i] == -1 {
					r[i] = 0
					continue
				}
				r[i] = a[i] % b[i]
			}
		default:
			panic("BUG: arith op " + op)
		}
		if rt.ID != TypeInt64 {
			for i, v := range r {
				if !intFits(v, rt) && !null(i) {
					return nil, intRangeErr(rt)
				}
			}
		}
		return out, nil
	case kindOf(rt) == kFloat && x.t.IsNumeric() && y.t.IsNumeric() && rt.ID != TypeFloat32 && fastPaths &&
		(op == "+" || op == "-" || op == "*") && (kindOf(x.t) == kInt) != (kindOf(y.t) == kInt) &&
		len(x.f)+len(x.i) >= n && len(y.f)+len(y.i) >= n:
		// float op integer (price * quantity) without converting the integers first.
		mixedArith(op, x, y, out.f[:n])
		for i, v := range out.f[:n] {
			if math.IsInf(v, 0) && !null(i) && !math.IsInf(x.f0(i), 0) && !math.IsInf(y.f0(i), 0) {
				return nil, Errorf(sqlstate.NumericValueOutOfRange, "value out of range: overflow")
			}
		}
		return out, nil
	case kindOf(rt) == kFloat && x.t.IsNumeric() && y.t.IsNumeric():
		a, b, r := floats(x), floats(y), out.f
		switch op {
		case "+":
			for i := range r {
				r[i] = a[i] + b[i]
			}
		case "-":
			for i := range r {
				r[i] = a[i] - b[i]
			}
		case "*":
			for i := range r {
				r[i] = a[i] * b[i]
			}
		case "/":
			for i := range r {
				if b[i] == 0 && !null(i) {
					return nil, errDivZero
				}
				r[i] = a[i] / b[i]
			}
		case "%", "mod":
			for i := range r {
				if b[i] == 0 && !null(i) {
					return nil, errDivZero
				}
				r[i] = math.Mod(a[i], b[i])
			}
		default:
			panic("BUG: arith op " + op)
		}
		for i, v := range r {
			if math.IsInf(v, 0) && !null(i) && !math.IsInf(a[i], 0) && !math.IsInf(b[i], 0) {
				return nil, Errorf(sqlstate.NumericValueOutOfRange, "value out of range: overflow")
			}
		}
		if rt.ID == TypeFloat32 {
			for i, v := range r {
				r[i] = float64(float32(v))
			}
		}
		return out, nil
	}
	return timeArith(op, x, y, out)
}

// addMonths adds months to a timestamp (µs), clamping the day to the month's end.
func addMonths(us int64, months int32) int64 {
	if months == 0 {
		return us
	}
	days := floorDiv(us, usPerDay)
	rem := us - days*usPerDay
	y, m, d := civil(days)
	total := y*12 + int64(m-1) + int64(months)
	ny := floorDiv(total, 12)
	nm := int(total-ny*12) + 1
	if dim := daysIn(ny, nm); d > dim {
		d = dim
	}
	return daysFromCivil(ny, nm, d)*usPerDay + rem
}

func addInterval(us int64, iv ival, sign int64) int64 {
	if us == math.MaxInt64 || us == math.MinInt64 {
		return us
	}
	us = addMonths(us, int32(sign)*iv.M)
	return us + sign*(int64(iv.D)*usPerDay+iv.U)
}

// PostgreSQL's timestamp range, in microseconds from 1970: from 4714-11-24
// 00:00:00 BC (MIN_TIMESTAMP); its end, 294277-01-01, is past int64 from 1970, so
// strata's ends before it, at the infinity value.
const (
	minTimestampUs = -211813488000000000 + 946684800000000
	endTimestampUs = math.MaxInt64
)

// tsPlusInterval is addInterval where a result outside PostgreSQL's timestamp
// range is 22008, as timestamp_pl_interval's.
func tsPlusInterval(us int64, iv ival, sign int64) (int64, error) {
	if us == math.MaxInt64 || us == math.MinInt64 {
		return us, nil
	}
	r := addMonths(us, int32(sign)*iv.M)
	t := int64(iv.D)*usPerDay + iv.U // int32 days of µs cannot overflow alone
	over := (iv.D >= 0) == (iv.U >= 0) && (t >= 0) != (iv.U >= 0)
	if sign < 0 {
		over = over || t == math.MinInt64
		t = -t
	}
	s := r + t
	over = over || (r >= 0) == (t >= 0) && (s >= 0) != (r >= 0)
	if over || r < minTimestampUs || r >= endTimestampUs || s < minTimestampUs || s >= endTimestampUs {
		return 0, Errorf(sqlstate.DatetimeFieldOverflow, "timestamp out of range")
	}
	return s, nil
}

// addIval is a + b (sign 1) or a - b (sign -1) field by field, as PostgreSQL's
// interval_pl and interval_mi: a field past its range (int32 months and days,
// int64 microseconds) is 22008.
func addIval(a, b ival, sign int64) (ival, error) {
	m := int64(a.M) + sign*int64(b.M)
	d := int64(a.D) + sign*int64(b.D)
	// int64 arithmetic wraps; it overflowed when the operands' signs force a
	// result sign (equal signs for +, different for -) that u does not have
	u := a.U + b.U
	over := (a.U >= 0) == (b.U >= 0) && (u >= 0) != (a.U >= 0)
	if sign < 0 {
		u = a.U - b.U
		over = (a.U >= 0) != (b.U >= 0) && (u >= 0) != (a.U >= 0)
	}
	if over || m != int64(int32(m)) || d != int64(int32(d)) {
		return ival{}, Errorf(sqlstate.DatetimeFieldOverflow, "interval out of range")
	}
	return ival{int32(m), int32(d), u}, nil
}

func tsround(x float64) float64 { return math.RoundToEven(x*1e6) / 1e6 }

// mulInterval multiplies an interval as PostgreSQL's interval_mul does: fractional
// months spill into days (30 per month) and fractional days into time.
func mulInterval(x ival, f float64) (ival, error) {
	if math.IsNaN(f) {
		return ival{}, Errorf(sqlstate.NumericValueOutOfRange, "interval out of range")
	}
	rm := float64(x.M) * f
	rd := float64(x.D) * f
	if math.Abs(rm) > math.MaxInt32 || math.Abs(rd) > math.MaxInt32 {
		return ival{}, Errorf(sqlstate.DatetimeFieldOverflow, "interval out of range")
	}
	var out ival
	out.M = int32(rm)
	out.D = int32(rd)
	monthRemDays := tsround((float64(x.M)*f - float64(out.M)) * 30)
	secRem := tsround((float64(x.D)*f - float64(out.D) + monthRemDays - math.Trunc(monthRemDays)) * 86400)
	if math.Abs(secRem) >= 86400 {
		out.D += int32(secRem / 86400)
		secRem -= math.Trunc(secRem/86400) * 86400
	}
	out.D += int32(monthRemDays)
	t := math.RoundToEven(float64(x.U)*f + secRem*1e6)
	if t >= 1<<63 || t < -(1<<63) { // not an int64
		return ival{}, Errorf(sqlstate.DatetimeFieldOverflow, "interval out of range")
	}
	out.U = int64(t)
	return out, nil
}

func timeArith(op string, x, y *vec, out *vec) (*vec, error) {
	null := func(i int) bool { return out.nulls != nil && out.nulls[i] }
	tx, ty := x.t, y.t
	var err error
	switch {
	case tx.IsTime() && ty.ID == TypeInterval && (op == "+" || op == "-"):
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		for i := range out.i {
			if !null(i) {
				if out.i[i], err = tsPlusInterval(x.i[i], y.iv[i], sign); err != nil {
					return nil, err
				}
			}
		}
	case tx.ID == TypeInterval && ty.IsTime() && op == "+":
		for i := range out.i {
			if !null(i) {
				if out.i[i], err = tsPlusInterval(y.i[i], x.iv[i], 1); err != nil {
					return nil, err
				}
			}
		}
	case tx.ID == TypeDate && ty.IsInteger() && (op == "+" || op == "-"):
		for i := range out.i {
			if op == "+" {
				out.i[i] = x.i[i] + y.i[i]
			} else {
				out.i[i] = x.i[i] - y.i[i]
			}
		}
	case tx.IsInteger() && ty.ID == TypeDate && op == "+":
		for i := range out.i {
			out.i[i] = x.i[i] + y.i[i]
		}
	case tx.ID == TypeDate && ty.ID == TypeDate && op == "-":
		for i := range out.i {
			out.i[i] = x.i[i] - y.i[i]
		}
	case tx.ID == TypeDate && ty.ID == TypeInterval && (op == "+" || op == "-"):
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		for i := range out.i {
			if !null(i) {
				if out.i[i], err = tsPlusInterval(x.i[i]*usPerDay, y.iv[i], sign); err != nil {
					return nil, err
				}
			}
		}
	case tx.ID == TypeInterval && ty.ID == TypeDate && op == "+":
		for i := range out.i {
			if !null(i) {
				if out.i[i], err = tsPlusInterval(y.i[i]*usPerDay, x.iv[i], 1); err != nil {
					return nil, err
				}
			}
		}
	case (tx.IsTime() || tx.ID == TypeDate) && (ty.IsTime() || ty.ID == TypeDate) && op == "-":
		if tx.ID == TypeDate {
			if x, err = castVec(x, Timestamp); err != nil {
				return nil, err
			}
		}
		if ty.ID == TypeDate {
			if y, err = castVec(y, Timestamp); err != nil {
				return nil, err
			}
		}
		for i := range out.iv {
			d := x.i[i] - y.i[i]
			out.iv[i] = ival{D: int32(d / usPerDay), U: d % usPerDay}
		}
	case tx.ID == TypeInterval && ty.ID == TypeInterval && (op == "+" || op == "-"):
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		for i := range out.iv {
			if null(i) {
				continue
			}
			if out.iv[i], err = addIval(x.iv[i], y.iv[i], sign); err != nil {
				return nil, err
			}
		}
	case tx.ID == TypeInterval && ty.IsNumeric() && (op == "*" || op == "/"):
		f := floats(y)
		for i := range out.iv {
			if null(i) {
				continue
			}
			k := f[i]
			if op == "/" {
				if k == 0 {
					return nil, errDivZero
				}
				k = 1 / k
			}
			if out.iv[i], err = mulInterval(x.iv[i], k); err != nil {
				return nil, err
			}
		}
	case tx.IsNumeric() && ty.ID == TypeInterval && op == "*":
		f := floats(x)
		for i := range out.iv {
			if null(i) {
				continue
			}
			if out.iv[i], err = mulInterval(y.iv[i], f[i]); err != nil {
				return nil, err
			}
		}
	default:
		return nil, undefinedFunc(op, []Type{tx, ty})
	}
	if out.t.ID == TypeDate {
		for i, v := range out.i {
			if !null(i) && (v > math.MaxInt32 || v < math.MinInt32) {
				return nil, Errorf(sqlstate.DatetimeFieldOverflow, "date out of range")
			}
		}
	}
	return out, nil
}

func negVec(x *vec) (*vec, error) {
	out := newVec(x.t, x.n)
	out.nulls = x.nulls
	switch kindOf(x.t) {
	case kInt:
		for i, v := range x.i {
			if v == math.MinInt64 || !intFits(-v, x.t) {
				if !x.isNull(i) {
					return nil, intRangeErr(x.t)
				}
			}
			out.i[i] = -v
		}
	case kFloat:
		for i, v := range x.f {
			out.f[i] = -v
		}
		if x.nx != nil { // exact numeric text: the sign flipped (numeric.go)
			out.nx = make([]string, x.n)
			for i, t := range x.nx {
				out.nx[i] = negNumericText(t)
			}
		}
	case kInterval:
		for i, v := range x.iv {
			out.iv[i] = ival{-v.M, -v.D, -v.U}
		}
	default:
		return nil, undefinedFunc("neg", []Type{x.t})
	}
	return out, nil
}

// arithConst computes x op k (or k op x) for + - * / with a float result, x a
// numeric vec and k a non-NULL numeric constant, without materializing k. It gives
// the same values and errors as arith; ok is false when c has another shape.
func (ev *evaluator) arithConst(c *Call, b *batch) (*vec, bool, error) {
	if !fastPaths || len(c.Args) != 2 || kindOf(c.T) != kFloat || c.T.ID == TypeFloat32 {
		return nil, false, nil
	}
	if out, ok, err := ev.epochBucket(c, b); ok || err != nil {
		return out, ok, err
	}
	k, constRight := c.Args[1].(*Const)
	other := c.Args[0]
	if !constRight {
		var ok bool
		if k, ok = c.Args[0].(*Const); !ok {
			return nil, false, nil
		}
		other = c.Args[1]
	}
	if k.V.Null || !k.V.Type.IsNumeric() {
		return nil, false, nil
	}
	if kindOf(k.V.Type) != kInt && kindOf(k.V.Type) != kFloat {
		return nil, false, nil
	}
	kv := numFloat(k.V)
	x, err := ev.eval(other, b)
	if err != nil {
		return nil, true, err
	}
	if !x.t.IsNumeric() || (kindOf(x.t) != kFloat && kindOf(x.t) != kInt) {
		return nil, false, nil
	}
	if c.T.ID == TypeNumeric && hasExact(x) {
		if kc := constVec(k.V, b.n); hasExact(kc) { // exact operands: exactly (numeric.go)
			if constRight {
				out, err := numericArith(c.Func, x, kc)
				return out, true, err
			}
			out, err := numericArith(c.Func, kc, x)
			return out, true, err
		}
	}
	a := floats(x)
	n := b.n
	if len(a) < n {
		return nil, false, nil
	}
	a = a[:n]
	out := &vec{t: c.T, n: n, nulls: x.nulls, f: make([]float64, n)}
	r := out.f
	null := func(i int) bool { return x.nulls != nil && x.nulls[i] }
	switch {
	case c.Func == "+":
		for i, v := range a {
			r[i] = v + kv
		}
	case c.Func == "*":
		for i, v := range a {
			r[i] = v * kv
		}
	case c.Func == "-" && constRight:
		for i, v := range a {
			r[i] = v - kv
		}
	case c.Func == "-":
		for i, v := range a {
			r[i] = kv - v
		}
	case c.Func == "/" && constRight:
		if kv == 0 {
			for i := range a {
				if !null(i) {
					return nil, true, errDivZero
				}
			}
		}
		for i, v := range a {
			r[i] = v / kv
		}
	default: // k / x
		for i, v := range a {
			if v == 0 && !null(i) {
				return nil, true, errDivZero
			}
			r[i] = kv / v
		}
	}
	if !math.IsInf(kv, 0) {
		for i, v := range r {
			if math.IsInf(v, 0) && !math.IsInf(a[i], 0) && !null(i) {
				return nil, true, Errorf(sqlstate.NumericValueOutOfRange, "value out of range: overflow")
			}
		}
	}
	return out, true, nil
}

// f0 returns row i of a numeric vec as a float64.
func (v *vec) f0(i int) float64 {
	if v.f != nil {
		return v.f[i]
	}
	if v.t.ID == TypeDecimal {
		return float64(v.i[i]) / float64(pow10[v.t.Scale])
	}
	return float64(v.i[i])
}

// mixedArith computes r = x op y for + - * where exactly one of x, y holds
// integers, converting each integer as it goes (the same values as floats()).
func mixedArith(op string, x, y *vec, r []float64) {
	n := len(r)
	if kindOf(x.t) == kInt { // integer op float
		a, b := x.i[:n], y.f[:n]
		switch op {
		case "+":
			for i := range r {
				r[i] = float64(a[i]) + b[i]
			}
		case "-":
			for i := range r {
				r[i] = float64(a[i]) - b[i]
			}
		case "*":
			for i := range r {
				r[i] = float64(a[i]) * b[i]
			}
		}
		return
	}
	a, b := x.f[:n], y.i[:n]
	switch op {
	case "+":
		for i := range r {
			r[i] = a[i] + float64(b[i])
		}
	case "-":
		for i := range r {
			r[i] = a[i] - float64(b[i])
		}
	case "*":
		for i := range r {
			r[i] = a[i] * float64(b[i])
		}
	}
}
