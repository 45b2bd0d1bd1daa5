package ingest

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stratadb/strata/storage"
)

func TestParseTimestamp(t *testing.T) {
	plus2 := time.FixedZone("+02", 2*3600)
	minus0530 := time.FixedZone("-0530", -(5*3600 + 30*60))
	cases := []struct {
		in     string
		noZone bool
		want   int64
		res    parseResult
	}{
		{in: "2023-10-01T12:00:00", want: noon},
		{in: "2023-10-01 12:00:00", want: noon},
		{in: "2023-10-01t12:00:00", want: noon},
		{in: "  2023-10-01T12:00:00  ", want: noon},
		{in: "2023-10-01", want: day1},
		{in: "2023-10-01T12:00", want: noon},
		{in: "2023-10-01T12:00:00Z", want: noon},
		{in: "2023-10-01T12:00:00z", want: noon},
		{in: "2023-10-01 12:00:00 UTC", want: noon},
		{in: "2023-10-01 12:00:00gmt", want: noon},
		{in: "2023-10-01 12:00:00.123+02", want: time.Date(2023, 10, 1, 12, 0, 0, 123e6, plus2).UnixMicro()},
		{in: "2023-10-01 12:00:00.123 +02:00", want: time.Date(2023, 10, 1, 12, 0, 0, 123e6, plus2).UnixMicro()},
		{in: "2023-10-01T12:00:00-0530", want: time.Date(2023, 10, 1, 12, 0, 0, 0, minus0530).UnixMicro()},
		{in: "2023-10-01T12:00:00-05:30", want: time.Date(2023, 10, 1, 12, 0, 0, 0, minus0530).UnixMicro()},
		{in: "2023-10-01T12:00:00+02", noZone: true, want: noon},
		{in: "2023-10-01 +02", want: time.Date(2023, 10, 1, 0, 0, 0, 0, plus2).UnixMicro()},
		{in: "2023-10-01T12:00:00.1", want: noon + 100000},
		{in: "2023-10-01T12:00:00.000001", want: noon + 1},
		{in: "2023-10-01T12:00:00.0000015", want: noon + 2},
		{in: "2023-10-01T12:00:00.0000014999", want: noon + 1},
		{in: "2023-10-01T23:59:59.9999999", want: us(2023, 10, 2, 0, 0, 0, 0)},
		{in: "2023-10-01T24:00:00", want: us(2023, 10, 2, 0, 0, 0, 0)},
		{in: "1969-12-31T23:59:59", want: -1000000},
		{in: "0001-01-01", want: us(1, 1, 1, 0, 0, 0, 0)},
		{in: "1900-02-28", want: us(1900, 2, 28, 0, 0, 0, 0)},
		{in: "2000-02-29", want: us(2000, 2, 29, 0, 0, 0, 0)},
		{in: "9999-12-31T23:59:59.999999", want: us(9999, 12, 31, 23, 59, 59, 999999000)},
		{in: "10000-01-01", want: us(10000, 1, 1, 0, 0, 0, 0)},
		{in: "1900-02-29", res: parseFieldRange},
		{in: "2023-00-10", res: parseFieldRange},
		{in: "2023-10-32", res: parseFieldRange},
		{in: "0000-01-01", res: parseFieldRange},
		{in: "2023-10-01T25:00:00", res: parseFieldRange},
		{in: "2023-10-01T24:00:01", res: parseFieldRange},
		{in: "2023-10-01T12:60:00", res: parseFieldRange},
		{in: "2023-10-01T12:00:00+16", res: parseFieldRange},
		{in: "999999-01-01", res: parseRange},
		{in: "", res: parseSyntax},
		{in: "2023", res: parseSyntax},
		{in: "2023-1-01", res: parseSyntax},
		{in: "2023-10-01T", res: parseSyntax},
		{in: "2023-10-01T12", res: parseSyntax},
		{in: "2023-10-01T12:00:", res: parseSyntax},
		{in: "2023-10-01T12:00:00.", res: parseSyntax},
		{in: "2023-10-01T12:00:00 PST", res: parseSyntax},
		{in: "2023-10-01T12:00:00+2", res: parseSyntax},
		{in: "2023-10-01x", res: parseSyntax},
		{in: "2023-10-011", res: parseSyntax},
		{in: "yesterday", res: parseSyntax},
	}
	for _, tc := range cases {
		got, res := parseTimestamp([]byte(tc.in), tc.noZone)
		if res != tc.res || (res == parseOK && got != tc.want) {
			t.Errorf("parseTimestamp(%q, %v) = %d, %d; want %d, %d", tc.in, tc.noZone, got, res, tc.want, tc.res)
		}
	}
}

func TestParseNumbers(t *testing.T) {
	ints := []struct {
		in   string
		kind sqlKind
		want int64
		res  parseResult
	}{
		{"0", kindOther, 0, parseOK},
		{" -42 ", kindOther, -42, parseOK},
		{"+7", kindOther, 7, parseOK},
		{"9223372036854775807", kindOther, math.MaxInt64, parseOK},
		{"-9223372036854775808", kindOther, math.MinInt64, parseOK},
		{"9223372036854775808", kindOther, 0, parseRange},
		{"-9223372036854775809", kindOther, 0, parseRange},
		{"123456789012345678901234567890", kindOther, 0, parseRange},
		{"32767", kindInt16, 32767, parseOK},
		{"32768", kindInt16, 0, parseRange},
		{"-2147483648", kindInt32, math.MinInt32, parseOK},
		{"2147483648", kindInt32, 0, parseRange},
		{"", kindOther, 0, parseSyntax},
		{"-", kindOther, 0, parseSyntax},
		{"1.0", kindOther, 0, parseSyntax},
		{"1e3", kindOther, 0, parseSyntax},
		{"0x10", kindOther, 0, parseSyntax},
		{"1 2", kindOther, 0, parseSyntax},
	}
	for _, tc := range ints {
		got, res := parseInt([]byte(tc.in), tc.kind)
		if res != tc.res || (res == parseOK && got != tc.want) {
			t.Errorf("parseInt(%q) = %d, %d; want %d, %d", tc.in, got, res, tc.want, tc.res)
		}
	}
	floats := []struct {
		in   string
		kind sqlKind
		want float64
		res  parseResult
	}{
		{"1.5", kindOther, 1.5, parseOK},
		{" -0.25e2 ", kindOther, -25, parseOK},
		{".5", kindOther, 0.5, parseOK},
		{"NaN", kindOther, math.NaN(), parseOK},
		{"nan", kindOther, math.NaN(), parseOK},
		{"Infinity", kindOther, math.Inf(1), parseOK},
		{"-Infinity", kindOther, math.Inf(-1), parseOK},
		{"-inf", kindOther, math.Inf(-1), parseOK},
		{"1e308", kindOther, 1e308, parseOK},
		{"1e309", kindOther, 0, parseRange},
		{"0.1", kindFloat32, float64(float32(0.1)), parseOK},
		{"1e39", kindFloat32, 0, parseRange},
		{"0x1p3", kindOther, 0, parseSyntax},
		{"1_000", kindOther, 0, parseSyntax},
		{"", kindOther, 0, parseSyntax},
		{"abc", kindOther, 0, parseSyntax},
	}
	for _, tc := range floats {
		got, res := parseFloat([]byte(tc.in), tc.kind)
		if res != tc.res || (res == parseOK && !sameValue(got, tc.want)) {
			t.Errorf("parseFloat(%q) = %v, %d; want %v, %d", tc.in, got, res, tc.want, tc.res)
		}
	}
	for _, in := range []string{"t", "TRUE", "true", "y", "Yes", "on", "1", " t "} {
		if b, res := parseBool([]byte(in)); res != parseOK || !b {
			t.Errorf("parseBool(%q) = %v, %d; want true", in, b, res)
		}
	}
	for _, in := range []string{"f", "False", "n", "NO", "off", "0"} {
		if b, res := parseBool([]byte(in)); res != parseOK || b {
			t.Errorf("parseBool(%q) = %v, %d; want false", in, b, res)
		}
	}
	for _, in := range []string{"", "2", "tr", "yess", "o", "truee", "-1"} {
		if _, res := parseBool([]byte(in)); res != parseSyntax {
			t.Errorf("parseBool(%q) = %d; want syntax error", in, res)
		}
	}
}

// TestDeclaredTypeRanges checks that integer/real/timestamp declarations are honoured
// by the decoders, with PostgreSQL's messages.
func TestDeclaredTypeRanges(t *testing.T) {
	schema := &storage.Schema{Columns: []storage.Column{
		{Name: "t", Type: storage.TypeTimestamp, SQLType: "timestamp", NotNull: true},
		{Name: "small", Type: storage.TypeInt64, SQLType: "smallint"},
		{Name: "r", Type: storage.TypeFloat64, SQLType: "real"},
		{Name: "n", Type: storage.TypeFloat64, SQLType: "numeric"},
	}}
	res := decodeAll(t, schema, Options{Format: CSV}, ""+
		"2023-10-01 12:00:00+05,-32768,0.5,NaN\n"+
		"2023-10-01,32768,1,1\n"+
		"2023-10-01,1,1e39,1\n"+
		"2023-10-01,1,1,x\n"+
		"junk,1,1,1\n")
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, [][]any{{noon, int64(-32768), 0.5, math.NaN()}})
	checkRejects(t, res.stats, []Reject{
		{2, `line 2: value "32768" is out of range for type smallint (column small)`},
		{3, `line 3: "1e39" is out of range for type real (column r)`},
		{4, `line 4: invalid input syntax for type numeric: "x" (column n)`},
		{5, `line 5: invalid input syntax for type timestamp without time zone: "junk" (column t)`},
	})
}

func TestPlainRun(t *testing.T) {
	// Against a byte-by-byte loop, on every position of strings that put a stop
	// byte (or none) at each offset of an 8-byte word.
	stops := []byte{'"', '\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, 'a'}
	for n := 0; n < 20; n++ {
		for at := 0; at <= n; at++ {
			for _, c := range stops {
				b := []byte(strings.Repeat("ab\x21\xe9", 5))[:n]
				if at < n {
					b[at] = c
				}
				for start := 0; start <= n; start++ {
					want := start
					for want < len(b) && !(b[want] == '"' || b[want] == '\\' || b[want] < 0x20) {
						want++
					}
					if got := plainRun(b, start); got != want {
						t.Fatalf("plainRun(%q, %d) = %d, want %d", b, start, got, want)
					}
				}
			}
		}
	}
}

func TestInvalidText(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{"", -1}, {"plain ascii text, longer than a word", -1}, {"é€😀 mixed ascii é€😀", -1},
		{"\x00", 0}, {"abcdefgh\x00", 8}, {"abcdefg\x00", 7}, {"abcdefghijklmno\x00p", 15},
		{"abcdefgh\xff", 8}, {"abc\xc3", 3}, {"abcdefgh\xc3\x28", 8}, {"\xed\xa0\x80", 0}, // surrogate
		{"\xc0\x80", 0}, {"\xf4\x90\x80\x80", 0}, {"\xe0\x80\x80", 0}, {"ok\xf0\x9f\x98", 2},
		{"\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x01", -1},
	}
	for _, tc := range cases {
		if got := invalidText([]byte(tc.in)); got != tc.want {
			t.Errorf("invalidText(%q) = %d, want %d", tc.in, got, tc.want)
		}
		// Agrees with the standard library on validity (NUL aside).
		if want := utf8.ValidString(tc.in) && !strings.Contains(tc.in, "\x00"); want != (invalidText([]byte(tc.in)) < 0) {
			t.Errorf("invalidText(%q) disagrees with utf8.ValidString", tc.in)
		}
	}
}

// TestVarcharLength checks varchar(n) in COPY and in Kafka records as PostgreSQL
// stores into varchar(n): at most n characters (not bytes), a longer value cut
// when its excess is spaces, any other longer value rejected.
func TestVarcharLength(t *testing.T) {
	schema := &storage.Schema{Columns: []storage.Column{
		{Name: "t", Type: storage.TypeTimestamp, SQLType: "timestamp", NotNull: true},
		{Name: "code", Type: storage.TypeString, SQLType: "varchar", TypMod: 3 + 4},
		{Name: "free", Type: storage.TypeString, SQLType: "varchar"},
	}}
	res := decodeAll(t, schema, Options{Format: CSV}, ""+
		"2023-10-01 12:00:00,abc,long free text\n"+
		"2023-10-01 12:00:00,ééé,x\n"+
		"2023-10-01 12:00:00,ab     ,x\n"+
		"2023-10-01 12:00:00,abcd,x\n"+
		"2023-10-01 12:00:00,éééé,x\n"+
		"2023-10-01 12:00:00,ab c,x\n"+
		"2023-10-01 12:00:00,,x\n")
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, [][]any{{noon, "abc", "long free text"}, {noon, "ééé", "x"}, {noon, "ab ", "x"}, {noon, null, "x"}})
	checkRejects(t, res.stats, []Reject{
		{4, `line 4: value too long for type character varying(3) (column code)`},
		{5, `line 5: value too long for type character varying(3) (column code)`},
		{6, `line 6: value too long for type character varying(3) (column code)`},
	})

	d, err := NewRecordDecoder(schema, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := storage.NewColumns(schema, 0)
	row, err := recordRow(t, d, dst, []byte(`{"t":"2023-10-01 12:00:00","code":"xy    "}`))
	if err != nil || row["code"] != "xy " {
		t.Errorf("record with spaces past 3 characters: %v, %v; want code %q", row, err, "xy ")
	}
	var re *RecordError
	if _, err := recordRow(t, d, dst, []byte(`{"t":"2023-10-01 12:00:00","code":"wxyz"}`)); !errors.As(err, &re) ||
		re.Column != "code" || re.Reason != `value too long for type character varying(3) (column code)` {
		t.Errorf("record with 4 characters: %v, want a RecordError in column code", err)
	}
}
