package engine

import (
	"math/big"
	"math/bits"

	"github.com/cockroachdb/apd/v3"

	"github.com/stratadb/strata/internal/sqlstate"
)

// exactStatAcc is stddev/stddev_samp/stddev_pop/variance/var_samp/var_pop of
// integers and numeric(p,s) as PostgreSQL computes them (numeric_stddev_internal):
// exact sums of x and x² per group (x as the scaled integer of a decimal), then
// (N·Σx² − (Σx)²) / (N·(N−1)) at select_div_scale, and for stddev its square root
// at that scale. The per-row work is integer adds and one 64×64 multiply.
type exactStatAcc struct {
	fn    string
	scale uint8   // the argument's decimal scale
	n     []int64 // rows
	s, h  []int64 // Σx = h × 2^64 + s (as sumIntAcc)
	qlo   []uint64
	qhi   []uint64 // Σx² = qtop × 2^128 + qhi × 2^64 + qlo
	qtop  []uint64
}

func (a *exactStatAcc) grow(n int) {
	a.n, a.s, a.h = growTo(a.n, n), growTo(a.s, n), growTo(a.h, n)
	a.qlo, a.qhi, a.qtop = growTo(a.qlo, n), growTo(a.qhi, n), growTo(a.qtop, n)
}

// addSquare adds x² to group g's Σx².
func (a *exactStatAcc) addSquare(g int32, x int64) {
	u := uint64(x)
	if x < 0 {
		u = -u
	}
	hi, lo := bits.Mul64(u, u)
	var c uint64
	a.qlo[g], c = bits.Add64(a.qlo[g], lo, 0)
	a.qhi[g], c = bits.Add64(a.qhi[g], hi, c)
	a.qtop[g] += c
}

func (a *exactStatAcc) update(gids []int32, args []*vec) error {
	x := args[0]
	for i, g := range gids {
		if g < 0 || x.isNull(i) {
			continue
		}
		v := x.i[i]
		s := a.s[g] + v
		a.h[g] += wrap(a.s[g], v, s)
		a.s[g] = s
		a.addSquare(g, v)
		a.n[g]++
	}
	return nil
}

func (a *exactStatAcc) merge(src accum, m []int32) error {
	o := src.(*exactStatAcc)
	for i := range o.n {
		g := m[i]
		s := a.s[g] + o.s[i]
		a.h[g] += wrap(a.s[g], o.s[i], s) + o.h[i]
		a.s[g] = s
		var c uint64
		a.qlo[g], c = bits.Add64(a.qlo[g], o.qlo[i], 0)
		a.qhi[g], c = bits.Add64(a.qhi[g], o.qhi[i], c)
		a.qtop[g] += o.qtop[i] + c
		a.n[g] += o.n[i]
	}
	return nil
}

func (a *exactStatAcc) result() *vec { return statResult(a.fn, a.n, a.value) }

// statResult is the numeric result of a stddev or variance accumulator fn over
// groups of counts rows: NULL without rows (or with one, for the sample forms),
// else value's answer for the group.
func statResult(fn string, counts []int64, value func(g int, n int64, sample, root bool, d *apd.Decimal)) *vec {
	out := newVec(Numeric, len(counts))
	out.nx = make([]string, len(counts))
	sample := fn == "stddev" || fn == "stddev_samp" || fn == "variance" || fn == "var_samp"
	root := fn == "stddev" || fn == "stddev_samp" || fn == "stddev_pop"
	for g, n := range counts {
		if n == 0 || sample && n == 1 {
			out.setNull(g)
			continue
		}
		var d apd.Decimal
		value(g, n, sample, root, &d)
		out.setExact(g, &d)
	}
	return out
}

// value sets d to group g's aggregate (n rows).
func (a *exactStatAcc) value(g int, n int64, sample, root bool, d *apd.Decimal) {
	sx := new(big.Int).Lsh(big.NewInt(a.h[g]), 64)
	sx.Add(sx, big.NewInt(a.s[g]))
	sxx := new(big.Int).Lsh(new(big.Int).SetUint64(a.qtop[g]), 128)
	sxx.Add(sxx, new(big.Int).Lsh(new(big.Int).SetUint64(a.qhi[g]), 64))
	sxx.Add(sxx, new(big.Int).SetUint64(a.qlo[g]))
	bn := big.NewInt(n)
	num := new(big.Int).Mul(bn, sxx) // N·Σx² − (Σx)², in units of 10^-2scale
	num.Sub(num, new(big.Int).Mul(sx, sx))
	if num.Sign() <= 0 {
		d.SetFinite(0, 0) // PostgreSQL's const_zero
		return
	}
	den := new(big.Int).Mul(bn, bn)
	if sample {
		den.Mul(bn, big.NewInt(n-1))
	}
	var x, y apd.Decimal
	x.Coeff.SetMathBigInt(num)
	x.Exponent = -2 * int32(a.scale)
	y.Coeff.SetMathBigInt(den)
	rscale := divScale(&x, &y)
	if err := divExact(d, &x, &y, rscale); err != nil {
		panic("BUG: stddev over no rows")
	}
	if root {
		sqrtExact(d, d, rscale)
	}
}

// sqrtExact sets d to √x (x ≥ 0) rounded half away from zero at rscale digits.
func sqrtExact(d, x *apd.Decimal, rscale int) {
	// r = ⌊√x × 10^(rscale+1)⌋ = ⌊√(x × 10^(2rscale+2))⌋; x × 10^(2rscale+2) is
	// an integer when x has at most 2rscale+2 digits after its point.
	k := 2*rscale + 2 + int(x.Exponent)
	v := new(big.Int).Set(x.Coeff.MathBigInt())
	if k >= 0 {
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil))
	} else {
		v.Quo(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-k)), nil))
	}
	r := new(big.Int).Sqrt(v)
	r.Add(r, big.NewInt(5))
	r.Quo(r, big.NewInt(10))
	d.Form, d.Negative = apd.Finite, false
	d.Coeff.SetMathBigInt(r)
	d.Exponent = -int32(rscale)
}

// numericSqrt is sqrt of exact numerics (hasExact) as numeric_sqrt: at
// 16 - (2·weight + 1) digits after the point, not fewer than the argument's;
// 2201F for a negative argument, NaN for NaN.
func numericSqrt(x *vec) (*vec, error) {
	out := newVec(Numeric, x.n)
	out.nulls = x.nulls
	out.nx = make([]string, x.n)
	var a, d apd.Decimal
	for i := 0; i < x.n; i++ {
		if x.isNull(i) {
			continue
		}
		exactAt(x, i, &a)
		switch {
		case a.Form == apd.NaN || a.Form == apd.NaNSignaling:
			d = apd.Decimal{Form: apd.NaN}
		case a.Negative && (a.Form == apd.Infinite || a.Coeff.Sign() != 0):
			return nil, Errorf(sqlstate.InvalidArgumentForPowerFunction, "cannot take square root of a negative number")
		case a.Form == apd.Infinite:
			d = a
		default:
			w, _ := digitWeight(&a)
			rscale := min(max(numericMinSigDigits-(2*w+1), displayScale(&a), 0), numericMaxDisplayScale)
			sqrtExact(&d, &a, rscale)
		}
		out.setExact(i, &d)
	}
	return out, nil
}

// numericStatAcc is exactStatAcc's aggregates over numerics that carry their
// exact text (a numeric column kept as text, storage/numeric.go): Σx and Σx² as
// apd decimals per group, whose exponents are minus PostgreSQL's display scales
// (the sum's the largest of its terms', the square's twice its value's), then the
// same formula. A NaN or infinity makes the group's answer NaN. Vecs without
// exact text (a numeric column of an older table, kept as float64) go to the
// float aggregate instead, which then answers.
type numericStatAcc struct {
	fn      string
	n       []int64
	s, q    []apd.Decimal
	nan     []bool
	inexact bool
	float   *statAcc
}

func (a *numericStatAcc) grow(n int) {
	a.n, a.s, a.q, a.nan = growTo(a.n, n), growTo(a.s, n), growTo(a.q, n), growTo(a.nan, n)
	a.float.grow(n)
}

func (a *numericStatAcc) update(gids []int32, args []*vec) error {
	x := args[0]
	if x.nx == nil {
		a.inexact = true
		return a.float.update(gids, args)
	}
	var d, sq apd.Decimal
	for i, g := range gids {
		if g < 0 || x.isNull(i) {
			continue
		}
		a.n[g]++
		exactAt(x, i, &d)
		if d.Form != apd.Finite {
			a.nan[g] = true
			continue
		}
		if _, err := exactContext.Add(&a.s[g], &a.s[g], &d); err != nil {
			return Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
		}
		if _, err := exactContext.Mul(&sq, &d, &d); err != nil {
			return Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
		}
		if _, err := exactContext.Add(&a.q[g], &a.q[g], &sq); err != nil {
			return Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
		}
	}
	return nil
}

func (a *numericStatAcc) merge(src accum, m []int32) error {
	o := src.(*numericStatAcc)
	a.inexact = a.inexact || o.inexact
	if err := a.float.merge(o.float, m); err != nil {
		return err
	}
	for i := range o.n {
		g := m[i]
		a.n[g] += o.n[i]
		a.nan[g] = a.nan[g] || o.nan[i]
		if _, err := exactContext.Add(&a.s[g], &a.s[g], &o.s[i]); err != nil {
			return Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
		}
		if _, err := exactContext.Add(&a.q[g], &a.q[g], &o.q[i]); err != nil {
			return Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
		}
	}
	return nil
}

func (a *numericStatAcc) result() *vec {
	if a.inexact {
		return a.float.result()
	}
	return statResult(a.fn, a.n, a.value)
}

// value sets d to group g's aggregate (n rows): N·Σx² − (Σx)² over N·N or
// N·(N−1), at select_div_scale, and its square root for stddev.
func (a *numericStatAcc) value(g int, n int64, sample, root bool, d *apd.Decimal) {
	if a.nan[g] {
		d.Form = apd.NaN
		return
	}
	var num, t, den apd.Decimal
	_, _ = exactContext.Mul(&num, apd.New(n, 0), &a.q[g])
	_, _ = exactContext.Mul(&t, &a.s[g], &a.s[g])
	_, _ = exactContext.Sub(&num, &num, &t)
	if num.Sign() <= 0 {
		d.SetFinite(0, 0) // PostgreSQL's const_zero
		return
	}
	if sample {
		den.SetFinite(n*(n-1), 0)
	} else {
		den.SetFinite(n*n, 0)
	}
	rscale := divScale(&num, &den)
	if err := divExact(d, &num, &den, rscale); err != nil {
		panic("BUG: stddev over no rows")
	}
	if root {
		sqrtExact(d, d, rscale)
	}
}
