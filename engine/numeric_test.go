package engine

import (
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

// TestDiv64MatchesBig checks the 64-bit division path of numericDiv against the
// big-integer one (divExact at divScale) over random operands and scales: the
// same digits and the same display scale, or ok false.
func TestDiv64MatchesBig(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 12))
	fast := 0
	for k := 0; k < 200000; k++ {
		x := r.Int64N(1<<uint(r.IntN(62)+1)) - 1<<uint(r.IntN(40))
		y := r.Int64N(1<<uint(r.IntN(50)+1)) - 1<<uint(r.IntN(30))
		if y == 0 {
			continue
		}
		sx, sy := r.IntN(19), r.IntN(19)
		var a, b, q apd.Decimal
		a.SetFinite(x, -int32(sx))
		b.SetFinite(y, -int32(sy))
		rscale := divScale(&a, &b)
		if got := divScale64(x, sx, y, sy); got != rscale {
			t.Fatalf("divScale64(%s / %s) = %d, want %d", a.String(), b.String(), got, rscale)
		}
		if err := divExact(&q, &a, &b, rscale); err != nil {
			t.Fatal(err)
		}
		d, neg, ok := div64(x, sx, y, sy, rscale)
		if !ok {
			continue
		}
		fast++
		if got, want := string(appendScaled(nil, d, neg, rscale)), numericText(&q); got != want {
			t.Fatalf("%s / %s: 64-bit %s, big %s", a.String(), b.String(), got, want)
		}
	}
	if fast < 10000 {
		t.Fatalf("only %d of the divisions took the 64-bit path", fast)
	}
}

// TestSqrtExact checks sqrtExact's rounding against the squares around it.
func TestSqrtExact(t *testing.T) {
	for _, c := range []struct{ x, want string }{
		{"2", "1.4142135623730950"}, {"1.6666666666666667", "1.2909944487358056"},
		{"0.25", "0.5000000000000000"}, {"1e-20", "0.0000000001000000"},
	} {
		var x, d apd.Decimal
		if _, _, err := x.SetString(c.x); err != nil {
			t.Fatal(err)
		}
		sqrtExact(&d, &x, 16)
		if got := numericText(&d); got != c.want {
			t.Errorf("sqrt(%s) = %s, want %s", c.x, got, c.want)
		}
	}
}
