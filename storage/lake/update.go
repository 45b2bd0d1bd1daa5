package lake

import (
	"context"
	"errors"
	"fmt"
	"maps"
)

// maxIncrementalCommits bounds how many new commits Update applies one by one
// before it replays from the newest checkpoint instead (a variable for tests).
var maxIncrementalCommits = 64

// Update returns the latest snapshot of the table that s is a snapshot of, or s
// itself when the log has no version after s.Version. It is the cheap check a
// reader that follows a table runs every second or so: when nothing changed it
// reads two small keys (the next commit, which is missing, and _last_checkpoint)
// and lists nothing; when commits were added it reads just those and applies them
// to a copy of s (s is not modified). It falls back to a full Snapshot when the
// next commit is gone although _last_checkpoint is past s (log cleanup removed it)
// or when more than maxIncrementalCommits commits are new. The result is never
// older than s. s must be a snapshot of t (or of a Table over the same FS and root).
func (t *Table) Update(ctx context.Context, s *Snapshot) (*Snapshot, error) {
	if s.table == nil || s.table.root != t.root {
		return nil, fmt.Errorf("lake: table %s: Update of a snapshot of another table", t.name())
	}
	var commits [][]byte
	for v := s.Version + 1; ; v++ {
		b, err := t.fs.Get(ctx, t.commitKey(v))
		if errors.Is(err, ErrNotExist) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("lake: table %s: commit %d: %w", t.name(), v, err)
		}
		if len(commits) == maxIncrementalCommits {
			return t.newerSnapshot(ctx, s)
		}
		commits = append(commits, b)
	}
	if len(commits) == 0 {
		if h := t.lastCheckpointHint(ctx); h != nil && *h.Version > s.Version {
			return t.newerSnapshot(ctx, s) // commits after s were cleaned up
		}
		return s, nil
	}
	n := s.clone()
	for i, b := range commits {
		v := s.Version + 1 + int64(i)
		acts, err := ParseCommit(b)
		if err != nil {
			if perr := n.checkProtocol(); perr != nil {
				return nil, perr
			}
			return nil, fmt.Errorf("lake: table %s: commit %d: %w", t.name(), v, err)
		}
		if err := n.apply(acts); err != nil {
			return nil, fmt.Errorf("lake: table %s: commit %d: %w", t.name(), v, err)
		}
		n.Version = v
	}
	if err := n.finish(); err != nil {
		return nil, err
	}
	return n, nil
}

// newerSnapshot is a full Snapshot, checked not to be older than s.
func (t *Table) newerSnapshot(ctx context.Context, s *Snapshot) (*Snapshot, error) {
	n, err := t.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if n.Version < s.Version {
		return nil, fmt.Errorf("lake: table %s: latest version %d is older than version %d read before", t.name(), n.Version, s.Version)
	}
	return n, nil
}

// clone copies the replay state of s (not the derived file list, which finish
// rebuilds). Actions are shared: they are never modified after parsing.
func (s *Snapshot) clone() *Snapshot {
	return &Snapshot{
		table: s.table, Version: s.Version, CheckpointVersion: s.CheckpointVersion,
		Protocol: s.Protocol, Metadata: s.Metadata,
		live:       maps.Clone(s.live),
		tombstones: maps.Clone(s.tombstones),
		txns:       maps.Clone(s.txns),
		domains:    maps.Clone(s.domains),
	}
}
