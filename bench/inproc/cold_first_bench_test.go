package inproc_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/bench/inproc"
)

// BenchmarkColdFirstRun times each suite query's first run over a table handed
// off entirely to the lake, the lake cache emptied (and the store reopened, so
// no footer is remembered) before every run: the direct Parquet path as a user
// meets it after a restart. Select queries by sub-benchmark name
// (-bench 'ColdFirstRun/session_rows'). STRATA_BENCH_EVENTS events (default
// 1M); with STRATA_BENCH_LAKE=dir the loaded and handed-off store is kept in
// dir and reused by later runs (a store of another size is rebuilt), so that
// -cpuprofile shows the queries, not the load. Reopening the store between runs
// is outside the timer but inside a CPU profile.
func BenchmarkColdFirstRun(b *testing.B) {
	n := coldBenchEvents(b)
	ctx := context.Background()
	dir := os.Getenv("STRATA_BENCH_LAKE")
	if dir == "" {
		dir = b.TempDir()
	}
	marker := filepath.Join(dir, "loaded-events")
	want := []byte(strconv.Itoa(n))
	s, err := inproc.Open(filepath.Join(dir, "store"))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { s.Close() }()
	if got, _ := os.ReadFile(marker); string(got) != string(want) {
		s.Close()
		if err := os.RemoveAll(filepath.Join(dir, "store")); err != nil {
			b.Fatal(err)
		}
		if s, err = inproc.Open(filepath.Join(dir, "store")); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Load(ctx, bench.GenerateColumns(1, n), 1_000_000); err != nil {
			b.Fatal(err)
		}
		if _, err := s.HandoffAll(ctx, int64(n)); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(marker, want, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range bench.Queries {
		b.Run(q.Name, func(b *testing.B) {
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if err := s.DropLakeCache(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				c0 := cpuTime()
				if _, err := s.Time(ctx, q.SQL); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
