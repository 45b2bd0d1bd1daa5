package engine

import (
	"fmt"
	"testing"
)

type unsortedDict struct{ memDict }

func (d *unsortedDict) Sorted() bool { return false }

// TestDictCache checks that a sorted dictionary is decoded once and shared, that
// unsorted ones are decoded afresh each time, and that the cache stays bounded.
func TestDictCache(t *testing.T) {
	d := &memDict{vals: []string{"a", "b", "c"}}
	v1, v2 := cachedDictValues(d), cachedDictValues(d)
	if fmt.Sprint(v1) != "[a b c]" || &v1[0] != &v2[0] {
		t.Fatalf("sorted dictionary not shared: %v %v", v1, v2)
	}
	u := &unsortedDict{memDict{vals: []string{"z", "y"}}}
	u1, u2 := cachedDictValues(u), cachedDictValues(u)
	if fmt.Sprint(u1) != "[z y]" || &u1[0] == &u2[0] {
		t.Fatalf("unsorted dictionary cached: %v %v", u1, u2)
	}
	big := make([]string, dictCacheMaxValues/4)
	for i := range big {
		big[i] = fmt.Sprintf("v%08d", i)
	}
	for k := 0; k < 6; k++ {
		vals := cachedDictValues(&memDict{vals: big})
		if len(vals) != len(big) || vals[12345] != big[12345] {
			t.Fatalf("round %d: wrong values", k)
		}
	}
	dictCache.Lock()
	held := dictCache.held
	dictCache.Unlock()
	if held > dictCacheMaxValues {
		t.Fatalf("cache holds %d values, bound %d", held, dictCacheMaxValues)
	}
}
