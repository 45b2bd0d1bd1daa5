package lakesrc

import (
	"context"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// TestRoundTrip writes random rows of every type (with NULLs) to a Delta table and
// reads them back through cache Sources: the rows must equal the input multiset,
// and NumRows/MinTime/MaxTime must be answered from stats without reading any
// data file and agree with what the lake reader finds in each file.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		partitions []string
		opts       lake.WriteOptions
		n          int
	}{
		{"one file", nil, lake.WriteOptions{}, 1500},
		{"split files small row groups", nil, lake.WriteOptions{MaxRowsPerFile: 700, RowGroupRows: 300}, 2000},
		{"partitioned", []string{"region"}, lake.WriteOptions{MaxRowsPerFile: 500}, 2000},
		{"empty strings and no rows", nil, lake.WriteOptions{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema := testSchema()
			in := genColumns(schema, uint64(tc.n), tc.n)
			tt := writeTable(t, in, tc.partitions, tc.opts)

			got, deltaCols, err := TableSchema(tt.snap, "ts")
			if err != nil {
				t.Fatal(err)
			}
			if got.TimeColumn != schema.TimeColumn || len(got.Columns) != len(schema.Columns) {
				t.Fatalf("TableSchema = %s, want %s", got, schema)
			}
			for i, c := range schema.Columns {
				g := got.Columns[i]
				if g.Name != c.Name || g.Type != c.Type || deltaCols[i] != c.Name {
					t.Fatalf("column %d: %s %s (reads %q), want %s %s", i, g.Name, g.Type, deltaCols[i], c.Name, c.Type)
				}
			}

			cache, err := OpenCache(t.TempDir(), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer cache.Close()
			files := tt.snap.Files()
			if tc.opts.MaxRowsPerFile > 0 && len(files) < 2 {
				t.Fatalf("want several files, got %s", fmtFiles(files))
			}
			var srcs []*Source
			for _, f := range files {
				srcs = append(srcs, mustSource(t, cache, tt, f, got, deltaCols))
			}
			if n := tt.fs.dataReads.Load(); n != 0 {
				t.Fatalf("Source read %d data files; stats should answer", n)
			}
			total := 0
			for i, f := range files {
				rows, lo, hi := trueBounds(t, tt.snap, f, "ts")
				s := srcs[i]
				if s.NumRows() != rows || (rows > 0 && (s.MinTime() != lo || s.MaxTime() != hi)) {
					t.Errorf("%s: NumRows %d MinTime %d MaxTime %d, lake reader finds %d %d %d", f.DecodedPath, s.NumRows(), s.MinTime(), s.MaxTime(), rows, lo, hi)
				}
				total += rows
			}
			if total != tc.n {
				t.Fatalf("%d rows in the files, wrote %d", total, tc.n)
			}
			var keys []string
			for _, s := range srcs {
				mustLoad(t, s)
				cols := readSource(t, s)
				for r := 1; r < cols.Len; r++ {
					if cols.Cols[0].Int64[r] < cols.Cols[0].Int64[r-1] {
						t.Fatalf("%s: rows not sorted by time", s.Name())
					}
				}
				keys = append(keys, rowKeys(cols)...)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s.Close() // idempotent
			}
			sameMultiset(t, "round trip", keys, rowKeys(in))
		})
	}
}

// TestHiddenTime reads a table without a time column: __time is 0 everywhere and
// known without reading the files.
func TestHiddenTime(t *testing.T) {
	ctx := context.Background()
	in := genColumns(testSchema(), 3, 500)
	tt := writeTable(t, in, nil, lake.WriteOptions{MaxRowsPerFile: 200})
	schema, deltaCols, err := TableSchema(tt.snap, "")
	if err != nil {
		t.Fatal(err)
	}
	tc := schema.TimeColumn
	if tc != len(schema.Columns)-1 || schema.Columns[tc].Name != HiddenTimeColumn || deltaCols[tc] != "" {
		t.Fatalf("schema %s, deltaCols %q", schema, deltaCols)
	}
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	var keys []string
	for _, f := range tt.snap.Files() {
		before := tt.fs.dataReads.Load()
		s, err := cache.Source(ctx, tt.location, tt.snap, f, schema, deltaCols)
		if err != nil {
			t.Fatal(err)
		}
		if tt.fs.dataReads.Load() != before || s.MinTime() != 0 || s.MaxTime() != 0 {
			t.Fatalf("reads %d, times %d..%d", tt.fs.dataReads.Load()-before, s.MinTime(), s.MaxTime())
		}
		total += s.NumRows()
		mustLoad(t, s)
		cols := readSource(t, s)
		for _, v := range cols.Cols[tc].Int64 {
			if v != 0 {
				t.Fatalf("__time = %d", v)
			}
		}
		// drop __time to compare with the input
		cols.Schema = &storage.Schema{Columns: schema.Columns[:tc]}
		cols.Cols = cols.Cols[:tc]
		keys = append(keys, rowKeys(cols)...)
		s.Close()
	}
	if total != in.Len {
		t.Fatalf("NumRows sum %d, want %d", total, in.Len)
	}
	sameMultiset(t, "hidden time", keys, rowKeys(in))
}

func TestTableSchemaTypes(t *testing.T) {
	ctx := context.Background()
	prim := func(n string) *lake.DataType { return &lake.DataType{Name: n} }
	fields := []lake.Field{
		{Name: "s", Type: prim("string")}, {Name: "b", Type: prim("byte")}, {Name: "sh", Type: prim("short")},
		{Name: "i", Type: prim("integer")}, {Name: "l", Type: prim("long")}, {Name: "f", Type: prim("float")},
		{Name: "d", Type: prim("double")}, {Name: "dec", Type: &lake.DataType{Name: "decimal", Precision: 10, Scale: 2}},
		{Name: "bo", Type: prim("boolean")}, {Name: "ts", Type: prim("timestamp")},
		{Name: "ntz", Type: prim("timestamp_ntz")}, {Name: "day", Type: prim("date")},
		{Name: "wide", Type: &lake.DataType{Name: "decimal", Precision: 30, Scale: 4}},
	}
	// decimal(p,s) is exact numeric(p,s) up to p = 18, double-precision numeric above
	want := []string{"text", "smallint", "smallint", "integer", "bigint", "real", "double precision", "numeric(10,2)", "boolean", "timestamptz", "timestamp", "date", "numeric"}
	mk := func(fs []lake.Field) *lake.Snapshot {
		t.Helper()
		dir := t.TempDir()
		tbl, err := lake.CreateTable(ctx, lake.LocalFolder(dir), "", &lake.DataType{Name: "struct", Fields: fs}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := tbl.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	snap := mk(fields)
	for _, tc := range []struct {
		time    string
		timeIdx int
		errPart string
	}{
		{"", len(fields), ""},
		{"ts", 9, ""},
		{"NTZ", 10, ""},
		{"day", 11, ""},
		{"l", 0, `time column "l"`},
		{"missing", 0, `no column "missing"`},
	} {
		schema, deltaCols, err := TableSchema(snap, tc.time)
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("time %q: err %v, want %q", tc.time, err, tc.errPart)
			}
			continue
		}
		if err != nil {
			t.Fatalf("time %q: %v", tc.time, err)
		}
		if schema.TimeColumn != tc.timeIdx || !schema.Columns[tc.timeIdx].NotNull {
			t.Errorf("time %q: schema %s", tc.time, schema)
		}
		for i, f := range fields {
			w := want[i]
			if i == tc.timeIdx && w == "date" { // a date time column: midnight UTC
				w = "timestamp"
			}
			if c := schema.Columns[i]; c.Name != f.Name || c.SQLType != w || deltaCols[i] != f.Name {
				t.Errorf("time %q: column %d = %+v reads %q, want %s %s", tc.time, i, c, deltaCols[i], f.Name, w)
			}
		}
	}
	for _, bad := range []*lake.DataType{
		prim("binary"),
		{Name: "array", Element: prim("long")},
		{Name: "map", Key: prim("string"), Value: prim("long")},
		{Name: "struct", Fields: []lake.Field{{Name: "x", Type: prim("long")}}},
	} {
		snap := mk([]lake.Field{{Name: "ok", Type: prim("long")}, {Name: "weird_col", Type: bad}})
		if _, _, err := TableSchema(snap, ""); err == nil || !strings.Contains(err.Error(), `"weird_col"`) {
			t.Errorf("%s column: err %v, want one naming the column", bad, err)
		}
	}
}

func TestFromColumnsRange(t *testing.T) {
	schema := testSchema()
	for _, tc := range []struct {
		col string
		v   int64
		ok  bool
	}{
		{"small", 32767, true}, {"small", -32768, true}, {"small", 32768, false}, {"small", -32769, false},
		{"i", 1<<31 - 1, true}, {"i", 1 << 31, false}, {"big", -1 << 63, true},
	} {
		cols := genColumns(schema, 1, 3)
		cols.Cols[schema.Index(tc.col)].Int64[1] = tc.v
		cols.Cols[schema.Index(tc.col)].Null = nil
		rec, err := FromColumns(memoryDefault(), schema, cols)
		if (err == nil) != tc.ok {
			t.Errorf("%s = %d: err %v, want ok=%v", tc.col, tc.v, err, tc.ok)
		}
		if rec != nil {
			if got := ArrowSchema(schema); !got.Equal(rec.Schema()) {
				t.Errorf("batch schema %s, want %s", rec.Schema(), got)
			}
			rec.Release()
		}
	}
}
