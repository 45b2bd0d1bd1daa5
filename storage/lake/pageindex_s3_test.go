package lake_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
)

// TestPageRangesS3 writes a 300,000-row lake file with strata's writer on a
// real S3 server (versitygw): a rising timestamp, a text column of 3,000
// values (every tenth row NULL) and an integer column. The page index
// locates the pages of rows [150,000, 152,000); ReadValuesRange and
// ReadDictIDsRange read exactly the generated values (and NULLs) of those
// rows, fetching under a fifth of the bytes of a read of the whole chunks.
func TestPageRangesS3(t *testing.T) {
	const bucket = "pages"
	srv := startVersitygw(t, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store := openS3(t, srv.Endpoint, bucket, objstore.Options{})
	const n = 300_000
	const t0 = int64(1_790_000_000_000_000)
	fields := []arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	sval := func(r int) string { return fmt.Sprintf("user-%d", (r*7919)%3000) }
	for r := range n {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(t0 + int64(r)*1000))
		if r%10 == 0 {
			b.Field(1).(*array.StringBuilder).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(sval(r))
		}
		b.Field(2).(*array.Int64Builder).Append(int64(r % 100))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	schema, err := lake.SchemaFromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := lake.CreateTable(ctx, store, "pages", schema, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adds, err := lake.WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, lake.WriteOptions{RowGroupRows: n})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Commit(ctx, tbl, snap.Version, lake.AddActions(adds), "WRITE", nil); err != nil {
		t.Fatal(err)
	}

	cfs := &countingStore{Store: store}
	snap, err = lake.OpenTable(cfs, "pages").Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	df, err := snap.OpenDataFile(ctx, snap.Files()[0])
	if err != nil {
		t.Fatal(err)
	}
	pages, err := df.Pages(ctx, 0, []string{"ts", "s", "v"})
	if err != nil {
		t.Fatal(err)
	}
	for i, ps := range pages {
		if len(ps) < 4 {
			t.Fatalf("column %d: %d pages in the page index, want several", i, len(ps))
		}
	}
	// The page index bounds hold the generated values.
	for _, p := range pages[0] {
		lo, hi := t0+p.FirstRow*1000, t0+(p.FirstRow+p.Rows-1)*1000
		if !p.HasMinMax || p.Min.(int64) != lo || p.Max.(int64) != hi {
			t.Fatalf("ts page of rows [%d, %d): bounds %v..%v, want %d..%d", p.FirstRow, p.FirstRow+p.Rows, p.Min, p.Max, lo, hi)
		}
	}
	const lo, hi = 150_000, 152_000
	before := cfs.bytes.Load()
	ts, ok, err := df.ReadValuesRange(ctx, 0, "ts", lo, hi)
	if err != nil || !ok {
		t.Fatalf("ReadValuesRange(ts): %v, %v", ok, err)
	}
	ids, ok, err := df.ReadDictIDsRange(ctx, 0, "s", lo, hi)
	if err != nil || !ok {
		t.Fatalf("ReadDictIDsRange(s): %v, %v", ok, err)
	}
	vs, ok, err := df.ReadValuesRange(ctx, 0, "v", lo, hi)
	if err != nil || !ok {
		t.Fatalf("ReadValuesRange(v): %v, %v", ok, err)
	}
	rangeBytes := cfs.bytes.Load() - before
	if len(ts.Int64) != hi-lo || len(ids.IDs) != hi-lo || len(vs.Int64) != hi-lo {
		t.Fatalf("%d, %d, %d values for %d rows", len(ts.Int64), len(ids.IDs), len(vs.Int64), hi-lo)
	}
	ni := 0
	for i := range hi - lo {
		r := lo + i
		if ts.Int64[i] != t0+int64(r)*1000 || vs.Int64[i] != int64(r%100) {
			t.Fatalf("row %d: ts %d, v %d", r, ts.Int64[i], vs.Int64[i])
		}
		null := ni < len(ids.Nulls) && ids.Nulls[ni] == uint32(i)
		if null {
			ni++
		}
		if null != (r%10 == 0) || !null && ids.Values[ids.IDs[i]] != sval(r) {
			t.Fatalf("row %d: s NULL %v, %q; want %q", r, null, ids.Values[ids.IDs[i]], sval(r))
		}
	}
	if ni != len(ids.Nulls) || len(ts.Nulls) != 0 || len(vs.Nulls) != 0 {
		t.Fatalf("NULLs: %d of s read, %d left; ts %d, v %d", ni, len(ids.Nulls)-ni, len(ts.Nulls), len(vs.Nulls))
	}

	before = cfs.bytes.Load()
	for _, c := range []string{"ts", "s", "v"} {
		chunks, err := df.ReadColumn(ctx, 0, c, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range chunks {
			a.Release()
		}
	}
	fullBytes := cfs.bytes.Load() - before
	t.Logf("rows [%d, %d) of %d: %d bytes; the whole chunks: %d bytes", lo, hi, n, rangeBytes, fullBytes)
	if rangeBytes*5 > fullBytes {
		t.Fatalf("read %d bytes for %d of %d rows; the whole chunks are %d", rangeBytes, hi-lo, n, fullBytes)
	}
}
