// Package stream owns real-time ingestion: one Supervisor per table created with a
// kafka_topic, consuming the topic as a member of a consumer group (package
// ingest/kafka), decoding each record (ingest.RecordDecoder) into the table's
// real-time head of its partition (store.AppendHeadSource), where queries see it at
// once, and persisting the heads into segments (one partition's rows each) every
// persist_rows rows or persist_interval, and as soon as a row opens a newer time
// chunk (the previous one closed), together with the offsets past the persisted
// rows, in one catalog batch (storage/store.PublishFrozen). A chunk's persisted
// segments of one partition are merged once they are eight.
//
// Invariants:
//   - Exactly once. The catalog's offset of a partition is the next offset after the
//     last record whose row (or reject) is in a published segment; a Freeze and the
//     offsets published with it are taken under one lock with no append between
//     them. After a crash the head is gone and consumption resumes from the catalog
//     offsets, so each record ends up in exactly one published segment.
//   - Exactly once across processes. After each persist the offsets are committed
//     to the consumer group, where the partition's next owner resumes. If the group
//     refuses them for this member's standing (it was dropped from the group, say a
//     session timeout on a stalled machine, or lost the partition meanwhile:
//     kafka.ErrNotCommitted), another process already reads the partition from
//     the older offset, so the persist is taken back (store.Retract) before
//     anything else is published, and the run restarts from max(catalog, group).
//     Only a kill between a persist's catalog commit and its group commit can
//     leave rows that the next owner reads again (README, "Exactly once").
//   - Exactly once on a shared lake. When the table names a lake_path (which every
//     process of the group shares) and hands off, the lake is the checkpoint: each
//     partition's rows go to heads and segments of their own
//     (store.AppendHeadSource), every handoff commits one txn per owned partition
//     (strata/<table>/<topic>/<partition>, version = the next offset not in the
//     lake), and an assigned partition resumes at the lake's offset, or at the
//     catalog's when this process's local segments continue exactly from there;
//     otherwise its local rows of the partition are dropped (resumeFromLake,
//     store.ResetSource). The group's commits are then only monitoring hints
//     (kafka.Config.StoredIsExact). Queries read the lake, the owned
//     partitions' rows (store.SetOwned) and the other partitions' rows, which
//     every process follows from Kafka into memory from the lake's offsets on
//     (follower.go, store.AppendFollow), each partition from the lake's offset of
//     the version the query reads on. A handoff first checks, by a group
//     commit, that this process still owns the partitions; a partition found
//     handed off under it ends the run, which takes it up again from the lake.
//     Revoked partitions are handed off before they move. Rejects are handed off
//     to <lake_path>/_rejects by the same rules; the two lakes commit apart, so a
//     partition resumes at the lower offset and skips the rows, or rejects, the
//     other lake holds. A lake offset below the log start is data loss (logged,
//     Status.LostRecords). An owner compacts the lakes' small files in the
//     background (OPTIMIZE, Options.OptimizeAtFiles) under each lake's OPTIMIZE
//     lease in its Delta log (store.OptimizeUnderLease): one process at a time.
//   - A record that cannot be decoded, or a late one (late_message_rejection), goes
//     to the table <table>_rejects (topic, partition, offset, raw, reason, time) and
//     is counted; it never stops ingestion. Rejects are published in the same
//     catalog commit as the rows and offsets of the same persist
//     (store.PublishFrozenAll), so they are exactly once too.
//   - A failed persist stops the table's consumer; the supervisor discards the head
//     and starts again from the catalog offsets (after a backoff), so no row is lost
//     or duplicated by the failure.
//   - A restarted process takes its old place in each table's group at once: the
//     consumer is a static member whose group.instance.id (KIP-345) is kept in the
//     data directory (file kafka-instance-id) and names the table, so the new
//     incarnation replaces the dead one instead of waiting for its session to time
//     out, and no member of a dead incarnation keeps partitions that nobody reads.
//     Two processes must therefore never share a data directory (nor a copy of one)
//     in one group: the broker would fence one of them.
//   - Nothing unread goes unnoticed: a partition of the topic that this process does
//     not own, whose group lag stays above zero while the group's committed offset
//     stands still for Options.UnassignedAfter, is shown in strata_ingest_status with
//     state 'unassigned' and its lag, and logged as a warning.
package stream

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratadb/strata/ingest"
	"github.com/stratadb/strata/ingest/kafka"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/rollup"
	"github.com/stratadb/strata/storage/store"
)

// Table options (CREATE TABLE ... WITH (...)) read by this package, declared in
// catalog.TableOptions.
const (
	OptBrokers        = catalog.OptKafkaBrokers
	OptTopic          = catalog.OptKafkaTopic
	OptGroup          = catalog.OptKafkaGroup
	OptStart          = catalog.OptKafkaStart // earliest (default) | latest
	OptSASLMechanism  = catalog.OptKafkaSASLMechanism
	OptSASLUser       = catalog.OptKafkaSASLUser
	OptSASLPassword   = catalog.OptKafkaSASLPassword
	OptTLS            = catalog.OptKafkaTLS // true: TLS with the system roots
	OptSessionTimeout = catalog.OptKafkaSessionTimeout
	// OptRebalanceTimeout bounds how long a group rebalance waits for members to
	// rejoin (default: twice the session timeout, at least 5 s; Kafka's is 60 s, which
	// stalls a restarted process for a minute when the one it replaced was killed).
	OptRebalanceTimeout = catalog.OptKafkaRebalance
	OptPersistRows      = catalog.OptPersistRows
	OptPersistEvery     = catalog.OptPersistInterval
	OptLateRejection    = catalog.OptLateRejection
	OptKeepUnknown      = catalog.OptKeepUnknownFields // a text column receiving unknown JSON fields
	OptMaxRecordBytes   = catalog.OptMaxRecordBytes
)

// Defaults.
const (
	DefaultPersistRows  = 500_000
	DefaultPersistEvery = 10 * time.Second
	// DefaultSessionTimeout is the consumer-group session timeout: how long the
	// group waits for a member that stopped heartbeating (a killed process) before
	// its partitions move. Kafka's default is 45 s; strata favours quick takeover.
	DefaultSessionTimeout = 10 * time.Second
	// DefaultHeadBytes is the head size (per table) past which the supervisor
	// persists early, whatever persist_rows says.
	DefaultHeadBytes = 256 << 20
	// DefaultFollowBytes is the memory (per table, its rejects included) the
	// follower heads of the partitions this process follows may hold
	// (follower.go): about what the other nodes have not handed off yet, so
	// several owners' HeadBytes and what they persisted since their last
	// handoff.
	DefaultFollowBytes = 1 << 30
	// compactAt is the number of persisted segments of one partition in one
	// time chunk at which the chunk's segments are merged.
	compactAt = 8
)

// RejectsSuffix names a table's rejects table: <table>_rejects.
const RejectsSuffix = "_rejects"

// Options configure a Manager.
type Options struct {
	Logger *slog.Logger
	// Brokers is used for tables that do not name kafka_brokers.
	Brokers []string
	// HeadBytes overrides DefaultHeadBytes.
	HeadBytes int64
	// FollowBytes overrides DefaultFollowBytes: past it, the follower lets go
	// of the partition whose follower heads hold the most and shows it as its
	// lake holds it until the lake passes where it let go (follower.go).
	FollowBytes int64
	// TLS, when set, is the TLS configuration for tables with kafka_tls = true.
	TLS *tls.Config
	// Restart is the backoff before a failed supervisor starts again (default 1s).
	Restart time.Duration
	// UnassignedAfter is how long a partition of a table's topic that this
	// process does not own may have group lag while the group's committed
	// offset stands still before it is reported as unassigned (a status row
	// with state 'unassigned' and a warning in the log). Default: the larger
	// of 30 s and three times the table's persist_interval (a live owner
	// commits at every persist).
	UnassignedAfter time.Duration
	// OptimizeEvery, OptimizeAtFiles and OptimizeLease: for a table whose lake
	// is the checkpoint (handoff by offset makes a small file per date and
	// handoff), every process that owns a partition of its topic looks every
	// OptimizeEvery (default 1 minute) at the number of data files of the
	// table's and its rejects' lakes, and runs OPTIMIZE on one that has
	// OptimizeAtFiles (default 64) or more under the lake's OPTIMIZE lease
	// (store.OptimizeUnderLease: a txn committed to the Delta log, held for
	// OptimizeLease, default 10 minutes): one process at a time, whatever the
	// group's rebalances; the others find the lease held and look again later.
	OptimizeEvery   time.Duration
	OptimizeAtFiles int
	OptimizeLease   time.Duration
	// FollowOnly makes this process a reader of every Kafka table: it joins no
	// consumer group, so it owns no partition, persists and hands off nothing,
	// and follows every partition of a table whose lake is the checkpoint of
	// its partitions (follower.go); a table without one is not read at all
	// (state 'follow-only': its rows are those of its lake).
	FollowOnly bool
}

// Config is a table's ingestion configuration, parsed from its options.
type Config struct {
	Kafka          kafka.Config
	PersistRows    int
	PersistEvery   time.Duration
	LateRejection  time.Duration // 0: accept every late row
	KeepUnknown    string
	MaxRecordBytes int
}

// IsStreaming reports whether def is fed from Kafka.
func IsStreaming(def catalog.TableDef) bool { return def.Options[OptTopic] != "" }

// ParseConfig reads the ingestion options of def. Errors name the option.
func ParseConfig(def catalog.TableDef, opts Options) (Config, error) {
	o := def.Options
	c := Config{PersistRows: DefaultPersistRows, PersistEvery: DefaultPersistEvery}
	c.Kafka.Topic = o[OptTopic]
	if c.Kafka.Topic == "" {
		return c, fmt.Errorf("table %s: option %s is required", def.Name, OptTopic)
	}
	if b := o[OptBrokers]; b != "" {
		for _, s := range strings.Split(b, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.Kafka.Brokers = append(c.Kafka.Brokers, s)
			}
		}
	} else {
		c.Kafka.Brokers = opts.Brokers
	}
	if len(c.Kafka.Brokers) == 0 {
		return c, fmt.Errorf("table %s: option %s is required (no default brokers)", def.Name, OptBrokers)
	}
	c.Kafka.Group = o[OptGroup]
	if c.Kafka.Group == "" {
		c.Kafka.Group = "strata-" + def.Name
	}
	switch strings.ToLower(o[OptStart]) {
	case "", "earliest":
	case "latest":
		c.Kafka.StartAtEnd = true
	default:
		return c, fmt.Errorf("table %s: option %s must be earliest or latest, not %q", def.Name, OptStart, o[OptStart])
	}
	c.Kafka.SASL = kafka.SASL{Mechanism: strings.ToUpper(o[OptSASLMechanism]), User: o[OptSASLUser], Password: o[OptSASLPassword]}
	switch c.Kafka.SASL.Mechanism {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return c, fmt.Errorf("table %s: option %s must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", def.Name, OptSASLMechanism)
	}
	if v := o[OptTLS]; v != "" {
		on, ok := catalog.ParseBool(v)
		if !ok {
			return c, fmt.Errorf("table %s: option %s: invalid boolean %q", def.Name, OptTLS, v)
		}
		if on {
			c.Kafka.TLS = opts.TLS
			if c.Kafka.TLS == nil {
				c.Kafka.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
			}
		}
	}
	if v := o[OptPersistRows]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("table %s: option %s must be a positive integer, not %q", def.Name, OptPersistRows, v)
		}
		c.PersistRows = n
	}
	var err error
	c.Kafka.SessionTimeout = DefaultSessionTimeout
	if v := o[OptSessionTimeout]; v != "" {
		if c.Kafka.SessionTimeout, err = catalog.ParseDuration(v); err != nil || c.Kafka.SessionTimeout <= 0 {
			return c, fmt.Errorf("table %s: option %s: invalid duration %q", def.Name, OptSessionTimeout, v)
		}
	}
	c.Kafka.HeartbeatInterval = min(3*time.Second, c.Kafka.SessionTimeout/3)
	c.Kafka.RebalanceTimeout = max(5*time.Second, 2*c.Kafka.SessionTimeout)
	if v := o[OptRebalanceTimeout]; v != "" {
		if c.Kafka.RebalanceTimeout, err = catalog.ParseDuration(v); err != nil || c.Kafka.RebalanceTimeout <= 0 {
			return c, fmt.Errorf("table %s: option %s: invalid duration %q", def.Name, OptRebalanceTimeout, v)
		}
	}
	if v := o[OptPersistEvery]; v != "" {
		if c.PersistEvery, err = catalog.ParseDuration(v); err != nil || c.PersistEvery <= 0 {
			return c, fmt.Errorf("table %s: option %s: invalid duration %q", def.Name, OptPersistEvery, v)
		}
	}
	if v := o[OptLateRejection]; v != "" {
		if c.LateRejection, err = catalog.ParseDuration(v); err != nil || c.LateRejection < 0 {
			return c, fmt.Errorf("table %s: option %s: invalid duration %q", def.Name, OptLateRejection, v)
		}
	}
	c.KeepUnknown = o[OptKeepUnknown]
	if v := o[OptMaxRecordBytes]; v != "" {
		if c.MaxRecordBytes, err = strconv.Atoi(v); err != nil || c.MaxRecordBytes <= 0 {
			return c, fmt.Errorf("table %s: option %s must be a positive integer, not %q", def.Name, OptMaxRecordBytes, v)
		}
	}
	spec, err := rollup.Of(def)
	if err != nil {
		return c, err
	}
	schema := &def.Schema
	if spec != nil {
		schema = spec.Logical
	}
	if _, err := ingest.NewRecordDecoder(schema, ingest.RecordOptions{KeepUnknown: c.KeepUnknown, MaxRecordBytes: c.MaxRecordBytes}); err != nil {
		return c, fmt.Errorf("table %s: %w", def.Name, err)
	}
	return c, nil
}

// RejectsSchema is the schema of a <table>_rejects table.
func RejectsSchema() storage.Schema {
	return storage.Schema{TimeColumn: 0, Columns: []storage.Column{
		{Name: "time", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "topic", Type: storage.TypeString, SQLType: "text"},
		{Name: "partition", Type: storage.TypeInt64, SQLType: "integer"},
		{Name: "offset", Type: storage.TypeInt64, SQLType: "bigint"},
		{Name: "raw", Type: storage.TypeString, SQLType: "text"},
		{Name: "reason", Type: storage.TypeString, SQLType: "text"},
	}}
}

// maxRawBytes bounds the raw bytes a reject keeps.
const maxRawBytes = 64 << 10

// Status is one row of strata_ingest_status: one per assigned partition, one per
// followed partition (the lake checkpoint: Role follower) and one per unassigned
// partition not followed, or one per table (Partition -1) when it has none.
type Status struct {
	Table     string
	Topic     string
	Partition int32
	// Role is "owner" for a partition this process owns (the consumer group
	// assigned it), "follower" for one it reads without owning it (follower.go),
	// "" for the table's row and an unassigned partition not followed.
	Role            string
	CommittedOffset int64 // next offset recorded in the catalog; -1: none yet (followed partitions: -1)
	// ReadOffset is the next offset to read from Kafka: past the records in
	// the heads (owner) or in the follower head (follower); -1: none yet.
	ReadOffset int64
	// Lag is the high watermark minus ReadOffset, or for an unassigned
	// partition the group's lag; -1: unknown.
	Lag int64
	// FollowLag is a followed partition's lag (the high watermark minus
	// ReadOffset), also when its row is unassigned; -1 otherwise.
	FollowLag int64
	// RowsPerSec, Rows and Rejects are the row's own: its partition's rows
	// ingested (and records rejected) since the supervisor started, or, in a
	// row with Partition -1, the table's.
	RowsPerSec float64
	Rows       int64
	Rejects    int64
	// TableRowsPerSec, TableRows and TableRejects are the table's totals, the
	// same in each of its rows.
	TableRowsPerSec float64
	TableRows       int64
	TableRejects    int64
	// Node names the process that reads the partition: this data directory's
	// consumer group instance id; empty for an unassigned partition.
	Node string
	// State: running | paused | restarting | stopped | failed (could not
	// start), or unassigned: a row for a partition this process does not own
	// that nobody seems to read (see Options.UnassignedAfter); its
	// CommittedOffset and Lag are then the consumer group's; or, for a
	// followed partition, memory-limit: let go of at Options.FollowBytes
	// (follower.go; ReadOffset is the offset read to then, LastError says
	// more), shown as the lake holds it.
	State string
	// TableState is the table's ingestion state (State of its rows that are
	// not 'unassigned').
	TableState string
	LastError  string
	// LakeOffset is the partition's offset in the table's lake as this process
	// last knew it (its own handoff, or the lake's txn when it took the
	// partition; for a followed partition the txn of the lake version queries
	// read): every record below it is in the lake; -1: none. LakeLag is
	// CommittedOffset minus LakeOffset (records persisted here, not yet in the
	// lake; followed: ReadOffset minus LakeOffset, records queries read from
	// the follower head; -1: unknown) and LakeLagSeconds how long the lake has
	// trailed the catalog (0 when it does not; followed: 0).
	LakeOffset     int64
	LakeLag        int64
	LakeLagSeconds float64
	// LostRecords counts records of the partition that Kafka's retention
	// deleted before any process persisted them (the lake's offset was below
	// the log start when this process took the partition): data loss.
	LostRecords int64
	// Persists counts the head's persists (segments + offsets committed) since the
	// supervisor started; PersistSeconds is their total duration.
	Persists       int64
	PersistSeconds float64
}

// Manager runs the supervisors of a store's streaming tables. Safe for concurrent use.
type Manager struct {
	st   *store.Store
	opts Options
	log  *slog.Logger

	// nodeID names this data directory in consumer groups (instanceID).
	nodeOnce sync.Once
	nodeID   string
	nodeErr  error

	mu   sync.Mutex
	sups map[string]*Supervisor
	// failed holds the status of tables whose ingestion could not start.
	failed map[string]Status
}

// NewManager returns a manager for st; it starts nothing.
func NewManager(st *store.Store, opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HeadBytes <= 0 {
		opts.HeadBytes = DefaultHeadBytes
	}
	if opts.FollowBytes <= 0 {
		opts.FollowBytes = DefaultFollowBytes
	}
	if opts.Restart <= 0 {
		opts.Restart = time.Second
	}
	if opts.OptimizeEvery <= 0 {
		opts.OptimizeEvery = time.Minute
	}
	if opts.OptimizeAtFiles <= 0 {
		opts.OptimizeAtFiles = 64
	}
	if opts.OptimizeLease <= 0 {
		opts.OptimizeLease = 10 * time.Minute
	}
	return &Manager{st: st, opts: opts, log: opts.Logger, sups: map[string]*Supervisor{}, failed: map[string]Status{}}
}

// Validate checks def's ingestion options without starting anything.
func (m *Manager) Validate(def catalog.TableDef) error {
	if !IsStreaming(def) {
		return nil
	}
	_, err := ParseConfig(def, m.opts)
	return err
}

// StartAll starts a supervisor for every streaming table of the store.
func (m *Manager) StartAll() error {
	var errs []error
	for _, def := range m.st.Tables() {
		if !IsStreaming(def) {
			continue
		}
		if err := m.Start(def); err != nil {
			errs = append(errs, err)
			m.mu.Lock()
			m.failed[def.Name] = Status{Table: def.Name, Topic: def.Options[OptTopic], Partition: -1, CommittedOffset: -1,
				ReadOffset: -1, Lag: -1, FollowLag: -1, LakeOffset: -1, LakeLag: -1, State: "failed", TableState: "failed", LastError: err.Error()}
			m.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// Start starts def's supervisor (creating <table>_rejects when missing). A table
// without kafka_topic is left alone.
func (m *Manager) Start(def catalog.TableDef) error {
	if !IsStreaming(def) {
		return nil
	}
	cfg, err := ParseConfig(def, m.opts)
	if err != nil {
		return err
	}
	if cfg.Kafka.InstanceID, err = m.instanceID(def); err != nil {
		return err
	}
	cfg.Kafka.StoredIsExact = lakeCheckpoint(def)
	rejects := def.Name + RejectsSuffix
	if _, ok := m.st.Table(rejects); !ok {
		opts := map[string]string{"rejects_of": def.Name}
		if p := def.Options[catalog.OptLakePath]; p != "" {
			opts[catalog.OptLakePath] = store.RejectsLakePath(p) // shared like the table's lake
		}
		_, err := m.st.CreateTable(catalog.TableDef{Name: rejects, Schema: RejectsSchema(), Granularity: 24 * time.Hour,
			Options: opts})
		if err != nil && !errors.Is(err, store.ErrTableExists) {
			return fmt.Errorf("table %s: create %s: %w", def.Name, rejects, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sups[def.Name]; ok {
		return fmt.Errorf("table %s: ingestion already running", def.Name)
	}
	s := newSupervisor(m, def, cfg)
	if def.Options[catalog.OptIngestPaused] == "true" { // ALTER TABLE … PAUSE INGEST in a --cluster catalog
		s.paused.Store(true)
		s.stat.state = "paused"
	}
	m.sups[def.Name] = s
	delete(m.failed, def.Name)
	s.start()
	return nil
}

// lakeCheckpoint reports whether def's lake is the checkpoint of its partitions
// that every process ingesting the topic shares: the table names a lake_path
// (which processes in one consumer group share) and hands off. A table whose
// lake is the default folder in its data directory keeps the checkpoint of one
// process: its catalog offsets and the group's commits.
func lakeCheckpoint(def catalog.TableDef) bool {
	return def.Options[catalog.OptLakePath] != "" && !strings.EqualFold(def.Options[catalog.OptHandoff], "off")
}

// instanceIDFile holds, in the data directory, the id that names this data
// directory in consumer groups: 16 random bytes in hex, written once.
const instanceIDFile = "kafka-instance-id"

// instanceID is def's group.instance.id: stable for this data directory and
// table, so a restarted process takes its old place in the group at once.
func (m *Manager) instanceID(def catalog.TableDef) (string, error) {
	m.nodeOnce.Do(func() { m.nodeID, m.nodeErr = loadNodeID(m.st.Dir()) })
	if m.nodeErr != nil {
		return "", fmt.Errorf("table %s: %w", def.Name, m.nodeErr)
	}
	return "strata-" + m.nodeID + "-t" + strconv.FormatUint(def.ID, 10), nil
}

// nodeName returns this data directory's node id (see instanceID), or "" when
// it could not be read.
func (m *Manager) nodeName() string {
	m.nodeOnce.Do(func() { m.nodeID, m.nodeErr = loadNodeID(m.st.Dir()) })
	return m.nodeID
}

// loadNodeID reads dir's instance id file, creating it when missing (written
// to a temporary file, synced, renamed).
func loadNodeID(dir string) (string, error) {
	path := filepath.Join(dir, instanceIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			return "", fmt.Errorf("consumer group instance id in %s: %q is not 32 hex digits", path, id)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("consumer group instance id: %w", err)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("consumer group instance id: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	tmp, err := os.CreateTemp(dir, instanceIDFile+".tmp*")
	if err != nil {
		return "", fmt.Errorf("consumer group instance id: %w", err)
	}
	_, err = tmp.WriteString(id + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("consumer group instance id: write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return id, nil
}

// Stop stops def's supervisor: it persists what the head holds and leaves the group.
func (m *Manager) Stop(table string) {
	m.mu.Lock()
	s := m.sups[table]
	delete(m.sups, table)
	delete(m.failed, table)
	m.mu.Unlock()
	if s != nil {
		s.stop()
	}
}

func (m *Manager) supervisor(table string) (*Supervisor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sups[table]
	if s == nil {
		return nil, fmt.Errorf("table %s has no running ingestion", table)
	}
	return s, nil
}

// Pause stops fetching for table without leaving the group.
func (m *Manager) Pause(table string) error {
	s, err := m.supervisor(table)
	if err != nil {
		return err
	}
	s.setPaused(true)
	return nil
}

// Resume undoes Pause.
func (m *Manager) Resume(table string) error {
	s, err := m.supervisor(table)
	if err != nil {
		return err
	}
	s.setPaused(false)
	return nil
}

// Status returns the status rows of every supervisor, by table and partition.
func (m *Manager) Status() []Status {
	m.mu.Lock()
	sups := slices.Collect(maps.Values(m.sups))
	out := slices.Collect(maps.Values(m.failed))
	m.mu.Unlock()
	for _, s := range sups {
		out = append(out, s.status()...)
	}
	slices.SortFunc(out, func(a, b Status) int {
		if c := strings.Compare(a.Table, b.Table); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

// Close stops every supervisor.
func (m *Manager) Close() {
	m.mu.Lock()
	names := slices.Collect(maps.Keys(m.sups))
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); m.Stop(n) }()
	}
	wg.Wait()
}
