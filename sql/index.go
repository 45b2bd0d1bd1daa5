package sql

import (
	"context"
	"fmt"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// createIndex accepts CREATE INDEX so that schema scripts written for PostgreSQL
// run unchanged, and creates nothing: every text column of every segment already
// has a dictionary and a bitmap per value, and rows are sorted by time. The table
// and the indexed columns must exist and the user must own the table, as in
// PostgreSQL; a NOTICE says that nothing was created. Expression and partial
// indexes are accepted alike (their expressions are not evaluated). A UNIQUE
// index is refused: strata would not enforce it.
func (b *binder) createIndex(st *pg.IndexStmt) (*bound, []engine.Field, error) {
	if st.Unique || st.Primary {
		// Accepting it would promise a uniqueness strata does not enforce.
		return nil, nil, engine.Unsupported("CREATE UNIQUE INDEX")
	}
	rv := st.Relation
	if rv.Schemaname != "" && rv.Schemaname != "public" {
		return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedTable, "relation \"%s.%s\" does not exist", rv.Schemaname, rv.Relname), rv.Location)
	}
	def, ok := b.db.store.Table(rv.Relname)
	if !ok {
		return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", rv.Relname), rv.Location)
	}
	if err := b.need(access{kind: accessOwner, table: def.Name}); err != nil {
		return nil, nil, err
	}
	for _, n := range st.IndexParams {
		ie := n.GetIndexElem()
		if ie == nil || ie.Name == "" {
			continue // an expression
		}
		if def.Schema.Index(ie.Name) < 0 {
			return nil, nil, engine.Errorf(sqlstate.UndefinedColumn, "column %q does not exist", ie.Name)
		}
	}
	what := "an index"
	if st.Idxname != "" {
		what = fmt.Sprintf("index %q", st.Idxname)
	}
	notice := fmt.Sprintf("%s was not created: strata keeps a dictionary and a bitmap index of every text column and sorts rows by time, so table %q needs no other index", what, def.Name)
	return &bound{run: func(context.Context, *Session, []engine.Value) (*Result, error) {
		return &Result{Tag: "CREATE INDEX", Notices: []string{notice}}, nil
	}}, nil, nil
}
