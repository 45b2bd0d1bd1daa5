package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
)

// The measurements of issue 13 part 3, run only with STRATA_FOLLOW_BENCH=1
// (they take about a minute and load the machine; nothing here asserts a
// time). Results go to the test log:
//
//	STRATA_FOLLOW_BENCH=1 go test -run TestFollowMeasure -v ./cmd/strata/
func followBench(t *testing.T) {
	if os.Getenv("STRATA_FOLLOW_BENCH") == "" {
		t.Skip("a measurement: set STRATA_FOLLOW_BENCH=1")
	}
}

// loadAvg returns /proc/loadavg's first three figures, for the log.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return string(b[:min(len(b), 14)])
}

// ownedBy returns the partitions of ev s owns.
func ownedBy(t *testing.T, s *strataServer) []int32 {
	t.Helper()
	c := connect(t, s)
	defer c.Close(context.Background())
	rows, err := c.Query(context.Background(), `SELECT partition FROM strata_ingest_status WHERE table_name = 'ev' AND role = 'owner' ORDER BY partition`)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// splitNodes starts two nodes on a shared lake with hour-long handoffs and
// waits until each owns two of the topic's four partitions.
func splitNodes(t *testing.T, addr string) (a, b *strataServer) {
	t.Helper()
	dir := t.TempDir()
	lake := filepath.Join(dir, "lake")
	if err := os.MkdirAll(lake, 0o700); err != nil {
		t.Fatal(err)
	}
	sql := clusterTableSQL(t, lake, "2s")
	a = startFollowNode(t, filepath.Join(dir, "a"), freeAddr(t), addr, lake, sql)
	b = startFollowNode(t, filepath.Join(dir, "b"), freeAddr(t), addr, lake, sql)
	deadline := time.Now().Add(time.Minute)
	for {
		ao, af := followRoles(t, a)
		bo, bf := followRoles(t, b)
		if ao == 2 && af == 2 && bo == 2 && bf == 2 {
			return a, b
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions not split: a owns %d follows %d, b %d and %d", ao, af, bo, bf)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFollowMeasure/freshness: events at a steady 50,000/s over the four
// partitions for 10 s; every 500th is a probe (its own user_id) sent to a
// partition node a owns; the time from handing a probe to the producer to the
// first SELECT on node b that sees it, p50 and p99.
//
// TestFollowMeasure/throughput: 2,000,000 events wait in four partitions that
// node a owns (it has persisted but not handed them off); node b starts and
// follows what it does not own from offset 0 (until its group assignment
// comes, every partition; then the two a keeps): the events/s its follower
// reads and decodes into memory, from strata_ingest_status's read offsets.
func TestFollowMeasure(t *testing.T) {
	followBench(t)
	t.Run("freshness", func(t *testing.T) {
		const rate, seconds, probeEvery = 50_000, 10, 500
		addr, _ := kafkatest.Start(t, "events", 4)
		a, b := splitNodes(t, addr)
		owned := ownedBy(t, a)
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("events"), kgo.ProducerLinger(0),
			kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		type probe struct {
			user string
			sent time.Time
		}
		probes := make(chan probe, rate*seconds/probeEvery+1)
		load0 := loadAvg()
		go func() {
			defer close(probes)
			began := time.Now()
			sent := 0
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
			for sent < rate*seconds {
				<-tick.C
				due := min(int(time.Since(began).Seconds()*rate), rate*seconds) - sent
				for k := range due {
					id := sent + k
					user, part := "u"+strconv.Itoa(id%2000), int32(id%4)
					var p *probe
					if id%probeEvery == 0 {
						p = &probe{user: fmt.Sprintf("probe-%d", id), sent: time.Now()}
						user, part = p.user, owned[(id/probeEvery)%len(owned)]
					}
					ts := base.Add(time.Duration(id) * time.Millisecond)
					cl.Produce(context.Background(), &kgo.Record{Partition: part,
						Value: fmt.Appendf(nil, `{"timestamp":%q,"user_id":%q,"n":%d}`, ts.Format(time.RFC3339Nano), user, id)}, nil)
					if p != nil {
						probes <- *p
					}
				}
				sent += due
			}
		}()
		// Each probe is looked for on a (its owner) and on b (a follower)
		// at once, by two pollers, so that the two figures share the load.
		var lat [2][]time.Duration
		toB := make(chan probe, cap(probes))
		var wg sync.WaitGroup
		poll := func(s *strataServer, in <-chan probe, out *[]time.Duration, fwd chan<- probe) {
			defer wg.Done()
			if fwd != nil {
				defer close(fwd)
			}
			c := connect(t, s)
			defer c.Close(context.Background())
			for p := range in {
				if fwd != nil {
					fwd <- p
				}
				for {
					var n int
					if err := c.QueryRow(context.Background(), `SELECT count(*) FROM ev WHERE user_id = $1`, p.user).Scan(&n); err != nil {
						t.Error(err)
						return
					}
					if n == 1 {
						break
					}
					if time.Since(p.sent) > time.Minute {
						t.Errorf("probe %s not on %s after a minute", p.user, s.dataDir)
						return
					}
					time.Sleep(200 * time.Microsecond)
				}
				*out = append(*out, time.Since(p.sent))
			}
		}
		wg.Add(2)
		go poll(a, probes, &lat[0], toB)
		go poll(b, toB, &lat[1], nil)
		wg.Wait()
		for i, l := range lat {
			if len(l) == 0 {
				t.Fatal("no probe measured")
			}
			slices.Sort(l)
			t.Logf("freshness at %d events/s for %d s, probes to a's partitions %v, seen on %s: %d probes, p50 %v, p99 %v, max %v",
				rate, seconds, owned, []string{"a (owner)", "b (follower)"}[i], len(l), l[len(l)/2].Round(100*time.Microsecond),
				l[len(l)*99/100].Round(100*time.Microsecond), l[len(l)-1].Round(100*time.Microsecond))
		}
		t.Logf("load average before %s, after %s", load0, loadAvg())
	})
	t.Run("throughput", func(t *testing.T) {
		const n = 1_000_000
		addr, _ := kafkatest.Start(t, "events", 4)
		dir := t.TempDir()
		lake := filepath.Join(dir, "lake")
		if err := os.MkdirAll(lake, 0o700); err != nil {
			t.Fatal(err)
		}
		sql := clusterTableSQL(t, lake, "2s")
		a := startFollowNode(t, filepath.Join(dir, "a"), freeAddr(t), addr, lake, sql)
		p := &producer{partitions: 4}
		p.run(t, addr, "events", 2*n, 7)
		waitSeen(t, p, 5*time.Minute, a)
		// b joins: a hands off the two partitions it gives b; b follows the
		// two a keeps from offset 0 (a has handed none of them off).
		b := startFollowNode(t, filepath.Join(dir, "b"), freeAddr(t), addr, lake, sql)
		c := connect(t, b)
		defer c.Close(context.Background())
		read := func() (int64, int64) {
			var got, hwm int64
			if err := c.QueryRow(context.Background(), `SELECT coalesce(sum(read_offset), 0), coalesce(sum(read_offset + lag), 0) FROM strata_ingest_status
				WHERE table_name = 'ev' AND role = 'follower'`).Scan(&got, &hwm); err != nil {
				t.Fatal(err)
			}
			return got, hwm
		}
		var r0 int64
		var t0 time.Time
		deadline := time.Now().Add(5 * time.Minute)
		for {
			got, hwm := read()
			if t0.IsZero() && hwm > 0 {
				r0, t0 = got, time.Now() // the first sight of b's follower rows
			}
			if !t0.IsZero() && hwm > 0 && got >= hwm && got > r0 {
				el := time.Since(t0)
				t.Logf("one node follows %d events in %v: %.0f events/s; load average %s", got-r0, el.Round(time.Millisecond),
					float64(got-r0)/el.Seconds(), loadAvg())
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("b's follower read %d of %d after 5 minutes", got, hwm)
			}
			time.Sleep(5 * time.Millisecond)
		}
		waitSeen(t, p, time.Minute, b)
	})
}
