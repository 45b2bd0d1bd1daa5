package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/internal/rowcheck"
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
}

func (p *producer) run(t *testing.T, addr, topic string, n int, seed uint64) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(2*time.Millisecond))
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
		recs := make([]*kgo.Record, k)
		users := make([]string, k)
		for i := range recs {
			id := first + done + i
			users[i] = "u" + strconv.Itoa(r.IntN(2000))
			ts := base.Add(time.Duration(id) * 7 * time.Millisecond)
			recs[i] = &kgo.Record{Value: fmt.Appendf(nil, `{"timestamp":%q,"user_id":%q,"n":%d}`, ts.Format(time.RFC3339Nano), users[i], id)}
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

	p := &producer{}
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
	t.Logf("%d kills; %s", kills, rep)
}

// assigned returns how many partitions of ev's topic s consumes, from
// strata_ingest_status.
func assigned(t *testing.T, s *strataServer) int {
	t.Helper()
	c := connect(t, s)
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(partition) FROM strata_ingest_status WHERE table_name = 'ev' AND state <> 'unassigned'`).Scan(&n); err != nil {
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
	err := c.QueryRow(context.Background(), `SELECT count(partition), count(*) FILTER (WHERE lag IS NULL OR lag > 0) FROM strata_ingest_status WHERE table_name = 'ev' AND state <> 'unassigned'`).Scan(&parts, &behind)
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
