package engine

import (
	"github.com/stratadb/strata/internal/sqlstate"
	"math"
	"strings"
)

// Window frames, as PostgreSQL defines them (SQL:2011): which rows of a partition
// an aggregate, first_value or last_value sees for the current row.
//
//	ROWS    offsets count rows;
//	GROUPS  offsets count peer groups (rows with equal ORDER BY values);
//	RANGE   offsets are a distance in the single ORDER BY column's value
//	        (c - 1 hour .. c for RANGE BETWEEN interval '1 hour' PRECEDING AND CURRENT ROW).
//
// CURRENT ROW is the row itself in ROWS mode and its peer group in RANGE and GROUPS
// mode. EXCLUDE CURRENT ROW / GROUP / TIES then removes the row, its peer group, or
// its peers but not itself. Frame heads and tails are computed exactly as
// nodeWindowAgg.c's update_frameheadpos/update_frametailpos do: one head and one
// tail pointer per partition that only move forward, so bounds cost O(n) per
// partition; a RANGE offset compares with the type's in_range rule (overflow,
// NaN and infinities included), and NULLs in the ORDER BY column sort as PostgreSQL
// sorts them: a NULL current row's offset bounds are its peer group (the NULLs).

// FrameMode is how a frame's offsets count.
type FrameMode uint8

const (
	FrameRange FrameMode = iota // the default
	FrameRows
	FrameGroups
)

// FrameExclusion is a frame's EXCLUDE clause.
type FrameExclusion uint8

const (
	ExcludeNoOthers FrameExclusion = iota
	ExcludeCurrentRow
	ExcludeGroup
	ExcludeTies
)

// FrameBoundKind is one end of a window frame.
type FrameBoundKind uint8

const (
	UnboundedPreceding FrameBoundKind = iota
	Preceding
	CurrentRow
	Following
	UnboundedFollowing
)

// FrameBound is a frame end. Offset is the n of "n PRECEDING/FOLLOWING": an
// expression without column references (a constant or a parameter), evaluated once
// per execution. For ROWS and GROUPS it is a bigint; for RANGE it has the type the
// ORDER BY column's in_range takes: bigint for integer columns, double precision
// or numeric for those, interval for dates, timestamps and intervals.
type FrameBound struct {
	Kind   FrameBoundKind
	Offset Expr
}

// Frame is a window frame.
type Frame struct {
	Mode       FrameMode
	Start, End FrameBound
	Exclude    FrameExclusion
}

// DefaultFrame is PostgreSQL's frame when none is given: RANGE BETWEEN UNBOUNDED
// PRECEDING AND CURRENT ROW (the whole partition without ORDER BY).
var DefaultFrame = Frame{Start: FrameBound{Kind: UnboundedPreceding}, End: FrameBound{Kind: CurrentRow}}

func (fr Frame) isDefault() bool {
	return fr.Mode == FrameRange && fr.Start.Kind == UnboundedPreceding && fr.End.Kind == CurrentRow && fr.Exclude == ExcludeNoOthers
}

// String returns the frame clause as SQL.
func (fr Frame) String() string {
	bound := func(b FrameBound) string {
		switch b.Kind {
		case UnboundedPreceding:
			return "UNBOUNDED PRECEDING"
		case Preceding:
			return b.Offset.String() + " PRECEDING"
		case CurrentRow:
			return "CURRENT ROW"
		case Following:
			return b.Offset.String() + " FOLLOWING"
		}
		return "UNBOUNDED FOLLOWING"
	}
	s := [...]string{FrameRange: "RANGE", FrameRows: "ROWS", FrameGroups: "GROUPS"}[fr.Mode] +
		" BETWEEN " + bound(fr.Start) + " AND " + bound(fr.End)
	switch fr.Exclude {
	case ExcludeCurrentRow:
		s += " EXCLUDE CURRENT ROW"
	case ExcludeGroup:
		s += " EXCLUDE GROUP"
	case ExcludeTies:
		s += " EXCLUDE TIES"
	}
	return s
}

// frameOffsets are a frame's evaluated offsets.
type frameOffsets struct {
	start, end Value
}

// evalFrameOffsets evaluates f's offsets with PostgreSQL's checks
// (calculate_frame_offsets): NULL is 22004; a negative ROWS or GROUPS offset is
// 22013. A RANGE offset is checked by rangeFrame.check, as in_range checks it.
func (o *windowOp) evalFrameOffsets(f *WindowFunc) (frameOffsets, error) {
	var out frameOffsets
	for _, x := range []struct {
		b    FrameBound
		dst  *Value
		name string
	}{{f.Frame.Start, &out.start, "starting"}, {f.Frame.End, &out.end, "ending"}} {
		if x.b.Kind != Preceding && x.b.Kind != Following {
			continue
		}
		v, err := o.ev.eval(x.b.Offset, &batch{n: 1})
		if err != nil {
			return out, err
		}
		*x.dst = v.value(0)
		if x.dst.Null {
			return out, Errorf(sqlstate.NullValueNotAllowed, "frame %s offset must not be null", x.name)
		}
		if f.Frame.Mode != FrameRange && x.dst.I < 0 {
			return out, Errorf(sqlstate.InvalidPrecedingOrFollowingSize, "frame %s offset must not be negative", x.name)
		}
	}
	return out, nil
}

// peerGroups fills gs[i] and ge[i] with the first and one past the last position of
// position i's peer group, and returns the groups' start positions followed by n.
// Without ORDER BY every row is a peer of every other.
func peerGroups(n int, peer func(a, b int) bool, gs, ge []int32, starts []int32) []int32 {
	starts = starts[:0]
	for i := 0; i < n; i++ {
		if i == 0 || !peer(i-1, i) {
			starts = append(starts, int32(i))
		}
		gs[i] = starts[len(starts)-1]
	}
	starts = append(starts, int32(n))
	for g := 0; g+1 < len(starts); g++ {
		for i := starts[g]; i < starts[g+1]; i++ {
			ge[i] = starts[g+1]
		}
	}
	return starts
}

// frameBounds fills lo[i], hi[i] (hi exclusive) with position i's frame before
// exclusion, for a partition of n rows.
// gs/ge/starts are the peer groups (peerGroups); rf compares RANGE offsets.
func frameBounds(fr *Frame, offs frameOffsets, n int, gs, ge, starts []int32, rf *rangeFrame, lo, hi []int32) {
	var gidx []int32 // GROUPS: group number of each position
	if fr.Mode == FrameGroups {
		gidx = make([]int32, n)
		for g := 0; g+1 < len(starts); g++ {
			for i := starts[g]; i < starts[g+1]; i++ {
				gidx[i] = int32(g)
			}
		}
	}
	groups := int64(len(starts) - 1)
	// groupAt returns the first position of group g, clamped to [0, n].
	groupAt := func(g int64) int32 {
		switch {
		case g <= 0:
			return 0
		case g >= groups:
			return int32(n)
		}
		return starts[g]
	}
	// the RANGE pointers persist across the partition's rows, as in PostgreSQL
	head, tail := 0, 0
	for i := 0; i < n; i++ {
		// start
		var s int32
		switch b := fr.Start; b.Kind {
		case UnboundedPreceding:
			s = 0
		case CurrentRow:
			s = int32(i)
			if fr.Mode != FrameRows {
				s = gs[i]
			}
		case UnboundedFollowing:
			s = int32(n)
		default:
			off := offs.start
			switch fr.Mode {
			case FrameRows:
				s = int32(clampPos(int64(i), off.I, b.Kind == Preceding, n))
			case FrameGroups:
				s = groupAt(addOffset(int64(gidx[i]), off.I, b.Kind == Preceding))
			default:
				head = rf.head(head, i, b.Kind == Preceding)
				s = int32(head)
			}
		}
		lo[i] = s
		// end (exclusive)
		var e int32
		switch b := fr.End; b.Kind {
		case UnboundedFollowing:
			e = int32(n)
		case CurrentRow:
			e = int32(i + 1)
			if fr.Mode != FrameRows {
				e = ge[i]
			}
		case UnboundedPreceding:
			e = 0
		default:
			off := offs.end
			switch fr.Mode {
			case FrameRows:
				e = int32(clampPos(addOffset(int64(i), 1, false), off.I, b.Kind == Preceding, n))
			case FrameGroups:
				e = groupAt(addOffset(addOffset(int64(gidx[i]), off.I, b.Kind == Preceding), 1, false))
			default:
				tail = rf.tail(tail, i, b.Kind == Preceding)
				e = int32(tail)
			}
		}
		hi[i] = e
	}
}

// addOffset returns x - off (sub) or x + off for off >= 0, saturating at the int64
// limits (PostgreSQL treats an overflowing bound as beyond the partition).
func addOffset(x, off int64, sub bool) int64 {
	if sub {
		if x < math.MinInt64+off {
			return math.MinInt64
		}
		return x - off
	}
	if x > math.MaxInt64-off {
		return math.MaxInt64
	}
	return x + off
}

// clampPos returns x ∓ off clamped to the partition [0, n].
func clampPos(x, off int64, sub bool, n int) int64 {
	return min(max(addOffset(x, off, sub), 0), int64(n))
}

// frameSpans returns position i's frame [lo, hi) less its exclusion as at most three
// ascending, non-empty spans [a, b), written into buf.
func frameSpans(lo, hi, i, gs, ge int32, ex FrameExclusion, buf *[3][2]int32) [][2]int32 {
	out := buf[:0]
	add := func(a, b int32) {
		if a < b {
			out = append(out, [2]int32{a, b})
		}
	}
	switch ex {
	case ExcludeNoOthers:
		add(lo, hi)
	case ExcludeCurrentRow:
		add(lo, min(hi, i))
		add(max(lo, i+1), hi)
	case ExcludeGroup:
		add(lo, min(hi, gs))
		add(max(lo, ge), hi)
	case ExcludeTies:
		add(lo, min(hi, gs))
		add(max(lo, i), min(hi, i+1))
		add(max(lo, ge), hi)
	}
	return out
}

// rangeFrame finds the frame ends of RANGE offset frames over one partition.
type rangeFrame struct {
	all        *vec // the single ORDER BY column, whole input in window order
	key        *vec // its rows of the current partition (setPartition)
	desc       bool
	nullsFirst bool
	start, end Value // the offsets
	// For integer, date and timestamp keys: ksAll are the values in the unit
	// in_range compares (dates as timestamps, µs), ks the partition's, and shift
	// returns x - off (sub) or x + off, false when that is beyond every value
	// (PostgreSQL's overflow rule). The shifted value is computed once per row.
	ksAll, ks []int64
	shift     func(x int64, off Value, sub bool) (int64, bool)
	// inRange, for the other keys, is PostgreSQL's in_range support function:
	// whether the value at position val lies on the "less" side (val <= base ±
	// off) or the other (val >= base ± off) of position base's value shifted by
	// off. Neither row is NULL.
	inRange func(val, base int32, off Value, sub, less bool) bool
}

// setPartition points rf at the partition at window-order positions [lo, hi).
func (rf *rangeFrame) setPartition(lo, hi int) {
	rf.key = rf.all.slice(lo, hi)
	if rf.ksAll != nil {
		rf.ks = rf.ksAll[lo:hi]
	}
}

// head advances the frame head from h for current position i: the first position
// that satisfies in_range, or the first NULL when the current row is NULL.
func (rf *rangeFrame) head(h, i int, preceding bool) int {
	sub, less := preceding, false
	if rf.desc {
		sub, less = !sub, true
	}
	curNull := rf.key.isNull(i)
	if rf.ks != nil && !curNull {
		sum, ok := rf.shift(rf.ks[i], rf.start, sub)
		for ; h < rf.key.n; h++ {
			if rf.key.isNull(h) {
				if rf.nullsFirst {
					continue // NULLs sort before every value
				}
				break
			}
			if in := !ok && sub != less || ok && (less && rf.ks[h] <= sum || !less && rf.ks[h] >= sum); in {
				break
			}
		}
		return h
	}
	for ; h < rf.key.n; h++ {
		hNull := rf.key.isNull(h)
		if hNull || curNull {
			if rf.nullsFirst {
				if !hNull || curNull {
					break
				}
			} else if hNull || !curNull {
				break
			}
		} else if rf.inRange(int32(h), int32(i), rf.start, sub, less) {
			break
		}
	}
	return h
}

// tail advances the frame tail (exclusive) from t for current position i: past the
// last position that satisfies in_range, or the last NULL when the row is NULL.
func (rf *rangeFrame) tail(t, i int, preceding bool) int {
	sub, less := preceding, true
	if rf.desc {
		sub, less = !sub, false
	}
	curNull := rf.key.isNull(i)
	if rf.ks != nil && !curNull {
		sum, ok := rf.shift(rf.ks[i], rf.end, sub)
		for ; t < rf.key.n; t++ {
			if rf.key.isNull(t) {
				if rf.nullsFirst {
					continue
				}
				break
			}
			if in := !ok && sub != less || ok && (less && rf.ks[t] <= sum || !less && rf.ks[t] >= sum); !in {
				break
			}
		}
		return t
	}
	for ; t < rf.key.n; t++ {
		tNull := rf.key.isNull(t)
		if tNull || curNull {
			if rf.nullsFirst {
				if !tNull {
					break
				}
			} else if !curNull {
				break
			}
		} else if !rf.inRange(int32(t), int32(i), rf.end, sub, less) {
			break
		}
	}
	return t
}

// RangeOffsetType returns the offset type a RANGE offset frame over an ORDER BY
// column of type col takes when the offset is written with type off, as
// PostgreSQL's in_range support functions define the pairs; false when there is
// none (PostgreSQL: 0A000).
func RangeOffsetType(col, off Type) (Type, bool) {
	switch {
	case col.IsInteger():
		if off.IsInteger() {
			return Int64, true
		}
	case col.ID == TypeFloat32 || col.ID == TypeFloat64:
		if off.IsNumeric() {
			return Float64, true
		}
	case col.ID == TypeNumeric:
		if off.IsInteger() || off.ID == TypeNumeric || off.IsDecimal() {
			return Numeric, true
		}
	case col.IsTime(), col.ID == TypeDate, col.ID == TypeInterval:
		if off.ID == TypeInterval {
			return Interval, true
		}
	}
	return Unknown, false
}

// newRangeFrame returns the RANGE offset comparer for key (the ORDER BY column,
// whole input in window order) and checks the offsets as in_range does: a
// negative (or NaN) offset is 22013.
func newRangeFrame(key *vec, sk SortKey, offs frameOffsets, fr *Frame) (*rangeFrame, error) {
	rf := &rangeFrame{all: key, desc: sk.Desc, nullsFirst: sk.NullsFirst, start: offs.start, end: offs.end}
	// in_range is only called when some row's key is not NULL; so is its check.
	someKey := false
	for i := 0; i < key.n && !someKey; i++ {
		someKey = !key.isNull(i)
	}
	for _, b := range []struct {
		kind FrameBoundKind
		off  Value
	}{{fr.Start.Kind, offs.start}, {fr.End.Kind, offs.end}} {
		if b.kind != Preceding && b.kind != Following || !someKey {
			continue
		}
		var neg bool
		switch kindOf(b.off.Type) {
		case kInt:
			neg = b.off.I < 0
		case kFloat:
			neg = b.off.F < 0 || math.IsNaN(b.off.F)
		case kInterval:
			neg = ivalKey(ival{b.off.Months, b.off.Days, b.off.I}) < 0
		}
		if neg {
			return nil, Errorf(sqlstate.InvalidPrecedingOrFollowingSize, "invalid preceding or following size in window function")
		}
	}
	switch t := key.t; {
	case t.IsInteger():
		rf.ksAll = key.i
		rf.shift = func(x int64, off Value, sub bool) (int64, bool) { return addInt64(x, off.I, sub) }
	case kindOf(t) == kFloat:
		rf.inRange = func(val, base int32, off Value, sub, less bool) bool {
			return inRangeFloat(rf.key.f[val], rf.key.f[base], off.F, sub, less)
		}
	case t.IsTime(), t.ID == TypeDate:
		rf.ksAll = key.i
		if t.ID == TypeDate {
			// in_range_date_interval compares as timestamps
			rf.ksAll = make([]int64, key.n)
			for i, d := range key.i {
				rf.ksAll[i] = d * usPerDay
			}
		}
		rf.shift = func(x int64, off Value, sub bool) (int64, bool) {
			sign := int64(1)
			if sub {
				sign = -1
			}
			return addInterval(x, ival{off.Months, off.Days, off.I}, sign), true
		}
	case t.ID == TypeInterval:
		rf.inRange = func(val, base int32, off Value, sub, less bool) bool {
			b := rf.key.iv[base]
			sign := int64(1)
			if sub {
				sign = -1
			}
			sum := float64(b.M)*30*float64(usPerDay) + float64(b.D)*float64(usPerDay) + float64(b.U) +
				float64(sign)*ivalKey(ival{off.Months, off.Days, off.I})
			if less {
				return ivalKey(rf.key.iv[val]) <= sum
			}
			return ivalKey(rf.key.iv[val]) >= sum
		}
	default:
		return nil, Errorf(sqlstate.FeatureNotSupported, "RANGE with offset PRECEDING/FOLLOWING is not supported for column type %s", t)
	}
	return rf, nil
}

// addInt64 returns x - off (sub) or x + off, and false on overflow.
func addInt64(x, off int64, sub bool) (int64, bool) {
	if sub {
		off = -off
		if off > 0 { // off was MinInt64: cannot happen for a checked offset
			return 0, false
		}
	}
	s := x + off
	if (off > 0 && s < x) || (off < 0 && s > x) {
		return 0, false
	}
	return s, true
}

// inRangeFloat is PostgreSQL's in_range_float8_float8 (offset already checked):
// NaN sorts after every other value and equals itself.
func inRangeFloat(val, base, off float64, sub, less bool) bool {
	switch {
	case math.IsNaN(val):
		if math.IsNaN(base) {
			return true
		}
		return !less
	case math.IsNaN(base):
		return less
	}
	if math.IsInf(off, 1) && math.IsInf(base, 0) && (sub == (base > 0)) {
		return true // base ± Inf would be NaN: every value is in range
	}
	sum := base + off
	if sub {
		sum = base - off
	}
	if less {
		return val <= sum
	}
	return val >= sum
}

// frameText is the frame clause of an EXPLAIN line, empty for the default frame.
func frameText(fr Frame) string {
	if fr.isDefault() {
		return ""
	}
	return strings.TrimSpace(fr.String())
}
