// Package catalog owns the metadata of a data directory, kept in a pebble database:
// the tables, the segments published for each table, the source (Kafka) offsets
// consumed into those segments, and a version number that grows with every change.
//
// Key layout (all integers big-endian, so keys sort numerically):
//
//	"t/" name                                  → TableDef (JSON)
//	"s/" tableID(8) "/" chunkStart(8) "/" seq(8) → SegmentMeta (JSON); chunkStart has its
//	                                              sign bit flipped so negative times sort first
//	"o/" tableID(8) "/" source                  → next offset to consume (8 bytes)
//	"m/nextTableID"                             → next table id (8 bytes)
//	"m/seq/" tableID(8)                         → next segment sequence number of the table (8 bytes)
//	"m/version"                                 → catalog version (8 bytes)
//	"l/" tableID(8)                             → LakeState (JSON): the table's handoff
//	                                              progress to its Delta Lake table
//	"r/" roleOID(4)                             → Role (JSON): a role (pg_authid row); passwords
//	                                              only as SCRAM-SHA-256 verifiers
//	"a/" roleOID(4) memberOID(4)                → Membership (JSON: grantor, admin option);
//	                                              member is a member of role (pg_auth_members)
//	"g/" tableID(8)                             → []ACLItem (JSON): the table's access control
//	                                              list (pg_class.relacl); absent: the default.
//	                                              Table id 0 holds schema public's (nspacl)
//	"m/nextRoleOID"                             → next role OID (8 bytes)
//
// Invariants:
//   - Every change is one pebble batch written with Sync, so after a crash the catalog
//     shows either all of a change or none of it. In particular a Batch's segments and
//     its source offsets move together (DESIGN.md invariant 1: an offset moves forward
//     only in the batch that records the segments holding those rows).
//   - Table ids and segment sequence numbers are never reused, even after DropTable.
//   - The in-memory copy is loaded at Open and changed only after its batch has
//     committed, so readers never see a change that is not durable.
//   - Version increases with every successful CreateTable, DropTable, SetTableOptions and Commit.
//   - Open creates the bootstrap superuser "strata" (OID 10) and PostgreSQL's predefined
//     roles when they are missing, so every catalog has them. Role OIDs are never reused.
//   - A role is dropped only when no table is owned by it or lists it in its ACL, and its
//     memberships go in the same batch; a table's ACL goes with the table.
//   - A table's LakeState changes only in a Commit, so the segments a handoff takes
//     out of the catalog and the Delta version that now holds their rows move in one
//     batch (DESIGN.md invariant 2).
package catalog

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/pebble"

	"github.com/stratadb/strata/storage"
)

// Errors callers test for with errors.Is.
var (
	ErrTableExists = errors.New("table already exists")
	ErrNoTable     = errors.New("table does not exist")
	// ErrInvalidName marks a table name with a NUL byte or invalid UTF-8.
	ErrInvalidName = errors.New("invalid table name")
	// ErrInvalidBatch marks a Commit rejected by validation; nothing was written.
	ErrInvalidBatch = errors.New("invalid catalog batch")
)

const (
	prefixTable   = "t/"
	prefixSegment = "s/"
	prefixOffset  = "o/"
	prefixSeq     = "m/seq/"
	prefixLake    = "l/"
	keyNextTable  = "m/nextTableID"
	keyVersion    = "m/version"
)

// DefaultGranularity is the time chunk length of a table created without one.
const DefaultGranularity = time.Hour

// Catalog is the metadata of one data directory. Safe for concurrent use.
type Catalog struct {
	db *pebble.DB

	// writeMu serializes writers (CreateTable, DropTable, Commit, ReserveSeqs) from
	// validation to the end of applying their change, so a validated batch is still
	// valid when it commits. It is held across the pebble Sync; mu is not, so
	// readers never wait for an fsync.
	writeMu sync.Mutex

	mu struct {
		sync.Mutex
		// tables by name. A tableState is never modified once published in the map;
		// writers replace it (copy on write), so readers may use it after unlocking.
		tables      map[string]*tableState
		nextTableID uint64
		version     uint64
		closed      bool
		// roles is the role catalog (roles.go); replaced, never modified.
		roles *roleState
	}
}

// tableState is the in-memory copy of one table. Immutable once published.
type tableState struct {
	def      TableDef
	segments []SegmentMeta // sorted by (ChunkStart, Seq)
	offsets  map[string]int64
	nextSeq  uint64 // next sequence number ReserveSeqs hands out; starts at 1
	lake     LakeState
}

// Batch is one atomic change of a table's segments and source offsets.
type Batch struct {
	Table  string
	Add    []SegmentMeta
	Remove []string // segment IDs
	// Offsets maps a source ("topic/partition") to the next offset to consume. An
	// offset may only move forward.
	Offsets map[string]int64
	// Rewind sets sources' offsets back: to the value given, or, when it is
	// negative, to none. Only a retraction uses it (store.Retract takes back a
	// publication whose offsets the source's consumer group refused), together
	// with the Remove of that publication's segments. A source may not be in
	// both Offsets and Rewind, and a rewound offset may not move forward.
	Rewind map[string]int64
	// Lake, when not nil, replaces the table's LakeState. Its Version and Seq may
	// only move forward.
	Lake *LakeState
}

// Open opens (creating if needed) the catalog in directory dir.
func Open(dir string) (*Catalog, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("catalog %s: open: %w", dir, err)
	}
	c := &Catalog{db: db}
	if err := c.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog %s: %w", dir, err)
	}
	c.writeMu.Lock()
	err = c.bootstrapRolesLocked()
	c.writeMu.Unlock()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog %s: %w", dir, err)
	}
	return c, nil
}

// load reads the whole catalog into memory.
func (c *Catalog) load() error {
	it, err := c.db.NewIter(nil)
	if err != nil {
		return err
	}
	var l loader
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = l.add(it.Key(), v)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	st, err := l.finish()
	if err != nil {
		return err
	}
	c.mu.tables, c.mu.nextTableID, c.mu.version = st.tables, st.nextTableID, st.version
	c.mu.roles = st.roles
	return nil
}

// loader decodes the catalog's records, in any order, into its in-memory state.
type loader struct {
	tables      map[string]*tableState
	byID        map[uint64]*tableState
	segs        []SegmentMeta
	segTableIDs []uint64
	offs        []loadedOffset
	lakes       map[uint64]LakeState
	seqs        map[uint64]uint64
	nextTableID uint64
	version     uint64
	roles       *roleState
}

type loadedOffset struct {
	tableID uint64
	source  string
	off     int64
}

type loadedState struct {
	tables      map[string]*tableState
	nextTableID uint64
	version     uint64
	roles       *roleState
}

// add decodes one record. k and v are only read during the call.
func (l *loader) add(k, v []byte) error {
	if l.tables == nil {
		l.tables = map[string]*tableState{}
		l.byID = map[uint64]*tableState{}
		l.seqs = map[uint64]uint64{}
		l.lakes = map[uint64]LakeState{}
	}
	switch {
	case hasPrefix(k, prefixTable):
		var def TableDef
		if err := json.Unmarshal(v, &def); err != nil {
			return fmt.Errorf("table %q: %w: %v", k[len(prefixTable):], storage.ErrCorrupt, err)
		}
		if def.Name != string(k[len(prefixTable):]) || def.ID == 0 || def.Granularity < time.Microsecond {
			return fmt.Errorf("table %q: record for %q, id %d, granularity %v: %w", k[len(prefixTable):], def.Name, def.ID, def.Granularity, storage.ErrCorrupt)
		}
		if err := def.Schema.Validate(); err != nil {
			return fmt.Errorf("table %q: %w: %v", def.Name, storage.ErrCorrupt, err)
		}
		if l.byID[def.ID] != nil {
			return fmt.Errorf("table %q: id %d used twice: %w", def.Name, def.ID, storage.ErrCorrupt)
		}
		ts := &tableState{def: def, offsets: map[string]int64{}, nextSeq: 1}
		l.tables[def.Name] = ts
		l.byID[def.ID] = ts
	case hasPrefix(k, prefixSegment):
		if len(k) != len(prefixSegment)+26 {
			return fmt.Errorf("segment key %x: %w", k, storage.ErrCorrupt)
		}
		var m SegmentMeta
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("segment key %x: %w: %v", k, storage.ErrCorrupt, err)
		}
		if m.Seq == 0 || m.Seq == math.MaxUint64 {
			return fmt.Errorf("segment %s: sequence number %d: %w", m.ID, m.Seq, storage.ErrCorrupt)
		}
		id := binary.BigEndian.Uint64(k[len(prefixSegment):])
		if !slices.Equal(k, segmentKey(id, m.ChunkStart, m.Seq)) {
			return fmt.Errorf("segment %s: key %x does not match the record: %w", m.ID, k, storage.ErrCorrupt)
		}
		l.segs = append(l.segs, m)
		l.segTableIDs = append(l.segTableIDs, id)
	case hasPrefix(k, prefixOffset):
		if len(k) < len(prefixOffset)+9 || len(v) != 8 {
			return fmt.Errorf("offset key %x: %w", k, storage.ErrCorrupt)
		}
		l.offs = append(l.offs, loadedOffset{
			tableID: binary.BigEndian.Uint64(k[len(prefixOffset):]),
			source:  string(k[len(prefixOffset)+9:]),
			off:     int64(binary.BigEndian.Uint64(v)),
		})
	case hasPrefix(k, prefixSeq):
		if len(k) != len(prefixSeq)+8 || len(v) != 8 {
			return fmt.Errorf("sequence key %x: %w", k, storage.ErrCorrupt)
		}
		l.seqs[binary.BigEndian.Uint64(k[len(prefixSeq):])] = binary.BigEndian.Uint64(v)
	case hasPrefix(k, prefixLake):
		if len(k) != len(prefixLake)+8 {
			return fmt.Errorf("lake key %x: %w", k, storage.ErrCorrupt)
		}
		var ls LakeState
		if err := json.Unmarshal(v, &ls); err != nil {
			return fmt.Errorf("lake key %x: %w: %v", k, storage.ErrCorrupt, err)
		}
		l.lakes[binary.BigEndian.Uint64(k[len(prefixLake):])] = ls
	case string(k) == keyNextTable:
		if len(v) != 8 {
			return fmt.Errorf("next table id: %w", storage.ErrCorrupt)
		}
		l.nextTableID = binary.BigEndian.Uint64(v)
	case string(k) == keyVersion:
		if len(v) != 8 {
			return fmt.Errorf("version: %w", storage.ErrCorrupt)
		}
		l.version = binary.BigEndian.Uint64(v)
	default:
		if ok, err := l.addRoleRecord(k, v); ok || err != nil {
			return err
		}
		return fmt.Errorf("unknown key %q: %w", k, storage.ErrCorrupt)
	}
	return nil
}

// finish attaches segments, offsets and sequence counters to their tables.
func (l *loader) finish() (loadedState, error) {
	if l.tables == nil {
		l.add([]byte(keyVersion), u64(0)) // initializes the maps of an empty catalog
	}
	for i, m := range l.segs {
		ts := l.byID[l.segTableIDs[i]]
		if ts == nil {
			return loadedState{}, fmt.Errorf("segment %s of missing table %d: %w", m.ID, l.segTableIDs[i], storage.ErrCorrupt)
		}
		ts.segments = append(ts.segments, m)
		if m.Seq >= ts.nextSeq {
			ts.nextSeq = m.Seq + 1
		}
	}
	for _, o := range l.offs {
		ts := l.byID[o.tableID]
		if ts == nil {
			return loadedState{}, fmt.Errorf("offset %s of missing table %d: %w", o.source, o.tableID, storage.ErrCorrupt)
		}
		ts.offsets[o.source] = o.off
	}
	for id, next := range l.seqs {
		ts := l.byID[id]
		if ts == nil {
			return loadedState{}, fmt.Errorf("sequence of missing table %d: %w", id, storage.ErrCorrupt)
		}
		ts.nextSeq = max(ts.nextSeq, next)
	}
	for id, ls := range l.lakes {
		ts := l.byID[id]
		if ts == nil {
			return loadedState{}, fmt.Errorf("lake state of missing table %d: %w", id, storage.ErrCorrupt)
		}
		ts.lake = ls
	}
	next := max(l.nextTableID, 1)
	for _, ts := range l.tables {
		sortSegments(ts.segments)
		if ts.def.ID >= next {
			next = ts.def.ID + 1
		}
	}
	roles, err := l.finishRoles()
	if err != nil {
		return loadedState{}, err
	}
	return loadedState{tables: l.tables, nextTableID: next, version: l.version, roles: roles}, nil
}

// Close closes the catalog. Later calls fail.
func (c *Catalog) Close() error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return errors.New("catalog: already closed")
	}
	c.mu.closed = true
	c.mu.Unlock()
	return c.db.Close()
}

// CreateTable adds a table. It assigns ID (never reused) and Created, and defaults
// Granularity to DefaultGranularity. The returned TableDef is what was stored.
func (c *Catalog) CreateTable(def TableDef) (TableDef, error) {
	if def.Name == "" {
		return def, errors.New("create table: empty name")
	}
	if strings.IndexByte(def.Name, 0) >= 0 || !utf8.ValidString(def.Name) {
		return def, fmt.Errorf("create table %q: %w", def.Name, ErrInvalidName)
	}
	if err := def.Schema.Validate(); err != nil {
		return def, fmt.Errorf("create table %s: %w", def.Name, err)
	}
	if def.Granularity == 0 {
		def.Granularity = DefaultGranularity
	}
	if def.Granularity < time.Microsecond || def.Granularity%time.Microsecond != 0 {
		return def, fmt.Errorf("create table %s: granularity %v is not a positive whole number of microseconds", def.Name, def.Granularity)
	}
	def = cloneDef(def)

	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	tables, id, version, err := c.readState()
	if err != nil {
		return def, err
	}
	if _, ok := tables[def.Name]; ok {
		return def, fmt.Errorf("create table %s: %w", def.Name, ErrTableExists)
	}
	def.ID = id
	def.Created = time.Now().UTC().Truncate(time.Microsecond)
	v, err := json.Marshal(&def)
	if err != nil {
		return def, fmt.Errorf("create table %s: %w", def.Name, err)
	}
	b := c.db.NewBatch()
	defer b.Close()
	b.Set(tableKey(def.Name), v, nil)
	b.Set([]byte(keyNextTable), u64(id+1), nil)
	b.Set([]byte(keyVersion), u64(version+1), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return def, fmt.Errorf("create table %s: %w", def.Name, err)
	}

	c.mu.Lock()
	c.mu.tables[def.Name] = &tableState{def: def, offsets: map[string]int64{}, nextSeq: 1}
	c.mu.nextTableID = id + 1
	c.mu.version = version + 1
	c.mu.Unlock()
	return cloneDef(def), nil
}

// DropTable removes the table with its segment records, offsets and sequence
// counter in one batch, and returns the segments it dropped (their files are the
// caller's to delete).
func (c *Catalog) DropTable(name string) ([]SegmentMeta, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	tables, _, version, err := c.readState()
	if err != nil {
		return nil, err
	}
	ts, ok := tables[name]
	if !ok {
		return nil, fmt.Errorf("drop table %s: %w", name, ErrNoTable)
	}
	b := c.db.NewBatch()
	defer b.Close()
	b.Delete(tableKey(name), nil)
	id := ts.def.ID
	// Range deletes also catch records the in-memory copy might not know of.
	b.DeleteRange(idPrefix(prefixSegment, id), idPrefix(prefixSegment, id+1), nil)
	b.DeleteRange(idPrefix(prefixOffset, id), idPrefix(prefixOffset, id+1), nil)
	b.Delete(seqKey(id), nil)
	b.Delete(lakeKey(id), nil)
	b.Delete(aclKey(id), nil)
	b.Set([]byte(keyVersion), u64(version+1), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, fmt.Errorf("drop table %s: %w", name, err)
	}

	c.mu.Lock()
	if _, ok := c.mu.roles.acls[id]; ok {
		rs := c.mu.roles.clone()
		delete(rs.acls, id)
		c.mu.roles = rs
	}
	delete(c.mu.tables, name)
	c.mu.version = version + 1
	c.mu.Unlock()
	return slices.Clone(ts.segments), nil
}

// Table returns the definition of name.
func (c *Catalog) Table(name string) (TableDef, bool) {
	c.mu.Lock()
	ts, ok := c.mu.tables[name]
	c.mu.Unlock()
	if !ok {
		return TableDef{}, false
	}
	return cloneDef(ts.def), true
}

// Tables returns every table, sorted by name.
func (c *Catalog) Tables() []TableDef {
	c.mu.Lock()
	defs := make([]TableDef, 0, len(c.mu.tables))
	for _, ts := range c.mu.tables {
		defs = append(defs, ts.def)
	}
	c.mu.Unlock()
	slices.SortFunc(defs, func(a, b TableDef) int { return strings.Compare(a.Name, b.Name) })
	for i := range defs {
		defs[i] = cloneDef(defs[i])
	}
	return defs
}

// Segments returns the segments of table sorted by (ChunkStart, Seq); nil if the
// table does not exist. The slice is the caller's.
func (c *Catalog) Segments(table string) []SegmentMeta {
	c.mu.Lock()
	ts, ok := c.mu.tables[table]
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return slices.Clone(ts.segments)
}

// Offsets returns the committed source offsets of table (source → next offset to
// consume); nil if the table does not exist.
func (c *Catalog) Offsets(table string) map[string]int64 {
	c.mu.Lock()
	ts, ok := c.mu.tables[table]
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return maps.Clone(ts.offsets)
}

// Lake returns the handoff state of table; false if the table does not exist.
func (c *Catalog) Lake(table string) (LakeState, bool) {
	c.mu.Lock()
	ts, ok := c.mu.tables[table]
	c.mu.Unlock()
	if !ok {
		return LakeState{}, false
	}
	return ts.lake.clone(), true
}

// Version returns the catalog version, which increases with every successful
// CreateTable, DropTable and Commit.
func (c *Catalog) Version() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.version
}

// NextSeq reserves one sequence number of table. It returns 0 — never a valid
// sequence number — when the table does not exist or the reservation could not be
// persisted; use ReserveSeqs to see the error.
func (c *Catalog) NextSeq(table string) uint64 {
	seq, err := c.ReserveSeqs(table, 1)
	if err != nil {
		return 0
	}
	return seq
}

// ReserveSeqs reserves n consecutive sequence numbers of table and returns the
// first. Sequence numbers start at 1 and are never handed out twice: the counter is
// persisted (through the WAL, made durable by the next synced write at the latest —
// a number lost in a crash before that was never committed in a segment, and Open
// restarts the counter above every committed segment's).
func (c *Catalog) ReserveSeqs(table string, n int) (uint64, error) {
	if n < 1 {
		return 0, fmt.Errorf("reserve %d sequence numbers of %s: n must be positive", n, table)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	tables, _, _, err := c.readState()
	if err != nil {
		return 0, err
	}
	ts, ok := tables[table]
	if !ok {
		return 0, fmt.Errorf("reserve sequence numbers of %s: %w", table, ErrNoTable)
	}
	first := ts.nextSeq
	next := first + uint64(n)
	if err := c.db.Set(seqKey(ts.def.ID), u64(next), pebble.NoSync); err != nil {
		return 0, fmt.Errorf("reserve sequence numbers of %s: %w", table, err)
	}
	nts := *ts
	nts.nextSeq = next
	c.mu.Lock()
	c.mu.tables[table] = &nts
	c.mu.Unlock()
	return first, nil
}

// Commit applies b atomically and durably: the segments in Add are published, those
// in Remove withdrawn and the source offsets advanced, all in one synced pebble
// batch, or — when it returns an error — nothing changes. Validation failures wrap
// ErrInvalidBatch (or ErrNoTable).
//
// Each added segment must belong to b.Table (Table may be left empty), carry a
// sequence number handed out by ReserveSeqs, the ID SegmentID gives for it, and lie
// inside its time chunk.
func (c *Catalog) Commit(b Batch) error { return c.CommitAll(b) }

// CommitAll is Commit for batches of several distinct tables, applied together in
// one synced pebble batch: all of them, or — when it returns an error — none. A
// table's rows and the rows it rejected are published this way, so a crash
// cannot keep one without the other.
func (c *Catalog) CommitAll(bs ...Batch) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	tables, _, version, err := c.readState()
	if err != nil {
		return err
	}
	pb := c.db.NewBatch()
	defer pb.Close()
	next := make(map[string]*tableState, len(bs))
	for i := range bs {
		b := &bs[i]
		if _, dup := next[b.Table]; dup {
			return fmt.Errorf("commit to %s: %w: table appears twice", b.Table, ErrInvalidBatch)
		}
		nts, err := c.stage(pb, tables, b)
		if err != nil {
			return err
		}
		next[b.Table] = nts
	}
	pb.Set([]byte(keyVersion), u64(version+1), nil)
	if err := pb.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("commit to %s: %w", bs[0].Table, err)
	}
	c.mu.Lock()
	maps.Copy(c.mu.tables, next)
	c.mu.version = version + 1
	c.mu.Unlock()
	return nil
}

// stage validates b against tables, writes its changes into pb and returns the
// table's state once pb commits.
func (c *Catalog) stage(pb *pebble.Batch, tables map[string]*tableState, b *Batch) (*tableState, error) {
	ts, ok := tables[b.Table]
	if !ok {
		return nil, fmt.Errorf("commit to %s: %w", b.Table, ErrNoTable)
	}
	add, err := validate(ts, b)
	if err != nil {
		return nil, fmt.Errorf("commit to %s: %w: %v", b.Table, ErrInvalidBatch, err)
	}
	id := ts.def.ID
	for i := range add {
		v, err := json.Marshal(&add[i])
		if err != nil {
			return nil, fmt.Errorf("commit to %s: %w", b.Table, err)
		}
		pb.Set(segmentKey(id, add[i].ChunkStart, add[i].Seq), v, nil)
	}
	removed := make(map[string]bool, len(b.Remove))
	for _, sid := range b.Remove {
		removed[sid] = true
	}
	for _, m := range ts.segments {
		if removed[m.ID] {
			pb.Delete(segmentKey(id, m.ChunkStart, m.Seq), nil)
		}
	}
	for src, off := range b.Offsets {
		pb.Set(offsetKey(id, src), u64(uint64(off)), nil)
	}
	for src, off := range b.Rewind {
		if off < 0 {
			pb.Delete(offsetKey(id, src), nil)
		} else {
			pb.Set(offsetKey(id, src), u64(uint64(off)), nil)
		}
	}
	if b.Lake != nil {
		v, err := json.Marshal(b.Lake)
		if err != nil {
			return nil, fmt.Errorf("commit to %s: %w", b.Table, err)
		}
		pb.Set(lakeKey(id), v, nil)
	}

	nts := &tableState{def: ts.def, nextSeq: ts.nextSeq, offsets: maps.Clone(ts.offsets), lake: ts.lake}
	if b.Lake != nil {
		nts.lake = b.Lake.clone()
	}
	nts.segments = make([]SegmentMeta, 0, len(ts.segments)+len(add)-len(b.Remove))
	for _, m := range ts.segments {
		if !removed[m.ID] {
			nts.segments = append(nts.segments, m)
		}
	}
	nts.segments = append(nts.segments, add...)
	sortSegments(nts.segments)
	maps.Copy(nts.offsets, b.Offsets)
	for src, off := range b.Rewind {
		if off < 0 {
			delete(nts.offsets, src)
		} else {
			nts.offsets[src] = off
		}
	}
	return nts, nil
}

// validate checks b against the table's current state and returns the segments to
// add with Table filled in.
func validate(ts *tableState, b *Batch) ([]SegmentMeta, error) {
	if len(b.Add) == 0 && len(b.Remove) == 0 && len(b.Offsets) == 0 && len(b.Rewind) == 0 && b.Lake == nil {
		return nil, errors.New("empty batch")
	}
	if b.Lake != nil && (b.Lake.Version < ts.lake.Version || b.Lake.Seq < ts.lake.Seq) {
		return nil, fmt.Errorf("lake state moves back: version %d → %d, handoff %d → %d",
			ts.lake.Version, b.Lake.Version, ts.lake.Seq, b.Lake.Seq)
	}
	existing := make(map[string]bool, len(ts.segments))
	for _, m := range ts.segments {
		existing[m.ID] = true
	}
	removing := make(map[string]bool, len(b.Remove))
	for _, sid := range b.Remove {
		if !existing[sid] {
			return nil, fmt.Errorf("remove segment %s: no such segment", sid)
		}
		if removing[sid] {
			return nil, fmt.Errorf("remove segment %s: listed twice", sid)
		}
		removing[sid] = true
	}
	gran := ts.def.Granularity.Microseconds()
	add := make([]SegmentMeta, len(b.Add))
	adding := make(map[string]bool, len(b.Add))
	seqs := make(map[uint64]bool, len(b.Add))
	for i, m := range b.Add {
		if m.Table == "" {
			m.Table = ts.def.Name
		}
		switch {
		case m.Table != ts.def.Name:
			return nil, fmt.Errorf("add segment %s: belongs to table %q", m.ID, m.Table)
		case m.Seq == 0 || m.Seq >= ts.nextSeq:
			return nil, fmt.Errorf("add segment %s: sequence number %d was not reserved", m.ID, m.Seq)
		case seqs[m.Seq]:
			return nil, fmt.Errorf("add segment %s: sequence number %d used twice", m.ID, m.Seq)
		case m.ID != SegmentID(ts.def.ID, m.ChunkStart, m.Seq):
			return nil, fmt.Errorf("add segment %s: id should be %s", m.ID, SegmentID(ts.def.ID, m.ChunkStart, m.Seq))
		case existing[m.ID] || adding[m.ID]:
			return nil, fmt.Errorf("add segment %s: already exists", m.ID)
		case m.Path == "":
			return nil, fmt.Errorf("add segment %s: empty path", m.ID)
		case m.Rows < 0 || m.Bytes < 0:
			return nil, fmt.Errorf("add segment %s: negative size", m.ID)
		case floorChunk(m.ChunkStart, gran) != m.ChunkStart:
			return nil, fmt.Errorf("add segment %s: chunk start %d not aligned to %v", m.ID, m.ChunkStart, ts.def.Granularity)
		case m.Rows > 0 && (m.MinTime > m.MaxTime || m.MinTime < m.ChunkStart || uint64(m.MaxTime-m.ChunkStart) >= uint64(gran)):
			return nil, fmt.Errorf("add segment %s: times [%d, %d] outside chunk [%d, +%v)", m.ID, m.MinTime, m.MaxTime, m.ChunkStart, ts.def.Granularity)
		}
		adding[m.ID] = true
		seqs[m.Seq] = true
		add[i] = m
	}
	for src, off := range b.Offsets {
		if src == "" {
			return nil, errors.New("offset with an empty source")
		}
		if off < 0 {
			return nil, fmt.Errorf("offset %s: negative offset %d", src, off)
		}
		if old, ok := ts.offsets[src]; ok && off < old {
			return nil, fmt.Errorf("offset %s: moves back from %d to %d", src, old, off)
		}
	}
	for src, off := range b.Rewind {
		old, ok := ts.offsets[src]
		switch {
		case src == "":
			return nil, errors.New("rewind with an empty source")
		case !ok:
			return nil, fmt.Errorf("rewind %s: no offset to set back", src)
		case off > old:
			return nil, fmt.Errorf("rewind %s: moves forward from %d to %d", src, old, off)
		}
		if _, both := b.Offsets[src]; both {
			return nil, fmt.Errorf("offset %s: both advanced and rewound", src)
		}
	}
	return add, nil
}

// readState returns the current tables, next table id and version, or an error if
// the catalog is closed. REQUIRES: c.writeMu is held (so the state cannot change
// until the caller's write is applied).
func (c *Catalog) readState() (map[string]*tableState, uint64, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return nil, 0, 0, errors.New("catalog: closed")
	}
	return c.mu.tables, c.mu.nextTableID, c.mu.version, nil
}

// SegmentID returns the id of the segment with sequence number seq in the chunk
// starting at chunkStart (µs) of table tableID: "<table id>/<chunk start RFC3339>/<seq>".
func SegmentID(tableID uint64, chunkStart int64, seq uint64) string {
	return strconv.FormatUint(tableID, 10) + "/" +
		time.UnixMicro(chunkStart).UTC().Format(time.RFC3339) + "/" +
		strconv.FormatUint(seq, 10)
}

// ChunkStart returns the start of the time chunk t (µs) falls in for a granularity
// of gran: t rounded down (towards -∞) to a multiple of gran. ok is false when the
// result does not fit in an int64.
func ChunkStart(t int64, gran time.Duration) (start int64, ok bool) {
	g := gran.Microseconds()
	if g <= 0 {
		panic(fmt.Sprintf("BUG: granularity %v", gran))
	}
	q := t / g
	if t%g != 0 && t < 0 {
		q--
	}
	// q*g >= MinInt64 exactly when q >= MinInt64/g (Go division truncates towards zero).
	if q < math.MinInt64/g {
		return 0, false
	}
	return q * g, true
}

// floorChunk rounds t down to a multiple of g (µs), towards -∞.
func floorChunk(t, g int64) int64 {
	q := t / g
	if t%g != 0 && t < 0 {
		q--
	}
	return q * g
}

func sortSegments(s []SegmentMeta) {
	slices.SortFunc(s, func(a, b SegmentMeta) int {
		if a.ChunkStart != b.ChunkStart {
			if a.ChunkStart < b.ChunkStart {
				return -1
			}
			return 1
		}
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
}

// cloneDef copies the slices and maps of def so the caller cannot change the
// catalog's copy.
func cloneDef(def TableDef) TableDef {
	def.Schema.Columns = slices.Clone(def.Schema.Columns)
	def.Options = maps.Clone(def.Options)
	return def
}

func hasPrefix(k []byte, p string) bool {
	return len(k) >= len(p) && string(k[:len(p)]) == p
}

func u64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, v)
}

func tableKey(name string) []byte { return append([]byte(prefixTable), name...) }

func idPrefix(prefix string, id uint64) []byte {
	return append(binary.BigEndian.AppendUint64([]byte(prefix), id), '/')
}

func segmentKey(tableID uint64, chunkStart int64, seq uint64) []byte {
	k := idPrefix(prefixSegment, tableID)
	k = binary.BigEndian.AppendUint64(k, uint64(chunkStart)^(1<<63))
	k = append(k, '/')
	return binary.BigEndian.AppendUint64(k, seq)
}

func offsetKey(tableID uint64, source string) []byte {
	return append(idPrefix(prefixOffset, tableID), source...)
}

func seqKey(tableID uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixSeq), tableID)
}

func lakeKey(tableID uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixLake), tableID)
}

// quietLogger drops pebble's informational messages; fatal ones still go to the
// standard logger.
type quietLogger struct{}

func (quietLogger) Infof(format string, args ...any)  {}
func (quietLogger) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }
