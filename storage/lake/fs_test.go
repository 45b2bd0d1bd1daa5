package lake

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stratadb/strata/storage/objstore"
)

// countingFS counts calls, to check how often the log is listed and that range
// reads work.
type countingFS struct {
	objstore.Store
	lists, gets, ranges atomic.Int64
}

func (c *countingFS) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}
func (c *countingFS) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	c.ranges.Add(1)
	return c.Store.GetRange(ctx, key, off, n)
}
func (c *countingFS) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix)
}
func (c *countingFS) ListFrom(ctx context.Context, prefix, startAfter string) ([]objstore.ObjectInfo, error) {
	c.lists.Add(1)
	return c.Store.ListFrom(ctx, prefix, startAfter)
}

func TestListOnceAndRangeReads(t *testing.T) {
	ctx := context.Background()
	old := maxWholeGet
	maxWholeGet = 0 // every data file through GetRange
	defer func() { maxWholeGet = old }()
	for _, name := range []string{"simple_table_with_checkpoint", "dv-partitioned-with-checkpoint", "table_with_column_mapping"} {
		cfs := &countingFS{Store: objstore.LocalAt("testdata/delta")}
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
