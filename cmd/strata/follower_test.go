package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
)

// startFollowNode starts strata on dataDir with the shared lake root and a
// handoff interval of an hour, and creates the table: rows of partitions
// another node owns can then only reach this node by following them.
func startFollowNode(t *testing.T, dataDir, pgAddr, brokers, lake, tableSQL string) *strataServer {
	t.Helper()
	s, _ := startLakeNode(t, dataDir, pgAddr, brokers, lake, tableSQL, "1h")
	return s
}

// followLagSeries returns the strata_ingest_follow_lag_records series of ev
// in the /metrics of the node at httpAddr.
func followLagSeries(t *testing.T, httpAddr string) []string {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "strata_ingest_follow_lag_records{") && strings.Contains(line, `table="ev"`) {
			out = append(out, line)
		}
	}
	return out
}

// followRoles returns how many partitions of ev s owns and follows.
func followRoles(t *testing.T, s *strataServer) (owner, follower int) {
	t.Helper()
	c := connect(t, s)
	defer c.Close(context.Background())
	err := c.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE role = 'owner'), count(*) FILTER (WHERE role = 'follower')
		FROM strata_ingest_status WHERE table_name = 'ev'`).Scan(&owner, &follower)
	if err != nil {
		t.Fatal(err)
	}
	return owner, follower
}

// waitSeen polls every server until its count(*) of ev is what p produced,
// within d, failing at once when one shows more (a row counted twice); it
// returns how long each took.
func waitSeen(t *testing.T, p *producer, d time.Duration, servers ...*strataServer) []time.Duration {
	t.Helper()
	start := time.Now()
	took := make([]time.Duration, len(servers))
	for i, s := range servers {
		for {
			n, _, err := tableCounts(t, s)
			if err == nil && n > p.sent {
				t.Fatalf("%s: %d rows, more than the %d produced: counted twice", s.dataDir, n, p.sent)
			}
			if err == nil && n == p.sent {
				took[i] = time.Since(start)
				break
			}
			if time.Since(start) > d {
				t.Fatalf("%s: %d rows (err %v) %v after the produce, want %d\noutput:\n%s", s.dataDir, n, err, d, p.sent, s.out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return took
}

// TestKafkaFollowers (issue 13 part 3): two nodes in one consumer group share a
// lake whose handoffs come an hour apart, so a node can show the rows of the
// partitions the other owns only by following them from Kafka. Every event
// produced is visible on both nodes within seconds, no node ever shows more
// rows than produced, malformed records reach ev_rejects on both exactly once,
// and strata_ingest_status shows each node owning two partitions and
// following two. After a node is SIGKILLed, the other takes its partitions
// (from the lake, which holds only what was handed off at the split: the rest
// is read again from Kafka) and ends with every id exactly once.
func TestKafkaFollowers(t *testing.T) {
	addr, _ := kafkatest.Start(t, "events", 4)
	dir := t.TempDir()
	lake := filepath.Join(dir, "lake")
	if err := os.MkdirAll(lake, 0o700); err != nil {
		t.Fatal(err)
	}
	sql := clusterTableSQL(t, lake, "1s")
	p := &producer{partitions: 4, badEvery: 97}

	a := startFollowNode(t, filepath.Join(dir, "a"), freeAddr(t), addr, lake, sql)
	p.run(t, addr, "events", 5_000, 1)
	waitSeen(t, p, time.Minute, a)
	b, bHTTP := startLakeNode(t, filepath.Join(dir, "b"), freeAddr(t), addr, lake, sql, "1h")
	deadline := time.Now().Add(time.Minute)
	for {
		ao, af := followRoles(t, a)
		bo, bf := followRoles(t, b)
		if ao == 2 && af == 2 && bo == 2 && bf == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute a owns %d and follows %d partitions, b %d and %d; want 2 and 2 each", ao, af, bo, bf)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// b saw a's first rows through the lake (a handed off the two partitions
	// it gave b) and following; from now on handoffs are an hour apart.
	waitSeen(t, p, 30*time.Second, a, b)
	for round := range 5 {
		p.run(t, addr, "events", 4_000, uint64(10+round))
		took := waitSeen(t, p, 15*time.Second, a, b)
		t.Logf("round %d: %d events on a after %v, on b after %v", round, p.sent, took[0].Round(time.Millisecond), took[1].Round(time.Millisecond))
	}
	for _, s := range []*strataServer{a, b} {
		for {
			err := checkRejects(s, p.bad)
			if err == nil {
				break
			}
			var re *rejectsError
			if !errors.As(err, &re) || !re.onlyMissing() || time.Now().After(deadline.Add(time.Minute)) {
				t.Fatalf("%s: %v", s.dataDir, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	if lags := followLagSeries(t, bHTTP); len(lags) != 2 {
		t.Fatalf("b's /metrics has %d follow lag series of ev, want one per followed partition (2): %v", len(lags), lags)
	}

	// a dies; b takes its partitions back from the lake and Kafka.
	kill(t, a)
	p.run(t, addr, "events", 3_000, 20)
	deadline = time.Now().Add(2 * time.Minute)
	for {
		n, _, err := tableCounts(t, b)
		if err == nil && n > p.sent {
			t.Fatalf("b after a's death: %d rows, more than the %d produced", n, p.sent)
		}
		if o, _ := followRoles(t, b); o == 4 && err == nil && n == p.sent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b after a's death: %d rows (%v), want %d\n%s", n, err, p.sent, b.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitEach(t, p, b)
	t.Logf("%d events and %d malformed records, each exactly once on b after a's death", p.sent, p.bad)
}
