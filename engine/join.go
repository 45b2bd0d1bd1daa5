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
)

// Join combines rows of Left and Right. A pair matches when every LeftKeys[i]
// (over Left's columns) equals RightKeys[i] (over Right's columns) — NULL equals
// nothing — and Cond (over the output row: Left's columns then Right's), when set,
// is true. With no keys every pair is a candidate (a cross product filtered by
// Cond). The output is Left's fields followed by Right's.
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
	kind := "Inner"
	if p.Kind == LeftJoin {
		kind = "Left"
	}
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
	q       *query
	p       *Join
	left    operator
	right   operator
	ev      *evaluator
	built   bool
	rows    *batch             // the right input, materialized (plain text)
	table   map[string][]int32 // key → right rows
	all     []int32            // right rows, for a join without keys
	pending []*batch
	nLeft   int
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
		case kInterval:
			iv := k.iv[i]
			dst = binary.LittleEndian.AppendUint64(dst, uint64(iv.U))
			dst = binary.LittleEndian.AppendUint32(dst, uint32(iv.M))
			dst = binary.LittleEndian.AppendUint32(dst, uint32(iv.D))
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
		for r := 0; r < b.n; r++ {
			if len(keys) == 0 {
				o.all = append(o.all, int32(base+r))
				continue
			}
			var ok bool
			if key, ok = appendJoinKey(key[:0], keys, r); ok {
				o.table[string(key)] = append(o.table[string(key)], int32(base+r))
			}
		}
	}
}

func (o *joinOp) nextBatch(ctx context.Context) (*batch, error) {
	if !o.built {
		if err := o.build(ctx); err != nil {
			return nil, err
		}
	}
	for len(o.pending) == 0 {
		lb, err := o.q.codec.pull(ctx, o.left)
		if err != nil || lb == nil {
			return nil, err
		}
		if err := o.probe(lb); err != nil {
			return nil, err
		}
	}
	b := o.pending[0]
	o.pending = o.pending[1:]
	return b, nil
}

// probe joins one left batch and queues the output batches.
func (o *joinOp) probe(lb *batch) error {
	keys, err := o.evalKeys(o.p.LeftKeys, lb)
	if err != nil {
		return err
	}
	var lsel, rsel []int32
	var key []byte
	for i := 0; i < lb.n; i++ {
		var match []int32
		if len(o.p.LeftKeys) == 0 {
			match = o.all
		} else if k, ok := appendJoinKey(key[:0], keys, i); ok {
			key = k
			match = o.table[string(k)]
		}
		for _, r := range match {
			lsel = append(lsel, int32(i))
			rsel = append(rsel, r)
		}
		if len(lsel) > 1<<20 {
			if err := o.q.mem.grow(int64(len(lsel)) * 8); err != nil {
				return err
			}
		}
	}
	matched := make([]bool, lb.n)
	for lo := 0; lo < len(lsel); lo += BatchSize {
		hi := min(lo+BatchSize, len(lsel))
		out := o.joined(lb, lsel[lo:hi], rsel[lo:hi])
		if o.p.Cond != nil {
			c, err := o.ev.eval(o.p.Cond, out)
			if err != nil {
				return err
			}
			sel := selTrue(c, make([]int32, 0, out.n))
			for _, s := range sel {
				matched[lsel[lo+int(s)]] = true
			}
			if len(sel) < out.n {
				out = out.gather(sel)
			}
		} else {
			for _, l := range lsel[lo:hi] {
				matched[l] = true
			}
		}
		if out.n > 0 {
			o.pending = append(o.pending, out)
		}
	}
	if o.p.Kind == LeftJoin {
		var unmatched []int32
		for i, m := range matched {
			if !m {
				unmatched = append(unmatched, int32(i))
			}
		}
		for lo := 0; lo < len(unmatched); lo += BatchSize {
			hi := min(lo+BatchSize, len(unmatched))
			o.pending = append(o.pending, o.joined(lb, unmatched[lo:hi], nil))
		}
	}
	return nil
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
