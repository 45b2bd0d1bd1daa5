package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// setOperation binds UNION, INTERSECT and EXCEPT, each with or without ALL, and
// the WITH, ORDER BY and LIMIT/OFFSET that apply to the whole result. Both arms
// are bound as selects and each column is cast to the arms' common type; the
// result's column names are the left arm's. ORDER BY may name result columns by
// name or position only, as in PostgreSQL.
func (b *binder) setOperation(s *pg.SelectStmt) (engine.Plan, []string, error) {
	if s.WithClause != nil {
		pop, err := b.with(s.WithClause)
		if err != nil {
			return nil, nil, err
		}
		defer pop()
	}
	p, names, err := b.setOpArms(s)
	if err != nil {
		return nil, nil, err
	}
	b.lastRolled = ""
	b.lastOrigins = nil
	fields := p.Fields()
	cols := make([]engine.Expr, len(fields))
	for i, f := range fields {
		cols[i] = &engine.ColRef{Index: i, T: f.Type, Name: f.Name}
	}
	var keys []engine.SortKey
	for _, sn := range s.SortClause {
		sb := sn.GetSortBy()
		if sb.SortbyDir == pg.SortByDir_SORTBY_USING {
			return nil, nil, posErr(engine.Unsupported("ORDER BY USING"), sb.Location)
		}
		idx, err := b.orderTarget(sb.Node, names, cols, nil)
		if err != nil {
			return nil, nil, err
		}
		if idx < 0 {
			what := setOpName(s.Op)
			return nil, nil, posErr(&engine.Error{Code: sqlstate.FeatureNotSupported,
				Message: "invalid " + what + " ORDER BY clause",
				Detail:  "Only result column names can be used, not expressions or functions.",
				Hint:    "Add the expression/function to every SELECT, or move the " + what + " into a FROM clause."}, sb.Location)
		}
		desc := sb.SortbyDir == pg.SortByDir_SORTBY_DESC
		nullsFirst := desc
		switch sb.SortbyNulls {
		case pg.SortByNulls_SORTBY_NULLS_FIRST:
			nullsFirst = true
		case pg.SortByNulls_SORTBY_NULLS_LAST:
			nullsFirst = false
		}
		keys = append(keys, engine.SortKey{Expr: &engine.ColRef{Index: idx, T: fields[idx].Type, Name: names[idx]}, Desc: desc, NullsFirst: nullsFirst})
	}
	if len(keys) > 0 {
		p = &engine.Sort{Input: p, Keys: keys}
	}
	if s.LimitCount != nil || s.LimitOffset != nil {
		if p, err = b.limit(s, p); err != nil {
			return nil, nil, err
		}
	}
	return p, names, nil
}

// setOpName is how PostgreSQL names a set operation in messages.
func setOpName(op pg.SetOperation) string {
	switch op {
	case pg.SetOperation_SETOP_INTERSECT:
		return "INTERSECT"
	case pg.SetOperation_SETOP_EXCEPT:
		return "EXCEPT"
	}
	return "UNION"
}

// setOpArms binds the two arms of s and combines them.
func (b *binder) setOpArms(s *pg.SelectStmt) (engine.Plan, []string, error) {
	what := setOpName(s.Op)
	lp, names, err := b.selectStmt(s.Larg)
	if err != nil {
		return nil, nil, err
	}
	rp, _, err := b.selectStmt(s.Rarg)
	if err != nil {
		return nil, nil, err
	}
	lf, rf := lp.Fields(), rp.Fields()
	if len(lf) != len(rf) {
		return nil, nil, engine.Errorf(sqlstate.SyntaxError, "each %s query must have the same number of columns", what)
	}
	lx, rx := make([]engine.Expr, len(lf)), make([]engine.Expr, len(rf))
	casts := false
	for i := range lf {
		t, err := engine.ResultType([]engine.Type{lf[i].Type, rf[i].Type})
		if err != nil {
			return nil, nil, engine.Errorf(sqlstate.DatatypeMismatch, "%s types %s and %s cannot be matched", what, lf[i].Type, rf[i].Type)
		}
		if t == engine.Unknown {
			t = engine.Text
		}
		lx[i], rx[i] = castTo(&engine.ColRef{Index: i, T: lf[i].Type, Name: lf[i].Name}, t), castTo(&engine.ColRef{Index: i, T: rf[i].Type, Name: rf[i].Name}, t)
		casts = casts || t != lf[i].Type || t != rf[i].Type
	}
	if s.Op != pg.SetOperation_SETOP_UNION {
		// INTERSECT, EXCEPT: both arms into one UNION ALL, each row tagged with its arm.
		tag := func(side int64) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Int64, I: side}} }
		tagged := append(names[:len(names):len(names)], "?arm?")
		lp = &engine.Project{Input: lp, Exprs: append(lx, tag(0)), Names: tagged}
		rp = &engine.Project{Input: rp, Exprs: append(rx, tag(1)), Names: tagged}
		return &engine.SetOp{Input: &engine.Union{Inputs: []engine.Plan{lp, rp}},
			Except: s.Op == pg.SetOperation_SETOP_EXCEPT, All: s.All}, names, nil
	}
	if casts {
		lp = &engine.Project{Input: lp, Exprs: lx, Names: names}
		rp = &engine.Project{Input: rp, Exprs: rx, Names: names}
	}
	// Flatten nested unions of the same kind.
	var inputs []engine.Plan
	for _, p := range []engine.Plan{lp, rp} {
		if u, ok := p.(*engine.Union); ok && s.All {
			inputs = append(inputs, u.Inputs...)
		} else {
			inputs = append(inputs, p)
		}
	}
	var p engine.Plan = &engine.Union{Inputs: inputs}
	if !s.All {
		p = &engine.Distinct{Input: p}
	}
	return p, names, nil
}

func castTo(e engine.Expr, t engine.Type) engine.Expr {
	if e.Type() == t {
		return e
	}
	return &engine.Cast{X: e, T: t}
}

// exprLocation returns the parse location of expression node n (its "location"
// field), or -1 when it has none.
func exprLocation(n *pg.Node) int32 {
	m := n.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("node")
	if od == nil {
		return -1
	}
	fd := m.WhichOneof(od)
	if fd == nil || fd.Kind() != protoreflect.MessageKind {
		return -1
	}
	inner := m.Get(fd).Message()
	if lf := inner.Descriptor().Fields().ByName("location"); lf != nil && lf.Kind() == protoreflect.Int32Kind {
		return int32(inner.Get(lf).Int())
	}
	return -1
}
