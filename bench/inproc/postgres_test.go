package inproc_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/bench/inproc"
	"github.com/stratadb/strata/bench/internal/pgload"
	"github.com/stratadb/strata/internal/pgtest"
)

// TestSuiteMatchesPostgres runs the whole query suite on 100,000 events in strata
// and in a real PostgreSQL and requires the same rows from both.
func TestSuiteMatchesPostgres(t *testing.T) {
	url := pgtest.Start(t).DSN("postgres") // skips (or fails under CI=true) without a server
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	cols := bench.GenerateColumns(1, 100_000)
	if err := pgload.Load(ctx, conn, cols); err != nil {
		t.Fatal(err)
	}
	st, err := inproc.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Load(ctx, cols, 30_000); err != nil {
		t.Fatal(err)
	}
	for _, q := range bench.Queries {
		t.Run(q.Name, func(t *testing.T) {
			want, err := pgload.Query(ctx, conn, q.SQL)
			if err != nil {
				t.Fatalf("%v\n%s", err, q.SQL)
			}
			got, err := st.Query(ctx, q.SQL)
			if err != nil {
				t.Fatalf("%v\n%s", err, q.SQL)
			}
			if d := bench.Diff("strata", got, "postgres", want); d != "" {
				t.Errorf("MISMATCH: %s\n%s", d, q.SQL)
			}
		})
	}
}
