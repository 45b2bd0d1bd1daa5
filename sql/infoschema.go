package sql

import (
	"fmt"
	"sort"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/storage/catalog"
)

// information_schema.tables, columns, table_constraints and key_column_usage, the
// catalog views SQL clients (Grafana's query editor, BI tools, Metabase) list
// tables, columns and keys with. They are
// bound as a Values plan built from the catalog when the statement is prepared.

// infoDataType is information_schema.columns.data_type for a stored SQL type.
var infoDataType = map[string]string{
	"timestamptz": "timestamp with time zone", "timestamp": "timestamp without time zone",
	"text": "text", "varchar": "character varying", "bpchar": "character", "date": "date", "smallint": "smallint", "integer": "integer",
	"bigint": "bigint", "real": "real", "double precision": "double precision",
	"numeric": "numeric", "boolean": "boolean", "uuid": "uuid", "interval": "interval",
}

func (b *binder) infoSchema(rv *pg.RangeVar) (engine.Plan, []string, bool) {
	text := func(s string) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Text, S: s}} }
	tables := b.db.store.Tables()
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	var names []string
	var types []engine.Type
	var rows [][]engine.Expr
	switch rv.Relname {
	case "tables":
		names = []string{"table_catalog", "table_schema", "table_name", "table_type"}
		types = []engine.Type{engine.Text, engine.Text, engine.Text, engine.Text}
		for _, t := range tables {
			rows = append(rows, []engine.Expr{text(b.database), text("public"), text(t.Name), text("BASE TABLE")})
		}
	case "schemata":
		names, types, rows = b.schemataRows()
	case "table_privileges":
		names, types, rows = b.tablePrivilegeRows()
	case "columns":
		names = []string{"table_catalog", "table_schema", "table_name", "column_name", "ordinal_position", "column_default",
			"is_nullable", "data_type", "character_maximum_length", "numeric_precision", "numeric_precision_radix",
			"numeric_scale", "datetime_precision", "udt_catalog", "udt_schema", "udt_name", "is_identity", "is_generated",
			"is_updatable"}
		types = []engine.Type{engine.Text, engine.Text, engine.Text, engine.Text, engine.Int32, engine.Text,
			engine.Text, engine.Text, engine.Int32, engine.Int32, engine.Int32,
			engine.Int32, engine.Int32, engine.Text, engine.Text, engine.Text, engine.Text, engine.Text, engine.Text}
		for _, t := range tables {
			rows = append(rows, columnRows(b.database, t, text)...)
		}
	case "table_constraints":
		// the keys of lookup tables, and each NOT NULL column as PostgreSQL lists
		// it: a CHECK constraint named <schema oid>_<table oid>_<attnum>_not_null
		names = []string{"constraint_catalog", "constraint_schema", "constraint_name", "table_catalog", "table_schema",
			"table_name", "constraint_type", "is_deferrable", "initially_deferred", "enforced", "nulls_distinct"}
		types = []engine.Type{engine.Text, engine.Text, engine.Text, engine.Text, engine.Text, engine.Text, engine.Text,
			engine.Text, engine.Text, engine.Text, engine.Text}
		for _, k := range catalogKeys(tables) {
			kind := "UNIQUE"
			distinct := text("YES")
			if k.primary {
				kind, distinct = "PRIMARY KEY", &engine.Const{V: engine.NullValue(engine.Text)}
			}
			rows = append(rows, []engine.Expr{text(b.database), text("public"), text(k.name), text(b.database), text("public"),
				text(k.table.Name), text(kind), text("NO"), text("NO"), text("YES"), distinct})
		}
		for _, t := range tables {
			for n, i := range visibleColumns(t) {
				if t.Schema.Columns[i].NotNull {
					name := fmt.Sprintf("%d_%d_%d_not_null", oidPublic, tableOID(t), n+1)
					rows = append(rows, []engine.Expr{text(b.database), text("public"), text(name), text(b.database), text("public"),
						text(t.Name), text("CHECK"), text("NO"), text("NO"), text("YES"), &engine.Const{V: engine.NullValue(engine.Text)}})
				}
			}
		}
	case "key_column_usage":
		names = []string{"constraint_catalog", "constraint_schema", "constraint_name", "table_catalog", "table_schema",
			"table_name", "column_name", "ordinal_position", "position_in_unique_constraint"}
		types = []engine.Type{engine.Text, engine.Text, engine.Text, engine.Text, engine.Text, engine.Text, engine.Text,
			engine.Int32, engine.Int32}
		for _, k := range catalogKeys(tables) {
			for n, col := range k.cols {
				rows = append(rows, []engine.Expr{text(b.database), text("public"), text(k.name), text(b.database), text("public"),
					text(k.table.Name), text(col), &engine.Const{V: engine.Value{Type: engine.Int32, I: int64(n + 1)}},
					&engine.Const{V: engine.NullValue(engine.Int32)}})
			}
		}
	default:
		return nil, nil, false
	}
	return valuesPlan(names, types, rows), names, true
}

// valuesPlan returns rows (of the given column names and types) as a plan; with no
// rows, an empty plan of that shape.
func valuesPlan(names []string, types []engine.Type, rows [][]engine.Expr) engine.Plan {
	out := make([]engine.Field, len(names))
	for i := range names {
		out[i] = engine.Field{Name: names[i], Type: types[i]}
	}
	if len(rows) == 0 {
		// An empty Values still needs its row shape: one row that a false filter drops.
		row := make([]engine.Expr, len(names))
		for i, t := range types {
			row[i] = &engine.Const{V: engine.NullValue(t)}
		}
		return &engine.Filter{Input: &engine.Values{Rows: [][]engine.Expr{row}, Out: out},
			Cond: &engine.Const{V: engine.Value{Type: engine.Bool, B: false}}}
	}
	return &engine.Values{Rows: rows, Out: out}
}

func columnRows(database string, t catalog.TableDef, text func(string) engine.Expr) [][]engine.Expr {
	var rows [][]engine.Expr
	for n, i := range visibleColumns(t) {
		c := t.Schema.Columns[i]
		nullable := "YES"
		if c.NotNull {
			nullable = "NO"
		}
		base := baseSQLType(c.SQLType) // numeric for numeric(10,2)
		dt, ok := infoDataType[base]
		if !ok {
			dt = base
		}
		i4 := func(v int64) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Int32, I: v}} }
		null := &engine.Const{V: engine.NullValue(engine.Int32)}
		prec, radix, scale, dtPrec := engine.Expr(null), engine.Expr(null), engine.Expr(null), engine.Expr(null)
		switch base {
		case "smallint":
			prec, radix, scale = i4(16), i4(2), i4(0)
		case "integer":
			prec, radix, scale = i4(32), i4(2), i4(0)
		case "bigint":
			prec, radix, scale = i4(64), i4(2), i4(0)
		case "real":
			prec, radix = i4(24), i4(2)
		case "double precision":
			prec, radix = i4(53), i4(2)
		case "numeric":
			radix = i4(10)
			if m := columnTypmod(c); m >= engine.VarHdrSz { // PostgreSQL 15's _pg_numeric_scale: a negative scale shows as its low 16 bits
				m -= engine.VarHdrSz
				prec, scale = i4(m>>16&0xffff), i4(m&0xffff)
			}
		case "timestamptz", "timestamp":
			dtPrec = i4(6)
		}
		charLen := engine.Expr(null)
		if l, ok := engine.VarcharLength(atttypmod(c.TypMod)); ok && (c.SQLType == "varchar" || c.SQLType == "bpchar") {
			charLen = i4(l)
		}
		rows = append(rows, []engine.Expr{text(database), text("public"), text(t.Name), text(c.Name),
			i4(int64(n + 1)), &engine.Const{V: engine.NullValue(engine.Text)}, text(nullable), text(dt), charLen,
			prec, radix, scale, dtPrec, text(database), text("pg_catalog"), text(udtNames[base]), text("NO"), text("NEVER"),
			text("YES")})
	}
	return rows
}
