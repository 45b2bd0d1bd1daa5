package lakesrc

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// TestRowsWithValues: for every string column of every row group of written
// tables (NULLs, "", several files and row groups) and of the Delta test
// tables, RowsWithValues on a Direct not yet decoded finds exactly the non-NULL
// rows equal to one of the values (present ones, "", one absent), and the
// column then decodes (from the chunk RowsWithValues kept) to the same rows as
// a Direct that never used it.
func TestRowsWithValues(t *testing.T) {
	ctx := context.Background()
	type table struct {
		name string
		snap *lake.Snapshot
		loc  string
		time string
	}
	var tables []table
	schema := testSchema()
	for _, opts := range []lake.WriteOptions{{}, {MaxRowsPerFile: 700, RowGroupRows: 300}} {
		tt := writeTable(t, genColumns(schema, 11, 2000), nil, opts)
		tables = append(tables, table{"written", tt.snap, tt.location, "ts"})
	}
	for name := range manifestCounts(t) {
		snap, err := lake.OpenTable(lake.LocalFolder(deltaTestdata), name).Snapshot(ctx)
		if errors.Is(err, lake.ErrUnsupported) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, table{name, snap, "file:///testdata/" + name, ""})
	}
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	checked := 0
	for _, tb := range tables {
		var sch *storage.Schema
		var deltaCols []string
		if tb.time != "" {
			sch, deltaCols, err = TableSchema(tb.snap, tb.time)
		} else {
			sch, deltaCols, _, err = ReadableSchema(tb.snap, "")
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range tb.snap.Files() {
			ref, err := cache.DirectSources(ctx, tb.loc, tb.snap, f, sch, deltaCols, storage.NoPrune)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range ref {
				cols := readSource(t, want)
				for c, col := range sch.Columns {
					if col.Type != storage.TypeString {
						continue
					}
					vals := []string{"", "\x00absent"}
					for r, v := range cols.Cols[c].String {
						if !cols.IsNull(c, r) && len(vals) < 5 && !slices.Contains(vals, v) {
							vals = append(vals, v)
						}
					}
					for k := 1; k <= len(vals); k++ {
						probe := vals[:k]
						if k > 2 {
							probe = vals[k-1:] // one present value alone, too
						}
						fresh, err := cache.DirectSources(ctx, tb.loc, tb.snap, f, sch, deltaCols, storage.NoPrune)
						if err != nil {
							t.Fatal(err)
						}
						d := fresh[i]
						got, ok, err := d.RowsWithValues(c, probe)
						if err != nil {
							t.Fatalf("%s %s: %v", tb.name, d.Name(), err)
						}
						if !ok {
							continue
						}
						var wantRows []uint32
						for r, v := range cols.Cols[c].String {
							if !cols.IsNull(c, r) && slices.Contains(probe, v) {
								wantRows = append(wantRows, uint32(r))
							}
						}
						if g := got.ToArray(); !slices.Equal(g, wantRows) && !(len(g) == 0 && len(wantRows) == 0) {
							t.Fatalf("%s %s column %s, values %q: rows %v, want %v", tb.name, d.Name(), col.Name, probe, g, wantRows)
						}
						again := readSource(t, d)
						sameMultiset(t, tb.name+" "+d.Name()+" decoded after RowsWithValues", rowKeys(again), rowKeys(cols))
						checked++
					}
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d checks", checked)
	}
	t.Logf("%d checks", checked)
}
