package engine

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stratadb/strata/internal/sqlstate"
)

// Series is generate_series(Start, Stop[, Step]) in FROM: one integer column
// counting from Start to Stop (inclusive) by Step (default 1), as in PostgreSQL;
// or, when Out's column is a timestamp or timestamptz, the times from Start to
// Stop by the interval Step (series_time.go). The bounds are evaluated once per
// execution and may not refer to columns.
type Series struct {
	Start, Stop, Step Expr // Step nil: 1
	Out               []Field
}

func (p *Series) Fields() []Field  { return p.Out }
func (p *Series) Children() []Plan { return nil }

// maxSeriesRows bounds one generate_series: its rows are produced in memory.
const maxSeriesRows = 100_000_000

type seriesOp struct {
	t                Type
	next, stop, step int64
	done             bool
}

func newSeriesOp(q *query, p *Series) (batchOperator, error) {
	if p.Out[0].Type.IsTime() {
		return newTimeSeriesOp(q, p)
	}
	ev := q.newEvaluator()
	one := &batch{n: 1}
	bound := func(e Expr) (int64, bool, error) {
		v, err := ev.eval(e, one)
		if err != nil {
			return 0, false, err
		}
		if v, err = castVec(v, Int64); err != nil {
			return 0, false, err
		}
		if v.isNull(0) {
			return 0, true, nil
		}
		return v.i[0], false, nil
	}
	o := &seriesOp{t: p.Out[0].Type, step: 1}
	var null [3]bool
	var err error
	if o.next, null[0], err = bound(p.Start); err != nil {
		return nil, err
	}
	if o.stop, null[1], err = bound(p.Stop); err != nil {
		return nil, err
	}
	if p.Step != nil {
		if o.step, null[2], err = bound(p.Step); err != nil {
			return nil, err
		}
	}
	switch {
	case null[0] || null[1] || null[2]:
		o.done = true // PostgreSQL: a NULL bound gives no rows
	case o.step == 0:
		return nil, Errorf(sqlstate.InvalidParameterValue, "step size cannot equal zero")
	default:
		if n := (o.stop-o.next)/o.step + 1; n > maxSeriesRows {
			return nil, Errorf(sqlstate.ProgramLimitExceeded, "generate_series would return %d rows (at most %d)", n, maxSeriesRows)
		}
	}
	return o, nil
}

func (o *seriesOp) nextBatch(ctx context.Context) (*batch, error) {
	if o.done || (o.step > 0 && o.next > o.stop) || (o.step < 0 && o.next < o.stop) {
		return nil, nil
	}
	out := newVec(o.t, 0)
	for len(out.i) < BatchSize && !((o.step > 0 && o.next > o.stop) || (o.step < 0 && o.next < o.stop)) {
		out.i = append(out.i, o.next)
		if (o.step > 0 && o.next > o.stop-o.step) || (o.step < 0 && o.next < o.stop-o.step) {
			o.done = true // the next value would pass stop (or overflow)
			break
		}
		o.next += o.step
	}
	out.n = len(out.i)
	return &batch{n: out.n, cols: []*vec{out}}, nil
}

func (o *seriesOp) close() {}

// The text arrays of string_to_array and parse_ident. strata has no array type:
// the binder turns subscripts and array_length/array_lower/array_upper of these
// arrays into the functions below, which compute the element or the length from
// the function's arguments. Their results are PostgreSQL's.

// splitArray is string_to_array(s, delim): no elements for an empty s, the whole
// s for an empty delimiter.
func splitArray(s, delim string) []string {
	switch {
	case s == "":
		return nil
	case delim == "":
		return []string{s}
	}
	return strings.Split(s, delim)
}

// ParseIdent is PostgreSQL's parse_ident(s): the dot-separated parts of a
// qualified identifier, quoted parts as written (with "" unescaped), unquoted ones
// lower-cased; whitespace around parts is allowed.
func ParseIdent(s string) ([]string, error) {
	bad := func(detail string) error {
		return Errorf(sqlstate.InvalidParameterValue, "string is not a valid identifier: %q%s", s, detail)
	}
	var parts []string
	i := 0
	skipSpace := func() {
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsSpace(r) {
				return
			}
			i += n
		}
	}
	for {
		skipSpace()
		switch {
		case i < len(s) && s[i] == '"':
			var b strings.Builder
			i++
			for {
				j := strings.IndexByte(s[i:], '"')
				if j < 0 {
					return nil, bad(" (unclosed double quotes)")
				}
				b.WriteString(s[i : i+j])
				i += j + 1
				if i < len(s) && s[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			if b.Len() == 0 {
				return nil, bad(" (quoted identifier must not be empty)")
			}
			parts = append(parts, b.String())
		default:
			start := i
			for i < len(s) {
				r, n := utf8.DecodeRuneInString(s[i:])
				if !(r == '_' || r == '$' || unicode.IsLetter(r) || (i > start && unicode.IsDigit(r))) {
					break
				}
				i += n
			}
			if i == start {
				if len(parts) == 0 && i == len(s) {
					return nil, bad("")
				}
				return nil, bad(" (no valid identifier before \".\")")
			}
			parts = append(parts, strings.ToLower(s[start:i]))
		}
		skipSpace()
		if i == len(s) {
			return parts, nil
		}
		if s[i] != '.' {
			return nil, bad("")
		}
		i++
	}
}

// Array functions over the arrays of string_to_array(s, delim) (prefix
// string_to_array_, arguments s, delim) and parse_ident(s) (prefix parse_ident_,
// argument s), with a final integer argument for _element:
//
//	_element(…, i)  the i-th element (1-based); NULL out of range (a subscript)
//	_length(…)      array_length(a, 1) and array_upper(a, 1): NULL when empty
//	_lower(…)       array_lower(a, 1): 1, NULL when empty
//	_cardinality(…) cardinality(a): 0 when empty
var arrayFuncs = map[string]bool{}

func init() {
	for _, p := range []string{"string_to_array_", "parse_ident_"} {
		for _, op := range []string{"element", "length", "lower", "cardinality"} {
			arrayFuncs[p+op] = true
		}
	}
}

// IsArrayFunc reports whether name is one of the array functions above.
func IsArrayFunc(name string) bool { return arrayFuncs[name] }

// arrayFunc computes the array functions; ok is false for other names.
func arrayFunc(name string, n int, args []*vec) (*vec, bool, error) {
	if !arrayFuncs[name] {
		return nil, false, nil
	}
	var elems func(i int) ([]string, error)
	var op string
	if rest, ok := strings.CutPrefix(name, "string_to_array_"); ok {
		op = rest
		elems = func(i int) ([]string, error) { return splitArray(args[0].str(i), args[1].str(i)), nil }
	} else {
		op = strings.TrimPrefix(name, "parse_ident_")
		elems = func(i int) ([]string, error) { return ParseIdent(args[0].str(i)) }
	}
	nulls := unionNulls(n, args...)
	var out *vec
	if op == "element" {
		out = newVec(Text, n)
	} else {
		out = newVec(Int32, n)
	}
	out.nulls = make([]bool, n)
	for i := 0; i < n; i++ {
		if nulls != nil && nulls[i] {
			out.nulls[i] = true
			continue
		}
		a, err := elems(i)
		if err != nil {
			return nil, true, err
		}
		switch op {
		case "element":
			k := args[len(args)-1].i[i]
			if k < 1 || k > int64(len(a)) {
				out.nulls[i] = true
				continue
			}
			out.s[i] = a[k-1]
		case "length":
			out.i[i], out.nulls[i] = int64(len(a)), len(a) == 0
		case "lower":
			out.i[i], out.nulls[i] = 1, len(a) == 0
		case "cardinality":
			out.i[i] = int64(len(a))
		}
	}
	return out, true, nil
}

func (p *Series) explainLine() string {
	step := "1"
	if p.Step != nil {
		step = p.Step.String()
	}
	return fmt.Sprintf("FunctionScan generate_series(%s, %s, %s)", p.Start, p.Stop, step)
}
