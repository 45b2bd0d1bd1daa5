package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// Aggregates of an outer query, written in a subquery. PostgreSQL's rule
// (parse_agg.c, check_agg_arguments): an aggregate belongs to the innermost query
// level of the columns its arguments, ORDER BY and FILTER read, and to the level
// it is written in when they read none. So in
//
//	SELECT k, (SELECT sum(a.x) FROM t b WHERE b.k = a.k LIMIT 1) FROM t a GROUP BY k
//
// sum(a.x) is an aggregate of the outer query, computed over each group of a and
// passed into the subquery as a value of the outer row (an engine.Param, as an
// outer column is); while sum(a.x + b.y) is the subquery's own, over its rows,
// with a.x a constant of each run. An outer aggregate makes the level it belongs
// to aggregating (SELECT (SELECT sum(a.x)) FROM t a is one row), and is 42803
// where that level allows no aggregate (its WHERE, JOIN conditions, GROUP BY).

// needsAggregate is the error of an outer aggregate that belongs to a query
// level whose select list is being bound as a non-aggregating one: selectStmt of
// that level (scope) binds its select list again, aggregating. Should it reach
// anything else, it reads as its 0A000.
type needsAggregate struct {
	scope *scope
	err   *engine.Error
}

func (e *needsAggregate) Error() string { return e.err.Error() }
func (e *needsAggregate) Unwrap() error { return e.err }

// aggLevel is the query level fc belongs to: 0 for the level whose FROM items are
// sc, k for the k-th enclosing one (b.outer[len(b.outer)-k]).
func (b *binder) aggLevel(fc *pg.FuncCall, sc *scope) int {
	if len(b.outer) == 0 {
		return 0
	}
	level := -1
	visit := func(m protoreflect.ProtoMessage) bool {
		cr, ok := m.(*pg.ColumnRef)
		if !ok {
			return level != 0
		}
		if l := b.columnLevel(cr, sc); l >= 0 && (level < 0 || l < level) {
			level = l
		}
		return false
	}
	for _, n := range fc.Args {
		walkQueryLevel(n, visit)
	}
	for _, n := range fc.AggOrder {
		walkQueryLevel(n, visit)
	}
	walkQueryLevel(fc.AggFilter, visit)
	if level < 0 {
		return 0
	}
	return level
}

// columnLevel is the query level cr names a column of (see aggLevel), or -1 when
// none has it (binding reports that).
func (b *binder) columnLevel(cr *pg.ColumnRef, sc *scope) int {
	qual, name, ok := columnRefParts(cr)
	if !ok {
		return 0
	}
	if name == "" { // t.*
		name = "*"
	}
	has := func(s *scope) bool {
		if s == nil {
			return false
		}
		if name == "*" {
			for _, c := range s.cols {
				if c.qual == qual {
					return true
				}
			}
			return false
		}
		_, err := s.find(qual, name)
		return err == nil || !isNotFound(err) // ambiguous is found
	}
	if has(sc) {
		return 0
	}
	for k := 1; k <= len(b.outer); k++ {
		c := b.outer[len(b.outer)-k].c
		s := c.scope
		if c.agg != nil {
			s = c.agg.input
		}
		if has(s) {
			return k
		}
	}
	return -1
}

// containsLocalAgg reports whether n calls an aggregate of the level whose FROM
// items are sc.
func (b *binder) containsLocalAgg(n *pg.Node, sc *scope) bool {
	return containsAggWhere(n, func(fc *pg.FuncCall) bool { return b.aggLevel(fc, sc) == 0 })
}

// outerAggregate binds fc, an aggregate of the level-th enclosing query level,
// and returns the Param that passes its value into the subquery being bound.
func (b *binder) outerAggregate(fc *pg.FuncCall, level int) (engine.Expr, error) {
	lv, restore := b.enterOuter()
	defer restore()
	var e engine.Expr
	var err error
	switch {
	case level > 1 && lv.c.agg != nil:
		return nil, posErr(engine.Unsupported("an aggregate of an outer query passed through an aggregating subquery's select list, HAVING or ORDER BY"), fc.Location)
	case level > 1:
		e, err = b.outerAggregate(fc, level-1)
	case lv.c.agg != nil:
		e, err = b.aggCall(fc, lv.c.agg)
	case lv.c.clause == "aggregate function calls":
		return nil, posErr(engine.Errorf(sqlstate.GroupingError, "aggregate function calls cannot be nested"), fc.Location)
	case lv.c.clause != "":
		return nil, posErr(engine.Errorf(sqlstate.GroupingError, "aggregate functions are not allowed in %s", lv.c.clause), fc.Location)
	default:
		return nil, &needsAggregate{scope: lv.c.scope,
			err: posErr(engine.Unsupported("an aggregate of an outer query here"), fc.Location)}
	}
	if err != nil {
		return nil, err
	}
	return lv.param(e), nil
}

// param returns the Param of the subquery being bound whose value is e, an
// expression of level lv (each distinct expression is passed once).
func (lv *outerLevel) param(e engine.Expr) *engine.Param {
	k := exprKey(e)
	for i, have := range lv.keys {
		if have == k {
			return &engine.Param{Index: i, T: e.Type()}
		}
	}
	lv.args = append(lv.args, e)
	lv.keys = append(lv.keys, k)
	return &engine.Param{Index: len(lv.args) - 1, T: e.Type()}
}
