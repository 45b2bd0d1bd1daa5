package sql

import (
	"context"
	"sort"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/rollup"
	"github.com/stratadb/strata/storage/store"
)

// The pg_catalog relations clients read to browse a server, built from the store's
// catalog when a statement is prepared, with PostgreSQL 15's column names and
// types (a test compares them with a real PostgreSQL). Columns that hold an oid in
// PostgreSQL are bigint here (strata has no oid type); values follow PostgreSQL's
// conventions (aclitem[] columns are text in aclitem[]'s form, NULL for the
// default privileges, rolecatalog.go): the public schema is oid 2200, pg_catalog
// 11, information_schema 13000 (PostgreSQL assigns the last at initdb), a table's
// oid is 16384 + its catalog id, the one database is oid 5 and the one role
// ("strata") oid 10. Indexes and constraints are the lookup tables' keys
// (pgcatalog_keys.go). Relations a client may probe but strata has nothing for
// (triggers, policies, descriptions, ...) exist with their columns and no rows.

const (
	oidPGCatalog  = 11
	oidPublic     = 2200
	oidInfoSchema = 13000
	oidRole       = 10
	oidDatabase   = 5
	oidHeapAM     = 2
	oidBtreeAM    = 403
	firstTableOID = 16384
	firstCastOID  = 12000 // pg_cast rows: below table oids, above pg_proc's
)

func tableOID(def catalog.TableDef) int64 { return firstTableOID + int64(def.ID) }

type relCol struct {
	name string
	t    engine.Type
}

func cols(spec ...any) []relCol {
	out := make([]relCol, 0, len(spec)/2)
	for i := 0; i < len(spec); i += 2 {
		out = append(out, relCol{spec[i].(string), spec[i+1].(engine.Type)})
	}
	return out
}

var (
	tText, tBool, tInt2, tInt4, tInt8 = engine.Text, engine.Bool, engine.Int16, engine.Int32, engine.Int64
	tOID                              = engine.OIDType // oid columns (and regproc, xid: strata has no xid type)
	tInt2Array                        = engine.Type{ID: engine.TypeInt16Array}
)

// pgCatalogRelations lists each relation's columns (a prefix-free subset of
// PostgreSQL's, in PostgreSQL's order).
var pgCatalogRelations = map[string][]relCol{
	"pg_namespace": cols("oid", tOID, "nspname", tText, "nspowner", tOID),
	"pg_database": cols("oid", tOID, "datname", tText, "datdba", tOID, "encoding", tInt4, "datlocprovider", tText,
		"datistemplate", tBool, "datallowconn", tBool, "datconnlimit", tInt4, "datcollate", tText, "datctype", tText,
		"daticulocale", tText, "datacl", tText),
	"pg_class": cols("oid", tOID, "relname", tText, "relnamespace", tOID, "reltype", tOID, "reloftype", tOID,
		"relowner", tOID, "relam", tOID, "relfilenode", tOID, "reltablespace", tOID, "relpages", tInt4,
		"reltuples", engine.Float32, "relallvisible", tInt4, "reltoastrelid", tOID, "relhasindex", tBool,
		"relisshared", tBool, "relpersistence", tText, "relkind", tText, "relnatts", tInt2, "relchecks", tInt2,
		"relhasrules", tBool, "relhastriggers", tBool, "relhassubclass", tBool, "relrowsecurity", tBool,
		"relforcerowsecurity", tBool, "relispopulated", tBool, "relreplident", tText, "relispartition", tBool,
		"relacl", tText, "reloptions", engine.TextArray, "relpartbound", tText),
	"pg_attribute": cols("attrelid", tOID, "attname", tText, "atttypid", tOID, "attstattarget", tInt4, "attlen", tInt2,
		"attnum", tInt2, "attndims", tInt4, "attcacheoff", tInt4, "atttypmod", tInt4, "attbyval", tBool,
		"attalign", tText, "attstorage", tText, "attcompression", tText, "attnotnull", tBool, "atthasdef", tBool,
		"atthasmissing", tBool, "attidentity", tText, "attgenerated", tText, "attisdropped", tBool,
		"attislocal", tBool, "attinhcount", tInt4, "attcollation", tOID, "attacl", tText),
	"pg_type": cols("oid", tOID, "typname", tText, "typnamespace", tOID, "typowner", tOID, "typlen", tInt2,
		"typbyval", tBool, "typtype", tText, "typcategory", tText, "typispreferred", tBool, "typisdefined", tBool,
		"typdelim", tText, "typrelid", tOID, "typsubscript", tOID, "typelem", tOID, "typarray", tOID,
		"typinput", tOID, "typoutput", tOID, "typreceive", tOID, "typsend", tOID, "typmodin", tOID, "typmodout", tOID,
		"typanalyze", tOID, "typalign", tText, "typstorage", tText, "typnotnull", tBool, "typbasetype", tOID,
		"typtypmod", tInt4, "typndims", tInt4, "typcollation", tOID, "typdefaultbin", tText, "typdefault", tText,
		"typacl", tText),
	"pg_am": cols("oid", tOID, "amname", tText, "amhandler", tOID, "amtype", tText),
	"pg_roles": cols("rolname", tText, "rolsuper", tBool, "rolinherit", tBool, "rolcreaterole", tBool, "rolcreatedb", tBool,
		"rolcanlogin", tBool, "rolreplication", tBool, "rolconnlimit", tInt4, "rolpassword", tText, "rolvaliduntil", engine.TimestampTZ,
		"rolbypassrls", tBool, "rolconfig", tText, "oid", tOID),
	"pg_user": cols("usename", tText, "usesysid", tOID, "usecreatedb", tBool, "usesuper", tBool, "userepl", tBool,
		"usebypassrls", tBool, "passwd", tText, "valuntil", engine.TimestampTZ, "useconfig", tText),
	"pg_authid": cols("oid", tOID, "rolname", tText, "rolsuper", tBool, "rolinherit", tBool, "rolcreaterole", tBool,
		"rolcreatedb", tBool, "rolcanlogin", tBool, "rolreplication", tBool, "rolbypassrls", tBool, "rolconnlimit", tInt4,
		"rolpassword", tText, "rolvaliduntil", engine.TimestampTZ),
	"pg_extension":     cols("oid", tOID, "extname", tText, "extowner", tOID, "extnamespace", tOID, "extrelocatable", tBool, "extversion", tText),
	"pg_settings":      cols("name", tText, "setting", tText, "unit", tText, "category", tText, "short_desc", tText),
	"pg_stat_activity": pgStatActivityColumns,
	"pg_tables": cols("schemaname", tText, "tablename", tText, "tableowner", tText, "tablespace", tText,
		"hasindexes", tBool, "hasrules", tBool, "hastriggers", tBool, "rowsecurity", tBool),
	// present, empty
	"pg_attrdef":     cols("oid", tOID, "adrelid", tOID, "adnum", tInt2, "adbin", tText),
	"pg_description": cols("objoid", tOID, "classoid", tOID, "objsubid", tInt4, "description", tText),
	"pg_collation":   cols("oid", tOID, "collname", tText, "collnamespace", tOID),
	"pg_policy": cols("oid", tOID, "polname", tText, "polrelid", tOID, "polcmd", tText, "polpermissive", tBool,
		"polroles", tText, "polqual", tText, "polwithcheck", tText),
	"pg_statistic_ext":         cols("oid", tOID, "stxrelid", tOID, "stxname", tText, "stxnamespace", tOID),
	"pg_publication":           cols("oid", tOID, "pubname", tText, "pubowner", tOID, "puballtables", tBool),
	"pg_publication_namespace": cols("oid", tOID, "pnpubid", tOID, "pnnspid", tOID),
	"pg_publication_rel":       cols("oid", tOID, "prpubid", tOID, "prrelid", tOID),
	"pg_inherits":              cols("inhrelid", tOID, "inhparent", tOID, "inhseqno", tInt4, "inhdetachpending", tBool),
	// pg_index and pg_constraint: the keys of lookup tables (pgcatalog_keys.go);
	// int2vector and oidvector columns in their text forms ("3 2"), int2[] columns
	// (conkey, confkey) as smallint[] (psycopg2 reads them as lists)
	"pg_index": cols("indexrelid", tOID, "indrelid", tOID, "indnatts", tInt2, "indnkeyatts", tInt2, "indisunique", tBool,
		"indnullsnotdistinct", tBool, "indisprimary", tBool, "indisexclusion", tBool, "indimmediate", tBool,
		"indisclustered", tBool, "indisvalid", tBool, "indcheckxmin", tBool, "indisready", tBool, "indislive", tBool,
		"indisreplident", tBool, "indkey", tText, "indcollation", tText, "indclass", tText, "indoption", tText,
		"indexprs", tText, "indpred", tText),
	"pg_constraint": cols("oid", tOID, "conname", tText, "connamespace", tOID, "contype", tText, "condeferrable", tBool,
		"condeferred", tBool, "convalidated", tBool, "conrelid", tOID, "contypid", tOID, "conindid", tOID,
		"conparentid", tOID, "confrelid", tOID, "confupdtype", tText, "confdeltype", tText, "confmatchtype", tText,
		"conislocal", tBool, "coninhcount", tInt4, "connoinherit", tBool, "conkey", tInt2Array,
		"confkey", tInt2Array, "conpfeqop", tText, "conppeqop", tText,
		"conffeqop", tText, "confdelsetcols", tText, "conexclop", tText, "conbin", tText),
	// the casts between strata's types (engine.Casts)
	"pg_cast": cols("oid", tOID, "castsource", tOID, "casttarget", tOID, "castfunc", tOID, "castcontext", tText,
		"castmethod", tText),
	// pg_default and pg_global
	"pg_tablespace": cols("oid", tOID, "spcname", tText, "spcowner", tOID, "spcacl", tText, "spcoptions", engine.TextArray),
	// present, empty: strata has no user-defined operators, conversions, event
	// triggers, large objects, foreign data, text search or casts of its own
	"pg_operator": cols("oid", tOID, "oprname", tText, "oprnamespace", tOID, "oprowner", tOID, "oprkind", tText,
		"oprcanmerge", tBool, "oprcanhash", tBool, "oprleft", tOID, "oprright", tOID, "oprresult", tOID, "oprcom", tOID,
		"oprnegate", tOID, "oprcode", tOID, "oprrest", tOID, "oprjoin", tOID),
	"pg_conversion": cols("oid", tOID, "conname", tText, "connamespace", tOID, "conowner", tOID, "conforencoding", tInt4,
		"contoencoding", tInt4, "conproc", tOID, "condefault", tBool),
	"pg_event_trigger": cols("oid", tOID, "evtname", tText, "evtevent", tText, "evtowner", tOID, "evtfoid", tOID,
		"evtenabled", tText, "evttags", engine.TextArray),
	"pg_largeobject_metadata": cols("oid", tOID, "lomowner", tOID, "lomacl", tText),
	"pg_foreign_server": cols("oid", tOID, "srvname", tText, "srvowner", tOID, "srvfdw", tOID, "srvtype", tText,
		"srvversion", tText, "srvacl", tText, "srvoptions", engine.TextArray),
	"pg_foreign_data_wrapper": cols("oid", tOID, "fdwname", tText, "fdwowner", tOID, "fdwhandler", tOID,
		"fdwvalidator", tOID, "fdwacl", tText, "fdwoptions", engine.TextArray),
	"pg_foreign_table": cols("ftrelid", tOID, "ftserver", tOID, "ftoptions", engine.TextArray),
	"pg_user_mapping":  cols("oid", tOID, "umuser", tOID, "umserver", tOID, "umoptions", engine.TextArray),
	// views of PostgreSQL's with no rows here: strata has no views, materialized
	// views or table statistics (Metabase reads them while syncing)
	"pg_views": cols("schemaname", tText, "viewname", tText, "viewowner", tText, "definition", tText),
	"pg_matviews": cols("schemaname", tText, "matviewname", tText, "matviewowner", tText, "tablespace", tText,
		"hasindexes", tBool, "ispopulated", tBool, "definition", tText),
	"pg_stat_user_tables": cols("relid", tOID, "schemaname", tText, "relname", tText, "seq_scan", tInt8,
		"seq_tup_read", tInt8, "idx_scan", tInt8, "idx_tup_fetch", tInt8, "n_tup_ins", tInt8, "n_tup_upd", tInt8,
		"n_tup_del", tInt8, "n_tup_hot_upd", tInt8, "n_live_tup", tInt8, "n_dead_tup", tInt8),
	"pg_sequence": cols("seqrelid", tOID, "seqtypid", tOID, "seqstart", tInt8, "seqincrement", tInt8, "seqmax", tInt8,
		"seqmin", tInt8, "seqcache", tInt8, "seqcycle", tBool),
	"pg_enum":         cols("oid", tOID, "enumtypid", tOID, "enumsortorder", engine.Float32, "enumlabel", tText),
	"pg_ts_config":    cols("oid", tOID, "cfgname", tText, "cfgnamespace", tOID, "cfgowner", tOID, "cfgparser", tOID),
	"pg_trigger":      cols("oid", tOID, "tgrelid", tOID, "tgname", tText),
	"pg_auth_members": cols("roleid", tOID, "member", tOID, "grantor", tOID, "admin_option", tBool),
	"pg_range":        cols("rngtypid", tOID, "rngsubtype", tOID),
	// pg_proc: the engine's functions, aggregates and window functions (engine.Procs)
	"pg_proc": cols("oid", tOID, "proname", tText, "pronamespace", tOID, "proowner", tOID, "prolang", tOID,
		"procost", engine.Float32, "prorows", engine.Float32, "provariadic", tOID, "prosupport", tOID, "prokind", tText,
		"prosecdef", tBool, "proleakproof", tBool, "proisstrict", tBool, "proretset", tBool, "provolatile", tText,
		"proparallel", tText, "pronargs", tInt2, "pronargdefaults", tInt2, "prorettype", tOID, "proargtypes", tText,
		"proallargtypes", tText, "proargmodes", tText, "proargnames", tText, "proargdefaults", tText,
		"protrftypes", tText, "prosrc", tText, "probin", tText, "prosqlbody", tText, "proconfig", tText, "proacl", tText),
	"pg_language": cols("oid", tOID, "lanname", tText, "lanowner", tOID, "lanispl", tBool, "lanpltrusted", tBool,
		"lanplcallfoid", tOID, "laninline", tOID, "lanvalidator", tOID, "lanacl", tText),
}

// pgTypeRows are the types strata returns (name, oid, typlen, category).
var pgTypeRows = []struct {
	name string
	oid  int64
	len  int64
	cat  string
}{
	{"bool", 16, 1, "B"}, {"name", 19, 64, "S"}, {"int8", 20, 8, "N"}, {"int2", 21, 2, "N"}, {"int4", 23, 4, "N"}, {"text", 25, -1, "S"},
	{"oid", 26, 4, "N"}, {"float4", 700, 4, "N"}, {"float8", 701, 8, "N"}, {"varchar", 1043, -1, "S"}, {"bpchar", 1042, -1, "S"},
	{"date", 1082, 4, "D"}, {"timestamp", 1114, 8, "D"}, {"timestamptz", 1184, 8, "D"}, {"interval", 1186, 16, "T"},
	{"numeric", 1700, -1, "N"}, {"uuid", 2950, 16, "U"},
}

// udtNames maps a stored SQL type to pg_type.typname (information_schema udt_name).
var udtNames = map[string]string{
	"timestamptz": "timestamptz", "timestamp": "timestamp", "text": "text", "varchar": "varchar", "bpchar": "bpchar", "date": "date",
	"smallint": "int2", "integer": "int4", "bigint": "int8", "real": "float4", "double precision": "float8",
	"numeric": "numeric", "boolean": "bool", "uuid": "uuid", "interval": "interval",
}

var typeOIDs = map[string]int64{
	"timestamptz": 1184, "timestamp": 1114, "text": 25, "varchar": 1043, "bpchar": 1042, "date": 1082, "smallint": 21, "integer": 23,
	"bigint": 20, "real": 700, "double precision": 701, "numeric": 1700, "boolean": 16, "uuid": 2950, "interval": 1186,
}

var typeLens = map[string]int64{"timestamptz": 8, "timestamp": 8, "smallint": 2, "integer": 4, "bigint": 8, "real": 4,
	"double precision": 8, "boolean": 1, "text": -1, "varchar": -1, "bpchar": -1, "date": 4, "numeric": -1, "uuid": 16, "interval": 16}

// visibleColumns are a table's columns as clients see them (a rollup table's hidden
// columns excluded).
func visibleColumns(def catalog.TableDef) []int {
	var out []int
	for i, c := range def.Schema.Columns {
		if def.Options[rollup.Option] != "" && rollup.IsHidden(c.Name) || i == def.Schema.TimeColumn && hiddenTime(def) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// byVal is pg_type.typbyval of a type of length n: fixed-width types up to a
// Datum's 8 bytes are passed by value (uuid and interval, 16, are not).
func byVal(n int64) bool { return n > 0 && n <= 8 }

// typeStorage is pg_type.typstorage (and so attstorage) of a type strata has:
// extended for the variable-length text types, main for numeric, plain otherwise.
func typeStorage(oid int64) string {
	switch oid {
	case 25, 1043, 1042:
		return "x"
	case 1700:
		return "m"
	}
	return "p"
}

// relOptions is pg_class.reloptions of a table: the options given in its WITH
// (name=value, sorted), as PostgreSQL lists a table's storage parameters, with
// segment_granularity when it is not the default (time_column is not kept as an
// option: the column is the table's NOT NULL timestamp). Internal options (a
// lookup table's keys, an external table's mark, and the handoff = off a lookup
// table gets) and secrets (kafka_sasl_password) are left out; nil for none.
func relOptions(def catalog.TableDef) []engine.ArrayElem {
	var out []engine.ArrayElem
	if def.Granularity != catalog.DefaultGranularity {
		for name, d := range granularities {
			if d == def.Granularity {
				out = append(out, engine.ArrayElem{S: catalog.OptSegmentGranularity + "=" + name})
			}
		}
	}
	for name, v := range def.Options {
		o, ok := catalog.LookupOption(name)
		if !ok || o.Internal || o.Secret || store.IsLookup(&def) && name == store.OptHandoff {
			continue
		}
		out = append(out, engine.ArrayElem{S: name + "=" + v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].S < out[j].S })
	return out
}

// hiddenTime reports whether def's time column is a hidden constant one: an
// external Delta table's created without a time_column, or a lookup table's.
func hiddenTime(def catalog.TableDef) bool {
	return store.IsLookup(&def) || store.IsExternal(&def) && def.Options[store.OptTimeColumn] == ""
}

// pgCatalog binds a pg_catalog relation; ok is false when rv names none (or a
// user table of the same name shadows it, unqualified). err is a refused read
// (pg_authid by a non-superuser).
func (b *binder) pgCatalog(rv *pg.RangeVar) (_ engine.Plan, _ []string, ok bool, err error) {
	if rv.Schemaname != "pg_catalog" && rv.Schemaname != "" {
		return nil, nil, false, nil
	}
	rel, ok := pgCatalogRelations[rv.Relname]
	if !ok {
		return nil, nil, false, nil
	}
	if _, user := b.db.store.Table(rv.Relname); user && rv.Schemaname == "" {
		return nil, nil, false, nil
	}
	if rv.Relname == "pg_authid" {
		// Password verifiers: superusers only, as PostgreSQL.
		if err := b.need(access{kind: accessSuperuserCatalog, table: rv.Relname}); err != nil {
			return nil, nil, true, posErr(err.(*engine.Error), rv.Location)
		}
	}
	tables := b.db.store.Tables()
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	c := func(v engine.Value) engine.Expr { return &engine.Const{V: v} }
	text := func(s string) engine.Expr { return c(engine.Value{Type: engine.Text, S: s}) }
	i8 := func(v int64) engine.Expr { return c(engine.Value{Type: engine.Int64, I: v}) }
	i4 := func(v int64) engine.Expr { return c(engine.Value{Type: engine.Int32, I: v}) }
	i2 := func(v int64) engine.Expr { return c(engine.Value{Type: engine.Int16, I: v}) }
	bl := func(v bool) engine.Expr { return c(engine.Value{Type: engine.Bool, B: v}) }
	null := func(t engine.Type) engine.Expr { return c(engine.NullValue(t)) }
	var rows [][]engine.Expr
	switch rv.Relname {
	case "pg_namespace":
		rows = [][]engine.Expr{
			{i8(oidPGCatalog), text("pg_catalog"), i8(oidRole)},
			{i8(oidPublic), text("public"), i8(oidRole)},
			{i8(oidInfoSchema), text("information_schema"), i8(oidRole)},
		}
	case "pg_database":
		rows = [][]engine.Expr{{i8(oidDatabase), text(b.database), i8(oidRole), i4(6), text("c"), bl(false), bl(true),
			i4(-1), text("C.UTF-8"), text("C.UTF-8"), null(tText), null(tText)}}
	case "pg_class":
		cat := b.db.store.Catalog()
		names := roleNames(cat)
		keys := catalogKeys(tables)
		hasKeys := map[string]bool{}
		for _, k := range keys {
			hasKeys[k.table.Name] = true
		}
		for _, t := range tables {
			opts := null(engine.TextArray)
			if o := relOptions(t); o != nil {
				opts = c(engine.Value{Type: engine.TextArray, S: engine.FormatTextArray(o)})
			}
			rows = append(rows, []engine.Expr{i8(tableOID(t)), text(t.Name), i8(oidPublic), i8(0), i8(0), i8(int64(t.OwnerOID())),
				i8(oidHeapAM), i8(tableOID(t)), i8(0), i4(0), c(engine.Value{Type: engine.Float32, F: -1}), i4(0), i8(0),
				bl(hasKeys[t.Name]), bl(false), text("p"), text("r"), i2(int64(len(visibleColumns(t)))), i2(0), bl(false), bl(false),
				bl(false), bl(false), bl(false), bl(true), text("d"), bl(false), relACL(cat, &t, names), opts, null(tText)})
		}
		for _, k := range keys {
			rows = append(rows, []engine.Expr{i8(k.indexOID), text(k.name), i8(oidPublic), i8(0), i8(0), i8(int64(k.table.OwnerOID())),
				i8(oidBtreeAM), i8(k.indexOID), i8(0), i4(1), c(engine.Value{Type: engine.Float32, F: 0}), i4(0), i8(0),
				bl(false), bl(false), text("p"), text("i"), i2(int64(len(k.cols))), i2(0), bl(false), bl(false),
				bl(false), bl(false), bl(false), bl(true), text("n"), bl(false), null(tText), null(engine.TextArray), null(tText)})
		}
	case "pg_index":
		for _, k := range catalogKeys(tables) {
			indkey, indcoll, indclass, indopt := k.keyVectors()
			n := int64(len(k.cols))
			rows = append(rows, []engine.Expr{i8(k.indexOID), i8(tableOID(k.table)), i2(n), i2(n), bl(true), bl(false),
				bl(k.primary), bl(false), bl(true), bl(false), bl(true), bl(false), bl(true), bl(true), bl(false),
				text(indkey), text(indcoll), text(indclass), text(indopt), null(tText), null(tText)})
		}
	case "pg_constraint":
		for _, k := range catalogKeys(tables) {
			contype := "u"
			if k.primary {
				contype = "p"
			}
			na := null(tText)
			rows = append(rows, []engine.Expr{i8(k.conOID), text(k.name), i8(oidPublic), text(contype), bl(false), bl(false),
				bl(true), i8(tableOID(k.table)), i8(0), i8(k.indexOID), i8(0), i8(0), text(" "), text(" "), text(" "),
				bl(true), i4(0), bl(true), c(engine.Value{Type: tInt2Array, S: k.conkey()}), null(tInt2Array),
				na, na, na, na, na, null(tText)})
		}
	case "pg_cast":
		for i, ci := range engine.Casts() {
			fn, method := int64(0), "b"
			if ci.Func != nil {
				fn, method = ci.Func.OID, "f"
			}
			rows = append(rows, []engine.Expr{i8(firstCastOID + int64(i)), i8(ci.Source), i8(ci.Target), i8(fn),
				text(string(ci.Context)), text(method)})
		}
	case "pg_tablespace":
		rows = [][]engine.Expr{
			{i8(1663), text("pg_default"), i8(oidRole), null(tText), null(engine.TextArray)},
			{i8(1664), text("pg_global"), i8(oidRole), null(tText), null(engine.TextArray)},
		}
	case "pg_attribute":
		for _, t := range tables {
			for n, i := range visibleColumns(t) {
				col := t.Schema.Columns[i]
				rows = append(rows, []engine.Expr{i8(tableOID(t)), text(col.Name), i8(typeOIDs[baseSQLType(col.SQLType)]), i4(-1),
					i2(typeLens[baseSQLType(col.SQLType)]), i2(int64(n + 1)), i4(0), i4(-1), i4(columnTypmod(col)), bl(byVal(typeLens[baseSQLType(col.SQLType)])),
					text("d"), text(typeStorage(typeOIDs[baseSQLType(col.SQLType)])), text(""), bl(col.NotNull), bl(false), bl(false), text(""), text(""), bl(false),
					bl(true), i4(0), i8(typeCollation(baseSQLType(col.SQLType))), null(tText)})
			}
		}
		// an index's columns, as PostgreSQL lists them for the index relation
		for _, k := range catalogKeys(tables) {
			for n, name := range k.cols {
				col := k.table.Schema.Columns[k.table.Schema.Index(name)]
				rows = append(rows, []engine.Expr{i8(k.indexOID), text(col.Name), i8(typeOIDs[baseSQLType(col.SQLType)]), i4(-1),
					i2(typeLens[baseSQLType(col.SQLType)]), i2(int64(n + 1)), i4(0), i4(-1), i4(columnTypmod(col)), bl(byVal(typeLens[baseSQLType(col.SQLType)])),
					text("d"), text(typeStorage(typeOIDs[baseSQLType(col.SQLType)])), text(""), bl(false), bl(false), bl(false), text(""), text(""), bl(false),
					bl(true), i4(0), i8(typeCollation(baseSQLType(col.SQLType))), null(tText)})
			}
		}
	case "pg_type":
		for _, ty := range pgTypeRows {
			coll := int64(0)
			if ty.cat == "S" {
				coll = 100
			}
			rows = append(rows, []engine.Expr{i8(ty.oid), text(ty.name), i8(oidPGCatalog), i8(oidRole), i2(ty.len),
				bl(byVal(ty.len)), text("b"), text(ty.cat), bl(false), bl(true), text(","), i8(0), i8(0), i8(0), i8(0),
				i8(0), i8(0), i8(0), i8(0), i8(0), i8(0), i8(0), text("d"), text(typeStorage(ty.oid)), bl(false), i8(0), i4(-1), i4(0),
				i8(coll), null(tText), null(tText), null(tText)})
		}
	case "pg_am":
		rows = [][]engine.Expr{{i8(oidHeapAM), text("heap"), i8(0), text("t")}, {i8(oidBtreeAM), text("btree"), i8(0), text("i")}}
	case "pg_proc":
		rows = procRows()
	case "pg_language":
		// PostgreSQL 15's built-in languages; every strata function is "internal"
		for _, l := range []struct {
			oid         int64
			name        string
			pl, trusted bool
		}{{12, "internal", false, false}, {13, "c", false, false}, {14, "sql", false, true}} {
			rows = append(rows, []engine.Expr{i8(l.oid), text(l.name), i8(oidRole), bl(l.pl), bl(l.trusted), i8(0), i8(0), i8(0), null(tText)})
		}
	case "pg_roles", "pg_authid", "pg_user", "pg_auth_members":
		rows, _ = b.roleRows(rv.Relname)
	case "pg_settings":
		for _, s := range settingRows() {
			rows = append(rows, []engine.Expr{text(s[0]), text(s[1]), null(tText), text("strata"), text(s[2])})
		}
	case "pg_stat_activity":
		rows = activityPlaceholder()
	case "pg_tables":
		names := roleNames(b.db.store.Catalog())
		for _, t := range tables {
			rows = append(rows, []engine.Expr{text("public"), text(t.Name), text(names[t.OwnerOID()]), null(tText), bl(false), bl(false), bl(false), bl(false)})
		}
	}
	names := make([]string, len(rel))
	types := make([]engine.Type, len(rel))
	for i, col := range rel {
		names[i], types[i] = col.name, col.t
	}
	if oid, ok := catalogOIDs[rv.Relname]; ok {
		// the system column tableoid (psql joins pg_description on it); the
		// caller keeps it out of *
		// (rows may be shared, as pg_proc's are: copied, never appended to in place)
		names, types = append(names, "tableoid"), append(types, tOID)
		with := make([][]engine.Expr, len(rows))
		for i, r := range rows {
			with[i] = append(r[:len(r):len(r)], i8(oid))
		}
		rows = with
	}
	return valuesPlan(names, types, rows), names, true, nil
}

// schemataRows is information_schema.schemata.
func (b *binder) schemataRows() ([]string, []engine.Type, [][]engine.Expr) {
	text := func(s string) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Text, S: s}} }
	var rows [][]engine.Expr
	for _, s := range []string{"information_schema", "pg_catalog", "public"} {
		rows = append(rows, []engine.Expr{text(b.database), text(s), text("strata")})
	}
	return []string{"catalog_name", "schema_name", "schema_owner"}, []engine.Type{tText, tText, tText}, rows
}

// catalogOIDs are PostgreSQL's fixed oids of the catalog relations clients name.
var catalogOIDs = map[string]int64{"pg_class": 1259, "pg_attribute": 1249, "pg_type": 1247, "pg_proc": 1255,
	"pg_namespace": 2615, "pg_database": 1262, "pg_constraint": 2606, "pg_description": 2609,
	"pg_extension": 3079, "pg_am": 2601, "pg_attrdef": 2604, "pg_collation": 3456, "pg_index": 2610,
	"pg_inherits": 2611, "pg_trigger": 2620, "pg_policy": 3256, "pg_publication": 6104, "pg_authid": 1260,
	"pg_statistic_ext": 3381, "pg_publication_rel": 6106, "pg_publication_namespace": 6237, "pg_language": 2612,
	"pg_tablespace": 1213, "pg_operator": 2617, "pg_conversion": 2607, "pg_event_trigger": 3466,
	"pg_largeobject_metadata": 2995, "pg_foreign_server": 1417, "pg_foreign_data_wrapper": 2328, "pg_ts_config": 3602,
	"pg_foreign_table": 3118, "pg_cast": 2605, "pg_enum": 3501, "pg_sequence": 2224, "pg_user_mapping": 1418, "pg_auth_members": 1261, "pg_range": 3541}

// relationSize binds pg_table_size(oid) and its siblings: the bytes of a strata
// table's segments and lake files (store.TableBytes), as of binding; NULL for any
// other oid (PostgreSQL's answer for an oid that is no relation).
func (b *binder) relationSize(fc *pg.FuncCall, c *exprCtx) (engine.Expr, error) {
	x, err := b.expr(fc.Args[0], c)
	if err != nil {
		return nil, err
	}
	if !x.Type().IsInteger() {
		return nil, posErr(engine.Errorf(sqlstate.UndefinedFunction, "function %s(%s) does not exist", funcName(fc), x.Type()), fc.Location)
	}
	i8 := func(v int64) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Int64, I: v}} }
	expr := engine.Expr(&engine.Const{V: engine.NullValue(engine.Int64)})
	for _, def := range b.db.store.Tables() {
		n, err := b.db.store.TableBytes(context.Background(), def.Name)
		if err != nil {
			return nil, err
		}
		expr = &engine.Case{Whens: []engine.When{{Cond: engine.MustCall("=", x, i8(tableOID(def))),
			Then: i8(n)}}, Else: expr, T: engine.Int64}
	}
	return expr, nil
}

// emptyCatalogRelations are the pg_catalog relations that never have rows in strata.
var emptyCatalogRelations = map[string]bool{"pg_attrdef": true, "pg_description": true, "pg_collation": true,
	"pg_policy": true, "pg_statistic_ext": true, "pg_publication": true, "pg_publication_namespace": true,
	"pg_publication_rel": true, "pg_inherits": true, "pg_trigger": true, "pg_range": true, "pg_extension": true,
	"pg_operator": true, "pg_conversion": true, "pg_event_trigger": true, "pg_largeobject_metadata": true,
	"pg_foreign_server": true, "pg_foreign_data_wrapper": true, "pg_foreign_table": true, "pg_user_mapping": true,
	"pg_ts_config": true, "pg_enum": true, "pg_sequence": true, "pg_views": true, "pg_matviews": true,
	"pg_stat_user_tables": true}

// readsOnlyEmptyCatalog reports whether a non-aggregating SELECT reads a FROM item
// that is always empty here (a comma join, or an inner join, with an empty side is
// empty), so it returns no rows.
func readsOnlyEmptyCatalog(sel *pg.SelectStmt) bool {
	if sel == nil || len(sel.FromClause) == 0 || sel.GroupClause != nil || containsAggTargets(sel) {
		return false
	}
	var empty func(n *pg.Node) bool
	empty = func(n *pg.Node) bool {
		switch x := n.Node.(type) {
		case *pg.Node_RangeVar:
			return (x.RangeVar.Schemaname == "" || x.RangeVar.Schemaname == "pg_catalog") && emptyCatalogRelations[x.RangeVar.Relname]
		case *pg.Node_JoinExpr:
			switch x.JoinExpr.Jointype {
			case pg.JoinType_JOIN_INNER:
				return empty(x.JoinExpr.Larg) || empty(x.JoinExpr.Rarg)
			case pg.JoinType_JOIN_LEFT:
				return empty(x.JoinExpr.Larg)
			case pg.JoinType_JOIN_RIGHT:
				return empty(x.JoinExpr.Rarg)
			}
			return false
		}
		return false
	}
	for _, f := range sel.FromClause {
		if empty(f) {
			return true
		}
	}
	return false
}

// containsAggTargets reports whether a select list aggregates (an aggregate over no
// rows is a row, not NULL).
func containsAggTargets(sel *pg.SelectStmt) bool {
	for _, t := range sel.TargetList {
		if containsAgg(t.GetResTarget().Val) {
			return true
		}
	}
	return false
}

// emptyCatalogSelect answers a non-aggregating SELECT whose FROM reads only
// relations that are always empty here (psql's \d asks pg_policy, pg_statistic_ext,
// pg_publication, pg_inherits ... about every table): no rows, with the select
// list's column names (typed text). Its expressions are not bound: over no rows they
// are never evaluated, and they use functions and array syntax strata lacks.
func emptyCatalogSelect(sel *pg.SelectStmt) (engine.Plan, []string, bool) {
	if sel == nil {
		return nil, nil, false
	}
	if sel.Op != pg.SetOperation_SETOP_NONE && sel.Op != pg.SetOperation_SET_OPERATION_UNDEFINED {
		p, names, ok := emptyCatalogSelect(sel.Larg)
		if !ok {
			return nil, nil, false
		}
		if _, _, ok := emptyCatalogSelect(sel.Rarg); !ok {
			return nil, nil, false
		}
		return p, names, true
	}
	if !readsOnlyEmptyCatalog(sel) {
		return nil, nil, false
	}
	var names []string
	var types []engine.Type
	// a column of the relations read keeps its type (x IN (SELECT enumtypid FROM
	// pg_enum) compares oids); any other item is text
	colType := map[string]engine.Type{}
	var rels func(n *pg.Node)
	rels = func(n *pg.Node) {
		switch x := n.Node.(type) {
		case *pg.Node_RangeVar:
			for _, c := range pgCatalogRelations[x.RangeVar.Relname] {
				colType[c.name] = c.t
			}
		case *pg.Node_JoinExpr:
			rels(x.JoinExpr.Larg)
			rels(x.JoinExpr.Rarg)
		}
	}
	for _, f := range sel.FromClause {
		rels(f)
	}
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if cr := rt.Val.GetColumnRef(); cr != nil && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			return nil, nil, false // SELECT *: bound normally (the relations exist, empty)
		}
		name := rt.Name
		if name == "" {
			if cr := rt.Val.GetColumnRef(); cr != nil {
				name = cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
			} else if fc := rt.Val.GetFuncCall(); fc != nil {
				name = funcName(fc)
			} else {
				name = "?column?"
			}
		}
		t := engine.Text
		if cr := rt.Val.GetColumnRef(); cr != nil {
			if ct, ok := colType[cr.Fields[len(cr.Fields)-1].GetString_().GetSval()]; ok {
				t = ct
			}
		}
		names = append(names, name)
		types = append(types, t)
	}
	return valuesPlan(names, types, nil), names, true
}

// baseSQLType is a stored column type without its modifier: numeric for
// numeric(10,2), the key of the per-type tables here.
func baseSQLType(s string) string {
	if t, ok := engine.DecimalByName(s); ok {
		return t.String()
	}
	return s
}

// columnTypmod is pg_attribute.atttypmod of a column: its stored modifier, or for
// a numeric(p,s) column without one (a Delta decimal(p,s) read exactly) its
// type's ((p << 16) | s) + 4; -1 for none.
func columnTypmod(col storage.Column) int64 {
	if col.TypMod != 0 {
		return atttypmod(col.TypMod)
	}
	if t, ok := engine.DecimalByName(col.SQLType); ok {
		return int64(t.Typmod())
	}
	return -1
}
