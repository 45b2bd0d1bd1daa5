package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stratadb/strata/storage/objstore"
)

// Table is a Delta table at a root inside an object store. It holds no state: every
// snapshot replays the log.
type Table struct {
	fs   objstore.Store
	root string // "" or "a/b/" (always ends in '/' when not empty)
}

// OpenTable returns the table whose _delta_log lives at root/_delta_log in fsys.
func OpenTable(fsys objstore.Store, root string) *Table {
	root = strings.Trim(root, "/")
	if root != "" {
		root += "/"
	}
	return &Table{fs: fsys, root: root}
}

func (t *Table) key(rel string) string { return t.root + rel }
func (t *Table) logPrefix() string     { return t.root + "_delta_log/" }
func (t *Table) name() string {
	if t.root == "" {
		return "."
	}
	return strings.TrimSuffix(t.root, "/")
}

// logFile is one recognised entry of _delta_log.
type logFile struct {
	objstore.ObjectInfo
	version int64
	kind    int // commitFile, ckptClassic, ckptMultiPart, ckptV2
	part    int // multi-part: 1-based part number
	parts   int // multi-part: number of parts
}

const (
	commitFile = iota
	ckptClassic
	ckptMultiPart
	ckptV2
)

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseLogName recognises NNNNNNNNNNNNNNNNNNNN.json and the checkpoint forms;
// anything else (crc, compacted, _last_checkpoint, temp files) is ignored.
func parseLogName(name string) (lf logFile, ok bool) {
	if len(name) < 21 || !isDigits(name[:20]) || name[20] != '.' {
		return lf, false
	}
	v, err := strconv.ParseInt(name[:20], 10, 64)
	if err != nil {
		return lf, false
	}
	lf.version = v
	rest := name[21:]
	switch {
	case rest == "json":
		lf.kind = commitFile
		return lf, true
	case rest == "checkpoint.parquet":
		lf.kind = ckptClassic
		return lf, true
	case strings.HasPrefix(rest, "checkpoint."):
		r := rest[len("checkpoint."):]
		// multi-part: 0000000001.0000000003.parquet
		if len(r) == 10+1+10+len(".parquet") && strings.HasSuffix(r, ".parquet") && isDigits(r[:10]) && r[10] == '.' && isDigits(r[11:21]) {
			p, _ := strconv.Atoi(r[:10])
			n, _ := strconv.Atoi(r[11:21])
			if p >= 1 && p <= n {
				lf.kind, lf.part, lf.parts = ckptMultiPart, p, n
				return lf, true
			}
			return lf, false
		}
		// v2: <uuid>.json | <uuid>.parquet
		if (strings.HasSuffix(r, ".json") || strings.HasSuffix(r, ".parquet")) && !strings.Contains(strings.TrimSuffix(strings.TrimSuffix(r, ".json"), ".parquet"), ".") {
			lf.kind = ckptV2
			return lf, true
		}
	}
	return lf, false
}

// logListing is _delta_log as listed once.
type logListing struct {
	commits     map[int64]objstore.ObjectInfo
	checkpoints []checkpointCandidate // newest first
	maxCommit   int64                 // -1 when none
}

type checkpointCandidate struct {
	version int64
	kind    int
	files   []objstore.ObjectInfo // classic/v2: 1; multi-part: parts 1..n in order
	hint    *lastCheckpoint
}

// lastCheckpoint is the content of _last_checkpoint: a hint, checked against the
// checkpoint it names (action count and number of add files when present).
type lastCheckpoint struct {
	Version       *int64 `json:"version"`
	Size          *int64 `json:"size"`
	Parts         *int64 `json:"parts"`
	NumOfAddFiles *int64 `json:"numOfAddFiles"`
}

func (t *Table) list(ctx context.Context, startAfter string) (*logListing, error) {
	prefix := t.logPrefix()
	objs, err := t.fs.ListFrom(ctx, prefix, startAfter)
	if err != nil {
		return nil, fmt.Errorf("lake: table %s: list log: %w", t.name(), err)
	}
	l := &logListing{commits: map[int64]objstore.ObjectInfo{}, maxCommit: -1}
	multi := map[[2]int64]map[int]objstore.ObjectInfo{} // (version, parts) -> part -> file
	for _, o := range objs {
		name := strings.TrimPrefix(o.Key, prefix)
		if strings.Contains(name, "/") { // _sidecars/, .tmp/, _staged_commits/: not log entries
			continue
		}
		lf, ok := parseLogName(name)
		if !ok {
			continue
		}
		switch lf.kind {
		case commitFile:
			l.commits[lf.version] = o
			if lf.version > l.maxCommit {
				l.maxCommit = lf.version
			}
		case ckptClassic, ckptV2:
			l.checkpoints = append(l.checkpoints, checkpointCandidate{version: lf.version, kind: lf.kind, files: []objstore.ObjectInfo{o}})
		case ckptMultiPart:
			k := [2]int64{lf.version, int64(lf.parts)}
			if multi[k] == nil {
				multi[k] = map[int]objstore.ObjectInfo{}
			}
			multi[k][lf.part] = o
		}
	}
	for k, parts := range multi {
		if len(parts) != int(k[1]) { // usable only if all parts exist
			continue
		}
		c := checkpointCandidate{version: k[0], kind: ckptMultiPart}
		for p := 1; p <= int(k[1]); p++ {
			c.files = append(c.files, parts[p])
		}
		l.checkpoints = append(l.checkpoints, c)
	}
	// Newest first; at one version prefer v2, then classic, then multi-part
	// (any complete one is valid), ties by name for determinism.
	rank := map[int]int{ckptV2: 0, ckptClassic: 1, ckptMultiPart: 2}
	sort.Slice(l.checkpoints, func(i, j int) bool {
		a, b := l.checkpoints[i], l.checkpoints[j]
		if a.version != b.version {
			return a.version > b.version
		}
		if rank[a.kind] != rank[b.kind] {
			return rank[a.kind] < rank[b.kind]
		}
		return a.files[0].Key < b.files[0].Key
	})
	return l, nil
}

// lastCheckpointHint reads _last_checkpoint; any problem yields nil (it is a hint).
func (t *Table) lastCheckpointHint(ctx context.Context) *lastCheckpoint {
	b, err := t.fs.Get(ctx, t.logPrefix()+"_last_checkpoint")
	if err != nil {
		return nil
	}
	var lc lastCheckpoint
	if json.Unmarshal(b, &lc) != nil || lc.Version == nil || *lc.Version < 0 {
		return nil
	}
	return &lc
}

// Snapshot returns the latest snapshot. _last_checkpoint narrows the listing to
// versions at or after its checkpoint; if that checkpoint is missing or unusable the
// whole log is listed and replayed from the newest checkpoint that loads.
func (t *Table) Snapshot(ctx context.Context) (*Snapshot, error) {
	bad := map[string]bool{}
	if hint := t.lastCheckpointHint(ctx); hint != nil {
		hv := *hint.Version
		l, err := t.list(ctx, t.logPrefix()+fmt.Sprintf("%020d", hv))
		if err != nil {
			return nil, err
		}
		if l.maxCommit >= hv {
			// Newest first: a stale hint still narrows the listing, and a newer
			// checkpoint found by it is used.
			for _, c := range l.checkpoints {
				if c.version == hv {
					if hint.Parts != nil && c.kind == ckptMultiPart && int64(len(c.files)) != *hint.Parts {
						continue
					}
					c.hint = hint
				}
				s, err := t.replayFrom(ctx, l, &c, l.maxCommit)
				if err == nil {
					return s, nil
				}
				if isUnsupported(err) {
					return nil, err
				}
				// Unreadable, or disagreeing with the hint: do not trust it below either.
				bad[c.files[0].Key] = true
			}
		}
	}
	l, err := t.list(ctx, "")
	if err != nil {
		return nil, err
	}
	if l.maxCommit < 0 {
		return nil, fmt.Errorf("lake: table %s: no commits in _delta_log: %w", t.name(), ErrNotExist)
	}
	return t.snapshotAt(ctx, l, l.maxCommit, bad)
}

// SnapshotAt returns the snapshot at version (VERSION AS OF).
func (t *Table) SnapshotAt(ctx context.Context, version int64) (*Snapshot, error) {
	l, err := t.list(ctx, "")
	if err != nil {
		return nil, err
	}
	if version < 0 || version > l.maxCommit {
		return nil, fmt.Errorf("lake: table %s: version %d does not exist (latest is %d)", t.name(), version, l.maxCommit)
	}
	return t.snapshotAt(ctx, l, version, nil)
}

// snapshotAt replays to version from the newest checkpoint at or below it that
// loads (skipping those in bad), else from version 0.
func (t *Table) snapshotAt(ctx context.Context, l *logListing, version int64, bad map[string]bool) (*Snapshot, error) {
	var firstErr error
	for i := range l.checkpoints {
		c := &l.checkpoints[i]
		if c.version > version || bad[c.files[0].Key] {
			continue
		}
		s, err := t.replayFrom(ctx, l, c, version)
		if err == nil {
			return s, nil
		}
		if isUnsupported(err) {
			return nil, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	s, err := t.replayFrom(ctx, l, nil, version)
	if err != nil && firstErr != nil {
		return nil, fmt.Errorf("%w (newest checkpoint also failed: %v)", err, firstErr)
	}
	return s, err
}

// replayFrom loads checkpoint c (nil: start from version 0) and applies commits
// after it up to version.
func (t *Table) replayFrom(ctx context.Context, l *logListing, c *checkpointCandidate, version int64) (*Snapshot, error) {
	s := newSnapshot(t)
	start := int64(0)
	if c != nil {
		acts, err := t.loadCheckpoint(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("lake: table %s: checkpoint %d: %w", t.name(), c.version, err)
		}
		if err := s.apply(acts); err != nil {
			if isUnsupported(err) {
				return nil, err
			}
			return nil, fmt.Errorf("lake: table %s: checkpoint %d: %w", t.name(), c.version, err)
		}
		start = c.version + 1
		s.Version = c.version
		s.CheckpointVersion = c.version
	}
	for v := start; v <= version; v++ {
		o, ok := l.commits[v]
		if !ok {
			return nil, fmt.Errorf("lake: table %s: commit %d is missing, cannot reconstruct version %d", t.name(), v, version)
		}
		b, err := t.fs.Get(ctx, o.Key)
		if err != nil {
			return nil, fmt.Errorf("lake: table %s: commit %d: %w", t.name(), v, err)
		}
		acts, err := ParseCommit(b)
		if err != nil {
			if s.Protocol.MinReaderVersion != 0 {
				// Actions of a feature this reader lacks may not parse: say so.
				if perr := s.checkProtocol(); perr != nil {
					return nil, perr
				}
			}
			return nil, fmt.Errorf("lake: table %s: commit %d: %w", t.name(), v, err)
		}
		if err := s.apply(acts); err != nil {
			if isUnsupported(err) {
				return nil, err
			}
			return nil, fmt.Errorf("lake: table %s: commit %d: %w", t.name(), v, err)
		}
		s.Version = v
	}
	if err := s.finish(); err != nil {
		return nil, err
	}
	return s, nil
}

func (t *Table) loadCheckpoint(ctx context.Context, c *checkpointCandidate) (*Actions, error) {
	all := &Actions{}
	for _, f := range c.files {
		b, err := t.fs.Get(ctx, f.Key)
		if err != nil {
			return nil, err
		}
		var acts *Actions
		if strings.HasSuffix(f.Key, ".json") {
			acts, err = ParseCommit(b)
		} else {
			acts, err = parseCheckpointParquet(ctx, b)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Key, err)
		}
		if err := mergeActions(all, acts); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Key, err)
		}
	}
	if c.kind == ckptV2 && all.CheckpointMetadata == nil {
		return nil, fmt.Errorf("v2 checkpoint without checkpointMetadata")
	}
	for _, sc := range all.Sidecars {
		key, abs, err := decodePath(sc.Path)
		if err != nil || abs {
			return nil, fmt.Errorf("sidecar %q: unsupported path", sc.Path)
		}
		if !strings.Contains(key, "/") {
			key = "_sidecars/" + key
		}
		b, err := t.fs.Get(ctx, t.logPrefix()+key)
		if err != nil {
			return nil, fmt.Errorf("sidecar %s: %w", key, err)
		}
		acts, err := parseCheckpointParquet(ctx, b)
		if err != nil {
			return nil, fmt.Errorf("sidecar %s: %w", key, err)
		}
		all.Adds = append(all.Adds, acts.Adds...)
		all.Removes = append(all.Removes, acts.Removes...)
	}
	if all.Protocol == nil || all.Metadata == nil {
		return nil, fmt.Errorf("checkpoint lacks protocol or metaData")
	}
	if h := c.hint; h != nil {
		if h.NumOfAddFiles != nil && *h.NumOfAddFiles != int64(len(all.Adds)) {
			return nil, fmt.Errorf("checkpoint has %d add files, _last_checkpoint says %d", len(all.Adds), *h.NumOfAddFiles)
		}
		if h.Size != nil && *h.Size != all.count() {
			return nil, fmt.Errorf("checkpoint has %d actions, _last_checkpoint says %d", all.count(), *h.Size)
		}
	}
	return all, nil
}

// count is the number of actions (checkpoint rows, sidecar contents included).
func (a *Actions) count() int64 {
	n := len(a.Adds) + len(a.Removes) + len(a.Txns) + len(a.Domains) + len(a.Sidecars)
	if a.Protocol != nil {
		n++
	}
	if a.Metadata != nil {
		n++
	}
	if a.CheckpointMetadata != nil {
		n++
	}
	return int64(n)
}

func mergeActions(dst, src *Actions) error {
	if src.Protocol != nil {
		if dst.Protocol != nil {
			return errors.New("two protocol actions")
		}
		dst.Protocol = src.Protocol
	}
	if src.Metadata != nil {
		if dst.Metadata != nil {
			return errors.New("two metaData actions")
		}
		dst.Metadata = src.Metadata
	}
	if src.CheckpointMetadata != nil {
		dst.CheckpointMetadata = src.CheckpointMetadata
	}
	dst.Adds = append(dst.Adds, src.Adds...)
	dst.Removes = append(dst.Removes, src.Removes...)
	dst.Txns = append(dst.Txns, src.Txns...)
	dst.Domains = append(dst.Domains, src.Domains...)
	dst.Sidecars = append(dst.Sidecars, src.Sidecars...)
	return nil
}

// commitTimestamps returns the commit timestamp of every reconstructable version,
// index 0 = version first: N.json modification times made strictly increasing, or
// commitInfo.inCommitTimestamp for versions at or after in-commit timestamps were
// enabled (delta.enableInCommitTimestamps, delta.inCommitTimestampEnablementVersion).
func (t *Table) commitTimestamps(ctx context.Context, l *logListing, latest *Snapshot) (first int64, ts []int64, err error) {
	// The earliest reconstructable version: 0 when every commit is there, else the
	// oldest checkpoint from which the remaining commits are contiguous.
	low := l.maxCommit
	for low > 0 {
		if _, ok := l.commits[low-1]; !ok {
			break
		}
		low--
	}
	first = -1
	if _, ok := l.commits[0]; ok && low == 0 {
		first = 0
	} else {
		for _, c := range l.checkpoints {
			if c.version >= low-1 && c.version <= l.maxCommit && (first < 0 || c.version < first) {
				first = c.version
			}
		}
	}
	if first < 0 {
		return 0, nil, fmt.Errorf("lake: table %s: no version can be reconstructed (commits %d..%d, no checkpoint)", t.name(), low, l.maxCommit)
	}
	ictFrom := int64(-1)
	if conf := latest.Metadata.Configuration; conf["delta.enableInCommitTimestamps"] == "true" {
		ictFrom = 0
		if s, ok := conf["delta.inCommitTimestampEnablementVersion"]; ok {
			if ictFrom, err = strconv.ParseInt(s, 10, 64); err != nil {
				return 0, nil, fmt.Errorf("lake: table %s: delta.inCommitTimestampEnablementVersion %q", t.name(), s)
			}
		}
	}
	for v := first; v <= l.maxCommit; v++ {
		o, ok := l.commits[v]
		var ms int64
		if ictFrom >= 0 && v >= ictFrom && ok {
			b, err := t.fs.Get(ctx, o.Key)
			if err != nil {
				return 0, nil, err
			}
			acts, err := ParseCommit(b)
			if err != nil {
				return 0, nil, fmt.Errorf("lake: table %s: commit %d: %w", t.name(), v, err)
			}
			if acts.CommitInfo == nil || acts.CommitInfo.InCommitTimestamp == nil {
				return 0, nil, fmt.Errorf("lake: table %s: commit %d has no inCommitTimestamp", t.name(), v)
			}
			ms = *acts.CommitInfo.InCommitTimestamp
		} else {
			if !ok { // a checkpoint without its commit: use the checkpoint's mtime
				for _, c := range l.checkpoints {
					if c.version == v {
						o = c.files[0]
					}
				}
			}
			ms = o.ModTime.UnixMilli()
			if n := len(ts); n > 0 && ms <= ts[n-1] {
				ms = ts[n-1] + 1
			}
		}
		ts = append(ts, ms)
	}
	return first, ts, nil
}

// SnapshotAsOf returns the snapshot of the greatest version committed at or before
// at (TIMESTAMP AS OF). A time before the earliest reconstructable commit or after
// the latest one is an error.
func (t *Table) SnapshotAsOf(ctx context.Context, at time.Time) (*Snapshot, error) {
	l, err := t.list(ctx, "")
	if err != nil {
		return nil, err
	}
	if l.maxCommit < 0 {
		return nil, fmt.Errorf("lake: table %s: no commits in _delta_log: %w", t.name(), ErrNotExist)
	}
	latest, err := t.snapshotAt(ctx, l, l.maxCommit, nil)
	if err != nil {
		return nil, err
	}
	first, ts, err := t.commitTimestamps(ctx, l, latest)
	if err != nil {
		return nil, err
	}
	ms := at.UnixMilli()
	if ms > ts[len(ts)-1] {
		return nil, fmt.Errorf("lake: table %s: timestamp %s is after the latest commit (version %d at %s)",
			t.name(), at.UTC().Format(time.RFC3339Nano), l.maxCommit, time.UnixMilli(ts[len(ts)-1]).UTC().Format(time.RFC3339Nano))
	}
	found := int64(-1)
	for i, c := range ts {
		if c <= ms {
			found = first + int64(i)
		}
	}
	if found < 0 {
		return nil, fmt.Errorf("lake: table %s: timestamp %s is before the earliest available commit (version %d at %s)",
			t.name(), at.UTC().Format(time.RFC3339Nano), first, time.UnixMilli(ts[0]).UTC().Format(time.RFC3339Nano))
	}
	if found == l.maxCommit {
		return latest, nil
	}
	return t.snapshotAt(ctx, l, found, nil)
}
