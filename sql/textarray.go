package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// textArrayElement binds arr[i] over a text[] value the engine computes whole.
func (b *binder) textArrayElement(arr engine.Expr, idx *pg.A_Indices, c *exprCtx) (engine.Expr, error) {
	i, err := b.expr(idx.Uidx, c)
	if err != nil {
		return nil, err
	}
	if i, err = b.coerce(i, engine.Int64); err != nil {
		return nil, err
	}
	if !i.Type().IsInteger() {
		return nil, engine.Errorf(sqlstate.DatatypeMismatch, "array subscript must have type integer")
	}
	return b.call("array_element", []engine.Expr{arr, i}, -1)
}

// arraySize binds cardinality(arr) and array_length/array_upper/array_lower(arr,
// dim) over an array value the engine computes whole (one dimension).
func (b *binder) arraySize(fc *pg.FuncCall, name string, arr engine.Expr, c *exprCtx) (engine.Expr, error) {
	if name == "cardinality" {
		if len(fc.Args) != 1 {
			return nil, posErr(engine.Errorf(sqlstate.UndefinedFunction, "function cardinality takes one array"), fc.Location)
		}
		return b.call("array_cardinality", []engine.Expr{arr}, fc.Location)
	}
	if len(fc.Args) != 2 {
		return nil, posErr(engine.Errorf(sqlstate.UndefinedFunction, "function %s requires an array and a dimension", name), fc.Location)
	}
	dim, err := b.expr(fc.Args[1], c)
	if err != nil {
		return nil, err
	}
	k, ok := dim.(*engine.Const)
	if !ok || k.V.Null || !(k.V.Type.IsInteger() || k.V.Type == engine.Unknown) {
		return nil, posErr(engine.Unsupported(name+" with a dimension that is not an integer constant"), fc.Location)
	}
	if k.V.Type == engine.Unknown && k.V.S != "1" || k.V.Type != engine.Unknown && k.V.I != 1 {
		return &engine.Const{V: engine.NullValue(engine.Int32)}, nil
	}
	n, err := b.call("array_length1", []engine.Expr{arr}, fc.Location)
	if err != nil || name != "array_lower" {
		return n, err
	}
	// array_lower is 1, or NULL for an empty array.
	return &engine.Case{Whens: []engine.When{{Cond: &engine.IsNull{X: n}, Then: &engine.Const{V: engine.NullValue(engine.Int32)}}},
		Else: &engine.Const{V: engine.Value{Type: engine.Int32, I: 1}}, T: engine.Int32}, nil
}
