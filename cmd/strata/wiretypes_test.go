package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratadb/strata/internal/pgtest"
)

// TestWireTypesAsPostgres compares, byte for byte with PostgreSQL 15, what a
// client receives for values of the types strata keeps under PostgreSQL's names:
// each RowDescription field's type oid, size and modifier, and each value in
// text and in binary format (pgconn's ExecParams, the extended protocol), for the
// reg types, booleans cast to text, char(n), date, uuid, uuid[] and interval
// columns, and arrays built by ARRAY[…] and ARRAY(SELECT …).
func TestWireTypesAsPostgres(t *testing.T) {
	pg := pgtest.Shared(t)
	s := startStrata(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pgConn := freshPGDatabase(ctx, t, pg, "wire_types")
	stConn, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer stConn.Close(ctx)
	for _, c := range []*pgx.Conn{pgConn, stConn} {
		for _, q := range wireTypesSetup {
			if _, err := c.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	describe := func(c *pgconn.PgConn, q string, format int16) (string, error) {
		res := c.ExecParams(ctx, q, nil, nil, nil, []int16{format}).Read()
		if res.Err != nil {
			return "", res.Err
		}
		var b strings.Builder
		for _, f := range res.FieldDescriptions {
			fmt.Fprintf(&b, "%s oid=%d size=%d typmod=%d format=%d\n", f.Name, f.DataTypeOID, f.DataTypeSize, f.TypeModifier, f.Format)
		}
		for _, row := range res.Rows {
			for _, v := range row {
				if v == nil {
					b.WriteString("NULL ")
				} else if format == 1 {
					fmt.Fprintf(&b, "%x ", v)
				} else {
					fmt.Fprintf(&b, "%q ", v)
				}
			}
			b.WriteString("\n")
		}
		return b.String(), nil
	}
	for _, q := range wireTypesQueries {
		for _, format := range []int16{0, 1} {
			want, err := describe(pgConn.PgConn(), q, format)
			if err != nil {
				t.Fatalf("%s on PostgreSQL: %v", q, err)
			}
			got, err := describe(stConn.PgConn(), q, format)
			if err != nil {
				t.Errorf("%s on strata: %v", q, err)
				continue
			}
			if got != want {
				t.Errorf("%s (format %d):\nstrata:\n%sPostgreSQL:\n%s", q, format, got, want)
			}
		}
	}
	// A uuid parameter as pgx sends it: binary, its 16 bytes (the statement
	// describes it as uuid), and back as pgtype.UUID.
	id := pgtype.UUID{Bytes: [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}, Valid: true}
	for _, c := range []*pgx.Conn{pgConn, stConn} {
		var n int32
		var back pgtype.UUID
		if err := c.QueryRow(ctx, `SELECT n, id FROM wt_ids WHERE id = $1`, id).Scan(&n, &back); err != nil || n != 1 || back != id {
			t.Errorf("uuid parameter on %s: n %d, id %v, %v; want 1 and %v", c.Config().Host, n, back, err, id)
		}
	}
}

var wireTypesSetup = []string{
	`CREATE TABLE wt_ev (ts timestamptz NOT NULL, ok boolean)`,
	`INSERT INTO wt_ev VALUES ('2024-01-01 00:00:00+00', true), ('2024-01-01 00:00:01+00', false)`,
	`CREATE TABLE wt_users (user_id text PRIMARY KEY, country char(2), code character(5), flag char)`,
	`INSERT INTO wt_users VALUES ('u1', 'CN', 'ab', 'y'), ('u2', 'U', 'abc  ', NULL)`,
	`CREATE TABLE wt_days (ts timestamptz NOT NULL, day date, n int)`,
	`INSERT INTO wt_days VALUES ('2024-01-01 00:00:00+00', '2024-02-29', 1), ('2024-01-01 00:00:01+00', '1969-12-31', 2), ('2024-01-01 00:00:02+00', NULL, 3)`,
	`CREATE TABLE wt_ids (ts timestamptz NOT NULL, id uuid, n int, d interval)`,
	`INSERT INTO wt_ids VALUES ('2024-01-01 00:00:00+00', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 1, '1 year 2 mons -3 days 04:05:06.7'), ('2024-01-01 00:00:01+00', '{00000000000000000000000000000000}', 2, '-00:00:00.000001'), ('2024-01-01 00:00:02+00', NULL, 3, NULL)`,
}

var wireTypesQueries = []string{
	`SELECT 'pg_class'::regclass AS c, 'int4'::regtype AS t, 'pg_catalog'::regnamespace AS n, 1259::oid AS o`,
	`SELECT 'pg_class'::regclass::oid AS o, 23::regtype AS t`,
	`SELECT ok, ok::text AS t, 'x' || ok AS x FROM wt_ev ORDER BY ts`,
	`SELECT country, code, flag, code::text AS t, length(code) AS n FROM wt_users ORDER BY user_id`,
	`SELECT u.code, u.flag FROM wt_users u WHERE u.code = 'abc ' AND u.country = 'U'`,
	`SELECT day, day + 1 AS next, n FROM wt_days ORDER BY n`,
	`SELECT max(day) AS m FROM wt_days WHERE day < '2024-01-01'`,
	`SELECT id, id::text AS t, n FROM wt_ids ORDER BY n`,
	`SELECT d, d::text AS t, ts + d AS e, n FROM wt_ids ORDER BY n`,
	`SELECT 'ffffffff-0000-ffff-0000-ffffffffffff'::uuid AS u, NULL::uuid AS z`,
	`SELECT array_agg(id ORDER BY n) AS a, (array_agg(id ORDER BY n))[1] AS f, '{}'::uuid[] AS e FROM wt_ids WHERE n <= 2`,
	`SELECT ARRAY[id, NULL] AS b FROM wt_ids ORDER BY n`,
	`SELECT ARRAY[1, 2] AS i, ARRAY['a', NULL] AS t, ARRAY(SELECT n FROM wt_ids ORDER BY n) AS s`,
}
