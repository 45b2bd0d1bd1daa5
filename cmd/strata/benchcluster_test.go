package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/ingest/kafka/kafkatest"
)

// TestBenchCluster is `make bench-cluster` (issue 13): it runs only when
// STRATA_BENCH_CLUSTER is set to a number of events (the Makefile's
// CLUSTER_EVENTS). The events (bench's generator, the dashboard suite's week)
// are produced to a kfake topic of 8 partitions first; then, for 1, 2 and 3
// owners (`strata serve --cluster <folder>`, the table created on the first,
// the others finding it in the cluster catalog and joining its consumer group,
// each run with its own group and cluster folder), it measures the time from
// CREATE TABLE until the group has consumed every partition to its end:
// ingest throughput. Then, on the 2-owner cluster once the lake holds every
// event, it runs the dashboard suite (bench.Queries) over the wire on an
// owner and on a node that owns nothing (`strata serve --cluster …
// --kafka-follow-only`: it finds the table in the cluster catalog and follows
// every partition) and prints each query's median of RUNS runs.
func TestBenchCluster(t *testing.T) {
	spec := os.Getenv("STRATA_BENCH_CLUSTER")
	if spec == "" {
		t.Skip("make bench-cluster sets STRATA_BENCH_CLUSTER (a number of events)")
	}
	events, err := strconv.Atoi(spec)
	if err != nil || events < 1000 {
		t.Fatalf("STRATA_BENCH_CLUSTER=%q: want a number of events", spec)
	}
	runs := 5
	if s := os.Getenv("RUNS"); s != "" {
		if runs, err = strconv.Atoi(s); err != nil || runs < 1 {
			t.Fatalf("RUNS=%q", s)
		}
	}
	const topic = "user_behavior_topic"
	ctx := context.Background()
	brokers, _ := kafkatest.Start(t, topic, 8)
	began := time.Now()
	produceBenchEvents(t, brokers, topic, events)
	t.Logf("produced %d events to 8 partitions in %v", events, time.Since(began).Round(time.Millisecond))

	dir := t.TempDir()
	var report strings.Builder
	fmt.Fprintf(&report, "cluster ingest, %d events over 8 partitions (kfake), strata serve --cluster on one machine:\n", events)
	var keep []*strataServer // the 2-owner cluster, for the queries
	var keepLoc string
	for owners := 1; owners <= 3; owners++ {
		loc := filepath.Join(dir, fmt.Sprintf("cluster%d", owners))
		flags := []string{"--cluster", loc, "--kafka-brokers", brokers, "--cluster-refresh", "200ms", "--handoff-interval", "1s"}
		var nodes []*strataServer
		for i := range owners {
			nodes = append(nodes, startStrataOn(t, filepath.Join(dir, fmt.Sprintf("k%d-n%d", owners, i)), freeAddr(t), flags...))
		}
		c := connect(t, nodes[0])
		sql := strings.TrimSuffix(strings.TrimSpace(bench.CreateTableSQL), ";") +
			fmt.Sprintf(" WITH (kafka_topic = '%s', kafka_group = 'bench-%d', kafka_session_timeout = '2s')", topic, owners)
		start := time.Now()
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
		c.Close(ctx)
		deadline := time.Now().Add(10 * time.Minute)
		for !clusterCaughtUp(t, nodes, bench.TableName) {
			if time.Now().After(deadline) {
				t.Fatalf("%d owners: not caught up after 10 minutes", owners)
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		parts := make([]string, len(nodes))
		for i, n := range nodes {
			parts[i] = strconv.Itoa(assignedOf(t, n, bench.TableName))
		}
		fmt.Fprintf(&report, "  %d owner(s): %8.0f events/s  (%v from CREATE TABLE to every partition consumed; partitions per node %s)\n",
			owners, float64(events)/took.Seconds(), took.Round(time.Millisecond), strings.Join(parts, "+"))
		if owners == 2 {
			keep, keepLoc = nodes, loc
			continue
		}
		for _, n := range nodes {
			kill(t, n) // its cleanup's interrupt finds it gone
		}
	}

	// Queries: an owner against a node that owns nothing and follows every
	// partition, over the same table.
	reader := startStrataOn(t, filepath.Join(dir, "follower"), freeAddr(t),
		"--cluster", keepLoc, "--kafka-brokers", brokers, "--kafka-follow-only", "--cluster-refresh", "200ms")
	rc := connect(t, reader)
	defer rc.Close(ctx)
	oc := connect(t, keep[0])
	defer oc.Close(ctx)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var n, followed int
		err := rc.QueryRow(ctx, "SELECT count(*) FROM "+bench.TableName).Scan(&n)
		if err == nil {
			err = rc.QueryRow(ctx, `SELECT count(*) FROM strata_ingest_status WHERE table_name = $1 AND role = 'follower'`, bench.TableName).Scan(&followed)
		}
		if err == nil && n == events && followed == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the follower counts %d of %d events and follows %d of 8 partitions after 5 minutes (%v)", n, events, followed, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(&report, "dashboard suite (%d queries), median of %d runs over the wire (pgx, simple protocol), 2-owner cluster with every event handed off, owner against a --kafka-follow-only node:\n", len(bench.Queries), runs)
	fmt.Fprintf(&report, "  %-28s %12s %12s %8s\n", "query", "owner ms", "follower ms", "ratio")
	var sumO, sumR float64
	for _, q := range bench.Queries {
		o := medianMS(t, oc, q.SQL, runs)
		r := medianMS(t, rc, q.SQL, runs)
		sumO += o
		sumR += r
		fmt.Fprintf(&report, "  %-28s %12.2f %12.2f %8.2f\n", q.Name, o, r, r/o)
	}
	fmt.Fprintf(&report, "  %-28s %12.2f %12.2f %8.2f\n", "sum of medians", sumO, sumR, sumR/sumO)
	t.Logf("\n%s", report.String())
	if out := os.Getenv("STRATA_BENCH_CLUSTER_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(report.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// produceBenchEvents writes n generated events as JSON, round-robin over the
// topic's 8 partitions.
func produceBenchEvents(t *testing.T, brokers, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	gen := bench.NewGenerator(1, bench.DefaultStart, bench.DefaultEnd, bench.DefaultUsers, bench.DefaultProducts)
	gen.Ordered(n)
	const batch = 50_000
	for done := 0; done < n; {
		k := min(batch, n-done)
		recs := make([]*kgo.Record, k)
		for i := range recs {
			recs[i] = &kgo.Record{Value: gen.AppendJSON(nil), Partition: int32((done + i) % 8)}
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		done += k
	}
}

// clusterCaughtUp reports whether the nodes together consume all 8 partitions
// of table's topic, each with lag 0.
func clusterCaughtUp(t *testing.T, nodes []*strataServer, table string) bool {
	t.Helper()
	parts, behind := 0, 0
	for _, n := range nodes {
		c, err := pgx.Connect(context.Background(), n.dsn())
		if err != nil {
			return false
		}
		var p, b int
		err = c.QueryRow(context.Background(), `SELECT count(partition), count(*) FILTER (WHERE lag IS NULL OR lag > 0)
			FROM strata_ingest_status WHERE table_name = $1 AND role = 'owner' AND state <> 'unassigned'`, table).Scan(&p, &b)
		c.Close(context.Background())
		if err != nil {
			return false
		}
		parts += p
		behind += b
	}
	return parts == 8 && behind == 0
}

func assignedOf(t *testing.T, s *strataServer, table string) int {
	t.Helper()
	c := connect(t, s)
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(partition) FROM strata_ingest_status WHERE table_name = $1 AND role = 'owner' AND state <> 'unassigned'`, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// medianMS runs q runs times on c (simple protocol, rows read to the end) and
// returns the median in milliseconds.
func medianMS(t *testing.T, c *pgx.Conn, q string, runs int) float64 {
	t.Helper()
	var ms []float64
	for range runs {
		start := time.Now()
		rows, err := c.Query(context.Background(), q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
	}
	slices.Sort(ms)
	return ms[len(ms)/2]
}
