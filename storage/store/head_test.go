package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestHeadPersistRoundTrip appends rows (out of time order, over three chunks) to a
// head, checks a snapshot sees them at once, persists them with offsets, and checks
// the rows moved into segments (none lost, none twice), the offsets committed, and
// that after a reopen (the head is memory only) exactly the persisted rows remain.
func TestHeadPersistRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	def := createT(t, s, "ev")
	base := int64(1_700_000_000_000_000)
	base -= base % hour
	times := func(i int) int64 { return base + int64((i*7919)%(3*1000))*hour/1000 }
	first := makeRows(0, 500, times)
	must(t, s.AppendHead("ev", toColumns(&def.Schema, first)))
	checkRows(t, s, "ev", first)

	f, err := s.Freeze("ev")
	must(t, err)
	if f.Rows() != 500 {
		t.Fatalf("frozen %d rows, want 500", f.Rows())
	}
	second := makeRows(500, 200, times) // appended while f waits: not part of it
	must(t, s.AppendHead("ev", toColumns(&def.Schema, second)))
	must(t, s.PublishFrozen(context.Background(), f, map[string]int64{"topic/0": 500}))
	all := append(append([]row{}, first...), second...)
	checkRows(t, s, "ev", all)
	if rows, _ := s.HeadStats("ev"); rows != 200 {
		t.Fatalf("head holds %d rows after persist, want 200", rows)
	}
	if got := s.Catalog().Offsets("ev")["topic/0"]; got != 500 {
		t.Fatalf("offset topic/0 = %d, want 500", got)
	}
	segs := len(s.Catalog().Segments("ev"))
	if segs != 3 {
		t.Fatalf("%d segments after persisting three chunks, want 3", segs)
	}
	must(t, s.Close())

	s = openT(t, dir)
	defer s.Close()
	checkRows(t, s, "ev", first)
}

// TestHeadPersistConcurrentSnapshots appends to a head and persists it repeatedly
// while readers take snapshots: every snapshot holds at least the rows appended
// before it was taken and at most those whose append began before it returned — a row is never
// missing (between head and segment) nor counted twice.
func TestHeadPersistConcurrentSnapshots(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	def := createT(t, s, "ev")
	base := int64(1_700_000_000_000_000)
	var appended, appending atomic.Int64 // rows whose append returned / began
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := appended.Load()
				sn, err := s.Snapshot("ev")
				if err != nil {
					t.Error(err)
					return
				}
				total := 0
				for _, src := range sn.Sources {
					total += src.NumRows()
				}
				sn.Release()
				after := appending.Load()
				if int64(total) < before || int64(total) > after {
					t.Errorf("snapshot holds %d rows; %d were appended before it, %d after", total, before, after)
					return
				}
			}
		}()
	}
	const batches, per = 200, 50
	for b := 0; b < batches; b++ {
		rows := makeRows(int64(b*per), per, func(i int) int64 { return base + int64(b*per+i)*1000 })
		appending.Add(per)
		must(t, s.AppendHead("ev", toColumns(&def.Schema, rows)))
		appended.Add(per)
		if b%20 == 19 {
			f, err := s.Freeze("ev")
			must(t, err)
			must(t, s.PublishFrozen(context.Background(), f, map[string]int64{"t/0": int64((b + 1) * per)}))
		}
	}
	close(stop)
	wg.Wait()
	var want []row
	for b := 0; b < batches; b++ {
		want = append(want, makeRows(int64(b*per), per, func(i int) int64 { return base + int64(b*per+i)*1000 })...)
	}
	checkRows(t, s, "ev", want)
}

// TestPersistCrash stops a persist after its segment files are written and before
// the catalog batch (segments + offsets) commits, as a crash would: the rows stay
// in the head until the restart; after it the catalog holds the earlier persist's
// segments and offsets only (the appender consumes again from there), exactly the
// earlier rows, and the crashed persist's files are gone.
func TestPersistCrash(t *testing.T) {
	dir := t.TempDir()
	crashes := 0
	s, err := Open(dir, Options{Knobs: Knobs{AfterPersistSegments: func() error {
		if crashes++; crashes == 2 {
			return errCrash
		}
		return nil
	}}})
	must(t, err)
	def := createT(t, s, "ev")
	ctx := context.Background()
	first := makeRows(0, 500, spread(3))
	must(t, s.AppendHead("ev", toColumns(&def.Schema, first)))
	f, err := s.Freeze("ev")
	must(t, err)
	must(t, s.PublishFrozen(ctx, f, map[string]int64{"topic/0": 500}))
	segs := len(s.Catalog().Segments("ev"))

	second := makeRows(500, 300, spread(3))
	must(t, s.AppendHead("ev", toColumns(&def.Schema, second)))
	f, err = s.Freeze("ev")
	must(t, err)
	if err := s.PublishFrozen(ctx, f, map[string]int64{"topic/0": 800}); !errors.Is(err, errCrash) {
		t.Fatalf("persist: %v, want the crash", err)
	}
	all := append(append([]row{}, first...), second...)
	checkRows(t, s, "ev", all) // still in the head
	if onDisk := len(segmentFiles(t, dir)); onDisk != segs+3 {
		t.Fatalf("%d segment files after the crashed persist, want the %d published + 3 written", onDisk, segs)
	}
	must(t, s.Close())

	s = openT(t, dir)
	defer s.Close()
	checkRows(t, s, "ev", first)
	if got := s.Catalog().Offsets("ev")["topic/0"]; got != 500 {
		t.Fatalf("offset topic/0 = %d after the crash, want the earlier persist's 500", got)
	}
	if n := len(s.Catalog().Segments("ev")); n != segs {
		t.Fatalf("%d segments in the catalog, want %d", n, segs)
	}
	if onDisk := len(segmentFiles(t, dir)); onDisk != segs {
		t.Fatalf("%d segment files after the restart, want the %d published (the crashed persist's removed)", onDisk, segs)
	}
}

// TestRetract publishes two persists and takes the second back: its rows and
// segments leave the table (and, after a reopen, the disk), its offsets return
// to the first persist's, and an offset it introduced disappears. A publication
// that is no longer the latest of its sources cannot be taken back.
func TestRetract(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	def := createT(t, s, "ev")
	base := int64(1_700_000_000_000_000)
	base -= base % hour
	times := func(i int) int64 { return base + int64(i)*hour/1000 }
	ctx := context.Background()
	first := makeRows(0, 300, times)
	must(t, s.AppendHead("ev", toColumns(&def.Schema, first)))
	f, err := s.Freeze("ev")
	must(t, err)
	if _, err := s.PublishFrozenAll(ctx, FrozenPart{Frozen: f, Offsets: map[string]int64{"t/0": 300}}); err != nil {
		t.Fatal(err)
	}
	segs := len(s.Catalog().Segments("ev"))

	second := makeRows(300, 200, times)
	must(t, s.AppendHead("ev", toColumns(&def.Schema, second)))
	f, err = s.Freeze("ev")
	must(t, err)
	pub, err := s.PublishFrozenAll(ctx, FrozenPart{Frozen: f, Offsets: map[string]int64{"t/0": 500, "t/1": 7}})
	must(t, err)
	checkRows(t, s, "ev", append(append([]row{}, first...), second...))

	must(t, s.Retract(pub))
	checkRows(t, s, "ev", first)
	offs := s.Catalog().Offsets("ev")
	if _, ok := offs["t/1"]; offs["t/0"] != 300 || ok || len(offs) != 1 {
		t.Fatalf("offsets after the retraction: %v, want t/0 at 300 only", offs)
	}
	if n := len(s.Catalog().Segments("ev")); n != segs {
		t.Fatalf("%d segments after the retraction, want the first persist's %d", n, segs)
	}
	if err := s.Retract(pub); !errors.Is(err, ErrNotRetractable) {
		t.Fatalf("retracting twice: %v, want ErrNotRetractable", err)
	}

	// A later publication of the same source: the earlier one stays.
	third := makeRows(500, 100, times)
	must(t, s.AppendHead("ev", toColumns(&def.Schema, third)))
	f, err = s.Freeze("ev")
	must(t, err)
	pub3, err := s.PublishFrozenAll(ctx, FrozenPart{Frozen: f, Offsets: map[string]int64{"t/0": 600}})
	must(t, err)
	must(t, s.AppendHead("ev", toColumns(&def.Schema, makeRows(600, 10, times))))
	f, err = s.Freeze("ev")
	must(t, err)
	if _, err := s.PublishFrozenAll(ctx, FrozenPart{Frozen: f, Offsets: map[string]int64{"t/0": 610}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Retract(pub3); !errors.Is(err, ErrNotRetractable) {
		t.Fatalf("retracting a publication followed by another: %v, want ErrNotRetractable", err)
	}
	must(t, s.Close())

	s = openT(t, dir)
	defer s.Close()
	want := append(append(append([]row{}, first...), third...), makeRows(600, 10, times)...)
	checkRows(t, s, "ev", want)
	if got := s.Catalog().Offsets("ev")["t/0"]; got != 610 {
		t.Fatalf("offset t/0 after reopen = %d, want 610", got)
	}
	files, err := filepath.Glob(filepath.Join(dir, "segments", "*", "*.seg"))
	must(t, err)
	if n := len(s.Catalog().Segments("ev")); len(files) != n {
		t.Fatalf("%d segment files on disk, want the catalog's %d: %v", len(files), n, files)
	}
}
