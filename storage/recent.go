package storage

import "unsafe"

// RecentIDs is a small direct-mapped cache from string values to dictionary ids,
// for the dictionary encoders of string columns (the real-time head's append, the
// segment writer). It is slotted by the address of a value's bytes, not by its
// content: the ingest decoders hand out one string (one allocation) for a value
// repeated in a column (their intern cache), so a repeated value of a
// low-cardinality column costs a multiply and a pointer compare here instead of
// hashing the string for a Go map lookup.
//
// Correctness does not depend on addresses: Lookup compares the whole value
// (string ==, which returns at once for the same pointer and length and otherwise
// compares the bytes), and an entry keeps its string alive, so its address cannot
// be reused for another value while it is cached. A value with another address
// just misses (and may evict an equal value stored under the other address).
//
// The zero value is empty and ready; it is not safe for concurrent use. A
// RecentIDs belongs to one dictionary: ids from another would be wrong.
type RecentIDs struct {
	slots [recentSlots]recentEntry
	// A column whose values are not shared (ids, free text: the decoder's intern
	// cache skips them) never hits: over recentProbe lookups with fewer than
	// 1/8 hits the cache turns itself off for the next recentBackoff.
	lookups, hits, off uint32
}

type recentEntry struct {
	s  string
	id uint32
	ok bool
}

// recentSlots: 256 slots cover every value of the columns where the cache pays
// (event types, countries, devices, categories: tens to a few hundred values)
// in 6 KiB.
const (
	recentSlots   = 256
	recentProbe   = 4096
	recentBackoff = 64 * 1024
)

func recentSlot(v string) uint32 {
	// Fibonacci hashing of the address; the low 4 bits are alignment.
	return uint32((uint64(uintptr(unsafe.Pointer(unsafe.StringData(v)))) >> 4 * 0x9E3779B97F4A7C15) >> 56)
}

// Lookup returns the id cached for v.
func (c *RecentIDs) Lookup(v string) (uint32, bool) {
	if c.off > 0 {
		c.off--
		return 0, false
	}
	c.lookups++
	if c.lookups == recentProbe {
		if c.hits < recentProbe/8 {
			c.off = recentBackoff
		}
		c.lookups, c.hits = 0, 0
	}
	e := &c.slots[recentSlot(v)]
	if e.ok && e.s == v {
		c.hits++
		return e.id, true
	}
	return 0, false
}

// Store caches v's id, replacing whatever shared its slot.
func (c *RecentIDs) Store(v string, id uint32) {
	if c.off > 0 {
		return
	}
	c.slots[recentSlot(v)] = recentEntry{s: v, id: id, ok: true}
}

// Reset empties the cache (dropping its references to the values).
func (c *RecentIDs) Reset() { *c = RecentIDs{} }
