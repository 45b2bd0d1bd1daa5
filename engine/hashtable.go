package engine

import (
	"hash/maphash"
	"math/bits"
)

// u64Table is an open-addressing (linear probing) hash table from uint64 keys to
// group ids, kept at most half full. Slots are two flat arrays: no per-entry
// allocation and no pointers for the garbage collector to scan.
type u64Table struct {
	keys  []uint64
	gids  []int32 // group + 1; 0 marks an empty slot
	shift uint8   // 64 - log2(len(keys))
	n     int
}

func newU64Table(capacity int) *u64Table {
	t := &u64Table{}
	t.alloc(max(16, capacity))
	return t
}

func (t *u64Table) alloc(capacity int) {
	size := 1 << bits.Len(uint(capacity*2-1)) // a power of two ≥ 2*capacity
	t.keys = make([]uint64, size)
	t.gids = make([]int32, size)
	t.shift = uint8(64 - bits.TrailingZeros(uint(size)))
}

// bytes is the memory the table holds.
func (t *u64Table) bytes() int64 { return int64(len(t.keys)) * 12 }

func (t *u64Table) slot(k uint64) int {
	return int((k * 0x9e3779b97f4a7c15) >> t.shift)
}

// get returns the group of k, or -1.
func (t *u64Table) get(k uint64) int32 {
	mask := len(t.keys) - 1
	for i := t.slot(k); ; i = (i + 1) & mask {
		g := t.gids[i]
		if g == 0 {
			return -1
		}
		if t.keys[i] == k {
			return g - 1
		}
	}
}

// put adds k → g; k must be absent. It reports whether the table grew.
func (t *u64Table) put(k uint64, g int32) bool {
	grew := false
	if 2*(t.n+1) > len(t.keys) {
		keys, gids := t.keys, t.gids
		t.alloc(len(keys))
		for i, og := range gids {
			if og != 0 {
				t.insert(keys[i], og)
			}
		}
		grew = true
	}
	t.insert(k, g+1)
	t.n++
	return grew
}

func (t *u64Table) insert(k uint64, g1 int32) {
	mask := len(t.keys) - 1
	i := t.slot(k)
	for t.gids[i] != 0 {
		i = (i + 1) & mask
	}
	t.keys[i], t.gids[i] = k, g1
}

// fixedTable is an open-addressing (linear probing) hash table from fixedKey (two
// fixed-width key words and their NULL bits) to group ids, kept at most half full,
// in one flat array of slots without pointers: a probe reads one 24-byte slot, where
// a Go map of fixedKey hashes the padded struct through the runtime's generic hash.
type fixedTable struct {
	slots []fixedSlot
	shift uint8 // 64 - log2(len(slots))
	n     int
}

type fixedSlot struct {
	a, b uint64
	g    int32 // group + 1; 0 marks an empty slot
	null uint8
}

func newFixedTable(capacity int) *fixedTable {
	t := &fixedTable{}
	t.alloc(max(16, capacity))
	return t
}

func (t *fixedTable) alloc(capacity int) {
	size := 1 << bits.Len(uint(capacity*2-1)) // a power of two ≥ 2*capacity
	t.slots = make([]fixedSlot, size)
	t.shift = uint8(64 - bits.TrailingZeros(uint(size)))
}

// bytes is the memory the table holds.
func (t *fixedTable) bytes() int64 { return int64(len(t.slots)) * 24 }

func (t *fixedTable) slot(k fixedKey) int {
	h := (bits.RotateLeft64(k.a*0x9e3779b97f4a7c15, 31) ^ k.b ^ uint64(k.null)<<62) * 0xbf58476d1ce4e5b9
	return int(h >> t.shift)
}

// get returns the group of k, or -1.
func (t *fixedTable) get(k fixedKey) int32 {
	mask := len(t.slots) - 1
	for i := t.slot(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.g == 0 {
			return -1
		}
		if s.a == k.a && s.b == k.b && s.null == k.null {
			return s.g - 1
		}
	}
}

// put adds k → g; k must be absent. It reports whether the table grew.
func (t *fixedTable) put(k fixedKey, g int32) bool {
	grew := false
	if 2*(t.n+1) > len(t.slots) {
		old := t.slots
		t.alloc(len(old))
		for _, s := range old {
			if s.g != 0 {
				t.insert(fixedKey{a: s.a, b: s.b, null: s.null}, s.g)
			}
		}
		grew = true
	}
	t.insert(k, g+1)
	t.n++
	return grew
}

func (t *fixedTable) insert(k fixedKey, g1 int32) {
	mask := len(t.slots) - 1
	i := t.slot(k)
	for t.slots[i].g != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = fixedSlot{a: k.a, b: k.b, g: g1, null: k.null}
}

// strTable is an open-addressing (linear probing) hash table from strings to
// ids, kept at most half full, whose strings live elsewhere (vals[id], a slice
// the caller passes to each call). A slot is one uint64: the low 32 bits of the
// string's hash (its position and a tag compared before the string) above id+1
// (0 marks an empty slot). No pointers for the garbage collector to scan, no
// per-entry allocation, and growing rehashes from the tags without reading a
// string: where a Go map[string]uint32 of a few hundred thousand values spent
// most of its time in probing and growth.
type strTable struct {
	slots []uint64
	n     int
}

var strTableSeed = maphash.MakeSeed()

func newStrTable(capacity int) *strTable {
	t := &strTable{}
	t.alloc(max(16, capacity))
	return t
}

func (t *strTable) alloc(capacity int) {
	t.slots = make([]uint64, 1<<bits.Len(uint(capacity*2-1))) // a power of two ≥ 2*capacity
}

// bytes is the memory the table holds.
func (t *strTable) bytes() int64 { return int64(len(t.slots)) * 8 }

func strHash(s string) uint32 { return uint32(maphash.String(strTableSeed, s)) }

// find returns the id of s among vals (the strings the table was filled
// from), and s's hash for a following put.
func (t *strTable) find(vals []string, s string) (id uint32, h uint32, ok bool) {
	h = strHash(s)
	id, ok = t.findHashed(vals, s, h)
	return id, h, ok
}

// findHashed is find of s whose hash h was computed before (strHash).
func (t *strTable) findHashed(vals []string, s string, h uint32) (id uint32, ok bool) {
	mask := uint32(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		x := t.slots[i]
		if x == 0 {
			return 0, false
		}
		if uint32(x>>32) == h && vals[uint32(x)-1] == s {
			return uint32(x) - 1, true
		}
	}
}

// put adds id, whose string has hash h (of find or strHash) and is absent.
// It returns the bytes the table grew by.
func (t *strTable) put(h, id uint32) int64 {
	var grown int64
	if 2*(t.n+1) > len(t.slots) {
		old := t.slots
		t.alloc(len(old))
		for _, x := range old {
			if x != 0 {
				t.insert(x)
			}
		}
		grown = t.bytes() - int64(len(old))*8
	}
	t.insert(uint64(h)<<32 | uint64(id+1))
	t.n++
	return grown
}

func (t *strTable) insert(x uint64) {
	mask := uint32(len(t.slots) - 1)
	i := uint32(x>>32) & mask
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = x
}
