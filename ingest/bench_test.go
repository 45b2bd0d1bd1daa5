package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
)

const benchRows = 100_000

// genEvents writes n event lines of eventSchema in the given format.
func genEvents(n int, format Format) []byte {
	r := rand.New(rand.NewPCG(7, 11))
	events := []string{"view", "click", "add_to_cart", "purchase", "search"}
	categories := []string{"electronics", "books", "home", "toys", "garden", "sports"}
	brands := []string{"acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne"}
	countries := []string{"US", "DE", "FR", "GB", "JP", "BR", "IN"}
	devices := []string{"mobile", "desktop", "tablet"}
	referrers := []string{"google", "direct", "newsletter", "facebook", "bing"}
	base := time.Date(2023, 10, 1, 0, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	for i := range n {
		ts := base.Add(time.Duration(i) * 37 * time.Millisecond).Format("2006-01-02T15:04:05.000")
		vals := []string{
			ts,
			fmt.Sprintf("u%d", r.IntN(100000)),
			events[r.IntN(len(events))],
			fmt.Sprintf("p%d", r.IntN(5000)),
			fmt.Sprintf("s%08x", r.Uint32()),
			categories[r.IntN(len(categories))],
			brands[r.IntN(len(brands))],
			fmt.Sprintf("%.2f", r.Float64()*500),
			fmt.Sprint(1 + r.IntN(5)),
			countries[r.IntN(len(countries))],
			devices[r.IntN(len(devices))],
			referrers[r.IntN(len(referrers))],
		}
		switch format {
		case JSON:
			b.WriteByte('{')
			for k, c := range eventSchema().Columns {
				if k > 0 {
					b.WriteByte(',')
				}
				if c.Type == storage.TypeFloat64 || c.Type == storage.TypeInt64 {
					fmt.Fprintf(&b, "%q:%s", c.Name, vals[k])
				} else {
					fmt.Fprintf(&b, "%q:%q", c.Name, vals[k])
				}
			}
			b.WriteString("}\n")
		case CSV, Text:
			sep := byte(',')
			if format == Text {
				sep = '\t'
			}
			for k, v := range vals {
				if k > 0 {
					b.WriteByte(sep)
				}
				b.WriteString(v)
			}
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func benchDecode(b *testing.B, format Format) {
	in := genEvents(benchRows, format)
	schema := eventSchema()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for b.Loop() {
		st, err := Decode(context.Background(), bytes.NewReader(in), schema, Options{Format: format},
			func(*storage.Columns) error { return nil })
		if err != nil || st.Rows != benchRows {
			b.Fatalf("rows %d, err %v, %+v", st.Rows, err, st.Rejects)
		}
	}
	reportRates(b, start, cpu0)
}

func BenchmarkDecodeJSON(b *testing.B) { benchDecode(b, JSON) }
func BenchmarkDecodeCSV(b *testing.B)  { benchDecode(b, CSV) }
func BenchmarkDecodeText(b *testing.B) { benchDecode(b, Text) }

// BenchmarkEncodingJSONMap is the baseline the hand-written scanner is measured
// against: encoding/json into map[string]any per line, then the same coercion.
func BenchmarkEncodingJSONMap(b *testing.B) {
	in := genEvents(benchRows, JSON)
	schema := eventSchema()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	start, cpu0 := time.Now(), cpuTime()
	for b.Loop() {
		cols := storage.NewColumns(schema, 4096)
		sc := bufio.NewScanner(bytes.NewReader(in))
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				b.Fatal(err)
			}
			for i, c := range schema.Columns {
				v := m[c.Name]
				d := &cols.Cols[i]
				switch c.Type {
				case storage.TypeTimestamp:
					s, _ := v.(string)
					t, err := time.Parse("2006-01-02T15:04:05", s)
					if err != nil {
						b.Fatal(err)
					}
					d.Int64 = append(d.Int64, t.UnixMicro())
				case storage.TypeString:
					s, _ := v.(string)
					d.String = append(d.String, s)
				case storage.TypeFloat64:
					f, _ := v.(float64)
					d.Float64 = append(d.Float64, f)
				case storage.TypeInt64:
					f, _ := v.(float64)
					d.Int64 = append(d.Int64, int64(f))
				}
			}
			cols.Len++
			if cols.Len == benchRows {
				cols = storage.NewColumns(schema, 4096)
			}
		}
	}
	reportRates(b, start, cpu0)
}

// BenchmarkEncodingJSONStruct: encoding/json into a typed struct, its fastest use.
func BenchmarkEncodingJSONStruct(b *testing.B) {
	type event struct {
		Timestamp string  `json:"timestamp"`
		UserID    string  `json:"user_id"`
		Event     string  `json:"event"`
		ProductID string  `json:"product_id"`
		SessionID string  `json:"session_id"`
		Category  string  `json:"category"`
		Brand     string  `json:"brand"`
		Price     float64 `json:"price"`
		Quantity  int64   `json:"quantity"`
		Country   string  `json:"country"`
		Device    string  `json:"device"`
		Referrer  string  `json:"referrer"`
	}
	in := genEvents(benchRows, JSON)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	start, cpu0 := time.Now(), cpuTime()
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(in))
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportRates(b, start, cpu0)
}

// cpuTime is the process's user+system CPU time. The benchmark machine is shared,
// so rows per CPU-second is reported next to wall-clock rows/s: it moves less when
// other processes compete for the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRates(b *testing.B, start time.Time, cpu0 time.Duration) {
	rows := float64(b.N) * benchRows
	b.ReportMetric(rows/time.Since(start).Seconds(), "rows/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(rows/cpu.Seconds(), "rows/cpu-s")
	}
}

// Per-record benchmarks, as a Kafka consumer decodes: one op is one record of
// eventSchema (~300 bytes), so ns/op is ns/record and allocs/op allocs/record. The
// records come from genEvents; the decoder appends to a caller-owned Columns that
// is reset every 4096 rows. The encoding/json baselines only unmarshal (no column
// conversion) unless their name says ToColumns, so they are lower bounds of what
// decoding with encoding/json would cost.

const benchRecords = 4096

func benchRecordSetup(b *testing.B) [][]byte {
	recs := eventRecords(benchRecords)
	n := 0
	for _, r := range recs {
		n += len(r)
	}
	b.SetBytes(int64(n / len(recs)))
	b.ReportAllocs()
	return recs
}

// resetColumns empties c for reuse, keeping its memory.
func resetColumns(c *storage.Columns) {
	for i := range c.Cols {
		d := &c.Cols[i]
		d.Int64, d.Float64, d.Bool, d.String = d.Int64[:0], d.Float64[:0], d.Bool[:0], d.String[:0]
		if d.Null != nil {
			d.Null = d.Null[:0]
		}
	}
	c.Len = 0
}

func BenchmarkRecordDecoder(b *testing.B) {
	recs := benchRecordSetup(b)
	schema := eventSchema()
	d, err := NewRecordDecoder(schema, RecordOptions{})
	if err != nil {
		b.Fatal(err)
	}
	dst := storage.NewColumns(schema, len(recs))
	k := 0
	for b.Loop() {
		if k == len(recs) {
			k = 0
			resetColumns(dst)
		}
		if err := d.Decode(recs[k], dst); err != nil {
			b.Fatal(err)
		}
		k++
	}
}

func BenchmarkRecordEncodingJSONMap(b *testing.B) {
	recs := benchRecordSetup(b)
	k := 0
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(recs[k%len(recs)], &m); err != nil {
			b.Fatal(err)
		}
		k++
	}
}

// benchEvent is the struct an encoding/json consumer of the 12 e-commerce fields
// would declare.
type benchEvent struct {
	Timestamp string  `json:"timestamp"`
	UserID    string  `json:"user_id"`
	Event     string  `json:"event"`
	ProductID string  `json:"product_id"`
	SessionID string  `json:"session_id"`
	Category  string  `json:"category"`
	Brand     string  `json:"brand"`
	Price     float64 `json:"price"`
	Quantity  int64   `json:"quantity"`
	Country   string  `json:"country"`
	Device    string  `json:"device"`
	Referrer  string  `json:"referrer"`
}

func BenchmarkRecordEncodingJSONStruct(b *testing.B) {
	recs := benchRecordSetup(b)
	k := 0
	for b.Loop() {
		var e benchEvent
		if err := json.Unmarshal(recs[k%len(recs)], &e); err != nil {
			b.Fatal(err)
		}
		k++
	}
}

// BenchmarkRecordEncodingJSONStructToColumns does what RecordDecoder does with
// encoding/json: unmarshal into the struct, parse the time, append to columns (no
// NULL handling, no coercions, no validation beyond encoding/json's).
func BenchmarkRecordEncodingJSONStructToColumns(b *testing.B) {
	recs := benchRecordSetup(b)
	dst := storage.NewColumns(eventSchema(), len(recs))
	k := 0
	for b.Loop() {
		if k == len(recs) {
			k = 0
			resetColumns(dst)
		}
		var e benchEvent
		if err := json.Unmarshal(recs[k], &e); err != nil {
			b.Fatal(err)
		}
		t, err := time.Parse("2006-01-02T15:04:05.999999999", e.Timestamp)
		if err != nil {
			b.Fatal(err)
		}
		c := dst.Cols
		c[0].Int64 = append(c[0].Int64, t.UnixMicro())
		for i, s := range [...]string{1: e.UserID, 2: e.Event, 3: e.ProductID, 4: e.SessionID, 5: e.Category, 6: e.Brand, 9: e.Country, 10: e.Device, 11: e.Referrer} {
			if i != 0 {
				c[i].String = append(c[i].String, s)
			}
		}
		c[7].Float64 = append(c[7].Float64, e.Price)
		c[8].Int64 = append(c[8].Int64, e.Quantity)
		dst.Len++
		k++
	}
	if err := dst.Check(); err != nil {
		b.Fatal(err)
	}
}
