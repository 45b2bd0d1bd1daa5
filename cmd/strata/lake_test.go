package main

import (
	"context"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/internal/rowcheck"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/objstore/s3fault"
)

// TestHandoffExactlyOnceUnderKillsAndS3Faults runs the whole pipeline against a
// real S3 server (versitygw) reached through a proxy that fails about one request
// in eight (500/503 before or after the request reached the server): Kafka →
// heads → segments → Delta Lake on S3, handing off every 200 ms while strata is
// SIGKILLed at random moments (so inside handoffs too: between the intent, the
// Parquet writes, the Delta commit and the catalog mark). Afterwards count(*) and
// every user's count equal what the producer sent, and once everything is handed
// off the Delta table on S3, read directly, holds exactly those rows.
func TestHandoffExactlyOnceUnderKillsAndS3Faults(t *testing.T) {
	const total = 300_000
	const bucket = "lake"
	vgw := s3fault.NeedVersitygw(t)
	ctx := context.Background()
	if err := vgw.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	proxy := s3fault.New(vgw.Endpoint, s3fault.Config{Seed: 5, Fail5xx: 0.08, FailAfter: 0.05})
	defer proxy.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", s3fault.VersitygwAccess)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3fault.VersitygwSecret)
	t.Setenv("AWS_REGION", s3fault.VersitygwRegion)

	addr, _ := kafkatest.Start(t, "events", 4)
	dataDir := filepath.Join(t.TempDir(), "data")
	pgAddr := freeAddr(t)
	flags := []string{"--kafka-brokers", addr, "--handoff-interval", "200ms", "--s3-endpoint", proxy.URL(), "--s3-path-style", "--lake-root", "s3://" + bucket}
	s := startStrataOn(t, dataDir, pgAddr, flags...)
	conn := connect(t, s)
	if _, err := conn.Exec(ctx, `CREATE TABLE ev ("timestamp" timestamptz NOT NULL, user_id text, n bigint)
		WITH (kafka_topic = 'events', persist_rows = '5000', persist_interval = '100ms', kafka_session_timeout = '1s',
		      segment_granularity = 'minute', lake_path = 's3://`+bucket+`/ev', handoff_grace = '0s')`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	p := &producer{}
	produced := make(chan struct{})
	go func() { defer close(produced); p.run(t, addr, "events", total, 9) }()
	r := rand.New(rand.NewPCG(21, 22))
	kills := 0
	for kills < 8 || !closed(produced) {
		time.Sleep(time.Duration(200+r.IntN(900)) * time.Millisecond)
		kill(t, s)
		kills++
		s = startStrataOn(t, dataDir, pgAddr, flags...)
	}
	<-produced
	got := waitCount(t, total, s)
	if !maps.Equal(got, p.ids.PerUser()) {
		t.Fatalf("per-user counts differ from what was produced (%d users vs %d)", len(got), len(p.ids.PerUser()))
	}
	t.Logf("through strata: %s", exactlyOnce(t, &p.ids, s))

	// Everything reaches the lake; read it directly, not through strata.
	direct, err := objstore.Open(ctx, "s3://"+bucket+"/ev", objstore.Options{Endpoint: vgw.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	tbl := lake.OpenTable(lake.ObjectFS(direct), "")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		snap, err := tbl.Snapshot(ctx)
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
			t.Logf("%d kills; Delta version %d, %d files, read from their bytes: %s", kills, snap.Version, len(snap.Files()), rep)
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
	// The faults were real: the proxy broke requests of each kind it was asked to.
	c := proxy.Counts()
	t.Logf("proxy: %s", c)
	if c.Fail500+c.Fail503 == 0 || c.FailAfter == 0 {
		t.Fatalf("the S3 proxy injected no fault of some kind: %s", c)
	}
}
