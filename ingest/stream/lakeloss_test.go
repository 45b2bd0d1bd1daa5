package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

// TestLakeOffsetBelowLogStart: a partition whose lake offset has fallen below
// the topic's log start (retention deleted records no process handed off) is
// data loss, and says so: the next owner resumes at the log start, logs an
// error, and strata_ingest_status counts the lost records. a ingests 100
// records of partition 0 and hands them off, then stops; 100 more are produced
// and the first 50 of those deleted (DeleteRecords); b, on a new data directory
// sharing the lake, holds the 100 from the lake and the 50 left, and reports 50
// lost.
func TestLakeOffsetBelowLogStart(t *testing.T) {
	const topic = "events"
	addr, _ := kafkatest.Start(t, topic, 1)
	lakeRoot := t.TempDir()
	opts := map[string]string{OptTopic: topic, OptBrokers: addr, OptPersistRows: "50", OptPersistEvery: "100ms",
		catalog.OptLakePath: filepath.Join(lakeRoot, "ev")}
	msgs := func(from, n int) []kafkatest.Message {
		var out []kafkatest.Message
		for i := from; i < from+n; i++ {
			out = append(out, kafkatest.Message{Value: fmt.Appendf(nil, `{"timestamp":"2026-11-20T10:00:%02d","user_id":"u%d","event":"view"}`, i%60, i)})
		}
		return out
	}
	open := func(logs *syncBuffer) (*store.Store, *Manager) {
		return startLakeTable(t, lakeRoot, opts, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	}
	ctx := context.Background()
	var logsA, logsB syncBuffer
	stA, ma := open(&logsA)
	kafkatest.Produce(t, addr, topic, msgs(0, 100))
	waitUntil(t, 30*time.Second, "a's 100 rows handed off", func() bool {
		if _, err := stA.Handoff(ctx, "ev", time.Now()); err != nil {
			t.Fatal(err)
		}
		offs, err := stA.LakeOffsets(ctx, "ev", []string{topic + "/0"})
		return err == nil && offs[topic+"/0"] == 100
	})
	ma.Close()
	if err := stA.Close(); err != nil {
		t.Fatal(err)
	}

	kafkatest.Produce(t, addr, topic, msgs(100, 100))
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 150
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil || resp.Topics[0].Partitions[0].LowWatermark != 150 {
		t.Fatalf("delete records: %v, low watermark %d", err, resp.Topics[0].Partitions[0].LowWatermark)
	}

	stB, mb := open(&logsB)
	defer stB.Close()
	defer mb.Close()
	waitRows(t, stB, "ev", 150)
	var lost int64 = -1
	waitUntil(t, 10*time.Second, "the status to count the lost records", func() bool {
		for _, s := range mb.Status() {
			if s.Partition == 0 {
				lost = s.LostRecords
			}
		}
		return lost == 50
	})
	if !strings.Contains(logsB.String(), "DATA LOSS") {
		t.Fatalf("b's log does not say DATA LOSS:\n%s", logsB.String())
	}
	time.Sleep(300 * time.Millisecond)
	if n := rowCount(t, stB, "ev"); n != 150 {
		t.Fatalf("b holds %d rows, want the 100 in the lake and the 50 Kafka still has", n)
	}

	// How far the lake trails the partition: b persisted up to 200, the lake
	// holds it below 100; after b's handoff, nothing.
	part0 := func() Status {
		for _, s := range mb.Status() {
			if s.Partition == 0 {
				return s
			}
		}
		t.Fatal("no status row for partition 0")
		return Status{}
	}
	waitUntil(t, 10*time.Second, "b to persist up to offset 200", func() bool { return part0().CommittedOffset == 200 })
	if s := part0(); s.LakeOffset != 100 || s.LakeLag != 100 || s.LakeLagSeconds <= 0 {
		t.Fatalf("before b's handoff: lake offset %d, lake lag %d records, %.3f s; want 100, 100, above 0", s.LakeOffset, s.LakeLag, s.LakeLagSeconds)
	}
	if _, err := stB.Handoff(ctx, "ev", time.Now()); err != nil {
		t.Fatal(err)
	}
	if s := part0(); s.LakeOffset != 200 || s.LakeLag != 0 || s.LakeLagSeconds != 0 {
		t.Fatalf("after b's handoff: lake offset %d, lake lag %d records, %.3f s; want 200, 0, 0", s.LakeOffset, s.LakeLag, s.LakeLagSeconds)
	}
	if n := rowCount(t, stB, "ev"); n != 150 {
		t.Fatalf("b holds %d rows after its handoff, want 150", n)
	}
}

// startLakeTable opens a store on a new data directory with lakeRoot as its
// lake root, creates table ev with opts and starts its ingestion by a Manager
// with mo. The caller closes both.
func startLakeTable(t *testing.T, lakeRoot string, opts map[string]string, mo Options) (*store.Store, *Manager) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{LakeRoots: []string{lakeRoot}})
	if err != nil {
		t.Fatal(err)
	}
	def, err := st.CreateTable(catalog.TableDef{Name: "ev", Schema: eventSchema, Granularity: time.Hour, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, mo)
	if err := m.Start(def); err != nil {
		t.Fatal(err)
	}
	return st, m
}

// TestRowsAndRejectsLakesApart: a table's rows and its rejects are handed off to
// two Delta tables (<lake_path> and <lake_path>/_rejects) in two commits, so a
// process can die between them. a ingests good and malformed records of two
// partitions and stops; of the two handoffs at its revocation (rejects first,
// then rows) one fails, so one lake holds the partitions further than the other.
// b, on a new data directory sharing the lake, resumes each partition at the
// lower of the two offsets and drops the rows, or the rejects, the other lake
// already holds: it ends with every good record once (per user, against the
// producer's counts) and every malformed one once in ev_rejects.
func TestRowsAndRejectsLakesApart(t *testing.T) {
	for _, failFirst := range []bool{false, true} {
		name := "rejects lake ahead"
		if failFirst {
			name = "rows lake ahead"
		}
		t.Run(name, func(t *testing.T) {
			const topic = "events"
			addr, _ := kafkatest.Start(t, topic, 2)
			lakeRoot := t.TempDir()
			opts := map[string]string{OptTopic: topic, OptBrokers: addr, OptPersistRows: "100", OptPersistEvery: "100ms",
				OptMaxRecordBytes: "1000000", catalog.OptLakePath: filepath.Join(lakeRoot, "ev")}
			open := func(knobs store.Knobs) (*store.Store, *Manager) {
				st, err := store.Open(t.TempDir(), store.Options{LakeRoots: []string{lakeRoot}, Knobs: knobs})
				if err != nil {
					t.Fatal(err)
				}
				def, err := st.CreateTable(catalog.TableDef{Name: "ev", Schema: eventSchema, Granularity: time.Hour, Options: opts})
				if err != nil {
					t.Fatal(err)
				}
				m := NewManager(st, Options{})
				if err := m.Start(def); err != nil {
					t.Fatal(err)
				}
				return st, m
			}
			// a's handoffs: the first at its revocation is the rejects', the
			// second the rows'; one of them fails after writing its files.
			var handoffs atomic.Int32
			armed := atomic.Bool{}
			stA, ma := open(store.Knobs{AfterLakeFiles: func() error {
				if !armed.Load() {
					return nil
				}
				if n := handoffs.Add(1); (n == 1) == failFirst {
					return errors.New("killed between the two lakes' commits")
				}
				return nil
			}})
			r := rand.New(rand.NewPCG(7, 8))
			start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
			first := makeWorkload(r, 1000, 2, start)
			kafkatest.Produce(t, addr, topic, first.msgs)
			waitRows(t, stA, "ev", first.good)
			waitRows(t, stA, "ev"+RejectsSuffix, first.bad)
			ctx := context.Background()
			for _, tb := range []string{"ev" + RejectsSuffix, "ev"} { // both lakes hold the first batch
				if _, err := stA.Handoff(ctx, tb, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			all := makeWorkload(r, 1000, 2, start.Add(time.Minute))
			kafkatest.Produce(t, addr, topic, all.msgs)
			all.add(first)
			waitRows(t, stA, "ev", all.good)
			waitRows(t, stA, "ev"+RejectsSuffix, all.bad)
			armed.Store(true)
			ma.Close()
			if n := handoffs.Load(); n != 2 {
				t.Fatalf("a's revocation made %d handoffs, want the rejects' and the rows'", n)
			}
			srcs := []string{topic + "/0", topic + "/1"}
			rowsLake, err := stA.LakeOffsets(ctx, "ev", srcs)
			if err != nil {
				t.Fatal(err)
			}
			rejLake, err := stA.LakeOffsets(ctx, "ev"+RejectsSuffix, srcs)
			if err != nil {
				t.Fatal(err)
			}
			for _, src := range srcs {
				if ahead := rowsLake[src] > rejLake[src]; ahead != failFirst || rowsLake[src] == rejLake[src] {
					t.Fatalf("%s: rows lake at %d, rejects lake at %d: not the divergence wanted", src, rowsLake[src], rejLake[src])
				}
			}
			stA.Close()

			stB, mb := open(store.Knobs{})
			defer stB.Close()
			defer mb.Close()
			waitRows(t, stB, "ev", all.good)
			waitRows(t, stB, "ev"+RejectsSuffix, all.bad)
			time.Sleep(300 * time.Millisecond) // a record read twice would show now
			checkPerUser(t, stB, all.perUser)
			if n := rowCount(t, stB, "ev"+RejectsSuffix); n != all.bad {
				t.Fatalf("b holds %d rejects, want %d", n, all.bad)
			}
		})
	}
}

// TestBackgroundOptimize: handoff by offset makes a small lake file per date and
// handoff; an owner compacts them in the background (OPTIMIZE,
// Options.OptimizeAtFiles) under the lake's OPTIMIZE lease, committed to the
// Delta log before it, and the table holds every row once throughout.
func TestBackgroundOptimize(t *testing.T) {
	const topic = "events"
	addr, _ := kafkatest.Start(t, topic, 1)
	lakeRoot := t.TempDir()
	st, err := store.Open(t.TempDir(), store.Options{LakeRoots: []string{lakeRoot}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	def, err := st.CreateTable(catalog.TableDef{Name: "ev", Schema: eventSchema, Granularity: time.Hour,
		Options: map[string]string{OptTopic: topic, OptBrokers: addr, OptPersistRows: "100", OptPersistEvery: "100ms",
			OptMaxRecordBytes: "1000000", catalog.OptLakePath: filepath.Join(lakeRoot, "ev")}})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, Options{OptimizeEvery: 50 * time.Millisecond, OptimizeAtFiles: 4})
	defer m.Close()
	if err := m.Start(def); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 10))
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	all := &workload{perUser: map[string]int{}}
	maxFiles := 0
	for i := range 6 {
		w := makeWorkload(r, 300, 1, start.Add(time.Duration(i)*time.Minute))
		kafkatest.Produce(t, addr, topic, w.msgs)
		all.add(w)
		waitRows(t, st, "ev", all.good)
		// A handoff takes persisted rows only: wait for the head to be persisted, so
		// that each round adds a file (a loaded machine persists late).
		waitUntil(t, 30*time.Second, "the head persisted", func() bool {
			rows, _ := st.HeadStats("ev")
			return rows == 0
		})
		if _, err := st.Handoff(ctx, "ev", time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, files, ok := st.LakeInfo("ev"); ok {
			maxFiles = max(maxFiles, files)
		}
		checkPerUser(t, st, all.perUser)
	}
	waitUntil(t, 30*time.Second, "a background OPTIMIZE in the Delta log", func() bool {
		h, err := st.LakeHistory(ctx, "ev", 0)
		if err != nil {
			t.Fatal(err)
		}
		lease := false
		for _, e := range h { // newest first
			if e.Operation == "OPTIMIZE" {
				lease = false
				for _, f := range h {
					if f.Version < e.Version && f.Operation == "STRATA OPTIMIZE LEASE" {
						lease = true
					}
				}
				if !lease {
					t.Fatalf("OPTIMIZE at version %d without a lease commit before it", e.Version)
				}
				return true
			}
		}
		return false
	})
	checkPerUser(t, st, all.perUser)
	if _, files, ok := st.LakeInfo("ev"); !ok || files >= 4 {
		t.Fatalf("after OPTIMIZE the lake has %d files (%v); at most %d before", files, ok, maxFiles)
	}
}
