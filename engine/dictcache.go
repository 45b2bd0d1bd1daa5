package engine

import (
	"reflect"
	"sync"

	"github.com/stratadb/strata/storage"
)

// Decoded dictionaries shared across queries.
//
// A scan that reads dictionary text hands out vecs of ids plus the dictionary's
// values as a []string; decoding a 100k-value dictionary per source per query costs
// more than many queries' whole scan. Sorted dictionaries (sealed segments, which
// never change while open) are therefore decoded once and kept in a small FIFO
// cache keyed by the Dict itself, bounded by the total number of values held.
// Unsorted ones (a real-time head, which grows) are never cached.

// dictCacheMaxValues bounds the values held by the cache (16 bytes of string
// header each; the bytes themselves belong to the dictionaries).
const dictCacheMaxValues = 2 << 20

var dictCache struct {
	sync.Mutex
	m     map[storage.Dict][]string
	order []storage.Dict
	held  int
}

// cachedDictValues returns the values of d by id, decoded once per dictionary.
func cachedDictValues(d storage.Dict) []string {
	if dv, ok := d.(storage.DictValues); ok && fastPaths {
		return dv.Values() // kept by the source itself for as long as it is open
	}
	n := d.Len()
	cacheable := fastPaths && n > 0 && n <= dictCacheMaxValues/4 && d.Sorted() &&
		reflect.TypeOf(d).Kind() == reflect.Pointer // comparable, stable identity
	if cacheable {
		dictCache.Lock()
		vals, ok := dictCache.m[d]
		dictCache.Unlock()
		if ok && len(vals) == n {
			return vals
		}
	}
	vals := make([]string, n)
	for i := range vals {
		vals[i] = d.Value(uint32(i))
	}
	if !cacheable {
		return vals
	}
	dictCache.Lock()
	defer dictCache.Unlock()
	if prev, ok := dictCache.m[d]; ok && len(prev) == n {
		return prev // decoded concurrently by another query
	}
	if dictCache.m == nil {
		dictCache.m = make(map[storage.Dict][]string)
	}
	for dictCache.held+n > dictCacheMaxValues && len(dictCache.order) > 0 {
		old := dictCache.order[0]
		dictCache.order = dictCache.order[1:]
		dictCache.held -= len(dictCache.m[old])
		delete(dictCache.m, old)
	}
	dictCache.m[d] = vals
	dictCache.order = append(dictCache.order, d)
	dictCache.held += n
	return vals
}
