package stream

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// byState splits a table's status rows into owned (running) and unassigned
// partitions.
func byState(status []Status) (running, unassigned map[int32]Status) {
	running, unassigned = map[int32]Status{}, map[int32]Status{}
	for _, s := range status {
		switch {
		case s.Partition < 0:
		case s.State == "unassigned":
			unassigned[s.Partition] = s
		case s.State == "running":
			running[s.Partition] = s
		}
	}
	return running, unassigned
}

// TestUnassignedPartitions: another member of the table's group takes half
// the partitions and never reads or commits them (as a dead member kfake
// keeps would). The supervisor shows them in its status as 'unassigned' with
// the group's lag, logs a warning for each, and once the other member leaves
// and the partitions are its own, the rows turn 'running' and every record
// arrives.
func TestUnassignedPartitions(t *testing.T) {
	const topic = "events"
	addr, _ := kafkatest.Start(t, topic, 4)
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	def, err := st.CreateTable(catalog.TableDef{Name: "ev", Schema: eventSchema, Granularity: time.Hour,
		Options: map[string]string{OptTopic: topic, OptBrokers: addr, OptPersistEvery: "200ms", OptSessionTimeout: "1s"}})
	if err != nil {
		t.Fatal(err)
	}

	// The silent member: in the group first, so it owns everything until the
	// supervisor joins; it heartbeats but never commits.
	other, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("strata-ev"), kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(100*time.Millisecond), kgo.RebalanceTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	pollCtx, stopPoll := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for pollCtx.Err() == nil {
			other.PollFetches(pollCtx) // read and dropped: never committed
		}
	}()
	closeOther := func() {
		stopPoll()
		<-polled
		other.Close()
	}
	defer func() {
		if pollCtx.Err() == nil {
			closeOther()
		}
	}()

	var log syncBuffer
	m := NewManager(st, Options{Logger: slog.New(slog.NewTextHandler(&log, nil)), UnassignedAfter: time.Second})
	defer m.Close()
	if err := m.Start(def); err != nil {
		t.Fatal(err)
	}
	waitStatus := func(what string, cond func(running, unassigned map[int32]Status) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			running, unassigned := byState(m.Status())
			if cond(running, unassigned) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s, not %s: status %+v\nlog:\n%s", what, m.Status(), log.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitStatus("two partitions owned", func(running, _ map[int32]Status) bool { return len(running) == 2 })

	var msgs []kafkatest.Message
	for p := range int32(4) {
		for i := range 10 {
			msgs = append(msgs, kafkatest.Message{Partition: p,
				Value: fmt.Appendf(nil, `{"user_id":"u%d","event":"view","timestamp":"2026-11-20T10:00:%02d"}`, p, i)})
		}
	}
	kafkatest.Produce(t, addr, topic, msgs)

	waitStatus("the other two unassigned with lag 10", func(running, unassigned map[int32]Status) bool {
		if len(running) != 2 || len(unassigned) != 2 {
			return false
		}
		for p, u := range unassigned {
			if _, owned := running[p]; owned || u.Lag != 10 || u.CommittedOffset != -1 || u.TableState != "running" {
				return false
			}
		}
		return true
	})
	running, unassigned := byState(m.Status())
	t.Logf("owned %v, unassigned %v", keys(running), keys(unassigned))
	// The warning comes from the supervisor's next tick (at most a second).
	for p := range unassigned {
		want := fmt.Sprintf("partition=%d", p)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if slices.ContainsFunc(strings.Split(log.String(), "\n"), func(l string) bool {
				return strings.Contains(l, "level=WARN") && strings.Contains(l, "read by nobody") && strings.Contains(l, want)
			}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no warning for unassigned partition %d in the log:\n%s", p, log.String())
			}
		}
	}

	closeOther() // leaves the group: the supervisor gets everything
	waitStatus("all four owned, none unassigned", func(running, unassigned map[int32]Status) bool {
		return len(running) == 4 && len(unassigned) == 0
	})
	waitRows(t, st, "ev", 40)
}

func keys(m map[int32]Status) []int32 {
	var ps []int32
	for p := range m {
		ps = append(ps, p)
	}
	return ps
}
