// Package store owns a data directory: the catalog, the segment files and the
// open readers over them, the real-time heads, and each table's Delta Lake table
// with the handoff of closed time chunks into it, or, for a Kafka table whose
// lake is the checkpoint of its partitions, of everything persisted by partition
// offset (lake.go), and the following of versions other writers commit to it
// (follow.go), of the partitions other processes own, read from Kafka into
// follower heads (follower.go), and OPTIMIZE under a lease in the Delta log, so
// that one of the nodes sharing a lake compacts it at a time (lease.go). It is
// the write path
// of batch ingest (Append) and of streaming ingest (heads, PublishFrozen), and
// hands queries consistent Snapshots over all tiers. cluster.go holds the hooks the
// cluster's lake catalog (package lakecat) uses: the lake schema of a table, the
// lake_path check, and ALTER TABLE … SET/RESET.
//
// Layout of a data directory:
//
//	<dir>/catalog/                                 pebble database (package catalog)
//	<dir>/segments/<table id>/<chunk>-<seq>.seg    one segment file; <chunk> is the chunk
//	                                               start as 20060102T15 (UTC), <seq> the
//	                                               segment's sequence number in its table
//	<dir>/lake/<table id>/                         a table's Delta Lake table, unless its
//	                                               lake_path option puts it elsewhere (lake.go)
//	<dir>/lakecache/                               lake files materialized as segments (lakesrc)
//
// Invariants:
//   - A segment file is published (recorded in the catalog) only after it is written,
//     fsynced and opened; its rows become visible to snapshots only after the catalog
//     batch that records it commits. One Append publishes all its segments in one batch.
//   - The live set of readers equals the catalog's segment list. Both change together
//     under Store.publishMu.
//   - Segment files are immutable and are deleted only when no snapshot references them
//     (DESIGN.md invariant 3): each reader is reference-counted, with one reference
//     held by the live set and one per snapshot.
//   - A streaming table's segment holds the rows of one source (Kafka partition,
//     SegmentMeta.Source) or of none; a snapshot reads a source's segments and head
//     only while the source is owned (SetOwned) and the lake it reads holds the
//     source no further than this process knew it, so a process never counts rows
//     of a partition another process owns and may hand off. The partitions it
//     does not own it reads from follower heads, from the lake's offset of each
//     on (follower.go).
//   - A file under segments/ that the catalog does not know (left by a crash between
//     write and commit, or by a drop whose snapshot outlived the process) is deleted at Open.
package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/lakesrc"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/realtime"
	"github.com/stratadb/strata/storage/roots"
	"github.com/stratadb/strata/storage/segment"
)

// Store is a data directory opened for reading and writing. Safe for concurrent use.
type Store struct {
	dir  string
	opts Options
	// realDir is dir made absolute with its symlinks resolved: no lake_path may
	// lie inside it or contain it.
	realDir string
	roots   roots.Roots
	cat     *catalog.Catalog
	cache   *lakesrc.Cache
	// rangeCacheBytes bounds each S3 location's byte-range cache (rangeCaches).
	rangeCacheBytes int64
	rangeMu         sync.Mutex
	rangeCaches     map[string]*objstore.Cached // by location. Guarded by rangeMu.
	knobs           Knobs

	lakeStats lakeCounters

	// bgCtx ends at Close; bg counts the goroutines that follow lakes
	// (follow.go), which Close waits for. bg.Add is only called under mu while
	// the store is open.
	bgCtx  context.Context
	bgStop context.CancelFunc
	bg     sync.WaitGroup

	// publishMu serializes every change of the catalog together with the matching
	// change of the live set (CreateTable, DropTable, and the publish step of Append
	// and Compact), so the two never disagree. Writing segment files happens outside it.
	publishMu sync.Mutex
	// compactMu lets one Compact run at a time.
	compactMu sync.Mutex
	// leases holds, per OPTIMIZE lease appId, the expiry of the lease this store
	// took last (lease.go), so that it may renew its own lease.
	leaseMu sync.Mutex
	leases  map[string]int64

	mu struct {
		sync.Mutex
		tables map[string]*liveTable
		// open holds every segment whose reader is still open: the live ones and the
		// dropped or compacted-away ones a snapshot still references.
		open   map[*segRef]struct{}
		closed bool
	}
}

// liveTable is the current state of one table. Guarded by Store.mu.
type liveTable struct {
	def  catalog.TableDef
	segs []*segRef // sorted by (ChunkStart, Seq), like catalog.Segments
	// head holds the rows appended by AppendHead and not yet persisted (nil until the
	// first). Its rows are in no segment.
	head *realtime.Head
	// heads are the heads of a streaming table's sources (AppendHeadSource): one
	// per Kafka partition ("topic/partition"), persisted into segments of their
	// own (SegmentMeta.Source).
	heads map[string]*realtime.Head
	// owned, when not nil, are the sources whose rows this process reads: the
	// partitions its consumer owns (SetOwned). Segments and heads of other
	// sources are in no snapshot and are never handed off (handoff by offset,
	// lake.go); nil: every source is read (a table nothing ingests).
	owned map[string]bool
	// follow are the follower heads of sources this process reads from Kafka
	// without owning them (follower.go), with each row's record offset.
	follow map[string]*realtime.Head
	// lakeOffs mirrors the catalog's LakeState.Offsets (where this process last
	// knew the lake's txn of each source) and changes with it under s.mu.
	lakeOffs map[string]int64
	// handedAt is, per source, when the lake last caught up with its catalog
	// offset (a handoff covered it, or ResetSource set it), for SourceLag.
	handedAt map[string]time.Time
	// hooks are the handoff hooks of the sources' owner (SetHandoffHooks).
	hooks *HandoffHooks

	// The cold tier (lake.go). lakeVersion and lakeSeq mirror the catalog's
	// LakeState and change with segs in one critical section; lakeSnap is the
	// Delta snapshot queries read once loaded (nil before): the version at
	// lakeVersion or a newer one other writers committed (follow.go). lake is
	// the open Delta table, set once.
	lakeVersion int64
	lakeSeq     uint64
	lakeSnap    *lake.Snapshot
	lake        *lakeLink
	// Following the lake (follow.go): when the last check started, whether one
	// is running, when the table was last queried, and lakeReady, closed once
	// the first query's load of the lake is done (nil before).
	lakeChecked  time.Time
	lakeChecking bool
	lakeQueried  time.Time
	lakeReady    chan struct{}
	// lakePinned holds lakeSnap where it is while a shared lookup table's
	// rewrite runs (lookupshared.go): installLake installs nothing then.
	lakePinned bool
}

// reads reports whether snapshots of lt read the rows of source ("" for rows
// of no source). REQUIRES: s.mu is held.
func (lt *liveTable) reads(source string) bool {
	return source == "" || lt.owned == nil || lt.owned[source]
}

// segRef is one open segment and its reference count.
type segRef struct {
	meta   catalog.SegmentMeta
	path   string // absolute (dir joined with meta.Path)
	reader *segment.Reader
	// refs counts the live set (1 while published) and every unreleased snapshot.
	// At zero the reader is closed and, if the segment is unpublished, its file deleted.
	// Guarded by Store.mu.
	refs int
	// unpublished is set when the catalog no longer records the segment (its table
	// was dropped, or a compaction replaced it). Guarded by Store.mu.
	unpublished bool
	// dropped is set when the segment's table was dropped, so the last unref also
	// tries to remove the table's directory. Guarded by Store.mu.
	dropped bool
}

// Options configure Open.
type Options struct {
	// ObjStore configures s3:// lake paths (endpoint, credentials, retries).
	ObjStore objstore.Options
	// LakeCacheBytes bounds the local cache of lake files materialized as
	// segments; 0 means DefaultLakeCacheBytes, < 0 unlimited.
	LakeCacheBytes int64
	// LocalRetention is how long the local copy of a lake file (a handed-off
	// segment, or a lake file a query materialized) is kept after its last use;
	// RunHandoff deletes older ones. 0 means DefaultLocalRetention, < 0 forever
	// (the size limit still applies).
	LocalRetention time.Duration
	// LakeRoots are the folders and s3://bucket/prefix locations under which a
	// table's lake_path, an external table, delta_scan and a server-side COPY may
	// lie (package roots); empty means <dir>/lake alone. Relative folders are
	// taken relative to the data directory.
	LakeRoots []string
	// Knobs are test hooks.
	Knobs Knobs
}

// DefaultLocalRetention is the default Options.LocalRetention.
const DefaultLocalRetention = 7 * 24 * time.Hour

// DefaultLakeCacheBytes is the default size limit of the lake file cache.
const DefaultLakeCacheBytes = 16 << 30

// Knobs are test hooks. The After…/Before… hooks stop a handoff or a persist
// between its steps: a non-nil error ends the Handoff or PublishFrozen with that
// error right there, as a crash would.
type Knobs struct {
	AfterLakeIntent func() error // handoff intent in the catalog, no Parquet file written
	AfterLakeFiles  func() error // Parquet files written, not committed
	AfterLakeCommit func() error // Delta commit done, not read back, catalog not marked
	BeforeLakeMark  func() error // Delta commit read back, catalog not marked
	// UnderLease: OptimizeUnderLease took the lease, OPTIMIZE has not begun.
	UnderLease func() error
	// AfterPersistSegments: a persist wrote its segment files, the catalog batch
	// (segments + offsets) is not committed.
	AfterPersistSegments func() error
	// MutantCommitFileTwice breaks handoff on purpose: the first chunk's Parquet
	// file is written and committed a second time, under another name. Only the
	// test that shows the lake checks catch it sets it.
	MutantCommitFileTwice bool
	// LakeRowGroupRows, when > 0, is the Parquet row group size of handed-off
	// files (default: lake.WriteOptions's).
	LakeRowGroupRows int64
	// LakeStore, when set, wraps the object store of every table's lake (a
	// slow or failing store in tests).
	LakeStore func(objstore.Store) objstore.Store
}

// lakeCounters counts handoffs since Open.
type lakeCounters struct {
	mu sync.Mutex
	st LakeStats
}

func (c *lakeCounters) record(r HandoffResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Handoffs++
	c.st.HandoffSeconds += r.Duration.Seconds()
	c.st.HandoffRows += r.Rows
	c.st.HandoffFiles += int64(r.Files)
	c.st.HandoffBytes += r.Bytes
}

func (c *lakeCounters) check(err error, updated bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.LakeChecks++
	if err != nil {
		c.st.LakeCheckErrors++
	}
	if updated {
		c.st.LakeUpdates++
	}
}

func (c *lakeCounters) get() LakeStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// Open opens (creating if needed) the data directory dir: it loads the catalog,
// opens a reader on every segment and deletes files under segments/ that the
// catalog does not know.
//
// The data directory and everything strata creates in it is private to the
// process's user (0700 folders; files are created 0600 or under the umask the
// binary sets); a data directory left more open is narrowed to 0700, as
// PostgreSQL insists on for its own.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "segments"), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	realDir, err := filepath.Abs(dir)
	if err == nil {
		realDir, err = filepath.EvalSymlinks(realDir)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	specs := opts.LakeRoots
	if len(specs) == 0 {
		specs = []string{filepath.Join(realDir, "lake")}
	}
	rts, err := roots.New(realDir, specs)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	cat, err := catalog.Open(filepath.Join(dir, "catalog"))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	cacheBytes := opts.LakeCacheBytes
	if cacheBytes == 0 {
		cacheBytes = DefaultLakeCacheBytes
	}
	// An eighth of the lake cache budget keeps byte ranges (footers, column
	// chunks) of lake files on S3; the rest their converted segments.
	rangeBytes := int64(math.MaxInt64)
	if cacheBytes > 0 {
		rangeBytes = cacheBytes / 8
		cacheBytes -= rangeBytes
	}
	cache, err := lakesrc.OpenCache(filepath.Join(dir, "lakecache"), cacheBytes)
	if err != nil {
		cat.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	s := &Store{dir: dir, realDir: realDir, roots: rts, opts: opts, cat: cat, cache: cache, knobs: opts.Knobs,
		rangeCacheBytes: rangeBytes}
	s.bgCtx, s.bgStop = context.WithCancel(context.Background())
	s.mu.tables = map[string]*liveTable{}
	s.mu.open = map[*segRef]struct{}{}
	fail := func(err error) (*Store, error) {
		for ref := range s.mu.open {
			ref.reader.Close()
		}
		cat.Close()
		cache.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}

	known := map[string]bool{} // absolute paths of published segments
	for _, def := range cat.Tables() {
		lt := &liveTable{def: def, owned: initialOwned(def)}
		if ls, ok := cat.Lake(def.Name); ok {
			lt.lakeVersion, lt.lakeSeq, lt.lakeOffs = ls.Version, ls.Seq, maps.Clone(ls.Offsets)
		}
		for _, m := range cat.Segments(def.Name) {
			path := filepath.Join(dir, filepath.FromSlash(m.Path))
			r, err := segment.Open(path)
			if err != nil {
				return fail(fmt.Errorf("table %s: segment %s: %w", def.Name, m.ID, err))
			}
			ref := &segRef{meta: m, path: path, reader: r, refs: 1}
			s.mu.open[ref] = struct{}{}
			if info := r.Info(); info.Rows != m.Rows || info.Rows > 0 && (info.MinTime != m.MinTime || info.MaxTime != m.MaxTime) {
				return fail(fmt.Errorf("table %s: segment %s (%s): holds %d rows in [%d, %d], catalog says %d in [%d, %d]: %w",
					def.Name, m.ID, path, info.Rows, info.MinTime, info.MaxTime, m.Rows, m.MinTime, m.MaxTime, storage.ErrCorrupt))
			}
			lt.segs = append(lt.segs, ref)
			known[path] = true
		}
		s.mu.tables[def.Name] = lt
	}
	if err := s.removeStrays(known); err != nil {
		return fail(err)
	}
	if err := s.migrateLakeDirs(); err != nil {
		return fail(err)
	}
	s.bg.Add(1)
	go s.followLoop()
	return s, nil
}

// removeStrays deletes everything under segments/ that is not a published segment.
// REQUIRES: no Append or Compact is running (called from Open only).
func (s *Store) removeStrays(known map[string]bool) error {
	root := filepath.Join(s.dir, "segments")
	tableDirs := map[string]bool{}
	for _, lt := range s.mu.tables {
		tableDirs[strconv.FormatUint(lt.def.ID, 10)] = true
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		if !e.IsDir() || !tableDirs[e.Name()] {
			// A dropped table's directory, or something that is not ours to keep.
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("remove stray %s: %w", p, err)
			}
			continue
		}
		files, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, f := range files {
			fp := filepath.Join(p, f.Name())
			if !known[fp] {
				if err := os.RemoveAll(fp); err != nil {
					return fmt.Errorf("remove stray %s: %w", fp, err)
				}
			}
		}
	}
	return nil
}

// Close closes the catalog and every segment reader that no snapshot holds; a
// reader an unreleased snapshot still holds is closed by its last Release (closing
// it earlier would unmap memory under a running scan). Files of segments dropped
// but still held are left for the next Open to delete.
func (s *Store) Close() error {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return errors.New("store: already closed")
	}
	s.mu.closed = true
	s.bgStop()
	var toClose []*segRef
	for _, lt := range s.mu.tables {
		for _, ref := range lt.segs {
			ref.refs--
			if ref.refs == 0 {
				toClose = append(toClose, ref)
				delete(s.mu.open, ref)
			}
		}
	}
	s.mu.tables = nil
	s.mu.Unlock()
	s.bg.Wait() // no check starts once closed is set
	s.rangeMu.Lock()
	for _, c := range s.rangeCaches {
		c.Wait() // the byte-range caches' files are written in the background
	}
	s.rangeMu.Unlock()

	s.finalize(toClose)
	cerr := s.cache.Close()
	if err := s.cat.Close(); err != nil {
		return err
	}
	return cerr
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Catalog returns the store's catalog, for reading (offsets, versions, segment
// lists). Changing segments through it directly bypasses the live set; use the
// Store's methods.
func (s *Store) Catalog() *catalog.Catalog { return s.cat }

// CreateTable adds a table; ErrTableExists if the name is taken.
func (s *Store) CreateTable(def catalog.TableDef) (catalog.TableDef, error) {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	if err := s.checkOpen(); err != nil {
		return def, err
	}
	if p := def.Options[OptLakePath]; p != "" && !IsExternal(&def) {
		loc, err := s.resolveLakePath(p, def.Name, def.Options[optRejectsOf])
		if err != nil {
			return def, fmt.Errorf("table %s: lake_path: %w", def.Name, err)
		}
		def.Options = maps.Clone(def.Options)
		def.Options[OptLakePath] = loc
	}
	def, err := s.cat.CreateTable(def)
	if err != nil {
		return def, err
	}
	s.mu.Lock()
	s.mu.tables[def.Name] = &liveTable{def: def, owned: initialOwned(def)}
	s.mu.Unlock()
	return def, nil
}

// DropTable removes a table and, once no snapshot uses them, its segment files.
// ErrNoTable if it does not exist.
func (s *Store) DropTable(name string) error {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	def, _ := s.cat.Table(name)
	if _, err := s.cat.DropTable(name); err != nil {
		return err
	}
	s.removeDefaultLake(def)
	s.mu.Lock()
	lt := s.mu.tables[name]
	if lt == nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("BUG: table %s in the catalog but not in the live set", name))
	}
	delete(s.mu.tables, name)
	var dead []*segRef
	for _, ref := range lt.segs {
		ref.unpublished, ref.dropped = true, true
		dead = s.unrefLocked(ref, dead)
	}
	s.mu.Unlock()
	s.finalize(dead)
	if len(lt.segs) == 0 {
		os.Remove(s.tableDir(lt.def.ID)) // may never have existed
	}
	return nil
}

// Table returns the definition of name.
func (s *Store) Table(name string) (catalog.TableDef, bool) { return s.cat.Table(name) }

// Tables lists all tables by name.
func (s *Store) Tables() []catalog.TableDef { return s.cat.Tables() }

// Snapshot is SnapshotContext without a context.
func (s *Store) Snapshot(table string) (*Snapshot, error) {
	return s.SnapshotContext(context.Background(), table)
}

// SnapshotContext returns the table's current sources: its lake files at the
// Delta version the catalog records, its segments and its head, all taken in one
// critical section so each row is in exactly one of them. The caller must Release
// it; files are deleted only after every snapshot that references them is released.
func (s *Store) SnapshotContext(ctx context.Context, table string) (*Snapshot, error) {
	return s.SnapshotRange(ctx, table, math.MinInt64, math.MaxInt64)
}

// SnapshotRange is SnapshotContext for a query that reads only rows with times in
// [tmin, tmax] (µs): see SnapshotPruned.
func (s *Store) SnapshotRange(ctx context.Context, table string, tmin, tmax int64) (*Snapshot, error) {
	return s.SnapshotPruned(ctx, table, storage.Prune{TimeMin: tmin, TimeMax: tmax})
}

// SnapshotPruned is SnapshotContext for one scan: lake files, and row groups of
// lake files read directly (lakesrc.Direct), that p rules out (wholly outside its
// time range, or refused by p.Allow on their Delta or footer statistics) may be
// left out, so that only those the query needs are read. Segments and heads are
// all there.
func (s *Store) SnapshotPruned(ctx context.Context, table string, p storage.Prune) (*Snapshot, error) {
	for {
		s.mu.Lock()
		if s.mu.closed {
			s.mu.Unlock()
			return nil, errClosed
		}
		lt := s.mu.tables[table]
		if lt == nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("snapshot %s: %w", table, ErrNoTable)
		}
		def := lt.def
		if lt.lakeSeq > 0 && (lt.lakeSnap == nil || lt.lakeSnap.Version < lt.lakeVersion) {
			// Load the lake snapshot outside the lock, then start over.
			s.mu.Unlock()
			if err := s.loadLake(ctx, def); err != nil {
				return nil, err
			}
			continue
		}
		if ready := lt.lakeReady; ready == nil || lt.lakeSnap == nil && !isClosed(ready) {
			// The table's first query: load the lake (other writers' versions)
			// before reading, once; concurrent first queries wait for it.
			if ready == nil {
				ready = make(chan struct{})
				lt.lakeReady = ready
				lt.lakeChecking, lt.lakeChecked = true, time.Now()
				s.mu.Unlock()
				err := s.checkLake(ctx, lt, def)
				s.mu.Lock()
				lt.lakeChecking = false
				if err != nil {
					lt.lakeReady = nil // the next query tries again
				}
				close(ready)
				s.mu.Unlock()
				if err != nil {
					return nil, err
				}
				continue
			}
			s.mu.Unlock()
			select {
			case <-ready:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		now := time.Now()
		lt.lakeQueried = now
		s.kickLakeCheckLocked(lt, now)
		sn := &Snapshot{
			Table:       def,
			Sources:     make([]storage.Source, 0, len(lt.segs)),
			store:       s,
			refs:        make([]*segRef, 0, len(lt.segs)),
			LakeVersion: -1,
		}
		// The snapshot rule (follower.go): the lake at lakeSnap, the owned
		// sources' local rows unless the lake moved past them, the followed
		// sources' rows at or past the lake's offsets.
		lakeSnap, l := lt.lakeSnap, lt.lake
		var stale []string
		if lt.owned != nil {
			stale = lt.staleOwnedLocked(lakeSnap)
		}
		for _, ref := range lt.segs {
			if !lt.reads(ref.meta.Source) || slices.Contains(stale, ref.meta.Source) {
				continue
			}
			ref.refs++
			sn.refs = append(sn.refs, ref)
			sn.Sources = append(sn.Sources, ref.reader)
		}
		if lt.head != nil {
			for _, v := range lt.head.Snapshot() {
				sn.Sources = append(sn.Sources, v)
			}
		}
		for _, src := range slices.Sorted(maps.Keys(lt.heads)) {
			if !lt.reads(src) || slices.Contains(stale, src) {
				continue
			}
			for _, v := range lt.heads[src].Snapshot() {
				sn.Sources = append(sn.Sources, v)
			}
		}
		lt.addFollowedLocked(sn, lakeSnap)
		s.mu.Unlock()
		if lakeSnap != nil {
			// Lake files stay on storage until VACUUM, days after they leave the
			// log, so reading them after unlocking is safe.
			sn.LakeVersion = lakeSnap.Version
			if err := s.addLakeSources(ctx, sn, l, lakeSnap, p); err != nil {
				sn.Release()
				return nil, err
			}
		}
		return sn, nil
	}
}

// Snapshot is a consistent, immutable view of one table.
type Snapshot struct {
	Table catalog.TableDef
	// Sources are the table's segments, sorted by (chunk start, sequence number),
	// then views of its head's parts (rows not yet persisted), by chunk start, then
	// its lake files.
	Sources []storage.Source
	// LakeVersion is the Delta version whose files are in Sources; -1 for none.
	LakeVersion int64

	store    *Store
	refs     []*segRef
	lakeSrcs []*lakesrc.Source
	released sync.Once
}

// Release lets go of the snapshot's readers. Calling it more than once is harmless;
// the Sources must not be used after it.
func (sn *Snapshot) Release() {
	sn.released.Do(func() {
		s := sn.store
		var dead []*segRef
		s.mu.Lock()
		for _, ref := range sn.refs {
			dead = s.unrefLocked(ref, dead)
		}
		s.mu.Unlock()
		s.finalize(dead)
		for _, src := range sn.lakeSrcs {
			src.Close()
		}
	})
}

// unrefLocked drops one reference of ref and appends it to dead when it was the
// last. REQUIRES: s.mu is held.
func (s *Store) unrefLocked(ref *segRef, dead []*segRef) []*segRef {
	ref.refs--
	switch {
	case ref.refs < 0:
		panic(fmt.Sprintf("BUG: segment %s released more often than referenced", ref.meta.ID))
	case ref.refs == 0:
		delete(s.mu.open, ref)
		dead = append(dead, ref)
	}
	return dead
}

// finalize closes the readers of segments nobody references any more and deletes
// the files of those no longer published. Errors are not reported: a file that could
// not be deleted is not in the catalog, so the next Open deletes it.
// REQUIRES: s.mu is not held; the refs are out of s.mu.open (no one else sees them).
func (s *Store) finalize(dead []*segRef) {
	for _, ref := range dead {
		ref.reader.Close()
		if !ref.unpublished {
			continue // the store was closed; the segment stays published
		}
		os.Remove(ref.path)
		if ref.dropped {
			os.Remove(filepath.Dir(ref.path)) // succeeds once the last file is gone
		}
	}
}

func (s *Store) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return errClosed
	}
	return nil
}

func (s *Store) tableDir(id uint64) string {
	return filepath.Join(s.dir, "segments", strconv.FormatUint(id, 10))
}

var errClosed = errors.New("store: closed")

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Errors callers test for with errors.Is. They are the catalog's.
var (
	ErrTableExists = catalog.ErrTableExists
	ErrNoTable     = catalog.ErrNoTable
)
