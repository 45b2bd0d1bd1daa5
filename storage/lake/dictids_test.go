package lake

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// dictTestFile writes rows string values (nil: NULL) of column "s" as one
// Parquet file with props, committed as table t in dir with an inline
// deletion vector deleting deleted (file row numbers; none: no DV).
func dictTestFile(t *testing.T, dir string, vals []*string, props *parquet.WriterProperties, deleted []uint64) *Snapshot {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	for _, v := range vals {
		if v == nil {
			b.AppendNull()
		} else {
			b.Append(*v)
		}
	}
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecordBatch(sc, []arrow.Array{col}, int64(len(vals)))
	defer rec.Release()
	p := filepath.Join(dir, "t", "f.parquet")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(sc, out, props, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	meta := replaceOnce(testMeta, `\"name\":\"a\",\"type\":\"long\"`, `\"name\":\"s\",\"type\":\"string\"`)
	add := fmt.Sprintf(`{"add":{"path":"f.parquet","partitionValues":{},"size":%d,"modificationTime":1,"dataChange":true}}`, st.Size())
	protocol := `{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}`
	if len(deleted) > 0 {
		raw := dvBytes(t, deleted)
		protocol = `{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}}`
		add = fmt.Sprintf(`{"add":{"path":"f.parquet","partitionValues":{},"size":%d,"modificationTime":1,"dataChange":true,"deletionVector":{"storageType":"i","pathOrInlineDv":%q,"sizeInBytes":%d,"cardinality":%d}}}`,
			st.Size(), encodeZ85(raw), len(raw), len(deleted))
	}
	fsys := writeLog(t, dir, protocol+"\n"+meta+"\n"+add+"\n")
	s, err := OpenTable(fsys, "t").Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReadDictIDs writes string columns with arrow-go's Parquet writer (the
// values made here, Zipf-distributed, some NULL) in data pages V1 and V2, with
// pages of a few hundred rows, several row groups and a deletion vector, and
// checks that ReadDictIDs gives every live row's value and NULL as the test
// generated them. A column whose dictionary outgrows the writer's limit falls
// back to PLAIN pages, and one written without dictionary has PLAIN pages
// only: ReadDictIDs reads both (their values appended to Values). A chunk in
// an encoding it does not decode (DELTA_LENGTH_BYTE_ARRAY) is declined (ok
// false) and ReadColumn still reads the generated values.
func TestReadDictIDs(t *testing.T) {
	ctx := context.Background()
	const rows = 20_000
	r := rand.New(rand.NewPCG(7, 8))
	zipf := rand.NewZipf(r, 1.1, 2, 3000)
	vals := make([]*string, rows)
	for i := range vals {
		if r.IntN(10) == 0 {
			continue
		}
		s := fmt.Sprintf("user-%d", zipf.Uint64())
		vals[i] = &s
	}
	deleted := []uint64{0, 5, 4999, 5000, 12_345, rows - 1}
	for i := 0; i < 300; i++ {
		deleted = append(deleted, uint64(r.IntN(rows)))
	}
	isDeleted := map[uint64]bool{}
	for _, d := range deleted {
		isDeleted[d] = true
	}
	deleted = deleted[:0]
	for d := range isDeleted {
		deleted = append(deleted, d)
	}
	cases := []struct {
		name     string
		props    []parquet.WriterProperty
		deleted  []uint64
		plain    bool // some data pages must be PLAIN
		declined bool
	}{
		{name: "v1", props: []parquet.WriterProperty{parquet.WithDataPageVersion(parquet.DataPageV1)}},
		{name: "v2", props: []parquet.WriterProperty{parquet.WithDataPageVersion(parquet.DataPageV2)}},
		{name: "v1-dv", props: []parquet.WriterProperty{parquet.WithDataPageVersion(parquet.DataPageV1)}, deleted: deleted},
		{name: "v2-dv-snappy", props: []parquet.WriterProperty{parquet.WithDataPageVersion(parquet.DataPageV2),
			parquet.WithCompression(compress.Codecs.Snappy)}, deleted: deleted},
		{name: "fallback", props: []parquet.WriterProperty{parquet.WithDictionaryPageSizeLimit(2000)}, plain: true},
		{name: "fallback-v2-dv", props: []parquet.WriterProperty{parquet.WithDictionaryPageSizeLimit(2000),
			parquet.WithDataPageVersion(parquet.DataPageV2)}, deleted: deleted, plain: true},
		{name: "plain", props: []parquet.WriterProperty{parquet.WithDictionaryDefault(false)}, plain: true},
		{name: "plain-v2-dv", props: []parquet.WriterProperty{parquet.WithDictionaryDefault(false),
			parquet.WithDataPageVersion(parquet.DataPageV2)}, deleted: deleted, plain: true},
		{name: "delta-length", props: []parquet.WriterProperty{parquet.WithDictionaryDefault(false),
			parquet.WithEncoding(parquet.Encodings.DeltaLengthByteArray)}, declined: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			props := parquet.NewWriterProperties(append([]parquet.WriterProperty{
				parquet.WithMaxRowGroupLength(5000), parquet.WithDataPageSize(512),
				parquet.WithCompression(compress.Codecs.Zstd), parquet.WithDictionaryDefault(true)}, tc.props...)...)
			snap := dictTestFile(t, t.TempDir(), vals, props, tc.deleted)
			df, err := snap.OpenDataFile(ctx, snap.Files()[0])
			if err != nil {
				t.Fatal(err)
			}
			if df.NumRowGroups() != 4 {
				t.Fatalf("%d row groups, want 4", df.NumRowGroups())
			}
			var want, got []string
			for i, v := range vals {
				if tc.deleted != nil && isDeleted[uint64(i)] {
					continue
				}
				if v == nil {
					want = append(want, "NULL")
				} else {
					want = append(want, *v)
				}
			}
			pages := 0
			for rg := range df.NumRowGroups() {
				cc, _ := df.meta.RowGroup(rg).ColumnChunk(0)
				pages += int(cc.TotalUncompressedSize() / 512)
				di, ok, err := df.ReadDictIDs(ctx, rg, "s", nil)
				if err != nil {
					t.Fatal(err)
				}
				if ok == tc.declined {
					t.Fatalf("row group %d: ReadDictIDs ok = %v", rg, ok)
				}
				if tc.plain && rg == 0 && !slices.ContainsFunc(cc.EncodingStats(), func(e metadata.PageEncodingStats) bool {
					return (e.PageType == file.PageTypeDataPage || e.PageType == file.PageTypeDataPageV2) && e.Encoding == parquet.Encodings.Plain
				}) {
					t.Fatalf("row group 0 has no PLAIN data page: %v", cc.EncodingStats())
				}
				if !ok {
					chunks, err := df.ReadColumn(ctx, rg, "s", false)
					if err != nil {
						t.Fatal(err)
					}
					for _, c := range chunks {
						for i := 0; i < c.Len(); i++ {
							if c.IsNull(i) {
								got = append(got, "NULL")
							} else {
								got = append(got, c.(*array.String).Value(i))
							}
						}
						c.Release()
					}
					continue
				}
				if int64(len(di.IDs)) != df.RowGroupRows(rg) {
					t.Fatalf("row group %d: %d ids for %d live rows", rg, len(di.IDs), df.RowGroupRows(rg))
				}
				ni := 0
				for r, id := range di.IDs {
					if ni < len(di.Nulls) && di.Nulls[ni] == uint32(r) {
						ni++
						got = append(got, "NULL")
						continue
					}
					got = append(got, di.Values[id])
				}
				if ni != len(di.Nulls) {
					t.Fatalf("row group %d: Nulls not ascending live rows: %v", rg, di.Nulls)
				}
			}
			if pages < 20 {
				t.Fatalf("only about %d pages: the test wants many", pages)
			}
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("live row %d: %q, want %q", i, got[i], want[i])
				}
			}
			if tc.deleted != nil || tc.declined {
				return
			}
			// Rows [1234, 3456) of row group 1, pages before them skipped.
			const lo, hi = 1234, 3456
			di, ok, err := df.ReadDictIDsRange(ctx, 1, "s", lo, hi)
			if err != nil || !ok {
				t.Fatalf("ReadDictIDsRange: %v, %v", ok, err)
			}
			if len(di.IDs) != hi-lo {
				t.Fatalf("ReadDictIDsRange: %d ids for %d rows", len(di.IDs), hi-lo)
			}
			ni := 0
			for r, id := range di.IDs {
				v := "NULL"
				if ni < len(di.Nulls) && di.Nulls[ni] == uint32(r) {
					ni++
				} else {
					v = di.Values[id]
				}
				if w := want[5000+lo+r]; v != w {
					t.Fatalf("ReadDictIDsRange: row %d: %q, want %q", lo+r, v, w)
				}
			}
		})
	}
}

// TestDecodeHybridCorrupt: truncated or inconsistent runs are errors wrapping
// storage.ErrCorrupt, never a panic or values invented.
func TestDecodeHybridCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		b     []byte
		n     int
		width int
	}{
		{"empty", nil, 3, 2},
		{"bad varint", []byte{0x80, 0x80}, 3, 2},
		{"repeated run without value", []byte{6}, 3, 2},
		{"repeated value too wide", []byte{6, 9}, 3, 2},
		{"empty repeated run", []byte{0, 1}, 3, 2},
		{"empty bit-packed run", []byte{1}, 3, 2},
		{"bit-packed run without bytes", []byte{3}, 3, 2},
		{"short", []byte{4, 1}, 3, 2}, // 2 copies of 1, 3 wanted
		{"width", []byte{4, 1}, 1, 33},
	} {
		dst := make([]uint32, tc.n)
		if err := decodeHybrid(dst, tc.b, tc.width); err == nil {
			t.Errorf("%s: no error (got %v)", tc.name, dst)
		}
	}
	dst := make([]uint32, 10)
	// 3 copies of 2 (repeated run), then one group of 8 values of 2 bits:
	// 0,1,2,3,0,1,2,3 packed LSB first.
	if err := decodeHybrid(dst, []byte{6, 2, 3, 0b11100100, 0b11100100}, 2); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(dst); got != "[2 2 2 0 1 2 3 0 1 2]" {
		t.Fatalf("decoded %s", got)
	}
}
