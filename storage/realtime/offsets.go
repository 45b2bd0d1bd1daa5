package realtime

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stratadb/strata/storage"
)

// Rows by source offset. A head that follows one Kafka partition (the store's
// follower heads) keeps, with every row, the offset of the record it came from
// (AppendAt), so that "the rows at or past offset O" can be read (SnapshotFrom)
// and the rows below O dropped (DropBefore) as the lake's offset of the
// partition moves to O. Offsets strictly increase from one AppendAt to the
// next, and rows keep arrival order within a part, so in every part the rows
// at or past O are a suffix: a View of rows [k, n) of the part (View.from),
// whose statistics are computed over those rows alone and whose bitmaps are
// the part's, trimmed to [k, n) and shifted down by k.

// offsetState is the appender's last offset. Guarded by Head.appendMu.
type offsetState struct {
	last int64
	has  bool
}

// AppendAt is Append for rows that carry source offsets: offs[i] is the offset
// of row i. Offsets must strictly increase, within cols and past every row
// AppendAt added before; otherwise nothing is added and an error is returned.
// A head is appended to either by AppendAt only or by Append only.
func (h *Head) AppendAt(cols *storage.Columns, offs []int64) error {
	if len(offs) != cols.Len {
		return fmt.Errorf("head append: %d offsets for %d rows", len(offs), cols.Len)
	}
	if offs == nil {
		offs = []int64{} // not the Append path: no rows, nothing added
	}
	return h.append(cols, offs)
}

// checkOffsets reports whether offs may follow the offsets appended so far.
// REQUIRES: h.appendMu is held.
func (h *Head) checkOffsets(offs []int64, n int) error {
	if len(offs) != n {
		return fmt.Errorf("head append: %d offsets for %d rows", len(offs), n)
	}
	prev, has := h.offs.last, h.offs.has
	for i, o := range offs {
		if has && o <= prev {
			return fmt.Errorf("head append: row %d: offset %d does not follow offset %d", i, o, prev)
		}
		prev, has = o, true
	}
	return nil
}

// noteOffsets records the last offset appended. REQUIRES: h.appendMu is held.
func (h *Head) noteOffsets(offs []int64) {
	if len(offs) > 0 {
		h.offs.last, h.offs.has = offs[len(offs)-1], true
	}
}

// SnapshotFrom is Snapshot restricted to the rows whose offset is at least o
// (rows appended by Append, without offsets, are all in it). A part whose rows
// straddle o is read from its first row at or past o (a View of a suffix).
func (h *Head) SnapshotFrom(o int64) []*View {
	if o == math.MinInt64 {
		return h.Snapshot()
	}
	views := h.Snapshot()
	out := views[:0]
	for _, v := range views {
		st := v.st
		if len(st.offs) < st.n { // rows without offsets
			out = append(out, v)
			continue
		}
		k := sort.Search(st.n, func(i int) bool { return st.offs[i] >= o })
		switch {
		case k == st.n:
		case k == 0:
			out = append(out, v)
		default:
			out = append(out, v.p.suffixView(st, k))
		}
	}
	return out
}

// DropBefore removes the parts all of whose rows have offsets below o and
// seals each mutable part that straddles o, so that its suffix View is
// computed once (SnapshotFrom) and rows appended later go to a new part. It
// returns the rows removed. Views already handed out stay readable.
func (h *Head) DropBefore(o int64) int {
	h.appendMu.Lock()
	defer h.appendMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	below := func(p *part) bool {
		st := p.pub
		return st != nil && st.n > 0 && len(st.offs) == st.n && st.offs[st.n-1] < o
	}
	removed := 0
	drop := func(p *part) {
		removed += p.pub.n
		h.mu.rows -= p.pub.n
		h.mu.bytes -= p.pub.bytes
	}
	chunks := h.mu.chunks[:0]
	for _, c := range h.mu.chunks {
		c.frozen = slices.DeleteFunc(c.frozen, func(p *part) bool {
			if below(p) {
				drop(p)
				return true
			}
			return false
		})
		if p := c.active; p != nil && below(p) {
			drop(p)
			c.active = nil
		} else if p != nil && p.pub != nil && p.pub.n > 0 && len(p.pub.offs) == p.pub.n && p.pub.offs[0] < o {
			if p.pub.n != p.n {
				panic(fmt.Sprintf("BUG: part %s sealed with %d published of %d rows", p.name, p.pub.n, p.n))
			}
			p.seal()
			c.frozen = append(c.frozen, p)
			c.active = nil
		}
		if len(c.frozen) > 0 || c.active != nil {
			chunks = append(chunks, c)
		}
	}
	clear(h.mu.chunks[len(chunks):])
	h.mu.chunks = chunks
	return removed
}

// suffixView returns the View of rows [k, st.n) of p as published in st,
// 0 < k < st.n: cached in the part while st and k stay the same (a sealed part
// straddling a partition's lake offset is read by every snapshot until the
// offset passes it).
func (p *part) suffixView(st *partState, k int) *View {
	p.sufMu.Lock()
	defer p.sufMu.Unlock()
	if s := p.suf; s != nil && s.base == st && s.from == k {
		return s
	}
	v := &View{p: p, st: p.suffixState(st, k), from: k, base: st}
	p.suf = v
	return v
}

// suffixState is the state of rows [k, st.n) of the part, with statistics,
// time range and order computed over those rows.
func (p *part) suffixState(st *partState, k int) *partState {
	n := st.n - k
	out := &partState{n: n, offs: st.offs[k:], cols: make([]colState, len(st.cols)), stats: make([]storage.ColumnStats, len(st.cols)),
		bytes: st.bytes * int64(n) / int64(st.n), sorted: true}
	for ci, col := range p.schema.Columns {
		c := &st.cols[ci]
		sc := &out.cols[ci]
		sc.dict = c.dict
		if len(c.i64) > 0 {
			sc.i64 = c.i64[k:]
		}
		if len(c.f64) > 0 {
			sc.f64 = c.f64[k:]
		}
		if len(c.b) > 0 {
			sc.b = c.b[k:]
		}
		if len(c.ids) > 0 {
			sc.ids = c.ids[k:]
		}
		var nulls *roaring.Bitmap
		if st.stats[ci].NullCount > 0 {
			p.mu.Lock()
			if nb := p.cols[ci].nulls; nb != nil {
				nulls = nb.Clone()
			}
			p.mu.Unlock()
		}
		isNull := func(i int) bool { return nulls != nil && nulls.Contains(uint32(k+i)) }
		s := &out.stats[ci]
		for i := range n {
			if isNull(i) {
				s.NullCount++
			}
		}
		switch col.Type {
		case storage.TypeTimestamp, storage.TypeInt64:
			for i, v := range sc.i64 {
				if isNull(i) {
					continue
				}
				if !s.HasMinMax {
					s.HasMinMax, s.MinInt, s.MaxInt = true, v, v
				} else {
					s.MinInt, s.MaxInt = min(s.MinInt, v), max(s.MaxInt, v)
				}
			}
		case storage.TypeFloat64:
			for i, v := range sc.f64 {
				if isNull(i) || math.IsNaN(v) {
					continue
				}
				if !s.HasMinMax {
					s.HasMinMax, s.MinFloat, s.MaxFloat = true, v, v
				} else {
					s.MinFloat, s.MaxFloat = min(s.MinFloat, v), max(s.MaxFloat, v)
				}
			}
		case storage.TypeBool:
			for i, v := range sc.b {
				if isNull(i) {
					continue
				}
				x := int64(0)
				if v {
					x = 1
				}
				if !s.HasMinMax {
					s.HasMinMax, s.MinInt, s.MaxInt = true, x, x
				} else {
					s.MinInt, s.MaxInt = min(s.MinInt, x), max(s.MaxInt, x)
				}
			}
		case storage.TypeString:
			seen := make([]bool, len(sc.dict))
			for i, id := range sc.ids {
				if !isNull(i) {
					seen[id] = true
				}
			}
			for id, ok := range seen {
				if !ok {
					continue
				}
				v := sc.dict[id]
				if !s.HasMinMax {
					s.HasMinMax, s.MinString, s.MaxString = true, v, v
				} else if v < s.MinString {
					s.MinString = v
				} else if v > s.MaxString {
					s.MaxString = v
				}
			}
		}
	}
	times := out.cols[p.schema.TimeColumn].i64
	out.minTime, out.maxTime = times[0], times[0]
	for i, t := range times {
		if i > 0 && t < times[i-1] {
			out.sorted = false
		}
		out.minTime, out.maxTime = min(out.minTime, t), max(out.maxTime, t)
	}
	return out
}

// trimBitmap trims bm, a clone of a part bitmap the caller owns, to the rows
// of v and renumbers them from 0.
func (v *View) trimBitmap(bm *roaring.Bitmap) *roaring.Bitmap {
	end := v.from + v.st.n
	if !bm.IsEmpty() && int(bm.Maximum()) >= end {
		bm.RemoveRange(uint64(end), uint64(bm.Maximum())+1)
	}
	if v.from == 0 {
		return bm
	}
	bm.RemoveRange(0, uint64(v.from))
	return roaring.AddOffset64(bm, -int64(v.from))
}
