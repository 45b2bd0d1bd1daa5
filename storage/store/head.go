package store

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/realtime"
	"github.com/stratadb/strata/storage/rollup"
)

// The real-time path: rows appended to a table's Head are visible to the next
// Snapshot at once; Persist turns what the head holds into segments and publishes
// them together with the source offsets past those rows, in one catalog batch, and
// in the same critical section (under s.mu) takes the rows out of the head. So in
// every snapshot a row lives either in the head or in a segment, never both and
// never neither (DESIGN.md invariants 1 and 2). Heads are memory only: after a
// crash the rows past the committed offsets are consumed again.

// head returns the table's head, creating it. REQUIRES: s.mu is held.
func (lt *liveTable) headLocked() *realtime.Head {
	if lt.head == nil {
		lt.head = realtime.NewHead(&lt.def.Schema, lt.def.Granularity.Microseconds())
	}
	return lt.head
}

// AppendHead appends cols to table's head; the rows are visible to every snapshot
// taken after it returns. One appender per table at a time.
func (s *Store) AppendHead(table string, cols *storage.Columns) error {
	return s.AppendHeadSource(table, "", cols)
}

// AppendHeadSource is AppendHead for rows that came from source (a Kafka
// partition, "topic/partition"): they go to a head of the source's own and are
// persisted into segments of the source (SegmentMeta.Source), so they can be
// handed off and dropped by the source's offsets. Snapshots read them only while
// the source is owned (SetOwned). "" is AppendHead.
func (s *Store) AppendHeadSource(table, source string, cols *storage.Columns) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return errClosed
	}
	lt := s.mu.tables[table]
	if lt == nil {
		s.mu.Unlock()
		return fmt.Errorf("append to %s: %w", table, ErrNoTable)
	}
	if IsExternal(&lt.def) {
		s.mu.Unlock()
		return fmt.Errorf("append to %s: %w", table, ErrExternal)
	}
	h := lt.headOfLocked(source)
	s.mu.Unlock()
	if err := h.Append(cols); err != nil { // Append checks cols against the schema
		return fmt.Errorf("append to %s head: %w", table, err)
	}
	return nil
}

// headOfLocked returns the head of source ("": the table's head), creating it.
// REQUIRES: s.mu is held.
func (lt *liveTable) headOfLocked(source string) *realtime.Head {
	if source == "" {
		return lt.headLocked()
	}
	h := lt.heads[source]
	if h == nil {
		if lt.heads == nil {
			lt.heads = map[string]*realtime.Head{}
		}
		h = realtime.NewHead(&lt.def.Schema, lt.def.Granularity.Microseconds())
		lt.heads[source] = h
	}
	return h
}

// HeadStats returns the rows and approximate bytes table's head holds.
func (s *Store) HeadStats(table string) (rows int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lt := s.mu.tables[table]
	if lt == nil {
		return 0, 0
	}
	if lt.head != nil {
		rows, bytes = lt.head.Rows(), lt.head.Bytes()
	}
	for _, h := range lt.heads {
		rows += h.Rows()
		bytes += h.Bytes()
	}
	return rows, bytes
}

// Frozen is a head's content sealed by Freeze, waiting for PublishFrozen.
type Frozen struct {
	table string
	id    uint64
	parts []frozenHead
}

// frozenHead is what Freeze sealed in one head.
type frozenHead struct {
	source string
	head   *realtime.Head
	f      *realtime.Frozen
}

// Rows returns the number of rows f holds.
func (f *Frozen) Rows() int {
	n := 0
	for _, p := range f.parts {
		n += p.f.Rows
	}
	return n
}

// drop takes f's rows out of their heads.
func (f *Frozen) drop() {
	for _, p := range f.parts {
		p.head.Drop(p.f)
	}
}

// Freeze seals the rows table's head holds now. They stay visible to snapshots until
// PublishFrozen moves them into segments; rows appended later are not part of f. The
// appender calls it between appends, so that the offsets it publishes with f are
// exactly those past f's rows.
func (s *Store) Freeze(table string) (*Frozen, error) {
	s.mu.Lock()
	lt := s.mu.tables[table]
	if lt == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("persist %s: %w", table, ErrNoTable)
	}
	type named struct {
		source string
		head   *realtime.Head
	}
	var heads []named
	if lt.head != nil {
		heads = append(heads, named{"", lt.head})
	}
	for src, h := range lt.heads {
		heads = append(heads, named{src, h})
	}
	id := lt.def.ID
	s.mu.Unlock()
	f := &Frozen{table: table, id: id}
	for _, h := range heads {
		f.parts = append(f.parts, frozenHead{source: h.source, head: h.head, f: h.head.Freeze()})
	}
	return f, nil
}

// PublishFrozen writes f's rows as segments (one per time chunk) and commits them
// with offsets ("topic/partition" → next offset) in one catalog batch; in the same
// step the rows leave the head. On error nothing is published and the rows stay in
// the head (a later PublishFrozen of a newer Freeze does not include them: the
// caller must stop ingesting and recover from the committed offsets).
func (s *Store) PublishFrozen(ctx context.Context, f *Frozen, offsets map[string]int64) error {
	_, err := s.PublishFrozenAll(ctx, FrozenPart{Frozen: f, Offsets: offsets})
	return err
}

// FrozenPart is one table's part of PublishFrozenAll: its frozen rows and the
// source offsets past them.
type FrozenPart struct {
	Frozen  *Frozen
	Offsets map[string]int64
}

// PublishFrozenAll is PublishFrozen for the frozen heads of several tables (each
// table at most once), committed in one catalog batch: after a crash either all of
// them are published or none. A streaming table and its rejects table are
// published this way, so a reject is recorded exactly once, like a row.
//
// The Publication returned (nil when nothing was published) lets the caller take
// the publication back with Retract.
func (s *Store) PublishFrozenAll(ctx context.Context, parts ...FrozenPart) (*Publication, error) {
	var all []*segRef
	var ps []publication
	var empty []*Frozen
	for _, part := range parts {
		f := part.Frozen
		def, ok := s.cat.Table(f.table)
		if !ok || def.ID != f.id {
			discard(all)
			return nil, fmt.Errorf("persist %s: %w", f.table, ErrNoTable)
		}
		added, err := s.writeFrozen(ctx, def, f)
		all = append(all, added...)
		if err != nil {
			discard(all)
			return nil, fmt.Errorf("persist %s: %w", f.table, err)
		}
		if len(added) == 0 && len(part.Offsets) == 0 {
			empty = append(empty, f)
			continue
		}
		ps = append(ps, publication{def: def, b: catalog.Batch{Table: def.Name, Offsets: part.Offsets}, add: added,
			locked: func(*liveTable) { f.drop() }})
	}
	for _, f := range empty {
		s.dropFrozen(f)
	}
	if len(ps) == 0 {
		return nil, nil
	}
	if s.knobs.AfterPersistSegments != nil {
		if err := s.knobs.AfterPersistSegments(); err != nil {
			for _, ref := range all {
				ref.reader.Close() // as a crash would: the files stay on disk
			}
			return nil, fmt.Errorf("persist %s: %w", ps[0].def.Name, err)
		}
	}
	s.publishMu.Lock()
	pub := &Publication{parts: make([]publishedPart, len(ps))}
	for i, p := range ps {
		cur := s.cat.Offsets(p.def.Name)
		prev := make(map[string]int64, len(p.b.Offsets))
		for src := range p.b.Offsets {
			if o, ok := cur[src]; ok {
				prev[src] = o
			} else {
				prev[src] = -1
			}
		}
		pub.parts[i] = publishedPart{def: p.def, segs: p.add, offsets: maps.Clone(p.b.Offsets), prev: prev}
	}
	err := s.publishAllLocked(ps)
	s.publishMu.Unlock()
	if err != nil {
		discard(all)
		return nil, fmt.Errorf("persist %s: %w", ps[0].def.Name, err)
	}
	return pub, nil
}

// Publication is what one PublishFrozenAll committed: per table, its new
// segments, the source offsets it set and the offsets they replaced.
type Publication struct {
	parts []publishedPart
}

type publishedPart struct {
	def     catalog.TableDef
	segs    []*segRef
	offsets map[string]int64 // as published
	prev    map[string]int64 // before; -1: none
}

// ErrNotRetractable is returned by Retract when the publication's segments or
// offsets have changed since it was committed (compacted, handed off, or
// followed by another publication of the same sources).
var ErrNotRetractable = errors.New("publication can no longer be retracted")

// Retract takes pub back in one catalog batch: its segments leave the catalog
// (their files are deleted once no snapshot reads them) and its source offsets
// return to what they were before it. The rows it moved out of the head do not
// return there: the caller, an appender whose offsets its source refused, stops
// and consumes again from the offsets now committed. pub must be the latest
// publication of its sources and its segments untouched; otherwise nothing
// changes and the error wraps ErrNotRetractable.
func (s *Store) Retract(pub *Publication) error {
	if pub == nil {
		return nil
	}
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	ps := make([]publication, 0, len(pub.parts))
	for _, part := range pub.parts {
		cur, ok := s.cat.Table(part.def.Name)
		if !ok || cur.ID != part.def.ID {
			return fmt.Errorf("retract from %s: %w", part.def.Name, ErrNoTable)
		}
		have := map[string]bool{}
		for _, m := range s.cat.Segments(part.def.Name) {
			have[m.ID] = true
		}
		for _, ref := range part.segs {
			if !have[ref.meta.ID] {
				return fmt.Errorf("retract from %s: segment %s: %w", part.def.Name, ref.meta.ID, ErrNotRetractable)
			}
		}
		offs := s.cat.Offsets(part.def.Name)
		for src, o := range part.offsets {
			if offs[src] != o {
				return fmt.Errorf("retract from %s: offset %s is %d, not the %d published: %w", part.def.Name, src, offs[src], o, ErrNotRetractable)
			}
		}
		var rewind map[string]int64
		for src, o := range part.prev {
			if o != part.offsets[src] {
				if rewind == nil {
					rewind = map[string]int64{}
				}
				rewind[src] = o
			}
		}
		if len(part.segs) == 0 && len(rewind) == 0 {
			continue
		}
		ps = append(ps, publication{def: part.def, b: catalog.Batch{Table: part.def.Name, Rewind: rewind}, remove: part.segs})
	}
	if len(ps) == 0 {
		return nil
	}
	if err := s.publishAllLocked(ps); err != nil {
		return fmt.Errorf("retract from %s: %w", ps[0].def.Name, err)
	}
	return nil
}

// writeFrozen writes f's rows of table def as segments, one per time chunk.
func (s *Store) writeFrozen(ctx context.Context, def catalog.TableDef, f *Frozen) ([]*segRef, error) {
	spec, err := rollup.Of(def)
	if err != nil {
		return nil, err
	}
	var added []*segRef
	for _, p := range f.parts {
		for _, ch := range p.f.Chunks {
			if ch.Cols.Len == 0 {
				continue
			}
			cols := ch.Cols
			if spec != nil {
				cols = spec.ReducePhysical(cols) // merge what several appends rolled up
			}
			refs, err := s.writeChunks(ctx, &def, cols, p.source, true)
			added = append(added, refs...)
			if err != nil {
				return added, err
			}
		}
	}
	return added, nil
}

// dropFrozen takes an empty f out of the head.
func (s *Store) dropFrozen(f *Frozen) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lt := s.mu.tables[f.table]; lt != nil && lt.def.ID == f.id {
		f.drop()
	}
}

// DiscardHead forgets every row table's head holds (those not persisted), and
// its follower heads: the appender failed and will consume again from the
// committed offsets (and follow again from the lake's). Snapshots
// taken before keep their views.
func (s *Store) DiscardHead(table string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lt := s.mu.tables[table]; lt != nil {
		lt.head, lt.heads, lt.follow = nil, nil, nil
	}
}
