package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
)

// recSchema: ts timestamptz NOT NULL (time), s text, i bigint, n integer, f float8,
// b boolean, t2 timestamp (without time zone), extra text.
func recSchema() *storage.Schema {
	return &storage.Schema{Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "s", Type: storage.TypeString, SQLType: "text"},
		{Name: "i", Type: storage.TypeInt64, SQLType: "bigint"},
		{Name: "n", Type: storage.TypeInt64, SQLType: "integer"},
		{Name: "f", Type: storage.TypeFloat64, SQLType: "double precision"},
		{Name: "b", Type: storage.TypeBool, SQLType: "boolean"},
		{Name: "t2", Type: storage.TypeTimestamp, SQLType: "timestamp"},
		{Name: "extra", Type: storage.TypeString, SQLType: "text"},
		{Name: "m", Type: storage.TypeInt64, SQLType: "numeric(8,2)"}, // value × 100, exactly
	}}
}

// recordRow decodes rec into dst and checks the contract: on success dst has one
// more row, the earlier rows unchanged; on error dst is unchanged. Both times every
// column has dst.Len values. It returns the new row (column name -> value).
func recordRow(t testing.TB, d *RecordDecoder, dst *storage.Columns, rec []byte) (map[string]any, error) {
	t.Helper()
	before := renderRows(t, dst)
	n := dst.Len
	err := d.Decode(rec, dst)
	if cerr := dst.Check(); cerr != nil {
		t.Fatalf("%s: dst fails Check after Decode (err %v): %v", short(rec), err, cerr)
	}
	after := renderRows(t, dst)
	if err != nil {
		var re *RecordError
		if !errors.As(err, &re) || re.Reason == "" {
			t.Fatalf("%s: error %v (%T) is not a *RecordError with a reason", short(rec), err, err)
		}
		if dst.Len != n || !sameRows(before, after) {
			t.Fatalf("%s: failed (%v) but changed dst: %d rows -> %d", short(rec), err, n, dst.Len)
		}
		return nil, err
	}
	if dst.Len != n+1 || !sameRows(before, after[:n]) {
		t.Fatalf("%s: %d rows -> %d, or earlier rows changed", short(rec), n, dst.Len)
	}
	row := map[string]any{}
	for i, c := range dst.Schema.Columns {
		row[c.Name] = after[n][i]
	}
	return row, nil
}

// sameRows compares rendered rows; NaN equals NaN.
func sameRows(a, b [][]any) bool {
	if len(a) != len(b) {
		return false
	}
	for r := range a {
		if len(a[r]) != len(b[r]) {
			return false
		}
		for i := range a[r] {
			if !sameValue(a[r][i], b[r][i]) {
				return false
			}
		}
	}
	return true
}

// short quotes a record for a message, cut to 200 bytes.
func short(rec []byte) string {
	if len(rec) > 200 {
		return fmt.Sprintf("%q... (%d bytes)", rec[:200], len(rec))
	}
	return fmt.Sprintf("%q", rec)
}

const ts0 = `"ts":"2023-10-01"`

func TestRecordDecoderSeed(t *testing.T) {
	d, err := NewRecordDecoder(eventSchema(), RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := storage.NewColumns(eventSchema(), 0)
	dst.Schema = d.schema
	row, err := recordRow(t, d, dst, []byte(`{"user_id":"u123","event":"click","timestamp":"2023-10-01T12:00:00","product_id":"p456"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"timestamp": noon, "user_id": "u123", "event": "click", "product_id": "p456",
		"session_id": null, "category": null, "brand": null, "price": null, "quantity": null,
		"country": null, "device": null, "referrer": null}
	if !reflect.DeepEqual(row, want) {
		t.Errorf("row %v\nwant %v", row, want)
	}
}

// recordCase: want lists the non-NULL columns other than ts (ts is checked only when
// wantTS is set); err is a substring the error must contain ("" = must succeed).
type recordCase struct {
	name   string
	rec    string
	want   map[string]any
	wantTS int64
	err    string
	field  string // RecordError.Field expected on error
}

func recordCases() []recordCase {
	sec := func(s int64) int64 { return time.Unix(s, 0).UnixMicro() }
	ms := func(m int64) int64 { return time.UnixMilli(m).UnixMicro() }
	plus2 := time.FixedZone("+02", 2*3600)
	minus0530 := time.FixedZone("-0530", -(5*3600 + 30*60))
	return []recordCase{
		// numeric(8,2): numbers and numeric strings exactly, half away from zero.
		{name: "numeric number", rec: `{` + ts0 + `,"m":12.345}`, want: map[string]any{"m": int64(1235)}},
		{name: "numeric string", rec: `{` + ts0 + `,"m":" 12.34 "}`, want: map[string]any{"m": int64(1234)}},
		{name: "numeric negative half", rec: `{` + ts0 + `,"m":-0.005}`, want: map[string]any{"m": int64(-1)}},
		{name: "numeric exponent", rec: `{` + ts0 + `,"m":1e2}`, want: map[string]any{"m": int64(10000)}},
		{name: "numeric many digits", rec: `{` + ts0 + `,"m":0.1000000000000000055511151231257827}`, want: map[string]any{"m": int64(10)}},
		{name: "numeric overflow", rec: `{` + ts0 + `,"m":1234567.1}`, err: `out of range for type numeric`, field: "m"},
		{name: "numeric not a number", rec: `{` + ts0 + `,"m":"1.2.3"}`, err: `invalid input syntax for type numeric`, field: "m"},
		// Names.
		{name: "exact names", rec: `{` + ts0 + `,"s":"x","i":1}`, want: map[string]any{"s": "x", "i": int64(1)}},
		{name: "case-insensitive fallback", rec: `{"TS":"2023-10-01","S":"x","I":2,"Extra":"e"}`, want: map[string]any{"s": "x", "i": int64(2), "extra": "e"},
			wantTS: day1},
		{name: "missing and null are NULL", rec: `{` + ts0 + `,"s":null,"i":null,"f":null,"b":null,"t2":null}`, want: map[string]any{}},
		{name: "duplicate keys: last wins", rec: `{` + ts0 + `,"s":"a","i":1,"s":"b","i":null}`, want: map[string]any{"s": "b"}},
		{name: "fold and exact: last wins", rec: `{` + ts0 + `,"s":"a","S":"b"}`, want: map[string]any{"s": "b"}},
		{name: "unknown fields ignored", rec: `{"zz":{"a":[1,{"b":null}]},` + ts0 + `,"yy":"\u0000\ud800","xx":-1.5e3}`, want: map[string]any{}},
		{name: "white space", rec: " \t\r\n{ \"ts\" :\n\"2023-10-01\" , \"i\" : 7 }\n ", want: map[string]any{"i": int64(7)}},
		{name: "escaped key", rec: `{"t\u0073":"2023-10-01","\u0073":"k"}`, want: map[string]any{"s": "k"}},

		// Text columns.
		{name: "string escapes", rec: `{` + ts0 + `,"s":"q\" b\\ s\/ \b\f\n\r\t \u00e9 \u20AC \ud83d\ude00 é"}`,
			want: map[string]any{"s": "q\" b\\ s/ \b\f\n\r\t é € 😀 é"}},
		{name: "number into text keeps its JSON text", rec: `{` + ts0 + `,"s":12.50}`, want: map[string]any{"s": "12.50"}},
		{name: "exponent into text", rec: `{` + ts0 + `,"s":-1E+3}`, want: map[string]any{"s": "-1E+3"}},
		{name: "bool into text", rec: `{` + ts0 + `,"s":false}`, want: map[string]any{"s": "false"}},
		{name: "object into text is raw JSON", rec: `{` + ts0 + `,"s":{"a": [1, "}"], "b":{}}}`, want: map[string]any{"s": `{"a": [1, "}"], "b":{}}`}},
		{name: "array into text", rec: `{` + ts0 + `,"s":[ ]}`, want: map[string]any{"s": "[ ]"}},
		{name: "NUL in text", rec: `{` + ts0 + `,"s":"a\u0000"}`, err: `invalid byte sequence for encoding "UTF8": 0x0 (column s)`, field: "s"},
		{name: "invalid UTF-8 in text", rec: `{` + ts0 + `,"s":"a` + "\xff" + `"}`, err: `0xff (column s)`, field: "s"},

		// Integers.
		{name: "int", rec: `{` + ts0 + `,"i":-42,"n":2147483647}`, want: map[string]any{"i": int64(-42), "n": int64(2147483647)}},
		{name: "int from integral floats", rec: `{` + ts0 + `,"i":3.0,"n":1e3}`, want: map[string]any{"i": int64(3), "n": int64(1000)}},
		{name: "int from integral float beyond 2^53 is exact", rec: `{` + ts0 + `,"i":9007199254740993.000}`, want: map[string]any{"i": int64(9007199254740993)}},
		{name: "int from strings", rec: `{` + ts0 + `,"i":"12","n":" 3.0 "}`, want: map[string]any{"i": int64(12), "n": int64(3)}},
		{name: "int extremes", rec: `{` + ts0 + `,"i":-9223372036854775808,"n":-2147483648}`, want: map[string]any{"i": int64(math.MinInt64), "n": int64(math.MinInt32)}},
		{name: "int rejects fraction", rec: `{` + ts0 + `,"i":3.5}`, err: `invalid input syntax for type bigint: "3.5" (column i)`, field: "i"},
		{name: "int rejects fraction in string", rec: `{` + ts0 + `,"i":"3.5"}`, err: `"3.5" (column i)`, field: "i"},
		{name: "bigint overflow", rec: `{` + ts0 + `,"i":9223372036854775808}`, err: `value "9223372036854775808" is out of range for type bigint (column i)`, field: "i"},
		{name: "bigint overflow as float", rec: `{` + ts0 + `,"i":1e19}`, err: `out of range for type bigint`, field: "i"},
		{name: "bigint overflow beyond float", rec: `{` + ts0 + `,"i":1e400}`, err: `out of range for type bigint`, field: "i"},
		{name: "integer overflow", rec: `{` + ts0 + `,"n":2147483648}`, err: `out of range for type integer (column n)`, field: "n"},
		{name: "int rejects bool", rec: `{` + ts0 + `,"i":true}`, err: `invalid input syntax for type bigint: "true"`, field: "i"},
		{name: "int rejects word", rec: `{` + ts0 + `,"i":"abc"}`, err: `"abc" (column i)`, field: "i"},
		{name: "int rejects object", rec: `{` + ts0 + `,"i":{"a":1}}`, err: `invalid input syntax for type bigint: "{"a":1}" (column i)`, field: "i"},
		{name: "error names the field when it differs", rec: `{` + ts0 + `,"I":"x"}`, err: `(column i, field "I")`, field: "I"},

		// Floats.
		{name: "float", rec: `{` + ts0 + `,"f":-0.25}`, want: map[string]any{"f": -0.25}},
		{name: "float from int and strings", rec: `{` + ts0 + `,"f":"12.5"}`, want: map[string]any{"f": 12.5}},
		{name: "float NaN string", rec: `{` + ts0 + `,"f":"NaN"}`, want: map[string]any{"f": math.NaN()}},
		{name: "float -Infinity string", rec: `{` + ts0 + `,"f":"-Infinity"}`, want: map[string]any{"f": math.Inf(-1)}},
		{name: "float overflow", rec: `{` + ts0 + `,"f":1e309}`, err: `"1e309" is out of range for type double precision (column f)`, field: "f"},
		{name: "float rejects array", rec: `{` + ts0 + `,"f":[1]}`, err: `(column f)`, field: "f"},

		// Booleans.
		{name: "bool literals", rec: `{` + ts0 + `,"b":true}`, want: map[string]any{"b": true}},
		{name: "bool false", rec: `{` + ts0 + `,"b":false}`, want: map[string]any{"b": false}},
		{name: "bool string true", rec: `{` + ts0 + `,"b":"true"}`, want: map[string]any{"b": true}},
		{name: "bool string f", rec: `{` + ts0 + `,"b":"f"}`, want: map[string]any{"b": false}},
		{name: "bool string t", rec: `{` + ts0 + `,"b":"t"}`, want: map[string]any{"b": true}},
		{name: "bool string false", rec: `{` + ts0 + `,"b":"false"}`, want: map[string]any{"b": false}},
		{name: "bool 1", rec: `{` + ts0 + `,"b":1}`, want: map[string]any{"b": true}},
		{name: "bool 0", rec: `{` + ts0 + `,"b":0}`, want: map[string]any{"b": false}},
		{name: "bool rejects 2", rec: `{` + ts0 + `,"b":2}`, err: `invalid input syntax for type boolean: "2" (column b)`, field: "b"},
		{name: "bool rejects 1.0", rec: `{` + ts0 + `,"b":1.0}`, err: `"1.0" (column b)`, field: "b"},
		{name: "bool rejects maybe", rec: `{` + ts0 + `,"b":"maybe"}`, err: `"maybe" (column b)`, field: "b"},

		// Timestamps from strings.
		{name: "ts ISO with T", rec: `{"ts":"2023-10-01T12:00:00"}`, wantTS: noon},
		{name: "ts ISO with space", rec: `{"ts":"2023-10-01 12:00:00"}`, wantTS: noon},
		{name: "ts Z", rec: `{"ts":"2023-10-01T12:00:00Z"}`, wantTS: noon},
		{name: "ts offset", rec: `{"ts":"2023-10-01T12:00:00+02:00"}`, wantTS: time.Date(2023, 10, 1, 12, 0, 0, 0, plus2).UnixMicro()},
		{name: "ts negative offset", rec: `{"ts":"2023-10-01T12:00:00.5-05:30"}`, wantTS: time.Date(2023, 10, 1, 12, 0, 0, 5e8, minus0530).UnixMicro()},
		{name: "ts micros", rec: `{"ts":"2023-10-01T12:00:00.123456"}`, wantTS: us(2023, 10, 1, 12, 0, 0, 123456000)},
		{name: "ts nanos rounded", rec: `{"ts":"2023-10-01T12:00:00.1234567Z"}`, wantTS: us(2023, 10, 1, 12, 0, 0, 123457000)},
		{name: "ts date only", rec: `{"ts":"2023-10-01"}`, wantTS: day1},
		{name: "timestamp without zone drops the zone", rec: `{` + ts0 + `,"t2":"2023-10-01T12:00:00+02:00"}`, want: map[string]any{"t2": noon}},
		{name: "ts missing", rec: `{"s":"no time"}`, err: `null value in column "ts" violates not-null constraint`},
		{name: "ts null", rec: `{"ts":null}`, err: `null value in column "ts"`},
		{name: "ts empty object", rec: `{}`, err: `null value in column "ts"`},
		{name: "ts bool", rec: `{"ts":true}`, err: `invalid input syntax for type timestamp with time zone: "true" (column ts)`, field: "ts"},
		{name: "ts word", rec: `{"ts":"yesterday"}`, err: `"yesterday" (column ts)`, field: "ts"},
		{name: "ts bad date", rec: `{"ts":"2023-02-29"}`, err: `date/time field value out of range: "2023-02-29" (column ts)`, field: "ts"},
		{name: "ts object", rec: `{"ts":{"sec":1}}`, err: `(column ts)`, field: "ts"},

		// Timestamps from epoch numbers.
		{name: "epoch seconds", rec: `{"ts":1696161600}`, wantTS: noon},
		{name: "epoch zero", rec: `{"ts":0}`, wantTS: 0},
		{name: "epoch negative seconds", rec: `{"ts":-1}`, wantTS: sec(-1)},
		{name: "epoch fractional seconds", rec: `{"ts":1696161600.5}`, wantTS: noon + 500000},
		{name: "epoch millis", rec: `{"ts":1696161600123}`, wantTS: ms(1696161600123)},
		{name: "epoch millis as float", rec: `{"ts":1.6961616001234e12}`, wantTS: noon + 123400},
		{name: "epoch micros", rec: `{"ts":1696161600123456}`, wantTS: time.UnixMicro(1696161600123456).UnixMicro()},
		{name: "epoch nanos", rec: `{"ts":1696161600123456789}`, wantTS: time.Unix(0, 1696161600123456789).UnixMicro()},
		{name: "epoch seconds as string", rec: `{"ts":"1696161600"}`, wantTS: noon},
		{name: "epoch millis as string", rec: `{"ts":" 1696161600123 "}`, wantTS: ms(1696161600123)},
		{name: "last seconds value", rec: `{"ts":99999999999}`, wantTS: sec(99999999999)},
		{name: "first millis value", rec: `{"ts":100000000000}`, wantTS: ms(100000000000)},
		{name: "negative millis", rec: `{"ts":-100000000000}`, wantTS: ms(-100000000000)},
		{name: "last millis value", rec: `{"ts":99999999999999}`, wantTS: ms(99999999999999)},
		{name: "first micros value", rec: `{"ts":100000000000000}`, wantTS: time.UnixMicro(100000000000000).UnixMicro()},
		{name: "first nanos value", rec: `{"ts":100000000000000000}`, wantTS: time.Unix(0, 100000000000000000).UnixMicro()},
		{name: "epoch out of range", rec: `{"ts":1e300}`, err: `timestamp out of range: "1e300" (column ts)`, field: "ts"},
		{name: "epoch beyond int64", rec: `{"ts":99999999999999999999}`, err: `timestamp out of range`, field: "ts"},

		// Syntax and encoding.
		{name: "empty", rec: ``, err: `empty record`},
		{name: "blank", rec: " \n\t", err: `empty record`},
		{name: "not an object", rec: `[1,2]`, err: `JSON value is not an object`},
		{name: "a string", rec: `"ts"`, err: `JSON value is not an object`},
		{name: "trailing garbage", rec: `{` + ts0 + `} x`, err: `unexpected data after the object at byte 21`},
		{name: "two objects", rec: `{` + ts0 + `}{}`, err: `unexpected data after the object`},
		{name: "trailing comma", rec: `{` + ts0 + `,}`, err: `expected '"' to start an object key at byte 20`},
		{name: "unterminated", rec: `{` + ts0, err: `expected ',' or '}' after object member at end of input`},
		{name: "unterminated string", rec: `{"ts":"2023`, err: `invalid string at end of input (field "ts")`, field: "ts"},
		{name: "bad escape", rec: `{` + ts0 + `,"s":"\x"}`, err: `invalid input syntax for type json: invalid string at byte 25 (field "s")`, field: "s"},
		{name: "bad unicode escape", rec: `{` + ts0 + `,"s":"\u12G4"}`, err: `invalid string`, field: "s"},
		{name: "bad escape in unknown field", rec: `{` + ts0 + `,"zz":"\q"}`, err: `invalid string at byte 26 (field "zz")`, field: "zz"},
		{name: "control character in string", rec: `{` + ts0 + `,"s":"a` + "\t" + `b"}`, err: `invalid string`, field: "s"},
		{name: "invalid UTF-8 in unknown value", rec: `{` + ts0 + `,"zz":"` + "\xc3\x28" + `"}`, err: `invalid byte sequence for encoding "UTF8": 0xc3 (field "zz")`, field: "zz"},
		{name: "invalid UTF-8 in nested unknown", rec: `{` + ts0 + `,"zz":{"a":["` + "\xed\xa0\x80" + `"]}}`, err: `0xed (field "zz")`, field: "zz"},
		{name: "invalid UTF-8 in key", rec: `{` + ts0 + `,"z` + "\xff" + `":1}`, err: `0xff in a field name`},
		{name: "invalid UTF-8 outside strings", rec: `{` + ts0 + `,"s":` + "\xff" + `}`, err: `expected a value at byte 24 (field "s")`, field: "s"},
		{name: "leading zero", rec: `{` + ts0 + `,"i":01}`, err: `expected ',' or '}' after object member at byte 25`},
		{name: "bad literal", rec: `{` + ts0 + `,"b":tru}`, err: `invalid literal`, field: "b"},
		{name: "unclosed nested", rec: `{` + ts0 + `,"zz":[1,}`, err: `invalid value at byte 28 (field "zz")`, field: "zz"},
		{name: "too deep", rec: `{` + ts0 + `,"zz":` + strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1) + `}`,
			err: `too deeply nested`, field: "zz"},
		{name: "deep but allowed", rec: `{` + ts0 + `,"s":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`,
			want: map[string]any{"s": strings.Repeat("[", 1000) + strings.Repeat("]", 1000)}},
	}
}

func TestRecordDecoderCoercions(t *testing.T) {
	schema := recSchema()
	d, err := NewRecordDecoder(schema, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := storage.NewColumns(schema, 0)
	for _, tc := range recordCases() {
		t.Run(tc.name, func(t *testing.T) {
			row, err := recordRow(t, d, dst, []byte(tc.rec))
			if tc.err != "" {
				var re *RecordError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &re) || re.Field != tc.field {
					t.Fatalf("err = %v, want one containing %q, field %q", err, tc.err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"ts": day1}
			if tc.wantTS != 0 || tc.want == nil {
				want["ts"] = tc.wantTS
			}
			for _, c := range schema.Columns[1:] {
				want[c.Name] = null
			}
			for k, v := range tc.want {
				want[k] = v
			}
			for k := range want {
				if !sameValue(row[k], want[k]) {
					t.Errorf("column %s = %#v, want %#v", k, row[k], want[k])
				}
			}
		})
	}
	// The same decoder was reused for every case, good and bad: rows are aligned.
	if err := dst.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestRecordDecoderAgreesWithCopy feeds every case through COPY (FORMAT json) as a
// one-line input: the row or the reject reason must be the same.
func TestRecordDecoderAgreesWithCopy(t *testing.T) {
	schema := recSchema()
	d, err := NewRecordDecoder(schema, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range recordCases() {
		if strings.ContainsAny(tc.rec, "\n") || strings.TrimSpace(tc.rec) == "" {
			continue // COPY splits lines and skips blank ones
		}
		dst := storage.NewColumns(schema, 1)
		recErr := d.Decode([]byte(tc.rec), dst)
		res := decodeAll(t, schema, Options{Format: JSON}, tc.rec)
		if res.err != nil {
			t.Fatalf("%s: %v", tc.name, res.err)
		}
		switch {
		case recErr != nil:
			want := []Reject{{1, "line 1: " + recErr.Error()}}
			if !reflect.DeepEqual(res.stats.Rejects, want) || len(res.rows) != 0 {
				t.Errorf("%s: COPY rejects %v, rows %v; RecordDecoder: %v", tc.name, res.stats.Rejects, res.rows, recErr)
			}
		default:
			got := renderRows(t, dst)
			if len(res.rows) != 1 || res.stats.Rejected != 0 || len(got) != 1 {
				t.Errorf("%s: COPY rows %v rejects %v", tc.name, res.rows, res.stats.Rejects)
				continue
			}
			for i := range got[0] {
				if !sameValue(got[0][i], res.rows[0][i]) {
					t.Errorf("%s: column %s: RecordDecoder %#v, COPY %#v", tc.name, schema.Columns[i].Name, got[0][i], res.rows[0][i])
				}
			}
		}
	}
}

func TestRecordDecoderExactNameBeatsFold(t *testing.T) {
	schema := &storage.Schema{Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "id", Type: storage.TypeString, SQLType: "text"},
		{Name: "ID", Type: storage.TypeString, SQLType: "text"},
	}}
	d, err := NewRecordDecoder(schema, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := storage.NewColumns(schema, 0)
	for _, tc := range []struct{ rec, id, ID any }{
		{`{"ts":0,"ID":"a","id":"b"}`, "b", "a"},
		{`{"ts":0,"Id":"a"}`, "a", null}, // no exact match: the first folded column
		{`{"ts":0,"iD":"a","ID":"c"}`, "a", "c"},
	} {
		row, err := recordRow(t, d, dst, []byte(tc.rec.(string)))
		if err != nil {
			t.Fatal(err)
		}
		if row["id"] != tc.id || row["ID"] != tc.ID {
			t.Errorf("%s: id %v ID %v, want %v %v", tc.rec, row["id"], row["ID"], tc.id, tc.ID)
		}
	}
}

func TestRecordDecoderKeepUnknown(t *testing.T) {
	schema := recSchema()
	d, err := NewRecordDecoder(schema, RecordOptions{KeepUnknown: "extra"})
	if err != nil {
		t.Fatal(err)
	}
	dst := storage.NewColumns(schema, 0)
	for _, tc := range []struct {
		rec   string
		extra any
	}{
		{`{"a":1,` + ts0 + `,"o": {"c" : [true, null, "x\u00e9"]} ,"s":"known","A":"x"}`,
			`{"a":1,"o":{"c" : [true, null, "x\u00e9"]},"A":"x"}`},
		{`{` + ts0 + `,"s":"only known"}`, null},
		{`{` + ts0 + `,"extra":"the keep column is not matched by name","EXTRA":2}`,
			`{"extra":"the keep column is not matched by name","EXTRA":2}`},
		{`{` + ts0 + `,"d":"\u0000","d":"dup"}`, `{"d":"\u0000","d":"dup"}`},
	} {
		row, err := recordRow(t, d, dst, []byte(tc.rec))
		if err != nil {
			t.Fatalf("%s: %v", tc.rec, err)
		}
		if row["extra"] != tc.extra {
			t.Errorf("%s: extra = %#v, want %#v", tc.rec, row["extra"], tc.extra)
		}
		if s, ok := row["extra"].(string); ok && !json.Valid([]byte(s)) {
			t.Errorf("extra %q is not valid JSON", s)
		}
	}
	// A bad unknown value fails the record, even though it is kept raw.
	if _, err := recordRow(t, d, dst, []byte(`{`+ts0+`,"zz":"`+"\xff"+`"}`)); err == nil {
		t.Error("invalid UTF-8 in a kept field accepted")
	}
}

func TestNewRecordDecoderErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		schema *storage.Schema
		opts   RecordOptions
		want   string
	}{
		{"unknown keep column", recSchema(), RecordOptions{KeepUnknown: "nope"}, `KeepUnknown column "nope" does not exist`},
		{"keep column not text", recSchema(), RecordOptions{KeepUnknown: "i"}, `KeepUnknown column "i" is int64, not text`},
		{"keep column is the time column", recSchema(), RecordOptions{KeepUnknown: "ts"}, `is timestamp, not text`},
		{"negative max", recSchema(), RecordOptions{MaxRecordBytes: -1}, "negative MaxRecordBytes"},
		{"invalid schema", &storage.Schema{}, RecordOptions{}, "schema has no columns"},
	} {
		_, err := NewRecordDecoder(tc.schema, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestRecordDecoderMaxBytes(t *testing.T) {
	schema := recSchema()
	rec := `{"ts":"2023-10-01","s":"` + strings.Repeat("a", 40) + `"}`
	d, err := NewRecordDecoder(schema, RecordOptions{MaxRecordBytes: len(rec)})
	if err != nil {
		t.Fatal(err)
	}
	dst := storage.NewColumns(schema, 0)
	if _, err := recordRow(t, d, dst, []byte(rec)); err != nil {
		t.Errorf("record at the limit: %v", err)
	}
	_, err = recordRow(t, d, dst, []byte(rec+" "))
	if want := fmt.Sprintf("record of %d bytes exceeds the limit of %d bytes", len(rec)+1, len(rec)); err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	// The default limit is 1 MiB.
	d, _ = NewRecordDecoder(schema, RecordOptions{})
	big := []byte(`{"ts":"2023-10-01","s":"` + strings.Repeat("b", DefaultMaxRecordBytes-26) + `"}`)
	if len(big) != DefaultMaxRecordBytes {
		t.Fatalf("test record is %d bytes", len(big))
	}
	if row, err := recordRow(t, d, dst, big); err != nil || len(row["s"].(string)) != DefaultMaxRecordBytes-26 {
		t.Errorf("1 MiB record: %v", err)
	}
	if _, err := recordRow(t, d, dst, append(big, ' ')); err == nil {
		t.Error("record over 1 MiB accepted")
	}
}

func TestRecordDecoderStringsDoNotAliasInput(t *testing.T) {
	schema := recSchema()
	d, _ := NewRecordDecoder(schema, RecordOptions{KeepUnknown: "extra"})
	dst := storage.NewColumns(schema, 0)
	rec := []byte(`{"ts":"2023-10-01","s":"original-value-1234","zz":"kept"}`)
	if err := d.Decode(rec, dst); err != nil {
		t.Fatal(err)
	}
	for i := range rec {
		rec[i] = 'X'
	}
	if got := dst.Cols[1].String[0]; got != "original-value-1234" {
		t.Errorf("s = %q after the record buffer was overwritten", got)
	}
	if got := dst.Cols[7].String[0]; got != `{"zz":"kept"}` {
		t.Errorf("extra = %q after the record buffer was overwritten", got)
	}
}

func TestRecordDecoderSchemaMismatchPanics(t *testing.T) {
	d, _ := NewRecordDecoder(recSchema(), RecordOptions{})
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "BUG:") {
			t.Errorf("recover() = %v, want a BUG panic", r)
		}
	}()
	d.Decode([]byte(`{"ts":0}`), storage.NewColumns(recSchema(), 1))
}

// TestRecordDecoderAllocs: a record costs at most one allocation (its new strings),
// none when every string value repeats.
func TestRecordDecoderAllocs(t *testing.T) {
	schema := eventSchema()
	d, _ := NewRecordDecoder(schema, RecordOptions{})
	recs := eventRecords(512)
	dst := storage.NewColumns(schema, 2*len(recs)+10)
	k := 0
	allocs := testing.AllocsPerRun(len(recs), func() {
		if err := d.Decode(recs[k%len(recs)], dst); err != nil {
			t.Fatal(err)
		}
		k++
	})
	if allocs > 1 {
		t.Errorf("%.2f allocations per record, want at most 1", allocs)
	}
	same := recs[0]
	allocs = testing.AllocsPerRun(100, func() {
		if err := d.Decode(same, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per repeated record, want 0", allocs)
	}
}

// eventRecords returns n realistic e-commerce records of eventSchema, one JSON
// object each, from the generator the COPY benchmarks use.
func eventRecords(n int) [][]byte {
	var recs [][]byte
	for _, line := range splitLines(genEvents(n, JSON)) {
		recs = append(recs, line)
	}
	return recs
}
