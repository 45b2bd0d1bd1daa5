package ingest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stratadb/strata/storage"
)

// null is the NULL marker in expected rows.
type nullT struct{}

var null = nullT{}

func (nullT) String() string { return "NULL" }

// testSchema: ts timestamptz NOT NULL (time), s text, i bigint, f float8, b boolean.
func testSchema() *storage.Schema {
	return &storage.Schema{Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "s", Type: storage.TypeString, SQLType: "text"},
		{Name: "i", Type: storage.TypeInt64, SQLType: "bigint"},
		{Name: "f", Type: storage.TypeFloat64, SQLType: "double precision"},
		{Name: "b", Type: storage.TypeBool, SQLType: "boolean"},
	}}
}

// eventSchema is the 12-column event table of the benchmarks and the seed.
func eventSchema() *storage.Schema {
	text := func(n string) storage.Column {
		return storage.Column{Name: n, Type: storage.TypeString, SQLType: "text"}
	}
	return &storage.Schema{Columns: []storage.Column{
		{Name: "timestamp", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		text("user_id"), text("event"), text("product_id"), text("session_id"), text("category"), text("brand"),
		{Name: "price", Type: storage.TypeFloat64, SQLType: "double precision"},
		{Name: "quantity", Type: storage.TypeInt64, SQLType: "integer"},
		text("country"), text("device"), text("referrer"),
	}}
}

// us is the expected µs value of a UTC wall time, computed by package time.
func us(y int, mo time.Month, d, h, mi, s, nsec int) int64 {
	return time.Date(y, mo, d, h, mi, s, nsec, time.UTC).UnixMicro()
}

type result struct {
	rows    [][]any
	stats   Stats
	err     error
	batches []int
}

// decodeAll decodes input and renders every row as []any: int64, float64, bool,
// string, or null. It checks each batch's invariants on the way.
func decodeAll(t testing.TB, schema *storage.Schema, opts Options, input string) result {
	t.Helper()
	return decodeReader(t, context.Background(), schema, opts, strings.NewReader(input))
}

func decodeReader(t testing.TB, ctx context.Context, schema *storage.Schema, opts Options, r io.Reader) result {
	t.Helper()
	var res result
	res.stats, res.err = Decode(ctx, r, schema, opts, func(c *storage.Columns) error {
		if err := c.Check(); err != nil {
			t.Fatalf("batch fails Check: %v", err)
		}
		res.batches = append(res.batches, c.Len)
		res.rows = append(res.rows, renderRows(t, c)...)
		return nil
	})
	return res
}

func renderRows(t testing.TB, c *storage.Columns) [][]any {
	var rows [][]any
	for r := 0; r < c.Len; r++ {
		row := make([]any, len(c.Cols))
		for i, col := range c.Schema.Columns {
			if c.IsNull(i, r) {
				row[i] = null
				continue
			}
			switch col.Type {
			case storage.TypeTimestamp, storage.TypeInt64:
				row[i] = c.Cols[i].Int64[r]
			case storage.TypeFloat64:
				row[i] = c.Cols[i].Float64[r]
			case storage.TypeBool:
				row[i] = c.Cols[i].Bool[r]
			case storage.TypeString:
				s := c.Cols[i].String[r]
				if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
					t.Fatalf("row %d column %s: invalid text %q", r, col.Name, s)
				}
				row[i] = s
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func fmtRows(rows [][]any) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%#v\n", r)
	}
	return b.String()
}

// sameValue compares rendered values; NaN equals NaN.
func sameValue(a, b any) bool {
	fa, ok1 := a.(float64)
	fb, ok2 := b.(float64)
	if ok1 && ok2 && fa != fa && fb != fb {
		return true
	}
	return a == b
}

func checkRows(t *testing.T, got, want [][]any) {
	t.Helper()
	ok := len(got) == len(want)
	for r := 0; ok && r < len(got); r++ {
		if len(got[r]) != len(want[r]) {
			ok = false
			break
		}
		for i := range got[r] {
			if !sameValue(got[r][i], want[r][i]) {
				ok = false
			}
		}
	}
	if !ok {
		t.Errorf("rows:\n got %s\nwant %s", fmtRows(got), fmtRows(want))
	}
}

func checkRejects(t *testing.T, st Stats, want []Reject) {
	t.Helper()
	if st.Rejected != int64(len(want)) {
		t.Errorf("Rejected = %d, want %d (%v)", st.Rejected, len(want), st.Rejects)
		return
	}
	for i := range want {
		if i >= len(st.Rejects) {
			break
		}
		if st.Rejects[i] != want[i] {
			t.Errorf("reject %d:\n got %+v\nwant %+v", i, st.Rejects[i], want[i])
		}
	}
}

func strp(s string) *string { return &s }
