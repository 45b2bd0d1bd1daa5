package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
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
