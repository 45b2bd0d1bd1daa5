package engine

import (
	"encoding/binary"
	"math/bits"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
)

// DISTINCT aggregates over dictionary text keep, per group, a set of integer ids
// instead of a hash set of strings. The ids are those of an idSpace: a partial
// aggregation over one source adopts that source's dictionary as its space (ids are
// dictionary ids, no per-row hashing). The final aggregation collects the partials
// and merges them at the end: partials over sorted dictionaries get a space built by
// a k-way merge of those dictionaries (mergeDicts: cost proportional to dictionary
// sizes, no hashing, values materialized only if something other than a count needs
// them); partials over unsorted ones (a Parquet row group's dictionary is in the
// file's order) get a space numbered by hashing each dictionary value once, by hash
// partitions in parallel (hashDicts); a selective filter's few ids, or partials
// merged into existing state, are translated through a hash of values, once per
// distinct (dictionary, id) pair met. A set is a plain bitset over the space while
// the bitsets of one aggregate stay within denseBudget, a roaring bitmap after that;
// when the budget runs out with many groups (pairsMinGroups: one group per user),
// the sets of all groups become one hash set of (group, id) pairs instead
// (distinct_pairs.go), which the final merge partitions by ranges of groups and
// fills and counts in parallel (mergeParallel). Per-group sets are ORed through the
// translations; a count is their cardinality.

// noID marks a translation slot not looked up yet.
const noID = ^uint32(0)

// denseBudget bounds the bytes of the bitsets of one DISTINCT aggregate; groups
// created beyond it get roaring bitmaps. (A variable for tests.)
var denseBudget int64 = 8 << 20

// pairsMinGroups is the number of groups from which an aggregate whose bitsets
// outgrow denseBudget keeps (group, id) pairs instead of a roaring bitmap per
// group. (A variable for tests.)
var pairsMinGroups = 256

// idSpace numbers text values: id i is vals[i]. Values of other dictionaries are
// appended as they are translated.
type idSpace struct {
	vals  []string
	owned bool // vals is ours to append to (else it is a shared dictionary)
	// A space merged from sorted dictionaries keeps them and their translations and
	// builds vals only if asked (a count never asks): id trans[k][i] is dicts[k][i].
	n         int // ids in the space while vals is not built
	lazyDicts [][]string
	lazyTrans [][]uint32
	index     *strTable // value → id, built on the first translation
	trans     map[*string][]uint32
}

func newIDSpace(dict []string) *idSpace { return &idSpace{vals: dict} }

// size is the number of ids.
func (s *idSpace) size() int { return max(len(s.vals), s.n) }

// values returns the values by id, building them for a merged space.
func (s *idSpace) values() []string {
	if s.lazyDicts != nil {
		vals := make([]string, s.n)
		for k, d := range s.lazyDicts {
			for i, id := range s.lazyTrans[k] {
				vals[id] = d[i]
			}
		}
		s.vals, s.owned, s.n, s.lazyDicts, s.lazyTrans = vals, true, 0, nil, nil
	}
	return s.vals
}

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
	s.values()
	var grown int64
	if s.index == nil {
		s.index = newStrTable(len(s.vals))
		for i, x := range s.vals {
			s.index.put(strHash(x), uint32(i)) // a dictionary's values are distinct
		}
		grown += s.index.bytes()
	}
	id, h, ok := s.index.find(s.vals, v)
	if ok {
		return id, grown
	}
	if !s.owned {
		s.vals = append(make([]string, 0, len(s.vals)+len(s.vals)/4+16), s.vals...)
		s.owned = true
	}
	id = uint32(len(s.vals))
	s.vals = append(s.vals, v)
	return id, grown + s.index.put(h, id) + 16 + int64(len(v))
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

// idSets is the per-group state of a DISTINCT aggregate over dictionary text:
// sets, one per group, or, once pairs is set, pairs alone (sets nil).
type idSets struct {
	space      *idSpace
	n          int // groups
	sets       []idSet
	pairs      *pairSet
	denseBytes int64
	pending    int64 // bytes not yet charged
	mem        *memTracker
	par        int // workers for merging and counting pairs (mergeAll, counts)
}

func (a *idSets) grow(n int) {
	a.n = max(a.n, n)
	if a.pairs == nil {
		a.sets = growTo(a.sets, n)
	}
}

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
	if a.pairs != nil {
		return a.charge(a.pairs.insert(packPair(g, id)))
	}
	s := &a.sets[g]
	switch {
	case s.rb != nil:
		if s.rb.CheckedAdd(id) {
			return a.charge(2)
		}
		return nil
	case s.bits == nil:
		words := int64(max(a.space.size(), int(id)+1)+63) / 64
		over := a.denseBytes+words*8 > denseBudget
		// Pairs as soon as the budget is out, or would be with a bitset for
		// every group there is already: many groups, large dictionaries.
		if (over || words*8*int64(len(a.sets)) > 4*denseBudget) && len(a.sets) >= pairsMinGroups {
			if err := a.toPairs(); err != nil {
				return err
			}
			return a.add(g, id)
		}
		if over {
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
		words := max(w+1, a.space.size()/64+1)
		grown := int64(words - len(s.bits))
		s.bits = append(s.bits, make([]uint64, grown)...) // exactly: denseBytes counts len
		a.denseBytes += grown * 8
		if err := a.charge(grown * 8); err != nil {
			return err
		}
	}
	s.bits[w] |= 1 << (id & 63)
	return nil
}

// toPairs moves every group's set into one pair set.
func (a *idSets) toPairs() error {
	// Sized for a few ids per group (counting the ids would read every bitset
	// once more); it grows as needed.
	p := newPairSet(4 * len(a.sets))
	held := p.bytes()
	for g := range a.sets {
		a.sets[g].each(func(id uint32) { held += p.insert(packPair(int32(g), id)) })
		// Emptied in place: a caller's loop over a.sets (update) then finds no
		// bitset and adds through add, to the pairs.
		a.sets[g] = idSet{}
	}
	// The sets' bytes stay charged: the tracker's total is an upper bound.
	a.pairs, a.sets, a.denseBytes = p, nil, 0
	return a.charge(held)
}

// forEach calls f with every (group, id) of a; it stops at f's first error.
func (a *idSets) forEach(f func(g int32, id uint32) error) error {
	if a.pairs != nil {
		return a.pairs.each(f)
	}
	for g := range a.sets {
		var err error
		a.sets[g].each(func(id uint32) {
			if err == nil {
				err = f(int32(g), id)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// size is the number of (group, id) of a.
func (a *idSets) size() int64 {
	if a.pairs != nil {
		return int64(a.pairs.len())
	}
	var n int64
	for i := range a.sets {
		n += a.sets[i].card()
	}
	return n
}

// counts sets c[g] to the size of group g's set.
func (a *idSets) counts(c []int64) {
	if a.pairs != nil {
		clear(c[:a.n])
		a.pairs.counts(c, a.par)
		return
	}
	for g := range a.sets {
		c[g] = a.sets[g].card()
	}
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
	if p := a.pairs; p != nil {
		for i, g := range gids {
			if g < 0 || (x.nulls != nil && x.nulls[i]) {
				continue
			}
			if held := p.insert(packPair(g, ids[i])); held != 0 {
				if err := a.charge(held); err != nil {
					return err
				}
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
	same := a.space == o.space || o.space.lazyDicts == nil && a.space.is(o.space.vals)
	var t []uint32
	if !same {
		var held int64
		t, held = a.space.translation(o.space.values())
		if err := a.charge(held); err != nil {
			return err
		}
	}
	// addOne adds o's id of o's group g to a, through the translation.
	addOne := func(g int32, id uint32) error {
		if !same {
			x := t[id]
			if x == noID {
				var held int64
				x, held = a.space.id(o.space.values()[id])
				t[id] = x
				if err := a.charge(held); err != nil {
					return err
				}
			}
			id = x
		}
		return a.add(m[g], id)
	}
	if a.pairs != nil || o.pairs != nil {
		return o.forEach(addOne)
	}
	for i := range o.sets {
		src := &o.sets[i]
		if src.bits == nil && src.rb == nil {
			continue
		}
		g := m[i]
		if a.pairs != nil { // an add below switched a to pairs
			var err error
			src.each(func(id uint32) {
				if err == nil {
					err = addOne(int32(i), id)
				}
			})
			if err != nil {
				return err
			}
			continue
		}
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
			if err == nil {
				err = addOne(int32(i), id)
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
	// sorted: the sets are over a shared, strictly sorted dictionary (a
	// segment's), kept whole for mergeAll's k-way merge and not counted
	// against pendingMax (addPending).
	sorted bool
}

// mergeAll merges partials into a (whose own sets, if any, are merged as one more
// partial). Partials whose sets are sparse are merged value by value; else, over sorted dictionaries,
// they get a space built by a k-way merge of their dictionaries (no value is
// hashed), over any other, a space numbered by hashDicts.
func (a *idSets) mergeAll(parts []idPart) error {
	var live []idPart
	for _, p := range parts {
		if p.sets.space != nil {
			live = append(live, p)
		}
	}
	parts = live
	if a.space == nil && len(parts) >= 2 && sparseSets(parts) {
		// A selective filter (one user's sessions) leaves a few ids out of large
		// dictionaries: translating just those through a hash of values costs far
		// less than merging or indexing whole dictionaries.
		a.space = &idSpace{owned: true}
		for _, p := range parts {
			if err := a.mergeByValue(p.sets, p.m); err != nil {
				return err
			}
		}
		return nil
	}
	if a.space != nil && len(parts) > 0 {
		// a's own sets become the first partial (its groups staying where they
		// are), so that every partial is merged as below, in parallel.
		own := *a
		own.pending = 0
		a.space, a.sets, a.pairs, a.denseBytes, a.n = nil, nil, nil, 0, 0
		a.grow(own.n)
		same := make([]int32, own.n)
		for g := range same {
			same[g] = int32(g)
		}
		parts = append([]idPart{{sets: &own, m: same}}, parts...)
	}
	if len(parts) < 2 {
		for _, p := range parts {
			if err := a.merge(p.sets, p.m); err != nil {
				return err
			}
		}
		return nil
	}
	// The partials' distinct dictionaries, in the order first met (keyed by
	// data and length: a space that grew in place is another dictionary).
	type dictKey struct {
		p *string
		n int
	}
	var dicts [][]string
	which := make([]int, len(parts)) // part → index in dicts
	seen := make(map[dictKey]int)
	allSorted := true
	for i, p := range parts {
		vals := p.sets.space.values()
		k := dictKey{unsafe.SliceData(vals), len(vals)}
		d, ok := seen[k]
		if !ok {
			d = len(dicts)
			seen[k] = d
			dicts = append(dicts, vals)
			allSorted = allSorted && (p.sorted || !p.sets.space.owned && strictlySorted(vals)) // sorted: checked by addPending
		}
		which[i] = d
	}
	if len(dicts) < 2 {
		for _, p := range parts {
			if err := a.merge(p.sets, p.m); err != nil {
				return err
			}
		}
		return nil
	}
	// Sorted dictionaries (segments') are merged, any other (a Parquet row
	// group's, in the file's order) numbered by hash; either way in parallel.
	var n int
	var trans [][]uint32
	var err error
	if allSorted {
		_, n, trans, err = mergeDicts(dicts, runtime.GOMAXPROCS(0), false)
	} else {
		n, trans, err = a.hashDicts(dicts)
	}
	if err != nil {
		return err
	}
	var held int64
	for _, t := range trans {
		held += int64(len(t)) * 4
	}
	if err := a.charge(held); err != nil {
		return err
	}
	a.space = &idSpace{n: n, lazyDicts: dicts, lazyTrans: trans}
	if err := a.pairsFor(parts); err != nil {
		return err
	}
	if a.pairs != nil && a.par > 1 {
		return a.mergeParallel(parts, which, trans)
	}
	for i, p := range parts {
		if err := a.mergeTranslated(p.sets, p.m, trans[which[i]]); err != nil {
			return err
		}
	}
	return nil
}

// hashDicts numbers the distinct values of dicts, dictionaries of distinct
// values in any order: it returns the number n of distinct values and, per
// dictionary, the number (0..n-1) of each of its values. The values are cut by
// hash into partitions, each numbered by its own table, the partitions on a.par
// workers; a partition's numbers follow the previous partitions'. Each value is
// hashed once. The work space (hashes, positions, tables: about 40 bytes a
// value) is charged while it is held.
func (a *idSets) hashDicts(dicts [][]string) (int, [][]uint32, error) {
	total := 0
	for _, d := range dicts {
		total += len(d)
	}
	workers := max(a.par, 1)
	np := 1
	if total >= 1<<16 && workers > 1 {
		np = min(64, 1<<bits.Len(uint(4*workers-1))) // a few partitions per worker, to even them out
	}
	shift := 32 - bits.TrailingZeros(uint(np)) // partition of hash h: h >> shift (0 when np = 1)
	work := int64(total) * 40
	if a.mem != nil {
		if err := a.mem.grow(work); err != nil {
			return 0, nil, err
		}
		defer a.mem.shrink(work)
	}
	// Per dictionary: its values' hashes, and their positions ordered by
	// partition (pos[k][starts[k][p]:starts[k][p+1]] are partition p's).
	hashes := make([][]uint32, len(dicts))
	pos := make([][]uint32, len(dicts))
	starts := make([][]int, len(dicts))
	trans := make([][]uint32, len(dicts))
	var next atomic.Int64
	err := inParallel(min(workers, len(dicts)), func(int) {
		for k := int(next.Add(1) - 1); k < len(dicts); k = int(next.Add(1) - 1) {
			d := dicts[k]
			hs := make([]uint32, len(d))
			st := make([]int, np+1)
			for i, v := range d {
				hs[i] = strHash(v)
				st[hs[i]>>shift+1]++
			}
			for p := 1; p <= np; p++ {
				st[p] += st[p-1]
			}
			ps := make([]uint32, len(d))
			fill := slices.Clone(st[:np])
			for i, h := range hs {
				ps[fill[h>>shift]] = uint32(i)
				fill[h>>shift]++
			}
			hashes[k], pos[k], starts[k], trans[k] = hs, ps, st, make([]uint32, len(d))
		}
	})
	if err != nil {
		return 0, nil, err
	}
	counts := make([]uint32, np)
	next.Store(0)
	err = inParallel(min(workers, np), func(int) {
		for p := int(next.Add(1) - 1); p < np; p = int(next.Add(1) - 1) {
			size := 0
			for k := range dicts {
				size += starts[k][p+1] - starts[k][p]
			}
			tab := newStrTable(size)
			vals := make([]string, 0, size)
			for k, d := range dicts {
				hs, t := hashes[k], trans[k]
				for _, i := range pos[k][starts[k][p]:starts[k][p+1]] {
					v, h := d[i], hs[i]
					id, ok := tab.findHashed(vals, v, h)
					if !ok {
						id = uint32(len(vals))
						vals = append(vals, v)
						tab.put(h, id)
					}
					t[i] = id
				}
			}
			counts[p] = uint32(len(vals))
		}
	})
	if err != nil {
		return 0, nil, err
	}
	base := make([]uint32, np)
	n := 0
	for p, c := range counts {
		base[p] = uint32(n)
		n += int(c)
	}
	if np > 1 {
		next.Store(0)
		err = inParallel(min(workers, len(dicts)), func(int) {
			for k := int(next.Add(1) - 1); k < len(dicts); k = int(next.Add(1) - 1) {
				t := trans[k]
				for i, h := range hashes[k] {
					t[i] += base[h>>shift]
				}
			}
		})
	}
	return n, trans, err
}

// pairsFor puts a (empty) in pairs mode when a partial is, with room for every
// partial's pairs: the merged sets hold many groups of few ids too, and a table
// sized once is not rehashed while the partials are merged. With more than one
// worker the pairs are partitioned by group, and mergeParallel sizes each
// partition's table.
func (a *idSets) pairsFor(parts []idPart) error {
	var n int64
	pairs := false
	for _, p := range parts {
		n += p.sets.size()
		pairs = pairs || p.sets.pairs != nil
	}
	if !pairs || a.pairs != nil {
		return nil
	}
	if a.par > 1 {
		a.pairs, a.sets = newPartedPairSet(pairPartitions(a.par), a.n), nil
		return a.charge(a.pairs.bytes())
	}
	a.pairs, a.sets = newPairSet(int(n)), nil
	return a.charge(a.pairs.bytes())
}

// pendingMax bounds the bytes of the partials a DISTINCT aggregate keeps for its
// final merge (their dictionary values, about 32 bytes each, and their sets):
// beyond it they are merged at once, into a space of their distinct values
// copied (flatten), so a scan of a large lake holds each distinct value once,
// not every row group's dictionary and sets. (A variable for tests.)
var pendingMax int64 = 32 << 20

// addPending queues partial sets o (its group i going to group m[i]) for the
// final merge, compacted; past pendingMax it merges what is queued.
//
// A partial over a segment's dictionary (shared and strictly sorted) waits as
// it is: the final k-way merge of sorted dictionaries hashes no value, and
// merging such partials early, or copying their values, made count(DISTINCT
// session_id) over 10M hot events 2.8x slower (session 10: 590 ms instead of
// 103). Only the others (a Parquet row group's dictionary, read into the heap)
// are compacted and counted against pendingMax.
func (a *distinctAcc) addPending(o *idSets, m []int32) error {
	if s := o.space; s != nil && !s.owned && s.lazyDicts == nil && strictlySorted(s.vals) {
		a.pend = append(a.pend, idPart{sets: o, m: m, sorted: true})
		return nil
	}
	ids, err := o.compacted()
	if err != nil {
		return err
	}
	a.pend = append(a.pend, idPart{sets: ids, m: m})
	a.pendHeld += int64(ids.space.size())*32 + ids.denseBytes
	if ids.pairs != nil {
		a.pendHeld += ids.pairs.bytes()
	}
	if a.pendHeld <= pendingMax {
		return nil
	}
	if err := a.resolve(); err != nil {
		return err
	}
	return a.ids.charge(a.ids.space.flatten())
}

// flatten makes s a space of its values copied into one buffer, holding no
// dictionary it was built from. It returns the bytes newly held.
func (s *idSpace) flatten() int64 {
	vals := s.values()
	n := 0
	for _, v := range vals {
		n += len(v)
	}
	buf := make([]byte, 0, n)
	for _, v := range vals {
		buf = append(buf, v...)
	}
	out := make([]string, len(vals))
	off := 0
	for i, v := range vals {
		out[i] = unsafe.String(unsafe.SliceData(buf[off:]), len(v))
		off += len(v)
	}
	s.vals, s.owned, s.index, s.trans = out, true, nil, nil
	return int64(n) + int64(len(out))*16
}

// compactMin is the smallest space a partial's sets are compacted from.
const compactMin = 1024

// compacted returns a partial's sets ready to wait for the final merge: a
// itself, or, when its sets are sparse against a space of at least compactMin
// ids (a selective filter's few ids out of a row group's dictionary), the same
// sets over a space of just the values they hold, copied. A partial waits with
// every other until the end (mergeAll): holding each one's whole dictionary
// would hold the dictionaries of every row group the query read.
func (a *idSets) compacted() (*idSets, error) {
	if a.space == nil || sparseRatio == 0 || a.space.size() < compactMin || a.size()*sparseRatio >= int64(a.space.size()) {
		return a, nil
	}
	vals := a.space.values()
	c := &idSets{mem: a.mem, par: a.par, space: &idSpace{owned: true}}
	c.grow(a.n)
	next := map[uint32]uint32{} // a's id → c's
	err := a.forEach(func(g int32, id uint32) error {
		x, ok := next[id]
		if !ok {
			x = uint32(len(c.space.vals))
			next[id] = x
			v := strings.Clone(vals[id]) // not the dictionary's buffer
			c.space.vals = append(c.space.vals, v)
			if err := c.charge(int64(16 + len(v))); err != nil {
				return err
			}
		}
		return c.add(g, x)
	})
	return c, err
}

// sparseRatio: partials whose sets hold fewer than 1/sparseRatio of their
// dictionaries' ids are merged value by value (mergeByValue), not by dictionary
// merge; 0 turns the value-by-value merge off. (A variable for tests.)
var sparseRatio int64 = 16

// sparseSets reports whether the partials' sets are sparse against their spaces.
func sparseSets(parts []idPart) bool {
	var ids, space int64
	for _, p := range parts {
		space += int64(p.sets.space.size())
		ids += p.sets.size()
	}
	return sparseRatio > 0 && ids*sparseRatio < space
}

// mergeByValue ORs o's sets into a (whose space is owned), translating each id
// met through the value's id in a's space.
func (a *idSets) mergeByValue(o *idSets, m []int32) error {
	vals := o.space.values()
	return o.forEach(func(g int32, id uint32) error {
		x, held := a.space.id(vals[id])
		if err := a.charge(held); err != nil {
			return err
		}
		return a.add(m[g], x)
	})
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
	if o.pairs != nil || a.pairs != nil {
		return o.forEach(func(g int32, id uint32) error { return a.add(m[g], t[id]) })
	}
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
				if a.pairs == nil { // (an add may switch a to pairs)
					if b := a.sets[g].bits; int(id>>6) < len(b) {
						b[id>>6] |= 1 << (id & 63)
						continue
					}
				}
				if err := a.add(g, id); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// mergeDicts merges strictly sorted dictionaries into their sorted union (returned
// as vals only when keep) of n values and returns, per dictionary, the position in
// the union of each of its values. The value
// space is cut into up to par ranges at quantiles of the largest dictionary, merged
// in parallel.
func mergeDicts(dicts [][]string, par int, keep bool) (vals []string, n int, trans [][]uint32, err error) {
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
	trans = make([][]uint32, len(dicts))
	for k, d := range dicts {
		trans[k] = make([]uint32, len(d))
	}
	outs := make([][]string, nr)
	counts := make([]int, nr)
	if err := inParallel(nr, func(r int) {
		outs[r], counts[r] = mergeDictRange(dicts, trans, func(d []string) (int, int) { return idRange(d, r) }, keep)
	}); err != nil {
		return nil, 0, nil, err
	}
	if keep {
		vals = make([]string, 0, total)
	}
	for r := 0; r < nr; r++ {
		if off := uint32(n); off > 0 {
			for k, d := range dicts {
				lo, hi := idRange(d, r)
				t := trans[k][lo:hi]
				for i := range t {
					t[i] += off
				}
			}
		}
		if keep {
			vals = append(vals, outs[r]...)
		}
		n += counts[r]
	}
	return vals, n, trans, nil
}

// mergeDictRange k-way merges the id ranges of dicts, writing range-relative
// positions into trans, and returns the number of the range's distinct values and,
// when keep, the values in order.
func mergeDictRange(dicts [][]string, trans [][]uint32, idRange func([]string) (int, int), keep bool) ([]string, int) {
	runs := make([]mergeRun, len(dicts))
	n := 0
	for k, d := range dicts {
		lo, hi := idRange(d)
		runs[k] = mergeRun{d: d, lo: lo, hi: hi}
		n = max(n, hi-lo)
	}
	var out []string
	if keep {
		out = make([]string, 0, n)
	}
	count := 0
	mergeRuns(runs, func(r, id int, isNew bool) {
		if isNew {
			count++
			if keep {
				out = append(out, dicts[r][id])
			}
		}
		trans[r][id] = uint32(count - 1)
	})
	return out, count
}

// prefix8 is the first 8 bytes of s as a big-endian integer, zero-padded: prefixes
// order as the strings do, except that equal prefixes say nothing.
func prefix8(s string) uint64 {
	if len(s) >= 8 {
		return binary.BigEndian.Uint64([]byte(s[:8]))
	}
	var x uint64
	for i := 0; i < 8; i++ {
		x <<= 8
		if i < len(s) {
			x |= uint64(s[i])
		}
	}
	return x
}

// mergeRun is one sorted run for mergeRuns: ids lo..hi-1 of d, skipping ids whose
// skip entry is negative (skip nil: none skipped).
type mergeRun struct {
	d      []string
	lo, hi int
	skip   []int32
}

// mergeRuns visits every (run, id) of runs in value order; isNew reports the first
// visit of a value. Values compare by prefix8 first. Each step finds the smallest
// current prefix by a linear scan over the live runs and visits every run holding
// that value at once: with a handful of runs whose values mostly recur in several
// of them (users active on many days) that is a few integer compares per value,
// cheaper than a heap that sifts once per run.
func mergeRuns(runs []mergeRun, visit func(r, id int, isNew bool)) {
	type cur struct {
		r, id, hi int
		pre       uint64
		pres      []uint64 // prefix8 of d[lo+i] after the common prefix
		lo        int
		d         []string
	}
	next := func(c *cur) bool {
		run := &runs[c.r]
		for c.id++; c.id < c.hi; c.id++ {
			if run.skip == nil || run.skip[c.id] >= 0 {
				c.pre = c.pres[c.id-c.lo]
				return true
			}
		}
		return false
	}
	// Every value lies between the smallest first and the largest last value of the
	// runs, so all share their common prefix: prefixes are taken after it.
	var minV, maxV string
	some := false
	for _, run := range runs {
		if run.lo < run.hi {
			if !some || run.d[run.lo] < minV {
				minV = run.d[run.lo]
			}
			if !some || run.d[run.hi-1] > maxV {
				maxV = run.d[run.hi-1]
			}
			some = true
		}
	}
	lcp := 0
	for lcp < len(minV) && lcp < len(maxV) && minV[lcp] == maxV[lcp] {
		lcp++
	}
	short := lcp + 8 // values up to this long are equal when prefixes and lengths are
	act := make([]cur, 0, len(runs))
	for r, run := range runs {
		if run.lo >= run.hi {
			continue
		}
		c := cur{r: r, id: run.lo - 1, hi: run.hi, lo: run.lo, d: run.d, pres: make([]uint64, run.hi-run.lo)}
		for i, v := range run.d[run.lo:run.hi] {
			c.pres[i] = prefix8(v[lcp:])
		}
		if next(&c) {
			act = append(act, c)
		}
	}
	tie := make([]int, 0, len(runs))
	for len(act) > 0 {
		m := act[0].pre
		for i := 1; i < len(act); i++ {
			if act[i].pre < m {
				m = act[i].pre
			}
		}
		tie = tie[:0]
		for i := range act {
			if act[i].pre == m {
				tie = append(tie, i)
			}
		}
		dead := false
		if len(tie) == 1 {
			c := &act[tie[0]]
			visit(c.r, c.id, true)
			dead = !next(c)
		} else {
			// Equal prefixes and equal lengths up to short mean equal values:
			// no string data is read.
			best := act[tie[0]].d[act[tie[0]].id]
			for _, i := range tie[1:] {
				if s := act[i].d[act[i].id]; !(len(s) == len(best) && len(s) <= short) && s < best {
					best = s
				}
			}
			isNew := true
			for _, i := range tie {
				c := &act[i]
				if s := c.d[c.id]; !(len(s) == len(best) && len(s) <= short) && s != best {
					continue
				}
				visit(c.r, c.id, isNew)
				isNew = false
				if !next(c) {
					dead = true
				}
			}
		}
		if dead {
			j := 0
			for i := range act {
				if act[i].id < act[i].hi {
					act[j] = act[i]
					j++
				}
			}
			act = act[:j]
		}
	}
}
