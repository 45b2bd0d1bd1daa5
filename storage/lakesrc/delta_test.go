package lakesrc

import (
	"bufio"
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

const deltaTestdata = "../lake/testdata/delta"

// manifestCounts parses table name → live row count at the latest version from
// the lake test tables' MANIFEST.md (written by whoever copied the tables).
func manifestCounts(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open(deltaTestdata + "/MANIFEST.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lead := regexp.MustCompile(`^(\d+)`)
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(strings.Trim(sc.Text(), "|"), "|")
		if len(cells) != 12 || !strings.HasPrefix(sc.Text(), "| ") {
			continue
		}
		if _, err := strconv.Atoi(strings.TrimSpace(cells[0])); err != nil {
			continue
		}
		m := lead.FindString(strings.TrimSpace(cells[10]))
		n, err := strconv.Atoi(m)
		if err != nil {
			t.Fatalf("manifest rows %q", cells[10])
		}
		out[strings.TrimSpace(cells[1])] = n
	}
	if len(out) < 20 {
		t.Fatalf("parsed %d manifest tables", len(out))
	}
	return out
}

// TestDeltaTables reads every real Delta test table the lake package supports
// through cache Sources and checks the live row count against the manifest.
func TestDeltaTables(t *testing.T) {
	ctx := context.Background()
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	sawDV := false
	for name, want := range manifestCounts(t) {
		t.Run(name, func(t *testing.T) {
			snap, err := lake.OpenTable(lake.LocalFolder(deltaTestdata), name).Snapshot(ctx)
			if errors.Is(err, lake.ErrUnsupported) {
				if !strings.Contains(err.Error(), "unsupported") {
					t.Fatalf("unsupported error without a reason: %v", err)
				}
				t.Skipf("lake refuses: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			schema, deltaCols, err := TableSchema(snap, "")
			if err != nil {
				// Only nested/binary columns may be refused, by name; read the rest.
				var bad []string
				schema = &storage.Schema{}
				deltaCols = nil
				for i := range snap.Schema.Fields {
					f := &snap.Schema.Fields[i]
					switch f.Type.Name {
					case "struct", "array", "map", "binary", "void", "variant":
						bad = append(bad, f.Name)
						continue
					}
					c, cerr := columnFor(f)
					if cerr != nil {
						t.Fatal(cerr)
					}
					schema.Columns = append(schema.Columns, c)
					deltaCols = append(deltaCols, f.Name)
				}
				if len(bad) == 0 || !strings.Contains(err.Error(), strconv.Quote(bad[0])) {
					t.Fatalf("TableSchema: %v (unreadable columns %q)", err, bad)
				}
				schema.TimeColumn = len(schema.Columns)
				schema.Columns = append(schema.Columns, storage.Column{Name: HiddenTimeColumn, Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true})
				deltaCols = append(deltaCols, "")
			}
			total, loaded := 0, 0
			for _, f := range snap.Files() {
				if f.DeletionVector != nil {
					sawDV = true
				}
				s, err := cache.Source(ctx, "file:///testdata/"+name, snap, f, schema, deltaCols)
				if err != nil {
					t.Fatal(err)
				}
				total += s.NumRows()
				mustLoad(t, s)
				cols := readSource(t, s)
				loaded += cols.Len
				s.Close()
			}
			if total != want || loaded != want {
				t.Fatalf("NumRows sum %d, rows read %d, manifest %d", total, loaded, want)
			}
		})
	}
	if !sawDV {
		t.Error("no table with deletion vectors was read")
	}
}

// TestInexactStats: Spark writes millisecond stats, so Source reads the file itself
// and reports the true time range.
func TestInexactStats(t *testing.T) {
	ctx := context.Background()
	cfs := &countingFS{FS: lake.LocalFolder(deltaTestdata)}
	snap, err := lake.OpenTable(cfs, "table_with_edge_timestamps").Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	schema, deltaCols, err := TableSchema(snap, "big_date")
	if err != nil {
		t.Fatal(err)
	}
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, f := range snap.Files() {
		before := cfs.dataReads.Load()
		s, err := cache.Source(ctx, "edge", snap, f, schema, deltaCols)
		if err != nil {
			t.Fatal(err)
		}
		if cfs.dataReads.Load() == before {
			t.Errorf("%s: millisecond stats trusted without reading the file", f.DecodedPath)
		}
		if s.NumRows() != 1 || s.MinTime() != s.MaxTime() {
			t.Fatalf("%s: %d rows, %d..%d", f.DecodedPath, s.NumRows(), s.MinTime(), s.MaxTime())
		}
		got = append(got, s.MinTime())
		s.Close()
	}
	d := func(day int) int64 { return time.Date(9999, 12, day, 0, 0, 0, 0, time.UTC).UnixMicro() }
	if len(got) != 2 || !(got[0] == d(31) && got[1] == d(30) || got[0] == d(30) && got[1] == d(31)) {
		t.Fatalf("times %v, want 9999-12-30 and 9999-12-31", got)
	}
}

// TestTimeColumnFromPartition uses a timestamp_ntz partition column as the time
// column: exact values without reading, and the NULL partition is an error naming
// the file that leaves no cache entry. The data column tsNtz has NULLs: an error too.
func TestTimeColumnFromPartition(t *testing.T) {
	ctx := context.Background()
	cfs := &countingFS{FS: lake.LocalFolder(deltaTestdata)}
	snap, err := lake.OpenTable(cfs, "data-reader-timestamp_ntz").Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cache, err := OpenCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	schema, deltaCols, err := TableSchema(snap, "tsNtzPartition")
	if err != nil {
		t.Fatal(err)
	}
	nullErrs, ok := 0, 0
	for _, f := range snap.Files() {
		before := cfs.dataReads.Load()
		s, err := cache.Source(ctx, "ntz", snap, f, schema, deltaCols)
		pv, present := snap.PartitionValue(f, "tsNtzPartition")
		if !present {
			if err == nil || !strings.Contains(err.Error(), f.DecodedPath) || !strings.Contains(err.Error(), "NULL") {
				t.Fatalf("NULL partition time: err %v", err)
			}
			nullErrs++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if cfs.dataReads.Load() != before {
			t.Errorf("%s: partition time needed a read", f.DecodedPath)
		}
		want, perr := time.Parse("2006-01-02 15:04:05.000000", pv)
		if perr != nil {
			t.Fatal(perr)
		}
		if s.MinTime() != want.UnixMicro() || s.MaxTime() != want.UnixMicro() {
			t.Errorf("%s: %d..%d, want %d", f.DecodedPath, s.MinTime(), s.MaxTime(), want.UnixMicro())
		}
		mustLoad(t, s)
		ok++
		s.Close()
	}
	if nullErrs == 0 || ok == 0 {
		t.Fatalf("%d NULL partitions, %d good files", nullErrs, ok)
	}
	if n := cache.Stats().Entries; n != ok {
		t.Errorf("%d cache entries, want %d", n, ok)
	}

	schema, deltaCols, err = TableSchema(snap, "tsNtz")
	if err != nil {
		t.Fatal(err)
	}
	nullErrs = 0
	for _, f := range snap.Files() {
		_, _, nulls, _ := snap.ColumnStats(f, "tsNtz")
		s, err := cache.Source(ctx, "ntz", snap, f, schema, deltaCols)
		if err == nil {
			err = s.Load(ctx)
			s.Close()
		}
		if nulls > 0 {
			if err == nil || !strings.Contains(err.Error(), f.DecodedPath) || !strings.Contains(err.Error(), "NULL in the time column") {
				t.Fatalf("%s: NULL time: err %v", f.DecodedPath, err)
			}
			nullErrs++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if nullErrs == 0 {
		t.Fatal("no file with a NULL time")
	}
	for _, name := range cacheFiles(t, dir) {
		if strings.HasSuffix(name, ".tmp") {
			t.Errorf("leftover %s", name)
		}
	}
}
