package objstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocalConformance(t *testing.T) {
	runConformance(t, func(t *testing.T) Store {
		s, err := Open(context.Background(), "file://"+t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		url     string
		wantErr bool
		root    string
	}{
		{"file://" + dir + "/a", false, dir + "/a"},
		{dir + "/b", false, dir + "/b"},
		{"file://localhost" + dir + "/c", false, dir + "/c"},
		{"relative/dir", true, ""},
		{"file://host/x", true, ""},
		{"s3://", true, ""},
		{"s3://bucket/../x", true, ""},
		{"http://x/y", true, ""},
	}
	for _, c := range cases {
		s, err := Open(context.Background(), c.url, Options{})
		if (err != nil) != c.wantErr {
			t.Errorf("Open(%q) err = %v, wantErr %v", c.url, err, c.wantErr)
			continue
		}
		if err == nil {
			if l, ok := s.(*Local); !ok || l.Root() != c.root {
				t.Errorf("Open(%q) = %#v, want Local at %s", c.url, s, c.root)
			}
		}
	}
}

// TestLocalPutIfAbsentLeavesNoTemp checks the file system state after both outcomes:
// only the final file, never a temp file, and the loser's bytes are nowhere.
func TestLocalPutIfAbsentLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.PutIfAbsent(ctx, "_delta_log/0.json", []byte("winner")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, "_delta_log/0.json", []byte("loser")); !errors.Is(err, ErrExists) {
		t.Fatalf("second: %v", err)
	}
	mustPut(t, s, "_delta_log/1.json", []byte("plain"))
	entries, err := os.ReadDir(filepath.Join(dir, "_delta_log"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "0.json,1.json" {
		t.Errorf("files = %v, want only 0.json,1.json", names)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "_delta_log", "0.json"))
	if string(b) != "winner" {
		t.Errorf("0.json = %q", b)
	}
}

// TestLocalListSkipsTempFiles: a crash can leave a temp file behind; it is not a key.
func TestLocalListSkipsTempFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "x/a", []byte("a"))
	if err := os.WriteFile(filepath.Join(dir, "x", tempPrefix+"tmp-123"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if k := infoKeys(got); len(k) != 1 || k[0] != "x/a" {
		t.Errorf("list = %v, want [x/a]", k)
	}
}

// FuzzValidKey: a key ValidKey accepts maps to a name strictly inside the root, and
// round-trips through the local store's name mapping (os.Root confines it as well).
func FuzzValidKey(f *testing.F) {
	for _, k := range []string{"a", "a/b", "../x", "a/../../b", "/abs", "a//b", ".objstore-tmp", "x/.hidden", "ü/∂", "a\\b", "..a", "a..", "."} {
		f.Add(k)
	}
	l := &Local{root: "/root/of/store"}
	f.Fuzz(func(t *testing.T, key string) {
		name, err := l.name("fuzz", key)
		if err != nil {
			return
		}
		p := filepath.Join(l.root, name)
		rel, err := filepath.Rel(l.root, p)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			t.Fatalf("key %q maps to %q outside the root", key, p)
		}
		if filepath.ToSlash(rel) != key {
			t.Fatalf("key %q maps to %q, which reads back as %q", key, p, filepath.ToSlash(rel))
		}
	})
}

// TestLocalStaysInside: keys and symlinks cannot take the folder store out of its
// folder (the lake's VACUUM relies on it, with TestVacuumLeavesForeignFiles in
// storage/lake): reads through a symlink that points out fail, writes through a
// symlinked folder are refused, List shows no symlink and does not walk into a
// symlinked folder, and Delete removes a symlink, never its target.
func TestLocalStaysInside(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	root := filepath.Join(base, "tbl")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(base, "secret")
	if err := os.WriteFile(secret, []byte("password"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Symlink(secret, filepath.Join(root, "link.parquet"))
	os.Symlink(base, filepath.Join(root, "up"))
	fsys := LocalAt(root)
	for _, key := range []string{"link.parquet", "up/secret", "../secret", "/etc/passwd", "./link.parquet", "a/../../secret"} {
		if b, err := fsys.Get(ctx, key); err == nil {
			t.Errorf("Get(%q) = %q", key, b)
		}
		if _, err := fsys.GetRange(ctx, key, 0, 4); err == nil {
			t.Errorf("GetRange(%q) succeeded", key)
		}
	}
	if err := fsys.Put(ctx, "up/planted", []byte("x")); err == nil {
		t.Error("Put through a symlinked folder succeeded")
	}
	if _, err := os.Stat(filepath.Join(base, "planted")); err == nil {
		t.Error("a file was written outside the folder")
	}
	objs, err := fsys.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 0 {
		t.Errorf("List shows %v; symlinks must not be listed", objs)
	}
	if objs, err := fsys.List(ctx, "up/"); err == nil && len(objs) != 0 {
		t.Errorf("List through a symlinked folder shows %v", objs)
	}
	if _, err := fsys.Stat(ctx, "up/secret"); err == nil {
		t.Error("Stat through a symlinked folder succeeded")
	}
	if err := fsys.PutIfAbsent(ctx, "up/planted2", []byte("x")); err == nil {
		t.Error("PutIfAbsent through a symlinked folder succeeded")
	}
	if err := fsys.Delete(ctx, "link.parquet"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "password" {
		t.Errorf("the symlink's target was touched: %q, %v", b, err)
	}
}
