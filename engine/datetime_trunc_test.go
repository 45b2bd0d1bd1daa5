package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDateTruncConstUnit checks date_trunc with one fixed-length unit for every row
// (truncStep, which keeps the last bucket) against truncTime row by row, over
// sorted and unsorted timestamps before and after the epoch, with NULLs and
// ±infinity, and that a unit vec whose rows differ takes the per-row path.
func TestDateTruncConstUnit(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	const n = 3000
	x := &vec{t: TimestampTZ, n: n, i: make([]int64, n), nulls: make([]bool, n)}
	for i := range x.i {
		x.i[i] = r.Int64N(40*usPerDay) - 20*usPerDay
	}
	for _, sorted := range []bool{true, false} {
		if sorted {
			slices.Sort(x.i)
		}
		x.i[7], x.i[8], x.i[n-1] = math.MaxInt64, math.MinInt64, math.MaxInt64
		for i := range x.nulls {
			x.nulls[i] = i%13 == 5
		}
		for _, unit := range []string{"microseconds", "milliseconds", "second", "minute", "hour", "day", "HOUR", "week", "month"} {
			units := constVec(Value{Type: Text, S: unit}, n)
			got, err := dateTrunc(units, x, TimestampTZ)
			if err != nil {
				t.Fatal(err)
			}
			u := parseUnit(unit)
			for i := range x.i {
				if got.isNull(i) != x.nulls[i] {
					t.Fatalf("%s row %d: null %v, want %v", unit, i, got.isNull(i), x.nulls[i])
				}
				if x.nulls[i] {
					continue
				}
				want, _ := truncTime(x.i[i], u)
				if got.i[i] != want {
					t.Fatalf("%s (sorted %v) row %d: date_trunc(%d) = %d, want %d", unit, sorted, i, x.i[i], got.i[i], want)
				}
			}
		}
	}
	mixed := constVec(Value{Type: Text, S: "hour"}, n)
	mixed.s[n/2] = "minute"
	if constStep(mixed, x) != 0 {
		t.Fatal("constStep over rows with two units")
	}
}
