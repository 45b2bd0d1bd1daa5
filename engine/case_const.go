package engine

import (
	"slices"
)

// CASE with constant results (CASE WHEN price < 20 THEN 'low' ... ELSE 'high' END):
// every WHEN condition is evaluated once over the whole batch, each row takes the
// first branch whose condition is true, and the result is filled with typed loops;
// text results come out as dictionary text over the sorted distinct branch values,
// so that grouping by the CASE groups by id. Evaluating a condition on rows an
// earlier branch already took is harmless for non-volatile conditions; should it
// fail, the lazy evaluation (evalCase) runs instead and raises the error only if a
// row that reaches the condition causes it.

// constCase is the prepared form of a Case whose results are all constants.
type constCase struct {
	ok    bool
	vals  []Value  // per branch (the WHENs, then ELSE), cast to the CASE's type
	dict  []string // text: sorted distinct non-NULL branch values
	idOf  []uint32 // text: dictionary id per branch
	anyNu bool     // some branch is NULL
}

// prepareConstCase returns the constant form of e (ok false when e is not one).
func prepareConstCase(e *Case) *constCase {
	cc := &constCase{}
	switch kindOf(e.T) {
	case kInt, kFloat, kBool, kText:
	default:
		return cc
	}
	if len(e.Whens) == 0 || len(e.Whens) > 1<<16 {
		return cc
	}
	results := make([]Expr, 0, len(e.Whens)+1)
	for _, w := range e.Whens {
		if isVolatile(w.Cond) {
			return cc
		}
		results = append(results, w.Then)
	}
	results = append(results, e.Else)
	for _, r := range results {
		v := Value{Type: e.T, Null: true}
		if r != nil {
			k, ok := r.(*Const)
			if !ok {
				return cc
			}
			x, err := castVec(constVec(k.V, 1), e.T)
			if err != nil {
				return cc
			}
			v = x.value(0)
			v.Type = e.T
		}
		if v.Null {
			cc.anyNu = true
		}
		cc.vals = append(cc.vals, v)
	}
	if kindOf(e.T) == kText {
		for _, v := range cc.vals {
			if !v.Null {
				cc.dict = append(cc.dict, v.S)
			}
		}
		slices.Sort(cc.dict)
		cc.dict = slices.Compact(cc.dict)
		if len(cc.dict) == 0 {
			return cc // all NULL: the general path
		}
		cc.idOf = make([]uint32, len(cc.vals))
		for i, v := range cc.vals {
			if !v.Null {
				id, _ := slices.BinarySearch(cc.dict, v.S)
				cc.idOf[i] = uint32(id)
			}
		}
	}
	cc.ok = true
	return cc
}

// evalConstCase evaluates e when its results are constants; ok is false when it is
// not such a CASE or a condition failed (the caller then evaluates lazily).
func (ev *evaluator) evalConstCase(e *Case, b *batch) (*vec, bool) {
	if ev.cases == nil {
		ev.cases = make(map[*Case]*constCase)
	}
	cc := ev.cases[e]
	if cc == nil {
		cc = prepareConstCase(e)
		ev.cases[e] = cc
	}
	if !cc.ok || !fastPaths {
		return nil, false
	}
	n := b.n
	// Conditions run last to first, so a row ends on the first branch it takes; the
	// loops are free of data-dependent branches. Text without NULL branches writes
	// dictionary ids straight away (the code of branch k is idOf[k]); otherwise the
	// codes are branch numbers, mapped to values below.
	direct := kindOf(e.T) == kText && !cc.anyNu
	code := func(k int) uint32 {
		if direct {
			return cc.idOf[k]
		}
		return uint32(k)
	}
	// A condition may itself hold a constant CASE (CASE WHEN (CASE … END) > 1 …):
	// only the outermost one evaluating uses the evaluator's buffer, or the inner
	// one would overwrite the outer's branch codes while the outer still fills them.
	ev.caseDepth++
	defer func() { ev.caseDepth-- }()
	var br []uint32
	if direct || ev.caseDepth > 1 {
		br = make([]uint32, n) // direct: handed out as the ids
	} else {
		if cap(ev.caseBuf) < n {
			ev.caseBuf = make([]uint32, n)
		}
		br = ev.caseBuf[:n]
	}
	elseCode := code(len(e.Whens))
	for i := range br {
		br[i] = elseCode
	}
	for k := len(e.Whens) - 1; k >= 0; k-- {
		kk := code(k)
		if ev.fusedBranch(e.Whens[k].Cond, b, br, kk) {
			continue
		}
		c, err := ev.eval(e.Whens[k].Cond, b)
		if err != nil || len(c.b) < n {
			return nil, false
		}
		cb := c.b[:n]
		if c.nulls == nil {
			for i, x := range cb {
				v := br[i]
				if x {
					v = kk
				}
				br[i] = v
			}
		} else {
			nu := c.nulls[:n]
			for i, x := range cb {
				v := br[i]
				if x && !nu[i] {
					v = kk
				}
				br[i] = v
			}
		}
	}
	out := &vec{t: e.T, n: n}
	if direct {
		out.isDict, out.dict, out.ids = true, cc.dict, br
		return out, true
	}
	if cc.anyNu {
		var nulls []bool
		for i, x := range br {
			if cc.vals[x].Null {
				if nulls == nil {
					nulls = make([]bool, n)
				}
				nulls[i] = true
			}
		}
		out.nulls = nulls
	}
	switch kindOf(e.T) {
	case kText:
		out.isDict, out.dict = true, cc.dict
		out.ids = make([]uint32, n)
		for i, x := range br {
			out.ids[i] = cc.idOf[x]
		}
	case kInt:
		out.i = make([]int64, n)
		for i, x := range br {
			out.i[i] = cc.vals[x].I
		}
	case kFloat:
		out.f = make([]float64, n)
		for i, x := range br {
			out.f[i] = cc.vals[x].F
		}
	case kBool:
		out.b = make([]bool, n)
		for i, x := range br {
			out.b[i] = cc.vals[x].B
		}
	}
	return out, true
}

// fusedBranch sets br[i] = kk on the rows where cond, a comparison of a numeric
// column with a numeric constant, is true, without materializing the comparison;
// false when cond has another shape. NaN sorts above every number, as in
// PostgreSQL (and fastCompareConst).
func (ev *evaluator) fusedBranch(cond Expr, b *batch, br []uint32, kk uint32) bool {
	c, ok := cond.(*Call)
	if !ok || len(c.Args) != 2 {
		return false
	}
	op := c.Func
	switch op {
	case "=", "<>", "!=", "<", "<=", ">", ">=":
	default:
		return false
	}
	r, ok := c.Args[0].(*ColRef)
	k, ok2 := c.Args[1].(*Const)
	if !ok || !ok2 {
		r, ok = c.Args[1].(*ColRef)
		k, ok2 = c.Args[0].(*Const)
		if !ok || !ok2 {
			return false
		}
		op = flipOp(op)
	}
	if r.Index < 0 || r.Index >= len(b.cols) || b.cols[r.Index] == nil || k.V.Null {
		return false
	}
	x := b.cols[r.Index]
	n := b.n
	switch {
	case kindOf(x.t) == kFloat && k.V.Type.IsNumeric() && len(x.f) >= n:
		kv := numFloat(k.V)
		if kv != kv {
			return false
		}
		fuseCmp(br[:n], x.f[:n], x.nulls, op, kv, kk)
		return true
	case kindOf(x.t) == kInt && kindOf(k.V.Type) == kInt && len(x.i) >= n &&
		(x.t.IsInteger() && k.V.Type.IsInteger() || x.t.IsTime() && k.V.Type.IsTime() || x.t == k.V.Type):
		fuseCmp(br[:n], x.i[:n], x.nulls, op, k.V.I, kk)
		return true
	}
	return false
}

// fuseCmp sets br[i] = kk where a[i] op k holds and row i is not NULL. For floats,
// v != v (NaN) counts as greater than k; for integers it is always false.
func fuseCmp[T int64 | float64](br []uint32, a []T, nulls []bool, op string, k T, kk uint32) {
	if nulls != nil {
		nu := nulls[:len(a)]
		switch op {
		case "=":
			for i, v := range a {
				t := br[i]
				if v == k && !nu[i] {
					t = kk
				}
				br[i] = t
			}
		case "<>", "!=":
			for i, v := range a {
				t := br[i]
				if v != k && !nu[i] {
					t = kk
				}
				br[i] = t
			}
		case "<":
			for i, v := range a {
				t := br[i]
				if v < k && !nu[i] {
					t = kk
				}
				br[i] = t
			}
		case "<=":
			for i, v := range a {
				t := br[i]
				if v <= k && !nu[i] {
					t = kk
				}
				br[i] = t
			}
		case ">":
			for i, v := range a {
				t := br[i]
				if (v > k || v != v) && !nu[i] {
					t = kk
				}
				br[i] = t
			}
		case ">=":
			for i, v := range a {
				t := br[i]
				if (v >= k || v != v) && !nu[i] {
					t = kk
				}
				br[i] = t
			}
		}
		return
	}
	switch op {
	case "=":
		for i, v := range a {
			t := br[i]
			if v == k {
				t = kk
			}
			br[i] = t
		}
	case "<>", "!=":
		for i, v := range a {
			t := br[i]
			if v != k {
				t = kk
			}
			br[i] = t
		}
	case "<":
		for i, v := range a {
			t := br[i]
			if v < k {
				t = kk
			}
			br[i] = t
		}
	case "<=":
		for i, v := range a {
			t := br[i]
			if v <= k {
				t = kk
			}
			br[i] = t
		}
	case ">":
		for i, v := range a {
			t := br[i]
			if v > k || v != v {
				t = kk
			}
			br[i] = t
		}
	case ">=":
		for i, v := range a {
			t := br[i]
			if v >= k || v != v {
				t = kk
			}
			br[i] = t
		}
	}
}
