package engine

import (
	"context"
	"fmt"
	"github.com/stratadb/strata/internal/pginterval"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stratadb/strata/storage"
)

// maxIndexDict bounds the dictionary size up to which a single-column predicate is
// evaluated once per dictionary value and answered with bitmaps.
const maxIndexDict = 1 << 20

// columnType is the engine type of a stored column.
func columnType(c storage.Column) Type {
	if n, ok := BpcharColumn(c.SQLType, c.TypMod); ok && c.Type == storage.TypeString {
		return Bpchar(n)
	}
	if t, ok := TypeByName(c.SQLType); ok && kindMatches(t, c.Type) {
		return t
	}
	switch c.Type {
	case storage.TypeTimestamp:
		return Timestamp
	case storage.TypeString:
		return Text
	case storage.TypeInt64:
		return Int64
	case storage.TypeFloat64:
		return Float64
	case storage.TypeBool:
		return Bool
	}
	return Unknown
}

func kindMatches(t Type, p storage.Type) bool {
	switch p {
	case storage.TypeTimestamp:
		return t.IsTime()
	case storage.TypeString:
		// an interval as its output text (ivalDict), a numeric as its canonical text (numDict)
		return t.ID == TypeText || t.ID == TypeUUID || t.ID == TypeInterval || t.ID == TypeNumeric
	case storage.TypeInt64:
		return t.IsInteger() || t.IsDecimal() || t.ID == TypeDate
	case storage.TypeFloat64:
		return kindOf(t) == kFloat
	case storage.TypeBool:
		return t.ID == TypeBool
	}
	return false
}

// scanner holds what a Scan needs across its sources: the filter split into
// conjuncts and the effective time range (TimeMin/TimeMax narrowed by conjuncts on the
// time column, which are then dropped).
type scanner struct {
	q        *query
	s        *Scan
	conj     []Expr
	tmin     int64
	tmax     int64
	colTypes []Type
}

func newScanner(q *query, s *Scan) *scanner {
	sc := &scanner{q: q, s: s, tmin: s.TimeMin, tmax: s.TimeMax}
	sc.colTypes = make([]Type, len(s.Schema.Columns))
	for i, c := range s.Schema.Columns {
		sc.colTypes[i] = columnType(c)
	}
	for _, c := range splitAnd(s.Filter, nil) {
		if sc.narrowTime(c) {
			continue
		}
		sc.conj = append(sc.conj, c)
	}
	return sc
}

func splitAnd(e Expr, out []Expr) []Expr {
	if e == nil {
		return out
	}
	if b, ok := e.(*BoolOp); ok && b.Op == And {
		for _, a := range b.Args {
			out = splitAnd(a, out)
		}
		return out
	}
	if c, ok := e.(*Const); ok && c.V.Type.ID == TypeBool && !c.V.Null && c.V.B {
		return out // WHERE true
	}
	return append(out, e)
}

// colConst matches "col op const" (either order; op flipped as needed).
func colConst(e Expr) (col int, op string, v Value, ok bool) {
	c, isCall := e.(*Call)
	if !isCall || len(c.Args) != 2 {
		return 0, "", Value{}, false
	}
	switch c.Func {
	case "=", "<>", "!=", "<", "<=", ">", ">=":
	default:
		return 0, "", Value{}, false
	}
	if r, ok := c.Args[0].(*ColRef); ok {
		if k, ok := c.Args[1].(*Const); ok {
			return r.Index, c.Func, k.V, true
		}
	}
	if r, ok := c.Args[1].(*ColRef); ok {
		if k, ok := c.Args[0].(*Const); ok {
			return r.Index, flipOp(c.Func), k.V, true
		}
	}
	return 0, "", Value{}, false
}

// narrowTime folds "time op const" into [tmin, tmax]; it reports whether the
// conjunct is fully represented by the range.
func (sc *scanner) narrowTime(e Expr) bool {
	col, op, v, ok := colConst(e)
	if !ok || col != sc.s.Schema.TimeColumn || v.Null {
		return false
	}
	var us int64
	switch v.Type.ID {
	case TypeTimestamp, TypeTimestampTZ:
		us = v.I
	case TypeDate:
		us = v.I * usPerDay
	default:
		return false
	}
	switch op {
	case ">=":
		sc.tmin = max(sc.tmin, us)
	case ">":
		if us == MaxTime {
			sc.tmin, sc.tmax = MaxTime, MinTime
		} else {
			sc.tmin = max(sc.tmin, us+1)
		}
	case "<=":
		sc.tmax = min(sc.tmax, us)
	case "<":
		if us == MinTime {
			sc.tmin, sc.tmax = MaxTime, MinTime
		} else {
			sc.tmax = min(sc.tmax, us-1)
		}
	case "=":
		sc.tmin, sc.tmax = max(sc.tmin, us), min(sc.tmax, us)
	default:
		return false
	}
	return true
}

type pruneReason uint8

const (
	notPruned pruneReason = iota
	prunedByTime
	prunedByStats
)

// prune decides from metadata alone whether src can hold matching rows. A lazy
// source (a lake file) that survives time pruning is loaded before its column
// statistics are consulted; with load false (EXPLAIN) it is not, and only time
// pruning applies to it.
func (sc *scanner) prune(src storage.Source, load bool) (pruneReason, error) {
	if src.NumRows() == 0 || sc.tmin > sc.tmax || src.MaxTime() < sc.tmin || src.MinTime() > sc.tmax {
		return prunedByTime, nil
	}
	if _, lazy := src.(storage.Lazy); lazy {
		if !load {
			return notPruned, nil
		}
		if err := storage.Load(sc.q.ctx, src); err != nil {
			return notPruned, fmt.Errorf("%s: %w", src.Name(), err)
		}
	}
	for _, c := range sc.conj {
		if !sc.statsAllow(src, c) {
			return prunedByStats, nil
		}
	}
	if vp, ok := src.(storage.ValueProber); ok && load {
		for _, c := range sc.conj {
			col, vals, ok := sc.textValues(c)
			if !ok {
				continue
			}
			may, err := vp.MayHold(col, vals)
			if err != nil {
				return notPruned, fmt.Errorf("%s: %w", src.Name(), err)
			}
			if !may {
				return prunedByStats, nil
			}
		}
	}
	return notPruned, nil
}

// textValues matches "col = 'v'" and "col IN ('v', ...)" on a string column:
// the values a matching row holds.
func (sc *scanner) textValues(e Expr) (col int, vals []string, ok bool) {
	isText := func(col int) bool {
		return col >= 0 && col < len(sc.s.Schema.Columns) && sc.textColumn(col)
	}
	if col, op, v, ok := colConst(e); ok && op == "=" && !v.Null && kindOf(v.Type) == kText && isText(col) {
		return col, []string{v.S}, true
	}
	in, isIn := e.(*InList)
	if !isIn || in.Negated {
		return 0, nil, false
	}
	r, isCol := in.X.(*ColRef)
	if !isCol || !isText(r.Index) {
		return 0, nil, false
	}
	for _, x := range in.List {
		k, isConst := x.(*Const)
		if !isConst || kindOf(k.V.Type) != kText {
			return 0, nil, false
		}
		if !k.V.Null {
			vals = append(vals, k.V.S)
		}
	}
	return r.Index, vals, true
}

// Prune returns what a snapshot for s may leave out: rows outside its time range
// (narrowed by the filter's conditions on the time column) and sources whose
// statistics rule out every row its filter could match.
func (s *Scan) Prune() storage.Prune {
	sc := newScanner(nil, s)
	p := storage.Prune{TimeMin: sc.tmin, TimeMax: sc.tmax}
	if len(sc.conj) > 0 {
		p.Allow = func(v storage.StatsView) bool {
			for _, c := range sc.conj {
				if !sc.statsAllow(v, c) {
					return false
				}
			}
			return true
		}
	}
	return p
}

// statsAllow reports whether conjunct e may be true for some row of src, judging by
// column statistics.
func (sc *scanner) statsAllow(src storage.StatsView, e Expr) bool {
	if in, ok := e.(*InList); ok && !in.Negated {
		// x IN (a, b, ...) is x = a OR x = b OR ...: true somewhere only if one
		// of the equalities may be.
		r, isCol := in.X.(*ColRef)
		if !isCol {
			return true
		}
		for _, x := range in.List {
			k, isConst := x.(*Const)
			if !isConst {
				return true
			}
			eq := &Call{Func: "=", Args: []Expr{r, k}}
			if sc.statsAllow(src, eq) {
				return true
			}
		}
		return false
	}
	if in, ok := e.(*IsNull); ok {
		r, ok := in.X.(*ColRef)
		if !ok || r.Index < 0 || r.Index >= len(sc.s.Schema.Columns) {
			return true
		}
		st := src.Stats(r.Index)
		if st.Bounds {
			return true // NullCount unknown
		}
		if in.Negated {
			return st.NullCount < src.NumRows()
		}
		return st.NullCount > 0
	}
	col, op, v, ok := colConst(e)
	if !ok || col < 0 || col >= len(sc.s.Schema.Columns) {
		return true
	}
	if v.Null {
		return false // comparison with NULL is never true
	}
	st := src.Stats(col)
	if !st.HasMinMax {
		// all NULL: nothing compares true (unless the stats are only bounds)
		return st.Bounds || st.NullCount < src.NumRows()
	}
	var cmin, cmax int // sign of (min - v), (max - v)
	switch ct := columnType(sc.s.Schema.Columns[col]); sc.s.Schema.Columns[col].Type {
	case storage.TypeInt64, storage.TypeTimestamp:
		if ct.IsDecimal() || v.Type.IsDecimal() {
			// Stats hold scaled values (decimal.go): compare exactly at the column's
			// scale when the constant fits it, else as floats.
			if !v.Type.IsNumeric() {
				return true
			}
			vs := uint8(0)
			if v.Type.IsDecimal() {
				vs = v.Type.Scale
			}
			if k, ok := rescale(v.I, vs, ct.Scale); kindOf(v.Type) == kInt && vs <= ct.Scale && ok {
				cmin, cmax = cmpInt(st.MinInt, k), cmpInt(st.MaxInt, k)
				break
			}
			lo := decimalFloats(&vec{t: ct, n: 2, i: []int64{st.MinInt, st.MaxInt}})
			k := v.F
			if kindOf(v.Type) == kInt {
				k = decimalFloats(constVec(v, 1))[0]
			}
			cmin, cmax = cmpFloat(lo[0], k), cmpFloat(lo[1], k)
			if cmin == 0 || cmax == 0 { // a float tie may hide a difference in the last digit
				return true
			}
			break
		}
		switch kindOf(v.Type) {
		case kInt:
			k := v.I
			switch {
			case ct.ID == TypeDate && v.Type.ID != TypeDate:
				return true // days beside a timestamp's µs: not pruned
			case v.Type.ID == TypeDate && ct.ID != TypeDate:
				k *= usPerDay
			}
			cmin, cmax = cmpInt(st.MinInt, k), cmpInt(st.MaxInt, k)
		case kFloat:
			cmin, cmax = cmpFloat(float64(st.MinInt), v.F), cmpFloat(float64(st.MaxInt), v.F)
		default:
			return true
		}
	case storage.TypeFloat64:
		if op != "=" && op != "<" && op != "<=" { // NaN rows sort above everything
			return true
		}
		if kindOf(v.Type) != kInt && kindOf(v.Type) != kFloat || !v.Type.IsNumeric() {
			return true
		}
		k := numFloat(v)
		cmin, cmax = cmpFloat(st.MinFloat, k), cmpFloat(st.MaxFloat, k)
	case storage.TypeString:
		if kindOf(v.Type) != kText {
			return true
		}
		cmin, cmax = strings.Compare(st.MinString, v.S), strings.Compare(st.MaxString, v.S)
	default:
		return true
	}
	switch op {
	case "=":
		return cmin <= 0 && cmax >= 0
	case "<>", "!=":
		return !(cmin == 0 && cmax == 0)
	case "<":
		return cmin < 0
	case "<=":
		return cmin <= 0
	case ">":
		return cmax > 0
	case ">=":
		return cmax >= 0
	}
	return true
}

// sourceScan is the plan for reading one source: a row range, an optional bitmap
// selection inside it, and the conjuncts left to evaluate on the selected rows.
type sourceScan struct {
	sc       *scanner
	src      storage.Source
	n        int
	lo, hi   int
	sel      *roaring.Bitmap // nil: every row in [lo, hi)
	residual []Expr
	read     []int // table columns to read
	dicts    map[int][]string
	ivDicts  map[int][]ival    // an interval column's dictionary, parsed (ivalDict)
	numDicts map[int][]float64 // a numeric text column's dictionary as floats (numDict)
	nulls    map[int]*roaring.Bitmap
	// plainText makes readCol decode text through the source's Dict row by row
	// instead of materializing the whole dictionary: for scans that read few rows.
	plainText bool
	// nullMasks holds, for scans that read most rows of [lo, hi), each nullable
	// column's NULL flags over [lo, hi), decoded once from its bitmap (nil entry:
	// decode per batch).
	nullMasks map[int][]bool
}

// nullMask returns the NULL flags of col over [ss.lo, ss.hi) when the scan reads
// enough of that range for one bulk decode of nb to beat per-batch iteration.
func (ss *sourceScan) nullMask(col int, nb *roaring.Bitmap) []bool {
	if m, ok := ss.nullMasks[col]; ok {
		return m
	}
	if ss.nullMasks == nil {
		ss.nullMasks = make(map[int][]bool)
	}
	span := ss.hi - ss.lo
	rows := span
	if ss.sel != nil {
		rows = int(ss.sel.GetCardinality())
	}
	if !fastPaths || ss.plainText || rows < 2*BatchSize || rows*4 < span {
		ss.nullMasks[col] = nil
		return nil
	}
	mask := make([]bool, span)
	lo, hi := uint32(ss.lo), uint32(ss.hi)
	it := nb.ManyIterator()
	var buf [512]uint32
	for {
		k := it.NextMany(buf[:])
		if k == 0 {
			break
		}
		for _, r := range buf[:k] {
			if r >= lo && r < hi {
				mask[r-lo] = true
			}
		}
		if buf[k-1] >= hi {
			break
		}
	}
	ss.nullMasks[col] = mask
	return mask
}

func (ss *sourceScan) dict(col int) ([]string, error) {
	if d, ok := ss.dicts[col]; ok {
		return d, nil
	}
	d, err := ss.src.Dict(col)
	if err != nil {
		return nil, fmt.Errorf("scan %s: source %s: column %s: %w", ss.sc.s.Table, ss.src.Name(), ss.sc.s.Schema.Columns[col].Name, err)
	}
	vals := dictValues(d)
	ss.dicts[col] = vals
	return vals, nil
}

// textColumn reports whether table column col is stored as text and computed
// as text (not an interval kept as its output text).
func (sc *scanner) textColumn(col int) bool {
	return sc.s.Schema.Columns[col].Type == storage.TypeString && kindOf(sc.colTypes[col]) == kText
}

// ivalDict returns the dictionary of interval column col parsed: storage keeps an
// interval as its output text (internal/pginterval), which reads back exactly.
func (ss *sourceScan) ivalDict(col int) ([]ival, error) {
	if d, ok := ss.ivDicts[col]; ok {
		return d, nil
	}
	vals, err := ss.dict(col)
	if err != nil {
		return nil, err
	}
	out := make([]ival, len(vals))
	for i, s := range vals {
		if s == "" { // a NULL row's slot
			continue
		}
		m, d, us, ok := pginterval.Parse(s)
		if !ok {
			return nil, fmt.Errorf("scan %s: source %s: column %s: %w: interval %q", ss.sc.s.Table, ss.src.Name(), ss.sc.s.Schema.Columns[col].Name, storage.ErrCorrupt, s)
		}
		out[i] = ival{M: m, D: d, U: us}
	}
	if ss.ivDicts == nil {
		ss.ivDicts = make(map[int][]ival)
	}
	ss.ivDicts[col] = out
	return out, nil
}

// numDict returns the dictionary of numeric text column col (storage/numeric.go)
// and each value as a float64, parsed once per source.
func (ss *sourceScan) numDict(col int) ([]string, []float64, error) {
	vals, err := ss.dict(col)
	if err != nil {
		return nil, nil, err
	}
	if f, ok := ss.numDicts[col]; ok {
		return vals, f, nil
	}
	f := make([]float64, len(vals))
	for i, s := range vals {
		if s != "" { // "": a NULL row's slot
			f[i] = numericTextFloat(s)
		}
	}
	if ss.numDicts == nil {
		ss.numDicts = make(map[int][]float64)
	}
	ss.numDicts[col] = f
	return vals, f, nil
}

func (ss *sourceScan) nullsOf(col int) (*roaring.Bitmap, error) {
	if b, ok := ss.nulls[col]; ok {
		return b, nil
	}
	b, err := ss.src.Nulls(col)
	if err != nil {
		return nil, fmt.Errorf("scan %s: source %s: column %s: %w", ss.sc.s.Table, ss.src.Name(), ss.sc.s.Schema.Columns[col].Name, err)
	}
	if b != nil && b.IsEmpty() {
		b = nil
	}
	ss.nulls[col] = b
	return b, nil
}

// count returns the number of selected rows when no residual filter remains.
func (ss *sourceScan) count() (int64, bool) {
	if len(ss.residual) > 0 {
		return 0, false
	}
	if ss.sel != nil {
		return int64(ss.sel.GetCardinality()), true
	}
	return int64(ss.hi - ss.lo), true
}

// timeBound returns the first row whose time is >= t (strict: > t).
func (ss *sourceScan) timeBound(t int64, strict bool) (int, error) {
	tc := ss.sc.s.Schema.TimeColumn
	var buf [1]int64
	var err error
	i := sort.Search(ss.n, func(i int) bool {
		if err != nil {
			return true
		}
		var v []int64
		v, err = ss.src.ReadInt64(tc, i, i+1, buf[:0])
		if err != nil || len(v) != 1 {
			if err == nil {
				err = fmt.Errorf("scan %s: source %s: short time column read", ss.sc.s.Table, ss.src.Name())
			}
			return true
		}
		if strict {
			return v[0] > t
		}
		return v[0] >= t
	})
	return i, err
}

// timeSelect returns the rows of a source not sorted by time (a real-time head) whose
// time lies in the scan's time range, reading the whole time column.
func (ss *sourceScan) timeSelect() (*roaring.Bitmap, error) {
	tc := ss.sc.s.Schema.TimeColumn
	out := roaring.New()
	buf := make([]int64, 0, BatchSize)
	for lo := 0; lo < ss.n; lo += BatchSize {
		v, err := ss.src.ReadInt64(tc, lo, min(lo+BatchSize, ss.n), buf[:0])
		if err != nil {
			return nil, fmt.Errorf("scan %s: source %s: %w", ss.sc.s.Table, ss.src.Name(), err)
		}
		for i, t := range v {
			if t >= ss.sc.tmin && t <= ss.sc.tmax {
				out.Add(uint32(lo + i))
			}
		}
	}
	return out, nil
}

// prepare plans the scan of src; it returns nil when src holds no matching row.
func (sc *scanner) prepare(src storage.Source, ev *evaluator) (*sourceScan, error) {
	if r, err := sc.prune(src, true); err != nil || r != notPruned {
		return nil, err
	}
	ss := &sourceScan{sc: sc, src: src, n: src.NumRows(), hi: src.NumRows(),
		dicts: make(map[int][]string), nulls: make(map[int]*roaring.Bitmap)}
	var err error
	var inTime *roaring.Bitmap // rows within the time range of a source not sorted by time
	switch {
	case sc.tmin <= src.MinTime() && sc.tmax >= src.MaxTime():
	case storage.IsSortedByTime(src):
		if sc.tmin > src.MinTime() {
			if ss.lo, err = ss.timeBound(sc.tmin, false); err != nil {
				return nil, err
			}
		}
		if sc.tmax < src.MaxTime() {
			if ss.hi, err = ss.timeBound(sc.tmax, true); err != nil {
				return nil, err
			}
		}
	default:
		inTime, err = ss.timeSelect()
		if err != nil {
			return nil, err
		}
		if inTime.IsEmpty() {
			return nil, nil
		}
	}
	if ss.lo >= ss.hi {
		return nil, nil
	}
	if pf, ok := src.(storage.Prefetcher); ok && len(sc.conj) > 0 {
		// The filter's columns are read next (by index or as residuals): fetch
		// them together.
		var cols []int
		for _, c := range sc.conj {
			cols = columnsOf(c, cols)
		}
		pf.Prefetch(cols)
	}
	for _, c := range sc.conj {
		r, ok, err := ss.index(c, ev)
		if err != nil {
			return nil, err
		}
		if !ok {
			ss.residual = append(ss.residual, c)
			continue
		}
		if ss.sel == nil {
			ss.sel = r.t
		} else {
			ss.sel = roaring.And(ss.sel, r.t)
		}
	}
	if inTime != nil {
		if ss.sel == nil {
			ss.sel = inTime
		} else {
			ss.sel = roaring.And(ss.sel, inTime)
		}
	}
	if ss.sel != nil {
		if ss.lo > 0 || ss.hi < ss.n {
			ss.sel = ss.sel.Clone()
			ss.sel.RemoveRange(0, uint64(ss.lo))
			ss.sel.RemoveRange(uint64(ss.hi), uint64(ss.n)+1)
		}
		if ss.sel.IsEmpty() {
			return nil, nil
		}
	}
	need := make(map[int]bool)
	for _, c := range sc.s.Columns {
		need[c] = true
	}
	for _, e := range ss.residual {
		for _, c := range columnsOf(e, nil) {
			need[c] = true
		}
	}
	for c := range need {
		ss.read = append(ss.read, c)
	}
	sort.Ints(ss.read)
	return ss, nil
}

// columnsOf appends the distinct column indexes e reads.
func columnsOf(e Expr, out []int) []int {
	add := func(i int) {
		for _, x := range out {
			if x == i {
				return
			}
		}
		out = append(out, i)
	}
	var walk func(e Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case *ColRef:
			add(e.Index)
		case *Call:
			for _, a := range e.Args {
				walk(a)
			}
		case *Cast:
			walk(e.X)
		case *BoolOp:
			for _, a := range e.Args {
				walk(a)
			}
		case *Case:
			for _, w := range e.Whens {
				walk(w.Cond)
				walk(w.Then)
			}
			if e.Else != nil {
				walk(e.Else)
			}
		case *IsNull:
			walk(e.X)
		case *InList:
			walk(e.X)
			for _, a := range e.List {
				walk(a)
			}
		case *Like:
			walk(e.X)
			walk(e.Pattern)
		case *SubPlan:
			for _, a := range e.Args {
				walk(a)
			}
			if e.X != nil {
				walk(e.X)
			}
		}
	}
	walk(e)
	return out
}

func isVolatile(e Expr) bool {
	switch e := e.(type) {
	case *Call:
		if e.Func == "random" || hostFuncs[e.Func] {
			return true
		}
		for _, a := range e.Args {
			if isVolatile(a) {
				return true
			}
		}
	case *Cast:
		return isVolatile(e.X)
	case *BoolOp:
		for _, a := range e.Args {
			if isVolatile(a) {
				return true
			}
		}
	case *Case:
		for _, w := range e.Whens {
			if isVolatile(w.Cond) || isVolatile(w.Then) {
				return true
			}
		}
		return e.Else != nil && isVolatile(e.Else)
	case *IsNull:
		return isVolatile(e.X)
	case *InList:
		if isVolatile(e.X) {
			return true
		}
		for _, a := range e.List {
			if isVolatile(a) {
				return true
			}
		}
	case *Like:
		return isVolatile(e.X) || isVolatile(e.Pattern)
	}
	return false
}

// tri is a three-valued row set: t holds the rows where a predicate is true, n the
// rows where it is NULL (nil: none). The bitmaps are owned by the tri.
type tri struct{ t, n *roaring.Bitmap }

func (ss *sourceScan) universe() *roaring.Bitmap {
	u := roaring.New()
	u.AddRange(0, uint64(ss.n))
	return u
}

func orAll(bms []*roaring.Bitmap) *roaring.Bitmap {
	switch len(bms) {
	case 0:
		return roaring.New()
	case 1:
		return bms[0].Clone()
	}
	return roaring.FastOr(bms...)
}

// index answers predicate e from dictionaries and bitmaps when it can: a predicate on
// one string column is evaluated once per dictionary value (plus once for NULL) and
// the bitmaps of the matching values are ORed; AND/OR/NOT combine such answers with
// SQL's three-valued logic.
func (ss *sourceScan) index(e Expr, ev *evaluator) (tri, bool, error) {
	if e.Type().ID != TypeBool || isVolatile(e) {
		return tri{}, false, nil
	}
	switch x := e.(type) {
	case *BoolOp:
		parts := make([]tri, len(x.Args))
		for i, a := range x.Args {
			r, ok, err := ss.index(a, ev)
			if !ok || err != nil {
				return tri{}, false, err
			}
			parts[i] = r
		}
		res := parts[0]
		for _, p := range parts[1:] {
			if x.Op == And {
				res = ss.triAnd(res, p)
			} else {
				res = triOr(res, p)
			}
		}
		return res, true, nil
	case *Call:
		if x.Func == "not" && len(x.Args) == 1 {
			r, ok, err := ss.index(x.Args[0], ev)
			if !ok || err != nil {
				return tri{}, false, err
			}
			t := ss.universe()
			t.AndNot(r.t)
			if r.n != nil {
				t.AndNot(r.n)
			}
			return tri{t: t, n: r.n}, true, nil
		}
	}
	cols := columnsOf(e, nil)
	if len(cols) != 1 || cols[0] < 0 || cols[0] >= len(ss.sc.s.Schema.Columns) || !ss.sc.textColumn(cols[0]) {
		return tri{}, false, nil
	}
	if col, op, v, ok := colConst(e); ok && op == "=" && !v.Null && kindOf(v.Type) == kText {
		// Equality: one dictionary lookup, no scan of the dictionary.
		return ss.indexEq(col, v.S)
	}
	return ss.indexDict(e, cols[0], ev)
}

func (ss *sourceScan) indexEq(col int, s string) (tri, bool, error) {
	if vr, ok := ss.src.(storage.ValueRows); ok {
		// Rows by comparing the column's values, no dictionary built.
		t, ok, err := vr.RowsWithValues(col, []string{s})
		if err != nil {
			return tri{}, false, fmt.Errorf("scan %s: source %s: column %s: %w", ss.sc.s.Table, ss.src.Name(), ss.sc.s.Schema.Columns[col].Name, err)
		}
		if ok {
			r := tri{t: t}
			nulls, err := ss.nullsOf(col)
			if err != nil {
				return tri{}, false, err
			}
			if nulls != nil {
				r.n = nulls.Clone()
			}
			return r, true, nil
		}
	}
	d, err := ss.src.Dict(col)
	if err != nil {
		return tri{}, false, fmt.Errorf("scan %s: source %s: column %s: %w", ss.sc.s.Table, ss.src.Name(), ss.sc.s.Schema.Columns[col].Name, err)
	}
	nulls, err := ss.nullsOf(col)
	if err != nil {
		return tri{}, false, err
	}
	r := tri{t: roaring.New()}
	if id, ok := d.Lookup(s); ok {
		bm, err := ss.rowsOf(col, []uint32{id})
		if err != nil {
			return tri{}, false, err
		}
		if _, fresh := ss.src.(storage.IDRows); fresh && bm != nil {
			r.t = bm
		} else if bm != nil {
			r.t = bm.Clone()
		}
	}
	if nulls != nil {
		r.n = nulls.Clone()
	}
	return r, true, nil
}

// rowsOf returns the rows of string column col holding one of ids: from the
// source in one pass when it keeps no bitmaps (storage.IDRows), else its
// bitmaps ORed. The result may be the source's: clone before changing it.
func (ss *sourceScan) rowsOf(col int, ids []uint32) (*roaring.Bitmap, error) {
	fail := func(err error) (*roaring.Bitmap, error) {
		return nil, fmt.Errorf("scan %s: source %s: column %s: %w", ss.sc.s.Table, ss.src.Name(), ss.sc.s.Schema.Columns[col].Name, err)
	}
	if ir, ok := ss.src.(storage.IDRows); ok {
		bm, err := ir.RowsWithIDs(col, ids)
		if err != nil {
			return fail(err)
		}
		return bm, nil
	}
	if len(ids) == 1 {
		bm, err := ss.src.Bitmap(col, ids[0])
		if err != nil {
			return fail(err)
		}
		return bm, nil
	}
	bms := make([]*roaring.Bitmap, 0, len(ids))
	for _, id := range ids {
		bm, err := ss.src.Bitmap(col, id)
		if err != nil {
			return fail(err)
		}
		if bm != nil {
			bms = append(bms, bm)
		}
	}
	return orAll(bms), nil
}

func (ss *sourceScan) triAnd(a, b tri) tri {
	t := roaring.And(a.t, b.t)
	if a.n == nil && b.n == nil {
		return tri{t: t}
	}
	// NULL where neither side is false and at least one is NULL.
	var n *roaring.Bitmap
	switch {
	case a.n == nil:
		n = roaring.And(b.n, a.t)
	case b.n == nil:
		n = roaring.And(a.n, b.t)
	default:
		n = roaring.Or(a.n, b.n)
		n.And(roaring.Or(a.t, a.n))
		n.And(roaring.Or(b.t, b.n))
	}
	return tri{t: t, n: n}
}

func triOr(a, b tri) tri {
	t := roaring.Or(a.t, b.t)
	if a.n == nil && b.n == nil {
		return tri{t: t}
	}
	var n *roaring.Bitmap
	switch {
	case a.n == nil:
		n = roaring.AndNot(b.n, t)
	case b.n == nil:
		n = roaring.AndNot(a.n, t)
	default:
		n = roaring.Or(a.n, b.n)
		n.AndNot(t)
	}
	return tri{t: t, n: n}
}

func (ss *sourceScan) indexDict(e Expr, col int, ev *evaluator) (tri, bool, error) {
	d, err := ss.src.Dict(col)
	if err != nil {
		return tri{}, false, fmt.Errorf("scan %s: source %s: column %s: %w", ss.sc.s.Table, ss.src.Name(), ss.sc.s.Schema.Columns[col].Name, err)
	}
	if d.Len() > maxIndexDict {
		return tri{}, false, nil
	}
	vals, err := ss.dict(col)
	if err != nil {
		return tri{}, false, err
	}
	nd := len(vals)
	b := &batch{n: nd + 1, cols: make([]*vec, len(ss.sc.s.Schema.Columns))}
	v := &vec{t: ss.sc.colTypes[col], n: nd + 1, s: make([]string, nd+1), nulls: make([]bool, nd+1)}
	copy(v.s, vals)
	v.nulls[nd] = true
	b.cols[col] = v
	res, err := ev.eval(e, b)
	if err != nil {
		// The predicate fails on some dictionary value, which may not be selected:
		// leave it to row-wise evaluation, which raises the error only if it must.
		return tri{}, false, nil
	}
	nulls, err := ss.nullsOf(col)
	if err != nil {
		return tri{}, false, err
	}
	var trueIDs, nullIDs, otherIDs []uint32
	for id := 0; id < nd; id++ {
		switch {
		case res.isNull(id):
			nullIDs = append(nullIDs, uint32(id))
		case res.b[id]:
			trueIDs = append(trueIDs, uint32(id))
		default:
			otherIDs = append(otherIDs, uint32(id))
		}
	}
	bitmaps := func(ids []uint32) ([]*roaring.Bitmap, error) {
		if _, ok := ss.src.(storage.IDRows); ok && len(ids) > 0 {
			bm, err := ss.rowsOf(col, ids) // one pass over the ids
			if err != nil {
				return nil, err
			}
			return []*roaring.Bitmap{bm}, nil
		}
		out := make([]*roaring.Bitmap, 0, len(ids))
		for _, id := range ids {
			bm, err := ss.src.Bitmap(col, id)
			if err != nil {
				return nil, fmt.Errorf("scan %s: source %s: column %s: %w", ss.sc.s.Table, ss.src.Name(), ss.sc.s.Schema.Columns[col].Name, err)
			}
			if bm != nil {
				out = append(out, bm)
			}
		}
		return out, nil
	}
	nullRowTrue := !res.isNull(nd) && res.b[nd]
	nullRowNull := res.isNull(nd)
	var r tri
	if len(trueIDs) > nd/2 && !nullRowTrue {
		// Complement: every non-NULL row minus the rows of the other values.
		bms, err := bitmaps(append(otherIDs, nullIDs...))
		if err != nil {
			return tri{}, false, err
		}
		r.t = ss.universe()
		if len(bms) > 0 {
			r.t.AndNot(orAll(bms))
		}
		if nulls != nil {
			r.t.AndNot(nulls)
		}
	} else {
		bms, err := bitmaps(trueIDs)
		if err != nil {
			return tri{}, false, err
		}
		if nullRowTrue && nulls != nil {
			bms = append(bms, nulls)
		}
		r.t = orAll(bms)
	}
	if len(nullIDs) > 0 || (nullRowNull && nulls != nil) {
		bms, err := bitmaps(nullIDs)
		if err != nil {
			return tri{}, false, err
		}
		if nullRowNull && nulls != nil {
			bms = append(bms, nulls)
		}
		r.n = orAll(bms)
	}
	return r, true, nil
}

// scanBufs are a worker's reusable read buffers.
type scanBufs struct {
	shared   colBuf // read buffers when batches are not reused
	reuse    bool   // batches are consumed before the next read (see readCol)
	raw, out []colBuf
	rel      []int32
	sel      []int32
	nullSpan []bool
}

// readCol reads table column col over rows [a, b) and keeps the rows at offsets rel
// (all rows when rel is nil).
func (ss *sourceScan) readCol(col, a, b int, rel []int32, bufs *scanBufs) (*vec, error) {
	t := ss.sc.colTypes[col]
	n := b - a
	if rel != nil {
		n = len(rel)
	}
	out := &vec{t: t, n: n}
	var err error
	wrap := func(err error) error {
		return fmt.Errorf("scan %s: source %s: column %s: %w", ss.sc.s.Table, ss.src.Name(), ss.sc.s.Schema.Columns[col].Name, err)
	}
	// With reuse the batch is consumed before the next read, so a column's values are
	// read into (and, for a full range, handed out from) buffers owned by the worker.
	raw, dst := &bufs.shared, (*colBuf)(nil)
	if bufs.reuse {
		raw, dst = bufs.col(col)
	}
	switch ss.sc.s.Schema.Columns[col].Type {
	case storage.TypeInt64, storage.TypeTimestamp:
		if raw.i64, err = ss.src.ReadInt64(col, a, b, raw.i64[:0]); err != nil {
			return nil, wrap(err)
		}
		out.i = pickInto(slotOf(dst, func(c *colBuf) *[]int64 { return &c.i64 }), raw.i64, rel, b-a)
	case storage.TypeFloat64:
		if raw.f64, err = ss.src.ReadFloat64(col, a, b, raw.f64[:0]); err != nil {
			return nil, wrap(err)
		}
		out.f = pickInto(slotOf(dst, func(c *colBuf) *[]float64 { return &c.f64 }), raw.f64, rel, b-a)
	case storage.TypeBool:
		if raw.b, err = ss.src.ReadBool(col, a, b, raw.b[:0]); err != nil {
			return nil, wrap(err)
		}
		out.b = pickInto(slotOf(dst, func(c *colBuf) *[]bool { return &c.b }), raw.b, rel, b-a)
	case storage.TypeString:
		if raw.ids, err = ss.src.ReadDictIDs(col, a, b, raw.ids[:0]); err != nil {
			return nil, wrap(err)
		}
		out.ids = pickInto(slotOf(dst, func(c *colBuf) *[]uint32 { return &c.ids }), raw.ids, rel, b-a)
		if t.ID == TypeInterval {
			ivs, err := ss.ivalDict(col)
			if err != nil {
				return nil, err
			}
			out.iv = make([]ival, n)
			for k, id := range out.ids {
				if int(id) < len(ivs) {
					out.iv[k] = ivs[id]
				}
			}
			out.ids = nil
			break
		}
		if t.ID == TypeNumeric { // exact: the text in nx, its float in f (numeric.go)
			vals, fs, err := ss.numDict(col)
			if err != nil {
				return nil, err
			}
			out.f, out.nx = make([]float64, n), make([]string, n)
			for k, id := range out.ids {
				if int(id) < len(vals) {
					out.f[k], out.nx[k] = fs[id], vals[id]
				}
			}
			out.ids = nil
			break
		}
		if ss.plainText && len(out.ids) == n {
			if err := ss.decodeText(col, out); err != nil {
				return nil, err
			}
			break
		}
		out.isDict = true
		if out.dict, err = ss.dict(col); err != nil {
			return nil, err
		}
	default:
		return nil, wrap(fmt.Errorf("unsupported column type %s", ss.sc.s.Schema.Columns[col].Type))
	}
	if n > 0 && out.i == nil && out.f == nil && out.b == nil && out.ids == nil && out.s == nil && out.iv == nil && out.nx == nil {
		return nil, wrap(fmt.Errorf("short read"))
	}
	nb, err := ss.nullsOf(col)
	if err != nil {
		return nil, err
	}
	if nb != nil && nb.IntersectsWithInterval(uint64(a), uint64(b)) {
		if mask := ss.nullMask(col, nb); mask != nil {
			// Read-only like every vec handed out; rows [a, b) of this read only.
			span := mask[a-ss.lo : b-ss.lo : b-ss.lo]
			if rel == nil {
				out.nulls = span
			} else {
				out.nulls = gatherSlice(span, rel)
			}
		} else {
			ss.walkNulls(nb, a, b, rel, bufs, out)
		}
		if out.s != nil {
			for k, x := range out.nulls {
				if x {
					out.s[k] = ""
				}
			}
		}
		if out.isDict {
			for k, x := range out.nulls {
				if x {
					out.ids[k] = 0 // keep ids in range for dictionary lookups
				}
			}
			if len(out.dict) == 0 {
				out.dict = []string{""}
			}
		}
	}
	return out, nil
}

// walkNulls sets out.nulls for rows [a, b) (kept rows rel) by walking the NULL rows
// of nb inside [a, b) instead of probing every row.
func (ss *sourceScan) walkNulls(nb *roaring.Bitmap, a, b int, rel []int32, bufs *scanBufs, out *vec) {
	span := bufs.nullSpan[:0]
	span = append(span, make([]bool, b-a)...)
	it := nb.Iterator()
	it.AdvanceIfNeeded(uint32(a))
	for it.HasNext() {
		r := int(it.Next())
		if r >= b {
			break
		}
		span[r-a] = true
	}
	bufs.nullSpan = span
	out.nulls = pick(span, rel, b-a)
	if bufs.reuse && rel == nil {
		out.nulls = span
		bufs.nullSpan = nil // handed out: the next read allocates its own
	}
}

// decodeText turns the dictionary ids in out into plain strings (NULL rows' ids may
// be out of range: they decode to "" and readCol marks them NULL).
func (ss *sourceScan) decodeText(col int, out *vec) error {
	d, err := ss.src.Dict(col)
	if err != nil {
		return fmt.Errorf("scan %s: source %s: column %s: %w", ss.sc.s.Table, ss.src.Name(), ss.sc.s.Schema.Columns[col].Name, err)
	}
	nd := uint32(d.Len())
	out.s = make([]string, len(out.ids))
	for k, id := range out.ids {
		if id < nd {
			out.s[k] = d.Value(id)
		}
	}
	out.ids = nil
	return nil
}

// colBuf holds one column's read buffers.
type colBuf struct {
	i64 []int64
	f64 []float64
	b   []bool
	ids []uint32
}

// col returns the raw read buffer and the output buffer of table column col.
func (b *scanBufs) col(col int) (raw, out *colBuf) {
	for len(b.raw) <= col {
		b.raw = append(b.raw, colBuf{})
		b.out = append(b.out, colBuf{})
	}
	return &b.raw[col], &b.out[col]
}

func slotOf[T any](dst *colBuf, f func(*colBuf) *[]T) *[]T {
	if dst == nil {
		return nil
	}
	return f(dst)
}

// pickInto returns the rows rel of src (all want rows when rel is nil). Without an
// owner (dst nil) the result is freshly allocated; with one, a full range is src
// itself and a selection is gathered into *slot.
func pickInto[T any](slot *[]T, src []T, rel []int32, want int) []T {
	if len(src) < want {
		return nil
	}
	if slot == nil {
		return pick(src, rel, want)
	}
	if rel == nil {
		return src[:want]
	}
	out := (*slot)[:0]
	for _, r := range rel {
		out = append(out, src[r])
	}
	*slot = out
	return out
}

func pick[T any](src []T, rel []int32, want int) []T {
	if len(src) < want {
		return nil
	}
	if rel == nil {
		out := make([]T, want)
		copy(out, src)
		return out
	}
	return gatherSlice(src, rel)
}

// run reads the selected rows in batches of at most BatchSize, applies the residual
// conjuncts and calls emit with batches of the Scan's output columns.
func (ss *sourceScan) run(ctx context.Context, ev *evaluator, bufs *scanBufs, emit func(*batch) error) error {
	if pf, ok := ss.src.(storage.Prefetcher); ok && len(ss.read) > 0 {
		pf.Prefetch(ss.read) // the columns about to be read, fetched together
	}
	return ss.runWindow(ctx, ev, bufs, ss.lo, ss.hi, emit)
}

// runWindow is run restricted to the rows in [lo, hi) (clamped to the scan's range).
func (ss *sourceScan) runWindow(ctx context.Context, ev *evaluator, bufs *scanBufs, lo, hi int, emit func(*batch) error) error {
	lo, hi = max(lo, ss.lo), min(hi, ss.hi)
	if lo >= hi {
		return nil
	}
	width := len(ss.sc.s.Schema.Columns)
	do := func(a, b int, rel []int32) error {
		if err := ctxErr(ctx); err != nil {
			return err
		}
		bt := &batch{n: b - a, cols: make([]*vec, width)}
		if rel != nil {
			bt.n = len(rel)
		}
		for _, c := range ss.read {
			v, err := ss.readCol(c, a, b, rel, bufs)
			if err != nil {
				return err
			}
			bt.cols[c] = v
		}
		// Conjuncts narrow the batch one after the other; the last selection gathers
		// only the output columns (none at all for count(*)).
		var sel []int32
		for i, e := range ss.residual {
			c, err := ev.eval(e, bt)
			if err != nil {
				return err
			}
			sel = selTrue(c, bufs.sel[:0])
			bufs.sel = sel
			if len(sel) == 0 {
				return nil
			}
			if len(sel) == bt.n {
				sel = nil
			} else if i < len(ss.residual)-1 {
				bt = bt.gather(sel)
				sel = nil
			}
		}
		n := bt.n
		if sel != nil {
			n = len(sel)
		}
		out := &batch{n: n, cols: make([]*vec, len(ss.sc.s.Columns))}
		for k, c := range ss.sc.s.Columns {
			v := bt.cols[c]
			if sel != nil {
				v = v.gather(sel)
			}
			if k < len(ss.sc.s.Out) && v.t != ss.sc.s.Out[k].Type && kindOf(v.t) == kindOf(ss.sc.s.Out[k].Type) {
				cp := *v
				cp.t = ss.sc.s.Out[k].Type
				v = &cp
			}
			out.cols[k] = v
		}
		return emit(out)
	}
	if ss.sel == nil {
		for a := lo; a < hi; a += BatchSize {
			if err := do(a, min(a+BatchSize, hi), nil); err != nil {
				return err
			}
		}
		return nil
	}
	it := ss.sel.Iterator()
	if lo > ss.lo {
		it.AdvanceIfNeeded(uint32(lo))
	}
	for it.HasNext() && int(it.PeekNext()) < hi {
		first := int(it.PeekNext())
		end := min(first+BatchSize, hi)
		rel := bufs.rel[:0]
		for it.HasNext() && int(it.PeekNext()) < end {
			rel = append(rel, int32(int(it.Next())-first))
		}
		bufs.rel = rel
		last := first + int(rel[len(rel)-1]) + 1
		if len(rel) == last-first {
			rel = nil // every row in the range is selected
		}
		if err := do(first, last, rel); err != nil {
			return err
		}
	}
	return nil
}

// parallelScan runs a pipeline (Scan + Filter/Project stages) over the scan's sources
// on Parallelism workers and streams the batches. Batch order across sources is not
// defined.
type parallelScan struct {
	q   *query
	pl  *pipeline
	sc  *scanner
	out chan *batch

	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      struct {
		sync.Mutex
		err error
	}
}

func newParallelScan(q *query, pl *pipeline) *parallelScan {
	return &parallelScan{q: q, pl: pl, sc: newScanner(q, pl.scan)}
}

// forEachSource runs fn for every source on up to Parallelism workers, each with its
// own evaluator and buffers. The first error cancels the rest and is returned.
func forEachSource(ctx context.Context, q *query, sources []storage.Source, fn func(ctx context.Context, w *worker, src storage.Source) error) error {
	return forEachSourceIndexed(ctx, q, sources, func(ctx context.Context, w *worker, _ int, src storage.Source) error {
		return fn(ctx, w, src)
	})
}

// forEachSourceIndexed is forEachSource passing each source's index in sources.
// Sources are claimed in index order: when fn runs for index i > 0, some worker has
// already started fn for every index below i.
func forEachSourceIndexed(ctx context.Context, q *query, sources []storage.Source, fn func(ctx context.Context, w *worker, i int, src storage.Source) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	nw := min(scanWorkers(q, sources), len(sources))
	for w := 0; w < nw; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := &worker{ev: q.newEvaluator()}
			for {
				i := int(next.Add(1) - 1)
				if i >= len(sources) || ctx.Err() != nil {
					return
				}
				err := safely(func() error { return fn(ctx, wk, i, sources[i]) })
				if r, ok := sources[i].(storage.Releasable); ok {
					r.ReleaseDecoded() // done with it: at most a source per worker stays decoded
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctxErr(ctx)
	}
	return first
}

// scanWorkers is the number of workers that scan sources: the query's
// parallelism, times storage.RemoteScanWorkers when a source reads from object
// storage (its requests then overlap other sources' decoding). A parallelism of
// 1 stays 1 (a query asked to run on one worker).
func scanWorkers(q *query, sources []storage.Source) int {
	if q.opts.Parallelism <= 1 {
		return q.opts.Parallelism
	}
	for _, src := range sources {
		if r, ok := src.(storage.RemoteReader); ok && r.RemoteReads() {
			return q.opts.Parallelism * storage.RemoteScanWorkers
		}
	}
	return q.opts.Parallelism
}

// worker is the per-goroutine state of a scan worker.
type worker struct {
	ev        *evaluator
	bufs      scanBufs
	metaParts []metaPart // sumMeta.parts's buffer
}

func (p *parallelScan) start() {
	p.started = true
	ctx, cancel := context.WithCancel(p.q.ctx)
	p.cancel = cancel
	p.out = make(chan *batch, p.q.opts.Parallelism)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(p.out)
		err := safely(func() error { return p.run(ctx) })
		if err != nil {
			p.mu.Lock()
			p.mu.err = err
			p.mu.Unlock()
		}
	}()
}

// run scans every source on the workers into p.out.
func (p *parallelScan) run(ctx context.Context) error {
	return forEachSource(ctx, p.q, p.pl.scan.Sources, func(ctx context.Context, w *worker, src storage.Source) error {
		ss, err := p.sc.prepare(src, w.ev)
		if err != nil || ss == nil {
			return err
		}
		return ss.run(ctx, w.ev, &w.bufs, func(b *batch) error {
			b, err := runStages(w.ev, p.pl.stages, b)
			if err != nil || b.n == 0 {
				return err
			}
			select {
			case p.out <- b:
				return nil
			case <-ctx.Done():
				return ctxErr(ctx)
			}
		})
	})
}

func (p *parallelScan) nextBatch(ctx context.Context) (*batch, error) {
	if !p.started {
		p.start()
	}
	select {
	case b, ok := <-p.out:
		if ok {
			return b, nil
		}
		p.mu.Lock()
		err := p.mu.err
		p.mu.Unlock()
		return nil, err
	case <-ctx.Done():
		return nil, ctxErr(ctx)
	}
}

func (p *parallelScan) close() {
	if p.started {
		p.cancel()
		for range p.out {
		}
		p.wg.Wait()
	}
}
