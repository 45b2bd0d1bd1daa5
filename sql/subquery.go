package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql/opt"
	"github.com/stratadb/strata/storage/store"
)

// Subqueries in expressions: a scalar subquery (SELECT ...), EXISTS (SELECT ...),
// x [NOT] IN (SELECT ...), x op ANY|ALL (SELECT ...) and ARRAY(SELECT ...).
//
// An uncorrelated subquery (it refers to no column of an outer query) runs once,
// as PostgreSQL's InitPlan: the binder leaves a subqueryRef in the expression, and
// when the statement executes Session.plan runs it (with its own snapshots, after
// the statement's parameters are bound) and replaces it by its result: a constant
// for a scalar subquery, EXISTS and ARRAY, an IN list of constants for IN. Other
// ANY and ALL comparisons become an engine.SubPlan without arguments, which runs
// the subquery once and keeps its rows.
//
// A correlated subquery runs per outer row, as PostgreSQL's SubPlan. While the
// binder binds a subquery it keeps the enclosing query levels (binder.outer); a
// column the subquery's own scope does not have is looked up in them, innermost
// first, and becomes an engine.Param of the subquery's plan, whose value is an
// expression of the enclosing level (outerLevel.args: a column there, or, for a
// column two levels up, that level's own Param). Session.plan plans such a
// subquery as a query of its own (snapshots taken once, for the whole statement)
// and leaves an engine.SubPlan, which the engine evaluates per outer row.
//
// Semantics as in PostgreSQL: a scalar subquery with no row is NULL and with more
// than one row an error (21000); x IN (empty) is false even for a NULL x; the
// NULLs of an IN subquery make a non-matching x NULL (InList's rules); ARRAY of no
// rows is {}. In the select list, HAVING or ORDER BY of an aggregating query a
// subquery refers to the outer query's group keys (passed as the group's value,
// a ColRef into the Aggregate's output); any other column of it is 42803. An
// aggregate over outer columns only is the outer query's (outer_agg.go). Not
// supported (0A000): a reference through an aggregating level to one further
// out, ARRAY of a column of a reg type, row comparisons (ROW(a, b) IN (SELECT …)).

// outerLevel is one query level around a subquery being bound.
type outerLevel struct {
	c    *exprCtx      // where the subquery appears
	args []engine.Expr // Param i of the subquery is args[i], bound in c
	keys []string      // exprKey of args, to pass each outer column once
}

// outerColumnRef resolves cr, which the current scope does not have (notFound is
// why), in the enclosing query levels. ok is false when there is no enclosing
// level or none has the column (the caller then reports notFound).
func (b *binder) outerColumnRef(cr *pg.ColumnRef, notFound error) (engine.Expr, bool, error) {
	if len(b.outer) == 0 || !isNotFound(notFound) {
		return nil, false, nil
	}
	lv, restore := b.enterOuter()
	defer restore()
	var e engine.Expr
	if a := lv.c.agg; a != nil {
		// An aggregating level's rows are groups: its columns are visible only as
		// group keys, passed as the group's value (a ColRef into the Aggregate's
		// output), as PostgreSQL passes them; any other column is 42803.
		in, err := b.columnRef(cr, &exprCtx{scope: a.input, clause: "GROUP BY"})
		if err == nil {
			k := exprKey(in)
			for i, g := range a.groupKeys {
				if g == k {
					e = &engine.ColRef{Index: i, T: a.groups[i].Type(), Name: exprName(a.groups[i])}
					break
				}
			}
			if e == nil {
				return nil, true, posErr(engine.Errorf(sqlstate.GroupingError,
					"subquery uses ungrouped column %q from outer query", columnRefName(cr)), cr.Location)
			}
		} else if !isNotFound(err) {
			return nil, true, err
		}
	}
	if e == nil {
		var err error
		if e, err = b.columnRef(cr, lv.c); err != nil {
			if isNotFound(err) {
				return nil, false, nil
			}
			return nil, true, err
		}
		if lv.c.agg != nil { // a column of a level further out, through an aggregating one
			return nil, true, posErr(engine.Unsupported("a correlated subquery in an aggregating query's select list, HAVING or ORDER BY that refers past it"), cr.Location)
		}
	}
	return lv.param(e), true, nil
}

// enterOuter returns the innermost enclosing level, to bind an expression of it:
// until restore, b.outer holds only the levels around that one.
func (b *binder) enterOuter() (lv *outerLevel, restore func()) {
	saved := b.outer
	depth := len(saved) - 1
	b.outer = saved[:depth]
	return saved[depth], func() { b.outer = saved }
}

// isNotFound reports whether err says a column or a table qualifier is unknown.
func isNotFound(err error) bool {
	var ee *engine.Error
	return errors.As(err, &ee) && (ee.Code == sqlstate.UndefinedColumn ||
		ee.Code == sqlstate.UndefinedTable && strings.HasPrefix(ee.Message, "missing FROM-clause entry"))
}

// subqueryRef is a subquery in an expression, until Session.plan replaces it by
// its result (uncorrelated) or an engine.SubPlan (correlated: args not empty).
type subqueryRef struct {
	kind pg.SubLinkType // EXPR, EXISTS, ANY (IN), ALL or ARRAY
	plan engine.Plan    // one output column (EXISTS: any)
	x    engine.Expr    // ANY, ALL: the left operand
	op   string         // ANY, ALL: the comparison operator
	args []engine.Expr  // the outer values the plan's Params read; empty when uncorrelated
	loc  int32
}

func (r *subqueryRef) Type() engine.Type {
	switch r.kind {
	case pg.SubLinkType_EXPR_SUBLINK:
		return r.plan.Fields()[0].Type
	case pg.SubLinkType_ARRAY_SUBLINK:
		t, _ := subqueryArrayType(r.plan.Fields()[0].Type)
		return t
	}
	return engine.Bool
}

// SubExprs are the expressions over the outer row: the outer values, then x.
func (r *subqueryRef) SubExprs() []engine.Expr {
	out := append([]engine.Expr(nil), r.args...)
	if r.x != nil {
		out = append(out, r.x)
	}
	return out
}

func (r *subqueryRef) WithSubExprs(es []engine.Expr) engine.Expr {
	c := *r
	c.args = append([]engine.Expr(nil), es[:len(r.args)]...)
	if r.x != nil {
		c.x = es[len(r.args)]
	}
	return &c
}

func (r *subqueryRef) String() string {
	switch r.kind {
	case pg.SubLinkType_EXISTS_SUBLINK:
		return "EXISTS (subquery)"
	case pg.SubLinkType_ANY_SUBLINK:
		if r.op != "=" {
			return r.x.String() + " " + r.op + " ANY (subquery)"
		}
		return r.x.String() + " IN (subquery)"
	case pg.SubLinkType_ALL_SUBLINK:
		return r.x.String() + " " + r.op + " ALL (subquery)"
	case pg.SubLinkType_ARRAY_SUBLINK:
		return "ARRAY(subquery)"
	}
	return "(subquery)"
}

// subLink binds a subquery in an expression.
func (b *binder) subLink(sl *pg.SubLink, c *exprCtx) (engine.Expr, error) {
	sel := sl.Subselect.GetSelectStmt()
	if sel == nil {
		return nil, posErr(engine.Unsupported("this kind of subquery"), sl.Location)
	}
	op := "="
	switch sl.SubLinkType {
	case pg.SubLinkType_EXPR_SUBLINK, pg.SubLinkType_EXISTS_SUBLINK, pg.SubLinkType_ARRAY_SUBLINK:
	case pg.SubLinkType_ANY_SUBLINK, pg.SubLinkType_ALL_SUBLINK:
		// x IN (SELECT ...), x op ANY (SELECT ...), x op ALL (SELECT ...) with a
		// comparison operator.
		if len(sl.OperName) > 0 {
			op = opName(sl.OperName)
		}
		switch op {
		case "=", "<>", "!=", "<", "<=", ">", ">=":
		default:
			return nil, posErr(engine.Unsupported("operator "+op+" with ANY or ALL (subquery)"), sl.Location)
		}
		if op == "!=" {
			op = "<>"
		}
		if sl.Testexpr.GetRowExpr() != nil { // (a, b) IN (SELECT a, b …)
			return nil, posErr(engine.Unsupported("row comparison subqueries"), sl.Location)
		}
	default:
		return nil, posErr(engine.Unsupported("row comparison subqueries"), sl.Location)
	}
	// The subquery binds in a scope of its own, with the enclosing levels in view
	// for its outer references.
	lv := &outerLevel{c: c}
	saveRolled, saveOrigins, saveOuter := b.lastRolled, b.lastOrigins, b.outer
	b.outer = append(append([]*outerLevel(nil), saveOuter...), lv)
	p, names, err := b.selectStmt(sel)
	b.lastRolled, b.lastOrigins, b.outer = saveRolled, saveOrigins, saveOuter
	if err != nil {
		return nil, err
	}
	r := &subqueryRef{kind: sl.SubLinkType, plan: p, args: lv.args, loc: sl.Location, op: op}
	if r.kind != pg.SubLinkType_EXISTS_SUBLINK && len(names) != 1 {
		return nil, posErr(engine.Errorf(sqlstate.SyntaxError, "subquery must return only one column"), sl.Location)
	}
	if r.kind == pg.SubLinkType_ARRAY_SUBLINK {
		if t := p.Fields()[0].Type; !hasArrayType(t) {
			return nil, posErr(engine.Unsupported("ARRAY(subquery) of "+t.String()), sl.Location)
		}
	}
	if r.kind == pg.SubLinkType_ANY_SUBLINK || r.kind == pg.SubLinkType_ALL_SUBLINK {
		if r.x, err = b.expr(sl.Testexpr, c); err != nil {
			return nil, err
		}
		xt, st := r.x.Type(), p.Fields()[0].Type
		if xt != st && !(xt.IsNumeric() && st.IsNumeric()) && xt != engine.Unknown {
			if xt.ID == engine.TypeText || st.ID == engine.TypeText {
				return nil, posErr(engine.Errorf(sqlstate.UndefinedFunction, "operator does not exist: %s = %s", xt, st), sl.Location)
			}
		}
	}
	return r, nil
}

// subqueryArrayType is the type of ARRAY(subquery) of a column of type t (an
// untyped one is text); false when strata has no array of t (engine/array_types.go).
func subqueryArrayType(t engine.Type) (engine.Type, bool) {
	if t == engine.Unknown {
		return engine.TextArray, true
	}
	if t.Reg != 0 { // oid[] and the reg types' arrays are not kept
		return engine.Unknown, false
	}
	return engine.ArrayOf(t)
}

func hasArrayType(t engine.Type) bool { _, ok := subqueryArrayType(t); return ok }

// resolveSubqueries runs the uncorrelated subqueries left in p's expressions and
// puts their results in their place; each reads snapshots of its own, released as
// soon as its rows are collected. A correlated subquery becomes an engine.SubPlan
// whose plan is ready to run; the snapshots it reads are returned, to be released
// with the statement's.
func (s *Session) resolveSubqueries(ctx context.Context, p engine.Plan, params []engine.Value, now time.Time) (engine.Plan, []*store.Snapshot, error) {
	var snaps []*store.Snapshot
	out, err := opt.RewritePlanExprs(p, func(e engine.Expr) (engine.Expr, error) {
		r, ok := e.(*subqueryRef)
		if !ok {
			return e, nil
		}
		if len(r.args) > 0 || r.kind == pg.SubLinkType_ALL_SUBLINK || r.op != "=" {
			// correlated, or a comparison an IN list does not make: a SubPlan
			// (uncorrelated, it runs once and its rows are kept)
			sp, sn, err := s.subPlan(ctx, r, params, now)
			snaps = append(snaps, sn...)
			return sp, err
		}
		vals, err := s.runSubquery(ctx, r, params, now)
		if err != nil {
			return nil, err
		}
		switch r.kind {
		case pg.SubLinkType_EXISTS_SUBLINK:
			return &engine.Const{V: engine.Value{Type: engine.Bool, B: len(vals) > 0}}, nil
		case pg.SubLinkType_EXPR_SUBLINK:
			switch len(vals) {
			case 0:
				return &engine.Const{V: engine.NullValue(r.Type())}, nil
			case 1:
				return &engine.Const{V: vals[0]}, nil
			}
			return nil, posErr(engine.Errorf(sqlstate.CardinalityViolation, "more than one row returned by a subquery used as an expression"), r.loc)
		case pg.SubLinkType_ARRAY_SUBLINK:
			return &engine.Const{V: engine.Value{Type: r.Type(), S: engine.FormatArray(vals, s.zone())}}, nil
		}
		x, err := opt.RewriteExpr(r.x, func(e engine.Expr) (engine.Expr, error) { return s.bindExpr(e, params), nil })
		if err != nil {
			return nil, err
		}
		if len(vals) == 0 {
			return &engine.Const{V: engine.Value{Type: engine.Bool, B: false}}, nil
		}
		list := make([]engine.Expr, len(vals))
		for i, v := range vals {
			list[i] = &engine.Const{V: v}
		}
		return &engine.InList{X: x, List: list}, nil
	})
	if err != nil {
		release(snaps)
		return nil, nil, err
	}
	return out, snaps, nil
}

// subPlan plans correlated subquery r as a query of its own and returns the
// engine.SubPlan that runs it per outer row, with the snapshots its plan reads.
func (s *Session) subPlan(ctx context.Context, r *subqueryRef, params []engine.Value, now time.Time) (engine.Expr, []*store.Snapshot, error) {
	p := r.plan
	if r.kind == pg.SubLinkType_EXISTS_SUBLINK {
		p = &engine.Limit{Input: p, Count: 1}
	}
	inner, snaps, err := s.plan(ctx, p, params, now)
	if err != nil {
		return nil, nil, err
	}
	bind := func(e engine.Expr) (engine.Expr, error) {
		return opt.RewriteExpr(e, func(e engine.Expr) (engine.Expr, error) { return s.bindExpr(e, params), nil })
	}
	sp := &engine.SubPlan{Plan: inner, T: r.Type()}
	for _, a := range r.args {
		x, err := bind(a)
		if err != nil {
			release(snaps)
			return nil, nil, err
		}
		sp.Args = append(sp.Args, x)
	}
	switch r.kind {
	case pg.SubLinkType_EXISTS_SUBLINK:
		sp.Kind = engine.SubPlanExists
	case pg.SubLinkType_ANY_SUBLINK, pg.SubLinkType_ALL_SUBLINK:
		sp.Kind, sp.Op, sp.All = engine.SubPlanAny, r.op, r.kind == pg.SubLinkType_ALL_SUBLINK
		if sp.X, err = bind(r.x); err != nil {
			release(snaps)
			return nil, nil, err
		}
	case pg.SubLinkType_ARRAY_SUBLINK:
		sp.Kind = engine.SubPlanArray
	default:
		sp.Kind = engine.SubPlanScalar
	}
	return sp, snaps, nil
}

// maxSubqueryRows bounds what an IN subquery may return: its rows become an IN list.
const maxSubqueryRows = 1_000_000

// runSubquery executes r's plan and returns the values of its first column (for
// EXISTS, one per row, at most one).
func (s *Session) runSubquery(ctx context.Context, r *subqueryRef, params []engine.Value, now time.Time) ([]engine.Value, error) {
	p := r.plan
	if r.kind == pg.SubLinkType_EXISTS_SUBLINK {
		p = &engine.Limit{Input: p, Count: 1}
	}
	op, snaps, err := s.plan(ctx, p, params, now)
	if err != nil {
		return nil, err
	}
	defer release(snaps)
	rows, err := engine.Execute(ctx, op, s.execOptions(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := op.Fields()[0].Type
	var out []engine.Value
	for {
		rec, err := rows.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, valueAt(rec.Column(0), i, t))
		}
		rec.Release()
		if len(out) > maxSubqueryRows {
			return nil, engine.Errorf(sqlstate.ProgramLimitExceeded, "a subquery in an expression returned more than %d rows", maxSubqueryRows)
		}
	}
}

// valueAt is row i of arr (of SQL type t) as a Value.
func valueAt(arr arrow.Array, i int, t engine.Type) engine.Value {
	if arr.IsNull(i) {
		return engine.NullValue(t)
	}
	v := engine.Value{Type: t}
	switch a := arr.(type) {
	case *array.Boolean:
		v.B = a.Value(i)
	case *array.Int64:
		v.I = a.Value(i)
	case *engine.RegArray: // oid and the reg types (the catalogs' oid columns)
		v.I = a.Value(i)
	case *array.Float64:
		v.F = a.Value(i)
	case *array.String:
		v.S = a.Value(i)
		if t.ID == engine.TypeNumeric { // an exact numeric's text (engine/numeric.go)
			v.F, _ = strconv.ParseFloat(v.S, 64)
		}
	case *array.Dictionary:
		v.S = a.Dictionary().(*array.String).Value(a.GetValueIndex(i))
	case *array.Timestamp:
		v.I = int64(a.Value(i))
	case *array.Date32:
		v.I = int64(a.Value(i))
	case *array.MonthDayNanoInterval:
		x := a.Value(i)
		v.Months, v.Days, v.I = x.Months, x.Days, engine.IntervalMicros(x)
	default:
		panic(fmt.Sprintf("BUG: valueAt: %s", arr.DataType()))
	}
	return v
}
