package lakesrc

import (
	"hash/maphash"
	"math/bits"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/stratadb/strata/storage/lake"
)

// fromDictIDs takes a column chunk read as its Parquet dictionary and indices
// (lake.DataFile.ReadDictIDs): the indices become the column's ids as they
// are. The dictionary keeps its order, minus values no live row uses; each of
// its values is hashed once, into the table that answers Lookup and that
// proves no value is listed twice (a value listed twice, which the format
// allows, has its rows moved to its first copy). No row's value is hashed or
// copied.
func (out *directCol) fromDictIDs(di *lake.DictIDs) {
	out.ids = di.IDs
	if len(di.Nulls) > 0 {
		out.nulls = roaring.BitmapOf(di.Nulls...)
	}
	vals := out.keepUsed(di.Values, di.Nulls)
	tab, dups := newStrTable(vals)
	if dups != nil {
		for r, id := range out.ids {
			out.ids[r] = dups[id]
		}
		vals = out.keepUsed(vals, di.Nulls)
		tab, _ = newStrTable(vals)
	}
	out.dict = &directDict{vals: vals, tab: tab}
}

// keepUsed returns vals without the values no non-NULL row's id names,
// renumbering out.ids (a NULL row's id becomes 0). nulls: ascending NULL rows.
func (out *directCol) keepUsed(vals []string, nulls []uint32) []string {
	used := make([]bool, len(vals))
	if len(nulls) == 0 {
		for _, id := range out.ids {
			used[id] = true
		}
	} else {
		ni := 0
		for r, id := range out.ids {
			if ni < len(nulls) && nulls[ni] == uint32(r) {
				ni++
				continue
			}
			used[id] = true
		}
	}
	unused := 0
	for _, u := range used {
		if !u {
			unused++
		}
	}
	if unused == 0 {
		return vals
	}
	remap := make([]uint32, len(vals))
	kept := make([]string, 0, len(vals)-unused)
	for k, u := range used {
		if u {
			remap[k] = uint32(len(kept))
			kept = append(kept, vals[k])
		}
	}
	for r, id := range out.ids {
		if used[id] {
			out.ids[r] = remap[id]
		} else {
			out.ids[r] = 0 // a NULL row
		}
	}
	return kept
}

var strSeed = maphash.MakeSeed()

// strTable finds a string's index in a list of strings: open addressing
// with linear probing over slots holding index+1 (0: empty), at most half
// full. Immutable once built.
type strTable struct {
	slots []uint32
	mask  uint64
}

// newStrTable indexes vals. When a value is listed more than once, dups maps
// every index to the first index of its value (else dups is nil); the table
// holds first copies only.
func newStrTable(vals []string) (t *strTable, dups []uint32) {
	size := uint64(1) << bits.Len(uint(2*len(vals)|1))
	t = &strTable{slots: make([]uint32, size), mask: size - 1}
	for k, v := range vals {
		i := maphash.String(strSeed, v) & t.mask
		for {
			s := t.slots[i]
			if s == 0 {
				t.slots[i] = uint32(k) + 1
				break
			}
			if vals[s-1] == v {
				if dups == nil {
					dups = make([]uint32, len(vals))
					for j := range dups {
						dups[j] = uint32(j)
					}
				}
				dups[k] = s - 1
				break
			}
			i = (i + 1) & t.mask
		}
	}
	return t, dups
}

// find returns the index of s in vals, the list t was built from.
func (t *strTable) find(vals []string, s string) (uint32, bool) {
	i := maphash.String(strSeed, s) & t.mask
	for {
		k := t.slots[i]
		if k == 0 {
			return 0, false
		}
		if vals[k-1] == s {
			return k - 1, true
		}
		i = (i + 1) & t.mask
	}
}
