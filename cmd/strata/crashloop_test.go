package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratadb/strata/internal/rowcheck"
)

// The crash loop of issue 15: a broker in a process of its own, strata killed
// and restarted on one data directory at random moments, stopped with SIGTERM
// now and then, then left alone.

const crashLoopTableSQL = `CREATE TABLE ev ("timestamp" timestamptz NOT NULL, user_id text, n bigint)
	WITH (kafka_topic = 'events', persist_rows = '5000', persist_interval = '500ms')`

// crashLoopIterations: 3 by default (about a minute on 2 cores), 1 with -short,
// STRATA_CRASHLOOP_ITERATIONS=20 for the full run (about 8 minutes).
// STRATA_CRASHLOOP_SEED=<seed> replays one iteration.
func crashLoopIterations(t *testing.T) (n int, seeds []uint64) {
	if s := os.Getenv("STRATA_CRASHLOOP_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STRATA_CRASHLOOP_SEED=%q: %v", s, err)
		}
		return 1, []uint64{seed}
	}
	n = 3
	if testing.Short() {
		n = 1
	}
	if s := os.Getenv("STRATA_CRASHLOOP_ITERATIONS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			t.Fatalf("STRATA_CRASHLOOP_ITERATIONS=%q: want a positive number", s)
		}
	}
	base := uint64(time.Now().UnixNano())
	for i := range n {
		seeds = append(seeds, base+uint64(i))
	}
	return n, seeds
}

// TestKafkaCrashLoop reproduces issue 15. Per iteration (seed logged; replay
// with STRATA_CRASHLOOP_SEED): a kfake broker process (testdata/kfakebroker)
// with a 4-partition topic; a producer writing events with unique ids n;
// `strata serve` on one data directory, stopped 3 to 6 times at random moments
// 0.5–4 s after each start (so some die before their first assignment and some
// during the rebalance their start caused) — by SIGKILL, or by SIGTERM, which
// must end the process within 5 s — and restarted at once each time. Then it is
// left alone: within 10 s of that last start it must own all 4 partitions
// (static membership: it replaces its dead incarnations instead of waiting for
// their 10 s sessions to end), and the table must end up holding every produced
// id exactly once.
func TestKafkaCrashLoop(t *testing.T) {
	n, seeds := crashLoopIterations(t)
	broker := buildTestBroker(t)
	t.Logf("%d iterations (seeds %v)", n, seeds)
	for i, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("iteration %d of %d: STRATA_CRASHLOOP_SEED=%d", i+1, n, seed)
			crashLoopIteration(t, broker, seed)
		})
	}
}

func buildTestBroker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kfakebroker")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/kfakebroker").CombinedOutput()
	if err != nil {
		t.Fatalf("build testdata/kfakebroker: %v\n%s", err, out)
	}
	return bin
}

// startTestBroker runs the broker binary until the test ends.
func startTestBroker(t *testing.T, bin string) string {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "-addr", addr, "-dir", filepath.Join(t.TempDir(), "kafka"), "-topic", "events", "-partitions", "4")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("kfakebroker did not start")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("kfakebroker not ready after 30 s")
	}
	return addr
}

// idProducer produces events with ids 0..total-1 at about rate per second,
// recording each produced id's user in ids.
func idProducer(t *testing.T, addr string, ids *rowcheck.Ledger, total, rate int, seed uint64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("events"), kgo.ProducerLinger(2*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	r := rand.New(rand.NewPCG(seed, 2))
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	const tick = 50 * time.Millisecond
	per := max(1, rate*int(tick/time.Millisecond)/1000)
	for done := 0; done < total; {
		k := min(per, total-done)
		recs := make([]*kgo.Record, k)
		users := make([]string, k)
		for i := range recs {
			ts := base.Add(time.Duration(done+i) * 7 * time.Millisecond)
			users[i] = "u" + strconv.Itoa(r.IntN(500))
			recs[i] = &kgo.Record{Value: fmt.Appendf(nil, `{"timestamp":%q,"user_id":%q,"n":%d}`,
				ts.Format(time.RFC3339Nano), users[i], done+i)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := cl.ProduceSync(ctx, recs...).FirstErr()
		cancel()
		if err != nil {
			return fmt.Errorf("produce ids %d..%d: %w", done, done+k-1, err)
		}
		for i, u := range users {
			ids.Add(int64(done+i), u)
		}
		done += k
		time.Sleep(tick)
	}
	return nil
}

// sigterm stops s with SIGTERM and returns how long it took to exit, and
// whether it exited cleanly (status 0) rather than by the forced deadline.
func sigterm(t *testing.T, s *strataServer) (time.Duration, bool) {
	t.Helper()
	began := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: strata was not running: %v\noutput:\n%s", err, s.out)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return time.Since(began), err == nil
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
		t.Errorf("SIGTERM: strata still running after 5 s; output:\n%s", s.out)
		return time.Since(began), false
	}
}

// ownedPartitions returns the partitions of ev's topic s consumes (state
// running), or an error when s cannot answer.
func ownedPartitions(s *strataServer) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	var n int
	err = c.QueryRow(ctx, `SELECT count(partition) FROM strata_ingest_status WHERE table_name = 'ev' AND state = 'running' AND role = 'owner'`).Scan(&n)
	return n, err
}

// idsExactlyOnce waits until ev holds total rows (or within passes), then
// checks its rows against ids (see exactlyOnce).
func idsExactlyOnce(t *testing.T, s *strataServer, ids *rowcheck.Ledger, total int, within time.Duration) rowcheck.Report {
	t.Helper()
	ctx := context.Background()
	c := connect(t, s)
	defer c.Close(ctx)
	deadline := time.Now().Add(within)
	var count int
	for {
		if err := c.QueryRow(ctx, `SELECT count(*) FROM ev`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // a re-read would show up now
	return exactlyOnce(t, ids, s)
}

func crashLoopIteration(t *testing.T, brokerBin string, seed uint64) {
	const total, rate = 30_000, 5_000
	r := rand.New(rand.NewPCG(seed, 1))
	addr := startTestBroker(t, brokerBin)
	dataDir := filepath.Join(t.TempDir(), "data")
	pgAddr := freeAddr(t)
	s := startStrataOn(t, dataDir, pgAddr, "--kafka-brokers", addr, "--http-addr", "")
	conn := connect(t, s)
	if _, err := conn.Exec(context.Background(), crashLoopTableSQL); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())

	var prodErr error
	var ids rowcheck.Ledger
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); prodErr = idProducer(t, addr, &ids, total, rate, seed) }()

	stops := 3 + r.IntN(4)
	var kills, terms, forced int
	var slowest time.Duration
	for i := range stops {
		gap := 500*time.Millisecond + time.Duration(r.Int64N(int64(3500*time.Millisecond)))
		time.Sleep(gap)
		if r.IntN(3) == 0 {
			took, clean := sigterm(t, s)
			terms++
			slowest = max(slowest, took)
			if !clean {
				forced++
			}
			t.Logf("stop %d after %v: SIGTERM, exited in %v (clean %v)", i+1, gap.Round(time.Millisecond), took.Round(time.Millisecond), clean)
		} else {
			kill(t, s)
			kills++
			t.Logf("stop %d after %v: SIGKILL", i+1, gap.Round(time.Millisecond))
		}
		s = startStrataOn(t, dataDir, pgAddr, "--kafka-brokers", addr, "--http-addr", "")
	}
	lastStart := time.Now() // startStrataOn returned once s listened: its start is a little earlier
	var owned int
	for {
		n, err := ownedPartitions(s)
		if err == nil {
			owned = n
		}
		if owned == 4 {
			break
		}
		if time.Since(lastStart) > 10*time.Second {
			t.Fatalf("10 s after the last start strata owns %d of 4 partitions; output:\n%s", owned, s.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	assignedIn := time.Since(lastStart)
	wg.Wait()
	if prodErr != nil {
		t.Fatal(prodErr)
	}
	if ids.Len() != total {
		t.Fatalf("the producer recorded %d ids, want %d", ids.Len(), total)
	}
	rep := idsExactlyOnce(t, s, &ids, total, 90*time.Second)
	took, clean := sigterm(t, s)
	terms++
	slowest = max(slowest, took)
	if !clean {
		forced++
	}
	t.Logf("seed %d: %d SIGKILLs, %d SIGTERMs (slowest exit %v, %d forced by the deadline), all 4 partitions owned %v after the last start; %s",
		seed, kills, terms, slowest.Round(time.Millisecond), forced, assignedIn.Round(time.Millisecond), rep)
	if strings.Contains(s.out.String(), "exiting at once") && clean {
		t.Error(errors.New("BUG: a forced exit reported status 0"))
	}
}
