package engine

import (
	"crypto/md5"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

func (ev *evaluator) evalCall(c *Call, b *batch) (*vec, error) {
	n := b.n
	if hostFuncs[c.Func] {
		return ev.evalHost(c, b)
	}
	switch c.Func {
	case "=", "<>", "!=", "<", "<=", ">", ">=":
		if len(c.Args) != 2 {
			break
		}
		// Column vs constant: compare without materializing the constant.
		if k, ok := c.Args[1].(*Const); ok {
			x, err := ev.eval(c.Args[0], b)
			if err != nil {
				return nil, err
			}
			if out, ok := fastCompareConst(c.Func, x, k.V); ok {
				return out, nil
			}
			return compareVec(c.Func, x, constVec(k.V, n))
		}
		if k, ok := c.Args[0].(*Const); ok {
			y, err := ev.eval(c.Args[1], b)
			if err != nil {
				return nil, err
			}
			if out, ok := fastCompareConst(flipOp(c.Func), y, k.V); ok {
				return out, nil
			}
			return compareVec(c.Func, constVec(k.V, n), y)
		}
	case "now", "current_timestamp", "transaction_timestamp", "statement_timestamp", "clock_timestamp":
		return constVec(Value{Type: TimestampTZ, I: ev.now.UnixMicro()}, n), nil
	case "localtimestamp":
		return constVec(Value{Type: Timestamp, I: ev.now.UnixMicro()}, n), nil
	case "current_date":
		return constVec(Value{Type: Date, I: floorDiv(ev.now.UnixMicro(), usPerDay)}, n), nil
	case "pi":
		return constVec(Value{Type: Float64, F: math.Pi}, n), nil
	case "random":
		out := newVec(Float64, n)
		for i := range out.f {
			out.f[i] = rand.Float64()
		}
		return out, nil
	}
	switch c.Func {
	case "+", "-", "*", "/":
		if out, ok, err := ev.arithConst(c, b); ok || err != nil {
			return out, err
		}
	case "extract", "date_part":
		if out, ok, err := ev.extractConst(c, b); ok || err != nil {
			return out, err
		}
	}
	args, err := ev.evalArgs(c.Args, b)
	if err != nil {
		return nil, err
	}
	return callFunc(c.Func, args, c.T, n)
}

func callFunc(name string, args []*vec, rt Type, n int) (*vec, error) {
	argc := len(args)
	bad := func() (*vec, error) {
		ts := make([]Type, argc)
		for i, a := range args {
			ts[i] = a.t
		}
		return nil, undefinedFunc(name, ts)
	}
	if out, ok, err := arrayFunc(name, n, args); ok {
		return out, err
	}
	switch name {
	case "+", "-", "*", "/", "%", "mod":
		if argc == 1 && name == "-" {
			return negVec(args[0])
		}
		if argc != 2 {
			return bad()
		}
		return arith(name, args[0], args[1], rt)
	case "neg":
		return negVec(args[0])
	case "=", "<>", "!=", "<", "<=", ">", ">=":
		if argc != 2 {
			return bad()
		}
		return compareVec(name, args[0], args[1])
	case "not":
		x := args[0]
		out := newVec(Bool, n)
		out.nulls = x.nulls
		for i, v := range x.b {
			out.b[i] = !v
		}
		return out, nil
	case "~", "!~", "~*", "!~*", "regexp_like":
		return regexMatch(name, args, n)
	case "pg_get_userbyid", "pg_encoding_to_char", "pg_table_is_visible", "format_type", "pg_size_pretty",
		"obj_description", "col_description", "shobj_description":
		return catalogFunc(name, args, n), nil
	case "array_to_string":
		return arrayToStringVec(args, n)
	case "pg_get_expr":
		return args[0], nil
	case "||":
		out := newVec(Text, n)
		out.nulls = unionNulls(n, args...)
		ta, err := castVec(args[0], Text)
		if err != nil {
			return nil, err
		}
		tb, err := castVec(args[1], Text)
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			if !out.isNull(i) {
				out.s[i] = ta.str(i) + tb.str(i)
			}
		}
		return out, nil
	case "coalesce", "greatest", "least":
		cast := make([]*vec, argc)
		for k, a := range args {
			v, err := castVec(a, rt)
			if err != nil {
				return nil, err
			}
			cast[k] = v
		}
		out := newVec(rt, n)
		for i := 0; i < n; i++ {
			best := -1
			for k, a := range cast {
				if a.isNull(i) {
					continue
				}
				if name == "coalesce" {
					best = k
					break
				}
				if best < 0 {
					best = k
					continue
				}
				c := cmpRow(a, i, cast[best], i)
				if (name == "greatest" && c > 0) || (name == "least" && c < 0) {
					best = k
				}
			}
			if best < 0 {
				out.setNull(i)
			} else {
				out.set(i, cast[best].value(i))
			}
		}
		return out, nil
	case "nullif":
		eq, err := compareVec("=", args[0], args[1])
		if err != nil {
			return nil, err
		}
		out, err := castVec(args[0], rt)
		if err != nil {
			return nil, err
		}
		cp := *out
		cp.nulls = make([]bool, n)
		for i := 0; i < n; i++ {
			cp.nulls[i] = out.isNull(i) || (!eq.isNull(i) && eq.b[i])
		}
		return &cp, nil
	case "abs":
		x := args[0]
		out := newVec(x.t, n)
		out.nulls = x.nulls
		switch kindOf(x.t) {
		case kInt:
			for i, v := range x.i {
				if v < 0 {
					if v == math.MinInt64 || !intFits(-v, x.t) {
						if !x.isNull(i) {
							return nil, intRangeErr(x.t)
						}
					}
					v = -v
				}
				out.i[i] = v
			}
		case kFloat:
			for i, v := range x.f {
				out.f[i] = math.Abs(v)
			}
		default:
			return bad()
		}
		return out, nil
	case "floor", "ceil", "ceiling", "sign", "sqrt", "cbrt", "exp", "ln", "log10", "round", "trunc", "log":
		if argc == 2 {
			return math2(name, args[0], args[1], rt)
		}
		if argc != 1 || !args[0].t.IsNumeric() {
			return bad()
		}
		return math1(name, args[0], rt)
	case "power", "pow", "^":
		return math2("power", args[0], args[1], rt)
	case "lower", "upper", "reverse", "initcap", "md5", "quote_ident":
		var f func(string) string
		switch name {
		case "quote_ident":
			f = QuoteIdent
		case "lower":
			f = strings.ToLower
		case "upper":
			f = strings.ToUpper
		case "reverse":
			f = reverseString
		case "initcap":
			f = initcap
		case "md5":
			f = func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
		}
		return mapText(args[0], f), nil
	case "btrim", "trim", "ltrim", "rtrim":
		set := " "
		if argc == 2 {
			if v, ok := constText(args[1]); ok {
				set = v
			} else {
				return textN(n, args, func(i int) (string, error) {
					return trimBy(name, args[0].str(i), args[1].str(i)), nil
				})
			}
		}
		return mapText(args[0], func(s string) string { return trimBy(name, s, set) }), nil
	case "length", "char_length", "character_length", "octet_length":
		x := args[0]
		out := newVec(rt, n)
		out.nulls = x.nulls
		for i := 0; i < n; i++ {
			if x.isNull(i) {
				continue
			}
			if name == "octet_length" {
				out.i[i] = int64(len(x.str(i)))
			} else {
				out.i[i] = int64(utf8.RuneCountInString(x.str(i)))
			}
		}
		return out, nil
	case "position", "strpos":
		out := newVec(Int32, n)
		out.nulls = unionNulls(n, args...)
		for i := 0; i < n; i++ {
			if out.isNull(i) {
				continue
			}
			s, sub := args[0].str(i), args[1].str(i)
			if k := strings.Index(s, sub); k >= 0 {
				out.i[i] = int64(utf8.RuneCountInString(s[:k])) + 1
			}
		}
		return out, nil
	case "starts_with":
		out := newVec(Bool, n)
		out.nulls = unionNulls(n, args...)
		for i := 0; i < n; i++ {
			if !out.isNull(i) {
				out.b[i] = strings.HasPrefix(args[0].str(i), args[1].str(i))
			}
		}
		return out, nil
	case "substr", "substring":
		return textN(n, args, func(i int) (string, error) {
			s := args[0].str(i)
			start := args[1].i[i]
			count := int64(math.MaxInt64)
			if argc == 3 {
				count = args[2].i[i]
				if count < 0 {
					return "", Errorf("22011", "negative substring length not allowed")
				}
			}
			return substr(s, start, count), nil
		})
	case "left", "right":
		return textN(n, args, func(i int) (string, error) {
			r := []rune(args[0].str(i))
			k := int(args[1].i[i])
			l := len(r)
			if k < 0 {
				k = l + k
				if k < 0 {
					k = 0
				}
			}
			if k > l {
				k = l
			}
			if name == "left" {
				return string(r[:k]), nil
			}
			return string(r[l-k:]), nil
		})
	case "repeat":
		return textN(n, args, func(i int) (string, error) {
			k := args[1].i[i]
			if k <= 0 {
				return "", nil
			}
			if int64(len(args[0].str(i)))*k > 1<<28 {
				return "", Errorf(CodeInvalidParameter, "requested length too large")
			}
			return strings.Repeat(args[0].str(i), int(k)), nil
		})
	case "replace":
		if from, ok := constText(args[1]); ok {
			if to, ok := constText(args[2]); ok {
				if from == "" {
					return mapText(args[0], func(s string) string { return s }), nil
				}
				return mapText(args[0], func(s string) string { return strings.ReplaceAll(s, from, to) }), nil
			}
		}
		return textN(n, args, func(i int) (string, error) {
			if args[1].str(i) == "" {
				return args[0].str(i), nil
			}
			return strings.ReplaceAll(args[0].str(i), args[1].str(i), args[2].str(i)), nil
		})
	case "split_part":
		return textN(n, args, func(i int) (string, error) {
			s, d, k := args[0].str(i), args[1].str(i), args[2].i[i]
			if k == 0 {
				return "", Errorf(CodeInvalidParameter, "field position must not be zero")
			}
			var parts []string
			if d == "" {
				parts = []string{s}
			} else {
				parts = strings.Split(s, d)
			}
			if k < 0 {
				k = int64(len(parts)) + k + 1
				if k <= 0 {
					return "", nil
				}
			}
			if k > int64(len(parts)) {
				return "", nil
			}
			return parts[k-1], nil
		})
	case "concat", "concat_ws":
		texts := make([]*vec, argc)
		for k, a := range args {
			v, err := castVec(a, Text)
			if err != nil {
				return nil, err
			}
			texts[k] = v
		}
		out := newVec(Text, n)
		var sb strings.Builder
		for i := 0; i < n; i++ {
			sb.Reset()
			if name == "concat" {
				for _, t := range texts {
					if !t.isNull(i) {
						sb.WriteString(t.str(i))
					}
				}
			} else {
				if texts[0].isNull(i) {
					out.setNull(i)
					continue
				}
				sep := texts[0].str(i)
				first := true
				for _, t := range texts[1:] {
					if t.isNull(i) {
						continue
					}
					if !first {
						sb.WriteString(sep)
					}
					first = false
					sb.WriteString(t.str(i))
				}
			}
			out.s[i] = sb.String()
		}
		return out, nil
	case "date_trunc":
		return dateTrunc(args[0], args[1], rt)
	case "extract", "date_part":
		return extract(args[0], args[1], rt, name == "extract")
	case "to_char":
		if args[0].t.IsNumeric() {
			return toCharNum(args[0], args[1], n)
		}
		return toCharTime(args[0], args[1], n), nil
	case "to_timestamp":
		x := args[0]
		f := floats(x)
		out := newVec(TimestampTZ, n)
		out.nulls = x.nulls
		for i, v := range f {
			if x.isNull(i) {
				continue
			}
			switch {
			case math.IsNaN(v):
				return nil, Errorf(CodeDatetimeOverflow, "timestamp cannot be NaN")
			case math.IsInf(v, 1):
				out.i[i] = math.MaxInt64
			case math.IsInf(v, -1):
				out.i[i] = math.MinInt64
			default:
				r := math.Round(v * 1e6)
				if math.Abs(r) > 9.2e18 {
					return nil, Errorf(CodeDatetimeOverflow, "timestamp out of range: \"%s\"", strconv.FormatFloat(v, 'g', -1, 64))
				}
				out.i[i] = int64(r)
			}
		}
		return out, nil
	case "time_floor":
		return timeFloor(args[0], args[1])
	case "time_bucket":
		return timeBucket(name, args[0], args[1], nil)
	case "date_bin":
		return timeBucket(name, args[0], args[1], args[2])
	}
	return bad()
}

// cmpRow compares row i of a with row j of b (same type, neither NULL).
func cmpRow(a *vec, i int, b *vec, j int) int {
	switch kindOf(a.t) {
	case kInt:
		return cmpInt(a.i[i], b.i[j])
	case kFloat:
		return cmpFloat(a.f[i], b.f[j])
	case kBool:
		return cmpInt(b2i(a.b[i]), b2i(b.b[j]))
	case kText:
		return strings.Compare(a.str(i), b.str(j))
	case kInterval:
		return cmpFloat(ivalKey(a.iv[i]), ivalKey(b.iv[j]))
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

func math1(name string, x *vec, rt Type) (*vec, error) {
	f := floats(x)
	out := newVec(rt, x.n)
	out.nulls = x.nulls
	if kindOf(rt) == kFloat {
		// The common roundings as plain loops (a NULL row's slot is unspecified).
		switch name {
		case "floor":
			for i, v := range f {
				out.f[i] = math.Floor(v)
			}
			return out, nil
		case "ceil", "ceiling":
			for i, v := range f {
				out.f[i] = math.Ceil(v)
			}
			return out, nil
		case "trunc":
			for i, v := range f {
				out.f[i] = math.Trunc(v)
			}
			return out, nil
		}
	}
	numeric := x.t.ID == TypeNumeric
	for i, v := range f {
		if x.isNull(i) {
			continue
		}
		var r float64
		switch name {
		case "floor":
			r = math.Floor(v)
		case "ceil", "ceiling":
			r = math.Ceil(v)
		case "sign":
			switch {
			case v > 0:
				r = 1
			case v < 0:
				r = -1
			}
		case "round":
			if numeric {
				r = math.Round(v)
			} else {
				r = math.RoundToEven(v)
			}
		case "trunc":
			r = math.Trunc(v)
		case "sqrt":
			if v < 0 {
				return nil, Errorf("2201F", "cannot take square root of a negative number")
			}
			r = math.Sqrt(v)
		case "cbrt":
			r = math.Cbrt(v)
		case "exp":
			r = math.Exp(v)
			if math.IsInf(r, 0) && !math.IsInf(v, 0) {
				return nil, Errorf(CodeNumericOutOfRange, "value out of range: overflow")
			}
		case "ln", "log10", "log":
			if v == 0 {
				return nil, Errorf("2201E", "cannot take logarithm of zero")
			}
			if v < 0 {
				return nil, Errorf("2201E", "cannot take logarithm of a negative number")
			}
			if name == "ln" {
				r = math.Log(v)
			} else {
				r = math.Log10(v)
			}
		}
		out.f[i] = r
	}
	if kindOf(rt) == kInt {
		for i, v := range out.f {
			out.i[i] = int64(v)
		}
	}
	return out, nil
}

func math2(name string, x, y *vec, rt Type) (*vec, error) {
	a, b := floats(x), floats(y)
	out := newVec(rt, x.n)
	out.nulls = unionNulls(x.n, x, y)
	for i := range a {
		if out.isNull(i) {
			continue
		}
		var r float64
		switch name {
		case "round", "trunc":
			d := b[i]
			if d > 300 {
				r = a[i]
				break
			}
			p := math.Pow(10, d)
			if name == "round" {
				r = math.Round(a[i]*p) / p
			} else {
				r = math.Trunc(a[i]*p) / p
			}
			if math.IsNaN(r) || math.IsInf(r, 0) {
				r = a[i]
			}
		case "power":
			if a[i] == 0 && b[i] < 0 {
				return nil, Errorf("2201F", "zero raised to a negative power is undefined")
			}
			if a[i] < 0 && b[i] != math.Trunc(b[i]) {
				return nil, Errorf("2201F", "a negative number raised to a non-integer power yields a complex result")
			}
			r = math.Pow(a[i], b[i])
		case "log":
			if a[i] <= 0 || b[i] <= 0 {
				return nil, Errorf("2201E", "cannot take logarithm of a negative number")
			}
			if a[i] == 1 {
				return nil, errDivZero
			}
			r = math.Log(b[i]) / math.Log(a[i])
		default:
			return nil, undefinedFunc(name, []Type{x.t, y.t})
		}
		out.f[i] = r
	}
	return out, nil
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

// evalHost calls an Options.Funcs function row by row.
func (ev *evaluator) evalHost(c *Call, b *batch) (*vec, error) {
	f := ev.funcs[c.Func]
	if f == nil {
		return nil, Errorf(CodeFeatureNotSupported, "function %s is not available here", c.Func)
	}
	args := make([]*vec, len(c.Args))
	for i, a := range c.Args {
		v, err := ev.eval(a, b)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	out := newVec(c.T, b.n)
	row := make([]Value, len(args))
	for r := 0; r < b.n; r++ {
		for i, v := range args {
			row[i] = v.value(r)
		}
		x, err := f(row)
		if err != nil {
			return nil, err
		}
		out.set(r, x)
	}
	return out, nil
}
