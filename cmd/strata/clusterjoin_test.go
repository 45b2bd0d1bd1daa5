package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
)

// joinCatchUpBound is the bound on how soon a node added to a running
// cluster answers the same counts as the others (issue 13: "within 30 s").
const joinCatchUpBound = 30 * time.Second

// TestClusterFourthNodeJoins (issue 13: "Adding a fourth node takes `strata
// serve --cluster … --kafka-brokers …`, nothing else"): a cluster on a folder
// location (two owners and a node that only follows, as in
// TestClusterThreeNodesUnderKills, handing off every 300 ms) ingests a steady
// stream across 8 partitions; midway a fourth node starts on an empty data
// directory with --cluster and --kafka-brokers alone (the test harness adds
// only its own data directory and listen addresses). It finds the table in the
// cluster catalog, joins the consumer group and follows the rest. The time
// from its start until its count(*) reaches what the producer had acknowledged
// before the query is logged (the README's figure) and must be within
// joinCatchUpBound; it never shows more than was produced; it ends up owning
// partitions, and at the end all four nodes hold every produced id once with
// its user.
func TestClusterFourthNodeJoins(t *testing.T) {
	const events, produceFor = 30_000, 15 * time.Second
	ctx := context.Background()
	brokers, _ := kafkatest.Start(t, "events", 8)
	dir := t.TempDir()
	location := filepath.Join(dir, "cluster")
	if err := os.MkdirAll(location, 0o700); err != nil {
		t.Fatal(err)
	}
	base := []string{"--cluster", location, "--kafka-brokers", brokers}
	tuned := append([]string{"--handoff-interval", "300ms", "--cluster-refresh", "300ms"}, base...)
	a := startStrataOn(t, filepath.Join(dir, "a"), freeAddr(t), tuned...)
	ca := connect(t, a)
	if _, err := ca.Exec(ctx, `CREATE TABLE ev ("timestamp" timestamptz NOT NULL, user_id text, n bigint)
		WITH (kafka_topic = 'events', persist_rows = '20000', persist_interval = '200ms', kafka_session_timeout = '1s')`); err != nil {
		t.Fatal(err)
	}
	ca.Close(ctx)
	b := startStrataOn(t, filepath.Join(dir, "b"), freeAddr(t), tuned...)
	c := startStrataOn(t, filepath.Join(dir, "c"), freeAddr(t), append(tuned, "--kafka-follow-only")...)
	deadline := time.Now().Add(time.Minute)
	for assigned(t, a) == 0 || assigned(t, b) == 0 || assigned(t, a)+assigned(t, b) != 8 || followedBy(t, c) != 8 {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute a owns %d partitions, b %d, c follows %d", assigned(t, a), assigned(t, b), followedBy(t, c))
		}
		time.Sleep(100 * time.Millisecond)
	}

	p := &producer{partitions: 8}
	produced := p.steady(t, brokers, events, produceFor, 2000)
	soFar := p.soFar
	time.Sleep(produceFor / 3)

	began := time.Now()
	d := startStrataOn(t, filepath.Join(dir, "d"), freeAddr(t), base...)
	var took time.Duration
	for {
		ackedBefore, _ := soFar()
		n, err := joinCount(ctx, d)
		_, allocated := soFar()
		if err == nil && n > int64(allocated) {
			t.Fatalf("d: count(*) %d, more than the %d events produced: counted twice", n, allocated)
		}
		if err == nil && n >= int64(ackedBefore) && ackedBefore > 0 {
			took = time.Since(began)
			break
		}
		if time.Since(began) > joinCatchUpBound {
			t.Fatalf("d: count(*) %d (%v) %v after its start, below the %d events acknowledged before the query\n%s", n, err, joinCatchUpBound, ackedBefore, d.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	acked, _ := soFar()
	t.Logf("the fourth node, started with --cluster and --kafka-brokers alone, counted every acknowledged event %v after its start (%d acknowledged then)", took.Round(time.Millisecond), acked)
	for assigned(t, d) == 0 {
		if time.Since(began) > time.Minute {
			t.Fatalf("d owns no partition a minute after its start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("d owns %d partitions %v after its start", assigned(t, d), time.Since(began).Round(time.Millisecond))
	<-produced
	if acked, _ := soFar(); acked != events {
		t.Fatalf("produced %d of %d events", acked, events)
	}
	waitEach(t, p, a, b, c, d)
}

// joinCount is s's count(*) of ev (an error while it starts or lacks the table).
func joinCount(ctx context.Context, s *strataServer) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, `SELECT count(*) FROM ev`).Scan(&n)
	return n, err
}
