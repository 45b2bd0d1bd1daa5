package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratadb/strata/internal/pgtest"
)

// Metabase's PostgreSQL driver syncs a database with the queries below, written
// out from the HoneySQL of metabase/metabase src/metabase/driver/postgres.clj
// (commit 370249b5 and later: get-tables-sql, current-user-table-privileges,
// enum-types, describe-fields-sql, describe-fks-sql, describe-indexes-sql) as
// its ANSI dialect renders them: identifiers in double quotes, the string values
// HoneySQL makes parameters sent as parameters ($n), which PgJDBC sends through
// the extended protocol as pgx does here. describe-fields-sql is the one Metabase
// runs per batch of tables to learn their columns (its database-type is
// information_schema.columns's udt_name, so a varchar(20) column is "varchar").
var metabaseSyncQueries = []struct {
	name string
	sql  string
	args []any
	// skip names result columns that differ by nature (table statistics)
	skip map[string]bool
	// unordered: the query has no ORDER BY (Metabase reads a set); rows are sorted
	unordered bool
}{
	{name: "db-default-timezone", sql: "show timezone;"},
	{name: "enum-types", sql: "SELECT nspname, typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace " +
		"WHERE t.oid IN (SELECT DISTINCT enumtypid FROM pg_enum e)"},
	{name: "current-user-table-privileges", sql: `with table_privileges as (
 select
   NULL as role,
   t.schemaname as schema,
   t.objectname as table,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'update') as update,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'select') as select,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'insert') as insert,
   pg_catalog.has_table_privilege(     current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'delete') as delete
 from (
   select schemaname, tablename as objectname from pg_catalog.pg_tables
   union
   select schemaname, viewname as objectname from pg_catalog.pg_views
   union
   select schemaname, matviewname as objectname from pg_catalog.pg_matviews
 ) t
 where t.schemaname !~ '^pg_'
   and t.schemaname <> 'information_schema'
   and pg_catalog.has_schema_privilege(current_user, t.schemaname, 'usage')
)
select t.*
from table_privileges t`, unordered: true},
	{name: "get-tables", sql: `SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' ` +
		`WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", ` +
		`"d"."description" AS "description", "stat"."n_live_tup" AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" ` +
		`INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" ` +
		`LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = 0) AND ("d"."classoid" = 'pg_class'::regclass) ` +
		`LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") ` +
		`WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ $1) AND ("n"."nspname" <> $2) AND c.relkind in ('r', 'p', 'v', 'f', 'm') ` +
		`AND ("n"."nspname" IN ($3)) ORDER BY "type" ASC, "schema" ASC, "name" ASC`,
		args: []any{"^pg_", "information_schema", "public"},
		// PostgreSQL's live-tuple statistics; strata keeps none (NULL, which
		// Metabase reads as unknown)
		skip: map[string]bool{"estimated_row_count": true}},
	{name: "describe-fields", sql: `SELECT "c"."column_name" AS "name", ` +
		`CASE WHEN "c"."udt_schema" IN ('public', 'pg_catalog') THEN FORMAT('%s', "c"."udt_name") ` +
		`ELSE FORMAT('"%s"."%s"', "c"."udt_schema", "c"."udt_name") END AS "database-type", ` +
		`"c"."ordinal_position" - 1 AS "database-position", "c"."table_schema" AS "table-schema", "c"."table_name" AS "table-name", ` +
		`"pk"."column_name" IS NOT NULL AS "pk?", ` +
		`COL_DESCRIPTION(CAST(CAST(FORMAT('%I.%I', CAST("c"."table_schema" AS TEXT), CAST("c"."table_name" AS TEXT)) AS REGCLASS) AS OID), "c"."ordinal_position") AS "field-comment", ` +
		`(("column_default" IS NULL) OR (LOWER("column_default") = 'null')) AND ("is_nullable" = 'NO') ` +
		`AND NOT ((("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO')) AS "database-required", ` +
		`(("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO') AS "database-is-auto-increment" ` +
		`FROM "information_schema"."columns" AS "c" ` +
		`LEFT JOIN (SELECT "tc"."table_schema", "tc"."table_name", "kc"."column_name" FROM "information_schema"."table_constraints" AS "tc" ` +
		`INNER JOIN "information_schema"."key_column_usage" AS "kc" ON ("tc"."constraint_name" = "kc"."constraint_name") ` +
		`AND ("tc"."table_schema" = "kc"."table_schema") AND ("tc"."table_name" = "kc"."table_name") ` +
		`WHERE "tc"."constraint_type" = 'PRIMARY KEY') AS "pk" ON ("c"."table_schema" = "pk"."table_schema") ` +
		`AND ("c"."table_name" = "pk"."table_name") AND ("c"."column_name" = "pk"."column_name") ` +
		`WHERE c.table_schema !~ '^information_schema|catalog_history|pg_' AND ("c"."table_schema" IN ($1)) AND ("c"."table_name" IN ($2, $3, $4)) ` +
		`UNION ALL ` +
		`SELECT "pa"."attname" AS "name", ` +
		`CASE WHEN "ptn"."nspname" IN ('public', 'pg_catalog') THEN FORMAT('%s', "pt"."typname") ` +
		`ELSE FORMAT('"%s"."%s"', "ptn"."nspname", "pt"."typname") END AS "database-type", ` +
		`"pa"."attnum" - 1 AS "database-position", "pn"."nspname" AS "table-schema", "pc"."relname" AS "table-name", ` +
		`FALSE AS "pk?", NULL AS "field-comment", FALSE AS "database-required", FALSE AS "database-is-auto-increment" ` +
		`FROM "pg_catalog"."pg_class" AS "pc" INNER JOIN "pg_catalog"."pg_namespace" AS "pn" ON "pn"."oid" = "pc"."relnamespace" ` +
		`INNER JOIN "pg_catalog"."pg_attribute" AS "pa" ON "pa"."attrelid" = "pc"."oid" ` +
		`INNER JOIN "pg_catalog"."pg_type" AS "pt" ON "pt"."oid" = "pa"."atttypid" ` +
		`INNER JOIN "pg_catalog"."pg_namespace" AS "ptn" ON "ptn"."oid" = "pt"."typnamespace" ` +
		`WHERE ("pc"."relkind" = 'm') AND ("pa"."attnum" >= 1) AND ("pn"."nspname" IN ($5)) AND ("pc"."relname" IN ($6, $7, $8)) ` +
		`ORDER BY "table-schema" ASC, "table-name" ASC, "database-position" ASC`,
		args: []any{"public", "events", "products", "users", "public", "events", "products", "users"}},
	{name: "describe-fks", sql: `SELECT "fk_ns"."nspname" AS "fk-table-schema", "fk_table"."relname" AS "fk-table-name", ` +
		`"fk_column"."attname" AS "fk-column-name", "pk_ns"."nspname" AS "pk-table-schema", "pk_table"."relname" AS "pk-table-name", ` +
		`"pk_column"."attname" AS "pk-column-name" FROM "pg_constraint" AS "c" INNER JOIN "pg_class" AS "fk_table" ON "c"."conrelid" = "fk_table"."oid" ` +
		`INNER JOIN "pg_namespace" AS "fk_ns" ON "c"."connamespace" = "fk_ns"."oid" INNER JOIN "pg_attribute" AS "fk_column" ON "c"."conrelid" = "fk_column"."attrelid" ` +
		`INNER JOIN "pg_class" AS "pk_table" ON "c"."confrelid" = "pk_table"."oid" INNER JOIN "pg_namespace" AS "pk_ns" ON "pk_table"."relnamespace" = "pk_ns"."oid" ` +
		`INNER JOIN "pg_attribute" AS "pk_column" ON "c"."confrelid" = "pk_column"."attrelid" ` +
		`WHERE (fk_ns.nspname !~ '^information_schema|catalog_history|pg_') AND ("c"."contype" = 'f'::char) AND ("fk_column"."attnum" = ANY(c.conkey)) ` +
		`AND ("pk_column"."attnum" = ANY(c.confkey)) AND ("fk_ns"."nspname" IN ($1)) ORDER BY "fk-table-schema" ASC, "fk-table-name" ASC`,
		args: []any{"public"}},
	{name: "describe-indexes", sql: `SELECT "tmp"."table-schema", "tmp"."table-name", TRIM(BOTH '"' FROM PG_CATALOG.PG_GET_INDEXDEF("tmp"."ci_oid", "tmp"."pos", FALSE)) AS "field-name" ` +
		`FROM (SELECT "n"."nspname" AS "table-schema", "ct"."relname" AS "table-name", "ci"."oid" AS "ci_oid", (INFORMATION_SCHEMA._PG_EXPANDARRAY("i"."indkey")).n AS "pos" ` +
		`FROM "pg_catalog"."pg_class" AS "ct" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "ct"."relnamespace" = "n"."oid" ` +
		`INNER JOIN "pg_catalog"."pg_index" AS "i" ON "ct"."oid" = "i"."indrelid" INNER JOIN "pg_catalog"."pg_class" AS "ci" ON "ci"."oid" = "i"."indexrelid" ` +
		`WHERE (PG_CATALOG.PG_GET_EXPR("i"."indpred", "i"."indrelid") IS NULL) AND (n.nspname !~ '^information_schema|catalog_history|pg_') ` +
		`AND ("n"."nspname" IN ($1))) AS "tmp" WHERE "tmp"."pos" = 1 ORDER BY 2, 3`,
		args: []any{"public"}},
}

// metabaseSchema: an event table and lookup tables with a primary key and unique
// constraints (one of two columns, whose first column is what describe-indexes
// reports), as an e-commerce database Metabase would sync.
var metabaseSchema = []string{
	`CREATE TABLE events (ts timestamptz NOT NULL, user_id text, product_id text, price double precision, qty integer)`,
	`CREATE TABLE products (product_id text PRIMARY KEY, name varchar(200) NOT NULL, sku text UNIQUE, price numeric(10,2))`,
	`CREATE TABLE users (id bigint PRIMARY KEY, email text, country text, UNIQUE (country, email))`,
}

// TestMetabaseSyncQueries runs Metabase's sync queries (metabaseSyncQueries)
// through pgx against strata and against PostgreSQL 15 with the same schema, and
// requires the same rows (ORDER BY added to describe-indexes, whose order
// Metabase does not fix).
func TestMetabaseSyncQueries(t *testing.T) {
	pg := pgtest.Shared(t)
	s := startStrata(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pgConn := freshPGDatabase(ctx, t, pg, "metabase_sync")
	stConn, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer stConn.Close(ctx)
	for _, q := range metabaseSchema {
		for _, c := range []*pgx.Conn{pgConn, stConn} {
			if _, err := c.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	rows := func(c *pgx.Conn, q string, args []any, skip map[string]bool) ([]string, error) {
		r, err := c.Query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		var out []string
		for r.Next() {
			vals, err := r.Values()
			if err != nil {
				return nil, err
			}
			var cells []string
			for i, f := range r.FieldDescriptions() {
				if skip[f.Name] {
					continue
				}
				cells = append(cells, f.Name+"="+fmt.Sprint(vals[i]))
			}
			out = append(out, strings.Join(cells, " "))
		}
		return out, r.Err()
	}
	for _, q := range metabaseSyncQueries {
		want, err := rows(pgConn, q.sql, q.args, q.skip)
		if err != nil {
			t.Fatalf("%s on PostgreSQL: %v", q.name, err)
		}
		got, err := rows(stConn, q.sql, q.args, q.skip)
		if err != nil {
			t.Errorf("%s on strata: %v", q.name, err)
			continue
		}
		if q.unordered {
			sort.Strings(got)
			sort.Strings(want)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: strata\n%s\nPostgreSQL\n%s", q.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if q.name == "describe-indexes" && len(got) != 4 {
			t.Errorf("describe-indexes: %d rows, want the first column of each of the 4 keys", len(got))
		}
		if q.name == "describe-fields" && len(got) != 12 {
			t.Errorf("describe-fields: %d rows, want one per column of the 3 tables (12)", len(got))
		}
		if testing.Verbose() {
			t.Logf("%s on strata:\n%s", q.name, strings.Join(got, "\n"))
		}
	}
}

// freshPGDatabase creates database name anew on the shared PostgreSQL server pg
// (other tests list the postgres database, so a test's tables go elsewhere) and
// returns a connection to it, closed at the end of the test.
func freshPGDatabase(ctx context.Context, t *testing.T, pg *pgtest.Server, name string) *pgx.Conn {
	t.Helper()
	admin, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, q := range []string{"DROP DATABASE IF EXISTS " + name, "CREATE DATABASE " + name} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	c, err := pgx.Connect(ctx, pg.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
