package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stratadb/strata/storage"
)

// min/max from metadata.
//
// An ungrouped Aggregate whose aggregates are all min/max of integer, timestamp,
// text or (min only) float columns, count(*) or count(col), over a scan with no
// residual filter, is answered per source
// without reading the column: for the time column from the first and last selected
// rows (a source's rows are sorted by time; MinTime/MaxTime when the whole source is
// selected), for another column from its statistics when the whole source is
// selected and they are exact (a Parquet row group's footer, a segment's stats;
// float max is never taken from them, since statistics leave NaN out and NaN is
// PostgreSQL's largest float); count(col) is the number of selected rows minus the selected rows of
// the column's NULL bitmap, or, over a whole source that counts its NULLs from
// metadata (storage.NullCounter), minus that count. A source where that is not
// possible (a residual filter, a partial selection of a non-time column) is
// scanned, reading only the needed columns.

// metaAgg is one aggregate of a metaAggOp.
type metaAgg struct {
	count    bool // count(*)
	countCol bool // count(col): the selected rows minus the NULL ones
	max      bool
	col      int // table column (min/max)
	isTS     bool
	t        Type
}

// metaAggState is the running result of one metaAgg.
type metaAggState struct {
	n   int64 // count(*)
	has bool
	v   int64   // kInt
	f   float64 // kFloat
	s   string  // kText
}

func (s *metaAggState) add(a *metaAgg, v int64) { s.addAny(a, v, 0, "") }

// addAny folds one value of a's kind (the field of that kind is read).
func (s *metaAggState) addAny(a *metaAgg, v int64, f float64, str string) {
	better := !s.has
	if !better {
		var c int
		switch kindOf(a.t) {
		case kFloat:
			c = cmpFloat(f, s.f)
		case kText:
			c = strings.Compare(str, s.s)
		default:
			c = cmpInt(v, s.v)
		}
		better = (a.max && c > 0) || (!a.max && c < 0)
	}
	if better {
		s.v, s.f, s.s, s.has = v, f, str, true
	}
}

func (s *metaAggState) merge(a *metaAgg, o *metaAggState) {
	s.n += o.n
	if o.has {
		s.addAny(a, o.v, o.f, o.s)
	}
}

// pipelineTableColumn maps column idx of the pipeline's output to a table column of
// its scan, through Project stages of plain column references; ok is false when a
// Filter stage or a computed column is in the way.
func pipelineTableColumn(pl *pipeline, idx int) (int, bool) {
	for i := len(pl.stages) - 1; i >= 0; i-- {
		st := pl.stages[i]
		if st.filter != nil || idx < 0 || idx >= len(st.exprs) {
			return 0, false
		}
		r, ok := st.exprs[idx].(*ColRef)
		if !ok {
			return 0, false
		}
		idx = r.Index
	}
	s := pl.scan
	if idx < 0 || idx >= len(s.Columns) {
		return 0, false
	}
	c := s.Columns[idx]
	return c, c >= 0 && c < len(s.Schema.Columns)
}

// aggTableColumn returns the table column that a's only argument, a plain
// column reference, reads through pl's Project stages.
func aggTableColumn(a *AggCall, pl *pipeline) (int, bool) {
	if len(a.Args) != 1 {
		return 0, false
	}
	r, ok := a.Args[0].(*ColRef)
	if !ok {
		return 0, false
	}
	return pipelineTableColumn(pl, r.Index)
}

// newMetaAgg returns the metadata answer of p over pl, or nil when p is not of the
// form it answers.
func newMetaAgg(q *query, p *Aggregate, pl *pipeline) batchOperator {
	if len(p.Groups) > 0 || len(p.Aggs) == 0 || len(p.Out) != len(p.Aggs) {
		return nil
	}
	for _, st := range pl.stages {
		if st.filter != nil {
			return nil
		}
	}
	schema := pl.scan.Schema
	aggs := make([]metaAgg, len(p.Aggs))
	for i, a := range p.Aggs {
		if a.Filter != nil {
			return nil
		}
		switch {
		case a.Func == "count" && len(a.Args) == 0:
			aggs[i] = metaAgg{count: true, t: p.Out[i].Type}
			continue
		case a.Func == "count" && len(a.Args) == 1 && !a.Distinct:
			c, ok := aggTableColumn(&a, pl)
			if !ok {
				return nil
			}
			aggs[i] = metaAgg{countCol: true, col: c, t: p.Out[i].Type}
			continue
		case (a.Func == "min" || a.Func == "max") && len(a.Args) == 1:
		default:
			return nil
		}
		c, ok := aggTableColumn(&a, pl)
		if !ok || kindOf(a.T) != kindOf(p.Out[i].Type) {
			return nil
		}
		switch st := schema.Columns[c].Type; {
		case kindOf(a.T) == kInt && (st == storage.TypeInt64 || st == storage.TypeTimestamp):
		case kindOf(a.T) == kFloat && st == storage.TypeFloat64:
		case kindOf(a.T) == kText && st == storage.TypeString:
		default:
			return nil
		}
		aggs[i] = metaAgg{max: a.Func == "max", col: c, isTS: c == schema.TimeColumn, t: p.Out[i].Type}
	}
	sc := newScanner(q, pl.scan)
	run := func(ctx context.Context) ([]*batch, error) {
		ctx, cancel := mergeCtx(ctx, q.ctx)
		defer cancel()
		total := make([]metaAggState, len(aggs))
		var mu sync.Mutex
		err := forEachSource(ctx, q, pl.scan.Sources, func(ctx context.Context, w *worker, src storage.Source) error {
			if metaFromBounds(sc, src, aggs) {
				// Answered by NumRows, MinTime and MaxTime alone: a lazy source (a
				// lake file) is not loaded for count(*) or min/max(time).
				local := make([]metaAggState, len(aggs))
				for i := range aggs {
					a := &aggs[i]
					switch {
					case a.count:
						local[i].n = int64(src.NumRows())
					case a.max:
						local[i].add(a, src.MaxTime())
					default:
						local[i].add(a, src.MinTime())
					}
				}
				mu.Lock()
				for i := range aggs {
					total[i].merge(&aggs[i], &local[i])
				}
				mu.Unlock()
				return nil
			}
			ss, err := sc.prepare(src, w.ev)
			if err != nil || ss == nil {
				return err
			}
			local := make([]metaAggState, len(aggs))
			if err := metaSource(ctx, ss, w, aggs, local); err != nil {
				return err
			}
			mu.Lock()
			for i := range aggs {
				total[i].merge(&aggs[i], &local[i])
			}
			mu.Unlock()
			return nil
		})
		if err != nil {
			return nil, err
		}
		out := &batch{n: 1, cols: make([]*vec, len(aggs))}
		for i, a := range aggs {
			v := &vec{t: a.t, n: 1}
			switch kindOf(a.t) {
			case kFloat:
				v.f = make([]float64, 1)
			case kText:
				v.s = make([]string, 1)
			default:
				v.i = make([]int64, 1)
			}
			switch {
			case a.count || a.countCol:
				v.i[0] = total[i].n
			case !total[i].has:
				v.nulls = []bool{true}
			case v.f != nil:
				v.f[0] = total[i].f
			case v.s != nil:
				v.s[0] = strings.Clone(total[i].s) // not the source's memory
			default:
				v.i[0] = total[i].v
			}
			out.cols[i] = v
		}
		return []*batch{out}, nil
	}
	return &aggOp{run: run}
}

// metaFromBounds reports whether aggs over src are answered by its row count and
// time bounds alone: no filter, every row inside the scan's time range, and only
// count(*) and min/max of the time column. The bounds must be exact, which the
// Source contract gives for a time-sorted source (MinTime/MaxTime bound the
// column and a sorted source's first and last rows attain them) and a lazy one
// reports from its file's statistics only when they are exact.
func metaFromBounds(sc *scanner, src storage.Source, aggs []metaAgg) bool {
	if len(sc.conj) > 0 || sc.s.Filter != nil || src.NumRows() == 0 || sc.tmin > src.MinTime() || sc.tmax < src.MaxTime() {
		return false
	}
	if _, lazy := src.(storage.Lazy); !lazy {
		return false // sources in memory or on local disk take the usual path
	}
	for _, a := range aggs {
		if !a.count && !a.isTS {
			return false
		}
	}
	return true
}

// metaSource computes aggs over the selected rows of one source into st.
func metaSource(ctx context.Context, ss *sourceScan, w *worker, aggs []metaAgg, st []metaAggState) error {
	src := ss.src
	whole := ss.sel == nil && ss.lo == 0 && ss.hi == ss.n
	var scanCols []int // table columns that need a scan (-1: count(*))
	viaScan := make([]bool, len(aggs))
	var buf [1]int64
	timeAt := func(row int) (int64, error) {
		v, err := src.ReadInt64(ss.sc.s.Schema.TimeColumn, row, row+1, buf[:0])
		if err == nil && len(v) != 1 {
			err = fmt.Errorf("short time column read")
		}
		if err != nil {
			return 0, fmt.Errorf("scan %s: source %s: %w", ss.sc.s.Table, src.Name(), err)
		}
		return v[0], nil
	}
	cnt, counted := ss.count()
	for i, a := range aggs {
		if nc, ok := src.(storage.NullCounter); ok && a.countCol && whole && len(ss.residual) == 0 {
			if nulls, ok := nc.NullCount(a.col); ok {
				st[i].n = cnt - int64(nulls) // from metadata: the column is not decoded
				continue
			}
		}
		switch {
		case a.countCol && len(ss.residual) == 0:
			nb, err := ss.nullsOf(a.col)
			if err != nil {
				return err
			}
			st[i].n = cnt
			switch {
			case nb == nil:
			case ss.sel != nil:
				st[i].n -= int64(ss.sel.AndCardinality(nb))
			default:
				st[i].n -= int64(rangeCardinality(nb, ss.lo, ss.hi))
			}
		case a.countCol:
			scanCols = append(scanCols, a.col)
			viaScan[i] = true
		case a.count:
			if !counted {
				scanCols = append(scanCols, -1)
				viaScan[i] = true
				continue
			}
			st[i].n = cnt
		case len(ss.residual) > 0:
			scanCols = append(scanCols, a.col)
			viaScan[i] = true
		case a.isTS && !whole && !storage.IsSortedByTime(src):
			// rows in arrival order: the first and last selected rows are not the extremes
			scanCols = append(scanCols, a.col)
			viaScan[i] = true
		case a.isTS:
			var row int
			switch {
			case whole:
				if a.max {
					st[i].add(&a, src.MaxTime())
				} else {
					st[i].add(&a, src.MinTime())
				}
				continue
			case ss.sel != nil && a.max:
				row = int(ss.sel.Maximum())
			case ss.sel != nil:
				row = int(ss.sel.Minimum())
			case a.max:
				row = ss.hi - 1
			default:
				row = ss.lo
			}
			t, err := timeAt(row)
			if err != nil {
				return err
			}
			st[i].add(&a, t)
		case whole:
			cs := src.Stats(a.col)
			isFloat := kindOf(a.t) == kFloat
			if sum, ok := columnSum(src, a.col); ok && isFloat {
				// The NaNs are counted (a segment's sums): a float max, or the
				// min of a column of NaNs only, is known too.
				p := metaPart{st: cs, sum: sum}
				if f, has := floatExtreme(&p, a.max); has {
					st[i].addAny(&a, 0, f, "")
				}
				continue
			}
			if cs.Bounds || (isFloat && (a.max || !cs.HasMinMax && cs.NullCount != src.NumRows())) {
				// Not exact, or a float max (NaN is left out of statistics), or
				// floats that may all be NaN: read the column.
				scanCols = append(scanCols, a.col)
				viaScan[i] = true
				continue
			}
			if !cs.HasMinMax {
				continue // every value NULL
			}
			if a.max {
				st[i].addAny(&a, cs.MaxInt, cs.MaxFloat, cs.MaxString)
			} else {
				st[i].addAny(&a, cs.MinInt, cs.MinFloat, cs.MinString)
			}
		default:
			scanCols = append(scanCols, a.col)
			viaScan[i] = true
		}
	}
	if len(scanCols) == 0 {
		return nil
	}
	// Scan the source for the aggregates not answered above, reading only their
	// columns: the scan's output becomes exactly those columns.
	var cols []int
	for _, c := range scanCols {
		if c >= 0 && !containsInt(cols, c) {
			cols = append(cols, c)
		}
	}
	cp := *ss
	ss = &cp
	s2 := *ss.sc.s
	s2.Columns = cols
	s2.Out = nil
	sc2 := *ss.sc
	sc2.s = &s2
	ss.sc = &sc2
	ss.read = append([]int(nil), cols...)
	for _, e := range ss.residual {
		for _, c := range columnsOf(e, nil) {
			if !containsInt(ss.read, c) {
				ss.read = append(ss.read, c)
			}
		}
	}
	w.bufs.reuse = true // batches are consumed before the next read
	return ss.run(ctx, w.ev, &w.bufs, func(b *batch) error {
		for i, a := range aggs {
			if !viaScan[i] {
				continue // answered from metadata
			}
			if a.count {
				st[i].n += int64(b.n)
				continue
			}
			v := b.cols[indexInt(cols, a.col)]
			if a.countCol {
				st[i].n += int64(b.n)
				if v.nulls != nil {
					for _, x := range v.nulls[:b.n] {
						if x {
							st[i].n--
						}
					}
				}
				continue
			}
			for r := 0; r < b.n; r++ {
				if v.nulls != nil && v.nulls[r] {
					continue
				}
				switch kindOf(a.t) {
				case kFloat:
					st[i].addAny(&a, 0, v.f[r], "")
				case kText:
					st[i].addAny(&a, 0, 0, v.str(r))
				default:
					st[i].add(&a, v.i[r])
				}
			}
		}
		return nil
	})
}

func containsInt(s []int, x int) bool { return indexInt(s, x) >= 0 }

func indexInt(s []int, x int) int {
	for i, y := range s {
		if y == x {
			return i
		}
	}
	return -1
}

// rangeCardinality returns the number of values of bm in [lo, hi).
func rangeCardinality(bm *roaring.Bitmap, lo, hi int) uint64 {
	if lo >= hi {
		return 0
	}
	n := bm.Rank(uint32(hi - 1))
	if lo > 0 {
		n -= bm.Rank(uint32(lo - 1))
	}
	return n
}
