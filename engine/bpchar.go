package engine

import (
	"strings"
	"unicode/utf8"
)

// character(n), PostgreSQL's bpchar: a TypeText with Pad n. Its values are kept
// without trailing spaces, the form in which PostgreSQL compares, hashes and
// measures them (trailing spaces are insignificant in bpchar's =, <, length()
// and its cast to text), and are padded with spaces to n characters only when
// printed: in a result, by AppendText and the wire layer, and in the output form
// concat() and format() read (castToText). A cast to character(n) cuts trailing
// spaces (toBpchar); cutting a longer value to n characters is the binder's, for
// an explicit cast, and a longer value stored is 22001 (sql's checkWrite, ingest).

const bpcharOID = 1042

// Bpchar is the type character(n).
func Bpchar(n int) Type { return Type{ID: TypeText, Pad: uint32(n)} }

// BpcharColumn is n of a stored column of SQL type sqlType declared with
// modifier typmod (PostgreSQL's atttypmod) when it is character(n).
func BpcharColumn(sqlType string, typmod int32) (int, bool) {
	if sqlType != "bpchar" || typmod <= VarHdrSz {
		return 0, false
	}
	return int(typmod - VarHdrSz), true
}

// toBpchar is x's text with trailing spaces cut, typed t.
func toBpchar(x *vec, t Type) *vec {
	out := newVec(t, x.n)
	out.nulls = x.nulls
	for i := 0; i < x.n; i++ {
		if !x.isNull(i) {
			out.s[i] = strings.TrimRight(x.str(i), " ")
		}
	}
	return out
}

// AppendBpchar appends s, padded with spaces to n characters when t is
// character(n).
func AppendBpchar(dst []byte, s string, t Type) []byte {
	dst = append(dst, s...)
	if t.Pad == 0 {
		return dst
	}
	for k := utf8.RuneCountInString(s); k < int(t.Pad); k++ {
		dst = append(dst, ' ')
	}
	return dst
}

// padVec is x (character(n)) in its output form, padded, typed text.
func padVec(x *vec) *vec {
	out := newVec(Text, x.n)
	out.nulls = x.nulls
	for i := 0; i < x.n; i++ {
		if !x.isNull(i) {
			out.s[i] = string(AppendBpchar(nil, x.str(i), x.t))
		}
	}
	return out
}
