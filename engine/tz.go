package engine

import (
	"math"
	"time"
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
