package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/stratadb/strata/storage"
)

// Top-N by the time column.
//
// Every source's rows are sorted by time, so ORDER BY time DESC LIMIT n only needs
// the last rows of the newest sources (ASC: the first rows of the oldest). The
// sources are handed to the workers newest first (by MaxTime; ASC: oldest first by
// MinTime) and each source is read backwards (ASC: forwards) in windows that double
// in size. After each window a worker publishes the time of its n-th best row as a
// shared bound: every row of any worker's final top-n is at least as good as it. A
// window, source or the rest of a source whose times are all strictly worse than the
// bound cannot place a row in the result and is skipped; rows tying the bound on
// time are still read, since later sort keys may rank them higher.
//
// The first window of the best source decides most queries alone (a LIMIT smaller
// than a source), so when that source is sorted the other workers wait for it to
// publish its bound before they look at their sources: otherwise each of them reads
// a full window of a source the bound then excludes.

// minTimeWindow and maxTimeWindow bound the rows read per window.
const (
	minTimeWindow = 64
	maxTimeWindow = 16 * BatchSize
)

// timeSortKey reports whether the first sort key is the scan's time column, read
// through the pipeline's Project stages as plain column references.
func timeSortKey(keys []SortKey, pl *pipeline) bool {
	if len(keys) == 0 || kindOf(keys[0].Expr.Type()) != kInt {
		return false
	}
	r, ok := keys[0].Expr.(*ColRef)
	if !ok {
		return false
	}
	idx := r.Index
	for i := len(pl.stages) - 1; i >= 0; i-- {
		st := pl.stages[i]
		if st.filter != nil {
			continue
		}
		if idx < 0 || idx >= len(st.exprs) {
			return false
		}
		r, ok := st.exprs[idx].(*ColRef)
		if !ok {
			return false
		}
		idx = r.Index
	}
	s := pl.scan
	return idx >= 0 && idx < len(s.Columns) && s.Columns[idx] == s.Schema.TimeColumn
}

// timeBoundShared is the best-known bound on the time of the n-th result row.
type timeBoundShared struct {
	desc bool
	v    atomic.Int64
}

func newTimeBoundShared(desc bool) *timeBoundShared {
	b := &timeBoundShared{desc: desc}
	if desc {
		b.v.Store(MinTime)
	} else {
		b.v.Store(MaxTime)
	}
	return b
}

// excludes reports whether a row with time t sorts strictly after the bound.
func (b *timeBoundShared) excludes(t int64) bool {
	if b.desc {
		return t < b.v.Load()
	}
	return t > b.v.Load()
}

// publish tightens the bound to t when t is better.
func (b *timeBoundShared) publish(t int64) {
	for {
		cur := b.v.Load()
		if (b.desc && t <= cur) || (!b.desc && t >= cur) {
			return
		}
		if b.v.CompareAndSwap(cur, t) {
			return
		}
	}
}

// newTimeTopN is newParallelTopN for a first sort key on the time column (see
// timeSortKey): it reads only the rows that can reach the result.
func newTimeTopN(q *query, keys []SortKey, limit int64, pl *pipeline) batchOperator {
	sc := newScanner(q, pl.scan)
	final := newSortOp(q, nil, keys, limit)
	desc := keys[0].Desc
	tc := pl.scan.Schema.TimeColumn
	run := func(ctx context.Context) ([]*batch, error) {
		if limit == 0 {
			return nil, nil
		}
		ctx, cancel := mergeCtx(ctx, q.ctx)
		defer cancel()
		srcs := make([]storage.Source, 0, len(pl.scan.Sources))
		for _, s := range pl.scan.Sources {
			if s.NumRows() > 0 {
				srcs = append(srcs, s)
			}
		}
		slices.SortStableFunc(srcs, func(a, b storage.Source) int {
			if desc {
				return cmpInt(b.MaxTime(), a.MaxTime())
			}
			return cmpInt(a.MinTime(), b.MinTime())
		})
		bound := newTimeBoundShared(desc)
		// seeded is closed once the first source's first window has published its
		// bound (or the first source is done), when that source is sorted by time.
		seeded := make(chan struct{})
		var seedOnce sync.Once
		seed := func() { seedOnce.Do(func() { close(seeded) }) }
		if len(srcs) == 0 || !storage.IsSortedByTime(srcs[0]) {
			seed()
		}
		var mu sync.Mutex
		locals := map[*worker]*sorter{}
		err := forEachSourceIndexed(ctx, q, srcs, func(ctx context.Context, w *worker, i int, src storage.Source) error {
			if i == 0 {
				defer seed()
			} else {
				select {
				case <-seeded:
				case <-ctx.Done():
					return ctxErr(ctx)
				}
			}
			if (desc && bound.excludes(src.MaxTime())) || (!desc && bound.excludes(src.MinTime())) {
				return nil
			}
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
			ss.plainText = true // few rows are read: no whole-dictionary decode
			emit := func(b *batch) error {
				b, err := runStages(w.ev, pl.stages, b)
				if err != nil || b.n == 0 {
					return err
				}
				return st.push(b)
			}
			var buf [1]int64
			timeAt := func(row int) (int64, error) {
				v, err := src.ReadInt64(tc, row, row+1, buf[:0])
				if err == nil && len(v) != 1 {
					err = fmt.Errorf("short time column read")
				}
				if err != nil {
					return 0, fmt.Errorf("scan %s: source %s: %w", pl.scan.Table, src.Name(), err)
				}
				return v[0], nil
			}
			// The first window holds the limit rows nearest the end and a few more, so
			// that a tie on time at its edge rarely needs a second window.
			win := int(min(limit, maxTimeWindow-minTimeWindow) + minTimeWindow)
			lo, hi := ss.lo, ss.hi // rows still to read
			if !storage.IsSortedByTime(src) {
				win = hi - lo // rows in arrival order: no end holds the newest
			}
			for lo < hi {
				a, b := lo, hi
				if desc {
					a = max(lo, hi-win)
				} else {
					b = min(hi, lo+win)
				}
				if err := ss.runWindow(ctx, w.ev, &w.bufs, a, b, emit); err != nil {
					return err
				}
				if desc {
					hi = a
				} else {
					lo = b
				}
				if lo >= hi {
					break
				}
				if err := st.flush(); err != nil {
					return err
				}
				if t, ok := st.nth(); ok {
					bound.publish(t)
				}
				if i == 0 {
					seed()
				}
				next := lo
				if desc {
					next = hi - 1
				}
				t, err := timeAt(next)
				if err != nil {
					return err
				}
				if bound.excludes(t) {
					break
				}
				win = min(2*win, maxTimeWindow)
			}
			if err := st.flush(); err != nil {
				return err
			}
			if t, ok := st.nth(); ok {
				bound.publish(t)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return mergeTopN(q, final.sorter, locals)
	}
	return &aggOp{run: run, stop: func() { q.mem.shrink(final.charged); final.charged = 0 }}
}

// flush sorts the rows pushed since the last compaction into the kept rows.
func (st *sorter) flush() error {
	if st.pending == 0 || st.all == nil || st.limit < 0 {
		return nil
	}
	return st.compact()
}

// nth returns the first sort key (an integer) of the limit-th best row, when the
// sorter holds that many rows after a flush.
func (st *sorter) nth() (int64, bool) {
	if st.pending != 0 || st.kept == nil || st.limit <= 0 || int64(st.kept.n) < st.limit {
		return 0, false
	}
	k := st.keptKeys[0]
	last := int(st.limit - 1)
	if k.isNull(last) || len(k.i) <= last {
		return 0, false
	}
	return k.i[last], true
}
