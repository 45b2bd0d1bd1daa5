package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/storage/catalog"
)

// TestFollowerSnapshotRule: a owns partition t/0 of a table whose lake is the
// checkpoint and hands it off by offset every few persists; b follows t/0
// (AppendFollow, record offset = id) and refreshes its lake every millisecond
// while its queries run. Every snapshot of b must hold the ids [0, X) exactly
// once for some X that never goes back: the lake at V plus the follower rows
// at or past V's offset, taken atomically with V while lake refreshes install
// newer versions and the follower trims rows below them. Without the rule (the
// follower head's rows all read) or with the lake version and the follower
// views taken apart, ids repeat or go missing.
func TestFollowerSnapshotRule(t *testing.T) {
	ctx := context.Background()
	lakeRoot := t.TempDir()
	sch := testSchema()
	open := func() *Store {
		s, err := Open(t.TempDir(), Options{LakeRoots: []string{lakeRoot}})
		must(t, err)
		t.Cleanup(func() { s.Close() })
		_, err = s.CreateTable(catalog.TableDef{Name: "ev", Schema: sch, Options: map[string]string{
			OptLakePath: filepath.Join(lakeRoot, "ev"), catalog.OptKafkaTopic: "t", catalog.OptLakeRefresh: "1ms"}})
		must(t, err)
		return s
	}
	a, b := open(), open()
	a.SetOwned("ev", []string{"t/0"})
	const batches, per = 60, 40
	done := make(chan error, 1)
	var appended sync.Map // "n": ids b's follower holds below n
	appended.Store("n", int64(0))
	go func() {
		done <- func() error {
			for k := range batches {
				rows := makeRows(int64(k*per), per, spread(3))
				offs := make([]int64, per)
				for i := range offs {
					offs[i] = int64(k*per + i)
				}
				if err := b.AppendFollow("ev", "t/0", toColumns(&sch, rows), offs); err != nil {
					return err
				}
				appended.Store("n", int64((k+1)*per))
				if err := a.AppendHeadSource("ev", "t/0", toColumns(&sch, rows)); err != nil {
					return err
				}
				f, err := a.Freeze("ev")
				if err != nil {
					return err
				}
				if _, err := a.PublishFrozenAll(ctx, FrozenPart{Frozen: f, Offsets: map[string]int64{"t/0": int64((k + 1) * per)}}); err != nil {
					return err
				}
				if k%3 == 2 {
					if _, err := a.Handoff(ctx, "ev", farFuture); err != nil {
						return err
					}
				}
			}
			_, err := a.Handoff(ctx, "ev", farFuture)
			return err
		}()
	}()
	check := func(final bool) (int64, error) {
		before, _ := appended.Load("n")
		sn, err := b.Snapshot("ev")
		if err != nil {
			return 0, err
		}
		defer sn.Release()
		var ids []int64
		for _, r := range readSnapshot(t, sn) {
			ids = append(ids, r.id)
		}
		slices.Sort(ids)
		for i, id := range ids {
			if id != int64(i) {
				return 0, fmt.Errorf("snapshot at lake version %d: %d rows, row %d is id %d: not [0, %d) exactly once", sn.LakeVersion, len(ids), i, id, len(ids))
			}
		}
		if n := int64(len(ids)); n < before.(int64) {
			return 0, fmt.Errorf("snapshot at lake version %d: ids [0, %d), but the follower held [0, %d) before it was taken", sn.LakeVersion, n, before)
		}
		return int64(len(ids)), nil
	}
	var last int64
	snapshots, versions := 0, map[int64]bool{}
	for running := true; running; {
		select {
		case err := <-done:
			must(t, err)
			running = false
		default:
		}
		n, err := check(false)
		must(t, err)
		if n < last {
			t.Fatalf("b's snapshot went back from %d ids to %d", last, n)
		}
		last = n
		snapshots++
		v, _, _ := b.LakeInfo("ev")
		versions[v] = true
	}
	// b catches up with a's last handoff; its follower rows all lie below it
	// then, and are trimmed at the next append.
	want := int64(batches * per)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := check(true)
		must(t, err)
		if off, ok := b.SnapshotLakeOffset("ev", "t/0"); n == want && ok && off == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b holds %d ids, want %d", n, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := b.Following("ev")["t/0"]; st.Rows == 0 {
		t.Fatalf("b's follower of t/0 holds no rows before its trim: nothing to test")
	}
	if n := b.TrimFollowers("ev"); n == 0 || b.Following("ev")["t/0"].Rows != 0 {
		t.Fatalf("TrimFollowers dropped %d rows and left %d, want every row (all below the lake's offset %d)", n, b.Following("ev")["t/0"].Rows, want)
	}
	must(t, b.AppendFollow("ev", "t/0", toColumns(&sch, makeRows(want, 1, spread(1))), []int64{want}))
	if st := b.Following("ev")["t/0"]; st.Rows != 1 || st.LakeOffset != want {
		t.Fatalf("b's follower of t/0 after the lake passed its rows: %+v, want the one row past the lake's offset %d", st, want)
	}
	t.Logf("%d snapshots of b over %d lake versions, each [0, X) exactly once", snapshots, len(versions))
	if len(versions) < 3 {
		t.Fatalf("b's snapshots saw %d lake versions: the lake did not advance under them", len(versions))
	}
}

// TestZombieWindow: a owns t/0 and holds rows of it not handed off; the group
// moves t/0 to b, which resumes from the lake's offset, reads the same records
// again and hands them off, before a notices. From the moment a's lake refresh
// installs b's version, a's queries leave out its own rows of t/0 (some are
// in that version) rather than count them twice, and a's owner is told
// (HandoffHooks.Moved); a handoff of them is refused (ErrSourceMoved).
func TestZombieWindow(t *testing.T) {
	ctx := context.Background()
	lakeRoot := t.TempDir()
	sch := testSchema()
	open := func() *Store {
		s, err := Open(t.TempDir(), Options{LakeRoots: []string{lakeRoot}})
		must(t, err)
		t.Cleanup(func() { s.Close() })
		_, err = s.CreateTable(catalog.TableDef{Name: "ev", Schema: sch, Options: map[string]string{
			OptLakePath: filepath.Join(lakeRoot, "ev"), catalog.OptKafkaTopic: "t", catalog.OptLakeRefresh: "1ms"}})
		must(t, err)
		return s
	}
	persist := func(s *Store, first, n int) {
		t.Helper()
		must(t, s.AppendHeadSource("ev", "t/0", toColumns(&sch, makeRows(int64(first), n, spread(3)))))
		f, err := s.Freeze("ev")
		must(t, err)
		_, err = s.PublishFrozenAll(ctx, FrozenPart{Frozen: f, Offsets: map[string]int64{"t/0": int64(first + n)}})
		must(t, err)
	}
	a, b := open(), open()
	a.SetOwned("ev", []string{"t/0"})
	persist(a, 0, 100)
	_, err := a.Handoff(ctx, "ev", farFuture)
	must(t, err)
	persist(a, 100, 50) // [100, 150) on a only
	moved := make(chan []string, 4)
	a.SetHandoffHooks("ev", &HandoffHooks{Moved: func(srcs []string) { moved <- srcs }})
	waitIDs(t, a, "ev", idRange([2]int64{0, 150}), time.Second, "a owning t/0")

	// b takes t/0 at the lake's offset 100, reads [100, 180) and hands it off.
	must(t, b.ResetSource(ctx, "ev", "t/0", 100, SourceReset{Table: "ev", Lake: 100, HasLake: true}))
	b.SetOwned("ev", []string{"t/0"})
	persist(b, 100, 80)
	_, err = b.Handoff(ctx, "ev", farFuture)
	must(t, err)

	// a, still owning t/0, follows the lake: [0, 180) from the lake, none of
	// its own [100, 150) — never 230 rows.
	waitIDs(t, a, "ev", idRange([2]int64{0, 180}), 5*time.Second, "a after b's handoff of t/0")
	select {
	case srcs := <-moved:
		if !slices.Equal(srcs, []string{"t/0"}) {
			t.Fatalf("Moved told %v, want [t/0]", srcs)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a's owner was not told that t/0 moved in the lake")
	}
	if _, err := a.Handoff(ctx, "ev", farFuture); !errors.Is(err, ErrSourceMoved) {
		t.Fatalf("a's handoff of rows below b's offset: %v, want ErrSourceMoved", err)
	}
	waitIDs(t, a, "ev", idRange([2]int64{0, 180}), time.Second, "a after its refused handoff")
}
