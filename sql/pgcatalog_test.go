package sql

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/sql/internal/slt"
)

// pgTypeFor maps PostgreSQL's type (after resolving domains) to the engine type
// strata uses for it in catalog relations: name, "char", varchar and the
// information_schema text domains are text; oid-like types are bigint.
var pgTypeFor = map[string]engine.Type{
	"text": engine.Text, "name": engine.Text, "char": engine.Text, "varchar": engine.Text, "bpchar": engine.Text,
	"oid": engine.OIDType, "regproc": engine.OIDType, "xid": engine.Int64, "regclass": engine.OIDType, // regproc and regclass columns: oid
	"int2": engine.Int16, "int4": engine.Int32, "int8": engine.Int64, "float4": engine.Float32,
	"bool":         engine.Bool,
	"_aclitem":     engine.Text, // aclitem[] as its text form (rolecatalog.go)
	"pg_node_tree": engine.Text, // column defaults: none in strata
	"_text":        engine.Text, // always NULL in strata (pg_roles.rolconfig)
	"inet":         engine.Text, // as its text form (pg_stat_activity.client_addr): strata has no inet type
	"_oid":         engine.Text, // pg_policy.polroles: pg_policy is empty
	"oidvector":    engine.Text, // pg_proc.proargtypes as its text form ("25 2276")
	"int2vector":   engine.Text, // pg_index.indkey as its text form ("3 2")
	"_char":        engine.Text, // pg_proc.proargmodes as its text form ("{i,v}")
	"_int2":        tInt2Array,  // pg_constraint.conkey
	"timestamptz":  engine.TimestampTZ,
}

// TestCatalogShapesMatchPostgres checks every pg_catalog and information_schema
// relation strata emulates against a real PostgreSQL 15: each column strata has
// exists there under the same name, in the same relative order, with the type
// strata maps PostgreSQL's to; and a table created in both shows the same rows in
// the columns clients read (information_schema.columns's data_type and udt_name,
// pg_attribute's attname/attnum/attnotnull, pg_class's relname/relkind).
func TestCatalogShapesMatchPostgres(t *testing.T) {
	pg := slt.StartPG(t) // fails under CI=true when PostgreSQL 15 is missing
	if pg == nil {
		t.Skip("PostgreSQL 15 server not installed: nothing to compare with (see the warning above)")
	}
	conn := pg.Database(t, "catalog_shapes")
	defer conn.Close(context.Background())
	ctx := context.Background()
	pgQuery := func(q string) [][]string {
		t.Helper()
		res := conn.ExecParams(ctx, q, nil, nil, nil, nil).Read()
		if res.Err != nil {
			t.Fatalf("postgres: %s: %v", q, res.Err)
		}
		var out [][]string
		for _, r := range res.Rows {
			row := make([]string, len(r))
			for i, v := range r {
				if v == nil {
					row[i] = "NULL"
				} else {
					row[i] = string(v)
				}
			}
			out = append(out, row)
		}
		return out
	}
	const ddl = `CREATE TABLE ev (ts timestamptz NOT NULL, user_id text, n integer, big bigint, small smallint, price double precision, r real, ok boolean)`
	pgQuery(ddl)
	s, _ := newTestSession(t)
	mustExec(t, s, ddl)

	// Column shapes: strata's columns, in order, against PostgreSQL's attribute list.
	rels := map[string][]string{"information_schema": {"tables", "columns", "schemata", "table_privileges", "table_constraints", "key_column_usage"}}
	for name := range pgCatalogRelations {
		rels["pg_catalog"] = append(rels["pg_catalog"], name)
	}
	for schema, names := range rels {
		sort.Strings(names)
		for _, name := range names {
			pgCols := pgQuery(fmt.Sprintf(`SELECT a.attname, coalesce(bt.typname, t.typname)
				FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
				JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
				WHERE n.nspname = '%s' AND c.relname = '%s' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, schema, name))
			if len(pgCols) == 0 {
				t.Errorf("%s.%s does not exist in PostgreSQL 15", schema, name)
				continue
			}
			pos := map[string]int{}
			typ := map[string]string{}
			for i, c := range pgCols {
				pos[c[0]], typ[c[0]] = i, c[1]
			}
			res := mustExec(t, s, fmt.Sprintf("SELECT * FROM %s.%s", schema, name))
			res.Rows.Close()
			last := -1
			for _, f := range res.Fields {
				p, ok := pos[f.Name]
				switch {
				case !ok:
					t.Errorf("%s.%s: column %s is not PostgreSQL's", schema, name, f.Name)
				case p <= last:
					t.Errorf("%s.%s: column %s out of PostgreSQL's order", schema, name, f.Name)
				case pgTypeFor[typ[f.Name]] != f.Type && !(strings.HasPrefix(typ[f.Name], "_") && (f.Type == engine.TextArray || f.Type == engine.Text)):
					// an array column is text[] (strata's one array type) or its text form
					t.Errorf("%s.%s.%s: strata %s, PostgreSQL %s", schema, name, f.Name, f.Type, typ[f.Name])
				}
				last = p
			}
		}
	}

	// Rows clients read, for the same table.
	for _, q := range []string{
		`SELECT column_name, ordinal_position, is_nullable, data_type, udt_name, numeric_precision, numeric_precision_radix, numeric_scale, datetime_precision
			FROM information_schema.columns WHERE table_name = 'ev' ORDER BY ordinal_position`,
		`SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_name = 'ev'`,
		`SELECT attname, attnum, attnotnull, attlen FROM pg_catalog.pg_attribute WHERE attrelid = (SELECT oid FROM pg_class WHERE relname = 'ev') AND attnum > 0 ORDER BY attnum`,
		`SELECT relname, relkind, relnatts FROM pg_catalog.pg_class WHERE relname = 'ev'`,
		`SELECT nspname FROM pg_namespace WHERE nspname IN ('public', 'pg_catalog', 'information_schema') ORDER BY 1`,
		`SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT LIKE 'pg_%' ORDER BY 1`,
		`SELECT typname, typlen FROM pg_type WHERE typname IN ('int4', 'int8', 'text', 'timestamptz', 'float8', 'bool') ORDER BY 1`,
	} {
		want := pgQuery(q)
		sq := q
		if strings.Contains(q, "attrelid = (SELECT") {
			// strata has no subqueries in expressions: look the oid up first.
			oid := collect(t, mustExec(t, s, `SELECT oid FROM pg_class WHERE relname = 'ev'`))[0][0]
			sq = strings.Replace(q, "(SELECT oid FROM pg_class WHERE relname = 'ev')", oid, 1)
		}
		got := collect(t, mustExec(t, s, sq))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s\nstrata   %v\npostgres %v", q, got, want)
		}
	}
}
