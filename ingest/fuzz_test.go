package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stratadb/strata/storage"
)

// splitLines splits input as the decoders see it: on '\n', a final unterminated
// piece counted as a line, a UTF-8 BOM at the start dropped.
func splitLines(in []byte) (lines [][]byte) {
	in = bytes.TrimPrefix(in, []byte("\xef\xbb\xbf"))
	for len(in) > 0 {
		k := bytes.IndexByte(in, '\n')
		if k < 0 {
			lines = append(lines, in)
			break
		}
		lines = append(lines, in[:k])
		in = in[k+1:]
	}
	return lines
}

// fuzzDecode decodes in and checks what holds for every input: no error, valid
// batches (decodeAll checks them), Rows == rows seen, all rejects kept in order and
// on a real line.
func fuzzDecode(t *testing.T, format Format, in []byte) result {
	return fuzzDecodeOpts(t, Options{Format: format}, in)
}

func fuzzDecodeOpts(t *testing.T, opts Options, in []byte) result {
	opts.MaxRejects, opts.BatchRows = 1<<30, 7
	res := decodeAll(t, testSchema(), opts, string(in))
	if res.err != nil {
		t.Fatalf("Decode: %v", res.err)
	}
	if res.stats.Rows != int64(len(res.rows)) || res.stats.Rejected != int64(len(res.stats.Rejects)) {
		t.Fatalf("stats %+v, %d rows", res.stats, len(res.rows))
	}
	nLines := int64(len(splitLines(in)))
	last := int64(0)
	for _, r := range res.stats.Rejects {
		if r.Line <= last || r.Line > nLines || !strings.HasPrefix(r.Reason, "line ") || !utf8.ValidString(r.Reason) {
			t.Fatalf("bad reject %+v after line %d of %d", r, last, nLines)
		}
		last = r.Line
	}
	return res
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"ts":"2023-10-01T12:00:00","s":"x","i":1,"f":1.5,"b":true}`,
		`{"ts":1696161600123,"s":"\u00e9\ud83d\ude00","i":"2","f":"NaN","b":"off"}` + "\n\n" + `{"ts":null}`,
		`{"s":{"a":[1,2,{"b":null}]},"ts":"2023-10-01","s":[true,false]}`,
		`{"ts":"2023-10-01 12:00:00.123+02","i":1e2,"x":"\"}"}` + "\r\n" + `[1]` + "\n" + `{"ts":"2023-10-01",}`,
		`{"ts":"2023-10-01","s":"\x00"}` + "\n" + "\xef\xbb\xbf{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		res := fuzzDecode(t, JSON, in)
		rejects := map[int64]string{}
		for _, r := range res.stats.Rejects {
			rejects[r.Line] = r.Reason
		}
		// Every non-blank line is a row or a reject, and encoding/json agrees on syntax.
		var dataLines int64
		row := 0
		for k, line := range splitLines(in) {
			trimmed := bytes.Trim(line, " \t\r")
			if len(trimmed) == 0 {
				continue
			}
			dataLines++
			reason, rejected := rejects[int64(k+1)]
			isObject := json.Valid(trimmed) && trimmed[0] == '{'
			syntaxReject := rejected && (strings.Contains(reason, "type json") || strings.Contains(reason, "not an object"))
			// A line that is not a JSON object is rejected, maybe for a bad value
			// met before the syntax error; an object is never rejected for syntax.
			if (isObject && syntaxReject) || (!isObject && !rejected) {
				t.Fatalf("line %d %q: encoding/json object=%v, reject %q", k+1, line, isObject, reason)
			}
			if rejected {
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(trimmed, &m); err != nil {
				t.Fatalf("line %d accepted, encoding/json: %v", k+1, err)
			}
			var want string
			if raw, ok := m["s"]; ok && len(raw) > 0 && raw[0] == '"' {
				if err := json.Unmarshal(raw, &want); err != nil {
					t.Fatal(err)
				}
				if got := res.rows[row][1]; got != want {
					t.Fatalf("line %d: s = %q, encoding/json says %q", k+1, got, want)
				}
			}
			row++
		}
		if res.stats.Rows+res.stats.Rejected != dataLines {
			t.Fatalf("rows %d + rejected %d != %d data lines", res.stats.Rows, res.stats.Rejected, dataLines)
		}
	})
}

// countDelimitedRecords counts records of an input without CSV quotes: lines up to a
// "\." line, and for Text a line ending in an odd number of backslashes joined to
// the next.
func countDelimitedRecords(in []byte, format Format) int64 {
	lines := splitLines(in)
	terminatedLast := len(in) > 0 && in[len(in)-1] == '\n'
	var n int64
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if format == Text {
			for trailingBackslashes(lines[i])%2 == 1 && (i+1 < len(lines) || terminatedLast) {
				i++
				if i == len(lines) {
					break
				}
			}
		}
		// The end marker, with an optional CR that is not escaped.
		if l := bytes.TrimSuffix(line, []byte("\r")); string(l) == `\.` {
			return n
		}
		n++
	}
	return n
}

func FuzzDecodeCSV(f *testing.F) {
	for _, s := range []string{
		"2023-10-01,a,1,1.5,t\n2023-10-01,\"q\"\"uote\",,,\r\n",
		"2023-10-01,\"multi\nline\",1,1,1\n,,,\n\\.\nafter",
		"2023-10-01,ab\"c,d\"e,1,1,1\n2023-10-01,\"\",1,1,1,extra\n\"unterminated",
		"\xef\xbb\xbf2023-10-01 12:00:00Z,\xff,1,1,1\n",
		"2023-10-01,\"a\\\"b\\\\\",1,1,1\n2023-10-01,\"x\\\ny\",1,1,1\n",
	} {
		f.Add(false, []byte(s))
		f.Add(true, []byte(s))
	}
	f.Fuzz(func(t *testing.T, backslashEscape bool, in []byte) {
		opts := Options{Format: CSV}
		if backslashEscape {
			opts.Escape = '\\'
		}
		res := fuzzDecodeOpts(t, opts, in)
		// The record splitter and the field parser agree on quoting: a quoted field
		// is unterminated only at the end of the input.
		for k, r := range res.stats.Rejects {
			if strings.Contains(r.Reason, "unterminated") && k != len(res.stats.Rejects)-1 {
				t.Fatalf("%q before other rejects: %v", r.Reason, res.stats.Rejects[k:])
			}
		}
		got := res.stats.Rows + res.stats.Rejected
		if bytes.IndexByte(in, '"') < 0 {
			if want := countDelimitedRecords(in, CSV); got != want {
				t.Fatalf("rows %d + rejected %d != %d records", res.stats.Rows, res.stats.Rejected, want)
			}
		} else if got > int64(len(splitLines(in))) {
			t.Fatalf("rows %d + rejected %d > %d lines", res.stats.Rows, res.stats.Rejected, len(splitLines(in)))
		}
	})
}

func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{
		"2023-10-01\ta\t1\t1.5\tt\n2023-10-01\t\\N\t\\N\t\\N\t\\N\r\n",
		"2023-10-01\t\\b\\f\\n\\r\\t\\v\\\\\\101\\x41\\.\t1\t1\t1\n\\.\nafter",
		"2023-10-01\tcont\\\ninued\t1\t1\t1\n2023-10-01\ta\t1\n\\",
		"2023-10-01\t\\377\\000\t1\t1\t1\n\n\\\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		res := fuzzDecode(t, Text, in)
		if want := countDelimitedRecords(in, Text); res.stats.Rows+res.stats.Rejected != want {
			t.Fatalf("rows %d + rejected %d != %d records", res.stats.Rows, res.stats.Rejected, want)
		}
	})
}

// FuzzRecordDecoder: RecordDecoder never panics; on success dst has exactly one
// more row, every column dst.Len values, the record is valid JSON per encoding/json
// and the text it loaded agrees with encoding/json; on error dst is unchanged
// (recordRow checks both). Decoding the same record again on the warmed decoder
// gives the same outcome, and COPY (FORMAT json) agrees on it.
func FuzzRecordDecoder(f *testing.F) {
	big := `{"ts":"2023-10-01","s":"` + strings.Repeat("é", (DefaultMaxRecordBytes-26)/2) + `"}`
	garbage := make([]byte, DefaultMaxRecordBytes)
	for i := range garbage {
		garbage[i] = byte(i*7919>>3) ^ byte(i)
	}
	for _, s := range []string{
		`{"user_id":"u123","event":"click","timestamp":"2023-10-01T12:00:00","product_id":"p456"}`,
		`{"ts":"2023-10-01T12:00:00","s":"x","i":1,"n":-2,"f":1.5,"b":true,"t2":"2023-10-01 12:00:00+02","extra":null}`,
		`{"ts":1696161600123,"s":"\u00e9\ud83d\ude00\ud800","I":"2","f":"NaN","b":"t","zz":{"a":[1,{"b":null}]}}`,
		`{"TS":1696161600123456789,"S":12.50,"i":3.0,"n":1e3,"b":0,"s":null,"s":[true,false]}`,
		`{"ts":"1696161600","i":9223372036854775807,"f":-1e308,"x\u0000":"\u0000"}`,
		` {"ts" : "2023-10-01" } `, `{}`, ``, `[1]`, `"x"`, `{"ts":0}x`, `{"ts":0,}`, `{"ts":"\x"}`,
		"{\"ts\":0,\"s\":\"\xff\"}", "{\"ts\":0,\"\xc3\x28\":1}", "\xef\xbb\xbf{\"ts\":0}",
		`{"ts":0,"s":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
		`{"ts":0,"zz":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + `}`,
		big, big + " ", string(garbage),
	} {
		f.Add(false, []byte(s))
		f.Add(true, []byte(s))
	}
	f.Fuzz(func(t *testing.T, keep bool, rec []byte) {
		schema := recSchema()
		opts := RecordOptions{}
		if keep {
			opts.KeepUnknown = "extra"
		}
		d, err := NewRecordDecoder(schema, opts)
		if err != nil {
			t.Fatal(err)
		}
		dst := storage.NewColumns(schema, 1)
		if err := d.Decode([]byte(`{"ts":1,"s":"first row","f":"NaN"}`), dst); err != nil {
			t.Fatal(err)
		}
		row, err := recordRow(t, d, dst, rec)
		row2, err2 := recordRow(t, d, dst, rec)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("%s: decoded twice: %v, then %v", short(rec), err, err2)
		}
		for k := range row {
			if !sameValue(row[k], row2[k]) {
				t.Fatalf("%s: decoded twice: column %s = %#v, then %#v", short(rec), k, row[k], row2[k])
			}
		}
		if !keep && len(rec) <= DefaultMaxRecordBytes && bytes.IndexByte(rec, '\n') < 0 &&
			len(bytes.Trim(rec, " \t\r")) > 0 && !bytes.HasPrefix(rec, []byte("\xef\xbb\xbf")) {
			res := decodeAll(t, schema, Options{Format: JSON}, string(rec))
			if err != nil {
				if res.stats.Rejected != 1 || res.stats.Rejects[0].Reason != "line 1: "+err.Error() {
					t.Fatalf("%s: RecordDecoder: %v; COPY: %+v", short(rec), err, res.stats)
				}
			} else {
				if len(res.rows) != 1 {
					t.Fatalf("%s: COPY: %+v", short(rec), res.stats)
				}
				for i, c := range schema.Columns {
					if !sameValue(res.rows[0][i], row[c.Name]) {
						t.Fatalf("%s: column %s: COPY %#v, RecordDecoder %#v", short(rec), c.Name, res.rows[0][i], row[c.Name])
					}
				}
			}
		}
		if err != nil {
			return
		}
		trimmed := bytes.Trim(rec, " \t\r\n")
		if !json.Valid(rec) || !utf8.Valid(rec) || trimmed[0] != '{' {
			t.Fatalf("%s: accepted, but not one valid JSON object", short(rec))
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(rec, &m); err != nil {
			t.Fatal(err)
		}
		onlyExact := true
		for k := range m {
			if k != "s" && strings.EqualFold(k, "s") {
				onlyExact = false
			}
		}
		if raw, ok := m["s"]; ok && onlyExact && len(raw) > 0 && raw[0] == '"' {
			var want string
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			if row["s"] != want {
				t.Fatalf("%s: s = %q, encoding/json says %q", short(rec), row["s"], want)
			}
		}
		if x, ok := row["extra"].(string); keep && ok && (!json.Valid([]byte(x)) || x[0] != '{') {
			t.Fatalf("%s: extra = %q is not a JSON object", short(rec), x)
		}
	})
}
