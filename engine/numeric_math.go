package engine

import (
	"math"
	"strconv"

	"github.com/cockroachdb/apd/v3"

	"github.com/stratadb/strata/internal/sqlstate"
)

// ln, exp, log and power (and ^) of exact numerics (hasExact), at the result
// scales PostgreSQL 15's numeric.c chooses: at least 16 significant digits
// (NUMERIC_MIN_SIG_DIGITS) judged from an estimate of the result's decimal weight,
// never fewer digits after the point than an argument has, at most 1000. The value
// is computed with apd at that many digits plus guard digits and rounded half away
// from zero, as round_var does; NaN and ±Infinity follow numeric.c's rules.

// numericMaxResultScale is NUMERIC_MAX_RESULT_SCALE (NUMERIC_MAX_PRECISION × 2).
const numericMaxResultScale = 2000

// mathGuardDigits are the digits computed beyond the ones kept.
const mathGuardDigits = 12

// maxMathDigits bounds the digits of a computed result: a larger one is 22003.
const maxMathDigits = 200000

func numericOverflow() *Error {
	return Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
}

// nbaseDigits returns d's (finite, nonzero) weight and its base-10000 digits as
// PostgreSQL's NumericVar holds them, trailing zero digits stripped; at most max
// digits are returned, and more reports whether nonzero digits follow them.
func nbaseDigits(d *apd.Decimal, maxN int) (weight int, digits []int, more bool) {
	cs := d.Coeff.Text(10)
	p := len(cs) - 1 + int(d.Exponent) // the leading digit is × 10^p
	weight = int(floorDiv(int64(p), 4))
	lead := weight*4 + 3 - p // zeros before the leading digit in its group
	buf := make([]byte, 0, lead+len(cs)+4)
	for range lead {
		buf = append(buf, '0')
	}
	buf = append(buf, cs...)
	for len(buf)%4 != 0 {
		buf = append(buf, '0')
	}
	n := len(buf) / 4
	for n > 0 && string(buf[4*n-4:4*n]) == "0000" {
		n--
	}
	for j := 0; j < n; j++ {
		if j == maxN {
			return weight, digits, true
		}
		g, _ := strconv.Atoi(string(buf[4*j : 4*j+4]))
		digits = append(digits, g)
	}
	return weight, digits, false
}

// adjustedExp is the power of ten of d's leading digit (finite, nonzero).
func adjustedExp(d *apd.Decimal) int {
	return int(d.NumDigits()) - 1 + int(d.Exponent)
}

var (
	decPointNine   = apd.New(9, -1)
	decOnePointOne = apd.New(11, -1)
	decOne         = apd.New(1, 0)
)

// lnDweight is estimate_ln_dweight: the decimal weight of ln(d), d > 0.
func lnDweight(d *apd.Decimal) int {
	if d.Negative || d.Coeff.Sign() == 0 {
		return 0
	}
	if d.Cmp(decPointNine) >= 0 && d.Cmp(decOnePointOne) <= 0 {
		var x apd.Decimal
		if _, err := exactContext.Sub(&x, d, decOne); err != nil || x.Coeff.Sign() == 0 {
			return 0 // ln(1) = 0 exactly
		}
		return adjustedExp(&x)
	}
	w, digits, more := nbaseDigits(d, 2)
	v := digits[0]
	dw := w * 4
	if len(digits) > 1 || more {
		v = v*10000 + digits[1]
		dw -= 4
	}
	ln := math.Log(float64(v)) + float64(dw)*2.302585092994046
	return int(math.Log10(math.Abs(ln))) // truncated, as C's (int)
}

// mathContext computes with enough digits for a result of decimal weight w kept
// to rscale digits after the point.
func mathContext(w, rscale int) (*apd.Context, error) {
	p := max(w+1, 0) + rscale + mathGuardDigits
	if p > maxMathDigits {
		return nil, numericOverflow()
	}
	return &apd.Context{Precision: uint32(max(p, mathGuardDigits)), Rounding: apd.RoundHalfEven,
		MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent}, nil
}

// roundScale rounds d half away from zero to rscale digits after the point.
func roundScale(d *apd.Decimal, rscale int) error {
	if d.Form != apd.Finite {
		return nil
	}
	p := max(adjustedExp(d)+1, 0) + rscale + 2
	if d.Coeff.Sign() == 0 {
		p = rscale + 2
	}
	c := apd.Context{Precision: uint32(p), Rounding: apd.RoundHalfUp, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent}
	if _, err := c.Quantize(d, d, -int32(rscale)); err != nil {
		return numericOverflow()
	}
	return nil
}

func clampScale(rscale int) int { return min(max(rscale, 0), numericMaxDisplayScale) }

// lnExact is numeric_ln.
func lnExact(d, x *apd.Decimal) error {
	switch {
	case x.Form == apd.NaN || x.Form == apd.NaNSignaling:
		*d = apd.Decimal{Form: apd.NaN}
		return nil
	case x.Negative && (x.Form == apd.Infinite || x.Coeff.Sign() != 0):
		return Errorf(sqlstate.InvalidArgumentForLog, "cannot take logarithm of a negative number")
	case x.Form == apd.Infinite:
		*d = *x
		return nil
	case x.Coeff.Sign() == 0:
		return Errorf(sqlstate.InvalidArgumentForLog, "cannot take logarithm of zero")
	}
	w := lnDweight(x)
	rscale := clampScale(max(numericMinSigDigits-w, displayScale(x)))
	c, err := mathContext(w, rscale)
	if err != nil {
		return err
	}
	if _, err := c.Ln(d, x); err != nil {
		return numericOverflow()
	}
	return roundScale(d, rscale)
}

// logExact is numeric_log: log(b, x), the logarithm of x to base b; log(x) and
// log10(x) are log(10, x) as in PostgreSQL.
func logExact(d, b, x *apd.Decimal) error {
	if b.Form != apd.Finite || x.Form != apd.Finite {
		if b.Form == apd.NaN || b.Form == apd.NaNSignaling || x.Form == apd.NaN || x.Form == apd.NaNSignaling {
			*d = apd.Decimal{Form: apd.NaN}
			return nil
		}
		if b.Negative && (b.Form == apd.Infinite || b.Coeff.Sign() != 0) || x.Negative && (x.Form == apd.Infinite || x.Coeff.Sign() != 0) {
			return Errorf(sqlstate.InvalidArgumentForLog, "cannot take logarithm of a negative number")
		}
		if b.Form == apd.Finite && b.Coeff.Sign() == 0 || x.Form == apd.Finite && x.Coeff.Sign() == 0 {
			return Errorf(sqlstate.InvalidArgumentForLog, "cannot take logarithm of zero")
		}
		switch {
		case b.Form == apd.Infinite && x.Form == apd.Infinite:
			*d = apd.Decimal{Form: apd.NaN}
		case b.Form == apd.Infinite:
			d.SetFinite(0, 0)
		default:
			*d = apd.Decimal{Form: apd.Infinite}
		}
		return nil
	}
	if b.Negative || x.Negative {
		return Errorf(sqlstate.InvalidArgumentForLog, "cannot take logarithm of a negative number")
	}
	if b.Coeff.Sign() == 0 || x.Coeff.Sign() == 0 {
		return Errorf(sqlstate.InvalidArgumentForLog, "cannot take logarithm of zero")
	}
	wb, wx := lnDweight(b), lnDweight(x)
	w := wx - wb
	rscale := clampScale(max(numericMinSigDigits-w, displayScale(b), displayScale(x)))
	// ln(b) and ln(x) to as many significant digits as the quotient needs.
	sig := w + 1 + rscale + 2*mathGuardDigits
	if sig > maxMathDigits {
		return numericOverflow()
	}
	c := &apd.Context{Precision: uint32(max(sig, mathGuardDigits)), Rounding: apd.RoundHalfEven,
		MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent}
	var lb, lx apd.Decimal
	if _, err := c.Ln(&lb, b); err != nil {
		return numericOverflow()
	}
	if lb.Coeff.Sign() == 0 {
		return errDivZero
	}
	if _, err := c.Ln(&lx, x); err != nil {
		return numericOverflow()
	}
	if _, err := c.Quo(d, &lx, &lb); err != nil {
		return numericOverflow()
	}
	return roundScale(d, rscale)
}

// expExact is numeric_exp.
func expExact(d, x *apd.Decimal) error {
	switch x.Form {
	case apd.NaN, apd.NaNSignaling:
		*d = apd.Decimal{Form: apd.NaN}
		return nil
	case apd.Infinite:
		if x.Negative {
			d.SetFinite(0, 0)
		} else {
			*d = *x
		}
		return nil
	}
	val := exactFloat(x) * 0.434294481903252 // the result's decimal weight, about
	val = min(max(val, -numericMaxResultScale), numericMaxResultScale)
	rscale := clampScale(max(numericMinSigDigits-int(val), displayScale(x)))
	return expAt(d, x, rscale)
}

// expAt is exp_var: e^x rounded to rscale digits; 22003 past numeric's range.
func expAt(d, x *apd.Decimal, rscale int) error {
	val := exactFloat(x)
	if math.Abs(val) >= numericMaxResultScale*3 {
		if val > 0 {
			return numericOverflow()
		}
		d.SetFinite(0, -int32(rscale))
		return nil
	}
	c, err := mathContext(int(math.Ceil(val*0.434294481903252)), rscale)
	if err != nil {
		return err
	}
	if _, err := c.Exp(d, x); err != nil {
		return numericOverflow()
	}
	return roundScale(d, rscale)
}

// isIntegral reports whether finite d has no fractional part.
func isIntegral(d *apd.Decimal) bool {
	if d.Exponent >= 0 || d.Coeff.Sign() == 0 {
		return true
	}
	var r apd.BigInt
	r.Rem(&d.Coeff, pow10Big(int(-d.Exponent)))
	return r.Sign() == 0
}

// powerExact is numeric_power: x ^ y.
func powerExact(d, x, y *apd.Decimal) error {
	if x.Form != apd.Finite || y.Form != apd.Finite {
		return powerSpecial(d, x, y)
	}
	xs, ys := x.Sign(), y.Sign()
	if xs == 0 && ys < 0 {
		return Errorf(sqlstate.InvalidArgumentForPowerFunction, "zero raised to a negative power is undefined")
	}
	if xs < 0 && !isIntegral(y) {
		return Errorf(sqlstate.InvalidArgumentForPowerFunction, "a negative number raised to a non-integer power yields a complex result")
	}
	if isIntegral(y) {
		if n, err := y.Int64(); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
			return powerInt(d, x, n, clampScale(max(numericMinSigDigits, displayScale(x))))
		}
	}
	if xs == 0 {
		d.SetFinite(0, -numericMinSigDigits)
		return nil
	}
	neg := false
	var base apd.Decimal
	base.Set(x)
	if xs < 0 { // y is an integer here: the sign follows its parity
		var r apd.BigInt
		iy := new(apd.Decimal)
		if _, err := exactContext.Quantize(iy, y, 0); err == nil {
			r.Rem(&iy.Coeff, apd.NewBigInt(2))
			neg = r.Sign() != 0
		}
		base.Negative = false
	}
	// The result's decimal weight from a low-precision y × ln(base).
	lw := lnDweight(&base)
	var lnb, lnNum apd.Decimal
	lc := apd.Context{Precision: 20, Rounding: apd.RoundHalfEven, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent}
	if _, err := lc.Ln(&lnb, &base); err != nil {
		return numericOverflow()
	}
	if _, err := lc.Mul(&lnNum, &lnb, y); err != nil {
		return numericOverflow()
	}
	val := exactFloat(&lnNum)
	if math.Abs(val) > numericMaxResultScale*3.01 {
		if val > 0 {
			return numericOverflow()
		}
		d.SetFinite(0, -numericMaxDisplayScale)
		return nil
	}
	val *= 0.434294481903252
	rscale := clampScale(max(numericMinSigDigits-int(val), displayScale(&base), displayScale(y)))
	sig := max(rscale+int(val), 0)
	// ln(base) to sig digits past the weight of y × ln(base), then e^that.
	c, err := mathContext(lw, sig-lw+mathGuardDigits+max(adjustedExp(y), 0))
	if err != nil {
		return err
	}
	if _, err := c.Ln(&lnb, &base); err != nil {
		return numericOverflow()
	}
	if _, err := c.Mul(&lnNum, &lnb, y); err != nil {
		return numericOverflow()
	}
	if err := expAt(d, &lnNum, rscale); err != nil {
		return err
	}
	if neg && d.Coeff.Sign() != 0 {
		d.Negative = true
	}
	return nil
}

// powerInt is power_var_int: x ^ n for an integer n, at rscale.
func powerInt(d, x *apd.Decimal, n int64, rscale int) error {
	switch {
	case n == 0:
		d.SetFinite(1, 0)
		return roundScale(d, rscale)
	case x.Coeff.Sign() == 0:
		d.SetFinite(0, -int32(rscale))
		return nil
	}
	// log10 of the result, about, for the digits to compute.
	w := float64(n) * (float64(adjustedExp(x)) + math.Log10(leadFraction(x)))
	if w > 3*32767*4 {
		return numericOverflow()
	}
	if w+1 < -float64(rscale) {
		d.SetFinite(0, -int32(rscale))
		return nil
	}
	c, err := mathContext(int(math.Ceil(w)), rscale)
	if err != nil {
		return err
	}
	c.Precision += uint32(math.Log(math.Abs(float64(n)))) + 8
	if n > 0 {
		var an apd.Decimal
		an.SetFinite(n, 0)
		if _, err := c.Pow(d, x, &an); err != nil {
			return numericOverflow()
		}
		return roundScale(d, rscale)
	}
	var p, an apd.Decimal
	an.SetFinite(-n, 0)
	if _, err := c.Pow(&p, x, &an); err != nil {
		return numericOverflow()
	}
	if _, err := c.Quo(d, decOne, &p); err != nil {
		return numericOverflow()
	}
	return roundScale(d, rscale)
}

// leadFraction is |x| / 10^adjustedExp(x), in [1, 10).
func leadFraction(x *apd.Decimal) float64 {
	cs := x.Coeff.Text(10)
	if len(cs) > 17 {
		cs = cs[:17]
	}
	f, _ := strconv.ParseFloat(cs, 64)
	return f / math.Pow(10, float64(len(cs)-1))
}

// powerSpecial is x ^ y when either is NaN or infinite, as numeric_power.
func powerSpecial(d, x, y *apd.Decimal) error {
	isNaN := func(v *apd.Decimal) bool { return v.Form == apd.NaN || v.Form == apd.NaNSignaling }
	switch {
	case isNaN(x):
		if y.Form == apd.Finite && y.Coeff.Sign() == 0 {
			d.SetFinite(1, 0)
		} else {
			*d = apd.Decimal{Form: apd.NaN}
		}
		return nil
	case isNaN(y):
		if x.Form == apd.Finite && x.Cmp(decOne) == 0 {
			d.SetFinite(1, 0)
		} else {
			*d = apd.Decimal{Form: apd.NaN}
		}
		return nil
	}
	xs, ys := x.Sign(), y.Sign()
	if xs == 0 && ys < 0 {
		return Errorf(sqlstate.InvalidArgumentForPowerFunction, "zero raised to a negative power is undefined")
	}
	if xs < 0 && (y.Form != apd.Finite || !isIntegral(y)) {
		return Errorf(sqlstate.InvalidArgumentForPowerFunction, "a negative number raised to a non-integer power yields a complex result")
	}
	inf := apd.Decimal{Form: apd.Infinite}
	if y.Form == apd.Infinite {
		var ax apd.Decimal
		ax.Abs(x)
		c := 1
		if ax.Form == apd.Finite {
			c = ax.Cmp(decOne)
		}
		switch {
		case c == 0:
			d.SetFinite(1, 0)
		case (c < 0) == !y.Negative:
			d.SetFinite(0, 0)
		default:
			*d = inf
		}
		return nil
	}
	// x is ±Infinity, y finite.
	switch {
	case ys == 0:
		d.SetFinite(1, 0)
	case ys < 0:
		d.SetFinite(0, 0)
	default:
		*d = inf
		if x.Negative && isIntegral(y) {
			var iy apd.Decimal
			if _, err := exactContext.Quantize(&iy, y, 0); err == nil {
				var r apd.BigInt
				r.Rem(&iy.Coeff, apd.NewBigInt(2))
				d.Negative = r.Sign() != 0
			}
		}
	}
	return nil
}

var decTen = apd.New(10, 0)

// numericMath1 applies f to each row of exact x into a numeric vec.
func numericMath1(x *vec, f func(d, a *apd.Decimal) error) (*vec, error) {
	out := newVec(Numeric, x.n)
	out.nulls = x.nulls
	out.nx = make([]string, x.n)
	var a, d apd.Decimal
	for i := 0; i < x.n; i++ {
		if x.isNull(i) {
			continue
		}
		exactAt(x, i, &a)
		if err := f(&d, &a); err != nil {
			return nil, err
		}
		out.setExact(i, &d)
	}
	return out, nil
}

// numericMath2 applies f to each row of exact x and y into a numeric vec.
func numericMath2(x, y *vec, f func(d, a, b *apd.Decimal) error) (*vec, error) {
	n := x.n
	out := newVec(Numeric, n)
	out.nulls = unionNulls(n, x, y)
	out.nx = make([]string, n)
	var a, b, d apd.Decimal
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		exactAt(x, i, &a)
		exactAt(y, i, &b)
		if err := f(&d, &a, &b); err != nil {
			return nil, err
		}
		out.setExact(i, &d)
	}
	return out, nil
}

// log10Exact is log(x) and log10(x) of a numeric: log(10, x).
func log10Exact(d, x *apd.Decimal) error { return logExact(d, decTen, x) }
