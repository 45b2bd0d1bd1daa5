package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/roots"
)

// listTree lists every path under dir with its mode, so a test can tell that
// nothing was removed.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	must(t, err)
	sort.Strings(out)
	return out
}

// TestHostileTableNames: names that would be paths if a table's name ever became
// one. Each table is created, filled, handed off to its lake and dropped; the
// data directory and its other table are intact afterwards, and every lake
// folder is named by a table id.
func TestHostileTableNames(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "data")
	sentinel := filepath.Join(parent, "sentinel")
	must(t, os.WriteFile(sentinel, []byte("x"), 0o600))
	s := openT(t, dir)
	defer s.Close()
	sch := testSchema()
	keep := createT(t, s, "keep")
	rows := makeRows(0, 500, spread(2))
	must(t, s.Append(ctx, "keep", toColumns(&sch, rows)))
	_, err := s.Handoff(ctx, "keep", farFuture)
	must(t, err)
	must(t, s.Append(ctx, "keep", toColumns(&sch, makeRows(10_000, 100, spread(1)))))
	want := append(rows, makeRows(10_000, 100, spread(1))...)

	for _, name := range []string{"..", ".", "/", "a/../../b", "../../..", "a/b", "lake", "segments", "catalog", strconv.FormatUint(keep.ID, 10), "../sentinel", " ", "\\"} {
		_, err := s.CreateTable(catalog.TableDef{Name: name, Schema: sch})
		must(t, err)
		must(t, s.Append(ctx, name, toColumns(&sch, makeRows(0, 50, spread(2)))))
		if _, err := s.Handoff(ctx, name, farFuture); err != nil {
			t.Fatalf("handoff %q: %v", name, err)
		}
		checkRows(t, s, name, makeRows(0, 50, spread(2)))
		must(t, s.DropTable(name))
		checkRows(t, s, "keep", want)
	}
	for _, e := range mustReadDir(t, filepath.Join(dir, "lake")) {
		if _, err := strconv.ParseUint(e, 10, 64); err != nil {
			t.Errorf("lake folder %q is not named by a table id", e)
		}
	}
	if _, err := os.Stat(sentinel); err != nil {
		t.Fatalf("a file beside the data directory is gone: %v", err)
	}
	for _, name := range []string{"nul\x00byte", "bad\xffutf8"} {
		if _, err := s.CreateTable(catalog.TableDef{Name: name, Schema: sch}); !errors.Is(err, catalog.ErrInvalidName) {
			t.Errorf("CreateTable(%q): %v, want ErrInvalidName", name, err)
		}
	}
	must(t, s.Close())
	s2 := openT(t, dir)
	defer s2.Close()
	checkRows(t, s2, "keep", want)
}

func mustReadDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestLakePathOutsideRoots: lake_path values a client may try, with the default
// root (<dir>/lake) and with an operator root that contains the data directory
// itself: each is refused and nothing is created or removed.
func TestLakePathOutsideRoots(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "data")
	lakes := filepath.Join(parent, "lakes")
	outside := filepath.Join(parent, "outside")
	must(t, os.MkdirAll(lakes, 0o700))
	must(t, os.MkdirAll(outside, 0o700))
	must(t, os.Symlink(outside, filepath.Join(lakes, "escape")))
	must(t, os.Symlink(dir, filepath.Join(lakes, "datadir")))
	sch := testSchema()
	// Refused whatever the roots: they overlap the data directory.
	always := []string{
		".", "..", "/", "../data", dir, filepath.Join(dir, "lake"), filepath.Join(dir, "lake", "1"), filepath.Join(dir, "segments"),
		parent, filepath.Join(lakes, "datadir"), filepath.Join(lakes, "datadir", "lake"), "/etc", "gs://b/x", "s3://bucket/x",
	}
	// Refused with the default root only: outside it, or leading outside by a symlink.
	outsideDefault := []string{"a/../../b", "../outside", outside, "file://" + outside, filepath.Join(lakes, "escape"), filepath.Join(lakes, "escape", "t")}
	for _, tc := range []struct {
		name    string
		roots   []string
		refused []string
	}{
		{"default root", nil, append(append([]string{}, always...), outsideDefault...)},
		{"root above the data directory", []string{parent}, always},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(dir, Options{LakeRoots: tc.roots})
			must(t, err)
			defer s.Close()
			before := listTree(t, parent)
			for i, p := range tc.refused {
				_, err := s.CreateTable(catalog.TableDef{Name: "t" + strconv.Itoa(i), Schema: sch, Options: map[string]string{OptLakePath: p}})
				if !errors.Is(err, roots.ErrOutside) {
					t.Errorf("lake_path %q: %v, want ErrOutside", p, err)
				}
			}
			if after := listTree(t, parent); !sameOutsideCatalog(before, after) {
				t.Errorf("the tree changed:\nbefore %v\nafter  %v", before, after)
			}
			if len(s.Tables()) != 0 {
				t.Errorf("tables were created: %v", s.Tables())
			}
		})
	}
}

// sameOutsideCatalog compares two listTree results, leaving out pebble's files.
func sameOutsideCatalog(a, b []string) bool {
	strip := func(l []string) []string {
		var out []string
		for _, p := range l {
			if !strings.Contains(p, string(filepath.Separator)+"catalog"+string(filepath.Separator)) {
				out = append(out, p)
			}
		}
		return out
	}
	return slices.Equal(strip(a), strip(b))
}

// TestLakePathOverlap: two writable tables may not share (or nest) a lake_path;
// an external table may read another table's lake.
func TestLakePathOverlap(t *testing.T) {
	ctx := context.Background()
	lakes := t.TempDir()
	s, err := Open(t.TempDir(), Options{LakeRoots: []string{lakes}})
	must(t, err)
	defer s.Close()
	sch := testSchema()
	a := filepath.Join(lakes, "a")
	_, err = s.CreateTable(catalog.TableDef{Name: "a", Schema: sch, Options: map[string]string{OptLakePath: a}})
	must(t, err)
	for _, p := range []string{a, a + "/", filepath.Join(a, "nested"), lakes} {
		if _, err := s.CreateTable(catalog.TableDef{Name: "b", Schema: sch, Options: map[string]string{OptLakePath: p}}); !errors.Is(err, ErrLakePathInUse) {
			t.Errorf("lake_path %q beside table a's: %v, want ErrLakePathInUse", p, err)
		}
	}
	_, err = s.CreateTable(catalog.TableDef{Name: "b", Schema: sch, Options: map[string]string{OptLakePath: filepath.Join(lakes, "b")}})
	must(t, err)
	must(t, s.Append(ctx, "a", toColumns(&sch, makeRows(0, 10, spread(1)))))
	_, err = s.Handoff(ctx, "a", farFuture)
	must(t, err)
	_, err = s.CreateExternalTable(ctx, "a_reader", a, "ts")
	must(t, err)
}

// TestLegacyLakeFolderMoves: a data directory from before lake folders were named
// by table id keeps its lake: <dir>/lake/<name> moves to <dir>/lake/<id>.
func TestLegacyLakeFolderMoves(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	sch := testSchema()
	// Table "7" gets id 1, table "x" id 2: with the old layout, x's id folder
	// name is free but 7's name would be the id folder of a later table.
	seven := createT(t, s, "7")
	x := createT(t, s, "x")
	rows := makeRows(0, 300, spread(2))
	for _, n := range []string{"7", "x"} {
		must(t, s.Append(ctx, n, toColumns(&sch, rows)))
		_, err := s.Handoff(ctx, n, farFuture)
		must(t, err)
	}
	must(t, s.Close())
	for _, d := range []catalog.TableDef{seven, x} {
		must(t, os.Rename(filepath.Join(dir, "lake", strconv.FormatUint(d.ID, 10)), filepath.Join(dir, "lake", "old-"+d.Name)))
	}
	for _, d := range []catalog.TableDef{seven, x} {
		must(t, os.Rename(filepath.Join(dir, "lake", "old-"+d.Name), filepath.Join(dir, "lake", d.Name)))
	}
	s = openT(t, dir)
	defer s.Close()
	for _, n := range []string{"7", "x"} {
		checkRows(t, s, n, rows)
		defaultLake(t, dir, n)
	}
}

// TestDataDirPrivate: the data directory is 0700 (narrowed if it was more open)
// and segment files are 0600.
func TestDataDirPrivate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	must(t, os.MkdirAll(dir, 0o755))
	s := openT(t, dir)
	defer s.Close()
	sch := testSchema()
	createT(t, s, "ev")
	must(t, s.Append(ctx, "ev", toColumns(&sch, makeRows(0, 100, spread(1)))))
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	n := 0
	err := filepath.WalkDir(filepath.Join(dir, "segments"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if want := fs.FileMode(0o600); !d.IsDir() && fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		if want := fs.FileMode(0o700); d.IsDir() && fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		n++
		return nil
	})
	must(t, err)
	if n < 2 {
		t.Fatalf("no segment files written (%d entries)", n)
	}
}
