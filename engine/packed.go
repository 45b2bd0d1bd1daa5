package engine

import (
	"math/bits"
	"runtime"
	"unsafe"
)

// Group keys of several dictionary text columns are packed into one integer: column
// c contributes (id+1, or 0 for NULL) times the product of the radices (dictionary
// length + 1) of the columns before it. A partial aggregation (one source, so one
// dictionary per column) looks packed keys up in a flat array when the key space is
// small and in a u64Table otherwise; the final merge of partials over sorted
// dictionaries maps every partial's ids to ids of the merged dictionaries
// (mergeDicts) and packs those, so no key is ever hashed as a string.

// packedDenseMax bounds the key space looked up through a flat array. (A variable
// for tests.)
var packedDenseMax uint64 = 1 << 20

// mergeDenseMax bounds the merged key space looked up through a flat array. (A
// variable for tests.)
var mergeDenseMax uint64 = 1 << 22

type packedKeys struct {
	dicts [][]string
	mult  []uint64 // 1 << shift
	radix []uint64 // 1 << bits of the column's field
	shift []uint8
	dense []int32 // packed key → group, -1 none; nil: ht
	ht    *u64Table
	buf   []uint64
	// keys holds each group's packed key; the table's key vecs stay empty until
	// materialize (the merge of packed partials reads keys directly).
	keys []uint64
}

// packMults returns the multiplier of each column for radices, or false when the
// key space does not fit in 63 bits.
func packMults(radix []uint64) ([]uint64, uint64, bool) {
	mult := make([]uint64, len(radix))
	space := uint64(1)
	for c, r := range radix {
		mult[c] = space
		hi, lo := bits.Mul64(space, r)
		if hi != 0 || lo >= 1<<63 {
			return nil, 0, false
		}
		space = lo
	}
	return mult, space, true
}

// newPackedKeys packs cols' codes into bit fields (column c at mult[c] = 1<<shift,
// radix[c] a power of two): a partial's keys decode by shift and mask.
func newPackedKeys(cols []*vec) *packedKeys {
	p := &packedKeys{dicts: make([][]string, len(cols)), mult: make([]uint64, len(cols)),
		radix: make([]uint64, len(cols)), shift: make([]uint8, len(cols))}
	total := 0
	for c, v := range cols {
		p.dicts[c] = v.dict
		b := bits.Len(uint(len(v.dict))) // codes 0..len(dict)
		p.shift[c] = uint8(total)
		p.mult[c] = 1 << total
		p.radix[c] = 1 << b
		total += b
		if total > 63 {
			return nil
		}
	}
	if space := uint64(1) << total; space <= packedDenseMax {
		p.dense = make([]int32, space)
		for i := range p.dense {
			p.dense[i] = -1
		}
	} else {
		p.ht = newU64Table(1 << 12)
	}
	return p
}

// code returns column c's code (id+1, 0 for NULL) in packed key k.
func (p *packedKeys) code(k uint64, c int) uint64 { return (k >> p.shift[c]) & (p.radix[c] - 1) }

func (p *packedKeys) bytes() int64 {
	if p.ht != nil {
		return p.ht.bytes()
	}
	return int64(len(p.dense)) * 4
}

// fits reports whether cols are dictionary columns of p's dictionaries.
func (p *packedKeys) fits(cols []*vec) bool {
	for c, v := range cols {
		if !v.isDict || !sameDict(v.dict, p.dicts[c]) {
			return false
		}
	}
	return true
}

// allDict reports whether every column is dictionary text with a non-empty dictionary.
func allDict(cols []*vec) bool {
	for _, v := range cols {
		if !v.isDict || len(v.dict) == 0 {
			return false
		}
	}
	return true
}

// pack writes the packed key of rows 0..n-1 of cols to p.buf.
func (p *packedKeys) pack(cols []*vec, n int) []uint64 {
	p.buf = growUint64(p.buf, n)
	keys := p.buf[:n]
	clear(keys)
	for c, v := range cols {
		m := p.mult[c]
		ids := v.ids[:n]
		if v.nulls == nil {
			for i, id := range ids {
				keys[i] += (uint64(id) + 1) * m
			}
			continue
		}
		nulls := v.nulls[:n]
		for i, id := range ids {
			if !nulls[i] {
				keys[i] += (uint64(id) + 1) * m
			}
		}
	}
	return keys
}

func growUint64(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}

func (g *groupTable) findPacked(cols []*vec, n int, gids []int32) error {
	p := g.packed
	keys := p.pack(cols, n)
	if p.dense != nil {
		for i, k := range keys {
			gr := p.dense[k]
			if gr < 0 {
				var err error
				if gr, err = g.newPackedGroup(k); err != nil {
					return err
				}
				p.dense[k] = gr
			}
			gids[i] = gr
		}
		return nil
	}
	for i, k := range keys {
		gr := p.ht.get(k)
		if gr < 0 {
			var err error
			if gr, err = g.newPackedGroup(k); err != nil {
				return err
			}
			before := p.ht.bytes()
			if p.ht.put(k, gr) {
				if err := g.charge(p.ht.bytes() - before); err != nil {
					return err
				}
			}
		}
		gids[i] = gr
	}
	return nil
}

func (g *groupTable) newPackedGroup(k uint64) (int32, error) {
	id := int32(g.ngroups)
	g.ngroups++
	g.packed.keys = append(g.packed.keys, k)
	return id, g.charge(g.groupBytes())
}

// materialize fills the key vecs of a packed table from the packed keys.
func (g *groupTable) materialize() {
	p := g.packed
	if p == nil || g.keys[0].n == g.ngroups {
		return
	}
	ng := g.ngroups
	for c, kv := range g.keys {
		*kv = vec{t: kv.t, n: ng, isDict: true, dict: p.dicts[c], ids: make([]uint32, ng)}
		for gr, k := range p.keys {
			code := p.code(k, c)
			if code == 0 {
				if kv.nulls == nil {
					kv.nulls = make([]bool, ng)
				}
				kv.nulls[gr] = true
				continue
			}
			kv.ids[gr] = uint32(code - 1)
		}
	}
}

// startPacked switches an empty table to packed keys for cols, if they pack.
func (g *groupTable) startPacked(cols []*vec) (bool, error) {
	p := newPackedKeys(cols)
	if p == nil {
		return false, nil
	}
	g.packed = p
	return true, g.charge(p.bytes())
}

// unpack moves the groups of a packed table into the encoded-key map (a batch that
// does not pack arrived).
func (g *groupTable) unpack() error {
	g.materialize()
	p := g.packed
	g.packed = nil
	for c := range g.keys {
		g.dictOf[c] = p.dicts[c]
	}
	var buf []byte
	for gr := 0; gr < g.ngroups; gr++ {
		buf = buf[:0]
		for c, k := range g.keys {
			buf = appendKey(buf, k, gr, g.dictOf[c])
		}
		g.m[string(buf)] = int32(gr)
		if err := g.charge(int64(len(buf))); err != nil {
			return err
		}
	}
	return nil
}

// packedMergeable reports whether a partial grouped by packed keys of sorted
// dictionaries (merged by mergePacked).
func packedMergeable(a *aggCore) bool {
	p := a.table.packed
	if p == nil || len(a.table.m) > 0 {
		return false
	}
	for _, d := range p.dicts {
		if !strictlySorted(d) {
			return false
		}
	}
	return true
}

// mergePacked builds a's (empty) group table from partials grouped by packed keys
// of sorted dictionaries: per key column the partials' dictionaries are merged once,
// every partial group's key is repacked in the merged ids and looked up in one
// integer hash table. The key columns come out as dictionary vecs over the merged
// dictionaries. It reports false (doing nothing) when the merged key space does not
// fit in 63 bits.
func (a *aggCore) mergePacked(parts []*aggCore) (bool, error) {
	ncol := len(a.table.keys)
	vals := make([][]string, ncol)
	trans := make([][][]uint32, ncol) // column → part → partial id → merged id
	radix := make([]uint64, ncol)
	var held int64
	for c := 0; c < ncol; c++ {
		var dicts [][]string
		idx := make(map[*string]int)
		of := make([]int, len(parts))
		for pi, part := range parts {
			d := part.table.packed.dicts[c]
			k := unsafe.SliceData(d)
			j, ok := idx[k]
			if !ok {
				j = len(dicts)
				idx[k] = j
				dicts = append(dicts, d)
			}
			of[pi] = j
		}
		v, _, t, err := mergeDicts(dicts, runtime.GOMAXPROCS(0), true)
		if err != nil {
			return false, err
		}
		vals[c] = v
		radix[c] = uint64(len(v)) + 1
		trans[c] = make([][]uint32, len(parts))
		for pi := range parts {
			trans[c][pi] = t[of[pi]]
		}
		held += int64(len(v)) * 16
		for _, x := range t {
			held += int64(len(x)) * 4
		}
	}
	mult, space, ok := packMults(radix)
	if !ok {
		return false, nil
	}
	if err := a.table.charge(held); err != nil {
		return true, err
	}
	total := 0
	for _, part := range parts {
		total += part.table.ngroups
	}
	// A flat array when the merged key space is small: cache-friendlier than the
	// hash table for the key spaces of a few columns.
	var dense []int32
	var ht *u64Table
	if space <= mergeDenseMax {
		dense = make([]int32, space)
		for i := range dense {
			dense[i] = -1
		}
		if err := a.table.charge(int64(space) * 4); err != nil {
			return true, err
		}
	} else {
		ht = newU64Table(total / 2)
	}
	var packed []uint64 // packed key of each merged group
	mappings := make([][]int32, len(parts))
	for pi, part := range parts {
		pp := part.table.packed
		n := part.table.ngroups
		keys := make([]uint64, n)
		for c := 0; c < ncol; c++ {
			t, m := trans[c][pi], mult[c]
			sh, mask := pp.shift[c], pp.radix[c]-1
			for i, pk := range pp.keys {
				if code := (pk >> sh) & mask; code != 0 {
					keys[i] += (uint64(t[code-1]) + 1) * m
				}
			}
		}
		mapping := make([]int32, n)
		if dense != nil {
			for i, k := range keys {
				g := dense[k]
				if g < 0 {
					g = int32(len(packed))
					packed = append(packed, k)
					dense[k] = g
				}
				mapping[i] = g
			}
		} else {
			for i, k := range keys {
				g := ht.get(k)
				if g < 0 {
					g = int32(len(packed))
					packed = append(packed, k)
					ht.put(k, g)
				}
				mapping[i] = g
			}
		}
		mappings[pi] = mapping
	}
	ng := len(packed)
	for c, kv := range a.table.keys {
		*kv = vec{t: kv.t, n: ng, isDict: true, dict: vals[c], ids: make([]uint32, ng)}
		if len(vals[c]) == 0 {
			kv.dict = []string{""}
		}
		r := radix[c]
		for g, k := range packed {
			code := (k / mult[c]) % r
			if code == 0 {
				if kv.nulls == nil {
					kv.nulls = make([]bool, ng)
				}
				kv.nulls[g] = true
				continue
			}
			kv.ids[g] = uint32(code - 1)
		}
	}
	a.table.ngroups = ng
	htBytes := int64(0)
	if ht != nil {
		htBytes = ht.bytes()
	}
	if err := a.table.charge(int64(ng)*(a.table.groupBytes()+8) + htBytes); err != nil {
		return true, err
	}
	if err := a.growAccs(); err != nil {
		return true, err
	}
	for pi, part := range parts {
		for k := range a.accs {
			if err := a.accs[k].merge(part.accs[k], mappings[pi]); err != nil {
				return true, err
			}
		}
	}
	return true, nil
}
