package lakecat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/store"
)

// ErrConflict is returned (wrapped) for a change that lost the race to another
// node's change of the same table or of the roles: nothing was changed; the
// statement may be retried (SQLSTATE 40001).
var ErrConflict = errors.New("lakecat: a concurrent change of the cluster catalog won")

// DefaultRefresh is how often Run reads the location for other nodes' changes.
const DefaultRefresh = time.Second

// Options configure Open.
type Options struct {
	// ObjStore configures an s3:// location.
	ObjStore objstore.Options
	// Refresh is Run's interval; 0 means DefaultRefresh.
	Refresh time.Duration
	Logger  *slog.Logger
	// OnCreate and OnDrop are told about tables a refresh created or dropped on
	// this node because another node changed them (not this node's own DDL, whose
	// caller acts itself, and not during Open): the server starts and stops their
	// ingestion.
	OnCreate func(def catalog.TableDef)
	OnDrop   func(name string)
	// OnAlter is told, in the same way, about a table whose options another
	// node changed (ALTER TABLE … SET/RESET): the server restarts its ingestion.
	OnAlter func(def catalog.TableDef)
}

// Cluster is a node's view of the cluster catalog at one location. Safe for
// concurrent use.
type Cluster struct {
	st   *store.Store
	fs   objstore.Store
	loc  string // s3://bucket/prefix or an absolute folder, no trailing slash
	opts Options
	log  *slog.Logger

	// mu serializes this node's DDL, role changes and refreshes, so that each
	// applies the location's state to the local catalog alone.
	mu struct {
		sync.Mutex
		tables  map[string]*entry // by table name
		roles   logState          // the roles table's log
		refused map[string]string // what was last logged as refused, per table or "roles"
	}
}

// logState is how far a Delta log has been read.
type logState struct {
	version int64 // -1: no log
	meta    *lake.Metadata
}

// entry is one table folder as last read.
type entry struct {
	folder  string
	log     logState
	def     catalog.TableDef // valid when err == nil
	dropped bool
	err     error // why meta was refused
}

func (e *entry) live() bool { return e.log.version >= 0 && e.err == nil && !e.dropped }

// Open opens the cluster catalog at location, which must be one of the store's
// lake roots, reads it and brings the local catalog in line (creating the roles
// table from the local roles when the location has none: the first node seeds
// the cluster). OnCreate and OnDrop are not called here.
func Open(ctx context.Context, st *store.Store, location string, opts Options) (*Cluster, error) {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	c := &Cluster{st: st, opts: opts, log: opts.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	if strings.HasPrefix(location, "s3://") {
		fs, loc, err := lake.OpenLocation(ctx, location, opts.ObjStore)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", location, err)
		}
		c.fs, c.loc = fs, loc
	} else {
		dir, err := filepath.Abs(location)
		if err == nil {
			err = os.MkdirAll(dir, 0o700)
		}
		if err == nil {
			dir, err = filepath.EvalSymlinks(dir)
		}
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", location, err)
		}
		c.fs, c.loc = objstore.LocalAt(dir), dir
	}
	c.mu.tables = map[string]*entry{}
	c.mu.roles = logState{version: -1}
	c.mu.refused = map[string]string{}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.refreshLocked(ctx, false); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.loc, err)
	}
	return c, nil
}

// Location returns the cluster's location.
func (c *Cluster) Location() string { return c.loc }

// TablePath returns the default lake_path of table name.
func (c *Cluster) TablePath(name string) string {
	if strings.HasPrefix(c.loc, "s3://") {
		return c.loc + "/tables/" + folderOf(name)
	}
	return filepath.Join(c.loc, "tables", folderOf(name))
}

func tableRoot(folder string) string { return "tables/" + folder + "/" }

const (
	namesPrefix = "names/"
	rolesRoot   = "roles/"
)

func commitKey(root string, v int64) string {
	return root + "_delta_log/" + fmt.Sprintf("%020d.json", v)
}

// follow reads the log at root from ls on: the whole log the first time, then
// only the commits after ls.version (one GET when nothing changed).
func (c *Cluster) follow(ctx context.Context, root string, ls logState) (logState, bool, error) {
	if ls.version < 0 {
		snap, err := lake.OpenTable(c.fs, root).Snapshot(ctx)
		if errors.Is(err, lake.ErrNotExist) {
			return ls, false, nil
		}
		if err != nil {
			return ls, false, err
		}
		m := snap.Metadata
		return logState{version: snap.Version, meta: &m}, true, nil
	}
	changed := false
	for {
		b, err := c.fs.Get(ctx, commitKey(root, ls.version+1))
		if errors.Is(err, objstore.ErrNotExist) {
			return ls, changed, nil
		}
		if err != nil {
			return ls, changed, err
		}
		acts, err := lake.ParseCommit(b)
		if err != nil {
			return ls, changed, fmt.Errorf("%s version %d: %w", root, ls.version+1, err)
		}
		ls.version++
		if acts.Metadata != nil {
			ls.meta, changed = acts.Metadata, true
		}
	}
}

// Refresh reads the location and applies what other nodes changed to the local
// catalog.
func (c *Cluster) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refreshLocked(ctx, true)
}

// Run refreshes every Options.Refresh until ctx ends, logging errors.
func (c *Cluster) Run(ctx context.Context) {
	t := time.NewTicker(c.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("cluster catalog refresh failed", "location", c.loc, "err", err)
		}
	}
}

// refreshLocked: REQUIRES c.mu is held.
func (c *Cluster) refreshLocked(ctx context.Context, hooks bool) error {
	names, err := c.fs.List(ctx, namesPrefix)
	if err != nil {
		return fmt.Errorf("list %s: %w", namesPrefix, err)
	}
	seen := map[string]bool{}
	var errs []error
	// Roles before tables (an owner must exist first), and again after them
	// (privileges name tables).
	if err := c.loadRolesLocked(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, o := range names {
		folder := strings.TrimPrefix(o.Key, namesPrefix)
		name, ok := nameOf(folder)
		if !ok || strings.Contains(folder, "/") {
			c.refuseLocked("names/"+folder, fmt.Errorf("%q is not a table folder name: %w", o.Key, ErrRefused))
			continue
		}
		seen[name] = true
		if err := c.loadLocked(ctx, name, hooks); err != nil {
			// One unreadable log (corrupt, or a request that failed) does not
			// stop the others; it is read again at the next refresh.
			c.reportLocked(name, err)
		}
	}
	for name, e := range c.mu.tables {
		if !seen[name] && e.live() {
			// The folder's marker is gone: the table is no longer defined.
			e.dropped = true
			c.applyLocked(name, e, hooks)
		}
	}
	if err := c.loadRolesLocked(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// loadLocked reads the table's log from where it was and applies a change.
// REQUIRES: c.mu is held.
func (c *Cluster) loadLocked(ctx context.Context, name string, hooks bool) error {
	e := c.mu.tables[name]
	if e == nil {
		e = &entry{folder: folderOf(name), log: logState{version: -1}}
		c.mu.tables[name] = e
	}
	ls, changed, err := c.follow(ctx, tableRoot(e.folder), e.log)
	if err != nil {
		return fmt.Errorf("table %s: %w", name, err)
	}
	e.log = ls
	if ls.meta == nil {
		return nil
	}
	if !changed {
		if e.err == nil {
			c.applyLocked(name, e, hooks) // a change that failed locally before is tried again
		}
		return nil
	}
	e.def, e.dropped, e.err = decodeDef(e.folder, ls.meta)
	if e.err == nil {
		e.def.Options = cloneOpts(e.def.Options)
		e.def.Options[catalog.OptClusterTable] = ls.meta.ID
		if p := e.def.Options[catalog.OptLakePath]; p != "" {
			e.err = c.checkLakePath(p, name)
		}
	}
	if e.err != nil {
		c.refuseLocked(name, e.err)
		return nil
	}
	delete(c.mu.refused, name)
	c.applyLocked(name, e, hooks)
	return nil
}

// refuseLocked logs a refusal once per distinct error. REQUIRES: c.mu is held.
func (c *Cluster) refuseLocked(key string, err error) {
	if c.mu.refused[key] == err.Error() {
		return
	}
	c.mu.refused[key] = err.Error()
	c.log.Error("cluster catalog: definition refused, not followed", "location", c.loc, "table", key, "err", err)
}

// checkLakePath checks a lake_path other than the default: under a lake root,
// and neither the cluster location nor anything inside or above it.
func (c *Cluster) checkLakePath(p, name string) error {
	loc, err := c.st.CheckLakePath(p, name)
	if err != nil {
		return fmt.Errorf("lake_path %q: %w", p, err)
	}
	in := func(outer, inner string) bool { return outer == inner || strings.HasPrefix(inner, outer+"/") }
	if in(c.loc, loc) || in(loc, c.loc) {
		return fmt.Errorf("lake_path %q overlaps the cluster location %s: %w", p, c.loc, ErrRefused)
	}
	return nil
}

// applyLocked makes the local catalog's copy of name match e.
// REQUIRES: c.mu is held.
func (c *Cluster) applyLocked(name string, e *entry, hooks bool) {
	local, ok := c.st.Table(name)
	gen := ""
	if ok {
		gen = local.Options[catalog.OptClusterTable]
		if gen == "" {
			if e.live() {
				c.refuseLocked(name, fmt.Errorf("this node has a table %q of its own (not from the cluster); the cluster's is not followed: %w", name, ErrRefused))
			}
			return
		}
	}
	want := ""
	if e.live() {
		want = e.def.Options[catalog.OptClusterTable]
	}
	if ok && gen != want {
		if hooks && c.opts.OnDrop != nil {
			c.opts.OnDrop(name)
		}
		if err := c.st.DropTable(name); err != nil {
			c.reportLocked(name, fmt.Errorf("drop of the local copy failed: %w", err))
			return
		}
		ok = false
	}
	if want == "" {
		return
	}
	if !ok {
		def, err := c.st.CreateTable(c.localDef(name, e.def))
		if err != nil {
			c.reportLocked(name, fmt.Errorf("create of the local copy failed: %w", err))
			return
		}
		if hooks && c.opts.OnCreate != nil {
			c.opts.OnCreate(def)
		}
		return
	}
	// lake_path is not compared: ALTER does not change it, and the local copy
	// keeps its canonical form of the default.
	opts := cloneOpts(e.def.Options)
	if p, ok := local.Options[catalog.OptLakePath]; ok {
		opts[catalog.OptLakePath] = p
	} else {
		delete(opts, catalog.OptLakePath)
	}
	if !maps.Equal(local.Options, opts) {
		def, err := c.st.SetTableOptions(name, opts)
		if err != nil {
			c.reportLocked(name, fmt.Errorf("options of the local copy not changed: %w", err))
			return
		}
		if hooks && c.opts.OnAlter != nil {
			c.opts.OnAlter(def)
		}
	}
	if local.OwnerOID() != e.def.OwnerOID() {
		if err := c.st.Catalog().SetTableOwner(name, e.def.OwnerOID()); err != nil {
			c.reportLocked(name, fmt.Errorf("owner of the local copy not changed: %w", err))
			return
		}
	}
	delete(c.mu.refused, name)
}

// reportLocked logs a failure to apply a definition locally, once per distinct
// error. REQUIRES: c.mu is held.
func (c *Cluster) reportLocked(key string, err error) {
	if c.mu.refused[key] == err.Error() {
		return
	}
	c.mu.refused[key] = err.Error()
	c.log.Error("cluster catalog: not applied on this node; retried at every refresh", "location", c.loc, "table", key, "err", err)
}

// localDef is the cluster's def as the local catalog stores it: with the
// default lake_path filled in.
func (c *Cluster) localDef(name string, def catalog.TableDef) catalog.TableDef {
	def.Options = cloneOpts(def.Options)
	if def.Options[catalog.OptLakePath] == "" {
		def.Options[catalog.OptLakePath] = c.TablePath(name)
	}
	return def
}

func cloneOpts(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// CreateTable creates def in the cluster (a Delta commit that only one node can
// make for a name) and then on this node. A live table of the name fails with
// catalog.ErrTableExists (also when another node's CREATE won the race).
func (c *Cluster) CreateTable(ctx context.Context, def catalog.TableDef) (catalog.TableDef, error) {
	if err := checkName(def.Name); err != nil {
		return def, err
	}
	if def.Granularity == 0 {
		def.Granularity = catalog.DefaultGranularity
	}
	def.Options = cloneOpts(def.Options)
	delete(def.Options, catalog.OptClusterTable)
	if p := def.Options[catalog.OptLakePath]; p != "" {
		if err := c.checkLakePath(p, def.Name); err != nil {
			return def, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.st.Table(def.Name); ok {
		if err := c.loadLocked(ctx, def.Name, true); err != nil {
			return def, err
		}
		if _, ok := c.st.Table(def.Name); ok {
			return def, fmt.Errorf("create table %s: %w", def.Name, catalog.ErrTableExists)
		}
	}
	conf, ss, parts, err := encodeDef(&def)
	if err != nil {
		return def, fmt.Errorf("create table %s: %w", def.Name, err)
	}
	folder := folderOf(def.Name)
	// The marker first: a marker without a log is no table, a log without a
	// marker would be one nobody finds.
	if err := c.fs.Put(ctx, namesPrefix+folder, nil); err != nil {
		return def, fmt.Errorf("create table %s: %w", def.Name, err)
	}
	dt, err := lake.ParseSchema(ss)
	if err != nil {
		return def, err
	}
	_, err = lake.CreateTable(ctx, c.fs, tableRoot(folder), dt, parts, conf)
	if errors.Is(err, lake.ErrExists) {
		err = c.recreateLocked(ctx, def.Name, conf, ss, parts)
	}
	if err != nil {
		return def, err
	}
	if err := c.loadLocked(ctx, def.Name, false); err != nil {
		return def, err
	}
	e := c.mu.tables[def.Name]
	if !e.live() {
		return def, fmt.Errorf("create table %s: the committed definition was not taken: %v", def.Name, e.err)
	}
	got, ok := c.st.Table(def.Name)
	if !ok || got.Options[catalog.OptClusterTable] != e.def.Options[catalog.OptClusterTable] {
		return def, fmt.Errorf("create table %s: committed to the cluster, but not created on this node (see the log)", def.Name)
	}
	return got, nil
}

// recreateLocked commits a new generation of name over a log that exists: a
// dropped table's (a live one's is ErrTableExists).
func (c *Cluster) recreateLocked(ctx context.Context, name string, conf map[string]string, ss string, parts []string) error {
	if err := c.loadLocked(ctx, name, true); err != nil {
		return err
	}
	e := c.mu.tables[name]
	if e.live() || e.err != nil {
		// A live table, or a log whose definition this node refuses: the name
		// is taken either way.
		return fmt.Errorf("create table %s: %w", name, catalog.ErrTableExists)
	}
	acts, err := c.removeAllLocked(ctx, e)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	acts = append(acts, lake.Action{Metadata: &lake.Metadata{ID: newUUID(), Format: lake.Format{Provider: "parquet", Options: map[string]string{}},
		SchemaString: ss, PartitionColumns: parts, Configuration: conf, CreatedTime: &now}})
	_, err = lake.Commit(ctx, lake.OpenTable(c.fs, tableRoot(e.folder)), e.log.version, acts, "CREATE OR REPLACE TABLE", nil)
	if errors.Is(err, lake.ErrConflict) {
		// Another node changed the log first; if it created the table, this
		// CREATE is a duplicate.
		if lerr := c.loadLocked(ctx, name, true); lerr == nil && c.mu.tables[name].live() {
			return fmt.Errorf("create table %s: %w", name, catalog.ErrTableExists)
		}
		return fmt.Errorf("create table %s: %w: %v", name, ErrConflict, err)
	}
	return err
}

// removeAllLocked returns remove actions for every live file of e's table.
func (c *Cluster) removeAllLocked(ctx context.Context, e *entry) ([]lake.Action, error) {
	snap, err := lake.OpenTable(c.fs, tableRoot(e.folder)).SnapshotAt(ctx, e.log.version)
	if err != nil {
		return nil, err
	}
	return lake.RemoveActions(snap, time.Now().UnixMilli()), nil
}

// DropTable drops name in the cluster (a commit marking it dropped and removing
// its files) and then on this node. catalog.ErrNoTable if the cluster has no
// live table of the name.
func (c *Cluster) DropTable(ctx context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, err := c.latestLocked(ctx, name)
	if err != nil {
		return err
	}
	acts, err := c.removeAllLocked(ctx, e)
	if err != nil {
		return err
	}
	meta := *e.log.meta
	meta.Configuration = cloneOpts(meta.Configuration)
	meta.Configuration[keyDropped] = "true"
	acts = append(acts, lake.Action{Metadata: &meta})
	if err := c.commitLocked(ctx, name, e, acts, "DROP TABLE"); err != nil {
		return err
	}
	return nil
}

// SetTableOwner makes owner the owner of name in the cluster, then here.
func (c *Cluster) SetTableOwner(ctx context.Context, name string, owner uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, err := c.latestLocked(ctx, name)
	if err != nil {
		return err
	}
	meta := *e.log.meta
	meta.Configuration = cloneOpts(meta.Configuration)
	meta.Configuration[keyOwner] = strconv.FormatUint(uint64(owner), 10)
	old := e.def.OwnerOID()
	if err := c.commitLocked(ctx, name, e, []lake.Action{{Metadata: &meta}}, "SET TBLPROPERTIES"); err != nil {
		return err
	}
	// The table's privileges move with it, in the roles table (a second
	// commit: until it lands, other nodes keep the old owner's items).
	if err := c.moveACLOwnerLocked(ctx, name, old, owner); err != nil {
		return fmt.Errorf("alter table %s owner: the owner changed, but its privileges did not move: %w", name, err)
	}
	return nil
}

// SetTableOptions sets and resets options of name in the cluster (ALTER TABLE
// … SET/RESET; the caller has checked them), then here. It returns the
// definition this node now has.
func (c *Cluster) SetTableOptions(ctx context.Context, name string, set map[string]string, reset []string) (catalog.TableDef, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, err := c.latestLocked(ctx, name)
	if err != nil {
		return catalog.TableDef{}, err
	}
	meta := *e.log.meta
	meta.Configuration = cloneOpts(meta.Configuration)
	for _, k := range reset {
		delete(meta.Configuration, keyOptPrefix+k)
	}
	for k, v := range set {
		meta.Configuration[keyOptPrefix+k] = v
	}
	if err := c.commitLocked(ctx, name, e, []lake.Action{{Metadata: &meta}}, "SET TBLPROPERTIES"); err != nil {
		return catalog.TableDef{}, err
	}
	def, _ := c.st.Table(name)
	return def, nil
}

// latestLocked reads name's log to its latest version; the table must be live
// and be the generation this node has.
func (c *Cluster) latestLocked(ctx context.Context, name string) (*entry, error) {
	if err := c.loadLocked(ctx, name, true); err != nil {
		return nil, err
	}
	e := c.mu.tables[name]
	local, ok := c.st.Table(name)
	if !e.live() || !ok || local.Options[catalog.OptClusterTable] != e.def.Options[catalog.OptClusterTable] {
		return nil, fmt.Errorf("table %s: %w", name, catalog.ErrNoTable)
	}
	return e, nil
}

// commitLocked commits acts after e's version; a lost race is ErrConflict. The
// result is applied here at once.
func (c *Cluster) commitLocked(ctx context.Context, name string, e *entry, acts []lake.Action, op string) error {
	_, err := lake.Commit(ctx, lake.OpenTable(c.fs, tableRoot(e.folder)), e.log.version, acts, op, nil)
	if errors.Is(err, lake.ErrConflict) {
		c.loadLocked(ctx, name, true)
		return fmt.Errorf("%s %s: %w: %v", strings.ToLower(op), name, ErrConflict, err)
	}
	if err != nil {
		return err
	}
	return c.loadLocked(ctx, name, false)
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("BUG: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
