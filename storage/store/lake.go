package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/lakesrc"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/roots"
)

// The cold tier. Every table has a Delta Lake table (option lake_path; default
// <dir>/lake/<table id>: a table's name never becomes a path). Handoff moves the segments of closed time chunks into
// it, or, for a Kafka table whose lake is the checkpoint of its partitions, every
// segment of the partitions this process owns with one txn per partition
// (handoff by offset, at the end of this file):
//
//  1. record the intent (catalog LakeState.Pending: handoff sequence number and
//     segment ids), so a restart knows what may have reached the lake;
//  2. write the segments' rows as Parquet files (one per chunk and date), the
//     Delta table is created at the first handoff;
//  3. commit them to the Delta log with txn(appId = the table's id and creation
//     time, version = seq);
//  4. in one catalog batch: remove the segments, set LakeState.Version to the
//     Delta version just committed, clear Pending; in the same critical section
//     the live table's lake snapshot moves to that version.
//
// A query's snapshot is the lake at a version V >= LakeState.Version plus the
// catalog's segments plus the head, taken under Store.mu, so every row is in
// exactly one of them (DESIGN.md invariant 2). V moves past LakeState.Version
// when other writers commit (follow.go), but never to a version holding a
// handoff of ours whose segments are live. A crash after step 3 leaves the rows
// in the segments and in a Delta version newer than LakeState.Version, which
// queries do not read; the next Handoff sees txn version >= Pending.Seq in the
// log and only performs step 4. A crash before step 3 leaves orphan Parquet files that VACUUM removes.
//
// Lake files are read through the lakesrc cache, which materializes them as local
// segments; a handed-off chunk that was one segment and became one file is adopted
// into the cache by hard link, so its rows stay hot without a conversion.

// Table options of the cold tier (declared in catalog.TableOptions).
const (
	OptLakePath     = catalog.OptLakePath     // s3://bucket/prefix or a folder
	OptHandoff      = catalog.OptHandoff      // "on" (default) or "off"
	OptHandoffGrace = catalog.OptHandoffGrace // wait after a chunk's end before handing it off; default 10 minutes
	OptExternal     = catalog.OptExternal     // "true": the table is a Delta table strata only reads
	OptTimeColumn   = catalog.OptTimeColumn   // external tables: the column used as time ("" for none)
)

// DefaultHandoffGrace is how long after a chunk's end late rows are still
// expected before the chunk is handed off.
const DefaultHandoffGrace = 10 * time.Minute

// ErrExternal is returned for writes to an external Delta table.
var ErrExternal = errors.New("table is an external Delta table (read-only)")

// ErrSourceMoved is returned (wrapped) by Handoff when the lake's txn of a source
// this process owns is not where this process last knew it: another process
// handed the partition off meanwhile. The source's rows stay local and out of
// the lake; its owner takes it up again with ResetSource.
var ErrSourceMoved = errors.New("the lake's offset of the partition moved under this process")

// ErrNoLake is returned for lake operations on a table that has no Delta table yet.
var ErrNoLake = errors.New("table has no lake versions yet")

// lakeLink is a table's open Delta table.
type lakeLink struct {
	tbl  *lake.Table
	fs   objstore.Store
	loc  string // canonical location, the cache key prefix
	path string // the folder or s3:// URL it was opened from
}

// appID is the txn appId of a table's handoffs: its id and creation time, so that
// a Delta table written by another strata table (another data directory, or a
// dropped table's path reused) never has a txn that passes for this table's.
func appID(def *catalog.TableDef) string {
	return "strata-table-" + strconv.FormatUint(def.ID, 10) + "-" + strconv.FormatInt(def.Created.UnixNano(), 10)
}

// IsExternal reports whether def is an external (read-only) Delta table.
func IsExternal(def *catalog.TableDef) bool { return def.Options[OptExternal] == "true" }

// defaultLakeDir is the lake folder of a table without lake_path, named by the
// table's id.
func (s *Store) defaultLakeDir(id uint64) string {
	return filepath.Join(s.realDir, "lake", strconv.FormatUint(id, 10))
}

// LakeLocation returns the folder or s3:// URL of table's Delta table.
func (s *Store) LakeLocation(table string) (string, error) {
	def, ok := s.cat.Table(table)
	if !ok {
		return "", fmt.Errorf("table %s: %w", table, ErrNoTable)
	}
	if p := def.Options[OptLakePath]; p != "" {
		return p, nil
	}
	return s.defaultLakeDir(def.ID), nil
}

// Roots returns the lake roots every client-given location must lie under.
func (s *Store) Roots() roots.Roots { return s.roots }

// OpenServerFile opens a file a client named for reading (COPY ... FROM 'file'):
// relative to the data directory, and only under a lake root (roots.ErrOutside).
func (s *Store) OpenServerFile(path string) (*os.File, error) { return s.roots.OpenFile(path) }

// resolveLakePath checks a lake_path a client gave for a writable table and
// returns its canonical form. It must lie under a lake root, must neither lie in
// the data directory nor contain it (whatever the roots say: the data directory's
// lake folders are strata's, named by table id), and must not overlap the
// lake_path of another writable table (VACUUM and DROP of one would reach the other).
func (s *Store) resolveLakePath(path, table, rejectsOf string) (string, error) {
	loc, err := s.roots.Resolve(path)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(loc, "s3://") && (roots.Contains(loc, s.realDir) || roots.Contains(s.realDir, loc)) {
		return "", fmt.Errorf("%q overlaps the data directory %s: %w", path, s.realDir, roots.ErrOutside)
	}
	for _, other := range s.cat.Tables() {
		o := other.Options[OptLakePath]
		if o == "" || IsExternal(&other) || other.Name == table {
			continue
		}
		if rejectsOf != "" && other.Name == rejectsOf && loc == RejectsLakePath(o) {
			continue // a rejects table's lake inside its table's (RejectsLakePath)
		}
		if overlaps(o, loc) {
			return "", fmt.Errorf("%q overlaps the lake_path %s of table %s: %w", path, o, other.Name, ErrLakePathInUse)
		}
	}
	return loc, nil
}

// RejectsLakePath is the lake_path of the rejects table of a table whose
// lake_path is path: the Delta table _rejects inside it, which Delta readers of
// the table skip (a folder whose name starts with '_') and VACUUM leaves alone
// (a nested Delta table). So every process sharing the table's lake shares its
// rejects' lake too, and rejects are handed off by offset like rows.
func RejectsLakePath(path string) string { return strings.TrimRight(path, "/") + "/_rejects" }

// ErrLakePathInUse is returned (wrapped) for a lake_path that overlaps another
// table's.
var ErrLakePathInUse = errors.New("lake_path is in use by another table")

// overlaps reports whether one canonical location is the other or lies below it.
func overlaps(a, b string) bool {
	if strings.HasPrefix(a, "s3://") != strings.HasPrefix(b, "s3://") {
		return false
	}
	in := func(outer, inner string) bool { return outer == inner || strings.HasPrefix(inner, outer+"/") }
	if strings.HasPrefix(a, "s3://") {
		return in(a, b) || in(b, a)
	}
	return roots.Contains(a, b) || roots.Contains(b, a)
}

// migrateLakeDirs moves the default lake folders of tables created before lake
// folders were named by table id (<dir>/lake/<name>) to <dir>/lake/<id>. Only a
// name that is one plain path element is considered; the move goes through
// <dir>/lake/.migrate-<id> so that a name that looks like another table's id
// cannot collide, and a crash between the two renames is finished next time.
func (s *Store) migrateLakeDirs() error {
	base := filepath.Join(s.realDir, "lake")
	var moved []uint64
	for _, def := range s.cat.Tables() {
		if def.Options[OptLakePath] != "" || IsExternal(&def) {
			continue
		}
		tmp := filepath.Join(base, ".migrate-"+strconv.FormatUint(def.ID, 10))
		if _, err := os.Stat(tmp); err == nil {
			moved = append(moved, def.ID)
			continue
		}
		n := def.Name
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\\x00") || n == strconv.FormatUint(def.ID, 10) {
			continue
		}
		old := filepath.Join(base, n)
		if fi, err := os.Lstat(filepath.Join(old, "_delta_log")); err != nil || !fi.IsDir() {
			continue
		}
		if _, err := os.Stat(s.defaultLakeDir(def.ID)); err == nil {
			continue
		}
		if err := os.Rename(old, tmp); err != nil {
			return fmt.Errorf("table %s: move lake folder %s: %w", def.Name, old, err)
		}
		moved = append(moved, def.ID)
	}
	for _, id := range moved {
		tmp := filepath.Join(base, ".migrate-"+strconv.FormatUint(id, 10))
		if err := os.Rename(tmp, s.defaultLakeDir(id)); err != nil {
			return fmt.Errorf("move lake folder %s: %w", tmp, err)
		}
	}
	return nil
}

// lakeOf opens (once per table) the Delta table of def.
func (s *Store) lakeOf(ctx context.Context, def *catalog.TableDef) (*lakeLink, error) {
	s.mu.Lock()
	lt := s.mu.tables[def.Name]
	if lt != nil && lt.def.ID == def.ID && lt.lake != nil {
		l := lt.lake
		s.mu.Unlock()
		return l, nil
	}
	s.mu.Unlock()
	path := def.Options[OptLakePath]
	if path == "" {
		path = s.defaultLakeDir(def.ID)
	}
	fsys, loc, err := s.openLakeLocation(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", def.Name, err)
	}
	if s.knobs.LakeStore != nil {
		fsys = s.knobs.LakeStore(fsys)
	}
	l := &lakeLink{tbl: lake.OpenTable(fsys, ""), fs: fsys, loc: loc}
	s.mu.Lock()
	if lt := s.mu.tables[def.Name]; lt != nil && lt.def.ID == def.ID {
		if lt.lake == nil {
			lt.lake = l
		}
		l = lt.lake
	}
	s.mu.Unlock()
	return l, nil
}

// openLakeLocation is lake.OpenLocation with, on S3, a local byte-range cache
// of the location's Parquet files (footers and column chunks, as the direct
// scan fetches them; objstore.Cached: one open, unlinked file per object) in
// <data dir>/lakebytes/<hash of the location>, of at most rangeCacheBytes, shared by every table and delta_scan
// of the location. Parquet files are immutable, so entries never go stale.
func (s *Store) openLakeLocation(ctx context.Context, path string) (objstore.Store, string, error) {
	if !strings.HasPrefix(path, "s3://") {
		return lake.OpenLocation(ctx, path, s.opts.ObjStore)
	}
	loc := strings.TrimRight(path, "/")
	s.rangeMu.Lock()
	defer s.rangeMu.Unlock()
	if c := s.rangeCaches[loc]; c != nil {
		return c, loc, nil
	}
	st, err := objstore.Open(ctx, path, s.opts.ObjStore)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256([]byte(loc))
	dir := filepath.Join(s.dir, "lakebytes", hex.EncodeToString(sum[:8]))
	c := objstore.NewCachedFilter(st, dir, s.rangeCacheBytes, func(key string) bool {
		return strings.HasSuffix(key, ".parquet")
	})
	if s.rangeCaches == nil {
		s.rangeCaches = map[string]*objstore.Cached{}
	}
	s.rangeCaches[loc] = c
	return c, loc, nil
}

// partitionColumn is the date column the lake table is partitioned by: "date",
// or "<time column>_date" when the table has a column named date.
func partitionColumn(schema *storage.Schema) string {
	if schema.Index("date") < 0 {
		return "date"
	}
	return schema.Columns[schema.TimeColumn].Name + "_date"
}

// lakeSchema is the Delta schema of a table's lake: its columns plus the date
// partition column. Columns of SQL type timestamp (without time zone) are written
// as Delta timestamp, not timestamp_ntz: strata keeps both as UTC microseconds, and
// timestamp_ntz would need reader version 3 (table feature timestampNtz), which
// many readers refuse.
func lakeSchema(schema *storage.Schema) (*lake.DataType, error) {
	return lake.SchemaFromArrow(lakeArrowSchema(schema))
}

// lakeArrowSchema is the Arrow schema of the batches handoff writes: the table's
// columns (lakesrc.ArrowSchema) with zone-less timestamps as UTC ones, then the
// date partition column.
func lakeArrowSchema(schema *storage.Schema) *arrow.Schema {
	fields := lakesrc.ArrowSchema(schema).Fields()
	for i, f := range fields {
		if ts, ok := f.Type.(*arrow.TimestampType); ok && ts.TimeZone == "" {
			fields[i].Type = &arrow.TimestampType{Unit: ts.Unit, TimeZone: "UTC"}
		}
	}
	fields = append(fields, arrow.Field{Name: partitionColumn(schema), Type: arrow.FixedWidthTypes.Date32, Nullable: true})
	return arrow.NewSchema(fields, nil)
}

// ensureLakeTable returns the latest snapshot of the table's lake, creating the
// Delta table when it does not exist. An existing table must have the columns of
// the strata table (by name and type) and the date partition.
func (s *Store) ensureLakeTable(ctx context.Context, def *catalog.TableDef, l *lakeLink) (*lake.Snapshot, error) {
	want, err := lakeSchema(&def.Schema)
	if err != nil {
		return nil, err
	}
	snap, err := l.tbl.Snapshot(ctx)
	if err != nil && errors.Is(err, lake.ErrNotExist) {
		props := map[string]string{"strata.table": def.Name, "strata.appId": appID(def)}
		if _, cerr := lake.CreateTable(ctx, l.fs, "", want, []string{partitionColumn(&def.Schema)}, props); cerr != nil && !errors.Is(cerr, lake.ErrExists) {
			return nil, fmt.Errorf("create lake table at %s: %w", l.loc, cerr)
		}
		snap, err = l.tbl.Snapshot(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("lake table at %s: %w", l.loc, err)
	}
	if err := checkLakeSchema(def, l, snap); err != nil {
		return nil, err
	}
	return snap, nil
}

// checkLakeSchema checks that the lake table at snap has the columns of the
// strata table def (by name and type) and its date partition.
func checkLakeSchema(def *catalog.TableDef, l *lakeLink, snap *lake.Snapshot) error {
	want, err := lakeSchema(&def.Schema)
	if err != nil {
		return err
	}
	got := snap.Schema
	if got == nil || len(got.Fields) != len(want.Fields) {
		return fmt.Errorf("lake table at %s has columns %s, the table needs %s", l.loc, got, want)
	}
	for i := range want.Fields {
		g, w := got.Fields[i], want.Fields[i]
		if g.Name != w.Name || g.Type.String() != w.Type.String() {
			return fmt.Errorf("lake table at %s: column %d is %s %s, the table needs %s %s", l.loc, i, g.Name, g.Type, w.Name, w.Type)
		}
	}
	return nil
}

// HandoffResult describes one Handoff call.
type HandoffResult struct {
	Seq      uint64 // the last handoff sequence number committed (0: none)
	Version  int64  // the Delta version queries now read
	Segments int    // segments moved
	Rows     int64
	Files    int
	Bytes    int64 // Parquet bytes written
	Repaired bool  // a pending handoff from before a restart was resolved
	Duration time.Duration
}

// Handoff moves the segments of table whose time chunk ended before now minus the
// table's handoff grace into its Delta table (see the comment at the top of this
// file), first resolving a handoff a crash left pending. It does nothing for
// external tables and tables with handoff = 'off'. One Handoff or Compact runs at a time.
func (s *Store) Handoff(ctx context.Context, table string, now time.Time) (HandoffResult, error) {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	start := time.Now()
	var res HandoffResult
	def, ok := s.cat.Table(table)
	if !ok {
		return res, fmt.Errorf("handoff %s: %w", table, ErrNoTable)
	}
	if IsExternal(&def) || strings.EqualFold(def.Options[OptHandoff], "off") {
		return res, nil
	}
	grace := DefaultHandoffGrace
	if g := def.Options[OptHandoffGrace]; g != "" {
		d, err := catalog.ParseDuration(g)
		if err != nil {
			return res, fmt.Errorf("handoff %s: option %s: %w", table, OptHandoffGrace, err)
		}
		grace = d
	}
	l, err := s.lakeOf(ctx, &def)
	if err != nil {
		return res, fmt.Errorf("handoff %s: %w", table, err)
	}
	ls, _ := s.cat.Lake(table)
	if ls.Pending != nil {
		if ls, err = s.resolvePending(ctx, &def, l, ls); err != nil {
			return res, fmt.Errorf("handoff %s: %w", table, err)
		}
		res.Repaired = true
	}
	res.Seq, res.Version = ls.Seq, ls.Version

	// The segments to hand off, as the live set holds them now: of a source's
	// rows (a streaming table's Kafka partition) when the lake is its checkpoint
	// (owned sources are set), every segment of a source this process owns,
	// whatever its time (handoff by offset, see the end of this file); of other
	// rows the segments of closed chunks. Segments are only
	// added or removed under compactMu (held) or by a publish, which only adds,
	// so the chosen ones stay published until step 4. A persist publishes a
	// source's segments and its offset together under publishMu: holding it
	// while choosing, the offsets read are exactly those past the chosen rows.
	cutoff := now.Add(-grace).UnixMicro()
	gran := def.Granularity.Microseconds()
	offTable := offsetTable(&def)
	s.publishMu.Lock()
	offs := s.cat.Offsets(offTable)
	owned := s.ownedSources(def)
	refs, release, err := s.holdSegments(def, func(ref *segRef) bool {
		if ref.meta.Source != "" && owned != nil {
			return owned[ref.meta.Source]
		}
		end := ref.meta.ChunkStart + gran
		return end <= cutoff && end > ref.meta.ChunkStart
	})
	s.publishMu.Unlock()
	if err != nil {
		return res, fmt.Errorf("handoff %s: %w", table, err)
	}
	defer release()
	// The sources whose lake offset moves: every owned one whose catalog
	// offset is past what the lake holds.
	moved := map[string]int64{}
	for src := range owned {
		c, ok := offs[src]
		if b, had := ls.Offsets[src]; ok && (!had || b != c) {
			moved[src] = c
		}
	}
	if len(refs) == 0 && len(moved) == 0 {
		return res, nil
	}
	snap, err := s.ensureLakeTable(ctx, &def, l)
	if err != nil {
		return res, fmt.Errorf("handoff %s: %w", table, err)
	}
	// A source's txn must still be where this process last left it (or read it
	// when it took the partition): otherwise another process has handed off
	// the partition since, and this one's rows of it must not follow. The Delta
	// commit below fails on a concurrent txn of the same appId, so the check
	// holds until it lands.
	var stale []string
	var staleErr error
	for src := range moved {
		have, ok := snap.TxnVersion(sourceAppID(def.Name, src))
		if b, had := ls.Offsets[src]; ok != had || have != b {
			stale = append(stale, src)
			delete(moved, src)
		}
	}
	if len(stale) > 0 {
		slices.Sort(stale)
		// A new slice: release lets go of every held segment in refs' array.
		refs = slices.DeleteFunc(slices.Clone(refs), func(ref *segRef) bool { return slices.Contains(stale, ref.meta.Source) })
		staleErr = fmt.Errorf("handoff %s: sources %v: another process handed them off since this one took them: %w", table, stale, ErrSourceMoved)
		if hooks := s.handoffHooks(def); hooks != nil && hooks.Moved != nil {
			hooks.Moved(stale)
		}
		if len(refs) == 0 && len(moved) == 0 {
			return res, staleErr
		}
	}

	// Step 1: the intent.
	seq := ls.Seq + 1
	ids := make([]string, len(refs))
	for i, ref := range refs {
		ids[i] = ref.meta.ID
	}
	intent := ls
	intent.Pending = &catalog.Handoff{Seq: seq, Segments: ids, Offsets: moved}
	if err = s.commitLake(def, nil, &intent, nil); err != nil {
		return res, fmt.Errorf("handoff %s: record intent: %w", table, err)
	}
	if s.knobs.AfterLakeIntent != nil {
		if err = s.knobs.AfterLakeIntent(); err != nil {
			return res, err
		}
	}

	// Step 2: the files.
	type chunkFiles struct {
		ref   *segRef // the chunk's only segment, or nil
		files []*lake.AddFile
	}
	var chunks []chunkFiles
	var adds []*lake.AddFile
	for i := 0; i < len(refs); {
		j := i + 1
		for j < len(refs) && refs[j].meta.ChunkStart == refs[i].meta.ChunkStart {
			j++
		}
		srcs := make([]storage.Source, 0, j-i)
		for _, ref := range refs[i:j] {
			srcs = append(srcs, ref.reader)
			res.Rows += ref.meta.Rows
		}
		files, err := s.writeLakeChunk(ctx, &def, snap, srcs)
		if err != nil {
			return res, fmt.Errorf("handoff %s: chunk %s: %w", table, time.UnixMicro(refs[i].meta.ChunkStart).UTC().Format(time.RFC3339), err)
		}
		if s.knobs.MutantCommitFileTwice && len(chunks) == 0 {
			again, err := s.writeLakeChunk(ctx, &def, snap, srcs)
			if err != nil {
				return res, err
			}
			files = append(files, again...)
		}
		cf := chunkFiles{files: files}
		if j-i == 1 {
			cf.ref = refs[i]
		}
		chunks = append(chunks, cf)
		adds = append(adds, files...)
		i = j
	}
	if s.knobs.AfterLakeFiles != nil {
		if err := s.knobs.AfterLakeFiles(); err != nil {
			return res, err
		}
	}

	// The owner's last word: it still owns the sources (a consumer-group
	// commit), right before they move in the lake.
	if hooks := s.handoffHooks(def); len(moved) > 0 && hooks != nil && hooks.Before != nil {
		if err := hooks.Before(ctx); err != nil {
			return res, fmt.Errorf("handoff %s: %w", table, err)
		}
	}

	// Step 3: the Delta commit, idempotent by its txn.
	acts := lake.AddActions(adds)
	acts = append(acts, lake.Action{Txn: &lake.Txn{AppID: appID(&def), Version: int64(seq)}})
	for _, src := range slices.Sorted(maps.Keys(moved)) {
		acts = append(acts, lake.Action{Txn: &lake.Txn{AppID: sourceAppID(def.Name, src), Version: moved[src]}})
	}
	params := map[string]any{"mode": "Append", "strataHandoff": seq, "segments": len(refs)}
	version, err := lake.Commit(ctx, l.tbl, snap.Version, acts, "WRITE", params)
	if errors.Is(err, lake.ErrTxnAlreadyCommitted) {
		// Only possible if another process shares this lake location and table id.
		return res, fmt.Errorf("handoff %s: handoff %d is already in the Delta log at %s", table, seq, l.loc)
	}
	if err != nil {
		return res, fmt.Errorf("handoff %s: commit to %s: %w", table, l.loc, err)
	}
	if s.knobs.AfterLakeCommit != nil {
		if err := s.knobs.AfterLakeCommit(); err != nil {
			return res, err
		}
	}

	// Step 4: mark, and keep the single-segment chunks hot in the cache.
	for _, cf := range chunks {
		if cf.ref != nil && len(cf.files) == 1 && s.cache != nil {
			// Best effort: without it the first read converts the file.
			_ = s.cache.Adopt(l.loc, cf.files[0], cf.ref.path)
		}
	}
	newSnap, err := l.tbl.SnapshotAt(ctx, version)
	if err != nil {
		return res, fmt.Errorf("handoff %s: read back version %d: %w", table, version, err)
	}
	if s.knobs.BeforeLakeMark != nil {
		if err := s.knobs.BeforeLakeMark(); err != nil {
			return res, err
		}
	}
	done := catalog.LakeState{Version: version, Seq: seq, Offsets: withOffsets(ls.Offsets, moved)}
	if err := s.commitLake(def, refs, &done, newSnap); err != nil {
		return res, fmt.Errorf("handoff %s: mark version %d: %w", table, version, err)
	}
	res.Seq, res.Version, res.Segments, res.Files = seq, version, len(refs), len(adds)
	for _, a := range adds {
		res.Bytes += a.Size
	}
	res.Duration = time.Since(start)
	s.lakeStats.record(res)
	if len(moved) > 0 {
		s.noteHanded(def, moved)
	}
	return res, staleErr
}

// resolvePending finishes or forgets the handoff ls.Pending after a restart: if
// the Delta log holds its txn, its segments leave the catalog at the newest Delta
// version; otherwise the intent is dropped (its files, if any, are orphans for
// VACUUM) and the segments are handed off again later.
func (s *Store) resolvePending(ctx context.Context, def *catalog.TableDef, l *lakeLink, ls catalog.LakeState) (catalog.LakeState, error) {
	p := ls.Pending
	snap, err := l.tbl.Snapshot(ctx)
	committed := false
	switch {
	case err == nil:
		v, ok := snap.TxnVersion(appID(def))
		committed = ok && v >= int64(p.Seq)
	case errors.Is(err, lake.ErrNotExist):
		// The Delta table was never created: nothing was committed.
	default:
		return ls, fmt.Errorf("resolve handoff %d: %w", p.Seq, err)
	}
	next := catalog.LakeState{Version: ls.Version, Seq: ls.Seq, Offsets: ls.Offsets}
	var remove []*segRef
	if committed {
		next = catalog.LakeState{Version: snap.Version, Seq: p.Seq, Offsets: withOffsets(ls.Offsets, p.Offsets)}
		want := make(map[string]bool, len(p.Segments))
		for _, id := range p.Segments {
			want[id] = true
		}
		s.mu.Lock()
		if lt := s.mu.tables[def.Name]; lt != nil {
			for _, ref := range lt.segs {
				if want[ref.meta.ID] {
					remove = append(remove, ref)
				}
			}
		}
		s.mu.Unlock()
		if len(remove) != len(p.Segments) {
			return ls, fmt.Errorf("resolve handoff %d: %d of its %d segments are in the catalog: %w", p.Seq, len(remove), len(p.Segments), storage.ErrCorrupt)
		}
	} else {
		snap = nil
	}
	if err := s.commitLake(*def, remove, &next, snap); err != nil {
		return ls, fmt.Errorf("resolve handoff %d: %w", p.Seq, err)
	}
	return next, nil
}

// commitLake publishes a new LakeState for def together with the removal of
// remove; when snap is not nil the live table reads the lake at snap from then on.
func (s *Store) commitLake(def catalog.TableDef, remove []*segRef, ls *catalog.LakeState, snap *lake.Snapshot) error {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	return s.publishLocked(def, catalog.Batch{Table: def.Name, Lake: ls}, nil, remove, func(lt *liveTable) {
		lt.lakeVersion, lt.lakeSeq, lt.lakeOffs = ls.Version, ls.Seq, maps.Clone(ls.Offsets)
		// Never back to an older version than a check of the lake installed
		// (follow.go). A handoff's version is always newer: no check installs a
		// version holding a handoff whose segments are still live.
		if snap != nil && (lt.lakeSnap == nil || snap.Version > lt.lakeSnap.Version) {
			lt.lakeSnap = snap
		}
	})
}

// writeLakeChunk writes the rows of one chunk's segments as Parquet files of the
// lake table at snap, one per date, and returns their add actions.
func (s *Store) writeLakeChunk(ctx context.Context, def *catalog.TableDef, snap *lake.Snapshot, srcs []storage.Source) ([]*lake.AddFile, error) {
	cols, err := readAll(&def.Schema, srcs)
	if err != nil {
		return nil, err
	}
	return writeLakeColumns(ctx, def, snap, cols, s.knobs.LakeRowGroupRows)
}

// writeLakeColumns writes cols (rows of def) as Parquet files of the lake table
// at snap, one per date, and returns their add actions.
func writeLakeColumns(ctx context.Context, def *catalog.TableDef, snap *lake.Snapshot, cols *storage.Columns, rowGroupRows int64) ([]*lake.AddFile, error) {
	rec, err := lakesrc.FromColumns(memory.DefaultAllocator, &def.Schema, cols)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	// The date partition column, from the time column (UTC).
	const day = 24 * time.Hour
	b := array.NewDate32Builder(memory.DefaultAllocator)
	defer b.Release()
	b.Reserve(cols.Len)
	for _, t := range cols.Cols[def.Schema.TimeColumn].Int64 {
		start, _ := catalog.ChunkStart(t, day) // a day start always fits
		b.UnsafeAppend(arrow.Date32(start / day.Microseconds()))
	}
	dates := b.NewArray()
	defer dates.Release()
	// The same buffers under lakeArrowSchema's types (zone-less timestamps as UTC:
	// the same microseconds).
	schema := lakeArrowSchema(&def.Schema)
	arrs := make([]arrow.Array, 0, schema.NumFields())
	for i, a := range rec.Columns() {
		d := array.NewData(schema.Field(i).Type, a.Len(), a.Data().Buffers(), nil, a.NullN(), a.Data().Offset())
		arrs = append(arrs, array.MakeFromData(d))
		d.Release()
		defer arrs[i].Release()
	}
	arrs = append(arrs, dates)
	full := array.NewRecordBatch(schema, arrs, rec.NumRows())
	defer full.Release()
	return lake.WriteFiles(ctx, snap, []arrow.RecordBatch{full}, lake.WriteOptions{RowGroupRows: rowGroupRows})
}

// TimeTravel selects an older version of a table's lake: Version when
// HasVersion, else the version current at Timestamp.
type TimeTravel struct {
	HasVersion bool
	Version    int64
	Timestamp  time.Time
}

// SnapshotAt returns a snapshot of table that reads only its lake, as it was at tt
// (VERSION AS OF / TIMESTAMP AS OF). Rows not handed off yet are not in it.
func (s *Store) SnapshotAt(ctx context.Context, table string, tt TimeTravel) (*Snapshot, error) {
	def, ok := s.cat.Table(table)
	if !ok {
		return nil, fmt.Errorf("snapshot %s: %w", table, ErrNoTable)
	}
	if ls, _ := s.cat.Lake(table); !IsExternal(&def) && ls.Seq == 0 {
		return nil, fmt.Errorf("table %s: %w", table, ErrNoLake)
	}
	l, err := s.lakeOf(ctx, &def)
	if err != nil {
		return nil, err
	}
	var snap *lake.Snapshot
	if tt.HasVersion {
		snap, err = l.tbl.SnapshotAt(ctx, tt.Version)
	} else {
		snap, err = l.tbl.SnapshotAsOf(ctx, tt.Timestamp)
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", table, err)
	}
	sn := &Snapshot{Table: def, store: s, LakeVersion: snap.Version}
	if err := s.addLakeSources(ctx, sn, l, snap, storage.NoPrune); err != nil {
		sn.Release()
		return nil, err
	}
	return sn, nil
}

// addLakeSources appends the sources of snap's files to sn, leaving out those
// p rules out (lakesrc.FileWanted, then row groups by their footers in
// lakesrc.Cache.DirectSources): a file whose segment is in the lake cache is read
// from it; any other file is read directly from its Parquet file, one Source per
// row group (lakesrc.Direct), and no query waits for a conversion. A file read
// directly again is converted into the cache in the background
// (lakesrc.Cache.NoteDirectRead), so later snapshots read its segment.
func (s *Store) addLakeSources(ctx context.Context, sn *Snapshot, l *lakeLink, snap *lake.Snapshot, p storage.Prune) error {
	if s.cache == nil {
		return errors.New("store: no lake cache")
	}
	schema := &sn.Table.Schema
	cols := make([]string, len(schema.Columns))
	for i, c := range schema.Columns {
		cols[i] = c.Name
	}
	if IsExternal(&sn.Table) && sn.Table.Options[OptTimeColumn] == "" {
		cols[schema.TimeColumn] = "" // the hidden constant time column
	}
	for _, f := range snap.Files() {
		if !lakesrc.FileWanted(snap, f, schema, cols, p) {
			continue
		}
		src, ok, err := s.cache.CachedSource(ctx, l.loc, snap, f, schema, cols)
		if err != nil {
			return fmt.Errorf("table %s: %w", sn.Table.Name, err)
		}
		if ok {
			sn.lakeSrcs = append(sn.lakeSrcs, src)
			sn.Sources = append(sn.Sources, src)
			continue
		}
		ds, err := s.cache.DirectSources(ctx, l.loc, snap, f, schema, cols, p)
		if err != nil {
			return fmt.Errorf("table %s: %w", sn.Table.Name, err)
		}
		for _, d := range ds {
			sn.Sources = append(sn.Sources, d)
		}
		if len(ds) > 0 {
			s.cache.NoteDirectRead(l.loc, snap, f, schema, cols) // a file read again is converted in the background
		}
	}
	return nil
}

// LakeHistory returns the Delta log history of table, newest first (DESCRIBE HISTORY).
func (s *Store) LakeHistory(ctx context.Context, table string, limit int) ([]lake.HistoryEntry, error) {
	_, l, err := s.lakeFor(ctx, table)
	if err != nil {
		return nil, err
	}
	return lake.History(ctx, l.tbl, limit)
}

// lakeFor returns the definition and lake of table, ErrNoLake when it has none yet.
func (s *Store) lakeFor(ctx context.Context, table string) (catalog.TableDef, *lakeLink, error) {
	def, ok := s.cat.Table(table)
	if !ok {
		return def, nil, fmt.Errorf("table %s: %w", table, ErrNoTable)
	}
	if ls, _ := s.cat.Lake(table); !IsExternal(&def) && ls.Seq == 0 && ls.Pending == nil {
		return def, nil, fmt.Errorf("table %s: %w", table, ErrNoLake)
	}
	l, err := s.lakeOf(ctx, &def)
	return def, l, err
}

// DefaultTargetFileSize is OPTIMIZE's default output file size.
const DefaultTargetFileSize = 128 << 20

// Optimize compacts the small files of table's lake (Delta OPTIMIZE: add/remove
// pairs with dataChange = false), sorting each new file by sortBy when not
// empty, and makes queries read the new version. External tables are refused.
func (s *Store) Optimize(ctx context.Context, table string, targetFileSize int64, sortBy string) (lake.OptimizeResult, error) {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	def, l, err := s.lakeFor(ctx, table)
	if err != nil {
		return lake.OptimizeResult{Version: -1}, err
	}
	if IsExternal(&def) {
		return lake.OptimizeResult{Version: -1}, fmt.Errorf("table %s is external: strata does not write it", table)
	}
	return s.optimizeLocked(ctx, def, l, targetFileSize, sortBy)
}

// optimizeLocked is Optimize with compactMu held and the table's lake open.
func (s *Store) optimizeLocked(ctx context.Context, def catalog.TableDef, l *lakeLink, targetFileSize int64, sortBy string) (lake.OptimizeResult, error) {
	table := def.Name
	if targetFileSize <= 0 {
		targetFileSize = DefaultTargetFileSize
	}
	res, err := lake.Optimize(ctx, l.tbl, targetFileSize, sortBy)
	if err != nil || res.Version < 0 {
		return res, err
	}
	snap, err := l.tbl.SnapshotAt(ctx, res.Version)
	if err != nil {
		return res, fmt.Errorf("optimize %s: read back version %d: %w", table, res.Version, err)
	}
	ls, _ := s.cat.Lake(table)
	ls.Version = max(ls.Version, res.Version)
	if err := s.commitLake(def, nil, &ls, snap); err != nil {
		return res, fmt.Errorf("optimize %s: %w", table, err)
	}
	return res, nil
}

// Vacuum deletes lake files of table no longer referenced and older than retain
// (Delta VACUUM; retain < 0: 7 days; shorter only with force).
func (s *Store) Vacuum(ctx context.Context, table string, retain time.Duration, dryRun, force bool) ([]string, error) {
	def, l, err := s.lakeFor(ctx, table)
	if err != nil {
		return nil, err
	}
	if IsExternal(&def) {
		return nil, fmt.Errorf("table %s is external: strata does not write it", table)
	}
	return lake.Vacuum(ctx, l.tbl, retain, dryRun, force)
}

// CreateExternalTable registers the Delta table at path as table name, read-only.
// timeColumn names its time column (a timestamp column); "" gives a hidden
// constant one, so time functions see every row at the epoch. Columns of types
// strata cannot read (binary, nested) are left out.
func (s *Store) CreateExternalTable(ctx context.Context, name, path, timeColumn string) (catalog.TableDef, error) {
	def, err := s.ExternalTableDef(ctx, name, path, timeColumn)
	if err != nil {
		return def, err
	}
	return s.CreateTable(def)
}

// ExternalTableDef is the definition CreateExternalTable would create, without
// creating it (a --cluster node commits it to the cluster catalog first).
func (s *Store) ExternalTableDef(ctx context.Context, name, path, timeColumn string) (catalog.TableDef, error) {
	def, l, _, err := s.openDelta(ctx, path, timeColumn)
	if err != nil {
		return catalog.TableDef{}, fmt.Errorf("external table %s: %w", name, err)
	}
	def.Name = name
	def.Options = map[string]string{OptLakePath: l.path, OptExternal: "true", OptTimeColumn: timeColumn, OptHandoff: "off"}
	return def, nil
}

// ScanDelta returns a snapshot of the latest version of the Delta table at path,
// which is not a table of the catalog (delta_scan): its Table is a definition
// named path with the ReadableSchema of the Delta table and a hidden constant time
// column (DeltaSchema). Its files are read through the lake cache like any table's.
func (s *Store) ScanDelta(ctx context.Context, path string) (*Snapshot, error) {
	def, l, snap, err := s.openDelta(ctx, path, "")
	if err != nil {
		return nil, err
	}
	sn := &Snapshot{Table: def, store: s, LakeVersion: snap.Version}
	if err := s.addLakeSources(ctx, sn, l, snap, storage.NoPrune); err != nil {
		sn.Release()
		return nil, err
	}
	return sn, nil
}

// DeltaSchema is the schema ScanDelta gives the Delta table at path, read from
// its log alone (no data file is opened).
func (s *Store) DeltaSchema(ctx context.Context, path string) (*storage.Schema, error) {
	def, _, _, err := s.openDelta(ctx, path, "")
	if err != nil {
		return nil, err
	}
	return &def.Schema, nil
}

// openDelta opens the Delta table at path and its latest snapshot, and defines a
// read-only table over it (named path) with timeColumn as its time column ("":
// a hidden constant one).
//
// path must lie under a lake root (roots.ErrOutside).
func (s *Store) openDelta(ctx context.Context, path, timeColumn string) (catalog.TableDef, *lakeLink, *lake.Snapshot, error) {
	resolved, err := s.roots.Resolve(path)
	if err != nil {
		return catalog.TableDef{}, nil, nil, err
	}
	fsys, loc, err := lake.OpenLocation(ctx, resolved, s.opts.ObjStore)
	if err != nil {
		return catalog.TableDef{}, nil, nil, err
	}
	l := &lakeLink{tbl: lake.OpenTable(fsys, ""), fs: fsys, loc: loc, path: resolved}
	snap, err := l.tbl.Snapshot(ctx)
	if err != nil {
		return catalog.TableDef{}, nil, nil, fmt.Errorf("%s: %w", loc, err)
	}
	schema, _, _, err := lakesrc.ReadableSchema(snap, timeColumn)
	if err != nil {
		return catalog.TableDef{}, nil, nil, fmt.Errorf("%s: %w", loc, err)
	}
	def := catalog.TableDef{Name: path, Schema: *schema, Granularity: 24 * time.Hour, Options: map[string]string{OptExternal: "true"}}
	return def, l, snap, nil
}

// RunHandoff hands off every table's closed chunks every interval until ctx is
// done, reporting failures to onErr (a failed handoff is retried next time), and
// deletes local copies of lake files unused for longer than the local retention.
func (s *Store) RunHandoff(ctx context.Context, interval time.Duration, onErr func(table string, err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	retention := s.opts.LocalRetention
	if retention == 0 {
		retention = DefaultLocalRetention
	}
	for {
		if retention > 0 {
			s.cache.EvictIdle(time.Now().Add(-retention))
		}
		for _, def := range s.Tables() {
			if ctx.Err() != nil {
				return
			}
			if _, err := s.Handoff(ctx, def.Name, time.Now()); err != nil && onErr != nil && ctx.Err() == nil && !errors.Is(err, ErrNoTable) {
				onErr(def.Name, err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// removeDefaultLake deletes the lake folder of a dropped table that had no
// lake_path: strata created it, under the table's id. A lake_path the user gave
// is left alone.
func (s *Store) removeDefaultLake(def catalog.TableDef) {
	if def.Options[OptLakePath] != "" || IsExternal(&def) || def.ID == 0 {
		return
	}
	os.RemoveAll(s.defaultLakeDir(def.ID))
}

// LakeInfo returns the Delta version a table's queries read and its number of
// data files, without IO; ok is false before the first handoff or when that
// version has not been loaded yet.
func (s *Store) LakeInfo(table string) (version int64, files int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lt := s.mu.tables[table]
	if lt == nil || lt.lakeSnap == nil || lt.lakeSnap.Version < lt.lakeVersion {
		return 0, 0, false
	}
	return lt.lakeSnap.Version, len(lt.lakeSnap.Files()), true
}

// TableBytes returns the bytes table occupies: its segment files and the data
// files of the lake version its queries read. Heads are memory, not counted.
func (s *Store) TableBytes(ctx context.Context, table string) (int64, error) {
	def, ok := s.cat.Table(table)
	if !ok {
		return 0, fmt.Errorf("table %s: %w", table, ErrNoTable)
	}
	if err := s.loadLake(ctx, def); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lt := s.mu.tables[table]
	if lt == nil || lt.def.ID != def.ID {
		return 0, fmt.Errorf("table %s: %w", table, ErrNoTable)
	}
	var n int64
	for _, ref := range lt.segs {
		n += ref.meta.Bytes
	}
	if lt.lakeSnap != nil { // the version loadLake loaded, or a newer one a handoff set
		for _, f := range lt.lakeSnap.Files() {
			n += f.Size
		}
	}
	return n, nil
}

// loadLake makes sure the live table def has the Delta snapshot at its lake
// version in memory (a no-op before the first handoff and once loaded).
func (s *Store) loadLake(ctx context.Context, def catalog.TableDef) error {
	s.mu.Lock()
	lt := s.mu.tables[def.Name]
	if lt == nil || lt.def.ID != def.ID || lt.lakeSeq == 0 || (lt.lakeSnap != nil && lt.lakeSnap.Version >= lt.lakeVersion) {
		s.mu.Unlock()
		return nil
	}
	v := lt.lakeVersion
	s.mu.Unlock()
	l, err := s.lakeOf(ctx, &def)
	if err != nil {
		return err
	}
	snap, err := l.tbl.SnapshotAt(ctx, v)
	if err != nil {
		return fmt.Errorf("table %s: lake version %d: %w", def.Name, v, err)
	}
	s.mu.Lock()
	if cur := s.mu.tables[def.Name]; cur == lt && lt.lakeVersion == v && (lt.lakeSnap == nil || lt.lakeSnap.Version < v) {
		lt.lakeSnap = snap
	}
	s.mu.Unlock()
	return nil
}

// holdSegments returns the live segments of def that keep accepts (nil: all),
// each with one more reference, and the function that lets go of them. Segments
// leave the live set only under compactMu (Compact, Handoff) or when the table
// is dropped, so a caller holding compactMu sees them stay published.
func (s *Store) holdSegments(def catalog.TableDef, keep func(*segRef) bool) ([]*segRef, func(), error) {
	s.mu.Lock()
	lt := s.mu.tables[def.Name]
	if lt == nil || lt.def.ID != def.ID {
		s.mu.Unlock()
		return nil, nil, ErrNoTable
	}
	var refs []*segRef
	for _, ref := range lt.segs {
		if keep == nil || keep(ref) {
			refs = append(refs, ref)
			ref.refs++
		}
	}
	s.mu.Unlock()
	return refs, func() {
		var dead []*segRef
		s.mu.Lock()
		for _, ref := range refs {
			dead = s.unrefLocked(ref, dead)
		}
		s.mu.Unlock()
		s.finalize(dead)
	}, nil
}

// LakeStats are counters of the cold tier since Open.
type LakeStats struct {
	Handoffs       int64
	HandoffSeconds float64
	HandoffRows    int64
	HandoffFiles   int64
	HandoffBytes   int64
	// Following the lake (follow.go): checks for versions other writers
	// committed, checks that failed (retried at the next), and newer versions
	// taken by a check.
	LakeChecks      int64
	LakeCheckErrors int64
	LakeUpdates     int64
	Cache           lakesrc.CacheStats
}

// WaitLakeCache waits until no background conversion of lake files into the
// lake cache is queued or running.
func (s *Store) WaitLakeCache() { s.cache.WaitIdle() }

// LakeStats returns the cold tier's counters.
func (s *Store) LakeStats() LakeStats {
	st := s.lakeStats.get()
	if s.cache != nil {
		st.Cache = s.cache.Stats()
	}
	return st
}

// Handoff by offset. A streaming table's rows are persisted per source (a Kafka
// partition, "topic/partition": AppendHeadSource, SegmentMeta.Source), and every
// handoff takes every segment of every source this process owns (SetOwned),
// whatever the time of its rows, and commits, in the same Delta commit as the
// files, one txn per source: appId = strata/<table>/<topic>/<partition>, version =
// the source's catalog offset, the next record not in the lake. The lake is thus a
// checkpoint every process shares: a process that takes a partition resumes from
// the lake's txn, or from its own catalog offset when its local segments continue
// exactly from there (LakeState.Offsets equals the txn); otherwise it drops its
// segments of the source (ResetSource) and Kafka replays them. A source's txn is
// compared with LakeState.Offsets before each handoff and the commit fails on a
// concurrent txn of the same appId, so two processes never both commit the same
// records. Rows of a <table>_rejects table carry the offsets of its table
// (offsetTable) and are handed off to the rejects table's own lake the same way.

// sourceAppID is the txn appId of source's offset in table's lake.
func sourceAppID(table, source string) string { return "strata/" + table + "/" + source }

// offsetTable is the table whose catalog offsets count def's sources: def's,
// or, for a rejects table, its table's (option rejects_of).
func offsetTable(def *catalog.TableDef) string {
	if o := def.Options[optRejectsOf]; o != "" {
		return o
	}
	return def.Name
}

// withOffsets returns base with moved applied, as a new map.
func withOffsets(base, moved map[string]int64) map[string]int64 {
	if len(base) == 0 && len(moved) == 0 {
		return nil
	}
	out := maps.Clone(base)
	if out == nil {
		out = map[string]int64{}
	}
	maps.Copy(out, moved)
	return out
}

// ownedSources returns the sources of def this process owns (nil: none
// registered).
func (s *Store) ownedSources(def catalog.TableDef) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lt := s.mu.tables[def.Name]; lt != nil && lt.def.ID == def.ID {
		return maps.Clone(lt.owned)
	}
	return nil
}

// SetOwned sets the sources (Kafka partitions, "topic/partition") of table whose
// rows this process reads: its snapshots read the segments and heads of these
// sources only (rows of no source always), and handoff hands off these
// sources' rows. nil reads every source and hands off none.
func (s *Store) SetOwned(table string, sources []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lt := s.mu.tables[table]
	if lt == nil {
		return
	}
	if sources == nil {
		lt.owned = nil
		return
	}
	lt.owned = make(map[string]bool, len(sources))
	for _, src := range sources {
		lt.owned[src] = true
		delete(lt.follow, src) // the owner's rows take over (follower.go)
	}
}

// initialOwned is the owned set a live table starts with: none for a table
// whose lake is the checkpoint of its Kafka partitions (a kafka_topic, or the
// rejects of one, with a lake_path, handing off), so that until its consumer
// is assigned partitions no query reads local rows of partitions another
// process may own now; nil (every source) otherwise.
func initialOwned(def catalog.TableDef) map[string]bool {
	if (def.Options[catalog.OptKafkaTopic] != "" || def.Options[optRejectsOf] != "") && def.Options[OptLakePath] != "" &&
		!IsExternal(&def) && !strings.EqualFold(def.Options[OptHandoff], "off") {
		return map[string]bool{}
	}
	return nil
}

// noteHanded records that the lake caught up with moved's sources of def now.
func (s *Store) noteHanded(def catalog.TableDef, moved map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lt := s.mu.tables[def.Name]
	if lt == nil || lt.def.ID != def.ID {
		return
	}
	if lt.handedAt == nil {
		lt.handedAt = map[string]time.Time{}
	}
	now := time.Now()
	for src := range moved {
		lt.handedAt[src] = now
	}
}

// LakeOffsets returns the txn versions of sources in table's lake at its latest
// Delta version (read from the log now): the offset below which every record of
// the source is in the lake. A source the lake has no txn for is absent, as is
// every source when the table has no lake yet or handoff = 'off'.
func (s *Store) LakeOffsets(ctx context.Context, table string, sources []string) (map[string]int64, error) {
	def, ok := s.cat.Table(table)
	if !ok {
		return nil, fmt.Errorf("table %s: %w", table, ErrNoTable)
	}
	out := map[string]int64{}
	if IsExternal(&def) || strings.EqualFold(def.Options[OptHandoff], "off") {
		return out, nil
	}
	l, err := s.lakeOf(ctx, &def)
	if err != nil {
		return nil, err
	}
	snap, err := l.tbl.Snapshot(ctx)
	if errors.Is(err, lake.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: lake offsets: %w", table, err)
	}
	for _, src := range sources {
		if v, ok := snap.TxnVersion(sourceAppID(def.Name, src)); ok {
			out[src] = v
		}
	}
	return out, nil
}

// SourceState is what a table holds of one source.
type SourceState struct {
	// Lake is LakeState.Offsets of the source: where this process last knew the
	// lake's txn (HasLake false: it knew none).
	Lake    int64
	HasLake bool
	// Segments and Rows are the table's local segments of the source.
	Segments int
	Rows     int64
	// HandedAt is when the lake last caught up with the source (zero: not since
	// Open).
	HandedAt time.Time
}

// Source returns what table holds of source.
func (s *Store) Source(table, source string) SourceState {
	var st SourceState
	ls, _ := s.cat.Lake(table)
	st.Lake, st.HasLake = ls.Offsets[source]
	s.mu.Lock()
	defer s.mu.Unlock()
	if lt := s.mu.tables[table]; lt != nil {
		for _, ref := range lt.segs {
			if ref.meta.Source == source {
				st.Segments++
				st.Rows += ref.meta.Rows
			}
		}
		st.HandedAt = lt.handedAt[source]
	}
	return st
}

// SourceReset is one table's part of ResetSource: the lake offset to record for
// the source (LakeState.Offsets; HasLake false: none).
type SourceReset struct {
	Table   string
	Lake    int64
	HasLake bool
}

// ResetSource makes the tables of parts start source afresh from the lake: in
// one catalog batch every local segment of the source leaves them (rows already
// in the lake, or rows another process may read again), their LakeState.Offsets
// of the source become the parts' Lake, and the catalog offset of the source in
// offTable becomes offset (negative: none), forward or back. The source's heads
// are emptied. Pending handoffs of the tables are resolved first.
func (s *Store) ResetSource(ctx context.Context, offTable, source string, offset int64, parts ...SourceReset) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	var ps []publication
	var holds []func()
	defer func() {
		for _, r := range holds {
			r()
		}
	}()
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	for _, part := range parts {
		def, ok := s.cat.Table(part.Table)
		if !ok {
			return fmt.Errorf("reset %s of %s: %w", source, part.Table, ErrNoTable)
		}
		ls, _ := s.cat.Lake(part.Table)
		if ls.Pending != nil {
			s.publishMu.Unlock()
			l, err := s.lakeOf(ctx, &def)
			if err == nil {
				ls, err = s.resolvePending(ctx, &def, l, ls)
			}
			s.publishMu.Lock()
			if err != nil {
				return fmt.Errorf("reset %s of %s: %w", source, part.Table, err)
			}
		}
		refs, release, err := s.holdSegments(def, func(ref *segRef) bool { return ref.meta.Source == source })
		if err != nil {
			return fmt.Errorf("reset %s of %s: %w", source, part.Table, err)
		}
		holds = append(holds, release)
		next := ls // cat.Lake returned a copy
		next.Offsets = maps.Clone(ls.Offsets)
		if next.Offsets == nil {
			next.Offsets = map[string]int64{}
		}
		if part.HasLake {
			next.Offsets[source] = part.Lake
		} else {
			delete(next.Offsets, source)
		}
		b := catalog.Batch{Table: def.Name, Lake: &next}
		if def.Name == offTable {
			cur, had := s.cat.Offsets(offTable)[source]
			switch {
			case offset < 0 && had:
				b.Rewind = map[string]int64{source: -1}
			case offset >= 0 && (!had || offset > cur):
				b.Offsets = map[string]int64{source: offset}
			case offset >= 0 && offset < cur:
				b.Rewind = map[string]int64{source: offset}
			}
		}
		ps = append(ps, publication{def: def, b: b, remove: refs, locked: func(lt *liveTable) {
			delete(lt.heads, source)
			lt.lakeOffs = maps.Clone(next.Offsets)
			if lt.handedAt == nil {
				lt.handedAt = map[string]time.Time{}
			}
			lt.handedAt[source] = time.Now()
		}})
	}
	if err := s.publishAllLocked(ps); err != nil {
		return fmt.Errorf("reset %s: %w", source, err)
	}
	return nil
}

// optRejectsOf names, in a <table>_rejects table, the table it holds the
// rejects of (set by package ingest/stream).
const optRejectsOf = "rejects_of"

// HandoffHooks let the owner of a streaming table's sources take part in its
// handoffs by offset (SetHandoffHooks).
type HandoffHooks struct {
	// Before is called right before the Delta commit of a handoff that moves
	// sources' offsets; an error stops the handoff (it is retried later). The
	// owner checks there that it still owns the sources (package ingest/stream
	// commits their offsets to the consumer group, which a member that was
	// dropped from the group cannot).
	Before func(ctx context.Context) error
	// Moved is told the sources a handoff left out because another process
	// moved their lake offsets (ErrSourceMoved).
	Moved func(sources []string)
}

// SetHandoffHooks sets (nil: removes) table's handoff hooks.
func (s *Store) SetHandoffHooks(table string, h *HandoffHooks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lt := s.mu.tables[table]; lt != nil {
		lt.hooks = h
	}
}

func (s *Store) handoffHooks(def catalog.TableDef) *HandoffHooks {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lt := s.mu.tables[def.Name]; lt != nil && lt.def.ID == def.ID {
		return lt.hooks
	}
	return nil
}

// ResolvePending resolves a handoff of table that a crash left pending (see
// resolvePending), so that LakeState.Offsets and the segments agree with the
// lake before a resume decision reads them. A no-op without one.
func (s *Store) ResolvePending(ctx context.Context, table string) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	def, ok := s.cat.Table(table)
	if !ok {
		return fmt.Errorf("table %s: %w", table, ErrNoTable)
	}
	ls, _ := s.cat.Lake(table)
	if ls.Pending == nil {
		return nil
	}
	l, err := s.lakeOf(ctx, &def)
	if err != nil {
		return err
	}
	_, err = s.resolvePending(ctx, &def, l, ls)
	return err
}
