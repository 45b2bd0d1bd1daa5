package engine

import "math/bits"

// pairSet is the state of a DISTINCT aggregate over many groups that hold few ids
// each (count(DISTINCT session_id) GROUP BY user_id): one open-addressing hash set
// of (group, id) pairs packed as group<<32 | id, instead of a bitset or a roaring
// bitmap per group. A pair costs one probe of one table (linear probing, at most
// half full), where a roaring bitmap per group costs a container search and an
// array insert, and a bitset per group costs a word per 64 ids of the whole
// dictionary. A group's count is the number of its pairs.
type pairSet struct {
	slots []uint64 // pair+1; 0: free (so a new table needs no initializing)
	n     int      // pairs held
	shift uint     // 64 - log2(len(slots))
}

// packPair packs (g, id) into the key a slot holds: g<<32 | id, plus one. Groups
// are int32 >= 0, so the key neither overflows nor is 0.
func packPair(g int32, id uint32) uint64 { return (uint64(uint32(g))<<32 | uint64(id)) + 1 }

func newPairSet(hint int) *pairSet {
	size := 1 << max(10, bits.Len(uint(2*hint)))
	return &pairSet{slots: make([]uint64, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
}

// bytes is the memory the set holds.
func (p *pairSet) bytes() int64 { return int64(len(p.slots)) * 8 }

// insert adds k and reports the bytes newly held (when the table grew).
func (p *pairSet) insert(k uint64) int64 {
	mask := uint64(len(p.slots) - 1)
	for h := (k * 0x9E3779B97F4A7C15) >> p.shift; ; h = (h + 1) & mask {
		switch p.slots[h] {
		case k:
			return 0
		case 0:
			p.slots[h] = k
			p.n++
			if 2*p.n > len(p.slots) {
				return p.rehash()
			}
			return 0
		}
	}
}

// rehash doubles the table and returns the bytes added.
func (p *pairSet) rehash() int64 {
	old := p.slots
	q := newPairSet(len(old))
	for _, k := range old {
		if k != 0 {
			q.insert(k)
		}
	}
	*p = *q
	return p.bytes() - int64(len(old))*8
}

// each calls f with every pair, in no particular order.
func (p *pairSet) each(f func(g int32, id uint32) error) error {
	for _, k := range p.slots {
		if k != 0 {
			k--
			if err := f(int32(k>>32), uint32(k)); err != nil {
				return err
			}
		}
	}
	return nil
}

// counts adds the number of pairs of each group g to c[g].
func (p *pairSet) counts(c []int64) {
	for _, k := range p.slots {
		if k != 0 {
			c[(k-1)>>32]++
		}
	}
}
