package lake_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
)

// requestCounter counts every read and listing of a store.
type requestCounter struct {
	objstore.Store
	gets, lists atomic.Int64
}

func (c *requestCounter) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func (c *requestCounter) ListFrom(ctx context.Context, prefix, startAfter string) ([]objstore.ObjectInfo, error) {
	c.lists.Add(1)
	return c.Store.ListFrom(ctx, prefix, startAfter)
}

func (c *requestCounter) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix)
}

// TestUpdateOnS3: following a table on a real S3 server (versitygw) costs two
// GETs and no listing per check when nothing changed, and picks up another
// writer's commit with two GETs more; the time per check is logged.
func TestUpdateOnS3(t *testing.T) {
	const bucket = "follow"
	srv := startVersitygw(t, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	direct := openS3(t, srv.Endpoint, bucket, objstore.Options{})
	rec := wideBatch(1000)
	defer rec.Release()
	schema, err := lake.SchemaFromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	writer, err := lake.CreateTable(ctx, direct, "t", schema, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	commit := func() int64 {
		snap, err := writer.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		adds, err := lake.WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, lake.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := lake.Commit(ctx, writer, snap.Version, lake.AddActions(adds), "WRITE", nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	commit()
	rc := &requestCounter{Store: direct}
	reader := lake.OpenTable(rc, "t")
	snap, err := reader.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const checks = 50
	rc.gets.Store(0)
	rc.lists.Store(0)
	start := time.Now()
	for range checks {
		u, err := reader.Update(ctx, snap)
		if err != nil || u != snap {
			t.Fatalf("Update without a commit = version %d, %v", u.Version, err)
		}
	}
	per := time.Since(start) / checks
	if g, l := rc.gets.Load(), rc.lists.Load(); g != 2*checks || l != 0 {
		t.Fatalf("%d checks made %d GETs and %d listings, want %d and 0", checks, g, l, 2*checks)
	}
	v := commit()
	rc.gets.Store(0)
	u, err := reader.Update(ctx, snap)
	if err != nil || u.Version != v || len(u.Files()) != 2 {
		t.Fatalf("Update after a commit = %v, %v; want version %d with 2 files", u, err, v)
	}
	if g, l := rc.gets.Load(), rc.lists.Load(); g != 2 || l != 0 {
		t.Fatalf("Update after a commit made %d GETs and %d listings, want 2 and 0", g, l)
	}
	t.Logf("a check with nothing new: 2 GETs, no listing, %s on versitygw (local)", per.Round(time.Microsecond))
}
