package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/objstore/s3fault"
)

// The id ranges of TestTwoProcessesShareOneLakeOnS3: process 0's rows, process
// 1's, and an external writer's.
const (
	followRound  = 500 // rows per COPY
	followIDBase = 1_000_000
	followExtID  = 9_000_000
)

// followProc is one strata process of the test and what it has ingested.
type followProc struct {
	name    string
	s       *strataServer
	idBase  int64
	started atomic.Int64 // rows of COPYs started
	done    atomic.Int64 // rows of COPYs finished
}

// TestTwoProcessesShareOneLakeOnS3: two strata processes (own data directories)
// share one lake_path on a real S3 server (versitygw), each ingesting half of the
// time chunks by COPY and handing them off every 100 ms. Each sees the other's
// handed-off rows within 2 s of the commit (measured from the moment the test,
// polling the Delta log on S3 directly, sees the commit). Throughout, a checker
// queries both processes over and over: count(*) equals count(DISTINCT id) (no
// row twice); the process's own ids are exactly the ids of its finished COPYs
// (hot or handed off, never missing); the other process's ids are a prefix of its
// COPYs, never more than the Delta log holds. A commit by an external writer
// through storage/lake is seen by both, and an OPTIMIZE by one process (removes
// and re-adds every file) changes no count in either.
func TestTwoProcessesShareOneLakeOnS3(t *testing.T) {
	const rounds = 8
	const bucket = "shared"
	vgw := s3fault.NeedVersitygw(t)
	ctx := context.Background()
	if err := vgw.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s3fault.VersitygwAccess)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3fault.VersitygwSecret)
	t.Setenv("AWS_REGION", s3fault.VersitygwRegion)
	direct, err := objstore.Open(ctx, "s3://"+bucket+"/ev", objstore.Options{Endpoint: vgw.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	tbl := lake.OpenTable(direct, "")

	flags := []string{"--handoff-interval", "100ms", "--s3-endpoint", vgw.Endpoint, "--s3-path-style", "--lake-root", "s3://" + bucket}
	procs := make([]*followProc, 2)
	for i := range procs {
		p := &followProc{name: fmt.Sprintf("process %d", i), idBase: int64(i) * followIDBase}
		p.s = startStrataOn(t, filepath.Join(t.TempDir(), "data"), freeAddr(t), flags...)
		conn := connect(t, p.s)
		if _, err := conn.Exec(ctx, `CREATE TABLE ev (id bigint NOT NULL, "timestamp" timestamptz NOT NULL, who text)
			WITH (segment_granularity = 'minute', lake_path = 's3://`+bucket+`/ev', handoff_grace = '0s')`); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		procs[i] = p
	}
	// Process i's round r goes to the minute 2r+i of an hour three hours ago:
	// closed at once, each process its own chunks.
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)
	copyRound := func(p *followProc, r int, i int) {
		var b bytes.Buffer
		minute := start.Add(time.Duration(2*r+i) * time.Minute)
		first := p.idBase + int64(r*followRound)
		for k := range followRound {
			fmt.Fprintf(&b, "%d,%s,%s\n", first+int64(k), minute.Add(time.Duration(k)*time.Millisecond).Format("2006-01-02 15:04:05.000000+00"), p.name)
		}
		conn := connect(t, p.s)
		defer conn.Close(ctx)
		p.started.Add(followRound)
		if _, err := conn.PgConn().CopyFrom(ctx, &b, "COPY ev FROM STDIN WITH (FORMAT csv)"); err != nil {
			t.Errorf("%s: COPY round %d: %v", p.name, r, err)
		}
		p.done.Add(followRound)
	}

	// lakeCounts is the number of rows of each process in the latest Delta
	// version, read directly from S3 (by file: until OPTIMIZE each file holds
	// one writer's rows).
	var extRows atomic.Int64
	var optimized atomic.Bool
	lakeCounts := func() (own [2]int64, version int64) {
		snap, err := tbl.Snapshot(ctx)
		if err != nil {
			return own, -1
		}
		for _, f := range snap.Files() {
			st, err := f.ParsedStats()
			if err != nil || st == nil || st.NumRecords == nil {
				t.Errorf("file %s without stats", f.DecodedPath)
				continue
			}
			var lo int64
			if err := jsonInt(st.MinValues["id"], &lo); err != nil {
				t.Errorf("file %s: min id: %v", f.DecodedPath, err)
			}
			switch {
			case lo >= followExtID:
			case lo >= followIDBase:
				own[1] += *st.NumRecords
			default:
				own[0] += *st.NumRecords
			}
		}
		return own, snap.Version
	}

	// The checker: both processes, over and over, until stop.
	stop := make(chan struct{})
	var checks atomic.Int64
	var wg sync.WaitGroup
	for i, p := range procs {
		other := procs[1-i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := connect(t, p.s)
			defer conn.Close(ctx)
			for {
				select {
				case <-stop:
					return
				default:
				}
				ownBefore := p.done.Load()
				var total, distinct, own, ownMin, ownMax, oth, othMin, othMax, ext int64
				err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT id),
					count(*) FILTER (WHERE id >= $1 AND id < $1 + 1000000), coalesce(min(id) FILTER (WHERE id >= $1 AND id < $1 + 1000000), $1), coalesce(max(id) FILTER (WHERE id >= $1 AND id < $1 + 1000000), $1 - 1),
					count(*) FILTER (WHERE id >= $2 AND id < $2 + 1000000), coalesce(min(id) FILTER (WHERE id >= $2 AND id < $2 + 1000000), $2), coalesce(max(id) FILTER (WHERE id >= $2 AND id < $2 + 1000000), $2 - 1),
					count(*) FILTER (WHERE id >= $3)
					FROM ev`, p.idBase, other.idBase, int64(followExtID)).Scan(&total, &distinct, &own, &ownMin, &ownMax, &oth, &othMin, &othMax, &ext)
				if err != nil {
					t.Errorf("%s: check: %v", p.name, err)
					return
				}
				ownAfter := p.started.Load()
				inLake := [2]int64{p.done.Load(), other.done.Load()}
				if !optimized.Load() { // before OPTIMIZE, each file holds one writer's rows
					inLake, _ = lakeCounts()
				}
				checks.Add(1)
				switch {
				case total != distinct:
					t.Errorf("%s: count(*) = %d but %d distinct ids: rows counted twice", p.name, total, distinct)
				case total != own+oth+ext:
					t.Errorf("%s: count(*) = %d, but own %d + other %d + external %d", p.name, total, own, oth, ext)
				case own < ownBefore || own > ownAfter || ownMin != p.idBase || ownMax-ownMin+1 != own:
					t.Errorf("%s: its own ids are %d in [%d, %d], want the %d..%d rows of its COPYs from %d", p.name, own, ownMin, ownMax, ownBefore, ownAfter, p.idBase)
				case othMin != other.idBase || othMax-othMin+1 != oth || oth%followRound != 0:
					t.Errorf("%s: %s's ids are %d in [%d, %d]: not whole handoffs from %d", p.name, other.name, oth, othMin, othMax, other.idBase)
				case oth > inLake[1-i]:
					t.Errorf("%s: %d rows of %s, the Delta log holds %d of them", p.name, oth, other.name, inLake[1-i])
				case ext != 0 && ext != extRows.Load():
					t.Errorf("%s: %d external rows, want 0 or %d", p.name, ext, extRows.Load())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	// seenWithin waits until p reads want rows of the id range [lo, lo+1e6) and
	// returns how long after since that took.
	seenWithin := func(p *followProc, lo, want int64, since time.Time) (time.Duration, error) {
		conn, err := pgx.Connect(ctx, p.s.dsn())
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		for {
			var n int64
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM ev WHERE id >= $1 AND id < $1 + 1000000`, lo).Scan(&n); err != nil {
				return 0, fmt.Errorf("%s: %w", p.name, err)
			}
			if n == want {
				return time.Since(since), nil
			}
			if time.Since(since) > 10*time.Second {
				return 0, fmt.Errorf("%s: %d rows after 10s, want %d", p.name, n, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// waitCommitted polls the Delta log directly until it holds want rows of
	// process i and returns when it saw that.
	waitCommitted := func(i int, want int64) (time.Time, error) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			if own, _ := lakeCounts(); own[i] >= want {
				if own[i] > want {
					return time.Time{}, fmt.Errorf("the Delta log holds %d rows of %s, more than the %d it ingested", own[i], procs[i].name, want)
				}
				return time.Now(), nil
			}
			if time.Now().After(deadline) {
				return time.Time{}, fmt.Errorf("%s's handoff of %d rows did not reach the Delta log within a minute", procs[i].name, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	var worst time.Duration
	for r := range rounds {
		var cw sync.WaitGroup
		for i, p := range procs {
			cw.Add(1)
			go func() { defer cw.Done(); copyRound(p, r, i) }()
		}
		cw.Wait()
		// Per process, concurrently: when its commit is visible on S3, and how
		// long after that the other process reads its rows.
		want := int64((r + 1) * followRound)
		var lat [2]time.Duration
		var errs [2]error
		for i := range procs {
			cw.Add(1)
			go func() {
				defer cw.Done()
				at, err := waitCommitted(i, want)
				if err == nil {
					lat[i], err = seenWithin(procs[1-i], procs[i].idBase, want, at)
				}
				errs[i] = err
			}()
		}
		cw.Wait()
		for i, p := range procs {
			if errs[i] != nil {
				t.Fatalf("round %d: %v", r, errs[i])
			}
			t.Logf("round %d: %s saw %s's handoff %s after the commit was visible on S3", r, procs[1-i].name, p.name, lat[i].Round(time.Millisecond))
			worst = max(worst, lat[i])
		}
		if r == rounds/2 {
			// An external writer (delta-rs, Spark: here storage/lake) appends.
			snap, err := tbl.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rec := externalRows(t, snap, start.Add(50*time.Minute), 300)
			adds, err := lake.WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, lake.WriteOptions{})
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			extRows.Store(300)
			v, err := lake.Commit(ctx, tbl, snap.Version, lake.AddActions(adds), "WRITE", map[string]any{"mode": "Append"})
			if err != nil {
				t.Fatal(err)
			}
			at := time.Now()
			for _, p := range procs {
				d, err := seenWithin(p, followExtID, 300, at)
				if err != nil {
					t.Fatalf("external commit: %v", err)
				}
				t.Logf("%s saw the external commit (version %d) %s after it", p.name, v, d.Round(time.Millisecond))
				worst = max(worst, d)
			}
		}
	}

	// OPTIMIZE by process 0 rewrites the small files into one per date, rows of
	// both processes and the external writer mixed; the checker keeps running
	// while both follow the new version (3 × lake_refresh).
	optimized.Store(true)
	conn := connect(t, procs[0].s)
	before, v0 := lakeCounts()
	if _, err := conn.Exec(ctx, `OPTIMIZE ev`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := snap.Count(ctx); err != nil || n != before[0]+before[1]+extRows.Load() || snap.Version <= v0 {
		t.Fatalf("OPTIMIZE: %d rows (%v) at version %d, before %v + %d external at version %d", n, err, snap.Version, before, extRows.Load(), v0)
	}
	t.Logf("OPTIMIZE by %s: version %d -> %d, %d files", procs[0].name, v0, snap.Version, len(snap.Files()))
	time.Sleep(3 * time.Second)
	total := int64(rounds*followRound*2) + extRows.Load()
	for _, p := range procs {
		var n, d int64
		conn := connect(t, p.s)
		if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT id) FROM ev`).Scan(&n, &d); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		if n != total || d != total {
			t.Fatalf("%s at the end: count(*) = %d, %d distinct, want %d", p.name, n, d, total)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d checks of count(*) = own hot rows + lake, by distinct id; slowest sighting of another writer's commit: %s", checks.Load(), worst.Round(time.Millisecond))
	if worst > 2*time.Second {
		t.Fatalf("a commit took %s to be seen by the other process, want within 2s", worst)
	}
}

// externalRows builds n rows of the shared table (id, timestamp, who, and the
// date partition), ids from followExtID, as another Delta writer would.
func externalRows(t *testing.T, snap *lake.Snapshot, at time.Time, n int) arrow.RecordBatch {
	t.Helper()
	var fields []arrow.Field
	for _, f := range snap.Schema.Fields {
		var typ arrow.DataType
		switch f.Name {
		case "id":
			typ = arrow.PrimitiveTypes.Int64
		case "timestamp":
			typ = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
		case "who":
			typ = arrow.BinaryTypes.String
		case "date":
			typ = arrow.FixedWidthTypes.Date32
		default:
			t.Fatalf("unexpected column %s in the shared table", f.Name)
		}
		fields = append(fields, arrow.Field{Name: f.Name, Type: typ, Nullable: f.Nullable})
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	for k := range n {
		ts := at.Add(time.Duration(k) * time.Millisecond)
		for i, f := range fields {
			switch f.Name {
			case "id":
				b.Field(i).(*array.Int64Builder).Append(followExtID + int64(k))
			case "timestamp":
				b.Field(i).(*array.TimestampBuilder).Append(arrow.Timestamp(ts.UnixMicro()))
			case "who":
				b.Field(i).(*array.StringBuilder).Append("external")
			case "date":
				b.Field(i).(*array.Date32Builder).Append(arrow.Date32FromTime(ts))
			}
		}
	}
	return b.NewRecordBatch()
}

// jsonInt decodes a JSON number.
func jsonInt(raw []byte, v *int64) error {
	_, err := fmt.Sscan(string(raw), v)
	return err
}
