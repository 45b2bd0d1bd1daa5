package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Window functions: row_number, rank, dense_rank, lag, lead, first_value,
// last_value, and count/sum/avg/min/max over a frame, each with its own PARTITION
// BY and ORDER BY. The input is read whole (charged to the memory limit); for each
// function the rows are ordered by (partition keys, order keys) and the function is
// computed partition by partition. Frames: ROWS BETWEEN {UNBOUNDED | n} PRECEDING |
// CURRENT ROW | {n | UNBOUNDED} FOLLOWING, and RANGE's default forms (with ORDER BY,
// UNBOUNDED PRECEDING to the current row and its peers; without, the partition).

// FrameBoundKind is one end of a window frame.
type FrameBoundKind uint8

const (
	UnboundedPreceding FrameBoundKind = iota
	Preceding
	CurrentRow
	Following
	UnboundedFollowing
)

// FrameBound is a frame end: N rows before or after for Preceding/Following.
type FrameBound struct {
	Kind FrameBoundKind
	N    int64
}

// Frame is a window frame. Rows false means RANGE (peers of the current row belong
// to it).
type Frame struct {
	Rows       bool
	Start, End FrameBound
}

// DefaultFrame is PostgreSQL's frame when none is given.
var DefaultFrame = Frame{Start: FrameBound{Kind: UnboundedPreceding}, End: FrameBound{Kind: CurrentRow}}

// WindowFunc is one window function call.
type WindowFunc struct {
	Func      string
	Args      []Expr // over the Window's input
	Partition []Expr
	Order     []SortKey
	Frame     Frame
	T         Type
}

// Window appends one column per function to its input's rows.
type Window struct {
	Input Plan
	Funcs []WindowFunc
}

func (p *Window) Fields() []Field {
	out := append([]Field(nil), p.Input.Fields()...)
	for _, f := range p.Funcs {
		out = append(out, Field{Name: f.Func, Type: f.T})
	}
	return out
}
func (p *Window) Children() []Plan { return []Plan{p.Input} }

func (p *Window) explainLine() string {
	parts := make([]string, len(p.Funcs))
	for i, f := range p.Funcs {
		parts[i] = f.Func + "(" + exprList(f.Args) + ")"
		var over []string
		if len(f.Partition) > 0 {
			over = append(over, "PARTITION BY "+exprList(f.Partition))
		}
		if len(f.Order) > 0 {
			over = append(over, "ORDER BY "+sortKeysText(f.Order))
		}
		parts[i] += " OVER (" + strings.Join(over, " ") + ")"
	}
	return "Window " + strings.Join(parts, ", ")
}

// ResolveWindow returns the result type of window function name over args.
func ResolveWindow(name string, args []Type) (Type, error) {
	switch name {
	case "row_number", "rank", "dense_rank":
		if len(args) == 0 {
			return Int64, nil
		}
	case "lag", "lead":
		if len(args) >= 1 && len(args) <= 3 && (len(args) < 2 || args[1].IsInteger()) {
			return args[0], nil
		}
	case "first_value", "last_value":
		if len(args) == 1 {
			return args[0], nil
		}
	case "count", "sum", "avg", "min", "max":
		if name == "count" && len(args) == 0 {
			return Int64, nil
		}
		return ResolveAgg(name, args, false)
	}
	return Unknown, undefinedFunc(name, args)
}

type windowOp struct {
	q    *query
	p    *Window
	in   operator
	ev   *evaluator
	out  []*batch
	done bool
}

func newWindowOp(q *query, p *Window) (batchOperator, error) {
	in, err := q.build(p.Input)
	if err != nil {
		return nil, err
	}
	return &windowOp{q: q, p: p, in: in, ev: q.newEvaluator()}, nil
}

func (o *windowOp) close() { o.in.close() }

func (o *windowOp) nextBatch(ctx context.Context) (*batch, error) {
	if !o.done {
		o.done = true
		if err := o.run(ctx); err != nil {
			return nil, err
		}
	}
	if len(o.out) == 0 {
		return nil, nil
	}
	b := o.out[0]
	o.out = o.out[1:]
	return b, nil
}

func (o *windowOp) run(ctx context.Context) error {
	fields := o.p.Input.Fields()
	all := &batch{cols: make([]*vec, len(fields))}
	for i, f := range fields {
		all.cols[i] = newVec(f.Type, 0)
	}
	for {
		b, err := o.q.codec.pull(ctx, o.in)
		if err != nil {
			return err
		}
		if b == nil {
			break
		}
		if err := o.q.mem.grow(b.bytes()); err != nil {
			return err
		}
		for i, c := range b.cols {
			if c == nil {
				c = constVec(NullValue(fields[i].Type), b.n)
			}
			all.cols[i].appendVec(c)
		}
		all.n += b.n
	}
	if all.n == 0 {
		return nil
	}
	for i := range o.p.Funcs {
		res, err := o.compute(&o.p.Funcs[i], all)
		if err != nil {
			return err
		}
		all.cols = append(all.cols, res)
	}
	for lo := 0; lo < all.n; lo += BatchSize {
		o.out = append(o.out, all.slice(lo, min(lo+BatchSize, all.n)))
	}
	return nil
}

func (o *windowOp) evalAll(es []Expr, b *batch) ([]*vec, error) {
	out := make([]*vec, len(es))
	for i, e := range es {
		v, err := o.ev.eval(e, b)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// compute evaluates one window function over all rows; the result is in row order.
func (o *windowOp) compute(f *WindowFunc, all *batch) (*vec, error) {
	part, err := o.evalAll(f.Partition, all)
	if err != nil {
		return nil, err
	}
	okeys := make([]Expr, len(f.Order))
	for i, k := range f.Order {
		okeys[i] = k.Expr
	}
	ord, err := o.evalAll(okeys, all)
	if err != nil {
		return nil, err
	}
	args, err := o.evalAll(f.Args, all)
	if err != nil {
		return nil, err
	}
	// The function's key and argument columns, its row order and its result are
	// as long as the input: charge them (a column that is a plain reference to an
	// input column is counted twice; better high than not at all).
	held := int64(all.n) * (4 + 8)
	for _, vs := range [][]*vec{part, ord, args} {
		for _, v := range vs {
			held += v.bytes()
		}
	}
	if err := o.q.mem.grow(held); err != nil {
		return nil, err
	}
	perm := make([]int32, all.n)
	for i := range perm {
		perm[i] = int32(i)
	}
	partKeys := make([]SortKey, len(part)) // ascending, NULLs last: only equality matters
	slices.SortStableFunc(perm, func(a, b int32) int {
		if c := cmpSortKeys(partKeys, part, int(a), part, int(b)); c != 0 {
			return c
		}
		return cmpSortKeys(f.Order, ord, int(a), ord, int(b))
	})
	out := newVec(f.T, all.n)
	for lo := 0; lo < len(perm); {
		hi := lo + 1
		for hi < len(perm) && cmpSortKeys(partKeys, part, int(perm[lo]), part, int(perm[hi])) == 0 {
			hi++
		}
		if err := o.partition(f, perm[lo:hi], ord, args, out); err != nil {
			return nil, err
		}
		lo = hi
	}
	return out, nil
}

// partition computes f over the rows rows (in window order) of one partition.
func (o *windowOp) partition(f *WindowFunc, rows []int32, ord, args []*vec, out *vec) error {
	n := len(rows)
	peer := func(a, b int) bool { return cmpSortKeys(f.Order, ord, int(rows[a]), ord, int(rows[b])) == 0 }
	// peer group end (exclusive) for each position
	peerEnd := make([]int, n)
	for i := n - 1; i >= 0; i-- {
		if i+1 < n && peer(i, i+1) {
			peerEnd[i] = peerEnd[i+1]
		} else {
			peerEnd[i] = i + 1
		}
	}
	switch f.Func {
	case "row_number":
		for i, r := range rows {
			out.i[r] = int64(i + 1)
		}
		return nil
	case "rank", "dense_rank":
		rank, dense := int64(1), int64(1)
		for i, r := range rows {
			if i > 0 && !peer(i-1, i) {
				rank, dense = int64(i+1), dense+1
			}
			if f.Func == "rank" {
				out.i[r] = rank
			} else {
				out.i[r] = dense
			}
		}
		return nil
	case "lag", "lead":
		x := args[0]
		for i, r := range rows {
			off := int64(1)
			if len(args) > 1 {
				if args[1].isNull(int(r)) {
					out.setNull(int(r))
					continue
				}
				off = args[1].i[r]
			}
			j := int64(i) - off
			if f.Func == "lead" {
				j = int64(i) + off
			}
			if j < 0 || j >= int64(n) {
				if len(args) > 2 {
					out.set(int(r), args[2].value(int(r)))
				} else {
					out.setNull(int(r))
				}
				continue
			}
			out.set(int(r), x.value(int(rows[j])))
		}
		return nil
	}
	// Frame-based: first_value, last_value and the aggregates.
	for i, r := range rows {
		lo, hi := frameBounds(f, i, n, peerEnd)
		if lo >= hi {
			switch f.Func {
			case "count":
				out.i[r] = 0
			default:
				out.setNull(int(r))
			}
			continue
		}
		switch f.Func {
		case "first_value":
			out.set(int(r), args[0].value(int(rows[lo])))
		case "last_value":
			out.set(int(r), args[0].value(int(rows[hi-1])))
		default:
			v, err := frameAgg(f, args, rows[lo:hi])
			if err != nil {
				return err
			}
			out.set(int(r), v)
		}
	}
	return nil
}

// frameBounds returns the frame [lo, hi) of position i in a partition of n rows.
func frameBounds(f *WindowFunc, i, n int, peerEnd []int) (int, int) {
	fr := f.Frame
	if len(f.Order) == 0 && !fr.Rows {
		return 0, n // RANGE without ORDER BY: every row is a peer
	}
	bound := func(b FrameBound, start bool) int {
		switch b.Kind {
		case UnboundedPreceding:
			return 0
		case UnboundedFollowing:
			return n
		case CurrentRow:
			if fr.Rows {
				if start {
					return i
				}
				return i + 1
			}
			if start {
				// the first peer of i
				j := i
				for j > 0 && peerEnd[j-1] == peerEnd[i] {
					j--
				}
				return j
			}
			return peerEnd[i]
		case Preceding:
			if start {
				return max(0, i-int(b.N))
			}
			return max(0, i-int(b.N)+1)
		default: // Following
			if start {
				return min(n, i+int(b.N))
			}
			return min(n, i+int(b.N)+1)
		}
	}
	return bound(fr.Start, true), bound(fr.End, false)
}

// frameAgg computes count/sum/avg/min/max over rows (input row numbers).
func frameAgg(f *WindowFunc, args []*vec, rows []int32) (Value, error) {
	res := Value{Type: f.T, Null: true}
	if f.Func == "count" {
		c := int64(0)
		for _, r := range rows {
			if len(args) == 0 || !args[0].isNull(int(r)) {
				c++
			}
		}
		return Value{Type: Int64, I: c}, nil
	}
	x := args[0]
	var si int64
	var sf float64
	cnt := 0
	best := -1 // min/max: the row holding the best value so far
	for _, r := range rows {
		if x.isNull(int(r)) {
			continue
		}
		cnt++
		switch f.Func {
		case "sum", "avg":
			if kindOf(x.t) == kInt {
				si += x.i[r]
				sf += float64(x.i[r])
			} else {
				sf += x.f[r]
			}
		case "min", "max":
			if best < 0 {
				best = int(r)
				continue
			}
			if c := cmpRow(x, int(r), x, best); (f.Func == "min" && c < 0) || (f.Func == "max" && c > 0) {
				best = int(r)
			}
		default:
			return res, Unsupported(fmt.Sprintf("window function %s", f.Func))
		}
	}
	if cnt == 0 {
		return res, nil
	}
	switch f.Func {
	case "sum":
		if kindOf(f.T) == kInt {
			return Value{Type: f.T, I: si}, nil
		}
		return Value{Type: f.T, F: sf}, nil
	case "avg":
		return Value{Type: f.T, F: sf / float64(cnt)}, nil
	}
	v := x.value(best)
	v.Type = f.T
	return v, nil
}
