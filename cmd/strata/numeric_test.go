package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratadb/strata/internal/pgtest"
)

// TestNumericWireAgainstPostgres: numeric(p,s) values loaded by COPY and by
// INSERT with text and binary parameters, and the value-scaled results of avg and
// division, come back with PostgreSQL's exact digits, in binary results as pgx decodes them (NUMERIC's base-10000 form with
// its dscale) and in psql's text, the same as from PostgreSQL 15.
func TestNumericWireAgainstPostgres(t *testing.T) {
	pgtest.Need(t, "psql", "psql")
	pg := pgtest.Shared(t)
	pgPort := strconv.Itoa(pg.Port)
	s := startStrata(t, filepath.Join(t.TempDir(), "data"))
	ctx := context.Background()

	// u and w are kept as canonical text (storage/numeric.go)
	const create = "CREATE TABLE nw (ts timestamptz NOT NULL, user_id text, price numeric(10,2), qty integer, rate numeric(6,4), u numeric, w numeric(30,10))"
	csv := filepath.Join(t.TempDir(), "nw.csv")
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "2024-01-01 %02d:%02d:%02d+00,u%d,%d.%03d,%d,%d.%05d,%d.%0*d,%d%09d.%011d\n", i/3600, i/60%60, i%60, i%7, (i*7919)%100000-40000, i%1000, i%5+1, i%3, (i*31)%100000,
			(i*104729)%1000000-500000, i%7, i%1000, i%13*7654321, (i*7919)%1000000000, (i*31337)%100000000000)
	}
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// A database of its own on the shared server: other tests compare psql's
	// listings of the postgres database with strata's.
	const db = "numeric_wire"
	pc := freshPGDatabase(ctx, t, pg, db)
	for _, side := range [][3]string{{s.port(), "strata", "strata"}, {pgPort, "postgres", db}} {
		psql(t, "127.0.0.1", side[0], side[1], side[2], "-c", create)
		psql(t, "127.0.0.1", side[0], side[1], side[2], "-c", fmt.Sprintf(`\copy nw FROM '%s' WITH (FORMAT csv)`, csv))
	}
	sc, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close(ctx)
	var bin pgtype.Numeric
	if err := bin.Scan("-12.34565"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*pgx.Conn{sc, pc} {
		// a text parameter, a binary NUMERIC parameter (pgtype.Numeric), a float one
		if _, err := c.Exec(ctx, "INSERT INTO nw VALUES ('2024-01-02 00:00:00+00', 'p', $1, 1, $2)", "12.345", bin); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "INSERT INTO nw VALUES ('2024-01-02 00:00:01+00', 'p', $1, 2, 0.1)", 0.125); err != nil {
			t.Fatal(err)
		}
	}
	queries := []string{
		"SELECT price, rate FROM nw ORDER BY ts, user_id",
		"SELECT sum(price), sum(price) * 3, min(rate), max(price), count(price) FROM nw",
		"SELECT user_id, sum(price * qty), sum(rate) FROM nw GROUP BY user_id ORDER BY user_id",
		"SELECT price - rate, round(price, 1), round(rate, 2) FROM nw WHERE price > 500.5 ORDER BY ts LIMIT 20",
		"SELECT 0.1 + 0.2, 1.50 * 2.5, 0.00, -0.5, 12::numeric(5,2)",
		"SELECT count(*) FROM nw WHERE price = 12.35",
		// value-scaled results (select_div_scale), exact past 60 digits
		"SELECT user_id, avg(price), avg(qty), sum(price) / count(*), avg(rate) FROM nw GROUP BY user_id ORDER BY user_id",
		"SELECT price / qty, price / 7, 1 / rate FROM nw WHERE rate > 0.5 ORDER BY ts LIMIT 20",
		"SELECT 1 / 3.000000000000000000000000000000000000000000000000000000000000000000, 'NaN'::numeric, -0.00::numeric / 3",
		"SELECT u, w FROM nw ORDER BY ts, user_id",
		"SELECT sum(u), avg(u), sum(w), avg(w), min(w), max(u), stddev(w) FROM nw",
		"SELECT user_id, sum(w * qty), max(w) FROM nw GROUP BY user_id ORDER BY user_id",
		"SELECT w, u FROM nw ORDER BY w DESC NULLS LAST, u LIMIT 5",
	}
	for _, q := range queries {
		want := numericRows(t, pc, q)
		if got := numericRows(t, sc, q); got != want {
			t.Errorf("pgx (binary results):\n%s\ngot:\n%s\nwant (PostgreSQL):\n%s", q, head(got), head(want))
		}
		wantText := psql(t, "127.0.0.1", pgPort, "postgres", db, "-c", q)
		if got := psql(t, "127.0.0.1", s.port(), "strata", "strata", "-c", q); got != wantText {
			t.Errorf("psql (text):\n%s\ngot:\n%s\nwant (PostgreSQL):\n%s", q, head(got), head(wantText))
		}
	}
	// A binary NUMERIC parameter where numeric without a modifier is wanted keeps
	// its digits and display scale.
	for _, p := range []string{"-12.34565", "2.500", "12345678901234567890.123456789"} {
		var n pgtype.Numeric
		if err := n.Scan(p); err != nil {
			t.Fatal(err)
		}
		q := "SELECT $1::numeric, $1::numeric / 3, ($1::numeric)::text"
		var got, want [3]string
		for k, c := range []*pgx.Conn{sc, pc} {
			out := &got
			if k == 1 {
				out = &want
			}
			var a, b pgtype.Numeric
			if err := c.QueryRow(ctx, q, n).Scan(&a, &b, &out[2]); err != nil {
				t.Fatalf("%s with %s: %v", q, p, err)
			}
			for j, x := range []pgtype.Numeric{a, b} {
				v, err := x.Value()
				if err != nil {
					t.Fatal(err)
				}
				out[j] = fmt.Sprint(v)
			}
		}
		if got != want {
			t.Errorf("%s with binary %s: got %q, want (PostgreSQL) %q", q, p, got, want)
		}
	}
	// The binary results really were binary NUMERIC, decoded by pgx.
	rows, err := sc.Query(ctx, "SELECT price FROM nw LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	if fd := rows.FieldDescriptions()[0]; fd.DataTypeOID != 1700 || fd.Format != pgx.BinaryFormatCode || fd.TypeModifier != (10<<16|2)+4 {
		t.Errorf("price described as %+v, want binary numeric with typmod numeric(10,2)", fd)
	}
	rows.Close()
}

// numericRows runs q over pgx's extended protocol and renders every value
// exactly: a NUMERIC through its text form (digits and scale as decoded).
func numericRows(t *testing.T, c *pgx.Conn, q string) string {
	t.Helper()
	rows, err := c.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte('|')
			}
			if n, ok := v.(pgtype.Numeric); ok {
				txt, err := n.Value()
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprint(&b, txt)
				continue
			}
			b.WriteString(render(v))
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return b.String()
}
