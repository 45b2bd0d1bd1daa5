package lakesrc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// countingFS counts reads of Parquet data files (log reads are not counted).
type countingFS struct {
	lake.FS
	dataReads atomic.Int64
	dataBytes atomic.Int64 // bytes returned by those reads
}

func (c *countingFS) count(key string, b []byte) {
	if strings.HasSuffix(key, ".parquet") && !strings.Contains(key, "_delta_log/") {
		c.dataReads.Add(1)
		c.dataBytes.Add(int64(len(b)))
	}
}

func (c *countingFS) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := c.FS.Get(ctx, key)
	c.count(key, b)
	return b, err
}

func (c *countingFS) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	b, err := c.FS.GetRange(ctx, key, off, n)
	c.count(key, b)
	return b, err
}

// testSchema has every strata column type; ts is the time column.
func testSchema() *storage.Schema {
	return &storage.Schema{TimeColumn: 0, Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "name", Type: storage.TypeString, SQLType: "text"},
		{Name: "region", Type: storage.TypeString, SQLType: "text"},
		{Name: "small", Type: storage.TypeInt64, SQLType: "smallint"},
		{Name: "i", Type: storage.TypeInt64, SQLType: "integer"},
		{Name: "big", Type: storage.TypeInt64, SQLType: "bigint"},
		{Name: "r", Type: storage.TypeFloat64, SQLType: "real"},
		{Name: "d", Type: storage.TypeFloat64, SQLType: "double precision"},
		{Name: "num", Type: storage.TypeFloat64, SQLType: "numeric"},
		{Name: "flag", Type: storage.TypeBool, SQLType: "boolean"},
		{Name: "ntz", Type: storage.TypeTimestamp, SQLType: "timestamp"},
	}}
}

// genColumns builds n random rows of schema (seeded); every nullable column has
// NULLs, strings include "" and non-ASCII text. region (a partition column in some
// tests) is never "" because Delta reads an empty partition value as NULL.
func genColumns(schema *storage.Schema, seed uint64, n int) *storage.Columns {
	rng := rand.New(rand.NewPCG(seed, 7))
	cols := storage.NewColumns(schema, n)
	names := []string{"", "alpha", "beta", "gamma δ", "日本", strings.Repeat("long", 20)}
	regions := []string{"eu", "us west", "a/b%c=d"}
	for r := 0; r < n; r++ {
		for ci, c := range schema.Columns {
			d := &cols.Cols[ci]
			null := !c.NotNull && rng.IntN(10) == 0
			switch c.Type {
			case storage.TypeTimestamp:
				v := int64(0)
				if !null {
					v = 1_700_000_000_000_000 + rng.Int64N(100_000_000_000_000)
				}
				d.Int64 = append(d.Int64, v)
			case storage.TypeString:
				v := ""
				if !null {
					if c.Name == "region" {
						v = regions[rng.IntN(len(regions))]
					} else {
						v = names[rng.IntN(len(names))]
					}
				}
				d.String = append(d.String, v)
			case storage.TypeInt64:
				v := int64(0)
				if !null {
					switch c.SQLType {
					case "smallint":
						v = rng.Int64N(1<<16) - 1<<15
					case "integer":
						v = rng.Int64N(1<<32) - 1<<31
					default:
						v = int64(rng.Uint64())
					}
				}
				d.Int64 = append(d.Int64, v)
			case storage.TypeFloat64:
				v := 0.0
				if !null {
					v = rng.NormFloat64() * 1e6
					if c.SQLType == "real" {
						v = float64(float32(v))
					}
				}
				d.Float64 = append(d.Float64, v)
			case storage.TypeBool:
				d.Bool = append(d.Bool, !null && rng.IntN(2) == 0)
			}
			if null {
				cols.SetNull(ci, r)
			}
		}
		cols.Len++
	}
	return cols
}

// rowKeys renders each row of cols as one string, for multiset comparison.
func rowKeys(cols *storage.Columns) []string {
	out := make([]string, cols.Len)
	for r := range out {
		var b strings.Builder
		for ci, c := range cols.Schema.Columns {
			b.WriteString("|")
			if cols.IsNull(ci, r) {
				b.WriteString("NULL")
				continue
			}
			d := &cols.Cols[ci]
			switch c.Type {
			case storage.TypeTimestamp, storage.TypeInt64:
				b.WriteString(strconv.FormatInt(d.Int64[r], 10))
			case storage.TypeFloat64:
				b.WriteString(strconv.FormatFloat(d.Float64[r], 'g', -1, 64))
			case storage.TypeBool:
				b.WriteString(strconv.FormatBool(d.Bool[r]))
			case storage.TypeString:
				b.WriteString(strconv.Quote(d.String[r]))
			}
		}
		out[r] = b.String()
	}
	return out
}

// readSource reads every row of a loaded src through the storage.Source methods.
func readSource(t *testing.T, src storage.Source) *storage.Columns {
	t.Helper()
	cols, err := readSourceErr(src)
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

// readSourceErr is readSource returning its error (for goroutines).
func readSourceErr(src storage.Source) (*storage.Columns, error) {
	schema := src.Schema()
	n := src.NumRows()
	cols := storage.NewColumns(schema, n)
	cols.Len = n
	for ci, c := range schema.Columns {
		d := &cols.Cols[ci]
		var err error
		switch c.Type {
		case storage.TypeTimestamp, storage.TypeInt64:
			d.Int64, err = src.ReadInt64(ci, 0, n, nil)
		case storage.TypeFloat64:
			d.Float64, err = src.ReadFloat64(ci, 0, n, nil)
		case storage.TypeBool:
			d.Bool, err = src.ReadBool(ci, 0, n, nil)
		case storage.TypeString:
			var ids []uint32
			ids, err = src.ReadDictIDs(ci, 0, n, nil)
			if err == nil {
				var dict storage.Dict
				dict, err = src.Dict(ci)
				for _, id := range ids {
					if err == nil && int(id) < dict.Len() {
						d.String = append(d.String, dict.Value(id))
					} else {
						d.String = append(d.String, "")
					}
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: column %s: %v", src.Name(), c.Name, err)
		}
		nulls, err := src.Nulls(ci)
		if err != nil {
			return nil, fmt.Errorf("%s: nulls of %s: %v", src.Name(), c.Name, err)
		}
		if nulls != nil {
			it := nulls.Iterator()
			for it.HasNext() {
				cols.SetNull(ci, int(it.Next()))
			}
			// the value slot of a NULL row is unspecified: normalise it
			for r := 0; r < n; r++ {
				if cols.IsNull(ci, r) {
					zeroAt(d, c.Type, r)
				}
			}
		}
	}
	if err := cols.Check(); err != nil {
		return nil, fmt.Errorf("%s: %v", src.Name(), err)
	}
	return cols, nil
}

func sameMultiset(t *testing.T, what string, got, want []string) {
	t.Helper()
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: row mismatch (sorted #%d):\n got %s\nwant %s", what, i, got[i], want[i])
		}
	}
}

// testTable is a Delta table written from Columns in a temp folder.
type testTable struct {
	dir      string
	location string
	fs       *countingFS
	snap     *lake.Snapshot // read through fs
}

// writeTable creates a Delta table from cols (deltaSchema + FromColumns +
// lake.WriteFiles + Commit) and returns its snapshot read through a countingFS.
func writeTable(t testing.TB, cols *storage.Columns, partitions []string, opts lake.WriteOptions) *testTable {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ds, err := deltaSchema(cols.Schema)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := lake.CreateTable(ctx, lake.LocalFolder(dir), "tbl", ds, partitions, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	rec, err := FromColumns(mem, cols.Schema, cols)
	if err != nil {
		t.Fatal(err)
	}
	adds, err := lake.WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, opts)
	rec.Release()
	mem.AssertSize(t, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Commit(ctx, tbl, snap.Version, lake.AddActions(adds), "WRITE", map[string]any{"mode": "Append"}); err != nil {
		t.Fatal(err)
	}
	cfs := &countingFS{FS: lake.LocalFolder(dir)}
	rsnap, err := lake.OpenTable(cfs, "tbl").Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &testTable{dir: dir, location: "file://" + filepath.Join(dir, "tbl"), fs: cfs, snap: rsnap}
}

// trueBounds reads one file with the lake reader (not this package) and returns
// its live row count and the min and max of a timestamp column.
func trueBounds(t *testing.T, snap *lake.Snapshot, f *lake.AddFile, col string) (rows int, lo, hi int64) {
	t.Helper()
	first := true
	err := snap.ReadFile(context.Background(), f, []string{col}, func(rec arrow.RecordBatch) error {
		a := rec.Column(0).(*array.Timestamp)
		for r := 0; r < a.Len(); r++ {
			us, err := lake.TimestampMicros(a, r)
			if err != nil {
				return err
			}
			if first || us < lo {
				lo = us
			}
			if first || us > hi {
				hi = us
			}
			first = false
		}
		rows += a.Len()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows, lo, hi
}

// cacheFiles lists the files in a cache directory.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func mustSource(t *testing.T, c *Cache, tt *testTable, f *lake.AddFile, schema *storage.Schema, deltaCols []string) *Source {
	t.Helper()
	s, err := c.Source(context.Background(), tt.location, tt.snap, f, schema, deltaCols)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustLoad(t *testing.T, s *Source) {
	t.Helper()
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func fmtFiles(fs []*lake.AddFile) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s ", f.DecodedPath)
	}
	return b.String()
}

func memoryDefault() memory.Allocator { return memory.DefaultAllocator }

// deltaSchema (for tests) is the Delta schema of schema's columns, matching ArrowSchema
// (timestamptz → timestamp, timestamp → timestamp_ntz, text → string, smallint →
// short, integer, bigint → long, real → float, double precision and numeric →
// double, boolean), for lake.CreateTable. TableSchema of a table created with it
// gives back the same names and physical types. A timestamp_ntz column needs the
// timestampNtz table feature, which lake.CreateTable does not declare.
func deltaSchema(schema *storage.Schema) (*lake.DataType, error) {
	// lake.SchemaFromArrow maps every type but zone-less timestamps, which it
	// refuses (the writer does not declare timestampNtz): map those as zoned and
	// rename them after.
	as := ArrowSchema(schema)
	fields := as.Fields()
	for i := range fields {
		if t, ok := fields[i].Type.(*arrow.TimestampType); ok && t.TimeZone == "" {
			fields[i].Type = &arrow.TimestampType{Unit: t.Unit, TimeZone: "UTC"}
		}
	}
	dt, err := lake.SchemaFromArrow(arrow.NewSchema(fields, nil))
	if err != nil {
		return nil, err
	}
	for i, f := range as.Fields() {
		if t, ok := f.Type.(*arrow.TimestampType); ok && t.TimeZone == "" {
			dt.Fields[i].Type = &lake.DataType{Name: "timestamp_ntz"}
		}
	}
	return dt, nil
}
