package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/bench/internal/pgload"
	"github.com/stratadb/strata/internal/pgtest"
)

const testEvents = 100_000

// TestDuckMatchesPostgres proves the suite itself: every query, in its DuckDB
// spelling, returns the same rows in DuckDB as in a real PostgreSQL, so the rows
// strata is checked against are PostgreSQL's answers.
func TestDuckMatchesPostgres(t *testing.T) {
	url := pgtest.Start(t).DSN("postgres") // skips (or fails under CI=true) without a server
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	cols := bench.GenerateColumns(1, testEvents)
	if err := pgload.Load(ctx, conn, cols); err != nil {
		t.Fatal(err)
	}
	duck, err := openDuck(2)
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	if _, err := duck.load(ctx, bench.CreateTableSQL, cols); err != nil {
		t.Fatal(err)
	}
	for _, q := range bench.Queries {
		t.Run(q.Name, func(t *testing.T) {
			want, err := pgload.Query(ctx, conn, q.SQL)
			if err != nil {
				t.Fatalf("%v\n%s", err, q.SQL)
			}
			got, err := duck.query(ctx, q.Duck())
			if err != nil {
				t.Fatalf("%v\n%s", err, q.Duck())
			}
			if len(want) == 0 {
				t.Errorf("no rows from PostgreSQL: the query tests nothing\n%s", q.SQL)
			}
			if d := bench.Diff("duckdb", got, "postgres", want); d != "" {
				t.Errorf("MISMATCH: %s\n%s", d, q.SQL)
			}
		})
	}
}

// TestDuckDBPinned guards the pin: `go mod tidy` or a dependency must not move DuckDB
// off the version the comparison was validated with.
func TestDuckDBPinned(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	const want = "github.com/duckdb/duckdb-go/v2 v2.10506.0\n"
	if !strings.Contains(string(mod), want) {
		t.Fatalf("go.mod does not pin %q; run `go get github.com/duckdb/duckdb-go/v2@v2.10506.0` here", strings.TrimSpace(want))
	}
}
