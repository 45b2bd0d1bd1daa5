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

func (a *exactStatAcc) result() *vec {
	out := newVec(Numeric, len(a.n))
	out.nx = make([]string, len(a.n))
	sample := a.fn == "stddev" || a.fn == "stddev_samp" || a.fn == "variance" || a.fn == "var_samp"
	root := a.fn == "stddev" || a.fn == "stddev_samp" || a.fn == "stddev_pop"
	for g, n := range a.n {
		if n == 0 || sample && n == 1 {
			out.setNull(g)
			continue
		}
		var d apd.Decimal
		a.value(g, n, sample, root, &d)
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
