package engine

import (
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
)

// Exact numeric with a per-value display scale (github.com/cockroachdb/apd/v3).
//
// A TypeNumeric vec always holds its values as float64 in f, so every float kernel
// (compare, sort, group, the math functions) runs on it unchanged. Beside f it may
// hold nx: each row's exact value as PostgreSQL prints it ("2.5000000000000000",
// "0.5", "NaN"), its display scale being the digits after the point, as numeric.c
// keeps dscale per value. nx is nil or has a string for every row ("" where NULL).
// The kernels that know exact numeric (x / y, avg, casts between numerics, CASE,
// COALESCE and UNION over decimals of different scales) read and write nx; output
// (text and binary wire, ::text) prints nx when it is there. A kernel that does not
// know nx leaves it out of its result, so the result is printed from f as before:
// exactness can be lost, never misaligned. Crossing an operator boundary a vec with
// nx travels as an Arrow String array of those texts (arrow.go).

// numericMaxDisplayScale is NUMERIC_MAX_DISPLAY_SCALE; numericMinSigDigits is
// NUMERIC_MIN_SIG_DIGITS (PostgreSQL 15 numeric.c).
const (
	numericMaxDisplayScale = 1000
	numericMinSigDigits    = 16
)

// hasExact reports whether row values of v are known exactly: integers, decimals,
// and numerics that carry nx.
func hasExact(v *vec) bool {
	return v.t.IsInteger() || v.t.IsDecimal() || v.t.ID == TypeNumeric && v.nx != nil
}

// exactAt returns row i of v (hasExact(v)) as a decimal whose exponent is minus its
// display scale.
func exactAt(v *vec, i int, d *apd.Decimal) {
	switch {
	case v.t.IsInteger():
		d.SetFinite(v.i[i], 0)
	case v.t.IsDecimal():
		d.SetFinite(v.i[i], -int32(v.t.Scale))
	default:
		if setShortNumeric(d, v.nx[i]) {
			break
		}
		if _, _, err := d.SetString(v.nx[i]); err != nil {
			panic("BUG: numeric text " + strconv.Quote(v.nx[i]))
		}
	}
}

// setShortNumeric sets d to positional numeric text s ("-12.340") of at most 18
// digits without allocating (apd's SetString allocates each time), keeping its
// display scale as the exponent; false, d untouched, for anything else.
func setShortNumeric(d *apd.Decimal, s string) bool {
	i, neg := 0, false
	if len(s) > 0 && s[0] == '-' {
		i, neg = 1, true
	}
	var c int64
	digits, scale := 0, -1
	for ; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '.' && scale < 0:
			scale = 0
			continue
		case ch < '0' || ch > '9' || digits == 18:
			return false
		}
		c = c*10 + int64(ch-'0')
		digits++
		if scale >= 0 {
			scale++
		}
	}
	if digits == 0 || scale == 0 {
		return false
	}
	if neg {
		c = -c
	}
	d.SetFinite(c, -int32(max(scale, 0)))
	if neg && c == 0 {
		d.Negative = true // -0.00 as apd reads it
	}
	return true
}

// numericText is d as PostgreSQL prints a numeric: positional, with its display
// scale, no negative zero.
func numericText(d *apd.Decimal) string {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return "NaN"
	case apd.Infinite:
		if d.Negative {
			return "-Infinity"
		}
		return "Infinity"
	}
	if d.Coeff.Sign() == 0 {
		d.Negative = false
	}
	if d.Exponent > 0 { // numeric(p,-s) or 1e3: PostgreSQL shows the digits, dscale 0
		var c apd.Decimal
		if _, err := exactContext.Quantize(&c, d, 0); err == nil {
			return c.Text('f')
		}
	}
	return d.Text('f')
}

// exactContext computes exactly enough for quantizing to a display scale.
var exactContext = apd.Context{Precision: 4000, Rounding: apd.RoundHalfUp, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent}

// setExact stores d into row i of numeric vec v: its text in nx and its float64 in f.
func (v *vec) setExact(i int, d *apd.Decimal) {
	if v.nx == nil {
		v.nx = make([]string, v.n)
	}
	v.nx[i] = numericText(d)
	v.f[i] = exactFloat(d)
}

// exactFloat is d rounded to the nearest float64, as numeric → float8.
func exactFloat(d *apd.Decimal) float64 {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return math.NaN()
	case apd.Infinite:
		if d.Negative {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	f, err := strconv.ParseFloat(d.Text('e'), 64)
	if err != nil && !math.IsInf(f, 0) {
		return math.NaN()
	}
	return f
}

// floatNumericText is PostgreSQL's float8 → numeric (float8_numeric): the 15
// significant digits of %.15g (6 of %.6g for real), as numeric text.
func floatNumericText(f float64, t Type) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	prec := 15
	if t.ID == TypeFloat32 {
		prec = 6
	}
	var d apd.Decimal
	if _, _, err := d.SetString(strconv.FormatFloat(f, 'g', prec, 64)); err != nil {
		panic("BUG: float text " + err.Error())
	}
	return numericText(&d)
}

// withExact returns numeric vec v with nx filled: from the float64 values (as
// float8 → numeric) where v has none.
func withExact(v *vec) *vec {
	if v.nx != nil {
		return v
	}
	out := *v
	out.nx = make([]string, v.n)
	for i, f := range v.f[:v.n] {
		if !v.isNull(i) {
			out.nx[i] = floatNumericText(f, Float64)
		}
	}
	return &out
}

// toExactNumeric returns x (an integer, decimal or numeric vec) as a numeric vec
// with nx, every value at its own display scale.
func toExactNumeric(x *vec) *vec {
	if x.t.ID == TypeNumeric {
		return withExact(x)
	}
	out := newVec(Numeric, x.n)
	out.nulls = x.nulls
	out.nx = make([]string, x.n)
	buf := make([]byte, 0, 24)
	for i := 0; i < x.n; i++ {
		if x.isNull(i) {
			continue
		}
		if x.t.IsDecimal() {
			buf = AppendDecimal(buf[:0], x.i[i], int(x.t.Scale))
			out.f[i] = float64(x.i[i]) / float64(pow10[x.t.Scale])
		} else {
			buf = strconv.AppendInt(buf[:0], x.i[i], 10)
			out.f[i] = float64(x.i[i])
		}
		out.nx[i] = string(buf)
	}
	return out
}

// parseNumeric reads numeric text as PostgreSQL's numeric_in: the value with the
// display scale written ("1.50" keeps 2; "1e3" is 1000), NaN in any case, and
// Infinity; 22P02 otherwise.
func parseNumeric(s string) (apd.Decimal, error) {
	var d apd.Decimal
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "nan":
		d.Form = apd.NaN
		return d, nil
	case "infinity", "+infinity", "inf", "+inf":
		d.Form = apd.Infinite
		return d, nil
	case "-infinity", "-inf":
		d.Form, d.Negative = apd.Infinite, true
		return d, nil
	}
	if _, _, _, ok := storage.SplitNumber(t); !ok {
		return d, invalidText(Numeric, s)
	}
	if _, _, err := d.SetString(t); err != nil {
		return d, invalidText(Numeric, s)
	}
	if d.Exponent > 0 {
		if _, err := exactContext.Quantize(&d, &d, 0); err != nil {
			return d, Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
		}
	}
	return d, nil
}

// digitWeight returns the weight (a power of 10000) and the first base-10000 digit
// of |d|, as PostgreSQL's NumericVar holds them; 0, 0 for zero.
func digitWeight(d *apd.Decimal) (weight, first int) {
	if d.Coeff.Sign() == 0 {
		return 0, 0
	}
	cs := d.Coeff.Text(10)
	p := len(cs) - 1 + int(d.Exponent) // d's leading digit is × 10^p
	weight = int(floorDiv(int64(p), 4))
	k := p - 4*weight + 1 // decimal digits in the first base-10000 digit
	lead := cs[:min(k, len(cs))]
	first, _ = strconv.Atoi(lead)
	for range k - len(lead) {
		first *= 10
	}
	return weight, first
}

// displayScale is d's dscale: the digits after its point.
func displayScale(d *apd.Decimal) int {
	if d.Exponent >= 0 {
		return 0
	}
	return int(-d.Exponent)
}

// divScale is PostgreSQL's select_div_scale: at least 16 significant digits, and
// not less than either input's display scale.
func divScale(x, y *apd.Decimal) int {
	w1, f1 := digitWeight(x)
	w2, f2 := digitWeight(y)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	rscale := numericMinSigDigits - qweight*4
	rscale = max(rscale, displayScale(x), displayScale(y), 0)
	return min(rscale, numericMaxDisplayScale)
}

var bigTen = apd.NewBigInt(10)

// pow10Big is 10^k.
func pow10Big(k int) *apd.BigInt {
	var z apd.BigInt
	return z.Exp(bigTen, apd.NewBigInt(int64(k)), nil)
}

// divExact sets d to x / y rounded half away from zero at rscale digits (PostgreSQL's
// div_var with round); 22012 when y is zero. NaN in, NaN out.
func divExact(d, x, y *apd.Decimal, rscale int) error {
	if x.Form != apd.Finite || y.Form != apd.Finite {
		return divSpecial(d, x, y)
	}
	if y.Coeff.Sign() == 0 {
		return errDivZero
	}
	// x/y × 10^rscale = xc/yc × 10^e.
	e := int(x.Exponent) - int(y.Exponent) + rscale
	var num, den apd.BigInt
	num.Abs(&x.Coeff)
	den.Abs(&y.Coeff)
	if e >= 0 {
		num.Mul(&num, pow10Big(e))
	} else {
		den.Mul(&den, pow10Big(-e))
	}
	var q, r apd.BigInt
	q.QuoRem(&num, &den, &r)
	r.Add(&r, &r)
	if r.Cmp(&den) >= 0 {
		q.Add(&q, apd.NewBigInt(1))
	}
	d.Form = apd.Finite
	d.Coeff.Set(&q)
	d.Exponent = -int32(rscale)
	d.Negative = x.Negative != y.Negative && q.Sign() != 0
	return nil
}

// divSpecial is x / y when either is NaN or infinite, as numeric_div.
func divSpecial(d, x, y *apd.Decimal) error {
	*d = apd.Decimal{Form: apd.NaN}
	switch {
	case x.Form == apd.NaN || y.Form == apd.NaN:
	case x.Form == apd.Infinite && y.Form == apd.Infinite:
	case x.Form == apd.Infinite:
		if y.Coeff.Sign() == 0 {
			return errDivZero
		}
		d.Form, d.Negative = apd.Infinite, x.Negative != y.Negative
	default: // finite / ±Infinity
		d.Form = apd.Finite
	}
	return nil
}

// numericDiv computes x / y over exact operands (hasExact), each quotient at
// PostgreSQL's select_div_scale.
func numericDiv(x, y *vec) (*vec, error) {
	n := x.n
	out := newVec(Numeric, n)
	out.nulls = unionNulls(n, x, y)
	out.nx = make([]string, n)
	var a, b, q apd.Decimal
	fixed := kindOf(x.t) == kInt && kindOf(y.t) == kInt // integers and decimals: 64-bit first
	sx, sy := int(x.t.Scale), int(y.t.Scale)
	var buf []byte
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		if fixed && y.i[i] != 0 {
			rscale := divScale64(x.i[i], sx, y.i[i], sy)
			if q, neg, ok := div64(x.i[i], sx, y.i[i], sy, rscale); ok {
				buf = appendScaled(buf[:0], q, neg, rscale)
				out.nx[i] = string(buf)
				out.f[i] = numericTextFloat(out.nx[i])
				continue
			}
		}
		exactAt(x, i, &a)
		exactAt(y, i, &b)
		if err := divExact(&q, &a, &b, divScale(&a, &b)); err != nil {
			return nil, err
		}
		out.setExact(i, &q)
	}
	return out, nil
}

// int128Decimal sets d to hi × 2^64 + lo: a sum of int64s kept past int64 by
// counting its wraps in hi (sumIntAcc).
func int128Decimal(hi, lo int64, d *apd.Decimal) {
	d.Form, d.Exponent, d.Negative = apd.Finite, 0, false
	if hi == 0 {
		d.SetFinite(lo, 0)
		return
	}
	var h, l apd.BigInt
	h.SetInt64(hi)
	h.Lsh(&h, 64)
	l.SetInt64(lo)
	h.Add(&h, &l)
	d.Negative = h.Sign() < 0
	d.Coeff.Abs(&h)
}

// avgExact sets d to sum / count as PostgreSQL's avg of integers and numerics does:
// numeric_div of the sum (display scale scale) by the count.
func avgExact(d *apd.Decimal, hi, lo int64, scale uint8, count int64) {
	var sum, c apd.Decimal
	int128Decimal(hi, lo, &sum)
	sum.Exponent = -int32(scale)
	c.SetFinite(count, 0)
	if err := divExact(d, &sum, &c, divScale(&sum, &c)); err != nil {
		panic("BUG: avg over no rows")
	}
}

// setExactText stores the exact text of numeric Value x (if it has one) into row i.
// A vec that has exact rows keeps one for every row: one without gets f's.
func (v *vec) setExactText(i int, x Value) {
	switch {
	case x.S != "":
		if v.nx == nil {
			v.nx = make([]string, v.n)
			for k, f := range v.f {
				if k != i && !v.isNull(k) {
					v.nx[k] = floatNumericText(f, Float64)
				}
			}
		}
		v.nx[i] = x.S
	case v.nx != nil:
		v.nx[i] = floatNumericText(x.F, Float64)
	}
}

// numericTextFloat is the float64 of numeric text that numericText printed.
func numericTextFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64) // also NaN, ±Infinity
	if err != nil && !math.IsInf(f, 0) {
		return math.NaN()
	}
	return f
}

// numericArith computes x op y over exact operands (hasExact) into an exact numeric
// with PostgreSQL's result scales: + - % the larger display scale, * their sum, /
// select_div_scale.
func numericArith(op string, x, y *vec) (*vec, error) {
	if op == "/" {
		return numericDiv(x, y)
	}
	n := x.n
	out := newVec(Numeric, n)
	out.nulls = unionNulls(n, x, y)
	out.nx = make([]string, n)
	var a, b, r apd.Decimal
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		exactAt(x, i, &a)
		exactAt(y, i, &b)
		var err error
		switch op {
		case "+":
			_, err = exactContext.Add(&r, &a, &b)
		case "-":
			_, err = exactContext.Sub(&r, &a, &b)
		case "*":
			_, err = exactContext.Mul(&r, &a, &b)
		case "%", "mod":
			if b.Form == apd.Finite && b.Coeff.Sign() == 0 {
				return nil, errDivZero
			}
			_, err = exactContext.Rem(&r, &a, &b)
		default:
			panic("BUG: numeric op " + op)
		}
		if err != nil {
			return nil, Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
		}
		out.setExact(i, &r)
	}
	return out, nil
}

// numericSumAcc is sum and avg of numeric: exact (apd) over vecs that carry nx,
// in double precision over those that do not (numeric columns without a typmod,
// stored as float64). A result with any double-precision part is double precision.
type numericSumAcc struct {
	avg     bool
	s       []apd.Decimal
	f       []float64
	inexact []bool
	c       []int64
}

func (a *numericSumAcc) grow(n int) {
	a.s, a.f, a.inexact, a.c = growTo(a.s, n), growTo(a.f, n), growTo(a.inexact, n), growTo(a.c, n)
}

func (a *numericSumAcc) update(gids []int32, args []*vec) error {
	x := args[0]
	var d apd.Decimal
	for i, g := range gids {
		if g < 0 || x.isNull(i) {
			continue
		}
		a.c[g]++
		if x.nx == nil {
			a.f[g] += x.f[i]
			a.inexact[g] = true
			continue
		}
		exactAt(x, i, &d)
		if _, err := exactContext.Add(&a.s[g], &a.s[g], &d); err != nil {
			return Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
		}
	}
	return nil
}

func (a *numericSumAcc) merge(src accum, m []int32) error {
	o := src.(*numericSumAcc)
	for i := range o.c {
		g := m[i]
		if _, err := exactContext.Add(&a.s[g], &a.s[g], &o.s[i]); err != nil {
			return Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
		}
		a.f[g] += o.f[i]
		a.inexact[g] = a.inexact[g] || o.inexact[i]
		a.c[g] += o.c[i]
	}
	return nil
}

func (a *numericSumAcc) result() *vec {
	n := len(a.c)
	out := newVec(Numeric, n)
	exact := !slices.Contains(a.inexact, true)
	var q, c apd.Decimal
	for g := 0; g < n; g++ {
		if a.c[g] == 0 {
			out.setNull(g)
			continue
		}
		if !exact {
			out.f[g] = a.f[g] + exactFloat(&a.s[g])
			if a.avg {
				out.f[g] /= float64(a.c[g])
			}
			continue
		}
		if !a.avg {
			out.setExact(g, &a.s[g])
			continue
		}
		c.SetFinite(a.c[g], 0)
		if err := divExact(&q, &a.s[g], &c, divScale(&a.s[g], &c)); err != nil {
			panic("BUG: avg over no rows")
		}
		out.setExact(g, &q)
	}
	return out
}

// digitWeight64 is digitWeight of the decimal c × 10^-scale.
func digitWeight64(c int64, scale int) (weight, first int) {
	u := uint64(c)
	if c < 0 {
		u = -u
	}
	if u == 0 {
		return 0, 0
	}
	nd := 1
	for v := u; v >= 10; v /= 10 {
		nd++
	}
	p := nd - 1 - scale
	weight = int(floorDiv(int64(p), 4))
	k := p - 4*weight + 1
	if nd >= k {
		first = int(u / uint64(pow10[nd-k]))
	} else {
		first = int(u * uint64(pow10[k-nd]))
	}
	return weight, first
}

// divScale64 is divScale of x × 10^-sx and y × 10^-sy.
func divScale64(x int64, sx int, y int64, sy int) int {
	w1, f1 := digitWeight64(x, sx)
	w2, f2 := digitWeight64(y, sy)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	return min(max(numericMinSigDigits-qweight*4, sx, sy, 0), numericMaxDisplayScale)
}

// div64 is x × 10^-sx / y × 10^-sy at rscale digits, rounded half away from
// zero, as the digits of a uint64 and a sign; ok is false when it needs more than
// 64 bits (numericDiv then computes it with big integers).
func div64(x int64, sx int, y int64, sy int, rscale int) (q uint64, neg, ok bool) {
	ux, uy := uint64(x), uint64(y)
	if x < 0 {
		ux = -ux
	}
	if y < 0 {
		uy = -uy
	}
	// x/y × 10^rscale = ux × 10^(rscale - sx + sy) / uy
	e := rscale - sx + sy
	var hi, lo uint64
	switch {
	case e >= 0 && e <= 19:
		hi, lo = bits.Mul64(ux, pow10u[e])
	case e < 0 && -e <= 19:
		h2, l2 := bits.Mul64(uy, pow10u[-e])
		if h2 != 0 {
			return 0, false, false
		}
		hi, lo, uy = 0, ux, l2
	default:
		return 0, false, false
	}
	if hi >= uy {
		return 0, false, false
	}
	q, r := bits.Div64(hi, lo, uy)
	if r >= uy-r { // 2r >= uy without overflow
		if q == math.MaxUint64 {
			return 0, false, false
		}
		q++
	}
	return q, (x < 0) != (y < 0) && q != 0, true
}

var pow10u = [20]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
	1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// appendScaled appends the text of digits q with scale digits after the point.
func appendScaled(dst []byte, q uint64, neg bool, scale int) []byte {
	var tmp [24]byte
	d := strconv.AppendUint(tmp[:0], q, 10)
	if neg {
		dst = append(dst, '-')
	}
	if scale == 0 {
		return append(dst, d...)
	}
	if len(d) <= scale {
		dst = append(dst, '0', '.')
		for i := len(d); i < scale; i++ {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	dst = append(dst, d[:len(d)-scale]...)
	dst = append(dst, '.')
	return append(dst, d[len(d)-scale:]...)
}

// NumericWithScale returns exact numeric text s (numericText's form) with exactly
// dscale digits after its point, as a binary numeric's dscale asks: trailing zeros
// added, or (never for PostgreSQL's own values) digits rounded off.
func NumericWithScale(s string, dscale int) string {
	var d apd.Decimal
	if _, _, err := d.SetString(s); err != nil || d.Form != apd.Finite {
		return s
	}
	if _, err := exactContext.Quantize(&d, &d, -int32(dscale)); err != nil {
		return s
	}
	return numericText(&d)
}

// setAvgExact stores avg = sum / count (sum scaled by 10^scale) into row i of
// numeric vec out, exact at select_div_scale.
func setAvgExact(out *vec, i int, sum int64, scale uint8, count int64) {
	if out.nx == nil {
		out.nx = make([]string, out.n)
	}
	rscale := divScale64(sum, int(scale), count, 0)
	if q, neg, ok := div64(sum, int(scale), count, 0, rscale); ok {
		out.nx[i] = string(appendScaled(nil, q, neg, rscale))
		out.f[i] = numericTextFloat(out.nx[i])
		return
	}
	var d apd.Decimal
	avgExact(&d, 0, sum, scale, count)
	out.setExact(i, &d)
}

// NumericValueText is the exact text of numeric value v (not NULL), for storing
// it in a numeric text column (storage/numeric.go): the text it carries, else its
// float as PostgreSQL's float8 → numeric.
func NumericValueText(v Value) string {
	switch {
	case v.Type.IsDecimal():
		return string(AppendDecimal(nil, v.I, int(v.Type.Scale)))
	case v.Type.IsInteger():
		return strconv.FormatInt(v.I, 10)
	case v.S != "":
		return v.S
	}
	return floatNumericText(v.F, v.Type)
}

// FloatNumericText is float f as numeric text (float8 → numeric: 15 significant
// digits).
func FloatNumericText(f float64) string { return floatNumericText(f, Float64) }

// NumericTextValue is stored numeric text s (storage/numeric.go) as a Value.
func NumericTextValue(s string) Value {
	return Value{Type: Numeric, S: s, F: numericTextFloat(s)}
}

// cmpNumericText orders two numeric texts as PostgreSQL's cmp_numerics, with no
// allocation: NaN above everything (and equal to NaN), then Infinity; finite
// values by sign, then by integer digits and digits, trailing fraction zeros not
// counting (1.50 = 1.5). Both are exact texts as nx holds them (numericText or a
// stored column's canonical text).
func cmpNumericText(a, b string) int {
	if a == b {
		return 0
	}
	ra, rb := numericRank(a), numericRank(b)
	if ra != rb || ra != 0 {
		return cmpInt(int64(ra), int64(rb))
	}
	an, bn := a[0] == '-', b[0] == '-'
	if an {
		a = a[1:]
	}
	if bn {
		b = b[1:]
	}
	ai, af, _ := strings.Cut(a, ".")
	bi, bf, _ := strings.Cut(b, ".")
	ai, bi = strings.TrimLeft(ai, "0"), strings.TrimLeft(bi, "0")
	af, bf = strings.TrimRight(af, "0"), strings.TrimRight(bf, "0")
	az, bz := ai == "" && af == "", bi == "" && bf == ""
	if az {
		an = false
	}
	if bz {
		bn = false
	}
	if an != bn {
		if an {
			return -1
		}
		return 1
	}
	c := cmpInt(int64(len(ai)), int64(len(bi)))
	if c == 0 {
		c = strings.Compare(ai, bi)
	}
	if c == 0 {
		c = strings.Compare(af, bf) // equal integer parts: the fractions as digit strings
	}
	if an {
		return -c
	}
	return c
}

// numericRank is -1 for -Infinity, 1 for Infinity, 2 for NaN, 0 for finite text.
func numericRank(s string) int {
	switch s {
	case "NaN":
		return 2
	case "Infinity":
		return 1
	case "-Infinity":
		return -1
	}
	return 0
}

// appendNumericKey appends numeric text s in a form equal for equal values
// (1.50 and 1.5, -0 and 0), for grouping and join keys.
func appendNumericKey(dst []byte, s string) []byte {
	if numericRank(s) != 0 {
		return append(dst, s...)
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	s = strings.TrimLeft(s, "0")
	if s == "" || s[0] == '.' && strings.Trim(s, ".0") == "" {
		return append(dst, '0')
	}
	if neg {
		dst = append(dst, '-')
	}
	return append(dst, s...)
}

// negNumericText is -x of exact numeric text t ("" stays "", zero and NaN keep
// no sign).
func negNumericText(t string) string {
	switch {
	case t == "" || t == "NaN":
		return t
	case t[0] == '-':
		return t[1:]
	case strings.Trim(t, "0.") == "":
		return t
	}
	return "-" + t
}
