package engine

import "math"

// Statistical aggregates (PostgreSQL's names and NULL rules): stddev/stddev_samp,
// stddev_pop, variance/var_samp, var_pop over one argument; corr, covar_pop,
// covar_samp and the regr_* family (regr_slope, regr_intercept, regr_count,
// regr_r2, regr_avgx, regr_avgy, regr_sxx, regr_syy, regr_sxy) over (Y, X). Two-argument
// aggregates skip rows where either argument is NULL.
//
// Per group they keep the count, the means and the sums of squared deviations
// (Welford/Youngs-Cramer updates, as PostgreSQL's float8 accumulators do, so no
// catastrophic cancellation), and partial states merge with Chan et al.'s formulas,
// so per-source partial aggregation stays exact up to rounding.

// statFuncs maps each statistical aggregate to its argument count.
var statFuncs = map[string]int{
	"stddev": 1, "stddev_samp": 1, "stddev_pop": 1, "variance": 1, "var_samp": 1, "var_pop": 1,
	"corr": 2, "covar_pop": 2, "covar_samp": 2, "regr_slope": 2, "regr_intercept": 2, "regr_count": 2,
	"regr_r2": 2, "regr_avgx": 2, "regr_avgy": 2, "regr_sxx": 2, "regr_syy": 2, "regr_sxy": 2,
}

// resolveStat returns the result type of a statistical aggregate, ok false when
// name is not one or the arguments do not fit.
func resolveStat(name string, args []Type) (Type, bool) {
	n, ok := statFuncs[name]
	if !ok || len(args) != n {
		return Unknown, false
	}
	for _, a := range args {
		if !a.IsNumeric() {
			return Unknown, false
		}
	}
	switch {
	case name == "regr_count":
		return Int64, true
	case n == 1 && (args[0].IsInteger() || args[0].ID == TypeNumeric || args[0].IsDecimal()):
		return Numeric, true // PostgreSQL: stddev(int) and variance(numeric) are numeric
	}
	return Float64, true
}

// statAcc accumulates (x) or (y, x) moments per group. For one argument it uses
// only the x fields.
type statAcc struct {
	fn  string
	rt  Type
	two bool
	n   []float64
	mx  []float64 // mean of x
	my  []float64 // mean of y
	sxx []float64 // sum of squared deviations of x
	syy []float64
	sxy []float64 // sum of co-deviations; two-argument aggregates take (y, x)
}

func newStatAcc(fn string, rt Type) *statAcc {
	return &statAcc{fn: fn, rt: rt, two: statFuncs[fn] == 2}
}

func (a *statAcc) grow(n int) {
	a.n, a.mx, a.my = growTo(a.n, n), growTo(a.mx, n), growTo(a.my, n)
	a.sxx, a.syy, a.sxy = growTo(a.sxx, n), growTo(a.syy, n), growTo(a.sxy, n)
}

func (a *statAcc) update(gids []int32, args []*vec) error {
	if !a.two {
		x := args[0]
		for i, g := range gids {
			if g < 0 || x.isNull(i) {
				continue
			}
			v := x.f0(i)
			a.n[g]++
			d := v - a.mx[g]
			a.mx[g] += d / a.n[g]
			a.sxx[g] += d * (v - a.mx[g])
		}
		return nil
	}
	y, x := args[0], args[1]
	for i, g := range gids {
		if g < 0 || x.isNull(i) || y.isNull(i) {
			continue
		}
		xv, yv := x.f0(i), y.f0(i)
		a.n[g]++
		n := a.n[g]
		dx, dy := xv-a.mx[g], yv-a.my[g]
		a.mx[g] += dx / n
		a.my[g] += dy / n
		a.sxx[g] += dx * (xv - a.mx[g])
		a.syy[g] += dy * (yv - a.my[g])
		a.sxy[g] += dx * (yv - a.my[g])
	}
	return nil
}

func (a *statAcc) merge(src accum, m []int32) error {
	o := src.(*statAcc)
	for i := range o.n {
		if o.n[i] == 0 {
			continue
		}
		g := m[i]
		na, nb := a.n[g], o.n[i]
		if na == 0 {
			a.n[g], a.mx[g], a.my[g], a.sxx[g], a.syy[g], a.sxy[g] = nb, o.mx[i], o.my[i], o.sxx[i], o.syy[i], o.sxy[i]
			continue
		}
		n := na + nb
		dx, dy := o.mx[i]-a.mx[g], o.my[i]-a.my[g]
		a.sxx[g] += o.sxx[i] + dx*dx*na*nb/n
		a.syy[g] += o.syy[i] + dy*dy*na*nb/n
		a.sxy[g] += o.sxy[i] + dx*dy*na*nb/n
		a.mx[g] += dx * nb / n
		a.my[g] += dy * nb / n
		a.n[g] = n
	}
	return nil
}

func (a *statAcc) result() *vec {
	out := newVec(a.rt, len(a.n))
	for g, n := range a.n {
		v, ok := a.value(g, n)
		switch {
		case !ok:
			out.setNull(g)
		case a.rt.ID == TypeInt64:
			out.i[g] = int64(v)
		default:
			out.f[g] = v
		}
	}
	return out
}

// value computes the aggregate of group g (n rows); ok is false for NULL.
func (a *statAcc) value(g int, n float64) (float64, bool) {
	sxx, syy, sxy := a.sxx[g], a.syy[g], a.sxy[g]
	switch a.fn {
	case "stddev", "stddev_samp":
		if n < 2 {
			return 0, false
		}
		return math.Sqrt(sxx / (n - 1)), true
	case "variance", "var_samp":
		if n < 2 {
			return 0, false
		}
		return sxx / (n - 1), true
	case "stddev_pop", "var_pop":
		if n < 1 {
			return 0, false
		}
		if a.fn == "var_pop" {
			return sxx / n, true
		}
		return math.Sqrt(sxx / n), true
	case "regr_count":
		return n, true
	}
	if n < 1 {
		return 0, false
	}
	switch a.fn {
	case "covar_pop":
		return sxy / n, true
	case "covar_samp":
		if n < 2 {
			return 0, false
		}
		return sxy / (n - 1), true
	case "regr_avgx":
		return a.mx[g], true
	case "regr_avgy":
		return a.my[g], true
	case "regr_sxx":
		return sxx, true
	case "regr_syy":
		return syy, true
	case "regr_sxy":
		return sxy, true
	case "regr_slope":
		if sxx == 0 {
			return 0, false
		}
		return sxy / sxx, true
	case "regr_intercept":
		if sxx == 0 {
			return 0, false
		}
		return a.my[g] - a.mx[g]*sxy/sxx, true
	case "corr":
		if sxx == 0 || syy == 0 {
			return 0, false
		}
		return sxy / math.Sqrt(sxx*syy), true
	case "regr_r2":
		if sxx == 0 {
			return 0, false
		}
		if syy == 0 {
			return 1, true // PostgreSQL: a horizontal line fits perfectly
		}
		return sxy * sxy / (sxx * syy), true
	}
	return 0, false
}
