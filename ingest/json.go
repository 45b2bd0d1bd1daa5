package ingest

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/stratadb/strata/storage"
)

// The JSON object decoder, shared by COPY ... (FORMAT json), which feeds it one line
// at a time, and by RecordDecoder, which feeds it one Kafka record at a time, so the
// two accept the same records and load them the same way.
//
// A record is one JSON object (RFC 8259, UTF-8), with white space around it allowed.
// Its members map to columns by name: exactly first, else ignoring case (Unicode
// simple folding; the first such column in schema order). Several members mapping to
// one column: the last wins. A missing member or JSON null is NULL. Members naming no
// column are checked for syntax and UTF-8 and ignored, or, with a KeepUnknown column,
// kept in it as a JSON object. How values convert is in the RecordDecoder doc.
//
// The scanner works on the record's bytes in place: no tokens are allocated, string
// values without escapes are not copied until the row is appended, and the column of
// a key is found by first trying what the same key position mapped to in the last
// record (producers write keys in a fixed order), then by a scan of the names.

// jsonKey maps a member name to a schema column.
type jsonKey struct {
	name  string
	nameB []byte // name, for case-insensitive comparison without a conversion
	col   int
}

// keyCache remembers what the k-th member of the last record mapped to.
type keyCache struct {
	key []byte
	col int // -1: no column
	set bool
}

const (
	maxJSONDepth = 10_000
	// maxCachedKeys bounds the key cache, so that a record with a million members
	// does not leave a million cache entries behind.
	maxCachedKeys = 256
)

// jsonDecoder decodes one JSON object into its stage. Not safe for concurrent use.
type jsonDecoder struct {
	st    *stage
	keys  []jsonKey // the columns members may name
	order []keyCache
	stack []byte // open containers while skipping a composite value
	// keep is the column that receives the unknown members (-1: they are dropped);
	// unknown assembles them.
	keep    int
	unknown []byte
}

// objResult is what decodeObject made of a record.
type objResult uint8

const (
	objRow    objResult = iota // a row is staged (NOT NULL columns not yet checked)
	objBlank                   // the record is only white space
	objFailed                  // st.fail says why
)

// init maps the columns targets to member names, and makes keep (-1: none) the
// column of unknown members.
func (js *jsonDecoder) init(st *stage, targets []int, keep int) {
	js.st, js.keep = st, keep
	js.keys = js.keys[:0]
	for _, c := range targets {
		name := st.cols[c].name
		js.keys = append(js.keys, jsonKey{name: name, nameB: []byte(name), col: c})
	}
	js.order = js.order[:0]
}

// runJSON is COPY's JSON lines: each non-blank line is a record. Blank lines are
// skipped and are neither rows nor rejects; a line that fails is rejected.
func (d *decoder) runJSON() error {
	d.json.init(&d.stage, d.targets, -1)
	for {
		line, tooLong, _, ok := d.lr.next()
		if !ok {
			return d.lr.readErr()
		}
		if err := d.checkCtx(); err != nil {
			return err
		}
		if tooLong {
			d.rejectTooLong()
			continue
		}
		switch d.json.decodeObject(line) {
		case objBlank:
			continue
		case objFailed:
			d.rejectStaged()
			continue
		}
		if err := d.commitRow(); err != nil {
			return err
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// syntax records a JSON syntax error at b[pos] and returns false.
func (js *jsonDecoder) syntax(b []byte, pos int, what string) bool {
	if pos >= len(b) {
		pos = -1
	}
	js.st.failSyntax(pos, what)
	return false
}

// decodeObject stages the row of the record b.
func (js *jsonDecoder) decodeObject(b []byte) objResult {
	st := js.st
	i := skipWS(b, 0)
	if i == len(b) {
		return objBlank
	}
	if b[i] != '{' {
		st.failReason("JSON value is not an object")
		return objFailed
	}
	st.beginRow()
	st.prepareScratch(len(b))
	js.unknown = js.unknown[:0]
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for k := 0; ; k++ {
			if i >= len(b) || b[i] != '"' {
				js.syntax(b, i, `expected '"' to start an object key`)
				return objFailed
			}
			keyStart := i
			key, next, ok := js.jsonString(b, i)
			if !ok {
				js.syntax(b, next, "invalid string")
				return objFailed
			}
			col, ok := js.lookupKey(k, key)
			if !ok {
				return objFailed
			}
			keyEnd := next
			i = skipWS(b, next)
			if i >= len(b) || b[i] != ':' {
				js.syntax(b, i, "expected ':' after object key")
				return objFailed
			}
			i = skipWS(b, i+1)
			valStart := i
			if i, ok = js.value(b, i, col); !ok {
				st.fail.field = key
				return objFailed
			}
			if col < 0 && js.keep >= 0 {
				js.addUnknown(b[keyStart:keyEnd], b[valStart:i])
			}
			i = skipWS(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			js.syntax(b, i, "expected ',' or '}' after object member")
			return objFailed
		}
	}
	if i = skipWS(b, i); i != len(b) {
		js.syntax(b, i, "unexpected data after the object")
		return objFailed
	}
	if len(js.unknown) > 0 {
		js.unknown = append(js.unknown, '}')
		s := &st.slots[js.keep]
		s.s, s.set = js.unknown, true
	}
	return objRow
}

// addUnknown appends the member `key: value` (raw JSON text, as in the record) to
// the object of unknown members.
func (js *jsonDecoder) addUnknown(key, value []byte) {
	if len(js.unknown) == 0 {
		js.unknown = append(js.unknown, '{')
	} else {
		js.unknown = append(js.unknown, ',')
	}
	js.unknown = append(js.unknown, key...)
	js.unknown = append(js.unknown, ':')
	js.unknown = append(js.unknown, value...)
}

// lookupKey returns the schema column of the k-th member, named key, or -1. It
// reports false, with st.fail set, for a name that is no column and not valid UTF-8.
func (js *jsonDecoder) lookupKey(k int, key []byte) (int, bool) {
	if k < len(js.order) {
		if c := &js.order[k]; c.set && string(c.key) == string(key) {
			return c.col, true
		}
	}
	col := -1
	for j := range js.keys {
		if js.keys[j].name == string(key) {
			col = js.keys[j].col
			break
		}
	}
	if col < 0 {
		for j := range js.keys {
			if bytes.EqualFold(js.keys[j].nameB, key) {
				col = js.keys[j].col
				break
			}
		}
	}
	if col < 0 {
		if bad := invalidUTF8(key); bad >= 0 {
			js.st.failReason(`invalid byte sequence for encoding "UTF8": 0x` + strconv.FormatUint(uint64(key[bad]), 16) + " in a field name")
			return -1, false
		}
	}
	if k < maxCachedKeys {
		for len(js.order) <= k {
			js.order = append(js.order, keyCache{})
		}
		c := &js.order[k]
		c.key, c.col, c.set = append(c.key[:0], key...), col, true
	}
	return col, true
}

// invalidUTF8 returns the index of the first byte of b that starts an invalid UTF-8
// sequence, or -1.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		n := utf8SeqLen(b[i:])
		if n == 0 {
			return i
		}
		i += n
	}
	panic("BUG: ingest: utf8.Valid and utf8SeqLen disagree")
}

// value scans the value at b[i] and, when col >= 0, stages it for column col. It
// returns the offset after the value, and false, with st.fail set, on an error.
func (js *jsonDecoder) value(b []byte, i, col int) (int, bool) {
	st := js.st
	if i >= len(b) {
		return i, js.syntax(b, i, "expected a value")
	}
	switch c := b[i]; {
	case c == '"':
		if col < 0 {
			next, ok := skipString(b, i)
			if !ok {
				return next, js.syntax(b, next, "invalid string")
			}
			return next, st.checkUTF8(b[i:next])
		}
		v, next, ok := js.jsonString(b, i)
		if !ok {
			return next, js.syntax(b, next, "invalid string")
		}
		if st.cols[col].typ == storage.TypeString {
			return next, st.setText(col, v)
		}
		return next, st.setJSONString(col, v)
	case c == '-' || (c >= '0' && c <= '9'):
		end, isInt := scanNumber(b, i)
		if end < 0 {
			return i, js.syntax(b, i, "invalid number")
		}
		if col < 0 {
			return end, true
		}
		return end, st.setNumber(col, b[i:end], isInt)
	case c == 't' || c == 'f' || c == 'n':
		lit := "null"
		if c == 't' {
			lit = "true"
		} else if c == 'f' {
			lit = "false"
		}
		if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
			return i, js.syntax(b, i, "invalid literal")
		}
		end := i + len(lit)
		if col < 0 {
			return end, true
		}
		if c == 'n' {
			st.slots[col].set = false // a null after a value for the column: the last wins
			return end, true
		}
		return end, st.setJSONBool(col, c == 't', b[i:end])
	case c == '{' || c == '[':
		end, what := js.skipComposite(b, i)
		if what != "" {
			return end, js.syntax(b, end, what)
		}
		raw := b[i:end]
		switch {
		case col < 0:
			return end, st.checkUTF8(raw)
		case st.cols[col].typ != storage.TypeString:
			st.failValue(col, msgSyntax, raw)
			return end, false
		}
		return end, st.setText(col, raw)
	}
	return i, js.syntax(b, i, "expected a value")
}

// checkUTF8 reports false, with st.fail set, when raw (JSON text of a value that
// goes to no column) is not valid UTF-8: the whole record must be, as in PostgreSQL.
func (st *stage) checkUTF8(raw []byte) bool {
	if bad := invalidUTF8(raw); bad >= 0 {
		st.failReason(`invalid byte sequence for encoding "UTF8": 0x` + strconv.FormatUint(uint64(raw[bad]), 16))
		return false
	}
	return true
}

// setJSONString stages the content of a JSON string for column col, which is not a
// text column. For integer and time columns a string holding exactly a JSON number
// (white space around it allowed) is that number ("12", "3.0", "1696161600");
// otherwise, and for float and boolean columns, the text forms of setText apply.
func (st *stage) setJSONString(col int, v []byte) bool {
	switch st.cols[col].typ {
	case storage.TypeInt64, storage.TypeTimestamp:
		if t := trimSpace(v); len(t) > 0 {
			if end, isInt := scanNumber(t, 0); end == len(t) {
				return st.setNumber(col, t, isInt)
			}
		}
	}
	return st.setText(col, v)
}

func (st *stage) setJSONBool(col int, b bool, text []byte) bool {
	s := &st.slots[col]
	switch st.cols[col].typ {
	case storage.TypeBool:
		s.b = b
	case storage.TypeString:
		if k := st.cols[col].kind; k == kindUUID || k == kindInterval || k == kindNumeric { // written as a string only
			st.failValue(col, msgSyntax, text)
			return false
		}
		s.s = text
	default:
		st.failValue(col, msgSyntax, text)
		return false
	}
	s.set = true
	return true
}

// setNumber stages the JSON number num (grammar already checked) for column col.
// It reports false, with st.fail set, when num does not fit the column.
func (st *stage) setNumber(col int, num []byte, isInt bool) bool {
	s := &st.slots[col]
	c := &st.cols[col]
	r := parseOK
	switch c.typ {
	case storage.TypeString:
		if c.kind == kindUUID || c.kind == kindInterval { // written as a string only
			r = parseSyntax
			break
		}
		if c.kind == kindNumeric { // 12.340 exactly, never through a float
			if !st.setNumeric(col, num) {
				return false
			}
			break
		}
		s.s = num
	case storage.TypeInt64:
		if c.kind == kindDecimal { // 12.34 exactly, never through a float
			s.i, r = parseDecimal(num, c)
			break
		}
		if c.kind == kindDate { // a date is written as text, as PostgreSQL's date input reads it
			r = parseSyntax
			break
		}
		if !isInt {
			num, isInt = integralDecimal(num)
		}
		if isInt {
			s.i, r = parseInt(num, c.kind)
			break
		}
		// 1e3 is an integer written as JSON numbers often are; 1.5 is not.
		f, err := strconv.ParseFloat(unsafe.String(&num[0], len(num)), 64)
		switch {
		case err != nil:
			r = parseRange // the JSON grammar leaves ParseFloat only range errors
		case f != math.Trunc(f):
			r = parseSyntax
		case f < -(1<<63) || f >= 1<<63:
			r = parseRange
		default:
			s.i = int64(f)
			r = checkIntRange(s.i, c.kind)
		}
	case storage.TypeFloat64:
		s.f, r = parseFloat(num, c.kind)
	case storage.TypeTimestamp:
		if isInt {
			var n int64
			if n, r = parseInt(num, kindOther); r == parseOK {
				s.i = epochIntToMicros(n)
			}
		} else {
			f, err := strconv.ParseFloat(unsafe.String(&num[0], len(num)), 64)
			if err != nil {
				r = parseRange
			} else {
				s.i, r = epochFloatToMicros(f)
			}
		}
	case storage.TypeBool:
		switch string(num) {
		case "1":
			s.b = true
		case "0":
			s.b = false
		default:
			r = parseSyntax
		}
	}
	if r != parseOK {
		st.failParse(col, r, num)
		return false
	}
	s.set = true
	return true
}

// integralDecimal returns the integer part of a JSON number without exponent whose
// fraction is all zeros ("3.000" -> "3"), exactly, for integer columns; otherwise
// num and false.
func integralDecimal(num []byte) ([]byte, bool) {
	dot := bytes.IndexByte(num, '.')
	if dot < 0 {
		return num, false
	}
	for _, c := range num[dot+1:] {
		if c != '0' {
			return num, false
		}
	}
	return num[:dot], true
}

// scanNumber checks the JSON number grammar at b[i:] and returns its end (-1 when
// invalid) and whether it has neither fraction nor exponent.
func scanNumber(b []byte, i int) (end int, isInt bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return -1, false
	}
	isInt = true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return -1, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return -1, false
		}
	}
	return i, isInt
}

// jsonString scans the string starting at the quote b[i]. It returns its content —
// a slice of b when it has no escape, else de-escaped into st.scratch — and the
// offset after the closing quote; on a syntax error ok is false and next is where.
func (js *jsonDecoder) jsonString(b []byte, i int) (v []byte, next int, ok bool) {
	start := i + 1
	j := plainRun(b, start)
	switch {
	case j == len(b) || b[j] < 0x20:
		return nil, j, false
	case b[j] == '\\':
		return js.st.jsonUnescape(b, start, j)
	}
	return b[start:j], j + 1, true
}

// plainRun returns the offset of the first byte at or after b[j] that ends a plain
// run of string content (see jsonStringStop), or len(b). It tests 8 bytes per step
// (SWAR): most string values are a few words long and have no escape.
func plainRun(b []byte, j int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; j+8 <= len(b); j += 8 {
		x := binary.LittleEndian.Uint64(b[j:])
		q := x ^ ('"' * ones)
		s := x ^ ('\\' * ones)
		// A byte of the mask is set where x has a quote, a backslash or a byte < 0x20
		// (the lowest set byte is exact; those above it may be false positives).
		m := ((q - ones) &^ q) | ((s - ones) &^ s) | ((x - 0x20*ones) &^ x)
		if m &= highs; m != 0 {
			return j + bits.TrailingZeros64(m)/8
		}
	}
	for j < len(b) && !jsonStringStop[b[j]] {
		j++
	}
	return j
}

// jsonStringStop marks the bytes that end the plain run of a JSON string: the
// closing quote, a backslash, and the control characters JSON forbids in strings.
var jsonStringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// jsonUnescape continues jsonString from the first backslash at b[j].
func (st *stage) jsonUnescape(b []byte, start, j int) ([]byte, int, bool) {
	out0 := len(st.scratch)
	st.appendScratch(b[start:j])
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			return st.scratch[out0:], j + 1, true
		case c < 0x20:
			return nil, j, false
		case c != '\\':
			k := plainRun(b, j+1)
			st.appendScratch(b[j:k])
			j = k
			continue
		}
		if j+1 >= len(b) {
			return nil, j, false
		}
		var e byte
		switch b[j+1] {
		case '"', '\\', '/':
			e = b[j+1]
		case 'b':
			e = '\b'
		case 'f':
			e = '\f'
		case 'n':
			e = '\n'
		case 'r':
			e = '\r'
		case 't':
			e = '\t'
		case 'u':
			r, ok := hex4(b, j+2)
			if !ok {
				return nil, j, false
			}
			j += 6
			if r >= 0xD800 && r < 0xDC00 { // high surrogate: a low one should follow
				if lo, ok := hex4(b, j+2); ok && j+1 < len(b) && b[j] == '\\' && b[j+1] == 'u' && lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					j += 6
				} else {
					r = utf8.RuneError
				}
			} else if r >= 0xDC00 && r < 0xE000 {
				r = utf8.RuneError
			}
			var buf [4]byte
			st.appendScratch(buf[:utf8.EncodeRune(buf[:], r)])
			continue
		default:
			return nil, j, false
		}
		st.appendScratchByte(e)
		j += 2
	}
	return nil, j, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skipComposite checks the object or array starting at b[i] and returns its end; on
// a syntax error it returns where and what. It keeps its own stack of open
// containers, so deep nesting costs no goroutine stack.
func (js *jsonDecoder) skipComposite(b []byte, i int) (int, string) {
	st := js.stack[:0]
	defer func() { js.stack = st[:0] }()
	for {
		c := b[i]
		switch c {
		case '{', '[':
			if len(st) >= maxJSONDepth {
				return i, "too deeply nested"
			}
			i = skipWS(b, i+1)
			if i < len(b) && (b[i] == '}' && c == '{' || b[i] == ']' && c == '[') {
				i++
				break // an empty container is a complete value
			}
			st = append(st, c)
			if c == '{' {
				var ok bool
				if i, ok = skipKey(b, i); !ok {
					return i, "invalid object key"
				}
			}
			if i >= len(b) {
				return i, "expected a value"
			}
			continue // a value starts at b[i]
		case '"':
			var ok bool
			if i, ok = skipString(b, i); !ok {
				return i, "invalid string"
			}
		case 't', 'f', 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
				return i, "invalid literal"
			}
			i += len(lit)
		default:
			end, _ := scanNumber(b, i)
			if end < 0 {
				return i, "invalid value"
			}
			i = end
		}
		// A value ended; close containers and find the next value.
		for {
			if len(st) == 0 {
				return i, ""
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, "unterminated object or array"
			}
			top := st[len(st)-1]
			if b[i] == ',' {
				i = skipWS(b, i+1)
				if top == '{' {
					var ok bool
					if i, ok = skipKey(b, i); !ok {
						return i, "invalid object key"
					}
				}
				if i >= len(b) {
					return i, "expected a value"
				}
				break
			}
			if (top == '{' && b[i] == '}') || (top == '[' && b[i] == ']') {
				st = st[:len(st)-1]
				i++
				continue
			}
			return i, "expected ',' or a closing bracket"
		}
	}
}

// skipKey scans `"key" :` and white space after it, returning the value's offset.
func skipKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := skipString(b, i)
	if !ok {
		return i, false
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipWS(b, i+1), true
}

// skipString checks the syntax of the string at b[i] without de-escaping it and
// returns the offset after it; on an error, false and where.
func skipString(b []byte, i int) (int, bool) {
	j := i + 1
	for {
		j = plainRun(b, j)
		if j >= len(b) || b[j] < 0x20 {
			return j, false
		}
		if b[j] == '"' {
			return j + 1, true
		}
		// A backslash.
		if j+1 >= len(b) {
			return j, false
		}
		switch b[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			if _, ok := hex4(b, j+2); !ok {
				return j, false
			}
			j += 6
		default:
			return j, false
		}
	}
}
