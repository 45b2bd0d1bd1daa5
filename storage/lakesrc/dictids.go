package lakesrc

import (
	"hash/maphash"
	"math/bits"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/stratadb/strata/storage/lake"
)

// fromDictIDs takes a column chunk read as its values and indices
// (lake.DataFile.ReadDictIDs): the indices become the column's ids. The values
// keep their order, minus values no live row uses and second copies of a value
// (a PLAIN page's repeated values, or a dictionary listing a value twice, which
// the format allows), whose rows move to the first copy; each value is hashed
// once, into the table that finds duplicates and answers Lookup. No dictionary
// row's value is hashed or copied.
func (out *directCol) fromDictIDs(di *lake.DictIDs) {
	out.ids = di.IDs
	if len(di.Nulls) > 0 {
		out.nulls = roaring.BitmapOf(di.Nulls...)
	}
	vals := out.keepUsed(di.Values, di.Nulls)
	tab, kept, remap := newStrTable(vals)
	if remap != nil {
		for r, id := range out.ids {
			out.ids[r] = remap[id]
		}
	}
	out.dict = &directDict{vals: kept, tab: tab}
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

// newStrTable indexes the distinct values of vals, in one pass: kept are
// vals without second copies of a value (vals itself when there are none, then
// remap is nil), and remap maps every index of vals to its value's index in
// kept. The table indexes kept.
func newStrTable(vals []string) (t *strTable, kept []string, remap []uint32) {
	size := uint64(1) << bits.Len(uint(2*len(vals)|1))
	t = &strTable{slots: make([]uint32, size), mask: size - 1}
	kept = vals // while no value repeats, kept is vals[:k]
	for k, v := range vals {
		i := maphash.String(strSeed, v) & t.mask
		for {
			s := t.slots[i]
			if s == 0 {
				if remap == nil {
					t.slots[i] = uint32(k) + 1
				} else {
					remap[k] = uint32(len(kept))
					kept = append(kept, v)
					t.slots[i] = uint32(len(kept))
				}
				break
			}
			if kept[s-1] == v {
				if remap == nil {
					remap = make([]uint32, len(vals))
					for j := range k {
						remap[j] = uint32(j)
					}
					kept = append(make([]string, 0, len(vals)-1), vals[:k]...)
				}
				remap[k] = s - 1
				break
			}
			i = (i + 1) & t.mask
		}
	}
	if remap == nil {
		return t, vals, nil
	}
	return t, kept, remap
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
