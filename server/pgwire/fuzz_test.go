package pgwire

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/stratadb/strata/server/hba"
)

// loopbackConn is one end of a net.Pipe that says it comes from 127.0.0.1, for
// the hba rules.
type loopbackConn struct{ net.Conn }

func (loopbackConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}

func encodeMsgs(msgs ...pgproto3.FrontendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.Encode(b); err != nil {
			panic(err)
		}
	}
	return b
}

// FuzzServerMessages feeds arbitrary bytes to a connection after a valid startup:
// the server must answer, report errors or close, and never panic or hang.
func FuzzServerMessages(f *testing.F) {
	f.Add(encodeMsgs(&pgproto3.Query{String: "select * from items"}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "copy items from stdin"}, &pgproto3.CopyData{Data: []byte("1\ta\nbad\n")}, &pgproto3.CopyDone{}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "copy items from stdin"}, &pgproto3.CopyData{Data: []byte("1\ta\n")}, &pgproto3.Query{String: "x"}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "copy items from stdin"}, &pgproto3.CopyFail{Message: "no"}, &pgproto3.Sync{}))
	f.Add(encodeMsgs(&pgproto3.Parse{Name: "a", Query: echoQuery, ParameterOIDs: []uint32{20, 1700}},
		&pgproto3.Bind{PreparedStatement: "a", ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{0, 0, 0, 0, 0, 0, 0, 1}, {0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, nil, nil, nil, nil, nil, nil}},
		&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{MaxRows: 1}, &pgproto3.Execute{}, &pgproto3.Sync{}))
	f.Add(encodeMsgs(&pgproto3.Parse{Query: "select n from big"}, &pgproto3.Bind{}, &pgproto3.Execute{MaxRows: 5}, &pgproto3.Close{ObjectType: 'S'}, &pgproto3.Flush{}, &pgproto3.Sync{}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "begin"}, &pgproto3.Query{String: "select 1/0"}, &pgproto3.Query{String: "select panic()"}, &pgproto3.Query{String: "commit"}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "select n from huge"}))
	f.Add(encodeMsgs(&pgproto3.Terminate{}))
	f.Add([]byte("Q\x00\x00\x00\x04"))
	f.Add([]byte("Q\x7f\xff\xff\xff"))
	f.Add([]byte("B\x00\x00\x00\x0a\x00\x00\xff\xff\x00\x00"))
	f.Add([]byte("p\x00\x00\x00\x05x"))
	f.Add([]byte{0, 0, 0, 8, 4, 210, 22, 47})
	f.Fuzz(func(t *testing.T, data []byte) {
		be := newFakeBackend()
		be.noSleep = true
		srv := NewServer(be, Options{Split: fakeSplit, MaxMessageSize: 1 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		srv.onPanic = func(v any, stack []byte) { t.Errorf("panic: %v\n%s", v, stack) }
		client, server := net.Pipe()
		c := newConn(srv, loopbackConn{server})
		srv.wg.Add(1)
		done := make(chan struct{})
		go func() {
			srv.serveConn(c)
			close(done)
		}()
		r := newRawClient(t, client)
		drained := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, client)
			close(drained)
		}()
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = client.Write(data)
		// A well-formed Sync after the noise: either the server answers or it
		// already closed; both are fine, hanging is not.
		_, _ = client.Write(encodeMsgs(&pgproto3.Sync{}))
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("server hung on %q", data)
		}
		<-drained
		if n := be.rowsOpen.Load(); n != 0 {
			t.Fatalf("%d Rows left open", n)
		}
		_ = r
	})
}

// FuzzStartupAuth feeds arbitrary bytes to a connection from its first byte:
// startup packet, SSLRequest, and every authentication exchange (SCRAM, the
// password method, GSSAPI with a fake acceptor, trust, reject). The server must
// answer, refuse or close, never panic or hang, and never let a client in
// through a password or GSS rule (no seed or mutation can know the password or
// the nonce).
func FuzzStartupAuth(f *testing.F) {
	startup := func(user string) []byte {
		b, err := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
			Parameters: map[string]string{"user": user, "database": "strata", "application_name": "fuzz"}}).Encode(nil)
		if err != nil {
			panic(err)
		}
		return b
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	f.Add(startup("strata"))
	f.Add(startup("nobody"))
	f.Add(cat(startup("alice"), encodeMsgs(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=abcdef")},
		&pgproto3.SASLResponse{Data: []byte("c=biws,r=abcdef,p=AAAA")})))
	f.Add(cat(startup("alice"), encodeMsgs(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("p=tls-server-end-point,,n=,r=x")})))
	f.Add(cat(startup("alice"), encodeMsgs(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256-PLUS", Data: []byte("y,,n=,r=x")})))
	f.Add(cat(startup("alice"), encodeMsgs(&pgproto3.PasswordMessage{Password: "alice-pw"})))
	f.Add(cat(startup("pw"), encodeMsgs(&pgproto3.PasswordMessage{Password: "alice-pw"})))
	f.Add(cat(startup("kerb"), encodeMsgs(&pgproto3.GSSResponse{Data: []byte("hello")}, &pgproto3.GSSResponse{Data: []byte("principal:kerb@EXAMPLE.COM")})))
	f.Add(cat(startup("kerb"), encodeMsgs(&pgproto3.GSSResponse{Data: []byte("hello")}, &pgproto3.GSSResponse{Data: []byte("principal:alice")})))
	f.Add(cat([]byte{0, 0, 0, 8, 4, 210, 22, 47}, startup("strata"))) // SSLRequest, declined
	f.Add(cat([]byte{0, 0, 0, 8, 4, 210, 22, 48}, startup("strata"))) // GSSENCRequest, declined
	f.Add(cat([]byte{0, 0, 0, 16, 4, 210, 22, 46}, make([]byte, 8)))  // CancelRequest
	f.Add([]byte{0, 0, 0, 9, 0, 3, 0, 0, 0})                          // startup without user
	f.Add(cat(startup("alice"), []byte("p\x00\x00\x00\x04")))
	f.Add(cat(startup("alice"), []byte("p\xff\xff\xff\xff")))
	rules, err := hba.Parse(strings.NewReader(`
host all strata 127.0.0.1/32 trust
host all alice,nobody 127.0.0.1/32 scram-sha-256
host all pw 127.0.0.1/32 password
host all kerb 127.0.0.1/32 gss include_realm=0
host all all 127.0.0.1/32 reject
`), "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	roles := testRoles(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		be := newFakeBackend()
		be.noSleep = true
		srv := NewServer(be, Options{Split: fakeSplit, MaxMessageSize: 1 << 20, HBA: rules, Roles: roles, GSS: fakeGSS{},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		srv.onPanic = func(v any, stack []byte) { t.Errorf("panic: %v\n%s", v, stack) }
		client, server := net.Pipe()
		c := newConn(srv, loopbackConn{server})
		srv.wg.Add(1)
		done := make(chan struct{})
		go func() {
			srv.serveConn(c)
			close(done)
		}()
		var out []byte
		drained := make(chan struct{})
		go func() {
			out, _ = io.ReadAll(client)
			close(drained)
		}()
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = client.Write(data)
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("server hung on %q", data)
		}
		<-drained
		// Only strata (trust) or kerb (the fake GSS token) may get in.
		if u := c.role.Name; u != "" && u != "strata" && u != "kerb" {
			t.Fatalf("%q logged in from %q", u, data)
		}
		_ = out
	})
}
