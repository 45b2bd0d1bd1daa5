package lakesrc

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/segment"
)

const entrySuffix = ".seg"

// Cache materializes lake files as segment files under one directory and keeps at
// most maxBytes of them. See the package comment for its invariants.
type Cache struct {
	dir      string
	maxBytes int64

	mu      sync.Mutex
	closed  bool
	entries map[string]*entry // by file name
	// What Source learns about a lake file from the log, by entry name: files
	// are immutable, and queries ask for the same files again and again.
	bounds    memo[fileBounds]
	dataFiles map[string]*lake.DataFile // footers for Direct Sources, at most maxDataFiles
	conv      converter                 // background conversion (background.go)
	lru       list.List                 // ready entries with refs == 0; front = most recently used
	bytes     int64                     // sum of size over ready entries
	hits      int64
	misses    int64
	evicts    int64
}

// entry is one cache file. Fields are guarded by Cache.mu.
type entry struct {
	name   string
	path   string
	ready  bool  // the file exists and is counted in Cache.bytes
	size   int64 // file size when ready
	refs   int   // Sources (and running Adopts) holding the entry
	reader *segment.Reader
	// busy is non-nil while one holder converts, adopts or opens the entry; it is
	// closed when that work ends. Only a holder (refs > 0) takes it.
	busy chan struct{}
	bad  bool // a read found the file corrupt: delete it once unused
	elem *list.Element
	used time.Time // when the last holder let go (file time after a restart)
}

// memo is a map that starts over when it reaches maxMemoized entries, so that it
// stays bounded however many files pass through. Guarded by Cache.mu.
type memo[T any] map[string]T

// maxMemoized bounds each memo.
const maxMemoized = 100_000

func (m *memo[T]) get(c *Cache, key string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := (*m)[key]
	return v, ok
}

func (m *memo[T]) put(c *Cache, key string, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *m == nil || len(*m) >= maxMemoized {
		*m = memo[T]{}
	}
	(*m)[key] = v
}

// fileBounds is what a file's add stats say of its rows and time range.
type fileBounds struct {
	rows     int
	min, max int64
	exact    bool
}

// CacheStats are counters for metrics.
type CacheStats struct {
	Entries   int   // files in the cache
	Bytes     int64 // their total size
	Hits      int64 // loads served from an existing file
	Misses    int64 // loads that converted a lake file
	Evictions int64 // files deleted to stay under the size limit
	// ConvertFailures counts background conversions that failed (retried after
	// more reads).
	ConvertFailures int64
}

// OpenCache opens (creating it if needed) the cache directory dir, which belongs to
// this Cache alone, keeping at most maxBytes of segment files (maxBytes <= 0:
// unlimited). Files left by an earlier Cache are reused, least recently used
// first by modification time; a file that fails segment.Open and leftover
// temporary files are deleted.
func OpenCache(dir string, maxBytes int64) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lake cache %s: %w", dir, err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("lake cache %s: %w", dir, err)
	}
	c := &Cache{dir: dir, maxBytes: maxBytes, entries: map[string]*entry{}}
	type found struct {
		e     *entry
		mtime time.Time
	}
	var fs []found
	for _, de := range des {
		name := de.Name()
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, entrySuffix+".tmp") {
			os.Remove(p) // an interrupted conversion or adopt
			continue
		}
		if !de.Type().IsRegular() || !strings.HasSuffix(name, entrySuffix) {
			continue
		}
		r, err := segment.Open(p)
		if err != nil {
			os.Remove(p)
			continue
		}
		info := r.Info()
		r.Close()
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		fs = append(fs, found{&entry{name: name, path: p, ready: true, size: info.Bytes, used: st.ModTime()}, st.ModTime()})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].mtime.Before(fs[j].mtime) })
	for _, f := range fs {
		c.entries[f.e.name] = f.e
		f.e.elem = c.lru.PushFront(f.e)
		c.bytes += f.e.size
	}
	c.mu.Lock()
	c.evict()
	c.mu.Unlock()
	return c, nil
}

// Close stops the cache: later Source and Adopt calls fail, and a background
// conversion in progress is cancelled (and waited for). Sources already
// returned stay usable until they are closed. The files stay for the next OpenCache.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stopConversions()
	return nil
}

// Stats returns the cache counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.entries {
		if e.ready {
			n++
		}
	}
	return CacheStats{Entries: n, Bytes: c.bytes, Hits: c.hits, Misses: c.misses, Evictions: c.evicts, ConvertFailures: c.conv.failed}
}

// entryName derives a cache file name from what identifies a lake file's content
// (the table location, the decoded path, the deletion vector id and the file size)
// and the column names and physical types the segment holds.
func entryName(location string, f *lake.AddFile, schema *storage.Schema) string {
	h := sha256.New()
	w := func(s string) { io.WriteString(h, s); h.Write([]byte{0}) }
	w("strata lakesrc v1")
	w(location)
	w(f.DecodedPath)
	w(f.DeletionVector.UniqueID())
	w(strconv.FormatInt(f.Size, 10))
	w(strconv.Itoa(schema.TimeColumn))
	for _, col := range schema.Columns {
		w(col.Name)
		w(strconv.Itoa(int(col.Type)))
	}
	return hex.EncodeToString(h.Sum(nil)) + entrySuffix
}

var errClosed = errors.New("lake cache is closed")

// acquire returns the entry for name with one more holder.
func (c *Cache) acquire(name string) (*entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	e := c.entries[name]
	if e == nil {
		e = &entry{name: name, path: filepath.Join(c.dir, name)}
		c.entries[name] = e
	}
	if e.elem != nil {
		c.lru.Remove(e.elem)
		e.elem = nil
	}
	e.refs++
	return e, nil
}

// release drops one holder of e; at zero the shared reader is closed and the entry
// becomes evictable (or is forgotten when it has no file).
func (c *Cache) release(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.refs > 0 {
		return
	}
	if e.reader != nil {
		e.reader.Close()
		e.reader = nil
	}
	if e.bad && e.ready {
		c.dropFile(e)
	}
	if !e.ready {
		delete(c.entries, e.name)
		return
	}
	e.elem = c.lru.PushFront(e)
	e.used = time.Now()
	c.evict()
}

// EvictIdle deletes the files no Source holds that were last used before cutoff
// (the retention of local copies of lake files) and returns how many it deleted.
func (c *Cache) EvictIdle(cutoff time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for c.lru.Len() > 0 {
		e := c.lru.Back().Value.(*entry)
		if !e.used.Before(cutoff) {
			break
		}
		c.lru.Remove(c.lru.Back())
		e.elem = nil
		c.dropFile(e)
		delete(c.entries, e.name)
		c.evicts++
		n++
	}
	return n
}

// dropFile deletes e's file. REQUIRES: c.mu held, e.ready, no reader open on it.
func (c *Cache) dropFile(e *entry) {
	os.Remove(e.path)
	c.bytes -= e.size
	e.ready, e.size, e.bad = false, 0, false
}

// evict deletes least recently used unheld files until the cache fits. REQUIRES: c.mu.
func (c *Cache) evict() {
	for c.maxBytes > 0 && c.bytes > c.maxBytes && c.lru.Len() > 0 {
		e := c.lru.Remove(c.lru.Back()).(*entry)
		e.elem = nil
		c.dropFile(e)
		delete(c.entries, e.name)
		c.evicts++
	}
}

// lockEntry takes e's work token, waiting for the current holder's work to end.
// REQUIRES: the caller holds e.
func (c *Cache) lockEntry(ctx context.Context, e *entry) error {
	c.mu.Lock()
	for e.busy != nil {
		ch := e.busy
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
	}
	e.busy = make(chan struct{})
	c.mu.Unlock()
	return nil
}

func (c *Cache) unlockEntry(e *entry) {
	c.mu.Lock()
	close(e.busy)
	e.busy = nil
	c.mu.Unlock()
}

// installed records that e's file now exists with size bytes. REQUIRES: e's token.
func (c *Cache) installed(e *entry, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.ready, e.size = true, size
	c.bytes += size
	c.evict()
}

// open returns the shared reader of e, producing the file with convert when it is
// missing (or fails segment.Open). REQUIRES: the caller holds e.
func (c *Cache) open(ctx context.Context, e *entry, convert func(ctx context.Context, path string) (int64, error)) (*segment.Reader, error) {
	c.mu.Lock()
	if r := e.reader; r != nil {
		c.hits++
		c.mu.Unlock()
		return r, nil
	}
	c.mu.Unlock()
	if err := c.lockEntry(ctx, e); err != nil {
		return nil, err
	}
	defer c.unlockEntry(e)
	c.mu.Lock()
	r, ready := e.reader, e.ready
	if r != nil {
		c.hits++
	}
	c.mu.Unlock()
	if r != nil {
		return r, nil
	}
	if ready {
		r, err := segment.Open(e.path)
		if err == nil {
			now := time.Now()
			os.Chtimes(e.path, now, now) // the LRU order a restart sees
			c.mu.Lock()
			e.reader = r
			c.hits++
			c.mu.Unlock()
			return r, nil
		}
		c.mu.Lock()
		c.dropFile(e) // corrupt: convert again
		c.mu.Unlock()
	}
	size, err := convert(ctx, e.path)
	if err != nil {
		return nil, err
	}
	r, err = segment.Open(e.path)
	if err != nil {
		os.Remove(e.path)
		return nil, err
	}
	c.mu.Lock()
	c.misses++
	e.reader = r
	e.ready, e.size = true, size
	c.bytes += size
	c.evict()
	c.mu.Unlock()
	return r, nil
}

// markBad notes that a read of e found its file corrupt: it is deleted when its
// last holder lets go, so the next Load converts the lake file again.
func (c *Cache) markBad(e *entry) {
	c.mu.Lock()
	e.bad = true
	c.mu.Unlock()
}

// Adopt installs an existing segment file (written elsewhere, holding exactly the
// rows of lake file f of the table at location) as the cache entry for f, by hard
// link or, when linking fails, by copy, so the first read needs no conversion.
// The entry is keyed by the segment's own column names and types, so Sources
// whose schema has those names and types find it. An entry already present is
// kept. The segment's row count must match f's stats when they have one.
func (c *Cache) Adopt(location string, f *lake.AddFile, segmentPath string) error {
	r, err := segment.Open(segmentPath)
	if err != nil {
		return fmt.Errorf("lake cache: adopt %s: %w", f.DecodedPath, err)
	}
	schema := *r.Schema()
	rows := r.NumRows()
	r.Close()
	if st, err := f.ParsedStats(); err == nil && st != nil && st.NumRecords != nil {
		want := *st.NumRecords
		if f.DeletionVector != nil {
			want -= f.DeletionVector.Cardinality
		}
		if int64(rows) != want {
			return fmt.Errorf("lake cache: adopt %s: segment %s has %d rows, the lake file %d", f.DecodedPath, segmentPath, rows, want)
		}
	}
	e, err := c.acquire(entryName(location, f, &schema))
	if err != nil {
		return fmt.Errorf("lake cache: adopt %s: %w", f.DecodedPath, err)
	}
	defer c.release(e)
	if err := c.lockEntry(context.Background(), e); err != nil {
		return err
	}
	defer c.unlockEntry(e)
	c.mu.Lock()
	ready := e.ready
	c.mu.Unlock()
	if ready {
		return nil
	}
	size, err := linkOrCopy(segmentPath, e.path)
	if err != nil {
		return fmt.Errorf("lake cache: adopt %s: %w", f.DecodedPath, err)
	}
	c.installed(e, size)
	return nil
}

// linkOrCopy publishes src at dst through dst+".tmp" (hard link, else a synced
// copy) and a rename, so dst is never partial. Returns the file size.
func linkOrCopy(src, dst string) (int64, error) {
	tmp := dst + ".tmp"
	os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		if err := copyFile(src, tmp); err != nil {
			os.Remove(tmp)
			return 0, err
		}
	}
	st, err := os.Stat(tmp)
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	storage.SyncDir(filepath.Dir(dst))
	return st.Size(), nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
