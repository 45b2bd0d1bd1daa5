// Package pginterval reads and writes PostgreSQL's interval text: its input
// forms (interval_in: "1 day 2 hours", "01:00:00", "-1 days +02:03:04.5",
// "5 minutes ago", "@ 1 hour", ISO 8601 "P1DT2H") and its output in
// IntervalStyle postgres ("1 year 2 mons 3 days 04:05:06.7"). An interval is
// months, days and microseconds, kept apart as PostgreSQL keeps them. The
// engine computes with them; storage keeps an interval column as its output
// text, which Parse reads back exactly.
package pginterval

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

const (
	usPerSec  = int64(1_000_000)
	usPerMin  = 60 * usPerSec
	usPerHour = 60 * usPerMin
	usPerDay  = 24 * usPerHour
)

// ErrSyntax and ErrFieldRange are why Check refuses an input: it is no interval
// (PostgreSQL's 22007), or a field is past its range (22015: more than int32
// months or days, or int64 microseconds, as "2562047789 hours").
var (
	ErrSyntax     = errors.New("invalid input syntax for type interval")
	ErrFieldRange = errors.New("interval field value out of range")
)

// Parse parses PostgreSQL interval input: "1 day 2 hours", "01:00:00",
// "-1 days +02:03:04.5", "5 minutes ago", "@ 1 hour", "2.592e+06 seconds", and ISO
// 8601 "P1DT2H". Fractional units cascade down (1.5 days = 1 day 12:00:00);
// whole numbers of time units are exact (2562047788 hours).
func Parse(s string) (months, days int32, us int64, ok bool) {
	months, days, us, err := Check(s)
	return months, days, us, err == nil
}

// Check is Parse, saying why an input is refused (ErrSyntax, ErrFieldRange).
func Check(s string) (months, days int32, us int64, err error) {
	months, days, us, ok, overflow := parse(s)
	switch {
	case overflow:
		return 0, 0, 0, ErrFieldRange
	case !ok:
		return 0, 0, 0, ErrSyntax
	}
	return months, days, us, nil
}

func parse(s string) (months, days int32, us int64, ok, overflow bool) {
	in := strings.ToLower(strings.TrimSpace(s))
	in = strings.TrimPrefix(in, "@")
	if strings.HasPrefix(in, "p") {
		months, days, us, ok = parseISOInterval(in[1:])
		return months, days, us, ok, false
	}
	var fm, fd, fus float64
	var exact int64 // microseconds of HH:MM:SS fields read exactly
	toks := strings.Fields(in)
	if len(toks) == 0 {
		return 0, 0, 0, false, false
	}
	ago := false
	if toks[len(toks)-1] == "ago" {
		ago = true
		toks = toks[:len(toks)-1]
	}
	seen := false
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		if strings.Contains(tok, ":") {
			sign := 1.0
			if tok[0] == '-' {
				sign, tok = -1, tok[1:]
			} else if tok[0] == '+' {
				tok = tok[1:]
			}
			parts := strings.Split(tok, ":")
			if len(parts) > 3 {
				return 0, 0, 0, false, false
			}
			if v, ok := exactClock(parts); ok { // no float between: the output form reads back exactly
				if sign < 0 {
					v = -v
				}
				exact += v
				seen = true
				continue
			}
			var h, m, sec float64
			var err error
			if h, err = strconv.ParseFloat(parts[0], 64); err != nil {
				return 0, 0, 0, false, false
			}
			if m, err = strconv.ParseFloat(parts[1], 64); err != nil {
				return 0, 0, 0, false, false
			}
			if len(parts) == 3 {
				if sec, err = strconv.ParseFloat(parts[2], 64); err != nil {
					return 0, 0, 0, false, false
				}
			}
			fus += sign * (h*3600 + m*60 + sec) * 1e6
			seen = true
			continue
		}
		// number, optionally glued to its unit ("5min").
		j := 0
		for j < len(tok) && (tok[j] == '-' || tok[j] == '+' || tok[j] == '.' || (tok[j] >= '0' && tok[j] <= '9') ||
			((tok[j] == 'e') && j+1 < len(tok) && (tok[j+1] == '+' || tok[j+1] == '-' || (tok[j+1] >= '0' && tok[j+1] <= '9')))) {
			if tok[j] == 'e' {
				j++
			}
			j++
		}
		if j == 0 {
			return 0, 0, 0, false, false
		}
		n, err := strconv.ParseFloat(tok[:j], 64)
		if err != nil {
			return 0, 0, 0, false, false
		}
		whole, werr := strconv.ParseInt(tok[:j], 10, 64) // exact, when a whole number
		unit := tok[j:]
		if unit == "" {
			if i+1 < len(toks) && !strings.ContainsAny(toks[i+1][:1], "0123456789+-.") {
				i++
				unit = toks[i]
			} else {
				unit = "second"
			}
		}
		unit = strings.TrimSuffix(unit, ",")
		if per, isTime := timeUnits[unit]; isTime {
			if werr != nil || strings.ContainsAny(tok[:j], ".e") {
				fus += n * float64(per)
			} else {
				v, vok := mulExact(whole, per)
				if !vok {
					return 0, 0, 0, false, true
				}
				if exact, vok = addExact(exact, v); !vok {
					return 0, 0, 0, false, true
				}
			}
			seen = true
			continue
		}
		switch unit {
		case "day", "days", "d":
			fd += n
		case "week", "weeks", "w":
			fd += n * 7
		case "month", "months", "mon", "mons":
			fm += n
		case "year", "years", "y", "yr", "yrs":
			fm += n * 12
		case "decade", "decades":
			fm += n * 120
		case "century", "centuries":
			fm += n * 1200
		case "millennium", "millennia", "millenniums":
			fm += n * 12000
		default:
			return 0, 0, 0, false, false
		}
		seen = true
	}
	if !seen {
		return 0, 0, 0, false, false
	}
	months, days, us, ok = cascadeInterval(fm, fd, fus, ago)
	if !ok {
		return 0, 0, 0, false, true
	}
	if ago {
		exact = -exact
	}
	sum, sok := addExact(us, exact)
	if !sok {
		return 0, 0, 0, false, true
	}
	return months, days, sum, true, false
}

// timeUnits are the time units' microseconds.
var timeUnits = map[string]int64{
	"microsecond": 1, "microseconds": 1, "us": 1, "usec": 1, "usecs": 1, "microsecon": 1,
	"millisecond": 1000, "milliseconds": 1000, "ms": 1000, "msec": 1000, "msecs": 1000,
	"second": usPerSec, "seconds": usPerSec, "s": usPerSec, "sec": usPerSec, "secs": usPerSec,
	"minute": usPerMin, "minutes": usPerMin, "m": usPerMin, "min": usPerMin, "mins": usPerMin,
	"hour": usPerHour, "hours": usPerHour, "h": usPerHour, "hr": usPerHour, "hrs": usPerHour,
}

// mulExact and addExact are int64 * and + that report overflow.
func mulExact(a, b int64) (int64, bool) {
	p := a * b
	return p, a == 0 || (p/a == b && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64))
}

func addExact(a, b int64) (int64, bool) {
	s := a + b
	return s, !((a >= 0) == (b >= 0) && (s >= 0) != (a >= 0))
}

// exactClock reads H:M[:S[.ffffff]] (unsigned) as microseconds, exactly, when
// every field is digits and the fraction has at most 6; ok false leaves the
// field to the float path (PostgreSQL rounds longer fractions).
func exactClock(parts []string) (int64, bool) {
	digits := func(s string) (int64, bool) {
		if s == "" || len(s) > 18 {
			return 0, false
		}
		var v int64
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			v = v*10 + int64(s[i]-'0')
		}
		return v, true
	}
	h, ok1 := digits(parts[0])
	m, ok2 := digits(parts[1])
	if !ok1 || !ok2 || m > 59 || h > math.MaxInt64/usPerHour || h*usPerHour > math.MaxInt64-m*usPerMin {
		return 0, false
	}
	v := h*usPerHour + m*usPerMin
	if len(parts) == 3 {
		sec, frac, _ := strings.Cut(parts[2], ".")
		sv, ok := digits(sec)
		if !ok || sv > 59 || len(frac) > 6 {
			return 0, false
		}
		fv := int64(0)
		if frac != "" {
			if fv, ok = digits(frac); !ok {
				return 0, false
			}
			for k := len(frac); k < 6; k++ {
				fv *= 10
			}
		}
		if v > math.MaxInt64-sv*usPerSec-fv {
			return 0, false
		}
		v += sv*usPerSec + fv
	}
	return v, true
}

func cascadeInterval(fm, fd, fus float64, neg bool) (int32, int32, int64, bool) {
	if neg {
		fm, fd, fus = -fm, -fd, -fus
	}
	m := math.Trunc(fm)
	fd += (fm - m) * 30
	d := math.Trunc(fd)
	fus += (fd - d) * float64(usPerDay)
	if m < math.MinInt32 || m > math.MaxInt32 || d < math.MinInt32 || d > math.MaxInt32 || fus >= 1<<63 || fus < -(1<<63) {
		return 0, 0, 0, false
	}
	return int32(m), int32(d), int64(math.Round(fus)), true
}

func parseISOInterval(s string) (int32, int32, int64, bool) {
	var fm, fd, fus float64
	timePart := false
	for len(s) > 0 {
		if s[0] == 't' {
			timePart = true
			s = s[1:]
			continue
		}
		j := 0
		for j < len(s) && (s[j] == '-' || s[j] == '.' || (s[j] >= '0' && s[j] <= '9')) {
			j++
		}
		if j == 0 || j == len(s) {
			return 0, 0, 0, false
		}
		n, err := strconv.ParseFloat(s[:j], 64)
		if err != nil {
			return 0, 0, 0, false
		}
		switch u := s[j]; {
		case u == 'y':
			fm += n * 12
		case u == 'm' && !timePart:
			fm += n
		case u == 'w':
			fd += n * 7
		case u == 'd':
			fd += n
		case u == 'h':
			fus += n * 3.6e9
		case u == 'm':
			fus += n * 6e7
		case u == 's':
			fus += n * 1e6
		default:
			return 0, 0, 0, false
		}
		s = s[j+1:]
	}
	return cascadeInterval(fm, fd, fus, false)
}

// Append appends PostgreSQL's default "postgres" interval style.
func Append(dst []byte, months, days int32, us int64) []byte {
	start := len(dst)
	isBefore := false
	field := func(v int64, unit string) {
		if v == 0 {
			return
		}
		if len(dst) > start {
			dst = append(dst, ' ')
		}
		if isBefore && v > 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, v, 10)
		dst = append(dst, ' ')
		dst = append(dst, unit...)
		if v != 1 {
			dst = append(dst, 's')
		}
		if v < 0 {
			isBefore = true
		}
	}
	field(int64(months/12), "year")
	field(int64(months%12), "mon")
	field(int64(days), "day")
	if us != 0 || len(dst) == start {
		if len(dst) > start {
			dst = append(dst, ' ')
		}
		neg := us < 0
		if neg {
			dst = append(dst, '-')
			us = -us
		} else if isBefore {
			dst = append(dst, '+')
		}
		dst = appendPad(dst, us/usPerHour, 2)
		dst = append(dst, ':')
		dst = appendPad(dst, us/usPerMin%60, 2)
		dst = append(dst, ':')
		dst = appendPad(dst, us/usPerSec%60, 2)
		dst = AppendFraction(dst, us%usPerSec)
	}
	return dst
}

func appendPad(dst []byte, v int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// AppendFraction appends the fraction of a second us (0 ≤ us < 10^6) as
// PostgreSQL prints it in times, timestamps and intervals: a point and up to six
// digits without trailing zeros; nothing when us is 0.
func AppendFraction(dst []byte, us int64) []byte {
	if us == 0 {
		return dst
	}
	var tmp [8]byte
	f := appendPad(tmp[:0], us, 6)
	n := len(f)
	for n > 0 && f[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, f[:n]...)
}
