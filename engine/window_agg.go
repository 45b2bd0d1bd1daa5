package engine

import (
	"math/bits"

	"github.com/cockroachdb/apd/v3"
)

// Aggregates over window frames. Each frame is at most three spans of positions
// (frameSpans); each aggregate answers a span without visiting its rows:
//
//   - count, and sum/avg of smallint and integer: prefix counts and prefix sums,
//     one subtraction per span (O(1); PostgreSQL uses the same inverse transition);
//     of bigint and numeric(p,s): the same with 128-bit prefix sums, exact numeric
//     results as PostgreSQL's (wideSums);
//   - sum/avg of floating-point and numeric without (p,s) (double precision): a float sum has
//     no exact inverse (subtracting 1e20 after adding 1e20 and 1 loses the 1), so
//     frames that start at the partition's first row read a running sum (exactly
//     PostgreSQL's order of additions), other frames a sliding window that only
//     adds (slidingWindow, O(1) amortized), and frames with EXCLUDE a segment tree
//     of partial sums (segTree, O(log n) per span);
//   - min/max: the same sliding window, or segment tree with EXCLUDE, of the best row.
//
// Rows whose argument is NULL or whose FILTER is not true take no part.

// winScratch holds per-function arrays as long as the input, sliced per partition
// (partitions are consecutive in window order, so partition p uses [lo, hi+1)).
type winScratch struct {
	lo, hi, gs, ge, starts []int32
	cnt                    []int64 // prefix counts of taking part
	isum, ihi              []int64 // prefix sums: int64, or 128-bit as ihi:isum (wideSums)
	fsum                   []float64
	ivs                    []ival
	tree                   []float64
	best                   []int32
}

// aggFrames computes f's aggregate for every row of one partition. rows are its
// input row numbers in window order (where results go); x (the argument) and take
// are in window order: take[p] says whether position p takes part (its argument is
// not NULL and its FILTER is true); nil means every position does.
func aggFrames(f *WindowFunc, x *vec, take []bool, rows []int32, sc *winScratch, out *vec) {
	n := len(rows)
	lo, hi, gs, ge := sc.lo, sc.hi, sc.gs, sc.ge
	ex := f.Frame.Exclude
	var buf [3][2]int32
	takes := func(p int) bool { return take == nil || take[p] }

	// prefix counts of rows taking part
	cnt := sc.cnt[:n+1]
	cnt[0] = 0
	for p := 0; p < n; p++ {
		cnt[p+1] = cnt[p]
		if takes(p) {
			cnt[p+1]++
		}
	}
	count := func(spans [][2]int32) int64 {
		c := int64(0)
		for _, s := range spans {
			c += cnt[s[1]] - cnt[s[0]]
		}
		return c
	}
	if f.Func == "count" {
		for i, r := range rows {
			out.i[r] = count(frameSpans(lo[i], hi[i], int32(i), gs[i], ge[i], ex, &buf))
		}
		return
	}

	switch f.Func {
	case "sum", "avg":
		switch {
		case x.t.ID == TypeInt64 || x.t.IsDecimal():
			wideSums(f, x, takes, rows, sc, cnt, out)
		case x.t.ID == TypeInt16 || x.t.ID == TypeInt32:
			// exact in int64: fewer than 2^32 rows of 32-bit values cannot overflow
			ps := sc.isum[:n+1]
			ps[0] = 0
			for p := 0; p < n; p++ {
				ps[p+1] = ps[p]
				if takes(p) {
					ps[p+1] += x.i[p]
				}
			}
			for i, r := range rows {
				spans := frameSpans(lo[i], hi[i], int32(i), gs[i], ge[i], ex, &buf)
				c := count(spans)
				if c == 0 {
					out.setNull(int(r))
					continue
				}
				s := int64(0)
				for _, sp := range spans {
					s += ps[sp[1]] - ps[sp[0]]
				}
				if f.Func == "avg" {
					setAvgExact(out, int(r), s, 0, int64(c)) // numeric.go
				} else {
					out.i[r] = s
				}
			}
		case x.t.ID == TypeInterval:
			ps := sc.ivs[:n+1]
			ps[0] = ival{}
			for p := 0; p < n; p++ {
				ps[p+1] = ps[p]
				if takes(p) {
					v := x.iv[p]
					ps[p+1] = ival{ps[p].M + v.M, ps[p].D + v.D, ps[p].U + v.U}
				}
			}
			for i, r := range rows {
				spans := frameSpans(lo[i], hi[i], int32(i), gs[i], ge[i], ex, &buf)
				c := count(spans)
				if c == 0 {
					out.setNull(int(r))
					continue
				}
				var s ival
				for _, sp := range spans {
					a, b := ps[sp[0]], ps[sp[1]]
					s = ival{s.M + b.M - a.M, s.D + b.D - a.D, s.U + b.U - a.U}
				}
				if f.Func == "avg" { // as the aggregate avg(interval): the sum times 1/count
					s, _ = mulInterval(s, 1/float64(c))
				}
				out.iv[r] = s
			}
		default:
			floatSums(f, x, takes, rows, sc, cnt, out)
		}
	case "min", "max":
		minMaxFrames(f, x, takes, rows, sc, out)
	default:
		panic("BUG: aggFrames of " + f.Func)
	}
}

// floatSums is sum/avg over float values (kFloat).
func floatSums(f *WindowFunc, x *vec, takes func(int) bool, rows []int32, sc *winScratch, cnt []int64, out *vec) {
	n := len(rows)
	lo, hi, gs, ge := sc.lo, sc.hi, sc.gs, sc.ge
	ex := f.Frame.Exclude
	leaf := func(p int) float64 {
		switch {
		case !takes(p):
			return 0
		}
		return x.f[p]
	}
	add := func(a, b float64) float64 { return a + b }
	var sum func(i int, spans [][2]int32) float64
	switch {
	case f.Frame.Start.Kind == UnboundedPreceding && ex == ExcludeNoOthers:
		// a running sum: PostgreSQL's order of additions
		ps := sc.fsum[:n+1]
		ps[0] = 0
		for p := 0; p < n; p++ {
			ps[p+1] = ps[p] + leaf(p)
		}
		sum = func(i int, _ [][2]int32) float64 { return ps[hi[i]] }
	case ex == ExcludeNoOthers:
		w := slidingWindow[float64]{leaf: leaf, combine: add, sfx: sc.tree[:n]}
		sum = func(i int, _ [][2]int32) float64 { return w.frame(int(lo[i]), int(hi[i])) }
	default:
		t := newSegTree(sc.tree[:2*n], leaf, add, 0)
		sum = func(_ int, spans [][2]int32) float64 {
			s := 0.0
			for _, sp := range spans {
				s += t.query(int(sp[0]), int(sp[1]))
			}
			return s
		}
	}
	var buf [3][2]int32
	for i, r := range rows {
		spans := frameSpans(lo[i], hi[i], int32(i), gs[i], ge[i], ex, &buf)
		c := int64(0)
		for _, sp := range spans {
			c += cnt[sp[1]] - cnt[sp[0]]
		}
		if c == 0 {
			out.setNull(int(r))
			continue
		}
		s := sum(i, spans)
		if f.Func == "avg" {
			s /= float64(c)
		}
		out.f[r] = s
	}
}

// minMaxFrames is min/max, aggregating the best position (-1: none).
func minMaxFrames(f *WindowFunc, x *vec, takes func(int) bool, rows []int32, sc *winScratch, out *vec) {
	n := len(rows)
	lo, hi, gs, ge := sc.lo, sc.hi, sc.gs, sc.ge
	ex := f.Frame.Exclude
	wantMin := f.Func == "min"
	var better func(a, b int32) bool // a strictly better than b; both take part
	switch kindOf(x.t) {
	case kInt:
		better = func(a, b int32) bool { return (x.i[a] < x.i[b]) == wantMin && x.i[a] != x.i[b] }
	case kFloat:
		better = func(a, b int32) bool {
			c := cmpFloat(x.f[a], x.f[b])
			return c != 0 && (c < 0) == wantMin
		}
	default:
		better = func(a, b int32) bool {
			c := cmpRow(x, int(a), x, int(b))
			return c != 0 && (c < 0) == wantMin
		}
	}
	pick := func(a, b int32) int32 {
		switch {
		case a < 0:
			return b
		case b < 0:
			return a
		case better(b, a):
			return b
		}
		return a
	}
	leaf := func(p int) int32 {
		if takes(p) {
			return int32(p)
		}
		return -1
	}
	var frame func(i int, spans [][2]int32) int32
	if ex == ExcludeNoOthers {
		w := slidingWindow[int32]{leaf: leaf, combine: pick, zero: -1, back: -1, sfx: sc.best[:n]}
		frame = func(i int, _ [][2]int32) int32 { return w.frame(int(lo[i]), int(hi[i])) }
	} else {
		t := newSegTree(sc.best[:2*n], leaf, pick, -1)
		frame = func(_ int, spans [][2]int32) int32 {
			best := int32(-1)
			for _, sp := range spans {
				best = pick(best, t.query(int(sp[0]), int(sp[1])))
			}
			return best
		}
	}
	var buf [3][2]int32
	for i, r := range rows {
		best := frame(i, frameSpans(lo[i], hi[i], int32(i), gs[i], ge[i], ex, &buf))
		if best < 0 {
			out.setNull(int(r))
			continue
		}
		v := x.value(int(best))
		v.Type = f.T
		out.set(int(r), v)
	}
}

// slidingWindow answers an associative aggregate that has no inverse (a float sum,
// min, max) over frames whose ends only move forward — every frame without
// EXCLUDE — in O(1) amortized per frame, by the two-stack method: positions
// [lo, mid) hold suffix aggregates sfx[p] = leaf(p) ⊕ … ⊕ leaf(mid-1), positions
// [mid, hi) one running aggregate back. When lo passes mid the suffixes are
// rebuilt over [lo, hi); a position is rebuilt at most once, as the next rebuild
// comes only after lo has passed it.
type slidingWindow[T any] struct {
	leaf        func(p int) T
	combine     func(a, b T) T
	zero        T
	sfx         []T // as long as the partition
	lo, mid, hi int
	back        T // starts as zero
}

// frame returns the aggregate over [lo, hi); lo and hi never decrease between calls.
func (w *slidingWindow[T]) frame(lo, hi int) T {
	for ; w.hi < hi; w.hi++ {
		w.back = w.combine(w.back, w.leaf(w.hi))
	}
	if lo >= hi {
		// Empty: nothing before lo is needed again. w.hi <= lo here (it is the
		// largest hi or empty-frame lo so far), so the window restarts at lo.
		w.lo, w.mid, w.hi, w.back = lo, lo, lo, w.zero
		return w.zero
	}
	w.lo = lo
	if w.lo >= w.mid {
		acc := w.zero
		for p := w.hi - 1; p >= w.lo; p-- {
			acc = w.combine(w.leaf(p), acc)
			w.sfx[p] = acc
		}
		w.mid, w.back = w.hi, w.zero
	}
	return w.combine(w.sfx[w.lo], w.back)
}

// segTree is a bottom-up segment tree over a partition's positions (leaves at
// t[n+p], node k = t[2k] ⊕ t[2k+1]): any span in O(log n), for frames with
// EXCLUDE, whose holes a sliding window cannot skip. The operation must be
// commutative (the bottom-up query visits nodes out of order).
type segTree[T any] struct {
	t       []T
	combine func(a, b T) T
	zero    T
}

func newSegTree[T any](t []T, leaf func(p int) T, combine func(a, b T) T, zero T) segTree[T] {
	n := len(t) / 2
	for p := 0; p < n; p++ {
		t[n+p] = leaf(p)
	}
	for k := n - 1; k >= 1; k-- {
		t[k] = combine(t[2*k], t[2*k+1])
	}
	return segTree[T]{t: t, combine: combine, zero: zero}
}

// query returns the aggregate over positions [lo, hi).
func (s segTree[T]) query(lo, hi int) T {
	n := len(s.t) / 2
	acc := s.zero
	for a, b := lo+n, hi+n; a < b; a, b = a>>1, b>>1 {
		if a&1 == 1 {
			acc = s.combine(acc, s.t[a])
			a++
		}
		if b&1 == 1 {
			b--
			acc = s.combine(acc, s.t[b])
		}
	}
	return acc
}

// wideSums is sum/avg of bigint and numeric(p,s) (x.i scaled by 10^scale): prefix
// sums in 128 bits (two's complement ihi:isum), so a frame's sum is exact however
// large; results are numeric, avg at select_div_scale, as PostgreSQL's.
func wideSums(f *WindowFunc, x *vec, takes func(int) bool, rows []int32, sc *winScratch, cnt []int64, out *vec) {
	n := len(rows)
	lo, hi, gs, ge := sc.lo, sc.hi, sc.gs, sc.ge
	ex := f.Frame.Exclude
	pl, ph := sc.isum[:n+1], sc.ihi[:n+1]
	pl[0], ph[0] = 0, 0
	for p := 0; p < n; p++ {
		l, h := uint64(pl[p]), uint64(ph[p])
		if takes(p) {
			v := x.i[p]
			var c uint64
			l, c = bits.Add64(l, uint64(v), 0)
			h += uint64(v>>63) + c
		}
		pl[p+1], ph[p+1] = int64(l), int64(h)
	}
	if out.nx == nil {
		out.nx = make([]string, out.n)
	}
	scale := x.t.Scale
	var buf [3][2]int32
	var d apd.Decimal
	for i, r := range rows {
		spans := frameSpans(lo[i], hi[i], int32(i), gs[i], ge[i], ex, &buf)
		c := int64(0)
		var l, h uint64
		for _, sp := range spans {
			c += cnt[sp[1]] - cnt[sp[0]]
			dl, b := bits.Sub64(uint64(pl[sp[1]]), uint64(pl[sp[0]]), 0)
			dh := uint64(ph[sp[1]]) - uint64(ph[sp[0]]) - b
			var k uint64
			l, k = bits.Add64(l, dl, 0)
			h += dh + k
		}
		if c == 0 {
			out.setNull(int(r))
			continue
		}
		if int64(h) == int64(l)>>63 { // fits int64
			if f.Func == "avg" {
				setAvgExact(out, int(r), int64(l), scale, c) // numeric.go
			} else {
				out.nx[r] = string(AppendDecimal(nil, int64(l), int(scale)))
				out.f[r] = numericTextFloat(out.nx[r])
			}
			continue
		}
		// hi × 2^64 + lo with lo signed, as int128Decimal takes it
		sh, sl := int64(h), int64(l)
		if sl < 0 {
			sh++
		}
		if f.Func == "avg" {
			avgExact(&d, sh, sl, scale, c)
		} else {
			int128Decimal(sh, sl, &d)
			d.Exponent = -int32(scale)
		}
		out.setExact(int(r), &d)
	}
}
