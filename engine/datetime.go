package engine

import (
	"math"
	"strings"
	"time"

	"github.com/stratadb/strata/internal/sqlstate"
)

type dtUnit uint8

const (
	uBad dtUnit = iota
	uMicro
	uMilli
	uSecond
	uMinute
	uHour
	uDay
	uWeek
	uMonth
	uQuarter
	uYear
	uDecade
	uCentury
	uMillennium
	uEpoch
	uDow
	uIsodow
	uDoy
	uIsoyear
	uTimezone
	uJulian
)

func parseUnit(s string) dtUnit {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "microsecond", "microseconds", "us", "usec", "usecs":
		return uMicro
	case "millisecond", "milliseconds", "ms", "msec", "msecs":
		return uMilli
	case "second", "seconds", "s", "sec", "secs":
		return uSecond
	case "minute", "minutes", "m", "min", "mins":
		return uMinute
	case "hour", "hours", "h", "hr", "hrs":
		return uHour
	case "day", "days", "d":
		return uDay
	case "week", "weeks", "w":
		return uWeek
	case "month", "months", "mon", "mons":
		return uMonth
	case "quarter", "qtr":
		return uQuarter
	case "year", "years", "y", "yr", "yrs":
		return uYear
	case "decade", "decades":
		return uDecade
	case "century", "centuries":
		return uCentury
	case "millennium", "millennia", "millenniums":
		return uMillennium
	case "epoch":
		return uEpoch
	case "dow":
		return uDow
	case "isodow":
		return uIsodow
	case "doy":
		return uDoy
	case "isoyear":
		return uIsoyear
	case "timezone", "timezone_hour", "timezone_minute":
		return uTimezone
	case "julian":
		return uJulian
	}
	return uBad
}

// truncTime truncates µs since the epoch (UTC) to unit.
func truncTime(us int64, u dtUnit) (int64, bool) {
	if us == math.MaxInt64 || us == math.MinInt64 {
		return us, true
	}
	switch u {
	case uMicro:
		return us, true
	case uMilli:
		return floorDiv(us, 1000) * 1000, true
	case uSecond:
		return floorDiv(us, usPerSec) * usPerSec, true
	case uMinute:
		return floorDiv(us, usPerMin) * usPerMin, true
	case uHour:
		return floorDiv(us, usPerHour) * usPerHour, true
	case uDay:
		return floorDiv(us, usPerDay) * usPerDay, true
	case uWeek:
		days := floorDiv(us, usPerDay)
		// 1970-01-01 was a Thursday; weeks start on Monday.
		dow := ((days+3)%7 + 7) % 7
		return (days - dow) * usPerDay, true
	}
	days := floorDiv(us, usPerDay)
	y, m, _ := civil(days)
	switch u {
	case uMonth:
	case uQuarter:
		m = (m-1)/3*3 + 1
	case uYear:
		m = 1
	case uDecade:
		y, m = floorDiv(y, 10)*10, 1
	case uCentury:
		if y > 0 {
			y = (y+99)/100*100 - 99
		} else {
			y = -((99-(y-1))/100*100 - 1)
		}
		m = 1
	case uMillennium:
		if y > 0 {
			y = (y+999)/1000*1000 - 999
		} else {
			y = -((999-(y-1))/1000*1000 - 1)
		}
		m = 1
	default:
		return 0, false
	}
	return daysFromCivil(y, m, 1) * usPerDay, true
}

func unitErr(unit string, t Type) *Error {
	return Errorf(sqlstate.InvalidParameterValue, "unit \"%s\" not recognized for type %s", unit, t)
}

func unitUnsupported(unit string, t Type) *Error {
	return Errorf(sqlstate.FeatureNotSupported, "unit \"%s\" not supported for type %s", unit, t)
}

func dateTrunc(unitV, x *vec, rt Type) (*vec, error) {
	n := x.n
	if step := constStep(unitV, x); step > 0 {
		out := newVec(rt, n)
		out.nulls = unionNulls(n, x)
		truncStep(out.i, x.i[:n], x.nulls, step)
		return out, nil
	}
	out := newVec(rt, n)
	out.nulls = unionNulls(n, unitV, x)
	lastS, lastU := "", uBad
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		if s := unitV.str(i); s != lastS || lastU == uBad {
			lastS, lastU = s, parseUnit(s)
		}
		u := lastU
		switch x.t.ID {
		case TypeInterval:
			iv := x.iv[i]
			var r ival
			switch u {
			case uMillennium:
				r.M = iv.M / 12000 * 12000
			case uCentury:
				r.M = iv.M / 1200 * 1200
			case uDecade:
				r.M = iv.M / 120 * 120
			case uYear:
				r.M = iv.M / 12 * 12
			case uQuarter:
				r.M = iv.M / 3 * 3
			case uMonth:
				r.M = iv.M
			case uDay:
				r.M, r.D = iv.M, iv.D
			case uHour, uMinute, uSecond, uMilli, uMicro:
				r.M, r.D = iv.M, iv.D
				step := map[dtUnit]int64{uHour: usPerHour, uMinute: usPerMin, uSecond: usPerSec, uMilli: 1000, uMicro: 1}[u]
				r.U = iv.U / step * step
			default:
				return nil, unitErr(lastS, x.t)
			}
			out.iv[i] = r
		default:
			us := x.i[i]
			if x.t.ID == TypeDate {
				us *= usPerDay
			}
			r, ok := truncTime(us, u)
			if !ok {
				return nil, unitErr(lastS, x.t)
			}
			out.i[i] = r
		}
	}
	return out, nil
}

// constStep returns, for timestamps x truncated to one unit of a fixed length
// (microsecond to day) named by every row of unitV, that length in µs; else 0.
func constStep(unitV, x *vec) int64 {
	if x.t.ID != TypeTimestamp && x.t.ID != TypeTimestampTZ || unitV.nulls != nil || x.n == 0 {
		return 0
	}
	s := unitV.str(0)
	for i := 1; i < unitV.n; i++ {
		if unitV.str(i) != s { // a constant's rows share one string: cheap
			return 0
		}
	}
	switch parseUnit(s) {
	case uMicro:
		return 1
	case uMilli:
		return 1000
	case uSecond:
		return usPerSec
	case uMinute:
		return usPerMin
	case uHour:
		return usPerHour
	case uDay:
		return usPerDay
	}
	return 0
}

// truncStep sets dst[i] to src[i] truncated to a multiple of step (truncTime of a
// fixed-length unit), skipping NULL rows. Time columns are mostly sorted, so the
// bucket of the previous row is kept and a row inside it costs two compares, no
// division.
func truncStep(dst, src []int64, nulls []bool, step int64) {
	lo, hi := int64(1), int64(0) // an empty bucket
	for i, us := range src {
		switch {
		case nulls != nil && nulls[i]:
		case us >= lo && us < hi:
			dst[i] = lo
		case us == math.MaxInt64 || us == math.MinInt64:
			dst[i] = us // ±infinity
		default:
			lo = floorDiv(us, step) * step
			hi = lo + step // overflow near the end of time: hi < lo, the bucket stays empty
			dst[i] = lo
		}
	}
}

// isoWeek returns the ISO 8601 week-numbering year and week of days since the epoch.
func isoWeek(days int64) (int64, int64) {
	dow := ((days+3)%7+7)%7 + 1 // 1 = Monday
	thursday := days - dow + 4
	y, _, _ := civil(thursday)
	jan1 := daysFromCivil(y, 1, 1)
	return y, (thursday-jan1)/7 + 1
}

// extractTime returns field u of a timestamp in µs; isDate rejects time-of-day fields.
func extractTime(us int64, u dtUnit, isDate bool) (float64, bool) {
	days := floorDiv(us, usPerDay)
	rem := us - days*usPerDay
	switch u {
	case uEpoch:
		return float64(us) / 1e6, true
	case uMicro, uMilli, uSecond, uMinute, uHour, uTimezone:
		if isDate {
			return 0, false
		}
	case uDow:
		return float64(((days+4)%7 + 7) % 7), true
	case uIsodow:
		return float64(((days+3)%7+7)%7 + 1), true
	case uJulian:
		return float64(days+2440588) + float64(rem)/float64(usPerDay), true
	}
	var y int64
	var m, d int
	switch u {
	case uDay, uMonth, uQuarter, uYear, uDecade, uCentury, uMillennium, uDoy:
		y, m, d = civil(days) // only the units of the calendar need it
	}
	switch u {
	case uMicro:
		if isDate {
			return 0, false
		}
		return float64(rem % usPerMin), true
	case uMilli:
		if isDate {
			return 0, false
		}
		return float64(rem%usPerMin) / 1000, true
	case uSecond:
		if isDate {
			return 0, false
		}
		return float64(rem%usPerMin) / 1e6, true
	case uMinute:
		if isDate {
			return 0, false
		}
		return float64(rem / usPerMin % 60), true
	case uHour:
		if isDate {
			return 0, false
		}
		return float64(rem / usPerHour), true
	case uDay:
		return float64(d), true
	case uWeek:
		_, w := isoWeek(days)
		return float64(w), true
	case uMonth:
		return float64(m), true
	case uQuarter:
		return float64((m-1)/3 + 1), true
	case uYear:
		if y <= 0 {
			return float64(y - 1), true
		}
		return float64(y), true
	case uDecade:
		return float64(floorDiv(y, 10)), true
	case uCentury:
		if y > 0 {
			return float64((y + 99) / 100), true
		}
		return float64(-((99 - (y - 1)) / 100)), true
	case uMillennium:
		if y > 0 {
			return float64((y + 999) / 1000), true
		}
		return float64(-((999 - (y - 1)) / 1000)), true
	case uEpoch:
		return float64(us) / 1e6, true
	case uDow:
		return float64(((days+4)%7 + 7) % 7), true
	case uIsodow:
		return float64(((days+3)%7+7)%7 + 1), true
	case uDoy:
		return float64(days - daysFromCivil(y, 1, 1) + 1), true
	case uIsoyear:
		iy, _ := isoWeek(days)
		return float64(iy), true
	case uJulian:
		return float64(days+2440588) + float64(rem)/float64(usPerDay), true
	case uTimezone:
		if isDate {
			return 0, false
		}
		return 0, true
	}
	return 0, false
}

func extractInterval(iv ival, u dtUnit) (float64, bool) {
	switch u {
	case uMicro:
		return float64(iv.U % usPerMin), true
	case uMilli:
		return float64(iv.U%usPerMin) / 1000, true
	case uSecond:
		return float64(iv.U%usPerMin) / 1e6, true
	case uMinute:
		return float64(iv.U / usPerMin % 60), true
	case uHour:
		return float64(iv.U / usPerHour), true
	case uDay:
		return float64(iv.D), true
	case uMonth:
		return float64(iv.M % 12), true
	case uQuarter:
		return float64(iv.M%12/3 + 1), true
	case uYear:
		return float64(iv.M / 12), true
	case uDecade:
		return float64(iv.M / 120), true
	case uCentury:
		return float64(iv.M / 1200), true
	case uMillennium:
		return float64(iv.M / 12000), true
	case uEpoch:
		return float64(iv.M/12)*365.25*86400 + float64(iv.M%12)*30*86400 + float64(iv.D)*86400 + float64(iv.U)/1e6, true
	}
	return 0, false
}

func extract(unitV, x *vec, rt Type, isExtract bool) (*vec, error) {
	n := x.n
	out := newVec(rt, n)
	out.nulls = unionNulls(n, unitV, x)
	lastS, lastU := "", uBad
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		if s := unitV.str(i); s != lastS || lastU == uBad {
			lastS, lastU = s, parseUnit(s)
			if lastU == uBad {
				return nil, unitErr(s, x.t)
			}
		}
		var r float64
		var ok bool
		switch x.t.ID {
		case TypeInterval:
			r, ok = extractInterval(x.iv[i], lastU)
		case TypeDate:
			r, ok = extractTime(x.i[i]*usPerDay, lastU, true)
		default:
			us := x.i[i]
			if us == math.MaxInt64 || us == math.MinInt64 {
				r, ok = math.Inf(1), true
				if us == math.MinInt64 {
					r = math.Inf(-1)
				}
				break
			}
			r, ok = extractTime(us, lastU, false)
		}
		if !ok {
			return nil, unitUnsupported(lastS, x.t)
		}
		out.f[i] = r
	}
	return out, nil
}

// timeFloor implements Druid's TIME_FLOOR(ts, 'PT5M'): fixed periods floor to a
// multiple since the epoch, calendar periods (P1M, P1Y, P1W) use date_trunc.
func timeFloor(x, period *vec) (*vec, error) {
	n := x.n
	out := newVec(x.t, n)
	out.nulls = unionNulls(n, x, period)
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		p := strings.ToUpper(period.str(i))
		m, d, us, ok := parseInterval(p)
		if !ok || (m == 0 && d == 0 && us <= 0) {
			return nil, Errorf(sqlstate.InvalidParameterValue, "invalid period \"%s\"", period.str(i))
		}
		switch {
		case m != 0:
			u := uMonth
			switch m {
			case 3:
				u = uQuarter
			case 12:
				u = uYear
			}
			out.i[i], _ = truncTime(x.i[i], u)
		case d == 7 && us == 0:
			out.i[i], _ = truncTime(x.i[i], uWeek)
		default:
			step := int64(d)*usPerDay + us
			out.i[i] = floorDiv(x.i[i], step) * step
		}
	}
	return out, nil
}

// extractConst is extract/date_part with a constant unit over a timestamp vec: the
// unit is parsed once and epoch, the usual one, is a plain loop. ok is false when c
// has another shape (extract then runs per row).
func (ev *evaluator) extractConst(c *Call, b *batch) (*vec, bool, error) {
	if !fastPaths || len(c.Args) != 2 || kindOf(c.T) != kFloat {
		return nil, false, nil
	}
	k, ok := c.Args[0].(*Const)
	if !ok || k.V.Null || kindOf(k.V.Type) != kText {
		return nil, false, nil
	}
	u := parseUnit(k.V.S)
	if u == uBad {
		return nil, false, nil
	}
	x, err := ev.eval(c.Args[1], b)
	if err != nil {
		return nil, true, err
	}
	if x.t.ID != TypeTimestamp && x.t.ID != TypeTimestampTZ {
		return nil, false, nil
	}
	n := b.n
	if len(x.i) < n {
		return nil, false, nil
	}
	out := &vec{t: c.T, n: n, nulls: x.nulls, f: make([]float64, n)}
	for i, us := range x.i[:n] {
		if x.nulls != nil && x.nulls[i] {
			continue
		}
		if us == math.MaxInt64 || us == math.MinInt64 {
			out.f[i] = math.Inf(1)
			if us == math.MinInt64 {
				out.f[i] = math.Inf(-1)
			}
			continue
		}
		if u == uEpoch {
			out.f[i] = float64(us) / 1e6
			continue
		}
		r, ok := extractTime(us, u, false)
		if !ok {
			return nil, true, unitUnsupported(k.V.S, x.t)
		}
		out.f[i] = r
	}
	return out, true, nil
}

// timeBucketOrigin is TimescaleDB's default time_bucket origin, Monday 2000-01-03
// (so weekly buckets start on Mondays); month buckets align to 2000-01-01.
var timeBucketOrigin = time.Date(2000, 1, 3, 0, 0, 0, 0, time.UTC).UnixMicro()

// timeBucket is TimescaleDB's time_bucket(width, ts) (Grafana's TimescaleDB mode
// writes time_bucket('300.000s', ts)) and PostgreSQL's date_bin(stride, ts, origin):
// the start of the width-long bucket holding ts, buckets aligned to origin.
func timeBucket(name string, width, x, origin *vec) (*vec, error) {
	n := x.n
	out := newVec(x.t, n)
	out.nulls = unionNulls(n, width, x)
	if origin != nil {
		out.nulls = unionNulls(n, width, x, origin)
	}
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		w := width.iv[i]
		org := timeBucketOrigin
		if origin != nil {
			org = origin.i[i]
		}
		switch {
		case w.M != 0 && w.D == 0 && w.U == 0 && name == "time_bucket" && w.M > 0:
			// months: whole months counted from 2000-01
			t := time.UnixMicro(x.i[i]).UTC()
			months := int64(t.Year()-2000)*12 + int64(t.Month()-1)
			k := floorDiv(months, int64(w.M)) * int64(w.M)
			y := floorDiv(k, 12)
			out.i[i] = time.Date(2000+int(y), time.Month(k-12*y+1), 1, 0, 0, 0, 0, time.UTC).UnixMicro()
		case w.M != 0:
			return nil, Errorf(sqlstate.InvalidParameterValue, "%s: strides with months are not supported (mixing months with days or time)", name)
		default:
			step := int64(w.D)*usPerDay + w.U
			if step <= 0 {
				return nil, Errorf(sqlstate.InvalidParameterValue, "%s: the stride must be greater than zero", name)
			}
			out.i[i] = org + floorDiv(x.i[i]-org, step)*step
		}
	}
	return out, nil
}
