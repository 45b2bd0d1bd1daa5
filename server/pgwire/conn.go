package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql"
)

// flushSize is the write-buffer size past which streaming rows are written out.
const flushSize = 128 << 10

// conn is one client connection. Every field but qmu/qcancel is owned by the
// connection's goroutine.
type conn struct {
	srv   *Server
	nc    net.Conn // the socket: deadlines and Close (from any goroutine)
	rw    net.Conn // what messages travel over: nc, or a TLS connection over it
	tls   bool
	raw   syscall.RawConn // nil when nc is not a socket
	be    *pgproto3.Backend
	log   *slog.Logger
	watch *peerWatch // watches the client while a statement runs

	ctx  context.Context // ends with the connection (close, Shutdown, write error)
	stop context.CancelFunc

	pid    uint32
	secret [4]byte

	qmu     sync.Mutex
	qcancel context.CancelFunc // the running query's cancel; REQUIRES qmu

	// Limits (limits.go).
	terminating   atomic.Bool // pg_terminate_backend: end with FATAL 57P01
	awaitingQuery bool        // ReadyForQuery was sent: the idle timeouts apply
	act           activity    // what pg_stat_activity shows; read by other goroutines
	imu           sync.Mutex
	interruptible bool // REQUIRES imu: a read may be cut short (COPY FROM STDIN)

	role     sql.RoleAuth // the authenticated role (its Name only without Roles)
	sess     Session
	appName  string
	reported map[string]string // ParameterStatus values the client has

	tx         byte // 'I', 'T' or 'E'
	skipToSync bool // an extended-protocol error happened: discard until Sync
	broken     error

	wbuf     []byte
	rowStart int // start of the DataRow being encoded, -1 between rows; a panic drops it

	stmts   map[string]*prepared
	portals map[string]*portal
	params  []string // scratch for parameter names
}

// prepared is an extended-protocol prepared statement.
type prepared struct {
	query  string // the text given to Session.Prepare
	offset int    // characters before query in the client's text, for error positions
	empty  bool   // empty or comment-only query
	// DEALLOCATE runs here, not in the SQL layer: prepared statements belong to
	// the wire layer.
	dealloc    bool
	deallocAll bool
	deallocOf  string
	st         *sql.Statement
	oids       []uint32      // parameter type OIDs, as described to the client
	types      []engine.Type // parameter types values are decoded towards
}

func (ps *prepared) origins() []sql.ColumnOrigin {
	if ps.empty || ps.dealloc {
		return nil
	}
	return ps.st.Origins
}

func (ps *prepared) fields() []engine.Field {
	if ps.empty || ps.dealloc {
		return nil
	}
	return ps.st.Fields
}

// portal is a bound statement, possibly suspended in the middle of its rows.
type portal struct {
	ps      *prepared
	params  []engine.Value
	binary  []bool // per result column
	ctx     context.Context
	cancel  context.CancelFunc
	cur     *cursor
	tag     string
	notices []string
	done    bool
}

func (p *portal) close() {
	if p.cur != nil {
		p.cur.close()
		p.cur = nil
	}
	if p.cancel != nil {
		p.cancel()
	}
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		srv:      s,
		nc:       nc,
		log:      s.log,
		tx:       'I',
		rowStart: -1,
		wbuf:     make([]byte, 0, 8192),
		stmts:    make(map[string]*prepared),
		portals:  make(map[string]*portal),
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	c.raw = rawConn(nc)
	c.rw = nc
	c.be = pgproto3.NewBackend(nc, nc)
	c.be.SetMaxBodyLen(s.opts.MaxMessageSize)
	return c
}

// close ends the connection from any goroutine.
func (c *conn) close() {
	c.stop()
	c.nc.Close()
}

func (c *conn) cancelQuery() {
	c.qmu.Lock()
	if c.qcancel != nil {
		c.qcancel()
	}
	c.qmu.Unlock()
}

func (c *conn) setQueryCancel(cancel context.CancelFunc) {
	c.qmu.Lock()
	c.qcancel = cancel
	c.qmu.Unlock()
}

// beginQuery returns a context for one statement that CancelRequest and
// pg_cancel_backend can cancel, ending at the session's statement_timeout.
func (c *conn) beginQuery() (context.Context, func()) {
	ctx, cancel := c.statementContext()
	c.setQueryCancel(cancel)
	if c.terminating.Load() {
		cancel()
	}
	c.startWatch(cancel)
	return ctx, func() {
		c.stopWatch()
		c.setQueryCancel(nil)
		cancel()
	}
}

func (c *conn) serve() {
	defer c.cleanup()
	_ = c.nc.SetDeadline(time.Now().Add(c.srv.opts.StartupTimeout))
	if !c.startup() {
		return
	}
	_ = c.nc.SetDeadline(time.Time{})
	for c.broken == nil {
		if c.terminating.Load() {
			c.fatal(sqlstate.AdminShutdown, msgAdminShutdown)
			return
		}
		idle := c.armIdleTimeout()
		msg, err := c.be.Receive()
		if idle != nil {
			_ = c.nc.SetReadDeadline(time.Time{})
		}
		c.awaitingQuery = false
		if err != nil {
			if c.terminating.Load() {
				c.fatal(sqlstate.AdminShutdown, msgAdminShutdown)
				return
			}
			if idle != nil && isTimeout(err) {
				c.fatal(idle.Code, idle.Message)
				return
			}
			if !isIOError(err) {
				c.fatal(sqlstate.ProtocolViolation, "invalid frontend message: "+err.Error())
			}
			return
		}
		if c.skipToSync {
			switch msg.(type) {
			case *pgproto3.Sync:
			case *pgproto3.Terminate:
				return
			default:
				continue
			}
		}
		if !c.handle(msg) {
			return
		}
	}
}

func (c *conn) cleanup() {
	if c.pid != 0 {
		c.log.Debug("pgwire: connection ended", "pid", c.pid, "err", c.broken)
	}
	for name, p := range c.portals {
		p.close()
		delete(c.portals, name)
	}
	c.stop()
	if cl, ok := c.sess.(interface{ Close() }); ok {
		func() {
			defer func() {
				if v := recover(); v != nil {
					c.log.Error("pgwire: panic closing session", "panic", v, "stack", string(debug.Stack()))
				}
			}()
			cl.Close()
		}()
	}
}

func isIOError(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// reportedParameters are the run-time parameters PostgreSQL 15 reports (GUC_REPORT),
// in its order, with the values strata reports when the session has none.
var reportedParameters = []struct{ name, value string }{
	{"application_name", ""},
	{"client_encoding", "UTF8"},
	{"DateStyle", "ISO, MDY"},
	{"default_transaction_read_only", "off"},
	{"in_hot_standby", "off"},
	{"integer_datetimes", "on"},
	{"IntervalStyle", "postgres"},
	{"is_superuser", "on"},
	{"server_encoding", "UTF8"},
	{"server_version", "15.18 (strata)"},
	{"session_authorization", ""},
	{"standard_conforming_strings", "on"},
	{"TimeZone", "UTC"},
}

// startup runs the startup phase; false means the connection is over.
func (c *conn) startup() bool {
	for {
		msg, err := c.be.ReceiveStartupMessage()
		if err != nil {
			if !isIOError(err) {
				c.fatal(sqlstate.ProtocolViolation, "invalid startup packet: "+err.Error())
			}
			return false
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			cfg := c.srv.opts.TLSConfig
			if cfg == nil || c.tls {
				if _, err := c.nc.Write([]byte{'N'}); err != nil {
					return false
				}
				continue
			}
			if _, err := c.nc.Write([]byte{'S'}); err != nil {
				return false
			}
			tc := tls.Server(c.nc, cfg)
			if err := tc.Handshake(); err != nil {
				c.log.Debug("pgwire: TLS handshake", "remote", c.nc.RemoteAddr(), "err", err)
				return false
			}
			// A fresh reader: bytes a client sent in the clear after SSLRequest
			// must never be taken for encrypted ones (CVE-2021-23214).
			c.rw, c.tls = tc, true
			c.be = pgproto3.NewBackend(tc, tc)
			c.be.SetMaxBodyLen(c.srv.opts.MaxMessageSize)
		case *pgproto3.GSSEncRequest:
			if _, err := c.rw.Write([]byte{'N'}); err != nil {
				return false
			}
		case *pgproto3.CancelRequest:
			c.srv.cancel(m.ProcessID, m.SecretKey)
			return false
		case *pgproto3.StartupMessage:
			return c.accept(m)
		default:
			c.fatal(sqlstate.ProtocolViolation, fmt.Sprintf("unexpected startup message %T", msg))
			return false
		}
	}
}

func (c *conn) accept(m *pgproto3.StartupMessage) bool {
	var unrecognized []string
	for k := range m.Parameters {
		if strings.HasPrefix(k, "_pq_.") {
			unrecognized = append(unrecognized, k)
		}
	}
	if m.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unrecognized) > 0 {
		c.send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unrecognized})
	}
	if c.srv.opts.RequireTLS && !c.tls {
		c.fatal(sqlstate.InvalidAuthorizationSpecification, "connection requires SSL (sslmode=require)")
		return false
	}
	user := m.Parameters["user"]
	if user == "" {
		c.fatal(sqlstate.InvalidAuthorizationSpecification, "no PostgreSQL user name specified in startup packet")
		return false
	}
	database := m.Parameters["database"]
	if database == "" {
		database = user
	}
	if !c.authenticate(user, database) {
		return false
	}
	c.appName = m.Parameters["application_name"]
	if _, err := rand.Read(c.secret[:]); err != nil {
		c.fatal(sqlstate.InternalError, "cannot generate cancel key: "+err.Error())
		return false
	}
	if err := c.guard(func() error {
		c.sess = c.srv.backend.NewSession(user, database)
		return nil
	}); err != nil {
		c.fatal(sqlstate.InternalError, err.Error())
		return false
	}
	c.applyStartupParameters(m.Parameters)
	if !c.admit(user, database) {
		return false
	}
	c.send(&pgproto3.AuthenticationOk{})
	c.reported = make(map[string]string, len(reportedParameters))
	for _, p := range reportedParameters {
		v := c.parameter(p.name, p.value, user)
		c.reported[p.name] = v
		c.send(&pgproto3.ParameterStatus{Name: p.name, Value: v})
	}
	for name, v := range c.srv.opts.ParameterStatus {
		if _, done := c.reported[name]; !done {
			c.reported[name] = v
			c.send(&pgproto3.ParameterStatus{Name: name, Value: v})
		}
	}
	c.send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret[:]})
	c.readyForQuery()
	c.log.Debug("pgwire: connection started", "remote", c.nc.RemoteAddr(), "user", user, "database", database, "pid", c.pid)
	return c.broken == nil
}

// applyStartupParameters hands the startup packet's run-time parameters
// (client_encoding, DateStyle, TimeZone, application_name, ...) to a session that
// can Set them. A value the session rejects is logged and ignored: failing the
// connection over a cosmetic parameter would lock clients out.
func (c *conn) applyStartupParameters(params map[string]string) {
	setter, ok := c.sess.(interface {
		Set(name, value string) error
	})
	if !ok {
		return
	}
	for name, value := range params {
		switch {
		case name == "user" || name == "database" || name == "options" || name == "replication":
			continue
		case strings.HasPrefix(name, "_pq_."):
			continue
		}
		if err := c.guard(func() error { return setter.Set(name, value) }); err != nil {
			c.log.Debug("pgwire: startup parameter ignored", "name", name, "value", value, "err", err)
		}
	}
}

// parameter returns the value to report for a run-time parameter: the server's
// override, else the session's value, else the default.
func (c *conn) parameter(name, def, user string) string {
	if v, ok := c.srv.opts.ParameterStatus[name]; ok {
		return v
	}
	if name == "application_name" && c.appName != "" {
		return c.appName
	}
	v, ok := "", false
	_ = c.guard(func() error {
		v, ok = c.sess.Setting(name)
		return nil
	})
	if ok && v != "" {
		return v
	}
	if name == "session_authorization" {
		return user
	}
	return def
}

// reportChanges sends ParameterStatus for reported parameters a SET changed.
func (c *conn) reportChanges() {
	for _, p := range reportedParameters {
		var v string
		var ok bool
		_ = c.guard(func() error {
			v, ok = c.sess.Setting(p.name)
			return nil
		})
		if !ok || v == "" || v == c.reported[p.name] {
			continue
		}
		if _, fixed := c.srv.opts.ParameterStatus[p.name]; fixed {
			continue
		}
		c.reported[p.name] = v
		c.send(&pgproto3.ParameterStatus{Name: p.name, Value: v})
	}
}

// handle processes one frontend message; false ends the connection.
func (c *conn) handle(msg pgproto3.FrontendMessage) bool {
	switch m := msg.(type) {
	case *pgproto3.Query:
		c.simpleQuery(m.String)
	case *pgproto3.Parse:
		c.extended(func() error { return c.parse(m) })
	case *pgproto3.Bind:
		c.extended(func() error { return c.bind(m) })
	case *pgproto3.Describe:
		c.extended(func() error { return c.describe(m) })
	case *pgproto3.Execute:
		c.extended(func() error { return c.execute(m) })
	case *pgproto3.Close:
		c.extended(func() error { return c.closeMessage(m) })
	case *pgproto3.Sync:
		c.sync()
	case *pgproto3.Flush:
		c.flush()
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// Left over from a COPY that failed: PostgreSQL drops them too.
	case *pgproto3.FunctionCall:
		c.sendError(engine.Unsupported("the function call protocol"))
		c.readyForQuery()
	case *pgproto3.Terminate:
		return false
	default:
		c.fatal(sqlstate.ProtocolViolation, fmt.Sprintf("unexpected message %T", msg))
		return false
	}
	return c.broken == nil
}

// guard runs f, turning a panic into an XX000 error and dropping the partly
// encoded message.
func (c *conn) guard(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("pgwire: panic in query", "panic", v, "pid", c.pid, "stack", string(debug.Stack()))
			if c.rowStart >= 0 && c.rowStart <= len(c.wbuf) {
				c.wbuf = c.wbuf[:c.rowStart]
			}
			c.rowStart = -1
			err = &engine.Error{Code: sqlstate.InternalError, Message: fmt.Sprintf("internal error: %v", v)}
		}
	}()
	return f()
}

// failed reports a statement's error and moves an open transaction block to E.
func (c *conn) failed(err error) {
	c.sendError(err)
	if c.tx == 'T' {
		c.tx = 'E'
	}
}

func (c *conn) extended(f func() error) {
	if err := c.guard(f); err != nil {
		c.failed(err)
		c.skipToSync = true
	}
}

// ---- simple query ----

func (c *conn) simpleQuery(q string) {
	c.closePortal("")
	delete(c.stmts, "")
	if err := c.guard(func() error { return c.runSimple(q) }); err != nil {
		c.failed(err)
	}
	c.readyForQuery()
}

func (c *conn) runSimple(q string) error {
	pieces, err := c.srv.split(q)
	if err != nil {
		return err
	}
	if len(pieces) == 0 {
		c.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	from := 0
	for _, text := range pieces {
		offset := locate(q, text, &from)
		if err := c.runStatement(text, offset); err != nil {
			return err
		}
		if c.broken != nil {
			return nil
		}
	}
	return nil
}

// observe reports a finished statement to Options.OnStatement.
func (c *conn) observe(start time.Time, err error) {
	if f := c.srv.opts.OnStatement; f != nil {
		code := sqlstate.SuccessfulCompletion
		if err != nil {
			code = errorResponse(err).Code
		}
		f(time.Since(start), code)
	}
}

func (c *conn) runStatement(text string, offset int) (err error) {
	start := time.Now()
	defer func() { c.observe(start, err) }()
	c.setActive(text)
	if err := c.checkAborted(text); err != nil {
		return err
	}
	if name, all, ok := parseDeallocate(text); ok {
		return c.deallocate(name, all)
	}
	ctx, done := c.beginQuery()
	defer done()
	st, err := c.sess.Prepare(ctx, text, nil)
	if err != nil {
		return shiftPosition(err, offset)
	}
	if len(st.ParamTypes) > 0 {
		return engine.Errorf(sqlstate.UndefinedParameter, "there is no parameter $1")
	}
	res, err := c.sess.Execute(ctx, st, nil)
	if err != nil {
		return shiftPosition(err, offset)
	}
	if res.CopyIn != nil {
		return c.copyIn(ctx, res, text)
	}
	if res.Rows == nil {
		c.complete(res.Tag, text, res.Notices)
		return nil
	}
	fields := res.Fields
	if fields == nil {
		fields = res.Rows.Fields()
	}
	c.sendRowDescription(fields, nil, st.Origins)
	cur := &cursor{rows: res.Rows, fields: fields}
	defer cur.close()
	n, _, err := c.streamRows(ctx, cur, 0)
	if err != nil {
		return err
	}
	c.complete(selectTag(res.Tag, n), text, res.Notices)
	return nil
}

func selectTag(tag string, n int64) string {
	if tag == "" || tag == "SELECT" {
		return "SELECT " + strconv.FormatInt(n, 10)
	}
	return tag
}

// complete sends notices and CommandComplete, and follows the transaction status.
func (c *conn) complete(tag, query string, notices []string) {
	for _, n := range notices {
		c.send(&pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: sqlstate.SuccessfulCompletion, Message: n})
	}
	switch tag {
	case "BEGIN", "START TRANSACTION":
		if c.tx == 'I' {
			c.tx = 'T'
		}
	case "COMMIT", "ROLLBACK":
		if w := leadingWords(query); w[0] == "ROLLBACK" && (w[1] == "TO" || (w[1] == "TRANSACTION" || w[1] == "WORK") && w[2] == "TO") {
			if c.tx == 'E' {
				c.tx = 'T'
			}
			break
		}
		if c.tx == 'E' {
			tag = "ROLLBACK"
		}
		c.tx = 'I'
	case "SET", "RESET":
		c.reportChanges()
	}
	c.commandComplete(tag)
}

func (c *conn) checkAborted(query string) error {
	if c.tx != 'E' {
		return nil
	}
	switch leadingWords(query)[0] {
	case "COMMIT", "ROLLBACK", "END", "ABORT":
		return nil
	}
	return engine.Errorf(sqlstate.InFailedSQLTransaction, "current transaction is aborted, commands ignored until end of transaction block")
}

// streamRows sends up to max rows of cur (0: all). done reports that the rows are
// exhausted.
func (c *conn) streamRows(ctx context.Context, cur *cursor, max int64) (n int64, done bool, err error) {
	for max == 0 || n < max {
		if cur.batch == nil || cur.row >= int(cur.batch.NumRows()) {
			if err := cur.next(ctx); err != nil {
				if err == io.EOF {
					return n, true, nil
				}
				return n, false, err
			}
			continue
		}
		end := int(cur.batch.NumRows())
		if max > 0 && int64(end-cur.row) > max-n {
			end = cur.row + int(max-n)
		}
		for r := cur.row; r < end; r++ {
			c.rowStart = len(c.wbuf)
			c.wbuf = cur.enc.appendRow(c.wbuf, r)
			c.rowStart = -1
			if len(c.wbuf) >= flushSize {
				if c.flush(); c.broken != nil {
					return n, false, c.broken
				}
			}
		}
		n += int64(end - cur.row)
		cur.row = end
	}
	// A portal that sent exactly its last row is not yet known to be done.
	return n, false, nil
}

// ---- extended query ----

func (c *conn) parse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, dup := c.stmts[m.Name]; dup {
			return engine.Errorf(sqlstate.DuplicatePstatement, "prepared statement %q already exists", m.Name)
		}
	}
	c.setActive(m.Query)
	if err := c.checkAborted(m.Query); err != nil {
		return err
	}
	pieces, err := c.srv.split(m.Query)
	if err != nil {
		return err
	}
	ps := &prepared{}
	switch len(pieces) {
	case 0:
		ps.empty = true
	case 1:
		from := 0
		ps.query = pieces[0]
		ps.offset = locate(m.Query, ps.query, &from)
		if name, all, ok := parseDeallocate(ps.query); ok {
			ps.dealloc, ps.deallocOf, ps.deallocAll = true, name, all
			break
		}
		declared := make([]engine.Type, len(m.ParameterOIDs))
		for i, oid := range m.ParameterOIDs {
			declared[i] = typeForOID(oid)
		}
		ctx, done := c.beginQuery()
		st, err := c.sess.Prepare(ctx, ps.query, declared)
		done()
		if err != nil {
			return shiftPosition(err, ps.offset)
		}
		ps.st = st
		n := max(len(st.ParamTypes), len(m.ParameterOIDs))
		ps.oids = make([]uint32, n)
		ps.types = make([]engine.Type, n)
		for i := range n {
			t := engine.Unknown
			if i < len(st.ParamTypes) {
				t = st.ParamTypes[i]
			}
			if i < len(m.ParameterOIDs) && m.ParameterOIDs[i] != 0 {
				ps.oids[i] = m.ParameterOIDs[i]
				if t == engine.Unknown {
					t = typeForOID(m.ParameterOIDs[i])
				}
			} else {
				ps.oids[i] = wireOID(t)
			}
			ps.types[i] = t
		}
	default:
		return engine.Errorf(sqlstate.SyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	c.stmts[m.Name] = ps
	c.send(&pgproto3.ParseComplete{})
	return nil
}

func (c *conn) bind(m *pgproto3.Bind) error {
	ps, ok := c.stmts[m.PreparedStatement]
	if !ok {
		return engine.Errorf(sqlstate.InvalidSQLStatementName, "prepared statement %q does not exist", m.PreparedStatement)
	}
	if m.DestinationPortal != "" {
		if _, dup := c.portals[m.DestinationPortal]; dup {
			return engine.Errorf(sqlstate.DuplicateCursor, "portal %q already exists", m.DestinationPortal)
		}
	}
	if !ps.empty {
		if err := c.checkAborted(ps.query); err != nil {
			return err
		}
	}
	n := len(ps.oids)
	if len(m.Parameters) != n {
		return engine.Errorf(sqlstate.ProtocolViolation, "bind message supplies %d parameters, but prepared statement %q requires %d",
			len(m.Parameters), m.PreparedStatement, n)
	}
	if f := len(m.ParameterFormatCodes); f > 1 && f != n {
		return engine.Errorf(sqlstate.ProtocolViolation, "bind message has %d parameter formats but %d parameters", f, n)
	}
	params := make([]engine.Value, n)
	for i, b := range m.Parameters {
		format := int16(0)
		switch len(m.ParameterFormatCodes) {
		case 0:
		case 1:
			format = m.ParameterFormatCodes[0]
		default:
			format = m.ParameterFormatCodes[i]
		}
		v, err := decodeParam(ps.oids[i], ps.types[i], format, b)
		if err != nil {
			return fmt.Errorf("bind parameter $%d: %w", i+1, err)
		}
		params[i] = v
	}
	binary, err := resultFormats(m.ResultFormatCodes, len(ps.fields()))
	if err != nil {
		return err
	}
	c.closePortal(m.DestinationPortal)
	c.portals[m.DestinationPortal] = &portal{ps: ps, params: params, binary: binary}
	c.send(&pgproto3.BindComplete{})
	return nil
}

func resultFormats(codes []int16, n int) ([]bool, error) {
	for _, f := range codes {
		if f != 0 && f != 1 {
			return nil, engine.Errorf(sqlstate.ProtocolViolation, "unsupported format code: %d", f)
		}
	}
	binary := make([]bool, n)
	switch len(codes) {
	case 0:
	case 1:
		for i := range binary {
			binary[i] = codes[0] == 1
		}
	case n:
		for i := range binary {
			binary[i] = codes[i] == 1
		}
	default:
		return nil, engine.Errorf(sqlstate.ProtocolViolation, "bind message has %d result formats but query has %d columns", len(codes), n)
	}
	return binary, nil
}

func (c *conn) describe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		ps, ok := c.stmts[m.Name]
		if !ok {
			return engine.Errorf(sqlstate.InvalidSQLStatementName, "prepared statement %q does not exist", m.Name)
		}
		c.send(&pgproto3.ParameterDescription{ParameterOIDs: ps.oids})
		c.sendRowDescription(ps.fields(), nil, ps.origins())
	case 'P':
		p, ok := c.portals[m.Name]
		if !ok {
			return engine.Errorf(sqlstate.InvalidCursorName, "portal %q does not exist", m.Name)
		}
		c.sendRowDescription(p.ps.fields(), p.binary, p.ps.origins())
	default:
		return engine.Errorf(sqlstate.ProtocolViolation, "invalid DESCRIBE message subtype %d", m.ObjectType)
	}
	return nil
}

func (c *conn) execute(m *pgproto3.Execute) (err error) {
	start := time.Now()
	defer func() { c.observe(start, err) }()
	p, ok := c.portals[m.Portal]
	if !ok {
		return engine.Errorf(sqlstate.InvalidCursorName, "portal %q does not exist", m.Portal)
	}
	if p.ps.empty {
		c.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	c.setActive(p.ps.query)
	if err := c.checkAborted(p.ps.query); err != nil {
		return err
	}
	if p.ps.dealloc {
		return c.deallocate(p.ps.deallocOf, p.ps.deallocAll)
	}
	if p.done {
		c.commandComplete(selectTag(p.tag, 0))
		return nil
	}
	if p.ctx == nil {
		p.ctx, p.cancel = c.statementContext()
	}
	c.setQueryCancel(p.cancel)
	if c.terminating.Load() {
		p.cancel()
	}
	c.startWatch(p.cancel)
	defer func() {
		c.stopWatch()
		c.setQueryCancel(nil)
	}()
	if p.cur == nil {
		st := p.ps.st
		res, err := c.sess.Execute(p.ctx, st, p.params[:min(len(p.params), len(st.ParamTypes))])
		if err != nil {
			p.done = true
			return shiftPosition(err, p.ps.offset)
		}
		p.tag = res.Tag
		if res.CopyIn != nil {
			p.done = true
			return c.copyIn(p.ctx, res, p.ps.query)
		}
		if res.Rows == nil {
			p.done = true
			c.complete(res.Tag, p.ps.query, res.Notices)
			return nil
		}
		fields := st.Fields
		if len(fields) == 0 {
			fields = res.Fields
		}
		p.cur = &cursor{rows: res.Rows, fields: fields, binary: p.binary}
		p.notices = res.Notices
	}
	n, done, err := c.streamRows(p.ctx, p.cur, int64(m.MaxRows))
	if err == nil && !done && m.MaxRows > 0 && n == int64(m.MaxRows) {
		c.send(&pgproto3.PortalSuspended{})
		return nil
	}
	p.cur.close()
	p.cur = nil
	p.done = true
	if err != nil {
		return err
	}
	c.complete(selectTag(p.tag, n), p.ps.query, p.notices)
	return nil
}

func (c *conn) closeMessage(m *pgproto3.Close) error {
	switch m.ObjectType {
	case 'S':
		c.closeStatement(m.Name)
	case 'P':
		c.closePortal(m.Name)
	default:
		return engine.Errorf(sqlstate.ProtocolViolation, "invalid CLOSE message subtype %d", m.ObjectType)
	}
	c.send(&pgproto3.CloseComplete{})
	return nil
}

// closeStatement drops a prepared statement and the portals bound from it.
func (c *conn) closeStatement(name string) {
	ps, ok := c.stmts[name]
	if !ok {
		return
	}
	for pname, p := range c.portals {
		if p.ps == ps {
			c.closePortal(pname)
		}
	}
	delete(c.stmts, name)
}

func (c *conn) closePortal(name string) {
	if p, ok := c.portals[name]; ok {
		p.close()
		delete(c.portals, name)
	}
}

func (c *conn) sync() {
	c.skipToSync = false
	if c.tx != 'T' {
		for name := range c.portals {
			c.closePortal(name)
		}
	}
	c.readyForQuery()
}

// parseDeallocate recognizes DEALLOCATE [PREPARE] { name | ALL }.
func parseDeallocate(q string) (name string, all, ok bool) {
	w := leadingWords(q)
	if w[0] != "DEALLOCATE" {
		return "", false, false
	}
	f := strings.Fields(strings.TrimRight(strings.TrimSpace(q), "; \t\n"))
	if len(f) > 1 && strings.EqualFold(f[1], "prepare") {
		f = f[1:]
	}
	if len(f) != 2 {
		return "", false, false
	}
	if strings.EqualFold(f[1], "all") {
		return "", true, true
	}
	name = f[1]
	if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
		return strings.ReplaceAll(name[1:len(name)-1], `""`, `"`), false, true
	}
	return strings.ToLower(name), false, true
}

func (c *conn) deallocate(name string, all bool) error {
	if all {
		for n := range c.stmts {
			if n != "" {
				c.closeStatement(n)
			}
		}
		c.commandComplete("DEALLOCATE ALL")
		return nil
	}
	if _, ok := c.stmts[name]; !ok || name == "" {
		return engine.Errorf(sqlstate.InvalidSQLStatementName, "prepared statement %q does not exist", name)
	}
	c.closeStatement(name)
	c.commandComplete("DEALLOCATE")
	return nil
}

// ---- COPY FROM STDIN ----

// errCopyFail ends a COPY's reader when the client sends CopyFail.
type copyFailError struct{ msg string }

func (e *copyFailError) Error() string { return "COPY from stdin failed: " + e.msg }

func (c *conn) copyIn(ctx context.Context, res *sql.Result, query string) error {
	c.stopWatch() // the client's data is read here; a lost client shows as a read error
	formats := make([]uint16, res.CopyColumns)
	overall := byte(0)
	if !res.CopyText {
		overall = 1
		for i := range formats {
			formats[i] = 1
		}
	}
	c.send(&pgproto3.CopyInResponse{OverallFormat: overall, ColumnFormatCodes: formats})
	if c.flush(); c.broken != nil {
		return c.broken
	}

	type outcome struct {
		stats sql.CopyStats
		err   error
	}
	pr, pw := io.Pipe()
	done := make(chan outcome, 1)
	// A copy that fails before the client's data ends (statement_timeout, a
	// cancel, an error of its own) is reported at once, not when more data comes:
	// the read of the client's next message is cut short. The statement's end
	// also ends the copy's read of the pipe, which no context reaches.
	c.setInterruptible(true)
	defer c.setInterruptible(false)
	stop := context.AfterFunc(ctx, func() {
		pw.CloseWithError(statementError(ctx)) // what the copy's next read returns
		c.interruptRead()
	})
	defer stop()
	go func() {
		var o outcome
		defer func() {
			if v := recover(); v != nil {
				c.log.Error("pgwire: panic in COPY", "panic", v, "pid", c.pid, "stack", string(debug.Stack()))
				o.err = &engine.Error{Code: sqlstate.InternalError, Message: fmt.Sprintf("internal error: %v", v)}
			}
			if o.err != nil {
				pr.CloseWithError(o.err)
				c.interruptRead()
			} else {
				pr.CloseWithError(errCopyReaderDone)
			}
			done <- o
		}()
		o.stats, o.err = res.CopyIn(ctx, pr)
	}()
	var got *outcome
	result := func() outcome {
		if got == nil {
			o := <-done
			got = &o
		}
		return *got
	}
	ended := func() bool {
		if got != nil {
			return true
		}
		select {
		case o := <-done:
			got = &o
			return true
		default:
			return false
		}
	}

	finish := func() error {
		o := result()
		if o.err != nil {
			return o.err
		}
		if o.stats.Rejected > 0 {
			msg := fmt.Sprintf("COPY skipped %d malformed lines", o.stats.Rejected)
			detail := ""
			for i, e := range o.stats.FirstErrors {
				if i > 0 {
					detail += "\n"
				}
				detail += e
			}
			c.send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: sqlstate.Warning, Message: msg, Detail: detail})
		}
		c.complete("COPY "+strconv.FormatInt(o.stats.Rows, 10), query, res.Notices)
		return nil
	}

	for {
		msg, err := c.be.Receive()
		if err != nil && isTimeout(err) && !c.terminating.Load() && (ctx.Err() != nil || ended()) {
			// Cut short (see above): the client's data left unread is dropped by
			// the main loop, as after any failed COPY.
			c.setInterruptible(false)
			pw.CloseWithError(statementError(ctx))
			if o := result(); o.err != nil {
				return o.err
			}
			return statementError(ctx)
		}
		if err != nil {
			pw.CloseWithError(fmt.Errorf("client connection lost during COPY: %w", err))
			if c.terminating.Load() {
				c.fatal(sqlstate.AdminShutdown, msgAdminShutdown)
			}
			c.stop()
			result()
			if !isIOError(err) {
				c.fatal(sqlstate.ProtocolViolation, "invalid frontend message: "+err.Error())
			}
			c.broken = err
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if _, err := pw.Write(m.Data); err != nil {
				// The copy ended before reading everything: report now and drop
				// the rest of the client's data in the main loop.
				if err := finish(); err != nil {
					return err
				}
				return nil
			}
		case *pgproto3.CopyDone:
			pw.Close()
			return finish()
		case *pgproto3.CopyFail:
			fail := &copyFailError{msg: m.Message}
			pw.CloseWithError(fail)
			result()
			return &engine.Error{Code: sqlstate.QueryCanceled, Message: fail.Error(), Err: fail}
		case *pgproto3.Flush, *pgproto3.Sync:
			// Ignored during copy-in, as PostgreSQL does.
		case *pgproto3.Terminate:
			pw.CloseWithError(errors.New("client terminated the connection during COPY"))
			c.stop()
			result()
			c.broken = io.EOF
			return c.broken
		default:
			err := engine.Errorf(sqlstate.ProtocolViolation, "unexpected message type 0x%02X during COPY from stdin", messageType(msg))
			pw.CloseWithError(err)
			result()
			return err
		}
	}
}

var errCopyReaderDone = errors.New("COPY finished reading")

func messageType(m pgproto3.FrontendMessage) byte {
	switch m.(type) {
	case *pgproto3.Query:
		return 'Q'
	case *pgproto3.Parse:
		return 'P'
	case *pgproto3.Bind:
		return 'B'
	case *pgproto3.Describe:
		return 'D'
	case *pgproto3.Execute:
		return 'E'
	case *pgproto3.Close:
		return 'C'
	case *pgproto3.FunctionCall:
		return 'F'
	}
	return 0
}

// ---- output ----

func (c *conn) send(msg pgproto3.BackendMessage) {
	buf, err := msg.Encode(c.wbuf)
	if err != nil {
		panic(fmt.Sprintf("BUG: encode %T: %v", msg, err))
	}
	c.wbuf = buf
}

func (c *conn) flush() {
	if c.broken != nil || len(c.wbuf) == 0 {
		c.wbuf = c.wbuf[:0]
		return
	}
	_, err := c.rw.Write(c.wbuf)
	if cap(c.wbuf) > 4*flushSize {
		c.wbuf = make([]byte, 0, 8192)
	}
	c.wbuf = c.wbuf[:0]
	if err != nil {
		c.broken = err
		c.stop()
	}
}

func (c *conn) readyForQuery() {
	if c.terminating.Load() {
		return // the serve loop ends the connection with FATAL 57P01
	}
	// Idle before the client can know it: a client that reads ReadyForQuery and
	// then looks at pg_stat_activity from another connection sees it idle.
	c.setIdle()
	c.wbuf = append(c.wbuf, 'Z', 0, 0, 0, 5, c.tx)
	c.flush()
	c.awaitingQuery = true
}

func (c *conn) commandComplete(tag string) {
	c.wbuf = append(c.wbuf, 'C', 0, 0, 0, 0)
	start := len(c.wbuf) - 4
	c.wbuf = append(c.wbuf, tag...)
	c.wbuf = append(c.wbuf, 0)
	putUint32(c.wbuf[start:], uint32(len(c.wbuf)-start))
}

func (c *conn) sendRowDescription(fields []engine.Field, binary []bool, origins []sql.ColumnOrigin) {
	if len(fields) == 0 {
		c.send(&pgproto3.NoData{})
		return
	}
	c.wbuf = append(c.wbuf, 'T', 0, 0, 0, 0, byte(len(fields)>>8), byte(len(fields)))
	start := len(c.wbuf) - 6
	for i, f := range fields {
		c.wbuf = append(c.wbuf, f.Name...)
		c.wbuf = append(c.wbuf, 0)
		var o sql.ColumnOrigin
		if len(origins) == len(fields) {
			o = origins[i]
		}
		c.wbuf = appendUint32(c.wbuf, o.TableOID)
		c.wbuf = appendUint16(c.wbuf, uint16(o.Column))
		oid := wireOID(f.Type)
		if o.TypeOID != 0 {
			oid = o.TypeOID
		}
		c.wbuf = appendUint32(c.wbuf, oid)
		c.wbuf = appendUint16(c.wbuf, uint16(wireSize(f.Type)))
		typmod := uint32(0xffffffff) // -1: none
		if o.TypMod != 0 {
			typmod = uint32(o.TypMod)
		} else if o.TableOID != 0 { // a Delta decimal(p,s) column read as numeric(p,s)
			typmod = uint32(f.Type.Typmod())
		}
		c.wbuf = appendUint32(c.wbuf, typmod)
		format := uint16(0)
		if i < len(binary) && binary[i] {
			format = 1
		}
		c.wbuf = appendUint16(c.wbuf, format)
	}
	putUint32(c.wbuf[start:], uint32(len(c.wbuf)-start))
}

func (c *conn) sendError(err error) {
	if c.broken != nil || c.terminating.Load() {
		return
	}
	c.send(errorResponse(err))
}

// fatal sends a FATAL error and flushes; the caller ends the connection.
func (c *conn) fatal(code, msg string) {
	c.send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
	c.flush()
}
