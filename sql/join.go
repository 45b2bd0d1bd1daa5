package sql

import (
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql/opt"
)

// Joins: JOIN ... ON (INNER, LEFT, RIGHT and FULL) and comma-separated FROM items,
// executed as hash joins (engine.Join). The ON condition's equalities between a left-side and
// a right-side expression become the hash keys; the rest stays a condition on the
// joined row. For comma joins (FROM a, b WHERE a.x = b.y, as JDBC's metadata
// queries write them) WHERE's conjuncts are pushed down the join tree: equalities
// across an inner join become its keys, one-sided conjuncts filter that side.
// JOIN ... USING (cols) and NATURAL JOIN join on the equality of the named (or all
// common) columns; as in PostgreSQL the output has each such column once, first,
// under its unqualified name, then the other left and right columns; each side's
// copy is still reachable qualified (a.k, b.k). The merged column is, as in
// PostgreSQL, the left value for INNER and LEFT joins, the right value for RIGHT
// joins and COALESCE(left, right) for FULL joins, of the two sides' common type.
//
// WHERE conjuncts go into a join only on a side that is not null-supplying: below
// a LEFT join's right side (or a RIGHT join's left side, or either side of a FULL
// join) a filter would remove rows the join then brings back NULL-extended.

// distinctQuals refuses two FROM items with the same name (PostgreSQL's 42712).
func distinctQuals(lsc, rsc *scope) error {
	seen := map[string]bool{}
	for _, c := range lsc.cols {
		seen[c.qual] = true
	}
	for _, c := range rsc.cols {
		if c.qual != "" && seen[c.qual] {
			return engine.Errorf(sqlstate.DuplicateAlias, "table name %q specified more than once", c.qual)
		}
	}
	return nil
}

// joinOf joins two bound FROM items with no condition yet.
func joinOf(lp engine.Plan, lsc *scope, rp engine.Plan, rsc *scope, kind engine.JoinKind) (engine.Plan, *scope) {
	sc := &scope{cols: append(append([]column(nil), lsc.cols...), rsc.cols...)}
	// A rollup table's aggregate rewrite needs the table as the whole FROM: inside a
	// join its rows are rolled-up rows, which aggregates must not mistake for raw ones.
	for _, side := range []*scope{lsc, rsc} {
		switch {
		case side.rollup != nil:
			sc.rolled = side.rollupTable
		case side.rolled != "":
			sc.rolled = side.rolled
		}
	}
	return &engine.Join{Left: lp, Right: rp, Kind: kind}, sc
}

func (b *binder) joinExpr(j *pg.JoinExpr) (engine.Plan, *scope, error) {
	var kind engine.JoinKind
	switch j.Jointype {
	case pg.JoinType_JOIN_INNER:
		kind = engine.InnerJoin
	case pg.JoinType_JOIN_LEFT:
		kind = engine.LeftJoin
	case pg.JoinType_JOIN_RIGHT:
		kind = engine.RightJoin
	case pg.JoinType_JOIN_FULL:
		kind = engine.FullJoin
	default:
		return nil, nil, engine.Unsupported("this join type")
	}
	if j.Alias != nil || j.JoinUsingAlias != nil {
		return nil, nil, engine.Unsupported("an alias for a join")
	}
	lp, lsc, err := b.fromItem(j.Larg)
	if err != nil {
		return nil, nil, err
	}
	rp, rsc, err := b.fromItem(j.Rarg)
	if err != nil {
		return nil, nil, err
	}
	if err := distinctQuals(lsc, rsc); err != nil {
		return nil, nil, err
	}
	p, sc := joinOf(lp, lsc, rp, rsc, kind)
	jn := p.(*engine.Join)
	if j.IsNatural || len(j.UsingClause) > 0 {
		return b.joinUsing(j, jn, sc, lsc, rsc)
	}
	if j.Quals == nil {
		if kind != engine.InnerJoin {
			return nil, nil, engine.Errorf(sqlstate.SyntaxError, "%s JOIN needs an ON condition", strings.ToUpper(kind.String()))
		}
		return jn, sc, nil
	}
	cond, err := b.expr(j.Quals, &exprCtx{scope: sc, clause: "JOIN conditions"})
	if err != nil {
		return nil, nil, err
	}
	if cond, err = b.asBool(cond, "JOIN/ON"); err != nil {
		return nil, nil, err
	}
	nLeft := len(lsc.cols)
	for _, c := range opt.Conjuncts(cond) {
		if lk, rk, ok := equiKey(c, nLeft); ok {
			jn.LeftKeys = append(jn.LeftKeys, lk)
			jn.RightKeys = append(jn.RightKeys, rk)
			continue
		}
		jn.Cond = opt.And(append(opt.Conjuncts(jn.Cond), c))
	}
	return jn, sc, nil
}

// joinUsing completes jn, the join of lsc and rsc, for JOIN ... USING and NATURAL
// JOIN: the named columns (NATURAL: those with the same name on both sides) become
// hash keys, and a projection puts them first, once.
func (b *binder) joinUsing(j *pg.JoinExpr, jn *engine.Join, sc, lsc, rsc *scope) (engine.Plan, *scope, error) {
	var names []string
	if j.IsNatural {
		for _, lc := range lsc.cols {
			if lc.hidden || lc.system || lc.qualifiedOnly || lc.value != nil || slices.Contains(names, lc.name) {
				continue
			}
			if _, err := rsc.find("", lc.name); err == nil {
				names = append(names, lc.name)
			}
		}
	}
	for _, n := range j.UsingClause {
		names = append(names, n.GetString_().GetSval())
	}
	nLeft := len(lsc.cols)
	isUsing := map[int]bool{} // columns of sc that are USING columns
	var keyCols []int         // left index of each USING column, in USING order
	var merged []engine.Expr  // each USING column's value, in USING order
	for _, name := range names {
		li, err := lsc.find("", name)
		if err != nil {
			return nil, nil, engine.Errorf(sqlstate.UndefinedColumn, "column %q specified in USING clause does not exist in left table", name)
		}
		ri, err := rsc.find("", name)
		if err != nil {
			return nil, nil, engine.Errorf(sqlstate.UndefinedColumn, "column %q specified in USING clause does not exist in right table", name)
		}
		if isUsing[li] {
			return nil, nil, engine.Errorf(sqlstate.DuplicateColumn, "column name %q appears more than once in USING clause", name)
		}
		l := &engine.ColRef{Index: li, T: sc.cols[li].t, Name: name}
		r := &engine.ColRef{Index: nLeft + ri, T: sc.cols[nLeft+ri].t, Name: name}
		eq, err := engine.NewCall("=", l, r)
		var lk, rk engine.Expr
		ok := false
		if err == nil {
			lk, rk, ok = equiKey(eq, nLeft)
		}
		if err != nil || !ok {
			return nil, nil, engine.Errorf(sqlstate.UndefinedFunction, "JOIN/USING types %s and %s cannot be matched", l.T, r.T)
		}
		jn.LeftKeys = append(jn.LeftKeys, lk)
		jn.RightKeys = append(jn.RightKeys, rk)
		isUsing[li], isUsing[nLeft+ri] = true, true
		keyCols = append(keyCols, li)
		// lk is the left column in the key type; the right one likewise, over sc.
		rv := engine.Expr(r)
		if r.T != lk.Type() {
			rv = &engine.Cast{X: r, T: lk.Type()}
		}
		switch jn.Kind {
		case engine.RightJoin:
			merged = append(merged, rv)
		case engine.FullJoin:
			m, err := b.call("coalesce", []engine.Expr{lk, rv}, -1)
			if err != nil {
				return nil, nil, err
			}
			merged = append(merged, m)
		default:
			merged = append(merged, lk)
		}
	}
	// Output: the merged USING columns (unqualified only), the other left columns,
	// the other right columns, then both sides' copies (qualified only).
	proj := &engine.Project{Input: jn}
	out := &scope{rolled: sc.rolled}
	for k, li := range keyCols {
		c := sc.cols[li]
		proj.Exprs = append(proj.Exprs, merged[k])
		proj.Names = append(proj.Names, c.name)
		out.cols = append(out.cols, column{name: c.name, t: merged[k].Type()})
	}
	var order []int
	for i := range sc.cols {
		if !isUsing[i] {
			order = append(order, i)
		}
	}
	for i := range sc.cols {
		if isUsing[i] {
			order = append(order, i)
		}
	}
	for _, i := range order {
		c := sc.cols[i]
		if isUsing[i] {
			c.qualifiedOnly = true
		}
		proj.Exprs = append(proj.Exprs, &engine.ColRef{Index: i, T: c.t, Name: c.name})
		proj.Names = append(proj.Names, c.name)
		out.cols = append(out.cols, c)
	}
	return proj, out, nil
}

// sides reports whether e reads only columns below nLeft, only at or above it, or
// both; an expression reading no column is "left" (it can go anywhere).
func sides(e engine.Expr, nLeft int) (left, right bool) {
	used := map[int]bool{}
	opt.ColumnsUsed(e, used)
	for c := range used {
		if c < nLeft {
			left = true
		} else {
			right = true
		}
	}
	return left, right
}

// equiKey splits "l = r" with l over the left columns and r over the right ones
// (either order) into hash keys of one type; r is remapped to the right input's
// column numbers.
func equiKey(c engine.Expr, nLeft int) (engine.Expr, engine.Expr, bool) {
	call, ok := c.(*engine.Call)
	if !ok || call.Func != "=" || len(call.Args) != 2 {
		return nil, nil, false
	}
	a, bb := call.Args[0], call.Args[1]
	al, ar := sides(a, nLeft)
	bl, br := sides(bb, nLeft)
	switch {
	case al && !ar && br && !bl:
	case bl && !br && ar && !al:
		a, bb = bb, a
	default:
		return nil, nil, false
	}
	t, err := engine.CommonType([]engine.Type{a.Type(), bb.Type()})
	if err != nil {
		return nil, nil, false
	}
	if a.Type() != t {
		a = &engine.Cast{X: a, T: t}
	}
	if bb.Type() != t {
		bb = &engine.Cast{X: bb, T: t}
	}
	return a, opt.RemapColumns(bb, func(i int) int { return i - nLeft }), true
}

// whereOver applies WHERE's condition to a FROM plan, pushing its conjuncts into
// inner joins as keys or one-sided filters where it can.
func whereOver(p engine.Plan, cond engine.Expr) engine.Plan {
	np, rest := pushJoinConds(p, opt.Conjuncts(cond))
	if len(rest) == 0 {
		return np
	}
	return &engine.Filter{Input: np, Cond: opt.And(rest)}
}

// pushJoinConds returns p with the conjuncts it could absorb, and the others.
func pushJoinConds(p engine.Plan, conds []engine.Expr) (engine.Plan, []engine.Expr) {
	j, ok := p.(*engine.Join)
	if !ok || len(conds) == 0 {
		return p, conds
	}
	c := *j
	nLeft := len(j.Left.Fields())
	var toLeft, toRight, rest []engine.Expr
	for _, e := range conds {
		l, r := sides(e, nLeft)
		switch {
		case !r && (c.Kind == engine.InnerJoin || c.Kind == engine.LeftJoin):
			toLeft = append(toLeft, e) // WHERE on a preserved side
		case !l && r && (c.Kind == engine.InnerJoin || c.Kind == engine.RightJoin):
			toRight = append(toRight, opt.RemapColumns(e, func(i int) int { return i - nLeft }))
		case c.Kind == engine.InnerJoin:
			if lk, rk, ok := equiKey(e, nLeft); ok {
				c.LeftKeys = append(append([]engine.Expr(nil), c.LeftKeys...), lk)
				c.RightKeys = append(append([]engine.Expr(nil), c.RightKeys...), rk)
			} else {
				c.Cond = opt.And(append(opt.Conjuncts(c.Cond), e))
			}
		default:
			rest = append(rest, e)
		}
	}
	c.Left = filtered(c.Left, toLeft)
	c.Right = filtered(c.Right, toRight)
	return &c, rest
}

func filtered(p engine.Plan, conds []engine.Expr) engine.Plan {
	if len(conds) == 0 {
		return p
	}
	np, rest := pushJoinConds(p, conds)
	if len(rest) == 0 {
		return np
	}
	return &engine.Filter{Input: np, Cond: opt.And(rest)}
}
