package strata_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/stratadb/strata"

// layers lists, for each package prefix (most specific first), the strata packages it
// may import besides its own subtree: "x" allows exactly package x, "x/..." allows x and
// everything under it. Dependencies point down: server → sql → engine → storage,
// ingest → storage; nothing but cmd imports server or cmd.
var layers = []struct {
	pkg   string
	allow []string
}{
	{"storage/lakecat", []string{"storage", "storage/catalog", "storage/lake", "storage/objstore/...", "storage/store"}},
	{"storage/store", []string{"storage", "storage/segment", "storage/catalog", "storage/realtime", "storage/rollup", "storage/lake", "storage/lakesrc", "storage/objstore", "storage/roots"}},
	{"storage/lakesrc", []string{"storage", "storage/lake", "storage/segment"}},
	{"storage/lake", []string{"storage", "storage/objstore/..."}},
	{"storage/objstore", []string{"storage"}},
	{"storage/realtime", []string{"storage", "storage/catalog", "storage/segment"}},
	{"storage/catalog", []string{"storage"}},
	{"storage/rollup", []string{"storage", "storage/catalog"}},
	{"storage/segment", []string{"storage"}},
	{"storage/roots", nil},
	{"storage", nil},
	{"internal", nil},
	{"engine", []string{"storage/..."}},
	{"ingest", []string{"storage/..."}},
	{"sql", []string{"engine/...", "storage/...", "ingest/..."}},
	{"server", []string{"sql/...", "engine/...", "storage/...", "ingest/..."}},
	{"bench", []string{"sql/...", "engine/...", "storage/...", "ingest/..."}},
	{"deploy", []string{"sql/...", "engine/...", "storage/...", "ingest/...", "bench/..."}},
	{"cmd", []string{"server/...", "sql/...", "engine/...", "storage/...", "ingest/...", "bench/..."}},
}

// layerOf returns the layer rule that governs pkg.
func layerOf(pkg string) string {
	for _, l := range layers {
		if within(pkg, l.pkg) {
			return l.pkg
		}
	}
	return ""
}

func within(pkg, prefix string) bool {
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
}

// allowed reports whether package from (a path relative to the module) may import
// to, and the layer rule that decided it.
func allowed(from, to string) (bool, string) {
	if within(to, from) {
		return true, from
	}
	// internal/ holds leaf packages that import no strata package (the SQLSTATE
	// registry, SCRAM, test support such as a private PostgreSQL server); any layer
	// may use them.
	if within(to, "internal") && !within(from, "internal") {
		return true, "internal"
	}
	for _, l := range layers {
		if !within(from, l.pkg) {
			continue
		}
		// Packages of one layer may use each other (bench/inproc uses bench);
		// storage's layers are split finer and listed one by one.
		if l.pkg != "storage" && layerOf(to) == l.pkg {
			return true, l.pkg
		}
		for _, a := range l.allow {
			if sub, ok := strings.CutSuffix(a, "/..."); ok && within(to, sub) || a == to {
				return true, l.pkg
			}
		}
		return false, l.pkg
	}
	return false, ""
}

func TestLayering(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			// bench/duck is its own module (it links DuckDB) and may import anything.
			if path == filepath.Join("bench", "duck") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		from := filepath.ToSlash(filepath.Dir(path))
		if from == "." {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module+"/") {
				continue
			}
			to := strings.TrimPrefix(p, module+"/")
			checked++
			if ok, layer := allowed(from, to); !ok {
				t.Errorf("%s imports %s: layer %q may not import it (dependencies point down: server → sql → engine → storage)", path, to, layer)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no strata imports found: the walk is broken")
	}
}

func TestLayeringRules(t *testing.T) {
	cases := []struct {
		from, to string
		ok       bool
	}{
		{"engine", "storage", true},
		{"engine", "storage/segment", true},
		{"engine", "sql", false},
		{"storage/segment", "engine", false},
		{"storage/segment", "storage/store", false},
		{"storage/store", "storage/segment", true},
		{"storage/catalog", "storage/segment", false},
		{"sql", "engine", true},
		{"sql", "server/pgwire", false},
		{"server/pgwire", "sql", true},
		{"ingest", "engine", false},
		{"ingest", "storage", true},
		{"cmd/strata", "server/pgwire", true},
		{"bench", "server/pgwire", false},
		{"bench/inproc", "bench", true},
		{"storage/segment", "storage/catalog", false},
		{"engine", "internal/pgtest", true},
		{"internal/pgtest", "storage", false},
	}
	for _, c := range cases {
		if got, _ := allowed(c.from, c.to); got != c.ok {
			t.Errorf("allowed(%s → %s) = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}
