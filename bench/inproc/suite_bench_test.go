package inproc_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/bench/inproc"
)

var (
	suiteOnce sync.Once
	suiteDB   *inproc.Strata
	suiteErr  error
)

// suiteStrata loads the bench workload (STRATA_BENCH_EVENTS events, default 1M) into
// an in-process strata once per test binary.
func suiteStrata(b *testing.B) *inproc.Strata {
	suiteOnce.Do(func() {
		n := 1_000_000
		if s := os.Getenv("STRATA_BENCH_EVENTS"); s != "" {
			n, suiteErr = strconv.Atoi(s)
			if suiteErr != nil {
				return
			}
		}
		dir, err := os.MkdirTemp("", "strata-engine-bench-")
		if err != nil {
			suiteErr = err
			return
		}
		cols := bench.GenerateColumns(1, n)
		s, err := inproc.Open(dir)
		if err != nil {
			suiteErr = err
			return
		}
		if _, err := s.Load(context.Background(), cols, 1_000_000); err != nil {
			suiteErr = err
			return
		}
		suiteDB = s
	})
	if suiteErr != nil {
		b.Fatal(suiteErr)
	}
	return suiteDB
}

// BenchmarkSuite times the bench suite's queries through the SQL layer over real
// segments (go test -run '^$' -bench 'Suite/latest_events' ./bench/inproc).
func BenchmarkSuite(b *testing.B) {
	for _, q := range bench.Queries {
		b.Run(q.Name, func(b *testing.B) {
			s := suiteStrata(b)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Time(ctx, q.SQL); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSuitePlans prints the EXPLAIN output of every suite query (run with -v).
func BenchmarkSuitePlans(b *testing.B) {
	s := suiteStrata(b)
	for _, q := range bench.Queries {
		rows, err := s.Query(context.Background(), "EXPLAIN "+q.SQL)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Println(q.Name)
		for _, r := range rows {
			fmt.Println("  ", r[0])
		}
	}
}
