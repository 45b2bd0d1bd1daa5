package engine

import (
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkCaseConst evaluates the price_buckets CASE over one batch of floats
// with NULLs.
func BenchmarkCaseConst(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	price := &vec{t: Float64, n: BatchSize, f: make([]float64, BatchSize), nulls: make([]bool, BatchSize)}
	for i := range price.f {
		price.f[i] = r.Float64()*300 - 10
		price.nulls[i] = r.IntN(20) == 0
	}
	bt := &batch{n: BatchSize, cols: []*vec{price}}
	p := &ColRef{Index: 0, T: Float64}
	ce := &Case{Whens: []When{
		{Cond: fn("<=", p, kf(0)), Then: ks("anomaly")},
		{Cond: fn("<", p, kf(20)), Then: ks("low")},
		{Cond: fn("<", p, kf(100)), Then: ks("mid")},
	}, Else: ks("high"), T: Text}
	for _, mode := range []string{"const", "lazy"} {
		b.Run(mode, func(b *testing.B) {
			ev := newEvaluator(time.Unix(0, 0))
			if mode == "lazy" {
				ev.cases = map[*Case]*constCase{ce: {}}
			}
			b.SetBytes(BatchSize * 8)
			for i := 0; i < b.N; i++ {
				if _, err := ev.evalCase(ce, bt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
