package stream

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/rollup"
	"github.com/stratadb/strata/storage/store"
)

var eventSchema = storage.Schema{TimeColumn: 0, Columns: []storage.Column{
	{Name: "timestamp", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
	{Name: "user_id", Type: storage.TypeString, SQLType: "text"},
	{Name: "event", Type: storage.TypeString, SQLType: "text"},
	{Name: "price", Type: storage.TypeFloat64, SQLType: "double precision"},
	{Name: "quantity", Type: storage.TypeInt64, SQLType: "integer"},
}}

// workload is what a test produced: messages and, independently, the rows that
// must arrive (per user) and the records that must be rejected.
type workload struct {
	msgs    []kafkatest.Message
	perUser map[string]int
	good    int
	bad     int
}

// makeWorkload builds n records over partitions; every 50th is malformed in one of
// several ways (bad JSON, a wrong type, empty, 1 MiB of garbage, no time).
func makeWorkload(r *rand.Rand, n int, partitions int32, start time.Time) *workload {
	w := &workload{perUser: map[string]int{}}
	bad := []func() []byte{
		func() []byte { return []byte(`{"user_id":"u1","event":`) },
		func() []byte { return []byte(`{"timestamp":"2026-11-20T10:00:00","user_id":"u1","quantity":"many"}`) },
		func() []byte { return []byte{} },
		func() []byte {
			b := make([]byte, 900_000) // ~1 MiB: just under the broker's message limit
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			return b
		},
		func() []byte { return []byte(`{"user_id":"u2","event":"view"}`) },
	}
	for i := 0; i < n; i++ {
		p := int32(r.IntN(int(partitions)))
		var v []byte
		if i%50 == 49 {
			v = bad[(i/50)%len(bad)]()
			w.bad++
		} else {
			user := fmt.Sprintf("u%d", r.IntN(40))
			ts := start.Add(time.Duration(i) * 10 * time.Millisecond)
			v = fmt.Appendf(nil, `{"user_id":%q,"event":"view","timestamp":%q,"price":%d.5,"quantity":%d}`,
				user, ts.UTC().Format("2006-01-02T15:04:05.000"), r.IntN(100), r.IntN(5))
			w.perUser[user]++
			w.good++
		}
		w.msgs = append(w.msgs, kafkatest.Message{Partition: p, Value: v})
	}
	return w
}

func (w *workload) add(o *workload) {
	w.msgs = append(w.msgs, o.msgs...)
	for u, n := range o.perUser {
		w.perUser[u] += n
	}
	w.good += o.good
	w.bad += o.bad
}

// perUser counts a table's rows by user_id through the Source contract.
func perUser(t *testing.T, st *store.Store, table string) (map[string]int, int) {
	t.Helper()
	sn, err := st.Snapshot(table)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	out := map[string]int{}
	total := 0
	for _, src := range sn.Sources {
		if err := storage.Load(context.Background(), src); err != nil { // a lake file
			t.Fatal(err)
		}
		n := src.NumRows()
		total += n
		ids, err := src.ReadDictIDs(1, 0, n, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := src.Dict(1)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			out[d.Value(id)]++
		}
	}
	return out, total
}

func rowCount(t *testing.T, st *store.Store, table string) int {
	_, n := perUser(t, st, table)
	return n
}

func waitRows(t *testing.T, st *store.Store, table string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := rowCount(t, st, table)
		if n == want {
			return
		}
		if n > want {
			t.Fatalf("%s: %d rows, more than the %d produced", table, n, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d rows after 30 s, want %d", table, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIngestExactlyOnceAcrossRestart produces good and malformed records to a real
// Kafka-protocol broker, checks every good row arrives exactly once (per user, against
// the producer's own counts) and every bad one lands in <table>_rejects with a
// reason, then stops and reopens the store (heads are memory only) and produces more:
// consumption resumes from the catalog's offsets with nothing lost or counted twice.
func TestIngestExactlyOnceAcrossRestart(t *testing.T) {
	const topic = "events"
	addr, _ := kafkatest.Start(t, topic, 4)
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	def, err := st.CreateTable(catalog.TableDef{Name: "ev", Schema: eventSchema, Granularity: time.Hour,
		Options: map[string]string{OptTopic: topic, OptBrokers: addr, OptPersistRows: "700", OptPersistEvery: "300ms", OptMaxRecordBytes: "100000"}})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, Options{})
	if err := m.Start(def); err != nil {
		t.Fatal(err)
	}
	all := makeWorkload(r, 3000, 4, start)
	kafkatest.Produce(t, addr, topic, all.msgs)
	waitRows(t, st, "ev", all.good)
	waitRows(t, st, "ev"+RejectsSuffix, all.bad)
	checkPerUser(t, st, all.perUser)
	checkRejectReasons(t, st)

	m.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n := rowCount(t, st, "ev"); n != all.good {
		t.Fatalf("after a clean stop and reopen: %d rows persisted, want %d", n, all.good)
	}
	m = NewManager(st, Options{})
	defer m.Close()
	if err := m.StartAll(); err != nil {
		t.Fatal(err)
	}
	more := makeWorkload(r, 2000, 4, start.Add(time.Hour))
	kafkatest.Produce(t, addr, topic, more.msgs)
	all.add(more)
	waitRows(t, st, "ev", all.good)
	waitRows(t, st, "ev"+RejectsSuffix, all.bad)
	checkPerUser(t, st, all.perUser)
	// Give a wrong re-read time to show up.
	time.Sleep(500 * time.Millisecond)
	if n := rowCount(t, st, "ev"); n != all.good {
		t.Fatalf("%d rows, want %d", n, all.good)
	}
	status := m.Status()
	if len(status) != 4 {
		t.Fatalf("status has %d rows, want one per partition (4): %+v", len(status), status)
	}
}

func checkPerUser(t *testing.T, st *store.Store, want map[string]int) {
	t.Helper()
	got, _ := perUser(t, st, "ev")
	if !maps.Equal(got, want) {
		t.Fatalf("per-user counts differ:\n got %v\nwant %v", got, want)
	}
}

// checkRejectReasons reads the rejects table's reasons: each names its problem.
func checkRejectReasons(t *testing.T, st *store.Store) {
	t.Helper()
	sn, err := st.Snapshot("ev" + RejectsSuffix)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	seen := map[string]bool{}
	for _, src := range sn.Sources {
		d, err := src.Dict(5)
		if err != nil {
			t.Fatal(err)
		}
		for id := 0; id < d.Len(); id++ {
			seen[d.Value(uint32(id))] = true
		}
	}
	for _, want := range []string{"empty record", "exceeds the limit", "invalid input syntax for type integer", "timestamp"} {
		found := false
		for reason := range seen {
			if strings.Contains(reason, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no reject reason mentions %q; reasons: %v", want, seen)
		}
	}
}

// TestPauseResume pauses a table's ingestion: produced records do not arrive until
// it resumes, then all of them do, once.
func TestPauseResume(t *testing.T) {
	const topic = "events"
	addr, _ := kafkatest.Start(t, topic, 2)
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	def, err := st.CreateTable(catalog.TableDef{Name: "ev", Schema: eventSchema, Granularity: time.Hour,
		Options: map[string]string{OptTopic: topic, OptBrokers: addr}})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, Options{})
	defer m.Close()
	if err := m.Start(def); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	w := makeWorkload(r, 400, 2, start)
	kafkatest.Produce(t, addr, topic, w.msgs)
	waitRows(t, st, "ev", w.good)

	if err := m.Pause("ev"); err != nil {
		t.Fatal(err)
	}
	more := makeWorkload(r, 400, 2, start.Add(time.Hour))
	kafkatest.Produce(t, addr, topic, more.msgs)
	time.Sleep(time.Second)
	if n := rowCount(t, st, "ev"); n != w.good {
		t.Fatalf("paused, yet %d rows arrived (had %d)", n, w.good)
	}
	if s := m.Status(); len(s) == 0 || s[0].State != "paused" {
		t.Fatalf("status while paused: %+v", s)
	}
	if err := m.Resume("ev"); err != nil {
		t.Fatal(err)
	}
	w.add(more)
	waitRows(t, st, "ev", w.good)
	checkPerUser(t, st, w.perUser)
	if err := m.Pause("nope"); err == nil {
		t.Fatal("pausing a table without ingestion succeeded")
	}
}

// TestRollupFromKafka feeds a rollup table from Kafka: the stored rows are fewer
// than the records, and their __rows add up to exactly the records decoded.
func TestRollupFromKafka(t *testing.T) {
	const topic = "events"
	addr, _ := kafkatest.Start(t, topic, 2)
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	def := catalog.TableDef{Name: "ev", Schema: eventSchema, Granularity: time.Hour,
		Options: map[string]string{OptTopic: topic, OptBrokers: addr, rollup.Option: "1 minute", OptPersistEvery: "200ms"}}
	phys, err := rollup.SchemaFor(def)
	if err != nil {
		t.Fatal(err)
	}
	def.Schema = phys
	if def, err = st.CreateTable(def); err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, Options{})
	defer m.Close()
	if err := m.Start(def); err != nil {
		t.Fatal(err)
	}
	w := makeWorkload(rand.New(rand.NewPCG(9, 9)), 3000, 2, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	kafkatest.Produce(t, addr, topic, w.msgs)
	rowsCol := phys.Index("__rows")
	deadline := time.Now().Add(30 * time.Second)
	for {
		sn, err := st.Snapshot("ev")
		if err != nil {
			t.Fatal(err)
		}
		var raw int64
		stored := 0
		for _, src := range sn.Sources {
			vals, err := src.ReadInt64(rowsCol, 0, src.NumRows(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				raw += v
			}
			stored += src.NumRows()
		}
		sn.Release()
		if raw == int64(w.good) {
			if stored >= w.good {
				t.Fatalf("%d stored rows for %d records: nothing rolled up", stored, w.good)
			}
			return
		}
		if raw > int64(w.good) || time.Now().After(deadline) {
			t.Fatalf("rolled-up rows count %d raw rows, want %d", raw, w.good)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHeadMemoryBound: with persist_rows and persist_interval out of reach, a head
// that grows past Options.HeadBytes is persisted early, so it stays bounded while
// every row still arrives exactly once.
func TestHeadMemoryBound(t *testing.T) {
	const topic = "events"
	addr, _ := kafkatest.Start(t, topic, 2)
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	def, err := st.CreateTable(catalog.TableDef{Name: "ev", Schema: eventSchema, Granularity: 24 * time.Hour,
		Options: map[string]string{OptTopic: topic, OptBrokers: addr, OptPersistRows: "100000000", OptPersistEvery: "1h"}})
	if err != nil {
		t.Fatal(err)
	}
	const limit = 32 << 10
	m := NewManager(st, Options{HeadBytes: limit})
	defer m.Close()
	if err := m.Start(def); err != nil {
		t.Fatal(err)
	}
	w := makeWorkload(rand.New(rand.NewPCG(4, 4)), 5000, 2, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	kafkatest.Produce(t, addr, topic, w.msgs)
	waitRows(t, st, "ev", w.good)
	checkPerUser(t, st, w.perUser)
	if segs := len(st.Catalog().Segments("ev")); segs == 0 {
		t.Fatalf("no segment persisted although the head outgrew %d bytes", limit)
	}
	// Persisting happens once the head passes the limit, and appends past twice the
	// limit wait for it: the head never holds much more than that.
	if _, bytes := st.HeadStats("ev"); bytes > 4*limit {
		t.Fatalf("head holds %d bytes, limit %d", bytes, limit)
	}
}

// TestStartAllReportsFailures: a table whose ingestion cannot start (no brokers
// anywhere) is reported in Status as failed with the reason; the others start.
func TestStartAllReportsFailures(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateTable(catalog.TableDef{Name: "ev", Schema: eventSchema, Granularity: time.Hour,
		Options: map[string]string{OptTopic: "events"}}); err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, Options{})
	defer m.Close()
	if err := m.StartAll(); err == nil {
		t.Fatal("StartAll without brokers succeeded")
	}
	s := m.Status()
	if len(s) != 1 || s[0].State != "failed" || !strings.Contains(s[0].LastError, OptBrokers) {
		t.Fatalf("status: %+v", s)
	}
}
