package sql

import (
	"context"
	"fmt"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/store"
)

// delta_scan('path') reads any Delta Lake table, read-only: a local folder or an
// s3://bucket/prefix URL (endpoint and credentials from the standard AWS
// environment). Each execution replays the table's log to its latest version and
// reads its live files (deletion vectors applied) through the store's lake cache
// (store.ScanDelta), so every query feature works on them.
//
// Column types: strings, integers (any width), floats, decimals (as double
// precision), booleans, timestamps (with or without zone) and dates (as timestamps
// at midnight); binary and nested columns are left out (lakesrc.ReadableSchema).
// Delta tables need no time column, strata's scans do: a hidden constant __time
// column stands in, so time pruning does not apply to delta_scan.

const deltaScanPrefix = "delta_scan:"

// deltaScan binds FROM delta_scan('path') [AS alias].
func (b *binder) deltaScan(rf *pg.RangeFunction) (engine.Plan, *scope, error) {
	if len(rf.Functions) != 1 {
		return nil, nil, engine.Unsupported("ROWS FROM")
	}
	items := rf.Functions[0].GetList().GetItems()
	if len(items) == 0 {
		return nil, nil, engine.Unsupported("this function in FROM")
	}
	fc := items[0].GetFuncCall()
	if fc == nil || funcName(fc) != "delta_scan" {
		return nil, nil, engine.Unsupported("functions in FROM other than delta_scan")
	}
	if len(fc.Args) != 1 || fc.Args[0].GetAConst().GetSval() == nil {
		return nil, nil, posErr(engine.Errorf(sqlstate.InvalidParameterValue, "delta_scan takes one text constant, the table's path"), fc.Location)
	}
	path := fc.Args[0].GetAConst().GetSval().Sval
	// delta_scan reads any path the server reaches: superusers only, checked
	// before the path is opened.
	if err := b.need(access{kind: accessSuperuser, what: "read a Delta table with delta_scan"}); err != nil {
		return nil, nil, posErr(err.(*engine.Error), fc.Location)
	}
	schema, err := b.db.store.DeltaSchema(context.Background(), path)
	if err != nil {
		if e, ok := b.db.locationError(err).(*engine.Error); ok {
			return nil, nil, posErr(e, fc.Location)
		}
		return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedTable, "delta_scan(%q): %v", path, err), fc.Location)
	}
	s := &engine.Scan{Table: deltaScanPrefix + path, Schema: schema, TimeMin: engine.MinTime, TimeMax: engine.MaxTime}
	names := make([]string, len(schema.Columns))
	for i, c := range schema.Columns {
		s.Columns = append(s.Columns, i)
		s.Out = append(s.Out, engine.Field{Name: c.Name, Type: columnType(c)})
		names[i] = c.Name
	}
	qual := "delta_scan"
	if rf.Alias != nil {
		qual = rf.Alias.Aliasname
	}
	sc := b.subScope(s, names, qual, rf.Alias)
	sc.cols[schema.TimeColumn].hidden = true
	return s, sc, nil
}

// deltaSnapshot is the snapshot a delta_scan(path) bound with schema reads.
func deltaSnapshot(ctx context.Context, st *store.Store, path string, schema *storage.Schema) (*store.Snapshot, error) {
	sn, err := st.ScanDelta(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("delta_scan(%q): %w", path, err)
	}
	if sn.Table.Schema.String() != schema.String() {
		sn.Release()
		return nil, engine.Errorf(sqlstate.FeatureNotSupported, "delta_scan(%q): the table's schema changed since the statement was prepared", path)
	}
	return sn, nil
}
