package engine

import (
	"math"
	"slices"
	"strings"

	"github.com/stratadb/strata/internal/sqlstate"
)

// Aggregates that keep every value of a group: the ordered-set aggregates
// percentile_cont and percentile_disc (bound from `percentile_cont(f) WITHIN GROUP
// (ORDER BY x)` as AggCall{Args: [x, f]}) and string_agg(x, delimiter). Their
// memory (8 bytes per number, 16 plus the length per string) counts against the
// query's memory limit, so a percentile over a huge group ends with 53200 instead
// of exhausting the machine.
//
// string_agg concatenates in an unspecified order unless AggCall.Order asks for
// the values sorted (ORDER BY the aggregated expression itself); PostgreSQL's input
// order is no order either once a query runs in parallel.

// collectAcc holds per group the non-NULL values of its first argument.
type collectAcc struct {
	fn       string
	rt       Type
	order    int  // string_agg: 0 unspecified, 1 ascending, -1 descending
	distinct bool // string_agg(DISTINCT ...): each value once
	mem      *memTracker
	nums     [][]float64
	ints     [][]int64 // percentile_disc over integers and timestamps keeps them exact
	strs     [][]string
	frac     float64
	fracN    bool // the fraction was NULL: the result is NULL
	delim    string
	set      bool // frac/delim read from the first batch
}

func newCollectAcc(a *AggCall) *collectAcc {
	return &collectAcc{fn: a.Func, rt: a.T, order: a.Order}
}

func (a *collectAcc) grow(n int) {
	switch {
	case a.fn == "string_agg":
		a.strs = growTo(a.strs, n)
	case kindOf(a.rt) == kInt:
		a.ints = growTo(a.ints, n)
	default:
		a.nums = growTo(a.nums, n)
	}
}

func (a *collectAcc) charge(n int64) error {
	if a.mem == nil {
		return nil
	}
	return a.mem.grow(n)
}

func (a *collectAcc) update(gids []int32, args []*vec) error {
	x := args[0]
	if !a.set && len(args) > 1 && args[1].n > 0 {
		a.set = true
		p := args[1]
		switch {
		case p.isNull(0):
			a.fracN = true
		case a.fn == "string_agg":
			a.delim = p.str(0)
		default:
			a.frac = p.f0(0)
			if a.frac < 0 || a.frac > 1 || math.IsNaN(a.frac) {
				return Errorf(sqlstate.NumericValueOutOfRange, "percentile value %v is not between 0 and 1", a.frac)
			}
		}
	}
	var bytes int64
	for i, g := range gids {
		if g < 0 || x.isNull(i) {
			continue
		}
		switch {
		case a.fn == "string_agg":
			s := x.str(i)
			a.strs[g] = append(a.strs[g], s)
			bytes += 16 + int64(len(s))
		case a.ints != nil:
			a.ints[g] = append(a.ints[g], x.i[i])
			bytes += 8
		default:
			a.nums[g] = append(a.nums[g], x.f0(i))
			bytes += 8
		}
	}
	return a.charge(bytes)
}

func (a *collectAcc) merge(src accum, m []int32) error {
	o := src.(*collectAcc)
	if !a.set && o.set {
		a.set, a.frac, a.fracN, a.delim = true, o.frac, o.fracN, o.delim
	}
	for i, s := range o.strs {
		a.strs[m[i]] = append(a.strs[m[i]], s...)
	}
	for i, s := range o.ints {
		a.ints[m[i]] = append(a.ints[m[i]], s...)
	}
	for i, s := range o.nums {
		a.nums[m[i]] = append(a.nums[m[i]], s...)
	}
	return nil
}

func (a *collectAcc) result() *vec {
	n := max(len(a.strs), len(a.ints), len(a.nums))
	out := newVec(a.rt, n)
	for g := 0; g < n; g++ {
		switch {
		case a.fn == "string_agg":
			vals := a.strs[g]
			if len(vals) == 0 || a.fracN {
				out.setNull(g)
				continue
			}
			if a.order != 0 || a.distinct {
				slices.Sort(vals)
			}
			if a.distinct {
				vals = slices.Compact(vals)
			}
			if a.order == -1 {
				slices.Reverse(vals)
			}
			out.s[g] = strings.Join(vals, a.delim)
		case a.ints != nil: // percentile_disc over integers or timestamps
			vals := a.ints[g]
			if len(vals) == 0 || a.fracN {
				out.setNull(g)
				continue
			}
			slices.Sort(vals)
			out.i[g] = vals[discIndex(a.frac, len(vals))]
		default:
			vals := a.nums[g]
			if len(vals) == 0 || a.fracN {
				out.setNull(g)
				continue
			}
			slices.Sort(vals)
			if a.fn == "percentile_disc" {
				out.f[g] = vals[discIndex(a.frac, len(vals))]
				continue
			}
			pos := a.frac * float64(len(vals)-1)
			lo := int(math.Floor(pos))
			hi := int(math.Ceil(pos))
			out.f[g] = vals[lo] + (vals[hi]-vals[lo])*(pos-float64(lo))
		}
	}
	return out
}

// discIndex is PostgreSQL's percentile_disc position: the first value whose
// cumulative fraction reaches f.
func discIndex(f float64, n int) int {
	i := int(math.Ceil(f*float64(n))) - 1
	return min(max(i, 0), n-1)
}
