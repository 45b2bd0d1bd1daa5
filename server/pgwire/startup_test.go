package pgwire

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

func TestStartupVariants(t *testing.T) {
	ts := startServer(t)

	// Protocol 3.2 is negotiated down to 3.0; startup parameters reach the session;
	// a parameter the session rejects does not fail the connection.
	conn := connect(t, ts, "max_protocol_version=3.2", "application_name=myapp", "bogus_startup=1")
	if got := conn.PgConn().ParameterStatus("application_name"); got != "myapp" {
		t.Errorf("application_name %q", got)
	}
	var one int32
	if err := conn.QueryRow(ctxT(t), "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatal(err)
	}

	dial := func() net.Conn {
		c, err := net.Dial("tcp", ts.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c
	}

	// GSSENCRequest and SSLRequest are both declined with 'N', then startup goes on.
	c := dial()
	for _, code := range []uint32{80877104, 80877103} {
		var req [8]byte
		binary.BigEndian.PutUint32(req[:], 8)
		binary.BigEndian.PutUint32(req[4:], code)
		if _, err := c.Write(req[:]); err != nil {
			t.Fatal(err)
		}
		var ans [1]byte
		if _, err := io.ReadFull(c, ans[:]); err != nil || ans[0] != 'N' {
			t.Fatalf("answer to %d: %q %v", code, ans, err)
		}
	}
	r := newRawClient(t, c)
	r.send(queryMsg("select 1"))
	if got := r.until(); got != "T(?column?:23:0) D(1) C(SELECT 1) Z(I)" {
		t.Errorf("after declined encryption: %s", got)
	}

	// No user name: FATAL 28000.
	c = dial()
	fe := pgproto3.NewFrontend(c, c)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"database": "x"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	m, err := fe.Receive()
	if e, ok := m.(*pgproto3.ErrorResponse); err != nil || !ok || e.Code != "28000" || e.Severity != "FATAL" {
		t.Errorf("no user: %#v %v", m, err)
	}

	// Garbage instead of a startup packet: FATAL 08P01 and close.
	c = dial()
	if _, err := c.Write([]byte{0, 0, 0, 8, 0, 9, 0, 9}); err != nil {
		t.Fatal(err)
	}
	fe = pgproto3.NewFrontend(c, c)
	m, err = fe.Receive()
	if e, ok := m.(*pgproto3.ErrorResponse); err != nil || !ok || e.Code != "08P01" {
		t.Errorf("bad startup: %#v %v", m, err)
	}
	if _, err := fe.Receive(); err == nil {
		t.Error("connection still open after a bad startup packet")
	}

	// A raw 3.2 startup gets NegotiateProtocolVersion (newest minor 0) first.
	c = dial()
	fe = pgproto3.NewFrontend(c, c)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32, Parameters: map[string]string{"user": "u", "_pq_.x": "1"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	m, err = fe.Receive()
	if n, ok := m.(*pgproto3.NegotiateProtocolVersion); err != nil || !ok || n.NewestMinorProtocol != 0 || len(n.UnrecognizedOptions) != 1 || n.UnrecognizedOptions[0] != "_pq_.x" {
		t.Errorf("3.2 startup: %#v %v", m, err)
	}
	if m, err = fe.Receive(); err != nil {
		t.Fatal(err)
	} else if _, ok := m.(*pgproto3.AuthenticationOk); !ok {
		t.Errorf("after negotiation: %#v", m)
	}

	// An unknown message type after startup: FATAL 08P01 and close.
	c = dial()
	r = newRawClient(t, c)
	if _, err := c.Write([]byte{'!', 0, 0, 0, 4}); err != nil {
		t.Fatal(err)
	}
	m, err = r.fe.Receive()
	if e, ok := m.(*pgproto3.ErrorResponse); err != nil || !ok || e.Code != "08P01" || e.Severity != "FATAL" {
		t.Errorf("unknown message: %#v %v", m, err)
	}
}

func TestParameterStatusOverride(t *testing.T) {
	ts := startServer(t, func(o *Options) {
		o.ParameterStatus = map[string]string{"server_version": "15.18 (custom)", "strata_extra": "yes"}
	})
	pc := connect(t, ts).PgConn()
	if got := pc.ParameterStatus("server_version"); got != "15.18 (custom)" {
		t.Errorf("server_version %q", got)
	}
	if got := pc.ParameterStatus("strata_extra"); got != "yes" {
		t.Errorf("strata_extra %q", got)
	}
	if got := pc.ParameterStatus("server_encoding"); got != "UTF8" {
		t.Errorf("server_encoding %q", got)
	}
}
