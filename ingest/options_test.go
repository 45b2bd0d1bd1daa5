package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
)

func TestSeedEventLoads(t *testing.T) {
	in := `{"user_id":"u123","event":"click","timestamp":"2023-10-01T12:00:00","product_id":"p456"}` + "\n"
	res := decodeAll(t, eventSchema(), Options{Format: JSON}, in)
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, [][]any{{noon, "u123", "click", "p456", null, null, null, null, null, null, null, null}})
	checkRejects(t, res.stats, nil)
}

func TestColumnList(t *testing.T) {
	// COPY t (b, ts, s): i and f are NULL.
	opts := Options{Columns: []string{"b", "ts", "s"}}
	for _, tc := range []struct {
		format Format
		input  string
	}{
		{Text, "t\t2023-10-01\tx\nf\t2023-10-01\n"},
		{CSV, "t,2023-10-01,x\nf,2023-10-01\n"},
		{JSON, `{"b":true,"ts":"2023-10-01","s":"x","i":5}` + "\n" + `{"b":false,"ts":"2023-10-01","f":1}` + "\n"},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			o := opts
			o.Format = tc.format
			res := decodeAll(t, testSchema(), o, tc.input)
			if res.err != nil {
				t.Fatal(res.err)
			}
			want := [][]any{{day1, "x", null, null, true}}
			var rejects []Reject
			if tc.format == JSON { // unlisted fields are ignored, missing ones NULL
				want = append(want, []any{day1, null, null, null, false})
			} else {
				rejects = []Reject{{2, `line 2: missing data for column "s"`}}
			}
			checkRows(t, res.rows, want)
			checkRejects(t, res.stats, rejects)
		})
	}
}

func TestInvalidOptions(t *testing.T) {
	notNull := testSchema()
	notNull.Columns[1].NotNull = true
	for _, tc := range []struct {
		name   string
		schema *storage.Schema
		opts   Options
	}{
		{"unknown column", testSchema(), Options{Format: CSV, Columns: []string{"ts", "nope"}}},
		{"duplicate column", testSchema(), Options{Format: CSV, Columns: []string{"ts", "ts"}}},
		{"time column missing", testSchema(), Options{Format: JSON, Columns: []string{"s"}}},
		{"NOT NULL column missing", notNull, Options{Format: CSV, Columns: []string{"ts"}}},
		{"empty column list", testSchema(), Options{Format: CSV, Columns: []string{}}},
		{"no format", testSchema(), Options{}},
		{"newline delimiter", testSchema(), Options{Format: Text, Delimiter: '\n'}},
		{"backslash delimiter", testSchema(), Options{Format: Text, Delimiter: '\\'}},
		{"quote is delimiter", testSchema(), Options{Format: CSV, Delimiter: '"'}},
		{"invalid schema", &storage.Schema{}, Options{Format: CSV}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			_, err := Decode(context.Background(), strings.NewReader("2023-10-01\n"), tc.schema, tc.opts,
				func(*storage.Columns) error { called = true; return nil })
			if !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("err = %v, want ErrInvalidOptions", err)
			}
			if called {
				t.Error("sink called")
			}
		})
	}
}

// genText returns n text-format lines, line k (1-based) holding s = "r<k>", i = k,
// and every line whose number is a multiple of 7 malformed.
func genText(n int) string {
	var b strings.Builder
	for k := 1; k <= n; k++ {
		if k%7 == 0 {
			fmt.Fprintf(&b, "2023-10-01\tr%d\tnot-a-number\t1\tt\n", k)
			continue
		}
		fmt.Fprintf(&b, "2023-10-01\tr%d\t%d\t0.5\tt\n", k, k)
	}
	return b.String()
}

func TestBatchingAndRejectLimit(t *testing.T) {
	// Batches of BatchRows rows (lines 7, 14, 21 and 28 are rejected).
	res := decodeAll(t, testSchema(), Options{Format: Text, BatchRows: 4, MaxRejects: 2}, genText(30))
	if res.err != nil {
		t.Fatal(res.err)
	}
	var want [][]any
	for k := 1; k <= 30; k++ {
		if k%7 != 0 {
			want = append(want, []any{day1, fmt.Sprintf("r%d", k), int64(k), 0.5, true})
		}
	}
	checkRows(t, res.rows, want)
	if fmt.Sprint(res.batches) != "[4 4 4 4 4 4 2]" {
		t.Errorf("batches = %v, want [4 4 4 4 4 4 2]", res.batches)
	}
	if res.stats.Rows != 26 || res.stats.Rejected != 4 || len(res.stats.Rejects) != 2 ||
		res.stats.Rejects[0].Line != 7 || res.stats.Rejects[1].Line != 14 {
		t.Errorf("stats = %+v", res.stats)
	}
	res = decodeAll(t, testSchema(), Options{Format: Text, MaxRejects: -1}, genText(30))
	if res.stats.Rejected != 4 || len(res.stats.Rejects) != 0 {
		t.Errorf("MaxRejects -1: stats = %+v", res.stats)
	}
}

func TestSinkError(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	st, err := Decode(context.Background(), strings.NewReader(genText(30)), testSchema(), Options{Format: Text, BatchRows: 5},
		func(*storage.Columns) error {
			calls++
			if calls == 2 {
				return boom
			}
			return nil
		})
	if !errors.Is(err, boom) || calls != 2 || st.Rows != 5 {
		t.Errorf("err = %v, calls = %d, rows = %d; want boom, 2, 5", err, calls, st.Rows)
	}
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestReadError(t *testing.T) {
	disk := errors.New("disk on fire")
	res := decodeReader(t, context.Background(), testSchema(), Options{Format: Text},
		&failingReader{r: strings.NewReader(genText(3)), err: disk})
	if !errors.Is(res.err, disk) {
		t.Fatalf("err = %v, want %v", res.err, disk)
	}
	if len(res.rows) != 0 {
		t.Errorf("rows delivered after a read error: %d", len(res.rows))
	}
}

// endless yields text lines forever.
type endless struct{ line []byte }

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n+len(e.line) <= len(p) {
		n += copy(p[n:], e.line)
	}
	return n, nil
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Decode(ctx, strings.NewReader(genText(3)), testSchema(), Options{Format: Text}, func(*storage.Columns) error {
		t.Error("sink called after cancel")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}

	// Cancelled while decoding an endless input: Decode must return.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	batches := 0
	st, err := Decode(ctx, &endless{line: []byte("2023-10-01\tx\t1\t1\tt\n")}, testSchema(), Options{Format: Text, BatchRows: 1000},
		func(*storage.Columns) error {
			batches++
			if batches == 3 {
				cancel()
			}
			return nil
		})
	if !errors.Is(err, context.Canceled) || st.Rows != 3000 {
		t.Errorf("err = %v, rows = %d; want context.Canceled, 3000", err, st.Rows)
	}

	// Cancelled inside an endless line.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = Decode(ctx, &endless{line: []byte("xxxxxxxx")}, testSchema(), Options{Format: JSON}, func(*storage.Columns) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("endless line: err = %v, want context.DeadlineExceeded", err)
	}
}

func TestLongLines(t *testing.T) {
	good := "2023-10-01\tok\t1\t1\tt\n"
	garbage := bytes.Repeat([]byte{'x', 0xff, '\t', '"', '\\', '{'}, (1<<20)/6) // ~1 MiB
	for _, format := range []Format{Text, CSV, JSON} {
		t.Run(format.String(), func(t *testing.T) {
			g := good
			if format == CSV {
				g = strings.ReplaceAll(good, "\t", ",")
			} else if format == JSON {
				g = `{"ts":"2023-10-01","s":"ok","i":1,"f":1,"b":true}` + "\n"
			}
			in := g + string(garbage) + "\n" + g
			res := decodeAll(t, testSchema(), Options{Format: format}, in)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.stats.Rows != 2 || res.stats.Rejected != 1 || res.stats.Rejects[0].Line != 2 {
				t.Errorf("stats = %+v", res.stats)
			}
			// Over the limit: rejected as too long, the next line still loads.
			res = decodeAll(t, testSchema(), Options{Format: format, MaxLineBytes: 1000}, in+g)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.stats.Rows != 3 || res.stats.Rejected != 1 || res.stats.Rejects[0] != (Reject{2, "line 2: line too long (more than 1000 bytes)"}) {
				t.Errorf("stats = %+v", res.stats)
			}
		})
	}
	// A line exactly at the limit passes (with or without CR), one byte more does not.
	line := "2023-10-01\t" + strings.Repeat("a", 100) + "\t1\t1\tt"
	for _, tc := range []struct {
		in       string
		rejected int64
	}{
		{line + "\n", 0}, {line + "\r\n", 0}, {line, 0}, {line + "a\n", 1}, {line + "a", 1},
	} {
		res := decodeAll(t, testSchema(), Options{Format: Text, MaxLineBytes: len(line)}, tc.in)
		if res.stats.Rejected != tc.rejected || res.stats.Rows != 1-tc.rejected {
			t.Errorf("%q: stats = %+v", tc.in, res.stats)
		}
	}
}

func TestDefaultLineLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 2x17 MiB")
	}
	huge := `{"ts":"2023-10-01","s":"` + strings.Repeat("a", DefaultMaxLineBytes) + `"}`
	in := huge + "\n" + `{"ts":"2023-10-01","s":"ok"}` + "\n"
	res := decodeAll(t, testSchema(), Options{Format: JSON}, in)
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, [][]any{{day1, "ok", null, null, null}})
	checkRejects(t, res.stats, []Reject{{1, fmt.Sprintf("line 1: line too long (more than %d bytes)", DefaultMaxLineBytes)}})
	// A 16 MiB CSV record spread over lines is refused the same way.
	rec := "2023-10-01,\"" + strings.Repeat("abcdefg\n", DefaultMaxLineBytes/8) + "\",1,1,t\n2023-10-01,ok,1,1,t\n"
	res = decodeAll(t, testSchema(), Options{Format: CSV}, rec)
	if res.stats.Rows != 1 || res.stats.Rejected != 1 || res.stats.Rejects[0].Line != 1 {
		t.Errorf("csv stats = %+v", res.stats)
	}
}

// TestReuseBatches decodes with Options.Reuse handing back every batch the sink
// got, and requires the rows of decoding without it: a reused batch keeps no
// value and no NULL flag of its earlier rows (the first batches have NULLs in
// every nullable column, the later ones none, and the last is short).
func TestReuseBatches(t *testing.T) {
	var b strings.Builder
	for k := 1; k <= 23; k++ {
		if k <= 8 && k%2 == 0 {
			fmt.Fprintf(&b, "2023-10-01\t\\N\t\\N\t\\N\t\\N\n")
			continue
		}
		fmt.Fprintf(&b, "2023-10-01\tr%d\t%d\t0.5\tt\n", k, k)
	}
	input := b.String()
	want := decodeAll(t, testSchema(), Options{Format: Text, BatchRows: 4}, input)
	if want.err != nil {
		t.Fatal(want.err)
	}
	var free []*storage.Columns
	seen := map[*storage.Columns]bool{}
	reused := 0
	opts := Options{Format: Text, BatchRows: 4, Reuse: func() *storage.Columns {
		if len(free) == 0 {
			return nil
		}
		c := free[0]
		free = free[1:]
		return c
	}}
	var rows [][]any
	_, err := Decode(context.Background(), strings.NewReader(input), testSchema(), opts, func(c *storage.Columns) error {
		if err := c.Check(); err != nil {
			t.Fatalf("batch fails Check: %v", err)
		}
		if seen[c] {
			reused++
		}
		seen[c] = true
		rows = append(rows, renderRows(t, c)...)
		free = append(free, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, want.rows)
	if reused == 0 {
		t.Fatal("no batch was reused")
	}
}
