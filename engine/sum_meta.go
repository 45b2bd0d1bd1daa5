package engine

import (
	"fmt"
	"math"

	"github.com/stratadb/strata/storage"
)

// Aggregates from a segment's write-time metadata.
//
// An ungrouped Aggregate whose aggregates are all count(*), count(col), sum,
// avg, min and max of plain columns, without FILTER or DISTINCT, over a scan
// whose pipeline filters nothing, takes each source that the scan selects
// whole (no filter conjunct left, every row inside the time range) and that
// keeps column sums (storage.Summer: a segment of format 2) from that metadata
// instead of reading its rows: count from the row and NULL counts, sum and avg
// from the recorded sum (exact 128-bit for integers; for floats the sum of the
// rows in row order, which is bit for bit what the scan of that segment adds
// up), min and max from the exact statistics, a float max being NaN when the
// column holds one (PostgreSQL orders NaN above every number). Heads, lake
// files, older segments and partly selected segments are scanned as before,
// each into its partial state; both kinds of source are folded into the same
// global state, so the answer is the scan's. (A float sum over several
// sources adds the sources' sums in the order the workers finish, as the scan
// path always has.)

// sumMeta is, per aggregate of an Aggregate newSumMeta accepted, the table
// column its argument reads (-1 for count(*)).
type sumMeta struct {
	cols []int
}

// newSumMeta returns how p's aggregates are answered from metadata, or nil when
// p is not of the form above. accs are p's accumulators (newAggCore).
func newSumMeta(p *Aggregate, pl *pipeline, accs []accum) *sumMeta {
	if len(p.Groups) > 0 || len(p.Aggs) == 0 {
		return nil
	}
	for _, st := range pl.stages {
		if st.filter != nil {
			return nil
		}
	}
	schema := pl.scan.Schema
	m := &sumMeta{cols: make([]int, len(p.Aggs))}
	for k := range p.Aggs {
		a := &p.Aggs[k]
		if a.Filter != nil || a.Distinct {
			return nil
		}
		if a.Func == "count" && len(a.Args) == 0 {
			m.cols[k] = -1
			continue
		}
		c, ok := aggTableColumn(a, pl)
		if !ok {
			return nil
		}
		st, t := schema.Columns[c].Type, a.Args[0].Type()
		switch acc := accs[k].(type) {
		case *countAcc:
		case *sumIntAcc:
			ok = st == storage.TypeInt64
		case *sumFloatAcc:
			ok = st == storage.TypeFloat64 && (t.ID == TypeFloat64 || t.ID == TypeFloat32)
		case *minMaxAcc:
			switch kindOf(acc.t) {
			case kInt:
				ok = st == storage.TypeInt64 || st == storage.TypeTimestamp
			case kFloat:
				ok = st == storage.TypeFloat64 && (t.ID == TypeFloat64 || t.ID == TypeFloat32)
			case kText:
				ok = st == storage.TypeString && t.ID == TypeText
			default:
				ok = false
			}
		default:
			ok = false
		}
		if !ok {
			return nil
		}
		m.cols[k] = c
	}
	return m
}

// metaPart is one aggregate's share of one source, read from its metadata.
type metaPart struct {
	n   int64 // count(*): rows; otherwise the column's non-NULL values
	st  storage.ColumnStats
	sum storage.ColumnSum
}

// parts returns every aggregate's share of src from its metadata, or false
// when src must be scanned: it is not wholly selected by sc, or it keeps no
// sums. REQUIRES: the parts are not retained past the next call (the slice is
// reused).
func (m *sumMeta) parts(sc *scanner, src storage.Source, buf []metaPart) ([]metaPart, bool) {
	sm, ok := src.(storage.Summer)
	if !ok || len(sc.conj) > 0 || src.NumRows() == 0 || sc.tmin > src.MinTime() || sc.tmax < src.MaxTime() {
		return buf, false
	}
	buf = buf[:0]
	rows := int64(src.NumRows())
	for _, c := range m.cols {
		if c < 0 {
			buf = append(buf, metaPart{n: rows})
			continue
		}
		p := metaPart{st: src.Stats(c)}
		if p.st.Bounds {
			return buf, false
		}
		p.n = rows - int64(p.st.NullCount)
		switch sc.s.Schema.Columns[c].Type {
		case storage.TypeInt64, storage.TypeFloat64:
			if p.sum, ok = sm.ColumnSum(c); !ok {
				return buf, false // a segment of format 1
			}
		}
		buf = append(buf, p)
	}
	return buf, true
}

// fold adds the parts of one source to accs (group 0).
func (m *sumMeta) fold(accs []accum, parts []metaPart) {
	for k, acc := range accs {
		p := &parts[k]
		switch a := acc.(type) {
		case *countAcc:
			a.c[0] += p.n
		case *sumIntAcc:
			s := a.s[0] + p.sum.Low
			a.h[0] += wrap(a.s[0], p.sum.Low, s) + p.sum.High
			a.s[0] = s
			a.c[0] += p.n
		case *sumFloatAcc:
			a.s[0] += p.sum.Float
			a.c[0] += p.n
		case *minMaxAcc:
			a.foldStats(p)
		default:
			panic("BUG: sumMeta.fold: an aggregate newSumMeta does not accept")
		}
	}
}

// foldStats folds a source's min or max, from its exact statistics, into group 0.
func (a *minMaxAcc) foldStats(p *metaPart) {
	st := &p.st
	x := &vec{t: a.t, n: 1}
	switch kindOf(a.t) {
	case kInt:
		if !st.HasMinMax {
			return // every value NULL
		}
		x.i = []int64{st.MinInt}
		if a.max {
			x.i[0] = st.MaxInt
		}
	case kFloat:
		f, has := floatExtreme(p, a.max)
		if !has {
			return // every value NULL
		}
		x.f = []float64{f}
	case kText:
		if !st.HasMinMax {
			return
		}
		x.s = []string{st.MinString}
		if a.max {
			x.s[0] = st.MaxString
		}
	}
	a.take(x, 0, 0)
}

// explainSumMeta returns, for EXPLAIN, how many of the scan's sources an
// ungrouped aggregate takes from their metadata, e.g. " (from metadata: 7 of 9
// sources)", or "" when it does not take this path (newParallelAgg).
func explainSumMeta(p *Aggregate, pl *pipeline) string {
	if !fastPaths || countOnly(p, pl) || newMetaAgg(&query{}, p, pl) != nil {
		return "" // answered by the count or the min/max path
	}
	accs := make([]accum, len(p.Aggs))
	for k := range p.Aggs {
		acc, err := newAccum(&p.Aggs[k])
		if err != nil {
			return ""
		}
		accs[k] = acc
	}
	m := newSumMeta(p, pl, accs)
	if m == nil {
		return ""
	}
	sc := newScanner(nil, pl.scan)
	n := 0
	var buf []metaPart
	for _, src := range pl.scan.Sources {
		var ok bool
		if buf, ok = m.parts(sc, src, buf); ok {
			n++
		}
	}
	return fmt.Sprintf(" (from metadata: %d of %d sources)", n, len(pl.scan.Sources))
}

// floatExtreme returns a float column's max (or min) from its exact statistics
// and its NaN count: statistics leave NaN out, and NaN is the largest float
// (cmpFloat). has is false when every value is NULL.
func floatExtreme(p *metaPart, max bool) (f float64, has bool) {
	switch {
	case p.sum.NaNs > 0 && (max || !p.st.HasMinMax):
		return math.NaN(), true
	case !p.st.HasMinMax:
		return 0, false
	case max:
		return p.st.MaxFloat, true
	}
	return p.st.MinFloat, true
}

// columnSum returns src's write-time sum of column col, when it keeps one
// (storage.Summer) with exact statistics.
func columnSum(src storage.Source, col int) (storage.ColumnSum, bool) {
	sm, ok := src.(storage.Summer)
	if !ok {
		return storage.ColumnSum{}, false
	}
	return sm.ColumnSum(col)
}
