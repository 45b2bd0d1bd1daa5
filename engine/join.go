package engine

import (
	"context"
	"encoding/binary"
	"math"
	"strings"
)

// JoinKind is the kind of a Join.
type JoinKind uint8

const (
	InnerJoin JoinKind = iota
	LeftJoin           // left rows without a match, with NULL right columns
	RightJoin          // right rows without a match, with NULL left columns
	FullJoin           // both: unmatched left rows, then unmatched right rows
)

// keepsLeft reports whether left rows without a match are emitted (with NULLs).
func (k JoinKind) keepsLeft() bool { return k == LeftJoin || k == FullJoin }

// keepsRight reports whether right rows without a match are emitted (with NULLs).
func (k JoinKind) keepsRight() bool { return k == RightJoin || k == FullJoin }

func (k JoinKind) String() string {
	return [...]string{"Inner", "Left", "Right", "Full"}[k]
}

// Join combines rows of Left and Right. A pair matches when every LeftKeys[i]
// (over Left's columns) equals RightKeys[i] (over Right's columns) — NULL equals
// nothing — and Cond (over the output row: Left's columns then Right's), when set,
// is true. With no keys every pair is a candidate (a cross product filtered by
// Cond). The output is Left's fields followed by Right's. An outer join decides
// "unmatched" after Cond, as PostgreSQL's ON does: a right row whose key pairs all
// fail Cond is emitted once, with NULL left columns (RIGHT and FULL), after every
// left row has been probed.
type Join struct {
	Left, Right         Plan
	Kind                JoinKind
	LeftKeys, RightKeys []Expr
	Cond                Expr
}

func (p *Join) Fields() []Field {
	return append(append([]Field(nil), p.Left.Fields()...), p.Right.Fields()...)
}
func (p *Join) Children() []Plan { return []Plan{p.Left, p.Right} }

func (p *Join) explainLine() string {
	kind := p.Kind.String()
	line := "HashJoin " + kind
	if len(p.LeftKeys) > 0 {
		pairs := make([]string, len(p.LeftKeys))
		for i := range p.LeftKeys {
			pairs[i] = p.LeftKeys[i].String() + " = right." + p.RightKeys[i].String()
		}
		line += " on " + strings.Join(pairs, " AND ")
	} else {
		line = "NestedLoopJoin " + kind
	}
	if p.Cond != nil {
		line += " filter=" + p.Cond.String()
	}
	return line
}

// joinOp is a hash join: the right input is read whole into memory (charged to the
// query's limit) and hashed on its keys; left batches stream through and probe.
type joinOp struct {
	q     *query
	p     *Join
	left  operator
	right operator
	ev    *evaluator
	built bool
	rows  *batch             // the right input, materialized (plain text)
	table map[string][]int32 // key → right rows
	all   []int32            // right rows, for a join without keys
	nLeft int

	// The left batch being probed: row li, its match-th right row mi.
	lb        *batch
	lkeys     []*vec
	li, mi    int
	match     []int32 // right rows of left row li
	matched   []bool  // LEFT JOIN: left rows of lb that met a right row
	unmatched []int32 // LEFT JOIN: left rows of lb still to emit with NULLs
	rmatched  []bool  // RIGHT/FULL JOIN: right rows that met a left row
	rdone     bool    // RIGHT/FULL JOIN: the left input is exhausted
	rnext     int     // RIGHT/FULL JOIN: next right row to consider for NULL-extension
	lsel      []int32 // scratch
	rsel      []int32
	key       []byte
}

func newJoinOp(q *query, p *Join) (batchOperator, error) {
	left, err := q.build(p.Left)
	if err != nil {
		return nil, err
	}
	right, err := q.build(p.Right)
	if err != nil {
		left.close()
		return nil, err
	}
	return &joinOp{q: q, p: p, left: left, right: right, ev: q.newEvaluator(), nLeft: len(p.Left.Fields())}, nil
}

func (o *joinOp) close() {
	o.left.close()
	o.right.close()
}

// appendKey encodes row i of the key vecs; ok is false when a key is NULL.
func appendJoinKey(dst []byte, keys []*vec, i int) ([]byte, bool) {
	for _, k := range keys {
		if k.isNull(i) {
			return dst, false
		}
		switch kindOf(k.t) {
		case kInt:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(k.i[i]))
		case kFloat:
			if k.nx != nil { // exact numerics: by value (appendNumericKey), length first
				n := len(dst)
				dst = appendNumericKey(append(dst, 0, 0, 0, 0), k.nx[i])
				binary.LittleEndian.PutUint32(dst[n:], uint32(len(dst)-n-4))
				break
			}
			f := k.f[i]
			if f == 0 {
				f = 0 // -0 = 0
			}
			if math.IsNaN(f) {
				f = math.NaN() // PostgreSQL: NaN = NaN
			}
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
		case kBool:
			if k.b[i] {
				dst = append(dst, 1)
			} else {
				dst = append(dst, 0)
			}
		case kText:
			s := k.str(i)
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		case kInterval: // by span, as interval = compares (ivalNorm)
			days, us := ivalNorm(k.iv[i])
			dst = binary.LittleEndian.AppendUint64(dst, uint64(days))
			dst = binary.LittleEndian.AppendUint64(dst, uint64(us))
		}
	}
	return dst, true
}

func (o *joinOp) evalKeys(exprs []Expr, b *batch) ([]*vec, error) {
	keys := make([]*vec, len(exprs))
	for i, e := range exprs {
		v, err := o.ev.eval(e, b)
		if err != nil {
			return nil, err
		}
		keys[i] = v
	}
	return keys, nil
}

func (o *joinOp) build(ctx context.Context) error {
	o.built = true
	fields := o.p.Right.Fields()
	o.rows = &batch{cols: make([]*vec, len(fields))}
	for i, f := range fields {
		o.rows.cols[i] = newVec(f.Type, 0)
	}
	o.table = map[string][]int32{}
	var key []byte
	for {
		b, err := o.q.codec.pull(ctx, o.right)
		if err != nil {
			return err
		}
		if b == nil {
			if o.p.Kind.keepsRight() {
				o.rmatched = make([]bool, o.rows.n)
				return o.q.mem.grow(int64(o.rows.n))
			}
			return nil
		}
		if err := o.q.mem.grow(b.bytes()); err != nil {
			return err
		}
		keys, err := o.evalKeys(o.p.RightKeys, b)
		if err != nil {
			return err
		}
		base := o.rows.n
		for i, c := range b.cols {
			if c == nil {
				c = constVec(NullValue(fields[i].Type), b.n)
			}
			o.rows.cols[i].appendVec(c)
		}
		o.rows.n += b.n
		// The hash table: 4 bytes per row plus, per distinct key, the key and
		// the map entry with its slice header (about 64 bytes).
		held := int64(b.n) * 4
		for r := 0; r < b.n; r++ {
			if len(keys) == 0 {
				o.all = append(o.all, int32(base+r))
				continue
			}
			var ok bool
			if key, ok = appendJoinKey(key[:0], keys, r); ok {
				rows, seen := o.table[string(key)]
				if !seen {
					held += int64(len(key)) + 64
				}
				o.table[string(key)] = append(rows, int32(base+r))
			}
		}
		if err := o.q.mem.grow(held); err != nil {
			return err
		}
	}
}

func (o *joinOp) nextBatch(ctx context.Context) (*batch, error) {
	if !o.built {
		if err := o.build(ctx); err != nil {
			return nil, err
		}
	}
	for {
		if len(o.unmatched) > 0 {
			n := min(len(o.unmatched), BatchSize)
			out := o.joined(o.lb, o.unmatched[:n], nil)
			o.unmatched = o.unmatched[n:]
			return out, nil
		}
		if o.rdone {
			return o.unmatchedRight(), nil
		}
		if o.lb == nil || o.li >= o.lb.n {
			lb, err := o.q.codec.pull(ctx, o.left)
			if err != nil {
				return nil, err
			}
			if lb == nil {
				if !o.p.Kind.keepsRight() {
					return nil, nil
				}
				o.rdone = true
				continue
			}
			if o.lkeys, err = o.evalKeys(o.p.LeftKeys, lb); err != nil {
				return nil, err
			}
			o.lb, o.li, o.mi = lb, 0, 0
			if o.p.Kind.keepsLeft() {
				o.matched = growBool(o.matched, lb.n)
			}
		}
		out, err := o.probe()
		if err != nil {
			return nil, err
		}
		if o.li >= o.lb.n && o.p.Kind.keepsLeft() {
			o.unmatched = o.unmatched[:0]
			for i, m := range o.matched[:o.lb.n] {
				if !m {
					o.unmatched = append(o.unmatched, int32(i))
				}
			}
		}
		if out != nil && out.n > 0 {
			return out, nil
		}
	}
}

// probe joins the current left batch from row o.li on into at most BatchSize output
// rows, so that a row matching many right rows (or a join without keys) streams in
// batches instead of materializing every pair at once.
func (o *joinOp) probe() (*batch, error) {
	lb := o.lb
	lsel, rsel := o.lsel[:0], o.rsel[:0]
	for o.li < lb.n && len(lsel) < BatchSize {
		if o.mi == 0 {
			o.match = nil
			if len(o.p.LeftKeys) == 0 {
				o.match = o.all
			} else if k, ok := appendJoinKey(o.key[:0], o.lkeys, o.li); ok {
				o.key = k
				o.match = o.table[string(k)]
			}
		}
		take := min(len(o.match)-o.mi, BatchSize-len(lsel))
		for _, r := range o.match[o.mi : o.mi+take] {
			lsel = append(lsel, int32(o.li))
			rsel = append(rsel, r)
		}
		o.mi += take
		if o.mi >= len(o.match) {
			o.li++
			o.mi = 0
		}
	}
	o.lsel, o.rsel = lsel, rsel
	if len(lsel) == 0 {
		return nil, nil
	}
	out := o.joined(lb, lsel, rsel)
	if o.p.Cond != nil {
		c, err := o.ev.eval(o.p.Cond, out)
		if err != nil {
			return nil, err
		}
		sel := selTrue(c, make([]int32, 0, out.n))
		if o.p.Kind.keepsLeft() {
			for _, s := range sel {
				o.matched[lsel[s]] = true
			}
		}
		if o.p.Kind.keepsRight() {
			for _, s := range sel {
				o.rmatched[rsel[s]] = true
			}
		}
		if len(sel) < out.n {
			out = out.gather(sel)
		}
		return out, nil
	}
	if o.p.Kind.keepsLeft() {
		for _, l := range lsel {
			o.matched[l] = true
		}
	}
	if o.p.Kind.keepsRight() {
		for _, r := range rsel {
			o.rmatched[r] = true
		}
	}
	return out, nil
}

// unmatchedRight returns the next batch of right rows that met no left row, with
// NULL left columns, or nil when there are no more.
// REQUIRES: the left input is exhausted (o.rdone), so o.rmatched is final.
func (o *joinOp) unmatchedRight() *batch {
	rsel := o.rsel[:0]
	for o.rnext < o.rows.n && len(rsel) < BatchSize {
		if !o.rmatched[o.rnext] {
			rsel = append(rsel, int32(o.rnext))
		}
		o.rnext++
	}
	o.rsel = rsel
	if len(rsel) == 0 {
		return nil
	}
	n := len(rsel)
	fields := o.p.Fields()
	out := &batch{n: n, cols: make([]*vec, 0, len(fields))}
	for i := 0; i < o.nLeft; i++ {
		out.cols = append(out.cols, constVec(NullValue(fields[i].Type), n))
	}
	for _, c := range o.rows.cols {
		out.cols = append(out.cols, c.gather(rsel))
	}
	return out
}

func growBool(s []bool, n int) []bool {
	if cap(s) < n {
		return make([]bool, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// joined builds output rows: left rows lsel with right rows rsel, or, when rsel is
// nil, with every right column NULL.
func (o *joinOp) joined(lb *batch, lsel, rsel []int32) *batch {
	n := len(lsel)
	out := &batch{n: n, cols: make([]*vec, 0, len(lb.cols)+len(o.rows.cols))}
	fields := o.p.Fields()
	for i, c := range lb.cols {
		if c == nil {
			c = constVec(NullValue(fields[i].Type), lb.n)
		}
		out.cols = append(out.cols, c.gather(lsel))
	}
	for j, c := range o.rows.cols {
		if rsel == nil {
			out.cols = append(out.cols, constVec(NullValue(fields[o.nLeft+j].Type), n))
			continue
		}
		out.cols = append(out.cols, c.gather(rsel))
	}
	return out
}
