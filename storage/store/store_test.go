package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lakesrc"
)

const hour = int64(time.Hour / time.Microsecond)

func testSchema() storage.Schema {
	return storage.Schema{
		Columns: []storage.Column{
			{Name: "id", Type: storage.TypeInt64, SQLType: "bigint", NotNull: true},
			{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
			{Name: "user_id", Type: storage.TypeString, SQLType: "text"},
			{Name: "price", Type: storage.TypeFloat64, SQLType: "double precision"},
			{Name: "ok", Type: storage.TypeBool, SQLType: "boolean"},
		},
		TimeColumn: 1,
	}
}

// row is one row of testSchema, as the test compares them.
type row struct {
	id        int64
	ts        int64
	user      string
	userNull  bool
	price     float64
	priceNull bool
	ok        bool
}

// makeRows builds n rows with ids from firstID, times from times(i), and NULLs in
// user_id every 7th row and in price every 5th.
func makeRows(firstID int64, n int, times func(i int) int64) []row {
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{
			id:    firstID + int64(i),
			ts:    times(i),
			user:  fmt.Sprintf("user-%d", (firstID+int64(i))%13),
			price: float64(firstID+int64(i)) * 0.25,
			ok:    i%3 == 0,
		}
		if i%7 == 3 {
			rows[i].user, rows[i].userNull = "", true
		}
		if i%5 == 1 {
			rows[i].price, rows[i].priceNull = 0, true
		}
	}
	return rows
}

func toColumns(schema *storage.Schema, rows []row) *storage.Columns {
	c := storage.NewColumns(schema, len(rows))
	for i, r := range rows {
		c.Cols[0].Int64 = append(c.Cols[0].Int64, r.id)
		c.Cols[1].Int64 = append(c.Cols[1].Int64, r.ts)
		c.Cols[2].String = append(c.Cols[2].String, r.user)
		c.Cols[3].Float64 = append(c.Cols[3].Float64, r.price)
		c.Cols[4].Bool = append(c.Cols[4].Bool, r.ok)
		if r.userNull {
			c.SetNull(2, i)
		}
		if r.priceNull {
			c.SetNull(3, i)
		}
	}
	c.Len = len(rows)
	return c
}

// readSource reads every row of src through the Source contract, one row range per
// column, independently of the store's own reading code.
func readSource(t *testing.T, src storage.Source) []row {
	t.Helper()
	must(t, storage.Load(context.Background(), src))
	n := src.NumRows()
	ids, err := src.ReadInt64(0, 0, n, nil)
	must(t, err)
	ts, err := src.ReadInt64(1, 0, n, nil)
	must(t, err)
	dictIDs, err := src.ReadDictIDs(2, 0, n, nil)
	must(t, err)
	dict, err := src.Dict(2)
	must(t, err)
	userNulls, err := src.Nulls(2)
	must(t, err)
	prices, err := src.ReadFloat64(3, 0, n, nil)
	must(t, err)
	priceNulls, err := src.Nulls(3)
	must(t, err)
	oks, err := src.ReadBool(4, 0, n, nil)
	must(t, err)
	rows := make([]row, n)
	for i := range rows {
		r := row{id: ids[i], ts: ts[i], price: prices[i], ok: oks[i]}
		if userNulls != nil && userNulls.Contains(uint32(i)) {
			r.userNull = true
		} else {
			r.user = dict.Value(dictIDs[i])
		}
		if priceNulls != nil && priceNulls.Contains(uint32(i)) {
			r.price, r.priceNull = 0, true
		}
		rows[i] = r
	}
	return rows
}

// readSnapshot returns all rows of sn sorted by id, checking on the way that every
// source that says so is sorted by time and every source lies inside one time chunk
// of gran.
func readSnapshot(t *testing.T, sn *Snapshot) []row {
	t.Helper()
	var all []row
	g := sn.Table.Granularity.Microseconds()
	for _, src := range sn.Sources {
		rows := readSource(t, src)
		for i := 1; i < len(rows) && storage.IsSortedByTime(src); i++ {
			if rows[i].ts < rows[i-1].ts {
				t.Fatalf("%s: rows not sorted by time at %d", src.Name(), i)
			}
		}
		// Lake files hold a day (or what OPTIMIZE packed); segments one chunk.
		_, lakeFile := src.(*lakesrc.Source)
		_, direct := src.(*lakesrc.Direct)
		if !lakeFile && !direct && len(rows) > 0 && floorTo(rows[0].ts, g) != floorTo(rows[len(rows)-1].ts, g) {
			t.Fatalf("%s: spans two chunks: %d .. %d", src.Name(), rows[0].ts, rows[len(rows)-1].ts)
		}
		all = append(all, rows...)
	}
	slices.SortFunc(all, func(a, b row) int { return cmp.Compare(a.id, b.id) })
	return all
}

// floorTo rounds t down to a multiple of g the slow, obviously-right way.
func floorTo(t, g int64) int64 {
	r := t % g
	if r < 0 {
		r += g
	}
	return t - r
}

func sortedByID(rows []row) []row {
	out := slices.Clone(rows)
	slices.SortFunc(out, func(a, b row) int { return cmp.Compare(a.id, b.id) })
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func openT(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	must(t, err)
	return s
}

func createT(t *testing.T, s *Store, name string) catalog.TableDef {
	t.Helper()
	def, err := s.CreateTable(catalog.TableDef{Name: name, Schema: testSchema()})
	must(t, err)
	return def
}

func checkRows(t *testing.T, s *Store, table string, want []row) {
	t.Helper()
	sn, err := s.Snapshot(table)
	must(t, err)
	defer sn.Release()
	got := readSnapshot(t, sn)
	want = sortedByID(want)
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", table, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: row %d = %+v, want %+v", table, i, got[i], want[i])
		}
	}
}

// segmentFiles lists the files under dir/segments, relative to it, sorted.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	root := filepath.Join(dir, "segments")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	must(t, err)
	sort.Strings(files)
	return files
}

func TestAppendSnapshotRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		gran  time.Duration
		n     int
		times func(i int) int64
		// files are the expected segment file names of the first append (seq from 1).
		files []string
	}{
		{
			name:  "one chunk",
			n:     500,
			times: func(i int) int64 { return 1_700_000_000_000_000 + int64(i%50)*1000 },
			files: []string{"20231114T22-1.seg"},
		},
		{
			// Three chunks, two of them before 1970, rows interleaved and unsorted.
			name: "three chunks across the epoch",
			n:    600,
			times: func(i int) int64 {
				switch i % 3 {
				case 0:
					return -hour - 1 - int64(i) // chunk starting -2h
				case 1:
					return -1 - int64(i)*1000 // chunk starting -1h
				}
				return int64(i) * 1000 // chunk starting 0
			},
			files: []string{"19691231T22-1.seg", "19691231T23-2.seg", "19700101T00-3.seg"},
		},
		{
			name:  "day granularity",
			gran:  24 * time.Hour,
			n:     100,
			times: func(i int) int64 { return int64(i) * hour }, // 100 hours: 5 days
			files: []string{"19700101T00-1.seg", "19700102T00-2.seg", "19700103T00-3.seg", "19700104T00-4.seg", "19700105T00-5.seg"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir)
			defer s.Close()
			def, err := s.CreateTable(catalog.TableDef{Name: "events", Schema: testSchema(), Granularity: tc.gran})
			must(t, err)
			rows := makeRows(0, tc.n, tc.times)
			schema := testSchema()
			in := toColumns(&schema, rows)
			before := toColumns(&schema, rows)
			must(t, s.Append(context.Background(), "events", in))
			checkRows(t, s, "events", rows)

			// The input was not changed.
			if fmt.Sprint(in.Cols) != fmt.Sprint(before.Cols) {
				t.Fatal("Append modified its input")
			}
			// One segment per chunk, named by chunk start and sequence number.
			var want []string
			for _, f := range tc.files {
				want = append(want, fmt.Sprintf("%d/%s", def.ID, f))
			}
			if got := segmentFiles(t, dir); !slices.Equal(got, want) {
				t.Fatalf("files %v, want %v", got, want)
			}
			chunks := map[int64]int{}
			for _, r := range rows {
				chunks[floorTo(r.ts, def.Granularity.Microseconds())]++
			}
			segs := s.Catalog().Segments("events")
			if len(segs) != len(chunks) {
				t.Fatalf("%d segments for %d chunks", len(segs), len(chunks))
			}
			for _, m := range segs {
				if int64(chunks[m.ChunkStart]) != m.Rows {
					t.Fatalf("segment %s: %d rows, want %d", m.ID, m.Rows, chunks[m.ChunkStart])
				}
			}

			// A second append adds to the same table.
			more := makeRows(int64(tc.n), 10, tc.times)
			must(t, s.Append(context.Background(), "events", toColumns(&schema, more)))
			checkRows(t, s, "events", append(rows, more...))
		})
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	createT(t, s, "a")
	createT(t, s, "b")
	schema := testSchema()
	ra := makeRows(0, 300, func(i int) int64 { return int64(i) * 60_000_000 }) // 5 hours
	rb := makeRows(1000, 50, func(i int) int64 { return -int64(i) * 1000 })
	must(t, s.Append(context.Background(), "a", toColumns(&schema, ra[:100])))
	must(t, s.Append(context.Background(), "a", toColumns(&schema, ra[100:])))
	must(t, s.Append(context.Background(), "b", toColumns(&schema, rb)))
	must(t, s.Close())

	s = openT(t, dir)
	checkRows(t, s, "a", ra)
	checkRows(t, s, "b", rb)
	if names := len(s.Tables()); names != 2 {
		t.Fatalf("%d tables", names)
	}
	// Compaction result survives a reopen too.
	must(t, s.Compact(context.Background(), "a"))
	must(t, s.Close())
	s = openT(t, dir)
	defer s.Close()
	checkRows(t, s, "a", ra)
	sn, err := s.Snapshot("a")
	must(t, err)
	chunks := map[int64]bool{}
	for _, r := range ra {
		chunks[floorTo(r.ts, hour)] = true
	}
	if len(sn.Sources) != len(chunks) || len(chunks) != 5 {
		t.Fatalf("%d sources after compaction, want %d (5)", len(sn.Sources), len(chunks))
	}
	sn.Release()
}

func TestCrashLeftoverCleanup(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	def := createT(t, s, "events")
	schema := testSchema()
	rows := makeRows(0, 100, func(i int) int64 { return int64(i) })
	must(t, s.Append(context.Background(), "events", toColumns(&schema, rows)))
	must(t, s.Close())
	published := segmentFiles(t, dir)
	if len(published) != 1 {
		t.Fatalf("files %v", published)
	}

	// What a crash between segment write and catalog commit leaves behind: a complete
	// file, a half-written temporary, and the directory of a table that never committed.
	tdir := filepath.Join(dir, "segments", fmt.Sprint(def.ID))
	data, err := os.ReadFile(filepath.Join(dir, "segments", published[0]))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(tdir, "19700101T00-7.seg"), data, 0o644))
	must(t, os.WriteFile(filepath.Join(tdir, "19700101T00-8.seg.tmp"), data[:10], 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "segments", "999"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "segments", "999", "19700101T00-1.seg"), data, 0o644))

	s = openT(t, dir)
	defer s.Close()
	if got := segmentFiles(t, dir); !slices.Equal(got, published) {
		t.Fatalf("after Open: files %v, want %v", got, published)
	}
	if _, err := os.Stat(filepath.Join(dir, "segments", "999")); !os.IsNotExist(err) {
		t.Fatalf("stray table directory left: %v", err)
	}
	checkRows(t, s, "events", rows)
}

func TestOpenCorruptSegment(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	createT(t, s, "events")
	schema := testSchema()
	must(t, s.Append(context.Background(), "events", toColumns(&schema, makeRows(0, 10, func(i int) int64 { return 0 }))))
	must(t, s.Close())
	files := segmentFiles(t, dir)
	p := filepath.Join(dir, "segments", files[0])
	must(t, os.Truncate(p, 20))

	_, err := Open(dir, Options{})
	if err == nil {
		t.Fatal("Open succeeded with a truncated segment")
	}
	if !strings.Contains(err.Error(), "events") || !strings.Contains(err.Error(), filepath.Base(p)) {
		t.Fatalf("error does not name the segment: %v", err)
	}
	if !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("error is not ErrCorrupt: %v", err)
	}
	// The failed Open released the catalog: removing the file lets a later Open
	// report the missing file, again without panicking.
	must(t, os.Remove(p))
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), filepath.Base(p)) {
		t.Fatalf("missing segment: %v", err)
	}
}

func TestDropWhileSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defer s.Close()
	def := createT(t, s, "events")
	createT(t, s, "other")
	schema := testSchema()
	rows := makeRows(0, 400, func(i int) int64 { return int64(i) * 30_000_000 }) // 200 minutes
	must(t, s.Append(context.Background(), "events", toColumns(&schema, rows)))
	other := makeRows(0, 5, func(i int) int64 { return 0 })
	must(t, s.Append(context.Background(), "other", toColumns(&schema, other)))

	sn, err := s.Snapshot("events")
	must(t, err)
	sn2, err := s.Snapshot("events")
	must(t, err)
	tdir := filepath.Join(dir, "segments", fmt.Sprint(def.ID))
	files, _ := os.ReadDir(tdir)
	if len(files) != 4 {
		t.Fatalf("%d files before drop", len(files))
	}

	must(t, s.DropTable("events"))
	if _, ok := s.Table("events"); ok {
		t.Fatal("table still there after drop")
	}
	if _, err := s.Snapshot("events"); !errors.Is(err, ErrNoTable) {
		t.Fatalf("snapshot of dropped table: %v", err)
	}
	if err := s.DropTable("events"); !errors.Is(err, ErrNoTable) {
		t.Fatalf("second drop: %v", err)
	}

	// The snapshots still read every row; the files are still there.
	if got := readSnapshot(t, sn); !slices.Equal(got, sortedByID(rows)) {
		t.Fatal("snapshot rows changed after drop")
	}
	sn.Release()
	sn.Release() // harmless
	if files, _ := os.ReadDir(tdir); len(files) != 4 {
		t.Fatalf("%d files while a snapshot is held, want 4", len(files))
	}
	if got := readSnapshot(t, sn2); len(got) != len(rows) {
		t.Fatal("second snapshot lost rows")
	}
	sn2.Release()
	if _, err := os.Stat(tdir); !os.IsNotExist(err) {
		t.Fatalf("table directory after last release: %v", err)
	}
	checkRows(t, s, "other", other)

	// Re-creating the name gives an empty table.
	createT(t, s, "events")
	checkRows(t, s, "events", nil)
}

func TestConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	createT(t, s, "events")
	schema := testSchema()
	const workers, appends, perAppend = 6, 5, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers+2)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range appends {
				first := int64((w*appends + a) * perAppend)
				rows := makeRows(first, perAppend, func(i int) int64 { return (first + int64(i)) * 60_000_000 })
				if err := s.Append(context.Background(), "events", toColumns(&schema, rows)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // readers see a growing, consistent table
		defer bg.Done()
		last := 0
		for {
			select {
			case <-stop:
				return
			default:
			}
			sn, err := s.Snapshot("events")
			if err != nil {
				errs <- err
				return
			}
			n := 0
			for _, src := range sn.Sources {
				n += src.NumRows()
			}
			sn.Release()
			if n < last || n%perAppend != 0 {
				errs <- fmt.Errorf("snapshot saw %d rows after %d", n, last)
				return
			}
			last = n
		}
	}()
	go func() { // compaction runs alongside
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Compact(context.Background(), "events"); err != nil {
				errs <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)
	bg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var want []row
	for w := range workers {
		for a := range appends {
			first := int64((w*appends + a) * perAppend)
			want = append(want, makeRows(first, perAppend, func(i int) int64 { return (first + int64(i)) * 60_000_000 })...)
		}
	}
	checkRows(t, s, "events", want)
	must(t, s.Close())
	s = openT(t, dir)
	defer s.Close()
	checkRows(t, s, "events", want)
}

func TestCompact(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defer s.Close()
	def := createT(t, s, "events")
	schema := testSchema()
	var all []row
	// 12 small appends into chunks -1h and 0 (6 each), one append into 5h.
	for a := range 12 {
		base := int64(a * 25)
		rows := makeRows(base, 25, func(i int) int64 {
			if a%2 == 0 {
				return -hour + (base+int64(i))*1000
			}
			return (base + int64(i)) * 1000
		})
		must(t, s.Append(context.Background(), "events", toColumns(&schema, rows)))
		all = append(all, rows...)
	}
	lone := makeRows(1000, 3, func(i int) int64 { return 5*hour + int64(i) })
	must(t, s.Append(context.Background(), "events", toColumns(&schema, lone)))
	all = append(all, lone...)
	loneSeg := s.Catalog().Segments("events")[12]
	if len(s.Catalog().Segments("events")) != 13 {
		t.Fatal("want 13 segments before compaction")
	}

	old, err := s.Snapshot("events")
	must(t, err)
	v := s.Catalog().Version()
	must(t, s.Compact(context.Background(), "events"))
	if s.Catalog().Version() != v+1 {
		t.Fatal("compaction was not one catalog commit")
	}
	segs := s.Catalog().Segments("events")
	if len(segs) != 3 {
		t.Fatalf("%d segments after compaction, want 3", len(segs))
	}
	if segs[2] != loneSeg {
		t.Fatal("a chunk with one segment was rewritten")
	}
	if segs[0].Rows != 150 || segs[1].Rows != 150 {
		t.Fatalf("compacted rows %d, %d; want 150, 150", segs[0].Rows, segs[1].Rows)
	}
	checkRows(t, s, "events", all)

	// The old files stay until the snapshot taken before compaction is released.
	if n := len(segmentFiles(t, dir)); n != 15 {
		t.Fatalf("%d files while the old snapshot is held, want 15", n)
	}
	if got := readSnapshot(t, old); !slices.Equal(got, sortedByID(all)) {
		t.Fatal("old snapshot changed")
	}
	old.Release()
	var want []string
	for _, m := range segs {
		want = append(want, strings.TrimPrefix(m.Path, "segments/"))
	}
	sort.Strings(want)
	if got := segmentFiles(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	for _, f := range want {
		if !strings.HasPrefix(f, fmt.Sprint(def.ID)+"/") {
			t.Fatalf("file %s outside the table directory", f)
		}
	}
	// Nothing left to do.
	must(t, s.Compact(context.Background(), "events"))
	if s.Catalog().Version() != v+1 {
		t.Fatal("compaction with nothing to merge committed")
	}
	if err := s.Compact(context.Background(), "nope"); !errors.Is(err, ErrNoTable) {
		t.Fatalf("compact missing table: %v", err)
	}
}

// cancelAfter is a context whose Err reports cancellation from its n+1st call on,
// so a test can cancel "between chunks" deterministically.
type cancelAfter struct {
	context.Context
	mu sync.Mutex
	n  int
}

func (c *cancelAfter) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		return context.Canceled
	}
	c.n--
	return nil
}

func TestAppendErrors(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defer s.Close()
	createT(t, s, "events")
	schema := testSchema()
	good := makeRows(0, 30, func(i int) int64 { return int64(i%3) * hour })

	wrongType := testSchema()
	wrongType.Columns[3].Type = storage.TypeInt64
	wrongName := testSchema()
	wrongName.Columns[2].Name = "user"
	nullTime := toColumns(&schema, good)
	nullTime.SetNull(1, 4)
	nullID := toColumns(&schema, good)
	nullID.SetNull(0, 4)
	short := toColumns(&schema, good)
	short.Cols[4].Bool = short.Cols[4].Bool[:10]

	cases := []struct {
		name  string
		ctx   context.Context
		table string
		cols  *storage.Columns
		want  error
	}{
		{"no table", context.Background(), "nope", toColumns(&schema, good), ErrNoTable},
		{"wrong type", context.Background(), "events", &storage.Columns{Schema: &wrongType, Len: 0, Cols: make([]storage.ColumnData, 5)}, nil},
		{"wrong name", context.Background(), "events", &storage.Columns{Schema: &wrongName, Len: 0, Cols: make([]storage.ColumnData, 5)}, nil},
		{"null time", context.Background(), "events", nullTime, nil},
		{"null in not null", context.Background(), "events", nullID, nil},
		{"short column", context.Background(), "events", short, nil},
		{"cancelled before", &cancelAfter{Context: context.Background()}, "events", toColumns(&schema, good), context.Canceled},
		{"cancelled between chunks", &cancelAfter{Context: context.Background(), n: 2}, "events", toColumns(&schema, good), context.Canceled},
	}
	v := s.Catalog().Version()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Append(tc.ctx, tc.table, tc.cols)
			if err == nil {
				t.Fatal("Append succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if files := segmentFiles(t, dir); len(files) != 0 {
				t.Fatalf("files left behind: %v", files)
			}
			if len(s.Catalog().Segments("events")) != 0 || s.Catalog().Version() != v {
				t.Fatal("failed Append changed the catalog")
			}
			checkRows(t, s, "events", nil)
		})
	}
	// Empty input is a no-op.
	must(t, s.Append(context.Background(), "events", storage.NewColumns(&schema, 0)))
	if s.Catalog().Version() != v {
		t.Fatal("empty append committed")
	}
}

func TestAppendWithOffsets(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	createT(t, s, "events")
	schema := testSchema()
	rows := makeRows(0, 20, func(i int) int64 { return int64(i) * hour / 4 })
	must(t, s.AppendWithOffsets(context.Background(), "events", toColumns(&schema, rows), map[string]int64{"ev/0": 20}))
	// An offset moving backwards is refused, and the rows with it.
	err := s.AppendWithOffsets(context.Background(), "events", toColumns(&schema, makeRows(100, 5, func(int) int64 { return 0 })), map[string]int64{"ev/0": 3})
	if !errors.Is(err, catalog.ErrInvalidBatch) {
		t.Fatalf("offset going back: %v", err)
	}
	must(t, s.Close())
	s = openT(t, dir)
	defer s.Close()
	checkRows(t, s, "events", rows)
	if got := s.Catalog().Offsets("events"); got["ev/0"] != 20 || len(got) != 1 {
		t.Fatalf("offsets %v", got)
	}
	if n := len(segmentFiles(t, dir)); n != 5 {
		t.Fatalf("%d files, want 5", n)
	}
}

func TestCloseWithSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	createT(t, s, "events")
	schema := testSchema()
	rows := makeRows(0, 10, func(i int) int64 { return 0 })
	must(t, s.Append(context.Background(), "events", toColumns(&schema, rows)))
	sn, err := s.Snapshot("events")
	must(t, err)
	must(t, s.Close())
	// The held reader stays usable until released, and the published file stays.
	if got := readSnapshot(t, sn); len(got) != 10 {
		t.Fatal("snapshot unreadable after Close")
	}
	sn.Release()
	if n := len(segmentFiles(t, dir)); n != 1 {
		t.Fatalf("%d files after release, want 1", n)
	}
	if _, err := s.Snapshot("events"); err == nil {
		t.Fatal("Snapshot after Close succeeded")
	}
	if err := s.Append(context.Background(), "events", toColumns(&schema, rows)); err == nil {
		t.Fatal("Append after Close succeeded")
	}
	s = openT(t, dir)
	defer s.Close()
	checkRows(t, s, "events", rows)
}

func TestTxnPublishesAtOnce(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defer s.Close()
	def := createT(t, s, "tx")
	ctx := context.Background()
	const hour = int64(3_600_000_000)

	tx, err := s.Begin("tx")
	must(t, err)
	var all []row
	for i := 0; i < 3; i++ {
		rows := makeRows(int64(i)*100, 100, func(j int) int64 { return int64(i)*hour + int64(j) })
		all = append(all, rows...)
		must(t, tx.Append(ctx, toColumns(&def.Schema, rows)))
		checkRows(t, s, "tx", nil) // staged rows are invisible before Commit
	}
	if tx.Rows() != 300 {
		t.Fatalf("Rows() = %d, want 300", tx.Rows())
	}
	must(t, tx.Commit())
	checkRows(t, s, "tx", all)

	// An aborted transaction leaves no rows and no files behind.
	before := segmentFiles(t, dir)
	tx, err = s.Begin("tx")
	must(t, err)
	must(t, tx.Append(ctx, toColumns(&def.Schema, makeRows(1000, 50, func(j int) int64 { return int64(j) }))))
	if n := len(segmentFiles(t, dir)); n != len(before)+1 {
		t.Fatalf("staged segment files: %d, want %d", n, len(before)+1)
	}
	tx.Abort()
	checkRows(t, s, "tx", all)
	if after := segmentFiles(t, dir); len(after) != len(before) {
		t.Fatalf("abort left files: before %v after %v", before, after)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
}
