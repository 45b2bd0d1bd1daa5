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
	wire     bool           // time strata over the PostgreSQL wire (pgx over loopback), the first column
	inproc   bool           // time strata in process (sql.Session, no wire), the second column
	profile  string         // "": none; else a folder for per-query CPU and allocation profiles of the wire runs
	cold     bool           // hand the whole table to the lake; DuckDB reads its Parquet files (cold.go)
	only     *regexp.Regexp // nil: every query
	timeout  time.Duration  // per query and engine, all runs together; 0: none
	zoneless bool           // also time DuckDB over a zone-less timestamp column
	out      io.Writer
}

// queryReport is the outcome of one query.
type queryReport struct {
	name             string
	strata, duck     time.Duration // medians (strata: in process)
	strataErr        error
	duckErr          error
	mismatch         string
	strataRows, rows int
	// strata over the PostgreSQL wire (config.wire): its median, error, and how
	// its rows differ from DuckDB's ("" = the same).
	wire         time.Duration
	wireErr      error
	wireMismatch string
	wireRan      bool
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
	var wire wireEngine
	if st != nil && cfg.wire {
		if wire, err = serveWire(ctx, st); err != nil {
			return nil, err
		}
		defer wire.Close()
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
		if wire != nil {
			qctx, cancel := withTimeout(ctx, cfg.timeout)
			qr.runWire(qctx, wire, q.Name, q.SQL, cfg, duckRows)
			cancel()
		}
		if st != nil && cfg.inproc {
			qctx, cancel := withTimeout(ctx, cfg.timeout)
			qr.runStrata(qctx, st, q.SQL, cfg.runs, duckRows)
			cancel()
		}
		if qr.duckErr != nil || qr.strataErr != nil || qr.mismatch != "" || qr.wireErr != nil || qr.wireMismatch != "" {
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

// runWire runs sql over the wire once for its rows, which it compares with
// DuckDB's (when DuckDB succeeded), then cfg.runs times for the median, profiled
// when cfg.profile is set.
func (qr *queryReport) runWire(ctx context.Context, wire wireEngine, name, sql string, cfg config, duckRows [][]string) {
	qr.wireRan = true
	rows, err := wire.Query(ctx, sql)
	if err != nil {
		qr.wireErr = err
		return
	}
	if qr.duckErr == nil {
		qr.wireMismatch = bench.Diff("strata (wire)", rows, "duckdb", duckRows)
	}
	stop, err := startProfile(cfg.profile, name)
	if err != nil {
		qr.wireErr = err
		return
	}
	qr.wire, qr.wireErr = median(cfg.runs, func() (time.Duration, error) { return wire.Time(ctx, sql) })
	if err := stop(); err != nil && qr.wireErr == nil {
		qr.wireErr = err
	}
}

// wireEngine is strata behind its PostgreSQL wire server, queried by a client
// (wire.go).
type wireEngine interface {
	Query(ctx context.Context, q string) ([][]string, error)
	Time(ctx context.Context, q string) (time.Duration, error)
	Close() error
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
	fmt.Fprintf(w, "\n%d events, median of %d runs; DuckDB threads=%d, strata GOMAXPROCS=%d, machine cores=%d\n",
		cfg.events, cfg.runs, cfg.threads, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintln(w, "wire ms: strata's PostgreSQL wire server on loopback, queried by pgx (extended protocol, every value decoded), as a client does.")
	fmt.Fprintln(w, "in-proc ms: the same store through a sql.Session in process (no wire). DuckDB is in process (duckdb-go, every value scanned).")
	fmt.Fprintln(w, "DuckDB ms: the time column as timestamptz, as strata's (DuckDB's ICU time-zone path, session zone UTC); the ratios are against it.")
	if cfg.zoneless {
		fmt.Fprintln(w, "DuckDB ts ms: the same data with a zone-less timestamp column (no ICU); 'ts rows' says whether its rows equal the timestamptz run's.")
	}
	fmt.Fprintln(w)
	wire, inproc := cfg.strata && cfg.wire, cfg.strata && cfg.inproc
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "query\twire ms\tin-proc ms\tDuckDB ms\twire/DuckDB\tin-proc/DuckDB\t"
	if cfg.zoneless {
		head += "DuckDB ts ms\tts rows\t"
	}
	fmt.Fprintln(tw, head+"rows\tcheck\t")
	var wireMean, inprocMean geomean
	for _, q := range rep.queries {
		wMs, sMs, dMs, wRatio, sRatio, check := "-", "-", "-", "-", "-", "ok"
		if q.duckErr == nil {
			dMs = fmt.Sprintf("%.2f", ms(q.duck))
		}
		if wire && q.wireErr == nil {
			wMs = fmt.Sprintf("%.2f", ms(q.wire))
			if q.duckErr == nil {
				wRatio = wireMean.add(q.name, q.wire, q.duck)
			}
		}
		if inproc && q.strataErr == nil {
			sMs = fmt.Sprintf("%.2f", ms(q.strata))
			if q.duckErr == nil {
				sRatio = inprocMean.add(q.name, q.strata, q.duck)
			}
		}
		switch {
		case q.wireErr != nil:
			check = "WIRE ERROR"
		case q.strataErr != nil:
			check = "STRATA ERROR"
		case q.duckErr != nil:
			check = "DUCKDB ERROR"
		case q.wireMismatch != "" || q.mismatch != "":
			check = "MISMATCH"
		case !cfg.strata:
			check = "(duckdb only)"
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t", q.name, wMs, sMs, dMs, wRatio, sRatio)
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
			line += fmt.Sprintf("%s\t%s\t", zMs, zRows)
		}
		fmt.Fprintf(tw, "%s%d\t%s\t\n", line, q.rows, check)
	}
	tw.Flush()
	if wireMean.n > 0 {
		fmt.Fprintf(w, "\ngeometric mean strata/DuckDB over the wire over %d queries: %.2f (worst: %s %.2f)\n", wireMean.n, wireMean.mean(), wireMean.worstName, wireMean.worst)
	}
	if inprocMean.n > 0 {
		fmt.Fprintf(w, "geometric mean strata/DuckDB in process over %d queries: %.2f (worst: %s %.2f)\n", inprocMean.n, inprocMean.mean(), inprocMean.worstName, inprocMean.worst)
	}
	fmt.Fprintf(w, "load: strata %.0f events/s, DuckDB %.0f events/s\n", rep.strataLoad, rep.duckLoad)
	for _, q := range rep.queries {
		switch {
		case q.wireErr != nil:
			fmt.Fprintf(w, "\n!!! %s: strata wire error: %v\n", q.name, q.wireErr)
		case q.wireMismatch != "":
			fmt.Fprintf(w, "\n!!! MISMATCH %s over the wire: %s\n", q.name, q.wireMismatch)
		}
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

// geomean accumulates strata/DuckDB ratios.
type geomean struct {
	logSum    float64
	n         int
	worst     float64
	worstName string
}

// add adds query name's ratio strata/duck and returns it formatted.
func (g *geomean) add(name string, strata, duck time.Duration) string {
	r := ms(strata) / math.Max(ms(duck), 1e-3)
	if r > g.worst {
		g.worst, g.worstName = r, name
	}
	g.logSum += math.Log(r)
	g.n++
	return fmt.Sprintf("%.2f", r)
}

func (g *geomean) mean() float64 { return math.Exp(g.logSum / float64(g.n)) }
