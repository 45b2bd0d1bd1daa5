package engine

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/stratadb/strata/internal/sqlstate"
)

// PostgreSQL's regular-expression match operators: x ~ p, x !~ p, and the
// case-insensitive ~* and !~*, plus regexp_like(x, p [, flags]). Patterns are Go's
// RE2 syntax, which agrees with PostgreSQL's advanced regular expressions for the
// patterns clients send (anchors, classes, alternation, repetition; psql's
// '^(name)$', Grafana's '^pg_'); PostgreSQL's own spellings are translated and
// back-references and lookaround, which RE2 lacks, are an error (2201B;
// regex_dialect.go). A constant pattern is compiled once per batch, a per-row one per row.

func compileRegex(p string, ci bool) (*regexp.Regexp, error) {
	p, err := translateRegex(p) // regex_dialect.go
	if err != nil {
		return nil, err
	}
	if ci {
		p = "(?i)" + p
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, Errorf(sqlstate.InvalidRegularExpression, "invalid regular expression: %v", err)
	}
	return re, nil
}

func regexMatch(name string, args []*vec, n int) (*vec, error) {
	ci := strings.HasSuffix(name, "*")
	neg := strings.HasPrefix(name, "!")
	if name == "regexp_like" && len(args) == 3 {
		f, ok := constText(args[2])
		if !ok || strings.Trim(f, "ic") != "" {
			return nil, Unsupported("regexp_like flags other than a constant 'i' or 'c'")
		}
		ci = strings.LastIndexByte(f, 'i') > strings.LastIndexByte(f, 'c')
	}
	x, p := args[0], args[1]
	out := newVec(Bool, n)
	out.nulls = unionNulls(n, x, p)
	var re *regexp.Regexp
	if pat, ok := constText(p); ok {
		var err error
		if re, err = compileRegex(pat, ci); err != nil {
			return nil, err
		}
	}
	var cache map[string]*regexp.Regexp
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		r := re
		if r == nil {
			pat := p.str(i)
			if r = cache[pat]; r == nil {
				var err error
				if r, err = compileRegex(pat, ci); err != nil {
					return nil, err
				}
				if cache == nil {
					cache = map[string]*regexp.Regexp{}
				}
				cache[pat] = r
			}
		}
		out.b[i] = r.MatchString(x.str(i)) != neg
	}
	return out, nil
}

// typeNamesByOID is format_type's answer for the types strata has.
var typeNamesByOID = func() map[int64]string {
	m := map[int64]string{}
	for _, info := range typeInfo {
		m[int64(info.oid)] = info.name
	}
	for k, info := range regInfo {
		if k != 0 {
			m[int64(info.oid)] = info.name
		}
	}
	m[1043] = "character varying"
	m[19] = "name"
	return m
}()

// SizePretty is PostgreSQL's pg_size_pretty(bigint): bytes below 10 kB, then the
// largest unit (kB .. PB) that keeps the number below 20 * 1024 - 1, half-rounded.
func SizePretty(size int64) string {
	units := []struct {
		name  string
		limit int64
		round bool
		bits  uint
	}{{"bytes", 10 * 1024, false, 0}, {"kB", 20*1024 - 1, true, 10}, {"MB", 20*1024 - 1, true, 20},
		{"GB", 20*1024 - 1, true, 30}, {"TB", 20*1024 - 1, true, 40}, {"PB", 20*1024 - 1, true, 50}}
	abs := func(x int64) int64 {
		if x < 0 {
			return -x
		}
		return x
	}
	b2i := func(b bool) uint {
		if b {
			return 1
		}
		return 0
	}
	for k, u := range units {
		if k == len(units)-1 || abs(size) < u.limit {
			if u.round {
				if size < 0 {
					size = (size - 1) / 2
				} else {
					size = (size + 1) / 2
				}
			}
			return strconv.FormatInt(size, 10) + " " + u.name
		}
		next := units[k+1]
		size /= int64(1) << (next.bits - u.bits - b2i(next.round) + b2i(u.round))
	}
	panic("unreachable")
}
