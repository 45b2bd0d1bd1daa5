package stream

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

// TestFollowerMemoryLimit: a follower's heads are bounded by
// Options.FollowBytes. a owns both partitions and hands off only when told; b
// follows them (FollowOnly) with a limit of 64 KiB. 200 records of partition 1
// fit; 5,000 of partition 0 do not: b lets partition 0 go (state
// 'memory-limit', an error in the log), its follower heads stay within the
// limit, and its count is the lake's (nothing yet) plus partition 1's 200,
// never more than produced. Once a hands off, b follows partition 0 again from
// the lake's offset and shows every row once, and rows produced after that.
func TestFollowerMemoryLimit(t *testing.T) {
	const topic = "events"
	const limit = 64 << 10
	addr, _ := kafkatest.Start(t, topic, 2)
	lakeRoot := t.TempDir()
	opts := map[string]string{OptTopic: topic, OptBrokers: addr, OptPersistEvery: "100ms",
		catalog.OptLakePath: filepath.Join(lakeRoot, "ev")}
	msgs := func(p int32, from, n int) []kafkatest.Message {
		var out []kafkatest.Message
		for i := from; i < from+n; i++ {
			out = append(out, kafkatest.Message{Partition: p, Value: fmt.Appendf(nil,
				`{"timestamp":"2026-11-20T10:%02d:%02d","user_id":"user-%d-%d","event":"view"}`, i/60%60, i%60, p, i)})
		}
		return out
	}
	open := func(logs *syncBuffer, mo Options) (*store.Store, *Manager) {
		mo.Logger = slog.New(slog.NewTextHandler(logs, nil))
		st, m := startLakeTable(t, lakeRoot, opts, mo)
		t.Cleanup(func() {
			m.Close()
			st.Close()
		})
		return st, m
	}
	var logsA, logsB syncBuffer
	stA, _ := open(&logsA, Options{})
	stB, mb := open(&logsB, Options{FollowOnly: true, FollowBytes: limit})
	part := func(p int32) (Status, bool) {
		for _, s := range mb.Status() {
			if s.Partition == p {
				return s, true
			}
		}
		return Status{}, false
	}
	held := func() int64 {
		_, a := stB.FollowStats("ev")
		_, b := stB.FollowStats("ev" + RejectsSuffix)
		return a + b
	}

	kafkatest.Produce(t, addr, topic, msgs(1, 0, 200))
	waitRows(t, stA, "ev", 200)
	waitRows(t, stB, "ev", 200)
	kafkatest.Produce(t, addr, topic, msgs(0, 0, 5000))
	waitRows(t, stA, "ev", 5200)
	waitUntil(t, 30*time.Second, "b to let partition 0 go at its memory limit", func() bool {
		s, ok := part(0)
		return ok && s.State == "memory-limit"
	})
	if s, _ := part(0); s.Role != "follower" || !strings.Contains(s.LastError, "memory limit") || s.ReadOffset <= 0 {
		t.Fatalf("partition 0 on b: %+v; want role follower, the offset read to, and why", s)
	}
	if s, _ := part(1); s.State != "running" || s.Role != "follower" {
		t.Fatalf("partition 1 on b: %+v; want followed, running", s)
	}
	if !strings.Contains(logsB.String(), "FOLLOWER MEMORY LIMIT") {
		t.Fatalf("b's log does not say FOLLOWER MEMORY LIMIT:\n%s", logsB.String())
	}
	// Partition 0's rows are still produced into nothing b holds: its heads
	// stay within the limit, and it shows partition 1 and the (empty) lake.
	time.Sleep(500 * time.Millisecond)
	if n := held(); n > limit {
		t.Fatalf("b's follower heads hold %d bytes, past the %d limit", n, limit)
	}
	if n := rowCount(t, stB, "ev"); n != 200 {
		t.Fatalf("b shows %d rows with partition 0 let go and an empty lake; want partition 1's 200", n)
	}

	// a hands off: the lake passes where b let go, and b follows partition 0
	// again from the lake's offset.
	ctx := context.Background()
	waitUntil(t, 30*time.Second, "a's 5,200 rows handed off", func() bool {
		if _, err := stA.Handoff(ctx, "ev", time.Now()); err != nil {
			t.Fatal(err)
		}
		offs, err := stA.LakeOffsets(ctx, "ev", []string{topic + "/0", topic + "/1"})
		return err == nil && offs[topic+"/0"] == 5000 && offs[topic+"/1"] == 200
	})
	waitRows(t, stB, "ev", 5200)
	waitUntil(t, 30*time.Second, "b to follow partition 0 again", func() bool {
		s, ok := part(0)
		return ok && s.State == "running" && s.Role == "follower"
	})
	kafkatest.Produce(t, addr, topic, msgs(0, 5000, 100))
	waitRows(t, stA, "ev", 5300)
	waitRows(t, stB, "ev", 5300)
	if n := held(); n > limit {
		t.Fatalf("b's follower heads hold %d bytes after following again, past the %d limit", n, limit)
	}
}
