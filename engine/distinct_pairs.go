package engine

import (
	"math/bits"
	"sync/atomic"
)

// pairSet is the state of a DISTINCT aggregate over many groups that hold few ids
// each (count(DISTINCT session_id) GROUP BY user_id): one open-addressing hash set
// of (group, id) pairs packed as group<<32 | id, instead of a bitset or a roaring
// bitmap per group. A pair costs one probe of one table (linear probing, at most
// half full), where a roaring bitmap per group costs a container search and an
// array insert, and a bitset per group costs a word per 64 ids of the whole
// dictionary. A group's count is the number of its pairs.
//
// The set is cut by ranges of groups into partitions, each its own table: a
// partial aggregation keeps one; the final merge of the partials (mergeParallel)
// keeps several, filled and counted in parallel, one worker per partition at a
// time, since no group's pairs are in two partitions.
type pairSet struct {
	parts  []pairTable
	gshift uint   // the pairs of group g are in parts[(g>>gshift)&pmask]
	pmask  uint64 // len(parts)-1 (a power of two)
}

// pairTable is one partition of a pairSet.
type pairTable struct {
	slots []uint64 // pair+1; 0: free (so a new table needs no initializing)
	n     int      // pairs held
	shift uint     // 64 - log2(len(slots))
}

// packPair packs (g, id) into the key a slot holds: g<<32 | id, plus one. Groups
// are int32 >= 0, so the key neither overflows nor is 0.
func packPair(g int32, id uint32) uint64 { return (uint64(uint32(g))<<32 | uint64(id)) + 1 }

func newPairTable(hint int) pairTable {
	size := 1 << max(10, bits.Len(uint(2*hint)))
	return pairTable{slots: make([]uint64, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
}

// newPairSet is a pairSet of one partition with room for hint pairs.
func newPairSet(hint int) *pairSet {
	return &pairSet{parts: []pairTable{newPairTable(hint)}, gshift: 63}
}

// newPartedPairSet is a pairSet of nparts (a power of two) partitions of empty
// tables for groups 0..groups-1, each partition a range of consecutive groups.
func newPartedPairSet(nparts, groups int) *pairSet {
	p := &pairSet{parts: make([]pairTable, nparts), pmask: uint64(nparts - 1)}
	// The smallest shift that maps the largest group to the last partition at most.
	p.gshift = uint(max(0, bits.Len(uint(max(groups-1, 0)))-bits.TrailingZeros(uint(nparts))))
	for i := range p.parts {
		p.parts[i] = newPairTable(0)
	}
	return p
}

// part is the partition of key k.
func (p *pairSet) part(k uint64) int { return int((((k - 1) >> 32) >> p.gshift) & p.pmask) }

// len is the number of pairs held.
func (p *pairSet) len() int {
	n := 0
	for i := range p.parts {
		n += p.parts[i].n
	}
	return n
}

// bytes is the memory the set holds.
func (p *pairSet) bytes() int64 {
	var n int64
	for i := range p.parts {
		n += p.parts[i].bytes()
	}
	return n
}

func (t *pairTable) bytes() int64 { return int64(len(t.slots)) * 8 }

// insert adds k and reports the bytes newly held (when a table grew).
func (p *pairSet) insert(k uint64) int64 {
	return p.parts[p.part(k)].insert(k)
}

// insert adds k and reports the bytes newly held (when the table grew).
func (t *pairTable) insert(k uint64) int64 {
	mask := uint64(len(t.slots) - 1)
	for h := (k * 0x9E3779B97F4A7C15) >> t.shift; ; h = (h + 1) & mask {
		switch t.slots[h] {
		case k:
			return 0
		case 0:
			t.slots[h] = k
			t.n++
			if 2*t.n > len(t.slots) {
				return t.rehash()
			}
			return 0
		}
	}
}

// rehash doubles the table and returns the bytes added.
func (t *pairTable) rehash() int64 {
	old := t.slots
	q := newPairTable(len(old))
	for _, k := range old {
		if k != 0 {
			q.insert(k)
		}
	}
	*t = q
	return t.bytes() - int64(len(old))*8
}

// each calls f with every pair, in no particular order.
func (p *pairSet) each(f func(g int32, id uint32) error) error {
	for i := range p.parts {
		for _, k := range p.parts[i].slots {
			if k != 0 {
				k--
				if err := f(int32(k>>32), uint32(k)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// counts adds the number of pairs of each group g to c[g], one worker per
// partition (of at most par at once).
func (p *pairSet) counts(c []int64, par int) {
	count := func(t *pairTable) {
		for _, k := range t.slots {
			if k != 0 {
				c[(k-1)>>32]++
			}
		}
	}
	if len(p.parts) == 1 || par <= 1 {
		for i := range p.parts {
			count(&p.parts[i])
		}
		return
	}
	// Partitions hold disjoint groups: no two workers write one c[g].
	var next atomic.Int64
	err := inParallel(min(par, len(p.parts)), func(int) {
		for i := int(next.Add(1) - 1); i < len(p.parts); i = int(next.Add(1) - 1) {
			count(&p.parts[i])
		}
	})
	if err != nil {
		panic(err) // (a worker's panic, recovered by inParallel)
	}
}

// Chunks of the partials' work in mergeParallel: slots of a pair table, groups of
// a partial still in bitsets.
const (
	pairChunk = 1 << 15
	setChunk  = 64
)

// pairPartitions is the number of partitions of the final pairs merged by par
// workers: several per worker, so that partitions of uneven sizes even out.
func pairPartitions(par int) int { return 1 << bits.Len(uint(4*par-1)) }

// mergeParallel merges the partials over sorted dictionaries (which[i] >= 0: their
// ids become trans[which[i]][id], their groups m) into a's pairs, partitioned by
// newPartedPairSet, in two parallel passes: workers translate the partials' pairs
// a chunk at a time into final pairs, which they scatter by partition; then each
// partition's table, sized once for what it got, takes the pairs every worker
// scattered to it, one worker per partition. The pairs are the same as those of
// merging the partials one by one; only their order in the tables differs.
func (a *idSets) mergeParallel(parts []idPart, which []int, trans [][]uint32) error {
	type chunk struct {
		part, tab int // tab: the partial's pair table, -1 for a partial in bitsets
		lo, hi    int // slots of the table, or groups of the partial
	}
	var chunks []chunk
	var total int64
	for i, p := range parts {
		if which[i] < 0 {
			continue
		}
		o := p.sets
		total += o.size()
		if o.pairs != nil {
			for t := range o.pairs.parts {
				n := len(o.pairs.parts[t].slots)
				for lo := 0; lo < n; lo += pairChunk {
					chunks = append(chunks, chunk{i, t, lo, min(lo+pairChunk, n)})
				}
			}
			continue
		}
		for lo := 0; lo < len(o.sets); lo += setChunk {
			chunks = append(chunks, chunk{i, -1, lo, min(lo+setChunk, len(o.sets))})
		}
	}
	// The scattered pairs are held while the tables fill: charged, then given back.
	scattered := total * 8
	if a.mem != nil {
		if err := a.mem.grow(scattered); err != nil {
			return err
		}
		defer a.mem.shrink(scattered)
	}
	ps, np, workers := a.pairs, len(a.pairs.parts), max(a.par, 1)
	out := make([][][]uint64, workers)
	hint := int(total/int64(workers*np)) + int(total/int64(workers*np*8)) + 16
	var next atomic.Int64
	err := inParallel(workers, func(w int) {
		bufs := make([][]uint64, np)
		for j := range bufs {
			bufs[j] = make([]uint64, 0, hint)
		}
		for c := int(next.Add(1) - 1); c < len(chunks); c = int(next.Add(1) - 1) {
			ch := chunks[c]
			p, t := parts[ch.part], trans[which[ch.part]]
			m := p.m
			if ch.tab >= 0 {
				for _, k := range p.sets.pairs.parts[ch.tab].slots[ch.lo:ch.hi] {
					if k == 0 {
						continue
					}
					k--
					x := packPair(m[k>>32], t[uint32(k)])
					j := ps.part(x)
					bufs[j] = append(bufs[j], x)
				}
				continue
			}
			for g := ch.lo; g < ch.hi; g++ {
				fg := m[g]
				p.sets.sets[g].each(func(id uint32) {
					x := packPair(fg, t[id])
					j := ps.part(x)
					bufs[j] = append(bufs[j], x)
				})
			}
		}
		out[w] = bufs
	})
	if err != nil {
		return err
	}
	next.Store(0)
	grown := make([]int64, np)
	err = inParallel(min(workers, np), func(int) {
		for j := int(next.Add(1) - 1); j < np; j = int(next.Add(1) - 1) {
			tab := &ps.parts[j]
			before, n := tab.bytes(), tab.n
			for w := range out {
				n += len(out[w][j])
			}
			if 2*n > len(tab.slots) { // sized once: no rehash while filling
				q := newPairTable(n)
				for _, k := range tab.slots {
					if k != 0 {
						q.insert(k)
					}
				}
				*tab = q
			}
			for w := range out {
				for _, k := range out[w][j] {
					tab.insert(k)
				}
				out[w][j] = nil
			}
			grown[j] = tab.bytes() - before
		}
	})
	if err != nil {
		return err
	}
	var held int64
	for _, g := range grown {
		held += g
	}
	return a.charge(held)
}
