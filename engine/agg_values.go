package engine

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// array_agg(x [ORDER BY k [DESC]]) (bound as array_agg(x) or array_agg(x, k)) and mode() WITHIN GROUP (ORDER BY x [DESC]):
// aggregates that keep each group's values. array_agg keeps NULLs and returns
// the array of the values (x's array type, NULL for no rows), in x's order when
// asked, else in the order rows arrive (unspecified once a query runs in
// parallel, as in PostgreSQL); mode returns the most frequent non-NULL value, a
// tie going to the first in the sort order, as PostgreSQL's mode_final does.
// array_agg(DISTINCT x) is its distinct values, NULL too, sorted (ascending
// unless ORDER BY x DESC), as PostgreSQL sorts a DISTINCT aggregate's input.

type valuesAcc struct {
	fn    string
	t     Type // the values' type
	order int  // 1 ascending, -1 descending, 0 as they arrive
	mem   *memTracker
	loc   *time.Location // the session's zone, in which timestamptz elements print
	vals  [][]Value
	keys  [][]Value // array_agg(x, k): the sort key of each value
	// distinct is array_agg(DISTINCT x): the values sorted, each kept once.
	distinct bool
}

func newValuesAcc(a *AggCall) accum {
	if len(a.Args) != 1 && !(a.Func == "array_agg" && len(a.Args) == 2) {
		return nil
	}
	t := a.Args[0].Type()
	if _, ok := ArrayOf(t); !ok && a.Func == "array_agg" {
		return nil
	}
	order := a.Order
	if a.Func == "mode" && order == 0 {
		order = 1
	}
	acc := &valuesAcc{fn: a.Func, t: t, order: order}
	if len(a.Args) == 2 {
		acc.keys = [][]Value{}
	}
	return acc
}

func (a *valuesAcc) grow(n int) {
	a.vals = growTo(a.vals, n)
	if a.keys != nil {
		a.keys = growTo(a.keys, n)
	}
}

func (a *valuesAcc) update(gids []int32, args []*vec) error {
	x := args[0]
	var bytes int64
	for i, g := range gids {
		if g < 0 || (a.fn == "mode" && x.isNull(i)) {
			continue
		}
		v := x.value(i)
		a.vals[g] = append(a.vals[g], v)
		bytes += 64 + int64(len(v.S))
		if a.keys != nil {
			k := args[1].value(i)
			a.keys[g] = append(a.keys[g], k)
			bytes += 64 + int64(len(k.S))
		}
	}
	if a.mem != nil {
		return a.mem.grow(bytes)
	}
	return nil
}

func (a *valuesAcc) merge(src accum, m []int32) error {
	o := src.(*valuesAcc)
	for i, vs := range o.vals {
		a.vals[m[i]] = append(a.vals[m[i]], vs...)
		if a.keys != nil {
			a.keys[m[i]] = append(a.keys[m[i]], o.keys[i]...)
		}
	}
	return nil
}

// compareValues orders two non-NULL values of one type as PostgreSQL's btree
// does (an interval by its length, 30-day months); NULLs sort last.
func compareValues(x, y Value) int {
	switch {
	case x.Null || y.Null:
		return cmp.Compare(b2i(x.Null), b2i(y.Null))
	}
	switch kindOf(x.Type) {
	case kInt:
		return cmp.Compare(x.I, y.I)
	case kFloat:
		return cmp.Compare(x.F, y.F)
	case kBool:
		return cmp.Compare(b2i(x.B), b2i(y.B))
	case kText:
		return strings.Compare(x.S, y.S)
	case kInterval:
		span := func(v Value) int64 { return (int64(v.Months)*30+int64(v.Days))*usPerDay + v.I }
		return cmp.Compare(span(x), span(y))
	}
	return 0
}

func (a *valuesAcc) result() *vec {
	rt := a.t
	if a.fn == "array_agg" {
		rt, _ = ArrayOf(a.t)
	}
	out := newVec(rt, len(a.vals))
	for g, vs := range a.vals {
		if len(vs) == 0 {
			out.setNull(g)
			continue
		}
		cmpOrder := func(x, y Value) int {
			if a.order < 0 { // DESC puts NULLs first, as PostgreSQL's default
				return -compareValues(x, y)
			}
			return compareValues(x, y)
		}
		switch {
		case a.keys != nil:
			idx := make([]int, len(vs))
			for k := range idx {
				idx[k] = k
			}
			ks := a.keys[g]
			slices.SortStableFunc(idx, func(x, y int) int { return cmpOrder(ks[x], ks[y]) })
			sorted := make([]Value, len(vs))
			for k, j := range idx {
				sorted[k] = vs[j]
			}
			vs = sorted
		case a.order != 0 || a.distinct:
			slices.SortStableFunc(vs, cmpOrder)
		}
		if a.distinct {
			vs = slices.CompactFunc(vs, func(x, y Value) bool { return compareValues(x, y) == 0 })
		}
		if a.fn == "mode" {
			best, bestN := vs[0], 0
			for i := 0; i < len(vs); {
				j := i + 1
				for j < len(vs) && compareValues(vs[i], vs[j]) == 0 {
					j++
				}
				if j-i > bestN {
					best, bestN = vs[i], j-i
				}
				i = j
			}
			out.set(g, best)
			continue
		}
		out.s[g] = FormatArray(vs, a.loc)
	}
	return out
}
