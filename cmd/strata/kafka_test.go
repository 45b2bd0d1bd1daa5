package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/internal/rowcheck"
	"github.com/stratadb/strata/storage/catalog"
)

const kafkaTableSQL = `CREATE TABLE ev ("timestamp" timestamptz NOT NULL, user_id text, n bigint)
	WITH (kafka_topic = 'events', persist_rows = '50000', persist_interval = '250ms', kafka_session_timeout = '1s')`

// producer produces events to a topic over its partitions, recording in ids the
// user of every id it produced (the independent expectation): ids are dense from
// 0 across runs.
type producer struct {
	ids  rowcheck.Ledger
	mu   sync.Mutex
	next int // the id of the next event
	sent int
	// base is the timestamp of id 0 (id i is at base + i*7ms); zero means
	// 2026-11-20T00:00:00Z.
	base time.Time
	// partitions, when above zero, sends id i to partition i % partitions (so a
	// partition's ids, in offset order, are every partitions-th id); otherwise
	// the client's default partitioner chooses.
	partitions int
	// badEvery, when above zero, follows every badEvery-th event with a
	// malformed record that takes no id; bad counts them. Their values are
	// "not json <k>" with k dense from 0, so each must reach <table>_rejects
	// exactly once.
	badEvery int
	bad      int
}

func (p *producer) run(t *testing.T, addr, topic string, n int, seed uint64) {
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(2 * time.Millisecond)}
	if p.partitions > 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	p.mu.Lock()
	first := p.next
	p.next += n
	p.mu.Unlock()
	r := rand.New(rand.NewPCG(seed, 1))
	base := p.base
	if base.IsZero() {
		base = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	}
	const chunk = 20_000
	for done := 0; done < n; {
		k := min(chunk, n-done)
		recs := make([]*kgo.Record, 0, k)
		users := make([]string, k)
		bad := 0
		for i := range users {
			id := first + done + i
			users[i] = "u" + strconv.Itoa(r.IntN(2000))
			ts := base.Add(time.Duration(id) * 7 * time.Millisecond)
			rec := &kgo.Record{Value: fmt.Appendf(nil, `{"timestamp":%q,"user_id":%q,"n":%d}`, ts.Format(time.RFC3339Nano), users[i], id)}
			if p.partitions > 0 {
				rec.Partition = int32(id % p.partitions)
			}
			recs = append(recs, rec)
			if p.badEvery > 0 && id%p.badEvery == p.badEvery-1 {
				p.mu.Lock()
				seq := p.bad + bad
				p.mu.Unlock()
				recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "not json %d", seq), Partition: rec.Partition})
				bad++
			}
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Errorf("produce: %v", err)
			return
		}
		for i, u := range users {
			p.ids.Add(int64(first+done+i), u)
		}
		p.mu.Lock()
		p.sent += k
		p.bad += bad
		p.mu.Unlock()
		done += k
	}
}

// tableCounts returns count(*) and the per-user counts of ev on s.
func tableCounts(t *testing.T, s *strataServer) (int, map[string]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		return 0, nil, err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT user_id, count(*) FROM ev GROUP BY user_id`)
	if err != nil {
		return 0, nil, err
	}
	per := map[string]int{}
	total := 0
	for rows.Next() {
		var u string
		var n int
		if err := rows.Scan(&u, &n); err != nil {
			return 0, nil, err
		}
		per[u] = n
		total += n
	}
	return total, per, rows.Err()
}

// waitCount polls until every server's count(*) sums to want, failing on more or
// on timeout; then it returns the summed per-user counts.
func waitCount(t *testing.T, want int, servers ...*strataServer) map[string]int {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		total, all := 0, map[string]int{}
		ok := true
		for _, s := range servers {
			n, per, err := tableCounts(t, s)
			if err != nil {
				ok = false
				break
			}
			total += n
			for u, k := range per {
				all[u] += k
			}
		}
		if ok && total == want {
			return all
		}
		if ok && total > want {
			t.Fatalf("%d rows, more than the %d produced: duplicates", total, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows after 3 minutes, want %d", total, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKafkaExactlyOnceUnderKills produces 1,000,000 events to a real Kafka-protocol
// broker while strata ingests them, SIGKILLs the strata process at random moments
// (during ingest and persist) at least five times, restarting it each time, and
// then checks count(*) and every user's count against what the producer counted:
// zero lost, zero duplicated.
func TestKafkaExactlyOnceUnderKills(t *testing.T) {
	const total = 1_000_000
	addr, _ := kafkatest.Start(t, "events", 4)
	dataDir := filepath.Join(t.TempDir(), "data")
	pgAddr := freeAddr(t)
	s := startStrataOn(t, dataDir, pgAddr, "--kafka-brokers", addr)
	conn := connect(t, s)
	if _, err := conn.Exec(context.Background(), kafkaTableSQL); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())

	p := &producer{badEvery: 1000}
	produced := make(chan struct{})
	go func() { defer close(produced); p.run(t, addr, "events", total, 7) }()

	r := rand.New(rand.NewPCG(11, 12))
	kills := 0
	for kills < 5 || !closed(produced) {
		time.Sleep(time.Duration(200+r.IntN(900)) * time.Millisecond)
		kill(t, s)
		kills++
		p.mu.Lock()
		t.Logf("kill %d: %d events produced so far", kills, p.sent)
		p.mu.Unlock()
		s = startStrataOn(t, dataDir, pgAddr, "--kafka-brokers", addr)
	}
	<-produced
	got := waitCount(t, total, s)
	if !maps.Equal(got, p.ids.PerUser()) {
		t.Fatalf("per-user counts differ from what was produced (%d users vs %d)", len(got), len(p.ids.PerUser()))
	}
	time.Sleep(time.Second) // a re-read would show up now
	rep := exactlyOnce(t, &p.ids, s)
	rejectsOnce(t, s, p.bad)
	t.Logf("%d kills; %s; %d malformed records rejected once each", kills, rep, p.bad)
}

// rejectsOnce fails t unless ev_rejects on s holds each of the want malformed
// records exactly once (checkRejects).
func rejectsOnce(t *testing.T, s *strataServer, want int) {
	t.Helper()
	if err := checkRejects(s, want); err != nil {
		t.Fatal(err)
	}
}

// checkRejects checks that ev_rejects on s holds each of the want malformed
// records ("not json <k>", k in [0, want)) exactly once, each at its own
// partition and offset.
func checkRejects(s *strataServer, want int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT "partition", "offset", raw FROM ev_rejects`)
	if err != nil {
		return err
	}
	seen := map[int]int{}
	at := map[[2]int64]bool{}
	n, sameOffset, odd := 0, 0, 0
	for rows.Next() {
		var part, off int64
		var raw string
		if err := rows.Scan(&part, &off, &raw); err != nil {
			return err
		}
		n++
		if at[[2]int64{part, off}] {
			sameOffset++
		}
		at[[2]int64{part, off}] = true
		k, err := strconv.Atoi(strings.TrimPrefix(raw, "not json "))
		if err != nil || k < 0 || k >= want {
			odd++
			continue
		}
		seen[k]++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	missing, twice := 0, 0
	for k := range want {
		switch seen[k] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if n != want || missing != 0 || twice != 0 || sameOffset != 0 || odd != 0 {
		return &rejectsError{n: n, want: want, missing: missing, twice: twice, sameOffset: sameOffset, odd: odd}
	}
	return nil
}

// rejectsError is what checkRejects found wrong with ev_rejects.
type rejectsError struct {
	n, want, missing, twice, sameOffset, odd int
}

// onlyMissing reports whether ev_rejects merely lacks records, holding none
// twice and nothing unexpected: a state another node's later handoff can still
// complete, unlike a record counted twice.
func (e *rejectsError) onlyMissing() bool {
	return e.twice == 0 && e.sameOffset == 0 && e.odd == 0 && e.n+e.missing == e.want
}

func (e *rejectsError) Error() string {
	return fmt.Sprintf("ev_rejects holds %d rows for %d malformed records: %d missing, %d recorded more than once, %d rows at an offset already seen, %d unexpected",
		e.n, e.want, e.missing, e.twice, e.sameOffset, e.odd)
}

// TestRejectsCatchMutantApart shows that rejectsOnce catches a build that
// publishes rejects apart from the rows and offsets of the same persist
// (-tags strata_mutant_rejectsapart): the mutant SIGKILLs itself once, between
// the two commits, and after the restart records those rejects again.
func TestRejectsCatchMutantApart(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "strata-mutant")
	if out, err := exec.Command("go", "build", "-tags", "strata_mutant_rejectsapart", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build the mutant: %v\n%s", err, out)
	}
	mark := filepath.Join(t.TempDir(), "crashed")
	t.Setenv("STRATA_MUTANT_MARK", mark)
	const total = 20_000
	addr, _ := kafkatest.Start(t, "events", 4)
	dataDir := filepath.Join(t.TempDir(), "data")
	pgAddr := freeAddr(t)
	s := startBinaryOn(t, bin, dataDir, pgAddr, "--kafka-brokers", addr)
	conn := connect(t, s)
	if _, err := conn.Exec(context.Background(), kafkaTableSQL); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	p := &producer{badEvery: 500}
	p.run(t, addr, "events", total, 7)

	// The mutant dies by its own SIGKILL at its first persist with rejects.
	died := make(chan error, 1)
	go func() { died <- s.cmd.Wait() }()
	select {
	case err := <-died:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("the mutant ended with %v, want its own SIGKILL", err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("the mutant ended with %v, want its own SIGKILL", ee)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the mutant did not crash between its two commits within a minute")
	}
	if _, err := os.Stat(mark); err != nil {
		t.Fatalf("the mutant died but left no mark: %v", err)
	}
	s = startBinaryOn(t, bin, dataDir, pgAddr, "--kafka-brokers", addr)
	waitCount(t, total, s)
	time.Sleep(time.Second)
	err := checkRejects(s, p.bad)
	if err == nil {
		t.Fatalf("the check passed a build that publishes rejects apart from their rows (%d malformed records)", p.bad)
	}
	t.Logf("caught: %v", err)
}

// TestIngestStatusPerPartition checks that strata_ingest_status gives each
// partition its own rows and rejects (not the table's), that they add up to what
// was produced to it, and that each row names the node reading it.
func TestIngestStatusPerPartition(t *testing.T) {
	const total, parts, badEvery = 10_000, 4, 250
	addr, _ := kafkatest.Start(t, "events", parts)
	s := startStrataOn(t, filepath.Join(t.TempDir(), "data"), freeAddr(t), "--kafka-brokers", addr)
	conn := connect(t, s)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), kafkaTableSQL); err != nil {
		t.Fatal(err)
	}
	p := &producer{partitions: parts, badEvery: badEvery}
	p.run(t, addr, "events", total, 3)
	// Independently: id i goes to partition i % parts, and the malformed record
	// after every badEvery-th event to the same partition.
	wantRows, wantRejects := make([]int64, parts), make([]int64, parts)
	for id := range total {
		wantRows[id%parts]++
		if id%badEvery == badEvery-1 {
			wantRejects[id%parts]++
		}
	}
	waitCount(t, total, s)
	node, err := os.ReadFile(filepath.Join(s.dataDir, "kafka-instance-id"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := conn.Query(context.Background(), `SELECT partition, rows, rejects, node FROM strata_ingest_status WHERE table_name = 'ev' ORDER BY partition`)
		if err != nil {
			t.Fatal(err)
		}
		gotRows, gotRejects := make([]int64, parts), make([]int64, parts)
		var nodes []string
		for rows.Next() {
			var part int32
			var r, rj int64
			var n *string
			if err := rows.Scan(&part, &r, &rj, &n); err != nil {
				t.Fatal(err)
			}
			if part < 0 || part >= parts {
				t.Fatalf("status row for partition %d", part)
			}
			gotRows[part], gotRejects[part] = r, rj
			if n != nil {
				nodes = append(nodes, *n)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if slices.Equal(gotRows, wantRows) && slices.Equal(gotRejects, wantRejects) {
			for _, n := range nodes {
				if n != strings.TrimSpace(string(node)) {
					t.Fatalf("node %q, want this data directory's %q", n, node)
				}
			}
			if len(nodes) != parts {
				t.Fatalf("%d rows name a node, want %d", len(nodes), parts)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("per-partition rows %v rejects %v, want %v and %v", gotRows, gotRejects, wantRows, wantRejects)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// assigned returns how many partitions of ev's topic s consumes, from
// strata_ingest_status.
func assigned(t *testing.T, s *strataServer) int {
	t.Helper()
	c := connect(t, s)
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(partition) FROM strata_ingest_status WHERE table_name = 'ev' AND role = 'owner'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// caughtUp reports whether s consumes n partitions of ev's topic, each with lag 0.
func caughtUp(t *testing.T, s *strataServer, n int) bool {
	t.Helper()
	c := connect(t, s)
	defer c.Close(context.Background())
	var parts, behind int
	err := c.QueryRow(context.Background(), `SELECT count(partition), count(*) FILTER (WHERE lag IS NULL OR lag > 0) FROM strata_ingest_status WHERE table_name = 'ev' AND role = 'owner'`).Scan(&parts, &behind)
	if err != nil {
		t.Fatal(err)
	}
	return parts == n && behind == 0
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func connect(t *testing.T, s *strataServer) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestKafkaTwoProcessesShareAndTakeOver runs two strata processes (own data
// directories) in one consumer group: they split the partitions; then one is killed
// and the other takes its partitions over; the killed one restarts and rejoins; the
// two together hold every produced event exactly once. (A kill in the ~1 ms between
// a persist's catalog commit and its group-offset commit would let the other process
// re-read that persist's rows: the catalogs are two separate stores; see package
// ingest/stream.)
func TestKafkaTwoProcessesShareAndTakeOver(t *testing.T) {
	const first, second = 100_000, 100_000
	addr, _ := kafkatest.Start(t, "events", 4)
	dir := t.TempDir()
	a := startStrataOn(t, filepath.Join(dir, "a"), freeAddr(t), "--kafka-brokers", addr)
	b := startStrataOn(t, filepath.Join(dir, "b"), freeAddr(t), "--kafka-brokers", addr)
	for _, s := range []*strataServer{a, b} {
		c := connect(t, s)
		if _, err := c.Exec(context.Background(), kafkaTableSQL); err != nil {
			t.Fatal(err)
		}
		c.Close(context.Background())
	}
	// Wait for the group to settle: each process owns two of the four partitions.
	deadline := time.Now().Add(time.Minute)
	for assigned(t, a) != 2 || assigned(t, b) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("partitions not split after a minute: a owns %d, b %d", assigned(t, a), assigned(t, b))
		}
		time.Sleep(100 * time.Millisecond)
	}
	p := &producer{}
	p.run(t, addr, "events", first, 21)
	waitCount(t, first, a, b)
	na, _, _ := tableCounts(t, a)
	nb, _, _ := tableCounts(t, b)
	if na == 0 || nb == 0 {
		t.Fatalf("partitions not split: a holds %d rows, b %d", na, nb)
	}
	// Kill a; b takes its partitions over and consumes everything a does not hold.
	kill(t, a)
	p.run(t, addr, "events", second, 22)
	// b owns all four partitions and has read each to its end (a's rows that it
	// had not persisted are read again, by b).
	deadline = time.Now().Add(time.Minute)
	for !caughtUp(t, b, 4) {
		if time.Now().After(deadline) {
			t.Fatalf("b did not take over all partitions and catch up within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// a comes back, rejoins the group and resumes from max(its catalog, the group's
	// offsets): nothing is read twice.
	a = startStrataOn(t, a.dataDir, a.addr, "--kafka-brokers", addr)
	time.Sleep(2 * time.Second)
	got := waitCount(t, first+second, a, b)
	if !maps.Equal(got, p.ids.PerUser()) {
		t.Fatalf("per-user counts differ from what was produced")
	}
	time.Sleep(time.Second) // a re-read would show up now
	t.Logf("%s", exactlyOnce(t, &p.ids, a, b))
}

// TestKafkaTwoProcessesUnderRandomKills runs two strata processes (own data
// directories) in one consumer group while events are produced, and SIGKILLs one
// of them at random moments, restarting it at once (static membership: it takes
// its old place) or after more than the session timeout (its partitions move to
// the other process, then part of them back), so kills land during ingestion,
// persists and while partitions move. Afterwards, checked by id over both
// processes' rows (twoProcessKills):
//   - each process holds each id at most once, with its user, and no NULL or
//     unknown id; together they hold every produced id;
//   - an id held by both is exactly what the README says can repeat: a row the
//     killed process had published to its catalog beyond the group's committed
//     offset, which the partition's next owner reads again. Right before each
//     kill the test reads the group's committed offsets (they only move
//     forward, so these are at most the offsets at the moment of death), and
//     right after it, with the process dead, the offsets in its catalog; every
//     id held twice must lie in partition p between the two for one kill, and
//     the ids held twice form at most one run of consecutive offsets per kill
//     and partition.
//
// A second run is the mutant test's deterministic scenario (one long kill while
// the survivor persists rarely), which a correct build passes too. A third gives
// the two processes one shared lake_path (the lake is the checkpoint, handoff by
// offset): there the window is closed, and at the end each process alone holds
// every produced id exactly once.
func TestKafkaTwoProcessesUnderRandomKills(t *testing.T) {
	for _, plan := range []twoProcessPlan{{chunks: 150, seed: 31}, {chunks: 40, seed: 41, oneLongKill: true}, {chunks: 150, seed: 51, sharedLake: true}} {
		t.Run(fmt.Sprintf("seed %d one long kill %v shared lake %v", plan.seed, plan.oneLongKill, plan.sharedLake), func(t *testing.T) {
			res := twoProcessKills(t, strataBin, plan)
			for _, v := range res.violations {
				t.Error(v)
			}
			t.Log(res.summary)
		})
	}
}

// TestTwoProcessKillsCatchMutantRevoke runs the same check against a build whose
// revoked partitions' group offsets are never committed (-tags
// strata_mutant_revokecommit), so a partition moving from a live process re-reads
// rows that process published: ids held twice outside any kill's window, which
// the check must report. The kills are not random here: process 0 is killed
// once and stays down past the session timeout while events keep coming, so
// process 1 takes every partition; with persists 30 s apart process 1 still
// holds what it read of them, unpersisted, when process 0 returns and takes half
// back, so the revocation persists those rows and (in the mutant) commits
// nothing, and process 0 reads them again.
func TestTwoProcessKillsCatchMutantRevoke(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "strata-mutant")
	if out, err := exec.Command("go", "build", "-tags", "strata_mutant_revokecommit", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build the mutant: %v\n%s", err, out)
	}
	res := twoProcessKills(t, bin, twoProcessPlan{chunks: 40, seed: 41, oneLongKill: true})
	if len(res.violations) == 0 {
		t.Fatalf("the check passed a build that never commits a revoked partition's offset: %s", res.summary)
	}
	t.Logf("caught: %d violations, the first: %s", len(res.violations), res.violations[0])
}

// twoProcessPlan is a run of twoProcessKills: chunks chunks of 2,000 events;
// random kills seeded by seed, or with oneLongKill a single kill of process 0,
// 1 s in, down until process 1 owns every partition and has read them, and the
// table persisting every 30 s.
type twoProcessPlan struct {
	chunks      int
	seed        uint64
	oneLongKill bool
	// sharedLake gives the table a lake_path both processes share (handoff by
	// offset every 300 ms): the lake is then the checkpoint of every
	// partition, and at the end each process alone must hold every produced
	// id exactly once (its partitions plus the lake), no id within a kill's
	// window excepted.
	sharedLake bool
}

type twoProcessResult struct {
	violations []string
	summary    string
}

// twoProcessKills runs the two-process random-kill scenario with the strata
// binary bin: plan.chunks chunks of 2,000 events produced over ~150 ms gaps while
// one of the two processes is killed every 0.3–1.5 s (seeded by plan.seed) and
// restarted after 0–2.5 s (or as plan.oneLongKill says). It fails t on what no build may do (a lost id, an id held twice
// by one process, a wrong user, partitions never moving) and returns what the
// README's repeat rule forbids as violations.
//
// id i is produced to partition i % parts, in order, so its offset there is
// i / parts; the run checks that each partition's high watermark is the number
// of ids sent to it.
func twoProcessKills(t *testing.T, bin string, plan twoProcessPlan) twoProcessResult {
	t.Helper()
	const parts = 4
	chunks, seed := plan.chunks, plan.seed
	tableSQL := strings.Replace(kafkaTableSQL, "persist_rows = '50000'", "persist_rows = '5000'", 1)
	if plan.oneLongKill {
		tableSQL = strings.Replace(kafkaTableSQL, "persist_interval = '250ms'", "persist_interval = '30s'", 1)
	}
	if tableSQL == kafkaTableSQL {
		t.Fatal("kafkaTableSQL no longer sets persist_rows = '50000' and persist_interval = '250ms'")
	}
	addr, _ := kafkatest.Start(t, "events", parts)
	admin, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	dir := t.TempDir()
	flags := []string{"--kafka-brokers", addr}
	if plan.sharedLake {
		lake := filepath.Join(dir, "lake")
		if err := os.MkdirAll(lake, 0o700); err != nil {
			t.Fatal(err)
		}
		tableSQL = strings.Replace(tableSQL, "kafka_session_timeout = '1s'", "kafka_session_timeout = '1s', lake_path = '"+filepath.Join(lake, "ev")+"'", 1)
		flags = append(flags, "--lake-root", lake, "--handoff-interval", "300ms")
	}
	start := func(dataDir, pgAddr string) *strataServer {
		return startBinaryOn(t, bin, dataDir, pgAddr, flags...)
	}
	procs := []*strataServer{start(filepath.Join(dir, "a"), freeAddr(t)), start(filepath.Join(dir, "b"), freeAddr(t))}
	for _, s := range procs {
		c := connect(t, s)
		if _, err := c.Exec(context.Background(), tableSQL); err != nil {
			t.Fatal(err)
		}
		c.Close(context.Background())
	}
	p := &producer{partitions: parts}
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := range chunks {
			p.run(t, addr, "events", 2_000, seed*1000+uint64(i))
			time.Sleep(150 * time.Millisecond)
		}
	}()
	// window is, for one kill and partition, the offsets [from, to) the killed
	// process had published beyond the group's committed offset.
	type window struct {
		kill     int
		from, to int64
	}
	windows := make([][]window, parts)
	r := rand.New(rand.NewPCG(seed, seed+1))
	kills, moved := 0, 0
	for !closed(produced) && (!plan.oneLongKill || kills == 0) {
		wait, i := time.Duration(300+r.IntN(1200))*time.Millisecond, r.IntN(2)
		if plan.oneLongKill {
			wait, i = time.Second, 0
		}
		time.Sleep(wait)
		group := committedOffsets(t, admin, "strata-ev", "events", parts)
		kill(t, procs[i])
		kills++
		published := catalogOffsets(t, procs[i].dataDir, "ev")
		for part := range int32(parts) {
			if to, ok := published["events/"+strconv.Itoa(int(part))]; ok && to > group[part] {
				windows[part] = append(windows[part], window{kills, group[part], to})
			}
		}
		down := time.Duration(r.IntN(2500)) * time.Millisecond
		if plan.oneLongKill {
			// Down until the other process owns every partition and has read
			// them (not for a fixed time: on a loaded machine the rebalance may
			// take longer than the session timeout), so that the restart moves
			// partitions it holds unpersisted rows of.
			began := time.Now()
			other := procs[1-i]
			for assigned(t, other) != parts {
				if time.Since(began) > time.Minute {
					t.Fatal("the surviving process did not take every partition within a minute")
				}
				time.Sleep(100 * time.Millisecond)
			}
			for !caughtUp(t, other, parts) && time.Since(began) < 10*time.Second {
				time.Sleep(100 * time.Millisecond)
			}
			down = max(time.Since(began), 1600*time.Millisecond)
		} else {
			time.Sleep(down)
		}
		if down > 1500*time.Millisecond { // beyond the 1 s session timeout: a rebalance
			moved++
		}
		if os.Getenv("STRATA_TEST_LOGS") != "" {
			t.Logf("process %d's output before the kill:\n%s", i, procs[i].out)
		}
		procs[i] = start(procs[i].dataDir, procs[i].addr)
		p.mu.Lock()
		t.Logf("kill %d: process %d, down %v, %d events produced so far", kills, i, down, p.sent)
		p.mu.Unlock()
	}
	<-produced
	if moved == 0 {
		t.Fatal("no kill kept a process down past the session timeout: partitions never moved")
	}
	total := p.sent
	for part, hw := range highWatermarks(t, admin, "events", parts) {
		if want := int64(total / parts); hw != want {
			t.Fatalf("partition %d: high watermark %d, want the %d ids sent to it", part, hw, want)
		}
	}
	// Wait until the two hold every produced id and own all partitions, caught up.
	var rows [2][]rowcheck.Row
	var rep rowcheck.Report
	deadline := time.Now().Add(3 * time.Minute)
	for stable := 0; stable < 2; {
		ok := true
		owned := 0
		for i, s := range procs {
			c := connect(t, s)
			var err error
			rows[i], err = queryIDs(context.Background(), c)
			c.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			n := assigned(t, s)
			owned += n
			ok = ok && caughtUp(t, s, n)
		}
		rep = rowcheck.Check(&p.ids, append(append([]rowcheck.Row(nil), rows[0]...), rows[1]...))
		done := len(rep.Missing) == 0
		if plan.sharedLake {
			// Each process alone holds every id once the lake has them all.
			for i := range procs {
				one := rowcheck.Check(&p.ids, rows[i])
				done = done && len(one.Missing) == 0
			}
		}
		if ok && owned == parts && done {
			stable++ // then once more, a second later: a late re-read would show
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 minutes: %d partitions owned, all caught up %v; %s", owned, ok, rep)
		}
		time.Sleep(time.Second)
	}
	for i := range procs {
		if one := rowcheck.Check(&p.ids, rows[i]); len(one.Repeated)+len(one.Unknown)+len(one.WrongUser)+one.NullIDs > 0 {
			t.Errorf("process %d alone: %s", i, one)
		}
	}
	if len(rep.Missing)+len(rep.Unknown)+len(rep.WrongUser)+rep.NullIDs > 0 {
		t.Fatalf("both processes: %s", rep)
	}
	if plan.sharedLake {
		// Every id is on both (the lake); none twice on either: checked above,
		// process by process. No kill window is excepted.
		for i := range procs {
			if one := rowcheck.Check(&p.ids, rows[i]); len(one.Missing) > 0 {
				t.Errorf("process %d alone: %s", i, one)
			}
		}
		return twoProcessResult{summary: fmt.Sprintf("shared lake: %d kills (%d long enough to move partitions); %d produced; each process holds %d and %d rows, every id exactly once",
			kills, moved, total, len(rows[0]), len(rows[1]))}
	}
	// The ids held twice, by partition, as runs of consecutive offsets; each run
	// inside one kill's window, at most one run per window.
	var res twoProcessResult
	byPart := make([][]int64, parts)
	for _, id := range rep.Repeated {
		byPart[id%parts] = append(byPart[id%parts], id/parts)
	}
	var runs []string
	for part, offs := range byPart {
		slices.Sort(offs)
		used := map[int]bool{}
		for j := 0; j < len(offs); {
			k := j + 1
			for k < len(offs) && offs[k] == offs[k-1]+1 {
				k++
			}
			from, to := offs[j], offs[k-1]+1
			w := slices.IndexFunc(windows[part], func(w window) bool { return w.from <= from && to <= w.to })
			switch {
			case w < 0:
				res.violations = append(res.violations, fmt.Sprintf(
					"partition %d: offsets %d..%d held by both processes, outside every killed process's unacknowledged window %v",
					part, from, to-1, windows[part]))
			case used[w]:
				res.violations = append(res.violations, fmt.Sprintf(
					"partition %d: a second run %d..%d inside kill %d's window", part, from, to-1, windows[part][w].kill))
			default:
				used[w] = true
				runs = append(runs, fmt.Sprintf("partition %d: offsets %d..%d (%d rows, kill %d's window %d..%d)",
					part, from, to-1, to-from, windows[part][w].kill, windows[part][w].from, windows[part][w].to-1))
			}
			j = k
		}
	}
	res.summary = fmt.Sprintf("%d kills (%d long enough to move partitions); %d produced, %d + %d rows held; %d ids held by both %v",
		kills, moved, total, len(rows[0]), len(rows[1]), len(rep.Repeated), runs)
	return res
}

// committedOffsets returns group's committed offsets of topic's partitions 0..n-1
// (-1 where none), read from the broker.
func committedOffsets(t *testing.T, cl *kgo.Client, group, topic string, n int) []int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := range int32(n) {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = -1
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("offset fetch %s/%d: %v", rt.Topic, rp.Partition, err)
			}
			out[rp.Partition] = rp.Offset
		}
	}
	return out
}

// highWatermarks returns the end offsets of topic's partitions 0..n-1.
func highWatermarks(t *testing.T, cl *kgo.Client, topic string, n int) []int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range int32(n) {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1 // latest
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	out := make([]int64, n)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("list offsets %s/%d: %v", rt.Topic, rp.Partition, err)
			}
			out[rp.Partition] = rp.Offset
		}
	}
	return out
}

// catalogOffsets opens the catalog of a stopped process's data directory and
// returns table's published source offsets ("topic/partition" → next offset).
func catalogOffsets(t *testing.T, dataDir, table string) map[string]int64 {
	t.Helper()
	cat, err := catalog.Open(filepath.Join(dataDir, "catalog"))
	if err != nil {
		t.Fatalf("catalog of %s: %v", dataDir, err)
	}
	defer cat.Close()
	return cat.Offsets(table)
}
