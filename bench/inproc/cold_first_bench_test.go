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
	"github.com/stratadb/strata/sql"
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
			if d := bench.Diff("strata over S3", got, "strata over the local lake", want); d != "" {
				b.Fatal(d)
			}
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
