package sql

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/ingest/stream"
	"github.com/stratadb/strata/storage/store"
)

// This file is the contract between the wire layers (server/pgwire, server/http)
// and the SQL layer.

// Statement is one parsed, bound SQL statement, ready to execute many times with
// different parameters (an extended-protocol prepared statement).
type Statement struct {
	// Query is the statement's text.
	Query string
	// ParamTypes has one entry per $n placeholder, inferred from context when the client
	// did not give a type (text when nothing decides it, as PostgreSQL does).
	ParamTypes []engine.Type
	// Fields describes the rows the statement returns; nil when it returns none
	// (CREATE, INSERT, SET, ...).
	Fields []engine.Field
	// Origins, when set, has one entry per field: the table and column a field reads
	// as is (RowDescription's table OID and column number; JDBC asks the catalog
	// about them, e.g. for ResultSetMetaData.isNullable), zero for computed fields.
	Origins []ColumnOrigin

	impl any // the SQL layer's bound form
}

// ColumnOrigin is the table (pg_class oid) and column (pg_attribute attnum) a
// result field comes from, and the type RowDescription names for it.
type ColumnOrigin struct {
	TableOID uint32
	Column   int16
	// TypeOID, when not 0, is the column's declared type where the field's engine
	// type stands for several (varchar, 1043, whose values are text's); TypMod is the
	// column's atttypmod (numeric(p,s), varchar(n)), 0 for -1 (none).
	TypeOID uint32
	TypMod  int32
}

// Result is the outcome of executing one statement.
type Result struct {
	// Fields and Rows are set when the statement returns rows. The caller must Close Rows.
	Fields []engine.Field
	Rows   engine.Rows
	// Tag is the command tag without a row count for SELECT ("SELECT"; the wire layer
	// appends the count it sent), and complete for the rest ("CREATE TABLE", "INSERT 0 42",
	// "COPY 1000", "SET", "BEGIN").
	Tag string
	// CopyIn is set for COPY ... FROM STDIN: the wire layer answers CopyInResponse with
	// CopyColumns columns, streams the client's CopyData into CopyIn's reader and, when
	// CopyIn returns, completes with Tag "COPY <rows>". Malformed lines are counted in
	// the returned stats, not returned as an error; an error aborts the copy.
	CopyIn      func(ctx context.Context, r io.Reader) (CopyStats, error)
	CopyColumns int
	CopyText    bool // true for text/csv formats (CopyInResponse overall format 0)
	// Notices are sent to the client before CommandComplete (for example how many
	// malformed COPY lines were rejected).
	Notices []string
}

// CopyStats reports a finished COPY.
type CopyStats struct {
	Rows     int64 // rows loaded
	Rejected int64 // malformed lines skipped
	// FirstErrors holds the first few rejected lines' "line N: reason" messages.
	FirstErrors []string
}

// Options configure a DB.
type Options struct {
	// DisabledRules names optimizer rules (package sql/opt) to skip in every session;
	// a session adds more with SET strata.disabled_rules = 'rule,rule'.
	DisabledRules []string
	// MemoryLimit is the per-query memory limit in bytes (0: none).
	MemoryLimit int64
	// Ingest runs the real-time ingestion of tables created WITH (kafka_topic = ...);
	// nil: such tables are refused.
	Ingest *stream.Manager

	// Limits (the server's defences against one client taking it down).

	// Budget is the server-wide memory cap all running queries reserve from (nil:
	// none); MemoryLimit still bounds each query.
	Budget *engine.MemoryBudget
	// StatementTimeout, IdleSessionTimeout and IdleInTransactionSessionTimeout are
	// the defaults of statement_timeout, idle_session_timeout and
	// idle_in_transaction_session_timeout (0: none), as postgresql.conf sets them;
	// a session changes its own with SET.
	StatementTimeout                time.Duration
	IdleSessionTimeout              time.Duration
	IdleInTransactionSessionTimeout time.Duration
	// Backends lists and signals the server's client connections for
	// pg_stat_activity, pg_cancel_backend and pg_terminate_backend (nil: the view
	// is empty and the functions return false). The wire layer sets it with
	// DB.SetBackends once its server exists.
	Backends Backends
	// Cluster, when set (strata serve --cluster), makes CREATE/DROP TABLE, ALTER
	// TABLE … OWNER TO and role statements changes of the cluster's catalog
	// (cluster.go); nil: of this node's catalog alone.
	Cluster Cluster
}

// DB is the SQL front of one store. Safe for concurrent use.
type DB struct {
	store    *store.Store
	opts     Options
	backends atomic.Pointer[Backends] // SetBackends; nil: opts.Backends
}

// Open returns the SQL front over st.
func Open(st *store.Store, opts Options) *DB { return &DB{store: st, opts: opts} }

// Session is one client connection's state: settings (SET/SHOW), prepared statements
// belong to the wire layer. Not safe for concurrent use.
type Session struct {
	db       *DB
	User     string
	Database string
	settings map[string]string // lower-case name -> value; absent: the default
	tx       txState           // the transaction block (readonly.go)
	role     string            // SET ROLE's role; "": User (rolestmt.go)
	pid      int32             // the connection's process ID (pg_backend_pid); 0 outside pgwire
	// zoneCache is the loaded TimeZone setting (timezone.go).
	zoneCache struct {
		name string
		loc  *time.Location
	}
}

// NewSession starts a session for user on database.
func (db *DB) NewSession(user, database string) *Session {
	return &Session{db: db, User: user, Database: database, settings: map[string]string{}}
}

// Split cuts a simple-protocol query string into statements, dropping empty ones
// and comment-only ones. An empty result means the client sent an empty query.
func Split(query string) ([]string, error) { return split(query) }

// Prepare parses and binds exactly one statement. paramTypes are the types the client
// declared for $1..$n (Unknown or missing entries are inferred). Errors are *engine.Error
// (42601 with Position for syntax errors, 0A000 naming unsupported features, ...).
func (s *Session) Prepare(ctx context.Context, query string, paramTypes []engine.Type) (*Statement, error) {
	st, err := s.prepare(ctx, query, paramTypes)
	return st, s.db.locationError(err)
}

// Execute runs a prepared statement with params (one per ParamTypes entry; a Value of
// Type Unknown carries the client's text in S and is converted here).
func (s *Session) Execute(ctx context.Context, st *Statement, params []engine.Value) (*Result, error) {
	res, err := s.execute(ctx, st, params)
	return res, s.db.locationError(err)
}

// Setting returns the session's value of a run-time parameter (SHOW, current_setting,
// ParameterStatus), and whether it exists.
func (s *Session) Setting(name string) (string, bool) { return s.setting(name) }

// Timeout returns the session's value of a time setting (statement_timeout,
// idle_session_timeout, idle_in_transaction_session_timeout) as a duration; 0
// when it is off or not a time setting.
func (s *Session) Timeout(name string) time.Duration {
	v, _ := s.setting(name)
	d, err := parseTimeout(v)
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// Set changes a run-time parameter as SET does (the wire layer applies startup
// parameters with it). Errors are *engine.Error.
func (s *Session) Set(name, value string) error { return s.set(name, value) }
