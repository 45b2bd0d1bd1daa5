package http

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

func testStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	schema := storage.Schema{Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "v", Type: storage.TypeInt64, SQLType: "bigint"},
	}}
	if _, err := st.CreateTable(catalog.TableDef{Name: "t", Schema: schema, Granularity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	return st
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := httptestClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return string(body)
}

// TestMetrics scrapes /metrics after some statements and a head append: the
// values are there, and Prometheus's own promtool accepts the exposition.
func TestMetrics(t *testing.T) {
	st := testStore(t)
	cols := storage.NewColumns(&storage.Schema{Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "v", Type: storage.TypeInt64, SQLType: "bigint"},
	}}, 3)
	for i := 0; i < 3; i++ {
		cols.Cols[0].Int64 = append(cols.Cols[0].Int64, 1_700_000_000_000_000+int64(i))
		cols.Cols[1].Int64 = append(cols.Cols[1].Int64, int64(i))
	}
	cols.Len = 3
	// Five rows persisted and handed off to the lake, three left in the head.
	if err := st.Append(context.Background(), "t", cols); err != nil {
		t.Fatal(err)
	}
	cols2 := storage.NewColumns(cols.Schema, 2)
	cols2.Cols[0].Int64 = []int64{1_700_000_000_000_010, 1_700_000_000_000_011}
	cols2.Cols[1].Int64 = []int64{10, 11}
	cols2.Len = 2
	if err := st.Append(context.Background(), "t", cols2); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Handoff(context.Background(), "t", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendHead("t", cols); err != nil {
		t.Fatal(err)
	}
	// Two rows of a partition this process follows (not in strata_head_rows).
	st.SetOwned("t", []string{})
	cols2.Cols[1].Int64 = []int64{20, 21}
	if err := st.AppendFollow("t", "topic/1", cols2, []int64{7, 8}); err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(Sources{Store: st})
	m.SetConns(func() int { return 2 })
	m.ObserveStatement(3*time.Millisecond, "00000")
	m.ObserveStatement(time.Millisecond, "00000")
	m.ObserveStatement(time.Millisecond, "42P01")
	srv := httptest.NewServer(Handler(Config{Store: st, Metrics: m}))
	defer srv.Close()
	out := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`strata_statements_total{sqlstate="00000"} 2`,
		`strata_statements_total{sqlstate="42P01"} 1`,
		`strata_statement_duration_seconds_count 3`,
		`strata_head_rows{table="t"} 3`,
		`strata_follow_head_rows{table="t"} 2`,
		`strata_follow_head_bytes{table="t"} `,
		`strata_segments{table="t"} 0`,
		`strata_handoffs_total 1`,
		`strata_handoff_rows_total 5`,
		`strata_lake_version{table="t"} 1`,
		`strata_lake_files{table="t"} 1`,
		`strata_tables 1`,
		`strata_connections 2`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found (Debian package prometheus)")
		}
		t.Skip("promtool not found: apt-get install prometheus")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, stderr.String())
	}
}
