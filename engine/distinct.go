package engine

import (
	"math/bits"
	"runtime"
	"sort"
	"sync"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
)

// DISTINCT aggregates over dictionary text keep, per group, a set of integer ids
// instead of a hash set of strings. The ids are those of an idSpace: a partial
// aggregation over one source adopts that source's dictionary as its space (ids are
// dictionary ids, no per-row hashing); the final aggregation adopts the first
// partial's space and translates the ids of every other partial once per distinct
// (dictionary, id) pair it meets, so a merge costs the size of the sets, not rows.
// A set is a plain bitset over the space while the bitsets of one aggregate stay
// within denseBudget, a roaring bitmap after that.

// noID marks a translation slot not looked up yet.
const noID = ^uint32(0)

// denseBudget bounds the bytes of the bitsets of one DISTINCT aggregate; groups
// created beyond it get roaring bitmaps.
const denseBudget = 8 << 20

// idSpace numbers text values: id i is vals[i]. Values of other dictionaries are
// appended as they are translated.
type idSpace struct {
	vals  []string
	owned bool              // vals is ours to append to (else it is a shared dictionary)
	index map[string]uint32 // value → id, built on the first translation
	trans map[*string][]uint32
}

func newIDSpace(dict []string) *idSpace { return &idSpace{vals: dict} }

func (s *idSpace) is(dict []string) bool { return sameDict(s.vals, dict) }

// translation returns the (lazily filled, noID = unknown) map from ids of dict to
// ids of s, and how many bytes it newly holds.
func (s *idSpace) translation(dict []string) ([]uint32, int64) {
	if s.trans == nil {
		s.trans = make(map[*string][]uint32)
	}
	k := unsafe.SliceData(dict)
	if t, ok := s.trans[k]; ok && len(t) == len(dict) {
		return t, 0
	}
	t := make([]uint32, len(dict))
	for i := range t {
		t[i] = noID
	}
	s.trans[k] = t
	return t, int64(len(t)) * 4
}

// id returns the id of v, adding it; it reports the bytes newly held.
func (s *idSpace) id(v string) (uint32, int64) {
	var grown int64
	if s.index == nil {
		s.index = make(map[string]uint32, len(s.vals))
		for i, x := range s.vals {
			s.index[x] = uint32(i)
		}
		grown += int64(len(s.vals)) * 40
	}
	if id, ok := s.index[v]; ok {
		return id, grown
	}
	if !s.owned {
		s.vals = append(make([]string, 0, len(s.vals)+len(s.vals)/4+16), s.vals...)
		s.owned = true
	}
	id := uint32(len(s.vals))
	s.vals = append(s.vals, v)
	s.index[v] = id
	return id, grown + 56 + int64(len(v))
}

// idSet is one group's set of ids: bits, rb or neither (empty).
type idSet struct {
	bits []uint64
	rb   *roaring.Bitmap
}

func (s *idSet) card() int64 {
	if s.rb != nil {
		return int64(s.rb.GetCardinality())
	}
	n := 0
	for _, w := range s.bits {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// each calls f with every id of s in ascending order.
func (s *idSet) each(f func(id uint32)) {
	if s.rb != nil {
		it := s.rb.Iterator()
		for it.HasNext() {
			f(it.Next())
		}
		return
	}
	for w, word := range s.bits {
		for word != 0 {
			f(uint32(w*64 + bits.TrailingZeros64(word)))
			word &= word - 1
		}
	}
}

// idSets is the per-group state of a DISTINCT aggregate over dictionary text.
type idSets struct {
	space      *idSpace
	sets       []idSet
	denseBytes int64
	pending    int64 // bytes not yet charged
	mem        *memTracker
}

func (a *idSets) grow(n int) { a.sets = growTo(a.sets, n) }

func (a *idSets) charge(n int64) error {
	a.pending += n
	if a.pending >= chargeBatch && a.mem != nil {
		n, a.pending = a.pending, 0
		return a.mem.grow(n)
	}
	return nil
}

// add inserts id into group g's set (the slow path of the update loops: a new set,
// a bitset too short, or a roaring set).
func (a *idSets) add(g int32, id uint32) error {
	s := &a.sets[g]
	switch {
	case s.rb != nil:
		if s.rb.CheckedAdd(id) {
			return a.charge(2)
		}
		return nil
	case s.bits == nil:
		words := int64(max(len(a.space.vals), int(id)+1)+63) / 64
		if a.denseBytes+words*8 > denseBudget {
			s.rb = roaring.New()
			s.rb.Add(id)
			return a.charge(64)
		}
		s.bits = make([]uint64, words)
		a.denseBytes += words * 8
		if err := a.charge(words*8 + 24); err != nil {
			return err
		}
	}
	w := int(id >> 6)
	if w >= len(s.bits) {
		words := max(w+1, len(a.space.vals)/64+1)
		grown := int64(words - len(s.bits))
		s.bits = growTo(s.bits, words)
		a.denseBytes += grown * 8
		if err := a.charge(grown * 8); err != nil {
			return err
		}
	}
	s.bits[w] |= 1 << (id & 63)
	return nil
}

// update folds dictionary ids x (x.isDict) into groups gids. Ids of another
// dictionary than the space's are translated.
func (a *idSets) update(gids []int32, x *vec) error {
	if a.space == nil {
		a.space = newIDSpace(x.dict)
	}
	ids := x.ids
	if !a.space.is(x.dict) {
		t, held := a.space.translation(x.dict)
		if err := a.charge(held); err != nil {
			return err
		}
		for i, g := range gids {
			if g < 0 || x.isNull(i) {
				continue
			}
			id := t[ids[i]]
			if id == noID {
				var held int64
				id, held = a.space.id(x.dict[ids[i]])
				t[ids[i]] = id
				if err := a.charge(held); err != nil {
					return err
				}
			}
			if err := a.add(g, id); err != nil {
				return err
			}
		}
		return nil
	}
	sets := a.sets
	for i, g := range gids {
		if g < 0 || (x.nulls != nil && x.nulls[i]) {
			continue
		}
		id := ids[i]
		if b := sets[g].bits; int(id>>6) < len(b) {
			b[id>>6] |= 1 << (id & 63)
			continue
		}
		if err := a.add(g, id); err != nil {
			return err
		}
	}
	return nil
}

// merge folds o into a: o's group i goes to group m[i]. o is consumed (its sets may
// be taken over).
func (a *idSets) merge(o *idSets, m []int32) error {
	if o.space == nil {
		return nil
	}
	if a.space == nil {
		a.space = o.space
	}
	same := a.space == o.space || a.space.is(o.space.vals)
	var t []uint32
	if !same {
		var held int64
		t, held = a.space.translation(o.space.vals)
		if err := a.charge(held); err != nil {
			return err
		}
	}
	for i := range o.sets {
		src := &o.sets[i]
		if src.bits == nil && src.rb == nil {
			continue
		}
		g := m[i]
		dst := &a.sets[g]
		if same {
			if dst.bits == nil && dst.rb == nil {
				*dst = *src // take it over: o is discarded after the merge
				a.denseBytes += int64(len(src.bits)) * 8
				continue
			}
			if dst.bits != nil && src.bits != nil && len(dst.bits) >= len(src.bits) {
				for w, x := range src.bits {
					dst.bits[w] |= x
				}
				continue
			}
			if dst.rb != nil && src.rb != nil {
				dst.rb.Or(src.rb)
				continue
			}
		}
		var err error
		src.each(func(id uint32) {
			if err != nil {
				return
			}
			if !same {
				x := t[id]
				if x == noID {
					var held int64
					x, held = a.space.id(o.space.vals[id])
					t[id] = x
					err = a.charge(held)
				}
				id = x
			}
			if err == nil {
				err = a.add(g, id)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// idPart is a partial's id sets waiting to be merged: its group i goes to group m[i].
type idPart struct {
	sets *idSets
	m    []int32
}

// mergeAll merges partials into a (which has no state of its own yet, or any state:
// then the partials are merged one by one through hash translation). Partials over
// sorted dictionaries get a space built by a k-way merge of their dictionaries: no
// value is hashed.
func (a *idSets) mergeAll(parts []idPart) error {
	var live []idPart
	for _, p := range parts {
		if p.sets.space != nil {
			live = append(live, p)
		}
	}
	parts = live
	if a.space != nil || len(parts) < 2 {
		for _, p := range parts {
			if err := a.merge(p.sets, p.m); err != nil {
				return err
			}
		}
		return nil
	}
	// Distinct sorted dictionaries, in the order first met.
	var dicts [][]string
	which := make([]int, len(parts)) // part → index in dicts, -1 unsorted
	seen := make(map[*string]int)
	sorted := make(map[*string]bool)
	for i, p := range parts {
		vals := p.sets.space.vals
		k := unsafe.SliceData(vals)
		if d, ok := seen[k]; ok {
			which[i] = d
			continue
		}
		if _, ok := sorted[k]; !ok {
			sorted[k] = !p.sets.space.owned && strictlySorted(vals)
		}
		which[i] = -1
		if sorted[k] {
			seen[k] = len(dicts)
			which[i] = len(dicts)
			dicts = append(dicts, vals)
		}
	}
	if len(dicts) < 2 {
		for _, p := range parts {
			if err := a.merge(p.sets, p.m); err != nil {
				return err
			}
		}
		return nil
	}
	vals, trans := mergeDicts(dicts, runtime.GOMAXPROCS(0))
	held := int64(len(vals)) * 16
	for _, t := range trans {
		held += int64(len(t)) * 4
	}
	if err := a.charge(held); err != nil {
		return err
	}
	a.space = &idSpace{vals: vals, owned: true}
	for i, p := range parts {
		if which[i] < 0 {
			continue
		}
		if err := a.mergeTranslated(p.sets, p.m, trans[which[i]]); err != nil {
			return err
		}
	}
	for i, p := range parts {
		if which[i] < 0 {
			if err := a.merge(p.sets, p.m); err != nil {
				return err
			}
		}
	}
	return nil
}

func strictlySorted(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// mergeTranslated ORs o's sets into a, o's id x becoming t[x].
func (a *idSets) mergeTranslated(o *idSets, m []int32, t []uint32) error {
	for i := range o.sets {
		src := &o.sets[i]
		if src.bits == nil && src.rb == nil {
			continue
		}
		g := m[i]
		if src.rb != nil {
			var err error
			src.each(func(id uint32) {
				if err == nil {
					err = a.add(g, t[id])
				}
			})
			if err != nil {
				return err
			}
			continue
		}
		for w, word := range src.bits {
			for word != 0 {
				id := t[w*64+bits.TrailingZeros64(word)]
				word &= word - 1
				if b := a.sets[g].bits; int(id>>6) < len(b) {
					b[id>>6] |= 1 << (id & 63)
					continue
				}
				if err := a.add(g, id); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// mergeDicts merges strictly sorted dictionaries into their sorted union vals and
// returns, per dictionary, the position in vals of each of its values. The value
// space is cut into up to par ranges at quantiles of the largest dictionary, merged
// in parallel.
func mergeDicts(dicts [][]string, par int) ([]string, [][]uint32) {
	total := 0
	ref := dicts[0]
	for _, d := range dicts {
		total += len(d)
		if len(d) > len(ref) {
			ref = d
		}
	}
	nr := 1
	if total >= 1<<16 {
		nr = max(1, min(par, 16))
	}
	bounds := make([]string, nr)
	for r := 1; r < nr; r++ {
		bounds[r] = ref[len(ref)*r/nr]
	}
	idRange := func(d []string, r int) (int, int) {
		lo, hi := 0, len(d)
		if r > 0 {
			lo = sort.SearchStrings(d, bounds[r])
		}
		if r+1 < nr {
			hi = sort.SearchStrings(d, bounds[r+1])
		}
		return lo, hi
	}
	trans := make([][]uint32, len(dicts))
	for k, d := range dicts {
		trans[k] = make([]uint32, len(d))
	}
	outs := make([][]string, nr)
	var wg sync.WaitGroup
	for r := 0; r < nr; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[r] = mergeDictRange(dicts, trans, func(d []string) (int, int) { return idRange(d, r) })
		}()
	}
	wg.Wait()
	vals := make([]string, 0, total)
	for r := 0; r < nr; r++ {
		if off := uint32(len(vals)); off > 0 {
			for k, d := range dicts {
				lo, hi := idRange(d, r)
				t := trans[k][lo:hi]
				for i := range t {
					t[i] += off
				}
			}
		}
		vals = append(vals, outs[r]...)
	}
	return vals, trans
}

// mergeDictRange k-way merges the id ranges of dicts, writing range-relative
// positions into trans, and returns the range's distinct values in order.
func mergeDictRange(dicts [][]string, trans [][]uint32, idRange func([]string) (int, int)) []string {
	type cursor struct {
		d      []string
		t      []uint32
		id, hi int
	}
	cs := make([]cursor, 0, len(dicts))
	n := 0
	for k, d := range dicts {
		lo, hi := idRange(d)
		if lo < hi {
			cs = append(cs, cursor{d: d, t: trans[k], id: lo, hi: hi})
			n = max(n, hi-lo)
		}
	}
	heap := make([]int32, len(cs))
	for i := range heap {
		heap[i] = int32(i)
	}
	less := func(a, b int32) bool { return cs[a].d[cs[a].id] < cs[b].d[cs[b].id] }
	down := func(i int) {
		for {
			l, m := 2*i+1, i
			if l < len(heap) && less(heap[l], heap[m]) {
				m = l
			}
			if l+1 < len(heap) && less(heap[l+1], heap[m]) {
				m = l + 1
			}
			if m == i {
				return
			}
			heap[i], heap[m] = heap[m], heap[i]
			i = m
		}
	}
	for i := len(heap)/2 - 1; i >= 0; i-- {
		down(i)
	}
	out := make([]string, 0, n)
	for len(heap) > 0 {
		c := &cs[heap[0]]
		s := c.d[c.id]
		if len(out) == 0 || s != out[len(out)-1] {
			out = append(out, s)
		}
		c.t[c.id] = uint32(len(out) - 1)
		if c.id++; c.id == c.hi {
			heap[0] = heap[len(heap)-1]
			heap = heap[:len(heap)-1]
		}
		if len(heap) > 0 {
			down(0)
		}
	}
	return out
}
