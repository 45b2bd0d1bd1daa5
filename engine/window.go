package engine

import (
	"context"
	"slices"
	"strings"
)

// Window functions: row_number, rank, dense_rank, lag, lead, first_value,
// last_value, and count/sum/avg/min/max (with FILTER) over a frame, each with its
// own PARTITION BY and ORDER BY. The input is read whole (charged to the memory
// limit); for each function the rows are ordered by (partition keys, order keys)
// and the function is computed partition by partition. Frames (ROWS, RANGE and
// GROUPS, with offsets and EXCLUDE) are in window_frame.go, the aggregates over
// them in window_agg.go: O(n) or O(n log n) per partition, never O(n · frame).

// WindowFunc is one window function call.
type WindowFunc struct {
	Func      string
	Args      []Expr // over the Window's input
	Filter    Expr   // FILTER (WHERE …) of an aggregate; nil when none
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
		if f.Filter != nil {
			parts[i] += " FILTER (WHERE " + f.Filter.String() + ")"
		}
		var over []string
		if len(f.Partition) > 0 {
			over = append(over, "PARTITION BY "+exprList(f.Partition))
		}
		if len(f.Order) > 0 {
			over = append(over, "ORDER BY "+sortKeysText(f.Order))
		}
		if fr := frameText(f.Frame); fr != "" {
			over = append(over, fr)
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
	// Hold the input's batches (each is ours), then join them into columns
	// allocated once at their final length.
	var in []*batch
	total := 0
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
		in = append(in, b)
		total += b.n
	}
	all := &batch{n: total, cols: make([]*vec, len(fields))}
	for i, f := range fields {
		all.cols[i] = vecWithCap(f.Type, total)
	}
	for k, b := range in {
		for i, c := range b.cols {
			if c == nil {
				c = constVec(NullValue(fields[i].Type), b.n)
			}
			all.cols[i].appendVec(c)
		}
		in[k] = nil
	}
	// Offsets are evaluated (and checked) once per execution, even over no rows,
	// as PostgreSQL does.
	offs := make([]frameOffsets, len(o.p.Funcs))
	for i := range o.p.Funcs {
		var err error
		if offs[i], err = o.evalFrameOffsets(&o.p.Funcs[i]); err != nil {
			return err
		}
	}
	if all.n == 0 {
		return nil
	}
	for i := range o.p.Funcs {
		res, err := o.compute(&o.p.Funcs[i], offs[i], all)
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

// vecWithCap returns an empty vec of type t with room for n rows.
func vecWithCap(t Type, n int) *vec {
	v := newVec(t, 0)
	switch kindOf(t) {
	case kInt:
		v.i = make([]int64, 0, n)
	case kFloat:
		v.f = make([]float64, 0, n)
	case kBool:
		v.b = make([]bool, 0, n)
	case kText:
		v.s = make([]string, 0, n)
	case kInterval:
		v.iv = make([]ival, 0, n)
	}
	return v
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

// windowBytesPerRow is what compute holds per input row besides the evaluated
// columns: the permutation (4), frame bounds and peer groups (4 × 4), the result
// (8), and the aggregate arrays (prefix count and sum 16, segment tree 16).
const windowBytesPerRow = 4 + 16 + 8 + 32

// compute evaluates one window function over all rows; the result is in row order.
func (o *windowOp) compute(f *WindowFunc, offs frameOffsets, all *batch) (*vec, error) {
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
	// take[r]: input row r takes part in an aggregate (argument not NULL, FILTER true)
	var take []bool
	if f.Filter != nil {
		fv, err := o.ev.eval(f.Filter, all)
		if err != nil {
			return nil, err
		}
		take = make([]bool, all.n)
		for r := range take {
			take[r] = !fv.isNull(r) && fv.b[r]
		}
	}
	if isFrameAgg(f.Func) && len(args) == 1 && args[0].nulls != nil {
		if take == nil {
			take = make([]bool, all.n)
			for r := range take {
				take[r] = true
			}
		}
		for r := range take {
			take[r] = take[r] && !args[0].isNull(r)
		}
	}
	// The function's key and argument columns, its row order, frames and result are
	// as long as the input: charge them (a column that is a plain reference to an
	// input column is counted twice; better high than not at all).
	held := int64(all.n) * windowBytesPerRow
	for _, vs := range [][]*vec{part, ord, args, ord, args} { // ord and args twice: gathered in window order
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
	// Everything below reads in window order: gather once, sequential reads after.
	gatherAll := func(vs []*vec) []*vec {
		out := make([]*vec, len(vs))
		for i, v := range vs {
			out[i] = v.gather(perm)
		}
		return out
	}
	ord, args = gatherAll(ord), gatherAll(args)
	if take != nil {
		take = gatherSlice(take, perm)
	}
	var rf *rangeFrame
	if f.Frame.Mode == FrameRange && (f.Frame.Start.Offset != nil || f.Frame.End.Offset != nil) {
		if len(ord) != 1 {
			panic("BUG: RANGE offset frame without exactly one ORDER BY key")
		}
		if rf, err = newRangeFrame(ord[0], f.Order[0], offs, &f.Frame); err != nil {
			return nil, err
		}
	}
	sc := newWinScratch(f, all.n)
	out := newVec(f.T, all.n)
	for lo := 0; lo < len(perm); {
		if err := ctxErr(o.q.ctx); err != nil {
			return nil, err
		}
		hi := lo + 1
		for hi < len(perm) && cmpSortKeys(partKeys, part, int(perm[lo]), part, int(perm[hi])) == 0 {
			hi++
		}
		var tk []bool
		if take != nil {
			tk = take[lo:hi]
		}
		if rf != nil {
			rf.setPartition(lo, hi)
		}
		o.partition(f, offs, rf, perm[lo:hi], sliceAll(ord, lo, hi), sliceAll(args, lo, hi), tk, sc.slice(lo, hi), out)
		lo = hi
	}
	return out, nil
}

func sliceAll(vs []*vec, lo, hi int) []*vec {
	out := make([]*vec, len(vs))
	for i, v := range vs {
		out[i] = v.slice(lo, hi)
	}
	return out
}

// isFrameAgg reports whether name is an aggregate used as a window function.
func isFrameAgg(name string) bool {
	switch name {
	case "count", "sum", "avg", "min", "max":
		return true
	}
	return false
}

// newWinScratch allocates the arrays f's partitions need, for n rows in all.
func newWinScratch(f *WindowFunc, n int) *winScratch {
	sc := &winScratch{
		lo: make([]int32, n), hi: make([]int32, n),
		gs: make([]int32, n), ge: make([]int32, n), starts: make([]int32, 0, n+1),
	}
	if !isFrameAgg(f.Func) {
		return sc
	}
	sc.cnt = make([]int64, n+1)
	switch f.Func {
	case "sum", "avg":
		x := f.Args[0].Type()
		switch {
		case x.ID == TypeInt16 || x.ID == TypeInt32:
			sc.isum = make([]int64, n+1)
		case x.ID == TypeInt64 || x.IsDecimal():
			sc.isum, sc.ihi = make([]int64, n+1), make([]int64, n+1)
		case x.ID == TypeInterval:
			sc.ivs = make([]ival, n+1)
		case f.Frame.Start.Kind == UnboundedPreceding && f.Frame.Exclude == ExcludeNoOthers:
			sc.fsum = make([]float64, n+1)
		default:
			sc.tree = make([]float64, 2*n)
		}
	case "min", "max":
		sc.best = make([]int32, 2*n)
	}
	return sc
}

// slice returns the scratch of the partition at window-order positions [lo, hi).
func (sc *winScratch) slice(lo, hi int) *winScratch {
	cut := func(s []int32) []int32 {
		if s == nil {
			return nil
		}
		return s[lo:hi]
	}
	out := &winScratch{lo: cut(sc.lo), hi: cut(sc.hi), gs: cut(sc.gs), ge: cut(sc.ge), starts: sc.starts[:0]}
	if sc.cnt != nil {
		out.cnt = sc.cnt[lo : hi+1]
	}
	if sc.isum != nil {
		out.isum = sc.isum[lo : hi+1]
	}
	if sc.ihi != nil {
		out.ihi = sc.ihi[lo : hi+1]
	}
	if sc.fsum != nil {
		out.fsum = sc.fsum[lo : hi+1]
	}
	if sc.ivs != nil {
		out.ivs = sc.ivs[lo : hi+1]
	}
	if sc.tree != nil {
		out.tree = sc.tree[2*lo : 2*hi]
	}
	if sc.best != nil {
		out.best = sc.best[2*lo : 2*hi]
	}
	return out
}

// partition computes f over one partition: rows are its input row numbers in
// window order (where results go), ord, args and take its keys, arguments and
// take-part flags in the same order (position i is input row rows[i]).
func (o *windowOp) partition(f *WindowFunc, offs frameOffsets, rf *rangeFrame, rows []int32, ord, args []*vec, take []bool, sc *winScratch, out *vec) {
	n := len(rows)
	peer := func(a, b int) bool { return cmpSortKeys(f.Order, ord, a, ord, b) == 0 }
	if len(ord) == 1 && kindOf(ord[0].t) == kInt {
		k := ord[0] // one integer, date or timestamp key (the common ORDER BY ts)
		peer = func(a, b int) bool {
			an, bn := k.isNull(a), k.isNull(b)
			return an == bn && (an || k.i[a] == k.i[b])
		}
	}
	switch f.Func {
	case "row_number":
		for i, r := range rows {
			out.i[r] = int64(i + 1)
		}
		return
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
		return
	case "lag", "lead":
		x := args[0]
		for i, r := range rows {
			off := int64(1)
			if len(args) > 1 {
				if args[1].isNull(i) {
					out.setNull(int(r))
					continue
				}
				off = args[1].i[i]
			}
			j := int64(i) - off
			if f.Func == "lead" {
				j = int64(i) + off
			}
			if j < 0 || j >= int64(n) {
				if len(args) > 2 {
					out.set(int(r), args[2].value(i))
				} else {
					out.setNull(int(r))
				}
				continue
			}
			out.set(int(r), x.value(int(j)))
		}
		return
	}
	// Frame-based: first_value, last_value and the aggregates.
	sc.starts = peerGroups(n, peer, sc.gs, sc.ge, sc.starts)
	frameBounds(&f.Frame, offs, n, sc.gs, sc.ge, sc.starts, rf, sc.lo, sc.hi)
	switch f.Func {
	case "first_value", "last_value":
		var buf [3][2]int32
		for i, r := range rows {
			spans := frameSpans(sc.lo[i], sc.hi[i], int32(i), sc.gs[i], sc.ge[i], f.Frame.Exclude, &buf)
			switch {
			case len(spans) == 0:
				out.setNull(int(r))
			case f.Func == "first_value":
				out.set(int(r), args[0].value(int(spans[0][0])))
			default:
				out.set(int(r), args[0].value(int(spans[len(spans)-1][1]-1)))
			}
		}
	default:
		var x *vec
		if len(args) > 0 {
			x = args[0]
		}
		aggFrames(f, x, take, rows, sc, out)
	}
}
