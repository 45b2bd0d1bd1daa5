package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
)

type collectHandler struct {
	mu    sync.Mutex
	offs  map[int32][]int64
	calls int
}

func (h *collectHandler) Assigned(context.Context, []int32) (map[int32]int64, error) { return nil, nil }
func (h *collectHandler) Revoked(context.Context, []int32)                           {}
func (h *collectHandler) Records(_ context.Context, recs []Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	for _, r := range recs {
		if want := fmt.Sprintf("p%d-%d", r.Partition, r.Offset); string(r.Value) != want {
			return fmt.Errorf("value %q at %d/%d", r.Value, r.Partition, r.Offset)
		}
		h.offs[r.Partition] = append(h.offs[r.Partition], r.Offset)
	}
	return nil
}

func produce(t *testing.T, addr string, from, to int) {
	t.Helper()
	var msgs []kafkatest.Message
	for p := range int32(2) {
		for off := from; off < to; off++ {
			msgs = append(msgs, kafkatest.Message{Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, off)})
		}
	}
	kafkatest.Produce(t, addr, "events", msgs)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A batch polled when Pause lands between the poll and its delivery is not
// delivered: the cursors are set back and the records come again after Resume.
// With the listings of adjustOffsets failing, franz-go resolves the log
// start/end itself and the first record fetched is the resume point; the
// result is the same.
func TestPauseAfterPollRewinds(t *testing.T) {
	for _, tc := range []struct {
		name       string
		listErr    error
		startAtEnd bool
		want       int // first offset delivered
	}{
		{"listed start", nil, false, 0},
		{"listed end", nil, true, 50},
		{"unlisted start", errors.New("injected listing failure"), false, 0},
		{"unlisted end", errors.New("injected listing failure"), true, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := kafkatest.Start(t, "events", 2)
			produce(t, addr, 0, 50)
			h := &collectHandler{offs: make(map[int32][]int64)}
			c, err := New(Config{Brokers: []string{addr}, Topic: "events", Group: "g",
				HeartbeatInterval: 100 * time.Millisecond, StartAtEnd: tc.startAtEnd}, h)
			if err != nil {
				t.Fatal(err)
			}
			c.testAdjustListErr = tc.listErr
			var withheld int // records polled and then withheld by the Pause
			c.testAfterPoll = func(f kgo.Fetches) {
				if withheld == 0 && f.NumRecords() > 0 {
					withheld = f.NumRecords()
					c.Pause()
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			var runErr error
			go func() { defer close(done); runErr = c.Run(ctx) }()
			defer func() { cancel(); <-done }()

			if tc.startAtEnd {
				waitUntil(t, "assignment", func() bool { return len(c.Assignment()) == 2 })
				time.Sleep(time.Second) // franz-go resolves the log end
				produce(t, addr, 50, 100)
			}
			waitUntil(t, "the first poll", c.Paused)
			time.Sleep(300 * time.Millisecond)
			h.mu.Lock()
			calls := h.calls
			h.mu.Unlock()
			if calls != 0 || withheld == 0 {
				t.Fatalf("paused right after the first poll (%d records): %d Records calls, want 0", withheld, calls)
			}
			c.Resume()
			if !tc.startAtEnd {
				produce(t, addr, 50, 100)
			}
			waitUntil(t, "records after Resume", func() bool {
				h.mu.Lock()
				defer h.mu.Unlock()
				return len(h.offs[0]) >= 100-tc.want && len(h.offs[1]) >= 100-tc.want
			})
			cancel()
			if <-done; runErr != nil {
				t.Fatal(runErr)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			var want []int64
			for i := tc.want; i < 100; i++ {
				want = append(want, int64(i))
			}
			for p := range int32(2) {
				if !slices.Equal(h.offs[p], want) {
					t.Errorf("partition %d: %v, want %d..99 once each", p, h.offs[p], tc.want)
				}
			}
		})
	}
}
