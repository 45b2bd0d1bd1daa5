package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// countingStore counts the reads that reach the inner store.
type countingStore struct {
	Store
	gets, ranges atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func (c *countingStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	c.ranges.Add(1)
	return c.Store.GetRange(ctx, key, off, n)
}

func newCachedForTest(t *testing.T, maxBytes int64) (*Cached, *countingStore, string) {
	t.Helper()
	l, err := OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	inner := &countingStore{Store: l}
	dir := t.TempDir()
	c := NewCached(inner, dir, maxBytes).(*Cached)
	t.Cleanup(c.Wait) // before the folders are removed
	return c, inner, dir
}

// The cache must keep the Store contract: the whole conformance suite runs over it.
func TestCachedConformance(t *testing.T) {
	runConformance(t, func(t *testing.T) Store {
		c, _, _ := newCachedForTest(t, 64<<10)
		return c
	})
}

func TestCachedHitsAndRanges(t *testing.T) {
	c, inner, dir := newCachedForTest(t, 1<<20)
	ctx := context.Background()
	data := randBytes(5, 1000)
	mustPut(t, c, "f.parquet", data)

	type step struct {
		off, n             int64 // n == -2: Get
		wantGets, wantRngs int64 // inner calls after the step
	}
	steps := []step{
		{0, 8, 0, 1},     // miss: range fetched
		{0, 8, 0, 1},     // hit on the exact range
		{992, 8, 0, 2},   // another range: miss
		{992, 8, 0, 2},   // hit
		{0, -2, 1, 2},    // Get: miss
		{0, -2, 1, 2},    // Get: hit
		{100, 50, 1, 2},  // served from the whole object
		{990, 100, 1, 2}, // clipped, from the whole object
		{2000, 3, 1, 2},  // past the end, from the whole object
	}
	for i, s := range steps {
		var got []byte
		var err error
		want := []byte{}
		if s.n == -2 {
			got, err = c.Get(ctx, "f.parquet")
			want = data
		} else {
			got, err = c.GetRange(ctx, "f.parquet", s.off, s.n)
			for j := s.off; j < int64(len(data)) && j < s.off+s.n; j++ {
				want = append(want, data[j])
			}
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("step %d (%d,%d): wrong bytes", i, s.off, s.n)
		}
		if g, r := inner.gets.Load(), inner.ranges.Load(); g != s.wantGets || r != s.wantRngs {
			t.Errorf("step %d (%d,%d): inner gets=%d ranges=%d, want %d %d", i, s.off, s.n, g, r, s.wantGets, s.wantRngs)
		}
	}
	c.Wait()
	n, size := c.Stats()
	if n != 3 || size != 8+8+1000 {
		t.Errorf("stats = %d entries %d bytes, want 3, 1016", n, size)
	}
	if files, keys := keyFiles(c); files != 1 || keys != 1 {
		t.Errorf("%d cache files for the entries of %d keys, want 1 and 1", files, keys)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "c-*")); len(files) != 0 {
		t.Errorf("cache files left linked: %v", files)
	}
}

// keyFiles returns the cache files open and the keys the entries are of.
func keyFiles(c *Cached) (files, keys int) {
	c.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for el := c.mu.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*cacheEntry)
		seen[e.id.key] = true
		if c.mu.files[e.id.key] != e.kf {
			panic("entry of " + e.id.key + " not in its key's file")
		}
	}
	return len(c.mu.files), len(seen)
}

func TestCachedEvictionLRU(t *testing.T) {
	c, inner, _ := newCachedForTest(t, 100)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d"} {
		mustPut(t, c, k, bytes.Repeat([]byte(k), 40))
	}
	mustPut(t, c, "huge", bytes.Repeat([]byte("h"), 101))
	get := func(k string) {
		t.Helper()
		got, err := c.Get(ctx, k)
		if err != nil || len(got) == 0 || got[0] != k[0] {
			t.Fatalf("get %s = %q, %v", k, got, err)
		}
	}
	// Each step: key read, whether it should reach the inner store, cached keys after.
	steps := []struct {
		key    string
		miss   bool
		cached string
	}{
		{"a", true, "a"},
		{"b", true, "a b"},
		{"a", false, "a b"}, // a is now most recent
		{"c", true, "a c"},  // evicts b (least recent)
		{"b", true, "b c"},  // evicts a
		{"c", false, "b c"},
		{"d", true, "c d"}, // evicts b
		{"huge", true, "c d"},
		{"huge", true, "c d"}, // larger than the cache: never stored
	}
	for i, s := range steps {
		before := inner.gets.Load()
		get(s.key)
		if miss := inner.gets.Load() > before; miss != s.miss {
			t.Errorf("step %d get %s: miss=%v, want %v", i, s.key, miss, s.miss)
		}
		var keys []string
		c.Wait()
		c.mu.Lock()
		for el := c.mu.lru.Front(); el != nil; el = el.Next() {
			keys = append(keys, el.Value.(*cacheEntry).id.key)
		}
		size := c.mu.size
		c.mu.Unlock()
		sortStrings(keys)
		if strings.Join(keys, " ") != s.cached {
			t.Errorf("step %d: cached %v, want %s", i, keys, s.cached)
		}
		if size > 100 {
			t.Errorf("step %d: size %d over the limit", i, size)
		}
		if files, _ := keyFiles(c); files != len(keys) {
			t.Errorf("step %d: %d files for %d entries", i, files, len(keys))
		}
	}
}

func sortStrings(v []string) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

func TestCachedInvalidation(t *testing.T) {
	c, inner, _ := newCachedForTest(t, 1<<20)
	ctx := context.Background()
	mustPut(t, c, "k", []byte("v1"))
	mustGet(t, c, "k")
	if _, err := c.GetRange(ctx, "k", 1, 1); err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, "k", []byte("version 2"))
	if got := mustGet(t, c, "k"); string(got) != "version 2" {
		t.Errorf("after put: %q", got)
	}
	if got, _ := c.GetRange(ctx, "k", 1, 1); string(got) != "e" {
		t.Errorf("after put, range: %q", got)
	}
	if err := c.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrNotExist) {
		t.Errorf("after delete: %v", err)
	}
	if err := c.PutIfAbsent(ctx, "k", []byte("v3")); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, c, "k"); string(got) != "v3" {
		t.Errorf("after put-if-absent: %q", got)
	}
	// Errors are not cached.
	before := inner.gets.Load()
	for range 2 {
		if _, err := c.Get(ctx, "missing"); !errors.Is(err, ErrNotExist) {
			t.Fatal(err)
		}
	}
	if inner.gets.Load()-before != 2 {
		t.Errorf("missing key was cached")
	}
	// _last_checkpoint is rewritten in place by Delta writers: never cached.
	mustPut(t, c, "t/_delta_log/_last_checkpoint", []byte("1"))
	before = inner.gets.Load()
	mustGet(t, c, "t/_delta_log/_last_checkpoint")
	mustGet(t, c, "t/_delta_log/_last_checkpoint")
	if inner.gets.Load()-before != 2 {
		t.Errorf("_last_checkpoint was cached")
	}
}

// TestCachedConcurrent: readers and writers race (run with -race). Every read returns
// some version that was written for the key (never a mix), and when all is done the
// cache serves each key's last version: no stale entry survived an invalidation.
func TestCachedConcurrent(t *testing.T) {
	c, _, dir := newCachedForTest(t, 3000) // small: constant eviction
	ctx := context.Background()
	const keys, readers, ops = 8, 8, 300
	version := func(k, v int) []byte {
		return bytes.Repeat(fmt.Appendf(nil, "k%d-v%03d|", k, v), 20+k*5)
	}
	var latest [keys]atomic.Int64
	for k := range keys {
		mustPut(t, c, fmt.Sprintf("obj/%d", k), version(k, 0))
	}
	valid := func(k int, got []byte, off, n int64) bool {
		for v := int64(0); v <= latest[k].Load()+1; v++ {
			if bytes.Equal(got, clipRangeLoop(version(k, int(v)), off, n)) {
				return true
			}
		}
		return false
	}
	var wg sync.WaitGroup
	var bad atomic.Int64
	var writerMu [keys]sync.Mutex
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for range ops {
				k := rng.IntN(keys)
				key := fmt.Sprintf("obj/%d", k)
				switch op := rng.IntN(10); {
				case op == 0 && r < 2: // two of the readers also write
					writerMu[k].Lock()
					v := latest[k].Load() + 1
					if err := c.Put(ctx, key, version(k, int(v))); err != nil {
						t.Error(err)
					}
					latest[k].Store(v)
					writerMu[k].Unlock()
				case op < 5:
					got, err := c.Get(ctx, key)
					if err != nil || !valid(k, got, 0, -1) {
						bad.Add(1)
					}
				default:
					off, n := int64(rng.IntN(150)), int64(rng.IntN(60))-5
					got, err := c.GetRange(ctx, key, off, n)
					if err != nil || !valid(k, got, off, n) {
						bad.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d reads returned bytes that were never written", bad.Load())
	}
	for k := range keys {
		key := fmt.Sprintf("obj/%d", k)
		want := version(k, int(latest[k].Load()))
		for range 2 { // once to fill, once from the cache
			if got := mustGet(t, c, key); !bytes.Equal(got, want) {
				t.Errorf("%s: stale bytes after the race", key)
			}
		}
	}
	c.Wait()
	n, size := c.Stats()
	if size > 3000 {
		t.Errorf("cache size %d over the limit", size)
	}
	if files, keys := keyFiles(c); files != keys || n < keys {
		t.Errorf("%d cache files for %d entries of %d keys", files, n, keys)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

// clipRangeLoop is the expected range, by a plain loop.
func clipRangeLoop(data []byte, off, n int64) []byte {
	out := []byte{}
	for i := off; i < int64(len(data)) && (n < 0 || i < off+n); i++ {
		out = append(out, data[i])
	}
	return out
}

func TestCachedStaleFilesRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c-1-deadbeef"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, _ := OpenLocal(t.TempDir())
	NewCached(l, dir, 100)
	if files, _ := filepath.Glob(filepath.Join(dir, "c-*")); len(files) != 0 {
		t.Errorf("stale cache files kept: %v", files)
	}
}

// blockingStore pauses Get after it read the bytes, until release is closed.
type blockingStore struct {
	Store
	read    chan struct{} // closed when the paused Get has its bytes
	release chan struct{}
	once    sync.Once // only the first Get pauses
}

func (b *blockingStore) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := b.Store.Get(ctx, key)
	b.once.Do(func() {
		close(b.read)
		<-b.release
	})
	return data, err
}

// TestCachedFillRacingPut: a Get reads the old bytes, a Put completes, then the Get
// tries to insert: the old bytes must not be cached (they would be served forever).
func TestCachedFillRacingPut(t *testing.T) {
	l, err := OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustPut(t, l, "k", []byte("old"))
	inner := &blockingStore{Store: l, read: make(chan struct{}), release: make(chan struct{})}
	c := NewCached(inner, t.TempDir(), 1<<20).(*Cached)
	t.Cleanup(c.Wait)
	done := make(chan []byte)
	go func() {
		got, err := c.Get(ctx, "k")
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	<-inner.read
	if err := c.Put(ctx, "k", []byte("new")); err != nil {
		t.Fatal(err)
	}
	close(inner.release)
	if got := <-done; string(got) != "old" {
		t.Fatalf("racing get = %q, want old (it read before the put)", got)
	}
	if got, err := l.Get(ctx, "k"); err != nil || string(got) != "new" {
		t.Fatalf("inner = %q, %v", got, err)
	}
	got, err := c.Get(ctx, "k")
	if err != nil || string(got) != "new" {
		t.Errorf("get after the race = %q, %v; want new (stale fill was cached)", got, err)
	}
}
