package sql

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/store"
)

// TestPathAttacksThroughSQL: what a client can try with names and paths in SQL,
// against a data directory with the default lake root (<data dir>/lake). Each
// attempt is refused (42501 naming the roots) or harmless, and the data
// directory and a file beside it are intact afterwards.
func TestPathAttacksThroughSQL(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "data")
	secret := filepath.Join(parent, "secret.csv")
	if err := os.WriteFile(secret, []byte("2024-01-01 00:00:00+00,top-secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := Open(st, Options{}).NewSession("strata", "strata")
	mustExec(t, s, "CREATE TABLE keep (ts timestamptz NOT NULL, x int) WITH (handoff_grace = '0s')")
	mustExec(t, s, "INSERT INTO keep VALUES (now() - interval '3 days', 1), (now(), 2)")
	if _, err := st.Handoff(t.Context(), "keep", farFuture); err != nil {
		t.Fatal(err)
	}

	// The reproduction: a table named "..", filled, handed off, dropped.
	for _, name := range []string{"..", ".", "/", "a/../../b", "../../..", "lake", "segments"} {
		q := quoteIdent(name)
		mustExec(t, s, "CREATE TABLE "+q+" (ts timestamptz NOT NULL, x int) WITH (handoff_grace = '0s')")
		mustExec(t, s, "INSERT INTO "+q+" VALUES (now() - interval '3 days', 1)")
		if _, err := st.Handoff(t.Context(), name, farFuture); err != nil {
			t.Fatalf("handoff %q: %v", name, err)
		}
		mustExec(t, s, "DROP TABLE "+q)
		if got := collect(t, mustExec(t, s, "SELECT count(*), sum(x) FROM keep")); got[0][0] != "2" || got[0][1] != "3" {
			t.Fatalf("after DROP TABLE %q: keep has %v", name, got)
		}
	}

	outsideCode := func(q string) {
		t.Helper()
		e := wantCode(t, s, q, sqlstate.InsufficientPrivilege)
		if !strings.Contains(e.Hint, filepath.Join(dir, "lake")) && !strings.Contains(e.Hint, "lake") {
			t.Errorf("%s: hint %q does not name the roots", q, e.Hint)
		}
		if strings.Contains(e.Error()+e.Detail+e.Hint, "top-secret") {
			t.Errorf("%s: the error shows the file: %v", q, e)
		}
	}
	for _, p := range []string{secret, "../secret.csv", "/etc/passwd", "lake/../../secret.csv", "/proc/self/environ"} {
		outsideCode("COPY keep FROM '" + p + "' WITH (FORMAT csv)")
	}
	for _, p := range []string{"/", "..", parent, dir, "/etc", "s3://bucket/x"} {
		outsideCode("SELECT count(*) FROM delta_scan('" + p + "')")
		outsideCode("CREATE EXTERNAL TABLE e LOCATION '" + p + "'")
		outsideCode("CREATE TABLE l (ts timestamptz NOT NULL) WITH (lake_path = '" + p + "')")
	}
	// A symlink in the root that leads out.
	link := filepath.Join(dir, "lake", "out")
	if err := os.Symlink(parent, link); err != nil {
		t.Fatal(err)
	}
	outsideCode("COPY keep FROM '" + filepath.Join(link, "secret.csv") + "' WITH (FORMAT csv)")
	outsideCode("SELECT count(*) FROM delta_scan('" + link + "')")

	wantCode(t, s, "CREATE TABLE \"nul\x00\" (ts timestamptz NOT NULL)", sqlstate.SyntaxError) // the grammar ends the name at NUL
	if _, err := os.Stat(secret); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, mustExec(t, s, "SELECT count(*) FROM keep")); got[0][0] != "2" {
		t.Fatalf("keep has %v rows", got)
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
