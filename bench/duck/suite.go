package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/storage"
)

// config is one run of the comparison.
type config struct {
	events   int
	runs     int
	seed     int64
	batch    int            // strata Append batch size
	threads  int            // DuckDB threads
	strata   bool           // false: DuckDB only (checks the suite runs there)
	cold     bool           // hand the whole table to the lake; DuckDB reads its Parquet files (cold.go)
	only     *regexp.Regexp // nil: every query
	timeout  time.Duration  // per query and engine, all runs together; 0: none
	zoneless bool           // also time DuckDB over a zone-less timestamp column
	out      io.Writer
}

// queryReport is the outcome of one query.
type queryReport struct {
	name             string
	strata, duck     time.Duration // medians
	strataErr        error
	duckErr          error
	mismatch         string
	strataRows, rows int
	// DuckDB over the zone-less timestamp column (config.zoneless): its median,
	// and how its rows differ from DuckDB's over timestamptz ("" = the same).
	zoneless     time.Duration
	zonelessErr  error
	zonelessDiff string
	zonelessRan  bool
}

// report is the outcome of a whole run.
type report struct {
	queries              []queryReport
	strataLoad, duckLoad float64 // events/s
	failures             int     // errors and mismatches
}

// runSuite generates the events once, loads them into both engines, runs every
// query cfg.runs times in each, checks that both return the same rows, and prints
// the table to cfg.out.
func runSuite(ctx context.Context, cfg config) (*report, error) {
	w := cfg.out
	rep := &report{}

	begin := time.Now()
	cols := bench.GenerateColumns(cfg.seed, cfg.events)
	fmt.Fprintf(w, "generated %d events (seed %d, %s .. %s, %d users, %d products) in %v\n",
		cfg.events, cfg.seed, bench.DefaultStart.Format(time.DateOnly), bench.DefaultEnd.Format(time.DateOnly),
		bench.DefaultUsers, bench.DefaultProducts, time.Since(begin).Round(time.Millisecond))

	duck, err := openDuck(cfg.threads)
	if err != nil {
		return nil, err
	}
	defer duck.Close()
	d, err := duck.load(ctx, bench.CreateTableSQL, cols)
	if err != nil {
		return nil, err
	}
	rep.duckLoad = float64(cfg.events) / d.Seconds()
	fmt.Fprintf(w, "DuckDB load (Appender): %v, %.0f events/s\n", d.Round(time.Millisecond), rep.duckLoad)
	var zoneless *duckDB
	if cfg.zoneless {
		if zoneless, err = openDuck(cfg.threads); err != nil {
			return nil, err
		}
		defer zoneless.Close()
		if _, err := zoneless.load(ctx, zonelessTableSQL, cols); err != nil {
			return nil, err
		}
	}

	var st strataEngine
	if cfg.strata {
		dir, err := os.MkdirTemp("", "strata-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		st, err = openStrata(dir)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		if rep.strataLoad, err = loadStrata(ctx, w, st, cols, cfg); err != nil {
			return nil, err
		}
	}
	cols = nil // let the generated events go before the queries

	for _, q := range bench.Queries {
		if cfg.only != nil && !cfg.only.MatchString(q.Name) {
			continue
		}
		qr := queryReport{name: q.Name}
		qctx, cancel := withTimeout(ctx, cfg.timeout)
		duckRows, err := duck.query(qctx, q.Duck())
		if err != nil {
			qr.duckErr = err
		} else {
			qr.rows = len(duckRows)
			qr.duck, qr.duckErr = median(cfg.runs, func() (time.Duration, error) { return duck.time(qctx, q.Duck()) })
		}
		cancel()
		if zoneless != nil {
			qctx, cancel := withTimeout(ctx, cfg.timeout)
			qr.zonelessRan = true
			zrows, err := zoneless.query(qctx, q.Duck())
			if err == nil {
				qr.zoneless, err = median(cfg.runs, func() (time.Duration, error) { return zoneless.time(qctx, q.Duck()) })
			}
			qr.zonelessErr = err
			if err == nil && qr.duckErr == nil {
				qr.zonelessDiff = bench.Diff("duckdb-timestamp", zrows, "duckdb-timestamptz", duckRows)
			}
			cancel()
		}
		if st != nil {
			qctx, cancel := withTimeout(ctx, cfg.timeout)
			qr.runStrata(qctx, st, q.SQL, cfg.runs, duckRows)
			cancel()
		}
		if qr.duckErr != nil || qr.strataErr != nil || qr.mismatch != "" {
			rep.failures++
		}
		rep.queries = append(rep.queries, qr)
	}
	printTable(w, cfg, rep)
	return rep, nil
}

// strataEngine is strata in process (strata.go), or absent when built with the
// nostrata tag (nostrata.go) to check the DuckDB side while strata does not build.
// loadStrata appends cols to st in cfg.batch batches, prints the rate and returns
// it in events/s.
func loadStrata(ctx context.Context, w io.Writer, st strataEngine, cols *storage.Columns, cfg config) (float64, error) {
	d, err := st.Load(ctx, cols, cfg.batch)
	if err != nil {
		return 0, fmt.Errorf("strata load: %w", err)
	}
	rate := float64(cfg.events) / d.Seconds()
	fmt.Fprintf(w, "strata load (store.Append, batches of %d, + compaction): %v, %.0f events/s\n",
		cfg.batch, d.Round(time.Millisecond), rate)
	return rate, nil
}

// runStrata runs sql in st once for its rows, which it compares with DuckDB's
// (when DuckDB succeeded), then runs times for the median.
func (qr *queryReport) runStrata(ctx context.Context, st strataEngine, sql string, runs int, duckRows [][]string) {
	strataRows, err := st.Query(ctx, sql)
	if err != nil {
		qr.strataErr = err
		return
	}
	qr.strataRows = len(strataRows)
	qr.strata, qr.strataErr = median(runs, func() (time.Duration, error) { return st.Time(ctx, sql) })
	if qr.duckErr == nil {
		qr.mismatch = bench.Diff("strata", strataRows, "duckdb", duckRows)
	}
}

type strataEngine interface {
	Load(ctx context.Context, cols *storage.Columns, batch int) (time.Duration, error)
	Query(ctx context.Context, q string) ([][]string, error)
	Time(ctx context.Context, q string) (time.Duration, error)
	Close() error
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// median runs f n times and returns the median duration.
func median(n int, f func() (time.Duration, error)) (time.Duration, error) {
	ds := make([]time.Duration, 0, n)
	for range max(n, 1) {
		d, err := f()
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	if len(ds)%2 == 1 {
		return ds[len(ds)/2], nil
	}
	return (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func printTable(w io.Writer, cfg config, rep *report) {
	fmt.Fprintf(w, "\n%d events, in process (no wire protocol on either side), median of %d runs; DuckDB threads=%d, strata GOMAXPROCS=%d, machine cores=%d\n",
		cfg.events, cfg.runs, cfg.threads, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintln(w, "DuckDB ms: the time column as timestamptz, as strata's (DuckDB's ICU time-zone path, session zone UTC); the ratio is against it.")
	if cfg.zoneless {
		fmt.Fprintln(w, "DuckDB ts ms: the same data with a zone-less timestamp column (no ICU); 'ts rows' says whether its rows equal the timestamptz run's.")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if cfg.zoneless {
		fmt.Fprintln(tw, "query\tstrata ms\tDuckDB ms\tstrata/DuckDB\tDuckDB ts ms\tts rows\trows\tcheck\t")
	} else {
		fmt.Fprintln(tw, "query\tstrata ms\tDuckDB ms\tstrata/DuckDB\trows\tcheck\t")
	}
	var logSum float64
	var nRatio int
	for _, q := range rep.queries {
		sMs, dMs, ratio, check := "-", "-", "-", "ok"
		if q.duckErr == nil {
			dMs = fmt.Sprintf("%.2f", ms(q.duck))
		}
		if q.strataErr == nil && cfg.strata {
			sMs = fmt.Sprintf("%.2f", ms(q.strata))
		}
		if q.duckErr == nil && q.strataErr == nil && cfg.strata {
			r := ms(q.strata) / math.Max(ms(q.duck), 1e-3)
			ratio = fmt.Sprintf("%.2f", r)
			logSum += math.Log(r)
			nRatio++
		}
		switch {
		case q.strataErr != nil:
			check = "STRATA ERROR"
		case q.duckErr != nil:
			check = "DUCKDB ERROR"
		case q.mismatch != "":
			check = "MISMATCH"
		case !cfg.strata:
			check = "(duckdb only)"
		}
		if cfg.zoneless {
			zMs, zRows := "-", "same"
			switch {
			case q.zonelessErr != nil:
				zRows = "ERROR"
			case q.zonelessDiff != "":
				zRows = "differ"
			}
			if q.zonelessErr == nil {
				zMs = fmt.Sprintf("%.2f", ms(q.zoneless))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n", q.name, sMs, dMs, ratio, zMs, zRows, q.rows, check)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t\n", q.name, sMs, dMs, ratio, q.rows, check)
		}
	}
	tw.Flush()
	if nRatio > 0 {
		fmt.Fprintf(w, "\ngeometric mean strata/DuckDB over %d queries: %.2f\n", nRatio, math.Exp(logSum/float64(nRatio)))
	}
	fmt.Fprintf(w, "load: strata %.0f events/s, DuckDB %.0f events/s\n", rep.strataLoad, rep.duckLoad)
	for _, q := range rep.queries {
		switch {
		case q.strataErr != nil:
			fmt.Fprintf(w, "\n!!! %s: strata error: %v\n", q.name, q.strataErr)
		case q.duckErr != nil:
			fmt.Fprintf(w, "\n!!! %s: DuckDB error: %v\n", q.name, q.duckErr)
		case q.mismatch != "":
			fmt.Fprintf(w, "\n!!! MISMATCH %s: %s\n", q.name, q.mismatch)
		}
		if q.zonelessErr != nil {
			fmt.Fprintf(w, "\n(note) %s: DuckDB over timestamp: error: %v\n", q.name, q.zonelessErr)
		} else if q.zonelessDiff != "" {
			fmt.Fprintf(w, "\n(note) %s: DuckDB over timestamp returns other rows than over timestamptz: %s\n", q.name, q.zonelessDiff)
		}
	}
	if rep.failures > 0 {
		fmt.Fprintf(w, "\n!!! %d of %d queries FAILED (error or MISMATCH)\n", rep.failures, len(rep.queries))
	}
}
