package inproc_test

import (
	"context"
	"testing"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/bench/inproc"
)

// TestHandoffAllCold checks the cold helpers: after HandoffAll no segment is left,
// and with the lake cache dropped every suite query returns the rows it returned
// from the hot segments before the handoff, reading the Parquet files directly,
// and again after the files were converted into the cache in the background.
func TestHandoffAllCold(t *testing.T) {
	const n = 20_000
	ctx := context.Background()
	s, err := inproc.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	if _, err := s.Load(ctx, bench.GenerateColumns(3, n), 7_000); err != nil {
		t.Fatal(err)
	}
	hot := map[string][][]string{}
	for _, q := range bench.Queries {
		if hot[q.Name], err = s.Query(ctx, q.SQL); err != nil {
			t.Fatalf("%s: %v", q.Name, err)
		}
	}
	// The handoff itself succeeds; only the check against the row count the
	// caller expects (one more than loaded) must fail.
	if _, err := s.HandoffAll(ctx, n+1); err == nil {
		t.Fatal("HandoffAll accepted a wrong row count")
	}
	if got := len(s.Store.Catalog().Segments(bench.TableName)); got != 0 {
		t.Fatalf("%d segments after the handoff", got)
	}
	if err := s.DropLakeCache(); err != nil {
		t.Fatal(err)
	}
	if s.CacheMisses() != 0 {
		t.Fatalf("cache misses %d right after DropLakeCache", s.CacheMisses())
	}
	// Each query on an empty cache reads the Parquet files directly and
	// materializes nothing.
	for _, q := range bench.Queries {
		if err := s.DropLakeCache(); err != nil {
			t.Fatal(err)
		}
		got, err := s.Query(ctx, q.SQL)
		if err != nil {
			t.Fatalf("%s cold: %v", q.Name, err)
		}
		if d := bench.Diff("cold", got, "hot", hot[q.Name]); d != "" {
			t.Errorf("%s: %s", q.Name, d)
		}
		if m := s.CacheMisses(); m != 0 {
			t.Fatalf("%s: %d lake files materialized: a first read should read the Parquet files directly", q.Name, m)
		}
	}
	// Read again, the files are converted into the lake cache in the
	// background; then the queries read the segments, with the same rows.
	for _, q := range bench.Queries {
		if _, err := s.Query(ctx, q.SQL); err != nil {
			t.Fatalf("%s cold, again: %v", q.Name, err)
		}
	}
	s.WaitLakeCache()
	if s.CacheMisses() == 0 {
		t.Fatal("no lake file was converted in the background")
	}
	for _, q := range bench.Queries {
		got, err := s.Query(ctx, q.SQL)
		if err != nil {
			t.Fatalf("%s cached: %v", q.Name, err)
		}
		if d := bench.Diff("cached", got, "hot", hot[q.Name]); d != "" {
			t.Errorf("%s: %s", q.Name, d)
		}
	}
}
