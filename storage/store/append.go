package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/segment"
)

// Append writes cols into new segments of table (one per time chunk the rows fall in)
// and publishes them in one atomic catalog batch: after it returns nil every row is
// visible to new snapshots, after an error none is. cols must have the table's
// column names and types; it is not modified. Appends may run concurrently.
func (s *Store) Append(ctx context.Context, table string, cols *storage.Columns) error {
	return s.AppendWithOffsets(ctx, table, cols, nil)
}

// AppendWithOffsets is Append that also advances source offsets ("topic/partition"
// → next offset to consume) in the same catalog batch as the segments, so the rows
// and the offsets past them are committed together or not at all (DESIGN.md
// invariant 1). With no rows it commits only the offsets.
func (s *Store) AppendWithOffsets(ctx context.Context, table string, cols *storage.Columns, offsets map[string]int64) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	def, ok := s.cat.Table(table)
	if !ok {
		return fmt.Errorf("append to %s: %w", table, ErrNoTable)
	}
	if IsExternal(&def) {
		return fmt.Errorf("append to %s: %w", table, ErrExternal)
	}
	if err := storage.CheckColumns(&def.Schema, cols); err != nil {
		return fmt.Errorf("append to %s: %w", table, err)
	}
	if IsLookup(&def) {
		if len(offsets) > 0 {
			return fmt.Errorf("append to %s: a lookup table has no source offsets", table)
		}
		if cols.Len == 0 {
			return nil
		}
		return s.appendLookup(ctx, table, cols)
	}
	if cols.Len == 0 {
		if len(offsets) == 0 {
			return nil
		}
		return s.publish(def, nil, nil, offsets)
	}
	added, err := s.writeChunks(ctx, &def, cols, "", true)
	if err != nil {
		return fmt.Errorf("append to %s: %w", table, err)
	}
	if err := s.publish(def, added, nil, offsets); err != nil {
		discard(added)
		return fmt.Errorf("append to %s: %w", table, err)
	}
	return nil
}

// writeChunks writes cols (already checked against def) as one new, unpublished
// segment per time chunk. On error nothing is left on disk.
func (s *Store) writeChunks(ctx context.Context, def *catalog.TableDef, cols *storage.Columns, source string, durable bool) ([]*segRef, error) {
	chunks, err := splitByChunk(def, cols)
	if err != nil {
		return nil, err
	}
	first, err := s.cat.ReserveSeqs(def.Name, len(chunks))
	if err != nil {
		return nil, err
	}
	added := make([]*segRef, 0, len(chunks))
	for i, ch := range chunks {
		if err := ctx.Err(); err != nil {
			discard(added)
			return nil, err
		}
		write := segment.Write
		if !durable {
			write = segment.WriteUnsynced
		}
		ref, err := s.writeSegmentWith(write, def, ch.start, first+uint64(i), ch.cols)
		if err != nil {
			discard(added)
			return nil, err
		}
		ref.meta.Source = source
		added = append(added, ref)
	}
	return added, nil
}

// Txn stages appends to one table and publishes them all in one catalog batch, so a
// multi-batch load (COPY, INSERT ... SELECT) becomes visible at once or not at all.
// A Txn is used by one goroutine.
type Txn struct {
	s     *Store
	def   catalog.TableDef
	added []*segRef
	rows  int64
	done  bool
	// lookup holds the staged rows of a lookup table, written by one Rewrite at
	// Commit.
	lookup *storage.Columns
}

// Begin starts a transaction appending to table. The caller must Commit or Abort it.
func (s *Store) Begin(table string) (*Txn, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	def, ok := s.cat.Table(table)
	if !ok {
		return nil, fmt.Errorf("append to %s: %w", table, ErrNoTable)
	}
	if IsExternal(&def) {
		return nil, fmt.Errorf("append to %s: %w", table, ErrExternal)
	}
	return &Txn{s: s, def: def}, nil
}

// Append writes cols as new segments that stay invisible until Commit.
func (t *Txn) Append(ctx context.Context, cols *storage.Columns) error {
	if t.done {
		return fmt.Errorf("append to %s: transaction already finished", t.def.Name)
	}
	if err := storage.CheckColumns(&t.def.Schema, cols); err != nil {
		return fmt.Errorf("append to %s: %w", t.def.Name, err)
	}
	if cols.Len == 0 {
		return nil
	}
	if IsLookup(&t.def) {
		if t.lookup == nil {
			t.lookup = storage.NewColumns(&t.def.Schema, cols.Len)
		}
		t.lookup.Append(cols)
		t.rows += int64(cols.Len)
		return nil
	}
	// Unsynced: Commit syncs every staged segment at once, before publishing.
	added, err := t.s.writeChunks(ctx, &t.def, cols, "", false)
	if err != nil {
		return fmt.Errorf("append to %s: %w", t.def.Name, err)
	}
	t.added = append(t.added, added...)
	t.rows += int64(cols.Len)
	return nil
}

// Rows returns how many rows the transaction has staged.
func (t *Txn) Rows() int64 { return t.rows }

// Commit publishes every staged segment in one catalog batch. On error nothing is
// published and the staged files are deleted.
func (t *Txn) Commit() error {
	if t.done {
		return fmt.Errorf("commit to %s: transaction already finished", t.def.Name)
	}
	t.done = true
	if t.lookup != nil {
		err := t.s.appendLookup(context.Background(), t.def.Name, t.lookup)
		t.lookup = nil
		if err != nil {
			return fmt.Errorf("commit to %s: %w", t.def.Name, err)
		}
		return nil
	}
	if len(t.added) == 0 {
		return nil
	}
	if err := syncSegments(t.added); err != nil {
		discard(t.added)
		return fmt.Errorf("commit to %s: %w", t.def.Name, err)
	}
	if err := t.s.publish(t.def, t.added, nil, nil); err != nil {
		discard(t.added)
		return fmt.Errorf("commit to %s: %w", t.def.Name, err)
	}
	return nil
}

// syncSegments makes segments written by segment.WriteUnsynced durable: every
// file (several at once, so the device sees them together rather than one flush
// per file on the write path), then each directory once.
func syncSegments(refs []*segRef) error {
	const parallel = 8
	errs := make([]error, len(refs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			errs[i] = segment.Sync(ref.path)
			<-sem
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, ref := range refs {
		dir := filepath.Dir(ref.path)
		if !dirs[dir] {
			dirs[dir] = true
			if err := storage.SyncDir(dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// Abort deletes every staged segment. Safe to call after Commit (it does nothing).
func (t *Txn) Abort() {
	if t.done {
		return
	}
	t.done = true
	discard(t.added)
	t.added = nil
	t.lookup = nil
}

// chunkColumns are the rows of one time chunk.
type chunkColumns struct {
	start int64 // µs
	cols  *storage.Columns
}

// splitByChunk splits cols by the table's time chunks, in chunk order. The Columns
// returned use the table's schema; with a single chunk they share cols' slices.
func splitByChunk(def *catalog.TableDef, cols *storage.Columns) ([]chunkColumns, error) {
	times := cols.Cols[def.Schema.TimeColumn].Int64
	starts := make([]int64, len(times))
	lo, hi := int64(0), int64(0)
	for i, t := range times {
		c, ok := catalog.ChunkStart(t, def.Granularity)
		if !ok {
			return nil, fmt.Errorf("time %d µs out of range", t)
		}
		starts[i] = c
		if i == 0 || c < lo {
			lo = c
		}
		if i == 0 || c > hi {
			hi = c
		}
	}
	if lo == hi {
		one := *cols
		one.Schema = &def.Schema
		return []chunkColumns{{start: lo, cols: &one}}, nil
	}

	distinct := slices.Compact(slices.Sorted(slices.Values(starts)))
	// Counting sort of the row numbers by chunk: rows[off[k]:off[k+1]] are chunk k's,
	// in input order.
	chunkOf := make([]int32, len(starts))
	off := make([]int, len(distinct)+1)
	for i, c := range starts {
		k, _ := slices.BinarySearch(distinct, c)
		chunkOf[i] = int32(k)
		off[k+1]++
	}
	for k := 1; k < len(off); k++ {
		off[k] += off[k-1]
	}
	rows := make([]int32, len(starts))
	next := slices.Clone(off[:len(distinct)])
	for i, k := range chunkOf {
		rows[next[k]] = int32(i)
		next[k]++
	}

	out := make([]chunkColumns, len(distinct))
	for k, start := range distinct {
		rs := rows[off[k]:off[k+1]]
		if lo, hi := int(rs[0]), int(rs[len(rs)-1])+1; hi-lo == len(rs) {
			// The chunk's rows are one run of the input (rows in time order, as
			// most loads are): a view of them, no copy.
			out[k] = chunkColumns{start: start, cols: sliceRows(&def.Schema, cols, lo, hi)}
			continue
		}
		out[k] = chunkColumns{start: start, cols: gather(&def.Schema, cols, rs)}
	}
	return out, nil
}

// sliceRows returns rows [lo, hi) of src as Columns of schema sharing src's
// arrays (full slice expressions: nothing can append into src through them).
func sliceRows(schema *storage.Schema, src *storage.Columns, lo, hi int) *storage.Columns {
	dst := &storage.Columns{Schema: schema, Len: hi - lo, Cols: make([]storage.ColumnData, len(src.Cols))}
	for c := range src.Cols {
		s, d := &src.Cols[c], &dst.Cols[c]
		switch schema.Columns[c].Type {
		case storage.TypeTimestamp, storage.TypeInt64:
			d.Int64 = s.Int64[lo:hi:hi]
		case storage.TypeFloat64:
			d.Float64 = s.Float64[lo:hi:hi]
		case storage.TypeBool:
			d.Bool = s.Bool[lo:hi:hi]
		case storage.TypeString:
			d.String = s.String[lo:hi:hi]
			if s.Dict != nil && len(s.IDs) == src.Len {
				d.Dict, d.IDs = s.Dict, s.IDs[lo:hi:hi]
			}
		default:
			panic(fmt.Sprintf("BUG: column %q has type %s after Check", schema.Columns[c].Name, schema.Columns[c].Type))
		}
		if len(s.Null) > lo {
			e := min(hi, len(s.Null))
			d.Null = s.Null[lo:e:e]
		}
	}
	return dst
}

// gather copies the given rows of src into new Columns of schema.
func gather(schema *storage.Schema, src *storage.Columns, rows []int32) *storage.Columns {
	n := len(rows)
	dst := storage.NewColumns(schema, n)
	dst.Len = n
	for c, col := range schema.Columns {
		s, d := &src.Cols[c], &dst.Cols[c]
		switch col.Type {
		case storage.TypeTimestamp, storage.TypeInt64:
			d.Int64 = d.Int64[:n]
			for i, r := range rows {
				d.Int64[i] = s.Int64[r]
			}
		case storage.TypeFloat64:
			d.Float64 = d.Float64[:n]
			for i, r := range rows {
				d.Float64[i] = s.Float64[r]
			}
		case storage.TypeBool:
			d.Bool = d.Bool[:n]
			for i, r := range rows {
				d.Bool[i] = s.Bool[r]
			}
		case storage.TypeString:
			d.String = d.String[:n]
			for i, r := range rows {
				d.String[i] = s.String[r]
			}
			if s.Dict != nil && len(s.IDs) == src.Len {
				// The dictionary hint goes along (the writer checks it).
				d.Dict, d.IDs = s.Dict, make([]uint32, n)
				for i, r := range rows {
					d.IDs[i] = s.IDs[r]
				}
			}
		default:
			panic(fmt.Sprintf("BUG: column %q has type %s after Check", col.Name, col.Type))
		}
		if len(s.Null) > 0 {
			null := make([]bool, n)
			hasNull := false
			for i, r := range rows {
				if int(r) < len(s.Null) && s.Null[r] {
					null[i], hasNull = true, true
				}
			}
			if hasNull {
				d.Null = null
			}
		}
	}
	return dst
}

// segmentPath returns the path, relative to the data directory and with forward
// slashes, of segment seq of table tableID in the chunk starting at chunkStart.
func segmentPath(tableID uint64, chunkStart int64, seq uint64) string {
	name := time.UnixMicro(chunkStart).UTC().Format("20060102T15") + "-" + strconv.FormatUint(seq, 10) + ".seg"
	return path.Join("segments", strconv.FormatUint(tableID, 10), name)
}

// writeSegment writes cols (all in the chunk starting at chunkStart) as segment seq
// of def and opens it. The segment is not published: on success the caller owns the
// returned reference (publish or discard it); on error nothing is left on disk.
func (s *Store) writeSegment(def *catalog.TableDef, chunkStart int64, seq uint64, cols *storage.Columns) (*segRef, error) {
	return s.writeSegmentWith(segment.Write, def, chunkStart, seq, cols)
}

// writeSegmentWith is writeSegment writing the file with write (segment.Write, or
// segment.WriteUnsynced for a caller that syncs it before publishing).
func (s *Store) writeSegmentWith(write func(string, *storage.Columns) (segment.Info, error), def *catalog.TableDef, chunkStart int64, seq uint64, cols *storage.Columns) (*segRef, error) {
	rel := segmentPath(def.ID, chunkStart, seq)
	abs := filepath.Join(s.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, err
	}
	info, err := write(abs, cols)
	if err != nil {
		return nil, err
	}
	r, err := segment.Open(abs)
	if err != nil {
		os.Remove(abs)
		return nil, err
	}
	return &segRef{
		meta: catalog.SegmentMeta{
			ID:         catalog.SegmentID(def.ID, chunkStart, seq),
			Table:      def.Name,
			ChunkStart: chunkStart,
			Seq:        seq,
			Path:       rel,
			Rows:       info.Rows,
			MinTime:    info.MinTime,
			MaxTime:    info.MaxTime,
			Bytes:      info.Bytes,
		},
		path:   abs,
		reader: r,
	}, nil
}

// discard closes and deletes segments that were written but not published.
func discard(refs []*segRef) {
	for _, ref := range refs {
		ref.reader.Close()
		os.Remove(ref.path)
	}
}

// publish commits one catalog batch adding the segments add, removing the segments
// remove and advancing offsets, then applies the same change to the live set. On
// error nothing changed and the caller still owns add.
func (s *Store) publish(def catalog.TableDef, add, remove []*segRef, offsets map[string]int64) error {
	return s.publishWith(def, add, remove, offsets, nil)
}

// publishWith is publish that also runs locked, when not nil, on the table's live
// state in the same critical section that changes its segment list, so no snapshot
// sees one change without the other.
func (s *Store) publishWith(def catalog.TableDef, add, remove []*segRef, offsets map[string]int64, locked func(*liveTable)) error {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	return s.publishLocked(def, catalog.Batch{Table: def.Name, Offsets: offsets}, add, remove, locked)
}

// publishLocked is publishWith for a batch b that may also carry a LakeState; b's
// segment lists are filled from add and remove. REQUIRES: s.publishMu is held.
func (s *Store) publishLocked(def catalog.TableDef, b catalog.Batch, add, remove []*segRef, locked func(*liveTable)) error {
	return s.publishAllLocked([]publication{{def: def, b: b, add: add, remove: remove, locked: locked}})
}

// publication is one table's part of publishAllLocked.
type publication struct {
	def         catalog.TableDef
	b           catalog.Batch
	add, remove []*segRef
	locked      func(*liveTable) // run on the table's live state under s.mu, when not nil
}

// publishAllLocked commits ps in one catalog batch and then applies each to its
// table's live set. REQUIRES: s.publishMu is held.
func (s *Store) publishAllLocked(ps []publication) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	bs := make([]catalog.Batch, len(ps))
	for i := range ps {
		p := &ps[i]
		for _, ref := range p.add {
			p.b.Add = append(p.b.Add, ref.meta)
		}
		for _, ref := range p.remove {
			p.b.Remove = append(p.b.Remove, ref.meta.ID)
		}
		// The table may have been dropped (and its name reused) since the caller
		// looked it up; the catalog would catch that for segments but not for
		// offsets alone. DropTable and CreateTable take publishMu, so this check
		// holds until the commit.
		if cur, ok := s.cat.Table(p.def.Name); !ok || cur.ID != p.def.ID {
			return fmt.Errorf("table %s: %w", p.def.Name, ErrNoTable)
		}
		bs[i] = p.b
	}
	if err := s.cat.CommitAll(bs...); err != nil {
		return err
	}

	var dead []*segRef
	s.mu.Lock()
	for i := range ps {
		dead = s.applyLocked(&ps[i], dead)
	}
	s.mu.Unlock()
	s.finalize(dead)
	return nil
}

// applyLocked applies a committed p to its table's live set and returns dead with
// the segments it left unreferenced appended. REQUIRES: s.mu is held.
func (s *Store) applyLocked(p *publication, dead []*segRef) []*segRef {
	lt := s.mu.tables[p.def.Name]
	if lt == nil || lt.def.ID != p.def.ID {
		s.mu.Unlock()
		panic(fmt.Sprintf("BUG: table %s (id %d) committed to the catalog but not in the live set", p.def.Name, p.def.ID))
	}
	removing := make(map[*segRef]bool, len(p.remove))
	for _, ref := range p.remove {
		removing[ref] = true
	}
	segs := make([]*segRef, 0, len(lt.segs)+len(p.add)-len(p.remove))
	for _, ref := range lt.segs {
		if removing[ref] {
			ref.unpublished = true
			dead = s.unrefLocked(ref, dead)
			continue
		}
		segs = append(segs, ref)
	}
	if len(segs) != len(lt.segs)-len(p.remove) {
		s.mu.Unlock()
		panic(fmt.Sprintf("BUG: table %s: removed segments the catalog had but the live set did not", p.def.Name))
	}
	for _, ref := range p.add {
		ref.refs = 1
		s.mu.open[ref] = struct{}{}
		segs = append(segs, ref)
	}
	slices.SortFunc(segs, compareSegRefs)
	// A new slice, not an in-place change: nothing else may hold lt.segs, but this
	// keeps that from mattering.
	lt.segs = segs
	if p.locked != nil {
		p.locked(lt)
	}
	return dead
}

func compareSegRefs(a, b *segRef) int {
	switch {
	case a.meta.ChunkStart < b.meta.ChunkStart:
		return -1
	case a.meta.ChunkStart > b.meta.ChunkStart:
		return 1
	case a.meta.Seq < b.meta.Seq:
		return -1
	case a.meta.Seq > b.meta.Seq:
		return 1
	}
	return 0
}
