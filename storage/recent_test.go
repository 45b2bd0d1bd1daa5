package storage

import (
	"fmt"
	"strings"
	"testing"
)

// TestRecentIDs checks that the cache answers only for the value an id was
// stored for: the same string, or an equal one at another address, never a
// different value that shares the slot, also after many values went through it.
func TestRecentIDs(t *testing.T) {
	var c RecentIDs
	vals := make([]string, 5000) // more than the slots: every slot is shared
	for i := range vals {
		vals[i] = fmt.Sprintf("v%04d", i) // one length: only the bytes tell them apart
	}
	for i, v := range vals {
		if id, ok := c.Lookup(v); ok {
			t.Fatalf("Lookup(%q) before Store = %d", v, id)
		}
		c.Store(v, uint32(i))
		if id, ok := c.Lookup(v); !ok || id != uint32(i) {
			t.Fatalf("Lookup(%q) after Store = %d, %v; want %d", v, id, ok, i)
		}
	}
	for i, v := range vals {
		id, ok := c.Lookup(v)
		if ok && id != uint32(i) {
			t.Fatalf("Lookup(%q) = %d, want %d or a miss", v, id, i)
		}
		// Another string with v's bytes: a hit must give v's id.
		if id, ok := c.Lookup(strings.Clone(v)); ok && id != uint32(i) {
			t.Fatalf("Lookup(copy of %q) = %d, want %d or a miss", v, id, i)
		}
	}
	c.Reset()
	for _, v := range vals {
		if _, ok := c.Lookup(v); ok {
			t.Fatalf("Lookup(%q) after Reset hit", v)
		}
	}
}

// TestRecentIDsBacksOff checks that a column whose values never repeat turns the
// cache off (Store then keeps nothing) and that it comes back on later.
func TestRecentIDsBacksOff(t *testing.T) {
	var c RecentIDs
	for i := range recentProbe {
		v := fmt.Sprint(i)
		c.Lookup(v)
		c.Store(v, uint32(i))
	}
	if c.off == 0 {
		t.Fatal("no back-off after a probe without hits")
	}
	c.Store("x", 1)
	if _, ok := c.Lookup("x"); ok {
		t.Fatal("Store kept a value while backing off")
	}
	for range recentBackoff {
		c.Lookup("y")
	}
	c.Store("x", 1)
	if id, ok := c.Lookup("x"); !ok || id != 1 {
		t.Fatalf("after the back-off Lookup(x) = %d, %v; want 1, true", id, ok)
	}
}
