package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// countingFS counts calls, to check how often the log is listed and that range
// reads work.
type countingFS struct {
	FS
	lists, gets, ranges atomic.Int64
}

func (c *countingFS) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.FS.Get(ctx, key)
}
func (c *countingFS) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	c.ranges.Add(1)
	return c.FS.GetRange(ctx, key, off, n)
}
func (c *countingFS) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	c.lists.Add(1)
	return c.FS.List(ctx, prefix)
}
func (c *countingFS) ListFrom(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error) {
	c.lists.Add(1)
	return c.FS.ListFrom(ctx, prefix, startAfter)
}

func TestLocalFS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, k := range []string{"a/_delta_log/1.json", "a/_delta_log/0.json", "a/_delta_log/_sidecars/x", "a/b", "ab/c"} {
		p := filepath.Join(dir, filepath.FromSlash(k))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("0123456789"), 0o644)
	}
	fsys := LocalFS{Root: dir}
	keys := func(objs []ObjectInfo) (out []string) {
		for _, o := range objs {
			out = append(out, o.Key)
		}
		return out
	}
	objs, err := fsys.List(ctx, "a/_delta_log/")
	if got := keys(objs); err != nil || len(got) != 3 || got[0] != "a/_delta_log/0.json" || got[2] != "a/_delta_log/_sidecars/x" {
		t.Fatalf("List = %v, %v", got, err)
	}
	objs, _ = fsys.ListFrom(ctx, "a/_delta_log/", "a/_delta_log/0.json")
	if got := keys(objs); len(got) != 2 || got[0] != "a/_delta_log/1.json" {
		t.Fatalf("ListFrom = %v", got)
	}
	if objs, _ = fsys.List(ctx, "a"); len(objs) != 5 {
		t.Fatalf("List(a) = %v", keys(objs))
	}
	if objs, err = fsys.List(ctx, "nope/"); err != nil || len(objs) != 0 {
		t.Fatalf("List(missing) = %v, %v", objs, err)
	}
	if b, err := fsys.GetRange(ctx, "a/b", 8, 5); err != nil || string(b) != "89" {
		t.Fatalf("GetRange = %q, %v", b, err)
	}
	if _, err := fsys.Get(ctx, "a/zz"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Get(missing) = %v", err)
	}
	if _, err := fsys.Get(ctx, "../etc/passwd"); err == nil {
		t.Fatal("escaping key accepted")
	}
}

func TestListOnceAndRangeReads(t *testing.T) {
	ctx := context.Background()
	old := maxWholeGet
	maxWholeGet = 0 // every data file through GetRange
	defer func() { maxWholeGet = old }()
	for _, name := range []string{"simple_table_with_checkpoint", "dv-partitioned-with-checkpoint", "table_with_column_mapping"} {
		cfs := &countingFS{FS: LocalFS{Root: "testdata/delta"}}
		s, err := OpenTable(cfs, name).Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := cfs.lists.Load(); n != 1 {
			t.Errorf("%s: log listed %d times", name, n)
		}
		want, _ := s.Count(ctx)
		if got := readAllRows(t, ctx, s); got != want {
			t.Errorf("%s: %d rows through range reads, want %d", name, got, want)
		}
		if cfs.ranges.Load() == 0 {
			t.Errorf("%s: no range reads", name)
		}
	}
}
