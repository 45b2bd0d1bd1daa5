package opt

import "github.com/stratadb/strata/engine"

// PushDownFilter moves WHERE conjuncts as close to the scan as they can go: through
// projections (by substituting the projected expressions), sorts, DISTINCT and
// other filters, and through an aggregate when a conjunct reads only group keys. A
// conjunct that reaches a Scan joins Scan.Filter, where the engine answers it from
// bitmap indexes and column statistics instead of evaluating it row by row. Nothing
// passes a Limit (that would change which rows are counted) or a Values node.
type PushDownFilter struct{}

func (PushDownFilter) Name() string { return "push_down_filter" }

func (PushDownFilter) Apply(p engine.Plan, _ *Context) (engine.Plan, error) {
	return pushDown(p), nil
}

func pushDown(p engine.Plan) engine.Plan {
	if f, ok := p.(*engine.Filter); ok {
		return pushInto(f.Input, Conjuncts(f.Cond))
	}
	kids := p.Children()
	if len(kids) == 1 {
		return WithInput(p, pushDown(kids[0]))
	}
	if j, ok := p.(*engine.Join); ok {
		c := *j
		c.Left, c.Right = pushDown(j.Left), pushDown(j.Right)
		return &c
	}
	if u, ok := p.(*engine.Union); ok {
		// Each input's own filters (a grouping-sets branch's WHERE) go down within it.
		c := &engine.Union{Inputs: make([]engine.Plan, len(u.Inputs))}
		for i, in := range u.Inputs {
			c.Inputs[i] = pushDown(in)
		}
		return c
	}
	return p
}

// pushInto returns a plan equivalent to Filter(n, AND conds).
func pushInto(n engine.Plan, conds []engine.Expr) engine.Plan {
	if len(conds) == 0 {
		return pushDown(n)
	}
	switch x := n.(type) {
	case *engine.Scan:
		c := *x
		all := Conjuncts(x.Filter)
		for _, e := range conds {
			all = append(all, RemapColumns(e, func(i int) int { return x.Columns[i] }))
		}
		c.Filter = And(all)
		return &c
	case *engine.Filter:
		return pushInto(x.Input, append(append([]engine.Expr(nil), conds...), Conjuncts(x.Cond)...))
	case *engine.Project:
		sub := make([]engine.Expr, len(conds))
		for i, e := range conds {
			sub[i] = substitute(e, x.Exprs)
		}
		return WithInput(x, pushInto(x.Input, sub))
	case *engine.Sort, *engine.Distinct:
		return WithInput(x, pushInto(x.Children()[0], conds))
	case *engine.Aggregate:
		var down, stay []engine.Expr
		for _, e := range conds {
			used := map[int]bool{}
			ColumnsUsed(e, used)
			onlyKeys := true
			for i := range used {
				if i >= len(x.Groups) {
					onlyKeys = false
				}
			}
			// A conjunct without columns (after folding: a parameter-free constant) stays
			// above: with no GROUP BY the aggregate emits a row even when it is false.
			if onlyKeys && len(used) > 0 {
				down = append(down, substitute(e, x.Groups))
			} else {
				stay = append(stay, e)
			}
		}
		agg := WithInput(x, pushInto(x.Input, down))
		if len(stay) == 0 {
			return agg
		}
		return &engine.Filter{Input: agg, Cond: And(stay)}
	}
	return &engine.Filter{Input: pushDown(n), Cond: And(conds)}
}

// substitute replaces ColRef i in e with exprs[i].
func substitute(e engine.Expr, exprs []engine.Expr) engine.Expr {
	out, _ := RewriteExpr(e, func(x engine.Expr) (engine.Expr, error) {
		if c, ok := x.(*engine.ColRef); ok {
			return exprs[c.Index], nil
		}
		return x, nil
	})
	return out
}
