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
	return b.call("text_array_element", []engine.Expr{arr, i}, -1)
}
