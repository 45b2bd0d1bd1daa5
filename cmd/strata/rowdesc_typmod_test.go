package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratadb/strata/internal/pgtest"
)

// TestRowDescriptionTypmods compares the type oid and modifier of each
// RowDescription field with PostgreSQL 15's for the same table and queries: a
// numeric(p,s) or varchar(n) column read as it is (also through a subquery)
// carries its atttypmod (PgJDBC's getPrecision/getScale and psycopg2's
// description read it) and a varchar column is varchar (1043); anything computed
// from them has no modifier.
func TestRowDescriptionTypmods(t *testing.T) {
	pg := pgtest.Shared(t)
	s := startStrata(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pgConn := freshPGDatabase(ctx, t, pg, "rowdesc_typmod")
	stConn, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer stConn.Close(ctx)
	for _, c := range []*pgx.Conn{pgConn, stConn} {
		if _, err := c.Exec(ctx, `CREATE TABLE ev (ts timestamptz NOT NULL, price numeric(10,2), qty numeric(5), amt numeric, n integer,
			code varchar(20), v varchar, t text)`); err != nil {
			t.Fatal(err)
		}
	}
	typmods := func(c *pgx.Conn, q string) (string, error) {
		rows, err := c.Query(ctx, q)
		if err != nil {
			return "", err
		}
		rows.Close()
		var out []string
		for _, f := range rows.FieldDescriptions() {
			out = append(out, fmt.Sprintf("%s:%d/%d", f.Name, f.DataTypeOID, f.TypeModifier))
		}
		return fmt.Sprint(out), rows.Err()
	}
	for _, q := range []string{
		`SELECT * FROM ev`,
		`SELECT price, qty AS q, amt, n FROM ev e WHERE price > 1`,
		`SELECT price + 1 AS p1, sum(qty) AS s FROM ev GROUP BY price`,
		`SELECT x.price, x.code FROM (SELECT price, code FROM ev) x`,
		`SELECT code, v, t, code || 'x' AS c2, upper(v) AS u FROM ev`,
	} {
		want, err := typmods(pgConn, q)
		if err != nil {
			t.Fatalf("%s on PostgreSQL: %v", q, err)
		}
		got, err := typmods(stConn, q)
		if err != nil {
			t.Fatalf("%s on strata: %v", q, err)
		}
		if got != want {
			t.Errorf("%s: RowDescription oid/typmod\nstrata     %s\nPostgreSQL %s", q, got, want)
		}
	}
}
