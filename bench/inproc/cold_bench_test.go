package inproc_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/bench/inproc"
)

// coldBenchEvents is STRATA_BENCH_EVENTS, default 1M.
func coldBenchEvents(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("STRATA_BENCH_EVENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

// BenchmarkHandoff times handing a whole loaded table (STRATA_BENCH_EVENTS events,
// default 1M, a week in daily chunks) to its Delta Lake table: rows/s and Parquet
// bytes per event. Generating, loading and compacting are outside the timer.
func BenchmarkHandoff(b *testing.B) {
	n := coldBenchEvents(b)
	cols := bench.GenerateColumns(1, n)
	ctx := context.Background()
	var rows, bytes int64
	var secs float64
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		s, err := inproc.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Load(ctx, cols, 1_000_000); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := s.HandoffAll(ctx, int64(n))
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		rows += st.Rows
		bytes += st.Bytes
		secs += st.Duration.Seconds()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)/secs, "rows/s")
	b.ReportMetric(float64(bytes)/float64(rows), "bytes/event")
}

// BenchmarkColdQuery times a few suite queries over a table entirely handed off to
// the lake, with the lake cache warm (every file materialized before the timer).
func BenchmarkColdQuery(b *testing.B) {
	n := coldBenchEvents(b)
	ctx := context.Background()
	s, err := inproc.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Load(ctx, bench.GenerateColumns(1, n), 1_000_000); err != nil {
		b.Fatal(err)
	}
	if _, err := s.HandoffAll(ctx, int64(n)); err != nil {
		b.Fatal(err)
	}
	if err := s.DropLakeCache(); err != nil { // measure materialized files, not adopted segments
		b.Fatal(err)
	}
	want := map[string]bool{"count_by_event": true, "hourly_conversion": true, "top_products_revenue": true, "grafana_time_series": true}
	for _, q := range bench.Queries {
		if !want[q.Name] {
			continue
		}
		b.Run(q.Name, func(b *testing.B) {
			if _, err := s.Time(ctx, q.SQL); err != nil { // fills the cache
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Time(ctx, q.SQL); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
