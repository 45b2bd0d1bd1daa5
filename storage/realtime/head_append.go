package realtime

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stratadb/strata/storage"
)

// Approximate memory costs for Head.Bytes, in bytes.
const (
	// bitmapEntryBytes: a row in an array container costs 2 bytes; bitmap and run
	// containers cost less per row once dense, so 2 is an upper bound per entry.
	bitmapEntryBytes = 2
	// dictValueOverhead: per distinct value, the string header in the values slice
	// (16), a Go map entry with its string key and uint32 id (~48 with load factor)
	// and the row list of a rare value: a pointer, a slice header and a first
	// allocation of 2 rows.
	dictValueOverhead = 16 + 48 + 8 + 24 + 8
	// slabValues is how many new values share one allocation of first list slots.
	slabValues = 1024
)

// smallRows is the most rows a value keeps in a plain list before it gets a roaring
// bitmap: 32 rows are 128 bytes, about what the bitmap's fixed overhead costs, and a
// View turns such a list into a bitmap in well under a microsecond. A variable only
// so that BenchmarkAppend can compare with bitmaps from the first row (0).
var smallRows = 32

// part is the storage of one run of rows of one chunk. Its fields beyond the
// identification are written only by the appender (holding Head.appendMu) and, once
// sealed, never again.
type part struct {
	schema     *storage.Schema
	chunkStart int64
	name       string // "head/<chunk start RFC3339>/<seq>"

	cols    []colData
	stats   []storage.ColumnStats
	n       int // rows written (published or about to be)
	minTime int64
	maxTime int64
	sorted  bool
	bytes   int64
	sealed  bool
	// offs holds each row's source offset (AppendAt), in row order and so
	// increasing; empty for a head appended to by Append.
	offs []int64

	// pub is the last published state; guarded by Head.mu. Views keep the state
	// they were created with.
	pub *partState

	// mu guards every roaring bitmap of the part (cols[i].bitmaps, cols[i].nulls)
	// and the bitmaps slices themselves: the appender adds rows under it, Views
	// clone under it.
	mu sync.Mutex
	// dictMu guards the dictionary indexes (cols[i].index): the appender inserts
	// under the write lock (and reads without a lock: it is the only writer),
	// Views look up under the read lock.
	dictMu sync.RWMutex

	// sufMu guards suf, the last suffix View of the part (offsets.go).
	sufMu sync.Mutex
	suf   *View
}

// colData is one column of a part. Only the slice of the column's type is used.
type colData struct {
	i64 []int64
	f64 []float64
	b   []bool
	ids []uint32 // string columns: dictionary id per row (0 for NULL)

	dict  []string          // string columns: values by id, in arrival order
	index map[string]uint32 // value → id; see part.dictMu
	// The rows of each value, by id: a plain list while the value has at most
	// smallRows rows, then a roaring bitmap (bitmaps[id] != nil, small[id] == nil).
	// Most values of a high-cardinality column stay small, and a list costs one
	// allocation where an empty roaring bitmap costs six. See part.mu.
	bitmaps []*roaring.Bitmap
	small   [][]uint32
	// slab hands out the first two slots of new lists (three-index slices, so a
	// list that grows past them moves to its own array): one allocation per
	// slabValues new values.
	slab  []uint32
	nulls *roaring.Bitmap // NULL rows, nil until the first NULL; see part.mu

	// The appender's run cache: a row equal to the previous one costs one string
	// compare and no map lookup.
	prev     string
	prevID   uint32
	havePrev bool
	// recent finds a value the decoder interned by its address, without a map
	// lookup. It holds callers' strings (a few hundred, with the rows they share
	// an allocation with) until the part is dropped; the appender's alone.
	recent *storage.RecentIDs
}

// partState is an immutable published prefix of a part: what a View reads.
type partState struct {
	// offs are the rows' source offsets (AppendAt; nil for rows appended by
	// Append), increasing.
	offs    []int64
	n       int
	minTime int64
	maxTime int64
	sorted  bool
	bytes   int64
	cols    []colState
	stats   []storage.ColumnStats
}

// colState holds a column's slices truncated to the published rows.
type colState struct {
	i64  []int64
	f64  []float64
	b    []bool
	ids  []uint32
	dict []string
}

func newPart(schema *storage.Schema, chunkStart int64, seq uint64) *part {
	p := &part{
		schema:     schema,
		chunkStart: chunkStart,
		name:       fmt.Sprintf("head/%s/%d", chunkName(chunkStart), seq),
		cols:       make([]colData, len(schema.Columns)),
		stats:      make([]storage.ColumnStats, len(schema.Columns)),
		sorted:     true,
	}
	for i, col := range schema.Columns {
		if col.Type == storage.TypeString {
			p.cols[i].index = make(map[string]uint32)
			p.cols[i].recent = new(storage.RecentIDs)
		}
	}
	return p
}

// Append adds cols' rows, in any time order, to the chunks their times fall in.
// cols must have the head's column names, types and time column; it is not modified
// and not retained. On error nothing was added. Appends serialize with each other
// and with Freeze; they are safe concurrently with Snapshot and with Views.
func (h *Head) Append(cols *storage.Columns) error { return h.append(cols, nil) }

// append is Append and AppendAt (offs: the rows' source offsets, or nil).
func (h *Head) append(cols *storage.Columns, offs []int64) error {
	if err := storage.CheckColumns(h.schema, cols); err != nil {
		return fmt.Errorf("head append: %w", err)
	}
	if cols.Len == 0 {
		return nil
	}
	h.appendMu.Lock()
	defer h.appendMu.Unlock()
	if offs != nil {
		if err := h.checkOffsets(offs, cols.Len); err != nil {
			return err
		}
	}

	times := cols.Cols[h.schema.TimeColumn].Int64
	first, ok := h.chunkStart(times[0])
	if !ok {
		return fmt.Errorf("head append: row 0: time %d µs out of range", times[0])
	}
	single := true
	for i, t := range times {
		// t-first in uint64: exact for t >= first even when int64 would overflow.
		if t < first || uint64(t)-uint64(first) >= uint64(h.chunkMicros) {
			if _, ok := h.chunkStart(t); !ok {
				return fmt.Errorf("head append: row %d: time %d µs out of range", i, t)
			}
			single = false
		}
	}

	if single {
		h.mu.Lock()
		p := h.activePartLocked(first)
		h.mu.Unlock()
		if err := p.checkRoom(len(times)); err != nil {
			return err
		}
		p.append(h.schema, cols, nil, offs)
		h.noteOffsets(offs)
		h.publish(p)
		return nil
	}

	// Rows of several chunks: a counting sort of the row numbers by chunk keeps each
	// chunk's rows in input order.
	starts := make([]int64, len(times))
	for i, t := range times {
		starts[i], _ = h.chunkStart(t)
	}
	distinct := slices.Compact(slices.Sorted(slices.Values(starts)))
	off := make([]int, len(distinct)+1)
	chunkOf := make([]int32, len(times))
	for i, s := range starts {
		k, _ := slices.BinarySearch(distinct, s)
		chunkOf[i] = int32(k)
		off[k+1]++
	}
	for k := 1; k < len(off); k++ {
		off[k] += off[k-1]
	}
	rows := make([]int32, len(times))
	next := slices.Clone(off[:len(distinct)])
	for i, k := range chunkOf {
		rows[next[k]] = int32(i)
		next[k]++
	}
	parts := make([]*part, len(distinct))
	h.mu.Lock()
	for k, s := range distinct {
		parts[k] = h.activePartLocked(s)
	}
	h.mu.Unlock()
	for k, p := range parts {
		if err := p.checkRoom(off[k+1] - off[k]); err != nil {
			return err
		}
	}
	for k, p := range parts {
		p.append(h.schema, cols, rows[off[k]:off[k+1]], offs)
	}
	h.noteOffsets(offs)
	h.publish(parts...)
	return nil
}

// publish makes the rows written to parts visible to new Snapshots, all at once.
// REQUIRES: h.appendMu is held.
func (h *Head) publish(parts ...*part) {
	states := make([]*partState, len(parts))
	for i, p := range parts {
		states[i] = p.state()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, p := range parts {
		old := p.pub
		if old != nil {
			h.mu.rows -= old.n
			h.mu.bytes -= old.bytes
		}
		p.pub = states[i]
		h.mu.rows += states[i].n
		h.mu.bytes += states[i].bytes
	}
}

// state captures the part's current rows as an immutable prefix.
// REQUIRES: Head.appendMu is held.
func (p *part) state() *partState {
	n := p.n
	st := &partState{
		offs:    p.offs[:min(n, len(p.offs)):min(n, len(p.offs))],
		n:       n,
		minTime: p.minTime,
		maxTime: p.maxTime,
		sorted:  p.sorted,
		bytes:   p.bytes,
		cols:    make([]colState, len(p.cols)),
		stats:   slices.Clone(p.stats),
	}
	for i := range p.cols {
		c := &p.cols[i]
		// Full slice expressions: a View can never see (or append into) the slots
		// the appender writes next.
		st.cols[i] = colState{
			i64:  c.i64[:min(n, len(c.i64)):min(n, len(c.i64))],
			f64:  c.f64[:min(n, len(c.f64)):min(n, len(c.f64))],
			b:    c.b[:min(n, len(c.b)):min(n, len(c.b))],
			ids:  c.ids[:min(n, len(c.ids)):min(n, len(c.ids))],
			dict: c.dict[:len(c.dict):len(c.dict)],
		}
	}
	return st
}

// seal marks the part sealed and lets go of the appender's caches (and the
// callers' strings they hold).
// REQUIRES: Head.appendMu is held.
func (p *part) seal() {
	p.sealed = true
	for i := range p.cols {
		p.cols[i].recent = nil
	}
}

// maxPartRows is the most rows a part holds: row numbers are roaring uint32s. A
// variable only so that a test can reach it.
var maxPartRows = math.MaxUint32

// checkRoom returns an error when m more rows do not fit in the part.
// REQUIRES: Head.appendMu is held.
func (p *part) checkRoom(m int) error {
	if uint64(p.n)+uint64(m) > uint64(maxPartRows) {
		return fmt.Errorf("head append: %s: %d + %d rows exceed the %d rows a part holds; Freeze first", p.name, p.n, m, maxPartRows)
	}
	return nil
}

// append writes rows of cols (all of them when rows is nil) to the part, without
// publishing them.
// REQUIRES: Head.appendMu is held; the part is not sealed.
func (p *part) append(schema *storage.Schema, cols *storage.Columns, rows []int32, offs []int64) {
	if p.sealed {
		panic(fmt.Sprintf("BUG: append to sealed part %s", p.name))
	}
	m := cols.Len
	if rows != nil {
		m = len(rows)
	}
	base := p.n
	if err := p.checkRoom(m); err != nil {
		panic("BUG: " + err.Error())
	}
	row := func(i int) int {
		if rows == nil {
			return i
		}
		return int(rows[i])
	}

	// Time order and range.
	tc := cols.Cols[schema.TimeColumn].Int64
	for i := range m {
		t := tc[row(i)]
		if p.n+i == 0 {
			p.minTime, p.maxTime = t, t
		} else if t < p.maxTime {
			p.sorted = false
		}
		p.minTime, p.maxTime = min(p.minTime, t), max(p.maxTime, t)
	}

	// String columns cost most (a dictionary lookup per row): with more than one
	// core and a large batch, half of them are appended by a second goroutine
	// while this one does the rest. Columns share nothing but p.mu and p.dictMu.
	var strCols []int
	for ci, col := range schema.Columns {
		if col.Type == storage.TypeString {
			strCols = append(strCols, ci)
		}
	}
	var wg sync.WaitGroup
	var otherBytes int64
	if m >= parallelAppendRows && len(strCols) >= 2 && runtime.GOMAXPROCS(0) > 1 {
		// Every other column, so that high- and low-cardinality ones mix.
		var mine, other []int
		for k, ci := range strCols {
			if k%2 == 0 {
				mine = append(mine, ci)
			} else {
				other = append(other, ci)
			}
		}
		strCols = mine
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []uint32
			for _, ci := range other {
				var b int64
				b, scratch = p.appendStringColumn(ci, &cols.Cols[ci], rows, m, base, scratch)
				otherBytes += b
			}
		}()
	}
	var nullRows []uint32 // scratch: rows of one column that are NULL
	for _, ci := range strCols {
		var b int64
		b, nullRows = p.appendStringColumn(ci, &cols.Cols[ci], rows, m, base, nullRows)
		p.bytes += b
	}
	for ci, col := range schema.Columns {
		if col.Type == storage.TypeString {
			continue
		}
		src, c, st := &cols.Cols[ci], &p.cols[ci], &p.stats[ci]
		null := src.Null
		isNull := func(r int) bool { return r < len(null) && null[r] }
		nullRows = nullRows[:0]
		switch col.Type {
		case storage.TypeTimestamp, storage.TypeInt64:
			c.i64 = slices.Grow(c.i64, m)
			for i := range m {
				r := row(i)
				v := src.Int64[r]
				if isNull(r) {
					nullRows = append(nullRows, uint32(base+i))
					v = 0
				} else if !st.HasMinMax {
					st.HasMinMax, st.MinInt, st.MaxInt = true, v, v
				} else {
					st.MinInt, st.MaxInt = min(st.MinInt, v), max(st.MaxInt, v)
				}
				c.i64 = append(c.i64, v)
			}
			p.bytes += 8 * int64(m)
		case storage.TypeFloat64:
			c.f64 = slices.Grow(c.f64, m)
			for i := range m {
				r := row(i)
				v := src.Float64[r]
				if isNull(r) {
					nullRows = append(nullRows, uint32(base+i))
					v = 0
				} else if !math.IsNaN(v) {
					if !st.HasMinMax {
						st.HasMinMax, st.MinFloat, st.MaxFloat = true, v, v
					} else {
						st.MinFloat, st.MaxFloat = min(st.MinFloat, v), max(st.MaxFloat, v)
					}
				}
				c.f64 = append(c.f64, v)
			}
			p.bytes += 8 * int64(m)
		case storage.TypeBool:
			c.b = slices.Grow(c.b, m)
			for i := range m {
				r := row(i)
				v := src.Bool[r]
				if isNull(r) {
					nullRows = append(nullRows, uint32(base+i))
					v = false
				} else {
					x := int64(0)
					if v {
						x = 1
					}
					if !st.HasMinMax {
						st.HasMinMax, st.MinInt, st.MaxInt = true, x, x
					} else {
						st.MinInt, st.MaxInt = min(st.MinInt, x), max(st.MaxInt, x)
					}
				}
				c.b = append(c.b, v)
			}
			p.bytes += int64(m)
		default:
			panic(fmt.Sprintf("BUG: column %q has type %s after Check", col.Name, col.Type))
		}
		if len(nullRows) > 0 {
			st.NullCount += len(nullRows)
			p.mu.Lock()
			if c.nulls == nil {
				c.nulls = newBitmap()
			}
			c.nulls.AddMany(nullRows)
			p.mu.Unlock()
			p.bytes += bitmapEntryBytes * int64(len(nullRows))
		}
	}
	if offs != nil {
		p.offs = slices.Grow(p.offs, m)
		for i := range m {
			p.offs = append(p.offs, offs[row(i)])
		}
		p.bytes += 8 * int64(m)
	}
	wg.Wait()
	p.bytes += otherBytes
	p.n += m
}

// parallelAppendRows is the batch size from which part.append appends string
// columns on two goroutines.
const parallelAppendRows = 2048

// appendStringColumn appends m rows of string column ci (see appendStrings) with
// their NULLs, and returns the bytes they add. scratch is reused for the NULL rows
// and returned.
// REQUIRES: Head.appendMu is held; no other goroutine appends column ci.
func (p *part) appendStringColumn(ci int, src *storage.ColumnData, rows []int32, m, base int, scratch []uint32) (int64, []uint32) {
	c, st := &p.cols[ci], &p.stats[ci]
	nullRows, bytes := p.appendStrings(c, st, src, rows, m, base, scratch[:0])
	if len(nullRows) > 0 {
		st.NullCount += len(nullRows)
		p.mu.Lock()
		if c.nulls == nil {
			c.nulls = newBitmap()
		}
		c.nulls.AddMany(nullRows)
		p.mu.Unlock()
		bytes += bitmapEntryBytes * int64(len(nullRows))
	}
	return bytes, nullRows
}

// appendStrings dictionary-encodes m rows of a string column (src's rows, or the
// rows listed) and adds them to the value bitmaps. It returns nullRows with the NULL
// rows appended, and the bytes the rows add.
// REQUIRES: Head.appendMu is held.
func (p *part) appendStrings(c *colData, st *storage.ColumnStats, src *storage.ColumnData, rows []int32, m, base int, nullRows []uint32) ([]uint32, int64) {
	var bytes int64
	null := src.Null
	c.ids = slices.Grow(c.ids, m)
	firstID := len(c.ids)
	for i := range m {
		r := i
		if rows != nil {
			r = int(rows[i])
		}
		if r < len(null) && null[r] {
			nullRows = append(nullRows, uint32(base+i))
			c.ids = append(c.ids, 0)
			continue
		}
		v := src.String[r]
		if c.havePrev && v == c.prev {
			c.ids = append(c.ids, c.prevID)
			continue
		}
		id, ok := c.recent.Lookup(v)
		if ok {
			c.ids = append(c.ids, id)
			c.prev, c.prevID = v, id
			continue
		}
		id, ok = c.index[v]
		if !ok {
			// A copy: the caller's string may share an allocation with its whole row
			// (the ingest decoder's), which a dictionary value would keep alive.
			v = strings.Clone(v)
			id = uint32(len(c.dict))
			// The values slice may be reallocated by this append; Views hold the old
			// array, whose first len(dict) entries never change.
			c.dict = append(c.dict, v)
			p.dictMu.Lock()
			c.index[v] = id
			p.dictMu.Unlock()
			if !st.HasMinMax {
				st.HasMinMax, st.MinString, st.MaxString = true, v, v
			} else if v < st.MinString {
				st.MinString = v
			} else if v > st.MaxString {
				st.MaxString = v
			}
			bytes += int64(len(v)) + dictValueOverhead
		}
		c.recent.Store(src.String[r], id) // the caller's string: its address is what repeats
		c.ids = append(c.ids, id)
		c.prev, c.prevID, c.havePrev = v, id, true
	}
	bytes += (4 + bitmapEntryBytes) * int64(m)

	// Bitmaps: one lock per column per batch. Rows arrive in increasing row number,
	// so each Add lands in a bitmap's last container.
	nullAt := 0
	p.mu.Lock()
	if grow := len(c.dict) - len(c.bitmaps); grow > 0 {
		c.bitmaps = append(c.bitmaps, make([]*roaring.Bitmap, grow)...)
		c.small = append(c.small, make([][]uint32, grow)...)
	}
	for i, id := range c.ids[firstID:] {
		r := uint32(base + i)
		if nullAt < len(nullRows) && nullRows[nullAt] == r {
			nullAt++
			continue
		}
		if bm := c.bitmaps[id]; bm != nil {
			bm.Add(r)
			continue
		}
		list := c.small[id]
		if list == nil {
			if len(c.slab) < 2 {
				c.slab = make([]uint32, 2*slabValues)
			}
			list, c.slab = c.slab[:0:2], c.slab[2:]
		}
		list = append(list, r)
		if len(list) > smallRows {
			bm := newBitmap()
			bm.AddMany(list)
			c.bitmaps[id], list = bm, nil
		}
		c.small[id] = list
	}
	p.mu.Unlock()
	return nullRows, bytes
}
