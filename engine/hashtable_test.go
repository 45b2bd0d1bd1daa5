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

// TestGroupByTextKeyTable: GROUP BY a single text key by value (findText, the
// strTable over the group keys) gives each distinct value one group, over
// batches that repeat values, and the NULL key a group of its own.
func TestGroupByTextKeyTable(t *testing.T) {
	g := newGroupTable([]Type{Text}, false)
	want := map[string]int32{}
	for b := range 4 {
		n := 3000
		c := &vec{t: Text, s: make([]string, n), nulls: make([]bool, n)}
		for i := range n {
			if i%97 == 0 {
				c.nulls[i] = true
				continue
			}
			c.s[i] = "k" + strconv.Itoa((i*31+b*7)%1700)
		}
		gids := make([]int32, n)
		if err := g.find([]*vec{c}, n, gids); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			key := "NULL"
			if !c.nulls[i] {
				key = c.s[i]
			}
			if w, ok := want[key]; ok && w != gids[i] {
				t.Fatalf("batch %d row %d: %q in group %d, earlier in %d", b, i, key, gids[i], w)
			}
			want[key] = gids[i]
		}
	}
	if g.ngroups != len(want) || len(want) != 1701 {
		t.Fatalf("%d groups, %d distinct keys (want 1701)", g.ngroups, len(want))
	}
}
