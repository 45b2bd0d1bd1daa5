package main

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/internal/rowcheck"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/objstore/s3fault"
)

// handoffKiller watches, from the S3 proxy, the writes strata's handoffs make and,
// when armed, stops the first one of the armed kind that landed on the server
// before strata hears of it, and reports its key, so that the test SIGKILLs strata
// right there:
//   - "parquet": a Parquet data file landed (handoff step 2: files written, the
//     Delta commit not made yet);
//   - "commit": a Delta commit (_delta_log/N.json, N > 0) landed (after step 3,
//     before the catalog mark of step 4, which needs the commit's answer).
type handoffKiller struct {
	// mainOnly, when set, fires only on writes of the table's own Delta
	// table, not of its rejects' (<lake_path>/_rejects).
	mainOnly bool
	mu       sync.Mutex
	armed    string
	fired    chan string
	release  chan struct{}
}

// kindOf names the handoff write a request is, or "".
func kindOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case r.Method != http.MethodPut:
		return ""
	case strings.Contains(p, "/_delta_log/"):
		if strings.HasSuffix(p, ".json") && !strings.HasSuffix(p, "/00000000000000000000.json") {
			return "commit"
		}
	case strings.HasSuffix(p, ".parquet"):
		return "parquet"
	}
	return ""
}

// arm makes the next landed write of kind fire; it returns the channel the
// write's key arrives on.
func (k *handoffKiller) arm(kind string) <-chan string {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.armed, k.fired, k.release = kind, make(chan string, 1), make(chan struct{})
	return k.fired
}

// disarm stops waiting for a write and lets a held answer go (to a dead process).
func (k *handoffKiller) disarm() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.armed = ""
	if k.release != nil {
		close(k.release)
		k.release = nil
	}
}

// forwarded is the proxy's hook (s3fault.Config.Forwarded).
func (k *handoffKiller) forwarded(r *http.Request, status int) {
	kind := kindOf(r)
	k.mu.Lock()
	if kind == "" || kind != k.armed || status/100 != 2 || k.mainOnly && strings.Contains(r.URL.Path, "/_rejects/") {
		k.mu.Unlock()
		return
	}
	k.armed = ""
	fired, release := k.fired, k.release
	k.mu.Unlock()
	fired <- r.URL.Path
	select { // held until the test has killed strata
	case <-release:
	case <-time.After(30 * time.Second):
	}
}

// deltaVersion is the newest version of the Delta log, read directly (-1: no
// table yet).
func deltaVersion(t *testing.T, tbl *lake.Table) int64 {
	t.Helper()
	snap, err := tbl.Snapshot(context.Background())
	if errors.Is(err, lake.ErrNotExist) {
		return -1
	}
	if err != nil {
		t.Fatalf("read the Delta log directly: %v", err)
	}
	return snap.Version
}

// TestHandoffExactlyOnceUnderKillsAndS3Faults runs the whole pipeline against a
// real S3 server (versitygw) reached through a proxy that fails about one request
// in eight (500/503 before or after the request reached the server): Kafka →
// heads → segments → Delta Lake on S3, handing off every 100 ms. Events are
// produced in phases, each phase's timestamps over past minutes (minute chunks,
// no grace), so every phase gives the handoffs closed chunks to move; after each
// phase strata is SIGKILLed in turn
//   - at the moment a Delta commit it made landed on S3, before it could mark it
//     in its catalog (the proxy holds the answer until the kill),
//   - at the moment a Parquet file of a handoff landed, before the Delta commit,
//   - at a random moment,
//
// and restarted. Afterwards count(*) and every id through strata equal what the
// producer sent; the Delta log, read directly from S3, shows the version growing
// between kills, each Delta version one handoff (txn sequence +1 per version),
// every commit whose writer was killed before hearing of it kept and continued
// from by the next process (a repaired handoff, not a repeated one), the Parquet
// files of killed uncommitted handoffs never committed; and the rows of the
// Parquet files the log lists, read from their bytes, are the produced ids, each
// once, with its user.
func TestHandoffExactlyOnceUnderKillsAndS3Faults(t *testing.T) {
	const phases, perPhase = 12, 25_000
	const total = phases * perPhase
	const bucket = "lake"
	vgw := s3fault.NeedVersitygw(t)
	ctx := context.Background()
	if err := vgw.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	killer := &handoffKiller{}
	defer killer.disarm()
	proxy := s3fault.New(vgw.Endpoint, s3fault.Config{Seed: 5, Fail5xx: 0.08, FailAfter: 0.05, Forwarded: killer.forwarded})
	defer proxy.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", s3fault.VersitygwAccess)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3fault.VersitygwSecret)
	t.Setenv("AWS_REGION", s3fault.VersitygwRegion)
	// The test's own view of the lake: straight to versitygw, not through strata
	// or the proxy.
	direct, err := objstore.Open(ctx, "s3://"+bucket+"/ev", objstore.Options{Endpoint: vgw.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	tbl := lake.OpenTable(direct, "")

	addr, _ := kafkatest.Start(t, "events", 4)
	dataDir := filepath.Join(t.TempDir(), "data")
	pgAddr := freeAddr(t)
	flags := []string{"--kafka-brokers", addr, "--handoff-interval", "100ms", "--s3-endpoint", proxy.URL(), "--s3-path-style", "--lake-root", "s3://" + bucket}
	s := startStrataOn(t, dataDir, pgAddr, flags...)
	conn := connect(t, s)
	if _, err := conn.Exec(ctx, `CREATE TABLE ev ("timestamp" timestamptz NOT NULL, user_id text, n bigint)
		WITH (kafka_topic = 'events', persist_rows = '5000', persist_interval = '100ms', kafka_session_timeout = '1s',
		      segment_granularity = 'minute', lake_path = 's3://`+bucket+`/ev', handoff_grace = '0s')`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// Ids 0..total-1 at 7 ms apart (35 minutes), starting two hours ago: every
	// minute chunk is closed as soon as its rows are persisted.
	p := &producer{base: time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)}
	r := rand.New(rand.NewPCG(21, 22))
	type killAt struct {
		kind    string
		key     string // the write that landed just before the kill
		version int64  // the Delta version right after the kill
	}
	var kills []killAt
	for phase := range phases {
		kind := [...]string{"commit", "parquet", "random"}[phase%3]
		var fired <-chan string
		if kind != "random" {
			fired = killer.arm(kind)
		}
		p.run(t, addr, "events", perPhase, uint64(100+phase))
		k := killAt{kind: kind}
		if kind == "random" {
			time.Sleep(time.Duration(100+r.IntN(900)) * time.Millisecond)
		} else {
			select {
			case k.key = <-fired:
			case <-time.After(60 * time.Second):
				t.Fatalf("phase %d: no handoff %s landed on S3 within a minute", phase, kind)
			}
		}
		kill(t, s)
		killer.disarm()
		k.version = deltaVersion(t, tbl)
		kills = append(kills, k)
		t.Logf("kill %d (%s) %s: Delta version %d", len(kills), kind, k.key, k.version)
		s = startStrataOn(t, dataDir, pgAddr, flags...)
	}
	got := waitCount(t, total, s)
	if !maps.Equal(got, p.ids.PerUser()) {
		t.Fatalf("per-user counts differ from what was produced (%d users vs %d)", len(got), len(p.ids.PerUser()))
	}
	t.Logf("through strata: %s", exactlyOnce(t, &p.ids, s))

	// Everything reaches the lake; read it directly, not through strata.
	var snap *lake.Snapshot
	deadline := time.Now().Add(2 * time.Minute)
	for {
		snap, err = tbl.Snapshot(ctx)
		var n int64
		if err == nil {
			n, err = snap.Count(ctx)
		}
		if err == nil && n > total {
			t.Fatalf("the Delta table holds %d rows, more than the %d produced", n, total)
		}
		if err == nil && n == total {
			// The log's numRecords add up; now the rows themselves, read from
			// the Parquet bytes, must be the produced ids, each once, each
			// with its user.
			rows, err := lakeRowsFromBytes(ctx, snap)
			if err != nil {
				t.Fatal(err)
			}
			rep := rowcheck.Check(&p.ids, rows)
			if !rep.OK() {
				t.Fatalf("the Parquet files of Delta version %d: %s", snap.Version, rep)
			}
			t.Logf("%d kills; Delta version %d, %d files, read from their bytes: %s", len(kills), snap.Version, len(snap.Files()), rep)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Delta table holds %d rows (%v) after 2 minutes, want %d", n, err, total)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n, _, err := tableCounts(t, s); err != nil || n != total {
		t.Fatalf("after the handoffs: %d rows (%v), want %d", n, err, total)
	}
	exactlyOnce(t, &p.ids, s)

	// The kills landed inside handoffs, as the Delta log shows.
	checkKilledHandoffs(t, tbl, snap, kills, func(k killAt) (string, string, int64) { return k.kind, k.key, k.version })

	// The faults were real: the proxy broke requests of each kind it was asked to.
	c := proxy.Counts()
	t.Logf("proxy: %s", c)
	if c.Fail500+c.Fail503 == 0 || c.FailAfter == 0 {
		t.Fatalf("the S3 proxy injected no fault of some kind: %s", c)
	}
}

// checkKilledHandoffs checks, from the Delta log read directly (final is its
// newest snapshot), what the kills did to the handoffs:
//   - the version grew between kills: at least once per kill at a commit, and it
//     never went back;
//   - every version after 0 is one handoff: its txn (appId strata.appId of the
//     table's properties) is the previous version's plus one, so no handoff
//     was committed twice or skipped;
//   - a commit whose writer was killed before hearing of it (kind "commit") is
//     in the log, its files are all still in the final snapshot, and the next
//     handoff continues from it (txn + 1): the restarted process repaired it
//     from the log rather than handing its segments off again;
//   - the Parquet file whose writer was killed before its commit (kind
//     "parquet") is in no version.
func checkKilledHandoffs[K any](t *testing.T, tbl *lake.Table, final *lake.Snapshot, kills []K, get func(K) (kind, key string, version int64)) {
	t.Helper()
	ctx := context.Background()
	app := final.Metadata.Configuration["strata.appId"]
	if app == "" {
		t.Fatalf("the Delta table has no strata.appId property: %v", final.Metadata.Configuration)
	}
	// Every version's files and txn.
	files := make([]map[string]bool, final.Version+1)
	txn := make([]int64, final.Version+1)
	for v := int64(0); v <= final.Version; v++ {
		sv, err := tbl.SnapshotAt(ctx, v)
		if err != nil {
			t.Fatalf("Delta version %d: %v", v, err)
		}
		files[v] = map[string]bool{}
		for _, f := range sv.Files() {
			files[v][f.DecodedPath] = true
		}
		txn[v], _ = sv.TxnVersion(app)
		if v > 0 && txn[v] != txn[v-1]+1 {
			t.Errorf("Delta version %d has handoff txn %d after version %d's %d: not one handoff per version", v, txn[v], v-1, txn[v-1])
		}
	}
	prev, grew, atCommit, atParquet := int64(-1), 0, 0, 0
	for i, k := range kills {
		kind, key, version := get(k)
		if version < prev {
			t.Errorf("kill %d: Delta version %d, below the %d of the kill before", i+1, version, prev)
		}
		if version > prev {
			grew++
		}
		prev = version
		switch kind {
		case "commit":
			atCommit++
			base := key[strings.LastIndex(key, "/")+1:]
			v, err := strconv.ParseInt(strings.TrimSuffix(base, ".json"), 10, 64)
			if err != nil || v < 1 || v > final.Version {
				t.Errorf("kill %d: the commit %s that landed is not a version of the final log (0..%d)", i+1, key, final.Version)
				continue
			}
			if version < v {
				t.Errorf("kill %d: commit %d landed, but the log read after the kill is at version %d", i+1, v, version)
			}
			added := 0
			for f := range files[v] {
				if !files[v-1][f] {
					added++
					if !files[final.Version][f] {
						t.Errorf("kill %d: file %s of the killed process's commit %d is not in the final snapshot", i+1, f, v)
					}
				}
			}
			if added == 0 {
				t.Errorf("kill %d: commit %d added no file", i+1, v)
			}
			if v < final.Version && txn[v+1] != txn[v]+1 {
				t.Errorf("kill %d: the handoff after the killed commit %d (txn %d) has txn %d", i+1, v, txn[v], txn[v+1])
			}
		case "parquet":
			atParquet++
			for v := range files {
				for f := range files[v] {
					if strings.HasSuffix(key, "/"+f) {
						t.Errorf("kill %d: Parquet file %s, written by a process killed before its commit, is in Delta version %d", i+1, f, v)
					}
				}
			}
		}
	}
	if grew < atCommit || atCommit == 0 || atParquet == 0 {
		t.Errorf("the Delta version grew between %d of %d kills; %d kills at a landed commit, %d at a landed Parquet file", grew, len(kills), atCommit, atParquet)
	}
	t.Logf("Delta log: versions 0..%d, handoff txns %d..%d; the version grew between %d of %d kills; %d kills after a commit landed and before its mark (each repaired), %d after a Parquet write and before its commit (each file left out)",
		final.Version, txn[min(1, final.Version)], txn[final.Version], grew, len(kills), atCommit, atParquet)
}
