package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
)

// TestOptimizeLeaseOneAtATime: two stores (two nodes) hand off to one Delta
// table and race for its OPTIMIZE lease (issue 13 part 2).
//
//  1. a holds a long lease: b gets ErrLeaseHeld and commits nothing; a renews its
//     own lease; the log's lease txn is a's expiry.
//  2. Rounds of new small files from both, each round both trying at once and
//     again for a while with a short lease, which expires between rounds: never
//     are both inside an OPTIMIZE at once (a knob holds each run open for a
//     moment, so an overlap would be seen), every round someone optimizes, the
//     race is lost sometimes, and each store wins some rounds (an expired lease
//     is taken over).
//  3. Both stores read every row once.
func TestOptimizeLeaseOneAtATime(t *testing.T) {
	ctx := context.Background()
	lakeRoot := t.TempDir()
	lakePath := filepath.Join(lakeRoot, "shared")
	sch := testSchema()
	opts := map[string]string{OptLakePath: lakePath, catalog.OptLakeRefresh: "50ms"}
	// Each store's OPTIMIZE runs that committed, from the moment it held the
	// lease (the knob) to its return; no two of different stores may overlap.
	type run struct {
		store      int
		start, end time.Time
	}
	var runsMu sync.Mutex
	var runs []run
	var began [2]time.Time
	stores := make([]*Store, 2)
	for i := range stores {
		knobs := Knobs{UnderLease: func() error {
			began[i] = time.Now()
			time.Sleep(20 * time.Millisecond) // widen the window an overlap would show in
			return nil
		}}
		s, err := Open(t.TempDir(), Options{LakeRoots: []string{lakeRoot}, Knobs: knobs})
		must(t, err)
		defer s.Close()
		_, err = s.CreateTable(catalog.TableDef{Name: "ev", Schema: sch, Options: opts})
		must(t, err)
		stores[i] = s
	}
	a, b := stores[0], stores[1]
	optimize := func(i int, lease time.Duration) (lake.OptimizeResult, error) {
		res, err := stores[i].OptimizeUnderLease(ctx, "ev", lease, 0, "")
		if err == nil {
			runsMu.Lock()
			runs = append(runs, run{i, began[i], time.Now()})
			runsMu.Unlock()
		}
		return res, err
	}
	next := int64(0)
	var want [][2]int64
	addFiles := func() {
		for i, s := range stores {
			must(t, s.Append(ctx, "ev", toColumns(&sch, makeRows(next, 40, func(j int) int64 { return base + int64(i)*hour + (next+int64(j))*1000 }))))
			want = append(want, [2]int64{next, next + 40})
			next += 40
			_, err := s.Handoff(ctx, "ev", farFuture)
			must(t, err)
		}
	}
	tbl := lake.OpenTable(objstore.LocalAt(lakePath), "")
	leaseOf := func() int64 {
		snap, err := tbl.Snapshot(ctx)
		must(t, err)
		v, _ := snap.TxnVersion(OptimizeLeaseApp("ev"))
		return v
	}

	// 1. A lease of 2 s held by a.
	addFiles()
	addFiles()
	if _, err := optimize(0, 2*time.Second); err != nil {
		t.Fatalf("a takes a free lease: %v", err)
	}
	held := leaseOf()
	if held < time.Now().Add(time.Second).UnixMilli() {
		t.Fatalf("the log's lease expires at %d, want about 2 s from now", held)
	}
	addFiles()
	snap, err := tbl.Snapshot(ctx)
	must(t, err)
	if _, err := optimize(1, 2*time.Second); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("b while a holds the lease: %v, want ErrLeaseHeld", err)
	}
	if after, err := tbl.Snapshot(ctx); err != nil || after.Version != snap.Version {
		t.Fatalf("b's refused OPTIMIZE moved the log from version %d (%v)", snap.Version, err)
	}
	if res, err := optimize(0, 2*time.Second); err != nil || res.FilesRemoved == 0 {
		t.Fatalf("a renews its own lease and optimizes: %+v %v", res, err)
	}
	if renewed := leaseOf(); renewed <= held {
		t.Fatalf("a's renewal left the lease at %d (was %d)", renewed, held)
	}
	time.Sleep(time.Until(time.UnixMilli(leaseOf()))) // a's lease expires

	// 2. Racing rounds with a short lease.
	const lease = 800 * time.Millisecond
	var won [2]int
	lost, cut := 0, 0
	for round := range 6 {
		addFiles()
		time.Sleep(lease) // the last round's lease expires
		var mu sync.Mutex
		winners := 0
		var wg sync.WaitGroup
		for i := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for end := time.Now().Add(2 * lease); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
					_, err := optimize(i, lease)
					mu.Lock()
					switch {
					case err == nil:
						winners++
						won[i]++
					case errors.Is(err, ErrLeaseHeld):
						lost++
					case errors.Is(err, context.DeadlineExceeded):
						cut++ // OPTIMIZE ran into its lease's margin: given up, as it must
					default:
						t.Errorf("round %d, store %d: %v", round, i, err)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if winners == 0 {
			t.Fatalf("round %d: nobody optimized", round)
		}
	}
	t.Logf("6 rounds: a optimized %d times, b %d; %d attempts found the lease held, %d were cut off by the lease's margin", won[0], won[1], lost, cut)
	for _, r := range runs {
		for _, o := range runs {
			if o.store != r.store && o.start.Before(r.end) && r.start.Before(o.end) {
				t.Fatalf("store %d optimized from %s to %s, store %d from %s to %s: at once", r.store,
					r.start.Format("15:04:05.000"), r.end.Format("15:04:05.000"), o.store, o.start.Format("15:04:05.000"), o.end.Format("15:04:05.000"))
			}
		}
	}
	if lost == 0 || won[0] == 0 || won[1] == 0 {
		t.Fatalf("a won %d, b %d, lost %d: the race was not exercised", won[0], won[1], lost)
	}

	// 3. Every row once on both.
	all := idRange(want...)
	for _, s := range []*Store{a, b} {
		waitIDs(t, s, "ev", all, 2*time.Second, "after the OPTIMIZEs")
	}
}
