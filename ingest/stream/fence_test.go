package stream

import (
	"log/slog"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

// owned counts the partitions a manager's table reads now.
func owned(m *Manager) int {
	n := 0
	for _, s := range m.Status() {
		if s.Partition >= 0 && s.State != "unassigned" {
			n++
		}
	}
	return n
}

// TestFencedMemberTakesItsPersistBack runs two processes' ingestion (own stores)
// in one consumer group and turns one of them, b, into a zombie: the broker
// holds b's heartbeats, so after the session timeout the group drops b and gives
// every partition to a, while b, not told yet, still fetches the partitions it
// had. Records produced then are read by both; b's persist of them is refused by
// the group (b is no longer a member), and b must take those rows back instead
// of keeping them beside a's copy. When the heartbeats flow again b learns it
// was dropped, rejoins, and the two stores hold every record exactly once.
func TestFencedMemberTakesItsPersistBack(t *testing.T) {
	const topic = "events"
	cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(4, topic),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]
	r := rand.New(rand.NewPCG(5, 6))
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	// persist_rows small, persist_interval long: b persists only when records
	// arrive, so nothing but its heartbeats keeps it in the group (a commit
	// counts as a heartbeat).
	opts := map[string]string{OptTopic: topic, OptBrokers: addr, OptPersistRows: "100", OptPersistEvery: "1h",
		OptSessionTimeout: "1s", OptMaxRecordBytes: "1000000"}
	open := func(name string, logs *syncBuffer) (*store.Store, *Manager) {
		st, err := store.Open(t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		def, err := st.CreateTable(catalog.TableDef{Name: "ev", Schema: eventSchema, Granularity: time.Hour, Options: maps.Clone(opts)})
		if err != nil {
			t.Fatal(err)
		}
		m := NewManager(st, Options{Restart: 100 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		t.Cleanup(m.Close)
		if err := m.Start(def); err != nil {
			t.Fatal(err)
		}
		return st, m
	}
	var logsA, logsB syncBuffer
	stA, ma := open("a", &logsA)
	stB, mb := open("b", &logsB)
	defer func() {
		if t.Failed() {
			t.Logf("a's log:\n%s\nb's log:\n%s", logsA.String(), logsB.String())
		}
	}()
	waitUntil(t, time.Minute, "the partitions split two and two", func() bool { return owned(ma) == 2 && owned(mb) == 2 })

	all := makeWorkload(r, 2000, 4, start)
	kafkatest.Produce(t, addr, topic, all.msgs)
	total := func() int { return rowCount(t, stA, "ev") + rowCount(t, stB, "ev") }
	waitUntil(t, 30*time.Second, "the first records", func() bool { return total() == all.good })

	// Hold b's heartbeats until release is closed.
	nodeB := mb.nodeName()
	release := make(chan struct{})
	var releaseOnce sync.Once
	unhold := func() { releaseOnce.Do(func() { close(release) }) }
	defer unhold()
	cluster.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		hb := req.(*kmsg.HeartbeatRequest)
		if hb.InstanceID != nil && strings.Contains(*hb.InstanceID, nodeB) {
			cluster.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	waitUntil(t, 30*time.Second, "the group to give a every partition", func() bool { return owned(ma) == 4 })

	more := makeWorkload(r, 2000, 4, start.Add(time.Minute))
	kafkatest.Produce(t, addr, topic, more.msgs)
	all.add(more)
	waitUntil(t, 30*time.Second, "b's refused persist", func() bool {
		return strings.Contains(logsB.String(), "refused a persist's offsets")
	})
	unhold()

	// Both hold every record once: the total settles at the produced count.
	// (Until b's failed run discards its head, b may still show rows it read
	// as a zombie; a kept duplicate would keep the total above.)
	deadline := time.Now().Add(time.Minute)
	for stable := 0; stable < 10; {
		n := total()
		if n == all.good && owned(ma)+owned(mb) == 4 {
			stable++
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute a and b hold %d rows of %d, own %d+%d partitions", n, all.good, owned(ma), owned(mb))
		}
		time.Sleep(100 * time.Millisecond)
	}
	ua, _ := perUser(t, stA, "ev")
	ub, _ := perUser(t, stB, "ev")
	for u, n := range ub {
		ua[u] += n
	}
	if !maps.Equal(ua, all.perUser) {
		t.Fatalf("per-user counts over both stores differ from what was produced:\n got %v\nwant %v", ua, all.perUser)
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up after %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
