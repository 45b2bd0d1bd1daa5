package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// union binds UNION [ALL]: both arms bound as selects, each column cast to the
// arms' common type; UNION without ALL removes duplicate rows. ORDER BY and LIMIT
// on the whole union, INTERSECT and EXCEPT are not supported yet.
func (b *binder) union(s *pg.SelectStmt) (engine.Plan, []string, error) {
	if s.Op != pg.SetOperation_SETOP_UNION {
		return nil, nil, engine.Unsupported("INTERSECT/EXCEPT")
	}
	if len(s.SortClause) > 0 || s.LimitCount != nil || s.LimitOffset != nil || s.WithClause != nil {
		return nil, nil, engine.Unsupported("ORDER BY, LIMIT or WITH on a UNION")
	}
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
		return nil, nil, engine.Errorf(sqlstate.SyntaxError, "each UNION query must have the same number of columns")
	}
	lx, rx := make([]engine.Expr, len(lf)), make([]engine.Expr, len(rf))
	casts := false
	for i := range lf {
		t, err := engine.CommonType([]engine.Type{lf[i].Type, rf[i].Type})
		if err != nil {
			return nil, nil, engine.Errorf(sqlstate.DatatypeMismatch, "UNION types %s and %s cannot be matched", lf[i].Type, rf[i].Type)
		}
		if t == engine.Unknown {
			t = engine.Text
		}
		lx[i], rx[i] = castTo(&engine.ColRef{Index: i, T: lf[i].Type, Name: lf[i].Name}, t), castTo(&engine.ColRef{Index: i, T: rf[i].Type, Name: rf[i].Name}, t)
		casts = casts || t != lf[i].Type || t != rf[i].Type
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
	b.lastRolled = ""
	return p, names, nil
}

func castTo(e engine.Expr, t engine.Type) engine.Expr {
	if e.Type() == t {
		return e
	}
	return &engine.Cast{X: e, T: t}
}
