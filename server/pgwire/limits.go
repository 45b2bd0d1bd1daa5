package pgwire

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql"
)

// Limits: what keeps clients from taking the server down, as PostgreSQL does it.
//
//   - Connections. At most MaxConnections are past startup; a non-superuser may not
//     take the last SuperuserReservedConnections of them. Both checks run once the
//     role is authenticated (admit), with PostgreSQL's FATAL 53300 messages.
//     Sockets that have not finished startup count too: past MaxConnections +
//     startupSlack open sockets, a new one is refused at once with the same 53300,
//     before reading anything, so idle sockets cannot pile up (each one in startup
//     is also bounded by StartupTimeout, PostgreSQL's authentication_timeout).
//   - Time. statement_timeout bounds every statement from its first message,
//     COPY FROM STDIN included (a stalled client's copy ends with 57014 at once);
//     idle_session_timeout and idle_in_transaction_session_timeout end a
//     connection that waits too long for its next command (FATAL 57P05, 25P03).
//   - pg_stat_activity, pg_cancel_backend and pg_terminate_backend: the Server is
//     the SQL layer's sql.Backends.

const (
	defaultMaxConnections    = 100 // PostgreSQL's max_connections
	defaultSuperuserReserved = 3   // PostgreSQL's superuser_reserved_connections
	// maxRefusing bounds the goroutines that tell refused sockets why; past it a
	// refused socket is closed without a word.
	maxRefusing = 16

	msgTooManyConnections = "sorry, too many clients already"
	// PostgreSQL 15's wording (16 says "reserved for roles with the SUPERUSER attribute").
	msgReservedConnections = "remaining connection slots are reserved for non-replication superuser connections"

	msgAdminShutdown = "terminating connection due to administrator command"
)

// maxSockets is how many client sockets may be open at once, in startup or past it.
func (s *Server) maxSockets() int {
	return s.opts.MaxConnections + startupSlack(s.opts.MaxConnections)
}

// startupSlack is how many sockets beyond MaxConnections may be in startup, so that
// clients still authenticating when the server is full get PostgreSQL's answer
// after startup and a superuser can reach a reserved slot.
func startupSlack(maxConns int) int { return 10 + maxConns/10 }

// refuse answers a socket over the limit with FATAL 53300 and closes it, without
// reading its startup packet (PostgreSQL's postmaster does the same when it cannot
// start a backend). It never blocks the accept loop.
func (s *Server) refuse(nc net.Conn) {
	select {
	case s.refusing <- struct{}{}:
	default:
		nc.Close()
		return
	}
	s.log.Warn("pgwire: connection refused: too many open sockets", "remote", nc.RemoteAddr(), "max_sockets", s.maxSockets())
	go func() {
		defer func() { <-s.refusing }()
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(time.Second))
		msg := &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: sqlstate.TooManyConnections, Message: msgTooManyConnections}
		buf, err := msg.Encode(nil)
		if err != nil {
			return
		}
		if _, err := nc.Write(buf); err != nil {
			return
		}
		// Read what the client sent (its startup packet) until it hangs up:
		// closing with unread bytes would reset the connection and could lose the
		// error on its way.
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		var sink [512]byte
		for {
			if _, err := nc.Read(sink[:]); err != nil {
				return
			}
		}
	}()
}

// admitLocked decides whether one more connection may start.
// REQUIRES: s.mu is held.
func (s *Server) admitLocked(superuser bool) *engine.Error {
	n := len(s.mu.byPID)
	if n >= s.opts.MaxConnections {
		return &engine.Error{Code: sqlstate.TooManyConnections, Message: msgTooManyConnections}
	}
	if !superuser && n >= s.opts.MaxConnections-s.opts.SuperuserReservedConnections {
		return &engine.Error{Code: sqlstate.TooManyConnections, Message: msgReservedConnections}
	}
	return nil
}

// admit is the admission check, run right after authentication: it registers the
// connection or refuses it with FATAL; false means the connection is over.
func (c *conn) admit(user, database string) bool {
	superuser := true // a Session that cannot tell is the trust-everyone setup of old
	if su, ok := c.sess.(interface{ Superuser() bool }); ok {
		_ = c.guard(func() error { superuser = su.Superuser(); return nil })
	}
	if err := c.srv.register(c, superuser); err != nil {
		c.log.Info("pgwire: connection refused", "remote", c.nc.RemoteAddr(), "user", user, "reason", err.Message)
		c.fatal(err.Code, err.Message)
		return false
	}
	if sp, ok := c.sess.(interface{ SetBackendPID(int32) }); ok {
		sp.SetBackendPID(int32(c.pid))
	}
	now := time.Now()
	c.act.mu.Lock()
	c.act.user, c.act.database, c.act.appName = user, database, c.appName
	c.act.backendStart, c.act.stateChange = now, now
	c.act.state = "idle"
	c.act.mu.Unlock()
	return true
}

// ---- time ----

// timeout returns a time setting of the session (0: off).
func (c *conn) timeout(name string) time.Duration {
	t, ok := c.sess.(interface{ Timeout(string) time.Duration })
	if !ok {
		return 0
	}
	var d time.Duration
	_ = c.guard(func() error { d = t.Timeout(name); return nil })
	return d
}

// statementContext returns the context of one statement: cancelled by the
// connection's end, by a cancel, and at the session's statement_timeout.
func (c *conn) statementContext() (context.Context, context.CancelFunc) {
	if d := c.timeout("statement_timeout"); d > 0 {
		return context.WithTimeout(c.ctx, d)
	}
	return context.WithCancel(c.ctx)
}

// statementError is the error of a statement whose context ended.
func statementError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &engine.Error{Code: sqlstate.QueryCanceled, Message: "canceling statement due to statement timeout", Err: ctx.Err()}
	}
	return &engine.Error{Code: sqlstate.QueryCanceled, Message: "canceling statement due to user request", Err: context.Canceled}
}

// armIdleTimeout sets the read deadline of a connection waiting for its next
// command, and returns the FATAL error it ends with then (nil: no timeout).
func (c *conn) armIdleTimeout() *engine.Error {
	if !c.awaitingQuery {
		return nil
	}
	var d time.Duration
	var err *engine.Error
	if c.tx == 'I' {
		d = c.timeout("idle_session_timeout")
		err = &engine.Error{Code: sqlstate.IdleSessionTimeout, Message: "terminating connection due to idle-session timeout"}
	} else {
		d = c.timeout("idle_in_transaction_session_timeout")
		err = &engine.Error{Code: sqlstate.IdleInTransactionSessionTimeout, Message: "terminating connection due to idle-in-transaction timeout"}
	}
	if d <= 0 {
		return nil
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// setInterruptible allows (or, clearing the deadline, stops allowing)
// interruptRead to cut short the connection goroutine's read.
func (c *conn) setInterruptible(on bool) {
	c.imu.Lock()
	c.interruptible = on
	if !on {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	c.imu.Unlock()
}

// interruptRead makes a read of the connection goroutine return a timeout error
// at once, when it is interruptible; safe from any goroutine. pgproto3's reader
// keeps a partly read message, so the read can go on afterwards.
func (c *conn) interruptRead() {
	c.imu.Lock()
	if c.interruptible {
		_ = c.nc.SetReadDeadline(time.Now())
	}
	c.imu.Unlock()
}

// terminate is pg_terminate_backend: the running statement is cancelled and the
// connection ends with FATAL 57P01 as soon as its goroutine notices (an idle read
// is cut short). Safe from any goroutine.
func (c *conn) terminate() {
	c.terminating.Store(true)
	c.cancelQuery()
	_ = c.nc.SetReadDeadline(time.Now())
}

// ---- pg_stat_activity ----

// activity is what pg_stat_activity shows of one connection. Written by the
// connection's goroutine, read by any.
type activity struct {
	mu           sync.Mutex
	user         string
	database     string
	appName      string
	backendStart time.Time
	xactStart    time.Time // zero: no transaction
	queryStart   time.Time
	stateChange  time.Time
	state        string
	query        string
}

// setActive records that the connection runs query.
func (c *conn) setActive(query string) {
	now := time.Now()
	c.act.mu.Lock()
	defer c.act.mu.Unlock()
	c.act.state, c.act.query, c.act.queryStart, c.act.stateChange = "active", query, now, now
	if c.tx == 'I' {
		c.act.xactStart = now // the statement's own transaction (or BEGIN's)
	}
}

// setIdle records that the connection waits for a command (after ReadyForQuery).
func (c *conn) setIdle() {
	now := time.Now()
	app := c.appName
	if v, ok := c.sessionSetting("application_name"); ok {
		app = v
	}
	c.act.mu.Lock()
	defer c.act.mu.Unlock()
	switch c.tx {
	case 'T':
		c.act.state = "idle in transaction"
	case 'E':
		c.act.state = "idle in transaction (aborted)"
	default:
		c.act.state = "idle"
		c.act.xactStart = time.Time{}
	}
	c.act.stateChange = now
	c.act.appName = app
}

func (c *conn) sessionSetting(name string) (v string, ok bool) {
	if c.sess == nil {
		return "", false
	}
	_ = c.guard(func() error {
		v, ok = c.sess.Setting(name)
		return nil
	})
	return v, ok && v != ""
}

var _ sql.Backends = (*Server)(nil)

// Activity lists the connections past startup for pg_stat_activity.
func (s *Server) Activity() []sql.Activity {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.mu.byPID))
	for _, c := range s.mu.byPID {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	out := make([]sql.Activity, 0, len(conns))
	for _, c := range conns {
		a := sql.Activity{PID: int32(c.pid), ClientPort: -1}
		if ta, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
			a.ClientAddr, a.ClientPort = ta.IP.String(), ta.Port
		}
		c.act.mu.Lock()
		a.User, a.Database, a.ApplicationName = c.act.user, c.act.database, c.act.appName
		a.BackendStart, a.XactStart, a.QueryStart, a.StateChange = c.act.backendStart, c.act.xactStart, c.act.queryStart, c.act.stateChange
		a.State, a.Query = c.act.state, c.act.query
		c.act.mu.Unlock()
		out = append(out, a)
	}
	return out
}

func (s *Server) byPID(pid int32) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.byPID[uint32(pid)]
}

// Cancel cancels backend pid's running statement (pg_cancel_backend); false when
// there is no such backend.
func (s *Server) Cancel(pid int32) bool {
	c := s.byPID(pid)
	if c == nil {
		return false
	}
	c.cancelQuery()
	return true
}

// Terminate ends backend pid's connection (pg_terminate_backend); false when
// there is no such backend.
func (s *Server) Terminate(pid int32) bool {
	c := s.byPID(pid)
	if c == nil {
		return false
	}
	c.terminate()
	return true
}
