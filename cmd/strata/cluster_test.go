package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/storage/objstore/s3fault"
)

// TestServeCluster: two `strata serve --cluster` processes sharing a cluster
// location (a local folder, and a bucket on a real S3 server) are one catalog:
// a table created on A is queryable on B within seconds with the same columns,
// rows A loads are read on B once handed off, an external table created on A
// (over a Delta table under a lake root) is read on B and dropped from B, a
// role created on A logs in on B
// with its password (SCRAM, pgx) and has the privileges granted on A, ALTER
// TABLE … OWNER TO, ALTER TABLE … SET and DROP TABLE reach the other node, and of two racing
// CREATE TABLEs exactly one gets 42P07; racing ALTER TABLEs get 40001 or win.
func TestServeCluster(t *testing.T) {
	t.Run("folder", func(t *testing.T) {
		loc := filepath.Join(t.TempDir(), "cluster")
		ext := filepath.Join(t.TempDir(), "ext")
		testServeCluster(t, ext, []string{"--cluster", loc, "--lake-root", ext})
	})
	t.Run("s3", func(t *testing.T) {
		vgw := s3fault.NeedVersitygw(t)
		if err := vgw.CreateBucket(context.Background(), "cluster"); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_ACCESS_KEY_ID", s3fault.VersitygwAccess)
		t.Setenv("AWS_SECRET_ACCESS_KEY", s3fault.VersitygwSecret)
		t.Setenv("AWS_REGION", s3fault.VersitygwRegion)
		testServeCluster(t, "s3://cluster/ext", []string{"--cluster", "s3://cluster/prod", "--lake-root", "s3://cluster/ext", "--s3-endpoint", vgw.Endpoint, "--s3-path-style"})
	})
}

// extRoot is a lake root outside the cluster location, for the Delta table an
// external table reads.
func testServeCluster(t *testing.T, extRoot string, clusterFlags []string) {
	ctx := context.Background()
	dir := t.TempDir()
	hba := filepath.Join(dir, "pg_hba.conf")
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(hba, []byte("host all all 127.0.0.1/32 scram-sha-256\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte("superpw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := append([]string{"--cluster-refresh", "200ms", "--handoff-interval", "100ms", "--hba-file", hba, "--password-file", pw}, clusterFlags...)
	a := startStrataOn(t, filepath.Join(dir, "a"), freeAddr(t), flags...)
	b := startStrataOn(t, filepath.Join(dir, "b"), freeAddr(t), flags...)
	conn := func(s *strataServer, user, password string) (*pgx.Conn, error) {
		return pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@%s/strata?sslmode=disable", user, password, s.addr))
	}
	super := func(s *strataServer) *pgx.Conn {
		t.Helper()
		c, err := conn(s, "strata", "superpw")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		return c
	}
	ca, cb := super(a), super(b) // B takes the password A gave strata in the cluster
	within := func(what string, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("not within 5 s: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	one := func(c *pgx.Conn, q string) (string, error) {
		var s string
		// Simple protocol: pgx would reuse a statement prepared earlier, and a
		// catalog view's rows are those of its Prepare.
		err := c.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol).Scan(&s)
		return s, err
	}

	if _, err := ca.Exec(ctx, `CREATE TABLE ev (id bigint NOT NULL, "timestamp" timestamptz NOT NULL, who varchar(10), price numeric(10,2))
		WITH (segment_granularity = 'minute', handoff_grace = '0s')`); err != nil {
		t.Fatal(err)
	}
	cols := func(c *pgx.Conn) (string, error) {
		rows, err := c.Query(ctx, `SELECT column_name || ' ' || data_type || coalesce('(' || character_maximum_length || ')', '') ||
			coalesce('(' || numeric_precision || ',' || numeric_scale || ')', '') FROM information_schema.columns
			WHERE table_name = 'ev' ORDER BY ordinal_position`)
		if err != nil {
			return "", err
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		return fmt.Sprint(got), err
	}
	took := within("B has table ev", func() bool { _, err := one(cb, "SELECT count(*)::text FROM ev"); return err == nil })
	t.Logf("CREATE TABLE on A queryable on B after %v", took.Round(time.Millisecond))
	colsA, err := cols(ca)
	if err != nil {
		t.Fatal(err)
	}
	if colsB, err := cols(cb); err != nil || colsB != colsA {
		t.Fatalf("columns on B: %q (%v), on A: %q", colsB, err, colsA)
	}
	t.Logf("columns on both: %s", colsA)

	// Rows A loads reach B through the table's lake under the cluster location.
	var csv bytes.Buffer
	at := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)
	for i := range 500 {
		fmt.Fprintf(&csv, "%d,%s,u%d,%d.25\n", i, at.Add(time.Duration(i)*time.Second).Format("2006-01-02 15:04:05+00"), i%5, i)
	}
	if _, err := ca.PgConn().CopyFrom(ctx, &csv, "COPY ev FROM STDIN WITH (FORMAT csv)"); err != nil {
		t.Fatal(err)
	}
	within("B reads the 500 rows A loaded", func() bool {
		s, err := one(cb, "SELECT count(*)::text || ' ' || sum(price)::text FROM ev")
		return err == nil && s == "500 124875.00"
	})

	// CREATE EXTERNAL TABLE on A reaches B, over a Delta table under a lake
	// root: one that evx, a cluster table with a lake_path of its own, wrote
	// before it was dropped (a node refuses a lake_path another of its tables
	// uses). DROP of the external table on B reaches A.
	extPath := extRoot + "/evx"
	if !strings.HasPrefix(extRoot, "s3://") {
		extPath = filepath.Join(extRoot, "evx")
	}
	if _, err := ca.Exec(ctx, `CREATE TABLE evx (id bigint NOT NULL, "timestamp" timestamptz NOT NULL, who text)
		WITH (segment_granularity = 'minute', handoff_grace = '0s', lake_path = '`+extPath+`')`); err != nil {
		t.Fatal(err)
	}
	csv.Reset()
	for i := range 100 {
		fmt.Fprintf(&csv, "%d,%s,u%d\n", i, at.Add(time.Duration(i)*time.Second).Format("2006-01-02 15:04:05+00"), i%5)
	}
	if _, err := ca.PgConn().CopyFrom(ctx, &csv, "COPY evx FROM STDIN WITH (FORMAT csv)"); err != nil {
		t.Fatal(err)
	}
	within("evx handed off", func() bool {
		s, err := one(ca, "SELECT count(*)::text FROM evx VERSION AS OF 1")
		return err == nil && s == "100"
	})
	if _, err := ca.Exec(ctx, `DROP TABLE evx`); err != nil {
		t.Fatal(err)
	}
	within("B no longer has evx", func() bool { _, err := one(cb, "SELECT count(*)::text FROM evx"); return isCode(err, "42P01") })
	within("A creates the external table over evx's Delta table", func() bool {
		_, err := ca.Exec(ctx, `CREATE EXTERNAL TABLE ext WITH (lake_path = '`+extPath+`', time_column = 'timestamp')`)
		if err != nil && !isCode(err, "42P01") {
			t.Fatalf("CREATE EXTERNAL TABLE: %v", err)
		}
		return err == nil
	})
	took = within("B reads the external table A created", func() bool {
		s, err := one(cb, "SELECT count(*)::text || ' ' || sum(id)::text FROM ext")
		return err == nil && s == "100 4950"
	})
	t.Logf("CREATE EXTERNAL TABLE on A read on B after %v", took.Round(time.Millisecond))
	if _, err := cb.Exec(ctx, `INSERT INTO ext VALUES (1, now(), 'x')`); !isCode(err, "42809") {
		t.Fatalf("INSERT into the external table on B: %v, want 42809", err)
	}
	if _, err := cb.Exec(ctx, `DROP TABLE ext`); err != nil {
		t.Fatal(err)
	}
	within("A no longer has ext", func() bool { _, err := one(ca, "SELECT count(*)::text FROM ext"); return isCode(err, "42P01") })

	// Roles and grants made on A log in and read on B.
	for _, q := range []string{`CREATE ROLE alice LOGIN PASSWORD 's3cret'`, `GRANT SELECT ON ev TO alice`} {
		if _, err := ca.Exec(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	var alice *pgx.Conn
	within("alice logs in on B", func() bool {
		c, err := conn(b, "alice", "s3cret")
		if err != nil {
			return false
		}
		alice = c
		return true
	})
	defer alice.Close(ctx)
	within("alice reads ev on B", func() bool { s, err := one(alice, "SELECT count(*)::text FROM ev"); return err == nil && s == "500" })
	if _, err := conn(b, "alice", "wrong"); !isCode(err, "28P01") {
		t.Fatalf("a wrong password on B: %v, want 28P01", err)
	}

	// ALTER TABLE … OWNER TO on A reaches B.
	if _, err := ca.Exec(ctx, `ALTER TABLE ev OWNER TO alice`); err != nil {
		t.Fatal(err)
	}
	var owner string
	var ownerErr error
	defer func() {
		if t.Failed() {
			t.Logf("owner on B: %q %v", owner, ownerErr)
		}
	}()
	within("B shows alice as the owner", func() bool {
		owner, ownerErr = one(cb, "SELECT tableowner FROM pg_tables WHERE tablename = 'ev'")
		return ownerErr == nil && owner == "alice"
	})

	// ALTER TABLE … SET on A reaches B.
	if _, err := ca.Exec(ctx, `ALTER TABLE ev SET (lake_refresh = '2 seconds')`); err != nil {
		t.Fatal(err)
	}
	var relopts string
	defer func() {
		if t.Failed() {
			t.Logf("reloptions on B: %q", relopts)
		}
	}()
	within("B shows the new option", func() bool {
		relopts, _ = one(cb, "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'ev'")
		return strings.Contains(relopts, "lake_refresh=2 seconds")
	})

	// Racing CREATEs: exactly one 42P07 each time.
	for i := range 4 {
		q := fmt.Sprintf(`CREATE TABLE race%d (ts timestamptz NOT NULL, v bigint)`, i)
		var errs [2]error
		var wg sync.WaitGroup
		for j, c := range []*pgx.Conn{ca, cb} {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[j] = c.Exec(ctx, q) }()
		}
		wg.Wait()
		dup := 0
		for _, err := range errs {
			switch {
			case isCode(err, "42P07"):
				dup++
			case err != nil:
				t.Fatalf("race%d: %v", i, err)
			}
		}
		if dup != 1 {
			t.Fatalf("race%d: %d of two racing CREATE TABLEs got 42P07: %v", i, dup, errs)
		}
	}
	// Racing ALTERs: each one wins or gets 40001, nothing else.
	conflicts := 0
	for i := range 6 {
		var errs [2]error
		var wg sync.WaitGroup
		for j, c := range []*pgx.Conn{ca, cb} {
			wg.Add(1)
			owner := []string{"alice", "strata"}[(i+j)%2]
			go func() { defer wg.Done(); _, errs[j] = c.Exec(ctx, "ALTER TABLE race0 OWNER TO "+owner) }()
		}
		wg.Wait()
		for _, err := range errs {
			switch {
			case isCode(err, "40001"):
				conflicts++
			case err != nil:
				t.Fatalf("racing ALTER: %v", err)
			}
		}
	}
	t.Logf("12 racing ALTER TABLEs: %d got 40001", conflicts)

	// DROP on B reaches A.
	if _, err := cb.Exec(ctx, `DROP TABLE ev`); err != nil {
		t.Fatal(err)
	}
	within("A no longer has ev", func() bool { _, err := one(ca, "SELECT count(*)::text FROM ev"); return isCode(err, "42P01") })
}

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// TestServeClusterKafka: a node that joins with nothing but --cluster and
// --kafka-brokers finds the Kafka-fed table another node created, joins its
// consumer group, and both nodes count every produced event once (each hands
// its partitions' rows off to the table's lake under the cluster location);
// ALTER TABLE … PAUSE INGEST on A pauses both nodes and RESUME INGEST on B
// resumes both; a Kafka table created later on A starts ingesting on B too.
func TestServeClusterKafka(t *testing.T) {
	const n = 2000
	addr, _ := kafkatest.Start(t, "events", 4, kfake.SeedTopics(2, "events2"))
	dir := t.TempDir()
	flags := []string{"--cluster", filepath.Join(dir, "cluster"), "--kafka-brokers", addr, "--cluster-refresh", "200ms", "--handoff-interval", "200ms"}
	ctx := context.Background()
	a := startStrataOn(t, filepath.Join(dir, "a"), freeAddr(t), flags...)
	ca := connect(t, a)
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, `CREATE TABLE ev (id bigint NOT NULL, "timestamp" timestamptz NOT NULL, who text)
		WITH (kafka_topic = 'events', segment_granularity = 'minute', handoff_grace = '0s', persist_interval = '1s')`); err != nil {
		t.Fatal(err)
	}
	b := startStrataOn(t, filepath.Join(dir, "b"), freeAddr(t), flags...) // a new node: the cluster tells it the rest
	deadline := time.Now().Add(30 * time.Second)
	for assigned(t, a) == 0 || assigned(t, b) == 0 || assigned(t, a)+assigned(t, b) != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("partitions of events: %d on A, %d on B", assigned(t, a), assigned(t, b))
		}
		time.Sleep(100 * time.Millisecond)
	}
	at := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)
	msgs := make([]kafkatest.Message, n)
	for i := range msgs {
		msgs[i] = kafkatest.Message{Partition: int32(i % 4), Value: []byte(fmt.Sprintf(`{"id": %d, "timestamp": %q, "who": "w%d"}`,
			i, at.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i%3))}
	}
	kafkatest.Produce(t, addr, "events", msgs)
	cb := connect(t, b)
	defer cb.Close(ctx)
	for _, c := range []*pgx.Conn{ca, cb} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var got, distinct int64
			err := c.QueryRow(ctx, `SELECT count(*), count(DISTINCT id) FROM ev`, pgx.QueryExecModeSimpleProtocol).Scan(&got, &distinct)
			if err == nil && got == n && distinct == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("count(*) %d, distinct ids %d (%v), want %d", got, distinct, err, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// ALTER TABLE … PAUSE INGEST on A pauses both nodes (an option of the
	// cluster's definition); RESUME INGEST on B resumes both.
	alter := func(c *pgx.Conn, q string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := c.Exec(ctx, q)
			if err == nil {
				return
			}
			if !isCode(err, "40001") || time.Now().After(deadline) { // 40001: raced a handoff's commit
				t.Fatalf("%s: %v", q, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	statesOf := func(c *pgx.Conn) (string, error) {
		var s string
		err := c.QueryRow(ctx, `SELECT string_agg(DISTINCT state, ',') FROM strata_ingest_status WHERE table_name = 'ev' AND partition IS NOT NULL AND state <> 'unassigned'`,
			pgx.QueryExecModeSimpleProtocol).Scan(&s)
		return s, err
	}
	countOf := func(c *pgx.Conn) int64 {
		var got int64
		if err := c.QueryRow(ctx, `SELECT count(*) FROM ev`, pgx.QueryExecModeSimpleProtocol).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	alter(ca, `ALTER TABLE ev PAUSE INGEST`)
	for name, c := range map[string]*pgx.Conn{"A": ca, "B": cb} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			s, err := statesOf(c)
			if err == nil && s == "paused" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: states %q (%v) after PAUSE INGEST on A, want paused", name, s, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	more := make([]kafkatest.Message, 400)
	for i := range more {
		more[i] = kafkatest.Message{Partition: int32(i % 4), Value: []byte(fmt.Sprintf(`{"id": %d, "timestamp": %q, "who": "w%d"}`,
			n+i, at.Add(time.Duration(n+i)*time.Second).Format(time.RFC3339), i%3))}
	}
	kafkatest.Produce(t, addr, "events", more)
	time.Sleep(1500 * time.Millisecond)
	if a, b := countOf(ca), countOf(cb); a != n || b != n {
		t.Fatalf("while paused: A counts %d, B %d, want %d (nothing ingested)", a, b, n)
	}
	alter(cb, `ALTER TABLE ev RESUME INGEST`)
	for name, c := range map[string]*pgx.Conn{"A": ca, "B": cb} {
		deadline := time.Now().Add(30 * time.Second)
		for countOf(c) != n+int64(len(more)) {
			if time.Now().After(deadline) {
				s, err := statesOf(c)
				t.Fatalf("%s: %d rows after RESUME INGEST on B, want %d (states %q %v)", name, countOf(c), n+len(more), s, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	if _, err := ca.Exec(ctx, `CREATE TABLE ev2 (id bigint NOT NULL, "timestamp" timestamptz NOT NULL) WITH (kafka_topic = 'events2')`); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		var parts int
		err := cb.QueryRow(ctx, `SELECT count(partition) FROM strata_ingest_status WHERE table_name = 'ev2'`, pgx.QueryExecModeSimpleProtocol).Scan(&parts)
		if err == nil && parts > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B does not ingest ev2, created on A: %d partitions (%v)", parts, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
