package sql

import (
	"fmt"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// paramRef is a $n placeholder in a bound plan. Its type is read from the binder's
// parameter list, so a later use that decides the type ($1 compared with a column)
// also types earlier uses. Execute replaces every paramRef by a Const before the plan
// reaches the optimizer or the engine.
type paramRef struct {
	N     int // 1-based
	types *[]engine.Type
}

func (p *paramRef) Type() engine.Type { return (*p.types)[p.N-1] }
func (p *paramRef) String() string    { return "$" + strconv.Itoa(p.N) }

// settingRef is current_setting('name'): replaced by the session's value when the
// statement executes (a later SET changes it).
type settingRef struct{ Name string }

func (r *settingRef) Type() engine.Type { return engine.Text }
func (r *settingRef) String() string    { return "current_setting('" + r.Name + "')" }

// exprCtx says what an expression may refer to.
type exprCtx struct {
	scope *scope
	// agg is set while binding the select list, HAVING and ORDER BY of an aggregating
	// query: group keys and aggregate calls become references to the Aggregate output.
	agg *aggCtx
	// clause names where aggregates are not allowed ("WHERE", "GROUP BY", ...); empty
	// when they are (agg != nil).
	clause string
	// win collects window function calls; nil where they are not allowed.
	win *winCtx
}

// aggCtx collects the aggregates of one query level.
type aggCtx struct {
	input     *scope
	groups    []engine.Expr
	groupKeys []string
	aggs      []engine.AggCall
	aggKeys   []string
	names     []string // aggregate output names
	// sets, when GROUP BY has grouping sets, are its sets as indices into groups,
	// and setCol the hidden group column holding a row's set number (grouping_sets.go).
	sets   [][]int
	setCol int
}

func posErr(err *engine.Error, loc int32) *engine.Error {
	if err.Position == 0 && loc >= 0 {
		err.Position = int(loc) + 1
	}
	return err
}

func (b *binder) expr(n *pg.Node, c *exprCtx) (engine.Expr, error) {
	if n == nil || n.Node == nil {
		return nil, engine.Errorf(sqlstate.SyntaxError, "missing expression")
	}
	if c.agg != nil {
		if e, ok, err := b.aggMatch(n, c); ok || err != nil {
			return e, err
		}
	}
	switch x := n.Node.(type) {
	case *pg.Node_AConst:
		return constExpr(x.AConst)
	case *pg.Node_ColumnRef:
		return b.columnRef(x.ColumnRef, c)
	case *pg.Node_ParamRef:
		return b.param(int(x.ParamRef.Number), x.ParamRef.Location)
	case *pg.Node_AExpr:
		return b.aExpr(x.AExpr, c)
	case *pg.Node_BoolExpr:
		return b.boolExpr(x.BoolExpr, c)
	case *pg.Node_NullTest:
		arg, err := b.expr(x.NullTest.Arg, c)
		if err != nil {
			return nil, err
		}
		return &engine.IsNull{X: arg, Negated: x.NullTest.Nulltesttype == pg.NullTestType_IS_NOT_NULL}, nil
	case *pg.Node_BooleanTest:
		return b.booleanTest(x.BooleanTest, c)
	case *pg.Node_TypeCast:
		return b.typeCast(x.TypeCast, c)
	case *pg.Node_FuncCall:
		return b.funcCall(x.FuncCall, c)
	case *pg.Node_CaseExpr:
		return b.caseExpr(x.CaseExpr, c)
	case *pg.Node_CoalesceExpr:
		return b.callCommon("coalesce", x.CoalesceExpr.Args, c, x.CoalesceExpr.Location)
	case *pg.Node_MinMaxExpr:
		name := "greatest"
		if x.MinMaxExpr.Op == pg.MinMaxOp_IS_LEAST {
			name = "least"
		}
		return b.callCommon(name, x.MinMaxExpr.Args, c, x.MinMaxExpr.Location)
	case *pg.Node_SqlvalueFunction:
		return b.sqlValueFunction(x.SqlvalueFunction)
	case *pg.Node_SubLink:
		return b.subLink(x.SubLink, c)
	case *pg.Node_AIndirection:
		return b.indirection(x.AIndirection, c)
	case *pg.Node_AArrayExpr:
		return b.arrayExpr(x.AArrayExpr, engine.Unknown, c)
	case *pg.Node_CollateClause:
		// strata compares text byte-wise (the C collation); COLLATE naming that or the
		// database default (psql writes COLLATE pg_catalog.default) changes nothing.
		switch strings.ToLower(opName(x.CollateClause.Collname)) {
		case "default", "c", "posix", "ucs_basic":
			return b.expr(x.CollateClause.Arg, c)
		}
		return nil, posErr(engine.Unsupported("COLLATE "+opName(x.CollateClause.Collname)), x.CollateClause.Location)
	case *pg.Node_GroupingFunc:
		return b.groupingFunc(x.GroupingFunc, c)
	case *pg.Node_SetToDefault:
		return nil, posErr(engine.Unsupported("DEFAULT in this position"), x.SetToDefault.Location)
	}
	return nil, engine.Unsupported(fmt.Sprintf("expression %T", n.Node))
}

// aggMatch handles an expression of an aggregating query: an aggregate call, or a
// subtree equal to a group key, becomes a ColRef into the Aggregate's output. ok is
// false when n is neither (its children are then bound one by one).
func (b *binder) aggMatch(n *pg.Node, c *exprCtx) (engine.Expr, bool, error) {
	a := c.agg
	if fc, isCall := n.Node.(*pg.Node_FuncCall); isCall && isAggregate(funcName(fc.FuncCall)) && fc.FuncCall.Over == nil {
		if level := b.aggLevel(fc.FuncCall, a.input); level > 0 { // outer_agg.go
			e, err := b.outerAggregate(fc.FuncCall, level)
			return e, true, err
		}
		e, err := b.aggCall(fc.FuncCall, a)
		return e, true, err
	}
	if _, isConst := n.Node.(*pg.Node_AConst); isConst {
		return nil, false, nil
	}
	e, err := b.expr(n, &exprCtx{scope: a.input, clause: "GROUP BY"})
	if err == nil {
		k := exprKey(e)
		for i, g := range a.groupKeys {
			if g == k {
				return &engine.ColRef{Index: i, T: a.groups[i].Type(), Name: exprName(a.groups[i])}, true, nil
			}
		}
	}
	if cr, isCol := n.Node.(*pg.Node_ColumnRef); isCol {
		if err != nil {
			return nil, true, err
		}
		name := columnRefName(cr.ColumnRef)
		// PostgreSQL names the column with its FROM item's name (t.x for x)
		if qual, col, ok := columnRefParts(cr.ColumnRef); ok && qual == "" {
			if idx, ferr := a.input.find("", col); ferr == nil && a.input.cols[idx].qual != "" {
				name = a.input.cols[idx].qual + "." + col
			}
		}
		return nil, true, posErr(engine.Errorf(sqlstate.GroupingError,
			"column %q must appear in the GROUP BY clause or be used in an aggregate function", name), cr.ColumnRef.Location)
	}
	return nil, false, nil
}

func (b *binder) aggCall(fc *pg.FuncCall, a *aggCtx) (engine.Expr, error) {
	name := funcName(fc)
	if e, ok, err := b.rollupAgg(fc, a); ok {
		return e, err
	}
	inner := &exprCtx{scope: a.input, clause: "aggregate function calls"}
	argNodes := fc.Args
	order := 0
	sortKey := false // the last argument is a sort key, not an argument to type
	switch {
	case fc.AggWithinGroup && name == "mode" && len(fc.Args) == 0 && len(fc.AggOrder) == 1:
		// mode() WITHIN GROUP (ORDER BY x [DESC]) is bound as mode(x); DESC breaks
		// ties toward the larger value.
		sb := fc.AggOrder[0].GetSortBy()
		argNodes = []*pg.Node{sb.Node}
		order = 1
		if sb.SortbyDir == pg.SortByDir_SORTBY_DESC {
			order = -1
		}
	case fc.AggWithinGroup:
		// percentile_cont(f) WITHIN GROUP (ORDER BY x) is bound as (x, f).
		if (name != "percentile_cont" && name != "percentile_disc") || len(fc.Args) != 1 || len(fc.AggOrder) != 1 {
			return nil, posErr(engine.Unsupported("ordered-set aggregate "+name), fc.Location)
		}
		sb := fc.AggOrder[0].GetSortBy()
		if sb.SortbyDir == pg.SortByDir_SORTBY_DESC {
			return nil, posErr(engine.Unsupported("WITHIN GROUP (ORDER BY ... DESC)"), fc.Location)
		}
		argNodes = []*pg.Node{sb.Node, fc.Args[0]}
	case len(fc.AggOrder) > 0:
		// string_agg(x, d ORDER BY x [DESC]): the values sorted. Other orders need
		// the values kept with their sort keys: not supported yet.
		if !(name == "string_agg" && len(fc.Args) == 2 || name == "array_agg" && len(fc.Args) == 1) || len(fc.AggOrder) != 1 {
			return nil, posErr(engine.Unsupported("ORDER BY inside "+name), fc.Location)
		}
		sb := fc.AggOrder[0].GetSortBy()
		x, err := b.expr(fc.Args[0], inner)
		if err != nil {
			return nil, err
		}
		k, err := b.expr(sb.Node, inner)
		if err != nil {
			return nil, err
		}
		if exprKey(x) != exprKey(k) {
			if fc.AggDistinct {
				return nil, posErr(engine.Errorf(sqlstate.InvalidColumnReference, "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list"), exprLocation(sb.Node))
			}
			if name != "array_agg" {
				return nil, posErr(engine.Unsupported(name+" ordered by another expression than its value"), fc.Location)
			}
			// array_agg(x ORDER BY k) is bound as array_agg(x, k).
			argNodes, sortKey = []*pg.Node{fc.Args[0], sb.Node}, true
		}
		order = 1
		if sb.SortbyDir == pg.SortByDir_SORTBY_DESC {
			order = -1
		}
	}
	var args []engine.Expr
	var types []engine.Type
	for _, an := range argNodes {
		e, err := b.expr(an, inner)
		if err != nil {
			return nil, err
		}
		if e.Type() == engine.Unknown {
			if e, err = b.coerce(e, engine.Text); err != nil {
				return nil, err
			}
		}
		args = append(args, e)
		types = append(types, e.Type())
	}
	if fc.AggStar && name != "count" {
		return nil, posErr(engine.Errorf(sqlstate.SyntaxError, "%s(*) is not allowed", name), fc.Location)
	}
	if sortKey {
		types = types[:len(types)-1]
	}
	t, err := engine.ResolveAgg(name, types, fc.AggDistinct)
	if err != nil {
		return nil, withPos(err, fc.Location)
	}
	call := engine.AggCall{Func: name, Args: args, Distinct: fc.AggDistinct, T: t, Order: order}
	if fc.AggFilter != nil {
		f, err := b.expr(fc.AggFilter, inner)
		if err != nil {
			return nil, err
		}
		if call.Filter, err = b.coerce(f, engine.Bool); err != nil {
			return nil, err
		}
	}
	return a.add(call, name), nil
}

// add registers an aggregate call (once per distinct call) and returns the ColRef
// to its output.
func (a *aggCtx) add(call engine.AggCall, name string) engine.Expr {
	k := aggKey(&call)
	for i, ak := range a.aggKeys {
		if ak == k {
			return &engine.ColRef{Index: len(a.groups) + i, T: call.T, Name: name}
		}
	}
	a.aggs = append(a.aggs, call)
	a.aggKeys = append(a.aggKeys, k)
	a.names = append(a.names, name)
	return &engine.ColRef{Index: len(a.groups) + len(a.aggs) - 1, T: call.T, Name: name}
}

func withPos(err error, loc int32) error {
	if e, ok := err.(*engine.Error); ok {
		return posErr(e, loc)
	}
	return err
}

func constExpr(c *pg.A_Const) (engine.Expr, error) {
	if c.Isnull {
		return &engine.Const{V: engine.NullValue(engine.Unknown)}, nil
	}
	switch v := c.Val.(type) {
	case *pg.A_Const_Ival:
		return &engine.Const{V: engine.Value{Type: engine.Int32, I: int64(v.Ival.Ival)}}, nil
	case *pg.A_Const_Fval:
		s := v.Fval.Fval
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return &engine.Const{V: engine.Value{Type: engine.Int64, I: i}}, nil
			}
		}
		if v, ok := engine.DecimalLiteral(s); ok { // 0.1 is an exact numeric, as in PostgreSQL
			return &engine.Const{V: v}, nil
		}
		nv, err := engine.ParseValue(s, engine.Numeric) // exact, at the scale written (1.000000000000000000001)
		if err != nil {
			return nil, posErr(engine.Errorf(sqlstate.InvalidTextRepresentation, "invalid numeric literal %q", s), c.Location)
		}
		return &engine.Const{V: nv}, nil
	case *pg.A_Const_Boolval:
		return &engine.Const{V: engine.Value{Type: engine.Bool, B: v.Boolval.Boolval}}, nil
	case *pg.A_Const_Sval:
		return &engine.Const{V: engine.Value{Type: engine.Unknown, S: v.Sval.Sval}}, nil
	case *pg.A_Const_Bsval:
		return nil, posErr(engine.Unsupported("bit string literals"), c.Location)
	}
	return nil, posErr(engine.Errorf(sqlstate.SyntaxError, "bad constant"), c.Location)
}

func (b *binder) param(n int, loc int32) (engine.Expr, error) {
	if n < 1 || n > 65535 {
		return nil, posErr(engine.Errorf(sqlstate.UndefinedParameter, "there is no parameter $%d", n), loc)
	}
	for len(b.params) < n {
		b.params = append(b.params, engine.Unknown)
	}
	return &paramRef{N: n, types: &b.params}, nil
}

// coerce converts e to t: an untyped literal is parsed as t, an untyped parameter
// takes type t, anything else gets a Cast.
func (b *binder) coerce(e engine.Expr, t engine.Type) (engine.Expr, error) {
	if e.Type() == t {
		return e, nil
	}
	switch x := e.(type) {
	case *engine.Const:
		if x.V.Type == engine.Unknown {
			if x.V.Null {
				return &engine.Const{V: engine.NullValue(t)}, nil
			}
			v, err := engine.ParseValueIn(x.V.S, t, b.loc)
			if err != nil {
				return nil, err
			}
			return &engine.Const{V: v}, nil
		}
	case *paramRef:
		if x.Type() == engine.Unknown {
			(*x.types)[x.N-1] = t
			return e, nil
		}
	}
	return &engine.Cast{X: e, T: t}, nil
}

// unknownToText gives a still-untyped expression PostgreSQL's fallback type, text.
func (b *binder) unknownToText(e engine.Expr) (engine.Expr, error) {
	if e.Type() == engine.Unknown {
		return b.coerce(e, engine.Text)
	}
	return e, nil
}

func columnRefName(cr *pg.ColumnRef) string {
	var parts []string
	for _, f := range cr.Fields {
		if s := f.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		} else {
			parts = append(parts, "*")
		}
	}
	return strings.Join(parts, ".")
}

// columnRefParts splits cr into its qualifier (empty when none) and name (empty
// for qual.*); ok is false for a name with a schema.
func columnRefParts(cr *pg.ColumnRef) (qual, name string, ok bool) {
	switch len(cr.Fields) {
	case 1:
		return "", cr.Fields[0].GetString_().GetSval(), true
	case 2:
		return cr.Fields[0].GetString_().GetSval(), cr.Fields[1].GetString_().GetSval(), true
	}
	return "", "", false
}

func (b *binder) columnRef(cr *pg.ColumnRef, c *exprCtx) (engine.Expr, error) {
	qual, name, ok := columnRefParts(cr)
	if !ok {
		return nil, posErr(engine.Unsupported("qualified column names with schema"), cr.Location)
	}
	if name == "" {
		return nil, posErr(engine.Errorf(sqlstate.SyntaxError, "\"*\" is not allowed here"), cr.Location)
	}
	if c.scope == nil {
		err := engine.Errorf(sqlstate.UndefinedColumn, "column %q does not exist", columnRefName(cr))
		if e, ok, oerr := b.outerColumnRef(cr, err); ok || oerr != nil {
			return e, oerr
		}
		return nil, posErr(err, cr.Location)
	}
	idx, err := c.scope.find(qual, name)
	if err != nil {
		if e, ok, oerr := b.outerColumnRef(cr, err); ok || oerr != nil {
			return e, oerr
		}
		return nil, withPos(err, cr.Location)
	}
	col := c.scope.cols[idx]
	if col.value != nil {
		return col.value, nil
	}
	if err := rollupColumnUse(c, idx, cr.Location); err != nil {
		return nil, err
	}
	return &engine.ColRef{Index: idx, T: col.t, Name: col.name}, nil
}

func opName(names []*pg.Node) string {
	if len(names) == 0 {
		return ""
	}
	return names[len(names)-1].GetString_().GetSval()
}

func (b *binder) aExpr(a *pg.A_Expr, c *exprCtx) (engine.Expr, error) {
	op := opName(a.Name)
	switch a.Kind {
	case pg.A_Expr_Kind_AEXPR_OP:
		if a.Lexpr == nil {
			x, err := b.expr(a.Rexpr, c)
			if err != nil {
				return nil, err
			}
			switch op {
			case "-":
				if x.Type() == engine.Unknown {
					if x, err = b.coerce(x, engine.Numeric); err != nil {
						return nil, err
					}
				}
				return b.call("neg", []engine.Expr{x}, a.Location)
			case "+":
				return x, nil
			}
			return nil, posErr(engine.Unsupported("prefix operator "+op), a.Location)
		}
		l, err := b.expr(a.Lexpr, c)
		if err != nil {
			return nil, err
		}
		r, err := b.expr(a.Rexpr, c)
		if err != nil {
			return nil, err
		}
		if op == "||" && (l.Type() == engine.TextArray || r.Type() == engine.TextArray) {
			// text[] || text[] is array_cat (an untyped side is an array literal)
			args := []engine.Expr{l, r}
			for i := range args {
				if args[i].Type() == engine.Unknown {
					if args[i], err = b.coerce(args[i], engine.TextArray); err != nil {
						return nil, err
					}
				}
			}
			return b.call("array_cat", args, a.Location)
		}
		return b.binary(op, l, r, a.Location)
	case pg.A_Expr_Kind_AEXPR_IN:
		x, err := b.expr(a.Lexpr, c)
		if err != nil {
			return nil, err
		}
		items := a.Rexpr.GetList().GetItems()
		var list []engine.Expr
		types := []engine.Type{x.Type()}
		for _, it := range items {
			e, err := b.expr(it, c)
			if err != nil {
				return nil, err
			}
			list = append(list, e)
			types = append(types, e.Type())
		}
		t, err := engine.CommonType(types)
		if err != nil {
			return nil, withPos(err, a.Location)
		}
		if x, err = b.coerceCompare(x, t); err != nil {
			return nil, err
		}
		for i := range list {
			if list[i], err = b.coerceCompare(list[i], t); err != nil {
				return nil, err
			}
		}
		return &engine.InList{X: x, List: list, Negated: op == "<>"}, nil
	case pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE:
		x, err := b.expr(a.Lexpr, c)
		if err != nil {
			return nil, err
		}
		p, err := b.expr(a.Rexpr, c)
		if err != nil {
			return nil, err
		}
		if x, err = b.unknownToText(x); err != nil {
			return nil, err
		}
		if p, err = b.unknownToText(p); err != nil {
			return nil, err
		}
		if n := x.Type().Pad; n != 0 { // character(n) LIKE matches the padded value, as PostgreSQL's bpcharlike
			if x, err = b.call("rpad", []engine.Expr{x, &engine.Const{V: engine.Value{Type: engine.Int32, I: int64(n)}}}, a.Location); err != nil {
				return nil, err
			}
		}
		if p.Type().Pad != 0 {
			p = &engine.Cast{X: p, T: engine.Text}
		}
		if x.Type() != engine.Text || p.Type() != engine.Text {
			return nil, posErr(engine.Errorf(sqlstate.UndefinedFunction, "operator does not exist: %s %s %s", x.Type(), op, p.Type()), a.Location)
		}
		return &engine.Like{X: x, Pattern: p, CaseInsensitive: a.Kind == pg.A_Expr_Kind_AEXPR_ILIKE,
			Negated: strings.HasPrefix(op, "!")}, nil
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN:
		x, err := b.expr(a.Lexpr, c)
		if err != nil {
			return nil, err
		}
		items := a.Rexpr.GetList().GetItems()
		if len(items) != 2 {
			return nil, posErr(engine.Errorf(sqlstate.SyntaxError, "bad BETWEEN"), a.Location)
		}
		lo, err := b.expr(items[0], c)
		if err != nil {
			return nil, err
		}
		hi, err := b.expr(items[1], c)
		if err != nil {
			return nil, err
		}
		if a.Kind == pg.A_Expr_Kind_AEXPR_BETWEEN {
			ge, err := b.binary(">=", x, lo, a.Location)
			if err != nil {
				return nil, err
			}
			le, err := b.binary("<=", x, hi, a.Location)
			if err != nil {
				return nil, err
			}
			return &engine.BoolOp{Op: engine.And, Args: []engine.Expr{ge, le}}, nil
		}
		lt, err := b.binary("<", x, lo, a.Location)
		if err != nil {
			return nil, err
		}
		gt, err := b.binary(">", x, hi, a.Location)
		if err != nil {
			return nil, err
		}
		return &engine.BoolOp{Op: engine.Or, Args: []engine.Expr{lt, gt}}, nil
	case pg.A_Expr_Kind_AEXPR_NULLIF:
		return b.callCommon("nullif", []*pg.Node{a.Lexpr, a.Rexpr}, c, a.Location)
	case pg.A_Expr_Kind_AEXPR_DISTINCT, pg.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		l, err := b.expr(a.Lexpr, c)
		if err != nil {
			return nil, err
		}
		r, err := b.expr(a.Rexpr, c)
		if err != nil {
			return nil, err
		}
		ne, err := b.binary("<>", l, r, a.Location)
		if err != nil {
			return nil, err
		}
		l, r = ne.(*engine.Call).Args[0], ne.(*engine.Call).Args[1]
		// a IS DISTINCT FROM b = CASE WHEN a IS NULL THEN b IS NOT NULL
		//                            WHEN b IS NULL THEN true ELSE a <> b END
		var e engine.Expr = &engine.Case{T: engine.Bool, Whens: []engine.When{
			{Cond: &engine.IsNull{X: l}, Then: &engine.IsNull{X: r, Negated: true}},
			{Cond: &engine.IsNull{X: r}, Then: &engine.Const{V: engine.Value{Type: engine.Bool, B: true}}},
		}, Else: ne}
		if a.Kind == pg.A_Expr_Kind_AEXPR_NOT_DISTINCT {
			e = engine.MustCall("not", e)
		}
		return e, nil
	case pg.A_Expr_Kind_AEXPR_OP_ANY, pg.A_Expr_Kind_AEXPR_OP_ALL:
		return b.arrayCompare(a, op, c)
	case pg.A_Expr_Kind_AEXPR_SIMILAR:
		return nil, posErr(engine.Unsupported("SIMILAR TO"), a.Location)
	}
	return nil, posErr(engine.Unsupported("operator "+op), a.Location)
}

// coerceCompare converts e to t for a comparison, leaving numbers and times alone
// (the engine compares across number types and across time types).
func (b *binder) coerceCompare(e engine.Expr, t engine.Type) (engine.Expr, error) {
	et := e.Type()
	if et == t || (et.IsNumeric() && t.IsNumeric()) || (et.IsTime() && t.IsTime()) {
		return e, nil
	}
	if k, ok := e.(*engine.Const); ok && t.IsDecimal() && et == engine.Unknown && !k.V.Null {
		// price = '12.345' compares with 12.345, not with it rounded to the column's scale
		if v, ok := engine.DecimalLiteral(k.V.S); ok {
			return &engine.Const{V: v}, nil
		}
	}
	return b.coerce(e, t)
}

var operators = map[string]string{
	"+": "+", "-": "-", "*": "*", "/": "/", "%": "%", "^": "^",
	"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "||": "||",
	"~": "~", "!~": "!~", "~*": "~*", "!~*": "!~*", "&": "&", "|": "|",
}

// binary binds l op r, giving untyped sides the type PostgreSQL would pick.
func (b *binder) binary(op string, l, r engine.Expr, loc int32) (engine.Expr, error) {
	f, ok := operators[op]
	if !ok {
		return nil, posErr(engine.Unsupported("operator "+op), loc)
	}
	lt, rt := l.Type(), r.Type()
	var err error
	switch {
	case lt == engine.Unknown && rt == engine.Unknown:
		if l, err = b.coerce(l, engine.Text); err != nil {
			return nil, withPos(err, loc)
		}
		if r, err = b.coerce(r, engine.Text); err != nil {
			return nil, withPos(err, loc)
		}
	case lt == engine.Unknown:
		if l, err = b.coerce(l, untypedPeer(f, rt, true)); err != nil {
			return nil, withPos(err, loc)
		}
	case rt == engine.Unknown:
		if r, err = b.coerce(r, untypedPeer(f, lt, false)); err != nil {
			return nil, withPos(err, loc)
		}
	}
	l, r = b.zonedCompare(f, l, r) // timezone.go
	return b.call(f, []engine.Expr{l, r}, loc)
}

// untypedPeer is the type an untyped operand next to a typed one of type t takes.
func untypedPeer(op string, t engine.Type, left bool) engine.Type {
	if t.IsTime() || t == engine.Date {
		switch {
		case op == "+":
			return engine.Interval
		case op == "-" && !left:
			// ts - 'x': PostgreSQL picks timestamptz - timestamptz when 'x' parses as
			// one; strata reads an interval, the common case (now() - '5 minutes').
			return engine.Interval
		}
	}
	if t == engine.Interval && (op == "*" || op == "/") {
		return engine.Float64
	}
	if op == "||" {
		return engine.Text
	}
	return t
}

// call resolves name over args to one overload of the engine's function registry
// (engine.NewCall); the Call keeps it, so execution does no lookup.
func (b *binder) call(name string, args []engine.Expr, loc int32) (engine.Expr, error) {
	c, err := engine.NewCall(name, args...)
	if err != nil {
		return nil, withPos(err, loc)
	}
	return c, nil
}

func (b *binder) boolArg(n *pg.Node, c *exprCtx) (engine.Expr, error) {
	e, err := b.expr(n, c)
	if err != nil {
		return nil, err
	}
	if e.Type() != engine.Bool {
		if e.Type() == engine.Unknown {
			return b.coerce(e, engine.Bool)
		}
		return nil, engine.Errorf(sqlstate.DatatypeMismatch, "argument of boolean expression must be type boolean, not type %s", e.Type())
	}
	return e, nil
}

func (b *binder) boolExpr(be *pg.BoolExpr, c *exprCtx) (engine.Expr, error) {
	var args []engine.Expr
	for _, a := range be.Args {
		e, err := b.boolArg(a, c)
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	switch be.Boolop {
	case pg.BoolExprType_AND_EXPR:
		return &engine.BoolOp{Op: engine.And, Args: args}, nil
	case pg.BoolExprType_OR_EXPR:
		return &engine.BoolOp{Op: engine.Or, Args: args}, nil
	}
	return engine.MustCall("not", args...), nil
}

func (b *binder) booleanTest(bt *pg.BooleanTest, c *exprCtx) (engine.Expr, error) {
	x, err := b.boolArg(bt.Arg, c)
	if err != nil {
		return nil, err
	}
	lit := func(v bool) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Bool, B: v}} }
	coalesce := func(e engine.Expr, v bool) engine.Expr {
		return engine.MustCall("coalesce", e, lit(v))
	}
	not := func(e engine.Expr) engine.Expr {
		return engine.MustCall("not", e)
	}
	switch bt.Booltesttype {
	case pg.BoolTestType_IS_TRUE:
		return coalesce(x, false), nil
	case pg.BoolTestType_IS_NOT_TRUE:
		return not(coalesce(x, false)), nil
	case pg.BoolTestType_IS_FALSE:
		return not(coalesce(x, true)), nil
	case pg.BoolTestType_IS_NOT_FALSE:
		return coalesce(x, true), nil
	case pg.BoolTestType_IS_UNKNOWN:
		return &engine.IsNull{X: x}, nil
	}
	return &engine.IsNull{X: x, Negated: true}, nil
}

// typeName maps a TypeName to an engine type. Interval field typmods (INTERVAL '5'
// MINUTE) are returned as the unit name to append to a bare number.
func typeName(tn *pg.TypeName) (engine.Type, string, error) {
	name := tn.Names[len(tn.Names)-1].GetString_().GetSval()
	t, ok := engine.TypeByName(name)
	if !ok {
		return engine.Unknown, "", posErr(engine.Errorf(sqlstate.UndefinedObject, "type %q does not exist", name), tn.Location)
	}
	if len(tn.ArrayBounds) > 0 {
		// One-dimensional arrays of the element types engine/array_types.go has.
		at, ok := engine.ArrayOf(t)
		if !ok || len(tn.ArrayBounds) > 1 {
			return engine.Unknown, "", posErr(engine.Unsupported("arrays of type "+t.String()), tn.Location)
		}
		return at, "", nil
	}
	if t == engine.Numeric && len(tn.Typmods) > 0 {
		t, err := numericTypmod(tn)
		return t, "", err
	}
	if name == "bpchar" && len(tn.Typmods) == 1 { // char, character(n)
		if n := tn.Typmods[0].GetAConst().GetIval().GetIval(); n >= 1 {
			return engine.Bpchar(int(n)), "", nil
		}
	}
	unit := ""
	if t == engine.Interval && len(tn.Typmods) > 0 {
		mask := tn.Typmods[0].GetAConst().GetIval().GetIval()
		unit = intervalUnit(mask)
	}
	return t, unit, nil
}

// numericTypmod is the exact decimal type numeric(p[,s]) names.
func numericTypmod(tn *pg.TypeName) (engine.Type, error) {
	var mods [2]int64
	if len(tn.Typmods) > 2 {
		return engine.Unknown, posErr(engine.Errorf(sqlstate.InvalidParameterValue, "invalid NUMERIC type modifier"), tn.Location)
	}
	for i, m := range tn.Typmods {
		k := m.GetAConst()
		if k == nil || k.GetIval() == nil {
			return engine.Unknown, posErr(engine.Errorf(sqlstate.InvalidParameterValue, "type modifiers must be simple constants or identifiers"), tn.Location)
		}
		mods[i] = int64(k.GetIval().Ival)
	}
	t, err := engine.NumericTypmod(mods[0], mods[1])
	return t, withPos(err, tn.Location)
}

// intervalUnit returns the least significant field of an interval typmod mask
// (PostgreSQL's INTERVAL_MASK bits: MONTH 1<<1, YEAR 1<<2, DAY 1<<3, HOUR 1<<10,
// MINUTE 1<<11, SECOND 1<<12).
func intervalUnit(mask int32) string {
	switch {
	case mask&(1<<12) != 0:
		return "second"
	case mask&(1<<11) != 0:
		return "minute"
	case mask&(1<<10) != 0:
		return "hour"
	case mask&(1<<3) != 0:
		return "day"
	case mask&(1<<1) != 0:
		return "month"
	case mask&(1<<2) != 0:
		return "year"
	}
	return ""
}

func (b *binder) typeCast(tc *pg.TypeCast, c *exprCtx) (engine.Expr, error) {
	if e, ok, err := b.regCastMore(tc, c); ok { // regcast.go
		return e, err
	}
	if e, ok, err := b.regCast(tc, c); ok {
		return e, err
	}
	t, unit, err := typeName(tc.TypeName)
	if err != nil {
		return nil, err
	}
	var x engine.Expr
	if ae := tc.Arg.GetAArrayExpr(); ae != nil && t.IsArray() {
		x, err = b.arrayExpr(ae, t, c) // ARRAY[…]::int[] types its elements as int
	} else {
		x, err = b.expr(tc.Arg, c)
	}
	if err != nil {
		return nil, err
	}
	// An array casts to another array type by its text form, each element read as
	// the new element type (int[] to bigint[], text[] to uuid[]; an element that
	// is no input of it, 1.5 to int[], is 22P02 where PostgreSQL casts it).
	if from := x.Type(); (t.IsArray() || from.IsArray()) && t != from && !(t.IsArray() && from.IsArray()) &&
		from != engine.Unknown && from != engine.Text && t != engine.Text {
		return nil, posErr(engine.Errorf(sqlstate.CannotCoerce, "cannot cast type %s to %s", from, t), tc.Location)
	}
	if k, ok := x.(*engine.Const); ok && k.V.Type == engine.Unknown && !k.V.Null && unit != "" {
		if _, err := strconv.ParseFloat(strings.TrimSpace(k.V.S), 64); err == nil {
			x = &engine.Const{V: engine.Value{Type: engine.Unknown, S: k.V.S + " " + unit}}
		}
	}
	if t == engine.Numeric { // numeric without a typmod keeps an exact value exact
		switch xt := x.Type(); {
		case xt.IsDecimal():
			xt.Prec = 0
			t = xt
		case xt.IsInteger():
			t = engine.Decimal(0, 0)
		case xt == engine.Unknown:
			if k, ok := x.(*engine.Const); ok && !k.V.Null {
				if v, ok := engine.DecimalLiteral(k.V.S); ok {
					return &engine.Const{V: v}, nil
				}
			}
		}
	}
	e, err := b.coerce(x, t)
	if err != nil {
		return nil, withPos(err, tc.Location)
	}
	// An explicit cast to varchar(n) cuts the value to n characters, as PostgreSQL's does.
	if n, ok := castVarcharLength(tc.TypeName); ok && t.ID == engine.TypeText {
		cut, err := b.call("left", []engine.Expr{e, &engine.Const{V: engine.Value{Type: engine.Int32, I: n}}}, tc.Location)
		if err != nil || t.Pad == 0 {
			return cut, err
		}
		return &engine.Cast{X: cut, T: t}, nil
	}
	return e, nil
}

func funcName(fc *pg.FuncCall) string {
	return strings.ToLower(opName(fc.Funcname))
}

// isAggregate reports whether a call of name (without OVER) is an aggregate.
func isAggregate(name string) bool { return engine.IsAggregate(name) }

func (b *binder) funcCall(fc *pg.FuncCall, c *exprCtx) (engine.Expr, error) {
	name := funcName(fc)
	if fc.Over != nil {
		return b.windowCall(fc, c)
	}
	if isAggregate(name) {
		if level := b.aggLevel(fc, c.scope); level > 0 { // outer_agg.go
			return b.outerAggregate(fc, level)
		}
		if c.clause == "aggregate function calls" {
			return nil, posErr(engine.Errorf(sqlstate.GroupingError, "aggregate function calls cannot be nested"), fc.Location)
		}
		clause := c.clause
		if clause == "" {
			clause = "this context"
		}
		return nil, posErr(engine.Errorf(sqlstate.GroupingError, "aggregate functions are not allowed in %s", clause), fc.Location)
	}
	if fc.AggStar || fc.AggDistinct || fc.AggFilter != nil {
		return nil, posErr(engine.Errorf(sqlstate.UndefinedFunction, "%s is not an aggregate function", name), fc.Location)
	}
	if e, ok, err := b.arrayFunc(fc, name, c); ok {
		return e, err
	}
	if e, ok, err := b.keyDescribeFunc(fc, name, c); ok {
		return e, err
	}
	switch name {
	case "coalesce", "nullif", "greatest", "least":
		return b.callCommon(name, fc.Args, c, fc.Location)
	case "version":
		if len(fc.Args) == 0 {
			return &engine.Const{V: engine.Value{Type: engine.Text, S: "PostgreSQL 15.0 (strata)"}}, nil
		}
	case "current_schema":
		if len(fc.Args) == 0 {
			return &engine.Const{V: engine.Value{Type: engine.Text, S: "public"}}, nil
		}
	case "has_table_privilege", "has_any_column_privilege":
		// strata has no column privileges: a column privilege is the table's
		if len(fc.Args) == 2 || len(fc.Args) == 3 {
			return b.hasTablePrivilege(fc, c)
		}
	case "has_schema_privilege":
		if len(fc.Args) == 2 || len(fc.Args) == 3 {
			return b.hasSchemaPrivilege(fc, c)
		}
	case "current_database":
		if len(fc.Args) == 0 {
			return &engine.Const{V: engine.Value{Type: engine.Text, S: b.database}}, nil
		}
	case "pg_table_size", "pg_relation_size", "pg_total_relation_size":
		if len(fc.Args) == 1 {
			return b.relationSize(fc, c)
		}
	case "pg_backend_pid", "pg_cancel_backend", "pg_terminate_backend":
		if e, ok, err := b.backendFunc(fc, name, c); ok || err != nil {
			return e, err
		}
	case "current_setting":
		if len(fc.Args) == 1 {
			if k := fc.Args[0].GetAConst(); k != nil && k.GetSval() != nil {
				name := strings.ToLower(k.GetSval().Sval)
				if _, ok := lookupSetting(name); !ok && !strings.Contains(name, ".") {
					return nil, posErr(engine.Errorf(sqlstate.UndefinedObject, "unrecognized configuration parameter %q", name), fc.Location)
				}
				return &settingRef{Name: name}, nil
			}
			return nil, posErr(engine.Unsupported("current_setting of a non-constant name"), fc.Location)
		}
	}
	var args []engine.Expr
	var types []engine.Type
	argNodes, err := b.namedArgs(name, fc.Args, fc.Location)
	if err != nil {
		return nil, err
	}
	for _, an := range argNodes {
		e, err := b.expr(an, c)
		if err != nil {
			return nil, err
		}
		if a, ok := e.(*arrayExpr); ok {
			return nil, posErr(engine.Unsupported(name+" of an array (strata has no array type)"), a.loc)
		}
		args, types = append(args, e), append(types, e.Type())
	}
	// An untyped argument takes the parameter type the overloads agree on
	// (time_bucket('300.000s', ts): interval; format_type(oid, NULL): integer),
	// else text, as PostgreSQL prefers its string category.
	for i, e := range args {
		if e.Type() != engine.Unknown {
			continue
		}
		want, ok := engine.ParamType(name, types, i)
		if !ok {
			want = engine.Text
		}
		var err error
		if args[i], err = b.coerce(e, want); err != nil {
			return nil, err
		}
	}
	if name == "pg_typeof" && len(args) == 1 {
		// The type is known at bind time; PostgreSQL returns regtype, which prints
		// as the type's name.
		return &engine.Const{V: engine.Value{Type: engine.Text, S: args[0].Type().String()}}, nil
	}
	if name == "extract" && len(args) == 2 {
		if k, ok := args[0].(*engine.Const); ok && k.V.Type == engine.Text {
			args[0] = &engine.Const{V: engine.Value{Type: engine.Text, S: strings.ToLower(k.V.S)}}
		}
	}
	return b.call(name, args, fc.Location)
}

// callCommon binds a function whose arguments unify to one type (coalesce, nullif,
// greatest, least): untyped arguments take the common type.
func (b *binder) callCommon(name string, nodes []*pg.Node, c *exprCtx, loc int32) (engine.Expr, error) {
	var args []engine.Expr
	var types []engine.Type
	for _, an := range nodes {
		e, err := b.expr(an, c)
		if err != nil {
			return nil, err
		}
		args = append(args, e)
		types = append(types, e.Type())
	}
	unify := engine.ResultType // values of different scales keep them (0.5 beside 10.20)
	if name == "nullif" {
		unify = engine.CommonType
	}
	t, err := unify(types)
	if err != nil {
		return nil, withPos(err, loc)
	}
	for i := range args {
		if name == "nullif" {
			if args[i].Type() == engine.Unknown {
				if args[i], err = b.coerce(args[i], t); err != nil {
					return nil, err
				}
			}
			continue
		}
		if args[i], err = b.coerce(args[i], t); err != nil {
			return nil, err
		}
	}
	return b.call(name, args, loc)
}

func (b *binder) caseExpr(ce *pg.CaseExpr, c *exprCtx) (engine.Expr, error) {
	var subject engine.Expr
	var err error
	if ce.Arg != nil {
		if subject, err = b.expr(ce.Arg, c); err != nil {
			return nil, err
		}
	}
	var whens []engine.When
	var results []engine.Expr
	var types []engine.Type
	for _, wn := range ce.Args {
		w := wn.GetCaseWhen()
		var cond engine.Expr
		if subject != nil {
			v, err := b.expr(w.Expr, c)
			if err != nil {
				return nil, err
			}
			if cond, err = b.binary("=", subject, v, w.Location); err != nil {
				return nil, err
			}
		} else if cond, err = b.boolArg(w.Expr, c); err != nil {
			return nil, err
		}
		then, err := b.expr(w.Result, c)
		if err != nil {
			return nil, err
		}
		whens = append(whens, engine.When{Cond: cond, Then: then})
		results = append(results, then)
		types = append(types, then.Type())
	}
	var els engine.Expr
	if ce.Defresult != nil {
		if els, err = b.expr(ce.Defresult, c); err != nil {
			return nil, err
		}
		types = append(types, els.Type())
	}
	t, err := engine.ResultType(types)
	if err != nil {
		return nil, withPos(err, ce.Location)
	}
	for i := range whens {
		if whens[i].Then, err = b.coerce(results[i], t); err != nil {
			return nil, err
		}
	}
	if els != nil {
		if els, err = b.coerce(els, t); err != nil {
			return nil, err
		}
	}
	return &engine.Case{Whens: whens, Else: els, T: t}, nil
}

func (b *binder) sqlValueFunction(f *pg.SQLValueFunction) (engine.Expr, error) {
	now := func() (engine.Expr, error) { return b.call("now", nil, f.Location) }
	switch f.Op {
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
		return now()
	case pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
		n, err := now()
		if err != nil {
			return nil, err
		}
		return &engine.Cast{X: n, T: engine.Timestamp}, nil
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
		n, err := now()
		if err != nil {
			return nil, err
		}
		return &engine.Cast{X: n, T: engine.Date}, nil
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_USER, pg.SQLValueFunctionOp_SVFOP_USER, pg.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:
		return &engine.Const{V: engine.Value{Type: engine.Text, S: b.user}}, nil
	case pg.SQLValueFunctionOp_SVFOP_SESSION_USER:
		return &engine.Const{V: engine.Value{Type: engine.Text, S: b.sessionUser}}, nil
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
		return &engine.Const{V: engine.Value{Type: engine.Text, S: b.database}}, nil
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		return &engine.Const{V: engine.Value{Type: engine.Text, S: "public"}}, nil
	}
	return nil, posErr(engine.Unsupported("CURRENT_TIME"), f.Location)
}

// exprKey is a structural identity of a bound expression (group key matching, ORDER
// BY matching the select list, aggregate de-duplication).
func exprKey(e engine.Expr) string {
	var sb strings.Builder
	writeKey(&sb, e)
	return sb.String()
}

func writeKey(sb *strings.Builder, e engine.Expr) {
	if e == nil {
		sb.WriteString("nil")
		return
	}
	switch x := e.(type) {
	case *engine.ColRef:
		fmt.Fprintf(sb, "#%d", x.Index)
		return
	case *engine.Const:
		fmt.Fprintf(sb, "c(%d.%d:%v:%d:%g:%q:%v:%d:%d)", x.V.Type.ID, x.V.Type.Scale, x.V.Null, x.V.I, x.V.F, x.V.S, x.V.B, x.V.Months, x.V.Days)
		return
	case *paramRef:
		fmt.Fprintf(sb, "$%d", x.N)
		return
	case *subqueryRef:
		// Each subquery is its own: two with the same text are not one key.
		fmt.Fprintf(sb, "subquery%p", x)
		return
	case *engine.Call:
		sb.WriteString(x.Func)
		sb.WriteByte('(')
		for _, a := range x.Args {
			writeKey(sb, a)
			sb.WriteByte(',')
		}
		sb.WriteByte(')')
		return
	case *engine.Cast:
		fmt.Fprintf(sb, "cast(%d,", x.T.ID)
		writeKey(sb, x.X)
		sb.WriteByte(')')
		return
	case *engine.BoolOp:
		fmt.Fprintf(sb, "bool%d(", x.Op)
		for _, a := range x.Args {
			writeKey(sb, a)
			sb.WriteByte(',')
		}
		sb.WriteByte(')')
		return
	case *engine.Case:
		sb.WriteString("case(")
		for _, w := range x.Whens {
			writeKey(sb, w.Cond)
			sb.WriteByte(':')
			writeKey(sb, w.Then)
			sb.WriteByte(',')
		}
		writeKey(sb, x.Else)
		sb.WriteByte(')')
		return
	case *engine.IsNull:
		fmt.Fprintf(sb, "isnull%v(", x.Negated)
		writeKey(sb, x.X)
		sb.WriteByte(')')
		return
	case *engine.InList:
		fmt.Fprintf(sb, "in%v(", x.Negated)
		writeKey(sb, x.X)
		for _, a := range x.List {
			sb.WriteByte(',')
			writeKey(sb, a)
		}
		sb.WriteByte(')')
		return
	case *engine.Like:
		fmt.Fprintf(sb, "like%v%v(", x.CaseInsensitive, x.Negated)
		writeKey(sb, x.X)
		sb.WriteByte(',')
		writeKey(sb, x.Pattern)
		sb.WriteByte(')')
		return
	}
	fmt.Fprintf(sb, "%T(%s)", e, e.String())
}

func aggKey(a *engine.AggCall) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s:%v:%d(", a.Func, a.Distinct, a.Order)
	for _, e := range a.Args {
		writeKey(&sb, e)
		sb.WriteByte(',')
	}
	sb.WriteString(")f:")
	writeKey(&sb, a.Filter)
	return sb.String()
}

func exprName(e engine.Expr) string {
	if c, ok := e.(*engine.ColRef); ok {
		return c.Name
	}
	return "?column?"
}
