package engine

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratadb/strata/internal/sqlstate"
)

// to_timestamp(text, text) and to_date(text, text): the input side of to_char's
// template patterns (formatting.c's DCH_from_char and do_to_timestamp), with the
// same keyword table (dchKeywords). Outside FX mode, as in PostgreSQL 15: spaces
// before a field are skipped; a separator or space in the template matches one
// separator or space in the input, or nothing; any other template character
// consumes one input character whatever it is; a number field reads exactly its
// width when the next template item is a digit field, else as many digits as
// there are; names (Mon, Day, AM) match case-insensitively; input left over
// after the template is ignored. A timestamptz's fields are in the session's time
// zone unless TZH/TZM give an offset.

// dchParseNode is one template item for parsing: a keyword, or one character of
// literal text (sep: a space or separator, which matches loosely).
type dchParseNode struct {
	key  string
	fm   bool
	th   bool
	ch   string // literal character
	sep  bool
	kind byte // 'k' keyword, 'c' literal, 's' space/separator
}

func isSeparatorByte(c byte) bool {
	return c > 0x20 && c < 0x7f && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// compileDCHParse splits a template into parse nodes: the keywords of compileDCH,
// every other character on its own (a quoted one is always literal text).
func compileDCHParse(f string) []dchParseNode {
	var nodes []dchParseNode
	for i := 0; i < len(f); {
		var n dchParseNode
		j := i
		switch {
		case strings.HasPrefix(f[j:], "FM") || strings.HasPrefix(f[j:], "fm"):
			n.fm = true
			j += 2
		case strings.HasPrefix(f[j:], "TM") || strings.HasPrefix(f[j:], "tm"):
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
			n.key, n.kind = key, 'k'
			j += len(key)
			if strings.HasPrefix(f[j:], "TH") || strings.HasPrefix(f[j:], "th") {
				n.th = true
				j += 2
			}
			nodes = append(nodes, n)
			i = j
			continue
		}
		i = j
		if i >= len(f) {
			break
		}
		switch {
		case f[i] == '"':
			i++
			for i < len(f) && f[i] != '"' {
				if f[i] == '\\' && i+1 < len(f) {
					i++
				}
				_, w := utf8.DecodeRuneInString(f[i:])
				nodes = append(nodes, dchParseNode{kind: 'c', ch: f[i : i+w]})
				i += w
			}
			i++
		case f[i] == '\\' && i+1 < len(f) && f[i+1] == '"':
			nodes = append(nodes, dchParseNode{kind: 'c', ch: `"`})
			i += 2
		default:
			_, w := utf8.DecodeRuneInString(f[i:])
			n := dchParseNode{kind: 'c', ch: f[i : i+w]}
			if w == 1 && (isSpaceByte(f[i]) || isSeparatorByte(f[i])) {
				n.kind = 's'
			}
			nodes = append(nodes, n)
			i += w
		}
	}
	return nodes
}

// dchIsDigitKey reports whether k is a keyword that read a number (is_digit in formatting.c).
func dchIsDigitKey(k string) bool {
	switch strings.ToUpper(k) {
	case "A.D.", "A.M.", "AD", "AM", "B.C.", "BC", "DAY", "DY", "FX", "MONTH", "MON", "OF",
		"P.M.", "PM", "RM", "TZ", "TZH", "TZM":
		return false
	}
	return true
}

// dchFields collects what the input gave (formatting.c's TmFromChar).
type dchFields struct {
	mode                                           byte // 0, 'g' Gregorian, 'i' ISO week
	hh, pm, mi, ss, ssss, d, dd, ddd, mm, ms, year int
	bc, cc, j, us, yysz, clock12, ww, w, tzsign    int
	tzh, tzm                                       int
	set                                            map[string]int
}

type dchParser struct {
	in    string
	f     dchFields
	nodes []dchParseNode
}

func dchInvalid(format string, args ...any) error {
	return Errorf(sqlstate.InvalidDatetimeFormat, format, args...)
}

// setInt is from_char_set_int: a field given twice with different values is an
// error.
func (p *dchParser) setInt(dst *int, v int, n *dchParseNode) error {
	if p.f.set == nil {
		p.f.set = map[string]int{}
	}
	name := strings.ToUpper(n.key)
	if old, ok := p.f.set[name]; ok && old != v {
		return dchInvalid("conflicting values for %q field in formatting string", n.key)
	}
	p.f.set[name] = v
	*dst = v
	return nil
}

// isNextSeparator is formatting.c's is_next_separator: whether the item after
// nodes[k] is not a digit field, so nodes[k] may read any number of digits.
func (p *dchParser) isNextSeparator(k int) bool {
	if p.nodes[k].th {
		return true
	}
	if k+1 >= len(p.nodes) {
		return true
	}
	n := p.nodes[k+1]
	switch n.kind {
	case 'k':
		return !dchIsDigitKey(n.key)
	default:
		return !(len(n.ch) == 1 && n.ch[0] >= '0' && n.ch[0] <= '9')
	}
}

// parseInt is from_char_parse_int_len: reads the number of field k at s[*pos:],
// of width width unless the field is FM or the next item is not a digit field.
// It returns how many characters it read.
func (p *dchParser) parseInt(dst *int, width int, pos *int, k int) (int, error) {
	n := &p.nodes[k]
	s := p.in
	for *pos < len(s) && isSpaceByte(s[*pos]) {
		*pos++
	}
	init := *pos
	end := min(len(s), init+width)
	copyStr := s[init:end]
	var v int64
	var used int
	if n.fm || p.isNextSeparator(k) {
		v, used = strtol(s[init:])
	} else {
		if len(copyStr) < width {
			return 0, Errorf(sqlstate.InvalidDatetimeFormat, "source string too short for %q formatting field", n.key)
		}
		v, used = strtol(copyStr)
		if used > 0 && used < width {
			return 0, Errorf(sqlstate.InvalidDatetimeFormat, "invalid value %q for %q", copyStr, n.key)
		}
	}
	if used == 0 {
		return 0, Errorf(sqlstate.InvalidDatetimeFormat, "invalid value %q for %q", copyStr, n.key)
	}
	*pos += used
	if v < -1<<31 || v > 1<<31-1 {
		return 0, Errorf(sqlstate.DatetimeFieldOverflow, "value for %q in source string is out of range", n.key)
	}
	if dst != nil {
		if err := p.setInt(dst, int(v), n); err != nil {
			return 0, err
		}
	}
	return used, nil
}

// strtol reads an optionally signed decimal integer after optional whitespace, as
// C's strtol; used 0 when there is none. A value too large saturates.
func strtol(s string) (v int64, used int) {
	i := 0
	for i < len(s) && isSpaceByte(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if v < 1<<40 {
			v = v*10 + int64(s[i]-'0')
		}
		i++
	}
	if i == start {
		return 0, 0
	}
	if neg {
		v = -v
	}
	return v, i
}

var (
	dchMonthsFull = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	dchDaysFull   = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
	dchRoman      = []string{"xii", "xi", "x", "ix", "viii", "vii", "vi", "v", "iv", "iii", "ii", "i"}
)

// seqSearch is from_char_seq_search: the index of the first word of list that
// the input starts with, case-insensitively (abbrev: the first three letters).
func (p *dchParser) seqSearch(pos *int, list []string, abbrev bool, n *dchParseNode) (int, error) {
	rest := strings.ToLower(p.in[*pos:])
	for i, w := range list {
		if abbrev && len(w) > 3 {
			w = w[:3]
		}
		if strings.HasPrefix(rest, w) {
			*pos += len(w)
			return i, nil
		}
	}
	word := rest
	if k := strings.IndexFunc(word, func(r rune) bool { return r == ' ' }); k >= 0 {
		word = word[:k]
	}
	return 0, dchInvalid("invalid value %q for %q", p.in[*pos:*pos+len(word)], n.key)
}

// parseDCH parses in by template f into a timestamp (µs, the fields read as a
// wall clock) and the UTC offset in seconds east when TZH/TZM gave one.
func parseDCH(in, f string) (us int64, offset int, hasTZ bool, err error) {
	p := &dchParser{in: in, nodes: compileDCHParse(f)}
	pos, extraSkip, fx := 0, 0, false
	s := in
	for k := 0; k < len(p.nodes) && pos < len(s); k++ {
		n := &p.nodes[k]
		if !fx && (n.kind == 'k' && strings.ToUpper(n.key) != "FX" || k == 0) {
			for pos < len(s) && isSpaceByte(s[pos]) {
				pos++
				extraSkip++
			}
		}
		if pos >= len(s) {
			break
		}
		switch n.kind {
		case 's':
			if !fx {
				extraSkip--
				if isSpaceByte(s[pos]) || isSeparatorByte(s[pos]) {
					pos++
					extraSkip++
				}
			} else {
				_, w := utf8.DecodeRuneInString(s[pos:])
				pos += w
			}
			continue
		case 'c':
			if !fx && extraSkip > 0 {
				extraSkip--
			} else {
				_, w := utf8.DecodeRuneInString(s[pos:])
				pos += w
			}
			continue
		}
		fl := &p.f
		var used int
		switch up := strings.ToUpper(n.key); up {
		case "FX":
			fx = true
		case "A.M.", "P.M.", "AM", "PM":
			list := []string{"am", "pm"}
			if strings.Contains(up, ".") {
				list = []string{"a.m.", "p.m."}
			}
			v, e := p.seqSearch(&pos, list, false, n)
			if e != nil {
				return 0, 0, false, e
			}
			if e := p.setInt(&fl.pm, v%2, n); e != nil {
				return 0, 0, false, e
			}
			fl.clock12 = 1
		case "HH", "HH12":
			if _, err = p.parseInt(&fl.hh, 2, &pos, k); err != nil {
				return
			}
			fl.clock12 = 1
		case "HH24":
			_, err = p.parseInt(&fl.hh, 2, &pos, k)
		case "MI":
			_, err = p.parseInt(&fl.mi, 2, &pos, k)
		case "SS":
			_, err = p.parseInt(&fl.ss, 2, &pos, k)
		case "MS":
			if used, err = p.parseInt(&fl.ms, 3, &pos, k); err == nil {
				fl.ms *= []int{1, 100, 10, 1}[min(used, 3)]
			}
		case "FF1", "FF2", "FF3", "FF4", "FF5", "FF6", "US":
			width := 6
			if up != "US" {
				width = int(up[2] - '0')
			}
			if used, err = p.parseInt(&fl.us, width, &pos, k); err == nil && used < 6 {
				for ; used < 6; used++ {
					fl.us *= 10
				}
			}
		case "SSSS", "SSSSS":
			_, err = p.parseInt(&fl.ssss, len(up), &pos, k)
		case "TZ", "OF":
			return 0, 0, false, Errorf(sqlstate.FeatureNotSupported, "formatting field %q is only supported in to_char", n.key)
		case "TZH":
			// A minus taken as a separator just before is TZH's sign.
			switch {
			case s[pos] == '-' || s[pos] == '+' || s[pos] == ' ':
				fl.tzsign = 1
				if s[pos] == '-' {
					fl.tzsign = -1
				}
				pos++
			case extraSkip > 0 && pos > 0 && s[pos-1] == '-':
				fl.tzsign = -1
			default:
				fl.tzsign = 1
			}
			_, err = p.parseInt(&fl.tzh, 2, &pos, k)
		case "TZM":
			if fl.tzsign == 0 {
				fl.tzsign = 1
			}
			_, err = p.parseInt(&fl.tzm, 2, &pos, k)
		case "A.D.", "B.C.", "AD", "BC":
			list := []string{"ad", "bc"}
			if strings.Contains(up, ".") {
				list = []string{"a.d.", "b.c."}
			}
			v, e := p.seqSearch(&pos, list, false, n)
			if e != nil {
				return 0, 0, false, e
			}
			err = p.setInt(&fl.bc, v%2, n)
		case "MONTH", "MON":
			v, e := p.seqSearch(&pos, dchMonthsFull, up == "MON", n)
			if e != nil {
				return 0, 0, false, e
			}
			err = p.setInt(&fl.mm, v+1, n)
		case "MM":
			_, err = p.parseInt(&fl.mm, 2, &pos, k)
		case "DAY", "DY":
			v, e := p.seqSearch(&pos, dchDaysFull, up == "DY", n)
			if e != nil {
				return 0, 0, false, e
			}
			if err = p.setInt(&fl.d, v, n); err == nil {
				fl.d++
			}
		case "DDD":
			_, err = p.parseInt(&fl.ddd, 3, &pos, k)
		case "IDDD":
			_, err = p.parseInt(&fl.ddd, 4, &pos, k)
			fl.mode = 'i'
		case "DD":
			_, err = p.parseInt(&fl.dd, 2, &pos, k)
		case "D":
			_, err = p.parseInt(&fl.d, 1, &pos, k)
		case "ID":
			if _, err = p.parseInt(&fl.d, 1, &pos, k); err == nil {
				// ISO: Monday 1 … Sunday 7, kept as PostgreSQL does (Sunday 1 … Saturday 7 + 1)
				fl.d = fl.d%7 + 1
			}
			fl.mode = 'i'
		case "WW":
			_, err = p.parseInt(&fl.ww, 2, &pos, k)
		case "IW":
			_, err = p.parseInt(&fl.ww, 2, &pos, k)
			fl.mode = 'i'
		case "Q":
			_, err = p.parseInt(nil, 1, &pos, k) // read and ignored, as in PostgreSQL
		case "CC":
			_, err = p.parseInt(&fl.cc, 2, &pos, k)
		case "Y,YYY":
			rest := s[pos:]
			m, u1 := strtol(rest)
			if u1 == 0 || u1 >= len(rest) || rest[u1] != ',' {
				return 0, 0, false, dchInvalid("invalid input string for \"Y,YYY\"")
			}
			y, u2 := strtol(rest[u1+1:])
			if u2 == 0 {
				return 0, 0, false, dchInvalid("invalid input string for \"Y,YYY\"")
			}
			if err = p.setInt(&fl.year, int(m*1000+y), n); err == nil {
				fl.yysz = 4
				pos += u1 + 1 + u2
			}
		case "YYYY", "IYYY":
			if _, err = p.parseInt(&fl.year, 4, &pos, k); err == nil {
				fl.yysz = 4
			}
			if up == "IYYY" {
				fl.mode = 'i'
			}
		case "YYY", "IYY", "YY", "IY", "Y", "I":
			width := len(up)
			if up[0] == 'I' {
				fl.mode = 'i'
			}
			if used, err = p.parseInt(&fl.year, width, &pos, k); err == nil {
				if used < 4 {
					fl.year = adjustPartialYear(fl.year)
				}
				fl.yysz = width
			}
		case "RM":
			v, e := p.seqSearch(&pos, dchRoman, false, n)
			if e != nil {
				return 0, 0, false, e
			}
			err = p.setInt(&fl.mm, 12-v, n)
		case "W":
			_, err = p.parseInt(&fl.w, 1, &pos, k)
		case "J":
			_, err = p.parseInt(&fl.j, 1, &pos, k)
		default:
			panic("BUG: to_timestamp keyword without a parser: " + n.key)
		}
		if err != nil {
			return
		}
		if n.th { // skip an ordinal suffix
			if pos+2 <= len(s) {
				pos += 2
			}
		}
		if !fx {
			extraSkip = 0
			for pos < len(s) && isSpaceByte(s[pos]) {
				pos++
				extraSkip++
			}
		}
	}
	return p.f.toTimestamp(in)
}

// adjustPartialYear is adjust_partial_year_to_2020: a year of fewer than four
// digits becomes the year nearest 2020 that ends in them.
func adjustPartialYear(y int) int {
	switch {
	case y < 70:
		return y + 2000
	case y < 100:
		return y + 1900
	case y < 520:
		return y + 2000
	case y < 1000:
		return y + 1000
	}
	return y
}

func (f *dchFields) toTimestamp(in string) (int64, int, bool, error) {
	outOfRange := func() error {
		return Errorf(sqlstate.DatetimeFieldOverflow, "date/time field value out of range: %q", in)
	}
	year, mon, mday := 0, 1, 1
	hour, min_, sec := 0, 0, 0
	yearSet, monSet, daySet := false, false, false
	if f.ssss != 0 {
		x := f.ssss
		hour, min_, sec = x/3600, x%3600/60, x%60
	}
	if f.ss != 0 {
		sec = f.ss
	}
	if f.mi != 0 {
		min_ = f.mi
	}
	if f.hh != 0 {
		hour = f.hh
	}
	if f.clock12 != 0 {
		if hour < 1 || hour > 12 {
			return 0, 0, false, Errorf(sqlstate.InvalidDatetimeFormat, "hour \"%d\" is invalid for the 12-hour clock", hour)
		}
		if f.pm != 0 && hour < 12 {
			hour += 12
		} else if f.pm == 0 && hour == 12 {
			hour = 0
		}
	}
	cc := f.cc
	switch {
	case f.year != 0:
		if cc != 0 && f.yysz <= 2 {
			if f.bc != 0 {
				cc = -cc
			}
			year = f.year % 100
			if year != 0 {
				if cc >= 0 {
					year += (cc - 1) * 100
				} else {
					year = (cc+1)*100 - year + 1
				}
			} else if cc >= 0 {
				year = cc * 100
			} else {
				year = cc*100 + 1
			}
		} else {
			year = f.year
			if f.bc != 0 {
				year = -year
			}
			if year < 0 {
				year++ // astronomical: 1 BC is year 0
			}
		}
		yearSet = true
	case cc != 0:
		if f.bc != 0 {
			cc = -cc
		}
		if cc >= 0 {
			year = (cc-1)*100 + 1
		} else {
			year = cc*100 + 1
		}
		yearSet = true
	}
	if f.j != 0 {
		y, m, d := civil(int64(f.j) - 2440588)
		year, mon, mday = int(y), m, d
		yearSet, monSet, daySet = true, true, true
	}
	ddd := f.ddd
	if f.ww != 0 {
		if f.mode == 'i' {
			// ISO year, week and day (Monday 1): the Monday of week 1 is the Monday
			// on or before January 4th.
			jan4 := daysFromCivil(int64(year), 1, 4)
			monday := jan4 - int64(isoDowDays(jan4)-1)
			day := 1
			if f.d != 0 {
				day = (f.d+5)%7 + 1 // f.d is Sunday 1 … Saturday 7; ISO Monday 1 … Sunday 7
			}
			y, m, d := civil(monday + int64(f.ww-1)*7 + int64(day-1))
			year, mon, mday = int(y), m, d
			yearSet, monSet, daySet = true, true, true
		} else {
			ddd = (f.ww-1)*7 + 1
		}
	}
	if f.w != 0 {
		f.dd = (f.w-1)*7 + 1
	}
	if f.dd != 0 {
		mday, daySet = f.dd, true
	}
	if f.mm != 0 {
		mon, monSet = f.mm, true
	}
	if ddd != 0 && (mon <= 1 || mday <= 1) {
		if !yearSet {
			return 0, 0, false, dchInvalid("cannot calculate day of year without year information")
		}
		if f.mode == 'i' {
			jan4 := daysFromCivil(int64(year), 1, 4)
			monday := jan4 - int64(isoDowDays(jan4)-1)
			y, m, d := civil(monday + int64(ddd-1))
			year, mon, mday = int(y), m, d
		} else {
			days := daysFromCivil(int64(year), 1, 1) + int64(ddd-1)
			if ddd < 1 || ddd > 365+boolInt(daysIn(int64(year), 2) == 29) {
				return 0, 0, false, outOfRange()
			}
			y, m, d := civil(days)
			year, mon, mday = int(y), m, d
		}
		monSet, daySet = true, true
	}
	fsec := f.ms*1000 + f.us
	if monSet && (mon < 1 || mon > 12) {
		return 0, 0, false, outOfRange()
	}
	if daySet && (mday < 1 || mday > 31) {
		return 0, 0, false, outOfRange()
	}
	if yearSet && monSet && daySet && mday > daysIn(int64(year), mon) {
		return 0, 0, false, outOfRange()
	}
	if hour < 0 || hour >= 24 || min_ < 0 || min_ >= 60 || sec < 0 || sec >= 60 || fsec < 0 || fsec >= 1e6 {
		return 0, 0, false, outOfRange()
	}
	if mday > daysIn(int64(year), mon) {
		return 0, 0, false, outOfRange()
	}
	days := daysFromCivil(int64(year), mon, mday)
	us := days*usPerDay + int64(hour)*3600e6 + int64(min_)*60e6 + int64(sec)*1e6 + int64(fsec)
	if f.tzsign != 0 {
		off := f.tzh*3600 + f.tzm*60
		if f.tzh < 0 {
			off = f.tzh*3600 - f.tzm*60
		}
		return us, f.tzsign * off, true, nil
	}
	return us, 0, false, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// isoDowDays is the ISO day of the week (Monday 1) of a day number.
func isoDowDays(days int64) int {
	return int(days+3-floorDiv(days+3, 7)*7) + 1 // 1970-01-01 (day 0) was a Thursday
}

// toTimestampText is to_timestamp(text, text) (withTZ) or to_date(text, text).
func toTimestampText(in, f *vec, n int, rt Type, loc *time.Location) (*vec, error) {
	out := newVec(rt, n)
	out.nulls = unionNulls(n, in, f)
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		us, off, hasTZ, err := parseDCH(in.str(i), f.str(i))
		if err != nil {
			return nil, err
		}
		switch {
		case rt.ID == TypeDate:
			out.i[i] = floorDiv(us, usPerDay)
		case hasTZ:
			out.i[i] = us - int64(off)*1e6
		default:
			out.i[i] = localToUTC(us, loc)
		}
	}
	return out, nil
}
