package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage"
)

// choppy returns its input in reads of 1 to max bytes, as a COPY's CopyData
// messages may split it anywhere (inside a field, a quoted newline, a CRLF).
type choppy struct {
	b   []byte
	rng *rand.Rand
	max int
}

func (c *choppy) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.b), 1+c.rng.IntN(c.max))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// genMessy makes n records of testSchema in format f with the things that make
// splitting a stream into records hard: quoted fields with newlines and doubled
// quotes (csv), escaped newlines and tabs (text), CRLF endings, empty lines, and
// bad records of every kind the framer or a worker rejects (a bad number, a
// missing field, a too-long line, a NULL time) anywhere, so that rejects fall in
// late jobs too.
func genMessy(rng *rand.Rand, f Format, n int) []byte {
	var b bytes.Buffer
	for k := range n {
		s := fmt.Sprintf("v%d", rng.IntN(50))
		switch rng.IntN(6) {
		case 0:
			if f == CSV {
				s = "\"a,\"\"b\"\"\nc\r\nd\""
			} else {
				s = `a\nb\tc\\` + "\\\nd"
			}
		case 1:
			s = "" // NULL in csv
		}
		num := fmt.Sprint(k)
		ts := fmt.Sprintf("2023-10-01 12:%02d:%02d", k/60%60, k%60)
		switch rng.IntN(15) {
		case 0:
			num = "x" + num // a worker's reject
		case 1:
			ts = "" // NULL time: a worker's reject
			if f == Text {
				ts = `\N`
			}
		case 2:
			s = strings.Repeat("y", 300) // too long: the framer's reject
		}
		d := ","
		if f == Text {
			d = "\t"
		}
		fields := []string{ts, s, num, "0.5", "t"}
		if rng.IntN(30) == 0 {
			fields = fields[:4] // missing data
		}
		b.WriteString(strings.Join(fields, d))
		if rng.IntN(5) == 0 {
			b.WriteByte('\r')
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestParallelSameAsSequential decodes messy csv and text inputs, fed in random
// small reads, with one goroutine and with workers, and requires the same rows in
// the same order and the same rejects (line numbers, reasons, counts).
func TestParallelSameAsSequential(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, f := range []Format{CSV, Text} {
		for round := range 20 {
			in := genMessy(rng, f, 1+rng.IntN(400))
			if round%4 == 1 {
				in = append(in, "\\.\nignored after the end marker\n"...)
			}
			if round%4 == 2 && f == CSV {
				in = append(in, "2023-10-01,\"unterminated\n"...)
			}
			opts := Options{Format: f, BatchRows: 1 + rng.IntN(40), MaxRejects: 1 + rng.IntN(50), MaxLineBytes: 200, Header: round%3 == 0}
			decode := func(workers int) result {
				o := opts
				o.Workers = workers
				return decodeReader(t, context.Background(), testSchema(), o, &choppy{b: in, rng: rand.New(rand.NewPCG(uint64(round), 1)), max: 64})
			}
			seq, par := decode(1), decode(2+round%3)
			if seq.err != nil || par.err != nil {
				t.Fatalf("%s round %d: errors %v, %v", f, round, seq.err, par.err)
			}
			if seq.stats.Rejected == 0 || len(seq.rows) == 0 {
				t.Fatalf("%s round %d: %d rows, %d rejected: the input tests nothing", f, round, len(seq.rows), seq.stats.Rejected)
			}
			if fmtRows(seq.rows) != fmtRows(par.rows) {
				t.Fatalf("%s round %d: rows differ:\nsequential:\n%s\nparallel:\n%s", f, round, fmtRows(seq.rows), fmtRows(par.rows))
			}
			if !reflect.DeepEqual(seq.stats, par.stats) {
				t.Fatalf("%s round %d: stats differ:\nsequential %+v\nparallel   %+v", f, round, seq.stats, par.stats)
			}
			for _, n := range par.batches {
				if n > opts.BatchRows {
					t.Fatalf("%s round %d: a batch of %d rows, BatchRows %d", f, round, n, opts.BatchRows)
				}
			}
		}
	}
}

// TestParallelLateErrors: a sink error on a late batch stops the parallel decoder
// with that error and the rows of the batches before it; a reject in the last job
// has its own line number.
func TestParallelLateErrors(t *testing.T) {
	var b strings.Builder
	const n = 1000
	for k := 1; k <= n; k++ {
		if k == n-1 {
			fmt.Fprintf(&b, "2023-10-01,late,oops,0.5,t\n")
			continue
		}
		fmt.Fprintf(&b, "2023-10-01,r%d,%d,0.5,t\n", k, k)
	}
	in := b.String()
	res := decodeAll(t, testSchema(), Options{Format: CSV, BatchRows: 100, Workers: 2}, in)
	if res.err != nil || res.stats.Rows != n-1 || res.stats.Rejected != 1 || res.stats.Rejects[0].Line != n-1 ||
		!strings.Contains(res.stats.Rejects[0].Reason, `"oops"`) {
		t.Fatalf("err %v, stats %+v", res.err, res.stats)
	}
	boom := errors.New("boom")
	calls := 0
	st, err := Decode(context.Background(), strings.NewReader(in), testSchema(), Options{Format: CSV, BatchRows: 100, Workers: 3},
		func(c *storage.Columns) error {
			calls++
			if calls == 8 {
				return boom
			}
			return nil
		})
	if !errors.Is(err, boom) || calls != 8 || st.Rows != 700 {
		t.Fatalf("err %v, %d calls, %d rows; want boom, 8, 700", err, calls, st.Rows)
	}
}

// TestParallelDictionaries: with workers, each batch's string columns carry a sorted
// dictionary (storage.ColumnData.Dict) and ids naming each row's value, which is
// what lets the segment writer skip hashing and sorting.
func TestParallelDictionaries(t *testing.T) {
	for _, workers := range []int{2, 3} {
		var b strings.Builder
		for k := range 500 {
			fmt.Fprintf(&b, "2023-10-01,u%d,%d,0.5,t\n", (k*7919)%37, k)
		}
		b.WriteString("2023-10-01,,1,0.5,t\n") // NULL
		batches := 0
		_, err := Decode(context.Background(), strings.NewReader(b.String()), testSchema(), Options{Format: CSV, BatchRows: 200, Workers: workers},
			func(c *storage.Columns) error {
				batches++
				d := &c.Cols[1]
				if len(d.IDs) != c.Len || len(d.Dict) == 0 || len(d.Dict) > 37 {
					return fmt.Errorf("%d ids, %d values for %d rows", len(d.IDs), len(d.Dict), c.Len)
				}
				for i := 1; i < len(d.Dict); i++ {
					if d.Dict[i-1] >= d.Dict[i] {
						return fmt.Errorf("dictionary not strictly sorted: %q", d.Dict)
					}
				}
				for r := range c.Len {
					if !c.IsNull(1, r) && d.Dict[d.IDs[r]] != d.String[r] {
						return fmt.Errorf("row %d: id %d names %q, value %q", r, d.IDs[r], d.Dict[d.IDs[r]], d.String[r])
					}
				}
				return nil
			})
		if err != nil || batches != 3 {
			t.Fatalf("workers %d: %v after %d batches", workers, err, batches)
		}
	}
}
