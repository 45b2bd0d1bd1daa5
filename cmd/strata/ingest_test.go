package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/internal/pgtest"
)

// TestIngestRejectsBadLines loads a JSON-lines file with malformed lines mixed in
// through `strata ingest`: the good lines load, each bad one is reported with its
// line number, and per-event counts equal those computed from the file here.
func TestIngestRejectsBadLines(t *testing.T) {
	pgtest.Need(t, "psql", "psql")
	dir := t.TempDir()
	s := startStrata(t, filepath.Join(dir, "data"))
	psql(t, "127.0.0.1", s.port(), "strata", "strata", "-c", bench.CreateTableSQL)

	gen := bench.NewGenerator(7, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), 100, 50)
	bad := map[int]string{ // line number → content
		3:   `{"user_id": "u1", "event": "view"`,                         // truncated JSON
		10:  `{"timestamp": "not a time", "event": "view"}`,              // bad timestamp
		11:  `{"event": "view"}`,                                         // no time
		50:  `[1, 2, 3]`,                                                 // not an object
		51:  `{"timestamp": "2026-11-01T00:00:00Z", "quantity": "many"}`, // bad integer
		400: strings.Repeat("x", 1<<20),                                  // 1 MiB of garbage
	}
	wantEvents := map[string]int{}
	var b strings.Builder
	good := 0
	for line := 1; line <= 1000; line++ {
		if s, ok := bad[line]; ok {
			b.WriteString(s + "\n")
			continue
		}
		ev := gen.AppendJSON(nil)
		var m struct{ Event string }
		if err := json.Unmarshal(ev, &m); err != nil {
			t.Fatal(err)
		}
		wantEvents[m.Event]++
		good++
		b.Write(ev)
		b.WriteByte('\n')
	}
	path := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(strataBin, "ingest", "--table", "user_behavior", "--addr", s.addr, path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("strata ingest: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("loaded %d rows", good)) {
		t.Errorf("ingest output does not report %d rows:\n%s", good, out)
	}
	for _, line := range []int{3, 10, 11, 50, 51, 400} {
		if !strings.Contains(string(out), fmt.Sprintf("line %d", line)) {
			t.Errorf("ingest output does not name bad line %d:\n%.2000s", line, out)
		}
	}
	got := psql(t, "127.0.0.1", s.port(), "strata", "strata", "-c", "SELECT event, count(*) FROM user_behavior GROUP BY event ORDER BY event")
	var want []string
	for e, n := range wantEvents {
		want = append(want, fmt.Sprintf("%s|%d", e, n))
	}
	sort.Strings(want)
	if got != strings.Join(want, "\n") {
		t.Errorf("per-event counts:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
