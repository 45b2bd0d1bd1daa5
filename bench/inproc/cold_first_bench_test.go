package inproc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/bench/inproc"
	"github.com/stratadb/strata/sql"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/objstore/s3fault"
	"github.com/stratadb/strata/storage/store"
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
	ctx := context.Background()
	s := coldFirstStore(b)
	defer s.Close()
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

// coldFirstStore opens the store of STRATA_BENCH_EVENTS events handed off
// entirely to its lake, kept in STRATA_BENCH_LAKE when set (see
// BenchmarkColdFirstRun).
func coldFirstStore(b *testing.B) *inproc.Strata {
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
	if got, _ := os.ReadFile(marker); string(got) == string(want) {
		return s
	}
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
	return s
}

// BenchmarkColdFirstRunS3 is BenchmarkColdFirstRun with the lake's files
// behind a real S3 server (versitygw on loopback, skipped when it is not
// installed; see storage/objstore/s3fault): the Delta table of the local store
// is copied to a bucket and read by a second store as the external table
// user_behavior, whose lake cache and byte-range cache (lakecache, lakebytes)
// are emptied and the store reopened before every run. Each query's rows are
// checked equal to the local store's once.
func BenchmarkColdFirstRunS3(b *testing.B) {
	ctx := context.Background()
	local := coldFirstStore(b)
	defer local.Close()
	bin, err := s3fault.FindVersitygw()
	if err != nil {
		b.Fatal(err)
	}
	if bin == "" {
		b.Skip("versitygw not installed: " + s3fault.VersitygwInstall)
	}
	vgw, err := s3fault.StartVersitygw(bin)
	if err != nil {
		b.Fatal(err)
	}
	defer vgw.Close()
	if err := vgw.CreateBucket(ctx, "coldbench"); err != nil {
		b.Fatal(err)
	}
	opts := objstore.Options{Endpoint: vgw.Endpoint, PathStyle: true, Region: s3fault.VersitygwRegion,
		AccessKey: s3fault.VersitygwAccess, SecretKey: s3fault.VersitygwSecret}
	bucket, err := objstore.Open(ctx, "s3://coldbench/ev", opts)
	if err != nil {
		b.Fatal(err)
	}
	lakeDir := local.LakeDir()
	err = filepath.WalkDir(lakeDir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(lakeDir, p)
		if err != nil {
			return err
		}
		return bucket.Put(ctx, filepath.ToSlash(rel), data)
	})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	sopts := store.Options{ObjStore: opts, LakeRoots: []string{"s3://coldbench"}}
	open := func() *inproc.Strata {
		st, err := store.Open(dir, sopts)
		if err != nil {
			b.Fatal(err)
		}
		db := sql.Open(st, sql.Options{})
		return &inproc.Strata{Store: st, DB: db, Session: db.NewSession("strata", "strata")}
	}
	s := open()
	if _, err := s.Store.CreateExternalTable(ctx, bench.TableName, "s3://coldbench/ev", "timestamp"); err != nil {
		b.Fatal(err)
	}
	defer func() { s.Close() }()
	reopen := func() {
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		for _, d := range []string{"lakecache", "lakebytes"} {
			if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
				b.Fatal(err)
			}
		}
		s = open()
	}
	for _, q := range bench.Queries {
		b.Run(q.Name, func(b *testing.B) {
			reopen()
			got, err := s.Query(ctx, q.SQL)
			if err != nil {
				b.Fatal(err)
			}
			want, err := local.Query(ctx, q.SQL)
			if err != nil {
				b.Fatal(err)
			}
			// An external table shows the lake's partition column (date) after
			// the table's columns: SELECT * has it, the bench table not.
			if len(got) > 0 && len(want) > 0 && len(got[0]) == len(want[0])+1 {
				for i := range got {
					got[i] = got[i][:len(got[i])-1]
				}
			}
			if d := bench.Diff("strata over S3", got, "strata over the local lake", want); d != "" {
				b.Fatal(d)
			}
			// The local store's second read queued its files for conversion
			// into its lake cache: let that finish before the timed runs, whose
			// wall and CPU time it would otherwise share.
			local.WaitLakeCache()
			var cpu time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				reopen()
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

// BenchmarkColdScanHeap measures the Go heap a first-run scan of a large lake
// holds above the idle store: the local lake (coldFirstStore) is repeated
// STRATA_BENCH_HEAP_COPIES times (default 30: about 1 GB at 2M events) as hard
// links in a second Delta table (one commit adding every copy, the original
// adds' stats and partition values), read by a fresh store as the external
// table user_behavior, by three queries of their own and then by every query
// of the bench suite (sub-benchmarks suite/NAME). Before each query the store
// is reopened on an emptied lake cache and garbage is collected; during it
// runtime/metrics' /memory/classes/heap/objects:bytes (live and not yet swept
// objects) is sampled every millisecond. Reported: lake MB, and the peak heap
// above the idle store's, in MiB (heap-MiB); the parent benchmark's last line
// (suite-max) is the highest of the suite's.
func BenchmarkColdScanHeap(b *testing.B) {
	ctx := context.Background()
	local := coldFirstStore(b)
	defer local.Close()
	copies := 30
	if v := os.Getenv("STRATA_BENCH_HEAP_COPIES"); v != "" {
		var err error
		if copies, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	src := local.LakeDir()
	snap, err := lake.OpenTable(objstore.LocalAt(src), "").Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(src, "_delta_log", "00000000000000000000.json"))
	if err != nil {
		b.Fatal(err)
	}
	var log []byte
	for _, line := range bytes.Split(first, []byte("\n")) {
		if bytes.HasPrefix(line, []byte(`{"protocol"`)) || bytes.HasPrefix(line, []byte(`{"metaData"`)) {
			log = append(append(log, line...), '\n')
		}
	}
	big := filepath.Join(b.TempDir(), "big")
	var lakeBytes int64
	for k := range copies {
		for _, f := range snap.Files() {
			rel := fmt.Sprintf("copy%d/%s", k, f.DecodedPath)
			dst := filepath.Join(big, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.Link(filepath.Join(src, filepath.FromSlash(f.DecodedPath)), dst); err != nil {
				b.Fatal(err)
			}
			add := *f
			add.Path = rel
			line, err := json.Marshal(map[string]any{"add": &add})
			if err != nil {
				b.Fatal(err)
			}
			log = append(append(log, line...), '\n')
			lakeBytes += f.Size
		}
	}
	if err := os.MkdirAll(filepath.Join(big, "_delta_log"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(big, "_delta_log", "00000000000000000000.json"), log, 0o644); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	opts := store.Options{LakeRoots: []string{filepath.Dir(big)}}
	st, err := store.Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.CreateExternalTable(ctx, bench.TableName, big, "timestamp"); err != nil {
		b.Fatal(err)
	}
	st.Close()
	queries := []struct{ name, sql string }{
		{"revenue_by_country", `SELECT country, sum(price * quantity) AS revenue, count(*) AS n FROM user_behavior GROUP BY country ORDER BY country`},
		{"all_columns_one_session", `SELECT * FROM user_behavior WHERE session_id = 's1_1' ORDER BY "timestamp"`},
		{"hourly_by_device", `SELECT date_trunc('hour', "timestamp") AS hour, device, count(*) FROM user_behavior GROUP BY 1, 2 ORDER BY 1, 2`},
	}
	for _, q := range bench.Queries {
		queries = append(queries, struct{ name, sql string }{"suite/" + q.Name, q.SQL})
	}
	var suiteMax uint64
	var suiteMaxName string
	defer func() {
		if suiteMaxName != "" {
			b.Logf("suite-max: %.1f heap-MiB (%s) over %.0f lake-MB", float64(suiteMax)/(1<<20), suiteMaxName, float64(lakeBytes)/1e6)
		}
	}()
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			var peak uint64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if err := os.RemoveAll(filepath.Join(dir, "lakecache")); err != nil {
					b.Fatal(err)
				}
				st, err := store.Open(dir, opts)
				if err != nil {
					b.Fatal(err)
				}
				s := &inproc.Strata{Store: st, DB: sql.Open(st, sql.Options{})}
				s.Session = s.DB.NewSession("strata", "strata")
				runtime.GC()
				idle := heapObjects()
				done, stopped := make(chan struct{}), make(chan struct{})
				var high uint64
				go func() {
					defer close(stopped)
					t := time.NewTicker(time.Millisecond)
					defer t.Stop()
					for {
						select {
						case <-done:
							return
						case <-t.C:
							high = maxU(high, heapObjects())
						}
					}
				}()
				b.StartTimer()
				_, err = s.Time(ctx, q.sql)
				b.StopTimer()
				close(done)
				<-stopped
				if err != nil {
					b.Fatal(err)
				}
				high = maxU(high, heapObjects())
				if high > idle {
					peak = maxU(peak, high-idle)
				}
				if err := st.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			if strings.HasPrefix(q.name, "suite/") && peak > suiteMax {
				suiteMax, suiteMaxName = peak, q.name
			}
			b.ReportMetric(float64(lakeBytes)/1e6, "lake-MB")
			b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
		})
	}
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// heapObjects is runtime/metrics' /memory/classes/heap/objects:bytes.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
