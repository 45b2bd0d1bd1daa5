package main

import (
	"context"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/internal/rowcheck"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/objstore/s3fault"
)

// followSlack is how far behind what the producer had acknowledged the node
// that only follows may count: every partition reaches it straight from Kafka
// (issue 13 part 3), whoever owns it and whatever a kill did to its owner.
const followSlack = 2 * time.Second

// clusterEvents is how many events TestClusterThreeNodesUnderKills produces:
// the 1,000,000 unless under CI or -short (120,000 over 40 s, so that
// the test takes about two minutes of CI's time and cmd/strata stays well
// within go test's 10-minute default); STRATA_CLUSTER_EVENTS overrides both.
func clusterEvents(t *testing.T) (events int, produceFor time.Duration) {
	events, produceFor = 1_000_000, 120*time.Second
	if os.Getenv("CI") != "" || testing.Short() {
		events, produceFor = 120_000, 40*time.Second
	}
	if s := os.Getenv("STRATA_CLUSTER_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 10_000 {
			t.Fatalf("STRATA_CLUSTER_EVENTS=%q: want a number of at least 10000", s)
		}
		events = n
		produceFor = max(40*time.Second, time.Duration(n/8_000)*time.Second)
	}
	return events, produceFor
}

// lakeCounts samples the row count of the Delta table, read straight from
// versitygw (not through strata or a fault proxy), so that a node's count can
// be checked against what the lake held a while before the node was asked.
type lakeCounts struct {
	mu      sync.Mutex
	samples []lakeSample
}

type lakeSample struct {
	at time.Time
	n  int64
}

func (l *lakeCounts) add(at time.Time, n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples = append(l.samples, lakeSample{at, n})
}

// before is the largest count sampled before t (0 if none): the lake only
// grows (OPTIMIZE rewrites, it removes no row), so it is the latest sample.
func (l *lakeCounts) before(t time.Time) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, s := range l.samples {
		if s.at.Before(t) && s.n > n {
			n = s.n
		}
	}
	return n
}

// clusterNode is one strata process of the test, replaced on each restart.
type clusterNode struct {
	name    string
	mu      sync.Mutex
	s       *strataServer
	started time.Time
	down    bool
	flags   []string
	killer  *handoffKiller
	proxy   *s3fault.Proxy
}

func (n *clusterNode) get() (*strataServer, time.Time, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.s, n.started, n.down
}

// TestClusterThreeNodesUnderKills is issue 13's cluster check on one machine: a
// Kafka-protocol broker (kfake, 8 partitions), the real S3 server (versitygw)
// behind fault proxies (one per node, failing about one request in twenty), and
// three strata processes:
//
//   - a and b: `strata serve --cluster s3://lake/cluster`; the table is created
//     on a and b finds it in the cluster catalog; they share the topic's
//     partitions in one consumer group and hand off every 300 ms to the table's
//     Delta table under the cluster location;
//   - c: owns nothing: `strata serve --cluster … --kafka-follow-only` finds the
//     table in the cluster catalog, joins no consumer group and follows every
//     partition from Kafka into memory, beside the lake.
//
// A producer writes the events at a steady rate across the 8 partitions while
// an owner (a and b in turn) is SIGKILLed 10 times — at the moment its handoff's
// Delta commit landed on S3 (before it heard so), at the moment a Parquet file of
// a handoff landed (before the commit), or at a random moment — and restarted
// after up to 1.5 s, once on an emptied data directory (it finds the table again
// through the cluster catalog alone); each restarted node owns partitions again
// within 10 s (the issue asks 5 s; the times are logged). Throughout, every node's count(*) is at most
// what was produced and at least what the lake held 5 s before the query, and
// c's at least what the producer had acknowledged followSlack before. At the
// end each of the three nodes has every produced id exactly once with its user
// (count(*) and per-user counts equal the producer's), the Delta table read
// straight from S3 holds exactly the produced rows (by id, from the Parquet
// bytes), and DuckDB, reading the files its log lists, counts the same
// (bench/duck TestDuckDBReadsClusterLake, run from here).
func TestClusterThreeNodesUnderKills(t *testing.T) {
	events, produceFor := clusterEvents(t)
	const kills = 10
	const bucket = "lake"
	ctx := context.Background()
	vgw := s3fault.NeedVersitygw(t)
	if err := vgw.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s3fault.VersitygwAccess)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3fault.VersitygwSecret)
	t.Setenv("AWS_REGION", s3fault.VersitygwRegion)
	direct, err := objstore.Open(ctx, "s3://"+bucket+"/cluster/tables/ev", objstore.Options{Endpoint: vgw.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	tbl := lake.OpenTable(direct, "")

	brokers, _ := kafkatest.Start(t, "events", 8)
	dir := t.TempDir()
	nodes := map[string]*clusterNode{}
	for i, name := range []string{"a", "b", "c"} {
		k := &handoffKiller{mainOnly: true}
		px := s3fault.New(vgw.Endpoint, s3fault.Config{Seed: int64(40 + i), Fail5xx: 0.03, FailAfter: 0.02, Forwarded: k.forwarded})
		t.Cleanup(px.Close)
		t.Cleanup(k.disarm)
		flags := []string{"--s3-endpoint", px.URL(), "--s3-path-style", "--handoff-interval", "300ms"}
		flags = append(flags, "--cluster", "s3://"+bucket+"/cluster", "--cluster-refresh", "300ms", "--kafka-brokers", brokers)
		if name == "c" {
			flags = append(flags, "--kafka-follow-only")
		}
		nodes[name] = &clusterNode{name: name, flags: flags, killer: k, proxy: px}
	}
	start := func(n *clusterNode, dataDir, pgAddr string) {
		s := startStrataOn(t, dataDir, pgAddr, n.flags...)
		n.mu.Lock()
		n.s, n.started, n.down = s, time.Now(), false
		n.mu.Unlock()
	}
	a, b, c := nodes["a"], nodes["b"], nodes["c"]
	start(a, filepath.Join(dir, "a"), freeAddr(t))
	ca := connect(t, a.s)
	if _, err := ca.Exec(ctx, `CREATE TABLE ev ("timestamp" timestamptz NOT NULL, user_id text, n bigint)
		WITH (kafka_topic = 'events', persist_rows = '20000', persist_interval = '200ms', kafka_session_timeout = '1s')`); err != nil {
		t.Fatal(err)
	}
	ca.Close(ctx)
	start(b, filepath.Join(dir, "b"), freeAddr(t))
	deadline := time.Now().Add(time.Minute)
	for assigned(t, a.s) == 0 || assigned(t, b.s) == 0 || assigned(t, a.s)+assigned(t, b.s) != 8 {
		if time.Now().After(deadline) {
			t.Fatalf("partitions not split after a minute: a owns %d, b %d", assigned(t, a.s), assigned(t, b.s))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The producer: a steady rate, id i to partition i % 8.
	p := &producer{partitions: 8}
	rate := float64(events) / produceFor.Seconds()
	produced := p.steady(t, brokers, events, produceFor, 1000)
	producedSoFar := p.soFar

	// The lake, sampled straight from versitygw.
	lc := &lakeCounts{}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for !closed(stop) {
			at := time.Now()
			if snap, err := tbl.Snapshot(ctx); err == nil {
				if n, err := snap.Count(ctx); err == nil {
					lc.add(at, n)
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()

	// c finds the table in the cluster catalog and follows every partition.
	start(c, filepath.Join(dir, "c"), freeAddr(t))
	for ownsCount(c.s) != 0 || followedBy(t, c.s) != 8 {
		if time.Now().After(deadline) {
			t.Fatalf("c owns %d partitions and follows %d after a minute, want 0 and 8", ownsCount(c.s), followedBy(t, c.s))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The bounds, checked on every node over and over while the kills go on.
	var checks sync.Map // node name -> *int
	for _, n := range []*clusterNode{a, b, c} {
		bg.Add(1)
		var done int
		checks.Store(n.name, &done)
		go func() {
			defer bg.Done()
			for !closed(stop) {
				s, started, down := n.get()
				if down {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				asked := time.Now()
				ackedBefore, _ := producedSoFar()
				qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				var got int64
				err := func() error {
					conn, err := pgx.Connect(qctx, s.dsn())
					if err != nil {
						return err
					}
					defer conn.Close(qctx)
					return conn.QueryRow(qctx, `SELECT count(*) FROM ev`).Scan(&got)
				}()
				cancel()
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue // killed, starting, or its table not there yet
				}
				_, allocated := producedSoFar()
				lo := lc.before(asked.Add(-5 * time.Second))
				if got > int64(allocated) {
					t.Errorf("%s: count(*) %d, more than the %d events produced: counted twice", n.name, got, allocated)
					return
				}
				if got < lo && asked.Sub(started) > 5*time.Second {
					t.Errorf("%s: count(*) %d, below the %d rows the lake held 5 s before", n.name, got, lo)
					return
				}
				if least := int64(ackedBefore) - int64(rate*followSlack.Seconds()); n == c && got < least {
					t.Errorf("c, following every partition: count(*) %d, below the %d events acknowledged %v before", got, least, followSlack)
					return
				}
				done++
				time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond)
			}
		}()
	}

	// The kills: a and b in turn, every produceFor/(kills+1).
	r := rand.New(rand.NewPCG(13, 13))
	every := produceFor / (kills + 1)
	type killed struct {
		node, kind, key string
		at              time.Duration
		wiped           bool
	}
	var log []killed
	var slowest time.Duration
	began := time.Now()
	for k := range kills {
		time.Sleep(every/2 + time.Duration(r.Int64N(int64(every/2))))
		n := []*clusterNode{a, b}[k%2]
		kind := [...]string{"commit", "parquet", "random"}[k%3]
		kl := killed{node: n.name, kind: kind, wiped: k == 4}
		if kind == "random" {
			time.Sleep(time.Duration(r.IntN(1000)) * time.Millisecond)
		} else {
			select {
			case kl.key = <-n.killer.arm(kind):
			case <-time.After(20 * time.Second):
				kl.kind = "random (no handoff " + kind + " landed within 20 s)"
			}
		}
		s, _, _ := n.get()
		n.mu.Lock()
		n.down = true
		n.mu.Unlock()
		kill(t, s)
		n.killer.disarm()
		kl.at = time.Since(began).Round(time.Millisecond)
		if kl.wiped {
			if err := os.RemoveAll(s.dataDir); err != nil {
				t.Fatal(err)
			}
		}
		log = append(log, kl)
		t.Logf("kill %d: %s at %v (%s %s)%s", k+1, kl.node, kl.at, kl.kind, kl.key, map[bool]string{true: ", data directory deleted"}[kl.wiped])
		time.Sleep(time.Duration(r.IntN(1500)) * time.Millisecond)
		restarted := time.Now()
		start(n, s.dataDir, s.addr)
		// Static membership gives the restarted node partitions back at once
		// (issue 13: within 5 s of starting; 10 s here, on a loaded machine).
		ns, _, _ := n.get()
		for ownsCount(ns) == 0 {
			if time.Since(restarted) > 10*time.Second {
				t.Fatalf("kill %d: %s owns no partition 10 s after its restart", k+1, n.name)
			}
			time.Sleep(50 * time.Millisecond)
		}
		back := time.Since(restarted)
		slowest = max(slowest, back)
		t.Logf("kill %d: %s owns partitions again %v after its restart began", k+1, n.name, back.Round(time.Millisecond))
	}
	t.Logf("the slowest restart owned partitions again after %v", slowest.Round(time.Millisecond))
	<-produced
	acked, _ := producedSoFar()
	if acked != events {
		t.Fatalf("produced %d of %d events", acked, events)
	}
	t.Logf("%d events produced in %v (%.0f/s)", events, time.Since(began).Round(time.Millisecond), float64(events)/time.Since(began).Seconds())

	// The end: every node holds every produced event exactly once.
	want := p.ids.PerUser()
	for _, n := range []*clusterNode{a, b, c} {
		s, _, _ := n.get()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got, per, err := tableCounts(t, s)
			if err == nil && got > events {
				t.Fatalf("%s: %d rows, more than the %d produced", n.name, got, events)
			}
			if err == nil && got == events {
				if !maps.Equal(per, want) {
					t.Fatalf("%s: per-user counts differ from the producer's", n.name)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d rows (%v) two minutes after the producer ended, want %d", n.name, got, err, events)
			}
			time.Sleep(200 * time.Millisecond)
		}
		conn := connect(t, s)
		rows, err := queryIDs(ctx, conn)
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rep := rowcheck.Check(&p.ids, rows)
		if !rep.OK() {
			t.Fatalf("%s: %s", n.name, rep)
		}
		t.Logf("%s: %s", n.name, rep)
	}
	close(stop)
	bg.Wait()
	for _, name := range []string{"a", "b", "c"} {
		v, _ := checks.Load(name)
		t.Logf("%s: %d counts checked between the lake's and the produced during the kills", name, *v.(*int))
		if *v.(*int) < 10 {
			t.Errorf("%s: only %d counts checked during the run", name, *v.(*int))
		}
	}

	// The Delta table, read straight from S3: exactly the produced rows.
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := snap.Count(ctx); err != nil || n != int64(events) {
		t.Fatalf("the Delta table holds %d rows (%v), want %d", n, err, events)
	}
	lakeRows, err := lakeRowsFromBytes(ctx, snap)
	if err != nil {
		t.Fatal(err)
	}
	if rep := rowcheck.Check(&p.ids, lakeRows); !rep.OK() {
		t.Fatalf("the Parquet files of Delta version %d: %s", snap.Version, rep)
	}
	t.Logf("Delta version %d, %d files: every produced row once", snap.Version, len(snap.Files()))
	wiped, mid := 0, 0
	for _, k := range log {
		if k.wiped {
			wiped++
		}
		if k.kind == "commit" || k.kind == "parquet" {
			mid++
		}
	}
	if len(log) != kills || wiped != 1 || mid < 4 {
		t.Errorf("%d kills, %d with the data directory deleted, %d mid-handoff: want %d, 1, at least 4", len(log), wiped, mid, kills)
	}
	for _, n := range []*clusterNode{a, b, c} {
		t.Logf("proxy of %s: %s", n.name, n.proxy.Counts())
	}

	// DuckDB reads the same Delta table: bench/duck, its own module (duckdb-go).
	duckCheck(t, vgw.Endpoint, "s3://"+bucket+"/cluster/tables/ev", int64(events), want)
}

// duckCheck runs bench/duck's TestDuckDBReadsClusterLake on the Delta table at
// path: DuckDB must count want rows, each id once, and the per-user counts.
func duckCheck(t *testing.T, endpoint, path string, total int64, perUser map[string]int) {
	t.Helper()
	spec, err := json.Marshal(map[string]any{"endpoint": endpoint, "path": path, "total": total, "per_user": perUser})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "duck-check.json")
	if err := os.WriteFile(f, spec, 0o600); err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "test", "-mod=mod", "-count=1", "-run", "^TestDuckDBReadsClusterLake$", "-v", ".")
	cmd.Dir = filepath.Join("..", "..", "bench", "duck")
	cmd.Env = append(os.Environ(), "STRATA_DUCK_CHECK="+f)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("DuckDB over the Delta table: %v\n%s", err, out)
	}
	t.Logf("DuckDB over the Delta table:\n%s", out)
}

// steady produces events to topic "events" at a steady rate over d, in
// batches every 100 ms (seeds from seed on), and closes the channel it
// returns when all are acknowledged.
func (p *producer) steady(t *testing.T, brokers string, events int, d time.Duration, seed uint64) <-chan struct{} {
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		rate := float64(events) / d.Seconds()
		const tick = 100 * time.Millisecond
		began := time.Now()
		for sent, k := 0, 0; sent < events; k++ {
			if due := min(events, int(rate*time.Since(began).Seconds())+int(rate*tick.Seconds())); due > sent {
				p.run(t, brokers, "events", due-sent, seed+uint64(k))
				sent = due
			}
			time.Sleep(tick)
		}
	}()
	return produced
}

// soFar returns the events acknowledged and the ids handed out so far.
func (p *producer) soFar() (acked, allocated int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, p.next
}

// ownsCount is how many partitions of ev s owns, 0 while it cannot answer.
func ownsCount(s *strataServer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		return 0
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(partition) FROM strata_ingest_status WHERE table_name = 'ev' AND role = 'owner' AND state <> 'unassigned'`).Scan(&n); err != nil {
		return 0
	}
	return n
}

// followedBy is how many partitions of ev s follows (0 when s does not answer).
func followedBy(t *testing.T, s *strataServer) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		return 0
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(partition) FROM strata_ingest_status WHERE table_name = 'ev' AND role = 'follower'`).Scan(&n); err != nil {
		return 0
	}
	return n
}
