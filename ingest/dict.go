package ingest

import (
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/segment"
)

// dictEncodeBatch gives each string column of b a sorted dictionary of its values
// and the rows' ids in it (storage.ColumnData.Dict, IDs), so that the segment
// writer neither hashes a string nor sorts a dictionary: that work is done here,
// column by column (one hash table hot in the cache at a time), by Decode's
// workers on every core (Options.Workers), and once per batch instead of once
// per segment (a batch spanning several time chunks becomes several segments).
func dictEncodeBatch(b *storage.Columns) {
	for i := range b.Cols {
		if b.Schema.Columns[i].Type != storage.TypeString {
			continue
		}
		c := &b.Cols[i]
		var nulls []bool
		if len(c.Null) == b.Len {
			nulls = c.Null
		} else if c.Null != nil {
			nulls = make([]bool, b.Len)
			copy(nulls, c.Null)
		}
		ids, arrival, _ := segment.DictEncode(c.String, nulls)
		order := segment.SortedOrder(arrival)
		dict := make([]string, len(arrival))
		rank := make([]uint32, len(arrival))
		for r, a := range order {
			dict[r] = arrival[a]
			rank[a] = uint32(r)
		}
		for k, id := range ids {
			if nulls == nil || !nulls[k] {
				ids[k] = rank[id]
			}
		}
		c.Dict, c.IDs = dict, ids
	}
}
