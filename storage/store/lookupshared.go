package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
)

// Shared lookup tables. A lookup table the cluster catalog defines (option
// cluster_table, storage/lakecat) keeps its rows in its Delta table, the one
// holding its definition, not in segments of a node: every node reads them
// there like any lake rows, and sees another node's write within lake_refresh
// (follow.go). A write (Rewrite) is copy-on-write of the whole small table:
//
//  1. read the latest version V of the Delta table and pin it as the version
//     this node's queries read (lakePinned: no lake check installs another
//     until the write ends), so that the statement's plan, which reads a
//     snapshot, sees exactly the rows the write starts from;
//  2. compute the new rows from V's, check them (NOT NULL, the unique keys:
//     against V, the latest version), write them as Parquet files;
//  3. commit, as version V+1 (put-if-absent), the removal of every file
//     of V, the new files and txn(appId = strata/<table>/lookup, version =
//     V+1). A commit another node made first makes ours conflict (its txn,
//     metaData or removes), never land after it: the write starts again from
//     1 on the new latest version (the constraint check included), up to
//     sharedRewriteAttempts times, then fails with ErrConcurrentWrite;
//  4. install V+1 as the version this node's queries read.
//
// A lost race leaves orphan Parquet files, which VACUUM removes.

// ErrConcurrentWrite is returned (wrapped) by a write of a shared lookup table
// that lost the race to other nodes' writes sharedRewriteAttempts times; the
// statement may be retried (SQLSTATE 40001).
var ErrConcurrentWrite = errors.New("concurrent writes of the shared lookup table won")

// sharedRewriteAttempts bounds the attempts of one shared lookup write.
const sharedRewriteAttempts = 8

// IsSharedLookup reports whether def is a lookup table whose rows live in its
// Delta table, shared by every node of a cluster.
func IsSharedLookup(def *catalog.TableDef) bool {
	return IsLookup(def) && def.Options[catalog.OptClusterTable] != ""
}

// lookupAppID is the txn appId of a shared lookup table's writes.
func lookupAppID(table string) string { return "strata/" + table + "/lookup" }

// rewriteShared is Rewrite for a shared lookup table (see the top of this
// file). REQUIRES: s.compactMu is held.
func (s *Store) rewriteShared(ctx context.Context, def catalog.TableDef, fn func(cur *storage.Columns) (*storage.Columns, error)) error {
	l, err := s.lakeOf(ctx, &def)
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", def.Name, err)
	}
	var lost error
	for range sharedRewriteAttempts {
		snap, err := l.tbl.Snapshot(ctx)
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", def.Name, err)
		}
		if err := checkLakeSchema(&def, l, snap); err != nil {
			return fmt.Errorf("rewrite %s: %w", def.Name, err)
		}
		lt, err := s.pinLake(def, snap)
		if err != nil {
			return err
		}
		next, err := s.rewriteSharedAt(ctx, def, l, lt, fn)
		s.mu.Lock()
		lt.lakePinned = false
		if next != nil && (lt.lakeSnap == nil || next.Version > lt.lakeSnap.Version) {
			lt.lakeSnap = next
		}
		s.mu.Unlock()
		if errors.Is(err, lake.ErrConflict) || errors.Is(err, lake.ErrTxnAlreadyCommitted) {
			lost = err
			continue
		}
		return err
	}
	return fmt.Errorf("rewrite %s: %w (%d attempts; last: %v)", def.Name, ErrConcurrentWrite, sharedRewriteAttempts, lost)
}

// pinLake makes snap, or a newer version installed already, the version
// def's queries read, and holds it there (lakePinned) until the caller lets
// go. snap must be the latest version the caller read.
func (s *Store) pinLake(def catalog.TableDef, snap *lake.Snapshot) (*liveTable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lt := s.mu.tables[def.Name]
	if s.mu.closed || lt == nil || lt.def.ID != def.ID {
		return nil, fmt.Errorf("rewrite %s: %w", def.Name, ErrNoTable)
	}
	if lt.lakeSnap == nil || snap.Version > lt.lakeSnap.Version {
		lt.lakeSnap = snap
	}
	lt.lakePinned = true
	return lt, nil
}

// rewriteSharedAt is one attempt of rewriteShared from the version pinned as
// lt's (pinLake); it returns the version it committed (nil: none).
func (s *Store) rewriteSharedAt(ctx context.Context, def catalog.TableDef, l *lakeLink, lt *liveTable, fn func(cur *storage.Columns) (*storage.Columns, error)) (*lake.Snapshot, error) {
	s.mu.Lock()
	snap := lt.lakeSnap
	s.mu.Unlock()
	sn := &Snapshot{Table: def, store: s, LakeVersion: snap.Version}
	if err := s.addLakeSources(ctx, sn, l, snap, storage.NoPrune); err != nil {
		sn.Release()
		return nil, fmt.Errorf("rewrite %s: %w", def.Name, err)
	}
	var err error
	for _, src := range sn.Sources {
		if err = storage.Load(ctx, src); err != nil { // a lake file read directly
			break
		}
	}
	var cur *storage.Columns
	if err == nil {
		cur, err = readAll(&def.Schema, sn.Sources)
	}
	sn.Release()
	if err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", def.Name, err)
	}
	next, err := fn(cur)
	if err != nil || next == nil {
		return nil, err
	}
	if err := checkRewrite(ctx, &def, next); err != nil {
		return nil, err
	}
	acts := lake.RemoveActions(snap, time.Now().UnixMilli())
	if next.Len > 0 {
		adds, err := writeLakeColumns(ctx, &def, snap, next, s.knobs.LakeRowGroupRows)
		if err != nil {
			return nil, fmt.Errorf("rewrite %s: %w", def.Name, err)
		}
		acts = append(acts, lake.AddActions(adds)...)
	}
	acts = append(acts, lake.Action{Txn: &lake.Txn{AppID: lookupAppID(def.Name), Version: snap.Version + 1}})
	v, err := lake.Commit(ctx, l.tbl, snap.Version, acts, "WRITE", map[string]any{"mode": "Overwrite"})
	if err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", def.Name, err)
	}
	// v is snap.Version+1: every other commit strata makes to this Delta
	// table conflicts with ours (another write's txn, a definition's metaData,
	// a DROP's), so Commit did not move past one. (A writer outside strata
	// appending blindly would let it; lookup tables have none.)
	next2, err := l.tbl.SnapshotAt(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("rewrite %s: read back version %d: %w", def.Name, v, err)
	}
	return next2, nil
}
