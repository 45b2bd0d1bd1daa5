package ingest

import (
	"bytes"
	"fmt"
	"github.com/stratadb/strata/internal/pguuid"
	"strconv"
	"unicode/utf8"

	"github.com/stratadb/strata/storage"
)

// stage is the row being decoded, shared by every format: the COPY decoder and the
// RecordDecoder both fill its slots field by field (convert.go, json.go) and append
// it to a storage.Columns only once every field converted, so a failed row leaves
// nothing behind.
type stage struct {
	cols  []colInfo
	slots []slot
	// scratch holds de-escaped field bytes of the current record. Its capacity is
	// made at least the record's length before the record is decoded and
	// de-escaping never lengthens a value, so appends never reallocate and slots may
	// point into it.
	scratch []byte
	interns []internCache // per schema column; used for string columns
	rowBuf  []byte        // the string values of the row being appended
	pending []pendingString
	// fail says why the last set* call or check reported false.
	fail failure
}

// slot stages one schema column's value of the row being decoded. s points into
// the record or into stage.scratch and is copied out only when the row is appended.
type slot struct {
	set bool // a non-NULL value is staged
	i   int64
	f   float64
	b   bool
	s   []byte
	// uuid holds a uuid column's value rewritten to canonical form, when the
	// input was not (s then points here).
	uuid [pguuid.TextLen]byte
	// text holds an interval column's value in output form, or a numeric text
	// column's in canonical form (s then points here).
	text []byte
}

func (st *stage) init(schema *storage.Schema) {
	st.cols = make([]colInfo, len(schema.Columns))
	for i, c := range schema.Columns {
		st.cols[i] = colInfo{name: c.Name, typ: c.Type, notNull: c.NotNull || i == schema.TimeColumn}
		st.cols[i].kind, st.cols[i].typeName = describeSQLType(c)
		st.cols[i].prec, st.cols[i].scale, _ = c.DecimalScale()
		if p, sc, mod, ok := c.NumericTextColumn(); ok {
			st.cols[i].prec, st.cols[i].scale, st.cols[i].hasMod = p, sc, mod
		}
		if (c.SQLType == "varchar" || c.SQLType == "bpchar") && c.TypMod > varHdrSz {
			st.cols[i].maxChars = int(c.TypMod - varHdrSz)
			st.cols[i].bpchar = c.SQLType == "bpchar"
		}
	}
	st.slots = make([]slot, len(schema.Columns))
	st.interns = make([]internCache, len(schema.Columns))
}

// beginRow clears the staged row.
func (st *stage) beginRow() {
	for i := range st.slots {
		st.slots[i].set = false
	}
}

// varHdrSz is PostgreSQL's VARHDRSZ, which a varchar(n) modifier adds to n.
const varHdrSz = 4

// checkRow reports false, with st.fail set, when a NOT NULL column has no
// value, or a varchar(n) column a value of more than n characters; a longer value
// whose excess is spaces is cut to n characters instead, as PostgreSQL stores it.
func (st *stage) checkRow() bool {
	for i := range st.cols {
		c, s := &st.cols[i], &st.slots[i]
		if !s.set {
			if c.notNull {
				st.fail = failure{kind: failNotNull, col: i}
				return false
			}
			continue
		}
		if c.bpchar { // character(n) is kept without trailing spaces (engine/bpchar.go)
			s.s = bytes.TrimRight(s.s, " ")
		}
		if c.maxChars > 0 && len(s.s) > c.maxChars { // fewer bytes cannot be more characters
			off, k := 0, 0
			for off < len(s.s) && k < c.maxChars {
				_, size := utf8.DecodeRune(s.s[off:])
				off += size
				k++
			}
			if off < len(s.s) {
				if len(bytes.Trim(s.s[off:], " ")) != 0 {
					st.failValue(i, "value too long for type %[1]s("+strconv.Itoa(c.maxChars)+")", s.s)
					return false
				}
				s.s = s.s[:off]
			}
		}
	}
	return true
}

// appendRow appends the staged row to b, one value to every column; it cannot fail.
// REQUIRES: b has the stage's schema and all its columns hold b.Len values.
//
// String values are copied out of the record here, at most one allocation per row:
// a value seen recently in its column is reused from the column's intern cache, the
// others are concatenated into one string per row and sliced from it (so a retained
// value keeps at most its row's strings alive).
func (st *stage) appendRow(b *storage.Columns) {
	row := b.Len
	st.rowBuf = st.rowBuf[:0]
	st.pending = st.pending[:0]
	for i := range st.cols {
		s := &st.slots[i]
		cd := &b.Cols[i]
		switch st.cols[i].typ {
		case storage.TypeTimestamp, storage.TypeInt64:
			if !s.set {
				s.i = 0
			}
			cd.Int64 = append(cd.Int64, s.i)
		case storage.TypeFloat64:
			if !s.set {
				s.f = 0
			}
			cd.Float64 = append(cd.Float64, s.f)
		case storage.TypeBool:
			cd.Bool = append(cd.Bool, s.set && s.b)
		case storage.TypeString:
			v := ""
			if s.set {
				if str, ok := st.interns[i].lookup(s.s); ok {
					v = str
				} else {
					st.pending = append(st.pending, pendingString{col: i, start: len(st.rowBuf), end: len(st.rowBuf) + len(s.s)})
					st.rowBuf = append(st.rowBuf, s.s...)
				}
			}
			cd.String = append(cd.String, v)
		default:
			panic(fmt.Sprintf("BUG: ingest: column %q has type %s", st.cols[i].name, st.cols[i].typ))
		}
		if !s.set {
			b.SetNull(i, row)
		}
	}
	if len(st.pending) > 0 {
		all := string(st.rowBuf)
		for _, p := range st.pending {
			v := all[p.start:p.end]
			b.Cols[p.col].String[row] = v
			st.interns[p.col].store(v)
		}
	}
	b.Len++
}

// pendingString is a string value of the row being appended, at rowBuf[start:end].
type pendingString struct{ col, start, end int }

// prepareScratch makes room for de-escaping a record of n bytes (see stage.scratch).
func (st *stage) prepareScratch(n int) {
	if cap(st.scratch) < n {
		st.scratch = make([]byte, 0, max(n, 2*cap(st.scratch)))
	}
	st.scratch = st.scratch[:0]
}

// appendScratch appends de-escaped bytes; see stage.scratch for why it never
// reallocates.
func (st *stage) appendScratch(b []byte) {
	if len(st.scratch)+len(b) > cap(st.scratch) {
		panic("BUG: ingest: de-escaped value outgrew its record")
	}
	st.scratch = append(st.scratch, b...)
}

func (st *stage) appendScratchByte(c byte) {
	if len(st.scratch) == cap(st.scratch) {
		panic("BUG: ingest: de-escaped value outgrew its record")
	}
	st.scratch = append(st.scratch, c)
}

// failure records why a row could not be staged. It is rendered into a message
// only when someone wants it (a kept reject, a RecordError): a COPY with millions
// of bad lines formats only the first few.
type failure struct {
	kind failKind
	col  int    // failValue, failNotNull: the schema column
	msg  string // failValue: PostgreSQL's format (%[1]s type, %[2]s value); failSyntax: what was expected; failReason: all of it
	val  []byte // failValue: the value; aliases the record, valid until the next one
	pos  int    // failSyntax: byte offset in the record; -1 = at its end
	// field is the JSON member the failure is in, when there is one; it aliases the
	// record or stage.scratch.
	field []byte
}

type failKind uint8

const (
	failNone failKind = iota
	failValue
	failSyntax
	failNotNull
	failReason
)

func (st *stage) failValue(col int, msg string, v []byte) {
	st.fail = failure{kind: failValue, col: col, msg: msg, val: v}
}

func (st *stage) failSyntax(pos int, what string) {
	st.fail = failure{kind: failSyntax, msg: what, pos: pos}
}

func (st *stage) failReason(msg string) {
	st.fail = failure{kind: failReason, msg: msg}
}

// reason renders st.fail the way PostgreSQL words it, e.g.
//
//	invalid input syntax for type bigint: "abc" (column quantity)
//	invalid input syntax for type bigint: "abc" (column quantity, field "Quantity")
//	invalid input syntax for type json: invalid string at byte 25 (field "user_id")
func (st *stage) reason() string {
	f := &st.fail
	var s string
	switch f.kind {
	case failValue:
		c := &st.cols[f.col]
		s = fmt.Sprintf(f.msg, c.typeName, quotable(f.val)) + " (column " + c.name
		if f.field != nil && string(f.field) != c.name {
			s += ", field " + quoteField(f.field)
		}
		return s + ")"
	case failNotNull:
		return fmt.Sprintf("null value in column %q violates not-null constraint", st.cols[f.col].name)
	case failSyntax:
		s = "invalid input syntax for type json: " + f.msg
		if f.pos < 0 {
			s += " at end of input"
		} else {
			s += " at byte " + strconv.Itoa(f.pos+1)
		}
	case failReason:
		s = f.msg
	default:
		panic("BUG: ingest: no failure to report")
	}
	if f.field != nil {
		s += " (field " + quoteField(f.field) + ")"
	}
	return s
}

func quoteField(name []byte) string { return `"` + quotable(name) + `"` }

// internCache is a small direct-mapped cache of a string column's recent values, so
// low-cardinality columns (event type, country) do not allocate per row. It turns
// itself off for a while in a column where it does not pay (ids, free text).
type internCache struct {
	entries       [internSlots]string
	lookups, hits uint32
	disabledUntil uint32 // lookups to skip
}

const (
	internSlots = 256
	// A column is probed over internProbe values; under 1/4 hits it is skipped for
	// the next internBackoff values.
	internProbe   = 1024
	internBackoff = 64 * 1024
	internMaxLen  = 64 // longer values are rarely repeated; do not hash them
)

func internHash(v []byte) uint32 {
	h := uint32(2166136261) // FNV-1a
	for _, c := range v {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// lookup returns the cached string equal to v.
func (c *internCache) lookup(v []byte) (string, bool) {
	if len(v) == 0 {
		return "", true
	}
	if len(v) > internMaxLen {
		return "", false
	}
	if c.disabledUntil > 0 {
		c.disabledUntil--
		return "", false
	}
	c.lookups++
	e := c.entries[internHash(v)%internSlots]
	hit := e == string(v)
	if hit {
		c.hits++
	}
	if c.lookups == internProbe {
		if c.hits < internProbe/4 {
			c.disabledUntil = internBackoff
		}
		c.lookups, c.hits = 0, 0
	}
	return e, hit
}

func (c *internCache) store(v string) {
	if len(v) > internMaxLen || c.disabledUntil > 0 {
		return
	}
	c.entries[internHash([]byte(v))%internSlots] = v
}
