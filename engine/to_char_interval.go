package engine

import (
	"strconv"
	"strings"

	"github.com/stratadb/strata/internal/sqlstate"
)

// to_char(interval, text): the template patterns of to_char.go over an interval's
// fields as PostgreSQL 15's interval_to_char splits them: years and months from
// the months (truncated, each keeping the interval's sign), days as they are,
// hours (any number of them), minutes, seconds and microseconds from the time.
// Fields that name a calendar position (month and day names, D, ID, AD/BC, TZ,
// OF) are 22007, "invalid format specification for an interval value"; DDD is
// the approximate span in days (30-day months), as in PostgreSQL. Year fields are
// printed as they are (no BC adjustment), CC is years / 100; ISO year, week and
// day and J treat the fields as a proleptic date, as PostgreSQL does.

// intervalFields is PostgreSQL's pg_tm of an interval (interval2itm).
type intervalFields struct {
	year, mon, mday, hour, min, sec, usec, yday int64
}

func splitInterval(v ival) intervalFields {
	f := intervalFields{year: int64(v.M) / 12, mon: int64(v.M) % 12, mday: int64(v.D)}
	t := v.U
	f.hour = t / 3600_000_000
	t -= f.hour * 3600_000_000
	f.min = t / 60_000_000
	t -= f.min * 60_000_000
	f.sec = t / 1_000_000
	f.usec = t - f.sec*1_000_000
	f.yday = (f.year*12+f.mon)*30 + f.mday
	return f
}

// date2j is PostgreSQL's date2j (Julian day of a proleptic Gregorian date, the
// month possibly out of 1..12 as an interval's fields give it), in C's integer
// arithmetic.
func date2j(y, m, d int64) int64 {
	if m > 2 {
		m++
		y += 4800
	} else {
		m += 13
		y += 4799
	}
	century := y / 100
	j := y*365 - 32167
	j += y/4 - century + century/4
	j += 7834*m/256 + d
	return j
}

// j2day is PostgreSQL's j2day: the day of the week (0 = Sunday) of Julian day j.
func j2day(j int64) int64 {
	j = (j + 1) % 7
	if j < 0 {
		j += 7
	}
	return j
}

// date2isoweek, date2isoyear and date2isoyearday are PostgreSQL's functions of
// the same names.
func date2isoweek(y, m, d int64) int64 {
	dayn := date2j(y, m, d)
	day4 := date2j(y, 1, 4)
	day0 := j2day(day4 - 1)
	if dayn < day4-day0 {
		day4 = date2j(y-1, 1, 4)
		day0 = j2day(day4 - 1)
	}
	result := (dayn-(day4-day0))/7 + 1
	if result >= 52 {
		day4 = date2j(y+1, 1, 4)
		day0 = j2day(day4 - 1)
		if dayn >= day4-day0 {
			result = (dayn-(day4-day0))/7 + 1
		}
	}
	return result
}

func date2isoyear(y, m, d int64) int64 {
	dayn := date2j(y, m, d)
	day4 := date2j(y, 1, 4)
	day0 := j2day(day4 - 1)
	if dayn < day4-day0 {
		y--
		day4 = date2j(y, 1, 4)
		day0 = j2day(day4 - 1)
	}
	result := (dayn-(day4-day0))/7 + 1
	if result >= 52 {
		day4 = date2j(y+1, 1, 4)
		day0 = j2day(day4 - 1)
		if dayn >= day4-day0 {
			y++
		}
	}
	return y
}

func date2isoyearday(y, m, d int64) int64 {
	return date2j(y, m, d) - isoweek2j(date2isoyear(y, m, d), 1) + 1
}

// isoweek2j is PostgreSQL's isoweek2j: the Julian day of the Monday of ISO week w.
func isoweek2j(y, w int64) int64 {
	day4 := date2j(y, 1, 4)
	day0 := j2day(day4 - 1)
	return (w-1)*7 + (day4 - day0)
}

var romanMonthsLower = [...]string{"i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii"}

// appendDCHInterval formats the interval fields f by nodes.
func appendDCHInterval(dst []byte, nodes []dchNode, f intervalFields) ([]byte, error) {
	for _, n := range nodes {
		if n.key == "" {
			dst = append(dst, n.text...)
			continue
		}
		// num is C's "%0*lld": the width counts a minus sign; widen adds one to it,
		// as PostgreSQL 15 does for a negative field ("x >= 0 ? w : w + 1"; for the
		// ISO year fields x is the year, not the ISO year).
		num := func(v int64, width int, widen bool) {
			if n.fm {
				width = 0
			} else if widen {
				width++
			}
			s := strconv.FormatInt(v, 10)
			if v < 0 {
				s = strconv.FormatInt(-v, 10)
				width--
			}
			for len(s) < width {
				s = "0" + s
			}
			if v < 0 {
				s = "-" + s
			}
			dst = append(dst, s...)
			if n.th != "" {
				dst = append(dst, ordinal(s, n.th == "TH")...)
			}
		}
		// fixed-width fractions: C's "%0Nd" whatever FM says
		frac := func(v int64, width int) {
			fm := n.fm
			n.fm = false
			num(v, width, false)
			n.fm = fm
		}
		mer := func(s string) {
			switch {
			case n.key == strings.ToLower(n.key):
				s = strings.ToLower(s)
			}
			dst = append(dst, s...)
		}
		switch strings.ToUpper(n.key) {
		case "A.M.", "P.M.":
			if f.hour%24 >= 12 {
				mer("P.M.")
			} else {
				mer("A.M.")
			}
		case "AM", "PM":
			if f.hour%24 >= 12 {
				mer("PM")
			} else {
				mer("AM")
			}
		case "HH", "HH12":
			h := f.hour % 12
			if h == 0 {
				h = 12
			}
			num(h, 2, f.hour < 0)
		case "HH24":
			num(f.hour, 2, f.hour < 0)
		case "MI":
			num(f.min, 2, f.min < 0)
		case "SS":
			num(f.sec, 2, f.sec < 0)
		case "FF1", "FF2", "FF3", "FF4", "FF5", "FF6":
			d := int(n.key[2] - '0')
			div := int64(1)
			for k := d; k < 6; k++ {
				div *= 10
			}
			frac(f.usec/div, d)
		case "MS":
			frac(f.usec/1000, 3)
		case "US":
			frac(f.usec, 6)
		case "SSSS", "SSSSS":
			num(f.hour*3600+f.min*60+f.sec, 0, false)
		case "MM":
			num(f.mon, 2, f.mon < 0)
		case "DDD":
			num(f.yday, 3, false)
		case "IDDD":
			num(date2isoyearday(f.year, f.mon, f.mday), 3, false)
		case "DD":
			num(f.mday, 2, false)
		case "WW":
			num((f.yday-1)/7+1, 2, false)
		case "IW":
			num(date2isoweek(f.year, f.mon, f.mday), 2, false)
		case "W":
			num((f.mday-1)/7+1, 0, false)
		case "Q":
			if f.mon != 0 {
				num((f.mon-1)/3+1, 0, false)
			}
		case "CC":
			c := f.year / 100
			if c <= 99 && c >= -99 {
				num(c, 2, c < 0)
			} else {
				num(c, 0, false)
			}
		case "Y,YYY":
			i := f.year / 1000
			dst = strconv.AppendInt(dst, i, 10)
			dst = append(dst, ',')
			r := f.year - i*1000
			s := strconv.FormatInt(r, 10)
			if r >= 0 {
				s = strings.Repeat("0", max(0, 3-len(s))) + s
			} else if len(s) < 3 {
				s = "-" + strings.Repeat("0", 3-len(s)) + s[1:]
			}
			dst = append(dst, s...)
			if n.th != "" {
				dst = append(dst, ordinal(s, n.th == "TH")...)
			}
		case "YYYY":
			num(f.year, 4, f.year < 0)
		case "YYY":
			num(f.year%1000, 3, f.year < 0)
		case "YY":
			num(f.year%100, 2, f.year < 0)
		case "Y":
			num(f.year%10, 1, false)
		case "IYYY":
			num(date2isoyear(f.year, f.mon, f.mday), 4, f.year < 0)
		case "IYY":
			num(date2isoyear(f.year, f.mon, f.mday)%1000, 3, f.year < 0)
		case "IY":
			num(date2isoyear(f.year, f.mon, f.mday)%100, 2, f.year < 0)
		case "I":
			num(date2isoyear(f.year, f.mon, f.mday)%10, 1, false)
		case "RM":
			if f.mon >= 1 && f.mon <= 12 {
				s := romanMonths[f.mon-1]
				if n.key == "rm" {
					s = romanMonthsLower[f.mon-1]
				}
				dst = append(dst, s...)
				if !n.fm {
					for k := len(s); k < 4; k++ {
						dst = append(dst, ' ')
					}
				}
			}
		case "J":
			num(date2j(f.year, f.mon, f.mday), 0, false)
		case "FX":
		default: // month and day names, D, ID, AD/BC, TZ, TZH, TZM, OF
			return nil, &Error{Code: sqlstate.InvalidDatetimeFormat, Message: "invalid format specification for an interval value",
				Hint: "Intervals are not tied to specific calendar dates."}
		}
	}
	return dst, nil
}

// toCharInterval is to_char(interval, text).
func toCharInterval(x, f *vec, n int) (*vec, error) {
	out := newVec(Text, n)
	out.nulls = unionNulls(n, x, f)
	var (
		lastF string
		nodes []dchNode
		buf   []byte
		err   error
	)
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		if s := f.str(i); nodes == nil || s != lastF {
			lastF, nodes = s, compileDCH(s)
		}
		if buf, err = appendDCHInterval(buf[:0], nodes, splitInterval(x.iv[i])); err != nil {
			return nil, err
		}
		out.s[i] = string(buf)
	}
	return out, nil
}
