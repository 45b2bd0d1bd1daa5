package ingest

import (
	"math"
	"testing"
)

type decodeCase struct {
	name    string
	opts    Options
	input   string
	want    [][]any
	rejects []Reject
}

func runCases(t *testing.T, format Format, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Format = format
			res := decodeAll(t, testSchema(), opts, tc.input)
			if res.err != nil {
				t.Fatalf("Decode: %v", res.err)
			}
			checkRows(t, res.rows, tc.want)
			checkRejects(t, res.stats, tc.rejects)
			if res.stats.Rows != int64(len(tc.want)) {
				t.Errorf("Stats.Rows = %d, want %d", res.stats.Rows, len(tc.want))
			}
		})
	}
}

var (
	day1 = us(2023, 10, 1, 0, 0, 0, 0)
	noon = us(2023, 10, 1, 12, 0, 0, 0)
)

func TestDecodeText(t *testing.T) {
	runCases(t, Text, []decodeCase{
		{name: "empty input", input: ""},
		{name: "plain", input: "2023-10-01\thello\t42\t1.5\tt\n",
			want: [][]any{{day1, "hello", int64(42), 1.5, true}}},
		{name: "no final newline", input: "2023-10-01\thello\t42\t1.5\tt",
			want: [][]any{{day1, "hello", int64(42), 1.5, true}}},
		{name: "CRLF", input: "2023-10-01\ta\t1\t2\tf\r\n2023-10-01\tb\t3\t4\tno\r\n",
			want: [][]any{{day1, "a", int64(1), 2.0, false}, {day1, "b", int64(3), 4.0, false}}},
		{name: "every escape", input: "2023-10-01\t\\b\\f\\n\\r\\t\\v\\\\\\N\\.\\q\\101\\x41\\x4g\\xg\\7\\18\\303\\251\t\\N\t\\N\tf\n",
			want:    [][]any{{day1, "\b\f\n\r\t\v\\N.qAA\x04gxg\a\x018é", null, null, false}},
			rejects: nil},
		{name: "NULL marker only whole field", input: "2023-10-01\t\\N\t\\N\t\\N\t\\N\n2023-10-01\t\\\\N\t1\t1\t1\n",
			want: [][]any{{day1, null, null, null, null}, {day1, `\N`, int64(1), 1.0, true}}},
		{name: "empty string is not NULL", input: "2023-10-01\t\t1\t1\t1\n",
			want: [][]any{{day1, "", int64(1), 1.0, true}}},
		{name: "escaped delimiter", input: "2023-10-01\ta\\\tb\t1\t1\t1\n",
			want: [][]any{{day1, "a\tb", int64(1), 1.0, true}}},
		{name: "backslash newline continues the row", input: "2023-10-01\ta\\\nb\t1\t1\t1\nbad\n",
			want:    [][]any{{day1, "a\nb", int64(1), 1.0, true}},
			rejects: []Reject{{3, `line 3: missing data for column "s"`}}},
		{name: "escaped CR kept before LF", input: "2023-10-01\t1\t1\t1\tt\n2023-10-01\tx\\\r\n",
			want:    [][]any{{day1, "1", int64(1), 1.0, true}},
			rejects: []Reject{{2, `line 2: missing data for column "i"`}}},
		{name: "end marker", input: "2023-10-01\ta\t1\t1\t1\n\\.\ngarbage\n",
			want: [][]any{{day1, "a", int64(1), 1.0, true}}},
		{name: "end marker CRLF", input: "2023-10-01\ta\t1\t1\t1\r\n\\.\r\ngarbage\n",
			want: [][]any{{day1, "a", int64(1), 1.0, true}}},
		{name: "header", opts: Options{Header: true}, input: "ts\ts\ti\tf\tb\n2023-10-01\ta\t1\t1\t1\n",
			want: [][]any{{day1, "a", int64(1), 1.0, true}}},
		{name: "custom delimiter and null", opts: Options{Delimiter: '|', Null: strp("NULL")},
			input:   "2023-10-01|\\N|NULL|1|1\n",
			want:    [][]any{{day1, "N", null, 1.0, true}},
			rejects: nil},
		{name: "bad lines mixed with good", input: "" +
			"2023-10-01\ta\t1\t1\t1\n" +
			"2023-10-01\ta\tabc\t1\t1\n" +
			"2023-10-01\ta\t1\n" +
			"2023-10-01\ta\t1\t1\t1\textra\n" +
			"\\N\ta\t1\t1\t1\n" +
			"2023-13-01\ta\t1\t1\t1\n" +
			"2023-10-01\ta\t1\t1\tmaybe\n" +
			"2023-10-01\ta\t1\tone\t1\n" +
			"2023-10-01\t\\xff\t1\t1\t1\n" +
			"2023-10-01\t\\000\t1\t1\t1\n" +
			"2023-10-01\tlast\t99999999999999999999\t1\t1\n" +
			"2023-10-01\tok\t-9223372036854775808\t-Infinity\tOFF\n" +
			"2023-10-01\ta\t1\t1\t1\\\n",
			want: [][]any{
				{day1, "a", int64(1), 1.0, true},
				{day1, "ok", int64(math.MinInt64), math.Inf(-1), false},
			},
			rejects: []Reject{
				{2, `line 2: invalid input syntax for type bigint: "abc" (column i)`},
				{3, `line 3: missing data for column "f"`},
				{4, `line 4: extra data after last expected column`},
				{5, `line 5: null value in column "ts" violates not-null constraint`},
				{6, `line 6: date/time field value out of range: "2023-13-01" (column ts)`},
				{7, `line 7: invalid input syntax for type boolean: "maybe" (column b)`},
				{8, `line 8: invalid input syntax for type double precision: "one" (column f)`},
				{9, `line 9: invalid byte sequence for encoding "UTF8": 0xff (column s)`},
				{10, `line 10: invalid byte sequence for encoding "UTF8": 0x0 (column s)`},
				{11, `line 11: value "99999999999999999999" is out of range for type bigint (column i)`},
				{13, `line 13: unterminated backslash escape at end of data`},
			}},
		{name: "raw invalid UTF-8", input: "2023-10-01\t\xc3\x28\t1\t1\t1\n2023-10-01\t\xe2\x82\xac\t1\t1\t1\n",
			want:    [][]any{{day1, "€", int64(1), 1.0, true}},
			rejects: []Reject{{1, `line 1: invalid byte sequence for encoding "UTF8": 0xc3 (column s)`}}},
		{name: "blank line is one empty field", input: "\n2023-10-01\ta\t1\t1\t1\n",
			want:    [][]any{{day1, "a", int64(1), 1.0, true}},
			rejects: []Reject{{1, `line 1: missing data for column "s"`}}},
	})
}

func TestDecodeCSV(t *testing.T) {
	runCases(t, CSV, []decodeCase{
		{name: "empty input", input: ""},
		{name: "plain", input: "2023-10-01,hello,42,1.5,t\n",
			want: [][]any{{day1, "hello", int64(42), 1.5, true}}},
		{name: "unquoted empty is NULL, quoted empty is empty", input: "2023-10-01,,,,\n2023-10-01,\"\",,,\n",
			want: [][]any{{day1, null, null, null, null}, {day1, "", null, null, null}}},
		{name: "quoting", input: "" +
			`2023-10-01,"a,b",1,1,1` + "\n" +
			`2023-10-01,"say ""hi""",1,1,1` + "\n" +
			`2023-10-01,"""",1,1,1` + "\n" +
			`2023-10-01,ab"c,d"e,1,1,1` + "\n" +
			`2023-10-01," sp ",1,1,1` + "\n" +
			`2023-10-01, sp ,1,1,1` + "\n" +
			`"2023-10-01","x","7","2.5","true"` + "\n",
			want: [][]any{
				{day1, "a,b", int64(1), 1.0, true},
				{day1, `say "hi"`, int64(1), 1.0, true},
				{day1, `"`, int64(1), 1.0, true},
				{day1, "abc,de", int64(1), 1.0, true},
				{day1, " sp ", int64(1), 1.0, true},
				{day1, " sp ", int64(1), 1.0, true},
				{day1, "x", int64(7), 2.5, true},
			}},
		{name: "embedded newlines", input: "2023-10-01,\"line1\nline2\r\nline3\",1,1,1\r\n2023-10-01,x,2,2,0\r\nbad\n",
			want: [][]any{
				{day1, "line1\nline2\r\nline3", int64(1), 1.0, true},
				{day1, "x", int64(2), 2.0, false},
			},
			rejects: []Reject{{5, `line 5: missing data for column "s"`}}},
		{name: "unterminated quote at end", input: "2023-10-01,ok,1,1,1\n2023-10-01,\"open,1,1,1\nmore\n",
			want:    [][]any{{day1, "ok", int64(1), 1.0, true}},
			rejects: []Reject{{2, `line 2: unterminated CSV quoted field`}}},
		{name: "header with quotes", opts: Options{Header: true}, input: "\"ts\",\"s,x\",i,f,b\n2023-10-01,a,1,1,1\n",
			want: [][]any{{day1, "a", int64(1), 1.0, true}}},
		{name: "CRLF", input: "2023-10-01,a,1,1,1\r\n2023-10-01,\"b\",2,2,0\r\n",
			want: [][]any{{day1, "a", int64(1), 1.0, true}, {day1, "b", int64(2), 2.0, false}}},
		{name: "custom delimiter quote escape null", opts: Options{Delimiter: ';', Quote: '\'', Escape: '\\', Null: strp("NA")},
			input:   `2023-10-01;'it\'s; \\ \x';NA;NA;NA` + "\n" + `2023-10-01;'NA';1;1;1` + "\n",
			want:    [][]any{{day1, `it's; \ \x`, null, null, null}, {day1, "NA", int64(1), 1.0, true}},
			rejects: nil},
		{name: "escape before a quoted newline", opts: Options{Escape: '\\'},
			input:   "2023-10-01,\"a\\\n\",1,1,1\n2023-10-01,\"\x00\\\"\",1,1,1\n",
			want:    [][]any{{day1, "a\\\n", int64(1), 1.0, true}},
			rejects: []Reject{{3, `line 3: invalid byte sequence for encoding "UTF8": 0x0 (column s)`}}},
		{name: "quoted NA is not NULL and fails bool", opts: Options{Null: strp("NA")},
			input:   "2023-10-01,NA,NA,NA,\"NA\"\n",
			rejects: []Reject{{1, `line 1: invalid input syntax for type boolean: "NA" (column b)`}}},
		{name: "end marker", input: "2023-10-01,a,1,1,1\n\\.\n2023-10-01,a,1,1,1\n",
			want: [][]any{{day1, "a", int64(1), 1.0, true}}},
		{name: "bad lines mixed with good", input: "" +
			"2023-10-01,a,1,1,1\n" +
			"2023-10-01,a,1.5,1,1\n" +
			"2023-10-01,a,1,1\n" +
			"2023-10-01,a,1,1,1,\n" +
			",a,1,1,1\n" +
			"2023-02-29,a,1,1,1\n" +
			"2023-10-01,\"\xff\",1,1,1\n" +
			"2024-02-29 23:59:59.9999995Z,last,9223372036854775807,1e308,yes\n" +
			"2023-10-01,a,1,1e309,1\n",
			want: [][]any{
				{day1, "a", int64(1), 1.0, true},
				{us(2024, 3, 1, 0, 0, 0, 0), "last", int64(math.MaxInt64), 1e308, true},
			},
			rejects: []Reject{
				{2, `line 2: invalid input syntax for type bigint: "1.5" (column i)`},
				{3, `line 3: missing data for column "b"`},
				{4, `line 4: extra data after last expected column`},
				{5, `line 5: null value in column "ts" violates not-null constraint`},
				{6, `line 6: date/time field value out of range: "2023-02-29" (column ts)`},
				{7, `line 7: invalid byte sequence for encoding "UTF8": 0xff (column s)`},
				{9, `line 9: "1e309" is out of range for type double precision (column f)`},
			}},
	})
}

func TestDecodeJSON(t *testing.T) {
	runCases(t, JSON, []decodeCase{
		{name: "empty input", input: ""},
		{name: "blank lines skipped", input: "\n  \r\n\t\n",
			want: nil},
		{name: "plain", input: `{"ts":"2023-10-01T12:00:00","s":"hello","i":42,"f":1.5,"b":true}` + "\n",
			want: [][]any{{noon, "hello", int64(42), 1.5, true}}},
		{name: "order, missing, unknown, duplicate, null", input: "" +
			`{"b":false,"zzz":{"deep":[1,2,{"x":null}]},"ts":"2023-10-01","i":null,"s":"first","s":"last"}` + "\n" +
			`{ "ts" : "2023-10-01" , "f" : -0.25 }` + "\n" +
			`{"s":"x","ts":"2023-10-01"}` + "\n",
			want: [][]any{
				{day1, "last", null, null, false},
				{day1, null, null, -0.25, null},
				{day1, "x", null, null, null},
			}},
		{name: "string escapes", input: `{"ts":"2023-10-01","s":"q\" b\\ s\/ \b\f\n\r\t \u00e9 \u20AC \ud83d\ude00 \ud800x"}` + "\n",
			want: [][]any{{day1, "q\" b\\ s/ \b\f\n\r\t é € 😀 \uFFFDx", null, null, null}}},
		{name: "escaped key", input: `{"t\u0073":"2023-10-01","\u0073":"k"}` + "\n",
			want: [][]any{{day1, "k", null, null, null}}},
		{name: "scalars into text", input: `{"ts":"2023-10-01","s":12.50}` + "\n" +
			`{"ts":"2023-10-01","s":true}` + "\n" +
			`{"ts":"2023-10-01","s":{"a": [1, "}"]}}` + "\n" +
			`{"ts":"2023-10-01","s":[]}` + "\n",
			want: [][]any{
				{day1, "12.50", null, null, null},
				{day1, "true", null, null, null},
				{day1, `{"a": [1, "}"]}`, null, null, null},
				{day1, "[]", null, null, null},
			}},
		{name: "numeric strings and number forms", input: "" +
			`{"ts":"2023-10-01","i":"-17","f":"NaN","b":"on"}` + "\n" +
			`{"ts":"2023-10-01","i":1e3,"f":"Infinity","b":1}` + "\n" +
			`{"ts":"2023-10-01","i":2.0,"f":3,"b":"0"}` + "\n",
			want: [][]any{
				{day1, null, int64(-17), math.NaN(), true},
				{day1, null, int64(1000), math.Inf(1), true},
				{day1, null, int64(2), 3.0, false},
			}},
		{name: "epoch timestamps", input: "" +
			`{"ts":1696161600}` + "\n" +
			`{"ts":1696161600123}` + "\n" +
			`{"ts":1696161600.5}` + "\n" +
			`{"ts":1.6961616001234e12}` + "\n" +
			`{"ts":0}` + "\n",
			want: [][]any{
				{noon, null, null, null, null},
				{noon + 123000, null, null, null, null},
				{noon + 500000, null, null, null, null},
				{noon + 123400, null, null, null, null},
				{int64(0), null, null, null, null},
			}},
		{name: "bad lines mixed with good", input: "" +
			`{"ts":"2023-10-01","i":1}` + "\n" +
			`{"ts":"2023-10-01","i":1.5}` + "\n" +
			`{"ts":"2023-10-01","i":"abc"}` + "\n" +
			`{"s":"no time"}` + "\n" +
			`{"ts":null}` + "\n" +
			`[1,2]` + "\n" +
			`{"ts":"2023-10-01",}` + "\n" +
			`{"ts":"2023-10-01"} x` + "\n" +
			`{"ts":"2023-10-01","s":"\x"}` + "\n" +
			`{"ts":"2023-10-01","s":"a` + "\t" + `b"}` + "\n" +
			`{"ts":"2023-10-01","b":2}` + "\n" +
			`{"ts":"2023-10-01","i":{"a":1}}` + "\n" +
			`{"ts":true}` + "\n" +
			`{"ts":"2023-10-01","s":"` + "\xff" + `"}` + "\n" +
			`{"ts":"2023-10-01","s":"\u0000"}` + "\n" +
			`{"ts":"2023-10-01","x":[1,}` + "\n" +
			`{"ts":"2023-10-01","i":01}` + "\n" +
			`{"ts":"2023-10-01","i":9223372036854775808}` + "\n" +
			`{"ts":"2023-10-01T12:00:00Z","s":"end"}` + "\n",
			want: [][]any{
				{day1, null, int64(1), null, null},
				{noon, "end", null, null, null},
			},
			rejects: []Reject{
				{2, `line 2: invalid input syntax for type bigint: "1.5" (column i)`},
				{3, `line 3: invalid input syntax for type bigint: "abc" (column i)`},
				{4, `line 4: null value in column "ts" violates not-null constraint`},
				{5, `line 5: null value in column "ts" violates not-null constraint`},
				{6, `line 6: JSON value is not an object`},
				{7, `line 7: invalid input syntax for type json: expected '"' to start an object key at byte 20`},
				{8, `line 8: invalid input syntax for type json: unexpected data after the object at byte 21`},
				{9, `line 9: invalid input syntax for type json: invalid string at byte 25 (field "s")`},
				{10, `line 10: invalid input syntax for type json: invalid string at byte 26 (field "s")`},
				{11, `line 11: invalid input syntax for type boolean: "2" (column b)`},
				{12, `line 12: invalid input syntax for type bigint: "{"a":1}" (column i)`},
				{13, `line 13: invalid input syntax for type timestamp with time zone: "true" (column ts)`},
				{14, `line 14: invalid byte sequence for encoding "UTF8": 0xff (column s)`},
				{15, `line 15: invalid byte sequence for encoding "UTF8": 0x0 (column s)`},
				{16, `line 16: invalid input syntax for type json: invalid value at byte 27 (field "x")`},
				{17, `line 17: invalid input syntax for type json: expected ',' or '}' after object member at byte 25`},
				{18, `line 18: value "9223372036854775808" is out of range for type bigint (column i)`},
			}},
		{name: "CRLF", input: `{"ts":"2023-10-01"}` + "\r\n" + `{"ts":"2023-10-01","s":"b"}` + "\r\n",
			want: [][]any{{day1, null, null, null, null}, {day1, "b", null, null, null}}},
		{name: "BOM", input: "\xef\xbb\xbf" + `{"ts":"2023-10-01"}` + "\n",
			want: [][]any{{day1, null, null, null, null}}},
	})
}
