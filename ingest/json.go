package ingest

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/stratadb/strata/storage"
)

// JSON lines: each non-blank line is one JSON object (RFC 8259). Its members map
// to columns by exact name; members naming no loaded column are checked for syntax
// and ignored; a member given twice counts once, the last one. A missing member or
// JSON null is NULL. Blank lines are skipped and are neither rows nor rejects.
//
// The scanner works on the line's bytes in place: no tokens are allocated, string
// values without escapes are not copied until the row commits, and the column of a
// key is found by first trying the column the same key position had on the last
// line (producers write keys in a fixed order), then by a scan of the names.

// jsonKey maps a member name to a schema column.
type jsonKey struct {
	name string
	col  int
}

// jsonState is the JSON decoder's reusable state.
type jsonState struct {
	keys  []jsonKey
	order []int // order[k]: index in keys of the k-th member of the last line, or -1
	stack []byte
}

const maxJSONDepth = 10_000

func (d *decoder) runJSON() error {
	d.json.keys = d.json.keys[:0]
	for _, c := range d.targets {
		d.json.keys = append(d.json.keys, jsonKey{name: d.cols[c].name, col: c})
	}
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
		if !d.decodeJSONLine(line) {
			continue
		}
		if err := d.commitRow(); err != nil {
			return err
		}
	}
}

// jsonErr is a syntax error: what was expected, at byte offset pos of the line.
func (d *decoder) rejectJSON(line []byte, pos int, what string) {
	if pos >= len(line) {
		d.rejectf("invalid input syntax for type json: %s at end of line", what)
		return
	}
	d.rejectf("invalid input syntax for type json: %s at byte %d", what, pos+1)
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

// decodeJSONLine stages the row of one line. It reports false when the line is blank
// (skipped) or was rejected.
func (d *decoder) decodeJSONLine(line []byte) bool {
	i := skipWS(line, 0)
	if i == len(line) {
		return false
	}
	if line[i] != '{' {
		d.rejectf("JSON value is not an object")
		return false
	}
	d.beginRow()
	d.prepareScratch(len(line))
	i = skipWS(line, i+1)
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for k := 0; ; k++ {
			if i >= len(line) || line[i] != '"' {
				d.rejectJSON(line, i, `expected '"' to start an object key`)
				return false
			}
			key, next, ok := d.jsonString(line, i)
			if !ok {
				d.rejectJSON(line, next, "invalid string")
				return false
			}
			col := d.lookupKey(k, key)
			i = skipWS(line, next)
			if i >= len(line) || line[i] != ':' {
				d.rejectJSON(line, i, "expected ':' after object key")
				return false
			}
			i = skipWS(line, i+1)
			if i, ok = d.jsonValue(line, i, col); !ok {
				return false
			}
			i = skipWS(line, i)
			if i < len(line) && line[i] == ',' {
				i = skipWS(line, i+1)
				continue
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			d.rejectJSON(line, i, "expected ',' or '}' after object member")
			return false
		}
	}
	if i = skipWS(line, i); i != len(line) {
		d.rejectJSON(line, i, "unexpected data after the object")
		return false
	}
	return true
}

// lookupKey returns the schema column of the k-th member named key, or -1.
func (d *decoder) lookupKey(k int, key []byte) int {
	js := &d.json
	if k < len(js.order) {
		if j := js.order[k]; j >= 0 && js.keys[j].name == string(key) {
			return js.keys[j].col
		}
	}
	found := -1
	for j := range js.keys {
		if js.keys[j].name == string(key) {
			found = j
			break
		}
	}
	for len(js.order) <= k {
		js.order = append(js.order, -1)
	}
	js.order[k] = found
	if found < 0 {
		return -1
	}
	return js.keys[found].col
}

// jsonValue scans the value at line[i] and, when col >= 0, stages it for column col.
// It returns the offset after the value and false when it rejected the line.
func (d *decoder) jsonValue(line []byte, i, col int) (int, bool) {
	if i >= len(line) {
		d.rejectJSON(line, i, "expected a value")
		return i, false
	}
	switch c := line[i]; {
	case c == '"':
		var v []byte
		var next int
		var ok bool
		if col >= 0 {
			v, next, ok = d.jsonString(line, i)
		} else {
			_, next, ok = d.skipString(line, i)
		}
		if !ok {
			d.rejectJSON(line, next, "invalid string")
			return next, false
		}
		if col >= 0 && !d.setText(col, v) {
			return next, false
		}
		return next, true
	case c == '-' || (c >= '0' && c <= '9'):
		end, isInt := scanNumber(line, i)
		if end < 0 {
			d.rejectJSON(line, i, "invalid number")
			return i, false
		}
		if col >= 0 && !d.setNumber(col, line[i:end], isInt) {
			return end, false
		}
		return end, true
	case c == 't' || c == 'f' || c == 'n':
		var lit string
		switch c {
		case 't':
			lit = "true"
		case 'f':
			lit = "false"
		default:
			lit = "null"
		}
		if len(line)-i < len(lit) || string(line[i:i+len(lit)]) != lit {
			d.rejectJSON(line, i, "invalid literal")
			return i, false
		}
		end := i + len(lit)
		if col < 0 {
			return end, true
		}
		if c == 'n' {
			d.slots[col].set = false
			return end, true
		}
		return end, d.setJSONBool(col, c == 't', line[i:end])
	case c == '{' || c == '[':
		end, what := d.skipComposite(line, i)
		if what != "" {
			d.rejectJSON(line, end, what)
			return end, false
		}
		if col >= 0 {
			if d.cols[col].typ != storage.TypeString {
				d.rejectValue(col, msgSyntax, line[i:end])
				return end, false
			}
			if !d.setText(col, line[i:end]) {
				return end, false
			}
		}
		return end, true
	}
	d.rejectJSON(line, i, "expected a value")
	return i, false
}

func (d *decoder) setJSONBool(col int, b bool, text []byte) bool {
	s := &d.slots[col]
	switch d.cols[col].typ {
	case storage.TypeBool:
		s.b = b
	case storage.TypeString:
		s.s = text
	default:
		d.rejectValue(col, msgSyntax, text)
		return false
	}
	s.set = true
	return true
}

// setNumber stages the JSON number num (grammar already checked) for column col.
func (d *decoder) setNumber(col int, num []byte, isInt bool) bool {
	s := &d.slots[col]
	c := &d.cols[col]
	r := parseOK
	switch c.typ {
	case storage.TypeString:
		s.s = num
	case storage.TypeInt64:
		if isInt {
			s.i, r = parseInt(num, c.kind)
			break
		}
		// 1.0 and 1e3 are integers written as JSON numbers often are; 1.5 is not.
		f, err := strconv.ParseFloat(unsafe.String(&num[0], len(num)), 64)
		switch {
		case err != nil || f != math.Trunc(f):
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
				s.i, r = epochIntToMicros(n)
			}
		} else {
			f, err := strconv.ParseFloat(unsafe.String(&num[0], len(num)), 64)
			if err != nil {
				r = parseRange
			} else {
				s.i, r = epochFloatToMicros(f)
			}
		}
		if r == parseSyntax {
			d.rejectValue(col, msgTimeNotEpoch, num)
			return false
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
		d.rejectParse(col, r, num)
		return false
	}
	s.set = true
	return true
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
// a slice of b when it has no escape, else de-escaped into d.scratch — and the
// offset after the closing quote; on a syntax error ok is false and next is where.
func (d *decoder) jsonString(b []byte, i int) (v []byte, next int, ok bool) {
	start := i + 1
	j := plainRun(b, start)
	switch {
	case j == len(b) || b[j] < 0x20:
		return nil, j, false
	case b[j] == '\\':
		return d.jsonUnescape(b, start, j)
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
func (d *decoder) jsonUnescape(b []byte, start, j int) ([]byte, int, bool) {
	out0 := len(d.scratch)
	d.appendScratch(b[start:j])
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			return d.scratch[out0:], j + 1, true
		case c < 0x20:
			return nil, j, false
		case c != '\\':
			k := j + 1
			for k < len(b) && b[k] != '"' && b[k] != '\\' && b[k] >= 0x20 {
				k++
			}
			d.appendScratch(b[j:k])
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
			d.appendScratch(buf[:utf8.EncodeRune(buf[:], r)])
			continue
		default:
			return nil, j, false
		}
		d.appendScratchByte(e)
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
// a syntax error it returns where and what.
func (d *decoder) skipComposite(b []byte, i int) (int, string) {
	st := d.json.stack[:0]
	defer func() { d.json.stack = st[:0] }()
	// expectValue: a value must come next (after '[', ':' or ',').
	// In an object, after '{' or ',' a key must come, marked by wantKey.
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
				if i, ok = d.skipKey(b, i); !ok {
					return i, "invalid object key"
				}
			}
			if i >= len(b) {
				return i, "expected a value"
			}
			continue // a value starts at b[i]
		case '"':
			var ok bool
			if _, i, ok = d.skipString(b, i); !ok {
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
					if i, ok = d.skipKey(b, i); !ok {
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
func (d *decoder) skipKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	_, i, ok := d.skipString(b, i)
	if !ok {
		return i, false
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipWS(b, i+1), true
}

// skipString validates the string at b[i] without de-escaping it.
func (d *decoder) skipString(b []byte, i int) ([]byte, int, bool) {
	j := i + 1
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			return nil, j + 1, true
		case c < 0x20:
			return nil, j, false
		case c == '\\':
			if j+1 >= len(b) {
				return nil, j, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if _, ok := hex4(b, j+2); !ok {
					return nil, j, false
				}
				j += 6
			default:
				return nil, j, false
			}
		default:
			j++
		}
	}
	return nil, j, false
}
