package engine

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // IANA zones even where the system has none

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stratadb/strata/internal/sqlstate"
)

// Time zones. A session's TimeZone reaches the engine as the location of
// Options.Now (the evaluator's now): what PostgreSQL computes in the session's
// zone — timestamptz text, date_trunc and extract of a timestamptz, casts between
// timestamp and timestamptz and to date, to_char, AT TIME ZONE, timestamptz plus
// an interval with days or months — strata computes in ev.now.Location(). UTC
// (the default) takes the fast paths that ignore the zone.

// zoneOffset is the UTC offset, in seconds east, of zone loc at instant us.
func zoneOffset(us int64, loc *time.Location) int64 {
	if loc == nil || loc == time.UTC {
		return 0
	}
	_, off := time.Unix(floorDiv(us, 1e6), 0).In(loc).Zone()
	return int64(off)
}

// utcToLocal is the wall-clock time (µs, as if UTC) in loc of instant us.
func utcToLocal(us int64, loc *time.Location) int64 {
	if us == math.MaxInt64 || us == math.MinInt64 {
		return us
	}
	return us + zoneOffset(us, loc)*1e6
}

// localToUTC converts a wall-clock time (µs since 1970-01-01 00:00 as if UTC) in
// zone loc to an instant, as PostgreSQL reads a timestamp without an offset in the
// session's zone (DetermineTimeZoneOffset): near a change of offset, a time that
// exists once takes its offset; a time the change skips (spring forward) or
// repeats (fall back) takes the offset giving the later instant of the two
// readings — the offset before a spring-forward, after a fall-back.
func localToUTC(us int64, loc *time.Location) int64 {
	if loc == nil || loc == time.UTC || us == math.MaxInt64 || us == math.MinInt64 {
		return us
	}
	const day = 86400 * 1e6
	offB, offA := zoneOffset(us-day, loc)*1e6, zoneOffset(us+day, loc)*1e6
	uB, uA := us-offB, us-offA
	if offB == offA {
		if off := zoneOffset(uB, loc) * 1e6; off != offB { // a change and its return within a day
			return us - off
		}
		return uB
	}
	validB, validA := zoneOffset(uB, loc)*1e6 == offB, zoneOffset(uA, loc)*1e6 == offA
	switch {
	case validB && !validA:
		return uB
	case validA && !validB:
		return uA
	}
	return max(uB, uA)
}

// addIntervalTZ is timestamptz ± interval in zone loc: months and days are added
// to the local wall clock, the time part to the instant, as PostgreSQL's
// timestamptz_pl_interval does.
func addIntervalTZ(us int64, iv ival, sign int64, loc *time.Location) int64 {
	if loc == nil || loc == time.UTC || (iv.M == 0 && iv.D == 0) {
		return addInterval(us, iv, sign)
	}
	if us == math.MaxInt64 || us == math.MinInt64 {
		return us
	}
	local := utcToLocal(us, loc)
	local = addMonths(local, int32(sign)*iv.M) + sign*int64(iv.D)*usPerDay
	return localToUTC(local, loc) + sign*iv.U
}

// cast is castVec with the session's time zone for the casts that depend on it.
// A reg type becomes text with the statement's names (regtypes.go).
func (ev *evaluator) cast(x *vec, t Type) (*vec, error) {
	if x.t.Reg != 0 && t.ID == TypeText {
		names := ev.regNames()
		if names == nil && (x.t.Reg == RegClass || x.t.Reg == RegRole || x.t.Reg == RegNamespace) {
			// outside a statement (constant folding) the database's names are
			// unknown: the plan keeps the cast for execution
			return nil, Unsupported(x.t.String() + " as text outside a statement")
		}
		return castRegText(x, names), nil
	}
	return castIn(x, t, ev.zone())
}

// regNames is the statement's Options.RegNames (nil outside a statement).
func (ev *evaluator) regNames() RegNamer {
	if ev.q == nil {
		return nil
	}
	return ev.q.opts.RegNames
}

// castToText is a value's text form, as the output function prints it in the
// session (concat, format): a boolean is t or f there, where the cast to text
// (and so ||) spells true or false.
func (ev *evaluator) castToText(x *vec) (*vec, error) {
	if x.t.Pad != 0 {
		return padVec(x), nil
	}
	if x.t.ID != TypeBool {
		return ev.cast(x, Text)
	}
	out := newVec(Text, x.n)
	out.nulls = x.nulls
	for i, b := range x.b {
		if !out.isNull(i) {
			out.s[i] = string(appendBool(nil, b))
		}
	}
	return out, nil
}

// LoadZone resolves a time zone as PostgreSQL's TimeZone setting and AT TIME ZONE
// read it: a number is hours east of UTC (SET TIME ZONE 8, '-3.5'); otherwise an
// IANA name in any case ('Asia/Shanghai', 'america/new_york', 'UTC', 'Etc/GMT-8')
// or a POSIX zone ('EST5EDT'). Unknown: 22023 as PostgreSQL's "time zone … not
// recognized".
func LoadZone(name string) (*time.Location, error) { return loadZone(name, false) }

// loadZone is LoadZone; posix reads a bare number as a POSIX offset, hours west
// of UTC, as AT TIME ZONE '+08' does.
func loadZone(name string, posix bool) (*time.Location, error) {
	s := strings.TrimSpace(name)
	if h, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(h) && !math.IsInf(h, 0) {
		if posix {
			h = -h
		}
		if math.Abs(h) > 168 {
			return nil, Errorf(sqlstate.InvalidParameterValue, "invalid value for parameter \"TimeZone\": %q", name)
		}
		off := int(math.Round(h * 3600))
		return time.FixedZone(fixedZoneName(off), off), nil
	}
	switch strings.ToUpper(s) {
	case "UTC", "Z", "ZULU", "UCT", "UNIVERSAL", "ETC/UTC", "ETC/UCT", "ETC/UNIVERSAL", "ETC/ZULU":
		return time.UTC, nil
	case "GMT", "ETC/GMT", "GMT0", "ETC/GMT0", "GREENWICH", "ETC/GREENWICH":
		return time.FixedZone("GMT", 0), nil
	}
	if s != "" && !strings.Contains(s, "..") && s[0] != '/' {
		for _, cand := range zoneCandidates(s) {
			if loc, err := time.LoadLocation(cand); err == nil {
				return loc, nil
			}
		}
	}
	// A POSIX zone without rules: an abbreviation and hours west, "UTC+8", "<+08>-8".
	i := strings.IndexAny(s, "+-")
	if strings.HasPrefix(s, "<") {
		i = strings.IndexByte(s, '>') + 1
	}
	if i > 0 && i < len(s) && (s[i] == '+' || s[i] == '-') {
		abbr, off := s[:i], s[i:]
		sign := 1.0
		if off[0] == '-' {
			sign = -1
		}
		hs, ms, _ := strings.Cut(off[1:], ":")
		h, err1 := strconv.Atoi(hs)
		m := 0
		var err2 error
		if ms != "" {
			m, err2 = strconv.Atoi(ms)
		}
		if err1 == nil && err2 == nil && h <= 24 && m < 60 && (isAlphaZone(abbr) || strings.HasPrefix(abbr, "<") && strings.HasSuffix(abbr, ">")) {
			secs := int(-sign * float64(h*3600+m*60))
			return time.FixedZone(s, secs), nil
		}
	}
	return nil, Errorf(sqlstate.InvalidParameterValue, "time zone %q not recognized", name)
}

// fixedZoneName is how PostgreSQL names a numeric zone: "<+08>-08", POSIX.
func fixedZoneName(off int) string {
	return "<" + string(appendOffset(nil, int64(off))) + ">" + string(appendOffset(nil, int64(-off)))
}

// zoneCandidates are the spellings of a zone name to try: as written, then with
// each word capitalized (america/new_york → America/New_York), then upper case
// (est5edt → EST5EDT).
func zoneCandidates(s string) []string {
	b := []byte(strings.ToLower(s))
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '/' || c == '_' || c == '-'
	}
	return []string{s, string(b), strings.ToUpper(s)}
}

// appendOffset prints a UTC offset (seconds east) as PostgreSQL does after a
// timestamptz: +08, -03:30, +00:17:30.
func appendOffset(dst []byte, off int64) []byte {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	dst = append(dst, sign)
	dst = appendPad(dst, off/3600, 2)
	if m, s := off/60%60, off%60; m != 0 || s != 0 {
		dst = append(dst, ':')
		dst = appendPad(dst, m, 2)
		if s != 0 {
			dst = append(dst, ':')
			dst = appendPad(dst, s, 2)
		}
	}
	return dst
}

// zone is the session's time zone.
func (ev *evaluator) zone() *time.Location { return ev.now.Location() }

// zoned reports whether x is a timestamptz to be read in a zone other than UTC.
func (ev *evaluator) zoned(x *vec) bool {
	loc := ev.zone()
	return x.t.ID == TypeTimestampTZ && loc != time.UTC && loc != nil
}

// localVec is x (timestamptz) as wall-clock times in the session's zone, typed
// timestamp.
func (ev *evaluator) localVec(x *vec) *vec {
	loc := ev.zone()
	out := newVec(Timestamp, x.n)
	out.nulls = x.nulls
	for i := 0; i < x.n; i++ {
		if !x.isNull(i) {
			out.i[i] = utcToLocal(x.i[i], loc)
		}
	}
	return out
}

// utcVec is x (wall-clock times in the session's zone) as timestamptz.
func (ev *evaluator) utcVec(x *vec) *vec {
	loc := ev.zone()
	out := newVec(TimestampTZ, x.n)
	out.nulls = x.nulls
	for i := 0; i < x.n; i++ {
		if !x.isNull(i) {
			out.i[i] = localToUTC(x.i[i], loc)
		}
	}
	return out
}

// castIn is castVec with the casts that depend on the time zone done in loc:
// timestamptz to and from timestamp, date and text.
func castIn(x *vec, t Type, loc *time.Location) (*vec, error) {
	if loc == nil || loc == time.UTC || x.t == t {
		return castVec(x, t)
	}
	ev := &evaluator{now: time.Unix(0, 0).In(loc)}
	switch {
	case x.t.ID == TypeTimestampTZ && (t.ID == TypeTimestamp || t.ID == TypeDate):
		return castVec(ev.localVec(x), t)
	case x.t.ID == TypeTimestampTZ && t.ID == TypeText:
		out := newVec(Text, x.n)
		out.nulls = x.nulls
		var buf []byte
		for i := 0; i < x.n; i++ {
			if !x.isNull(i) {
				buf = appendTimestampIn(buf[:0], x.i[i], loc)
				out.s[i] = string(buf)
			}
		}
		return out, nil
	case t.ID == TypeTimestampTZ && (x.t.ID == TypeTimestamp || x.t.ID == TypeDate):
		w, err := castVec(x, Timestamp)
		if err != nil {
			return nil, err
		}
		return ev.utcVec(w), nil
	case t.ID == TypeTimestampTZ && kindOf(x.t) == kText:
		out := newVec(TimestampTZ, x.n)
		out.nulls = x.nulls
		for i := 0; i < x.n; i++ {
			if x.isNull(i) {
				continue
			}
			us, err := parseTimestampIn(x.str(i), TimestampTZ, loc)
			if err != nil {
				return nil, err
			}
			out.i[i] = us
		}
		return out, nil
	}
	return castVec(x, t)
}

// appendTimestampIn appends a timestamptz's text in zone loc: the wall clock and
// the offset, "2024-03-01 08:00:00+08", "… 05:30:00+05:30".
func appendTimestampIn(dst []byte, us int64, loc *time.Location) []byte {
	if us == math.MaxInt64 || us == math.MinInt64 || loc == nil || loc == time.UTC {
		return appendTimestamp(dst, us, true)
	}
	start := len(dst)
	dst = appendTimestamp(dst, utcToLocal(us, loc), false)
	bc := len(dst)-start >= 3 && string(dst[len(dst)-3:]) == " BC"
	if bc {
		dst = dst[:len(dst)-3]
	}
	dst = appendOffset(dst, zoneOffset(us, loc))
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

// The zone a result column of timestamptz is printed in travels in its Arrow
// type's TimeZone (Options.TextZone, set for what a client reads); AppendText
// reads it back. Zones are kept by name once loaded.
var zonesByName sync.Map // string → *time.Location

func zoneName(loc *time.Location) string {
	name := loc.String()
	zonesByName.LoadOrStore(name, loc)
	return name
}

// arrayZone is the zone a timestamptz array is to be printed in, nil for UTC.
func arrayZone(a arrow.Array) *time.Location {
	tt, ok := a.DataType().(*arrow.TimestampType)
	if !ok || tt.TimeZone == "" || tt.TimeZone == "UTC" {
		return nil
	}
	if l, ok := zonesByName.Load(tt.TimeZone); ok {
		return l.(*time.Location)
	}
	if l, err := LoadZone(tt.TimeZone); err == nil {
		return l
	}
	return nil
}

// ArrayZone is the zone the timestamptz column arr is to be printed in (nil:
// UTC), for the wire layer's own timestamp printer.
func ArrayZone(arr arrow.Array) *time.Location { return arrayZone(arr) }

// zonedType is the Arrow type of a timestamptz result printed in loc.
func zonedType(loc *time.Location) arrow.DataType {
	return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: zoneName(loc)}
}

// arrowType is the Arrow type a result column of type t leaves in: a timestamptz
// carries the zone it prints in (Options.TextZone).
func (r *rows) arrowType(t Type) arrow.DataType {
	if r.zoned(t) {
		return zonedType(r.q.opts.TextZone)
	}
	return t.Arrow()
}

// zoned reports whether a result column of type t carries a zone.
func (r *rows) zoned(t Type) bool {
	z := r.q.opts.TextZone
	return t.ID == TypeTimestampTZ && z != nil && z != time.UTC
}

// retype gives arr the type dt over the same buffers; it takes over arr's
// reference.
func retype(arr arrow.Array, dt arrow.DataType) arrow.Array {
	d := arr.Data()
	nd := array.NewData(dt, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
	out := array.MakeFromData(nd)
	nd.Release()
	arr.Release()
	return out
}

func isAlphaZone(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return len(s) >= 3
}

// zonedArith is timestamptz ± interval in a session zone other than UTC (days
// and months on the local wall clock); ok false leaves the call to arith.
func (ev *evaluator) zonedArith(op string, x, y *vec, rt Type) (*vec, bool) {
	loc := ev.zone()
	if rt.ID != TypeTimestampTZ || loc == time.UTC || loc == nil || (op != "+" && op != "-") {
		return nil, false
	}
	ts, iv, sign := x, y, int64(1)
	switch {
	case x.t.ID == TypeTimestampTZ && y.t.ID == TypeInterval:
		if op == "-" {
			sign = -1
		}
	case x.t.ID == TypeInterval && y.t.ID == TypeTimestampTZ && op == "+":
		ts, iv = y, x
	default:
		return nil, false
	}
	out := newVec(TimestampTZ, x.n)
	out.nulls = unionNulls(x.n, x, y)
	for i := 0; i < x.n; i++ {
		if !out.isNull(i) {
			out.i[i] = addIntervalTZ(ts.i[i], iv.iv[i], sign, loc)
		}
	}
	return out, true
}
