package engine

import (
	"math"

	"github.com/stratadb/strata/internal/sqlstate"
)

// More mathematical functions (PostgreSQL 15 §9.3): width_bucket, div, gcd, lcm,
// degrees, radians and the trigonometric functions (in double precision, as
// PostgreSQL computes them).

func init() {
	float1 := func(name string, f func(float64) (float64, error)) *Func {
		return &Func{Name: name, Args: sig(Float64), Ret: Float64, Strict: true, kernel: mathRows(f)}
	}
	domain := func(f func(float64) float64, lo, hi float64) func(float64) (float64, error) {
		return func(v float64) (float64, error) {
			if v < lo || v > hi {
				return 0, Errorf(sqlstate.NumericValueOutOfRange, "input is out of range")
			}
			return f(v), nil
		}
	}
	plain := func(f func(float64) float64) func(float64) (float64, error) {
		return func(v float64) (float64, error) { return f(v), nil }
	}
	register(
		float1("degrees", plain(func(v float64) float64 { return v * 180 / math.Pi })),
		float1("radians", plain(func(v float64) float64 { return v * math.Pi / 180 })),
		float1("sin", plain(math.Sin)), float1("cos", plain(math.Cos)), float1("tan", plain(math.Tan)),
		float1("cot", plain(func(v float64) float64 { return 1 / math.Tan(v) })),
		float1("asin", domain(math.Asin, -1, 1)), float1("acos", domain(math.Acos, -1, 1)),
		float1("atan", plain(math.Atan)),
		&Func{Name: "atan2", Args: sig(Float64, Float64), Ret: Float64, Strict: true,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				out := newVec(Float64, n)
				out.nulls = unionNulls(n, args...)
				x, y := floats(args[0]), floats(args[1])
				for i := range out.f {
					out.f[i] = math.Atan2(x[i], y[i])
				}
				return out, nil
			}},
	)
	for _, t := range []Type{Float64, Numeric} {
		register(&Func{Name: "width_bucket", Args: sig(t, t, t, Int32), Ret: Int32, Strict: true, kernel: widthBucketKernel})
	}
	register(&Func{Name: "div", Args: sig(Numeric, Numeric), Ret: Numeric, Strict: true,
		kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			out := newVec(Numeric, n)
			out.nulls = unionNulls(n, args...)
			x, y := floats(args[0]), floats(args[1])
			for i := range out.f {
				if out.isNull(i) {
					continue
				}
				if y[i] == 0 {
					return nil, Errorf(sqlstate.DivisionByZero, "division by zero")
				}
				out.f[i] = math.Trunc(x[i] / y[i])
			}
			return out, nil
		}})
	for _, t := range []Type{Int32, Int64} {
		register(
			&Func{Name: "gcd", Args: sig(t, t), Ret: t, Strict: true, kernel: gcdKernel(false)},
			&Func{Name: "lcm", Args: sig(t, t), Ret: t, Strict: true, kernel: gcdKernel(true)},
		)
	}
}

// widthBucketKernel is width_bucket(operand, low, high, count): the bucket of
// count equal-width buckets between low and high, 0 below and count+1 above.
func widthBucketKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(Int32, n)
	out.nulls = unionNulls(n, args...)
	x, lo, hi := floats(args[0]), floats(args[1]), floats(args[2])
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		count := args[3].i[i]
		switch {
		case count <= 0:
			return nil, Errorf(sqlstate.InvalidArgumentForWidthBucketFunction, "count must be greater than zero")
		case lo[i] == hi[i]:
			return nil, Errorf(sqlstate.InvalidArgumentForWidthBucketFunction, "lower bound cannot equal upper bound")
		case math.IsNaN(x[i]) || math.IsNaN(lo[i]) || math.IsNaN(hi[i]):
			return nil, Errorf(sqlstate.InvalidArgumentForWidthBucketFunction, "operand, lower bound, and upper bound cannot be NaN")
		case math.IsInf(lo[i], 0) || math.IsInf(hi[i], 0):
			return nil, Errorf(sqlstate.InvalidArgumentForWidthBucketFunction, "lower and upper bounds must be finite")
		}
		var b int64
		if lo[i] < hi[i] {
			switch {
			case x[i] < lo[i]:
				b = 0
			case x[i] >= hi[i]:
				b = count + 1
			default:
				b = int64(float64(count)*((x[i]-lo[i])/(hi[i]-lo[i]))) + 1
			}
		} else {
			switch {
			case x[i] > lo[i]:
				b = 0
			case x[i] <= hi[i]:
				b = count + 1
			default:
				b = int64(float64(count)*((lo[i]-x[i])/(lo[i]-hi[i]))) + 1
			}
		}
		if b > math.MaxInt32 {
			return nil, Errorf(sqlstate.NumericValueOutOfRange, "integer out of range")
		}
		out.i[i] = min(b, count+1)
	}
	return out, nil
}

func gcdKernel(lcm bool) Kernel {
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		out := newVec(c.T, n)
		out.nulls = unionNulls(n, args...)
		for i := 0; i < n; i++ {
			if out.isNull(i) {
				continue
			}
			a, b := args[0].i[i], args[1].i[i]
			x, y := absInt(a), absInt(b)
			for y != 0 {
				x, y = y, x%y
			}
			r := x
			if lcm {
				if a == 0 || b == 0 {
					r = 0
				} else {
					r = absInt(a) / x * absInt(b)
				}
			}
			if (c.T.ID == TypeInt32 && r > math.MaxInt32) || r > math.MaxInt64 {
				return nil, Errorf(sqlstate.NumericValueOutOfRange, "%s out of range", c.T)
			}
			out.i[i] = int64(r)
		}
		return out, nil
	}
}
