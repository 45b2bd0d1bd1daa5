package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
)

// Following the lake. Other writers commit to a table's Delta table too: a second
// strata process sharing its lake_path, Spark, delta-rs, OPTIMIZE run elsewhere;
// an external table's only writers are others.
// A table's lake snapshot (liveTable.lakeSnap) therefore moves forward on its own,
// not only at this process's handoffs:
//
//   - at once after this process's own commits (Handoff and Optimize install the
//     version they committed, commitLake);
//   - otherwise by a check (checkLake: lake.Table.Update, which reads the next
//     commit key and _last_checkpoint and lists nothing when nothing changed) at
//     most every lake_refresh (default DefaultLakeRefresh). A query starts one in
//     the background when the last is older than that, and the follow loop keeps
//     tables queried in the last followFor checked, so their queries see other
//     writers' commits within lake_refresh. No query waits for a check, except the
//     first query of a table after Open, which loads the lake once.
//
// The invariant (DESIGN.md invariant 2, with other writers): a query's snapshot is
// the lake at some version V plus this process's segments and head not in V, taken
// in one critical section of Store.mu. Other writers' rows are only ever in the
// lake. This process's rows enter the lake by a handoff commit (txn appId =
// appID(def), version = handoff sequence) and leave the segments in step 4, under
// Store.mu together with lakeSeq = that sequence and a lake snapshot containing the
// commit. So a version V whose txn for our appId is above lakeSeq holds segments
// that are still live: installLake never installs such a version (the handoff's
// step 4, or resolvePending after a crash, installs it together with the removal
// of the segments). A version whose txn is at most lakeSeq holds none of the live
// segments' rows. Snapshots only move forward (a newer version is installed, never
// an older one), so a file an OPTIMIZE elsewhere removed is never counted beside
// the file that replaced it.

// DefaultLakeRefresh is lake_refresh's default: how often a table's lake
// snapshot is checked for versions committed by other writers.
const DefaultLakeRefresh = time.Second

// followFor is how long after its last query a table's lake is still checked by
// the follow loop; later the first query starts the check.
const followFor = time.Minute

// followTick is the follow loop's period (the finest lake_refresh it honours).
const followTick = 100 * time.Millisecond

// lakeRefresh is def's lake_refresh.
func lakeRefresh(def *catalog.TableDef) time.Duration {
	if v := def.Options[catalog.OptLakeRefresh]; v != "" {
		if d, err := catalog.ParseDuration(v); err == nil {
			return d
		}
	}
	return DefaultLakeRefresh
}

// kickLakeCheckLocked starts a background check of lt's lake when none is running
// and the last one started lake_refresh ago or more.
// REQUIRES: s.mu is held and the store is not closed.
func (s *Store) kickLakeCheckLocked(lt *liveTable, now time.Time) {
	if lt.lakeChecking || now.Sub(lt.lakeChecked) < lakeRefresh(&lt.def) {
		return
	}
	lt.lakeChecking, lt.lakeChecked = true, now
	def := lt.def
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.checkLake(s.bgCtx, lt, def) // a failed check is counted and retried at the next
		s.mu.Lock()
		lt.lakeChecking = false
		s.mu.Unlock()
	}()
}

// followLoop checks the lakes of recently queried tables every lake_refresh
// until the store closes.
func (s *Store) followLoop() {
	defer s.bg.Done()
	t := time.NewTicker(followTick)
	defer t.Stop()
	for {
		select {
		case <-s.bgCtx.Done():
			return
		case now := <-t.C:
			s.mu.Lock()
			if s.mu.closed {
				s.mu.Unlock()
				return
			}
			for _, lt := range s.mu.tables {
				if now.Sub(lt.lakeQueried) < followFor {
					s.kickLakeCheckLocked(lt, now)
				}
			}
			s.mu.Unlock()
		}
	}
}

// checkLake brings lt's lake snapshot to the latest version the invariant allows
// (see the top of this file): Update from the current snapshot, or a first load
// of the latest version when there is none. A table whose Delta table does not
// exist yet is not an error.
func (s *Store) checkLake(ctx context.Context, lt *liveTable, def catalog.TableDef) (err error) {
	updated := false
	defer func() {
		if ctx.Err() == nil {
			s.lakeStats.check(err, updated)
		}
	}()
	l, err := s.lakeOf(ctx, &def)
	if err != nil {
		return err
	}
	s.mu.Lock()
	cur := lt.lakeSnap
	s.mu.Unlock()
	var snap *lake.Snapshot
	if cur == nil {
		snap, err = l.tbl.Snapshot(ctx)
		if errors.Is(err, lake.ErrNotExist) && !IsExternal(&def) {
			return nil // no handoff yet, here or by another process
		}
	} else {
		snap, err = l.tbl.Update(ctx, cur)
	}
	if err != nil {
		return fmt.Errorf("table %s: follow lake %s: %w", def.Name, l.loc, err)
	}
	if snap == cur {
		return nil
	}
	if !IsExternal(&def) {
		if err := checkLakeSchema(&def, l, snap); err != nil {
			return fmt.Errorf("table %s: follow lake: %w", def.Name, err)
		}
	}
	updated = s.installLake(lt, def, snap)
	return nil
}

// installLake makes snap lt's lake snapshot if the invariant allows it: snap is
// newer than the current one and holds no handoff of this process that has not
// left the segments yet. It reports whether it did.
func (s *Store) installLake(lt *liveTable, def catalog.TableDef, snap *lake.Snapshot) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed || s.mu.tables[def.Name] != lt || lt.def.ID != def.ID || lt.lakePinned {
		return false
	}
	if own, ok := snap.TxnVersion(appID(&lt.def)); ok && own > int64(lt.lakeSeq) {
		return false // our handoff lt.lakeSeq+1.. is committed, its segments are still live
	}
	if lt.lakeSnap != nil && snap.Version <= lt.lakeSnap.Version || snap.Version < lt.lakeVersion {
		return false
	}
	lt.lakeSnap = snap
	// Another process committed partitions this one owns past where it knew
	// them (follower.go): its local rows of them are out of snapshots from
	// now on; its owner drops them and resumes from the lake.
	if stale := lt.staleOwnedLocked(snap); len(stale) > 0 && lt.hooks != nil && lt.hooks.Moved != nil {
		go lt.hooks.Moved(stale)
	}
	return true
}
