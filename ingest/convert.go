package ingest

import (
	"encoding/binary"
	"github.com/stratadb/strata/internal/pginterval"
	"github.com/stratadb/strata/internal/pguuid"
	"math"
	"strconv"
	"unsafe"

	"github.com/stratadb/strata/storage"
)

// PostgreSQL's messages; %[1]s is the type name, %[2]s the value.
const (
	msgSyntax      = `invalid input syntax for type %[1]s: "%[2]s"`
	msgIntRange    = `value "%[2]s" is out of range for type %[1]s`
	msgFloatRange  = `"%[2]s" is out of range for type %[1]s`
	msgFieldRange  = `date/time field value out of range: "%[2]s"`
	msgTimeRange   = `timestamp out of range: "%[2]s"`
	msgBadEncoding = `invalid byte sequence for encoding "UTF8": %[2]s`
	msgNumOverflow = `numeric field overflow: "%[2]s" does not fit the column's precision and scale`
)

type parseResult uint8

const (
	parseOK parseResult = iota
	parseSyntax
	parseRange      // numeric value out of the type's range
	parseFieldRange // a date/time field out of range (month 13)
)

// setText stages the textual value v (a CSV/Text field or a JSON string) for column
// col. It reports false, with st.fail set, when v does not convert.
func (st *stage) setText(col int, v []byte) bool {
	s := &st.slots[col]
	c := &st.cols[col]
	var r parseResult
	switch c.typ {
	case storage.TypeString:
		if c.kind == kindUUID {
			if !st.setUUID(col, v) {
				return false
			}
			break
		}
		if c.kind == kindInterval {
			if !st.setInterval(col, v) {
				return false
			}
			break
		}
		if c.kind == kindNumeric {
			if !st.setNumeric(col, v) {
				return false
			}
			break
		}
		if bad := invalidText(v); bad >= 0 {
			st.failValue(col, msgBadEncoding, []byte("0x"+strconv.FormatUint(uint64(v[bad]), 16)))
			return false
		}
		s.s = v
	case storage.TypeTimestamp:
		s.i, r = parseTimestamp(v, c.kind == kindTimestampNoZone)
	case storage.TypeInt64:
		if c.kind == kindDecimal {
			s.i, r = parseDecimal(v, c)
			break
		}
		if c.kind == kindDate { // a date, or a timestamp's date as PostgreSQL's date input reads it
			var us int64
			if us, r = parseTimestamp(v, true); r == parseOK {
				s.i = floorDiv(us, 86400_000_000)
			}
			break
		}
		s.i, r = parseInt(v, c.kind)
	case storage.TypeFloat64:
		s.f, r = parseFloat(v, c.kind)
	case storage.TypeBool:
		s.b, r = parseBool(v)
	}
	if r != parseOK {
		st.failParse(col, r, v)
		return false
	}
	s.set = true
	return true
}

// setUUID stages v, any of PostgreSQL's uuid input forms, for the uuid column
// col in canonical form (storage keeps that text, engine/uuid.go).
func (st *stage) setUUID(col int, v []byte) bool {
	s := &st.slots[col]
	if pguuid.IsCanonical(unsafe.String(unsafe.SliceData(v), len(v))) {
		s.s = v
		return true
	}
	u, ok := pguuid.Parse(v)
	if !ok {
		st.failValue(col, msgSyntax, v)
		return false
	}
	s.s = pguuid.Append(s.uuid[:0], u)
	return true
}

// setInterval stages v, PostgreSQL's interval input, for the interval column col
// in output form (storage keeps that text; it reads back exactly).
func (st *stage) setInterval(col int, v []byte) bool {
	s := &st.slots[col]
	m, d, us, ok := pginterval.Parse(string(v))
	if !ok {
		st.failValue(col, msgSyntax, v)
		return false
	}
	s.text = pginterval.Append(s.text[:0], m, d, us)
	s.s = s.text
	return true
}

// setNumeric stages v, PostgreSQL's numeric input, for the numeric text column col
// in canonical form, rounded to the column's scale (storage.CanonicalNumeric).
func (st *stage) setNumeric(col int, v []byte) bool {
	s := &st.slots[col]
	c := &st.cols[col]
	var bad storage.NumericError
	s.text, bad = storage.CanonicalNumeric(s.text[:0], unsafe.String(unsafe.SliceData(v), len(v)), c.prec, c.scale, c.hasMod)
	switch bad {
	case storage.NumericSyntax:
		st.failValue(col, msgSyntax, v)
		return false
	case storage.NumericOverflow:
		st.failValue(col, msgNumOverflow, v)
		return false
	}
	s.s = s.text
	return true
}

// failParse records why v did not parse for column col.
func (st *stage) failParse(col int, r parseResult, v []byte) {
	switch r {
	case parseRange:
		switch st.cols[col].typ {
		case storage.TypeInt64:
			st.failValue(col, msgIntRange, v)
		case storage.TypeFloat64:
			st.failValue(col, msgFloatRange, v)
		default:
			st.failValue(col, msgTimeRange, v)
		}
	case parseFieldRange:
		st.failValue(col, msgFieldRange, v)
	default:
		st.failValue(col, msgSyntax, v)
	}
}

// invalidText returns the index of the first byte that makes v unfit for a text
// column (a NUL or the start of an invalid UTF-8 sequence), or -1.
func invalidText(v []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i := 0; i < len(v); {
		if i+8 <= len(v) { // 8 ASCII bytes without NUL at once
			x := binary.LittleEndian.Uint64(v[i:])
			if (x|(x-ones))&highs == 0 {
				i += 8
				continue
			}
		}
		c := v[i]
		if c < 0x80 {
			if c == 0 {
				return i
			}
			i++
			continue
		}
		n := utf8SeqLen(v[i:])
		if n == 0 {
			return i
		}
		i += n
	}
	return -1
}

// utf8SeqLen returns the length of the valid UTF-8 sequence (non-ASCII) at the start
// of b, or 0 when it is invalid (overlong, surrogate, > U+10FFFF, truncated).
func utf8SeqLen(b []byte) int {
	c := b[0]
	switch {
	case c >= 0xC2 && c <= 0xDF:
		if len(b) >= 2 && b[1]&0xC0 == 0x80 {
			return 2
		}
	case c >= 0xE0 && c <= 0xEF:
		if len(b) < 3 || b[1]&0xC0 != 0x80 || b[2]&0xC0 != 0x80 {
			return 0
		}
		if (c == 0xE0 && b[1] < 0xA0) || (c == 0xED && b[1] > 0x9F) {
			return 0
		}
		return 3
	case c >= 0xF0 && c <= 0xF4:
		if len(b) < 4 || b[1]&0xC0 != 0x80 || b[2]&0xC0 != 0x80 || b[3]&0xC0 != 0x80 {
			return 0
		}
		if (c == 0xF0 && b[1] < 0x90) || (c == 0xF4 && b[1] > 0x8F) {
			return 0
		}
		return 4
	}
	return 0
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func trimSpace(v []byte) []byte {
	for len(v) > 0 && isSpace(v[0]) {
		v = v[1:]
	}
	for len(v) > 0 && isSpace(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	return v
}

// parseDecimal parses numeric text for a numeric(p,s) column: exact, rounded half
// away from zero to s digits, range-checked against p (PostgreSQL's numeric_in).
func parseDecimal(v []byte, c *colInfo) (int64, parseResult) {
	n, ok, syntax := storage.ParseDecimal(string(v), c.prec, c.scale)
	switch {
	case syntax:
		return 0, parseSyntax
	case !ok:
		return 0, parseRange
	}
	return n, parseOK
}

// parseInt parses a decimal integer with optional sign and surrounding white space,
// as PostgreSQL's int8in does, range-checked for the declared type.
func parseInt(v []byte, kind sqlKind) (int64, parseResult) {
	v = trimSpace(v)
	neg := false
	if len(v) > 0 && (v[0] == '-' || v[0] == '+') {
		neg = v[0] == '-'
		v = v[1:]
	}
	if len(v) == 0 {
		return 0, parseSyntax
	}
	var u uint64
	overflow := false
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, parseSyntax
		}
		if u > (math.MaxUint64-9)/10 {
			overflow = true
			continue
		}
		u = u*10 + uint64(c-'0')
	}
	if overflow || u > 1<<63 || (!neg && u == 1<<63) {
		return 0, parseRange
	}
	n := int64(u)
	if neg {
		n = -n
	}
	return n, checkIntRange(n, kind)
}

func checkIntRange(n int64, kind sqlKind) parseResult {
	switch kind {
	case kindInt16:
		if n < math.MinInt16 || n > math.MaxInt16 {
			return parseRange
		}
	case kindInt32:
		if n < math.MinInt32 || n > math.MaxInt32 {
			return parseRange
		}
	}
	return parseOK
}

// parseFloat parses a decimal floating-point number or NaN/Infinity/inf (any case,
// signed), with surrounding white space, as PostgreSQL's float8in does.
func parseFloat(v []byte, kind sqlKind) (float64, parseResult) {
	v = trimSpace(v)
	if len(v) == 0 {
		return 0, parseSyntax
	}
	for _, c := range v {
		// strconv also accepts hex floats and '_' separators; PostgreSQL does not.
		if c == '_' || c == 'x' || c == 'X' {
			return 0, parseSyntax
		}
	}
	// The string does not outlive the call: strconv's error, which would keep it, is dropped.
	f, err := strconv.ParseFloat(unsafe.String(&v[0], len(v)), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, parseRange
		}
		return 0, parseSyntax
	}
	return checkFloatRange(f, kind)
}

func checkFloatRange(f float64, kind sqlKind) (float64, parseResult) {
	if kind == kindFloat32 {
		if !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
			return 0, parseRange
		}
		return float64(float32(f)), parseOK
	}
	return f, parseOK
}

// parseBool accepts PostgreSQL's boolean spellings, in any case, with surrounding
// white space: t true y yes on 1 / f false n no off 0.
func parseBool(v []byte) (bool, parseResult) {
	v = trimSpace(v)
	if len(v) == 0 || len(v) > 5 {
		return false, parseSyntax
	}
	var buf [5]byte
	for i, c := range v {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(v)]) {
	case "t", "true", "y", "yes", "on", "1":
		return true, parseOK
	case "f", "false", "n", "no", "off", "0":
		return false, parseOK
	}
	return false, parseSyntax
}

const (
	usPerSecond = 1_000_000
	usPerDay    = 86_400 * usPerSecond
	// maxDays keeps days*usPerDay plus a day of time-of-day inside int64.
	maxDays = math.MaxInt64/usPerDay - 1
)

// parseTimestamp parses ISO 8601 / PostgreSQL timestamps:
//
//	YYYY-MM-DD
//	YYYY-MM-DD{T| }HH:MM[:SS[.ffffff...]]
//
// either followed by an optional zone: Z, UTC, GMT, or ±HH[[:]MM[[:]SS]], with or
// without white space before it. No zone means UTC; ignoreZone (a "timestamp
// without time zone" column) drops a zone as PostgreSQL does. Fractions beyond
// microseconds are rounded. The result is µs since the Unix epoch.
func parseTimestamp(v []byte, ignoreZone bool) (int64, parseResult) {
	v = trimSpace(v)
	p := tsParser{b: v}
	year, ok := p.digits(4, 6)
	if !ok || !p.consume('-') {
		return 0, parseSyntax
	}
	month, ok1 := p.digits(2, 2)
	ok2 := p.consume('-')
	day, ok3 := p.digits(2, 2)
	if !ok1 || !ok2 || !ok3 {
		return 0, parseSyntax
	}
	var hour, minute, sec, frac int64 // frac in µs
	if p.i < len(p.b) && (p.b[p.i] == 'T' || p.b[p.i] == 't' || p.b[p.i] == ' ') {
		save := p.i
		p.i++
		for p.i < len(p.b) && p.b[p.i] == ' ' {
			p.i++
		}
		if h, ok := p.digits(2, 2); ok {
			hour = h
			if !p.consume(':') {
				return 0, parseSyntax
			}
			if minute, ok = p.digits(2, 2); !ok {
				return 0, parseSyntax
			}
			if p.consume(':') {
				if sec, ok = p.digits(2, 2); !ok {
					return 0, parseSyntax
				}
				if p.consume('.') {
					if frac, ok = p.fraction(); !ok {
						return 0, parseSyntax
					}
				}
			}
		} else {
			p.i = save // date followed by a zone: "2023-10-01 +02"
		}
	}
	offset, zr := p.zone()
	if zr != parseOK {
		return 0, zr
	}
	if p.i != len(p.b) {
		return 0, parseSyntax
	}
	if year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 24 || minute > 59 || sec > 60 || (hour == 24 && (minute != 0 || sec != 0 || frac != 0)) {
		return 0, parseFieldRange
	}
	if ignoreZone {
		offset = 0
	}
	days := daysFromCivil(year, month, day)
	if days > maxDays {
		return 0, parseRange
	}
	// frac may be a full second after rounding; the sum stays far from overflow.
	return days*usPerDay + ((hour*60+minute)*60+sec-offset)*usPerSecond + frac, parseOK
}

type tsParser struct {
	b []byte
	i int
}

func (p *tsParser) consume(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// digits reads between lo and hi decimal digits. A digit after the hi-th is left
// for the caller, whose next expected character it is not.
func (p *tsParser) digits(lo, hi int) (int64, bool) {
	var n int64
	k := 0
	for p.i < len(p.b) && k < hi && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		n = n*10 + int64(p.b[p.i]-'0')
		p.i++
		k++
	}
	if k < lo {
		return 0, false
	}
	return n, true
}

// fraction reads the digits after the decimal point as µs, rounded half up.
func (p *tsParser) fraction() (int64, bool) {
	var us int64
	k := 0
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		if k < 6 {
			us = us*10 + int64(p.b[p.i]-'0')
		} else if k == 6 && p.b[p.i] >= '5' {
			us++ // round on the seventh digit
		}
		k++
		p.i++
	}
	if p.i == start {
		return 0, false
	}
	for ; k < 6; k++ {
		us *= 10
	}
	return us, true
}

// zone reads an optional zone and returns its offset east of UTC in seconds.
func (p *tsParser) zone() (int64, parseResult) {
	for p.i < len(p.b) && p.b[p.i] == ' ' {
		p.i++
	}
	if p.i == len(p.b) {
		return 0, parseOK
	}
	rest := p.b[p.i:]
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
		p.i++
		return 0, parseOK
	case len(rest) == 3 && (eqFold(rest, "utc") || eqFold(rest, "gmt")):
		p.i += 3
		return 0, parseOK
	case rest[0] == '+' || rest[0] == '-':
	default:
		return 0, parseSyntax
	}
	sign := int64(1)
	if rest[0] == '-' {
		sign = -1
	}
	p.i++
	h, ok := p.digits(2, 2)
	if !ok {
		return 0, parseSyntax
	}
	var m, s int64
	p.consume(':')
	if p.i < len(p.b) {
		if m, ok = p.digits(2, 2); !ok {
			return 0, parseSyntax
		}
		p.consume(':')
		if p.i < len(p.b) {
			if s, ok = p.digits(2, 2); !ok {
				return 0, parseSyntax
			}
		}
	}
	if h > 15 || m > 59 || s > 59 {
		return 0, parseFieldRange
	}
	return sign * (h*3600 + m*60 + s), parseOK
}

func eqFold(b []byte, lower string) bool {
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date
// (y >= 0); Howard Hinnant's algorithm, http://howardhinnant.github.io/date_algorithms.html.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// A JSON number (or a string holding one) for a timestamp column is a Unix epoch
// time in the unit its magnitude implies. Each unit on its own covers 1973-03-03 to
// 5138-11-16 (|v| from 1e8 s to 1e11 s), so for a time in that span the unit a
// producer used is never mistaken:
//
//	|v| < 1e11          seconds
//	1e11 <= |v| < 1e14  milliseconds
//	1e14 <= |v| < 1e17  microseconds
//	|v| >= 1e17         nanoseconds (truncated to µs)
//
// Fractions are kept to the µs, rounded.
const (
	epochMillisFrom = 1e11
	epochMicrosFrom = 1e14
	epochNanosFrom  = 1e17
)

// epochIntToMicros converts an integral epoch number to µs. Below 1e17 no unit can
// overflow int64 µs.
func epochIntToMicros(n int64) int64 {
	switch {
	case n >= epochNanosFrom || n <= -epochNanosFrom:
		return n / 1000
	case n >= epochMicrosFrom || n <= -epochMicrosFrom:
		return n
	case n >= epochMillisFrom || n <= -epochMillisFrom:
		return n * 1000
	}
	return n * usPerSecond
}

func epochFloatToMicros(f float64) (int64, parseResult) {
	var us float64
	switch a := math.Abs(f); {
	case a >= epochNanosFrom:
		us = math.Round(f / 1000)
	case a >= epochMicrosFrom:
		us = math.Round(f)
	case a >= epochMillisFrom:
		us = math.Round(f * 1000)
	default:
		us = math.Round(f * usPerSecond)
	}
	if !(us > math.MinInt64 && us < math.MaxInt64) {
		return 0, parseRange
	}
	return int64(us), parseOK
}

// floorDiv is a / b rounded down (b > 0): the day of a time before 1970 too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
