package lakesrc

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/segment"
)

// splitTable writes n random rows in files of per rows each.
func splitTable(t *testing.T, seed uint64, n, per int) (*testTable, *storage.Columns, *storage.Schema, []string) {
	t.Helper()
	in := genColumns(testSchema(), seed, n)
	tt := writeTable(t, in, nil, lake.WriteOptions{MaxRowsPerFile: int64(per)})
	schema, deltaCols, err := TableSchema(tt.snap, "ts")
	if err != nil {
		t.Fatal(err)
	}
	return tt, in, schema, deltaCols
}

// loadAll creates, loads and reads a Source per file, then closes them all.
func loadAll(t *testing.T, c *Cache, tt *testTable, schema *storage.Schema, deltaCols []string) []string {
	t.Helper()
	var keys []string
	for _, f := range tt.snap.Files() {
		s := mustSource(t, c, tt, f, schema, deltaCols)
		mustLoad(t, s)
		keys = append(keys, rowKeys(readSource(t, s))...)
		s.Close()
	}
	return keys
}

func TestCacheRestart(t *testing.T) {
	tt, in, schema, deltaCols := splitTable(t, 11, 900, 300)
	dir := t.TempDir()
	c1, err := OpenCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameMultiset(t, "first", loadAll(t, c1, tt, schema, deltaCols), rowKeys(in))
	st1 := c1.Stats()
	if st1.Entries != 3 || st1.Misses != 3 || st1.Hits != 0 || st1.Bytes <= 0 {
		t.Fatalf("stats after first load %+v", st1)
	}
	c1.Close()
	if _, err := c1.Source(context.Background(), tt.location, tt.snap, tt.snap.Files()[0], schema, deltaCols); err == nil {
		t.Fatal("Source on a closed cache")
	}
	os.WriteFile(filepath.Join(dir, "junk.seg.tmp"), []byte("partial"), 0o644)

	reads := tt.fs.dataReads.Load()
	c2, err := OpenCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st := c2.Stats(); st.Entries != 3 || st.Bytes != st1.Bytes {
		t.Fatalf("after restart %+v, before %+v", st, st1)
	}
	if slices.Contains(cacheFiles(t, dir), "junk.seg.tmp") {
		t.Error("leftover temporary file kept")
	}
	sameMultiset(t, "after restart", loadAll(t, c2, tt, schema, deltaCols), rowKeys(in))
	if st := c2.Stats(); st.Hits != 3 || st.Misses != 0 {
		t.Fatalf("stats after restart %+v", st)
	}
	if n := tt.fs.dataReads.Load(); n != reads {
		t.Fatalf("%d data reads after restart", n-reads)
	}

	// A different schema (hidden time) is a different entry.
	hs, hd, err := TableSchema(tt.snap, "")
	if err != nil {
		t.Fatal(err)
	}
	loadAll(t, c2, tt, hs, hd)
	if st := c2.Stats(); st.Entries != 6 || st.Misses != 3 {
		t.Fatalf("stats with a second schema %+v", st)
	}
}

func TestCacheEviction(t *testing.T) {
	tt, _, schema, deltaCols := splitTable(t, 12, 1200, 400)
	files := tt.snap.Files()
	if len(files) != 3 {
		t.Fatalf("files %s", fmtFiles(files))
	}
	// Measure one entry size with an unlimited cache.
	probe, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	loadAll(t, probe, tt, schema, deltaCols)
	size := probe.Stats().Bytes / 3
	dir := t.TempDir()
	c, err := OpenCache(dir, size*5/2) // room for two entries
	if err != nil {
		t.Fatal(err)
	}
	src := func(i int) *Source {
		s := mustSource(t, c, tt, files[i], schema, deltaCols)
		mustLoad(t, s)
		return s
	}
	nameOf := func(i int) string { return entryName(tt.location, files[i], schema) }
	has := func(i int) bool { return slices.Contains(cacheFiles(t, dir), nameOf(i)) }

	a := src(0) // held throughout
	src(1).Close()
	src(2).Close() // over the limit: 1 is the least recently used unheld entry
	if !has(0) || has(1) || !has(2) {
		t.Fatalf("after loading 3: files %v (held 0, want 1 evicted)", cacheFiles(t, dir))
	}
	if st := c.Stats(); st.Evictions != 1 || st.Entries != 2 {
		t.Fatalf("stats %+v", st)
	}
	// The held entry is still readable.
	if _, err := a.ReadInt64(0, 0, a.NumRows(), nil); err != nil {
		t.Fatal(err)
	}
	// Hold everything: the limit is exceeded rather than deleting a held file.
	// (Loading 1 again evicts the unheld 2, which is then converted again.)
	b, d := src(1), src(2)
	if !has(0) || !has(1) || !has(2) {
		t.Fatalf("held entries deleted: %v", cacheFiles(t, dir))
	}
	for _, s := range []*Source{a, b, d} {
		if _, err := s.ReadInt64(0, 0, s.NumRows(), nil); err != nil {
			t.Fatal(err)
		}
	}
	a.Close() // released first, so the least recently used when 2 is released
	b.Close()
	d.Close()
	if has(0) || !has(1) || !has(2) {
		t.Fatalf("after releasing all: %v", cacheFiles(t, dir))
	}
	if st := c.Stats(); st.Bytes > size*5/2 || st.Evictions != 3 || st.Misses != 5 {
		t.Fatalf("stats %+v, limit %d", st, size*5/2)
	}
}

func TestAdopt(t *testing.T) {
	ctx := context.Background()
	in := genColumns(testSchema(), 13, 800)
	tt := writeTable(t, in, nil, lake.WriteOptions{})
	files := tt.snap.Files()
	if len(files) != 1 {
		t.Fatalf("files %s", fmtFiles(files))
	}
	segPath := filepath.Join(t.TempDir(), "hot.seg")
	if _, err := segment.Write(segPath, in); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Adopt(tt.location, files[0], segPath); err != nil {
		t.Fatal(err)
	}
	if err := c.Adopt(tt.location, files[0], segPath); err != nil { // already there
		t.Fatal(err)
	}
	schema, deltaCols, err := TableSchema(tt.snap, "ts")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Source(ctx, tt.location, tt.snap, files[0], schema, deltaCols)
	if err != nil {
		t.Fatal(err)
	}
	mustLoad(t, s)
	sameMultiset(t, "adopted", rowKeys(readSource(t, s)), rowKeys(in))
	s.Close()
	if st := c.Stats(); st.Entries != 1 || st.Misses != 0 || st.Hits != 1 {
		t.Fatalf("stats %+v", st)
	}
	if n := tt.fs.dataReads.Load(); n != 0 {
		t.Fatalf("%d data reads for an adopted file", n)
	}
	// A segment with other rows is refused.
	short := genColumns(testSchema(), 14, 10)
	other := filepath.Join(t.TempDir(), "other.seg")
	if _, err := segment.Write(other, short); err != nil {
		t.Fatal(err)
	}
	if err := c.Adopt(tt.location+"2", files[0], other); err == nil {
		t.Fatal("adopted a segment with the wrong row count")
	}
}

func TestConcurrentLoadConvertsOnce(t *testing.T) {
	tt, in, schema, deltaCols := splitTable(t, 15, 600, 600)
	f := tt.snap.Files()[0]
	c, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := rowKeys(in)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Source(context.Background(), tt.location, tt.snap, f, schema, deltaCols)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			if err := s.Load(context.Background()); err != nil {
				errs <- err
				return
			}
			if got, err := s.ReadInt64(0, 0, s.NumRows(), nil); err != nil || len(got) != len(want) {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Misses != 1 || st.Hits != 15 {
		t.Fatalf("stats %+v", st)
	}
	if n := tt.fs.dataReads.Load(); n != 1 {
		t.Fatalf("lake file read %d times", n)
	}
}

func TestCorruptCacheEntry(t *testing.T) {
	tt, in, schema, deltaCols := splitTable(t, 16, 500, 500)
	f := tt.snap.Files()[0]
	dir := t.TempDir()
	path := filepath.Join(dir, entryName(tt.location, f, schema))
	for _, tc := range []struct {
		name    string
		corrupt func()
	}{
		{"garbage at restart", func() { os.WriteFile(path, []byte("not a segment"), 0o644) }},
		{"truncated", func() {
			b, _ := os.ReadFile(path)
			os.WriteFile(path, b[:len(b)/2], 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := OpenCache(dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			loadAll(t, c, tt, schema, deltaCols)
			tc.corrupt()
			// The same Cache: the next Load finds the file broken and converts again.
			misses := c.Stats().Misses
			sameMultiset(t, "reconverted", loadAll(t, c, tt, schema, deltaCols), rowKeys(in))
			if st := c.Stats(); st.Misses != misses+1 {
				t.Fatalf("stats %+v, misses before %d", st, misses)
			}
			c.Close()
			// A restart deletes a broken file.
			tc.corrupt()
			c2, err := OpenCache(dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			if st := c2.Stats(); st.Entries != 0 {
				t.Fatalf("broken entry kept at restart: %+v", st)
			}
			sameMultiset(t, "after restart", loadAll(t, c2, tt, schema, deltaCols), rowKeys(in))
		})
	}

	// A block checksum failure found while reading: the entry is rebuilt once unused.
	c, err := OpenCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	loadAll(t, c, tt, schema, deltaCols)
	b, _ := os.ReadFile(path)
	b[20] ^= 0xff // inside the first block of column 0
	os.WriteFile(path, b, 0o644)
	s := mustSource(t, c, tt, f, schema, deltaCols)
	mustLoad(t, s)
	if _, err := s.ReadInt64(0, 0, s.NumRows(), nil); err == nil {
		t.Fatal("corrupt block read without error")
	}
	s.Close()
	misses := c.Stats().Misses
	sameMultiset(t, "rebuilt", loadAll(t, c, tt, schema, deltaCols), rowKeys(in))
	if st := c.Stats(); st.Misses != misses+1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCorruptParquet(t *testing.T) {
	ctx := context.Background()
	tt, in, schema, deltaCols := splitTable(t, 17, 300, 300)
	f := tt.snap.Files()[0]
	p := filepath.Join(tt.dir, "tbl", filepath.FromSlash(f.DecodedPath))
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, err := OpenCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{
		[]byte("PAR1 this is not parquet PAR1"),
		append(slices.Clone(orig[:len(orig)/2]), orig[len(orig)-8:]...),
		func() []byte { b := slices.Clone(orig); copy(b[4:], make([]byte, len(b)/2)); return b }(),
	} {
		os.WriteFile(p, bad, 0o644)
		s := mustSource(t, c, tt, f, schema, deltaCols) // stats answer: no read yet
		err := s.Load(ctx)
		if err == nil || !strings.Contains(err.Error(), f.DecodedPath) {
			t.Fatalf("corrupt parquet: err %v", err)
		}
		if files := cacheFiles(t, dir); len(files) != 0 {
			t.Fatalf("cache files after a failed conversion: %v", files)
		}
		// Restored: the same Source retries and succeeds.
		os.WriteFile(p, orig, 0o644)
		mustLoad(t, s)
		sameMultiset(t, "restored", rowKeys(readSource(t, s)), rowKeys(in))
		s.Close()
		// drop the entry so the next round converts again
		os.Remove(filepath.Join(dir, entryName(tt.location, f, schema)))
		c.Close()
		if c, err = OpenCache(dir, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSchemaMismatch: a Delta column that cannot be read as the schema asks is an
// error naming the file and column.
func TestSchemaMismatch(t *testing.T) {
	tt, _, schema, deltaCols := splitTable(t, 18, 50, 50)
	bad := *schema
	bad.Columns = slices.Clone(schema.Columns)
	i := bad.Index("name")
	bad.Columns[i].Type, bad.Columns[i].SQLType = storage.TypeInt64, "bigint"
	c, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	f := tt.snap.Files()[0]
	s := mustSource(t, c, tt, f, &bad, deltaCols)
	err = s.Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), f.DecodedPath) || !strings.Contains(err.Error(), "name") {
		t.Fatalf("err %v", err)
	}
	s.Close()
	wrong := slices.Clone(deltaCols)
	wrong[i] = "region"
	if _, err := c.Source(context.Background(), tt.location, tt.snap, f, schema, wrong); err == nil {
		t.Fatal("a column reading another Delta column was accepted")
	}
}

// TestEvictIdle: files unused since the cutoff go, held and recently used ones stay.
func TestEvictIdle(t *testing.T) {
	tt, _, schema, deltaCols := splitTable(t, 13, 900, 300)
	files := tt.snap.Files()
	dir := t.TempDir()
	c, err := OpenCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	has := func(i int) bool { return slices.Contains(cacheFiles(t, dir), entryName(tt.location, files[i], schema)) }
	load := func(i int) *Source {
		s := mustSource(t, c, tt, files[i], schema, deltaCols)
		mustLoad(t, s)
		return s
	}
	load(0).Close()
	held := load(1)
	cutoff := time.Now()
	time.Sleep(10 * time.Millisecond)
	load(2).Close()
	if n := c.EvictIdle(cutoff); n != 1 {
		t.Fatalf("EvictIdle deleted %d files, want 1", n)
	}
	if has(0) || !has(1) || !has(2) {
		t.Fatalf("after EvictIdle: %v (want 0 gone, 1 held, 2 recent)", cacheFiles(t, dir))
	}
	held.Close()
	if n := c.EvictIdle(time.Now().Add(time.Hour)); n != 2 || len(cacheFiles(t, dir)) != 0 {
		t.Fatalf("EvictIdle(all) deleted %d, left %v", n, cacheFiles(t, dir))
	}
}
