package engine

import (
	"math"
	"math/rand/v2"

	"github.com/cockroachdb/apd/v3"

	"github.com/stratadb/strata/internal/sqlstate"
)

// Mathematical functions (PostgreSQL 15 §9.3). sqrt, ln, exp, log and power of
// exact numerics are exact at PostgreSQL's result scales (numeric_math.go,
// numeric_stats.go); otherwise a numeric overload and a double precision overload
// share a kernel and differ in the result type (and round's tie rule). An integer argument
// reaches the double precision overload (the preferred type), as in PostgreSQL.

func init() {
	f1 := func(name string, k Kernel) []*Func {
		return []*Func{
			{Name: name, Args: sig(Float64), Ret: Float64, Strict: true, kernel: k},
			{Name: name, Args: sig(Numeric), Ret: Numeric, Strict: true, kernel: k},
		}
	}
	for _, name := range []string{"floor"} {
		register(f1(name, mathLoop(math.Floor))...)
	}
	for _, name := range []string{"ceil", "ceiling"} {
		register(f1(name, mathLoop(math.Ceil))...)
	}
	register(f1("trunc", func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		if args[0].t.ID == TypeNumeric && args[0].nx != nil && c.T.ID == TypeNumeric {
			return roundExact(args[0], nil, true)
		}
		return mathLoop(math.Trunc)(ev, c, args, n)
	})...)
	register(f1("sign", mathRows(func(v float64) (float64, error) {
		switch {
		case v > 0:
			return 1, nil
		case v < 0:
			return -1, nil
		}
		return 0, nil
	}))...)
	register(f1("round", roundKernel)...)
	sqrtFloat := mathRows(func(v float64) (float64, error) {
		if v < 0 {
			return 0, Errorf(sqlstate.InvalidArgumentForPowerFunction, "cannot take square root of a negative number")
		}
		return math.Sqrt(v), nil
	})
	register(f1("sqrt", func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		if c.T.ID == TypeNumeric && hasExact(args[0]) {
			return numericSqrt(args[0]) // numeric_stats.go: exact, at PostgreSQL's scale
		}
		return sqrtFloat(ev, c, args, n)
	})...)
	register(f1("cbrt", mathRows(func(v float64) (float64, error) { return math.Cbrt(v), nil }))...)
	// exact1 is k, or f (numeric_math.go) for an exact numeric argument.
	exact1 := func(k Kernel, f func(d, a *apd.Decimal) error) Kernel {
		return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			if c.T.ID == TypeNumeric && hasExact(args[0]) {
				return numericMath1(args[0], f)
			}
			return k(ev, c, args, n)
		}
	}
	register(f1("exp", exact1(mathRows(func(v float64) (float64, error) {
		r := math.Exp(v)
		if math.IsInf(r, 0) && !math.IsInf(v, 0) {
			return 0, Errorf(sqlstate.NumericValueOutOfRange, "value out of range: overflow")
		}
		return r, nil
	}), expExact))...)
	register(f1("ln", exact1(mathRows(logOf(math.Log)), lnExact))...)
	register(f1("log10", exact1(mathRows(logOf(math.Log10)), log10Exact))...)
	register(f1("log", exact1(mathRows(logOf(math.Log10)), log10Exact))...)
	register(
		&Func{Name: "round", Args: sig(Numeric, Int32), Ret: Numeric, Strict: true, kernel: roundDigits(math.Round)},
		&Func{Name: "trunc", Args: sig(Numeric, Int32), Ret: Numeric, Strict: true, kernel: roundDigits(math.Trunc)},
		// PostgreSQL has log(numeric, numeric) only; strata also takes floats.
		&Func{Name: "log", Args: sig(Numeric, Numeric), Ret: Numeric, Strict: true, kernel: logBase,
			accept: func(a []Type) bool { return len(a) == 2 && a[0].IsNumeric() && a[1].IsNumeric() }},
		&Func{Name: "pi", Ret: Float64, Strict: true, kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			return constVec(Value{Type: Float64, F: math.Pi}, n), nil
		}},
		&Func{Name: "random", Ret: Float64, Strict: true, Vol: Volatile, kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			out := newVec(Float64, n)
			for i := range out.f {
				out.f[i] = rand.Float64()
			}
			return out, nil
		}},
	)
	powerK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		return mathPower(args[0], args[1], c.T)
	}
	for _, name := range []string{"power", "pow"} {
		register(
			&Func{Name: name, Args: sig(Float64, Float64), Ret: Float64, Strict: true, kernel: powerK},
			&Func{Name: name, Args: sig(Numeric, Numeric), Ret: Numeric, Strict: true, kernel: powerK},
		)
	}
	absK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) { return absVec(args[0], n) }
	modK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		return arith("%", args[0], args[1], c.T)
	}
	for _, t := range []Type{Int16, Int32, Int64, Numeric} {
		register(&Func{Name: "mod", Args: sig(t, t), Ret: t, Strict: true, kernel: modK})
	}
	for _, t := range []Type{Int16, Int32, Int64, Float32, Float64, Numeric} {
		register(&Func{Name: "abs", Args: sig(t), Ret: t, Strict: true, kernel: absK})
	}
}

// mathLoop applies f to every slot (a NULL row's slot is unspecified), a plain loop
// for the roundings.
func mathLoop(f func(float64) float64) Kernel {
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		x := args[0]
		in := floats(x)
		out := newVec(c.T, n)
		out.nulls = x.nulls
		for i, v := range in {
			out.f[i] = f(v)
		}
		return out, nil
	}
}

// mathRows applies f to every non-NULL row; f's error ends the batch.
func mathRows(f func(float64) (float64, error)) Kernel {
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		x := args[0]
		in := floats(x)
		out := newVec(c.T, n)
		out.nulls = x.nulls
		for i, v := range in {
			if x.isNull(i) {
				continue
			}
			r, err := f(v)
			if err != nil {
				return nil, err
			}
			out.f[i] = r
		}
		return out, nil
	}
}

func logOf(f func(float64) float64) func(float64) (float64, error) {
	return func(v float64) (float64, error) {
		if v == 0 {
			return 0, Errorf(sqlstate.InvalidArgumentForLog, "cannot take logarithm of zero")
		}
		if v < 0 {
			return 0, Errorf(sqlstate.InvalidArgumentForLog, "cannot take logarithm of a negative number")
		}
		return f(v), nil
	}
}

// roundKernel is round(x): half away from zero for numeric, half to even for
// double precision, as PostgreSQL.
func roundKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	if args[0].t.ID == TypeNumeric && args[0].nx != nil {
		return roundExact(args[0], nil, false)
	}
	if args[0].t.ID == TypeNumeric {
		return mathLoop(math.Round)(ev, c, args, n)
	}
	return mathLoop(math.RoundToEven)(ev, c, args, n)
}

// roundDigits is round(x, d) / trunc(x, d) with f the rounding.
func roundDigits(f func(float64) float64) Kernel {
	trunc := f(-0.5) == 0 // math.Trunc, not math.Round
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		if args[0].t.ID == TypeNumeric && args[0].nx != nil && c.T.ID == TypeNumeric {
			return roundExact(args[0], args[1], trunc)
		}
		a, b := floats(args[0]), floats(args[1])
		out := newVec(c.T, n)
		out.nulls = unionNulls(n, args[0], args[1])
		for i := range a {
			if out.isNull(i) {
				continue
			}
			d := b[i]
			if d > 300 {
				out.f[i] = a[i]
				continue
			}
			p := math.Pow(10, d)
			r := f(a[i]*p) / p
			if math.IsNaN(r) || math.IsInf(r, 0) {
				r = a[i]
			}
			out.f[i] = r
		}
		return out, nil
	}
}

// roundExact is round(x, d) or trunc(x, d) of numerics carrying their exact
// text (digits nil: d = 0), as PostgreSQL's numeric round and trunc: half away
// from zero, d digits after the point shown (none when d <= 0).
func roundExact(x, digits *vec, trunc bool) (*vec, error) {
	n := x.n
	out := newVec(Numeric, n)
	out.nulls = x.nulls
	if digits != nil {
		out.nulls = unionNulls(n, x, digits)
	}
	out.nx = make([]string, n)
	ctx := exactContext
	if trunc {
		ctx.Rounding = apd.RoundDown
	}
	var ks []float64
	if digits != nil {
		ks = floats(digits)
	}
	var a, d apd.Decimal
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		exactAt(x, i, &a)
		k := int64(0)
		if ks != nil {
			k = int64(ks[i])
		}
		if a.Form != apd.Finite {
			out.setExact(i, &a)
			continue
		}
		k = min(max(k, -numericMaxDisplayScale), numericMaxDisplayScale)
		if _, err := ctx.Quantize(&d, &a, int32(-k)); err != nil {
			return nil, Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
		}
		out.setExact(i, &d)
	}
	return out, nil
}

// logBase is log(b, x): the logarithm of x to base b.
func logBase(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	if c.T.ID == TypeNumeric && hasExact(args[0]) && hasExact(args[1]) {
		return numericMath2(args[0], args[1], logExact)
	}
	a, b := floats(args[0]), floats(args[1])
	out := newVec(c.T, n)
	out.nulls = unionNulls(n, args[0], args[1])
	for i := range a {
		if out.isNull(i) {
			continue
		}
		if a[i] <= 0 || b[i] <= 0 {
			return nil, Errorf(sqlstate.InvalidArgumentForLog, "cannot take logarithm of a negative number")
		}
		if a[i] == 1 {
			return nil, errDivZero
		}
		out.f[i] = math.Log(b[i]) / math.Log(a[i])
	}
	return out, nil
}

// mathPower is power(x, y) and x ^ y.
func mathPower(x, y *vec, rt Type) (*vec, error) {
	if rt.ID == TypeNumeric && hasExact(x) && hasExact(y) {
		return numericMath2(x, y, powerExact)
	}
	a, b := floats(x), floats(y)
	out := newVec(rt, x.n)
	out.nulls = unionNulls(x.n, x, y)
	for i := range a {
		if out.isNull(i) {
			continue
		}
		if a[i] == 0 && b[i] < 0 {
			return nil, Errorf(sqlstate.InvalidArgumentForPowerFunction, "zero raised to a negative power is undefined")
		}
		if a[i] < 0 && b[i] != math.Trunc(b[i]) {
			return nil, Errorf(sqlstate.InvalidArgumentForPowerFunction, "a negative number raised to a non-integer power yields a complex result")
		}
		out.f[i] = math.Pow(a[i], b[i])
	}
	return out, nil
}

func absVec(x *vec, n int) (*vec, error) {
	out := newVec(x.t, n)
	out.nulls = x.nulls
	switch kindOf(x.t) {
	case kInt:
		for i, v := range x.i {
			if v < 0 {
				if v == math.MinInt64 || !intFits(-v, x.t) {
					if !x.isNull(i) {
						return nil, intRangeErr(x.t)
					}
				}
				v = -v
			}
			out.i[i] = v
		}
	case kFloat:
		for i, v := range x.f {
			out.f[i] = math.Abs(v)
		}
	default:
		return nil, undefinedFunc("abs", []Type{x.t})
	}
	return out, nil
}
