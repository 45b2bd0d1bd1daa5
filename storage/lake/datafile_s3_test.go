package lake_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/objstore/s3fault"
)

// countingFS counts the requests and bytes read from data files.
type countingFS struct {
	objstore.Store
	gets, bytes atomic.Int64
}

func (c *countingFS) data(key string) bool {
	return strings.HasSuffix(key, ".parquet") && !strings.Contains(key, "_delta_log/")
}

func (c *countingFS) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := c.Store.Get(ctx, key)
	if c.data(key) {
		c.gets.Add(1)
		c.bytes.Add(int64(len(b)))
	}
	return b, err
}

func (c *countingFS) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	b, err := c.Store.GetRange(ctx, key, off, n)
	if c.data(key) {
		c.gets.Add(1)
		c.bytes.Add(int64(len(b)))
	}
	return b, err
}

// wideBatch is rows of a 12-column table (a time column, text, integers and
// floats of random values, so no column compresses away).
func wideBatch(rows int) arrow.RecordBatch {
	fields := []arrow.Field{{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}}}
	for i := 1; i < 12; i++ {
		t := []arrow.DataType{arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64}[i%3]
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("c%d", i), Type: t, Nullable: true})
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range rows {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(1_790_000_000_000_000 + int64(i)*1000))
		for c := 1; c < 12; c++ {
			switch fb := b.Field(c).(type) {
			case *array.StringBuilder:
				fb.Append(fmt.Sprintf("v%d", r.IntN(5000)))
			case *array.Int64Builder:
				fb.Append(r.Int64N(1 << 40))
			case *array.Float64Builder:
				fb.Append(r.Float64())
			}
		}
	}
	return b.NewRecordBatch()
}

// TestDataFileS3ReadsOnlyNeededChunks reads one column of a 12-column lake
// file on a real S3 server (versitygw), directly and through a proxy that
// breaks about 15% of requests: the footer and that column's chunks are
// fetched, never the whole file (under 20% of its bytes), and the values are
// the ones written.
func TestDataFileS3ReadsOnlyNeededChunks(t *testing.T) {
	const bucket = "direct"
	srv := startVersitygw(t, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	direct := openS3(t, srv.Endpoint, bucket, objstore.Options{})
	rec := wideBatch(60_000)
	defer rec.Release()
	schema, err := lake.SchemaFromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := lake.CreateTable(ctx, direct, "wide", schema, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adds, err := lake.WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, lake.WriteOptions{RowGroupRows: 20_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Commit(ctx, tbl, snap.Version, lake.AddActions(adds), "WRITE", nil); err != nil {
		t.Fatal(err)
	}
	want := rec.Column(4).(*array.Int64).Int64Values() // c4

	proxy := s3fault.New(srv.Endpoint, s3fault.Config{Seed: 5, Fail5xx: 0.08, FailAfter: 0.07})
	defer proxy.Close()
	faulty := openS3(t, proxy.URL(), bucket, objstore.Options{MaxAttempts: 8, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	for _, tc := range []struct {
		name  string
		store objstore.Store
	}{{"direct", direct}, {"faults", faulty}} {
		t.Run(tc.name, func(t *testing.T) {
			cfs := &countingFS{Store: tc.store}
			snap, err := lake.OpenTable(cfs, "wide").Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			f := snap.Files()[0]
			df, err := snap.OpenDataFile(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if df.NumRowGroups() != 3 {
				t.Fatalf("%d row groups, want 3", df.NumRowGroups())
			}
			var got []int64
			for rg := range df.NumRowGroups() {
				chunks, err := df.ReadColumn(ctx, rg, "c4", true)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range chunks {
					got = append(got, c.(*array.Int64).Int64Values()...)
					c.Release()
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d values, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("value %d = %d, want %d", i, got[i], want[i])
				}
			}
			read := cfs.bytes.Load()
			t.Logf("file %d bytes; read %d bytes (%.1f%%) in %d requests; proxy %s", f.Size, read, 100*float64(read)/float64(f.Size), cfs.gets.Load(), proxy.Counts())
			if read*5 >= f.Size {
				t.Fatalf("read %d of %d bytes for one column of twelve", read, f.Size)
			}
		})
	}
}

// countingStore counts the range GETs reaching an object store.
type countingStore struct {
	objstore.Store
	gets, bytes atomic.Int64
}

func (c *countingStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	b, err := c.Store.GetRange(ctx, key, off, n)
	if strings.HasSuffix(key, ".parquet") && !strings.Contains(key, "_delta_log/") {
		c.gets.Add(1)
		c.bytes.Add(int64(len(b)))
	}
	return b, err
}

// TestDataFileS3FetchChunks reads three of twelve columns of a lake file on a
// real S3 server (versitygw), directly and through a proxy that breaks about
// 15% of requests, with FetchChunks: the chunks of a row group come in fewer
// GETs than columns, decoding them reads nothing more, the values are the ones
// written, and a second reader finds footer and chunks in the local byte-range
// cache (objstore.Cached) without a GET.
func TestDataFileS3FetchChunks(t *testing.T) {
	const bucket = "chunks"
	srv := startVersitygw(t, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	direct := openS3(t, srv.Endpoint, bucket, objstore.Options{})
	rec := wideBatch(60_000)
	defer rec.Release()
	schema, err := lake.SchemaFromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := lake.CreateTable(ctx, direct, "wide", schema, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adds, err := lake.WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, lake.WriteOptions{RowGroupRows: 20_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Commit(ctx, tbl, snap.Version, lake.AddActions(adds), "WRITE", nil); err != nil {
		t.Fatal(err)
	}
	cols := []string{"c2", "c4", "c5"} // float, int, text: chunks with others between them
	proxy := s3fault.New(srv.Endpoint, s3fault.Config{Seed: 9, Fail5xx: 0.08, FailAfter: 0.07})
	defer proxy.Close()
	faulty := openS3(t, proxy.URL(), bucket, objstore.Options{MaxAttempts: 8, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	for _, tc := range []struct {
		name  string
		store objstore.Store
	}{{"direct", direct}, {"faults", faulty}} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &countingStore{Store: tc.store}
			cached := objstore.NewCachedFilter(inner, t.TempDir(), 1<<30, func(key string) bool { return strings.HasSuffix(key, ".parquet") })
			read := func(pass int) (gets int64) {
				snap, err := lake.OpenTable(cached, "wide").Snapshot(ctx)
				if err != nil {
					t.Fatal(err)
				}
				before := inner.gets.Load()
				df, err := snap.OpenDataFile(ctx, snap.Files()[0])
				if err != nil {
					t.Fatal(err)
				}
				base := 0
				for rg := range df.NumRowGroups() {
					g0 := inner.gets.Load()
					pre, err := df.FetchChunks(ctx, rg, cols)
					if err != nil {
						t.Fatal(err)
					}
					fetched := inner.gets.Load() - g0
					if pass == 0 && (fetched == 0 || fetched >= int64(len(cols))) {
						t.Fatalf("row group %d: %d GETs for %d column chunks", rg, fetched, len(cols))
					}
					n := 0
					for _, c := range cols {
						g1 := inner.gets.Load()
						chunks, err := df.ReadColumnWith(ctx, rg, c, true, pre)
						if err != nil {
							t.Fatal(err)
						}
						if g := inner.gets.Load() - g1; g != 0 {
							t.Fatalf("row group %d column %s: %d GETs after FetchChunks", rg, c, g)
						}
						idx := rec.Schema().FieldIndices(c)[0]
						n = 0
						for _, ch := range chunks {
							for i := 0; i < ch.Len(); i++ {
								if got, want := valueString(ch, i), valueString(rec.Column(idx), base+n); got != want {
									t.Fatalf("row group %d column %s row %d: %s, want %s", rg, c, n, got, want)
								}
								n++
							}
							ch.Release()
						}
					}
					base += n
				}
				if base != int(rec.NumRows()) {
					t.Fatalf("%d rows read, want %d", base, rec.NumRows())
				}
				return inner.gets.Load() - before
			}
			first := read(0)
			if again := read(1); again != 0 {
				t.Fatalf("second reader: %d GETs, want 0 (footer and chunks cached)", again)
			}
			t.Logf("first reader: %d GETs, %d bytes; proxy %s", first, inner.bytes.Load(), proxy.Counts())
		})
	}
}

// valueString renders value i of a (dictionary arrays through their values).
func valueString(a arrow.Array, i int) string {
	if d, ok := a.(*array.Dictionary); ok {
		return d.Dictionary().ValueStr(d.GetValueIndex(i))
	}
	return a.ValueStr(i)
}
