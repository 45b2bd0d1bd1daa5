package engine

import (
	"math"
	"strings"
	"unicode"
)

// cmpRow compares row i of a with row j of b (same type, neither NULL).
func cmpRow(a *vec, i int, b *vec, j int) int {
	switch kindOf(a.t) {
	case kInt:
		return cmpInt(a.i[i], b.i[j])
	case kFloat:
		c := cmpFloat(a.f[i], b.f[j])
		if c == 0 && a.nx != nil && b.nx != nil { // exact numerics a float cannot tell apart
			c = cmpNumericText(a.nx[i], b.nx[j])
		}
		return c
	case kBool:
		return cmpInt(b2i(a.b[i]), b2i(b.b[j]))
	case kText:
		return strings.Compare(a.str(i), b.str(j))
	case kInterval:
		return cmpIval(a.iv[i], b.iv[j])
	}
	return 0
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// constText reports whether a text vec holds the same non-NULL value in every row.
func constText(v *vec) (string, bool) {
	if v.n == 0 || v.nulls != nil {
		return "", false
	}
	s := v.str(0)
	for i := 1; i < v.n; i++ {
		if v.str(i) != s {
			return "", false
		}
	}
	return s, true
}

// mapText applies f to every non-NULL string; over dictionary text f runs once per
// dictionary value and the result stays dictionary encoded.
func mapText(x *vec, f func(string) string) *vec {
	if x.isDict && len(x.dict) <= x.n {
		nd := make([]string, len(x.dict))
		for id, s := range x.dict {
			nd[id] = f(s)
		}
		return &vec{t: Text, n: x.n, nulls: x.nulls, isDict: true, ids: x.ids, dict: nd}
	}
	out := newVec(Text, x.n)
	out.nulls = x.nulls
	for i := 0; i < x.n; i++ {
		if !x.isNull(i) {
			out.s[i] = f(x.str(i))
		}
	}
	return out
}

// textN computes a text result per row where no argument is NULL.
func textN(n int, args []*vec, f func(i int) (string, error)) (*vec, error) {
	out := newVec(Text, n)
	out.nulls = unionNulls(n, args...)
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		s, err := f(i)
		if err != nil {
			return nil, err
		}
		out.s[i] = s
	}
	return out, nil
}

func substr(s string, start, count int64) string {
	// PostgreSQL: characters from start to start+count-1, 1-based, clipped.
	end := int64(math.MaxInt64)
	if count != math.MaxInt64 {
		end = start + count
		if end < start { // overflow
			end = math.MaxInt64
		}
	}
	if start < 1 {
		start = 1
	}
	if end <= start {
		return ""
	}
	pos := int64(1)
	bs, be := -1, len(s)
	for i := range s {
		if pos == start {
			bs = i
		}
		if pos == end {
			be = i
			break
		}
		pos++
	}
	if bs < 0 {
		return ""
	}
	return s[bs:be]
}

func trimBy(name, s, set string) string {
	switch name {
	case "ltrim":
		return strings.TrimLeft(s, set)
	case "rtrim":
		return strings.TrimRight(s, set)
	}
	return strings.Trim(s, set)
}

func reverseString(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func initcap(s string) string {
	r := []rune(s)
	start := true
	for i, c := range r {
		if unicode.IsLetter(c) || unicode.IsDigit(c) {
			if start {
				r[i] = unicode.ToUpper(c)
			} else {
				r[i] = unicode.ToLower(c)
			}
			start = false
		} else {
			start = true
		}
	}
	return string(r)
}

// QuoteIdent is PostgreSQL's quote_ident: s unchanged when it is a lower-case
// identifier that is not a reserved keyword, else in double quotes with embedded
// quotes doubled.
func QuoteIdent(s string) string {
	plain := s != "" && !reservedWords[s]
	for i, r := range s {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// reservedWords are PostgreSQL's reserved keywords (those quote_ident quotes).
var reservedWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`all analyse analyze and any array as asc asymmetric authorization binary both case cast
		check collate collation column concurrently constraint create cross current_catalog current_date current_role
		current_schema current_time current_timestamp current_user default deferrable desc distinct do else end except
		false fetch for foreign freeze from full grant group having ilike in initially inner intersect into is isnull join
		lateral leading left like limit localtime localtimestamp natural not notnull null offset on only or order outer
		overlaps placing primary references returning right select session_user similar some symmetric system_user table
		tablesample then to trailing true union unique user using variadic verbose when where window with`) {
		reservedWords[w] = true
	}
}
