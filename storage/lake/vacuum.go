package lake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultVacuumRetention is VACUUM's default retention and the shortest one it
// accepts without force (delta.deletedFileRetentionDuration's default, 7 days).
const DefaultVacuumRetention = 168 * time.Hour

// ErrRetentionTooShort is returned (wrapped) by Vacuum for a retention below
// DefaultVacuumRetention without force.
var ErrRetentionTooShort = errors.New("lake: retention too short")

// Vacuum deletes the data files under the table root that the latest snapshot
// does not reference and that are old enough: a tombstoned file (remove in the
// log) once its deletionTimestamp is older than now-retain, a file the log never
// mentioned (orphan: failed writes, lost commit races) once its own modification
// time is. It never touches _delta_log, files still referenced by a live add (or
// their deletion vector files), or files in hidden ('.'/'_') folders other than
// partition folders. retain < 0 means DefaultVacuumRetention; a retention below
// it is refused unless force (Delta's retentionDurationCheck: readers of older
// versions and running writers may still need those files). dryRun lists what
// would be deleted and deletes nothing. Keys are returned relative to the root.
func Vacuum(ctx context.Context, t *Table, retain time.Duration, dryRun, force bool) ([]string, error) {
	if retain < 0 {
		retain = DefaultVacuumRetention
	}
	if retain < DefaultVacuumRetention && !force {
		return nil, fmt.Errorf("lake: table %s: VACUUM retention %s is below the safety check of %s "+
			"(delta.deletedFileRetentionDuration): this can corrupt readers of older versions and concurrent writers; "+
			"pass force to disable the retention duration check: %w", t.name(), retain, DefaultVacuumRetention, ErrRetentionTooShort)
	}
	wfs := t.fs
	snap, err := t.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	cutoff := time.Now().Add(-retain)
	live := map[string]bool{}
	for _, f := range snap.Files() {
		live[f.DecodedPath] = true
		if f.DeletionVector != nil && f.DeletionVector.StorageType != "i" {
			if k, abs, err := dvFileKey(f.DeletionVector); err == nil && !abs {
				live[k] = true
			}
		}
	}
	tomb := map[string]int64{}
	for _, r := range snap.Tombstones() {
		if r.DeletionTimestamp != nil {
			tomb[r.DecodedPath] = max(tomb[r.DecodedPath], *r.DeletionTimestamp)
		} else {
			tomb[r.DecodedPath] = 0
		}
	}
	parts := map[string]bool{}
	for _, pc := range snap.Metadata.PartitionColumns {
		parts[escapePartitionName(pc)] = true
	}
	objs, err := t.fs.List(ctx, t.root)
	if err != nil {
		return nil, fmt.Errorf("lake: table %s: vacuum: list: %w", t.name(), err)
	}
	// Folders below the root that hold a _delta_log are other Delta tables.
	var nested []string
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, t.root)
		if i := strings.Index(rel, "/_delta_log/"); i > 0 {
			if d := rel[:i+1]; len(nested) == 0 || nested[len(nested)-1] != d {
				nested = append(nested, d)
			}
		}
	}
	inNested := func(rel string) bool {
		for _, d := range nested {
			if strings.HasPrefix(rel, d) {
				return true
			}
		}
		return false
	}
	var deleted []string
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, t.root)
		if !vacuumable(rel, parts) || live[rel] || inNested(rel) {
			continue
		}
		if ts, ok := tomb[rel]; ok {
			if ts >= cutoff.UnixMilli() {
				continue
			}
		} else if !o.ModTime.Before(cutoff) {
			continue
		}
		deleted = append(deleted, rel)
	}
	if dryRun {
		return deleted, nil
	}
	for i, rel := range deleted {
		if err := wfs.Delete(ctx, t.key(rel)); err != nil {
			return deleted[:i], fmt.Errorf("lake: table %s: vacuum: %w", t.name(), err)
		}
	}
	return deleted, nil
}

// vacuumable reports whether VACUUM may consider a key: a data file of the
// table — a Parquet file or a deletion vector file — directly in the table folder
// or in its partition folders (<partition column>=…) or _change_data. Nothing
// under _delta_log, no hidden file, nothing in any other folder: a lake_path
// shared with unrelated files, or a folder with a Delta table of its own, is left
// alone. (objstore.Local lists no symlinks at all.)
func vacuumable(rel string, parts map[string]bool) bool {
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		if s == "" {
			return false
		}
		if i == len(segs)-1 {
			if s[0] == '_' || s[0] == '.' {
				return false // hidden file (temp files, _SUCCESS, .crc)
			}
			return strings.HasSuffix(s, ".parquet") || strings.HasPrefix(s, "deletion_vector_") && strings.HasSuffix(s, ".bin")
		}
		if s == "_change_data" {
			continue
		}
		if j := strings.IndexByte(s, '='); j > 0 && parts[s[:j]] {
			continue
		}
		return false
	}
	return true
}
