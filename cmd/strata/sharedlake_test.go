package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/internal/rowcheck"
)

// clusterTableSQL is kafkaTableSQL with a lake_path every process shares: the
// lake is then the checkpoint of the table's partitions (handoff by offset,
// README "Exactly once").
func clusterTableSQL(t *testing.T, lake, session string) string {
	t.Helper()
	sql := strings.Replace(kafkaTableSQL, "kafka_session_timeout = '1s'",
		fmt.Sprintf("kafka_session_timeout = '%s', lake_path = '%s'", session, filepath.Join(lake, "ev")), 1)
	if sql == kafkaTableSQL {
		t.Fatal("kafkaTableSQL no longer sets kafka_session_timeout = '1s'")
	}
	return sql
}

// startClusterNode starts strata on a new dataDir with the shared lake root and
// a short handoff interval, and creates the table.
func startClusterNode(t *testing.T, dataDir, pgAddr, brokers, lake, tableSQL string) *strataServer {
	t.Helper()
	s, _ := startLakeNode(t, dataDir, pgAddr, brokers, lake, tableSQL, "300ms")
	return s
}

// startLakeNode starts strata on dataDir with the shared lake root, Kafka
// brokers, the given handoff interval and its HTTP server on a fresh address,
// and creates the table; it returns the server and that HTTP address.
func startLakeNode(t *testing.T, dataDir, pgAddr, brokers, lake, tableSQL, handoff string) (*strataServer, string) {
	t.Helper()
	httpAddr := freeAddr(t)
	for httpAddr == pgAddr {
		httpAddr = freeAddr(t)
	}
	s := startStrataOn(t, dataDir, pgAddr, "--kafka-brokers", brokers, "--lake-root", lake, "--handoff-interval", handoff, "--http-addr", httpAddr)
	c := connect(t, s)
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), tableSQL); err != nil {
		t.Fatal(err)
	}
	return s, httpAddr
}

// waitEach waits until every server's own count(*) of ev is want, failing at
// once if one holds more (a row counted twice); then checks, by id, that each
// holds every produced id exactly once with its user, and each holds every
// malformed record in ev_rejects exactly once.
func waitEach(t *testing.T, p *producer, servers ...*strataServer) {
	t.Helper()
	want := p.sent
	deadline := time.Now().Add(2 * time.Minute)
	for _, s := range servers {
		for {
			n, per, err := tableCounts(t, s)
			if err == nil && n > want {
				t.Fatalf("%s: %d rows, more than the %d produced: counted twice", s.dataDir, n, want)
			}
			if err == nil && n == want {
				if !maps.Equal(per, p.ids.PerUser()) {
					t.Fatalf("%s: per-user counts differ from the producer's", s.dataDir)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d rows (err %v) after 2 minutes, want %d\noutput:\n%s", s.dataDir, n, err, want, s.out)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c := connect(t, s)
		rows, err := queryIDs(context.Background(), c)
		c.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rep := rowcheck.Check(&p.ids, rows); len(rep.Missing)+len(rep.Repeated)+len(rep.Unknown)+len(rep.WrongUser)+rep.NullIDs > 0 {
			t.Fatalf("%s: %s", s.dataDir, rep)
		}
		// The rejects are a Delta table of their own (<lake_path>/_rejects),
		// committed by the owner's handoff after the rows' table: another node
		// may see a handoff's rows a moment before its rejects. Missing rejects
		// are waited for; a reject held twice fails at once.
		for {
			err := checkRejects(s, p.bad)
			if err == nil {
				break
			}
			var re *rejectsError
			if !errors.As(err, &re) || !re.onlyMissing() || time.Now().After(deadline) {
				t.Fatalf("%s: %v", s.dataDir, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestKafkaClusterSharedLake runs strata processes in one consumer group sharing
// one lake_path (issue 13, parts 1, 2 and 5): the lake, with one txn per Kafka
// partition in every handoff, is the checkpoint they share.
//
//  1. a ingests alone and hands off; b joins and the partitions split;
//  2. a is SIGKILLed right after more events arrive (rows it persisted but had not
//     handed off die with it) and its data directory is deleted (a copy is kept);
//     b takes every partition, resumes from the lake's offsets and ends with every
//     produced record exactly once, malformed ones in ev_rejects exactly once;
//  3. a comes back on the copy of its old data directory: its local rows of the
//     partitions b handed off since are below the lake's offsets and must never be
//     counted (the drop rule); the partitions split again;
//  4. at the end each process alone (its partitions plus the lake) holds every
//     produced id exactly once, and no process ever shows more rows than produced.
func TestKafkaClusterSharedLake(t *testing.T) {
	addr, _ := kafkatest.Start(t, "events", 4)
	dir := t.TempDir()
	lake := filepath.Join(dir, "lake")
	if err := os.MkdirAll(lake, 0o700); err != nil {
		t.Fatal(err)
	}
	sql := clusterTableSQL(t, lake, "1s")
	p := &producer{partitions: 4, badEvery: 97}

	a := startClusterNode(t, filepath.Join(dir, "a"), freeAddr(t), addr, lake, sql)
	p.run(t, addr, "events", 20_000, 1)
	waitEach(t, p, a)

	b := startClusterNode(t, filepath.Join(dir, "b"), freeAddr(t), addr, lake, sql)
	deadline := time.Now().Add(time.Minute)
	for assigned(t, a) != 2 || assigned(t, b) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("partitions not split after a minute: a owns %d, b %d", assigned(t, a), assigned(t, b))
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.run(t, addr, "events", 20_000, 2)
	time.Sleep(400 * time.Millisecond) // a persists (every 250 ms) some of it, and may not hand it off
	kill(t, a)
	stale := filepath.Join(dir, "a-stale")
	if out, err := exec.Command("cp", "-a", a.dataDir, stale).CombinedOutput(); err != nil {
		t.Fatalf("copy a's data directory: %v\n%s", err, out)
	}
	if err := os.RemoveAll(a.dataDir); err != nil {
		t.Fatal(err)
	}
	p.run(t, addr, "events", 20_000, 3)
	// b follows a's partitions, so it may show every row before it owns them:
	// wait for the takeover, then for every row from b's own partitions.
	deadline = time.Now().Add(time.Minute)
	for assigned(t, b) != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("b owns %d partitions a minute after a's death, want 4", assigned(t, b))
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitEach(t, p, b)

	// a returns with the stale copy: same instance id, rows below the lake's offsets.
	a = startStrataOn(t, stale, a.addr, "--kafka-brokers", addr, "--lake-root", lake, "--handoff-interval", "300ms")
	deadline = time.Now().Add(time.Minute)
	for {
		// Never more than produced, on a, from its first answer on.
		if n, _, err := tableCounts(t, a); err == nil && n > p.sent {
			t.Fatalf("a, back on its stale data directory: %d rows, more than the %d produced", n, p.sent)
		}
		if assigned(t, a) == 2 && assigned(t, b) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions not split again after a minute: a owns %d, b %d", assigned(t, a), assigned(t, b))
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.run(t, addr, "events", 10_000, 4)
	waitEach(t, p, a, b)
	t.Logf("%d events and %d malformed records, each exactly once on each process", p.sent, p.bad)
}

// TestKafkaRestartGetsPartitionsBack (issue 13 part 5): with a session timeout
// of 60 s, a SIGKILLed process that restarts owns all of its partitions again
// within 5 s (static group membership: its stable instance id replaces the dead
// member at once) and then holds every record exactly once.
func TestKafkaRestartGetsPartitionsBack(t *testing.T) {
	addr, _ := kafkatest.Start(t, "events", 4)
	dir := t.TempDir()
	lake := filepath.Join(dir, "lake")
	if err := os.MkdirAll(lake, 0o700); err != nil {
		t.Fatal(err)
	}
	sql := clusterTableSQL(t, lake, "60s")
	p := &producer{partitions: 4, badEvery: 50}
	s := startClusterNode(t, filepath.Join(dir, "a"), freeAddr(t), addr, lake, sql)
	p.run(t, addr, "events", 20_000, 5)
	waitEach(t, p, s)
	for i := range 2 {
		kill(t, s)
		began := time.Now()
		s = startStrataOn(t, s.dataDir, s.addr, "--kafka-brokers", addr, "--lake-root", lake, "--handoff-interval", "300ms")
		for assigned(t, s) != 4 {
			if time.Since(began) > 5*time.Second {
				t.Fatalf("restart %d: %d of 4 partitions owned %v after the restart, want all within 5 s", i+1, assigned(t, s), time.Since(began))
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("restart %d: all 4 partitions owned %v after the restart began", i+1, time.Since(began).Round(time.Millisecond))
		p.run(t, addr, "events", 5_000, uint64(10+i))
		waitEach(t, p, s)
	}
}
