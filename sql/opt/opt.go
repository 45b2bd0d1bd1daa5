// Package opt is strata's rule-based plan optimizer. It rewrites the declarative plan
// trees of package engine that the SQL binder produced, before they are executed.
//
// Each rule lives in its own file and is named for what it does (DataFusion style):
// fold_constants, push_down_filter, extract_time_range, prune_columns. Any rule can be
// disabled by name (tests, EXPLAIN comparisons, bisecting a wrong result).
//
// Invariants:
//   - Rules never mutate their input: every rewrite copies the nodes it changes, so a
//     prepared statement's plan can be optimized again for each execution.
//   - A rule keeps the output row of the plan it is given (same number of fields, same
//     types); the driver checks it and panics with "BUG:" when a rule breaks it.
package opt

import (
	"fmt"
	"time"

	"github.com/stratadb/strata/engine"
)

// Context is what rules may consult.
type Context struct {
	// Now is the statement's timestamp: now() and CURRENT_TIMESTAMP fold to it.
	Now time.Time
}

// Rule is one rewrite of a whole plan tree.
type Rule interface {
	Name() string
	Apply(p engine.Plan, ctx *Context) (engine.Plan, error)
}

// Rules returns the default rule list, in the order they run.
func Rules() []Rule {
	return []Rule{
		FoldConstants{},
		PushDownFilter{},
		ExtractTimeRange{},
		FoldConstants{}, // pushdown may put constants next to each other again
		PruneColumns{},
	}
}

// Optimizer runs rules over a plan.
type Optimizer struct {
	Rules []Rule
	// Disabled names rules to skip.
	Disabled map[string]bool
}

// New returns an optimizer with the default rules, minus the disabled ones.
func New(disabled ...string) *Optimizer {
	o := &Optimizer{Rules: Rules(), Disabled: map[string]bool{}}
	for _, d := range disabled {
		o.Disabled[d] = true
	}
	return o
}

// Optimize applies every enabled rule once, in order.
func (o *Optimizer) Optimize(p engine.Plan, ctx *Context) (engine.Plan, error) {
	for _, r := range o.Rules {
		if o.Disabled[r.Name()] {
			continue
		}
		before := p.Fields()
		np, err := r.Apply(p, ctx)
		if err != nil {
			return nil, fmt.Errorf("optimizer rule %s: %w", r.Name(), err)
		}
		after := np.Fields()
		if len(before) != len(after) {
			panic(fmt.Sprintf("BUG: rule %s changed the plan's width from %d to %d", r.Name(), len(before), len(after)))
		}
		for i := range before {
			if before[i].Type != after[i].Type {
				panic(fmt.Sprintf("BUG: rule %s changed field %d from %s to %s", r.Name(), i, before[i].Type, after[i].Type))
			}
		}
		p = np
	}
	return p, nil
}

// Composite is an expression kind this package does not otherwise know whose
// sub-expressions are expressions over the same input row (the SQL layer's
// subquery placeholder and its outer references): rewrites and walks reach them,
// so that a column renumbering or a pushdown treats them as any other.
type Composite interface {
	engine.Expr
	SubExprs() []engine.Expr
	// WithSubExprs returns a copy with the sub-expressions replaced (same length
	// and order as SubExprs).
	WithSubExprs([]engine.Expr) engine.Expr
}

// RewriteExpr returns e with fn applied bottom-up: children first, then fn on the node
// with its new children. fn returns its argument when it has nothing to change. Nodes
// are copied, never mutated. Expression kinds this package does not know (the SQL
// layer's parameter placeholders) are leaves.
func RewriteExpr(e engine.Expr, fn func(engine.Expr) (engine.Expr, error)) (engine.Expr, error) {
	if e == nil {
		return nil, nil
	}
	var err error
	rw := func(x engine.Expr) engine.Expr {
		if err != nil || x == nil {
			return x
		}
		var y engine.Expr
		y, err = RewriteExpr(x, fn)
		return y
	}
	rwList := func(xs []engine.Expr) []engine.Expr {
		out := make([]engine.Expr, len(xs))
		for i, x := range xs {
			out[i] = rw(x)
		}
		return out
	}
	switch x := e.(type) {
	case *engine.Call:
		c := *x
		c.Args = rwList(x.Args)
		e = &c
	case *engine.Cast:
		c := *x
		c.X = rw(x.X)
		e = &c
	case *engine.BoolOp:
		c := *x
		c.Args = rwList(x.Args)
		e = &c
	case *engine.Case:
		c := *x
		c.Whens = make([]engine.When, len(x.Whens))
		for i, w := range x.Whens {
			c.Whens[i] = engine.When{Cond: rw(w.Cond), Then: rw(w.Then)}
		}
		c.Else = rw(x.Else)
		e = &c
	case *engine.IsNull:
		c := *x
		c.X = rw(x.X)
		e = &c
	case *engine.InList:
		c := *x
		c.X = rw(x.X)
		c.List = rwList(x.List)
		e = &c
	case *engine.Like:
		c := *x
		c.X = rw(x.X)
		c.Pattern = rw(x.Pattern)
		e = &c
	case *engine.SubPlan:
		// The outer row's expressions only: the subquery's plan is a query of its own.
		c := *x
		c.Args = rwList(x.Args)
		c.X = rw(x.X)
		e = &c
	case Composite:
		e = x.WithSubExprs(rwList(x.SubExprs()))
	}
	if err != nil {
		return nil, err
	}
	return fn(e)
}

// WalkExpr calls fn on e and every sub-expression, parents first.
func WalkExpr(e engine.Expr, fn func(engine.Expr)) {
	if e == nil {
		return
	}
	fn(e)
	switch x := e.(type) {
	case *engine.Call:
		for _, a := range x.Args {
			WalkExpr(a, fn)
		}
	case *engine.Cast:
		WalkExpr(x.X, fn)
	case *engine.BoolOp:
		for _, a := range x.Args {
			WalkExpr(a, fn)
		}
	case *engine.Case:
		for _, w := range x.Whens {
			WalkExpr(w.Cond, fn)
			WalkExpr(w.Then, fn)
		}
		WalkExpr(x.Else, fn)
	case *engine.IsNull:
		WalkExpr(x.X, fn)
	case *engine.InList:
		WalkExpr(x.X, fn)
		for _, a := range x.List {
			WalkExpr(a, fn)
		}
	case *engine.Like:
		WalkExpr(x.X, fn)
		WalkExpr(x.Pattern, fn)
	case *engine.SubPlan:
		for _, a := range x.Args {
			WalkExpr(a, fn)
		}
		WalkExpr(x.X, fn)
	case Composite:
		for _, a := range x.SubExprs() {
			WalkExpr(a, fn)
		}
	}
}

// RewritePlanExprs returns a copy of the tree with fn applied (via RewriteExpr) to
// every expression of every node, children first.
func RewritePlanExprs(p engine.Plan, fn func(engine.Expr) (engine.Expr, error)) (engine.Plan, error) {
	rw := func(e engine.Expr) (engine.Expr, error) { return RewriteExpr(e, fn) }
	return MapPlan(p, func(n engine.Plan) (engine.Plan, error) {
		var err error
		try := func(e engine.Expr) engine.Expr {
			if err != nil {
				return e
			}
			var r engine.Expr
			r, err = rw(e)
			return r
		}
		switch x := n.(type) {
		case *engine.Scan:
			c := *x
			c.Filter = try(x.Filter)
			n = &c
		case *engine.Filter:
			c := *x
			c.Cond = try(x.Cond)
			n = &c
		case *engine.Project:
			c := *x
			c.Exprs = make([]engine.Expr, len(x.Exprs))
			for i, e := range x.Exprs {
				c.Exprs[i] = try(e)
			}
			n = &c
		case *engine.Aggregate:
			c := *x
			c.Groups = make([]engine.Expr, len(x.Groups))
			for i, e := range x.Groups {
				c.Groups[i] = try(e)
			}
			c.Aggs = make([]engine.AggCall, len(x.Aggs))
			for i, a := range x.Aggs {
				na := a
				na.Args = make([]engine.Expr, len(a.Args))
				for j, e := range a.Args {
					na.Args[j] = try(e)
				}
				na.Filter = try(a.Filter)
				c.Aggs[i] = na
			}
			n = &c
		case *engine.Sort:
			c := *x
			c.Keys = make([]engine.SortKey, len(x.Keys))
			for i, k := range x.Keys {
				k.Expr = try(k.Expr)
				c.Keys[i] = k
			}
			n = &c
		case *engine.Window:
			c := *x
			c.Funcs = make([]engine.WindowFunc, len(x.Funcs))
			for i, f := range x.Funcs {
				nf := f
				nf.Args = make([]engine.Expr, len(f.Args))
				for j, e := range f.Args {
					nf.Args[j] = try(e)
				}
				nf.Partition = make([]engine.Expr, len(f.Partition))
				for j, e := range f.Partition {
					nf.Partition[j] = try(e)
				}
				nf.Order = make([]engine.SortKey, len(f.Order))
				for j, k := range f.Order {
					k.Expr = try(k.Expr)
					nf.Order[j] = k
				}
				nf.Filter = try(f.Filter)
				nf.Frame.Start.Offset = try(f.Frame.Start.Offset)
				nf.Frame.End.Offset = try(f.Frame.End.Offset)
				c.Funcs[i] = nf
			}
			n = &c
		case *engine.Join:
			c := *x
			c.LeftKeys = make([]engine.Expr, len(x.LeftKeys))
			c.RightKeys = make([]engine.Expr, len(x.RightKeys))
			for i := range x.LeftKeys {
				c.LeftKeys[i] = try(x.LeftKeys[i])
				c.RightKeys[i] = try(x.RightKeys[i])
			}
			c.Cond = try(x.Cond)
			n = &c
		case *engine.Series:
			c := *x
			c.Start, c.Stop, c.Step = try(x.Start), try(x.Stop), try(x.Step)
			n = &c
		case *engine.Unnest:
			c := *x
			c.Array = try(x.Array)
			n = &c
		case *engine.ProjectSet:
			c := *x
			c.Funcs = make([]engine.SetFunc, len(x.Funcs))
			for i, f := range x.Funcs {
				f.Arg = try(f.Arg)
				c.Funcs[i] = f
			}
			n = &c
		case *engine.Values:
			c := *x
			c.Rows = make([][]engine.Expr, len(x.Rows))
			for i, row := range x.Rows {
				c.Rows[i] = make([]engine.Expr, len(row))
				for j, e := range row {
					c.Rows[i][j] = try(e)
				}
			}
			n = &c
		}
		return n, err
	})
}

// MapPlan rebuilds the tree bottom-up: each node is copied with its rewritten children,
// then passed to fn.
func MapPlan(p engine.Plan, fn func(engine.Plan) (engine.Plan, error)) (engine.Plan, error) {
	kids := p.Children()
	switch {
	case len(kids) == 1:
		child, err := MapPlan(kids[0], fn)
		if err != nil {
			return nil, err
		}
		p = WithInput(p, child)
	case len(kids) >= 2:
		if u, ok := p.(*engine.Union); ok {
			c := *u
			c.Inputs = make([]engine.Plan, len(u.Inputs))
			for i, in := range u.Inputs {
				m, err := MapPlan(in, fn)
				if err != nil {
					return nil, err
				}
				c.Inputs[i] = m
			}
			p = &c
			break
		}
		j, ok := p.(*engine.Join)
		if !ok {
			panic(fmt.Sprintf("BUG: MapPlan: %T has several inputs", p))
		}
		l, err := MapPlan(j.Left, fn)
		if err != nil {
			return nil, err
		}
		r, err := MapPlan(j.Right, fn)
		if err != nil {
			return nil, err
		}
		c := *j
		c.Left, c.Right = l, r
		p = &c
	}
	return fn(p)
}

// WithInput returns a shallow copy of the single-input node p reading from in.
func WithInput(p engine.Plan, in engine.Plan) engine.Plan {
	switch x := p.(type) {
	case *engine.Filter:
		c := *x
		c.Input = in
		return &c
	case *engine.Project:
		c := *x
		c.Input = in
		return &c
	case *engine.Aggregate:
		c := *x
		c.Input = in
		return &c
	case *engine.Sort:
		c := *x
		c.Input = in
		return &c
	case *engine.Limit:
		c := *x
		c.Input = in
		return &c
	case *engine.Distinct:
		c := *x
		c.Input = in
		return &c
	case *engine.Window:
		c := *x
		c.Input = in
		return &c
	case *engine.SetOp:
		c := *x
		c.Input = in
		return &c
	case *engine.DistinctOn:
		c := *x
		c.Input = in
		return &c
	case *engine.ProjectSet:
		c := *x
		c.Input = in
		return &c
	}
	panic(fmt.Sprintf("BUG: WithInput on %T", p))
}

// Conjuncts splits e at its top-level ANDs.
func Conjuncts(e engine.Expr) []engine.Expr {
	if e == nil {
		return nil
	}
	if b, ok := e.(*engine.BoolOp); ok && b.Op == engine.And {
		var out []engine.Expr
		for _, a := range b.Args {
			out = append(out, Conjuncts(a)...)
		}
		return out
	}
	return []engine.Expr{e}
}

// And joins conjuncts back into one expression (nil for none).
func And(cs []engine.Expr) engine.Expr {
	switch len(cs) {
	case 0:
		return nil
	case 1:
		return cs[0]
	}
	return &engine.BoolOp{Op: engine.And, Args: cs}
}

// ColumnsUsed reports the ColRef indexes e reads.
func ColumnsUsed(e engine.Expr, into map[int]bool) {
	WalkExpr(e, func(x engine.Expr) {
		if c, ok := x.(*engine.ColRef); ok {
			into[c.Index] = true
		}
	})
}

// RemapColumns returns e with every ColRef's Index replaced by m[Index].
func RemapColumns(e engine.Expr, m func(int) int) engine.Expr {
	out, _ := RewriteExpr(e, func(x engine.Expr) (engine.Expr, error) {
		if c, ok := x.(*engine.ColRef); ok {
			n := *c
			n.Index = m(c.Index)
			return &n, nil
		}
		return x, nil
	})
	return out
}
