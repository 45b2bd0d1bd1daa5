package engine

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// to_char(timestamp|timestamptz|date, text): PostgreSQL's template patterns
// (formatting.c's DCH_keywords). A template is compiled once per distinct string
// into dchNodes; each row is then formatted by walking them. A timestamptz is
// formatted in the session's time zone: TZ prints the zone's abbreviation, OF,
// TZH and TZM its offset (nothing and 0 for a timestamp).
// A date argument is read as timestamptz, the overload PostgreSQL picks for it.

// dchKeywords in PostgreSQL's order: at a position the first keyword that is a
// prefix wins, so longer keywords come before their prefixes. Matching is case
// sensitive; the case of name keywords (MONTH, Month, month) is their output's.
var dchKeywords = []string{
	"A.D.", "A.M.", "AD", "AM", "B.C.", "BC", "CC", "DAY", "DDD", "DD", "DY", "Day", "Dy", "D",
	"FF1", "FF2", "FF3", "FF4", "FF5", "FF6", "FX", "HH24", "HH12", "HH",
	"IDDD", "ID", "IW", "IYYY", "IYY", "IY", "I", "J", "MI", "MM", "MONTH", "MON", "MS", "Month", "Mon",
	"OF", "P.M.", "PM", "Q", "RM", "SSSSS", "SSSS", "SS", "TZH", "TZM", "TZ", "US", "WW", "W",
	"Y,YYY", "YYYY", "YYY", "YY", "Y",
	"a.d.", "a.m.", "ad", "am", "b.c.", "bc", "cc", "day", "ddd", "dd", "dy", "d",
	"ff1", "ff2", "ff3", "ff4", "ff5", "ff6", "fx", "hh24", "hh12", "hh",
	"iddd", "id", "iw", "iyyy", "iyy", "iy", "i", "j", "mi", "mm", "month", "mon", "ms",
	"of", "p.m.", "pm", "q", "rm", "sssss", "ssss", "ss", "tzh", "tzm", "tz", "us", "ww", "w",
	"y,yyy", "yyyy", "yyy", "yy", "y",
}

// dchNode is a keyword (with its FM/TM prefix and TH suffix) or literal text.
type dchNode struct {
	key    string // "" for literal text
	text   string
	fm, tm bool   // FM: no padding; TM: names not padded (strata's names are C-locale)
	th     string // "TH" or "th": ordinal suffix
}

func compileDCH(f string) []dchNode {
	var nodes []dchNode
	lit := func(s string) {
		if k := len(nodes) - 1; k >= 0 && nodes[k].key == "" {
			nodes[k].text += s
			return
		}
		nodes = append(nodes, dchNode{text: s})
	}
	for i := 0; i < len(f); {
		var n dchNode
		j := i
		switch { // one prefix: FM or TM, in either case
		case strings.HasPrefix(f[j:], "FM") || strings.HasPrefix(f[j:], "fm"):
			n.fm = true
			j += 2
		case strings.HasPrefix(f[j:], "TM") || strings.HasPrefix(f[j:], "tm"):
			n.tm = true
			j += 2
		}
		key := ""
		for _, k := range dchKeywords {
			if strings.HasPrefix(f[j:], k) {
				key = k
				break
			}
		}
		if key != "" {
			n.key = key
			j += len(key)
			if strings.HasPrefix(f[j:], "TH") || strings.HasPrefix(f[j:], "th") {
				n.th = f[j : j+2]
				j += 2
			}
			nodes = append(nodes, n)
			i = j
			continue
		}
		i = j // a prefix before no keyword is dropped, as in PostgreSQL
		if i >= len(f) {
			break
		}
		switch {
		case f[i] == '"':
			var sb strings.Builder
			i++
			for i < len(f) {
				if f[i] == '"' {
					i++
					break
				}
				if f[i] == '\\' && i+1 < len(f) {
					i++
				}
				sb.WriteByte(f[i])
				i++
			}
			lit(sb.String())
		case f[i] == '\\' && i+1 < len(f) && f[i+1] == '"':
			lit(`"`)
			i += 2
		default:
			lit(f[i : i+1])
			i++
		}
	}
	return nodes
}

var romanMonths = [...]string{"I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"}

// ordinal is PostgreSQL's get_th: the English suffix of the number printed as s.
func ordinal(s string, upper bool) string {
	suf := "th"
	if l := len(s); l > 0 && (l < 2 || s[l-2] != '1') {
		switch s[l-1] {
		case '1':
			suf = "st"
		case '2':
			suf = "nd"
		case '3':
			suf = "rd"
		}
	}
	if upper {
		return strings.ToUpper(suf)
	}
	return suf
}

// appendDCH formats t (UTC) by nodes; withTZ for timestamptz.
func appendDCH(dst []byte, nodes []dchNode, t time.Time, withTZ bool) []byte {
	year := t.Year() // astronomical: 0 is 1 BC
	adjYear := year
	if year <= 0 {
		adjYear = 1 - year
	}
	isoYear, isoWk := t.ISOWeek()
	for _, n := range nodes {
		if n.key == "" {
			dst = append(dst, n.text...)
			continue
		}
		// fixed: MS, US and FFn keep their digits under FM, as in PostgreSQL.
		fixed := false
		num := func(v int, width int) {
			if n.fm && !fixed {
				width = 0
			}
			// C's %0*d: the width counts a minus sign.
			s := strconv.Itoa(v)
			if v < 0 {
				s = strconv.Itoa(-v)
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
		name := func(s string, pad int) {
			switch {
			case n.key == strings.ToUpper(n.key):
				s = strings.ToUpper(s)
			case n.key == strings.ToLower(n.key):
				s = strings.ToLower(s)
			}
			dst = append(dst, s...)
			if !n.fm && !n.tm {
				for k := len(s); k < pad; k++ {
					dst = append(dst, ' ')
				}
			}
		}
		hour := t.Hour()
		switch strings.ToUpper(n.key) {
		case "A.D.", "B.C.", "AD", "BC":
			s := "AD"
			if year <= 0 {
				s = "BC"
			}
			if strings.Contains(n.key, ".") {
				s = s[:1] + "." + s[1:] + "."
			}
			name(s, 0)
		case "A.M.", "P.M.", "AM", "PM":
			s := "AM"
			if hour >= 12 {
				s = "PM"
			}
			if strings.Contains(n.key, ".") {
				s = s[:1] + "." + s[1:] + "."
			}
			name(s, 0)
		case "CC":
			cc := (year-1)/100 + 1
			if year <= 0 {
				cc = year/100 - 1
			}
			if cc < 0 {
				num(cc, 3) // "-01"
			} else {
				num(cc, 2)
			}
		case "DAY":
			name(t.Weekday().String(), 9)
		case "DY":
			name(t.Weekday().String()[:3], 0)
		case "DDD":
			num(t.YearDay(), 3)
		case "DD":
			num(t.Day(), 2)
		case "D":
			num(int(t.Weekday())+1, 0)
		case "FF1", "FF2", "FF3", "FF4", "FF5", "FF6":
			d := int(n.key[2] - '0')
			fixed = true
			num(t.Nanosecond()/1000/int(math.Pow10(6-d)), d)
		case "FX":
		case "HH", "HH12":
			h := hour % 12
			if h == 0 {
				h = 12
			}
			num(h, 2)
		case "HH24":
			num(hour, 2)
		case "IDDD":
			num((isoWk-1)*7+isoDow(t), 3)
		case "ID":
			num(isoDow(t), 0)
		case "IW":
			num(isoWk, 2)
		case "IYYY":
			num(isoYear, 4)
		case "IYY":
			num(isoYear%1000, 3)
		case "IY":
			num(isoYear%100, 2)
		case "I":
			num(isoYear%10, 1)
		case "J":
			num(int(floorDiv(t.Unix(), 86400))+2440588, 0)
		case "MI":
			num(t.Minute(), 2)
		case "MM":
			num(int(t.Month()), 2)
		case "MONTH":
			name(t.Month().String(), 9)
		case "MON":
			name(t.Month().String()[:3], 0)
		case "MS":
			fixed = true
			num(t.Nanosecond()/1e6, 3)
		case "OF":
			off := 0
			if withTZ {
				_, off = t.Zone()
			}
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			dst = append(dst, sign)
			h := strconv.Itoa(off / 3600)
			if !n.fm && len(h) < 2 {
				h = "0" + h
			}
			dst = append(dst, h...)
			if m := off / 60 % 60; m != 0 {
				dst = append(dst, ':')
				dst = appendPad(dst, int64(m), 2)
			}
		case "TZH":
			off := 0
			if withTZ {
				_, off = t.Zone()
			}
			if off < 0 {
				dst = append(dst, '-')
				off = -off
			} else {
				dst = append(dst, '+')
			}
			num(off/3600, 2)
		case "TZM":
			off := 0
			if withTZ {
				_, off = t.Zone()
			}
			if off < 0 {
				off = -off
			}
			num(off/60%60, 2)
		case "TZ":
			if withTZ {
				z, _ := t.Zone()
				if z == "" || z[0] == '+' || z[0] == '-' || z[0] == '<' {
					z = string(appendOffset(nil, int64(zoneOff(t))))
				}
				name(z, 0)
			}
		case "Q":
			num((int(t.Month())-1)/3+1, 0)
		case "RM":
			name(romanMonths[t.Month()-1], 4)
		case "SSSSS", "SSSS":
			num(hour*3600+t.Minute()*60+t.Second(), 0)
		case "SS":
			num(t.Second(), 2)
		case "US":
			fixed = true
			num(t.Nanosecond()/1000, 6)
		case "WW":
			num((t.YearDay()-1)/7+1, 2)
		case "W":
			num((t.Day()-1)/7+1, 0)
		case "Y,YYY":
			s := strconv.Itoa(adjYear / 1000)
			dst = append(dst, s...)
			dst = append(dst, ',')
			r := strconv.Itoa(adjYear % 1000)
			dst = append(dst, strings.Repeat("0", 3-len(r))+r...)
		case "YYYY":
			num(adjYear, 4)
		case "YYY":
			num(adjYear%1000, 3)
		case "YY":
			num(adjYear%100, 2)
		case "Y":
			num(adjYear%10, 1)
		default:
			panic("BUG: to_char keyword without a formatter: " + n.key)
		}
	}
	return dst
}

// isoDow is the ISO day of the week, Monday 1 to Sunday 7.
func isoDow(t time.Time) int {
	if d := int(t.Weekday()); d != 0 {
		return d
	}
	return 7
}

func toCharTime(x, f *vec, n int) *vec { return toCharTimeIn(x, f, n, time.UTC) }

// zoneOff is t's UTC offset in seconds east.
func zoneOff(t time.Time) int { _, off := t.Zone(); return off }

// toCharTimeIn formats a timestamptz in zone loc.
func toCharTimeIn(x, f *vec, n int, loc *time.Location) *vec {
	out := newVec(Text, n)
	out.nulls = unionNulls(n, x, f)
	var (
		lastF string
		nodes []dchNode
		buf   []byte
	)
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		us := x.i[i]
		if x.t.ID == TypeDate {
			us *= usPerDay
		} else if us == math.MaxInt64 || us == math.MinInt64 {
			out.setNull(i) // PostgreSQL: to_char of ±infinity is NULL
			continue
		}
		if s := f.str(i); nodes == nil || s != lastF {
			lastF, nodes = s, compileDCH(s)
		}
		tm := time.UnixMicro(us).UTC()
		switch {
		case x.t.ID == TypeTimestampTZ && loc != nil:
			tm = tm.In(loc)
		case x.t.ID == TypeDate && loc != nil: // a date is read as local midnight
			tm = time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, loc)
		}
		buf = appendDCH(buf[:0], nodes, tm, x.t.ID != TypeTimestamp)
		out.s[i] = string(buf)
	}
	return out
}
