package engine

import (
	"regexp"

	"github.com/stratadb/strata/internal/sqlstate"
)

// Regular-expression functions (PostgreSQL 15 §9.7.3): regexp_replace,
// regexp_match, regexp_count, regexp_substr, regexp_split_to_array. Patterns are
// RE2 as for ~ (regex.go), read with PostgreSQL's defaults: '.' matches a newline
// unless the flag n (or m) makes the pattern newline-sensitive. Flags: g (every
// match, regexp_replace only), i, c, n, m, s; others are 22023.

type reFlags struct {
	global bool
	prefix string // RE2 flag group
}

func parseREFlags(f string) (reFlags, error) {
	ci, newline := false, false
	var r reFlags
	for _, c := range f {
		switch c {
		case 'g':
			r.global = true
		case 'i':
			ci = true
		case 'c':
			ci = false
		case 'n', 'm':
			newline = true
		case 's':
			newline = false
		default:
			return r, Errorf(sqlstate.InvalidParameterValue, "invalid regular expression option: \"%c\"", c)
		}
	}
	r.prefix = "(?s)"
	if newline {
		r.prefix = "(?m)"
	}
	if ci {
		r.prefix += "(?i)"
	}
	return r, nil
}

// regexCache compiles each distinct (pattern, flags) once per batch.
type regexCache map[[2]string]*regexp.Regexp

func (rc regexCache) get(pat string, fl reFlags) (*regexp.Regexp, error) {
	k := [2]string{pat, fl.prefix}
	if re, ok := rc[k]; ok {
		return re, nil
	}
	tr, err := translateRegex(pat) // regex_dialect.go
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(fl.prefix + tr)
	if err != nil {
		return nil, Errorf(sqlstate.InvalidRegularExpression, "invalid regular expression: %v", err)
	}
	rc[k] = re
	return re, nil
}

// reRows runs f for each row where no argument is NULL, with the row's compiled
// pattern (args[1]) and flags (args[flagArg], when present).
func reRows(fn string, out *vec, args []*vec, n, flagArg int, f func(i int, re *regexp.Regexp, fl reFlags) error) error {
	rc := regexCache{}
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		var fl reFlags
		var err error
		if flagArg < len(args) {
			if fl, err = parseREFlags(args[flagArg].str(i)); err != nil {
				return err
			}
		} else {
			fl, _ = parseREFlags("")
		}
		re, err := rc.get(args[1].str(i), fl)
		if err != nil {
			return err
		}
		if err := f(i, re, fl); err != nil {
			return err
		}
	}
	return nil
}

// expandReplacement is PostgreSQL's replacement text: \1 … \9 the groups, \& the
// whole match, \\ a backslash; any other backslash is kept.
func expandReplacement(dst []byte, repl, src string, m []int) []byte {
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '\\' || i+1 >= len(repl) {
			dst = append(dst, c)
			continue
		}
		d := repl[i+1]
		switch {
		case d >= '1' && d <= '9':
			if k := int(d - '0'); 2*k+1 < len(m) && m[2*k] >= 0 {
				dst = append(dst, src[m[2*k]:m[2*k+1]]...)
			}
			i++
		case d == '&':
			dst = append(dst, src[m[0]:m[1]]...)
			i++
		case d == '\\':
			dst = append(dst, '\\')
			i++
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func regexpReplaceKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(Text, n)
	out.nulls = unionNulls(n, args...)
	var buf []byte
	err := reRows("regexp_replace", out, args, n, 3, func(i int, re *regexp.Regexp, fl reFlags) error {
		src, repl := args[0].str(i), args[2].str(i)
		limit := 1
		if fl.global {
			limit = -1
		}
		ms := re.FindAllStringSubmatchIndex(src, limit)
		buf = buf[:0]
		last := 0
		for _, m := range ms {
			buf = append(buf, src[last:m[0]]...)
			buf = expandReplacement(buf, repl, src, m)
			last = m[1]
		}
		buf = append(buf, src[last:]...)
		out.s[i] = string(buf)
		return nil
	})
	return out, err
}

func regexpMatchKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(TextArray, n)
	out.nulls = unionNulls(n, args...)
	if out.nulls == nil {
		out.nulls = make([]bool, n)
	}
	err := reRows("regexp_match", out, args, n, 2, func(i int, re *regexp.Regexp, fl reFlags) error {
		if fl.global {
			return Errorf(sqlstate.InvalidParameterValue, "regexp_match() does not support the \"global\" option")
		}
		src := args[0].str(i)
		m := re.FindStringSubmatchIndex(src)
		if m == nil {
			out.nulls[i] = true
			return nil
		}
		out.s[i] = FormatTextArray(matchElems(src, m))
		return nil
	})
	return out, err
}

// matchElems are the groups of match m, or the whole match when the pattern has
// no groups; an unmatched group is NULL.
func matchElems(src string, m []int) []ArrayElem {
	if len(m) == 2 {
		return []ArrayElem{{S: src[m[0]:m[1]]}}
	}
	elems := make([]ArrayElem, 0, len(m)/2-1)
	for k := 1; k < len(m)/2; k++ {
		if m[2*k] < 0 {
			elems = append(elems, ArrayElem{Null: true})
			continue
		}
		elems = append(elems, ArrayElem{S: src[m[2*k]:m[2*k+1]]})
	}
	return elems
}

func regexpCountKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(Int32, n)
	out.nulls = unionNulls(n, args...)
	err := reRows("regexp_count", out, args, n, 3, func(i int, re *regexp.Regexp, fl reFlags) error {
		src := args[0].str(i)
		if len(args) > 2 {
			start := args[2].i[i]
			if start <= 0 {
				return Errorf(sqlstate.InvalidParameterValue, "invalid value for parameter \"start\": %d", start)
			}
			src = substr(src, start, 1<<62)
		}
		if fl.global {
			return Errorf(sqlstate.InvalidParameterValue, "regexp_count() does not support the \"global\" option")
		}
		out.i[i] = int64(len(re.FindAllStringIndex(src, -1)))
		return nil
	})
	return out, err
}

func regexpSubstrKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(Text, n)
	out.nulls = unionNulls(n, args...)
	if out.nulls == nil {
		out.nulls = make([]bool, n)
	}
	err := reRows("regexp_substr", out, args, n, 4, func(i int, re *regexp.Regexp, fl reFlags) error {
		m := re.FindStringIndex(args[0].str(i))
		if m == nil {
			out.nulls[i] = true
			return nil
		}
		out.s[i] = args[0].str(i)[m[0]:m[1]]
		return nil
	})
	return out, err
}

func regexpSplitKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(TextArray, n)
	out.nulls = unionNulls(n, args...)
	err := reRows("regexp_split_to_array", out, args, n, 2, func(i int, re *regexp.Regexp, fl reFlags) error {
		if fl.global {
			return Errorf(sqlstate.InvalidParameterValue, "regexp_split_to_array() does not support the \"global\" option")
		}
		parts := re.Split(args[0].str(i), -1)
		elems := make([]ArrayElem, len(parts))
		for k, p := range parts {
			elems[k] = ArrayElem{S: p}
		}
		out.s[i] = FormatTextArray(elems)
		return nil
	})
	return out, err
}

func init() {
	register(
		&Func{Name: "regexp_replace", Args: sig(Text, Text, Text), Ret: Text, Strict: true, kernel: regexpReplaceKernel},
		&Func{Name: "regexp_replace", Args: sig(Text, Text, Text, Text), Ret: Text, Strict: true, kernel: regexpReplaceKernel},
		&Func{Name: "regexp_match", Args: sig(Text, Text), Ret: TextArray, Strict: true, kernel: regexpMatchKernel},
		&Func{Name: "regexp_match", Args: sig(Text, Text, Text), Ret: TextArray, Strict: true, kernel: regexpMatchKernel},
		&Func{Name: "regexp_count", Args: sig(Text, Text), Ret: Int32, Strict: true, kernel: regexpCountKernel},
		&Func{Name: "regexp_count", Args: sig(Text, Text, Int32), Ret: Int32, Strict: true, kernel: regexpCountKernel},
		&Func{Name: "regexp_count", Args: sig(Text, Text, Int32, Text), Ret: Int32, Strict: true, kernel: regexpCountKernel},
		&Func{Name: "regexp_substr", Args: sig(Text, Text), Ret: Text, Strict: true, kernel: regexpSubstrKernel},
		&Func{Name: "regexp_split_to_array", Args: sig(Text, Text), Ret: TextArray, Strict: true, kernel: regexpSplitKernel},
		&Func{Name: "regexp_split_to_array", Args: sig(Text, Text, Text), Ret: TextArray, Strict: true, kernel: regexpSplitKernel},
	)
}
