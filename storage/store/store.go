// Package store owns a data directory: the catalog, the segment files and the
// open readers over them. It is the write path of batch ingest (Append) and hands
// queries consistent Snapshots.
//
// Layout of a data directory:
//
//	<dir>/catalog/                                 pebble database (package catalog)
//	<dir>/segments/<table id>/<chunk>-<seq>.seg    one segment file; <chunk> is the chunk
//	                                               start as 20060102T15 (UTC), <seq> the
//	                                               segment's sequence number in its table
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
//   - A file under segments/ that the catalog does not know (left by a crash between
//     write and commit, or by a drop whose snapshot outlived the process) is deleted at Open.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/realtime"
	"github.com/stratadb/strata/storage/segment"
)

// Store is a data directory opened for reading and writing. Safe for concurrent use.
type Store struct {
	dir string
	cat *catalog.Catalog

	// publishMu serializes every change of the catalog together with the matching
	// change of the live set (CreateTable, DropTable, and the publish step of Append
	// and Compact), so the two never disagree. Writing segment files happens outside it.
	publishMu sync.Mutex
	// compactMu lets one Compact run at a time.
	compactMu sync.Mutex

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
type Options struct{}

// Open opens (creating if needed) the data directory dir: it loads the catalog,
// opens a reader on every segment and deletes files under segments/ that the
// catalog does not know.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "segments"), 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	cat, err := catalog.Open(filepath.Join(dir, "catalog"))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	s := &Store{dir: dir, cat: cat}
	s.mu.tables = map[string]*liveTable{}
	s.mu.open = map[*segRef]struct{}{}
	fail := func(err error) (*Store, error) {
		for ref := range s.mu.open {
			ref.reader.Close()
		}
		cat.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}

	known := map[string]bool{} // absolute paths of published segments
	for _, def := range cat.Tables() {
		lt := &liveTable{def: def}
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

	s.finalize(toClose)
	return s.cat.Close()
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
	def, err := s.cat.CreateTable(def)
	if err != nil {
		return def, err
	}
	s.mu.Lock()
	s.mu.tables[def.Name] = &liveTable{def: def}
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
	if _, err := s.cat.DropTable(name); err != nil {
		return err
	}
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

// Snapshot returns the table's current sources. The caller must Release it; segment
// files are deleted only after every snapshot that references them is released.
func (s *Store) Snapshot(table string) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, errClosed
	}
	lt := s.mu.tables[table]
	if lt == nil {
		return nil, fmt.Errorf("snapshot %s: %w", table, ErrNoTable)
	}
	sn := &Snapshot{
		Table:   lt.def,
		Sources: make([]storage.Source, len(lt.segs)),
		store:   s,
		refs:    slices.Clone(lt.segs),
	}
	for i, ref := range lt.segs {
		ref.refs++
		sn.Sources[i] = ref.reader
	}
	if lt.head != nil {
		for _, v := range lt.head.Snapshot() {
			sn.Sources = append(sn.Sources, v)
		}
	}
	return sn, nil
}

// Snapshot is a consistent, immutable view of one table.
type Snapshot struct {
	Table catalog.TableDef
	// Sources are the table's segments, sorted by (chunk start, sequence number),
	// then views of its head's parts (rows not yet persisted), by chunk start.
	Sources []storage.Source

	store    *Store
	refs     []*segRef
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

// Errors callers test for with errors.Is. They are the catalog's.
var (
	ErrTableExists = catalog.ErrTableExists
	ErrNoTable     = catalog.ErrNoTable
)
