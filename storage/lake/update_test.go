package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/stratadb/strata/storage/objstore"
)

// filesOf is a snapshot's live files as comparable strings.
func filesOf(s *Snapshot) []string {
	var out []string
	for _, f := range s.Files() {
		out = append(out, f.DecodedPath+"|"+f.DeletionVector.UniqueID())
	}
	return out
}

// sameAsFull checks that u equals a full replay of the log at u.Version.
func sameAsFull(t *testing.T, tbl *Table, u *Snapshot) {
	t.Helper()
	full, err := tbl.SnapshotAt(context.Background(), u.Version)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(filesOf(u), filesOf(full)) {
		t.Fatalf("Update at version %d has files %v, a full replay %v", u.Version, filesOf(u), filesOf(full))
	}
	for _, app := range []string{"app-a", "app-b"} {
		a, aok := u.TxnVersion(app)
		b, bok := full.TxnVersion(app)
		if a != b || aok != bok {
			t.Fatalf("Update at version %d: txn %s = %d %v, full replay %d %v", u.Version, app, a, aok, b, bok)
		}
	}
}

// TestUpdateFollowsTheLog: Update applies only the new commits (no listing, two
// reads when nothing changed), across appends, txns, OPTIMIZE (removes) and a
// checkpoint, never modifies the snapshot it starts from, and falls back to a
// full replay when log cleanup removed the commits it would need.
func TestUpdateFollowsTheLog(t *testing.T) {
	ctx := context.Background()
	_, dir := newTestTable(t, nil)
	cfs := &countingFS{Store: objstore.LocalAt(dir)}
	tbl := OpenTable(cfs, "tbl")
	appendRows(t, tbl, makeRows(0, 10), WriteOptions{})
	s1, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := filesOf(s1)

	cfs.lists.Store(0)
	cfs.gets.Store(0)
	u, err := tbl.Update(ctx, s1)
	if err != nil || u != s1 {
		t.Fatalf("Update without a new commit = %p, %v; want the same snapshot", u, err)
	}
	if l, g := cfs.lists.Load(), cfs.gets.Load(); l != 0 || g != 2 {
		t.Fatalf("Update without a new commit listed %d times and read %d keys, want 0 and 2", l, g)
	}

	// Two appends, one with a txn.
	appendRows(t, tbl, makeRows(10, 10), WriteOptions{})
	snap, _ := tbl.Snapshot(ctx)
	rec := buildBatch(t, makeRows(20, 5))
	adds, err := WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, WriteOptions{})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(ctx, tbl, snap.Version, append(AddActions(adds), Action{Txn: &Txn{AppID: "app-a", Version: 7}}), "WRITE", nil); err != nil {
		t.Fatal(err)
	}
	cfs.lists.Store(0)
	u, err = tbl.Update(ctx, s1)
	if err != nil {
		t.Fatal(err)
	}
	if u.Version != 3 || cfs.lists.Load() != 0 {
		t.Fatalf("Update = version %d after %d listings, want version 3 without listing", u.Version, cfs.lists.Load())
	}
	sameAsFull(t, tbl, u)
	if !slices.Equal(filesOf(s1), before) || s1.Version != 1 {
		t.Fatal("Update modified the snapshot it started from")
	}

	// OPTIMIZE removes the small files and adds one: no file counted twice.
	res, err := Optimize(ctx, tbl, 1<<30, "")
	if err != nil || res.Version < 0 {
		t.Fatalf("Optimize = %+v, %v", res, err)
	}
	u2, err := tbl.Update(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	sameAsFull(t, tbl, u2)
	n1, _ := u.Count(ctx)
	n2, _ := u2.Count(ctx)
	if u2.Version != res.Version || n1 != n2 || len(u2.Files()) >= len(u.Files()) {
		t.Fatalf("after OPTIMIZE: version %d (want %d), %d rows in %d files (before %d rows in %d files)", u2.Version, res.Version, n2, len(u2.Files()), n1, len(u.Files()))
	}

	// Past the checkpoint at version 10.
	for tbl.mustVersion(t) < 12 {
		appendRows(t, tbl, makeRows(100+10*tbl.mustVersion(t), 3), WriteOptions{})
	}
	if _, err := os.Stat(filepath.Join(dir, "tbl/_delta_log", fmt.Sprintf("%020d.checkpoint.parquet", 10))); err != nil {
		t.Fatalf("no checkpoint at 10: %v", err)
	}
	u3, err := tbl.Update(ctx, u2)
	if err != nil {
		t.Fatal(err)
	}
	if u3.Version != 12 {
		t.Fatalf("Update = version %d, want 12", u3.Version)
	}
	sameAsFull(t, tbl, u3)

	// Log cleanup: the commits before the checkpoint are gone; an old snapshot
	// cannot be brought forward commit by commit, so Update replays from the
	// checkpoint.
	for v := 1; v < 10; v++ {
		os.Remove(filepath.Join(dir, "tbl/_delta_log", fmt.Sprintf("%020d.json", v)))
	}
	cfs.lists.Store(0)
	u4, err := tbl.Update(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if u4.Version != 12 || cfs.lists.Load() == 0 {
		t.Fatalf("Update over a cleaned-up log = version %d after %d listings, want 12 from the checkpoint", u4.Version, cfs.lists.Load())
	}
	if !slices.Equal(filesOf(u4), filesOf(u3)) {
		t.Fatal("Update from the checkpoint differs from Update commit by commit")
	}

	// Far behind: more new commits than Update applies one by one.
	defer func(n int) { maxIncrementalCommits = n }(maxIncrementalCommits)
	maxIncrementalCommits = 2
	for range 3 {
		appendRows(t, tbl, makeRows(500+10*tbl.mustVersion(t), 2), WriteOptions{})
	}
	cfs.lists.Store(0)
	u5, err := tbl.Update(ctx, u3)
	if err != nil {
		t.Fatal(err)
	}
	if u5.Version != 15 || cfs.lists.Load() == 0 {
		t.Fatalf("Update 3 commits behind with a limit of 2 = version %d after %d listings, want 15 by a full replay", u5.Version, cfs.lists.Load())
	}
	sameAsFull(t, tbl, u5)
}

func (tbl *Table) mustVersion(t *testing.T) int64 {
	t.Helper()
	s, err := tbl.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s.Version
}
