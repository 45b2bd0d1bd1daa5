package sql

import (
	"sort"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// Backends is what the wire layer offers the SQL layer about its client
// connections: pg_stat_activity reads Activity, pg_cancel_backend and
// pg_terminate_backend call Cancel and Terminate (after the privilege checks,
// which are the SQL layer's). Safe for concurrent use.
type Backends interface {
	// Activity returns one entry per connection past startup.
	Activity() []Activity
	// Cancel cancels backend pid's running statement; false when there is no such backend.
	Cancel(pid int32) bool
	// Terminate ends backend pid's connection; false when there is no such backend.
	Terminate(pid int32) bool
}

// Activity is one connection as pg_stat_activity shows it.
type Activity struct {
	PID             int32
	Database        string
	User            string
	ApplicationName string
	ClientAddr      string // "" for a Unix socket (NULL)
	ClientPort      int    // -1 for a Unix socket
	BackendStart    time.Time
	XactStart       time.Time // zero: NULL (no transaction)
	QueryStart      time.Time // zero: NULL (no statement yet)
	StateChange     time.Time
	// State is "active", "idle", "idle in transaction" or "idle in transaction (aborted)".
	State string
	// Query is the running statement, or the last one when idle.
	Query string
}

// SetBackends sets Options.Backends once the wire layer's server exists (it is
// made after the DB it serves).
func (db *DB) SetBackends(b Backends) { db.backends.Store(&b) }

func (db *DB) backendList() Backends {
	if p := db.backends.Load(); p != nil {
		return *p
	}
	return db.opts.Backends
}

// SetBackendPID tells the session its connection's process ID (pg_backend_pid,
// the BackendKeyData the client got).
func (s *Session) SetBackendPID(pid int32) { s.pid = pid }

// hasPrivsOf reports whether the session's role has the privileges of role (is it,
// is a superuser, or is a member of it through roles that inherit), as PostgreSQL's
// has_privs_of_role.
func (s *Session) hasPrivsOf(role string) bool {
	target, ok := s.db.store.Catalog().Role(role)
	return ok && s.db.principalOf(s.currentUser()).hasPrivsOf(target.OID)
}

// backendPIDRef is pg_backend_pid(): replaced by the session's process ID when the
// statement executes.
type backendPIDRef struct{}

func (backendPIDRef) Type() engine.Type { return engine.Int32 }
func (backendPIDRef) String() string    { return "pg_backend_pid()" }

// backendFunc binds pg_backend_pid(), pg_cancel_backend(pid) and
// pg_terminate_backend(pid [, timeout]); ok is false for other argument counts
// (they fall through to "function does not exist").
func (b *binder) backendFunc(fc *pg.FuncCall, name string, c *exprCtx) (engine.Expr, bool, error) {
	switch {
	case name == "pg_backend_pid" && len(fc.Args) == 0:
		return &backendPIDRef{}, true, nil
	case name == "pg_backend_pid", len(fc.Args) == 0, len(fc.Args) > 2, len(fc.Args) == 2 && name != "pg_terminate_backend":
		return nil, false, nil
	}
	// pg_terminate_backend's timeout (PostgreSQL 14+) is accepted and not waited on.
	types := []engine.Type{engine.Int32, engine.Int64}
	var args []engine.Expr
	for i, a := range fc.Args {
		e, err := b.expr(a, c)
		if err != nil {
			return nil, true, err
		}
		if e, err = b.coerce(e, types[i]); err != nil {
			return nil, true, err
		}
		args = append(args, e)
	}
	call, err := engine.NewCall(name, args...)
	return call, true, err
}

// hostFuncs are the engine's Options.Funcs: the functions that signal backends.
// They run on the engine's workers, so they read only what does not change during
// a statement (the session's user, the catalog, the backends).
func (s *Session) hostFuncs() map[string]engine.HostFunc {
	return map[string]engine.HostFunc{
		"pg_cancel_backend":    func(a []engine.Value) (engine.Value, error) { return s.signalBackend(a[0], false) },
		"pg_terminate_backend": func(a []engine.Value) (engine.Value, error) { return s.signalBackend(a[0], true) },
	}
}

// signalBackend is pg_cancel_backend / pg_terminate_backend, with PostgreSQL 15's
// checks (pg_signal_backend in signalfuncs.c): only a superuser signals a
// superuser's backend; otherwise the caller must have the privileges of the
// backend's role or of pg_signal_backend.
func (s *Session) signalBackend(pid engine.Value, terminate bool) (engine.Value, error) {
	if pid.Null {
		return engine.NullValue(engine.Bool), nil
	}
	result := func(ok bool) (engine.Value, error) { return engine.Value{Type: engine.Bool, B: ok}, nil }
	bs := s.db.backendList()
	if bs == nil {
		return result(false)
	}
	var target *Activity
	for _, a := range bs.Activity() {
		if int64(a.PID) == pid.I {
			target = &a
			break
		}
	}
	if target == nil {
		// PostgreSQL warns "PID n is not a PostgreSQL server process" and returns false.
		return result(false)
	}
	if r, ok := s.db.store.Catalog().Role(target.User); ok && r.Superuser && !s.Superuser() {
		if terminate {
			return engine.Value{}, engine.Errorf(sqlstate.InsufficientPrivilege, "must be a superuser to terminate superuser process")
		}
		return engine.Value{}, engine.Errorf(sqlstate.InsufficientPrivilege, "must be a superuser to cancel superuser query")
	}
	if !s.hasPrivsOf(target.User) && !s.hasPrivsOf("pg_signal_backend") {
		if terminate {
			return engine.Value{}, engine.Errorf(sqlstate.InsufficientPrivilege, "must be a member of the role whose process is being terminated or member of pg_signal_backend")
		}
		return engine.Value{}, engine.Errorf(sqlstate.InsufficientPrivilege, "must be a member of the role whose query is being canceled or member of pg_signal_backend")
	}
	if terminate {
		return result(bs.Terminate(target.PID))
	}
	return result(bs.Cancel(target.PID))
}

// pgStatActivityColumns are PostgreSQL 15's (client_addr as text, the xids as oid).
var pgStatActivityColumns = cols("datid", tOID, "datname", tText, "pid", tInt4, "leader_pid", tInt4, "usesysid", tOID,
	"usename", tText, "application_name", tText, "client_addr", tText, "client_hostname", tText, "client_port", tInt4,
	"backend_start", engine.TimestampTZ, "xact_start", engine.TimestampTZ, "query_start", engine.TimestampTZ,
	"state_change", engine.TimestampTZ, "wait_event_type", tText, "wait_event", tText, "state", tText,
	"backend_xid", tInt8, "backend_xmin", tInt8, "query_id", tInt8, "query", tText, "backend_type", tText)

// activityMarker fills the one row of the Values that pg_stat_activity binds to; the
// rows are read when the statement executes (resolveActivity), not when it is
// prepared, so a prepared statement shows the connections of the moment.
type activityMarker struct{ t engine.Type }

func (m *activityMarker) Type() engine.Type { return m.t }
func (m *activityMarker) String() string    { return "pg_stat_activity" }

func activityPlaceholder() [][]engine.Expr {
	row := make([]engine.Expr, len(pgStatActivityColumns))
	for i, c := range pgStatActivityColumns {
		row[i] = &activityMarker{t: c.t}
	}
	return [][]engine.Expr{row}
}

// resolveActivity replaces pg_stat_activity's placeholder with the current rows.
func (s *Session) resolveActivity(n engine.Plan) (engine.Plan, error) {
	v, ok := n.(*engine.Values)
	if !ok || len(v.Rows) != 1 || len(v.Rows[0]) == 0 {
		return n, nil
	}
	if _, ok := v.Rows[0][0].(*activityMarker); !ok {
		return n, nil
	}
	names := make([]string, len(v.Out))
	types := make([]engine.Type, len(v.Out))
	for i, f := range v.Out {
		names[i], types[i] = f.Name, f.Type
	}
	return valuesPlan(names, types, s.activityRows()), nil
}

// activityRows are pg_stat_activity's rows. Like PostgreSQL 15, a session sees
// everything of its own role's backends; of others' it sees the user, database and
// application name, "<insufficient privilege>" as the query and NULL for the rest
// (state, times, address, backend_type), unless it has the privileges of
// pg_read_all_stats (superusers, pg_monitor).
func (s *Session) activityRows() [][]engine.Expr {
	bs := s.db.backendList()
	if bs == nil {
		return nil
	}
	acts := bs.Activity()
	sort.Slice(acts, func(i, j int) bool {
		if !acts[i].BackendStart.Equal(acts[j].BackendStart) {
			return acts[i].BackendStart.Before(acts[j].BackendStart)
		}
		return acts[i].PID < acts[j].PID
	})
	cat := s.db.store.Catalog()
	allStats := s.hasPrivsOf("pg_read_all_stats") || s.hasPrivsOf("pg_monitor")
	c := func(v engine.Value) engine.Expr { return &engine.Const{V: v} }
	text := func(v string) engine.Expr { return c(engine.Value{Type: engine.Text, S: v}) }
	null := func(t engine.Type) engine.Expr { return c(engine.NullValue(t)) }
	i4 := func(v int64) engine.Expr { return c(engine.Value{Type: engine.Int32, I: v}) }
	ts := func(t time.Time) engine.Expr {
		if t.IsZero() {
			return null(engine.TimestampTZ)
		}
		return c(engine.Value{Type: engine.TimestampTZ, I: t.UnixMicro()})
	}
	var rows [][]engine.Expr
	for _, a := range acts {
		usesysid := null(tOID)
		if r, ok := cat.Role(a.User); ok {
			usesysid = c(engine.Value{Type: tOID, I: int64(r.OID)})
		}
		row := []engine.Expr{c(engine.Value{Type: tOID, I: oidDatabase}), text(a.Database), i4(int64(a.PID)), null(tInt4),
			usesysid, text(a.User), text(a.ApplicationName)}
		if allStats || s.hasPrivsOf(a.User) {
			addr, port := null(tText), i4(-1)
			if a.ClientAddr != "" {
				addr, port = text(a.ClientAddr), i4(int64(a.ClientPort))
			}
			query := text(a.Query)
			row = append(row, addr, null(tText), port, ts(a.BackendStart), ts(a.XactStart), ts(a.QueryStart),
				ts(a.StateChange), null(tText), null(tText), text(a.State), null(tInt8), null(tInt8), null(tInt8), query)
		} else {
			row = append(row, null(tText), null(tText), null(tInt4), null(engine.TimestampTZ), null(engine.TimestampTZ),
				null(engine.TimestampTZ), null(engine.TimestampTZ), null(tText), null(tText), null(tText), null(tInt8),
				null(tInt8), null(tInt8), text("<insufficient privilege>"), null(tText))
			rows = append(rows, row)
			continue
		}
		row = append(row, text("client backend"))
		rows = append(rows, row)
	}
	return rows
}
