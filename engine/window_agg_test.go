package engine

import (
	"math/rand/v2"
	"testing"
)

// TestSlidingWindowAndSegTree checks both frame aggregators against a loop over
// the frame's rows, for min (an operation without inverse) over random
// forward-moving frames, including empty frames and frames that start past their end.
func TestSlidingWindowAndSegTree(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n          int
		maxLen     int // frame length up to this
		skipAhead  int // frame start may jump this far ahead of the previous end
		emptyEvery int // every k-th frame is made empty (lo >= hi); 0: never
	}{
		{"one row", 1, 1, 0, 0},
		{"short frames", 50, 3, 1, 0},
		{"long frames", 500, 200, 5, 0},
		{"empty frames", 300, 20, 10, 4},
		{"whole partition", 100, 100, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.maxLen)))
			vals := make([]int64, tc.n)
			for i := range vals {
				vals[i] = r.Int64N(1000) - 500
			}
			leaf := func(p int) int64 { return vals[p] }
			minOf := func(a, b int64) int64 { return min(a, b) }
			const none = int64(1 << 62)
			w := slidingWindow[int64]{leaf: leaf, combine: minOf, zero: none, back: none, sfx: make([]int64, tc.n)}
			tree := newSegTree(make([]int64, 2*tc.n), leaf, minOf, none)
			lo, hi := 0, 0
			for i := 0; i < 4*tc.n && lo < tc.n; i++ {
				hi = min(tc.n, max(hi, lo+r.IntN(tc.maxLen+1)))
				lo = min(tc.n, lo+r.IntN(2))
				if tc.skipAhead > 0 && r.IntN(5) == 0 {
					lo = min(tc.n, lo+r.IntN(tc.skipAhead+1))
				}
				flo, fhi := lo, hi
				if tc.emptyEvery > 0 && i%tc.emptyEvery == 0 {
					flo = min(tc.n, max(lo, hi)) // lo >= hi
					lo = flo
				}
				want := none
				for p := flo; p < fhi; p++ {
					want = min(want, vals[p])
				}
				if got := w.frame(flo, fhi); got != want {
					t.Fatalf("sliding frame %d [%d, %d): got %d, want %d", i, flo, fhi, got, want)
				}
				if flo < fhi {
					if got := tree.query(flo, fhi); got != want {
						t.Fatalf("tree frame %d [%d, %d): got %d, want %d", i, flo, fhi, got, want)
					}
				}
			}
		})
	}
}
