package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/ingest/kafka"
	"github.com/stratadb/strata/ingest/kafka/kafkatest"
)

// testConfig is a Config that rebalances quickly.
func testConfig(addr, topic, group string) kafka.Config {
	cfg := kafka.Config{
		Brokers:           []string{addr},
		Topic:             topic,
		Group:             group,
		ClientID:          "strata-test",
		SessionTimeout:    3 * time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
		RebalanceTimeout:  10 * time.Second,
		LagRefresh:        50 * time.Millisecond,
	}
	if os.Getenv("KAFKA_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return cfg
}

// lake is where owners publish rows: the union of every owner's catalog, used
// to check that each record ends up published exactly once.
type lake struct {
	mu   sync.Mutex
	rows map[[2]int64]int // (partition, offset) → times published
	vals map[[2]int64]string
}

func newLake() *lake {
	return &lake{rows: make(map[[2]int64]int), vals: make(map[[2]int64]string)}
}

// owner models the per-table supervisor the lead will write: it holds the
// rows it was handed in a head, publishes them together with the next offset
// of their partitions in one atomic step of its own catalog, then (after the
// publish) commits the offsets as a group hint. At Revoked it publishes what
// it holds and hints the catalog offsets of every revoked partition; at Lost
// it forgets what it holds.
type owner struct {
	t            *testing.T
	name         string
	publishEvery int // publish every N held rows; 0: only at Revoked
	c            *kafka.Consumer
	lake         *lake

	mu        sync.Mutex
	catalog   map[int32]int64 // durable: next offset per partition
	head      map[int32][]kafka.Record
	owned     map[int32]bool
	last      map[int32]int64 // last offset delivered in the current assignment; -1 none
	first     map[int32]int64 // first offset delivered in the current assignment; -1 none
	delivered map[int32][]int64
	revoked   [][]int32
	calls     int // Records calls
	errs      []string
	failAt    int64 // Records returns an error when it sees this offset (-1 never)
}

func newOwner(t *testing.T, name string, l *lake) *owner {
	return &owner{
		t: t, name: name, lake: l, failAt: -1,
		catalog: make(map[int32]int64), head: make(map[int32][]kafka.Record),
		owned: make(map[int32]bool), last: make(map[int32]int64), first: make(map[int32]int64),
		delivered: make(map[int32][]int64),
	}
}

func (o *owner) errorf(format string, args ...any) {
	o.errs = append(o.errs, fmt.Sprintf(o.name+": "+format, args...))
}

func (o *owner) Assigned(_ context.Context, ps []int32) (map[int32]int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	stored := make(map[int32]int64)
	for _, p := range ps {
		if o.owned[p] {
			o.errorf("Assigned partition %d already owned", p)
		}
		o.owned[p] = true
		o.last[p], o.first[p] = -1, -1
		if off, ok := o.catalog[p]; ok {
			stored[p] = off
		}
	}
	return stored, nil
}

func (o *owner) Records(ctx context.Context, recs []kafka.Record) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	for _, r := range recs {
		p := r.Partition
		if !o.owned[p] {
			o.errorf("record %d/%d of a partition not owned", p, r.Offset)
			continue
		}
		if o.last[p] >= 0 && r.Offset != o.last[p]+1 {
			o.errorf("partition %d: offset %d after %d (skip, duplicate or disorder)", p, r.Offset, o.last[p])
		}
		if want := fmt.Sprintf("p%d-%d", p, r.Offset); string(r.Value) != want {
			o.errorf("partition %d offset %d: value %q, want %q", p, r.Offset, r.Value, want)
		}
		if o.first[p] < 0 {
			o.first[p] = r.Offset
		}
		o.last[p] = r.Offset
		o.delivered[p] = append(o.delivered[p], r.Offset)
		o.head[p] = append(o.head[p], r)
		if r.Offset == o.failAt {
			return fmt.Errorf("owner %s: injected failure at offset %d", o.name, r.Offset)
		}
	}
	held := 0
	for _, rows := range o.head {
		held += len(rows)
	}
	if o.publishEvery > 0 && held >= o.publishEvery {
		o.publishAndHintLocked(ctx, slices.Collect(maps.Keys(o.head)))
	}
	return nil
}

func (o *owner) Revoked(ctx context.Context, ps []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.revoked = append(o.revoked, slices.Clone(ps))
	for _, p := range ps {
		if !o.owned[p] {
			o.errorf("Revoked partition %d not owned", p)
		}
	}
	o.publishAndHintLocked(ctx, ps)
	// Hint every revoked partition's catalog offset, not only those just
	// published: an earlier hint may have failed (Records' ctx is cancelled at
	// shutdown), and the next owner would then re-read published rows.
	hint := make(map[int32]int64)
	for _, p := range ps {
		if off, ok := o.catalog[p]; ok {
			hint[p] = off
		}
	}
	if len(hint) > 0 && o.c != nil {
		if err := o.c.CommitHint(ctx, hint); err != nil {
			o.errorf("CommitHint at Revoked %v: %v", hint, err)
		}
	}
	for _, p := range ps {
		delete(o.owned, p)
	}
}

// publishAndHintLocked publishes the held rows of ps with their offsets in
// one step, then commits the published offsets as the group hint.
// REQUIRES: o.mu is held.
func (o *owner) publishAndHintLocked(ctx context.Context, ps []int32) {
	hint := make(map[int32]int64)
	o.lake.mu.Lock()
	for _, p := range ps {
		rows := o.head[p]
		if len(rows) == 0 {
			continue
		}
		for _, r := range rows {
			k := [2]int64{int64(p), r.Offset}
			o.lake.rows[k]++
			o.lake.vals[k] = string(r.Value)
		}
		o.catalog[p] = rows[len(rows)-1].Offset + 1
		hint[p] = o.catalog[p]
		delete(o.head, p)
	}
	o.lake.mu.Unlock()
	if len(hint) > 0 && o.c != nil {
		// A failed hint is repaired at Revoked; it is an error only if the
		// consumer is not shutting down.
		if err := o.c.CommitHint(ctx, hint); err != nil && ctx.Err() == nil {
			o.errorf("CommitHint %v: %v", hint, err)
		}
	}
}

// snapshot returns copies of the delivered offsets and owned partitions.
func (o *owner) snapshot() (delivered map[int32][]int64, owned []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delivered = make(map[int32][]int64)
	for p, offs := range o.delivered {
		delivered[p] = slices.Clone(offs)
	}
	for p := range o.owned {
		owned = append(owned, p)
	}
	slices.Sort(owned)
	return delivered, owned
}

func (o *owner) check() {
	o.t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.errs {
		o.t.Error(e)
	}
}

// run starts c.Run in a goroutine. stop cancels it and returns Run's error;
// done is closed when Run has returned, and then err() is its error. stop also
// runs at cleanup.
func run(t *testing.T, c *kafka.Consumer) (stop func() error, done <-chan struct{}, err func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	var runErr error
	go func() {
		defer close(ch)
		runErr = c.Run(ctx)
	}()
	stop = func() error {
		cancel()
		select {
		case <-ch:
			return runErr
		case <-time.After(60 * time.Second):
			t.Errorf("Run did not return after cancel")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return stop, ch, func() error { <-ch; return runErr }
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// produceRange writes the values "p<partition>-<offset>" for offsets
// [from, to) of every partition in ps, checking that Kafka assigned exactly
// those offsets.
func produceRange(t *testing.T, addr, topic string, ps []int32, from, to int64) {
	t.Helper()
	var msgs []kafkatest.Message
	for _, p := range ps {
		for off := from; off < to; off++ {
			msgs = append(msgs, kafkatest.Message{Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, off)})
		}
	}
	got := kafkatest.Produce(t, addr, topic, msgs)
	i := 0
	for _, p := range ps {
		for off := from; off < to; off++ {
			if got[i] != off {
				t.Fatalf("produce: partition %d: record written at %d, want %d", p, got[i], off)
			}
			i++
		}
	}
}

// seq returns [from, to).
func seq(from, to int64) []int64 {
	var s []int64
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}
