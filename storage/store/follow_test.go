package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
)

// idsOf reads a snapshot of table and returns its ids, sorted, failing on a
// duplicate (a row counted twice).
func idsOf(t *testing.T, s *Store, table string) []int64 {
	t.Helper()
	sn, err := s.Snapshot(table)
	must(t, err)
	defer sn.Release()
	var ids []int64
	for _, r := range readSnapshot(t, sn) {
		ids = append(ids, r.id)
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Fatalf("%s: id %d counted twice (snapshot of %d rows, lake version %d)", table, ids[i], len(ids), sn.LakeVersion)
		}
	}
	return ids
}

func idRange(ranges ...[2]int64) []int64 {
	var out []int64
	for _, r := range ranges {
		for id := r[0]; id < r[1]; id++ {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// waitIDs polls table on s until its ids are want; it returns how long that took.
func waitIDs(t *testing.T, s *Store, table string, want []int64, within time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := idsOf(t, s, table)
		if slices.Equal(got, want) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: %d ids after %s, want %d", what, len(got), within, len(want))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFollowSharedLake: two stores (two strata processes) share one lake_path and
// an external writer commits to it through storage/lake. Each store sees the
// other's handoffs and the external commit within lake_refresh, and at every
// moment reads each row once: while its own handoff is committed but not yet
// marked (its rows still in segments), a check of the lake does not install the
// version holding it; after a crash there, neither before nor after the repair;
// an OPTIMIZE by the other store replaces files without a row read twice. An
// external table over the same lake follows it the same way.
func TestFollowSharedLake(t *testing.T) {
	ctx := context.Background()
	lakeRoot := t.TempDir()
	lakePath := filepath.Join(lakeRoot, "shared")
	roots := []string{lakeRoot}
	sch := testSchema()
	opts := map[string]string{OptLakePath: lakePath, catalog.OptLakeRefresh: "50ms"}
	var b *Store
	var bLt *liveTable
	var knobErr error
	bKnob := func() error { return knobErr }
	// At BeforeLakeMark, B's handoff is in the Delta log and its segments are
	// still live: a check must not install the new version.
	var checkedInWindow bool
	var wantB []int64
	beforeMark := func() error {
		if bLt == nil {
			return nil
		}
		def, _ := b.Table("ev")
		must(t, b.checkLake(ctx, bLt, def))
		if got := idsOf(t, b, "ev"); !slices.Equal(got, wantB) {
			t.Errorf("B between its commit and its mark: %d ids, want %d", len(got), len(wantB))
		}
		checkedInWindow = true
		return nil
	}
	a, err := Open(t.TempDir(), Options{LakeRoots: roots})
	must(t, err)
	defer a.Close()
	bDir := t.TempDir()
	b, err = Open(bDir, Options{LakeRoots: roots, Knobs: Knobs{AfterLakeCommit: bKnob, BeforeLakeMark: beforeMark}})
	must(t, err)
	for _, s := range []*Store{a, b} {
		_, err := s.CreateTable(catalog.TableDef{Name: "ev", Schema: sch, Options: opts})
		must(t, err)
	}
	// A ingests ids 0.., B ids 100000.., over different hours.
	must(t, a.Append(ctx, "ev", toColumns(&sch, makeRows(0, 300, spread(3)))))
	must(t, b.Append(ctx, "ev", toColumns(&sch, makeRows(100_000, 200, func(i int) int64 { return base + 5*hour + int64(i)*1000 }))))
	if got := idsOf(t, b, "ev"); len(got) != 200 {
		t.Fatalf("B before any handoff: %d rows, want 200", len(got))
	}
	_, err = a.Handoff(ctx, "ev", farFuture)
	must(t, err)
	d := waitIDs(t, b, "ev", idRange([2]int64{0, 300}, [2]int64{100_000, 100_200}), 2*time.Second, "B sees A's handoff")
	t.Logf("B saw A's handoff %s after it", d)

	// B's own handoff, checked between its commit and its mark.
	b.mu.Lock()
	bLt = b.mu.tables["ev"]
	b.mu.Unlock()
	wantB = idRange([2]int64{0, 300}, [2]int64{100_000, 100_200})
	_, err = b.Handoff(ctx, "ev", farFuture)
	must(t, err)
	if !checkedInWindow {
		t.Fatal("the check between commit and mark did not run")
	}
	if got := idsOf(t, b, "ev"); !slices.Equal(got, wantB) {
		t.Fatalf("B after its handoff: %d ids, want %d", len(got), len(wantB))
	}
	bLt = nil
	d = waitIDs(t, a, "ev", wantB, 2*time.Second, "A sees B's handoff")
	t.Logf("A saw B's handoff %s after it", d)

	// A crash of B right after its commit: the version holding it is never
	// installed while the segments live, however often B checks.
	must(t, b.Append(ctx, "ev", toColumns(&sch, makeRows(200_000, 100, func(i int) int64 { return base + 7*hour + int64(i)*1000 }))))
	wantB = idRange([2]int64{0, 300}, [2]int64{100_000, 100_200}, [2]int64{200_000, 200_100})
	knobErr = errCrash
	if _, err := b.Handoff(ctx, "ev", farFuture); !errors.Is(err, errCrash) {
		t.Fatalf("B's handoff: %v, want the crash", err)
	}
	knobErr = nil
	d = waitIDs(t, a, "ev", wantB, 2*time.Second, "A sees B's committed, unmarked handoff")
	t.Logf("A saw B's unmarked handoff %s after it", d)
	for range 10 {
		if got := idsOf(t, b, "ev"); !slices.Equal(got, wantB) {
			t.Fatalf("B with a committed, unmarked handoff: %d ids, want %d", len(got), len(wantB))
		}
		time.Sleep(20 * time.Millisecond)
	}
	must(t, b.Close())
	b, err = Open(bDir, Options{LakeRoots: roots})
	must(t, err)
	defer b.Close()
	if got := idsOf(t, b, "ev"); !slices.Equal(got, wantB) {
		t.Fatalf("B reopened with a committed, unmarked handoff: %d ids, want %d", len(got), len(wantB))
	}
	res, err := b.Handoff(ctx, "ev", farFuture)
	must(t, err)
	if !res.Repaired {
		t.Fatalf("B's handoff after the crash: %+v, want a repair", res)
	}
	if got := idsOf(t, b, "ev"); !slices.Equal(got, wantB) {
		t.Fatalf("B after the repair: %d ids, want %d", len(got), len(wantB))
	}

	// An external writer commits through storage/lake.
	tbl := lake.OpenTable(objstore.LocalAt(lakePath), "")
	snap, err := tbl.Snapshot(ctx)
	must(t, err)
	def, _ := a.Table("ev")
	adds, err := writeLakeColumns(ctx, &def, snap, toColumns(&sch, makeRows(900_000, 50, spread(2))), 0)
	must(t, err)
	v, err := lake.Commit(ctx, tbl, snap.Version, lake.AddActions(adds), "WRITE", nil)
	must(t, err)
	want := idRange([2]int64{0, 300}, [2]int64{100_000, 100_200}, [2]int64{200_000, 200_100}, [2]int64{900_000, 900_050})
	for _, s := range []*Store{a, b} {
		d := waitIDs(t, s, "ev", want, 2*time.Second, fmt.Sprintf("external commit %d", v))
		t.Logf("external commit %d seen after %s", v, d)
	}

	// An external table over the same lake follows it too.
	_, err = a.CreateExternalTable(ctx, "extv", lakePath, "ts")
	must(t, err)
	if got := idsOf(t, a, "extv"); !slices.Equal(got, want) {
		t.Fatalf("external table: %d ids, want %d", len(got), len(want))
	}

	// OPTIMIZE by A: B follows to the compacted files, each row once.
	before, _, _ := b.LakeInfo("ev")
	ores, err := a.Optimize(ctx, "ev", 0, "")
	must(t, err)
	if ores.Version < 0 || ores.FilesRemoved == 0 {
		t.Fatalf("OPTIMIZE: %+v", ores)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if got := idsOf(t, b, "ev"); !slices.Equal(got, want) {
			t.Fatalf("B around A's OPTIMIZE: %d ids, want %d", len(got), len(want))
		}
		if got := idsOf(t, a, "extv"); !slices.Equal(got, want) {
			t.Fatalf("external table around OPTIMIZE: %d ids, want %d", len(got), len(want))
		}
		v, files, ok := b.LakeInfo("ev")
		ve, _, oke := a.LakeInfo("extv")
		if ok && v >= ores.Version && oke && ve >= ores.Version {
			t.Logf("B and the external table follow OPTIMIZE: version %d -> %d, %d files", before, v, files)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B did not follow A's OPTIMIZE (version %d) within 2s", ores.Version)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gatedStore holds Get of log keys while its gate is closed.
type gatedStore struct {
	objstore.Store
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	waiting atomic.Int64
}

func (g *gatedStore) Get(ctx context.Context, key string) ([]byte, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil && strings.Contains(key, "_delta_log/") {
		g.waiting.Add(1)
		defer g.waiting.Add(-1)
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Store.Get(ctx, key)
}

// TestQueriesDoNotWaitForLakeChecks: while a check of the lake hangs (a slow
// object store), queries go on at once with the version they have, and see the
// new version once the check completes; Close does not wait for the hung check.
func TestQueriesDoNotWaitForLakeChecks(t *testing.T) {
	ctx := context.Background()
	lakeRoot := t.TempDir()
	lakePath := filepath.Join(lakeRoot, "ev")
	gs := &gatedStore{}
	s, err := Open(t.TempDir(), Options{LakeRoots: []string{lakeRoot}, Knobs: Knobs{LakeStore: func(st objstore.Store) objstore.Store {
		gs.Store = st
		return gs
	}}})
	must(t, err)
	sch := testSchema()
	def, err := s.CreateTable(catalog.TableDef{Name: "ev", Schema: sch, Options: map[string]string{OptLakePath: lakePath, catalog.OptLakeRefresh: "10ms"}})
	must(t, err)
	must(t, s.Append(ctx, "ev", toColumns(&sch, makeRows(0, 100, spread(2)))))
	_, err = s.Handoff(ctx, "ev", farFuture)
	must(t, err)
	before := idRange([2]int64{0, 100})
	if got := idsOf(t, s, "ev"); !slices.Equal(got, before) {
		t.Fatalf("%d ids, want %d", len(got), len(before))
	}

	gs.mu.Lock()
	gs.gate = make(chan struct{})
	gs.mu.Unlock()
	// Another writer commits, straight to the folder.
	tbl := lake.OpenTable(objstore.LocalAt(lakePath), "")
	snap, err := tbl.Snapshot(ctx)
	must(t, err)
	adds, err := writeLakeColumns(ctx, &def, snap, toColumns(&sch, makeRows(500, 50, spread(2))), 0)
	must(t, err)
	_, err = lake.Commit(ctx, tbl, snap.Version, lake.AddActions(adds), "WRITE", nil)
	must(t, err)

	var slowest time.Duration
	for gs.waiting.Load() == 0 || slowest == 0 {
		start := time.Now()
		if got := idsOf(t, s, "ev"); !slices.Equal(got, before) {
			t.Fatalf("while the check hangs: %d ids, want the %d of the version before", len(got), len(before))
		}
		slowest = max(slowest, time.Since(start))
		time.Sleep(5 * time.Millisecond)
	}
	for range 20 { // the check stays stuck; queries go on
		start := time.Now()
		idsOf(t, s, "ev")
		slowest = max(slowest, time.Since(start))
	}
	if slowest > 500*time.Millisecond {
		t.Fatalf("a query took %s while a lake check hung", slowest)
	}
	t.Logf("slowest query while a check hung: %s", slowest)
	gs.mu.Lock()
	close(gs.gate)
	gs.gate = nil
	gs.mu.Unlock()
	waitIDs(t, s, "ev", idRange([2]int64{0, 100}, [2]int64{500, 550}), 2*time.Second, "after the check")
	if st := s.LakeStats(); st.LakeChecks == 0 || st.LakeUpdates != 1 || st.LakeCheckErrors != 0 {
		t.Fatalf("lake stats %+v, want checks, one update from the other writer, no error", st)
	}

	// A hung check does not hold up Close.
	gs.mu.Lock()
	gs.gate = make(chan struct{})
	gs.mu.Unlock()
	snap, err = tbl.Snapshot(ctx)
	must(t, err)
	adds, err = writeLakeColumns(ctx, &def, snap, toColumns(&sch, makeRows(600, 5, spread(2))), 0)
	must(t, err)
	_, err = lake.Commit(ctx, tbl, snap.Version, lake.AddActions(adds), "WRITE", nil)
	must(t, err)
	for gs.waiting.Load() == 0 {
		idsOf(t, s, "ev")
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	must(t, s.Close())
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %s with a hung lake check", d)
	}
}
