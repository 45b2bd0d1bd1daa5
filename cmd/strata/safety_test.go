package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDotDotTableKeepsDataDir is the reproduction against the real binary
// through psql: a table named ".." is created, filled, handed off and dropped,
// and the data directory (segments, catalog, lake) is intact and still serves.
// Everything the server created is private to its user (0700 folders, 0600 files).
func TestDotDotTableKeepsDataDir(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startStrataOn(t, dataDir, freeAddr(t), "--handoff-interval", "100ms")
	host, port := "127.0.0.1", s.port()
	psql(t, host, port, "strata", "strata", "-c", `CREATE TABLE keep (ts timestamptz NOT NULL, x int) WITH (handoff_grace = '0s')`,
		"-c", `INSERT INTO keep VALUES (now() - interval '3 days', 1), (now(), 2)`,
		"-c", `CREATE TABLE ".." (ts timestamptz NOT NULL, x int) WITH (handoff_grace = '0s')`,
		"-c", `INSERT INTO ".." VALUES (now() - interval '3 days', 1)`)
	// Both tables hand their old row off to their lake folders.
	deadline := time.Now().Add(30 * time.Second)
	for {
		logs, _ := filepath.Glob(filepath.Join(dataDir, "lake", "*", "_delta_log", "*.json"))
		if len(logs) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no handoff within 30 s: %v", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	psql(t, host, port, "strata", "strata", "-c", `DROP TABLE ".."`)
	if got := psql(t, host, port, "strata", "strata", "-c", "SELECT count(*), sum(x) FROM keep"); got != "2|3" {
		t.Fatalf("keep after DROP TABLE \"..\": %q", got)
	}
	for _, want := range []string{"catalog", "segments", "lake"} {
		if _, err := os.Stat(filepath.Join(dataDir, want)); err != nil {
			t.Fatalf("%s is gone after DROP TABLE \"..\": %v", want, err)
		}
	}
	// Modes: every file and folder strata made is its user's alone.
	err := filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile (a segment merged away)
		}
		if fi.Mode()&fs.ModeSymlink == 0 && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, readable by others", p, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// COPY of a file outside the lake roots is refused, and says where files may be.
	out, err := exec.Command("psql", "-h", host, "-p", port, "-U", "strata", "-d", "strata", "-X", "-c", "COPY keep FROM '/etc/passwd'").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "outside the lake roots") || !strings.Contains(string(out), "HINT") || strings.Contains(string(out), "root:") {
		t.Fatalf("COPY FROM '/etc/passwd': %v\n%s", err, out)
	}
}
