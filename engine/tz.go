package engine

import (
	"math"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones even where the system has none

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
// session's zone (DetermineTimeZoneOffset): a time a daylight-saving change skips
// is read with the offset before the change, an ambiguous one as standard time…
// as Go's time.Date resolves them.
func localToUTC(us int64, loc *time.Location) int64 {
	if loc == nil || loc == time.UTC || us == math.MaxInt64 || us == math.MinInt64 {
		return us
	}
	secs := floorDiv(us, 1e6)
	rem := us - secs*1e6
	t := time.Unix(secs, 0).UTC()
	lt := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc)
	return lt.Unix()*1e6 + rem
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
func (ev *evaluator) cast(x *vec, t Type) (*vec, error) {
	return castVec(x, t)
}

// castToText is a value's text form, as the output function prints it in the
// session (concat, format, ||).
func (ev *evaluator) castToText(x *vec) (*vec, error) { return ev.cast(x, Text) }

// LoadZone resolves a time zone as PostgreSQL's TimeZone setting and AT TIME ZONE
// read it: a number is hours east of UTC (SET TIME ZONE 8, '-3.5'); otherwise an
// IANA name in any case ('Asia/Shanghai', 'america/new_york', 'UTC', 'Etc/GMT-8')
// or a POSIX zone ('EST5EDT'). Unknown: 22023 as PostgreSQL's "time zone … not
// recognized".
func LoadZone(name string) (*time.Location, error) {
	s := strings.TrimSpace(name)
	if h, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(h) && !math.IsInf(h, 0) {
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
	return nil, Errorf(sqlstate.InvalidParameterValue, "time zone %q not recognized", name)
}

// fixedZoneName is how PostgreSQL names a numeric zone: "<+08>-08", POSIX.
func fixedZoneName(off int) string {
	return "<" + string(appendOffset(nil, int64(off), false)) + ">" + string(appendOffset(nil, int64(-off), false))
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
// timestamptz: +08, -03:30, +00:17:30; short keeps the hours only when whole.
func appendOffset(dst []byte, off int64, _ bool) []byte {
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
