package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratadb/strata/bench"
)

// TestCorruptSegmentIsReported flips one byte inside a column block of a segment
// file while the server is down: the server still starts, a query that reads the
// block fails with SQLSTATE XX001 naming the file and the column, and the server
// keeps serving.
func TestCorruptSegmentIsReported(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	s := startStrata(t, dataDir)
	ctx := context.Background()
	conn := connectWithEventsTable(t, s)
	gen := bench.NewGenerator(5, bench.DefaultStart, bench.DefaultStart.Add(30*60e9), 100, 50)
	if _, err := conn.CopyFrom(ctx, &blockingCSV{gen: gen, left: 20_000}, "COPY user_behavior FROM STDIN WITH (FORMAT csv)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()

	var segs []string
	filepath.WalkDir(filepath.Join(dataDir, "segments"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			segs = append(segs, p)
		}
		return nil
	})
	if len(segs) != 1 {
		t.Fatalf("want one segment file (30 minutes of events in one hour chunk), found %v", segs)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	// Byte 100 lies in the first column's first block: the time column, which every
	// query reads.
	b[100] ^= 0xff
	if err := os.WriteFile(segs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}

	s2 := startStrata(t, dataDir)
	c2, err := pgx.Connect(ctx, s2.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	// A predicate no index or statistic answers: the time column's values are read.
	var n int64
	err = c2.QueryRow(ctx, `SELECT count(*) FROM user_behavior WHERE extract(epoch from "timestamp") > 0`).Scan(&n)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("query over a corrupt segment: err = %v, want a PostgreSQL error", err)
	}
	if pe.Code != "XX001" || !strings.Contains(pe.Message, filepath.Base(segs[0])) || !strings.Contains(pe.Message, "timestamp") {
		t.Errorf("error = %s %q, want XX001 naming %s and column timestamp", pe.Code, pe.Message, filepath.Base(segs[0]))
	}
	var one int
	if err := c2.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("server after the corrupt read: %v", err)
	}
}
