package store

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stratadb/strata/storage/catalog"
)

// TestHandoffByOffset: two stores (two processes) share the lake of a Kafka
// table whose lake is the checkpoint of its partitions. A persists two
// partitions' rows into per-partition segments and hands off what it owns, with
// one txn per partition; before it owns anything it reads none of its local rows.
// B takes partition t/1 from the lake's offset, reads it again and hands it off;
// A, still believing it owns t/1, must not commit its copy (ErrSourceMoved, the
// Moved hook), hands off t/0 alone, and after ResetSource holds nothing of t/1.
// Every id is then in the lake exactly once, and each store reads each id once.
// A handoff whose owner check fails commits nothing.
func TestHandoffByOffset(t *testing.T) {
	ctx := context.Background()
	lakeRoot := t.TempDir()
	lakePath := filepath.Join(lakeRoot, "ev")
	sch := testSchema()
	open := func() *Store {
		s, err := Open(t.TempDir(), Options{LakeRoots: []string{lakeRoot}})
		must(t, err)
		t.Cleanup(func() { s.Close() })
		_, err = s.CreateTable(catalog.TableDef{Name: "ev", Schema: sch,
			Options: map[string]string{OptLakePath: lakePath, catalog.OptKafkaTopic: "t"}})
		must(t, err)
		return s
	}
	// persist appends each source's rows to its head and publishes them with the
	// offsets given, as a streaming supervisor does.
	persist := func(s *Store, rows map[string][]row, offsets map[string]int64) {
		t.Helper()
		for src, rs := range rows {
			must(t, s.AppendHeadSource("ev", src, toColumns(&sch, rs)))
		}
		f, err := s.Freeze("ev")
		must(t, err)
		_, err = s.PublishFrozenAll(ctx, FrozenPart{Frozen: f, Offsets: offsets})
		must(t, err)
	}
	a, b := open(), open()

	persist(a, map[string][]row{"t/0": makeRows(0, 100, spread(3)), "t/1": makeRows(100, 100, spread(3))},
		map[string]int64{"t/0": 100, "t/1": 100})
	for _, seg := range a.Catalog().Segments("ev") {
		if seg.Source != "t/0" && seg.Source != "t/1" {
			t.Fatalf("segment %s has source %q: a streaming persist mixes partitions", seg.ID, seg.Source)
		}
	}
	if got := idsOf(t, a, "ev"); len(got) != 0 {
		t.Fatalf("before owning a partition, a reads %d of its local rows", len(got))
	}
	a.SetOwned("ev", []string{"t/0", "t/1"})
	if got := idsOf(t, a, "ev"); !slices.Equal(got, idRange([2]int64{0, 200})) {
		t.Fatalf("a owning both partitions reads %d ids, want 200", len(got))
	}
	res, err := a.Handoff(ctx, "ev", farFuture)
	must(t, err)
	if res.Rows != 200 {
		t.Fatalf("handoff by offset moved %d rows, want all 200 (rows of any time)", res.Rows)
	}
	lakeOffs, err := b.LakeOffsets(ctx, "ev", []string{"t/0", "t/1", "t/2"})
	must(t, err)
	if lakeOffs["t/0"] != 100 || lakeOffs["t/1"] != 100 || len(lakeOffs) != 2 {
		t.Fatalf("lake offsets %v, want t/0 and t/1 at 100", lakeOffs)
	}
	if st := a.Source("ev", "t/0"); !st.HasLake || st.Lake != 100 || st.Segments != 0 {
		t.Fatalf("a's state of t/0 after its handoff: %+v", st)
	}

	// More of both partitions on a; then b takes t/1 from the lake's offset and
	// reads its records 100..150 again.
	persist(a, map[string][]row{"t/0": makeRows(200, 50, spread(3)), "t/1": makeRows(250, 50, spread(3))},
		map[string]int64{"t/0": 150, "t/1": 150})
	must(t, b.ResetSource(ctx, "ev", "t/1", 100, SourceReset{Table: "ev", Lake: 100, HasLake: true}))
	b.SetOwned("ev", []string{"t/1"})
	persist(b, map[string][]row{"t/1": makeRows(250, 50, spread(3))}, map[string]int64{"t/1": 150})
	_, err = b.Handoff(ctx, "ev", farFuture)
	must(t, err)

	var moved []string
	a.SetHandoffHooks("ev", &HandoffHooks{Moved: func(srcs []string) { moved = srcs }})
	res, err = a.Handoff(ctx, "ev", farFuture)
	if !errors.Is(err, ErrSourceMoved) || !slices.Equal(moved, []string{"t/1"}) {
		t.Fatalf("a's handoff of a partition b handed off meanwhile: %v (moved %v), want ErrSourceMoved for t/1", err, moved)
	}
	if res.Rows != 50 {
		t.Fatalf("a handed off %d rows, want t/0's 50 only", res.Rows)
	}
	must(t, a.ResetSource(ctx, "ev", "t/1", 150, SourceReset{Table: "ev", Lake: 150, HasLake: true}))
	if st := a.Source("ev", "t/1"); st.Segments != 0 || st.Lake != 150 || a.Catalog().Offsets("ev")["t/1"] != 150 {
		t.Fatalf("a's t/1 after ResetSource: %+v, offset %d", st, a.Catalog().Offsets("ev")["t/1"])
	}
	all := idRange([2]int64{0, 300})
	for name, s := range map[string]*Store{"a": a, "b": b} {
		// Each reads the lake (all 300 ids, at the latest version) plus its own
		// partitions' rows not handed off (none).
		waitIDs(t, s, "ev", all, 5*DefaultLakeRefresh, name+" reads every id once")
	}

	// An owner check that fails stops the handoff before its Delta commit.
	persist(a, map[string][]row{"t/0": makeRows(300, 10, spread(3))}, map[string]int64{"t/0": 160})
	notOwner := errors.New("not the owner")
	a.SetHandoffHooks("ev", &HandoffHooks{Before: func(context.Context) error { return notOwner }})
	if _, err := a.Handoff(ctx, "ev", farFuture); !errors.Is(err, notOwner) {
		t.Fatalf("handoff with a failing owner check: %v", err)
	}
	if offs, _ := b.LakeOffsets(ctx, "ev", []string{"t/0"}); offs["t/0"] != 150 {
		t.Fatalf("the lake's t/0 offset moved to %d past a failed owner check", offs["t/0"])
	}
	// The offset going back: a resumes t/0 below its catalog offset.
	must(t, a.ResetSource(ctx, "ev", "t/0", 150, SourceReset{Table: "ev", Lake: 150, HasLake: true}))
	if o := a.Catalog().Offsets("ev")["t/0"]; o != 150 {
		t.Fatalf("t/0's catalog offset after ResetSource to 150: %d", o)
	}
	waitIDs(t, a, "ev", all, 5*DefaultLakeRefresh, "a after dropping its rows past the lake")
}
