package engine

import (
	"strings"

	"github.com/stratadb/strata/internal/sqlstate"
)

// text[] values. A text[] travels through the engine as its PostgreSQL text form,
// exactly as array_out prints it ("{a,\"b c\",NULL}"), in a string column: equal
// arrays have equal text, so = and <> compare the strings; ordering comparisons
// (which PostgreSQL does element by element) are not offered (resolve.go). Only
// one-dimensional arrays with the default lower bound 1 exist.

// ArrayElem is one element of a one-dimensional array; Null marks a NULL element.
type ArrayElem struct {
	S    string
	Null bool
}

// FormatTextArray prints elems as array_out does: an element is double-quoted when
// it is empty, is NULL spelled in any case, or holds a brace, a double quote, a
// comma, a backslash or white space; inside quotes " and \ are escaped with \.
func FormatTextArray(elems []ArrayElem) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		if e.Null {
			b.WriteString("NULL")
			continue
		}
		if !arrayElemNeedsQuotes(e.S) {
			b.WriteString(e.S)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(e.S); j++ {
			if c := e.S[j]; c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(e.S[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// arrayElemNeedsQuotes follows array_out (arrayfuncs.c): array_isspace is
// space, \t, \n, \r, \v and \f.
func arrayElemNeedsQuotes(s string) bool {
	if s == "" || strings.EqualFold(s, "NULL") {
		return true
	}
	return strings.ContainsAny(s, "{}\",\\ \t\n\r\v\f")
}

func isArraySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func malformedArray(s, detail string) *Error {
	e := Errorf(sqlstate.InvalidTextRepresentation, "malformed array literal: \"%s\"", s)
	e.Detail = detail
	return e
}

// ParseTextArray reads a one-dimensional array literal as array_in does: "{}",
// elements separated by commas, each either double-quoted (\ escapes the next
// character) or bare (surrounding white space dropped, \ escapes, NULL in any case
// unquoted is a NULL element). Dimension decorations ("[1:2]={…}") and nested
// arrays are refused.
func ParseTextArray(s string) ([]ArrayElem, error) {
	i := 0
	for i < len(s) && isArraySpace(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '[' {
		return nil, Unsupported("array literals with dimensions")
	}
	if i >= len(s) || s[i] != '{' {
		return nil, malformedArray(s, "Array value must start with \"{\" or dimension information.")
	}
	i++
	var out []ArrayElem
	for i < len(s) && isArraySpace(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '}' {
		i++
		return out, arrayTail(s, i, out)
	}
	for {
		for i < len(s) && isArraySpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return nil, malformedArray(s, "Unexpected end of input.")
		}
		if s[i] == '{' {
			return nil, Unsupported("multidimensional arrays")
		}
		var e ArrayElem
		var b strings.Builder
		quoted := false
		if s[i] == '"' {
			quoted = true
			i++
			for {
				if i >= len(s) {
					return nil, malformedArray(s, "Unexpected end of input.")
				}
				c := s[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' {
					i++
					if i >= len(s) {
						return nil, malformedArray(s, "Unexpected end of input.")
					}
					c = s[i]
				}
				b.WriteByte(c)
				i++
			}
			for i < len(s) && isArraySpace(s[i]) {
				i++
			}
		} else {
			// Bare: up to an unescaped , or }; trailing white space (not escaped) is dropped.
			keep := 0 // length of b through the last escaped or non-space character
			for i < len(s) && s[i] != ',' && s[i] != '}' {
				c := s[i]
				switch {
				case c == '"' || c == '{':
					return nil, malformedArray(s, "Unexpected \""+string(c)+"\" character.")
				case c == '\\':
					i++
					if i >= len(s) {
						return nil, malformedArray(s, "Unexpected end of input.")
					}
					b.WriteByte(s[i])
					keep = b.Len()
				default:
					b.WriteByte(c)
					if !isArraySpace(c) {
						keep = b.Len()
					}
				}
				i++
			}
			str := b.String()[:keep]
			b.Reset()
			b.WriteString(str)
			if b.Len() == 0 {
				return nil, malformedArray(s, "Unexpected \",\" character.")
			}
		}
		e.S = b.String()
		if !quoted && strings.EqualFold(e.S, "NULL") {
			e = ArrayElem{Null: true}
		}
		out = append(out, e)
		if i >= len(s) {
			return nil, malformedArray(s, "Unexpected end of input.")
		}
		if s[i] == '}' {
			i++
			return out, arrayTail(s, i, out)
		}
		if s[i] != ',' {
			return nil, malformedArray(s, "Unexpected array element.")
		}
		i++
	}
}

// arrayTail checks that only white space follows the closing brace.
func arrayTail(s string, i int, _ []ArrayElem) error {
	for ; i < len(s); i++ {
		if !isArraySpace(s[i]) {
			return malformedArray(s, "Junk after closing right brace.")
		}
	}
	return nil
}

// arrayToString is array_to_string(arr, delim [, nullString]): the elements joined
// by delim; NULL elements are skipped, or replaced by nullString when given.
func arrayToString(arr, delim string, nullString *string) (string, error) {
	elems, err := ParseTextArray(arr)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	first := true
	for _, e := range elems {
		s := e.S
		if e.Null {
			if nullString == nil {
				continue
			}
			s = *nullString
		}
		if !first {
			b.WriteString(delim)
		}
		first = false
		b.WriteString(s)
	}
	return b.String(), nil
}

func arrayToStringVec(args []*vec, n int) (*vec, error) {
	out := newVec(Text, n)
	for i := 0; i < n; i++ {
		if args[0].isNull(i) || args[1].isNull(i) {
			out.setNull(i)
			continue
		}
		var ns *string
		if len(args) == 3 && !args[2].isNull(i) {
			s := args[2].str(i)
			ns = &s
		}
		s, err := arrayToString(args[0].str(i), args[1].str(i), ns)
		if err != nil {
			return nil, err
		}
		out.s[i] = s
	}
	return out, nil
}
