package engine

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"
)

func ki(v int64) Expr   { return &Const{V: Value{Type: Int32, I: v}} }
func k8(v int64) Expr   { return &Const{V: Value{Type: Int64, I: v}} }
func k2(v int64) Expr   { return &Const{V: Value{Type: Int16, I: v}} }
func kf(v float64) Expr { return &Const{V: Value{Type: Float64, F: v}} }
func kn(v float64) Expr { return &Const{V: Value{Type: Numeric, F: v}} }
func ks(s string) Expr  { return &Const{V: Value{Type: Text, S: s}} }
func kb(b bool) Expr    { return &Const{V: Value{Type: Bool, B: b}} }
func knull(t Type) Expr { return &Const{V: NullValue(t)} }

func kt(t Type, s string) Expr {
	v, err := ParseValue(s, t)
	if err != nil {
		panic(err)
	}
	return &Const{V: v}
}

// fn builds a Call typed by ResolveFunc; it panics when the overload does not exist.
func fn(name string, args ...Expr) Expr {
	ts := make([]Type, len(args))
	for i, a := range args {
		ts[i] = a.Type()
	}
	rt, err := ResolveFunc(name, ts)
	if err != nil {
		panic(err)
	}
	return &Call{Func: name, Args: args, T: rt}
}

var testNow = time.Date(2023, 10, 1, 12, 30, 0, 0, time.UTC)

type exprCase struct {
	name string
	e    Expr
	want string // text output, "NULL", or "ERR:<sqlstate>"
}

func checkExprs(t *testing.T, cases []exprCase) {
	t.Helper()
	for _, c := range cases {
		v, err := EvalConst(c.e, testNow)
		var got string
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%s: %s: non-SQL error %v", c.name, c.e, err)
				continue
			}
			got = "ERR:" + e.Code
		} else {
			got = textOf(v)
		}
		if got != c.want {
			t.Errorf("%s: %s = %q, want %q (err %v)", c.name, c.e, got, c.want, err)
		}
	}
}

func TestArithmetic(t *testing.T) {
	checkExprs(t, []exprCase{
		{"int add", fn("+", ki(2), ki(3)), "5"},
		{"int sub", fn("-", ki(2), ki(3)), "-1"},
		{"int mul", fn("*", ki(-4), ki(3)), "-12"},
		{"int div truncates", fn("/", ki(7), ki(2)), "3"},
		{"int div neg truncates toward zero", fn("/", ki(-7), ki(2)), "-3"},
		{"int mod", fn("%", ki(-7), ki(3)), "-1"},
		{"int div zero", fn("/", ki(1), ki(0)), "ERR:22012"},
		{"int mod zero", fn("%", ki(1), ki(0)), "ERR:22012"},
		{"float div zero", fn("/", kf(1), kf(0)), "ERR:22012"},
		{"int4 overflow", fn("+", ki(2147483647), ki(1)), "ERR:22003"},
		{"int4 mul overflow", fn("*", ki(65536), ki(65536)), "ERR:22003"},
		{"int8 overflow", fn("+", k8(9223372036854775807), k8(1)), "ERR:22003"},
		{"int8 mul overflow", fn("*", k8(4611686018427387904), k8(2)), "ERR:22003"},
		{"int2 overflow", fn("+", k2(32767), k2(1)), "ERR:22003"},
		{"int4+int8", fn("+", ki(2147483647), k8(1)), "2147483648"},
		{"int+float", fn("+", ki(1), kf(0.5)), "1.5"},
		{"int/numeric", fn("/", ki(1), kn(4)), "0.25"},
		{"float mul", fn("*", kf(1.5), kf(2)), "3"},
		{"neg", fn("neg", ki(5)), "-5"},
		{"neg float", fn("neg", kf(2.5)), "-2.5"},
		{"neg int4 min", fn("neg", ki(-2147483648)), "ERR:22003"},
		{"null add", fn("+", knull(Int32), ki(1)), "NULL"},
		{"null div zero is null", fn("/", knull(Int32), ki(0)), "NULL"},
		{"mod func", fn("mod", ki(10), ki(3)), "1"},
		{"float overflow", fn("*", kf(1e308), kf(10)), "ERR:22003"},
	})
}

func TestComparisons(t *testing.T) {
	checkExprs(t, []exprCase{
		{"int lt", fn("<", ki(1), ki(2)), "t"},
		{"int ge", fn(">=", ki(1), ki(2)), "f"},
		{"int float eq", fn("=", ki(1), kf(1.0)), "t"},
		{"text lt", fn("<", ks("abc"), ks("abd")), "t"},
		{"text ne", fn("<>", ks("a"), ks("a")), "f"},
		{"null eq", fn("=", knull(Int32), ki(1)), "NULL"},
		{"ts vs tstz", fn("=", kt(Timestamp, "2023-10-01 00:00:00"), kt(TimestampTZ, "2023-10-01 00:00:00+00")), "t"},
		{"date vs ts", fn("<", kt(Date, "2023-10-01"), kt(Timestamp, "2023-10-01 00:00:01")), "t"},
		{"bool", fn("<", kb(false), kb(true)), "t"},
		{"nan eq nan", fn("=", kf(nan()), kf(nan())), "t"},
		{"nan gt inf", fn(">", kf(nan()), kf(inf())), "t"},
		{"interval", fn(">", kt(Interval, "1 day"), kt(Interval, "23 hours")), "t"},
		{"not", fn("not", kb(true)), "f"},
		{"not null", fn("not", knull(Bool)), "NULL"},
	})
}

func TestBoolLogicAndPredicates(t *testing.T) {
	T, F, N := kb(true), kb(false), knull(Bool)
	and := func(a ...Expr) Expr { return &BoolOp{Op: And, Args: a} }
	or := func(a ...Expr) Expr { return &BoolOp{Op: Or, Args: a} }
	checkExprs(t, []exprCase{
		{"and tt", and(T, T), "t"}, {"and tf", and(T, F), "f"}, {"and tn", and(T, N), "NULL"},
		{"and fn", and(F, N), "f"}, {"or fn", or(F, N), "NULL"}, {"or tn", or(N, T), "t"},
		{"or ff", or(F, F), "f"},
		{"in hit", &InList{X: ki(2), List: []Expr{ki(1), ki(2)}}, "t"},
		{"in miss", &InList{X: ki(3), List: []Expr{ki(1), ki(2)}}, "f"},
		{"in miss null", &InList{X: ki(3), List: []Expr{ki(1), knull(Int32)}}, "NULL"},
		{"in hit null", &InList{X: ki(1), List: []Expr{ki(1), knull(Int32)}}, "t"},
		{"not in null", &InList{X: ki(3), List: []Expr{ki(1), knull(Int32)}, Negated: true}, "NULL"},
		{"not in", &InList{X: ki(3), List: []Expr{ki(1), ki(2)}, Negated: true}, "t"},
		{"in null x", &InList{X: knull(Int32), List: []Expr{ki(1)}}, "NULL"},
		{"is null", &IsNull{X: knull(Int32)}, "t"},
		{"is not null", &IsNull{X: ki(1), Negated: true}, "t"},
		{"like", &Like{X: ks("hello"), Pattern: ks("h%o")}, "t"},
		{"like underscore", &Like{X: ks("hello"), Pattern: ks("h_llo")}, "t"},
		{"like no", &Like{X: ks("hello"), Pattern: ks("h_lo")}, "f"},
		{"like escape", &Like{X: ks("a%b"), Pattern: ks(`a\%b`)}, "t"},
		{"like escape no", &Like{X: ks("axb"), Pattern: ks(`a\%b`)}, "f"},
		{"ilike", &Like{X: ks("HeLLo"), Pattern: ks("hel%"), CaseInsensitive: true}, "t"},
		{"not like", &Like{X: ks("hello"), Pattern: ks("x%"), Negated: true}, "t"},
		{"like null", &Like{X: knull(Text), Pattern: ks("x%")}, "NULL"},
		{"like unicode _", &Like{X: ks("ünï"), Pattern: ks("_n_")}, "t"},
		{"like middle", &Like{X: ks("abcabd"), Pattern: ks("%ab_")}, "t"},
		{"case", &Case{Whens: []When{{Cond: fn("=", ki(1), ki(2)), Then: ki(10)}, {Cond: T, Then: ki(20)}}, T: Int32}, "20"},
		{"case else null", &Case{Whens: []When{{Cond: F, Then: ki(10)}}, T: Int32}, "NULL"},
		{"case lazy", &Case{Whens: []When{{Cond: fn("=", ki(0), ki(0)), Then: ki(0)}}, Else: fn("/", ki(1), ki(0)), T: Int32}, "0"},
	})
}

func TestMathAndConditionalFunctions(t *testing.T) {
	checkExprs(t, []exprCase{
		{"abs", fn("abs", ki(-3)), "3"},
		{"abs float", fn("abs", kf(-2.5)), "2.5"},
		{"floor", fn("floor", kf(-2.5)), "-3"},
		{"ceil", fn("ceil", kf(2.1)), "3"},
		{"round float half even", fn("round", kf(2.5)), "2"},
		{"round numeric half away", fn("round", kn(2.5)), "3"},
		{"round n", fn("round", kn(3.14159), ki(2)), "3.14"},
		{"round neg n", fn("round", kn(1234), ki(-2)), "1200"},
		{"trunc", fn("trunc", kf(-2.7)), "-2"},
		{"sqrt", fn("sqrt", kf(16)), "4"},
		{"sqrt neg", fn("sqrt", kf(-1)), "ERR:2201F"},
		{"power", fn("power", ki(2), ki(10)), "1024"},
		{"ln", fn("ln", kf(1)), "0"},
		{"ln zero", fn("ln", kf(0)), "ERR:2201E"},
		{"exp", fn("exp", kf(0)), "1"},
		{"coalesce", fn("coalesce", knull(Int32), ki(2), ki(3)), "2"},
		{"coalesce all null", fn("coalesce", knull(Int32), knull(Int32)), "NULL"},
		{"nullif eq", fn("nullif", ki(1), ki(1)), "NULL"},
		{"nullif ne", fn("nullif", ki(1), ki(2)), "1"},
		{"greatest", fn("greatest", ki(1), knull(Int32), ki(5), ki(3)), "5"},
		{"least", fn("least", kf(1.5), ki(-1)), "-1"},
		{"greatest text", fn("greatest", ks("a"), ks("b")), "b"},
	})
}

func TestStringFunctions(t *testing.T) {
	checkExprs(t, []exprCase{
		{"lower", fn("lower", ks("HeLLo")), "hello"},
		{"upper", fn("upper", ks("straße")), "STRAßE"},
		{"length", fn("length", ks("ünï")), "3"},
		{"concat op", fn("||", ks("a"), ks("b")), "ab"},
		{"concat op int", fn("||", ks("a"), ki(1)), "a1"},
		{"concat op null", fn("||", ks("a"), knull(Text)), "NULL"},
		{"concat", fn("concat", ks("a"), knull(Text), ki(2)), "a2"},
		{"concat_ws", fn("concat_ws", ks(","), ks("a"), knull(Text), ks("b")), "a,b"},
		{"substr", fn("substr", ks("hello"), ki(2), ki(3)), "ell"},
		{"substr from 0", fn("substr", ks("hello"), ki(0), ki(3)), "he"},
		{"substr no len", fn("substring", ks("hello"), ki(3)), "llo"},
		{"substr neg len", fn("substr", ks("hello"), ki(1), ki(-1)), "ERR:22011"},
		{"replace", fn("replace", ks("aXbX"), ks("X"), ks("yy")), "ayybyy"},
		{"trim", fn("btrim", ks("  x  ")), "x"},
		{"ltrim chars", fn("ltrim", ks("xxyx"), ks("x")), "yx"},
		{"split_part", fn("split_part", ks("a,b,c"), ks(","), ki(2)), "b"},
		{"split_part neg", fn("split_part", ks("a,b,c"), ks(","), ki(-1)), "c"},
		{"split_part out", fn("split_part", ks("a,b,c"), ks(","), ki(5)), ""},
		{"split_part zero", fn("split_part", ks("a"), ks(","), ki(0)), "ERR:22023"},
		{"position", fn("position", ks("hello"), ks("ll")), "3"},
		{"strpos miss", fn("strpos", ks("hello"), ks("z")), "0"},
		{"left", fn("left", ks("hello"), ki(2)), "he"},
		{"left neg", fn("left", ks("hello"), ki(-2)), "hel"},
		{"right", fn("right", ks("hello"), ki(2)), "lo"},
		{"repeat", fn("repeat", ks("ab"), ki(3)), "ababab"},
		{"reverse", fn("reverse", ks("abc")), "cba"},
		{"initcap", fn("initcap", ks("hello wORLD")), "Hello World"},
		{"md5", fn("md5", ks("abc")), "900150983cd24fb0d6963f7d28e17f72"},
	})
}

func TestDateTimeFunctions(t *testing.T) {
	ts := kt(Timestamp, "2023-10-18 13:45:30.123456")
	tz := kt(TimestampTZ, "2023-10-18 13:45:30.5+00")
	checkExprs(t, []exprCase{
		{"trunc second", fn("date_trunc", ks("second"), ts), "2023-10-18 13:45:30"},
		{"trunc ms", fn("date_trunc", ks("milliseconds"), ts), "2023-10-18 13:45:30.123"},
		{"trunc minute", fn("date_trunc", ks("minute"), ts), "2023-10-18 13:45:00"},
		{"trunc hour", fn("date_trunc", ks("hour"), tz), "2023-10-18 13:00:00+00"},
		{"trunc day", fn("date_trunc", ks("day"), ts), "2023-10-18 00:00:00"},
		{"trunc week", fn("date_trunc", ks("week"), ts), "2023-10-16 00:00:00"},
		{"trunc month", fn("date_trunc", ks("month"), ts), "2023-10-01 00:00:00"},
		{"trunc quarter", fn("date_trunc", ks("quarter"), ts), "2023-10-01 00:00:00"},
		{"trunc year", fn("date_trunc", ks("YEAR"), ts), "2023-01-01 00:00:00"},
		{"trunc decade", fn("date_trunc", ks("decade"), ts), "2020-01-01 00:00:00"},
		{"trunc century", fn("date_trunc", ks("century"), ts), "2001-01-01 00:00:00"},
		{"trunc millennium", fn("date_trunc", ks("millennium"), ts), "2001-01-01 00:00:00"},
		{"trunc bad unit", fn("date_trunc", ks("fortnight"), ts), "ERR:22023"},
		{"trunc pre-epoch day", fn("date_trunc", ks("day"), kt(Timestamp, "1969-12-31 23:00:00")), "1969-12-31 00:00:00"},
		{"trunc date", fn("date_trunc", ks("month"), kt(Date, "2023-10-18")), "2023-10-01 00:00:00+00"},
		{"extract year", fn("extract", ks("year"), ts), "2023"},
		{"extract month", fn("extract", ks("month"), ts), "10"},
		{"extract day", fn("extract", ks("day"), ts), "18"},
		{"extract hour", fn("extract", ks("hour"), ts), "13"},
		{"extract second", fn("extract", ks("second"), ts), "30.123456"},
		{"extract dow", fn("extract", ks("dow"), ts), "3"},
		{"extract isodow sunday", fn("extract", ks("isodow"), kt(Date, "2023-10-22")), "7"},
		{"extract doy", fn("extract", ks("doy"), ts), "291"},
		{"extract week", fn("extract", ks("week"), kt(Date, "2023-01-01")), "52"},
		{"extract quarter", fn("extract", ks("quarter"), ts), "4"},
		{"extract epoch tz", fn("extract", ks("epoch"), tz), "1697636730.5"},
		{"extract epoch interval", fn("extract", ks("epoch"), kt(Interval, "1 day 1 hour")), "90000"},
		{"extract interval hour", fn("extract", ks("hour"), kt(Interval, "26 hours")), "26"},
		{"date_part float", fn("date_part", ks("minute"), ts), "45"},
		{"to_timestamp", fn("to_timestamp", kf(1697636730.5)), "2023-10-18 13:45:30.5+00"},
		{"now", fn("now"), "2023-10-01 12:30:00+00"},
		{"now minus interval", fn("-", fn("now"), kt(Interval, "5 minutes")), "2023-10-01 12:25:00+00"},
		{"ts plus month clamps", fn("+", kt(Timestamp, "2023-01-31 10:00:00"), kt(Interval, "1 month")), "2023-02-28 10:00:00"},
		{"ts plus day hour", fn("+", kt(Timestamp, "2023-12-31 23:00:00"), kt(Interval, "1 day 2 hours")), "2024-01-02 01:00:00"},
		{"ts minus ts", fn("-", kt(Timestamp, "2023-10-02 03:00:00"), kt(Timestamp, "2023-10-01 00:00:00")), "1 day 03:00:00"},
		{"ts minus ts neg", fn("-", kt(Timestamp, "2023-10-01 00:00:00"), kt(Timestamp, "2023-10-01 01:30:00")), "-01:30:00"},
		{"interval times", fn("*", kt(Interval, "1 hour"), ki(3)), "03:00:00"},
		{"interval times frac", fn("*", kt(Interval, "1 day"), kf(1.5)), "1 day 12:00:00"},
		{"interval div", fn("/", kt(Interval, "1 hour"), ki(4)), "00:15:00"},
		{"date plus int", fn("+", kt(Date, "2023-12-30"), ki(3)), "2024-01-02"},
		{"date minus date", fn("-", kt(Date, "2024-03-01"), kt(Date, "2024-02-01")), "29"},
		{"date plus interval", fn("+", kt(Date, "2023-10-01"), kt(Interval, "1 hour")), "2023-10-01 01:00:00"},
		{"interval plus interval", fn("+", kt(Interval, "1 day"), kt(Interval, "-2 hours")), "1 day -02:00:00"},
		{"time_floor", fn("time_floor", ts, ks("PT5M")), "2023-10-18 13:45:00"},
	})
}

func TestCasts(t *testing.T) {
	cast := func(e Expr, t Type) Expr { return &Cast{X: e, T: t} }
	checkExprs(t, []exprCase{
		{"text to int", cast(ks(" 12 "), Int32), "12"},
		{"text to int bad", cast(ks("x"), Int32), "ERR:22P02"},
		{"text to int range", cast(ks("3000000000"), Int32), "ERR:22003"},
		{"float to int rounds", cast(kf(2.5), Int32), "2"},
		{"float to int rounds up", cast(kf(3.5), Int32), "4"},
		{"numeric to int half away", cast(kn(2.5), Int32), "3"},
		{"numeric to int neg", cast(kn(-2.5), Int32), "-3"},
		{"float to int range", cast(kf(3e9), Int32), "ERR:22003"},
		{"float to int nan", cast(kf(nan()), Int64), "ERR:22003"},
		{"int8 to int2 range", cast(k8(40000), Int16), "ERR:22003"},
		{"int to float", cast(ki(3), Float64), "3"},
		{"float to text", cast(kf(0.1), Text), "0.1"},
		{"bool to int", cast(kb(true), Int32), "1"},
		{"int to bool", cast(ki(0), Bool), "f"},
		{"text to bool", cast(ks("yes"), Bool), "t"},
		{"text to ts", cast(ks("2023-10-01T12:00:00Z"), Timestamp), "2023-10-01 12:00:00"},
		{"text to tstz offset", cast(ks("2023-10-01 12:00:00+02"), TimestampTZ), "2023-10-01 10:00:00+00"},
		{"ts to date", cast(kt(Timestamp, "2023-10-01 23:59:59"), Date), "2023-10-01"},
		{"pre-epoch ts to date", cast(kt(Timestamp, "1969-12-31 23:59:59"), Date), "1969-12-31"},
		{"date to ts", cast(kt(Date, "2023-10-01"), Timestamp), "2023-10-01 00:00:00"},
		{"tstz to ts", cast(kt(TimestampTZ, "2023-10-01 12:00:00+00"), Timestamp), "2023-10-01 12:00:00"},
		{"interval to text", cast(kt(Interval, "90 minutes"), Text), "01:30:00"},
		{"text to interval", cast(ks("2 days"), Interval), "2 days"},
		{"null cast", cast(knull(Text), Int32), "NULL"},
		{"numeric text", cast(kn(1.5), Text), "1.5"},
		{"text to numeric", cast(ks("1.25"), Numeric), "1.25"},
	})
}

func nan() float64 { var z float64; return z / z }
func inf() float64 { var z float64; return 1 / z }

func TestResolve(t *testing.T) {
	cases := []struct {
		name string
		args []Type
		want Type
		err  string
	}{
		{"+", []Type{Int32, Int32}, Int32, ""},
		{"+", []Type{Int16, Int16}, Int16, ""},
		{"+", []Type{Int32, Int64}, Int64, ""},
		{"+", []Type{Int32, Float64}, Float64, ""},
		{"+", []Type{Int32, Numeric}, Numeric, ""},
		{"/", []Type{Int64, Numeric}, Numeric, ""},
		{"+", []Type{Numeric, Float64}, Float64, ""},
		{"+", []Type{Timestamp, Interval}, Timestamp, ""},
		{"-", []Type{TimestampTZ, Interval}, TimestampTZ, ""},
		{"-", []Type{Timestamp, Timestamp}, Interval, ""},
		{"+", []Type{Date, Int32}, Date, ""},
		{"+", []Type{Text, Int32}, Unknown, "42883"},
		{"=", []Type{Text, Int32}, Unknown, "42883"},
		{"=", []Type{Timestamp, TimestampTZ}, Bool, ""},
		{"||", []Type{Text, Int32}, Text, ""},
		{"date_trunc", []Type{Text, TimestampTZ}, TimestampTZ, ""},
		{"extract", []Type{Text, TimestampTZ}, Numeric, ""},
		{"date_part", []Type{Text, Timestamp}, Float64, ""},
		{"to_timestamp", []Type{Float64}, TimestampTZ, ""},
		{"round", []Type{Float64, Int32}, Unknown, "42883"},
		{"round", []Type{Numeric, Int32}, Numeric, ""},
		{"floor", []Type{Int32}, Float64, ""},
		{"length", []Type{Text}, Int32, ""},
		{"nosuch", []Type{Int32, Text}, Unknown, "42883"},
		{"coalesce", []Type{Unknown, Int32}, Int32, ""},
		{"coalesce", []Type{Int32, Float64}, Float64, ""},
	}
	for _, c := range cases {
		got, err := ResolveFunc(c.name, c.args)
		if c.err != "" {
			var e *Error
			if !errors.As(err, &e) || e.Code != c.err {
				t.Errorf("ResolveFunc(%s, %v): err %v, want %s", c.name, c.args, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ResolveFunc(%s, %v) = %v, %v; want %v", c.name, c.args, got, err, c.want)
		}
	}
	_, err := ResolveFunc("nosuch", []Type{Int32, Text})
	if err.Error() != "function nosuch(integer, text) does not exist" {
		t.Errorf("message %q", err.Error())
	}
	aggs := []struct {
		name string
		arg  []Type
		want Type
	}{
		{"count", nil, Int64}, {"count", []Type{Text}, Int64}, {"sum", []Type{Int32}, Int64}, {"sum", []Type{Int16}, Int64},
		{"sum", []Type{Int64}, Numeric}, {"sum", []Type{Float64}, Float64}, {"avg", []Type{Int32}, Numeric},
		{"avg", []Type{Float64}, Float64}, {"min", []Type{Text}, Text}, {"max", []Type{TimestampTZ}, TimestampTZ},
		{"bool_and", []Type{Bool}, Bool},
	}
	for _, c := range aggs {
		got, err := ResolveAgg(c.name, c.arg, false)
		if err != nil || got != c.want {
			t.Errorf("ResolveAgg(%s, %v) = %v, %v; want %v", c.name, c.arg, got, err, c.want)
		}
	}
	if _, err := ResolveAgg("sum", []Type{Text}, false); err == nil {
		t.Errorf("sum(text) resolved")
	}
}

// FuzzLike compares the LIKE matcher with a regexp translation of the pattern.
func FuzzLike(f *testing.F) {
	for _, s := range [][2]string{{"h%o", "hello"}, {`a\%b`, "a%b"}, {"_n_", "ünï"}, {"%ab_", "abcabd"}, {"%%a", "ba"}, {`\`, `\`}} {
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, pattern, s string, ci bool) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return
		}
		if ci && (!isASCII(pattern) || !isASCII(s)) {
			return // Unicode case folding differs between ToLower and regexp's (?i)
		}
		want := likeRegexp(pattern, ci).MatchString(s)
		if got := newLikeMatcher(pattern, ci).match(s); got != want {
			t.Fatalf("%q LIKE %q (ci=%v) = %v, want %v", s, pattern, ci, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// TestSizePretty checks pg_size_pretty against values PostgreSQL 15 prints.
func TestSizePretty(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0 bytes"}, {10239, "10239 bytes"}, {10240, "10 kB"}, {10752, "11 kB"}, {1048576, "1024 kB"},
		{20971520, "20 MB"}, {123456789, "118 MB"}, {1 << 40, "1024 GB"}, {-10240, "-10 kB"}, {9223372036854775807, "8192 PB"},
	} {
		if got := SizePretty(tc.in); got != tc.want {
			t.Errorf("pg_size_pretty(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
