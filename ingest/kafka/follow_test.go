package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/ingest/kafka"
	"github.com/stratadb/strata/ingest/kafka/kafkatest"
)

// followLog records what a Follower delivers.
type followLog struct {
	mu     sync.Mutex
	recs   map[int32][]int64 // offsets delivered since the partition's last Reset
	values map[int32][]string
	resets [][]int32
}

func (l *followLog) Reset(ps []int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.resets = append(l.resets, slices.Clone(ps))
	for _, p := range ps {
		delete(l.recs, p)
		delete(l.values, p)
	}
}

func (l *followLog) Records(_ context.Context, recs []kafka.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.recs[r.Partition] = append(l.recs[r.Partition], r.Offset)
		l.values[r.Partition] = append(l.values[r.Partition], string(r.Value))
	}
	return nil
}

func (l *followLog) offsets(p int32) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recs[p])
}

// waitOffsets waits until partition p's deliveries since its last Reset are want.
func waitOffsets(t *testing.T, l *followLog, p int32, want []int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(l.offsets(p), want) {
		if time.Now().After(deadline) {
			t.Fatalf("partition %d: delivered %v, want %v", p, l.offsets(p), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func offsetRange(from, to int64) []int64 {
	var out []int64
	for o := from; o < to; o++ {
		out = append(out, o)
	}
	return out
}

// TestFollower: a Follower reads the partitions it is told to from the offset
// given, in order, without joining any group; Follow again restarts a
// partition at a new offset (after a Reset, nothing of the old run delivered
// after it), and Unfollow stops it.
func TestFollower(t *testing.T) {
	addr, _ := kafkatest.Start(t, "events", 3)
	vals := func(p, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("p%d-%d", p, i)
		}
		return out
	}
	kafkatest.ProduceValues(t, addr, "events", 0, vals(0, 20)...)
	kafkatest.ProduceValues(t, addr, "events", 1, vals(1, 10)...)
	l := &followLog{recs: map[int32][]int64{}, values: map[int32][]string{}}
	f, err := kafka.NewFollower(kafka.Config{Brokers: []string{addr}, Topic: "events", LagRefresh: 50 * time.Millisecond}, l)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps, err := f.Partitions(ctx)
		if err == nil && slices.Equal(ps, []int32{0, 1, 2}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions %v, %v", ps, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	f.Follow(map[int32]int64{0: 5, 1: 0})
	waitOffsets(t, l, 0, offsetRange(5, 20))
	waitOffsets(t, l, 1, offsetRange(0, 10))
	if got := l.values[0][0]; got != "p0-5" {
		t.Fatalf("first value of partition 0: %q, want p0-5", got)
	}
	kafkatest.ProduceValues(t, addr, "events", 0, vals(0, 5)...)
	waitOffsets(t, l, 0, offsetRange(5, 25))
	deadline = time.Now().Add(10 * time.Second)
	for f.Positions()[0].Lag != 0 || f.Positions()[0].Next != 25 {
		if time.Now().After(deadline) {
			t.Fatalf("position of partition 0: %+v, want next 25, lag 0", f.Positions()[0])
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Unfollow 1: what is produced to it later is not delivered.
	f.Unfollow([]int32{1})
	kafkatest.ProduceValues(t, addr, "events", 1, vals(1, 5)...)
	kafkatest.ProduceValues(t, addr, "events", 0, vals(0, 1)...)
	waitOffsets(t, l, 0, offsetRange(5, 26))
	time.Sleep(200 * time.Millisecond)
	if got := l.offsets(1); got != nil {
		t.Fatalf("partition 1 after Unfollow: %v delivered since its Reset", got)
	}
	if !slices.Equal(f.Followed(), []int32{0}) {
		t.Fatalf("followed %v, want [0]", f.Followed())
	}

	// Follow 0 again from 2: a Reset, then 2.. in order, no duplicates.
	f.Follow(map[int32]int64{0: 2, 1: 12})
	waitOffsets(t, l, 0, offsetRange(2, 26))
	waitOffsets(t, l, 1, offsetRange(12, 15))
	l.mu.Lock()
	resets := slices.Clone(l.resets)
	l.mu.Unlock()
	if !slices.ContainsFunc(resets, func(ps []int32) bool { return slices.Equal(ps, []int32{0, 1}) }) {
		t.Fatalf("resets %v: none for the restart of partitions 0 and 1", resets)
	}
}
