package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/stratadb/strata/internal/rowcheck"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/lakesrc"
	"github.com/stratadb/strata/storage/objstore"
)

var errCrash = errors.New("simulated crash")

// farFuture closes every chunk.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// base is a fixed time in the past, on an hour boundary.
var base = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixMicro()

// spread gives row i a time over the chunks [base, base+hours).
func spread(hours int) func(i int) int64 {
	return func(i int) int64 { return base + int64(i%hours)*hour + int64(i)*1_000 }
}

func lakeState(t *testing.T, s *Store, table string) catalog.LakeState {
	t.Helper()
	ls, ok := s.Catalog().Lake(table)
	if !ok {
		t.Fatalf("no table %s", table)
	}
	return ls
}

// lakeRows counts the rows of the table's Delta log at its latest version,
// independently of the store.
func lakeRows(t *testing.T, dir, table string) (rows int64, version int64) {
	t.Helper()
	snap, err := lake.OpenTable(objstore.LocalAt(defaultLake(t, dir, table)), "").Snapshot(context.Background())
	must(t, err)
	n, err := snap.Count(context.Background())
	must(t, err)
	return n, snap.Version
}

// defaultLake finds the default lake folder of table under dir/lake by the table
// name handoff records in the Delta metadata (strata.table), and checks that the
// folder is named by a table id, not by the name.
func defaultLake(t *testing.T, dir, table string) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "lake"))
	must(t, err)
	for _, e := range ents {
		p := filepath.Join(dir, "lake", e.Name())
		snap, err := lake.OpenTable(objstore.LocalAt(p), "").Snapshot(context.Background())
		if err != nil || snap.Metadata.Configuration["strata.table"] != table {
			continue
		}
		if _, err := strconv.ParseUint(e.Name(), 10, 64); err != nil {
			t.Fatalf("lake folder of %s is %q, not a table id", table, e.Name())
		}
		return p
	}
	t.Fatalf("no lake folder for table %s under %s", table, dir)
	return ""
}

func TestHandoffMovesClosedChunks(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defer s.Close()
	createT(t, s, "ev")
	ctx := context.Background()
	sch := testSchema()

	old := makeRows(0, 3000, spread(5))
	must(t, s.Append(ctx, "ev", toColumns(&sch, old)))
	// Rows in the current hour stay hot: their chunk is not closed.
	now := time.Now().UTC()
	recent := makeRows(10_000, 200, func(i int) int64 { return now.UnixMicro() - int64(i) })
	must(t, s.Append(ctx, "ev", toColumns(&sch, recent)))

	res, err := s.Handoff(ctx, "ev", now)
	must(t, err)
	if res.Seq != 1 || res.Segments != 5 || res.Rows != 3000 || res.Files != 5 {
		t.Fatalf("handoff = %+v, want seq 1, 5 segments, 3000 rows, 5 files", res)
	}
	if ls := lakeState(t, s, "ev"); ls.Seq != 1 || ls.Version != res.Version || ls.Pending != nil {
		t.Fatalf("lake state %+v after %+v", ls, res)
	}
	if segs := s.Catalog().Segments("ev"); len(segs) != 1 {
		t.Fatalf("%d segments left, want the current hour's 1", len(segs))
	}
	if n, v := lakeRows(t, dir, "ev"); n != 3000 || v != res.Version {
		t.Fatalf("Delta log holds %d rows at version %d, want 3000 at %d", n, v, res.Version)
	}
	all := append(append([]row{}, old...), recent...)
	checkRows(t, s, "ev", all)

	// A second handoff with nothing closed does nothing.
	res2, err := s.Handoff(ctx, "ev", now)
	must(t, err)
	if res2.Segments != 0 || res2.Seq != 1 {
		t.Fatalf("second handoff = %+v", res2)
	}

	// Late rows for a handed-off chunk become a new segment, then a second handoff.
	late := makeRows(20_000, 100, spread(2))
	must(t, s.Append(ctx, "ev", toColumns(&sch, late)))
	all = append(all, late...)
	checkRows(t, s, "ev", all)
	res3, err := s.Handoff(ctx, "ev", now)
	must(t, err)
	if res3.Seq != 2 || res3.Rows != 100 {
		t.Fatalf("late handoff = %+v", res3)
	}
	checkRows(t, s, "ev", all)

	// Reopen: the lake state and the rows survive; the cache is reused.
	must(t, s.Close())
	s = openT(t, dir)
	defer s.Close()
	checkRows(t, s, "ev", all)

	// Time travel reads the lake only.
	sn, err := s.SnapshotAt(ctx, "ev", TimeTravel{HasVersion: true, Version: res.Version})
	must(t, err)
	if got := readSnapshot(t, sn); len(got) != len(old) {
		t.Fatalf("VERSION AS OF %d: %d rows, want %d", res.Version, len(got), len(old))
	}
	sn.Release()

	// OPTIMIZE keeps every row; queries read the new version.
	ores, err := s.Optimize(ctx, "ev", 0, "")
	must(t, err)
	if ores.Version < 0 || ores.FilesRemoved < 2 {
		t.Fatalf("optimize = %+v", ores)
	}
	if ls := lakeState(t, s, "ev"); ls.Version != ores.Version {
		t.Fatalf("lake version %d after OPTIMIZE to %d", ls.Version, ores.Version)
	}
	checkRows(t, s, "ev", all)
	if _, err := s.Vacuum(ctx, "ev", 0, false, false); !errors.Is(err, lake.ErrRetentionTooShort) {
		t.Fatalf("VACUUM RETAIN 0 without force: %v", err)
	}

	// DROP TABLE removes the lake folder strata owns.
	evLake := defaultLake(t, dir, "ev")
	must(t, s.DropTable("ev"))
	if _, err := os.Stat(evLake); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lake folder after DROP: %v", err)
	}
}

// lakeIDs reads the id and user_id of every row of the Parquet files the Delta
// log of table lists: the values in the files, not the log's statistics.
func lakeIDs(t *testing.T, dir, table string) []rowcheck.Row {
	t.Helper()
	ctx := context.Background()
	snap, err := lake.OpenTable(objstore.LocalAt(defaultLake(t, dir, table)), "").Snapshot(ctx)
	must(t, err)
	var rows []rowcheck.Row
	for _, f := range snap.Files() {
		must(t, snap.ReadFile(ctx, f, []string{"id", "user_id"}, func(rec arrow.RecordBatch) error {
			rows, err = rowcheck.AppendArrow(rows, rec)
			return err
		}))
	}
	return rows
}

// ledgerOf records rows' ids and users as the expectation of rowcheck.Check.
func ledgerOf(rows []row) *rowcheck.Ledger {
	l := new(rowcheck.Ledger)
	for _, r := range rows {
		u := r.user
		if r.userNull {
			u = "\x00null" // rowcheck reads a NULL user as ""; any non-empty mark will do
		}
		l.Add(r.id, u)
	}
	return l
}

// checkLakeIDs checks that the lake files of table hold exactly rows, by id.
func checkLakeIDs(t *testing.T, dir, table string, rows []row) {
	t.Helper()
	got := lakeIDs(t, dir, table)
	for i := range got {
		if got[i].User == "" {
			got[i].User = "\x00null"
		}
	}
	if rep := rowcheck.Check(ledgerOf(rows), got); !rep.OK() {
		t.Fatalf("the lake files of %s: %s", table, rep)
	}
}

// TestHandoffCrash stops a handoff at each step, as a crash would, reopens the
// store and checks that every row is counted once, in the store, in the log and
// in the Parquet files themselves.
func TestHandoffCrash(t *testing.T) {
	for _, point := range []string{"after-intent", "after-files", "after-commit", "before-mark"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			var knobs Knobs
			crashes := 0
			crash := func() error { crashes++; return errCrash }
			switch point {
			case "after-intent":
				knobs.AfterLakeIntent = crash
			case "after-files":
				knobs.AfterLakeFiles = crash
			case "after-commit":
				knobs.AfterLakeCommit = crash
			case "before-mark":
				knobs.BeforeLakeMark = crash
			}
			s, err := Open(dir, Options{Knobs: knobs})
			must(t, err)
			createT(t, s, "ev")
			ctx := context.Background()
			sch := testSchema()
			rows := makeRows(0, 2000, spread(3))
			must(t, s.Append(ctx, "ev", toColumns(&sch, rows)))
			if _, err := s.Handoff(ctx, "ev", farFuture); !errors.Is(err, errCrash) || crashes != 1 {
				t.Fatalf("handoff: %v after %d crash points, want the crash", err, crashes)
			}
			// Before the restart queries are already exact.
			checkRows(t, s, "ev", rows)
			if ls := lakeState(t, s, "ev"); ls.Pending == nil || ls.Pending.Seq != 1 {
				t.Fatalf("lake state after the crash: %+v", ls)
			}
			must(t, s.Close())

			s = openT(t, dir)
			defer s.Close()
			checkRows(t, s, "ev", rows)
			res, err := s.Handoff(ctx, "ev", farFuture)
			must(t, err)
			if !res.Repaired {
				t.Fatalf("handoff after restart did not repair: %+v", res)
			}
			checkRows(t, s, "ev", rows)
			if segs := s.Catalog().Segments("ev"); len(segs) != 0 {
				t.Fatalf("%d segments left after the repaired handoff", len(segs))
			}
			if n, _ := lakeRows(t, dir, "ev"); n != int64(len(rows)) {
				t.Fatalf("Delta log holds %d rows, want %d", n, len(rows))
			}
			checkLakeIDs(t, dir, "ev", rows)
			ls := lakeState(t, s, "ev")
			switch point {
			case "after-intent": // nothing written: handed off again as handoff 1
				if ls.Seq != 1 || res.Segments != 3 {
					t.Fatalf("lake state %+v, handoff %+v", ls, res)
				}
				orphans, err := s.Vacuum(ctx, "ev", time.Nanosecond, true, true)
				must(t, err)
				if len(orphans) != 0 {
					t.Fatalf("VACUUM DRY RUN lists %v, want no orphan", orphans)
				}
			case "after-files": // not committed: handed off again as handoff 1
				if ls.Seq != 1 || res.Segments != 3 {
					t.Fatalf("lake state %+v, handoff %+v", ls, res)
				}
				// The first attempt's files are orphans VACUUM finds.
				orphans, err := s.Vacuum(ctx, "ev", time.Nanosecond, true, true)
				must(t, err)
				if len(orphans) != 3 {
					t.Fatalf("VACUUM DRY RUN lists %v, want the 3 orphan files", orphans)
				}
			case "after-commit", "before-mark": // committed: only marked
				if ls.Seq != 1 || res.Segments != 0 {
					t.Fatalf("lake state %+v, handoff %+v", ls, res)
				}
			}
		})
	}
}

// TestHandoffMutantCommitsAFileTwice: a handoff that commits a chunk's Parquet
// file twice (Knobs.MutantCommitFileTwice) is caught by reading the lake files
// by id: every id of that chunk is repeated.
func TestHandoffMutantCommitsAFileTwice(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Knobs: Knobs{MutantCommitFileTwice: true}})
	must(t, err)
	defer s.Close()
	createT(t, s, "ev")
	ctx := context.Background()
	sch := testSchema()
	rows := makeRows(0, 3000, spread(3))
	must(t, s.Append(ctx, "ev", toColumns(&sch, rows)))
	res, err := s.Handoff(ctx, "ev", farFuture)
	must(t, err)
	got := lakeIDs(t, dir, "ev")
	for i := range got {
		if got[i].User == "" {
			got[i].User = "\x00null"
		}
	}
	rep := rowcheck.Check(ledgerOf(rows), got)
	if len(rep.Repeated) != 1000 || len(rep.Missing)+len(rep.Unknown)+len(rep.WrongUser)+rep.NullIDs != 0 {
		t.Fatalf("handoff %+v; lake files: %s; want the first chunk's 1000 ids repeated", res, rep)
	}
	t.Logf("the mutant's lake, read by id: %s", rep)
}

// TestHandoffConcurrentQueries counts rows in snapshots taken while appends,
// handoffs and OPTIMIZE run: every snapshot sees exactly the rows appended
// before it, whichever tier holds them.
func TestHandoffConcurrentQueries(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defer s.Close()
	createT(t, s, "ev")
	ctx := context.Background()
	sch := testSchema()
	// started counts rows whose Append has begun, appended those whose Append has
	// returned: a snapshot holds at least appended-before and at most started-after.
	var started, appended atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Value
	wg.Add(1)
	go func() { // the reader
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			lo := appended.Load()
			sn, err := s.Snapshot("ev")
			if err != nil {
				failed.Store(err)
				return
			}
			var n int64
			for _, src := range sn.Sources {
				n += int64(src.NumRows())
			}
			sn.Release()
			hi := started.Load()
			if n < lo || n > hi {
				failed.Store(errors.New("snapshot row count outside the appended range"))
				t.Errorf("snapshot holds %d rows, appended %d..%d", n, lo, hi)
				return
			}
		}
	}()
	for round := 0; round < 12; round++ {
		rows := makeRows(int64(round)*500, 500, spread(3))
		started.Add(500)
		must(t, s.Append(ctx, "ev", toColumns(&sch, rows)))
		appended.Add(500)
		if _, err := s.Handoff(ctx, "ev", farFuture); err != nil {
			t.Fatal(err)
		}
		if round%4 == 3 {
			if _, err := s.Optimize(ctx, "ev", 0, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
	if n, _ := lakeRows(t, dir, "ev"); n != appended.Load() {
		t.Fatalf("lake holds %d rows, appended %d", n, appended.Load())
	}
}

// TestHandoffTimestampWithoutZone hands off a table whose time column is SQL
// timestamp (no zone): the lake stores Delta timestamp, the values come back equal.
func TestHandoffTimestampWithoutZone(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defer s.Close()
	sch := testSchema()
	sch.Columns[1].SQLType = "timestamp"
	_, err := s.CreateTable(catalog.TableDef{Name: "ntz", Schema: sch})
	must(t, err)
	ctx := context.Background()
	rows := makeRows(0, 500, spread(2))
	must(t, s.Append(ctx, "ntz", toColumns(&sch, rows)))
	if _, err := s.Handoff(ctx, "ntz", farFuture); err != nil {
		t.Fatal(err)
	}
	checkRows(t, s, "ntz", rows)
	if n, _ := lakeRows(t, dir, "ntz"); n != 500 {
		t.Fatalf("lake holds %d rows", n)
	}
}

// TestExternalTable reads a Delta table written elsewhere and refuses writes to it.
func TestExternalTable(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defer s.Close()
	ctx := context.Background()
	// Build a Delta table with the store itself, in a table that is then dropped
	// with its lake moved aside first.
	src := createT(t, s, "src")
	sch := testSchema()
	rows := makeRows(0, 700, spread(3))
	must(t, s.Append(ctx, "src", toColumns(&sch, rows)))
	_, err := s.Handoff(ctx, "src", farFuture)
	must(t, err)
	ext := filepath.Join(dir, "lake", "ext") // under the default lake root
	must(t, os.Rename(defaultLake(t, dir, src.Name), ext))
	must(t, s.DropTable("src"))

	def, err := s.CreateExternalTable(ctx, "ext", ext, "ts")
	must(t, err)
	if !IsExternal(&def) || def.Schema.Columns[def.Schema.TimeColumn].Name != "ts" {
		t.Fatalf("external table %+v", def)
	}
	sn, err := s.Snapshot("ext")
	must(t, err)
	var n int
	for _, src := range sn.Sources {
		n += src.NumRows()
	}
	sn.Release()
	if n != len(rows) {
		t.Fatalf("external table holds %d rows, want %d", n, len(rows))
	}
	if err := s.Append(ctx, "ext", toColumns(&def.Schema, nil)); !errors.Is(err, ErrExternal) {
		t.Fatalf("append to an external table: %v", err)
	}
	if err := s.AppendHead("ext", toColumns(&def.Schema, rows[:1])); !errors.Is(err, ErrExternal) {
		t.Fatalf("head append to an external table: %v", err)
	}
	if _, err := s.Begin("ext"); !errors.Is(err, ErrExternal) {
		t.Fatalf("txn on an external table: %v", err)
	}
	// DROP leaves the Delta table alone.
	must(t, s.DropTable("ext"))
	if _, err := os.Stat(filepath.Join(ext, "_delta_log")); err != nil {
		t.Fatalf("external Delta table after DROP: %v", err)
	}
}

// TestSnapshotRangeSplitsRowGroups: a query over part of a large lake file reads
// only the row groups its time range needs; each one's rows are exact.
func TestSnapshotRangeSplitsRowGroups(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Knobs: Knobs{LakeRowGroupRows: 1000}})
	must(t, err)
	defer s.Close()
	sch := testSchema()
	_, err = s.CreateTable(catalog.TableDef{Name: "ev", Schema: sch, Granularity: 24 * time.Hour})
	must(t, err)
	ctx := context.Background()
	// 10,000 rows, one every 5 s over about 14 hours of one day: one file, 10 row groups.
	rows := makeRows(0, 10_000, func(i int) int64 { return base + int64(i)*5_000_000 })
	must(t, s.Append(ctx, "ev", toColumns(&sch, rows)))
	_, err = s.Handoff(ctx, "ev", farFuture)
	must(t, err)

	// The handoff adopted the file's segment into the cache: it serves the whole file.
	whole, err := s.Snapshot("ev")
	must(t, err)
	if len(whole.Sources) != 1 {
		t.Fatalf("unbounded snapshot: %d sources, want the one file", len(whole.Sources))
	}
	if rp, ok := whole.Sources[0].(storage.ReadPath); !ok || rp.ReadPath() != "cache" {
		t.Fatalf("cached file read as %T", whole.Sources[0])
	}
	whole.Release()

	// With the cache emptied the file is read directly, by row group.
	if n := s.cache.EvictIdle(time.Now().Add(time.Hour)); n != 1 {
		t.Fatalf("evicted %d cache entries, want the adopted one", n)
	}
	whole, err = s.Snapshot("ev")
	must(t, err)
	if len(whole.Sources) != 10 {
		t.Fatalf("unbounded snapshot of the uncached file: %d sources, want its 10 row groups", len(whole.Sources))
	}
	whole.Release()

	lo, hi := base+2_500*5_000_000, base+3_499*5_000_000 // rows 2500..3499
	sn, err := s.SnapshotRange(ctx, "ev", lo, hi)
	must(t, err)
	defer sn.Release()
	if len(sn.Sources) != 2 { // row groups 2 and 3 (rows 2000..3999)
		names := []string{}
		for _, src := range sn.Sources {
			names = append(names, src.Name())
		}
		t.Fatalf("range snapshot: sources %v, want row groups 2 and 3", names)
	}
	var got []row
	for _, src := range sn.Sources {
		got = append(got, readSource(t, src)...)
	}
	got = sortedByID(got)
	want := rows[2000:4000]
	if len(got) != len(want) {
		t.Fatalf("%d rows in the row groups, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if st := s.LakeStats().Cache; st.Misses != 0 {
		t.Fatalf("%d lake conversions, want none (the row groups are read directly)", st.Misses)
	}
}

// TestHandoffSharedLakePath: a second strata table (another data directory, same
// table id) handing off into a Delta table a first one wrote must not take the
// first one's txn for its own when it repairs a handoff after a crash.
func TestHandoffSharedLakePath(t *testing.T) {
	ctx := context.Background()
	lakeRoot := t.TempDir()
	lakePath := filepath.Join(lakeRoot, "shared")
	roots := []string{lakeRoot}
	sch := testSchema()
	create := func(s *Store) {
		_, err := s.CreateTable(catalog.TableDef{Name: "ev", Schema: sch, Options: map[string]string{OptLakePath: lakePath}})
		must(t, err)
	}
	first, err := Open(t.TempDir(), Options{LakeRoots: roots})
	must(t, err)
	create(first)
	a := makeRows(0, 300, spread(2))
	must(t, first.Append(ctx, "ev", toColumns(&sch, a)))
	_, err = first.Handoff(ctx, "ev", farFuture)
	must(t, err)
	must(t, first.Close())

	dir := t.TempDir()
	second, err := Open(dir, Options{LakeRoots: roots, Knobs: Knobs{AfterLakeFiles: func() error { return errCrash }}})
	must(t, err)
	create(second)
	b := makeRows(1000, 200, spread(2))
	must(t, second.Append(ctx, "ev", toColumns(&sch, b)))
	if _, err := second.Handoff(ctx, "ev", farFuture); !errors.Is(err, errCrash) {
		t.Fatalf("handoff: %v, want the crash", err)
	}
	must(t, second.Close())
	second, err = Open(dir, Options{LakeRoots: roots})
	must(t, err)
	defer second.Close()
	res, err := second.Handoff(ctx, "ev", farFuture)
	must(t, err)
	if !res.Repaired || res.Segments != 2 {
		t.Fatalf("repair after the crash: %+v, want the two segments handed off again", res)
	}
	snap, err := lake.OpenTable(objstore.LocalAt(lakePath), "").Snapshot(ctx)
	must(t, err)
	if n, err := snap.Count(ctx); err != nil || n != int64(len(a)+len(b)) {
		t.Fatalf("shared Delta table holds %d rows (%v), want %d", n, err, len(a)+len(b))
	}
}

// TestLakeCacheAccelerates: no snapshot waits for a conversion. A file not in
// the lake cache is read directly by row group; once snapshots have read it
// lakesrc.ConvertAfterReads times it is converted in the background, and later
// snapshots read its segment. Both paths give the same rows.
func TestLakeCacheAccelerates(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Knobs: Knobs{LakeRowGroupRows: 1000}})
	must(t, err)
	defer s.Close()
	sch := testSchema()
	_, err = s.CreateTable(catalog.TableDef{Name: "ev", Schema: sch, Granularity: 24 * time.Hour})
	must(t, err)
	ctx := context.Background()
	rows := makeRows(0, 5_000, func(i int) int64 { return base + int64(i)*5_000_000 })
	must(t, s.Append(ctx, "ev", toColumns(&sch, rows)))
	_, err = s.Handoff(ctx, "ev", farFuture)
	must(t, err)
	s.cache.EvictIdle(time.Now().Add(time.Hour)) // forget the adopted segment

	paths := func(sn *Snapshot) map[string]int {
		out := map[string]int{}
		for _, src := range sn.Sources {
			if rp, ok := src.(storage.ReadPath); ok {
				out[rp.ReadPath()]++
			}
		}
		return out
	}
	for i := 1; i <= lakesrc.ConvertAfterReads; i++ {
		sn, err := s.Snapshot("ev")
		must(t, err)
		if p := paths(sn); p["parquet"] != 5 || p["cache"] != 0 {
			t.Fatalf("snapshot %d before conversion: paths %v, want 5 parquet row groups", i, p)
		}
		if got := sortedByID(readSnapshot(t, sn)); len(got) != len(rows) {
			t.Fatalf("snapshot %d: %d rows, want %d", i, len(got), len(rows))
		}
		sn.Release()
	}
	s.WaitLakeCache()
	if st := s.LakeStats().Cache; st.Misses != 1 || st.Entries != 1 || st.ConvertFailures != 0 {
		t.Fatalf("after %d direct reads: cache %+v, want the file converted once", lakesrc.ConvertAfterReads, st)
	}
	sn, err := s.Snapshot("ev")
	must(t, err)
	defer sn.Release()
	if p := paths(sn); p["cache"] != 1 || p["parquet"] != 0 {
		t.Fatalf("snapshot after conversion: paths %v, want the cached segment", p)
	}
	got := sortedByID(readSnapshot(t, sn))
	want := sortedByID(rows)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("cached row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
