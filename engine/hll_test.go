package engine

import (
	"fmt"
	"math"
	"testing"
)

// TestHLLErrorBound checks the documented accuracy: for cardinalities from 0 to
// 2,000,000 (strings, integers and floats) the estimate is within 5% (three times
// the 1.6% standard error, and at most 1 off for tiny counts); merged partial sketches (the
// values split over 7 partial states) estimate exactly as one sketch.
func TestHLLErrorBound(t *testing.T) {
	for _, n := range []int{0, 1, 2, 10, 100, 199, 1000, 10_000, 100_000, 2_000_000} {
		for _, kind := range []string{"text", "int", "float"} {
			whole := &hllAcc{}
			whole.grow(1)
			parts := make([]*hllAcc, 7)
			for i := range parts {
				parts[i] = &hllAcc{}
				parts[i].grow(1)
			}
			const batch = 4096
			for lo := 0; lo < n; lo += batch {
				hi := min(lo+batch, n)
				v := newVec(map[string]Type{"text": Text, "int": Int64, "float": Float64}[kind], hi-lo)
				for i := lo; i < hi; i++ {
					switch kind {
					case "text":
						v.s[i-lo] = fmt.Sprintf("user-%d", i)
					case "int":
						v.i[i-lo] = int64(i) * 7919
					case "float":
						v.f[i-lo] = float64(i) / 3
					}
				}
				gids := make([]int32, hi-lo)
				// every value twice: duplicates must not count
				for rep := 0; rep < 2; rep++ {
					if err := whole.update(gids, []*vec{v}); err != nil {
						t.Fatal(err)
					}
					if err := parts[(lo/batch+rep)%len(parts)].update(gids, []*vec{v}); err != nil {
						t.Fatal(err)
					}
				}
			}
			merged := &hllAcc{}
			merged.grow(1)
			for _, p := range parts {
				if err := merged.merge(p, []int32{0}); err != nil {
					t.Fatal(err)
				}
			}
			est := whole.result().i[0]
			if m := merged.result().i[0]; m != est {
				t.Errorf("%s n=%d: merged sketches estimate %d, one sketch %d", kind, n, m, est)
			}
			diff := math.Abs(float64(est - int64(n)))
			if diff > math.Max(1, 0.05*float64(n)) {
				t.Errorf("%s n=%d: estimate %d (error %.2f%%)", kind, n, est, 100*diff/math.Max(1, float64(n)))
			}
		}
	}
}
