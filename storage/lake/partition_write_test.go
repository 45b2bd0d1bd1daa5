package lake

import (
	"bytes"

	"context"
	"github.com/apache/arrow-go/v18/parquet/file"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/storage/objstore"
)

func TestPartitionString(t *testing.T) {
	mem := memory.DefaultAllocator
	one := func(dt arrow.DataType, app func(b array.Builder)) arrow.Array {
		b := array.NewBuilder(mem, dt)
		defer b.Release()
		app(b)
		return b.NewArray()
	}
	tsType := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	for _, c := range []struct {
		name string
		arr  arrow.Array
		want string // "<null>" for null
	}{
		{"int32", one(arrow.PrimitiveTypes.Int32, func(b array.Builder) { b.(*array.Int32Builder).Append(-42) }), "-42"},
		{"int64", one(arrow.PrimitiveTypes.Int64, func(b array.Builder) { b.(*array.Int64Builder).Append(1 << 40) }), "1099511627776"},
		{"bool", one(arrow.FixedWidthTypes.Boolean, func(b array.Builder) { b.(*array.BooleanBuilder).Append(true) }), "true"},
		{"double", one(arrow.PrimitiveTypes.Float64, func(b array.Builder) { b.(*array.Float64Builder).Append(2.5) }), "2.5"},
		{"date", one(arrow.FixedWidthTypes.Date32, func(b array.Builder) { b.(*array.Date32Builder).Append(20412) }), "2025-11-20"},
		{"date-neg", one(arrow.FixedWidthTypes.Date32, func(b array.Builder) { b.(*array.Date32Builder).Append(-1) }), "1969-12-31"},
		{"timestamp", one(tsType, func(b array.Builder) { b.(*array.TimestampBuilder).Append(1_000_000_123_456) }), "1970-01-12T13:46:40.123456Z"},
		{"timestamp-neg", one(tsType, func(b array.Builder) { b.(*array.TimestampBuilder).Append(-1) }), "1969-12-31T23:59:59.999999Z"},
		{"decimal", one(&arrow.Decimal128Type{Precision: 10, Scale: 2}, func(b array.Builder) {
			b.(*array.Decimal128Builder).Append(decimal128.FromI64(-12345))
		}), "-123.45"},
		{"string", one(arrow.BinaryTypes.String, func(b array.Builder) { b.(*array.StringBuilder).Append("null") }), "null"},
		{"empty-string-is-null", one(arrow.BinaryTypes.String, func(b array.Builder) { b.(*array.StringBuilder).Append("") }), "<null>"},
		{"null", one(arrow.PrimitiveTypes.Int32, func(b array.Builder) { b.AppendNull() }), "<null>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer c.arr.Release()
			got, err := partitionString(c.arr, 0)
			if err != nil {
				t.Fatal(err)
			}
			g := "<null>"
			if got != nil {
				g = *got
			}
			if g != c.want {
				t.Fatalf("got %q, want %q", g, c.want)
			}
		})
	}
}

// hiveUnescape undoes escapePartitionName (%XX → byte), written independently.
func hiveUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			var v byte
			for _, c := range []byte(s[i+1 : i+3]) {
				v <<= 4
				switch {
				case c >= '0' && c <= '9':
					v |= c - '0'
				case c >= 'A' && c <= 'F':
					v |= c - 'A' + 10
				}
			}
			b.WriteByte(v)
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func FuzzPartitionPath(f *testing.F) {
	for _, s := range []string{"a/b", "A%2FA", "us west", "x=y", "ü:*?", "\x01\x7f", "%", "__HIVE_DEFAULT_PARTITION__", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		dir := escapePartitionName(v)
		if strings.ContainsAny(dir, "/=:") {
			t.Fatalf("escaped %q still has a separator: %q", v, dir)
		}
		if hiveUnescape(dir) != v {
			t.Fatalf("escape(%q) = %q does not unescape", v, dir)
		}
		rel := "p=" + dir + "/part-1.parquet"
		logPath := encodeLogPath(rel)
		dec, abs, err := decodePath(logPath)
		if err != nil || abs || dec != rel {
			t.Fatalf("log path %q decodes to %q %v %v, want %q", logPath, dec, abs, err, rel)
		}
		if u, err := url.PathUnescape(logPath); err != nil || u != rel {
			t.Fatalf("PathUnescape(%q) = %q %v", logPath, u, err)
		}
	})
}

func TestWriteFromReaderTypedPartitions(t *testing.T) {
	ctx := context.Background()
	tsType := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	as := arrow.NewSchema([]arrow.Field{
		{Name: "v", Type: arrow.PrimitiveTypes.Int64},
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "at", Type: tsType, Nullable: true},
	}, nil)
	schema, err := SchemaFromArrow(as)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := CreateTable(ctx, objstore.LocalAt(t.TempDir()), "t", schema, []string{"flag", "n", "at"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, as)
	defer b.Release()
	type want struct {
		flag *bool
		n    *int32
		at   *int64
	}
	exp := map[int64]want{}
	for i := int64(0); i < 100; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		var w want
		if i%7 == 0 {
			b.Field(1).AppendNull()
		} else {
			fl := i%2 == 0
			w.flag = &fl
			b.Field(1).(*array.BooleanBuilder).Append(fl)
		}
		if i%5 == 0 {
			b.Field(2).AppendNull()
		} else {
			n := int32(i%3) - 1
			w.n = &n
			b.Field(2).(*array.Int32Builder).Append(n)
		}
		at := int64(1_700_000_000_000_000) + (i%2)*123_456
		w.at = &at
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(at))
		exp[i] = w
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	rr, err := array.NewRecordReader(as, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	snap, _ := tbl.Snapshot(ctx)
	adds, err := WriteFromReader(ctx, snap, rr, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(ctx, tbl, snap.Version, AddActions(adds), "WRITE", nil); err != nil {
		t.Fatal(err)
	}
	snap, _ = tbl.Snapshot(ctx)
	seen := 0
	for _, f := range snap.Files() {
		err := snap.ReadFile(ctx, f, nil, func(rec arrow.RecordBatch) error {
			for i := 0; i < int(rec.NumRows()); i++ {
				id := rec.Column(0).(*array.Int64).Value(i)
				w := exp[id]
				fl, n, at := rec.Column(1).(*array.Boolean), rec.Column(2).(*array.Int32), rec.Column(3).(*array.Timestamp)
				if (w.flag == nil) != fl.IsNull(i) || (w.flag != nil && *w.flag != fl.Value(i)) {
					t.Errorf("row %d flag", id)
				}
				if (w.n == nil) != n.IsNull(i) || (w.n != nil && *w.n != n.Value(i)) {
					t.Errorf("row %d n", id)
				}
				if at.IsNull(i) || int64(at.Value(i)) != *w.at {
					t.Errorf("row %d at %v want %d", id, at.Value(i), *w.at)
				}
				seen++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if at := f.PartitionValues["at"]; at == nil || !strings.HasSuffix(*at, "Z") {
			t.Errorf("timestamp partition value %v", at)
		} else if _, err := time.Parse(time.RFC3339Nano, *at); err != nil {
			t.Errorf("timestamp partition value %q: %v", *at, err)
		}
	}
	if seen != 100 {
		t.Fatalf("read %d rows", seen)
	}
}

func TestRowGroupLimits(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name       string
		opts       WriteOptions
		rows       int
		wantGroups int
	}{
		{"rows", WriteOptions{RowGroupRows: 16}, 100, 7},
		{"rows, a multiple", WriteOptions{RowGroupRows: 20}, 100, 5},
		{"default", WriteOptions{}, 100, 1},
		// id+amount+ts are 24 bytes a row, name ~9 more: 200 bytes ≈ 6 rows a group.
		{"bytes", WriteOptions{RowGroupBytes: 200}, 60, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			schema, _ := SchemaFromArrow(testArrowSchema)
			tbl, err := CreateTable(ctx, objstore.LocalAt(dir), "", schema, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			snap, _ := tbl.Snapshot(ctx)
			var adds []*AddFile
			// Many one-row batches, the way a real-time flush hands rows over.
			var recs []arrow.RecordBatch
			for _, r := range makeRows(0, c.rows) {
				recs = append(recs, buildBatch(t, []wrow{r}))
			}
			adds, err = WriteFiles(ctx, snap, recs, c.opts)
			for _, r := range recs {
				r.Release()
			}
			if err != nil || len(adds) != 1 {
				t.Fatalf("%d adds, %v", len(adds), err)
			}
			b, err := objstore.LocalAt(dir).Get(ctx, adds[0].DecodedPath)
			if err != nil {
				t.Fatal(err)
			}
			pr, err := file.NewParquetReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			groups := pr.NumRowGroups()
			if c.name == "bytes" {
				if groups < c.wantGroups/2 || groups > c.wantGroups*2 {
					t.Fatalf("%d row groups, want about %d", groups, c.wantGroups)
				}
			} else if groups != c.wantGroups {
				t.Fatalf("%d row groups, want %d", groups, c.wantGroups)
			}
			if pr.NumRows() != int64(c.rows) {
				t.Fatalf("%d rows", pr.NumRows())
			}
			for rg := range groups {
				if n := pr.MetaData().RowGroup(rg).NumRows(); n == 0 {
					t.Fatalf("row group %d of %d is empty", rg, groups)
				}
			}
			cc, err := pr.MetaData().RowGroup(0).ColumnChunk(0)
			if err != nil {
				t.Fatal(err)
			}
			if cc.Compression().String() != "ZSTD" {
				t.Fatalf("compression %v", cc.Compression())
			}
			if st, err := cc.Statistics(); err != nil || st == nil || !st.HasMinMax() {
				t.Fatalf("no column statistics: %v", err)
			}
		})
	}
}
