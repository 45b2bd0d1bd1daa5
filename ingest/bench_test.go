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
