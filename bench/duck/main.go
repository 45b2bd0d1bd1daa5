// Command duck compares strata with DuckDB on bench's workload: it generates the
// events once, loads them into strata in process (store.Append) and into an
// in-memory DuckDB (Appender), runs the query suite in both, prints median times,
// their ratios and load rates, and checks that both engines return the same rows.
// It exits 1 when any query fails or differs.
//
// strata is timed two ways over the same store, printed side by side with DuckDB in
// one run: over the wire (the default first column: its PostgreSQL server on
// loopback, queried with pgx as a client does, wire.go) and in process (a SQL
// session, no wire). -profile writes a CPU and an allocation profile of each
// query's wire runs.
//
// With -cold, strata hands every chunk to its Delta Lake table after the load, so
// it answers from lake files only, and DuckDB queries the Parquet files of that
// Delta snapshot instead of its own table (see cold.go).
//
// It is a module of its own so that the strata binary never links DuckDB. Run it
// from bench/duck:
//
//	go run . -events 10000000 -runs 5
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"time"
)

func main() {
	cfg := config{out: os.Stdout}
	flag.IntVar(&cfg.events, "events", 10_000_000, "events to generate")
	flag.IntVar(&cfg.runs, "runs", 5, "timed runs per query and engine (the median is reported)")
	flag.Int64Var(&cfg.seed, "seed", 1, "generator seed")
	flag.IntVar(&cfg.batch, "batch", 1_000_000, "rows per strata Append")
	flag.IntVar(&cfg.threads, "threads", runtime.GOMAXPROCS(0), "DuckDB threads (default: strata's GOMAXPROCS, so both use the same cores)")
	flag.BoolVar(&cfg.zoneless, "duck-timestamp", true, "also time DuckDB with the time column as zone-less timestamp (no ICU time-zone path), printed beside")
	flag.BoolVar(&cfg.strata, "strata", true, "run strata (false: DuckDB only)")
	flag.BoolVar(&cfg.wire, "wire", true, "time strata over the PostgreSQL wire: its server on loopback, queried with pgx (the first column)")
	flag.BoolVar(&cfg.inproc, "inproc", true, "time strata in process through a SQL session (the second column)")
	flag.StringVar(&cfg.profile, "profile", "", "folder for a CPU and an allocation profile of each query's timed wire runs (with -cold, also of its first run: NAME.first.cpu.pprof)")
	flag.BoolVar(&cfg.cold, "cold", false, "hand strata's table to the lake and query it cold; DuckDB reads the same Parquet files")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "limit per query and engine, all runs together (0: none)")
	only := flag.String("only", "", "run only the queries whose name matches this regexp")
	flag.Parse()
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "-only:", err)
			os.Exit(2)
		}
		cfg.only = re
	}
	failures := 0
	if cfg.cold {
		rep, err := runCold(context.Background(), cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench -cold:", err)
			os.Exit(1)
		}
		failures = rep.failures
	} else {
		rep, err := runSuite(context.Background(), cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		failures = rep.failures
	}
	if failures > 0 {
		os.Exit(1)
	}
}
