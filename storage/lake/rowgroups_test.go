package lake

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// TestRowGroups checks each row group's row count and time bounds from the footer
// against the rows read back from that row group alone.
func TestRowGroups(t *testing.T) {
	ctx := context.Background()
	tbl, _ := newTestTable(t, nil)
	appendRows(t, tbl, makeRows(0, 3000), WriteOptions{RowGroupRows: 100})
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	groups := 0
	for _, f := range snap.Files() {
		rgs, err := snap.RowGroups(ctx, f, "ts")
		if err != nil {
			t.Fatal(err)
		}
		if len(rgs) < 2 {
			t.Fatalf("%s: %d row groups, want several", f.DecodedPath, len(rgs))
		}
		var total int64
		for i, rg := range rgs {
			var n, lo, hi int64
			err := snap.ReadFileRowGroups(ctx, f, []string{"ts"}, func(k int, _ *metadata.RowGroupMetaData) bool { return k == i },
				func(rec arrow.RecordBatch) error {
					ts := rec.Column(0).(*array.Timestamp)
					for r := 0; r < ts.Len(); r++ {
						v := int64(ts.Value(r))
						if n == 0 || v < lo {
							lo = v
						}
						if n == 0 || v > hi {
							hi = v
						}
						n++
					}
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if !rg.HasTime || rg.Rows != n || rg.MinTime != lo || rg.MaxTime != hi {
				t.Fatalf("%s row group %d: footer %+v, rows read %d in [%d, %d]", f.DecodedPath, i, rg, n, lo, hi)
			}
			total += rg.Rows
		}
		st, err := f.ParsedStats()
		if err != nil || st.NumRecords == nil || *st.NumRecords != total {
			t.Fatalf("%s: row groups hold %d rows, stats %v (%v)", f.DecodedPath, total, st, err)
		}
		groups += len(rgs)
		// A partition column or an unknown one has no footer statistics.
		if rgs, err := snap.RowGroups(ctx, f, "day"); err != nil || rgs[0].HasTime {
			t.Fatalf("RowGroups by a partition column: %+v, %v", rgs, err)
		}
	}
	t.Logf("%d files, %d row groups", len(snap.Files()), groups)
}
