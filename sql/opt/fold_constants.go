package opt

import (
	"github.com/stratadb/strata/engine"
)

// FoldConstants evaluates every expression subtree without column references once,
// at plan time, with engine.EvalConst (now() folds to the statement time), and
// simplifies AND/OR with constant arms. A subtree whose evaluation fails (1/0 in a
// branch that may never run) is left for the executor, which raises the error only if
// the row needs it.
type FoldConstants struct{}

func (FoldConstants) Name() string { return "fold_constants" }

// strictOps are the operators whose result is NULL when an operand is NULL.
var strictOps = map[string]bool{"+": true, "-": true, "*": true, "/": true, "%": true,
	"=": true, "<>": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

func (FoldConstants) Apply(p engine.Plan, ctx *Context) (engine.Plan, error) {
	p, err := RewritePlanExprs(p, func(e engine.Expr) (engine.Expr, error) {
		return foldNode(e, ctx), nil
	})
	if err != nil {
		return nil, err
	}
	// A scan filter or Filter that folded to TRUE goes away.
	return MapPlan(p, func(n engine.Plan) (engine.Plan, error) {
		switch x := n.(type) {
		case *engine.Scan:
			if isTrue(x.Filter) {
				c := *x
				c.Filter = nil
				return &c, nil
			}
		case *engine.Filter:
			if isTrue(x.Cond) {
				return x.Input, nil
			}
		}
		return n, nil
	})
}

func isNullConst(e engine.Expr) bool {
	c, ok := e.(*engine.Const)
	return ok && c.V.Null
}

func nullOf(t engine.Type) engine.Expr { return &engine.Const{V: engine.Value{Type: t, Null: true}} }

// castTo returns e as type t (e itself when it has that type).
func castTo(e engine.Expr, t engine.Type) engine.Expr {
	if e.Type() == t {
		return e
	}
	return &engine.Cast{X: e, T: t}
}

func isTrue(e engine.Expr) bool {
	c, ok := e.(*engine.Const)
	return ok && c.V.Type == engine.Bool && !c.V.Null && c.V.B
}

func isFalse(e engine.Expr) bool {
	c, ok := e.(*engine.Const)
	return ok && c.V.Type == engine.Bool && !c.V.Null && !c.V.B
}

// foldNode folds e, whose children are already folded.
func foldNode(e engine.Expr, ctx *Context) engine.Expr {
	switch x := e.(type) {
	case *engine.Const, *engine.ColRef:
		return e
	case *engine.BoolOp:
		var keep []engine.Expr
		for _, a := range x.Args {
			switch {
			case x.Op == engine.And && isFalse(a), x.Op == engine.Or && isTrue(a):
				return a
			case x.Op == engine.And && isTrue(a), x.Op == engine.Or && isFalse(a):
				continue
			}
			keep = append(keep, a)
		}
		if len(keep) == 0 {
			return &engine.Const{V: engine.Value{Type: engine.Bool, B: x.Op == engine.And}}
		}
		if len(keep) == 1 {
			return keep[0]
		}
		if len(keep) != len(x.Args) {
			return &engine.BoolOp{Op: x.Op, Args: keep}
		}
	case *engine.Call:
		if x.Volatile() {
			return e
		}
		// The simplifications of PostgreSQL's eval_const_expressions that decide
		// whether an operand is evaluated at all (and so whether it can raise):
		switch {
		case strictOps[x.Func]:
			// A strict operator with a NULL operand is NULL.
			for _, a := range x.Args {
				if isNullConst(a) {
					return nullOf(x.T)
				}
			}
		case x.Func == "nullif" && len(x.Args) == 2:
			// With a NULL argument the two cannot be equal: the first argument.
			if isNullConst(x.Args[0]) || isNullConst(x.Args[1]) {
				return castTo(x.Args[0], x.T)
			}
		case x.Func == "coalesce":
			// NULL constants drop out; a non-NULL constant ends the list.
			var keep []engine.Expr
			for _, a := range x.Args {
				if isNullConst(a) {
					continue
				}
				keep = append(keep, a)
				if _, ok := a.(*engine.Const); ok {
					break
				}
			}
			switch {
			case len(keep) == 0:
				return nullOf(x.T)
			case len(keep) == 1:
				return castTo(keep[0], x.T)
			case len(keep) < len(x.Args):
				return &engine.Call{Func: x.Func, Args: keep, T: x.T}
			}
		}
	case *engine.Case:
		// WHEN arms with a constant FALSE or NULL condition never run; one with a
		// constant TRUE condition is the ELSE of the arms before it.
		var whens []engine.When
		els, cut := x.Else, false
		for _, w := range x.Whens {
			if c, ok := w.Cond.(*engine.Const); ok {
				if c.V.Null || c.V.Type == engine.Bool && !c.V.B {
					continue
				}
				if c.V.Type == engine.Bool && c.V.B {
					els, cut = w.Then, true
					break
				}
			}
			whens = append(whens, w)
		}
		if len(whens) < len(x.Whens) || cut {
			if len(whens) == 0 {
				if els == nil {
					return nullOf(x.T)
				}
				return castTo(els, x.T)
			}
			e = &engine.Case{Whens: whens, Else: els, T: x.T}
		}
	}
	if !isConstTree(e) {
		return e
	}
	v, err := engine.EvalConst(e, ctx.Now)
	if err != nil {
		return e
	}
	if v.Type == engine.Unknown {
		v.Type = e.Type()
	}
	return &engine.Const{V: v}
}

// isConstTree reports whether e's direct children are all constants (they were folded
// first, so this means the whole subtree is constant).
func isConstTree(e engine.Expr) bool {
	ok := true
	first := true
	WalkExpr(e, func(x engine.Expr) {
		if first {
			first = false
			switch x.(type) {
			case *engine.Call, *engine.Cast, *engine.BoolOp, *engine.Case, *engine.IsNull, *engine.InList, *engine.Like:
				return
			}
			ok = false
			return
		}
		switch x.(type) {
		case *engine.Const:
		case *engine.Call:
			if x.(*engine.Call).Volatile() {
				ok = false
			}
		case *engine.Cast, *engine.BoolOp, *engine.Case, *engine.IsNull, *engine.InList, *engine.Like:
			// inner nodes: their leaves decide
		default:
			ok = false
		}
	})
	return ok
}
