package pgwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
)

type testServer struct {
	srv  *Server
	be   *fakeBackend
	addr *net.TCPAddr
	url  string
	done chan error
}

func startServer(t testing.TB, configure ...func(*Options)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	be := newFakeBackend()
	opts := Options{Split: fakeSplit, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range configure {
		f(&opts)
	}
	srv := NewServer(be, opts)
	srv.onPanic = func(v any, stack []byte) { t.Errorf("panic outside query processing: %v\n%s", v, stack) }
	ts := &testServer{srv: srv, be: be, addr: ln.Addr().(*net.TCPAddr), done: make(chan error, 1)}
	ts.url = fmt.Sprintf("postgres://strata@127.0.0.1:%d/strata", ts.addr.Port)
	go func() { ts.done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-ts.done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		waitFor(t, "all Rows closed", func() bool { return be.rowsOpen.Load() == 0 })
	})
	return ts
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func connect(t testing.TB, ts *testServer, opts ...string) *pgx.Conn {
	t.Helper()
	url := ts.url
	if len(opts) > 0 {
		url += "?" + strings.Join(opts, "&")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// item is one row of "select * from items" as a client scans it.
type item struct {
	id     int64
	small  *int16
	mid    *int32
	name   *string
	price  *float64
	ratio  *float32
	amount *float64
	ok     *bool
	day    *time.Time
	ts     *time.Time
	tstz   *time.Time
	dur    pgtype.Interval
}

func ptr[T any](v T) *T { return &v }

// wantItems is written out by hand from itemBatches.
var wantItems = []item{
	{1, ptr[int16](-2), ptr[int32](300000), ptr("alpha"), ptr(1.5), ptr[float32](0.25), ptr(123.45), ptr(true),
		ptr(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)), ptr(time.Date(2024, 6, 1, 5, 45, 25, 511126000, time.UTC)),
		ptr(time.Date(2024, 6, 1, 5, 45, 25, 511126000, time.UTC)), pgtype.Interval{Months: 14, Days: 3, Microseconds: 14706789000, Valid: true}},
	{2, ptr[int16](32767), ptr[int32](-2147483648), ptr("βeta"), ptr(-0.1), ptr[float32](1e6), ptr(-0.001), ptr(false),
		ptr(time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)), ptr(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)),
		ptr(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)), pgtype.Interval{Days: -1, Valid: true}},
	{id: 3},
	{math.MaxInt64, ptr[int16](0), ptr[int32](0), ptr("alpha"), ptr(1e20), ptr[float32](1.5), ptr(1e20), ptr(true),
		ptr(time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC)), ptr(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)),
		ptr(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), pgtype.Interval{Microseconds: 1, Valid: true}},
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func eqTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func (a item) equal(b item) bool {
	return a.id == b.id && eqPtr(a.small, b.small) && eqPtr(a.mid, b.mid) && eqPtr(a.name, b.name) &&
		eqPtr(a.price, b.price) && eqPtr(a.ratio, b.ratio) && eqPtr(a.amount, b.amount) && eqPtr(a.ok, b.ok) &&
		eqTime(a.day, b.day) && eqTime(a.ts, b.ts) && eqTime(a.tstz, b.tstz) && a.dur == b.dur
}

func (a item) String() string {
	s := fmt.Sprintf("{%d", a.id)
	for _, p := range []any{a.small, a.mid, a.name, a.price, a.ratio, a.amount, a.ok, a.day, a.ts, a.tstz} {
		switch v := p.(type) {
		case *int16:
			s += fmt.Sprint(" ", deref(v))
		case *int32:
			s += fmt.Sprint(" ", deref(v))
		case *string:
			s += fmt.Sprint(" ", deref(v))
		case *float64:
			s += fmt.Sprint(" ", deref(v))
		case *float32:
			s += fmt.Sprint(" ", deref(v))
		case *bool:
			s += fmt.Sprint(" ", deref(v))
		case *time.Time:
			s += fmt.Sprint(" ", deref(v))
		}
	}
	return s + fmt.Sprintf(" %+v}", a.dur)
}

func deref[T any](p *T) any {
	if p == nil {
		return "NULL"
	}
	return *p
}

func scanItems(t *testing.T, rows pgx.Rows) []item {
	t.Helper()
	var got []item
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.id, &it.small, &it.mid, &it.name, &it.price, &it.ratio, &it.amount, &it.ok, &it.day, &it.ts, &it.tstz, &it.dur); err != nil {
			t.Fatalf("scan: %v", err)
		}
		got = append(got, it)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	return got
}

func TestPgxItems(t *testing.T) {
	ts := startServer(t)
	conn := connect(t, ts)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement,
		pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec} {
		t.Run(mode.String(), func(t *testing.T) {
			for range 2 { // the second round reuses cached statements
				rows, err := conn.Query(ctxT(t), "SELECT * FROM items", mode)
				if err != nil {
					t.Fatal(err)
				}
				got := scanItems(t, rows)
				if tag := rows.CommandTag().String(); tag != "SELECT 4" {
					t.Errorf("tag %q, want SELECT 4", tag)
				}
				if len(got) != len(wantItems) {
					t.Fatalf("got %d rows, want %d", len(got), len(wantItems))
				}
				for i := range got {
					if !got[i].equal(wantItems[i]) {
						t.Errorf("row %d:\n got %v\nwant %v", i, got[i], wantItems[i])
					}
				}
				// The column types are PostgreSQL's.
				var oids []uint32
				for _, fd := range rows.FieldDescriptions() {
					oids = append(oids, fd.DataTypeOID)
				}
				wantOIDs := []uint32{20, 21, 23, 25, 701, 700, 1700, 16, 1082, 1114, 1184, 1186}
				if fmt.Sprint(oids) != fmt.Sprint(wantOIDs) {
					t.Errorf("OIDs %v, want %v", oids, wantOIDs)
				}
				if mode == pgx.QueryExecModeCacheStatement {
					// pgx asks for binary results for every type but text.
					var formats []int16
					for _, fd := range rows.FieldDescriptions() {
						formats = append(formats, fd.Format)
					}
					if got, want := fmt.Sprint(formats), "[1 1 1 0 1 1 1 1 1 1 1 1]"; got != want {
						t.Errorf("result formats %s, want %s", got, want)
					}
				}
			}
		})
	}
}

func TestPgxParams(t *testing.T) {
	ts := startServer(t)
	conn := connect(t, ts)
	tstz := time.Date(2024, 6, 1, 5, 45, 25, 511126000, time.UTC)
	day := time.Date(2023, 2, 28, 0, 0, 0, 0, time.UTC)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec} {
		t.Run(mode.String(), func(t *testing.T) {
			var (
				i8  int64
				s   string
				f8  float64
				b   bool
				tz  time.Time
				d   time.Time
				num float64
				i4  *int32
			)
			err := conn.QueryRow(ctxT(t), echoQuery, mode, int64(-42), "héllo 'world'", 1.25, true, tstz, day, 12.5, nil).
				Scan(&i8, &s, &f8, &b, &tz, &d, &num, &i4)
			if err != nil {
				t.Fatal(err)
			}
			if i8 != -42 || s != "héllo 'world'" || f8 != 1.25 || !b || !tz.Equal(tstz) || !d.Equal(day) || num != 12.5 || i4 != nil {
				t.Errorf("echo: %v %q %v %v %v %v %v %v", i8, s, f8, b, tz, d, num, i4)
			}
		})
	}
	// Named prepared statement with declared parameter types.
	if _, err := conn.Prepare(ctxT(t), "echo", echoQuery); err != nil {
		t.Fatal(err)
	}
	var n int64
	var i4 int32
	if err := conn.QueryRow(ctxT(t), "echo", int64(7), "x", 0.5, false, tstz, day, -3.75, int32(9)).Scan(&n, nil, nil, nil, nil, nil, nil, &i4); err != nil {
		t.Fatal(err)
	}
	if n != 7 || i4 != 9 {
		t.Errorf("prepared echo: %d %d", n, i4)
	}
}

func TestPgxMisc(t *testing.T) {
	ts := startServer(t)
	conn := connect(t, ts)
	pc := conn.PgConn()
	ctx := ctxT(t)

	// Parameter status.
	for name, want := range map[string]string{"client_encoding": "UTF8", "DateStyle": "ISO, MDY", "integer_datetimes": "on",
		"standard_conforming_strings": "on", "TimeZone": "UTC", "server_encoding": "UTF8", "session_authorization": "strata"} {
		if got := pc.ParameterStatus(name); got != want {
			t.Errorf("ParameterStatus(%s) = %q, want %q", name, got, want)
		}
	}
	if v := pc.ParameterStatus("server_version"); !strings.HasPrefix(v, "15.") {
		t.Errorf("server_version %q", v)
	}
	if pc.PID() == 0 {
		t.Error("no BackendKeyData")
	}

	// Grafana's ping and an empty query.
	if err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := pc.Exec(ctx, "-- ping").ReadAll()
	if err != nil || len(res) != 1 || res[0].CommandTag.String() != "" {
		t.Errorf("-- ping: %v %+v", err, res)
	}

	// Several statements in one Query.
	res, err = pc.Exec(ctx, "select 1; insert into items values (1); select * from items").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, r := range res {
		tags = append(tags, r.CommandTag.String())
	}
	if got := strings.Join(tags, ","); got != "SELECT 1,INSERT 0 1,SELECT 4" {
		t.Errorf("tags %s", got)
	}
	if got := string(res[0].Rows[0][0]); got != "1" {
		t.Errorf("select 1 = %q", got)
	}

	// SET reports a changed parameter.
	if _, err := pc.Exec(ctx, "set application_name = 'grafana'").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if got := pc.ParameterStatus("application_name"); got != "grafana" {
		t.Errorf("application_name after SET = %q", got)
	}

	// Notices reach the client.
	var notices []string
	cfg, _ := pgconn.ParseConfig(ts.url)
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	nc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close(ctx)
	if _, err := nc.Exec(ctx, "select notice").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(notices) != "[hello from the fake]" {
		t.Errorf("notices %v", notices)
	}
}

func pgErr(t *testing.T, err error) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *pgconn.PgError", err, err)
	}
	return pe
}

func TestErrors(t *testing.T) {
	ts := startServer(t)
	conn := connect(t, ts)
	cases := []struct {
		query    string
		mode     pgx.QueryExecMode
		code     string
		position int32
		message  string
	}{
		{"select 1/0", pgx.QueryExecModeSimpleProtocol, "22012", 0, "division by zero"},
		{"select 1/0", pgx.QueryExecModeCacheStatement, "22012", 0, "division by zero"},
		{"select bogus", pgx.QueryExecModeSimpleProtocol, "42601", 8, `syntax error at or near "bogus"`},
		{"select bogus", pgx.QueryExecModeCacheStatement, "42601", 8, `syntax error at or near "bogus"`},
		// Positions count from the start of the whole query string, in characters.
		{"select 1;  select bogus", pgx.QueryExecModeSimpleProtocol, "42601", 19, `syntax error at or near "bogus"`},
		{"select 1;select 'é' bogus", pgx.QueryExecModeSimpleProtocol, "42601", 21, `syntax error at or near "bogus"`},
		{"select corrupt", pgx.QueryExecModeSimpleProtocol, "XX001", 0, "open segment s1: column x: data corrupted"},
		{"select panic()", pgx.QueryExecModeSimpleProtocol, "XX000", 0, "internal error: fake executor exploded"},
		{"select panic()", pgx.QueryExecModeCacheStatement, "XX000", 0, "internal error: fake executor exploded"},
		{"select panic_rows()", pgx.QueryExecModeSimpleProtocol, "XX000", 0, "internal error: fake rows exploded"},
		{"select panic_rows()", pgx.QueryExecModeCacheStatement, "XX000", 0, "internal error: fake rows exploded"},
		{"select 1; select 2", pgx.QueryExecModeCacheStatement, "42601", 0, "cannot insert multiple commands into a prepared statement"},
		{"split_error", pgx.QueryExecModeSimpleProtocol, "42601", 0, "unterminated quoted string"},
		{"select hint", pgx.QueryExecModeCacheStatement, "42883", 8, "function nope() does not exist"},
	}
	for _, c := range cases {
		t.Run(c.query+"/"+c.mode.String(), func(t *testing.T) {
			rows, err := conn.Query(ctxT(t), c.query, c.mode)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
			}
			pe := pgErr(t, err)
			if c.query == "select hint" && (pe.Detail != "some detail" || pe.Hint != "some hint") {
				t.Errorf("detail %q hint %q", pe.Detail, pe.Hint)
			}
			if pe.Code != c.code || pe.Position != c.position || (c.message != "" && pe.Message != c.message) || pe.Severity != "ERROR" {
				t.Errorf("got %s %q position %d severity %s, want %s %q position %d", pe.Code, pe.Message, pe.Position, pe.Severity, c.code, c.message, c.position)
			}
			// The connection lives on.
			var one int32
			if err := conn.QueryRow(ctxT(t), "select 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("after error: %v %d", err, one)
			}
		})
	}
}

func TestTransactionStatus(t *testing.T) {
	ts := startServer(t)
	conn := connect(t, ts)
	pc := conn.PgConn()
	ctx := ctxT(t)
	step := func(q string, wantTag string, wantCode string, wantStatus byte) {
		t.Helper()
		res, err := pc.Exec(ctx, q).ReadAll()
		if wantCode != "" {
			if pe := pgErr(t, err); pe.Code != wantCode {
				t.Errorf("%s: code %s, want %s", q, pe.Code, wantCode)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", q, err)
		} else if tag := res[len(res)-1].CommandTag.String(); tag != wantTag {
			t.Errorf("%s: tag %q, want %q", q, tag, wantTag)
		}
		if s := pc.TxStatus(); s != wantStatus {
			t.Errorf("after %s: status %c, want %c", q, s, wantStatus)
		}
	}
	step("begin", "BEGIN", "", 'T')
	step("select 1", "SELECT 1", "", 'T')
	step("select 1/0", "", "22012", 'E')
	step("select 1", "", "25P02", 'E')
	step("commit", "ROLLBACK", "", 'I')
	step("start transaction", "BEGIN", "", 'T')
	step("commit", "COMMIT", "", 'I')
	step("select 1/0", "", "22012", 'I')
	step("begin", "BEGIN", "", 'T')
	step("savepoint a", "SAVEPOINT", "", 'T')
	step("select bogus", "", "42601", 'E')
	step("rollback to savepoint a", "ROLLBACK", "", 'T')
	step("rollback", "ROLLBACK", "", 'I')

	// Extended protocol, through pgx.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "select 1/0"); err == nil {
		t.Fatal("no error")
	}
	if s := pc.TxStatus(); s != 'E' {
		t.Errorf("status %c, want E", s)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if s := pc.TxStatus(); s != 'I' {
		t.Errorf("status %c, want I", s)
	}
}

func TestCancel(t *testing.T) {
	ts := startServer(t)
	conn := connect(t, ts)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		t.Run(mode.String(), func(t *testing.T) {
			errc := make(chan error, 1)
			go func() {
				_, err := conn.Exec(context.Background(), "select pg_sleep(10)", mode)
				errc <- err
			}()
			select {
			case <-ts.be.started:
			case <-time.After(5 * time.Second):
				t.Fatal("query did not start")
			}
			if err := conn.PgConn().CancelRequest(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-errc:
			case <-time.After(5 * time.Second):
				t.Fatal("query was not cancelled")
			}
			if pe := pgErr(t, err); pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
				t.Errorf("got %s %q", pe.Code, pe.Message)
			}
			var one int32
			if err := conn.QueryRow(ctxT(t), "select 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("after cancel: %v", err)
			}
		})
	}
	// A cancel request with a wrong key does nothing, and closes.
	c, err := net.Dial("tcp", ts.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("cancel connection: read %d, %v; want EOF", n, err)
	}
}

func TestCopyFrom(t *testing.T) {
	ts := startServer(t)
	ctx := ctxT(t)
	var notices []string
	cfg, _ := pgconn.ParseConfig(ts.url)
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message+": "+n.Detail) }
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)

	var data strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&data, "%d\trow %d\n", i, i)
	}
	data.WriteString("bad line\n")
	tag, err := pc.CopyFrom(ctx, strings.NewReader(data.String()), "COPY items FROM STDIN")
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != "COPY 20000" {
		t.Errorf("tag %q", tag)
	}
	ts.be.mu.Lock()
	n, last := len(ts.be.copied), ts.be.copied[len(ts.be.copied)-1]
	ts.be.mu.Unlock()
	if n != 20000 || last != "19999\trow 19999" {
		t.Errorf("copied %d lines, last %q", n, last)
	}
	if fmt.Sprint(notices) != "[COPY skipped 1 malformed lines: line 20001: missing column]" {
		t.Errorf("notices %q", notices)
	}

	// The COPY fails in the backend: the error reaches the client, the rest of its
	// data is dropped and the connection lives on.
	_, err = pc.CopyFrom(ctx, strings.NewReader("1\ta\nboom\n"+strings.Repeat("2\tb\n", 50000)), "COPY items FROM STDIN")
	if pe := pgErr(t, err); pe.Code != "22P04" || pe.Message != "line 2: boom" {
		t.Errorf("boom: %s %q", pe.Code, pe.Message)
	}
	// The client aborts: CopyFail.
	_, err = pc.CopyFrom(ctx, io.MultiReader(strings.NewReader("1\ta\n"), errReader{}), "COPY items FROM STDIN")
	if pe := pgErr(t, err); pe.Code != "57014" || pe.Message != "COPY from stdin failed: reader broke" {
		t.Errorf("CopyFail: %s %q", pe.Code, pe.Message)
	}
	res, err := pc.Exec(ctx, "select 1").ReadAll()
	if err != nil || string(res[0].Rows[0][0]) != "1" {
		t.Fatalf("after copies: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("reader broke") }

func TestShutdown(t *testing.T) {
	ts := startServer(t)
	conn := connect(t, ts)
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Exec(context.Background(), "select pg_sleep(10)")
		errc <- err
	}()
	<-ts.be.started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Error("query survived Shutdown")
	}
	if _, err := net.DialTimeout("tcp", ts.addr.String(), time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
	ts.done <- <-ts.done // leave Serve's result for the cleanup check
}

func TestDroppedConnection(t *testing.T) {
	ts := startServer(t)
	before := runtime.NumGoroutine()
	for _, q := range []string{"select n from huge"} {
		c, err := net.Dial("tcp", ts.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		fe := newRawClient(t, c)
		fe.send(queryMsg(q))
		// Read some rows, then vanish.
		buf := make([]byte, 1<<16)
		for range 8 {
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
	}
	waitFor(t, "Rows closed after the client vanished", func() bool { return ts.be.rowsOpen.Load() == 0 })
	waitFor(t, "connection goroutine gone", func() bool {
		ts.srv.mu.Lock()
		defer ts.srv.mu.Unlock()
		return len(ts.srv.mu.conns) == 0
	})
	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= before })
}

// TestClientGoneDuringQuery: a client that closes its socket while a statement
// runs (pgx's way of cancelling) ends the statement long before it would finish.
func TestClientGoneDuringQuery(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.PeerCheckInterval = 50 * time.Millisecond })
	for _, extended := range []bool{false, true} {
		c, err := net.Dial("tcp", ts.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		r := newRawClient(t, c)
		if extended {
			r.send(&pgproto3.Parse{Query: "select pg_sleep(10)"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
		} else {
			r.send(queryMsg("select pg_sleep(10)"))
		}
		<-ts.be.started
		start := time.Now()
		c.Close()
		waitFor(t, "the connection to end", func() bool {
			ts.srv.mu.Lock()
			defer ts.srv.mu.Unlock()
			return len(ts.srv.mu.conns) == 0
		})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("extended=%v: statement ran %v after the client left", extended, d)
		}
	}
}
