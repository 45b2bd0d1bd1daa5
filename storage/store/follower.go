package store

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/realtime"
)

// Every node sees every partition. A streaming table whose lake is the
// checkpoint of its Kafka partitions (handoff by offset, lake.go) is read by
// every process of its consumer group: the partitions a process owns from its
// own heads and segments, the others from a follower head per partition
// (AppendFollow), which package ingest/stream fills by reading those
// partitions straight from Kafka. Follower heads are memory only and keep each
// row's record offset (realtime.Head.AppendAt).
//
// The snapshot rule. A query's snapshot is the lake at the version V the table
// reads (lakeSnap) plus, per source (partition), the rows with offsets at or
// past V's txn offset for the source (none: every row), all taken in one
// critical section of Store.mu, so that a lake refresh that installs a newer
// version (installLake, commitLake, both under Store.mu) is either wholly
// before the snapshot or wholly after it:
//
//   - a source this process follows: its follower head's rows at or past V's
//     offset (realtime.Head.SnapshotFrom). Rows of a record below V's offset
//     are in V; rows at or past it are not, since a handoff commits exactly the
//     rows below the offset it records.
//   - a source this process owns: its segments and head, which hold the rows
//     from lakeOffs[source] (LakeState.Offsets: where this process last knew the
//     lake, by its own handoff or when it took the partition) on. While V's
//     offset is at most lakeOffs[source] they are all at or past it (V older
//     than lakeOffs leaves a gap of rows in neither, never a row twice). When
//     V's offset is above lakeOffs[source] another process committed the
//     partition since this one took it (the group moved it and this process
//     has not noticed yet: the zombie window): its local rows of the source are
//     then left out of every snapshot, since some are in V, and the owner's
//     HandoffHooks.Moved is told, so that it drops them and resumes from the
//     lake (ResetSource). Handoff refuses to commit them (ErrSourceMoved).
//   - a source neither owned nor followed: nothing but V.
//
// A follower head's rows below the lake's offset are dropped at its next
// append or TrimFollowers (DropBefore), and the whole head when the source becomes owned
// (SetOwned) or the follower stops (StopFollow). Appends keep the table's lake
// checked every lake_refresh (follow.go), queried or not, so that the offsets
// move on and the heads do not grow past what the lake holds.

// sourceLakeOffset returns snap's txn offset of source in table's lake: the
// offset below which every record of the source is in snap. ok is false when
// snap is nil or has no txn for the source.
func sourceLakeOffset(snap *lake.Snapshot, table, source string) (int64, bool) {
	if snap == nil {
		return 0, false
	}
	return snap.TxnVersion(sourceAppID(table, source))
}

// staleOwnedLocked returns the owned sources of lt whose offset in snap is past
// where this process last knew the lake (the zombie window, see the top of this
// file), sorted. REQUIRES: s.mu is held.
func (lt *liveTable) staleOwnedLocked(snap *lake.Snapshot) []string {
	if snap == nil || lt.owned == nil {
		return nil
	}
	var stale []string
	for src := range lt.owned {
		v, ok := sourceLakeOffset(snap, lt.def.Name, src)
		if !ok {
			continue
		}
		if l, had := lt.lakeOffs[src]; !had || v > l {
			stale = append(stale, src)
		}
	}
	slices.Sort(stale)
	return stale
}

// addFollowedLocked appends to sn the views of lt's follower heads of sources
// it does not own, cut at snap's offsets. REQUIRES: s.mu is held.
func (lt *liveTable) addFollowedLocked(sn *Snapshot, snap *lake.Snapshot) {
	if lt.owned == nil {
		return
	}
	for _, src := range slices.Sorted(maps.Keys(lt.follow)) {
		if lt.owned[src] {
			continue
		}
		from := int64(math.MinInt64)
		if v, ok := sourceLakeOffset(snap, lt.def.Name, src); ok {
			from = v
		}
		for _, v := range lt.follow[src].SnapshotFrom(from) {
			sn.Sources = append(sn.Sources, v)
		}
	}
}

// AppendFollow appends rows of source, a partition this process follows and
// does not own, to the source's follower head: offs[i] is the record offset of
// row i, strictly increasing across the calls for one source. The rows are
// visible to the next snapshot, from the offset the lake holds the source at
// on (see the top of this file). Rows of a source this process owns are
// dropped. Before appending, the head lets go of its rows below the lake's
// offset of the source. One appender per source at a time.
func (s *Store) AppendFollow(table, source string, cols *storage.Columns, offs []int64) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return errClosed
	}
	lt := s.mu.tables[table]
	if lt == nil {
		s.mu.Unlock()
		return fmt.Errorf("follow %s: %w", table, ErrNoTable)
	}
	if lt.owned == nil || lt.owned[source] {
		s.mu.Unlock()
		return nil
	}
	h := lt.follow[source]
	if h == nil {
		if lt.follow == nil {
			lt.follow = map[string]*realtime.Head{}
		}
		h = realtime.NewHead(&lt.def.Schema, lt.def.Granularity.Microseconds())
		lt.follow[source] = h
	}
	from, trim := sourceLakeOffset(lt.lakeSnap, table, source)
	// Keep following the lake while following the partition, queried or not:
	// the head's rows leave as the lake's offset passes them.
	s.kickLakeCheckLocked(lt, time.Now())
	s.mu.Unlock()
	if trim {
		h.DropBefore(from)
	}
	if err := h.AppendAt(cols, offs); err != nil {
		return fmt.Errorf("follow %s %s: %w", table, source, err)
	}
	return nil
}

// TrimFollowers lets table's follower heads go of their rows below the lake's
// offsets of the version queries read (whole parts: realtime.Head.DropBefore),
// for sources that get no new records to append. It returns the rows dropped.
func (s *Store) TrimFollowers(table string) int {
	type cut struct {
		h    *realtime.Head
		from int64
	}
	var cuts []cut
	s.mu.Lock()
	if lt := s.mu.tables[table]; lt != nil {
		for src, h := range lt.follow {
			if from, ok := sourceLakeOffset(lt.lakeSnap, table, src); ok {
				cuts = append(cuts, cut{h, from})
			}
		}
	}
	s.mu.Unlock()
	n := 0
	for _, c := range cuts {
		n += c.h.DropBefore(c.from)
	}
	return n
}

// StopFollow forgets source's follower head of table (its rows leave later
// snapshots; those taken before keep their views). The follower calls it
// before it reads the source again from another offset.
func (s *Store) StopFollow(table, source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lt := s.mu.tables[table]; lt != nil {
		delete(lt.follow, source)
	}
}

// FollowState is what a table holds of one followed source.
type FollowState struct {
	Rows  int   // rows in the follower head, those below the lake's offset included until trimmed
	Bytes int64 // their approximate memory
	// LakeOffset is the source's txn offset in the lake version queries read
	// (HasLake false: none): rows of records below it are read from the lake.
	LakeOffset int64
	HasLake    bool
}

// Following returns table's followed sources (those with a follower head).
func (s *Store) Following(table string) map[string]FollowState {
	s.mu.Lock()
	defer s.mu.Unlock()
	lt := s.mu.tables[table]
	if lt == nil {
		return nil
	}
	out := make(map[string]FollowState, len(lt.follow))
	for src, h := range lt.follow {
		st := FollowState{Rows: h.Rows(), Bytes: h.Bytes()}
		st.LakeOffset, st.HasLake = sourceLakeOffset(lt.lakeSnap, table, src)
		out[src] = st
	}
	return out
}

// FollowStats returns the rows and approximate memory of table's follower
// heads together (rows below the lake's offset not trimmed yet included). They
// are not in HeadStats, which is what a persist empties: a follower head is
// emptied only by the owner's handoffs, or by its follower letting the
// partition go (ingest/stream's follower memory limit).
func (s *Store) FollowStats(table string) (rows int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lt := s.mu.tables[table]
	if lt == nil {
		return 0, 0
	}
	for _, h := range lt.follow {
		rows += h.Rows()
		bytes += h.Bytes()
	}
	return rows, bytes
}

// SnapshotLakeOffset returns source's txn offset in the lake version table's
// queries read now (ok false: none, or no lake loaded yet).
func (s *Store) SnapshotLakeOffset(table, source string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lt := s.mu.tables[table]
	if lt == nil {
		return 0, false
	}
	return sourceLakeOffset(lt.lakeSnap, table, source)
}
