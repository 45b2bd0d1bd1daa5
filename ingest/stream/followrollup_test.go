package stream

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/rollup"
	"github.com/stratadb/strata/storage/store"
)

// rollupSums reads a rollup table of eventSchema's columns on st: the raw
// records its rows stand for (sum of __rows) and the sums of quantity and
// price.
func rollupSums(t *testing.T, st *store.Store, phys *storage.Schema) (records, quantity int64, price float64, lakeVersion int64) {
	t.Helper()
	sn, err := st.Snapshot("ev")
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	for _, src := range sn.Sources {
		if err := storage.Load(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			col int
			sum *int64
		}{{phys.Index(rollup.RowsColumn), &records}, {phys.Index("quantity"), &quantity}} {
			vals, err := src.ReadInt64(c.col, 0, src.NumRows(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				*c.sum += v
			}
		}
		vals, err := src.ReadFloat64(phys.Index("price"), 0, src.NumRows(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			price += v
		}
	}
	return records, quantity, price, sn.LakeVersion
}

// TestFollowRollupTable: a rollup table is followed too, and its follower
// keeps the snapshot rule. One partition; record i has quantity = i and
// price = i*i (exact in a float64 sum at these sizes). a
// owns the partition, rolls records up and hands off every 50 ms while 3,000
// records are produced in rounds; b follows it (FollowOnly) and checks its
// snapshots over and over: they must stand for exactly the records [0, R) for
// an R that never goes back (sum of __rows = R, sum(quantity) = R(R-1)/2,
// sum(price) = (R-1)R(2R-1)/6: a record missed or counted twice, at the cut between the
// lake and the follower rows, breaks one of them). Before a's first handoff b
// shows a's rows through following alone; at the end, all 3,000.
func TestFollowRollupTable(t *testing.T) {
	const topic = "events"
	const rounds, per = 10, 300
	addr, _ := kafkatest.Start(t, topic, 1)
	lakeRoot := t.TempDir()
	def := catalog.TableDef{Name: "ev", Schema: eventSchema, Granularity: time.Hour, Options: map[string]string{
		OptTopic: topic, OptBrokers: addr, OptPersistEvery: "50ms", rollup.Option: "1 minute",
		catalog.OptLakePath: filepath.Join(lakeRoot, "ev"), catalog.OptLakeRefresh: "5ms"}}
	phys, err := rollup.SchemaFor(def)
	if err != nil {
		t.Fatal(err)
	}
	def.Schema = phys
	open := func(mo Options) *store.Store {
		st, err := store.Open(t.TempDir(), store.Options{LakeRoots: []string{lakeRoot}})
		if err != nil {
			t.Fatal(err)
		}
		d, err := st.CreateTable(def)
		if err != nil {
			t.Fatal(err)
		}
		mo.Logger = slog.New(slog.DiscardHandler)
		m := NewManager(st, mo)
		if err := m.Start(d); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			m.Close()
			st.Close()
		})
		return st
	}
	stA := open(Options{})
	stB := open(Options{FollowOnly: true})
	produce := func(from int) {
		msgs := make([]kafkatest.Message, per)
		for k := range msgs {
			i := from + k
			msgs[k].Value = fmt.Appendf(nil, `{"timestamp":"2026-11-20T10:%02d:%02d","user_id":"u%d","event":"view","quantity":%d,"price":%d}`,
				i/600, i/10%60, i%3, i, i*i)
		}
		kafkatest.Produce(t, addr, topic, msgs)
	}
	exact := func(r, n int64, sq float64) bool {
		return n == r*(r-1)/2 && sq == float64((r-1)*r*(2*r-1)/6)
	}

	// Followed before any handoff: b's rows come from following alone.
	produce(0)
	waitUntil(t, 30*time.Second, "b to show a's first round by following", func() bool {
		r, n, sq, _ := rollupSums(t, stB, &phys)
		if r > per || !exact(r, n, sq) {
			t.Fatalf("b before any handoff: %d records, sum(quantity) %d, sum(price) %.0f: not [0, %d) exactly once", r, n, sq, r)
		}
		return r == per
	})

	ctx := context.Background()
	handing, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	var handoffs int
	go func() {
		defer wg.Done()
		for handing.Err() == nil {
			if _, err := stA.Handoff(ctx, "ev", time.Now()); err != nil {
				t.Error(err)
				return
			}
			handoffs++
			time.Sleep(50 * time.Millisecond)
		}
	}()
	var last int64
	checks, versions := 0, map[int64]bool{}
	check := func() int64 {
		r, n, sq, v := rollupSums(t, stB, &phys)
		if !exact(r, n, sq) {
			t.Fatalf("b at lake version %d: %d records, sum(quantity) %d, sum(price) %.0f: not [0, %d) exactly once", v, r, n, sq, r)
		}
		if r < last {
			t.Fatalf("b went back from %d records to %d", last, r)
		}
		last = r
		checks++
		versions[v] = true
		return r
	}
	for k := 1; k < rounds; k++ {
		produce(k * per)
		for range 20 {
			check()
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitUntil(t, 30*time.Second, "b to show every record", func() bool { return check() == rounds*per })
	stop()
	wg.Wait()
	if _, err := stA.Handoff(ctx, "ev", time.Now()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the lake to hold every record", func() bool {
		offs, err := stA.LakeOffsets(ctx, "ev", []string{topic + "/0"})
		return err == nil && offs[topic+"/0"] == rounds*per
	})
	waitUntil(t, 10*time.Second, "b to read the lake version holding every record", func() bool {
		o, ok := stB.SnapshotLakeOffset("ev", topic+"/0")
		return ok && o == rounds*per && check() == rounds*per
	})
	t.Logf("%d checks of b over %d lake versions, %d handoffs by a", checks, len(versions), handoffs)
	if len(versions) < 3 {
		t.Fatalf("b's checks saw %d lake versions; the cut between lake and follower rows was hardly tried", len(versions))
	}
}
