package lakesrc

import (
	"fmt"
	"testing"

	"github.com/stratadb/strata/storage/lake"
)

// TestFromDictIDsRepeatedAndUnused: a Parquet dictionary may list a value
// twice and hold values no row uses. The column keeps one id per distinct
// used value, every row keeps its value, Lookup finds each used value and
// nothing else, and a NULL row stays NULL.
func TestFromDictIDsRepeatedAndUnused(t *testing.T) {
	vals := []string{"a", "b", "a", "c", "d", "b"}
	rowVals := []int{0, 2, 1, 5, 2, -1, 4, 0} // index into vals; -1: NULL
	di := &lake.DictIDs{Values: vals}
	for r, k := range rowVals {
		if k < 0 {
			di.IDs = append(di.IDs, 0)
			di.Nulls = append(di.Nulls, uint32(r))
			continue
		}
		di.IDs = append(di.IDs, uint32(k))
	}
	var c directCol
	c.fromDictIDs(di)
	seen := map[string]bool{}
	for id := 0; id < c.dict.Len(); id++ {
		v := c.dict.Value(uint32(id))
		if seen[v] {
			t.Fatalf("value %q has two ids: %v", v, c.dict.Values())
		}
		seen[v] = true
		if got, ok := c.dict.Lookup(v); !ok || got != uint32(id) {
			t.Fatalf("Lookup(%q) = %d, %v; want %d", v, got, ok, id)
		}
	}
	if fmt.Sprint(c.dict.Len()) != "3" { // a, b, d: c is unused
		t.Fatalf("dictionary %v, want the 3 used values", c.dict.Values())
	}
	for _, v := range []string{"c", "e", ""} {
		if _, ok := c.dict.Lookup(v); ok {
			t.Fatalf("Lookup(%q) found an unused value", v)
		}
	}
	for r, k := range rowVals {
		if k < 0 {
			if !c.nulls.Contains(uint32(r)) {
				t.Fatalf("row %d should be NULL", r)
			}
			continue
		}
		if got := c.dict.Value(c.ids[r]); got != vals[k] {
			t.Fatalf("row %d: %q, want %q", r, got, vals[k])
		}
	}
	var wantA []uint32
	for r, k := range rowVals {
		if k >= 0 && vals[k] == "a" {
			wantA = append(wantA, uint32(r))
		}
	}
	id, _ := c.dict.Lookup("a")
	if got := c.rowsWithIDs([]uint32{id}).ToArray(); fmt.Sprint(got) != fmt.Sprint(wantA) {
		t.Fatalf("rows of a: %v, want %v", got, wantA)
	}
}
