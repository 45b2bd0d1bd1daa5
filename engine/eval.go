package engine

import (
	"math"
	"strings"
	"time"
)

// evaluator computes expressions over batches, vectorized: one call per node per
// batch, typed loops inside. An evaluator is owned by one goroutine.
type evaluator struct {
	now     time.Time
	likes   map[*Like]*likeMatcher
	cases   map[*Case]*constCase // see case_const.go
	caseBuf []uint32             // branch codes of the outermost constant CASE being evaluated
	// caseDepth counts the constant CASEs being evaluated, nested in one another's
	// conditions.
	caseDepth int
	funcs     map[string]HostFunc // Options.Funcs
	// q is the execution the evaluator belongs to (nil for EvalConst): a SubPlan
	// runs its subquery under q's context and options, and Param reads q.opts.Params.
	q        *query
	subCache map[*SubPlan]map[string][]Value // subplan.go
	// consts holds each constant materialized once, BatchSize rows long: a vec
	// the evaluator hands out is read-only for its receiver, so every batch gets a
	// view of the same rows instead of a new vec (date_trunc('hour', ts) would
	// otherwise build 4096 copies of 'hour' per batch).
	consts map[*Const]*vec
}

func newEvaluator(now time.Time) *evaluator {
	return &evaluator{now: now, likes: make(map[*Like]*likeMatcher)}
}

// EvalConst evaluates an expression without column references.
func EvalConst(e Expr, now time.Time) (Value, error) {
	ev := newEvaluator(now)
	v, err := ev.eval(e, &batch{n: 1})
	if err != nil {
		return Value{}, err
	}
	return v.value(0), nil
}

// unionNulls returns the OR of the vecs' null masks, freshly allocated, or nil when
// no input has NULLs.
func unionNulls(n int, vs ...*vec) []bool {
	var out []bool
	for _, v := range vs {
		if v.nulls == nil {
			continue
		}
		if out == nil {
			out = make([]bool, n)
			copy(out, v.nulls)
			continue
		}
		for i, x := range v.nulls {
			if x {
				out[i] = true
			}
		}
	}
	return out
}

func (ev *evaluator) eval(e Expr, b *batch) (*vec, error) {
	switch e := e.(type) {
	case *ColRef:
		if e.Index < 0 || e.Index >= len(b.cols) || b.cols[e.Index] == nil {
			panic("BUG: column reference " + e.String() + " outside the input row")
		}
		return b.cols[e.Index], nil
	case *Const:
		return ev.constant(e, b.n), nil
	case *Call:
		return ev.evalCall(e, b)
	case *Cast:
		x, err := ev.eval(e.X, b)
		if err != nil {
			return nil, err
		}
		return ev.cast(x, e.T) // tz.go: in the session's time zone
	case *BoolOp:
		return ev.evalBoolOp(e, b)
	case *Case:
		return ev.evalCase(e, b)
	case *IsNull:
		x, err := ev.eval(e.X, b)
		if err != nil {
			return nil, err
		}
		out := newVec(Bool, b.n)
		for i := range out.b {
			out.b[i] = x.isNull(i) != e.Negated
		}
		return out, nil
	case *InList:
		return ev.evalIn(e, b)
	case *Like:
		return ev.evalLike(e, b)
	case *Param:
		if ev.q == nil || e.Index >= len(ev.q.opts.Params) {
			return nil, Unsupported("a reference to an outer query here")
		}
		v := ev.q.opts.Params[e.Index]
		if v.Type != e.T {
			return castVec(constVec(v, b.n), e.T)
		}
		return constVec(v, b.n), nil
	case *SubPlan:
		return ev.evalSubPlan(e, b)
	}
	return nil, Unsupported("expression " + e.String())
}

// constant returns e's value repeated n times, from the evaluator's cache.
func (ev *evaluator) constant(e *Const, n int) *vec {
	if n > BatchSize {
		return constVec(e.V, n)
	}
	v, ok := ev.consts[e]
	if !ok {
		if ev.consts == nil {
			ev.consts = make(map[*Const]*vec)
		}
		v = constVec(e.V, BatchSize)
		ev.consts[e] = v
	}
	if n == BatchSize {
		return v
	}
	return v.slice(0, n)
}

// selTrue returns the rows where a boolean vec is true (not NULL).
func selTrue(v *vec, sel []int32) []int32 {
	sel = sel[:0]
	if v.nulls == nil {
		for i, x := range v.b {
			if x {
				sel = append(sel, int32(i))
			}
		}
		return sel
	}
	for i, x := range v.b {
		if x && !v.nulls[i] {
			sel = append(sel, int32(i))
		}
	}
	return sel
}

// evalCase evaluates branches lazily: a THEN runs only on the rows that reach it, so
// CASE WHEN x = 0 THEN 0 ELSE 1/x END never divides by zero.
func (ev *evaluator) evalCase(e *Case, b *batch) (*vec, error) {
	if out, ok := ev.evalConstCase(e, b); ok {
		return out, nil
	}
	out := newVec(e.T, b.n)
	remaining := make([]int32, b.n)
	for i := range remaining {
		remaining[i] = int32(i)
	}
	cur := b
	for _, w := range e.Whens {
		if len(remaining) == 0 {
			break
		}
		c, err := ev.eval(w.Cond, cur)
		if err != nil {
			return nil, err
		}
		hit := selTrue(c, nil)
		if len(hit) > 0 {
			sub := cur
			if len(hit) != cur.n {
				sub = cur.gather(hit)
			}
			v, err := ev.eval(w.Then, sub)
			if err != nil {
				return nil, err
			}
			if v, err = castVec(v, e.T); err != nil {
				return nil, err
			}
			for k, r := range hit {
				out.set(int(remaining[r]), v.value(k))
			}
		}
		if len(hit) == cur.n {
			remaining = remaining[:0]
			break
		}
		// Keep rows that were not hit.
		miss := make([]int32, 0, cur.n-len(hit))
		h := 0
		for r := 0; r < cur.n; r++ {
			if h < len(hit) && int(hit[h]) == r {
				h++
				continue
			}
			miss = append(miss, int32(r))
		}
		nrem := make([]int32, len(miss))
		for k, r := range miss {
			nrem[k] = remaining[r]
		}
		remaining = nrem
		cur = cur.gather(miss)
	}
	if len(remaining) > 0 {
		if e.Else == nil {
			for _, r := range remaining {
				out.setNull(int(r))
			}
		} else {
			v, err := ev.eval(e.Else, cur)
			if err != nil {
				return nil, err
			}
			if v, err = castVec(v, e.T); err != nil {
				return nil, err
			}
			for k, r := range remaining {
				out.set(int(r), v.value(k))
			}
		}
	}
	return out, nil
}

func (ev *evaluator) evalIn(e *InList, b *batch) (*vec, error) {
	x, err := ev.eval(e.X, b)
	if err != nil {
		return nil, err
	}
	out := newVec(Bool, b.n)
	var unknown []bool
	for _, item := range e.List {
		y, err := ev.eval(item, b)
		if err != nil {
			return nil, err
		}
		eq, err := compareVec("=", x, y)
		if err != nil {
			return nil, err
		}
		for i := 0; i < b.n; i++ {
			if eq.isNull(i) {
				if unknown == nil {
					unknown = make([]bool, b.n)
				}
				unknown[i] = true
			} else if eq.b[i] {
				out.b[i] = true
			}
		}
	}
	for i := 0; i < b.n; i++ {
		if unknown != nil && unknown[i] && !out.b[i] {
			out.setNull(i)
			continue
		}
		if e.Negated {
			out.b[i] = !out.b[i]
		}
	}
	return out, nil
}

func (ev *evaluator) evalLike(e *Like, b *batch) (*vec, error) {
	x, err := ev.eval(e.X, b)
	if err != nil {
		return nil, err
	}
	out := newVec(Bool, b.n)
	out.nulls = unionNulls(b.n, x)
	var m *likeMatcher
	if pc, ok := e.Pattern.(*Const); ok {
		if pc.V.Null {
			return constVec(NullValue(Bool), b.n), nil
		}
		m = ev.likes[e]
		if m == nil {
			m = newLikeMatcher(pc.V.S, e.CaseInsensitive)
			ev.likes[e] = m
		}
		if x.isDict && len(x.dict) <= b.n {
			// Evaluate the pattern once per dictionary value.
			per := make([]bool, len(x.dict))
			for id, s := range x.dict {
				per[id] = m.match(s) != e.Negated
			}
			for i, id := range x.ids {
				if !out.isNull(i) {
					out.b[i] = per[id]
				}
			}
			return out, nil
		}
		for i := 0; i < b.n; i++ {
			if !out.isNull(i) {
				out.b[i] = m.match(x.str(i)) != e.Negated
			}
		}
		return out, nil
	}
	p, err := ev.eval(e.Pattern, b)
	if err != nil {
		return nil, err
	}
	out.nulls = unionNulls(b.n, x, p)
	for i := 0; i < b.n; i++ {
		if !out.isNull(i) {
			out.b[i] = newLikeMatcher(p.str(i), e.CaseInsensitive).match(x.str(i)) != e.Negated
		}
	}
	return out, nil
}

// likeMatcher matches SQL LIKE patterns ('%', '_', '\' escape).
type likeMatcher struct {
	ci      bool
	toks    []likeTok
	literal string // pattern without wildcards: plain equality
	isLit   bool
}

type likeTok struct {
	kind byte // 'l' literal, '_' one char, '%' any
	s    string
}

func newLikeMatcher(p string, ci bool) *likeMatcher {
	if ci {
		p = strings.ToLower(p)
	}
	m := &likeMatcher{ci: ci}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			m.toks = append(m.toks, likeTok{kind: 'l', s: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			if i+1 < len(p) {
				i++
				lit.WriteByte(p[i])
			}
		case '%':
			flush()
			if len(m.toks) == 0 || m.toks[len(m.toks)-1].kind != '%' {
				m.toks = append(m.toks, likeTok{kind: '%'})
			}
		case '_':
			flush()
			m.toks = append(m.toks, likeTok{kind: '_'})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	if len(m.toks) == 0 {
		m.isLit = true
	} else if len(m.toks) == 1 && m.toks[0].kind == 'l' {
		m.isLit, m.literal = true, m.toks[0].s
	}
	return m
}

func (m *likeMatcher) match(s string) bool {
	if m.ci {
		s = strings.ToLower(s)
	}
	if m.isLit {
		return s == m.literal
	}
	return likeMatch(m.toks, s)
}

func likeMatch(toks []likeTok, s string) bool {
	for len(toks) > 0 {
		t := toks[0]
		switch t.kind {
		case 'l':
			if !strings.HasPrefix(s, t.s) {
				return false
			}
			s = s[len(t.s):]
		case '_':
			if s == "" {
				return false
			}
			_, size := decodeRune(s)
			s = s[size:]
		case '%':
			rest := toks[1:]
			if len(rest) == 0 {
				return true
			}
			if rest[0].kind == 'l' && (len(rest) == 1) {
				return strings.HasSuffix(s, rest[0].s)
			}
			for i := 0; i <= len(s); i++ {
				if i > 0 && i < len(s) && s[i]&0xC0 == 0x80 {
					continue // not a rune boundary
				}
				if rest[0].kind == 'l' && !strings.HasPrefix(s[i:], rest[0].s) {
					continue
				}
				if likeMatch(rest, s[i:]) {
					return true
				}
			}
			return false
		}
		toks = toks[1:]
	}
	return s == ""
}

func decodeRune(s string) (rune, int) {
	for i, r := range s {
		if i == 0 {
			n := len(string(r))
			if r == 0xFFFD && s[0] >= 0x80 {
				n = 1
			}
			return r, n
		}
	}
	return 0, 0
}

// cmpFloat orders floats as PostgreSQL does: NaN equals NaN and sorts above everything.
func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	an, bn := a != a, b != b
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	}
	return -1
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func ivalKey(x ival) float64 {
	return float64(x.M)*30*float64(usPerDay) + float64(x.D)*float64(usPerDay) + float64(x.U)
}

// ivalNorm is x's span as PostgreSQL's interval_cmp_value computes it (months of
// 30 days, days of 24 hours), exactly: whole days and the microseconds left,
// 0 <= us < usPerDay. Equal spans are equal intervals ('1 mon' = '30 days'), in
// comparisons, sorting, grouping, DISTINCT and join keys.
func ivalNorm(x ival) (days, us int64) {
	days = int64(x.M)*30 + int64(x.D) + x.U/usPerDay
	us = x.U % usPerDay
	if us < 0 {
		days--
		us += usPerDay
	}
	return days, us
}

// cmpIval compares two intervals as PostgreSQL's interval_cmp does.
func cmpIval(a, b ival) int {
	ad, au := ivalNorm(a)
	bd, bu := ivalNorm(b)
	if ad != bd {
		return cmpInt(ad, bd)
	}
	return cmpInt(au, bu)
}

// unifyForCompare unifies two operand vecs for comparison: both converted to the same
// physical kind. Untyped text operands are parsed as the other side's type.
func unifyForCompare(x, y *vec) (*vec, *vec, error) {
	var err error
	if x.t.ID == TypeUnknown && y.t.ID != TypeUnknown && y.t.ID != TypeText {
		if x, err = castVec(x, y.t); err != nil {
			return nil, nil, err
		}
	}
	if y.t.ID == TypeUnknown && x.t.ID != TypeUnknown && x.t.ID != TypeText {
		if y, err = castVec(y, x.t); err != nil {
			return nil, nil, err
		}
	}
	kx, ky := kindOf(x.t), kindOf(y.t)
	switch {
	case (x.t.IsDecimal() || y.t.IsDecimal()) && kx == kInt && ky == kInt && x.t.IsNumeric() && y.t.IsNumeric():
		// Both exact: compare at the larger scale (decimal.go), in floats if that overflows.
		s := max(x.t.Scale, y.t.Scale)
		a, errA := decimalOf(x, s)
		b, errB := decimalOf(y, s)
		if errA == nil && errB == nil {
			t := Decimal(0, int(s))
			x = &vec{t: t, n: x.n, nulls: x.nulls, i: a}
			y = &vec{t: t, n: y.n, nulls: y.nulls, i: b}
			break
		}
		if x, err = castVec(x, Float64); err != nil {
			return nil, nil, err
		}
		if y, err = castVec(y, Float64); err != nil {
			return nil, nil, err
		}
	case x.t.ID == TypeNumeric && y.t.ID == TypeNumeric:
	case x.t.ID == TypeNumeric && x.nx != nil && hasExact(y) || y.t.ID == TypeNumeric && y.nx != nil && hasExact(x):
		// an exact numeric beside an integer or decimal: both as exact numerics
		if x, err = castVec(x, Numeric); err != nil {
			return nil, nil, err
		}
		if y, err = castVec(y, Numeric); err != nil {
			return nil, nil, err
		}
	case x.t.IsNumeric() && y.t.IsNumeric():
		if kx != ky {
			if x, err = castVec(x, Float64); err != nil {
				return nil, nil, err
			}
			if y, err = castVec(y, Float64); err != nil {
				return nil, nil, err
			}
		}
	case x.t.ID == TypeDate && y.t.IsTime():
		if x, err = castVec(x, y.t); err != nil {
			return nil, nil, err
		}
	case y.t.ID == TypeDate && x.t.IsTime():
		if y, err = castVec(y, x.t); err != nil {
			return nil, nil, err
		}
	case kx != ky:
		return nil, nil, undefinedFunc("=", []Type{x.t, y.t})
	}
	return x, y, nil
}

// cmpVecs returns -1/0/1 per row of x vs y; rows where either is NULL are marked in nulls.
func cmpVecs(x, y *vec) ([]int8, []bool, error) {
	x, y, err := unifyForCompare(x, y)
	if err != nil {
		return nil, nil, err
	}
	n := x.n
	res := make([]int8, n)
	nulls := unionNulls(n, x, y)
	switch kindOf(x.t) {
	case kInt:
		a, b := x.i, y.i
		for i := range res {
			res[i] = int8(cmpInt(a[i], b[i]))
		}
	case kFloat:
		a, b := x.f, y.f
		for i := range res {
			res[i] = int8(cmpFloat(a[i], b[i]))
		}
		if x.nx != nil && y.nx != nil { // exact numerics: ties a float cannot break
			for i, c := range res {
				if c == 0 && (nulls == nil || !nulls[i]) {
					res[i] = int8(cmpNumericText(x.nx[i], y.nx[i]))
				}
			}
		}
	case kBool:
		for i := range res {
			a, b := x.b[i], y.b[i]
			if a != b {
				if a {
					res[i] = 1
				} else {
					res[i] = -1
				}
			}
		}
	case kText:
		for i := range res {
			if nulls != nil && nulls[i] {
				continue
			}
			res[i] = int8(strings.Compare(x.str(i), y.str(i)))
		}
	case kInterval:
		for i := range res {
			res[i] = int8(cmpIval(x.iv[i], y.iv[i]))
		}
	}
	return res, nulls, nil
}

func compareVec(op string, x, y *vec) (*vec, error) {
	res, nulls, err := cmpVecs(x, y)
	if err != nil {
		return nil, err
	}
	out := &vec{t: Bool, n: len(res), nulls: nulls, b: make([]bool, len(res))}
	switch op {
	case "=":
		for i, c := range res {
			out.b[i] = c == 0
		}
	case "<>", "!=":
		for i, c := range res {
			out.b[i] = c != 0
		}
	case "<":
		for i, c := range res {
			out.b[i] = c < 0
		}
	case "<=":
		for i, c := range res {
			out.b[i] = c <= 0
		}
	case ">":
		for i, c := range res {
			out.b[i] = c > 0
		}
	case ">=":
		for i, c := range res {
			out.b[i] = c >= 0
		}
	default:
		panic("BUG: compare operator " + op)
	}
	return out, nil
}

// fastCompareConst compares a numeric or time column against a constant without
// materializing the constant. ok is false when the shapes do not fit.
func fastCompareConst(op string, x *vec, c Value) (*vec, bool) {
	if c.Null {
		return nil, false
	}
	if x.t.IsDecimal() && (c.Type.IsDecimal() || c.Type.IsInteger()) {
		// price > 10, price = 12.5: the constant at the column's scale when exact.
		cs := uint8(0)
		if c.Type.IsDecimal() {
			cs = c.Type.Scale
		}
		if cs > x.t.Scale {
			return nil, false
		}
		k, ok := rescale(c.I, cs, x.t.Scale)
		if !ok {
			return nil, false
		}
		c = Value{Type: x.t, I: k}
	}
	out := &vec{t: Bool, n: x.n, nulls: x.nulls, b: make([]bool, x.n)}
	switch {
	case kindOf(x.t) == kInt && kindOf(c.Type) == kInt && (x.t.IsInteger() && c.Type.IsInteger() || x.t.IsTime() && c.Type.IsTime() || x.t == c.Type):
		k := c.I
		a := x.i
		switch op {
		case "=":
			for i, v := range a {
				out.b[i] = v == k
			}
		case "<>", "!=":
			for i, v := range a {
				out.b[i] = v != k
			}
		case "<":
			for i, v := range a {
				out.b[i] = v < k
			}
		case "<=":
			for i, v := range a {
				out.b[i] = v <= k
			}
		case ">":
			for i, v := range a {
				out.b[i] = v > k
			}
		case ">=":
			for i, v := range a {
				out.b[i] = v >= k
			}
		default:
			return nil, false
		}
		return out, true
	case kindOf(x.t) == kFloat && c.Type.IsNumeric() && !math.IsNaN(c.F) && x.nx == nil:
		k := numFloat(c)
		a := x.f
		switch op {
		case "=":
			for i, v := range a {
				out.b[i] = v == k
			}
		case "<>", "!=":
			for i, v := range a {
				out.b[i] = v != k
			}
		case "<":
			for i, v := range a {
				out.b[i] = v < k
			}
		case "<=":
			for i, v := range a {
				out.b[i] = v <= k
			}
		case ">":
			for i, v := range a {
				out.b[i] = v > k || v != v
			}
		case ">=":
			for i, v := range a {
				out.b[i] = v >= k || v != v
			}
		default:
			return nil, false
		}
		return out, true
	case x.isDict && (c.Type.ID == TypeText || c.Type.ID == TypeUnknown) && len(x.dict) <= 4*x.n:
		per := make([]bool, len(x.dict))
		for id, s := range x.dict {
			r := strings.Compare(s, c.S)
			switch op {
			case "=":
				per[id] = r == 0
			case "<>", "!=":
				per[id] = r != 0
			case "<":
				per[id] = r < 0
			case "<=":
				per[id] = r <= 0
			case ">":
				per[id] = r > 0
			case ">=":
				per[id] = r >= 0
			default:
				return nil, false
			}
		}
		for i, id := range x.ids {
			if x.nulls == nil || !x.nulls[i] {
				out.b[i] = per[id]
			}
		}
		return out, true
	}
	return nil, false
}

func flipOp(op string) string {
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}
