package sql

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/ingest/stream"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/rollup"
	"github.com/stratadb/strata/storage/store"
)

// storedType maps a declared column type to the storage type and the canonical SQL
// type name kept in the schema.
func storedType(tn *pg.TypeName) (storage.Type, string, error) {
	if len(tn.ArrayBounds) > 0 {
		return 0, "", posErr(engine.Unsupported("array columns"), tn.Location)
	}
	name := tn.Names[len(tn.Names)-1].GetString_().GetSval()
	switch name {
	case "text", "string":
		return storage.TypeString, "text", nil
	case "bpchar", "char", "character":
		if len(tn.Typmods) > 0 { // char and character(n): pg_query gives char its length 1
			return storage.TypeString, "bpchar", nil
		}
		return storage.TypeString, "varchar", nil // bpchar without a length: no padding to keep
	case "varchar", "character varying":
		return storage.TypeString, "varchar", nil
	case "int2", "smallint":
		return storage.TypeInt64, "smallint", nil
	case "int4", "int", "integer":
		return storage.TypeInt64, "integer", nil
	case "int8", "bigint":
		return storage.TypeInt64, "bigint", nil
	case "float4", "real":
		return storage.TypeFloat64, "real", nil
	case "float8", "double precision", "float":
		return storage.TypeFloat64, "double precision", nil
	case "numeric", "decimal":
		if len(tn.Typmods) > 0 {
			// numeric(p,s), p <= 18: exact, stored as int64 value × 10^s (engine/decimal.go)
			t, err := numericTypmod(tn)
			if err != nil {
				return 0, "", err
			}
			if t.IsDecimal() {
				return storage.TypeInt64, t.SQLName(), nil
			}
		}
		// numeric, and numeric(p,s) wider than an int64: exact, as canonical text
		// (storage/numeric.go); the modifier is the column's TypMod
		return storage.TypeString, "numeric", nil
	case "bool", "boolean":
		return storage.TypeBool, "boolean", nil
	case "timestamp":
		return storage.TypeTimestamp, "timestamp", nil
	case "timestamptz":
		return storage.TypeTimestamp, "timestamptz", nil
	case "date": // days since 1970-01-01, as the engine computes dates
		return storage.TypeInt64, "date", nil
	case "uuid": // its canonical text, dictionary encoded (engine/uuid.go)
		return storage.TypeString, "uuid", nil
	case "interval": // its output text (internal/pginterval), dictionary encoded; read back exactly
		return storage.TypeString, "interval", nil
	}
	return 0, "", posErr(engine.Unsupported(fmt.Sprintf("column type %s", name)), tn.Location)
}

// granularities are the segment_granularity values CREATE TABLE accepts.
var granularities = map[string]time.Duration{
	"second": time.Second, "minute": time.Minute, "five_minute": 5 * time.Minute,
	"ten_minute": 10 * time.Minute, "fifteen_minute": 15 * time.Minute,
	"thirty_minute": 30 * time.Minute, "hour": time.Hour, "six_hour": 6 * time.Hour,
	"day": 24 * time.Hour, "week": 7 * 24 * time.Hour,
}

func defString(n *pg.Node) string {
	if n == nil {
		return ""
	}
	switch x := n.Node.(type) {
	case *pg.Node_String_:
		return x.String_.Sval
	case *pg.Node_Integer:
		return strconv.Itoa(int(x.Integer.Ival))
	case *pg.Node_Float:
		return x.Float.Fval
	case *pg.Node_Boolean:
		return strconv.FormatBool(x.Boolean.Boolval)
	case *pg.Node_TypeName:
		return opName(x.TypeName.Names)
	case *pg.Node_AConst:
		switch v := x.AConst.Val.(type) {
		case *pg.A_Const_Sval:
			return v.Sval.Sval
		case *pg.A_Const_Ival:
			return strconv.Itoa(int(v.Ival.Ival))
		case *pg.A_Const_Fval:
			return v.Fval.Fval
		case *pg.A_Const_Boolval:
			return strconv.FormatBool(v.Boolval.Boolval)
		}
	}
	return ""
}

// tableDef builds the catalog definition of CREATE TABLE. The time column is the one
// WITH (time_column = '...') names, else the first NOT NULL timestamp/timestamptz.
func tableDef(cs *pg.CreateStmt) (catalog.TableDef, error) {
	def := catalog.TableDef{Name: cs.Relation.Relname, Granularity: time.Hour}
	for _, e := range cs.TableElts {
		cd := e.GetColumnDef()
		if cd == nil {
			continue // a table constraint: PRIMARY KEY and UNIQUE, see tableKeys
		}
		st, sqlType, err := storedType(cd.TypeName)
		if err != nil {
			return def, err
		}
		typmod, err := columnTypMod(cd.TypeName, sqlType)
		if err != nil {
			return def, err
		}
		col := storage.Column{Name: cd.Colname, Type: st, SQLType: sqlType, TypMod: typmod, NotNull: cd.IsNotNull}
		for _, cn := range cd.Constraints {
			c := cn.GetConstraint()
			switch c.Contype {
			case pg.ConstrType_CONSTR_NOTNULL, pg.ConstrType_CONSTR_PRIMARY:
				col.NotNull = true
			case pg.ConstrType_CONSTR_NULL, pg.ConstrType_CONSTR_UNIQUE:
			default:
				return def, posErr(engine.Unsupported("column constraint "+strings.TrimPrefix(c.Contype.String(), "CONSTR_")), c.Location)
			}
		}
		def.Schema.Columns = append(def.Schema.Columns, col)
	}
	timeCol := ""
	for _, on := range cs.Options {
		d := on.GetDefElem()
		name := strings.ToLower(d.Defname)
		val := defString(d.Arg)
		// Every option is declared in catalog.TableOptions: an unknown one, or a value
		// not of its kind, is 22023 naming the option.
		if err := catalog.CheckOption(name, val); err != nil {
			return def, posErr(engine.Errorf(sqlstate.InvalidParameterValue, "%s", err), d.Location)
		}
		switch name {
		case catalog.OptTimeColumn:
			timeCol = val
		case catalog.OptSegmentGranularity:
			g, ok := granularities[strings.ToLower(val)]
			if !ok {
				return def, engine.Errorf(sqlstate.InvalidParameterValue, "invalid segment_granularity %q", val)
			}
			def.Granularity = g
		default:
			// The cold tier's options (lakeverbs.go) are checked here, so a bad value
			// fails CREATE TABLE rather than every later handoff.
			if v, ok, err := checkLakeOption(name, val); ok {
				if err != nil {
					return def, posErr(err, d.Location)
				}
				val = v
			}
			if def.Options == nil {
				def.Options = map[string]string{}
			}
			def.Options[name] = val
		}
	}
	def.Schema.TimeColumn = -1
	if timeCol != "" {
		i := def.Schema.Index(timeCol)
		if i < 0 {
			return def, engine.Errorf(sqlstate.UndefinedColumn, "time column %q does not exist", timeCol)
		}
		if def.Schema.Columns[i].Type != storage.TypeTimestamp {
			return def, engine.Errorf(sqlstate.DatatypeMismatch, "time column %q must be timestamp or timestamptz", timeCol)
		}
		def.Schema.Columns[i].NotNull = true
		def.Schema.TimeColumn = i
	} else {
		for i, c := range def.Schema.Columns {
			if c.Type == storage.TypeTimestamp && c.NotNull {
				def.Schema.TimeColumn = i
				break
			}
		}
	}
	if def.Schema.TimeColumn < 0 {
		if err := makeLookup(&def, cs); err != nil {
			return def, err
		}
	} else if err := timeTableKeys(cs); err != nil {
		return def, err
	}
	if err := def.Schema.Validate(); err != nil {
		return def, engine.Errorf(sqlstate.InvalidTableDefinition, "table %q: %v", def.Name, err)
	}
	if def.Options[rollup.Option] != "" {
		// A rollup metric keeps sums, minima and maxima of its column: a numeric
		// without a fixed scale stays a double precision metric there.
		for i, c := range def.Schema.Columns {
			if _, _, _, ok := c.NumericTextColumn(); ok {
				def.Schema.Columns[i].Type = storage.TypeFloat64
			}
		}
		phys, err := rollup.SchemaFor(def)
		if err != nil {
			return def, engine.Errorf(sqlstate.InvalidParameterValue, "table %q: %v", def.Name, err)
		}
		def.Schema = phys
	}
	return def, nil
}

func (b *binder) createTable(cs *pg.CreateStmt) (*bound, []engine.Field, error) {
	if cs.Relation.Schemaname != "" && cs.Relation.Schemaname != "public" {
		return nil, nil, engine.Unsupported("schemas")
	}
	if cs.Relation.Relpersistence == "t" {
		return nil, nil, engine.Unsupported("temporary tables")
	}
	if len(cs.InhRelations) > 0 || cs.Partspec != nil || cs.OfTypename != nil {
		return nil, nil, engine.Unsupported("table inheritance and partitioning")
	}
	def, err := tableDef(cs)
	if err != nil {
		return nil, nil, err
	}
	if err := b.need(access{kind: accessCreateTable}); err != nil {
		return nil, nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(def.Options)) {
		if superuserOption(name) {
			if err := b.need(access{kind: accessSuperuser, what: fmt.Sprintf("set table option %q", name)}); err != nil {
				return nil, nil, err
			}
		}
	}
	if stream.IsStreaming(def) {
		if b.db.opts.Ingest == nil {
			return nil, nil, engine.Unsupported("kafka_topic: this server runs without real-time ingestion")
		}
		if err := b.db.opts.Ingest.Validate(def); err != nil {
			return nil, nil, engine.Errorf(sqlstate.InvalidParameterValue, "%v", err)
		}
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		def := def
		if r, ok := s.db.store.Catalog().Role(s.currentUser()); ok {
			def.Owner = r.OID
		}
		def, err := s.db.createTable(ctx, def)
		if errors.Is(err, store.ErrTableExists) {
			if cs.IfNotExists {
				return &Result{Tag: "CREATE TABLE", Notices: []string{fmt.Sprintf("relation %q already exists, skipping", def.Name)}}, nil
			}
			return nil, engine.Errorf(sqlstate.DuplicateTable, "relation %q already exists", def.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("create table %s: %w", def.Name, err)
		}
		if stream.IsStreaming(def) {
			if err := s.db.opts.Ingest.Start(def); err != nil {
				s.db.dropTable(ctx, def.Name)
				return nil, engine.Errorf(sqlstate.InvalidParameterValue, "%v", err)
			}
		}
		return &Result{Tag: "CREATE TABLE"}, nil
	}}, nil, nil
}

func (b *binder) dropTable(ds *pg.DropStmt) (*bound, []engine.Field, error) {
	if ds.RemoveType != pg.ObjectType_OBJECT_TABLE {
		return nil, nil, engine.Unsupported("DROP " + strings.TrimPrefix(ds.RemoveType.String(), "OBJECT_"))
	}
	var names []string
	for _, o := range ds.Objects {
		items := o.GetList().GetItems()
		if len(items) == 0 {
			continue
		}
		if len(items) == 2 && items[0].GetString_().GetSval() != "public" {
			return nil, nil, engine.Unsupported("schemas")
		}
		names = append(names, items[len(items)-1].GetString_().GetSval())
	}
	for _, name := range names {
		if err := b.need(access{kind: accessOwner, table: name}); err != nil {
			return nil, nil, err
		}
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		res := &Result{Tag: "DROP TABLE"}
		for _, name := range names {
			if _, ok := s.db.store.Table(name); !ok {
				if ds.MissingOk {
					res.Notices = append(res.Notices, fmt.Sprintf("table %q does not exist, skipping", name))
					continue
				}
				return nil, engine.Errorf(sqlstate.UndefinedTable, "table %q does not exist", name)
			}
		}
		for _, name := range names {
			if s.db.opts.Ingest != nil {
				s.db.opts.Ingest.Stop(name)
			}
			err := s.db.dropTable(ctx, name)
			if errors.Is(err, store.ErrNoTable) {
				if ds.MissingOk {
					continue
				}
				return nil, engine.Errorf(sqlstate.UndefinedTable, "table %q does not exist", name)
			}
			if err != nil {
				return nil, fmt.Errorf("drop table %s: %w", name, err)
			}
		}
		return res, nil
	}}, nil, nil
}

func (b *binder) showStmt(ss *pg.VariableShowStmt) (*bound, []engine.Field, error) {
	name := strings.ToLower(ss.Name)
	if name == "tables" {
		fields := []engine.Field{{Name: "name", Type: engine.Text}}
		return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
			var rows [][]string
			for _, t := range s.db.store.Tables() {
				rows = append(rows, []string{t.Name})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
			return &Result{Fields: fields, Rows: newTextRows(fields, rows), Tag: "SHOW"}, nil
		}}, fields, nil
	}
	if name == "all" {
		return nil, nil, engine.Unsupported("SHOW ALL")
	}
	def, ok := lookupSetting(name)
	if !ok && !strings.Contains(name, ".") {
		return nil, nil, engine.Errorf(sqlstate.UndefinedObject, "unrecognized configuration parameter %q", name)
	}
	col := name
	if ok {
		col = def.name
	}
	fields := []engine.Field{{Name: col, Type: engine.Text}}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		v, ok := s.setting(name)
		if !ok {
			return nil, engine.Errorf(sqlstate.UndefinedObject, "unrecognized configuration parameter %q", name)
		}
		return &Result{Fields: fields, Rows: newTextRows(fields, [][]string{{v}}), Tag: "SHOW"}, nil
	}}, fields, nil
}

func (b *binder) setStmt(vs *pg.VariableSetStmt) (*bound, []engine.Field, error) {
	name := strings.ToLower(vs.Name)
	if name == "role" {
		return b.setRole(vs)
	}
	switch vs.Kind {
	case pg.VariableSetKind_VAR_SET_MULTI:
		// SET TRANSACTION ..., SET SESSION CHARACTERISTICS (readonly.go).
		return setTransactionBound(vs)
	case pg.VariableSetKind_VAR_RESET_ALL:
		return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
			s.settings = map[string]string{}
			return &Result{Tag: "RESET"}, nil
		}}, nil, nil
	case pg.VariableSetKind_VAR_RESET, pg.VariableSetKind_VAR_SET_DEFAULT:
		tag := "SET"
		if vs.Kind == pg.VariableSetKind_VAR_RESET {
			tag = "RESET"
		}
		if _, ok := lookupSetting(name); !ok && !strings.Contains(name, ".") {
			return nil, nil, engine.Errorf(sqlstate.UndefinedObject, "unrecognized configuration parameter %q", name)
		}
		return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
			delete(s.settings, name)
			return &Result{Tag: tag}, nil
		}}, nil, nil
	case pg.VariableSetKind_VAR_SET_CURRENT:
		return command("SET"), nil, nil
	}
	var parts []string
	for _, a := range vs.Args {
		parts = append(parts, defString(a))
	}
	value := strings.Join(parts, ", ")
	if name == "timezone" && len(vs.Args) == 1 {
		if ic := vs.Args[0].GetTypeCast(); ic != nil {
			value = defString(ic.Arg) // SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE
		}
	}
	// Validate now, so a bad SET fails at Prepare too.
	if err := checkSetting(name, value); err != nil {
		return nil, nil, err
	}
	if superuserSetting(name) {
		if err := b.need(access{kind: accessSetting, what: name}); err != nil {
			return nil, nil, err
		}
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		if err := s.set(name, value); err != nil {
			return nil, err
		}
		return &Result{Tag: "SET"}, nil
	}}, nil, nil
}
