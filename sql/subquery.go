package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/sql/opt"
)

// Subqueries in expressions: a scalar subquery (SELECT ...), EXISTS (SELECT ...)
// and x [NOT] IN (SELECT ...). They must be uncorrelated (refer to no column of
// the outer query); PostgreSQL runs such a subquery once as an InitPlan, and so
// does strata: the binder leaves a subqueryRef in the expression, and when the
// statement executes Session.plan runs each one (with its own snapshots, after
// the statement's parameters are bound) and replaces it by its result: a constant
// for a scalar subquery and EXISTS, an IN list of constants for IN.
//
// Semantics as in PostgreSQL: a scalar subquery with no row is NULL and with more
// than one row an error (21000); x IN (empty) is false even for a NULL x; the
// NULLs of an IN subquery make a non-matching x NULL (InList's rules).

// subqueryRef is an uncorrelated subquery in an expression, until Session.plan
// replaces it.
type subqueryRef struct {
	kind pg.SubLinkType // EXPR, EXISTS or ANY (IN)
	plan engine.Plan    // one output column (EXISTS: any)
	x    engine.Expr    // ANY: the left operand
	loc  int32
}

func (r *subqueryRef) Type() engine.Type {
	if r.kind == pg.SubLinkType_EXPR_SUBLINK {
		return r.plan.Fields()[0].Type
	}
	return engine.Bool
}

func (r *subqueryRef) String() string {
	switch r.kind {
	case pg.SubLinkType_EXISTS_SUBLINK:
		return "EXISTS (subquery)"
	case pg.SubLinkType_ANY_SUBLINK:
		return r.x.String() + " IN (subquery)"
	}
	return "(subquery)"
}

// subLink binds a subquery in an expression.
func (b *binder) subLink(sl *pg.SubLink, c *exprCtx) (engine.Expr, error) {
	if e, ok := emptyCatalogSubLink(sl); ok {
		return e, nil
	}
	sel := sl.Subselect.GetSelectStmt()
	if sel == nil {
		return nil, posErr(engine.Unsupported("this kind of subquery"), sl.Location)
	}
	switch sl.SubLinkType {
	case pg.SubLinkType_EXPR_SUBLINK, pg.SubLinkType_EXISTS_SUBLINK:
	case pg.SubLinkType_ANY_SUBLINK:
		// x IN (SELECT ...) and x = ANY (SELECT ...); other operators are not supported.
		if len(sl.OperName) > 0 && opName(sl.OperName) != "=" {
			return nil, posErr(engine.Unsupported("operator "+opName(sl.OperName)+" ANY (subquery)"), sl.Location)
		}
	default:
		return nil, posErr(engine.Unsupported("ALL, ARRAY and row comparison subqueries"), sl.Location)
	}
	// The subquery binds in a scope of its own: a reference to an outer column does
	// not resolve there, and is reported as a correlated subquery.
	saveRolled, saveOrigins := b.lastRolled, b.lastOrigins
	p, names, err := b.selectStmt(sel)
	b.lastRolled, b.lastOrigins = saveRolled, saveOrigins
	if err != nil {
		var ee *engine.Error
		if errors.As(err, &ee) && (ee.Code == engine.CodeUndefinedColumn ||
			ee.Code == engine.CodeUndefinedTable && strings.HasPrefix(ee.Message, "missing FROM-clause entry")) {
			return nil, posErr(engine.Errorf(engine.CodeFeatureNotSupported,
				"%s (correlated subqueries, which refer to the outer query, are not supported)", ee.Message), sl.Location)
		}
		return nil, err
	}
	r := &subqueryRef{kind: sl.SubLinkType, plan: p, loc: sl.Location}
	if r.kind != pg.SubLinkType_EXISTS_SUBLINK && len(names) != 1 {
		return nil, posErr(engine.Errorf(engine.CodeSyntaxError, "subquery must return only one column"), sl.Location)
	}
	if r.kind == pg.SubLinkType_ANY_SUBLINK {
		if r.x, err = b.expr(sl.Testexpr, c); err != nil {
			return nil, err
		}
		xt, st := r.x.Type(), p.Fields()[0].Type
		if xt != st && !(xt.IsNumeric() && st.IsNumeric()) && xt != engine.Unknown {
			if xt.ID == engine.TypeText || st.ID == engine.TypeText {
				return nil, posErr(engine.Errorf(engine.CodeUndefinedFunction, "operator does not exist: %s = %s", xt, st), sl.Location)
			}
		}
	}
	return r, nil
}

// resolveSubqueries runs the subqueries left in p's expressions and puts their
// results in their place. Each subquery reads snapshots of its own, released as
// soon as its rows are collected.
func (s *Session) resolveSubqueries(ctx context.Context, p engine.Plan, params []engine.Value, now time.Time) (engine.Plan, error) {
	return opt.RewritePlanExprs(p, func(e engine.Expr) (engine.Expr, error) {
		r, ok := e.(*subqueryRef)
		if !ok {
			return e, nil
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
			return nil, posErr(engine.Errorf("21000", "more than one row returned by a subquery used as an expression"), r.loc)
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
			return nil, engine.Errorf(engine.CodeProgramLimitExceeded, "a subquery in an expression returned more than %d rows", maxSubqueryRows)
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
	case *array.Float64:
		v.F = a.Value(i)
	case *array.String:
		v.S = a.Value(i)
	case *array.Dictionary:
		v.S = a.Dictionary().(*array.String).Value(a.GetValueIndex(i))
	case *array.Timestamp:
		v.I = int64(a.Value(i))
	case *array.Date32:
		v.I = int64(a.Value(i))
	case *array.MonthDayNanoInterval:
		x := a.Value(i)
		v.Months, v.Days, v.I = x.Months, x.Days, x.Nanoseconds/1000
	default:
		panic(fmt.Sprintf("BUG: valueAt: %s", arr.DataType()))
	}
	return v
}
