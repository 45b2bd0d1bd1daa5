package engine

// Aggregates over window frames. Each frame is at most three spans of positions
// (frameSpans); each aggregate answers a span without visiting its rows:
//
//   - count, and sum/avg of smallint and integer: prefix counts and prefix sums,
//     one subtraction per span (O(1); PostgreSQL uses the same inverse transition);
//   - sum/avg of floating-point and numeric (double precision in strata): a float sum has
//     no exact inverse (subtracting 1e20 after adding 1e20 and 1 loses the 1), so
//     frames that start at the partition's first row read a running sum (exactly
//     PostgreSQL's order of additions) and all others a segment tree of partial
//     sums, O(log n) per span;
//   - min/max: a segment tree of the best row, O(log n) per span.
//
// Rows whose argument is NULL or whose FILTER is not true take no part.

// winScratch holds per-function arrays as long as the input, sliced per partition
// (partitions are consecutive in window order, so partition p uses [lo, hi+1)).
type winScratch struct {
	lo, hi, gs, ge, starts []int32
	cnt                    []int64 // prefix counts of taking part
	isum                   []int64
	fsum                   []float64
	ivs                    []ival
	tree                   []float64
	best                   []int32
}

// aggFrames computes f's aggregate for every row of one partition. rows are input
// row numbers in window order; take[r] says whether input row r takes part (its
// argument is not NULL and its FILTER is true); nil means every row does.
func aggFrames(f *WindowFunc, x *vec, take []bool, rows []int32, sc *winScratch, out *vec) {
	n := len(rows)
	lo, hi, gs, ge := sc.lo, sc.hi, sc.gs, sc.ge
	ex := f.Frame.Exclude
	var buf [3][2]int32
	takes := func(p int) bool { return take == nil || take[rows[p]] }

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
		case x.t.ID == TypeInt16 || x.t.ID == TypeInt32:
			// exact in int64: fewer than 2^32 rows of 32-bit values cannot overflow
			ps := sc.isum[:n+1]
			ps[0] = 0
			for p := 0; p < n; p++ {
				ps[p+1] = ps[p]
				if takes(p) {
					ps[p+1] += x.i[rows[p]]
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
					out.f[r] = float64(s) / float64(c)
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
					v := x.iv[rows[p]]
					ps[p+1] = ival{ps[p].M + v.M, ps[p].D + v.D, ps[p].U + v.U}
				}
			}
			for i, r := range rows {
				spans := frameSpans(lo[i], hi[i], int32(i), gs[i], ge[i], ex, &buf)
				if count(spans) == 0 {
					out.setNull(int(r))
					continue
				}
				var s ival
				for _, sp := range spans {
					a, b := ps[sp[0]], ps[sp[1]]
					s = ival{s.M + b.M - a.M, s.D + b.D - a.D, s.U + b.U - a.U}
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

// floatSums is sum/avg over float values (kFloat; bigint is read as float, as its
// numeric sum is in strata).
func floatSums(f *WindowFunc, x *vec, takes func(int) bool, rows []int32, sc *winScratch, cnt []int64, out *vec) {
	n := len(rows)
	lo, hi, gs, ge := sc.lo, sc.hi, sc.gs, sc.ge
	ex := f.Frame.Exclude
	val := func(p int) float64 {
		if kindOf(x.t) == kInt {
			return float64(x.i[rows[p]])
		}
		return x.f[rows[p]]
	}
	running := f.Frame.Start.Kind == UnboundedPreceding && ex == ExcludeNoOthers
	var ps []float64
	var tree []float64
	if running {
		ps = sc.fsum[:n+1]
		ps[0] = 0
		for p := 0; p < n; p++ {
			ps[p+1] = ps[p]
			if takes(p) {
				ps[p+1] += val(p)
			}
		}
	} else {
		// bottom-up segment tree: leaves at tree[n+p], node k = tree[2k] + tree[2k+1]
		tree = sc.tree[:2*n]
		for p := 0; p < n; p++ {
			tree[n+p] = 0
			if takes(p) {
				tree[n+p] = val(p)
			}
		}
		for k := n - 1; k >= 1; k-- {
			tree[k] = tree[2*k] + tree[2*k+1]
		}
	}
	var buf [3][2]int32
	for i, r := range rows {
		spans := frameSpans(lo[i], hi[i], int32(i), gs[i], ge[i], ex, &buf)
		c := int64(0)
		s := 0.0
		for _, sp := range spans {
			c += cnt[sp[1]] - cnt[sp[0]]
			if running {
				s = ps[sp[1]] // one span, starting at 0
				continue
			}
			for a, b := int(sp[0])+n, int(sp[1])+n; a < b; a, b = a>>1, b>>1 {
				if a&1 == 1 {
					s += tree[a]
					a++
				}
				if b&1 == 1 {
					b--
					s += tree[b]
				}
			}
		}
		switch {
		case c == 0:
			out.setNull(int(r))
		case f.Func == "avg":
			out.f[r] = s / float64(c)
		default:
			out.f[r] = s
		}
	}
}

// minMaxFrames is min/max over a segment tree of the best input row (-1: none).
func minMaxFrames(f *WindowFunc, x *vec, takes func(int) bool, rows []int32, sc *winScratch, out *vec) {
	n := len(rows)
	lo, hi, gs, ge := sc.lo, sc.hi, sc.gs, sc.ge
	ex := f.Frame.Exclude
	wantMin := f.Func == "min"
	var better func(a, b int32) bool // a strictly better than b; both rows valid
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
	tree := sc.best[:2*n]
	for p := 0; p < n; p++ {
		tree[n+p] = -1
		if takes(p) {
			tree[n+p] = rows[p]
		}
	}
	for k := n - 1; k >= 1; k-- {
		tree[k] = pick(tree[2*k], tree[2*k+1])
	}
	var buf [3][2]int32
	for i, r := range rows {
		best := int32(-1)
		for _, sp := range frameSpans(lo[i], hi[i], int32(i), gs[i], ge[i], ex, &buf) {
			for a, b := int(sp[0])+n, int(sp[1])+n; a < b; a, b = a>>1, b>>1 {
				if a&1 == 1 {
					best = pick(best, tree[a])
					a++
				}
				if b&1 == 1 {
					b--
					best = pick(best, tree[b])
				}
			}
		}
		if best < 0 {
			out.setNull(int(r))
			continue
		}
		v := x.value(int(best))
		v.Type = f.T
		out.set(int(r), v)
	}
}
