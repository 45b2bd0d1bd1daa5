package sql

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

// The keys of lookup tables in the catalog. A lookup table's PRIMARY KEY and
// UNIQUE constraints (store.OptPrimaryKey, store.OptUnique) are enforced by strata
// without an index structure; the catalog shows each as PostgreSQL would after
// the same CREATE TABLE: a btree index (a pg_class row of relkind 'i' and a
// pg_index row) and a constraint (pg_constraint, contype 'p' or 'u') owning it,
// named as PostgreSQL names them (<table>_pkey, <table>_<columns>_key, shortened
// to 63 bytes and numbered on a clash) and described by pg_get_indexdef and
// pg_get_constraintdef. So psql's \d lists them under "Indexes:", and drivers'
// getPrimaryKeys/getIndexInfo find them.
//
// Names are chosen over the tables in catalog-id order (creation order), each
// clashing with every table name and every name chosen before it, as
// PostgreSQL's ChooseRelationName does at CREATE TABLE. Index and constraint oids
// are firstKeyOID + table id * 512 + 2k (+1 for the constraint) for the table's
// k-th key: above every table oid a catalog id can make, below 2^31.

const firstKeyOID = 1 << 30

// relKey is one key of a lookup table.
type relKey struct {
	table            catalog.TableDef
	name             string
	primary          bool
	cols             []string
	attnums          []int64 // pg_attribute.attnum of cols
	indexOID, conOID int64
}

// catalogKeys lists the keys of the lookup tables among tables.
func catalogKeys(tables []catalog.TableDef) []relKey {
	byID := append([]catalog.TableDef(nil), tables...)
	sort.Slice(byID, func(i, j int) bool { return byID[i].ID < byID[j].ID })
	used := map[string]bool{}
	for _, t := range byID {
		used[t.Name] = true
	}
	var out []relKey
	for _, t := range byID {
		if !store.IsLookup(&t) {
			continue
		}
		attnum := map[string]int64{}
		for n, i := range visibleColumns(t) {
			attnum[t.Schema.Columns[i].Name] = int64(n + 1)
		}
		var lists [][]string
		primary := t.Options[store.OptPrimaryKey] != ""
		if primary {
			lists = append(lists, strings.Split(t.Options[store.OptPrimaryKey], ","))
		}
		if u := t.Options[store.OptUnique]; u != "" {
			for _, l := range strings.Split(u, ";") {
				lists = append(lists, strings.Split(l, ","))
			}
		}
		for k, cols := range lists {
			key := relKey{table: t, primary: primary && k == 0, cols: cols}
			if key.primary {
				key.name = chooseRelationName(t.Name, "", "pkey", used)
			} else {
				key.name = chooseRelationName(t.Name, indexNameAddition(cols), "key", used)
			}
			used[key.name] = true
			for _, c := range cols {
				key.attnums = append(key.attnums, attnum[c])
			}
			key.indexOID = firstKeyOID + int64(t.ID)*512 + 2*int64(k)
			key.conOID = key.indexOID + 1
			out = append(out, key)
		}
	}
	return out
}

// nameMax is NAMEDATALEN-1: the longest name PostgreSQL keeps, in bytes.
const nameMax = 63

// makeObjectName is PostgreSQL's makeObjectName: name1[_name2][_label], the
// longer of name1 and name2 shortened (at a character boundary) until the whole
// fits in nameMax bytes.
func makeObjectName(name1, name2, label string) string {
	overhead := 0
	if label != "" {
		overhead += len(label) + 1
	}
	if name2 != "" {
		overhead++
	}
	n1, n2 := len(name1), len(name2)
	for n1+n2 > nameMax-overhead {
		if n1 > n2 {
			n1--
		} else {
			n2--
		}
	}
	clip := func(s string, n int) string {
		for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n]
	}
	out := clip(name1, n1)
	if name2 != "" {
		out += "_" + clip(name2, n2)
	}
	if label != "" {
		out += "_" + label
	}
	return out
}

// chooseRelationName is PostgreSQL's ChooseRelationName: makeObjectName, with
// 1, 2, ... appended to the label until the name is not in used.
func chooseRelationName(name1, name2, label string, used map[string]bool) string {
	for pass := 0; ; pass++ {
		l := label
		if pass > 0 {
			l += strconv.Itoa(pass)
		}
		if name := makeObjectName(name1, name2, l); !used[name] {
			return name
		}
	}
}

// indexNameAddition is PostgreSQL's ChooseIndexNameAddition: the column names
// joined by "_", stopping once nameMax bytes are passed.
func indexNameAddition(cols []string) string {
	var b strings.Builder
	for _, c := range cols {
		if b.Len() > 0 {
			b.WriteByte('_')
		}
		if len(c) > nameMax {
			c = c[:nameMax]
		}
		b.WriteString(c)
		if b.Len() > nameMax {
			break
		}
	}
	return b.String()
}

// indexDef is pg_get_indexdef(index, 0, pretty): the CREATE INDEX statement (the
// table qualified by its schema unless pretty, as PostgreSQL does for a table on
// the search path).
func (k *relKey) indexDef(pretty bool) string {
	table := engine.QuoteIdent(k.table.Name)
	if !pretty {
		table = "public." + table
	}
	return "CREATE UNIQUE INDEX " + engine.QuoteIdent(k.name) + " ON " + table + " USING btree (" + k.colList() + ")"
}

// constraintDef is pg_get_constraintdef(constraint).
func (k *relKey) constraintDef() string {
	if k.primary {
		return "PRIMARY KEY (" + k.colList() + ")"
	}
	return "UNIQUE (" + k.colList() + ")"
}

func (k *relKey) colList() string {
	q := make([]string, len(k.cols))
	for i, c := range k.cols {
		q[i] = engine.QuoteIdent(c)
	}
	return strings.Join(q, ", ")
}

// btreeOpclass and typeCollation are pg_index.indclass and indcollation of a
// key column: the type's default btree operator class and collation
// (PostgreSQL 15's oids).
var btreeOpclass = map[string]int64{"boolean": 10003, "bigint": 3124, "smallint": 1979, "integer": 1978, "text": 3126,
	"varchar": 3126, "bpchar": 426, "date": 3122, "real": 10012, "double precision": 3123, "timestamp": 3128, "timestamptz": 3127, "numeric": 3125, "uuid": 10065, "interval": 10022}

func typeCollation(sqlType string) int64 {
	if sqlType == "text" || sqlType == "varchar" || sqlType == "bpchar" {
		return 100 // the database's default collation
	}
	return 0
}

// keyVectors are pg_index's int2vector and oidvector columns of k in their text
// form ("3 2"): indkey, indcollation, indclass, indoption.
func (k *relKey) keyVectors() (indkey, indcollation, indclass, indoption string) {
	var a, b, c, d []string
	for i, name := range k.cols {
		col := k.table.Schema.Columns[k.table.Schema.Index(name)]
		a = append(a, strconv.FormatInt(k.attnums[i], 10))
		b = append(b, strconv.FormatInt(typeCollation(baseSQLType(col.SQLType)), 10))
		c = append(c, strconv.FormatInt(btreeOpclass[baseSQLType(col.SQLType)], 10))
		d = append(d, "0")
	}
	return strings.Join(a, " "), strings.Join(b, " "), strings.Join(c, " "), strings.Join(d, " ")
}

// conkey is pg_constraint.conkey: the attnums as an int2[] in text form.
func (k *relKey) conkey() string {
	s := make([]string, len(k.attnums))
	for i, n := range k.attnums {
		s[i] = strconv.FormatInt(n, 10)
	}
	return "{" + strings.Join(s, ",") + "}"
}

// keyDescribeFunc binds pg_get_indexdef(index [, column, pretty]) and
// pg_get_constraintdef(constraint [, pretty]) over the lookup tables' keys: a
// CASE over their oids, NULL for any other oid (PostgreSQL's answer for an oid
// that is no index or constraint). ok is false for another function or arity.
func (b *binder) keyDescribeFunc(fc *pg.FuncCall, name string, c *exprCtx) (engine.Expr, bool, error) {
	switch {
	case name == "pg_get_indexdef" && (len(fc.Args) == 1 || len(fc.Args) == 3):
	case name == "pg_get_constraintdef" && (len(fc.Args) == 1 || len(fc.Args) == 2):
	default:
		return nil, false, nil
	}
	var args []engine.Expr
	for _, n := range fc.Args {
		e, err := b.expr(n, c)
		if err != nil {
			return nil, true, err
		}
		args = append(args, e)
	}
	if !args[0].Type().IsInteger() && args[0].Type() != engine.Unknown {
		return nil, true, posErr(engine.Errorf(sqlstate.UndefinedFunction, "function %s(%s) does not exist", name, args[0].Type()), fc.Location)
	}
	var err error
	if args[0], err = b.coerce(args[0], engine.Int64); err != nil {
		return nil, true, err
	}
	pretty := engine.Expr(&engine.Const{V: engine.Value{Type: engine.Bool}})
	if len(args) > 1 {
		if pretty, err = b.coerce(args[len(args)-1], engine.Bool); err != nil {
			return nil, true, err
		}
	}
	var column engine.Expr = &engine.Const{V: engine.Value{Type: engine.Int64}}
	if len(args) == 3 {
		if column, err = b.coerce(args[1], engine.Int64); err != nil {
			return nil, true, err
		}
	}
	i8 := func(v int64) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Int64, I: v}} }
	text := func(s string) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Text, S: s}} }
	eq := func(x engine.Expr, v int64) engine.Expr { return engine.MustCall("=", x, i8(v)) }
	var whens []engine.When
	for _, k := range catalogKeys(b.db.store.Tables()) {
		if name == "pg_get_constraintdef" {
			whens = append(whens, engine.When{Cond: eq(args[0], k.conOID), Then: text(k.constraintDef())})
			continue
		}
		// column 0: the statement; column n: the n-th key column's name; past the
		// last column: ''
		def := &engine.Case{Whens: []engine.When{{Cond: pretty, Then: text(k.indexDef(true))}}, Else: text(k.indexDef(false)), T: engine.Text}
		colWhens := []engine.When{{Cond: eq(column, 0), Then: def}}
		for i, col := range k.cols {
			colWhens = append(colWhens, engine.When{Cond: eq(column, int64(i+1)), Then: text(engine.QuoteIdent(col))})
		}
		whens = append(whens, engine.When{Cond: eq(args[0], k.indexOID),
			Then: &engine.Case{Whens: colWhens, Else: text(""), T: engine.Text}})
	}
	if len(whens) == 0 {
		return &engine.Const{V: engine.NullValue(engine.Text)}, true, nil
	}
	return &engine.Case{Whens: whens, Else: &engine.Const{V: engine.NullValue(engine.Text)}, T: engine.Text}, true, nil
}
