package gssauth

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/stratadb/strata/internal/krbtest"
)

// These tests have libpq's own GSSAPI code (psql linked with MIT's
// libgssapi_krb5) talk to the Acceptor: libgssapi makes the initial context
// token from kinit's ticket, and checks our AP-REP, which libpq asks for
// (GSS_C_MUTUAL_FLAG). They drive only the authentication exchange, through a
// few lines of protocol below; strata's own server is tested the same way in
// cmd/strata.

type authOutcome struct {
	principal string
	err       error
}

// gssOnlyServer answers one PostgreSQL startup with AuthenticationGSS, runs
// the exchange with a new context of a, and then either refuses (28000, as
// PostgreSQL) or sends AuthenticationOk and what psql needs to be ready.
func gssOnlyServer(t *testing.T, a *Acceptor) (port int, outcome <-chan authOutcome) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan authOutcome, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			ch <- authOutcome{err: err}
			return
		}
		defer nc.Close()
		ch <- runGSS(nc, a)
	}()
	return ln.Addr().(*net.TCPAddr).Port, ch
}

func runGSS(nc net.Conn, a *Acceptor) authOutcome {
	be := pgproto3.NewBackend(nc, nc)
	var user string
	for user == "" {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return authOutcome{err: err}
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			nc.Write([]byte{'N'})
		case *pgproto3.StartupMessage:
			user = m.Parameters["user"]
		}
	}
	send := func(msgs ...pgproto3.BackendMessage) error {
		for _, m := range msgs {
			be.Send(m)
		}
		return be.Flush()
	}
	if err := send(&pgproto3.AuthenticationGSS{}); err != nil {
		return authOutcome{err: err}
	}
	be.SetAuthType(pgproto3.AuthTypeGSS)
	ctx := a.NewContext()
	for {
		msg, err := be.Receive()
		if err != nil {
			return authOutcome{err: fmt.Errorf("client went away during the exchange: %w", err)}
		}
		resp, ok := msg.(*pgproto3.GSSResponse)
		if !ok {
			return authOutcome{err: fmt.Errorf("got %T, want GSSResponse", msg)}
		}
		out, done, err := ctx.Step(resp.Data)
		if err != nil {
			send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "28000",
				Message: fmt.Sprintf("GSSAPI authentication failed for user %q", user)})
			return authOutcome{err: err}
		}
		if len(out) > 0 {
			if err := send(&pgproto3.AuthenticationGSSContinue{Data: out}); err != nil {
				return authOutcome{err: err}
			}
		}
		if done {
			break
		}
	}
	err := send(&pgproto3.AuthenticationOk{},
		&pgproto3.ParameterStatus{Name: "server_version", Value: "15.0"},
		&pgproto3.ParameterStatus{Name: "client_encoding", Value: "UTF8"},
		&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}},
		&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err != nil {
		return authOutcome{err: err}
	}
	// psql -c '\echo' sends nothing but Terminate.
	if msg, err := be.Receive(); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return authOutcome{err: err}
	} else if _, ok := msg.(*pgproto3.Terminate); msg != nil && !ok {
		return authOutcome{err: fmt.Errorf("got %T after login, want Terminate", msg)}
	}
	return authOutcome{principal: ctx.Principal()}
}

func needPsql(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("psql"); err != nil {
		msg := "psql not found: install it with apt-get install -y postgresql-client (or run .ci/install-deps)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// psql connects to host localhost (the name libpq asks the KDC a
// postgres/<host> ticket for) at 127.0.0.1:port with the credentials cache
// ccache and prints "connected" once logged in.
func psql(k *krbtest.KDC, port int, ccache string) (string, error) {
	conn := fmt.Sprintf("host=localhost hostaddr=127.0.0.1 port=%d user=alice dbname=strata krbsrvname=postgres gssencmode=disable sslmode=disable connect_timeout=10", port)
	cmd := exec.Command("psql", "-X", "-w", "-d", conn, "-c", `\echo connected`)
	cmd.Env = k.Env(ccache)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// libpq with kinit's ticket: libgssapi accepts our AP-REP (psql would stop
// with "GSSAPI continuation error" otherwise) and the context names alice.
func TestPsqlLogsIn(t *testing.T) {
	needPsql(t)
	r := newRealm(t)
	a := load(t, r.keytab)
	port, outcome := gssOnlyServer(t, a)
	out, err := psql(r.kdc, port, r.kdc.Kinit(t, alice, alicePw))
	got := <-outcome
	if err != nil || out != "connected" {
		t.Fatalf("psql: %v\n%s\nserver: %+v\nKDC log:\n%s", err, out, got, r.kdc.Log())
	}
	if got.err != nil || got.principal != alicePrn {
		t.Fatalf("server: %+v, want principal %s", got, alicePrn)
	}
}

// A ticket for a key the server does not have (the service rekeyed after the
// server's keytab was written) is refused with 28000, and psql shows it.
func TestPsqlWrongKeyRefused(t *testing.T) {
	needPsql(t)
	r := newRealm(t)
	a := load(t, r.keytab)
	r.kdc.Keytab(t, service) // kvno 3 at the KDC, kvno 2 in a
	port, outcome := gssOnlyServer(t, a)
	out, err := psql(r.kdc, port, r.kdc.Kinit(t, alice, alicePw))
	got := <-outcome
	if err == nil || !strings.Contains(out, `GSSAPI authentication failed for user "alice"`) {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if got.err == nil || !strings.Contains(got.err.Error(), "does not open with the keytab") {
		t.Fatalf("server: %+v", got)
	}
}
