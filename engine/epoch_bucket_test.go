package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestEpochBucket checks floor(extract(epoch from ts)/k1)*k2 through epochBucket
// (one loop, runs of a bucket kept) against the general path (fastPaths off: four
// kernels) to the bit: sorted, nearly sorted and shuffled timestamps, with NULLs,
// ±infinity and timestamps next to bucket edges, integer and float constants on
// either side, and constants whose steps overflow (the same error both ways).
func TestEpochBucket(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	type kpair struct{ k1, k2 Value }
	f := func(v float64) Value { return Value{Type: Numeric, F: v} }
	i32 := func(v int64) Value { return Value{Type: Int32, I: v} }
	ks := []kpair{{f(300), f(300)}, {i32(60), i32(60)}, {f(0.5), f(0.5)}, {f(7), f(3)}, {f(1e-3), f(1e-3)},
		{i32(86400), i32(86400)}, {f(0.1), f(0.1)}, {f(1e-310), f(1)}, {f(300), f(1e300)}, {f(-300), f(300)}, {f(300), f(-300)}}
	for iter := 0; iter < 300; iter++ {
		n := 1 + r.IntN(3000)
		k := ks[r.IntN(len(ks))]
		tt := []Type{Timestamp, TimestampTZ}[r.IntN(2)]
		x := newVec(tt, n)
		base := baseTime + r.Int64N(1e12)
		for i := range x.i {
			switch r.IntN(3) {
			case 0: // next to a bucket edge of k1 seconds
				e := math.Abs(k.k1.F + float64(k.k1.I))
				x.i[i] = int64(math.Round(float64(r.Int64N(1e6))*e)*1e6) + r.Int64N(5) - 2
			default:
				x.i[i] = base + r.Int64N(int64(n)*50_000_000)
			}
		}
		switch r.IntN(3) {
		case 0:
			slices.Sort(x.i)
		case 1:
			slices.Sort(x.i)
			for j := 0; j < n/50; j++ {
				a, b := r.IntN(n), r.IntN(n)
				x.i[a], x.i[b] = x.i[b], x.i[a]
			}
		}
		if r.IntN(2) == 0 {
			x.nulls = make([]bool, n)
			for i := range x.nulls {
				x.nulls[i] = r.IntN(8) == 0
			}
		}
		if r.IntN(4) == 0 {
			x.i[r.IntN(n)] = math.MaxInt64
			x.i[r.IntN(n)] = math.MinInt64
		}
		ts := &ColRef{Index: 0, T: tt}
		epoch := &Call{Func: "extract", Args: []Expr{&Const{V: Value{Type: Text, S: "epoch"}}, ts}, T: Numeric}
		div := &Call{Func: "/", Args: []Expr{epoch, &Const{V: k.k1}}, T: Numeric}
		fl := &Call{Func: "floor", Args: []Expr{div}, T: Numeric}
		bucket := &Call{Func: "*", Args: []Expr{fl, &Const{V: k.k2}}, T: Numeric}
		if r.IntN(2) == 0 {
			bucket.Args[0], bucket.Args[1] = bucket.Args[1], bucket.Args[0]
		}
		b := &batch{n: n, cols: []*vec{x}}
		what := fmt.Sprintf("iter %d: %s over %d rows", iter, bucket, n)
		ev := newEvaluator(time.Unix(0, 0))
		_, taken, _ := ev.epochBucket(bucket, b)
		got, gotErr := ev.eval(bucket, b)
		fastPaths = false
		want, wantErr := newEvaluator(time.Unix(0, 0)).eval(bucket, b)
		fastPaths = true
		if wantK1 := k.k1.F + float64(k.k1.I); wantK1 == 300 && k.k2.F == 300 && !taken {
			t.Fatalf("%s: epochBucket declined", what)
		}
		if (gotErr != nil) != (wantErr != nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("%s: error %v, want %v", what, gotErr, wantErr)
		}
		if gotErr != nil {
			continue
		}
		for i := 0; i < n; i++ {
			if got.isNull(i) != want.isNull(i) {
				t.Fatalf("%s: row %d: null %v, want %v", what, i, got.isNull(i), want.isNull(i))
			}
			if !got.isNull(i) && math.Float64bits(got.f[i]) != math.Float64bits(want.f[i]) {
				t.Fatalf("%s: row %d (%d µs): %v, want %v", what, i, x.i[i], got.f[i], want.f[i])
			}
		}
	}
}
