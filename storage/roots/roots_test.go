package roots

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestResolve(t *testing.T) {
	base := t.TempDir()
	lakes := filepath.Join(base, "lakes")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{lakes, outside, filepath.Join(lakes, "t1")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Symlinks inside the root: one pointing out, one pointing back in.
	if err := os.Symlink(outside, filepath.Join(lakes, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(lakes, "t1"), filepath.Join(lakes, "alias")); err != nil {
		t.Fatal(err)
	}
	r, err := New(base, []string{lakes, "s3://bucket/lake"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		loc, want string // want "" = refused
	}{
		{lakes, lakes},
		{filepath.Join(lakes, "t1"), filepath.Join(lakes, "t1")},
		{filepath.Join(lakes, "new", "table"), filepath.Join(lakes, "new", "table")}, // not there yet
		{"file://" + filepath.Join(lakes, "t1"), filepath.Join(lakes, "t1")},
		{"lakes/t1", filepath.Join(lakes, "t1")}, // relative to base
		{filepath.Join(lakes, "alias"), filepath.Join(lakes, "t1")},
		{filepath.Join(lakes, "escape"), ""},
		{filepath.Join(lakes, "escape", "x"), ""},
		{filepath.Join(lakes, ".."), ""},
		{filepath.Join(lakes, "t1", "..", "..", "outside"), ""},
		{lakes + "/a/../../outside", ""},
		{lakes + "x", ""}, // a sibling sharing the prefix
		{"/", ""},
		{".", ""},
		{"..", ""},
		{"", ""},
		{outside, ""},
		{"t1\x00", ""},
		{"http://example.com/x", ""},
		{"s3://bucket/lake", "s3://bucket/lake"},
		{"s3://bucket/lake/", "s3://bucket/lake"},
		{"s3://bucket/lake/events", "s3://bucket/lake/events"},
		{"s3://bucket/lakehouse", ""},
		{"s3://bucket/lake/../secret", ""},
		{"s3://bucket/lake/./x", ""},
		{"s3://bucket/lake//x", ""},
		{"s3://bucket", ""},
		{"s3://other/lake", ""},
		{"s3:///lake", ""},
	} {
		got, err := r.Resolve(tc.loc)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrOutside) && !os.IsNotExist(err) {
				t.Errorf("Resolve(%q) = %q, %v; want ErrOutside", tc.loc, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.loc, got, err, tc.want)
		}
	}
}

func TestOpenFile(t *testing.T) {
	base := t.TempDir()
	lakes := filepath.Join(base, "lakes")
	if err := os.MkdirAll(lakes, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(base, "secret")
	os.WriteFile(secret, []byte("password"), 0o600)
	os.WriteFile(filepath.Join(lakes, "ok.csv"), []byte("a,b\n"), 0o600)
	os.Symlink(secret, filepath.Join(lakes, "link.csv"))
	r, err := New(base, []string{lakes})
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.OpenFile(filepath.Join(lakes, "ok.csv"))
	if err != nil {
		t.Fatalf("OpenFile inside the root: %v", err)
	}
	f.Close()
	for _, p := range []string{secret, filepath.Join(lakes, "link.csv"), filepath.Join(lakes, "..", "secret"), "s3://b/x"} {
		if f, err := r.OpenFile(p); err == nil {
			f.Close()
			t.Errorf("OpenFile(%q) succeeded", p)
		}
	}
}

func TestNoRootsRefuseAll(t *testing.T) {
	var r Roots
	if _, err := r.Resolve("/tmp"); !errors.Is(err, ErrOutside) {
		t.Fatalf("zero Roots accepted /tmp: %v", err)
	}
}

func TestContains(t *testing.T) {
	for _, tc := range []struct {
		outer, inner string
		want         bool
	}{{"/a", "/a", true}, {"/a", "/a/b", true}, {"/a", "/ab", false}, {"/", "/x", true}, {"/a/b", "/a", false}} {
		if got := Contains(tc.outer, tc.inner); got != tc.want {
			t.Errorf("Contains(%q, %q) = %v", tc.outer, tc.inner, got)
		}
	}
}
