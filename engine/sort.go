package engine

import (
	"context"
	"slices"
	"sync"

	"github.com/stratadb/strata/storage"
)

// sortOp materializes its input and sorts it (stable, multi-key). With limit >= 0 it
// is a top-N: it keeps at most limit rows, and once it holds that many it drops every
// incoming row that does not sort strictly before the current last kept row, so most
// rows cost one comparison.
type sortOp struct {
	q     *query
	in    operator
	keys  []SortKey
	limit int64 // -1: full sort
	ev    *evaluator

	out     []*batch
	done    bool
	charged int64
	sorter  *sorter
}

func newSortOp(q *query, in operator, keys []SortKey, limit int64) *sortOp {
	o := &sortOp{q: q, in: in, keys: keys, limit: limit, ev: q.newEvaluator()}
	o.sorter = &sorter{sortOp: o}
	return o
}

// mergeTopN feeds the workers' top-N results into final (one more top-N) and
// returns its rows; each worker's memory is released once its rows are merged.
func mergeTopN(q *query, final *sorter, locals map[*worker]*sorter) ([]*batch, error) {
	var only *sorter
	withRows := 0
	for _, st := range locals {
		if st.all != nil && st.all.n > 0 {
			only = st
			withRows++
		}
	}
	if withRows == 1 {
		// One worker holds every candidate: its top-N is the answer. Its memory
		// stays charged, to the final sorter, until the query ends.
		final.charged += only.charged
		only.charged = 0
		return only.finish()
	}
	for _, st := range locals {
		bs, err := st.finish()
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if err := final.push(b); err != nil {
				return nil, err
			}
		}
		q.mem.shrink(st.charged)
		st.charged = 0
	}
	return final.finish()
}

// newParallelTopN runs a top-N over a pipeline on the scan workers: each worker keeps
// its own best rows, and the workers' results are merged by one more top-N.
func newParallelTopN(q *query, keys []SortKey, limit int64, pl *pipeline) batchOperator {
	sc := newScanner(q, pl.scan)
	final := newSortOp(q, nil, keys, limit)
	run := func(ctx context.Context) ([]*batch, error) {
		ctx, cancel := mergeCtx(ctx, q.ctx)
		defer cancel()
		var mu sync.Mutex
		locals := map[*worker]*sorter{}
		err := forEachSource(ctx, q, pl.scan.Sources, func(ctx context.Context, w *worker, src storage.Source) error {
			ss, err := sc.prepare(src, w.ev)
			if err != nil || ss == nil {
				return err
			}
			mu.Lock()
			st := locals[w]
			if st == nil {
				st = newSortOp(q, nil, keys, limit).sorter
				st.ev = w.ev
				locals[w] = st
			}
			mu.Unlock()
			w.bufs.reuse = true // push copies what it keeps
			return ss.run(ctx, w.ev, &w.bufs, func(b *batch) error {
				b, err := runStages(w.ev, pl.stages, b)
				if err != nil || b.n == 0 {
					return err
				}
				return st.push(b)
			})
		})
		if err != nil {
			return nil, err
		}
		return mergeTopN(q, final.sorter, locals)
	}
	return &aggOp{run: run, stop: func() { q.mem.shrink(final.charged); final.charged = 0 }}
}

// sortKeys evaluates the key expressions over b.
func (o *sortOp) sortKeys(b *batch) ([]*vec, error) {
	ks := make([]*vec, len(o.keys))
	for i, k := range o.keys {
		v, err := o.ev.eval(k.Expr, b)
		if err != nil {
			return nil, err
		}
		ks[i] = v
	}
	return ks, nil
}

// cmpKeys orders row i of keys a against row j of keys b.
func (o *sortOp) cmpKeys(a []*vec, i int, b []*vec, j int) int {
	return cmpSortKeys(o.keys, a, i, b, j)
}

// cmpSortKeys orders row i of the key vecs a against row j of b by keys (direction
// and NULL placement per key).
func cmpSortKeys(keys []SortKey, a []*vec, i int, b []*vec, j int) int {
	for k, key := range keys {
		x, y := a[k], b[k]
		xn, yn := x.isNull(i), y.isNull(j)
		var c int
		switch {
		case xn && yn:
			continue
		case xn:
			if key.NullsFirst {
				return -1
			}
			return 1
		case yn:
			if key.NullsFirst {
				return 1
			}
			return -1
		default:
			c = cmpRow(x, i, y, j)
		}
		if c != 0 {
			if key.Desc {
				return -c
			}
			return c
		}
	}
	return 0
}

// buffer is a materialized set of rows with their sort keys.
type buffer struct {
	b    *batch
	keys []*vec
}

func newBuffer(fields []*vec) *batch {
	b := &batch{cols: make([]*vec, len(fields))}
	for i, f := range fields {
		b.cols[i] = &vec{t: f.t}
	}
	return b
}

func appendBatch(dst, src *batch) {
	for i, c := range dst.cols {
		c.appendVec(src.cols[i])
	}
	dst.n += src.n
}

func (o *sortOp) charge(n int64) error {
	o.charged += n
	return o.q.mem.grow(n)
}

// sorted returns the permutation that sorts all of b (stable).
func (o *sortOp) sorted(b *batch) ([]int32, []*vec, error) {
	keys, err := o.sortKeys(b)
	if err != nil {
		return nil, nil, err
	}
	perm := make([]int32, b.n)
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortStableFunc(perm, func(x, y int32) int { return o.cmpKeys(keys, int(x), keys, int(y)) })
	return perm, keys, nil
}

func (o *sortOp) run(ctx context.Context) error {
	st := o.sorter
	for {
		b, err := o.q.codec.pull(ctx, o.in)
		if err != nil {
			return err
		}
		if b == nil {
			break
		}
		if err := st.push(b); err != nil {
			return err
		}
	}
	out, err := st.finish()
	o.out = out
	return err
}

// sorter accumulates rows and returns them sorted; with limit >= 0 it keeps only the
// best limit rows (top-N). Owned by one goroutine.
type sorter struct {
	*sortOp         // keys, limit, evaluator, memory charging
	all      *batch // rows kept so far, in arrival order
	kept     *batch // top-N: the best rows at the last compaction, sorted
	keptKeys []*vec // sort keys of kept
	pending  int    // rows appended since the last compaction
}

func (st *sorter) compact() error {
	perm, _, err := st.sorted(st.all)
	if err != nil {
		return err
	}
	if int64(len(perm)) > st.limit {
		perm = perm[:st.limit]
	}
	st.kept = st.all.gather(perm)
	if st.keptKeys, err = st.sortKeys(st.kept); err != nil {
		return err
	}
	st.q.mem.shrink(st.charged)
	st.charged = 0
	if err := st.charge(st.kept.bytes()); err != nil {
		return err
	}
	st.all = &batch{n: st.kept.n, cols: make([]*vec, len(st.kept.cols))}
	for i, c := range st.kept.cols {
		cp := *c
		st.all.cols[i] = &cp
	}
	st.pending = 0
	return nil
}

// push adds the rows of b (copied: b may be reused by its producer afterwards).
func (st *sorter) push(b *batch) error {
	if st.limit == 0 || b.n == 0 {
		return nil
	}
	if st.all == nil {
		st.all = newBuffer(b.cols)
	}
	if st.limit > 0 && st.kept != nil && int64(st.kept.n) >= st.limit {
		// Keep only rows that beat the current last kept row.
		ks, err := st.sortKeys(b)
		if err != nil {
			return err
		}
		sel := st.beatLast(ks, b.n, st.keptKeys, st.kept.n-1)
		if len(sel) == 0 {
			return nil
		}
		b = b.gather(sel)
	}
	if err := st.charge(b.bytes()); err != nil {
		return err
	}
	appendBatch(st.all, b)
	st.pending += b.n
	if st.limit > 0 && int64(st.pending) >= max(st.limit, BatchSize) {
		return st.compact()
	}
	return nil
}

// finish returns the sorted rows (at most limit) in batches.
func (st *sorter) finish() ([]*batch, error) {
	if st.all == nil || st.all.n == 0 {
		return nil, nil
	}
	var out []*batch
	if st.limit >= 0 && st.pending == 0 && st.kept != nil {
		// Nothing arrived since the last compaction: kept is the sorted answer.
		for lo := 0; lo < st.kept.n; lo += BatchSize {
			out = append(out, st.kept.slice(lo, min(lo+BatchSize, st.kept.n)))
		}
		return out, nil
	}
	perm, _, err := st.sorted(st.all)
	if err != nil {
		return nil, err
	}
	if st.limit >= 0 && int64(len(perm)) > st.limit {
		perm = perm[:st.limit]
	}
	for lo := 0; lo < len(perm); lo += BatchSize {
		out = append(out, st.all.gather(perm[lo:min(lo+BatchSize, len(perm))]))
	}
	return out, nil
}

func (o *sortOp) nextBatch(ctx context.Context) (*batch, error) {
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

func (o *sortOp) close() {
	if o.in != nil {
		o.in.close()
	}
	o.q.mem.shrink(o.charged)
	o.charged = 0
}

// beatLast returns the rows of keys ks that sort strictly before row last of kk.
// When the first key is a number without NULLs the first comparison runs as a tight
// typed loop and only ties fall back to the full comparison.
func (o *sortOp) beatLast(ks []*vec, n int, kk []*vec, last int) []int32 {
	sel := make([]int32, 0, 16)
	k0, t0 := ks[0], kk[0]
	desc := o.keys[0].Desc
	if k0.nulls == nil && !t0.isNull(last) {
		switch kindOf(k0.t) {
		case kInt:
			tv := t0.i[last]
			for i, v := range k0.i {
				if v == tv {
					if o.cmpKeys(ks, i, kk, last) < 0 {
						sel = append(sel, int32(i))
					}
				} else if (v < tv) != desc {
					sel = append(sel, int32(i))
				}
			}
			return sel
		case kFloat:
			tv := t0.f[last]
			if tv == tv { // not NaN
				for i, v := range k0.f {
					switch {
					case v == tv || v != v:
						if o.cmpKeys(ks, i, kk, last) < 0 {
							sel = append(sel, int32(i))
						}
					case (v < tv) != desc:
						sel = append(sel, int32(i))
					}
				}
				return sel
			}
		}
	}
	for i := 0; i < n; i++ {
		if o.cmpKeys(ks, i, kk, last) < 0 {
			sel = append(sel, int32(i))
		}
	}
	return sel
}
