package realtime

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestPrefixWhileAppending takes Snapshots and reads every method of every View while
// a goroutine appends: each Snapshot must hold exactly the batches whose Append
// returned before it (a whole batch or none), and each View must keep answering for
// its prefix after later appends. Run with -race.
func TestPrefixWhileAppending(t *testing.T) {
	schema := testSchema()
	rng := rand.New(rand.NewPCG(11, 12))
	const batches = 60
	batch := make([][]row, batches)
	for b := range batch {
		// Mostly in order, sometimes spilling into the next chunk or back into the
		// previous one; high-cardinality users keep adding dictionary values.
		batch[b] = genRows(rng, genOpts{n: 1 + rng.IntN(150), base: t0 + int64(b)*hour/20 - hour/10, spread: hour / 4, nullProb: 0.2})
	}
	later := map[int][]string{} // every string value of any batch, for Lookup checks
	for _, rows := range batch {
		for _, r := range rows {
			for _, ci := range []int{0, 6, 7} {
				if !r[ci].null {
					later[ci] = append(later[ci], r[ci].s)
				}
			}
		}
	}

	h := NewHead(schema, hour)
	var done atomic.Int64 // batches whose Append returned
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, rows := range batch {
			if err := h.Append(toColumns(schema, rows)); err != nil {
				t.Error(err)
				return
			}
			done.Add(1)
		}
	}()

	type taken struct {
		views []*View
		want  []mpart
	}
	var kept []taken
	overlapping := 0
	modelOf := func(k int) *model {
		m := newModel(hour)
		for _, rows := range batch[:k] {
			m.append(rows, schema.TimeColumn)
		}
		return m
	}
	iter := 0
	for ; ; iter++ {
		before := int(done.Load())
		views := h.Snapshot()
		after := int(done.Load())
		total := 0
		for _, v := range views {
			total += v.NumRows()
		}
		// Find the prefix of batches the snapshot holds: every batch whose Append
		// returned before the Snapshot, and maybe the one in flight after those that
		// returned before the Snapshot did (it may be published but not yet counted).
		k, sum := before, 0
		for _, rows := range batch[:before] {
			sum += len(rows)
		}
		for sum < total && k < min(after+1, batches) {
			sum += len(batch[k])
			k++
		}
		if sum != total {
			t.Fatalf("snapshot holds %d rows: not a prefix of whole batches between %d and %d+1 done", total, before, after)
		}
		want := modelOf(k).snapshot()
		for i, v := range views {
			checkSource(t, v, schema, want[i].rows, later)
		}
		checkSnapshot(t, schema, views, want, hour)
		if after < batches {
			overlapping++
		}
		if iter%3 == 0 {
			kept = append(kept, taken{views, want})
		}
		if before == batches {
			break
		}
	}
	wg.Wait()
	t.Logf("%d of %d snapshots overlapped the appender", overlapping, iter+1)
	for _, k := range kept {
		checkSnapshot(t, schema, k.views, k.want, hour)
	}
}

// TestFreezeWhileAppending freezes and drops while a goroutine appends: every row ends
// up in exactly one Frozen or in the final Snapshot, in arrival order per chunk.
func TestFreezeWhileAppending(t *testing.T) {
	schema := testSchema()
	rng := rand.New(rand.NewPCG(13, 14))
	const batches = 80
	batch := make([][]row, batches)
	for b := range batch {
		batch[b] = genRows(rng, genOpts{n: 1 + rng.IntN(100), base: t0 + int64(b)*hour/20, spread: hour / 3, nullProb: 0.2})
	}
	h := NewHead(schema, hour)
	var wg sync.WaitGroup
	var finished atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer finished.Store(true)
		for _, rows := range batch {
			if err := h.Append(toColumns(schema, rows)); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	got := map[int64][]row{} // per chunk: frozen rows, in Freeze order
	freezes := 0
	for !finished.Load() {
		f := h.Freeze()
		freezes++
		for _, c := range f.Chunks {
			got[c.Start] = append(got[c.Start], fromColumns(c.Cols)...)
		}
		// Until Drop, a Snapshot still holds the frozen rows.
		seen := 0
		for _, v := range h.Snapshot() {
			seen += v.NumRows()
		}
		if seen < f.Rows {
			t.Fatalf("Snapshot before Drop holds %d rows, %d are frozen", seen, f.Rows)
		}
		h.Drop(f)
	}
	wg.Wait()
	for _, v := range h.Snapshot() {
		got[v.ChunkStart()] = append(got[v.ChunkStart()], readRows(t, v, schema)...)
	}

	m := newModel(hour)
	for _, rows := range batch {
		m.append(rows, schema.TimeColumn)
	}
	want := map[int64][]row{}
	for _, p := range m.snapshot() {
		want[p.start] = append(want[p.start], p.rows...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d chunks, want %d", len(got), len(want))
	}
	for s, rows := range want {
		if !rowsEqual(got[s], rows) {
			t.Fatalf("chunk %d: %d rows frozen or left, want %d appended, in order", s, len(got[s]), len(rows))
		}
	}
	t.Logf("%d Freezes overlapped %d appends", freezes, batches)
}

// TestSharedViewReaders has several goroutines read the same Views, clone and combine
// the bitmaps they return (as the engine does) while a goroutine appends to the same
// parts. Run with -race: it checks that the copy-on-write sharing between a View's
// bitmaps and the part's stays read-only for readers.
func TestSharedViewReaders(t *testing.T) {
	schema := testSchema()
	rng := rand.New(rand.NewPCG(15, 16))
	h := NewHead(schema, hour)
	first := genRows(rng, genOpts{n: 3000, base: t0, spread: hour / 2, nullProb: 0.2})
	if err := h.Append(toColumns(schema, first)); err != nil {
		t.Fatal(err)
	}
	views := h.Snapshot()
	more := make([][]row, 40)
	for i := range more {
		more[i] = genRows(rng, genOpts{n: 200, base: t0 + hour/2, spread: hour / 2, nullProb: 0.2})
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, rows := range more {
			if err := h.Append(toColumns(schema, rows)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	// Expected per region value, by a plain loop over the first batch.
	wantRegion := map[string]uint64{}
	for _, r := range first {
		wantRegion[r[5].s]++
	}
	// Every reader first takes the bitmaps (View methods lock, which orders the
	// readers), then all combine them at once after one barrier, so the race detector
	// sees their accesses to shared containers and flags as unordered.
	const readers = 4
	var fetched sync.WaitGroup
	fetched.Add(readers)
	start := make(chan struct{})
	for g := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []*roaring.Bitmap
			var want []uint64
			for _, v := range views {
				d, err := v.Dict(5)
				if err != nil {
					t.Error(err)
					fetched.Done()
					return
				}
				for s, n := range wantRegion {
					id, ok := d.Lookup(s)
					if !ok {
						t.Errorf("Lookup(%q) failed", s)
						fetched.Done()
						return
					}
					bm, _ := v.Bitmap(5, id)
					held, want = append(held, bm), append(want, n)
				}
				if nulls, _ := v.Nulls(0); nulls != nil {
					held, want = append(held, nulls), append(want, nulls.GetCardinality())
				}
			}
			fetched.Done()
			<-start
			for iter := range 30 {
				for i, bm := range held {
					c := bm.Clone()
					c.Or(held[(i+1)%len(held)])
					c.AndNot(held[(i+1)%len(held)])
					if bm.GetCardinality() != want[i] || c.GetCardinality() > want[i] {
						t.Errorf("reader %d iter %d: bitmap %d has %d rows, want %d", g, iter, i, bm.GetCardinality(), want[i])
						return
					}
				}
				if all := roaring.FastOr(held...).GetCardinality(); all != uint64(len(first)) {
					t.Errorf("reader %d: region bitmaps cover %d of %d rows", g, all, len(first))
					return
				}
				// A fresh snapshot's views race with the appender's bitmap updates.
				for _, v := range h.Snapshot() {
					d, _ := v.Dict(5)
					if got := roaringOr(t, v, 5, d.Len()); got != uint64(v.NumRows()) {
						t.Errorf("fresh view: region bitmaps cover %d of %d rows", got, v.NumRows())
						return
					}
				}
			}
		}()
	}
	fetched.Wait()
	close(start)
	wg.Wait()
}

// roaringOr returns how many rows the bitmaps of ids [0, n) of col cover together.
func roaringOr(t *testing.T, v *View, col, n int) uint64 {
	var all []*roaring.Bitmap
	for id := range n {
		bm, err := v.Bitmap(col, uint32(id))
		if err != nil {
			t.Error(err)
			return 0
		}
		all = append(all, bm)
	}
	return roaring.FastOr(all...).GetCardinality()
}
