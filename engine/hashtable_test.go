package engine

import (
	"strconv"
	"testing"
)

// TestStrTable fills a strTable past several growths and checks every string
// is found with its id, absent ones are not, and an idSpace built on it
// numbers values as a map would.
func TestStrTable(t *testing.T) {
	var vals []string
	tab := newStrTable(0)
	for i := range 5000 {
		s := "v" + strconv.Itoa(i*7)
		if _, _, ok := tab.find(vals, s); ok {
			t.Fatalf("%q found before it was put", s)
		}
		_, h, _ := tab.find(vals, s)
		vals = append(vals, s)
		tab.put(h, uint32(i))
	}
	if tab.n != len(vals) || 2*tab.n > len(tab.slots) {
		t.Fatalf("%d entries in %d slots", tab.n, len(tab.slots))
	}
	for i, s := range vals {
		if id, _, ok := tab.find(vals, s); !ok || id != uint32(i) {
			t.Fatalf("find(%q) = %d, %v; want %d", s, id, ok, i)
		}
	}
	for _, s := range []string{"", "v1", "v34999", "w0"} {
		if id, _, ok := tab.find(vals, s); ok {
			t.Fatalf("find(%q) = %d, want absent", s, id)
		}
	}

	sp := newIDSpace([]string{"b", "a", "c"})
	want := map[string]uint32{"b": 0, "a": 1, "c": 2}
	for _, v := range []string{"a", "x", "c", "y", "x", "b", "y", "z"} {
		id, _ := sp.id(v)
		w, ok := want[v]
		if !ok {
			w = uint32(len(want))
			want[v] = w
		}
		if id != w {
			t.Fatalf("id(%q) = %d, want %d", v, id, w)
		}
	}
	if got := sp.values(); len(got) != 6 || got[3] != "x" || got[5] != "z" {
		t.Fatalf("values %q", got)
	}
}
