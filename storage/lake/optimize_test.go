package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stratadb/strata/storage/objstore"
)

func TestOptimizeBinPacks(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newTestTable(t, nil)
	var all []wrow
	for i := 0; i < 5; i++ {
		rows := makeRows(int64(i)*1000+1, 40)
		all = append(all, rows...)
		appendRows(t, tbl, rows, WriteOptions{})
	}
	before, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	perPart := map[string]int{}
	for _, f := range before.Files() {
		perPart[mustJSON(f.PartitionValues)]++
	}
	res, err := Optimize(ctx, tbl, 1<<30, "amount")
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != before.Version+1 || res.FilesRemoved != len(before.Files()) || res.FilesAdded != len(perPart) || res.Rows != int64(len(all)) {
		t.Fatalf("result %+v; before: %d files in %d partitions", res, len(before.Files()), len(perPart))
	}
	after, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Files()) != len(perPart) {
		t.Fatalf("%d files after OPTIMIZE, want one per partition (%d)", len(after.Files()), len(perPart))
	}
	sameRows(t, readAll(t, after), all) // also checks the new files' stats
	for _, f := range after.Files() {
		if f.DataChange {
			t.Errorf("OPTIMIZE add %s has dataChange=true", f.Path)
		}
		// Sorted by amount within the file.
		var amounts []float64
		err := after.ReadFile(ctx, f, []string{"amount"}, func(rec arrow.RecordBatch) error {
			amounts = append(amounts, rec.Column(0).(*array.Float64).Float64Values()...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !sort.Float64sAreSorted(amounts) {
			t.Errorf("file %s not sorted by amount", f.Path)
		}
	}
	for _, r := range after.Tombstones() {
		if r.DataChange || r.DeletionTimestamp == nil || !r.ExtendedFileMetadata || r.Size == nil {
			t.Errorf("OPTIMIZE remove %+v", r)
		}
	}
	// The log: removes and adds with dataChange=false, commitInfo OPTIMIZE.
	b, _ := os.ReadFile(filepath.Join(dir, "tbl/_delta_log/00000000000000000006.json"))
	if strings.Contains(string(b), `"dataChange":true`) || !strings.Contains(string(b), `"operation":"OPTIMIZE"`) {
		t.Errorf("OPTIMIZE commit:\n%s", b)
	}
	// Time travel to before OPTIMIZE still reads the old files.
	old, err := tbl.SnapshotAt(ctx, before.Version)
	if err != nil {
		t.Fatal(err)
	}
	if len(old.Files()) != len(before.Files()) {
		t.Fatalf("old snapshot has %d files", len(old.Files()))
	}
	sameRows(t, readAll(t, old), all)
	// Nothing left to compact: no commit.
	res, err = Optimize(ctx, tbl, 1<<30, "")
	if err != nil || res.Version != -1 || res.FilesRemoved != 0 {
		t.Fatalf("second OPTIMIZE %+v %v", res, err)
	}
	h, _ := History(ctx, tbl, 2)
	if h[0].Operation != "OPTIMIZE" || h[0].IsBlindAppend == nil || *h[0].IsBlindAppend {
		t.Fatalf("history %+v", h[0])
	}
}

func TestOptimizeTargetSize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	schema, _ := SchemaFromArrow(testArrowSchema)
	tbl, err := CreateTable(ctx, objstore.LocalAt(dir), "", schema, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var all []wrow
	for i := 0; i < 6; i++ {
		rows := makeRows(int64(i)*100, 50)
		all = append(all, rows...)
		appendRows(t, tbl, rows, WriteOptions{})
	}
	before, _ := tbl.Snapshot(ctx)
	size := before.Files()[0].Size
	// Room for about two files per bin: three new files.
	res, err := Optimize(ctx, tbl, 2*size+size/2, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.FilesRemoved != 6 || res.FilesAdded != 3 {
		t.Fatalf("result %+v (file size %d)", res, size)
	}
	after, _ := tbl.Snapshot(ctx)
	sameRows(t, readAll(t, after), all)
	if n, _ := after.Count(ctx); n != int64(len(all)) {
		t.Fatalf("count %d", n)
	}
}

func TestVacuum(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newTestTable(t, nil)
	root := filepath.Join(dir, "tbl")
	appendRows(t, tbl, makeRows(1, 12), WriteOptions{})
	snap, _ := tbl.Snapshot(ctx)
	files := snap.Files()
	// Tombstone two files: one removed long ago, one just now.
	oldTS := time.Now().Add(-10 * 24 * time.Hour).UnixMilli()
	newTS := time.Now().UnixMilli()
	oldF, newF := files[0], files[1]
	acts := []Action{
		{Remove: &RemoveFile{Path: oldF.Path, DeletionTimestamp: &oldTS, DataChange: true}},
		{Remove: &RemoveFile{Path: newF.Path, DeletionTimestamp: &newTS, DataChange: true}},
	}
	if _, err := Commit(ctx, tbl, snap.Version, acts, "DELETE", nil); err != nil {
		t.Fatal(err)
	}
	// Orphans: an old one (in a partition folder) and a fresh one; plus an old
	// hidden file and an old file in an underscore folder, which VACUUM skips.
	longAgo := time.Now().Add(-30 * 24 * time.Hour)
	write := func(rel string, old bool) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if old {
			if err := os.Chtimes(p, longAgo, longAgo); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("day=2025-11-20/region=eu/part-orphan-old.parquet", true)
	write("part-orphan-new.parquet", false)
	write("day=2025-11-20/.hidden-old.parquet", true)
	write("_tmp/old.parquet", true)
	// Make every data file look old, so only the tombstone decides for newF.
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".zstd.parquet") {
			os.Chtimes(p, longAgo, longAgo)
		}
		return nil
	})
	logBefore, _ := os.ReadDir(filepath.Join(root, "_delta_log"))

	if _, err := Vacuum(ctx, tbl, time.Hour, false, false); !errors.Is(err, ErrRetentionTooShort) || !strings.Contains(err.Error(), "safety check") {
		t.Fatalf("short retention: %v", err)
	}
	want := []string{oldF.DecodedPath, "day=2025-11-20/region=eu/part-orphan-old.parquet"}
	sort.Strings(want)
	dry, err := Vacuum(ctx, tbl, -1, true, false)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dry)
	if strings.Join(dry, ",") != strings.Join(want, ",") {
		t.Fatalf("dry run lists %v, want %v", dry, want)
	}
	for _, rel := range dry {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			t.Fatalf("dry run deleted %s", rel)
		}
	}
	got, err := Vacuum(ctx, tbl, -1, false, false)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("deleted %v, want %v", got, want)
	}
	for _, rel := range want {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s still there: %v", rel, err)
		}
	}
	for _, rel := range []string{newF.DecodedPath, "part-orphan-new.parquet", "day=2025-11-20/.hidden-old.parquet", "_tmp/old.parquet"} {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			t.Fatalf("%s was deleted: %v", rel, err)
		}
	}
	logAfter, _ := os.ReadDir(filepath.Join(root, "_delta_log"))
	if len(logAfter) != len(logBefore) {
		t.Fatal("VACUUM touched the log")
	}
	// Every live file is still readable.
	cur, _ := tbl.Snapshot(ctx)
	if n := len(readAll(t, cur)); n != 12-2 {
		t.Fatalf("%d rows after vacuum", n)
	}
	// Forced zero retention removes the recent tombstone and orphan, nothing live.
	got, err = Vacuum(ctx, tbl, 0, false, true)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want = []string{newF.DecodedPath, "part-orphan-new.parquet"}
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("forced vacuum deleted %v, want %v", got, want)
	}
	if n := len(readAll(t, cur)); n != 10 {
		t.Fatalf("%d rows after forced vacuum", n)
	}
}

func TestVacuumable(t *testing.T) {
	parts := map[string]bool{"_p": true, "day": true}
	for rel, want := range map[string]bool{
		"a.parquet":                 true,
		"day=1/a.parquet":           true,
		"_p=1/a.parquet":            true,
		"_q=1/a.parquet":            false,
		"_change_data/a.parquet":    true,
		"_delta_log/0.json":         false,
		".hidden/a.parquet":         false,
		"day=1/.a.parquet.tmp-1":    false,
		"day=1/_SUCCESS":            false,
		"deletion_vector_x.bin":     true,
		"day=1/sub/_tmp/x.parquet":  false,
		"day=1/sub/visible.parquet": false, // not a partition folder
		"docs/thesis.parquet":       false,
		"notes.txt":                 false,
		"day=1/notes.txt":           false,
		"deletion_vector_x.txt":     false,
		"day=1/_p=_x/a.parquet":     true,
		"day=1/_p=_x/_a.parquet":    false,
	} {
		if got := vacuumable(rel, parts); got != want {
			t.Errorf("vacuumable(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestHistoryOfSparkTable(t *testing.T) {
	tbl := OpenTable(objstore.LocalAt("testdata/delta"), "commit-info-containing-arbitrary-operationParams-types")
	h, err := History(context.Background(), tbl, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || h[0].Version != 2 || h[0].Operation != "OPTIMIZE" || h[0].ReadVersion == nil || *h[0].ReadVersion != 1 ||
		h[0].IsBlindAppend == nil || *h[0].IsBlindAppend || h[0].OperationParameters["zOrderBy"] != `["id"]` ||
		h[0].OperationParameters["auto"] != false || h[0].IsolationLevel != "SnapshotIsolation" {
		t.Fatalf("history %+v", h)
	}
	// The timestamps are those of time travel (the commit files' modification times,
	// made increasing, as Delta shows them): each selects its own version.
	for _, e := range h {
		snap, err := tbl.SnapshotAsOf(context.Background(), e.Timestamp)
		if err != nil || snap.Version != e.Version {
			t.Fatalf("TIMESTAMP AS OF %s (version %d in the history) = %v, %v", e.Timestamp, e.Version, snap, err)
		}
	}
}

func TestOptimizeRacesAppend(t *testing.T) {
	ctx := context.Background()
	tbl, _ := newTestTable(t, nil)
	appendRows(t, tbl, makeRows(1, 12), WriteOptions{})
	snap, _ := tbl.Snapshot(ctx)
	// A compaction-style commit (remove+add, dataChange=false) prepared at
	// version 1 while an append lands at version 2: no conflict.
	f := snap.Files()[0]
	appendRows(t, tbl, makeRows(100, 5), WriteOptions{})
	ts := time.Now().UnixMilli()
	add := *f
	add.DataChange = false
	v, err := Commit(ctx, tbl, snap.Version, []Action{
		{Remove: &RemoveFile{Path: f.Path, DeletionTimestamp: &ts}},
		{Add: &add},
	}, "OPTIMIZE", nil)
	if err != nil || v != 3 {
		t.Fatalf("commit %d %v", v, err)
	}
	cur, _ := tbl.Snapshot(ctx)
	if n, _ := cur.Count(ctx); n != 17 {
		t.Fatalf("count %d", n)
	}
}

// TestVacuumLeavesForeignFiles: VACUUM with no retention at all, forced, over a
// table folder that also holds files that are not the table's: only the table's
// own orphaned data files go; the rest, a nested Delta table, and what a symlink
// points to are intact.
func TestVacuumLeavesForeignFiles(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newTestTable(t, nil)
	root := filepath.Join(dir, "tbl")
	appendRows(t, tbl, makeRows(1, 12), WriteOptions{})
	outside := filepath.Join(t.TempDir(), "precious.parquet")
	if err := os.WriteFile(outside, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	longAgo := time.Now().Add(-30 * 24 * time.Hour)
	write := func(rel string) string {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, longAgo, longAgo); err != nil {
			t.Fatal(err)
		}
		return p
	}
	orphan := write("day=1/region=a/orphan.parquet")
	keep := []string{
		write("notes.txt"),
		write("docs/thesis.parquet"),
		write("day=1/notes.txt"),
		write("day=2/_delta_log/00000000000000000000.json"), // a Delta table of its own
		write("day=2/part-0.parquet"),
		write(".hidden.parquet"),
	}
	link := filepath.Join(root, "day=1", "region=a", "link.parquet")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	linkDir := filepath.Join(root, "day=3")
	if err := os.Symlink(filepath.Dir(outside), linkDir); err != nil {
		t.Fatal(err)
	}
	deleted, err := Vacuum(ctx, tbl, 0, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0] != "day=1/region=a/orphan.parquet" {
		t.Fatalf("deleted %v, want only the orphan", deleted)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan still there: %v", err)
	}
	for _, p := range append(keep, outside) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("VACUUM removed %s: %v", p, err)
		}
	}
	for _, p := range []string{link, linkDir} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("VACUUM removed the symlink %s: %v", p, err)
		}
	}
	// Every row is still there.
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range snap.Files() {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(f.DecodedPath))); err != nil {
			t.Errorf("live file %s: %v", f.DecodedPath, err)
		}
	}
}
