package engine

import "math"

// epochBucket evaluates floor(extract(epoch from ts) / k1) * k2 with k1, k2 > 0
// constants: the time bucket of Grafana's $__timeGroup for PostgreSQL (k1 = k2 =
// the interval in seconds). Through the general path it is four loops over the
// batch, each allocating its result; here it is one, and, since time columns are
// mostly sorted, the run of timestamps of the current bucket is kept: a row inside
// it costs two compares. The bucket of a row is computed with exactly the
// operations of the general path (float64(us)/1e6, / k1, math.Floor, * k2), so the
// result is the same to the bit. ok is false when c has another shape.
func (ev *evaluator) epochBucket(c *Call, b *batch) (*vec, bool, error) {
	if c.Func != "*" || !floatCall(c, 2) {
		return nil, false, nil
	}
	k2, floor, ok := constOperand(c)
	if !ok || k2 <= 0 || math.IsInf(k2, 0) {
		return nil, false, nil
	}
	fl, ok := floor.(*Call)
	if !ok || fl.Func != "floor" || !floatCall(fl, 1) {
		return nil, false, nil
	}
	div, ok := fl.Args[0].(*Call)
	if !ok || div.Func != "/" || !floatCall(div, 2) {
		return nil, false, nil
	}
	kc, ok := div.Args[1].(*Const)
	if !ok {
		return nil, false, nil
	}
	k1, ok := numConst(kc)
	if !ok || k1 <= 0 || math.IsInf(k1, 0) {
		return nil, false, nil
	}
	ex, ok := div.Args[0].(*Call)
	if !ok || (ex.Func != "extract" && ex.Func != "date_part") || !floatCall(ex, 2) {
		return nil, false, nil
	}
	unit, ok := ex.Args[0].(*Const)
	if !ok || unit.V.Null || kindOf(unit.V.Type) != kText || parseUnit(unit.V.S) != uEpoch {
		return nil, false, nil
	}
	if t := ex.Args[1].Type().ID; t != TypeTimestamp && t != TypeTimestampTZ {
		return nil, false, nil
	}
	x, err := ev.eval(ex.Args[1], b)
	if err != nil {
		return nil, true, err
	}
	n := b.n
	if (x.t.ID != TypeTimestamp && x.t.ID != TypeTimestampTZ) || len(x.i) < n {
		return nil, false, nil
	}
	// bucket is the general path's value for a finite timestamp; false if a step
	// overflows (the general path then reports the error).
	bucket := func(us int64) (float64, bool) {
		q := float64(us) / 1e6 / k1
		w := math.Floor(q) * k2
		return w, !math.IsInf(q, 0) && !math.IsInf(w, 0)
	}
	out := &vec{t: c.T, n: n, nulls: x.nulls, f: make([]float64, n)}
	r := out.f
	lo, hi := int64(1), int64(0) // the current run: [lo, hi] all in bucket v
	var v float64
	misses := 0
	for i, us := range x.i[:n] {
		switch {
		case x.nulls != nil && x.nulls[i]:
		case us >= lo && us <= hi:
			r[i] = v
		case us == math.MaxInt64 || us == math.MinInt64:
			r[i] = math.Inf(1) // ±infinity: the general path's ±Inf through every step
			if us == math.MinInt64 {
				r[i] = math.Inf(-1)
			}
		default:
			w, ok := bucket(us)
			if !ok {
				return nil, false, nil
			}
			r[i] = w
			misses++
			if misses > 32 && 4*misses > i {
				continue // unsorted: runs do not pay
			}
			v, lo, hi = w, us, bucketEnd(bucket, us, w, math.Floor(float64(us)/1e6/k1), k1)
		}
	}
	return out, true, nil
}

// bucketEnd returns the last timestamp from us on whose bucket is w (us's), or us
// when it cannot tell: it estimates where the next bucket starts, (q+1)·k1
// seconds for q = floor(us's epoch / k1), and checks the estimate against bucket
// itself a few µs either way. bucket is monotone in the timestamp (every step of it
// is), so every timestamp between us and the end has the bucket w.
func bucketEnd(bucket func(int64) (float64, bool), us int64, w, q, k1 float64) int64 {
	est := math.Ceil((q + 1) * k1 * 1e6)
	if !(est > float64(us)) || est >= 1<<62 {
		return us
	}
	same := func(t int64) bool {
		b, ok := bucket(t)
		return ok && math.Float64bits(b) == math.Float64bits(w)
	}
	t := int64(est) // the first timestamp of the next bucket, if the estimate is exact
	for k := 0; k < 4 && t-1 > us && !same(t-1); k++ {
		t--
	}
	for k := 0; k < 4 && same(t); k++ {
		t++
	}
	if t-1 < us || !same(t-1) || same(t) {
		return us
	}
	return t - 1
}

// floatCall reports whether c has n arguments and a float result other than
// float4: the shape arithConst and the float kernels compute in float64.
func floatCall(c *Call, n int) bool {
	return len(c.Args) == n && kindOf(c.T) == kFloat && c.T.ID != TypeFloat32
}

// constOperand returns the value of c's constant operand (as arithConst reads it)
// and the other operand.
func constOperand(c *Call) (float64, Expr, bool) {
	if k, ok := c.Args[1].(*Const); ok {
		v, ok := numConst(k)
		return v, c.Args[0], ok
	}
	if k, ok := c.Args[0].(*Const); ok {
		v, ok := numConst(k)
		return v, c.Args[1], ok
	}
	return 0, nil, false
}

// numConst is a non-NULL integer or float constant as arithConst reads it.
func numConst(k *Const) (float64, bool) {
	if k.V.Null || !k.V.Type.IsNumeric() {
		return 0, false
	}
	switch kindOf(k.V.Type) {
	case kInt, kFloat:
		return numFloat(k.V), true
	}
	return 0, false
}
