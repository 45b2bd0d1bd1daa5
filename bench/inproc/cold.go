package inproc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/sql"
	"github.com/stratadb/strata/storage/store"
)

// The cold tier of the bench table: HandoffAll moves every loaded chunk into the
// table's Delta Lake table, after which strata answers the suite from lake files
// only (materialized into the store's lake cache on first read).

// HandoffStats describes a HandoffAll.
type HandoffStats struct {
	Rows     int64         // rows written to the lake
	Files    int           // Parquet files added
	Bytes    int64         // Parquet bytes written
	Duration time.Duration // wall time of the handoff
}

// farFuture is a handoff "now" after every chunk's end plus any grace.
var farFuture = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)

// HandoffAll hands every chunk of the bench table to its lake and checks that the
// table is then entirely cold: no segment left in the catalog and every loaded
// row (want) in the lake.
func (s *Strata) HandoffAll(ctx context.Context, want int64) (HandoffStats, error) {
	res, err := s.Store.Handoff(ctx, bench.TableName, farFuture)
	if err != nil {
		return HandoffStats{}, err
	}
	st := HandoffStats{Rows: res.Rows, Files: res.Files, Bytes: res.Bytes, Duration: res.Duration}
	if segs := s.Store.Catalog().Segments(bench.TableName); len(segs) != 0 {
		return st, fmt.Errorf("handoff %s: %d segments remain in the catalog, want none", bench.TableName, len(segs))
	}
	if res.Rows != want {
		return st, fmt.Errorf("handoff %s: moved %d rows, the table holds %d", bench.TableName, res.Rows, want)
	}
	return st, nil
}

// LakeDir is the folder of the bench table's Delta table (the default lake_path).
func (s *Strata) LakeDir() string {
	dir, err := s.Store.LakeLocation(bench.TableName)
	if err != nil {
		panic("BUG: the bench table has no lake: " + err.Error())
	}
	return dir
}

// WaitLakeCache waits until the background conversions of lake files into the
// lake cache are done.
func (s *Strata) WaitLakeCache() { s.Store.WaitLakeCache() }

// CacheMisses is the number of lake files the store's cache has converted into
// segments since the store was opened.
func (s *Strata) CacheMisses() int64 { return s.Store.LakeStats().Cache.Misses }

// DropLakeCache closes the store, deletes its lake cache directory and opens it
// again, so the next query materializes every lake file it reads. The Store, DB
// and Session fields are replaced.
func (s *Strata) DropLakeCache() error {
	dir := s.Store.Dir()
	if err := s.Store.Close(); err != nil {
		return fmt.Errorf("close strata store %s: %w", dir, err)
	}
	cache := filepath.Join(dir, "lakecache")
	if err := os.RemoveAll(cache); err != nil {
		return fmt.Errorf("drop lake cache %s: %w", cache, err)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return fmt.Errorf("reopen strata store %s: %w", dir, err)
	}
	db := sql.Open(st, sql.Options{})
	s.Store, s.DB, s.Session = st, db, db.NewSession("strata", "strata")
	return nil
}
