package realtime

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stratadb/strata/storage"
)

// Head is the real-time index of one table. See the package comment for its
// invariants. All methods are safe for concurrent use; Appends (and Freeze)
// serialize.
type Head struct {
	schema      *storage.Schema
	chunkMicros int64

	// appendMu is held by Append for its whole duration and by Freeze while it seals
	// parts, so the mutable parts have one writer and are never sealed mid-batch.
	appendMu sync.Mutex
	// offs is the last offset AppendAt added (offsets.go). Guarded by appendMu.
	offs offsetState

	mu struct {
		sync.Mutex
		chunks  []*chunk // sorted by start
		rows    int      // published rows in all parts not dropped
		bytes   int64    // approximate memory of the same parts
		nextSeq uint64   // part sequence numbers, for View names
	}
}

// chunk is one time chunk of the Head.
type chunk struct {
	start  int64
	frozen []*part // sealed, in Freeze order; guarded by Head.mu
	active *part   // nil until a row arrives after creation or a Freeze; guarded by Head.mu
}

// NewHead returns an empty head for one table. chunkMicros is the time-chunk width
// in µs (the catalog granularity, e.g. 3600e6); a row belongs to the chunk
// floor(t/chunkMicros)*chunkMicros. The schema must be valid; it is not copied and
// must not change.
func NewHead(schema *storage.Schema, chunkMicros int64) *Head {
	if chunkMicros <= 0 {
		panic(fmt.Sprintf("BUG: realtime.NewHead: chunk width %d µs", chunkMicros))
	}
	if err := schema.Validate(); err != nil {
		panic(fmt.Sprintf("BUG: realtime.NewHead: %v", err))
	}
	return &Head{schema: schema, chunkMicros: chunkMicros}
}

// Schema returns the table schema the head was created with.
func (h *Head) Schema() *storage.Schema { return h.schema }

// ChunkMicros returns the time-chunk width in µs.
func (h *Head) ChunkMicros() int64 { return h.chunkMicros }

// chunkStart rounds t down (towards -∞) to a multiple of the chunk width; ok is false
// when the result does not fit in an int64.
func (h *Head) chunkStart(t int64) (start int64, ok bool) {
	g := h.chunkMicros
	q := t / g
	if t%g != 0 && t < 0 {
		q--
	}
	if q < math.MinInt64/g {
		return 0, false
	}
	return q * g, true
}

// Rows returns the rows the head holds: mutable and frozen parts not yet dropped.
func (h *Head) Rows() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.rows
}

// Bytes returns the approximate memory the head holds, for backpressure: value
// slices, dictionary ids, dictionary values and their index, bitmap entries. Views
// and Frozen sets still referenced after Drop are not counted.
func (h *Head) Bytes() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.bytes
}

// Snapshot returns one read-only View per non-empty part, ordered by chunk start
// (within a chunk: frozen parts in Freeze order, then the mutable part). The Views
// see exactly the rows of the Appends that returned before the call.
func (h *Head) Snapshot() []*View {
	h.mu.Lock()
	defer h.mu.Unlock()
	var views []*View
	for _, c := range h.mu.chunks {
		for _, p := range c.frozen {
			if st := p.pub; st != nil && st.n > 0 {
				views = append(views, &View{p: p, st: st})
			}
		}
		if p := c.active; p != nil && p.pub != nil && p.pub.n > 0 {
			views = append(views, &View{p: p, st: p.pub})
		}
	}
	return views
}

// Frozen is the set of parts one Freeze sealed. The store persists each chunk's
// Columns as a segment and then calls Drop.
type Frozen struct {
	Chunks []FrozenChunk // by chunk start
	Rows   int           // total rows in Chunks
	parts  []*part
}

// FrozenChunk holds the frozen rows of one time chunk.
type FrozenChunk struct {
	Start int64 // µs, chunk start
	// Cols holds the rows in arrival order. Its slices share memory with the head:
	// they are read-only (segment.Write does not modify its input).
	Cols *storage.Columns
}

// Freeze seals every chunk's mutable part: its rows become immutable, stay visible to
// Snapshot until Drop(f), and rows appended later go to new parts. It waits for an
// Append in progress to finish. With no mutable rows it returns an empty Frozen.
func (h *Head) Freeze() *Frozen {
	h.appendMu.Lock()
	h.mu.Lock()
	f := &Frozen{}
	for _, c := range h.mu.chunks {
		p := c.active
		if p == nil || p.pub == nil || p.pub.n == 0 {
			continue
		}
		if p.pub.n != p.n {
			panic(fmt.Sprintf("BUG: part %s sealed with %d published of %d rows", p.name, p.pub.n, p.n))
		}
		p.seal()
		c.active = nil
		c.frozen = append(c.frozen, p)
		f.parts = append(f.parts, p)
		f.Rows += p.n
	}
	h.mu.Unlock()
	h.appendMu.Unlock()

	// The parts are sealed: nothing writes them any more, so the Columns are built
	// without locks.
	f.Chunks = make([]FrozenChunk, len(f.parts))
	for i, p := range f.parts {
		f.Chunks[i] = FrozenChunk{Start: p.chunkStart, Cols: p.columns(h.schema)}
	}
	return f
}

// Drop removes f's parts from the head, after the store has published them as
// segments. Views already handed out stay readable. Dropping the same Frozen twice
// is a no-op.
func (h *Head) Drop(f *Frozen) {
	if f == nil || len(f.parts) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range f.parts {
		i, ok := slices.BinarySearchFunc(h.mu.chunks, p.chunkStart, func(c *chunk, s int64) int { return cmpInt64(c.start, s) })
		if !ok {
			continue
		}
		c := h.mu.chunks[i]
		j := slices.Index(c.frozen, p)
		if j < 0 {
			continue
		}
		c.frozen = slices.Delete(c.frozen, j, j+1)
		h.mu.rows -= p.pub.n
		h.mu.bytes -= p.pub.bytes
		if len(c.frozen) == 0 && c.active == nil {
			h.mu.chunks = slices.Delete(h.mu.chunks, i, i+1)
		}
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// activePartLocked returns the mutable part of the chunk starting at start, creating
// the chunk and the part as needed.
// REQUIRES: h.mu and h.appendMu are held.
func (h *Head) activePartLocked(start int64) *part {
	i, ok := slices.BinarySearchFunc(h.mu.chunks, start, func(c *chunk, s int64) int { return cmpInt64(c.start, s) })
	if !ok {
		h.mu.chunks = slices.Insert(h.mu.chunks, i, &chunk{start: start})
	}
	c := h.mu.chunks[i]
	if c.active == nil {
		h.mu.nextSeq++
		c.active = newPart(h.schema, start, h.mu.nextSeq)
	}
	return c.active
}

// columns builds the Columns of a sealed part's rows. Numeric slices are shared with
// the part; string values and null flags are materialized, and string columns
// carry the part's dictionary and ids (storage.ColumnData.Dict, IDs).
func (p *part) columns(schema *storage.Schema) *storage.Columns {
	n := p.n
	out := &storage.Columns{Schema: schema, Len: n, Cols: make([]storage.ColumnData, len(schema.Columns))}
	for ci, col := range schema.Columns {
		c, d := &p.cols[ci], &out.Cols[ci]
		switch col.Type {
		case storage.TypeTimestamp, storage.TypeInt64:
			d.Int64 = c.i64[:n:n]
		case storage.TypeFloat64:
			d.Float64 = c.f64[:n:n]
		case storage.TypeBool:
			d.Bool = c.b[:n:n]
		case storage.TypeString:
			d.String = make([]string, n)
		}
		// Views clone the bitmaps under p.mu, which writes their copy-on-write flags.
		p.mu.Lock()
		if c.nulls != nil && !c.nulls.IsEmpty() {
			d.Null = make([]bool, n)
			it := c.nulls.Iterator()
			for it.HasNext() {
				d.Null[it.Next()] = true
			}
		}
		p.mu.Unlock()
		if col.Type == storage.TypeString {
			// The part's dictionary goes along as a hint, so that the segment
			// writer encodes from the ids without hashing every value again.
			d.Dict, d.IDs = c.dict[:len(c.dict):len(c.dict)], c.ids[:n:n]
			for i, id := range c.ids[:n] {
				if d.Null == nil || !d.Null[i] {
					d.String[i] = c.dict[id]
				}
			}
		}
	}
	return out
}

// newBitmap returns an empty copy-on-write bitmap for a part.
func newBitmap() *roaring.Bitmap {
	bm := roaring.New()
	bm.SetCopyOnWrite(true)
	return bm
}

// chunkName formats a chunk start for View names.
func chunkName(start int64) string {
	return time.UnixMicro(start).UTC().Format(time.RFC3339)
}
