package engine

import "github.com/stratadb/strata/storage"

// dictValues returns the values of dictionary d by id, as scans hand them out next
// to vecs of ids. A sealed segment's dictionary keeps them for as long as the
// segment is open (storage.DictValues), so a query pays nothing for a dictionary of a
// million values; any other dictionary (a real-time head's, which grows) is decoded
// for this query, which also pins a consistent prefix of it.
func dictValues(d storage.Dict) []string {
	if dv, ok := d.(storage.DictValues); ok {
		return dv.Values()
	}
	vals := make([]string, d.Len())
	for i := range vals {
		vals[i] = d.Value(uint32(i))
	}
	return vals
}
