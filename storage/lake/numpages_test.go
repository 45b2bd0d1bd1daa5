package lake

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// numTestColumns are the columns of TestReadValues: Delta name and type,
// Arrow type written.
var numTestColumns = []struct {
	name, delta string
	typ         arrow.DataType
}{
	{"i32", "integer", arrow.PrimitiveTypes.Int32},
	{"i64", "long", arrow.PrimitiveTypes.Int64},
	{"f32", "float", arrow.PrimitiveTypes.Float32},
	{"f64", "double", arrow.PrimitiveTypes.Float64},
	{"b", "boolean", arrow.FixedWidthTypes.Boolean},
	{"tus", "timestamp", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{"tms", "timestamp", &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	{"tns", "timestamp_ntz", &arrow.TimestampType{Unit: arrow.Nanosecond}},
}

// numTestFile writes rows random values (about a tenth NULL, values from a
// small set so that dictionaries are used unless props turn them off) of
// numTestColumns and of a string column "s" (a fifth of its values distinct)
// as one Parquet file with props, committed as table t in dir.
func numTestFile(t testing.TB, dir string, rows int, props *parquet.WriterProperties) *Snapshot {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	var fields []arrow.Field
	var cols []arrow.Array
	var deltaFields []string
	for _, c := range numTestColumns {
		fields = append(fields, arrow.Field{Name: c.name, Type: c.typ, Nullable: true})
		deltaFields = append(deltaFields, fmt.Sprintf(`{\"name\":\"%s\",\"type\":\"%s\",\"nullable\":true,\"metadata\":{}}`, c.name, c.delta))
		b := array.NewBuilder(memory.DefaultAllocator, c.typ)
		for range rows {
			if r.IntN(10) == 0 {
				b.AppendNull()
				continue
			}
			v := r.IntN(500) - 250
			switch x := b.(type) {
			case *array.Int32Builder:
				x.Append(int32(v))
			case *array.Int64Builder:
				x.Append(int64(v) << 40)
			case *array.Float32Builder:
				x.Append(float32(v) / 4)
			case *array.Float64Builder:
				x.Append(float64(v) / 3)
			case *array.BooleanBuilder:
				x.Append(v%3 == 0)
			case *array.TimestampBuilder:
				x.Append(arrow.Timestamp(1_700_000_000_000 + v*7919))
			}
		}
		cols = append(cols, b.NewArray())
		b.Release()
	}
	fields = append(fields, arrow.Field{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true})
	deltaFields = append(deltaFields, `{\"name\":\"s\",\"type\":\"string\",\"nullable\":true,\"metadata\":{}}`)
	sb := array.NewStringBuilder(memory.DefaultAllocator)
	for i := range rows {
		switch k := r.IntN(10); {
		case k == 0:
			sb.AppendNull()
		case k < 3:
			sb.Append(fmt.Sprintf("distinct-%d", i))
		default:
			sb.Append(fmt.Sprintf("v%d", r.IntN(50)))
		}
	}
	cols = append(cols, sb.NewArray())
	sb.Release()
	sc := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(sc, cols, int64(rows))
	defer rec.Release()
	for _, c := range cols {
		c.Release()
	}
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
	meta := replaceOnce(testMeta, `{\"name\":\"a\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}`, strings.Join(deltaFields, ","))
	add := fmt.Sprintf(`{"add":{"path":"f.parquet","partitionValues":{},"size":%d,"modificationTime":1,"dataChange":true}}`, st.Size())
	protocol := `{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["timestampNtz"],"writerFeatures":["timestampNtz"]}}`
	fsys := writeLog(t, dir, protocol+"\n"+meta+"\n"+add+"\n")
	s, err := OpenTable(fsys, "t").Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReadValues checks ReadValues (this package's page decoder) and
// ReadValuesRange against arrow-go's reader (ReadColumn) on every numeric,
// timestamp and boolean column, NULLs included, for PLAIN and dictionary
// pages, data pages V1 and V2, several row groups and many pages each.
func TestReadValues(t *testing.T) {
	ctx := context.Background()
	const rows = 12_000
	for _, tc := range []struct {
		name  string
		props []parquet.WriterProperty
	}{
		{"dict-v1", []parquet.WriterProperty{parquet.WithDataPageVersion(parquet.DataPageV1)}},
		{"dict-v2", []parquet.WriterProperty{parquet.WithDataPageVersion(parquet.DataPageV2)}},
		{"plain-v1", []parquet.WriterProperty{parquet.WithDictionaryDefault(false)}},
		{"plain-v2-snappy", []parquet.WriterProperty{parquet.WithDictionaryDefault(false),
			parquet.WithDataPageVersion(parquet.DataPageV2), parquet.WithCompression(compress.Codecs.Snappy)}},
		{"fallback", []parquet.WriterProperty{parquet.WithDictionaryPageSizeLimit(600)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props := parquet.NewWriterProperties(append([]parquet.WriterProperty{
				parquet.WithMaxRowGroupLength(5000), parquet.WithDataPageSize(1024),
				parquet.WithCompression(compress.Codecs.Zstd), parquet.WithDictionaryDefault(true)}, tc.props...)...)
			snap := numTestFile(t, t.TempDir(), rows, props)
			df, err := snap.OpenDataFile(ctx, snap.Files()[0])
			if err != nil {
				t.Fatal(err)
			}
			for rg := range df.NumRowGroups() {
				for _, c := range numTestColumns {
					want := arrowValues(t, df, rg, c.name)
					rv, ok, err := df.ReadValues(ctx, rg, c.name, nil)
					if err != nil || !ok {
						t.Fatalf("rg %d %s: ReadValues: %v, %v", rg, c.name, ok, err)
					}
					if got := rangeStrings(rv); strings.Join(got, " ") != strings.Join(want, " ") {
						t.Fatalf("rg %d %s: ReadValues differs from arrow-go's reader:\n got %v\nwant %v", rg, c.name, got[:20], want[:20])
					}
					lo, hi := int64(777), int64(len(want)-333)
					rv, ok, err = df.ReadValuesRange(ctx, rg, c.name, lo, hi)
					if err != nil || !ok {
						t.Fatalf("rg %d %s: ReadValuesRange: %v, %v", rg, c.name, ok, err)
					}
					if got := rangeStrings(rv); strings.Join(got, " ") != strings.Join(want[lo:hi], " ") {
						t.Fatalf("rg %d %s: ReadValuesRange [%d, %d) differs from arrow-go's reader", rg, c.name, lo, hi)
					}
				}
			}
		})
	}
}

// arrowValues reads a column of a row group with ReadColumn, as text.
func arrowValues(t *testing.T, df *DataFile, rg int, column string) []string {
	t.Helper()
	chunks, err := df.ReadColumn(context.Background(), rg, column, false)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range chunks {
		for i := 0; i < c.Len(); i++ {
			if c.IsNull(i) {
				out = append(out, "NULL")
				continue
			}
			switch a := c.(type) {
			case *array.Int32:
				out = append(out, fmt.Sprint(a.Value(i)))
			case *array.Int64:
				out = append(out, fmt.Sprint(a.Value(i)))
			case *array.Float32:
				out = append(out, fmt.Sprint(float64(a.Value(i))))
			case *array.Float64:
				out = append(out, fmt.Sprint(a.Value(i)))
			case *array.Boolean:
				out = append(out, fmt.Sprint(a.Value(i)))
			case *array.Timestamp:
				out = append(out, fmt.Sprint(int64(a.Value(i))))
			default:
				t.Fatalf("column %s read as %s", column, c.DataType())
			}
		}
		c.Release()
	}
	return out
}

// rangeStrings renders RangeValues as arrowValues does.
func rangeStrings(rv *RangeValues) []string {
	var out []string
	n := len(rv.Int64) + len(rv.Float64) + len(rv.Bool)
	ni := 0
	for i := range n {
		if ni < len(rv.Nulls) && rv.Nulls[ni] == uint32(i) {
			ni++
			out = append(out, "NULL")
			continue
		}
		switch {
		case rv.Int64 != nil:
			out = append(out, fmt.Sprint(rv.Int64[i]))
		case rv.Float64 != nil:
			out = append(out, fmt.Sprint(rv.Float64[i]))
		default:
			out = append(out, fmt.Sprint(rv.Bool[i]))
		}
	}
	return out
}
