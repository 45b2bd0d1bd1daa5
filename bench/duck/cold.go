package main

// The -cold mode: strata's table is handed off entirely to its Delta Lake table,
// and DuckDB queries the very Parquet files the Delta snapshot lists, so both
// engines answer the suite from the same cold tier.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
)

// coldEngine is strata in process with the operations the cold mode needs
// (strata.go), or absent under the nostrata tag.
type coldEngine interface {
	strataEngine
	// Handoff moves every chunk to the lake and fails unless all rows (the table
	// holds rows) went there and no segment remains.
	Handoff(ctx context.Context, rows int64) (handoffInfo, error)
	// LakeDir is the folder of the table's Delta table.
	LakeDir() string
	// DropLakeCache empties the local cache of materialized lake files.
	DropLakeCache() error
	// CacheMisses counts lake files materialized since the last DropLakeCache.
	CacheMisses() int64
	// WaitLakeCache waits for the background conversions of lake files into the
	// cache to finish.
	WaitLakeCache()
}

// handoffInfo describes the handoff of the whole table.
type handoffInfo struct {
	rows  int64
	files int
	bytes int64
	dur   time.Duration
}

// coldQueryReport is the outcome of one query in the cold mode: queryReport.strata
// is strata's warm median, first its first run after the lake cache was emptied.
type coldQueryReport struct {
	queryReport
	first      time.Duration
	converted  int64 // lake files the first run materialized
	firstBytes int64 // bytes of lake files the first run fetched (lake.DataBytesRead)
}

// coldReport is the outcome of a -cold run.
type coldReport struct {
	queries    []coldQueryReport
	load       float64 // strata load, events/s
	handoff    handoffInfo
	lakeFiles  int
	lakeBytes  int64 // sum of the snapshot's file sizes
	jsonBytes  int64 // the events as JSON lines (newline included)
	duckSchema string
	failures   int
}

// runCold loads the events into strata, hands the whole table to the lake, points
// DuckDB at the Parquet files of the Delta snapshot and runs the suite in both.
func runCold(ctx context.Context, cfg config) (*coldReport, error) {
	w := cfg.out
	rep := &coldReport{}

	begin := time.Now()
	cols := bench.GenerateColumns(cfg.seed, cfg.events)
	fmt.Fprintf(w, "generated %d events (seed %d, %s .. %s) in %v\n",
		cfg.events, cfg.seed, bench.DefaultStart.Format(time.DateOnly), bench.DefaultEnd.Format(time.DateOnly),
		time.Since(begin).Round(time.Millisecond))
	rep.jsonBytes = jsonLineBytes(cfg.seed, cfg.events)

	dir, err := os.MkdirTemp("", "strata-bench-cold-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := openColdStrata(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if rep.load, err = loadStrata(ctx, w, st, cols, cfg); err != nil {
		return nil, err
	}
	cols = nil // let the generated events go before the queries

	if rep.handoff, err = st.Handoff(ctx, int64(cfg.events)); err != nil {
		return nil, fmt.Errorf("strata handoff: %w", err)
	}
	h := rep.handoff
	fmt.Fprintf(w, "strata handoff of every chunk: %d rows, %d Parquet files, %d bytes in %v, %.0f rows/s; no segment left\n",
		h.rows, h.files, h.bytes, h.dur.Round(time.Millisecond), float64(h.rows)/h.dur.Seconds())

	files, err := lakeFiles(ctx, st.LakeDir())
	if err != nil {
		return nil, err
	}
	rep.lakeFiles = len(files)
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("lake file: %w", err)
		}
		rep.lakeBytes += fi.Size()
	}
	if rep.lakeFiles != h.files || rep.lakeBytes != h.bytes {
		return nil, fmt.Errorf("the Delta snapshot lists %d files of %d bytes, the handoff wrote %d of %d",
			rep.lakeFiles, rep.lakeBytes, h.files, h.bytes)
	}

	duck, err := openDuck(cfg.threads)
	if err != nil {
		return nil, err
	}
	defer duck.Close()
	if rep.duckSchema, err = duck.parquetView(ctx, files); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "DuckDB view %s over read_parquet of the %d files: %s\n", bench.TableName, len(files), rep.duckSchema)

	for _, q := range bench.Queries {
		if cfg.only != nil && !cfg.only.MatchString(q.Name) {
			continue
		}
		qr := coldQueryReport{queryReport: queryReport{name: q.Name}}
		qctx, cancel := withTimeout(ctx, cfg.timeout)
		duckRows, err := duck.query(qctx, q.Duck())
		if err != nil {
			qr.duckErr = err
		} else {
			qr.rows = len(duckRows)
			qr.duck, qr.duckErr = median(cfg.runs, func() (time.Duration, error) { return duck.time(qctx, q.Duck()) })
		}
		cancel()

		if err := st.DropLakeCache(); err != nil {
			return nil, err
		}
		qctx, cancel = withTimeout(ctx, cfg.timeout)
		m0, b0 := st.CacheMisses(), lake.DataBytesRead()
		stop, err := startProfile(cfg.profile, q.Name+".first")
		if err != nil {
			cancel()
			return nil, err
		}
		qr.first, qr.strataErr = st.Time(qctx, q.SQL)
		if err := stop(); err != nil {
			cancel()
			return nil, err
		}
		qr.converted, qr.firstBytes = st.CacheMisses()-m0, lake.DataBytesRead()-b0
		if qr.strataErr == nil {
			// The direct path's rows (a second read, which queues the files it
			// reads for conversion), then the warm runs once the cache has them.
			var direct [][]string
			direct, qr.strataErr = st.Query(qctx, q.SQL)
			if qr.strataErr == nil && qr.duckErr == nil {
				qr.mismatch = bench.Diff("strata (Parquet read directly)", direct, "duckdb", duckRows)
			}
			st.WaitLakeCache()
		}
		if qr.strataErr == nil && qr.mismatch == "" {
			qr.runStrata(qctx, st, q.SQL, cfg.runs, duckRows)
		}
		cancel()
		if qr.duckErr != nil || qr.strataErr != nil || qr.mismatch != "" {
			rep.failures++
		}
		rep.queries = append(rep.queries, qr)
	}
	printColdTable(w, cfg, rep)
	return rep, nil
}

// lakeFiles returns the absolute paths of the data files of the latest snapshot of
// the Delta table in dir, read from its log independently of strata's store.
func lakeFiles(ctx context.Context, dir string) ([]string, error) {
	snap, err := lake.OpenTable(objstore.LocalAt(dir), "").Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("delta table %s: %w", dir, err)
	}
	var out []string
	for _, f := range snap.Files() {
		if f.IsAbsolute || f.DeletionVector != nil {
			return nil, fmt.Errorf("delta table %s: file %s is absolute or has a deletion vector", dir, f.Path)
		}
		out = append(out, filepath.Join(dir, filepath.FromSlash(f.DecodedPath)))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("delta table %s has no files", dir)
	}
	return out, nil
}

// parquetView creates the view user_behavior over read_parquet of files (Hive
// partitioning off: the date partition column is not in the files and the suite
// does not use it) and checks that DuckDB sees the columns, in order and with the
// types, of the table bench.CreateTableSQL creates in DuckDB, which the suite is
// proven against. It returns the view's columns as "name TYPE, ...".
func (d *duckDB) parquetView(ctx context.Context, files []string) (string, error) {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	view := "CREATE VIEW " + bench.TableName + " AS SELECT * FROM read_parquet([" +
		strings.Join(quoted, ", ") + "], hive_partitioning = false)"
	if _, err := d.db.ExecContext(ctx, view); err != nil {
		return "", fmt.Errorf("duckdb create parquet view: %w", err)
	}
	const ref = "user_behavior_reference_types"
	refSQL := strings.Replace(bench.CreateTableSQL, "CREATE TABLE "+bench.TableName+" ", "CREATE TEMP TABLE "+ref+" ", 1)
	if refSQL == bench.CreateTableSQL {
		return "", fmt.Errorf("bench.CreateTableSQL does not start with CREATE TABLE %s", bench.TableName)
	}
	if _, err := d.db.ExecContext(ctx, refSQL); err != nil {
		return "", fmt.Errorf("duckdb create reference table: %w", err)
	}
	defer d.db.ExecContext(ctx, "DROP TABLE "+ref)
	got, err := d.columns(ctx, bench.TableName)
	if err != nil {
		return "", err
	}
	want, err := d.columns(ctx, ref)
	if err != nil {
		return "", err
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		return "", fmt.Errorf("DuckDB sees the Parquet files as (%s), the suite expects (%s)",
			strings.Join(got, ", "), strings.Join(want, ", "))
	}
	return strings.Join(got, ", "), nil
}

// columns returns "name TYPE" for each column of the table or view name, in order.
func (d *duckDB) columns(ctx context.Context, name string) ([]string, error) {
	rows, err := d.db.QueryContext(ctx,
		"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", name)
	if err != nil {
		return nil, fmt.Errorf("duckdb columns of %s: %w", name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var col, typ sql.NullString
		if err := rows.Scan(&col, &typ); err != nil {
			return nil, fmt.Errorf("duckdb columns of %s: %w", name, err)
		}
		out = append(out, col.String+" "+typ.String)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckdb columns of %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("duckdb: no columns for %s", name)
	}
	return out, nil
}

// jsonLineBytes is the size of the first n events of seed (the events
// bench.GenerateColumns generates) encoded as the JSON lines the Kafka path
// ingests, one newline each.
func jsonLineBytes(seed int64, n int) int64 {
	g := bench.NewGenerator(seed, bench.DefaultStart, bench.DefaultEnd, bench.DefaultUsers, bench.DefaultProducts)
	g.Ordered(n)
	var total int64
	buf := make([]byte, 0, 512)
	for range n {
		buf = g.AppendJSON(buf[:0])
		total += int64(len(buf)) + 1
	}
	return total
}

func printColdTable(w io.Writer, cfg config, rep *coldReport) {
	fmt.Fprintf(w, "\n%d events, all in the lake (cold tier); median of %d runs; DuckDB threads=%d over the same Parquet files, strata GOMAXPROCS=%d, machine cores=%d\n",
		cfg.events, cfg.runs, cfg.threads, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(w, "strata 1st = first run after the lake cache was emptied (reads the Parquet files directly; files = lake files it materialized);\n")
	fmt.Fprintf(w, "strata warm = median of the runs after the files it read were converted into the lake cache in the background; ratio = strata warm / DuckDB\n")
	fmt.Fprintf(w, "1st read = bytes of the lake's Parquet files the first run fetched (footers, column chunks, dictionary pages), and their share of all %d bytes\n\n", rep.lakeBytes)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\tstrata 1st ms\t1st read MB\t% of lake\tfiles\tstrata warm ms\tDuckDB ms\twarm/DuckDB\t1st/DuckDB\trows\tcheck\t")
	var logWarm, logFirst float64
	var n int
	for _, q := range rep.queries {
		first, warm, dMs, ratio, ratio1, check := "-", "-", "-", "-", "-", "ok"
		if q.duckErr == nil {
			dMs = fmt.Sprintf("%.2f", ms(q.duck))
		}
		if q.strataErr == nil {
			first = fmt.Sprintf("%.2f", ms(q.first))
			warm = fmt.Sprintf("%.2f", ms(q.strata))
		}
		if q.duckErr == nil && q.strataErr == nil {
			r := ms(q.strata) / math.Max(ms(q.duck), 1e-3)
			r1 := ms(q.first) / math.Max(ms(q.duck), 1e-3)
			ratio, ratio1 = fmt.Sprintf("%.2f", r), fmt.Sprintf("%.2f", r1)
			logWarm += math.Log(r)
			logFirst += math.Log(r1)
			n++
		}
		switch {
		case q.strataErr != nil:
			check = "STRATA ERROR"
		case q.duckErr != nil:
			check = "DUCKDB ERROR"
		case q.mismatch != "":
			check = "MISMATCH"
		}
		readMB, share := "-", "-"
		if q.strataErr == nil {
			readMB = fmt.Sprintf("%.2f", float64(q.firstBytes)/(1<<20))
			share = fmt.Sprintf("%.1f", 100*float64(q.firstBytes)/math.Max(float64(rep.lakeBytes), 1))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t\n", q.name, first, readMB, share, q.converted, warm, dMs, ratio, ratio1, q.rows, check)
	}
	tw.Flush()
	if n > 0 {
		fmt.Fprintf(w, "\ngeometric mean strata warm/DuckDB over %d queries: %.2f (strata 1st/DuckDB: %.2f)\n",
			n, math.Exp(logWarm/float64(n)), math.Exp(logFirst/float64(n)))
	}
	h := rep.handoff
	fmt.Fprintf(w, "load: strata %.0f events/s; handoff: %.0f rows/s (%d rows, %d files, %v)\n",
		rep.load, float64(h.rows)/h.dur.Seconds(), h.rows, h.files, h.dur.Round(time.Millisecond))
	if cfg.events > 0 {
		pb := float64(rep.lakeBytes) / float64(cfg.events)
		jb := float64(rep.jsonBytes) / float64(cfg.events)
		fmt.Fprintf(w, "compression: Parquet %.2f bytes/event (%d bytes), JSON lines %.2f bytes/event (%d bytes): JSON/Parquet %.1fx\n",
			pb, rep.lakeBytes, jb, rep.jsonBytes, jb/pb)
	}
	for _, q := range rep.queries {
		switch {
		case q.strataErr != nil:
			fmt.Fprintf(w, "\n!!! %s: strata error: %v\n", q.name, q.strataErr)
		case q.duckErr != nil:
			fmt.Fprintf(w, "\n!!! %s: DuckDB error: %v\n", q.name, q.duckErr)
		case q.mismatch != "":
			fmt.Fprintf(w, "\n!!! MISMATCH %s: %s\n", q.name, q.mismatch)
		}
	}
	if rep.failures > 0 {
		fmt.Fprintf(w, "\n!!! %d of %d queries FAILED (error or MISMATCH)\n", rep.failures, len(rep.queries))
	}
}
