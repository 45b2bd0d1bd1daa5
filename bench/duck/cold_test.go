//go:build !nostrata

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/bench"
)

// TestCold runs the -cold comparison end to end on 50,000 events: strata entirely
// handed off to the lake against DuckDB over the same Parquet files, and fails on
// any error or mismatch.
func TestCold(t *testing.T) {
	const events = 50_000
	var out bytes.Buffer
	rep, err := runCold(context.Background(), config{
		events: events, runs: 1, seed: 1, batch: 20_000, threads: 2, strata: true, cold: true, out: &out,
	})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.queries) != len(bench.Queries) {
		t.Fatalf("%d queries ran, the suite has %d", len(rep.queries), len(bench.Queries))
	}
	if rep.failures > 0 {
		t.Fatalf("%d queries failed or differ (see the log above)", rep.failures)
	}
	if rep.handoff.rows != events || rep.lakeFiles == 0 || rep.lakeBytes <= 0 {
		t.Fatalf("handoff %+v, %d lake files of %d bytes", rep.handoff, rep.lakeFiles, rep.lakeBytes)
	}
	// Every first run read the lake cold, straight from the Parquet files: no
	// query waited for a lake file to be materialized in the cache.
	for _, q := range rep.queries {
		if q.converted != 0 {
			t.Errorf("%s: its first run materialized %d lake files", q.name, q.converted)
		}
	}
	if !strings.Contains(rep.duckSchema, "timestamp TIMESTAMP WITH TIME ZONE") {
		t.Fatalf("DuckDB sees %s", rep.duckSchema)
	}
}

// TestJSONLineBytes checks that jsonLineBytes encodes the events GenerateColumns
// generates: the same count, and each line decodes to the row of the columns.
func TestJSONLineBytes(t *testing.T) {
	for _, n := range []int{0, 1, 500} {
		cols := bench.GenerateColumns(7, n)
		g := bench.NewGenerator(7, bench.DefaultStart, bench.DefaultEnd, bench.DefaultUsers, bench.DefaultProducts)
		g.Ordered(n)
		var total int64
		for i := range n {
			line := g.AppendJSON(nil)
			total += int64(len(line)) + 1
			var e struct {
				UserID    string  `json:"user_id"`
				Timestamp string  `json:"timestamp"`
				Price     float64 `json:"price"`
			}
			if err := json.Unmarshal(line, &e); err != nil {
				t.Fatalf("line %d: %v: %s", i, err, line)
			}
			ts, err := time.Parse(time.RFC3339Nano, e.Timestamp)
			if err != nil {
				t.Fatal(err)
			}
			if e.UserID != cols.Cols[bench.ColUserID].String[i] || ts.UnixMicro() != cols.Cols[bench.ColTimestamp].Int64[i] ||
				e.Price != cols.Cols[bench.ColPrice].Float64[i] {
				t.Fatalf("event %d: JSON %s, columns %s %d %v", i, line, cols.Cols[bench.ColUserID].String[i],
					cols.Cols[bench.ColTimestamp].Int64[i], cols.Cols[bench.ColPrice].Float64[i])
			}
		}
		if got := jsonLineBytes(7, n); got != total {
			t.Fatalf("n=%d: jsonLineBytes %d, lines total %d", n, got, total)
		}
	}
}
