package pgwire

// Limits against the real SQL layer (a store in a temporary directory): each test
// is one way a client could take the server down or see what it should not, and
// fails without the limit it checks.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/sql"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

type sqlServer struct {
	srv  *Server
	db   *sql.DB
	st   *store.Store
	addr string
}

// startSQLServer serves a fresh store through the SQL layer, with a table
// t (ts timestamptz, x bigint) and a LOGIN role alice that is not a superuser.
func startSQLServer(t *testing.T, sopts sql.Options, configure ...func(*Options)) *sqlServer {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.Open(st, sopts)
	opts := Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range configure {
		f(&opts)
	}
	srv := NewServer(SQLBackend(db), opts)
	srv.onPanic = func(v any, stack []byte) { t.Errorf("panic outside query processing: %v\n%s", v, stack) }
	db.SetBackends(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-done
		st.Close()
	})
	if _, err := st.Catalog().ApplyRoles(catalog.RoleChange{Put: []catalog.Role{{Name: "alice", Login: true, Inherit: true}}}); err != nil {
		t.Fatal(err)
	}
	s := &sqlServer{srv: srv, db: db, st: st, addr: ln.Addr().String()}
	c := s.connect(t, "strata")
	run(t, c, "CREATE TABLE t (ts timestamptz NOT NULL, x bigint)")
	c.Close(context.Background())
	// The server ends the connection after the client's Terminate: wait, so tests
	// that count backends do not see this one.
	for deadline := time.Now().Add(10 * time.Second); srv.Conns() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the setup connection is still open on the server after 10 s")
		}
	}
	return s
}

func (s *sqlServer) url(user string) string {
	return fmt.Sprintf("postgres://%s@%s/strata?sslmode=disable", user, s.addr)
}

func (s *sqlServer) dial(user string) (*pgconn.PgConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pgconn.Connect(ctx, s.url(user))
}

func (s *sqlServer) connect(t *testing.T, user string) *pgconn.PgConn {
	t.Helper()
	c, err := s.dial(user)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// run runs one statement and returns its rows as text.
func run(t *testing.T, c *pgconn.PgConn, q string) [][]string {
	t.Helper()
	rows, err := query(c, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rows
}

func query(c *pgconn.PgConn, q string) ([][]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := c.Exec(ctx, q).ReadAll()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, r := range res {
		for _, row := range r.Rows {
			line := make([]string, len(row))
			for i, v := range row {
				if v == nil {
					line[i] = "NULL"
				} else {
					line[i] = string(v)
				}
			}
			out = append(out, line)
		}
	}
	return out, nil
}

func wantPgError(t *testing.T, what string, err error, code, msg string) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != code || (msg != "" && pe.Message != msg) {
		t.Fatalf("%s: got %v, want %s %q", what, err, code, msg)
	}
	return pe
}

// TestConnectionFlood: 120 clients against --max-connections 100 — the last 3
// slots are kept for superusers, the clients past the limit get FATAL 53300 with
// PostgreSQL 15's messages, and once some disconnect the server takes the next.
func TestConnectionFlood(t *testing.T) {
	s := startSQLServer(t, sql.Options{}, func(o *Options) { o.MaxConnections = 100 })
	var mu sync.Mutex
	var conns []*pgconn.PgConn
	refused := map[string]int{}
	var wg sync.WaitGroup
	for range 120 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.dial("alice")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != "53300" {
					t.Errorf("refused connection: %v, want 53300", err)
					return
				}
				refused[pe.Message]++
				return
			}
			conns = append(conns, c)
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	if len(conns) != 97 || refused[msgReservedConnections]+refused[msgTooManyConnections] != 23 {
		t.Fatalf("%d connected, refused %v; want 97 connected (3 slots kept for superusers), 23 refused", len(conns), refused)
	}
	if refused[msgReservedConnections] == 0 {
		t.Errorf("no client was told %q: %v", msgReservedConnections, refused)
	}
	// Every connection works.
	for _, c := range conns[:3] {
		run(t, c, "SELECT 1")
	}
	// The reserved slots take superusers, then the server is full for them too.
	for i := range 3 {
		c, err := s.dial("strata")
		if err != nil {
			t.Fatalf("superuser %d into a reserved slot: %v", i, err)
		}
		conns = append(conns, c)
	}
	_, err := s.dial("strata")
	wantPgError(t, "superuser past max_connections", err, "53300", "sorry, too many clients already")
	// Some leave; the next client gets in and is served.
	for _, c := range conns[:5] {
		c.Close(context.Background())
	}
	conns = conns[5:]
	waitFor(t, "closed connections to be released", func() bool { return len(s.srv.Activity()) == 95 })
	c := s.connect(t, "alice")
	if got := run(t, c, "SELECT 42"); got[0][0] != "42" {
		t.Fatalf("after some left: %v", got)
	}
}

// TestIdleSocketFlood: sockets that connect and never send a startup packet are
// bounded: past MaxConnections + slack the server answers 53300 at once instead of
// holding them, and each one it holds is dropped at the startup timeout.
func TestIdleSocketFlood(t *testing.T) {
	s := startSQLServer(t, sql.Options{}, func(o *Options) {
		o.MaxConnections = 20
		o.StartupTimeout = 500 * time.Millisecond
	})
	limit := 20 + startupSlack(20) // MaxConnections + slack
	var socks []net.Conn
	defer func() {
		for _, c := range socks {
			c.Close()
		}
	}()
	for range 300 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, c)
	}
	// A socket past the limit is answered 53300 (or, when many are refused at
	// once, closed) right away; only the ones within the limit are held.
	refused, held := 0, 0
	for _, c := range socks {
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		b, err := io.ReadAll(c)
		switch {
		case len(b) > 0:
			if b[0] != 'E' || !strings.Contains(string(b), "C53300") || !strings.Contains(string(b), "Msorry, too many clients already") {
				t.Fatalf("refused socket got %q", b)
			}
			refused++
		case isTimeout(err):
			held++
		}
	}
	if open := s.srv.Conns(); open > limit || held > limit {
		t.Fatalf("the server holds %d idle sockets (%d seen by the clients), more than its limit %d", open, held, limit)
	}
	if refused == 0 {
		t.Errorf("no refused socket was told 53300")
	}
	// The idle sockets it holds are dropped at the startup timeout; then a
	// client is served.
	waitFor(t, "idle sockets to time out", func() bool { return s.srv.Conns() == 0 })
	c := s.connect(t, "alice")
	run(t, c, "SELECT 1")
}

// stallingReader gives some COPY rows, then stalls until stop: a client that
// starts a COPY and stops sending.
type stallingReader struct {
	data []byte
	stop <-chan time.Time
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	<-r.stop
	return 0, io.EOF
}

// TestStatementTimeoutCopy: statement_timeout ends a COPY FROM STDIN whose client
// stalls (at once, not when more data comes) and a server-side COPY FROM a large
// file, with 57014; nothing of either is loaded and the connection goes on.
func TestStatementTimeoutCopy(t *testing.T) {
	s := startSQLServer(t, sql.Options{})
	c := s.connect(t, "strata")
	run(t, c, "SET statement_timeout = '300ms'")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The client stalls for 3 s (pgconn waits for its reader before it returns).
	// Meanwhile the server must have ended the COPY: the backend is idle again.
	watcher := s.connect(t, "strata")
	state := make(chan [][]string, 1)
	time.AfterFunc(1500*time.Millisecond, func() {
		rows, _ := query(watcher, "SELECT state, query FROM pg_stat_activity WHERE query LIKE 'COPY t FROM STDIN%'")
		state <- rows
	})
	_, err := c.CopyFrom(ctx, &stallingReader{data: []byte("2026-01-01 00:00:00+00\t1\n2026-01-01 00:00:01+00\t2\n"), stop: time.After(3 * time.Second)}, "COPY t FROM STDIN")
	wantPgError(t, "stalled COPY FROM STDIN", err, "57014", "canceling statement due to statement timeout")
	if got := <-state; len(got) != 1 || got[0][0] != "idle" {
		t.Errorf("1.5 s into a COPY with statement_timeout 300ms, pg_stat_activity shows %v; want it idle", got)
	}
	if got := run(t, c, "SELECT count(*) FROM t"); got[0][0] != "0" {
		t.Errorf("rows of the cancelled COPY are visible: %v", got)
	}

	// Server-side COPY of a file too large to load within the timeout.
	var data strings.Builder
	for i := range 2_000_000 {
		fmt.Fprintf(&data, "2026-01-01 00:00:00+00\t%d\n", i)
	}
	path := filepath.Join(s.st.Dir(), "lake", "big.tsv") // under the default lake root
	if err := os.WriteFile(path, []byte(data.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// 2M lines load in about 300 ms on an idle machine: 40 ms is far too short.
	run(t, c, "SET statement_timeout = '40ms'")
	_, err = query(c, "COPY t FROM '"+path+"'")
	wantPgError(t, "server-side COPY", err, "57014", "canceling statement due to statement timeout")
	if got := run(t, c, "SELECT count(*) FROM t"); got[0][0] != "0" {
		t.Errorf("rows of the cancelled COPY are visible: %v", got)
	}
	// Without the timeout a server-side COPY loads (a small file: the big one takes
	// longer than the client's own deadline under the race detector).
	run(t, c, "RESET statement_timeout")
	small := filepath.Join(s.st.Dir(), "lake", "small.tsv")
	if err := os.WriteFile(small, []byte(data.String()[:len("2026-01-01 00:00:00+00\t0\n")*10]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := query(c, "COPY t FROM '"+small+"'"); err != nil {
		t.Fatalf("a COPY without a timeout: %v", err)
	}
	if got := run(t, c, "SELECT count(*) FROM t"); got[0][0] != "10" {
		t.Errorf("after a COPY of 10 lines without a timeout: %v rows", got)
	}
}

// TestStatementTimeoutDefault: the server's default (strata serve
// --statement-timeout) applies to every session, which can change its own.
func TestStatementTimeoutDefault(t *testing.T) {
	s := startSQLServer(t, sql.Options{StatementTimeout: 250 * time.Millisecond, IdleSessionTimeout: time.Minute})
	c := s.connect(t, "alice")
	if got := run(t, c, "SHOW statement_timeout"); got[0][0] != "250ms" {
		t.Errorf("SHOW statement_timeout = %v, want 250ms", got)
	}
	if got := run(t, c, "SHOW idle_session_timeout"); got[0][0] != "1min" {
		t.Errorf("SHOW idle_session_timeout = %v, want 1min", got)
	}
	_, err := query(c, "SELECT count(*) FROM generate_series(1, 20000) a CROSS JOIN generate_series(1, 20000) b")
	wantPgError(t, "long query", err, "57014", "canceling statement due to statement timeout")
	run(t, c, "SET statement_timeout = 0")
	run(t, c, "SELECT count(*) FROM generate_series(1, 1000) a CROSS JOIN generate_series(1, 1000) b")
}

// readFatal reads what the server sent a connection that ends: its last
// ErrorResponse.
func readFatal(t *testing.T, nc net.Conn) (code, msg string) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(nc)
	i := strings.LastIndexByte(string(b), 'E')
	for i >= 0 && !strings.Contains(string(b[i:]), "SFATAL") {
		i = strings.LastIndexByte(string(b[:i]), 'E')
	}
	if i < 0 {
		t.Fatalf("no FATAL among %q", b)
	}
	for _, f := range strings.Split(string(b[i+5:]), "\x00") {
		if len(f) > 0 && f[0] == 'C' {
			code = f[1:]
		}
		if len(f) > 0 && f[0] == 'M' {
			msg = f[1:]
		}
	}
	return code, msg
}

// TestIdleTimeouts: a connection that sits idle past idle_session_timeout, or
// idle inside a transaction past idle_in_transaction_session_timeout, is closed
// with PostgreSQL's FATAL; a busy one is not.
func TestIdleTimeouts(t *testing.T) {
	s := startSQLServer(t, sql.Options{})
	for _, tc := range []struct{ set, begin, code, msg string }{
		{"SET idle_session_timeout = '300ms'", "", "57P05", "terminating connection due to idle-session timeout"},
		{"SET idle_in_transaction_session_timeout = 300", "BEGIN", "25P03", "terminating connection due to idle-in-transaction timeout"},
	} {
		c := s.connect(t, "alice")
		run(t, c, tc.set)
		for range 4 { // busy: each command restarts the clock
			time.Sleep(100 * time.Millisecond)
			run(t, c, "SELECT 1")
		}
		if tc.begin != "" {
			run(t, c, tc.begin)
		}
		start := time.Now()
		code, msg := readFatal(t, c.Conn())
		if code != tc.code || msg != tc.msg {
			t.Errorf("%s: got %s %q, want %s %q", tc.set, code, msg, tc.code, tc.msg)
		}
		if took := time.Since(start); took < 200*time.Millisecond || took > 3*time.Second {
			t.Errorf("%s: closed after %v", tc.set, took)
		}
	}
}

// panicSource is a storage.Source whose reads panic, as a storage bug would.
type panicSource struct{}

func (panicSource) Schema() *storage.Schema                     { return panicSchema }
func (panicSource) NumRows() int                                { return 10 }
func (panicSource) MinTime() int64                              { return 0 }
func (panicSource) MaxTime() int64                              { return 10 }
func (panicSource) Stats(int) storage.ColumnStats               { return storage.ColumnStats{} }
func (panicSource) Dict(int) (storage.Dict, error)              { return nil, errors.New("no dictionaries") }
func (panicSource) Bitmap(int, uint32) (*roaring.Bitmap, error) { return nil, errors.New("no bitmaps") }
func (panicSource) Nulls(int) (*roaring.Bitmap, error)          { return nil, nil }
func (panicSource) ReadInt64(int, int, int, []int64) ([]int64, error) {
	panic("injected panic in a scan worker")
}
func (panicSource) ReadFloat64(int, int, int, []float64) ([]float64, error) { panic("unused") }
func (panicSource) ReadBool(int, int, int, []bool) ([]bool, error)          { panic("unused") }
func (panicSource) ReadDictIDs(int, int, int, []uint32) ([]uint32, error)   { panic("unused") }
func (panicSource) Name() string                                            { return "panic" }

var panicSchema = &storage.Schema{Columns: []storage.Column{{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true}}}

// panicBackend serves "select boom" with a real engine scan over sources one of
// which panics on its scan worker, and everything else with the SQL layer.
type panicBackend struct{ db *sql.DB }

func (b panicBackend) NewSession(user, database string) Session {
	return panicSession{b.db.NewSession(user, database)}
}

type panicSession struct{ *sql.Session }

var boomFields = []engine.Field{{Name: "ts", Type: engine.TimestampTZ}}

func (s panicSession) Prepare(ctx context.Context, q string, types []engine.Type) (*sql.Statement, error) {
	if q == "select boom" {
		return &sql.Statement{Query: q, Fields: boomFields}, nil
	}
	return s.Session.Prepare(ctx, q, types)
}

func (s panicSession) Execute(ctx context.Context, st *sql.Statement, params []engine.Value) (*sql.Result, error) {
	if st.Query != "select boom" {
		return s.Session.Execute(ctx, st, params)
	}
	srcs := []storage.Source{panicSource{}}
	for range 7 {
		srcs = append(srcs, healthySource{})
	}
	p := &engine.Scan{Table: "boom", Schema: panicSchema, Sources: srcs, Columns: []int{0},
		TimeMin: engine.MinTime, TimeMax: engine.MaxTime, Out: boomFields}
	rows, err := engine.Execute(ctx, p, engine.Options{Parallelism: 4})
	if err != nil {
		return nil, err
	}
	return &sql.Result{Fields: boomFields, Rows: rows, Tag: "SELECT"}, nil
}

// healthySource is panicSource that reads.
type healthySource struct{ panicSource }

func (healthySource) ReadInt64(col, start, end int, dst []int64) ([]int64, error) {
	for i := start; i < end; i++ {
		dst = append(dst, int64(i))
	}
	return dst, nil
}

// TestPanicInScanWorker: a panic on an engine worker goroutine fails that query
// with XX000; the server keeps serving the same connection and others.
func TestPanicInScanWorker(t *testing.T) {
	s := startSQLServer(t, sql.Options{})
	// A second server over the same DB whose sessions can run the panicking scan.
	srv := NewServer(panicBackend{s.db}, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.onPanic = func(v any, stack []byte) { t.Errorf("panic outside query processing: %v\n%s", v, stack) }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	url := fmt.Sprintf("postgres://strata@%s/strata?sslmode=disable", ln.Addr())
	ctx := ctxT(t)
	c1, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close(ctx)
	c2, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	for range 3 {
		_, err = query(c1, "select boom")
		wantPgError(t, "select boom", err, "XX000", "internal error: injected panic in a scan worker")
		if got := run(t, c1, "SELECT 1 + 1"); got[0][0] != "2" {
			t.Fatalf("same connection after the panic: %v", got)
		}
		if got := run(t, c2, "SELECT count(*) FROM t"); got[0][0] != "0" {
			t.Fatalf("other connection after the panic: %v", got)
		}
	}
}

// TestMemoryCap: a query that needs more than the server-wide cap fails alone with
// 53200, while a query beside it finishes. The small one may wait for the big
// one's memory: the big one fails as soon as both wait, and a loaded machine
// (CI) may make the big one compute a while before it asks for more.
func TestMemoryCap(t *testing.T) {
	budget := engine.NewMemoryBudget(16<<20, time.Minute)
	s := startSQLServer(t, sql.Options{Budget: budget})
	big, small := s.connect(t, "alice"), s.connect(t, "alice")
	var wg sync.WaitGroup
	var bigErr, smallErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, bigErr = query(big, "SELECT count(*) FROM (SELECT n FROM generate_series(1, 5000000) n GROUP BY n) s")
	}()
	go func() {
		defer wg.Done()
		for range 10 {
			var got [][]string
			if got, smallErr = query(small, "SELECT count(*) FROM (SELECT n FROM generate_series(1, 50000) n GROUP BY n) s"); smallErr != nil {
				return
			}
			if got[0][0] != "50000" {
				smallErr = fmt.Errorf("small query: %v", got)
				return
			}
		}
	}()
	wg.Wait()
	pe := wantPgError(t, "big query", bigErr, "53200", "out of memory")
	if !strings.Contains(pe.Detail, "16777216 bytes") {
		t.Errorf("DETAIL %q does not name the cap", pe.Detail)
	}
	if smallErr != nil {
		t.Fatalf("small query beside the big one: %v", smallErr)
	}
	if got := run(t, big, "SELECT 1"); got[0][0] != "1" {
		t.Fatal("the connection of the failed query")
	}
	if u := budget.Used(); u != 0 {
		t.Errorf("the budget holds %d bytes after the queries ended", u)
	}
}

func backendPID(t *testing.T, c *pgconn.PgConn) string {
	t.Helper()
	got := run(t, c, "SELECT pg_backend_pid()")
	if want := fmt.Sprint(c.PID()); got[0][0] != want {
		t.Fatalf("pg_backend_pid() = %s, BackendKeyData said %s", got[0][0], want)
	}
	return got[0][0]
}

// TestStatActivityPrivacy: pg_stat_activity shows every connection's user,
// state and statement; another role's statement text and address only to
// superusers, as PostgreSQL does (<insufficient privilege>).
func TestStatActivityPrivacy(t *testing.T) {
	s := startSQLServer(t, sql.Options{})
	admin, alice := s.connect(t, "strata"), s.connect(t, "alice")
	adminPID, alicePID := backendPID(t, admin), backendPID(t, alice)
	run(t, admin, "SELECT 'the admin''s secret' AS secret")
	run(t, alice, "SELECT 'alice''s own' AS mine")

	cols := "pid, usename, datname, state, query, client_addr, backend_type"
	q := "SELECT " + cols + " FROM pg_stat_activity ORDER BY usename"
	byPID := func(rows [][]string) map[string][]string {
		m := map[string][]string{}
		for _, r := range rows {
			m[r[0]] = r
		}
		return m
	}
	// alice: her own row in full, the superuser's without query text or address.
	seen := byPID(run(t, alice, q))
	if r := seen[adminPID]; r == nil || r[1] != "strata" || r[3] != "NULL" || r[4] != "<insufficient privilege>" || r[5] != "NULL" || r[6] != "NULL" {
		t.Errorf("alice sees the superuser's backend as %q", r)
	}
	if r := seen[alicePID]; r == nil || r[1] != "alice" || r[2] != "strata" || r[3] != "active" ||
		r[4] != q || r[5] != "127.0.0.1" || r[6] != "client backend" {
		t.Errorf("alice sees her own backend as %q", r)
	}
	// The superuser sees everything.
	seen = byPID(run(t, admin, q))
	if r := seen[alicePID]; r == nil || r[3] != "idle" || r[4] != q || r[5] != "127.0.0.1" {
		t.Errorf("the superuser sees alice's backend as %q", r)
	}
	if r := seen[adminPID]; r == nil || r[3] != "active" || r[4] != q {
		t.Errorf("the superuser sees its own backend as %q", r)
	}
	// A transaction shows as such, with its start.
	run(t, alice, "BEGIN")
	run(t, alice, "SELECT 1")
	seen = byPID(run(t, admin, "SELECT pid, state, xact_start IS NOT NULL, query_start >= xact_start FROM pg_stat_activity"))
	if r := seen[alicePID]; r == nil || r[1] != "idle in transaction" || r[2] != "t" || r[3] != "t" {
		t.Errorf("alice in a transaction: %q", r)
	}
	run(t, alice, "COMMIT")
	// A prepared statement reads the backends of the moment, not of its Prepare.
	ctx := ctxT(t)
	if _, err := alice.Prepare(ctx, "act", "SELECT count(*) FROM pg_stat_activity", nil); err != nil {
		t.Fatal(err)
	}
	count := func() string {
		res := alice.ExecPrepared(ctx, "act", nil, nil, nil).Read()
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return string(res.Rows[0][0])
	}
	before := count()
	third := s.connect(t, "alice")
	if after := count(); before != "2" || after != "3" {
		t.Errorf("prepared count(*) over pg_stat_activity: %s then %s with a third connection, want 2 then 3", before, after)
	}
	third.Close(ctx)
}

// TestSignalBackend: pg_cancel_backend and pg_terminate_backend as in PostgreSQL
// 15 — a role signals its own backends, a non-superuser can never signal a
// superuser's (42501), and a superuser signals anyone.
func TestSignalBackend(t *testing.T) {
	s := startSQLServer(t, sql.Options{})
	admin, alice, alice2 := s.connect(t, "strata"), s.connect(t, "alice"), s.connect(t, "alice")
	adminPID, alice2PID := backendPID(t, admin), backendPID(t, alice2)

	_, err := query(alice, "SELECT pg_terminate_backend("+adminPID+")")
	wantPgError(t, "alice terminates the superuser", err, "42501", "must be a superuser to terminate superuser process")
	_, err = query(alice, "SELECT pg_cancel_backend("+adminPID+")")
	wantPgError(t, "alice cancels the superuser", err, "42501", "must be a superuser to cancel superuser query")
	// The superuser's connection was not touched.
	if got := run(t, admin, "SELECT 1"); got[0][0] != "1" {
		t.Fatal("superuser connection after alice's attempts")
	}
	// No such backend: false.
	if got := run(t, alice, "SELECT pg_cancel_backend(12345)"); got[0][0] != "f" {
		t.Errorf("pg_cancel_backend of no backend = %v", got)
	}

	// alice cancels her own other backend's running statement.
	errc := make(chan error, 1)
	go func() {
		_, err := query(alice2, "SELECT count(*) FROM generate_series(1, 50000) a CROSS JOIN generate_series(1, 50000) b")
		errc <- err
	}()
	waitFor(t, "the long query to start", func() bool {
		rows, _ := query(alice, "SELECT state FROM pg_stat_activity WHERE pid = "+alice2PID)
		return len(rows) == 1 && rows[0][0] == "active"
	})
	if got := run(t, alice, "SELECT pg_cancel_backend("+alice2PID+")"); got[0][0] != "t" {
		t.Fatalf("pg_cancel_backend = %v", got)
	}
	select {
	case err := <-errc:
		wantPgError(t, "cancelled query", err, "57014", "canceling statement due to user request")
	case <-time.After(10 * time.Second):
		t.Fatal("the query was not cancelled")
	}
	run(t, alice2, "SELECT 1")

	// ... and terminates it: FATAL 57P01 ends that connection.
	if got := run(t, alice, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = "+alice2PID); len(got) != 1 || got[0][0] != "t" {
		t.Fatalf("pg_terminate_backend = %v", got)
	}
	if code, msg := readFatal(t, alice2.Conn()); code != "57P01" || msg != "terminating connection due to administrator command" {
		t.Errorf("terminated backend got %s %q", code, msg)
	}
	waitFor(t, "the terminated backend to leave", func() bool { return len(s.srv.Activity()) == 2 })

	// The superuser terminates alice in the middle of a transaction.
	run(t, alice, "BEGIN")
	if got := run(t, admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'alice'"); got[0][0] != "t" {
		t.Fatalf("superuser pg_terminate_backend = %v", got)
	}
	if code, _ := readFatal(t, alice.Conn()); code != "57P01" {
		t.Errorf("alice got %s", code)
	}
}
