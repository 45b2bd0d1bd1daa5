package objstore

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Cached is a Store that keeps Get and GetRange results of cacheable keys in files
// under a local folder, evicting least recently used entries to stay within maxBytes.
// Puts and deletes made through it invalidate the key's entries; List and Stat pass
// through. It is meant for immutable objects (the lake's Parquet files, Delta commits,
// checkpoints): a change made to a cached key by another process is not seen until the
// entry is evicted.
//
// Entries: a whole object (from Get) or one exact range (from GetRange, keyed by
// key, off and n). A GetRange is served from a cached whole object when there is one;
// otherwise the range is fetched and cached as its own entry: Parquet readers re-read
// the same footer and column-chunk ranges on every query, so exact ranges hit.
//
// Files: the entries of one object key are appended to one file, kept open
// (keyFile): a cached range costs one write and each hit one read, where a file
// per range cost a create, a write, a rename and, on every hit, an open (on S3
// first runs, 12% of the process's CPU was opening those files). An evicted
// entry's bytes are freed by punching a hole in its file (where the file system
// can), and the file is closed with its last entry; files are unlinked as soon
// as they are created, so none outlives the process. At most maxKeyFiles are
// open.
type Cached struct {
	inner     Store
	dir       string
	maxBytes  int64
	cacheable func(key string) bool

	mu struct {
		sync.Mutex
		lru     *list.List                  // of *cacheEntry, most recent at the front
		entries map[cacheID]*list.Element   // all entries
		byKey   map[string]map[cacheID]bool // entries per object key, for invalidation
		files   map[string]*keyFile         // the open file of each key with entries
		fills   map[string]*fillState       // fetches in flight per key
		size    int64                       // sum of entry sizes
		seq     uint64                      // names key files uniquely
		// Fetched values waiting for their file to be written (in queue
		// order): the reader that fetched a value does not wait for the
		// write, and reads of it meanwhile are served from memory.
		pending      map[cacheID]*[]byte // by pointer: a write knows its own value
		pendingBytes int64
		queue        []cacheID
		writing      bool // a writeLoop runs
	}
	written *sync.Cond // on mu: signalled when the write queue runs empty
	dirErr  error      // creating dir failed: caching is off (set once, before use)
}

// maxPendingBytes bounds the fetched bytes waiting for their cache file; a fill
// beyond it is not cached (a miss next time, as when the cache cannot write).
const maxPendingBytes = 64 << 20

// maxKeyFiles bounds the cache files open at once (one per object key with
// entries): least recently used entries are evicted to open another.
const maxKeyFiles = 256

type cacheID struct {
	key    string
	off, n int64 // whole object: 0, -1
}

type cacheEntry struct {
	id   cacheID
	kf   *keyFile
	off  int64 // in kf's file
	size int64
	gone bool // removed: its bytes may be a hole. Guarded by kf.mu (written under kf.mu and c.mu).
}

// keyFile is the cache file of one object key, open for reading and writing.
// Entries are appended at end by the one writeLoop; reads and writes hold mu
// shared, a removal (a hole punched, the file closed) holds it exclusively.
type keyFile struct {
	mu     sync.RWMutex
	f      *os.File // nil once closed. Guarded by mu.
	end    int64    // where the next entry goes. Guarded by Cached.mu.
	live   int      // entries in the file. Guarded by Cached.mu.
	closed bool     // removed from Cached.mu.files. Guarded by Cached.mu.
}

// fillState tracks fetches of one key that started before they can insert; an
// invalidation in between marks them stale so they do not insert old bytes.
type fillState struct {
	running int
	stale   bool
}

// NewCached wraps inner with a read cache in dir of at most maxBytes. Every key is
// cacheable except Delta's `_last_checkpoint` (the one object in a Delta table that
// is overwritten in place). Use NewCachedFilter to choose the keys.
func NewCached(inner Store, dir string, maxBytes int64) Store {
	return NewCachedFilter(inner, dir, maxBytes, func(key string) bool {
		return path.Base(key) != "_last_checkpoint"
	})
}

// NewCachedFilter is NewCached with a predicate choosing the cacheable (immutable) keys.
// Files left in dir by an earlier process are removed: the index lives in memory.
func NewCachedFilter(inner Store, dir string, maxBytes int64, cacheable func(key string) bool) *Cached {
	c := &Cached{inner: inner, dir: dir, maxBytes: maxBytes, cacheable: cacheable}
	c.mu.lru = list.New()
	c.mu.entries = make(map[cacheID]*list.Element)
	c.mu.byKey = make(map[string]map[cacheID]bool)
	c.mu.fills = make(map[string]*fillState)
	c.mu.files = make(map[string]*keyFile)
	c.mu.pending = make(map[cacheID]*[]byte)
	c.written = sync.NewCond(&c.mu.Mutex)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.dirErr = err
		return c
	}
	old, _ := filepath.Glob(filepath.Join(dir, "c-*"))
	for _, f := range old {
		os.Remove(f)
	}
	return c
}

// Stats reports the number of entries and their total size.
func (c *Cached) Stats() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.lru.Len(), c.mu.size
}

func (c *Cached) Get(ctx context.Context, key string) ([]byte, error) {
	if !c.cacheable(key) {
		return c.inner.Get(ctx, key)
	}
	whole := cacheID{key: key, off: 0, n: -1}
	if data, ok := c.lookup(whole); ok {
		return data, nil
	}
	c.beginFill(key)
	data, err := c.inner.Get(ctx, key)
	c.endFill(key, whole, data, err)
	return data, err
}

func (c *Cached) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if !c.cacheable(key) || off < 0 {
		return c.inner.GetRange(ctx, key, off, n)
	}
	if data, ok := c.lookupRange(cacheID{key: key, off: 0, n: -1}, off, n); ok {
		return data, nil
	}
	id := cacheID{key: key, off: off, n: n}
	if data, ok := c.lookup(id); ok {
		return data, nil
	}
	c.beginFill(key)
	data, err := c.inner.GetRange(ctx, key, off, n)
	c.endFill(key, id, data, err)
	return data, err
}

// lookupRange returns bytes [off, off+n) of a cached whole object, reading only
// that range of the cache file (a Parquet footer read must not load the whole file).
func (c *Cached) lookupRange(id cacheID, off, n int64) ([]byte, bool) {
	if data, ok := c.pendingData(id); ok {
		if off >= int64(len(data)) {
			return []byte{}, true
		}
		end := int64(len(data))
		if n >= 0 && off+n < end {
			end = off + n
		}
		return bytes.Clone(data[off:end]), true
	}
	e, ok := c.touch(id)
	if !ok {
		return nil, false
	}
	if off >= e.size {
		return []byte{}, true
	}
	want := e.size - off
	if n >= 0 && n < want {
		want = n
	}
	return e.read(off, want)
}

// read returns n bytes at off of the entry's bytes, or false if it was removed
// meanwhile or its file cannot be read (a miss).
func (e *cacheEntry) read(off, n int64) ([]byte, bool) {
	e.kf.mu.RLock()
	defer e.kf.mu.RUnlock()
	if e.gone || e.kf.f == nil {
		return nil, false
	}
	buf := make([]byte, n)
	if _, err := e.kf.f.ReadAt(buf, e.off+off); err != nil {
		return nil, false
	}
	return buf, true
}

// touch finds an entry and marks it most recently used.
func (c *Cached) touch(id cacheID) (*cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.mu.entries[id]
	if !ok {
		return nil, false
	}
	c.mu.lru.MoveToFront(el)
	return el.Value.(*cacheEntry), true
}

// lookup returns a cached entry's bytes. An entry evicted after the lock was
// released, or a file that cannot be read, is a miss.
func (c *Cached) lookup(id cacheID) ([]byte, bool) {
	if data, ok := c.pendingData(id); ok {
		return bytes.Clone(data), true
	}
	e, ok := c.touch(id)
	if !ok {
		return nil, false
	}
	return e.read(0, e.size)
}

// pendingData returns the bytes of an entry whose file is being written; the
// caller copies them.
func (c *Cached) pendingData(id cacheID) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.mu.pending[id]
	if !ok {
		return nil, false
	}
	return *p, true
}

func (c *Cached) beginFill(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fs := c.mu.fills[key]
	if fs == nil {
		fs = &fillState{}
		c.mu.fills[key] = fs
	}
	fs.running++
}

// endFill queues a fetched value for writing to its cache file (writeLoop)
// unless the key was invalidated since beginFill; the caller does not wait for
// the write. The fill stays registered (running) until the entry is inserted
// or dropped, so an invalidation while the cache file is written still marks
// it stale.
func (c *Cached) endFill(key string, id cacheID, data []byte, err error) {
	size := int64(len(data))
	c.mu.Lock()
	defer c.mu.Unlock()
	fs := c.mu.fills[key]
	if fs == nil {
		panic("BUG: objstore cache: endFill without beginFill for " + key)
	}
	_, dup := c.mu.entries[id]
	_, queued := c.mu.pending[id]
	if err == nil && c.dirErr == nil && size <= c.maxBytes && !fs.stale && !dup && !queued &&
		c.mu.pendingBytes+size <= maxPendingBytes {
		// A copy: the caller keeps data.
		cp := bytes.Clone(data)
		c.mu.pending[id] = &cp
		c.mu.pendingBytes += size
		c.mu.queue = append(c.mu.queue, id)
		if !c.mu.writing {
			c.mu.writing = true
			go c.writeLoop()
		}
		return
	}
	c.endFillLocked(fs, key)
}

// endFillLocked unregisters one fill of key.
// REQUIRES: c.mu is held.
func (c *Cached) endFillLocked(fs *fillState, key string) {
	fs.running--
	if fs.running == 0 {
		delete(c.mu.fills, key)
	}
}

// writeLoop writes the queued values to their cache files and inserts them as
// entries, until the queue is empty.
func (c *Cached) writeLoop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.mu.queue) > 0 {
		id := c.mu.queue[0]
		c.mu.queue = c.mu.queue[1:]
		p, ok := c.mu.pending[id]
		if !ok {
			continue // invalidated meanwhile (invalidate ended its fill)
		}
		data := *p
		size := int64(len(data))
		kf, werr := c.keyFileLocked(id.key)
		var off int64
		if werr == nil {
			// The space is taken before the write: an entry inserted is
			// never overwritten, even if this one is dropped.
			off = kf.end
			kf.end += size
			c.mu.Unlock()
			werr = kf.write(data, off)
			c.mu.Lock()
		}
		if cur, still := c.mu.pending[id]; !still || cur != p {
			// invalidate dropped it and ended its fill while it was written
			// (a later fill of the same range may be queued again)
			c.discardLocked(id.key, kf, off, size, werr == nil)
			continue
		}
		delete(c.mu.pending, id)
		c.mu.pendingBytes -= size
		fs := c.mu.fills[id.key]
		if fs == nil {
			panic("BUG: objstore cache: a queued write without its fill for " + id.key)
		}
		c.endFillLocked(fs, id.key)
		if _, dup := c.mu.entries[id]; werr != nil || fs.stale || dup || kf.closed {
			c.discardLocked(id.key, kf, off, size, werr == nil)
			continue // a cache that cannot write is just a miss
		}
		kf.live++ // before evicting: the file stays open for this entry
		for c.mu.size+size > c.maxBytes && c.mu.lru.Len() > 0 {
			c.removeLocked(c.mu.lru.Back())
		}
		el := c.mu.lru.PushFront(&cacheEntry{id: id, kf: kf, off: off, size: size})
		c.mu.entries[id] = el
		ids := c.mu.byKey[id.key]
		if ids == nil {
			ids = make(map[cacheID]bool)
			c.mu.byKey[id.key] = ids
		}
		ids[id] = true
		c.mu.size += size
	}
	c.mu.queue = nil
	c.mu.writing = false
	c.written.Broadcast()
}

// Wait returns once every fetched value queued for its cache file so far is
// written and inserted (or dropped).
func (c *Cached) Wait() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.mu.writing {
		c.written.Wait()
	}
}

// keyFileLocked returns key's cache file, creating it (named by a sequence
// number and a hash of the key: keys never become paths).
// REQUIRES: c.mu is held.
func (c *Cached) keyFileLocked(key string) (*keyFile, error) {
	if kf := c.mu.files[key]; kf != nil {
		return kf, nil
	}
	for len(c.mu.files) >= maxKeyFiles && c.mu.lru.Len() > 0 {
		c.removeLocked(c.mu.lru.Back())
	}
	c.mu.seq++
	name := filepath.Join(c.dir, "c-"+strconv.FormatUint(c.mu.seq, 10)+"-"+shortHash(key))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	// Unlinked at once: the open file is the cache entry's only name, so the
	// file goes with its last entry or with the process, and never outlives it.
	if err := os.Remove(name); err != nil {
		f.Close()
		return nil, err
	}
	kf := &keyFile{f: f}
	c.mu.files[key] = kf
	return kf, nil
}

// write writes data at off of the file.
func (kf *keyFile) write(data []byte, off int64) error {
	kf.mu.RLock()
	defer kf.mu.RUnlock()
	if kf.f == nil {
		return os.ErrClosed
	}
	_, err := kf.f.WriteAt(data, off)
	return err
}

// discardLocked gives up bytes [off, off+n) of key's file kf (nil: none),
// written or not, that no entry holds.
// REQUIRES: c.mu is held.
func (c *Cached) discardLocked(key string, kf *keyFile, off, n int64, written bool) {
	if kf == nil {
		return
	}
	if written && kf.live > 0 {
		kf.mu.Lock()
		if kf.f != nil {
			punchHole(kf.f, off, n)
		}
		kf.mu.Unlock()
	}
	c.dropUnusedLocked(key, kf)
}

// dropUnusedLocked closes key's file kf (nil: none) if it holds no entry.
// REQUIRES: c.mu is held.
func (c *Cached) dropUnusedLocked(key string, kf *keyFile) {
	if kf == nil || kf.live > 0 || kf.closed {
		return
	}
	kf.closed = true
	if c.mu.files[key] == kf {
		delete(c.mu.files, key)
	}
	kf.mu.Lock()
	kf.f.Close()
	kf.f = nil
	kf.mu.Unlock()
}

// removeLocked drops one entry and frees its bytes.
// REQUIRES: c.mu is held.
func (c *Cached) removeLocked(el *list.Element) {
	e := c.mu.lru.Remove(el).(*cacheEntry)
	delete(c.mu.entries, e.id)
	if ids := c.mu.byKey[e.id.key]; ids != nil {
		delete(ids, e.id)
		if len(ids) == 0 {
			delete(c.mu.byKey, e.id.key)
		}
	}
	c.mu.size -= e.size
	if c.mu.size < 0 {
		panic("BUG: objstore cache: negative size")
	}
	kf := e.kf
	kf.live--
	kf.mu.Lock()
	e.gone = true
	if kf.live > 0 {
		punchHole(kf.f, e.off, e.size)
	}
	kf.mu.Unlock()
	c.dropUnusedLocked(e.id.key, kf)
}

// invalidate drops every entry of key and marks in-flight fills of it stale.
func (c *Cached) invalidate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fs := c.mu.fills[key]
	if fs != nil {
		fs.stale = true
	}
	for id, p := range c.mu.pending {
		if id.key == key {
			delete(c.mu.pending, id)
			c.mu.pendingBytes -= int64(len(*p))
			c.endFillLocked(fs, key) // its write is skipped (writeLoop)
		}
	}
	for id := range c.mu.byKey[key] {
		c.removeLocked(c.mu.entries[id])
	}
}

func shortHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:8])
}

// Put and Delete invalidate both before and after the write: before, so no reader is
// served the old bytes once the write may have landed; after, so a fill that read the
// old bytes during the write cannot insert them.
func (c *Cached) Put(ctx context.Context, key string, data []byte) error {
	c.invalidate(key)
	defer c.invalidate(key)
	return c.inner.Put(ctx, key, data)
}

func (c *Cached) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	c.invalidate(key)
	defer c.invalidate(key)
	return c.inner.PutIfAbsent(ctx, key, data)
}

func (c *Cached) Delete(ctx context.Context, key string) error {
	c.invalidate(key)
	defer c.invalidate(key)
	return c.inner.Delete(ctx, key)
}

func (c *Cached) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	return c.inner.List(ctx, prefix)
}

func (c *Cached) ListFrom(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error) {
	return c.inner.ListFrom(ctx, prefix, startAfter)
}

func (c *Cached) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	return c.inner.Stat(ctx, key)
}

// String names the cache for error messages and logs.
func (c *Cached) String() string {
	return fmt.Sprintf("cache(%s, %d bytes)", strings.TrimSuffix(c.dir, "/"), c.maxBytes)
}
