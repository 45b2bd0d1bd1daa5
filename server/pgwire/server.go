package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/server/hba"
	"github.com/stratadb/strata/sql"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("pgwire: server closed")

// Options configure a Server. The zero value is usable.
type Options struct {
	// Logger receives connection-level events (nil: slog.Default()).
	Logger *slog.Logger
	// ParameterStatus adds run-time parameters to those reported at startup, or
	// overrides their values (for example "server_version").
	ParameterStatus map[string]string
	// Split cuts a simple-protocol query into statements (nil: sql.Split).
	Split func(query string) ([]string, error)
	// MaxMessageSize bounds a frontend message's body in bytes (0: 64 MiB).
	MaxMessageSize int
	// TLSConfig, when set, accepts SSLRequest and serves the connection over TLS;
	// nil declines it with 'N' (clients with sslmode=prefer go on in the clear).
	TLSConfig *tls.Config
	// RequireTLS refuses clients that did not negotiate TLS (needs TLSConfig).
	RequireTLS bool
	// PeerCheckInterval is how often a running statement checks that its client is
	// still connected, cancelling the statement when it is not (0: 1 s; negative: never).
	PeerCheckInterval time.Duration
	// StartupTimeout bounds the time from accept to the end of startup (0: 60 s,
	// PostgreSQL's authentication_timeout).
	StartupTimeout time.Duration
	// OnStatement, when set, is called after every statement a client runs (simple
	// query statement or extended-protocol Execute) with its duration and SQLSTATE
	// ("00000" on success). It must be cheap and safe for concurrent use.
	OnStatement func(d time.Duration, sqlstate string)

	// Limits (limits.go).

	// MaxConnections bounds the connections past startup, as PostgreSQL's
	// max_connections (0: 100); the last SuperuserReservedConnections of them only
	// superusers get (0: 3; negative: none). Sockets that have not finished startup
	// are bounded too, by MaxConnections plus startupSlack.
	MaxConnections               int
	SuperuserReservedConnections int
	// Authentication (issue 9, part 2).
	//
	// HBA picks each connection's authentication method (nil: hba.Default(),
	// trust on loopback and scram-sha-256 elsewhere).
	HBA *hba.Rules
	// Roles looks up the roles clients log in as (nil: the Backend when it
	// implements Roles, as SQLBackend does; with neither, every user name is a
	// role without a password: trust lets it in, password methods refuse it).
	Roles Roles
	// GSS accepts the gss method (nil: an hba rule with method gss refuses the
	// connection with 28000).
	GSS GSSAcceptor
}

// defaultRules are the hba rules without Options.HBA.
var defaultRules = hba.Default()

const (
	defaultMaxMessageSize    = 64 << 20
	defaultStartupTimeout    = 60 * time.Second
	defaultPeerCheckInterval = time.Second
)

// Server accepts PostgreSQL connections and serves them from a Backend.
type Server struct {
	backend Backend
	opts    Options
	roles   Roles // nil: no role catalog
	log     *slog.Logger
	split   func(string) ([]string, error)
	// onPanic handles a panic outside query processing (a bug in this package);
	// tests replace it to fail loudly.
	onPanic func(v any, stack []byte)

	nextPID  atomic.Uint32
	wg       sync.WaitGroup // one per connection goroutine
	refusing chan struct{}  // a slot per goroutine refusing a socket over the limit (limits.go)

	mu struct {
		sync.Mutex
		closed    bool
		addr      net.Addr
		listeners map[net.Listener]struct{}
		conns     map[*conn]struct{}
		byPID     map[uint32]*conn // connections past startup
	}
}

// NewServer returns a Server for b.
func NewServer(b Backend, opts Options) *Server {
	s := &Server{backend: b, opts: opts, log: opts.Logger, split: opts.Split}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.split == nil {
		s.split = sql.Split
	}
	if s.opts.MaxMessageSize <= 0 {
		s.opts.MaxMessageSize = defaultMaxMessageSize
	}
	if s.opts.StartupTimeout <= 0 {
		s.opts.StartupTimeout = defaultStartupTimeout
	}
	if s.opts.MaxConnections <= 0 {
		s.opts.MaxConnections = defaultMaxConnections
	}
	switch {
	case s.opts.SuperuserReservedConnections == 0:
		s.opts.SuperuserReservedConnections = defaultSuperuserReserved
	case s.opts.SuperuserReservedConnections < 0:
		s.opts.SuperuserReservedConnections = 0
	}
	s.refusing = make(chan struct{}, maxRefusing)
	s.roles = opts.Roles
	if s.roles == nil {
		s.roles, _ = b.(Roles)
	}
	s.onPanic = func(v any, stack []byte) {
		s.log.Error("pgwire: panic in connection", "panic", v, "stack", string(stack))
	}
	var seed [4]byte
	_, _ = rand.Read(seed[:])
	s.nextPID.Store(binary.BigEndian.Uint32(seed[:]) & 0x3fffffff)
	s.mu.listeners = make(map[net.Listener]struct{})
	s.mu.conns = make(map[*conn]struct{})
	s.mu.byPID = make(map[uint32]*conn)
	return s
}

// Addr returns the address of the first listener Serve was given, nil before.
// Conns returns the number of open client connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.conns)
}

func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.addr
}

// Serve accepts connections on ln until ln is closed (it returns the Accept error)
// or Shutdown is called (it returns ErrServerClosed). It closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	if s.mu.addr == nil {
		s.mu.addr = ln.Addr()
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("pgwire: accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("pgwire: accept: %w", err)
		}
		backoff = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.mu.closed {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		if len(s.mu.conns) >= s.maxSockets() {
			s.mu.Unlock()
			s.refuse(nc)
			continue
		}
		s.mu.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

func (s *Server) serveConn(c *conn) {
	defer s.wg.Done()
	defer func() {
		if v := recover(); v != nil {
			s.onPanic(v, debug.Stack())
		}
		c.close()
		s.mu.Lock()
		delete(s.mu.conns, c)
		if s.mu.byPID[c.pid] == c {
			delete(s.mu.byPID, c.pid)
		}
		s.mu.Unlock()
	}()
	c.serve()
}

// register admits c (admit, limits.go) and makes it reachable by CancelRequest and
// pg_stat_activity. It returns the FATAL error to refuse c with, nil when admitted.
func (s *Server) register(c *conn, superuser bool) *engine.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return &engine.Error{Code: sqlstate.AdminShutdown, Message: "terminating connection due to administrator command"}
	}
	if err := s.admitLocked(superuser); err != nil {
		return err
	}
	for {
		c.pid = s.nextPID.Add(1) & 0x3fffffff
		if _, taken := s.mu.byPID[c.pid]; !taken && c.pid != 0 {
			break
		}
	}
	s.mu.byPID[c.pid] = c
	return nil
}

// cancel serves a CancelRequest: it cancels the running query of the connection
// with that process ID, if the secret matches. Like PostgreSQL it never answers.
func (s *Server) cancel(pid uint32, secret []byte) {
	s.mu.Lock()
	c := s.mu.byPID[pid]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(secret, c.secret[:]) != 1 {
		s.log.Debug("pgwire: cancel request for unknown process", "pid", pid)
		return
	}
	c.cancelQuery()
}

// Shutdown stops accepting, closes every connection (cancelling running queries) and
// waits for their goroutines to end or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.mu.closed = true
	for ln := range s.mu.listeners {
		ln.Close()
	}
	for c := range s.mu.conns {
		c.close()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pgwire: shutdown: %w", ctx.Err())
	}
}
