package rowcheck

import (
	"maps"
	"slices"
	"testing"
)

// TestDropAndRepeatOfOneUser is the mutant the per-user counts cannot see: one
// event lost and another of the same user delivered twice. Totals and per-user
// counts match; Check names both ids.
func TestDropAndRepeatOfOneUser(t *testing.T) {
	var l Ledger
	users := []string{"a", "b", "a", "c", "a", "b"}
	for id, u := range users {
		l.Add(int64(id), u)
	}
	var exact []Row
	for id, u := range users {
		exact = append(exact, Row{ID: int64(id), User: u})
	}
	if r := Check(&l, exact); !r.OK() {
		t.Fatalf("exact rows: %s", r)
	}
	// Drop id 2 (user a), repeat id 4 (user a).
	mutant := slices.Clone(exact)
	mutant[2] = mutant[4]
	perUser := map[string]int{}
	for _, r := range mutant {
		perUser[r.User]++
	}
	if len(mutant) != l.Len() || !maps.Equal(perUser, l.PerUser()) {
		t.Fatalf("the mutant should fool totals and per-user counts: %v vs %v", perUser, l.PerUser())
	}
	r := Check(&l, mutant)
	if r.OK() || !slices.Equal(r.Missing, []int64{2}) || !slices.Equal(r.Repeated, []int64{4}) {
		t.Fatalf("Check(mutant) = %s, want id 2 missing and id 4 repeated", r)
	}
	t.Logf("mutant: %s", r)

	moved := slices.Clone(exact)
	moved[1].User = "c"
	moved = append(moved, Row{ID: 99, User: "a"}, Row{Null: true})
	r = Check(&l, moved)
	if !slices.Equal(r.WrongUser, []int64{1}) || !slices.Equal(r.Unknown, []int64{99}) || r.NullIDs != 1 {
		t.Fatalf("Check(moved) = %s", r)
	}
}
