package ingest

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
)

// Round trips: random rows are written by small encoders in this file (encoding/json
// for JSON) and must decode to exactly the generated values.

func rtSchema() *storage.Schema {
	return &storage.Schema{Columns: []storage.Column{
		{Name: "s", Type: storage.TypeString, SQLType: "text"},
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "i", Type: storage.TypeInt64, SQLType: "bigint"},
		{Name: "f", Type: storage.TypeFloat64, SQLType: "double precision"},
		{Name: "b", Type: storage.TypeBool, SQLType: "boolean"},
		{Name: "s2", Type: storage.TypeString, SQLType: "text"},
	}, TimeColumn: 1}
}

var rtRunes = []rune("ab ,\t\n\r\"'\\{}[]:N.é€😀\x01\u2028")

func randString(r *rand.Rand) string {
	n := r.IntN(12)
	var b strings.Builder
	for range n {
		b.WriteRune(rtRunes[r.IntN(len(rtRunes))])
	}
	return b.String()
}

func randRows(r *rand.Rand, n int) [][]any {
	rows := make([][]any, n)
	for k := range rows {
		row := []any{
			randString(r),
			r.Int64N(4102444800_000000), // 1970..2100 in µs
			r.Int64() - r.Int64(),
			(r.Float64() - 0.5) * float64(r.IntN(1e9)),
			r.IntN(2) == 1,
			randString(r),
		}
		for i := range row {
			if i != 1 && r.IntN(5) == 0 {
				row[i] = null
			}
		}
		rows[k] = row
	}
	return rows
}

func fmtTime(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.999999Z07:00")
}

func encodeCSV(rows [][]any) string {
	var b strings.Builder
	for _, row := range rows {
		for i, v := range row {
			if i > 0 {
				b.WriteByte(',')
			}
			switch v := v.(type) {
			case nullT:
			case string:
				b.WriteString(`"` + strings.ReplaceAll(v, `"`, `""`) + `"`)
			case int64:
				if i == 1 {
					b.WriteString(fmtTime(v))
				} else {
					b.WriteString(strconv.FormatInt(v, 10))
				}
			case float64:
				b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			case bool:
				b.WriteString(strconv.FormatBool(v))
			}
		}
		b.WriteString("\r\n")
	}
	return b.String()
}

func encodeText(rows [][]any) string {
	esc := strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x01", `\001`)
	var b strings.Builder
	for _, row := range rows {
		for i, v := range row {
			if i > 0 {
				b.WriteByte('\t')
			}
			switch v := v.(type) {
			case nullT:
				b.WriteString(`\N`)
			case string:
				b.WriteString(esc.Replace(v))
			case int64:
				if i == 1 {
					b.WriteString(strings.Replace(fmtTime(v), "T", " ", 1))
				} else {
					b.WriteString(strconv.FormatInt(v, 10))
				}
			case float64:
				b.WriteString(strconv.FormatFloat(v, 'e', -1, 64))
			case bool:
				if v {
					b.WriteString("t")
				} else {
					b.WriteString("f")
				}
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func encodeJSON(t *testing.T, r *rand.Rand, rows [][]any, schema *storage.Schema) string {
	var b strings.Builder
	for _, row := range rows {
		m := map[string]any{"extra": map[string]any{"nested": []any{1, "x", nil}}}
		for i, v := range row {
			name := schema.Columns[i].Name
			switch v := v.(type) {
			case nullT:
				if r.IntN(2) == 0 {
					m[name] = nil
				}
			case int64:
				if i == 1 && v%1000 == 0 && v/1000 > 1e11 && r.IntN(2) == 0 {
					m[name] = v / 1000 // epoch milliseconds (below 1e11 they would be seconds)
				} else if i == 1 {
					m[name] = fmtTime(v)
				} else {
					m[name] = v
				}
			default:
				m[name] = v
			}
		}
		line, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	schema := rtSchema()
	rows := randRows(r, 2000)
	for i := range rows { // whole milliseconds now and then, for JSON epoch numbers
		if i%3 == 0 {
			rows[i][1] = rows[i][1].(int64) / 1000 * 1000
		}
	}
	for _, tc := range []struct {
		format Format
		input  string
	}{
		{CSV, encodeCSV(rows)},
		{Text, encodeText(rows)},
		{JSON, encodeJSON(t, r, rows, schema)},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			res := decodeAll(t, schema, Options{Format: tc.format, BatchRows: 333}, tc.input)
			if res.err != nil {
				t.Fatal(res.err)
			}
			checkRejects(t, res.stats, nil)
			checkRows(t, res.rows, rows)
		})
	}
}
