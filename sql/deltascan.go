package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/realtime"
)

// delta_scan('path') reads any Delta Lake table, read-only: a local folder or an
// s3://bucket/prefix URL (endpoint and credentials from the standard AWS
// environment). Each execution replays the table's log to its latest version and
// reads the live files' rows (deletion vectors applied) into an in-memory,
// bitmap-indexed real-time head, so every query feature works on them.
//
// Column types: strings, integers (any width), floats, decimals (as double
// precision), booleans, timestamps (with or without zone) and dates (as timestamps
// at midnight); binary and nested columns are left out. Delta tables need no time
// column, strata's scans do: a hidden constant __time column stands in, so time
// pruning does not apply to delta_scan.

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
		return nil, nil, posErr(engine.Errorf(engine.CodeInvalidParameter, "delta_scan takes one text constant, the table's path"), fc.Location)
	}
	path := fc.Args[0].GetAConst().GetSval().Sval
	ctx := context.Background()
	snap, err := openDelta(ctx, path)
	if err != nil {
		return nil, nil, posErr(engine.Errorf(engine.CodeUndefinedTable, "delta_scan(%q): %v", path, err), fc.Location)
	}
	schema, _, err := deltaSchema(snap)
	if err != nil {
		return nil, nil, posErr(engine.Errorf(engine.CodeFeatureNotSupported, "delta_scan(%q): %v", path, err), fc.Location)
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

// openDelta opens the Delta table at path and returns its latest snapshot.
func openDelta(ctx context.Context, path string) (*lake.Snapshot, error) {
	fsys, _, err := lake.OpenLocation(ctx, path, objstore.Options{})
	if err != nil {
		return nil, err
	}
	return lake.OpenTable(fsys, "").Snapshot(ctx)
}

// deltaSchema maps a Delta table's columns to a storage schema with the hidden
// constant time column last; cols are the Delta column names read, in order.
func deltaSchema(snap *lake.Snapshot) (*storage.Schema, []string, error) {
	as, err := snap.ArrowSchema(nil)
	if err != nil {
		return nil, nil, err
	}
	schema := &storage.Schema{}
	var cols []string
	for _, f := range as.Fields() {
		c := storage.Column{Name: f.Name}
		switch f.Type.ID() {
		case arrow.STRING, arrow.LARGE_STRING:
			c.Type, c.SQLType = storage.TypeString, "text"
		case arrow.INT8, arrow.INT16:
			c.Type, c.SQLType = storage.TypeInt64, "smallint"
		case arrow.INT32:
			c.Type, c.SQLType = storage.TypeInt64, "integer"
		case arrow.INT64:
			c.Type, c.SQLType = storage.TypeInt64, "bigint"
		case arrow.FLOAT32:
			c.Type, c.SQLType = storage.TypeFloat64, "real"
		case arrow.FLOAT64:
			c.Type, c.SQLType = storage.TypeFloat64, "double precision"
		case arrow.DECIMAL128, arrow.DECIMAL256:
			c.Type, c.SQLType = storage.TypeFloat64, "numeric"
		case arrow.BOOL:
			c.Type, c.SQLType = storage.TypeBool, "boolean"
		case arrow.TIMESTAMP:
			c.Type, c.SQLType = storage.TypeTimestamp, "timestamp"
			if f.Type.(*arrow.TimestampType).TimeZone != "" {
				c.SQLType = "timestamptz"
			}
		case arrow.DATE32, arrow.DATE64:
			c.Type, c.SQLType = storage.TypeTimestamp, "timestamp"
		default:
			continue // binary, nested: not readable here
		}
		schema.Columns = append(schema.Columns, c)
		cols = append(cols, f.Name)
	}
	schema.TimeColumn = len(schema.Columns)
	schema.Columns = append(schema.Columns, storage.Column{Name: "__time", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true})
	return schema, cols, schema.Validate()
}

// deltaSources reads the Delta table at path into an in-memory head and returns its
// views, for a Scan bound by deltaScan with schema.
func deltaSources(ctx context.Context, path string, schema *storage.Schema) ([]storage.Source, error) {
	snap, err := openDelta(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("delta_scan(%q): %w", path, err)
	}
	now, names, err := deltaSchema(snap)
	if err != nil {
		return nil, fmt.Errorf("delta_scan(%q): %w", path, err)
	}
	if now.String() != schema.String() {
		return nil, engine.Errorf(engine.CodeFeatureNotSupported, "delta_scan(%q): the table's schema changed since the statement was prepared", path)
	}
	head := realtime.NewHead(schema, 1<<62)
	for _, f := range snap.Files() {
		err := snap.ReadFile(ctx, f, names, func(rec arrow.RecordBatch) error {
			cols, err := arrowToColumns(schema, rec)
			if err != nil {
				return err
			}
			return head.Append(cols)
		})
		if err != nil {
			return nil, fmt.Errorf("delta_scan(%q): %w", path, err)
		}
	}
	var out []storage.Source
	for _, v := range head.Snapshot() {
		out = append(out, v)
	}
	return out, nil
}

// arrowToColumns converts a record batch (columns in schema order, without the
// time column) into Columns of schema, the time column all zero.
func arrowToColumns(schema *storage.Schema, rec arrow.RecordBatch) (*storage.Columns, error) {
	n := int(rec.NumRows())
	cols := storage.NewColumns(schema, n)
	cols.Len = n
	for ci, c := range schema.Columns {
		d := &cols.Cols[ci]
		if ci == schema.TimeColumn {
			d.Int64 = make([]int64, n)
			continue
		}
		arr := rec.Column(ci)
		for r := 0; r < n; r++ {
			null := arr.IsNull(r)
			switch c.Type {
			case storage.TypeString:
				s := ""
				if !null {
					switch a := arr.(type) {
					case *array.String:
						s = a.Value(r)
					case *array.LargeString:
						s = a.Value(r)
					}
				}
				d.String = append(d.String, strings.Clone(s))
			case storage.TypeInt64:
				var v int64
				if !null {
					switch a := arr.(type) {
					case *array.Int8:
						v = int64(a.Value(r))
					case *array.Int16:
						v = int64(a.Value(r))
					case *array.Int32:
						v = int64(a.Value(r))
					case *array.Int64:
						v = a.Value(r)
					}
				}
				d.Int64 = append(d.Int64, v)
			case storage.TypeFloat64:
				var v float64
				if !null {
					switch a := arr.(type) {
					case *array.Float32:
						v = float64(a.Value(r))
					case *array.Float64:
						v = a.Value(r)
					case *array.Decimal128:
						v = a.Value(r).ToFloat64(a.DataType().(*arrow.Decimal128Type).Scale)
					case *array.Decimal256:
						v = a.Value(r).ToFloat64(a.DataType().(*arrow.Decimal256Type).Scale)
					}
				}
				d.Float64 = append(d.Float64, v)
			case storage.TypeBool:
				v := false
				if !null {
					v = arr.(*array.Boolean).Value(r)
				}
				d.Bool = append(d.Bool, v)
			case storage.TypeTimestamp:
				var v int64
				if !null {
					switch a := arr.(type) {
					case *array.Timestamp:
						us, err := lake.TimestampMicros(a, r)
						if err != nil {
							return nil, fmt.Errorf("column %s: %w", c.Name, err)
						}
						v = us
					case *array.Date32:
						v = int64(a.Value(r)) * 86_400_000_000
					case *array.Date64:
						v = int64(a.Value(r)) * 1000
					}
				}
				d.Int64 = append(d.Int64, v)
			default:
				return nil, fmt.Errorf("column %s: unsupported type", c.Name)
			}
			if null {
				cols.SetNull(ci, r)
			}
		}
	}
	return cols, nil
}
