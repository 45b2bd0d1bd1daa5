package engine

import (
	"context"

	"github.com/cockroachdb/apd/v3"
	"slices"
	"sort"
	"sync"

	"github.com/stratadb/strata/storage"
)

// accum is the state of one aggregate over all groups of a table. update and merge
// are called once per batch / once per partial table, never per row.
type accum interface {
	grow(n int) // make room for groups 0..n-1
	// update folds args (evaluated over a batch) into groups gids; gid < 0 skips a row.
	update(gids []int32, args []*vec) error
	// merge folds the partial state src into this one; src group i goes to mapping[i].
	merge(src accum, mapping []int32) error
	result() *vec
}

// wholeUpdater is an accum with a kernel for the aggregate without GROUP BY or
// FILTER: every row of args goes to group 0. It folds a batch into locals in one
// typed loop, with no group id read per row (numeric_summary: sum, avg, min and
// max of the numeric columns over every row).
type wholeUpdater interface {
	updateWhole(args []*vec, n int)
}

func newAccum(a *AggCall) (accum, error) {
	var argT Type
	if len(a.Args) > 0 {
		argT = a.Args[0].Type()
	}
	var inner accum
	switch a.Func {
	case "count":
		inner = &countAcc{star: len(a.Args) == 0}
	case "approx_count_distinct":
		if len(a.Args) == 1 {
			return &hllAcc{}, nil // hll.go
		}
	case "sum", "avg":
		switch kindOf(argT) {
		case kInt:
			inner = &sumIntAcc{rt: a.T, avg: a.Func == "avg", unit: float64(pow10[argT.Scale]), scale: argT.Scale}
		case kFloat:
			if argT.ID == TypeNumeric && a.T.ID == TypeNumeric { // exact where the values are (numeric.go)
				inner = &numericSumAcc{avg: a.Func == "avg"}
				break
			}
			inner = &sumFloatAcc{rt: a.T, avg: a.Func == "avg"}
		case kInterval:
			inner = &sumIvalAcc{avg: a.Func == "avg"}
		}
	case "min", "max":
		inner = &minMaxAcc{t: argT, max: a.Func == "max"}
	case "bool_and", "every", "bool_or":
		if argT.ID == TypeBool {
			inner = &boolAcc{and: a.Func != "bool_or"}
		}
	case "percentile_cont", "percentile_disc", "string_agg":
		if len(a.Args) == 2 {
			inner = newCollectAcc(a)
		}
	case "array_agg", "mode":
		inner = newValuesAcc(a) // agg_values.go
	default:
		if n, ok := statFuncs[a.Func]; ok {
			inner = newStatAcc(a.Func, a.T)
			if n == 1 && a.Func != "regr_count" && a.T.ID == TypeNumeric && (argT.IsInteger() || argT.IsDecimal()) {
				inner = &exactStatAcc{fn: a.Func, scale: argT.Scale} // numeric_stats.go
			}
			if n == 1 && a.Func != "regr_count" && a.T.ID == TypeNumeric && argT.ID == TypeNumeric {
				inner = &numericStatAcc{fn: a.Func, float: inner.(*statAcc)} // numeric_stats.go
			}
		}
	}
	if inner == nil {
		ts := make([]Type, len(a.Args))
		for i, x := range a.Args {
			ts[i] = x.Type()
		}
		return nil, undefinedFunc(a.Func, ts)
	}
	switch {
	case a.Distinct && a.Func == "array_agg":
		v := inner.(*valuesAcc)
		v.distinct = true
		return v, nil
	case a.Distinct && len(a.Args) == 1:
		return &distinctAcc{inner: inner, t: argT}, nil
	case a.Distinct:
		if c, ok := inner.(*collectAcc); ok && c.fn == "string_agg" {
			c.distinct = true
			return c, nil
		}
		return nil, Unsupported("DISTINCT in " + a.Func + " with several arguments")
	}
	return inner, nil
}

// growTo returns s with length n, the new rows zero. Capacity at least doubles
// when it grows: group tables grow a batch at a time, and append's growth of
// large slices (1.25x) copies a slice of 100k groups some 20 times.
func growTo[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	old := len(s)
	if n > cap(s) {
		s = slices.Grow(s, max(n, 2*cap(s))-old)
	}
	s = s[:n]
	clear(s[old:])
	return s
}

// reserveTo returns s with room for n rows.
func reserveTo[T any](s []T, n int) []T { return slices.Grow(s, n-len(s)) }

// reserver is an accum that can make room for n groups at once (aggCore.growAccs).
type reserver interface{ reserve(n int) }

func (a *countAcc) reserve(n int) { a.c = reserveTo(a.c, n) }
func (a *sumIntAcc) reserve(n int) {
	a.s, a.h, a.c = reserveTo(a.s, n), reserveTo(a.h, n), reserveTo(a.c, n)
}
func (a *sumFloatAcc) reserve(n int) { a.s, a.c = reserveTo(a.s, n), reserveTo(a.c, n) }

type countAcc struct {
	star bool
	c    []int64
}

func (a *countAcc) grow(n int) { a.c = growTo(a.c, n) }
func (a *countAcc) update(gids []int32, args []*vec) error {
	if a.star {
		for _, g := range gids {
			if g >= 0 {
				a.c[g]++
			}
		}
		return nil
	}
	x := args[0]
	for i, g := range gids {
		if g >= 0 && !x.isNull(i) {
			a.c[g]++
		}
	}
	return nil
}
func (a *countAcc) updateWhole(args []*vec, n int) {
	if a.star || args[0].nulls == nil {
		a.c[0] += int64(n)
		return
	}
	c := int64(0)
	for _, null := range args[0].nulls[:n] {
		if !null {
			c++
		}
	}
	a.c[0] += c
}
func (a *countAcc) merge(src accum, m []int32) error {
	for i, c := range src.(*countAcc).c {
		a.c[m[i]] += c
	}
	return nil
}
func (a *countAcc) result() *vec {
	return &vec{t: Int64, n: len(a.c), i: a.c}
}

type sumIntAcc struct {
	rt    Type
	avg   bool
	unit  float64 // 10^scale of a decimal argument, else 1
	scale uint8   // the scale of a decimal argument
	s     []int64 // the sum modulo 2^64 (as int64)
	h     []int64 // how often s wrapped: the exact sum is h × 2^64 + s (numeric.go int128Decimal)
	c     []int64
}

func (a *sumIntAcc) grow(n int) {
	a.s, a.h, a.c = growTo(a.s, n), growTo(a.h, n), growTo(a.c, n)
}

// wrap is +1 when s = a + v wrapped past MaxInt64, -1 past MinInt64, else 0.
func wrap(a, v, s int64) int64 {
	switch {
	case v > 0 && s < a:
		return 1
	case v < 0 && s > a:
		return -1
	}
	return 0
}

func (a *sumIntAcc) update(gids []int32, args []*vec) error {
	x := args[0]
	for i, g := range gids {
		if g < 0 || x.isNull(i) {
			continue
		}
		v := x.i[i]
		s := a.s[g] + v
		if (v > 0 && s < a.s[g]) || (v < 0 && s > a.s[g]) {
			a.h[g] += wrap(a.s[g], v, s) // int64 overflow: count the wrap
		}
		a.s[g] = s
		a.c[g]++
	}
	return nil
}
func (a *sumIntAcc) updateWhole(args []*vec, n int) {
	x := args[0]
	s, h, c := a.s[0], a.h[0], a.c[0]
	for i, v := range x.i[:n] {
		if x.nulls != nil && x.nulls[i] {
			continue
		}
		t := s + v
		if (v > 0 && t < s) || (v < 0 && t > s) {
			h += wrap(s, v, t) // int64 overflow: count the wrap, as update does
		}
		s = t
		c++
	}
	a.s[0], a.h[0], a.c[0] = s, h, c
}
func (a *sumIntAcc) merge(src accum, m []int32) error {
	o := src.(*sumIntAcc)
	for i := range o.s {
		g := m[i]
		s := a.s[g] + o.s[i]
		a.h[g] += wrap(a.s[g], o.s[i], s) + o.h[i]
		a.s[g] = s
		a.c[g] += o.c[i]
	}
	return nil
}
func (a *sumIntAcc) result() *vec {
	n := len(a.s)
	out := newVec(a.rt, n)
	if a.rt.ID == TypeNumeric { // avg, and sum of bigint: numeric as in PostgreSQL
		a.exactResult(out)
		return out
	}
	for g := 0; g < n; g++ {
		if a.c[g] == 0 {
			out.setNull(g)
			continue
		}
		switch {
		case a.avg: // avg into double precision (a window's frame of floats)
			out.f[g] = (float64(a.s[g]) + float64(a.h[g])*0x1p64) / a.unit / float64(a.c[g])
		case kindOf(a.rt) == kInt:
			out.i[g] = a.s[g]
		default:
			out.f[g] = float64(a.s[g]) + float64(a.h[g])*0x1p64
		}
	}
	return out
}

// exactResult fills numeric vec out with each group's exact sum or avg (numeric.go),
// the texts laid out in one buffer: one allocation for all groups, not one each.
func (a *sumIntAcc) exactResult(out *vec) {
	n := len(a.s)
	buf := make([]byte, 0, 20*n)
	ends := make([]int, n)
	var d apd.Decimal
	for g := 0; g < n; g++ {
		switch {
		case a.c[g] == 0:
			out.setNull(g)
		case a.avg && a.h[g] == 0:
			rscale := divScale64(a.s[g], int(a.scale), a.c[g], 0)
			if q, neg, ok := div64(a.s[g], int(a.scale), a.c[g], 0, rscale); ok {
				buf = appendScaled(buf, q, neg, rscale)
				break
			}
			avgExact(&d, a.h[g], a.s[g], a.scale, a.c[g])
			buf = d.Append(buf, 'f')
		case a.avg:
			avgExact(&d, a.h[g], a.s[g], a.scale, a.c[g])
			buf = d.Append(buf, 'f')
		case a.h[g] == 0:
			buf = AppendDecimal(buf, a.s[g], int(a.scale))
		default:
			int128Decimal(a.h[g], a.s[g], &d)
			d.Exponent = -int32(a.scale)
			buf = d.Append(buf, 'f')
		}
		ends[g] = len(buf)
	}
	all := string(buf)
	out.nx = make([]string, n)
	start := 0
	for g, end := range ends {
		out.nx[g] = all[start:end]
		if !out.isNull(g) {
			out.f[g] = numericTextFloat(out.nx[g])
		}
		start = end
	}
}

type sumFloatAcc struct {
	rt  Type
	avg bool
	s   []float64
	c   []int64
}

func (a *sumFloatAcc) grow(n int) { a.s, a.c = growTo(a.s, n), growTo(a.c, n) }
func (a *sumFloatAcc) update(gids []int32, args []*vec) error {
	x := args[0]
	if x.nulls == nil {
		for i, g := range gids {
			if g >= 0 {
				a.s[g] += x.f[i]
				a.c[g]++
			}
		}
		return nil
	}
	for i, g := range gids {
		if g >= 0 && !x.nulls[i] {
			a.s[g] += x.f[i]
			a.c[g]++
		}
	}
	return nil
}
func (a *sumFloatAcc) updateWhole(args []*vec, n int) {
	x := args[0]
	s, c := a.s[0], a.c[0]
	if x.nulls == nil {
		for _, v := range x.f[:n] {
			s += v
		}
		c += int64(n)
	} else {
		for i, v := range x.f[:n] {
			if !x.nulls[i] {
				s += v
				c++
			}
		}
	}
	a.s[0], a.c[0] = s, c
}
func (a *sumFloatAcc) merge(src accum, m []int32) error {
	o := src.(*sumFloatAcc)
	for i := range o.s {
		a.s[m[i]] += o.s[i]
		a.c[m[i]] += o.c[i]
	}
	return nil
}
func (a *sumFloatAcc) result() *vec {
	n := len(a.s)
	out := newVec(a.rt, n)
	for g := 0; g < n; g++ {
		switch {
		case a.c[g] == 0:
			out.setNull(g)
		case a.avg:
			out.f[g] = a.s[g] / float64(a.c[g])
		default:
			out.f[g] = a.s[g]
		}
		if a.rt.ID == TypeFloat32 {
			out.f[g] = float64(float32(out.f[g]))
		}
	}
	return out
}

type sumIvalAcc struct {
	avg bool
	s   []ival
	c   []int64
}

func (a *sumIvalAcc) grow(n int) { a.s, a.c = growTo(a.s, n), growTo(a.c, n) }
func (a *sumIvalAcc) update(gids []int32, args []*vec) error {
	x := args[0]
	for i, g := range gids {
		if g >= 0 && !x.isNull(i) {
			s, err := addIval(a.s[g], x.iv[i], 1)
			if err != nil {
				return err
			}
			a.s[g] = s
			a.c[g]++
		}
	}
	return nil
}
func (a *sumIvalAcc) merge(src accum, m []int32) error {
	o := src.(*sumIvalAcc)
	for i, v := range o.s {
		g := m[i]
		s, err := addIval(a.s[g], v, 1)
		if err != nil {
			return err
		}
		a.s[g] = s
		a.c[g] += o.c[i]
	}
	return nil
}
func (a *sumIvalAcc) result() *vec {
	n := len(a.s)
	out := newVec(Interval, n)
	for g := 0; g < n; g++ {
		if a.c[g] == 0 {
			out.setNull(g)
			continue
		}
		out.iv[g] = a.s[g]
		if a.avg {
			out.iv[g], _ = mulInterval(a.s[g], 1/float64(a.c[g]))
		}
	}
	return out
}

type minMaxAcc struct {
	t   Type
	max bool
	has []bool
	st  *vec // one row per group
}

func (a *minMaxAcc) grow(n int) {
	if a.st == nil {
		a.st = newVec(a.t, 0)
	}
	for a.st.n < n {
		a.st.n++
		switch kindOf(a.t) {
		case kInt:
			a.st.i = append(a.st.i, 0)
		case kFloat:
			a.st.f = append(a.st.f, 0)
			if a.st.nx != nil {
				a.st.nx = append(a.st.nx, "")
			}
		case kBool:
			a.st.b = append(a.st.b, false)
		case kText:
			a.st.s = append(a.st.s, "")
		case kInterval:
			a.st.iv = append(a.st.iv, ival{})
		}
		a.has = append(a.has, false)
	}
}

// take folds row i of x into group g.
func (a *minMaxAcc) take(x *vec, i int, g int32) {
	if !a.has[g] {
		a.has[g] = true
		a.st.set(int(g), x.value(i))
		return
	}
	c := cmpRow(x, i, a.st, int(g))
	if (a.max && c > 0) || (!a.max && c < 0) {
		a.st.set(int(g), x.value(i))
	}
}

func (a *minMaxAcc) update(gids []int32, args []*vec) error {
	x := args[0]
	switch kindOf(a.t) {
	case kInt:
		for i, g := range gids {
			if g < 0 || x.isNull(i) {
				continue
			}
			v := x.i[i]
			if !a.has[g] || (a.max && v > a.st.i[g]) || (!a.max && v < a.st.i[g]) {
				a.st.i[g], a.has[g] = v, true
			}
		}
	case kFloat:
		if x.nx != nil { // exact numerics: compared and kept with their text
			for i, g := range gids {
				if g >= 0 && !x.isNull(i) {
					a.take(x, i, g)
				}
			}
			break
		}
		for i, g := range gids {
			if g < 0 || x.isNull(i) {
				continue
			}
			v := x.f[i]
			if !a.has[g] {
				a.st.f[g], a.has[g] = v, true
				continue
			}
			c := cmpFloat(v, a.st.f[g])
			if (a.max && c > 0) || (!a.max && c < 0) {
				a.st.f[g] = v
			}
		}
	case kText:
		for i, g := range gids {
			if g < 0 || x.isNull(i) {
				continue
			}
			s := x.str(i)
			if !a.has[g] || (a.max && s > a.st.s[g]) || (!a.max && s < a.st.s[g]) {
				a.st.s[g], a.has[g] = s, true
			}
		}
	default:
		for i, g := range gids {
			if g >= 0 && !x.isNull(i) {
				a.take(x, i, g)
			}
		}
	}
	return nil
}

// updateWhole folds integers and floats in a typed loop; other kinds go through
// update with every row in group 0.
func (a *minMaxAcc) updateWhole(args []*vec, n int) {
	x := args[0]
	switch kindOf(a.t) {
	case kInt:
		has, cur := a.has[0], a.st.i[0]
		for i, v := range x.i[:n] {
			if x.nulls != nil && x.nulls[i] {
				continue
			}
			if !has || (a.max && v > cur) || (!a.max && v < cur) {
				has, cur = true, v
			}
		}
		a.has[0], a.st.i[0] = has, cur
	case kFloat:
		if x.nx != nil {
			_ = a.update(make([]int32, n), args)
			return
		}
		// NaN is the largest float in PostgreSQL's order (cmpFloat).
		has, cur := a.has[0], a.st.f[0]
		for i, v := range x.f[:n] {
			switch {
			case x.nulls != nil && x.nulls[i]:
			case !has:
				has, cur = true, v
			case a.max:
				if v > cur || v != v && cur == cur {
					cur = v
				}
			default:
				if v < cur || cur != cur && v == v {
					cur = v
				}
			}
		}
		a.has[0], a.st.f[0] = has, cur
	default:
		gids := make([]int32, n)
		_ = a.update(gids, args)
	}
}
func (a *minMaxAcc) merge(src accum, m []int32) error {
	o := src.(*minMaxAcc)
	for i, h := range o.has {
		if h {
			a.take(o.st, i, m[i])
		}
	}
	return nil
}
func (a *minMaxAcc) result() *vec {
	out := *a.st
	out.nulls = make([]bool, out.n)
	for g, h := range a.has {
		out.nulls[g] = !h
	}
	return &out
}

type boolAcc struct {
	and bool
	v   []bool
	has []bool
}

func (a *boolAcc) grow(n int) { a.v, a.has = growTo(a.v, n), growTo(a.has, n) }
func (a *boolAcc) update(gids []int32, args []*vec) error {
	x := args[0]
	for i, g := range gids {
		if g < 0 || x.isNull(i) {
			continue
		}
		a.fold(g, x.b[i])
	}
	return nil
}
func (a *boolAcc) fold(g int32, b bool) {
	if !a.has[g] {
		a.v[g], a.has[g] = b, true
	} else if a.and {
		a.v[g] = a.v[g] && b
	} else {
		a.v[g] = a.v[g] || b
	}
}
func (a *boolAcc) merge(src accum, m []int32) error {
	o := src.(*boolAcc)
	for i, h := range o.has {
		if h {
			a.fold(m[i], o.v[i])
		}
	}
	return nil
}
func (a *boolAcc) result() *vec {
	out := &vec{t: Bool, n: len(a.v), b: a.v, nulls: make([]bool, len(a.v))}
	for g, h := range a.has {
		out.nulls[g] = !h
	}
	return out
}

// distinctAcc keeps, per group, the set of distinct non-NULL argument values and
// feeds them to inner at the end. Dictionary text is kept as sets of ids (idSets, see
// distinct.go); other values, or text once a batch of plain strings arrives, as one
// representative row per value in hash sets.
type distinctAcc struct {
	t     Type
	inner accum
	n     int // groups
	ids   *idSets
	sets  []map[string]int32 // encoded value → row in vals
	vals  *vec
	owner []int32 // group of each row of vals
	buf   []byte
	mem   *memTracker
	par   int      // workers for merging id sets (idSets.par)
	one   vec      // a one-row text vec for moving id sets to hash sets
	pend  []idPart // partial id sets merged at the end, all at once
	// pendHeld is what pend's compacted (not sorted) partials hold, in bytes
	// (addPending), so that adding one does not walk every waiting partial.
	pendHeld int64
}

// finish does the work of result that may fail: it merges pending partials and,
// unless the sets are only counted, moves id sets to value rows.
func (a *distinctAcc) finish() error {
	if err := a.resolve(); err != nil {
		return err
	}
	if _, ok := a.inner.(*countAcc); ok {
		return nil
	}
	return a.dropIDs()
}

// resolve merges the pending partial id sets.
func (a *distinctAcc) resolve() error {
	if len(a.pend) == 0 {
		return nil
	}
	if a.ids == nil {
		a.ids = &idSets{mem: a.mem, par: a.par}
		a.ids.grow(a.n)
	}
	pend := a.pend
	a.pend, a.pendHeld = nil, 0
	return a.ids.mergeAll(pend)
}

func (a *distinctAcc) grow(n int) {
	a.n = max(a.n, n)
	if a.ids != nil {
		a.ids.grow(n)
	}
	// sets grows in add: dictionary text never needs it.
}

func (a *distinctAcc) add(x *vec, i int, g int32) error {
	if a.vals == nil {
		a.vals = &vec{t: a.t}
	}
	a.buf = appendKey(a.buf[:0], x, i, nil)
	if int(g) >= len(a.sets) {
		a.sets = growTo(a.sets, a.n)
	}
	set := a.sets[g]
	if set == nil {
		set = make(map[string]int32)
		a.sets[g] = set
	}
	if _, ok := set[string(a.buf)]; ok {
		return nil
	}
	set[string(a.buf)] = int32(a.vals.n)
	a.vals.appendRow(x, i)
	a.owner = append(a.owner, g)
	if a.mem != nil {
		return a.mem.grow(int64(48 + 2*len(a.buf)))
	}
	return nil
}

// dropIDs moves the id sets into the hash sets (a batch of plain text arrived).
func (a *distinctAcc) dropIDs() error {
	if err := a.resolve(); err != nil {
		return err
	}
	ids := a.ids
	if ids == nil {
		return nil
	}
	a.ids = nil
	a.one = vec{t: a.t, n: 1, s: make([]string, 1)}
	vals := ids.space.values()
	return ids.forEach(func(g int32, id uint32) error {
		a.one.s[0] = vals[id]
		return a.add(&a.one, 0, g)
	})
}

func (a *distinctAcc) update(gids []int32, args []*vec) error {
	x := args[0]
	if x.isDict && len(x.dict) > 0 && kindOf(a.t) == kText && (a.ids != nil || a.vals == nil) {
		if err := a.resolve(); err != nil {
			return err
		}
		if a.ids == nil {
			a.ids = &idSets{mem: a.mem, par: a.par}
			a.ids.grow(a.n)
		}
		return a.ids.update(gids, x)
	}
	if err := a.dropIDs(); err != nil {
		return err
	}
	for i, g := range gids {
		if g >= 0 && !x.isNull(i) {
			if err := a.add(x, i, g); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *distinctAcc) merge(src accum, m []int32) error {
	o := src.(*distinctAcc)
	if err := o.resolve(); err != nil {
		return err
	}
	if o.ids != nil && a.vals == nil {
		return a.addPending(o.ids, m)
	}
	if err := o.dropIDs(); err != nil {
		return err
	}
	if err := a.dropIDs(); err != nil {
		return err
	}
	if o.vals == nil {
		return nil
	}
	for r := 0; r < o.vals.n; r++ {
		if err := a.add(o.vals, r, m[o.owner[r]]); err != nil {
			return err
		}
	}
	return nil
}

func (a *distinctAcc) result() *vec {
	a.inner.grow(a.n)
	if a.ids != nil && len(a.pend) == 0 {
		if c, ok := a.inner.(*countAcc); ok {
			a.ids.counts(c.c)
			return c.result()
		}
	}
	if err := a.finish(); err != nil {
		panic("BUG: distinctAcc.result before finish: " + err.Error())
	}
	if a.vals != nil && a.vals.n > 0 {
		_ = a.inner.update(a.owner, []*vec{a.vals})
	}
	return a.inner.result()
}

// aggCore is a hash aggregation: a group table plus one accum per aggregate.
type aggCore struct {
	q        *query
	p        *Aggregate
	table    *groupTable
	accs     []accum
	gids     []int32
	fgids    []int32
	reserved bool // growAccs made room for every value of the dense key's dictionary
}

func newAggCore(q *query, p *Aggregate, byID bool) (*aggCore, error) {
	types := make([]Type, len(p.Groups))
	for i, g := range p.Groups {
		types[i] = g.Type()
	}
	a := &aggCore{q: q, p: p, table: newGroupTable(types, byID)}
	a.table.mem = q.mem
	for i := range p.Aggs {
		acc, err := newAccum(&p.Aggs[i])
		if err != nil {
			return nil, err
		}
		switch d := acc.(type) {
		case *distinctAcc:
			d.mem, d.par = q.mem, q.opts.Parallelism
		case *collectAcc:
			d.mem = q.mem
		case *hllAcc:
			d.mem = q.mem
		case *valuesAcc:
			d.mem, d.loc = q.mem, q.opts.Now.Location()
		}
		acc.grow(a.table.ngroups)
		a.accs = append(a.accs, acc)
	}
	return a, nil
}

// maxReserve bounds the groups growAccs makes room for ahead (8 MB per int64 state).
const maxReserve = 1 << 20

func (a *aggCore) growAccs() error {
	before := 0
	if len(a.accs) > 0 {
		before = accLen(a.accs[0])
	}
	if t := a.table; !a.reserved && t.denseOf != nil && t.ngroups >= BatchSize/4 && len(t.denseOf) <= maxReserve {
		// Grouped by the ids of one dictionary, and most rows of the first batch
		// were new groups: expect a group for most of its values, and make room for
		// them once instead of growing every state slice batch by batch.
		a.reserved = true
		for _, acc := range a.accs {
			if r, ok := acc.(reserver); ok {
				r.reserve(len(t.denseOf))
			}
		}
	}
	for _, acc := range a.accs {
		acc.grow(a.table.ngroups)
	}
	return a.q.mem.grow(int64(a.table.ngroups-before) * 24 * int64(len(a.accs)))
}

func accLen(a accum) int {
	switch a := a.(type) {
	case *countAcc:
		return len(a.c)
	case *sumIntAcc:
		return len(a.s)
	case *sumFloatAcc:
		return len(a.s)
	case *numericSumAcc:
		return len(a.c)
	case *exactStatAcc:
		return len(a.n)
	case *numericStatAcc:
		return len(a.n)
	case *sumIvalAcc:
		return len(a.s)
	case *minMaxAcc:
		return len(a.has)
	case *boolAcc:
		return len(a.v)
	case *distinctAcc:
		return a.n
	}
	return 0
}

func (a *aggCore) consume(ev *evaluator, b *batch) error {
	keys := make([]*vec, len(a.p.Groups))
	for i, g := range a.p.Groups {
		v, err := ev.eval(g, b)
		if err != nil {
			return err
		}
		keys[i] = v
	}
	a.gids = growInt32(a.gids, b.n)
	if err := a.table.find(keys, b.n, a.gids); err != nil {
		return err
	}
	if err := a.growAccs(); err != nil {
		return err
	}
	whole := len(a.p.Groups) == 0
	for k := range a.p.Aggs {
		ag := &a.p.Aggs[k]
		args := make([]*vec, len(ag.Args))
		for j, e := range ag.Args {
			v, err := ev.eval(e, b)
			if err != nil {
				return err
			}
			args[j] = v
		}
		if w, ok := a.accs[k].(wholeUpdater); ok && whole && ag.Filter == nil {
			w.updateWhole(args, b.n)
			continue
		}
		gids := a.gids
		if ag.Filter != nil {
			f, err := ev.eval(ag.Filter, b)
			if err != nil {
				return err
			}
			a.fgids = growInt32(a.fgids, b.n)
			gids = a.fgids
			for i := range gids {
				if f.isNull(i) || !f.b[i] {
					gids[i] = -1
				} else {
					gids[i] = a.gids[i]
				}
			}
		}
		if err := a.accs[k].update(gids, args); err != nil {
			return err
		}
	}
	return nil
}

// mergeFrom folds a partial aggregation into a.
func (a *aggCore) mergeFrom(o *aggCore) error {
	n := o.table.ngroups
	o.table.materialize()
	mapping := make([]int32, n)
	if err := a.table.find(o.table.keys, n, mapping); err != nil {
		return err
	}
	if err := a.growAccs(); err != nil {
		return err
	}
	for k := range a.accs {
		if err := a.accs[k].merge(o.accs[k], mapping); err != nil {
			return err
		}
	}
	return nil
}

// finish completes the aggregate states (work that may fail with an error, such as
// exceeding the memory limit); output follows.
func (a *aggCore) finish() error {
	for _, acc := range a.accs {
		if d, ok := acc.(*distinctAcc); ok {
			if err := d.finish(); err != nil {
				return err
			}
		}
	}
	return nil
}

// output returns the result rows in batches: group keys, then aggregates.
func (a *aggCore) output() []*batch {
	n := a.table.ngroups
	cols := make([]*vec, 0, len(a.p.Groups)+len(a.accs))
	for _, k := range a.table.keys {
		cols = append(cols, k)
	}
	for _, acc := range a.accs {
		cols = append(cols, acc.result())
	}
	full := &batch{n: n, cols: cols}
	var out []*batch
	for lo := 0; lo < n; lo += BatchSize {
		out = append(out, full.slice(lo, min(lo+BatchSize, n)))
	}
	return out
}

// aggOp emits the batches of a finished aggregation.
type aggOp struct {
	run  func(ctx context.Context) ([]*batch, error)
	out  []*batch
	done bool
	stop func()
}

func (o *aggOp) nextBatch(ctx context.Context) (*batch, error) {
	if !o.done {
		o.done = true
		out, err := o.run(ctx)
		if err != nil {
			return nil, err
		}
		o.out = out
	}
	for len(o.out) > 0 {
		b := o.out[0]
		o.out = o.out[1:]
		if b.n > 0 {
			return b, nil
		}
	}
	return nil, nil
}

func (o *aggOp) close() {
	if o.stop != nil {
		o.stop()
	}
}

func newHashAgg(q *query, p *Aggregate, in operator) (batchOperator, error) {
	core, err := newAggCore(q, p, false)
	if err != nil {
		return nil, err
	}
	ev := q.newEvaluator()
	return &aggOp{stop: in.close, run: func(ctx context.Context) ([]*batch, error) {
		for {
			b, err := q.codec.pull(ctx, in)
			if err != nil {
				return nil, err
			}
			if b == nil {
				break
			}
			if err := core.consume(ev, b); err != nil {
				return nil, err
			}
		}
		if err := core.finish(); err != nil {
			return nil, err
		}
		return core.output(), nil
	}}, nil
}

// countOnly reports whether p is count(*)s without FILTER and without groups over a
// pipeline without filter stages: such a query counts selected rows without reading.
func countOnly(p *Aggregate, pl *pipeline) bool {
	if len(p.Groups) > 0 {
		return false
	}
	for _, a := range p.Aggs {
		if a.Func != "count" || len(a.Args) != 0 || a.Filter != nil {
			return false
		}
	}
	for _, s := range pl.stages {
		if s.filter != nil {
			return false
		}
	}
	return true
}

// newParallelAgg aggregates each source separately on the scan workers (grouping
// dictionary text by id) and merges the partial states into one table.
func newParallelAgg(q *query, p *Aggregate, pl *pipeline) (batchOperator, error) {
	global, err := newAggCore(q, p, false)
	if err != nil {
		return nil, err
	}
	sc := newScanner(q, pl.scan)
	fast := countOnly(p, pl)
	var meta *sumMeta // sum_meta.go
	if fastPaths && !fast {
		meta = newSumMeta(p, pl, global.accs)
	}
	var mu sync.Mutex
	var sorted []*aggCore // partials grouped by one sorted dictionary, merged at the end
	var packed []*aggCore // partials grouped by packed keys of sorted dictionaries, likewise
	run := func(ctx context.Context) ([]*batch, error) {
		ctx, cancel := mergeCtx(ctx, q.ctx)
		defer cancel()
		err := forEachSource(ctx, q, pl.scan.Sources, func(ctx context.Context, w *worker, src storage.Source) error {
			if meta != nil {
				var ok bool
				if w.metaParts, ok = meta.parts(sc, src, w.metaParts); ok {
					mu.Lock()
					meta.fold(global.accs, w.metaParts)
					mu.Unlock()
					return nil
				}
			}
			ss, err := sc.prepare(src, w.ev)
			if err != nil || ss == nil {
				return err
			}
			if fast {
				if n, ok := ss.count(); ok {
					mu.Lock()
					for _, acc := range global.accs {
						acc.(*countAcc).c[0] += n
					}
					mu.Unlock()
					return nil
				}
			}
			part, err := newAggCore(q, p, true)
			if err != nil {
				return err
			}
			// part.consume copies what it keeps, so the scan may reuse its buffers.
			w.bufs.reuse = true
			err = ss.run(ctx, w.ev, &w.bufs, func(b *batch) error {
				b, err := runStages(w.ev, pl.stages, b)
				if err != nil || b.n == 0 {
					return err
				}
				return part.consume(w.ev, b)
			})
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if sortedMergeable(part) {
				sorted = append(sorted, part)
				return nil
			}
			if packedMergeable(part) {
				packed = append(packed, part)
				return nil
			}
			return global.mergeFrom(part)
		})
		if err != nil {
			return nil, err
		}
		if len(sorted) > 0 {
			if global.table.ngroups == 0 {
				err = global.mergeSorted(sorted)
			} else {
				for _, part := range sorted {
					if err = global.mergeFrom(part); err != nil {
						break
					}
				}
			}
			if err != nil {
				return nil, err
			}
		}
		if len(packed) > 0 {
			// Into an empty table: when global already holds groups (partials that
			// did not pack), the packed merge's result is merged into it by value.
			target := global
			if global.table.ngroups != 0 {
				if target, err = newAggCore(q, p, false); err != nil {
					return nil, err
				}
			}
			done, err := target.mergePacked(packed)
			if err != nil {
				return nil, err
			}
			switch {
			case done && target != global:
				err = global.mergeFrom(target)
			case !done:
				for _, part := range packed {
					if err = global.mergeFrom(part); err != nil {
						break
					}
				}
			}
			if err != nil {
				return nil, err
			}
		}
		if err := global.finish(); err != nil {
			return nil, err
		}
		return global.output(), nil
	}
	return &aggOp{run: run}, nil
}

// mergeCtx returns a context canceled when either a or b ends.
func mergeCtx(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}

// sortedMergeable reports whether a partial aggregation grouped on a single
// dictionary column by id alone, with a sorted dictionary: such partials are merged
// by a k-way merge over their dictionaries instead of a hash lookup per group.
func sortedMergeable(a *aggCore) bool {
	t := a.table
	return len(a.p.Groups) == 1 && t.denseOf != nil && len(t.m) == 0 && t.keys[0].isDict &&
		sort.StringsAreSorted(t.denseOf)
}

// mergeSorted builds a's (empty) group table from partials whose keys are ids of
// sorted dictionaries: walking every dictionary in id order is walking values in
// order, so equal keys meet at the top of a heap and get one global group. The key
// space is cut into ranges at quantiles of the largest dictionary and the ranges are
// merged in parallel. Groups come out sorted by key (NULL last).
func (a *aggCore) mergeSorted(parts []*aggCore) error {
	total := 0
	ref := parts[0].table.denseOf
	for _, part := range parts {
		total += part.table.ngroups
		if len(part.table.denseOf) > len(ref) {
			ref = part.table.denseOf
		}
	}
	nr := 1
	if total >= 1<<16 {
		nr = min(a.q.opts.Parallelism, 16)
	}
	// bounds[r] is the first value of range r (range 0 starts at the beginning).
	bounds := make([]string, nr)
	for r := 1; r < nr; r++ {
		bounds[r] = ref[len(ref)*r/nr]
	}
	idRange := func(p, r int) (int, int) {
		d := parts[p].table.denseOf
		lo, hi := 0, len(d)
		if r > 0 {
			lo = sort.SearchStrings(d, bounds[r])
		}
		if r+1 < nr {
			hi = sort.SearchStrings(d, bounds[r+1])
		}
		return lo, hi
	}
	mappings := make([][]int32, len(parts))
	for p, part := range parts {
		mappings[p] = make([]int32, part.table.ngroups)
	}
	keys := make([][]string, nr)
	if err := inParallel(nr, func(r int) {
		keys[r] = mergeRange(parts, mappings, func(p int) (int, int) { return idRange(p, r) })
	}); err != nil {
		return err
	}
	// Range-relative group ids become global ones.
	offset := int32(0)
	for r := 0; r < nr; r++ {
		if r > 0 && offset != 0 {
			for p, part := range parts {
				lo, hi := idRange(p, r)
				for _, g := range part.table.dense[lo:hi] {
					if g >= 0 {
						mappings[p][g] += offset
					}
				}
			}
		}
		offset += int32(len(keys[r]))
	}
	kv := a.table.keys[0]
	var bytes int64
	for _, ks := range keys {
		kv.s = append(kv.s, ks...)
		for _, k := range ks {
			bytes += int64(len(k))
		}
	}
	kv.n = len(kv.s)
	a.table.ngroups = kv.n
	if err := a.table.charge(int64(kv.n)*a.table.groupBytes() + bytes); err != nil {
		return err
	}
	nullG := int32(-1)
	for p, part := range parts {
		if part.table.nullG < 0 {
			continue
		}
		if nullG < 0 {
			nullG = int32(a.table.ngroups)
			a.table.ngroups++
			kv.n++
			kv.s = append(kv.s, "")
			kv.setNull(int(nullG))
		}
		mappings[p][part.table.nullG] = nullG
	}
	if err := a.growAccs(); err != nil {
		return err
	}
	for p, part := range parts {
		for k := range a.accs {
			if err := a.accs[k].merge(part.accs[k], mappings[p]); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeRange k-way merges the id ranges of the partials' dictionaries, writing the
// range-relative group of every partial group it meets into mappings, and returns the
// distinct keys in order.
func mergeRange(parts []*aggCore, mappings [][]int32, idRange func(p int) (int, int)) []string {
	runs := make([]mergeRun, len(parts))
	most := 0
	for p, part := range parts {
		lo, hi := idRange(p)
		runs[p] = mergeRun{d: part.table.denseOf, lo: lo, hi: hi, skip: part.table.dense}
		most = max(most, hi-lo)
	}
	keys := make([]string, 0, most+most/4)
	mergeRuns(runs, func(p, id int, isNew bool) {
		if isNew {
			keys = append(keys, runs[p].d[id])
		}
		mappings[p][runs[p].skip[id]] = int32(len(keys) - 1)
	})
	return keys
}
