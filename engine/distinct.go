package engine

import (
	"math/bits"
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
