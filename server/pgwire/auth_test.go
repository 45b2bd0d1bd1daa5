package pgwire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/stratadb/strata/internal/pgscram"
	"github.com/stratadb/strata/internal/pgtest"
	"github.com/stratadb/strata/server/hba"
	"github.com/stratadb/strata/sql"
)

// fakeRoles is a role catalog: roles by name and who is a member of whom.
type fakeRoles struct {
	mu      sync.Mutex
	roles   map[string]sql.RoleAuth
	members map[string][]string // group -> members
}

func (r *fakeRoles) RoleAuth(name string) (sql.RoleAuth, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ra, ok := r.roles[name]
	return ra, ok
}

func (r *fakeRoles) IsMemberOf(role, group string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.members[group] {
		if m == role {
			return true
		}
	}
	return false
}

func verifier(t testing.TB, password string) string {
	t.Helper()
	v, err := pgscram.Verifier(password)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// testRoles: strata (superuser, no password), alice (password alice-pw), bob
// (NOLOGIN, bob-pw), old (expired), nopw (no password), carol (member of
// analysts, carol-pw), analysts (NOLOGIN group), and the Kerberos users
// "kerb" and "kerb@EXAMPLE.COM".
func testRoles(t testing.TB) *fakeRoles {
	return &fakeRoles{
		roles: map[string]sql.RoleAuth{
			"strata":           {Name: "strata", Login: true, Superuser: true},
			"alice":            {Name: "alice", Login: true, Verifier: verifier(t, "alice-pw")},
			"bob":              {Name: "bob", Verifier: verifier(t, "bob-pw")},
			"old":              {Name: "old", Login: true, Verifier: verifier(t, "old-pw"), ValidUntil: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
			"nopw":             {Name: "nopw", Login: true},
			"carol":            {Name: "carol", Login: true, Verifier: verifier(t, "carol-pw")},
			"analysts":         {Name: "analysts"},
			"kerb":             {Name: "kerb", Login: true},
			"kerb@EXAMPLE.COM": {Name: "kerb@EXAMPLE.COM", Login: true},
		},
		members: map[string][]string{"analysts": {"carol"}},
	}
}

// authServer starts a server with the hba rules text ("" for the built-in ones)
// and testRoles.
func authServer(t testing.TB, rules string, configure ...func(*Options)) *testServer {
	t.Helper()
	roles := testRoles(t)
	return startServer(t, append([]func(*Options){func(o *Options) {
		o.Roles = roles
		if rules != "" {
			rs, err := hba.Parse(strings.NewReader(rules), "test_hba.conf")
			if err != nil {
				t.Fatal(err)
			}
			o.HBA = rs
		}
	}}, configure...)...)
}

// login connects as user with password ("" for none) from the local address
// from ("" for any), with extra connection parameters, and returns pgx's error.
func login(t testing.TB, ts *testServer, from, user, password string, params ...string) error {
	t.Helper()
	u := url.URL{Scheme: "postgres", Host: ts.addr.String(), Path: "/strata", User: url.User(user)}
	if password != "" {
		u.User = url.UserPassword(user, password)
	}
	q := "sslmode=disable"
	if len(params) > 0 {
		q = strings.Join(params, "&")
	}
	u.RawQuery = q + "&connect_timeout=5"
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		t.Fatal(err)
	}
	if from != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		cfg.DialFunc = d.DialContext
	}
	if cfg.TLSConfig != nil {
		cfg.TLSConfig.InsecureSkipVerify = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var one int32
	if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil {
		return fmt.Errorf("connected, but select 1: %w", err)
	}
	return nil
}

// wantFatal checks that err is a FATAL with code and message.
func wantFatal(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Errorf("%s: %v, want FATAL %s %q", what, err, code, msg)
		return
	}
	if pe.Severity != "FATAL" || pe.Code != code || pe.Message != msg {
		t.Errorf("%s: %s %s %q, want FATAL %s %q", what, pe.Severity, pe.Code, pe.Message, code, msg)
	}
}

// TestAuthDefaultRules: without --hba-file a client from an address other than
// 127.0.0.1 must give a password (127.0.0.2 is not in the trust rule, although
// Linux routes it over loopback). On main every connection was trusted.
func TestAuthDefaultRules(t *testing.T) {
	ts := authServer(t, "")
	if err := login(t, ts, "127.0.0.1", "strata", ""); err != nil {
		t.Fatalf("loopback trust: %v", err)
	}
	wantFatal(t, "127.0.0.2 without password", login(t, ts, "127.0.0.2", "strata", ""),
		"28P01", `password authentication failed for user "strata"`)
	wantFatal(t, "127.0.0.2 as strata (no password set) with a guess", login(t, ts, "127.0.0.2", "strata", "strata"),
		"28P01", `password authentication failed for user "strata"`)
	if err := login(t, ts, "127.0.0.2", "alice", "alice-pw"); err != nil {
		t.Errorf("127.0.0.2 with alice's password: %v", err)
	}
}

// TestAuthPasswordFailures: every way a SCRAM login can fail gives the same
// 28P01 and words (PostgreSQL 15 prints exactly these, see
// TestAuthMatchesPostgres), after a full exchange.
func TestAuthPasswordFailures(t *testing.T) {
	ts := authServer(t, "host all all 127.0.0.1/32 scram-sha-256\n")
	if err := login(t, ts, "", "alice", "alice-pw"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, tc := range []struct{ what, user, password string }{
		{"wrong password", "alice", "alice-pw2"},
		{"no password", "alice", ""},
		{"unknown role", "mallory", "alice-pw"},
		{"role without a password", "nopw", "anything"},
		{"expired password", "old", "old-pw"},
		{"NOLOGIN role, wrong password", "bob", "nope"},
	} {
		wantFatal(t, tc.what, login(t, ts, "", tc.user, tc.password),
			"28P01", fmt.Sprintf("password authentication failed for user \"%s\"", tc.user))
	}
	// PostgreSQL checks LOGIN after authentication: with the right password a
	// NOLOGIN role hears why.
	wantFatal(t, "NOLOGIN role, right password", login(t, ts, "", "bob", "bob-pw"), "28000", `role "bob" is not permitted to log in`)
}

// TestAuthUnknownRoleIndistinguishable: for an unknown role the server runs the
// same SCRAM exchange as for a real one (same messages, a salt that does not
// change between attempts, 4096 iterations) and only fails at the end, like a
// wrong password.
func TestAuthUnknownRoleIndistinguishable(t *testing.T) {
	ts := authServer(t, "host all all 127.0.0.1/32 scram-sha-256\n")
	first := func(user string) (mech []string, serverFirst string) {
		c, err := net.Dial("tcp", ts.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fe := pgproto3.NewFrontend(c, c)
		fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": user}})
		fe.Flush()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		sasl, ok := m.(*pgproto3.AuthenticationSASL)
		if !ok {
			t.Fatalf("%s: got %T, want AuthenticationSASL", user, m)
		}
		fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=clientnonce")})
		fe.Flush()
		m, err = fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		cont, ok := m.(*pgproto3.AuthenticationSASLContinue)
		if !ok {
			t.Fatalf("%s: got %T, want AuthenticationSASLContinue", user, m)
		}
		return sasl.AuthMechanisms, string(cont.Data)
	}
	saltOf := func(serverFirst string) (salt, iters string) {
		for _, f := range strings.Split(serverFirst, ",") {
			if v, ok := strings.CutPrefix(f, "s="); ok {
				salt = v
			}
			if v, ok := strings.CutPrefix(f, "i="); ok {
				iters = v
			}
		}
		return
	}
	m1, s1 := first("mallory")
	_, s2 := first("mallory")
	m3, s3 := first("alice")
	salt1, it1 := saltOf(s1)
	salt2, _ := saltOf(s2)
	salt3, it3 := saltOf(s3)
	if fmt.Sprint(m1) != "[SCRAM-SHA-256]" || fmt.Sprint(m1) != fmt.Sprint(m3) {
		t.Errorf("mechanisms %v and %v", m1, m3)
	}
	if salt1 == "" || salt1 != salt2 || len(salt1) != len(salt3) || it1 != "4096" || it1 != it3 {
		t.Errorf("unknown role's exchange differs from a real one: %q, %q vs %q", s1, s2, s3)
	}
}

// TestAuthTrust: trust lets a role in without a password; a role that does not
// exist or may not log in is refused with PostgreSQL's words.
func TestAuthTrust(t *testing.T) {
	ts := authServer(t, "host all all 127.0.0.1/32 trust\n")
	if err := login(t, ts, "", "alice", ""); err != nil {
		t.Fatalf("trust: %v", err)
	}
	wantFatal(t, "unknown role", login(t, ts, "", "ghost", ""), "28000", `role "ghost" does not exist`)
	wantFatal(t, "NOLOGIN role", login(t, ts, "", "analysts", ""), "28000", `role "analysts" is not permitted to log in`)
}

// TestAuthRejectAndNoEntry: reject rules and connections no rule matches are
// refused with 28000, and the first matching rule wins.
func TestAuthRejectAndNoEntry(t *testing.T) {
	ts := authServer(t, `
host all alice 127.0.0.1/32 reject
host all all   127.0.0.1/32 trust
host all carol 127.0.0.1/32 reject
host other all 127.0.0.2/32 trust
`)
	host := ts.addr.IP.String()
	wantFatal(t, "reject", login(t, ts, "", "alice", "alice-pw"), "28000",
		`pg_hba.conf rejects connection for host "`+host+`", user "alice", database "strata", no encryption`)
	if err := login(t, ts, "", "carol", ""); err != nil {
		t.Errorf("carol: the trust rule comes first: %v", err)
	}
	wantFatal(t, "no entry", login(t, ts, "127.0.0.2", "carol", ""), "28000",
		`no pg_hba.conf entry for host "127.0.0.2", user "carol", database "strata", no encryption`)
}

// TestAuthHostSSL: hostssl rules need TLS: without it nothing matches.
func TestAuthHostSSL(t *testing.T) {
	ts := authServer(t, "hostssl all all 127.0.0.1/32 scram-sha-256\n", func(o *Options) { o.TLSConfig = selfSigned(t) })
	wantFatal(t, "plain", login(t, ts, "", "alice", "alice-pw"), "28000",
		`no pg_hba.conf entry for host "127.0.0.1", user "alice", database "strata", no encryption`)
	if err := login(t, ts, "", "alice", "alice-pw", "sslmode=require"); err != nil {
		t.Errorf("TLS: %v", err)
	}
	wantFatal(t, "TLS, wrong password", login(t, ts, "", "alice", "x", "sslmode=require"), "28P01", `password authentication failed for user "alice"`)
}

// TestAuthCleartextPasswordNeedsTLS: the password method never asks for a
// password on a plain connection (the client never sends it); over TLS it checks
// the password against the verifier.
func TestAuthCleartextPasswordNeedsTLS(t *testing.T) {
	ts := authServer(t, "host all all 127.0.0.1/32 password\n", func(o *Options) { o.TLSConfig = selfSigned(t) })

	c, err := net.Dial("tcp", ts.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fe := pgproto3.NewFrontend(c, c)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "alice"}})
	fe.Flush()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	m, err := fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	e, ok := m.(*pgproto3.ErrorResponse)
	if !ok || e.Code != "28000" || e.Message != `password authentication for user "alice" requires an SSL connection` {
		t.Errorf("plain connection: %#v, want FATAL 28000 before any password request", m)
	}

	if err := login(t, ts, "", "alice", "alice-pw", "sslmode=require"); err != nil {
		t.Errorf("TLS, right password: %v", err)
	}
	for _, tc := range []struct{ user, pw string }{{"alice", "wrong"}, {"mallory", "x"}, {"nopw", "x"}, {"old", "old-pw"}} {
		wantFatal(t, tc.user+" over TLS", login(t, ts, "", tc.user, tc.pw, "sslmode=require"), "28P01",
			fmt.Sprintf("password authentication failed for user \"%s\"", tc.user))
	}
}

// TestAuthRoleMembership: "+group" rules admit the group's members.
func TestAuthRoleMembership(t *testing.T) {
	ts := authServer(t, "host all +analysts 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 reject\n")
	if err := login(t, ts, "", "carol", ""); err != nil {
		t.Errorf("member: %v", err)
	}
	wantFatal(t, "not a member", login(t, ts, "", "alice", ""), "28000",
		`pg_hba.conf rejects connection for host "127.0.0.1", user "alice", database "strata", no encryption`)
}

// TestAuthChannelBindingRefused: strata offers SCRAM-SHA-256 only; a client
// that insists on channel binding is told so, as PostgreSQL tells it.
func TestAuthChannelBindingRefused(t *testing.T) {
	ts := authServer(t, "host all all 127.0.0.1/32 scram-sha-256\n")
	for _, tc := range []struct {
		mech, data, msg, detail string
	}{
		{"SCRAM-SHA-256", "p=tls-server-end-point,,n=,r=abc", "malformed SCRAM message",
			"The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data."},
		{"SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc", "client selected an invalid SASL authentication mechanism", ""},
		{"SCRAM-SHA-256", "garbage", "malformed SCRAM message", "not enough fields in first server message"},
	} {
		c, err := net.Dial("tcp", ts.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		fe := pgproto3.NewFrontend(c, c)
		fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "alice"}})
		fe.Flush()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if m, err := fe.Receive(); err != nil {
			t.Fatal(err)
		} else if _, ok := m.(*pgproto3.AuthenticationSASL); !ok {
			t.Fatalf("got %T", m)
		}
		fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: tc.mech, Data: []byte(tc.data)})
		fe.Flush()
		m, err := fe.Receive()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		e, ok := m.(*pgproto3.ErrorResponse)
		if !ok || e.Severity != "FATAL" || e.Code != "08P01" || e.Message != tc.msg || e.Detail != tc.detail {
			t.Errorf("%s %q: %#v, want 08P01 %q", tc.mech, tc.data, m, tc.msg)
		}
	}
	// pgx with channel_binding=require gives up on its own: the server never
	// offers SCRAM-SHA-256-PLUS.
	if err := login(t, ts, "", "alice", "alice-pw", "sslmode=disable", "channel_binding=require"); err == nil {
		t.Error("channel_binding=require connected")
	}
}

// TestAuthClientLeaves: a client that closes the connection at the password
// prompt (psql does, to ask its user) is let go quietly and the server serves on.
func TestAuthClientLeaves(t *testing.T) {
	ts := authServer(t, "host all all 127.0.0.1/32 scram-sha-256\n")
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", ts.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		fe := pgproto3.NewFrontend(c, c)
		fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "alice"}})
		fe.Flush()
		if _, err := fe.Receive(); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			fe.Send(&pgproto3.Terminate{})
			fe.Flush()
		}
		c.Close()
	}
	waitFor(t, "connections closed", func() bool { return ts.srv.Conns() == 0 })
	if err := login(t, ts, "", "alice", "alice-pw"); err != nil {
		t.Error(err)
	}
}

// fakeGSS is a GSSAPI acceptor whose tokens are "hello" then "principal:NAME";
// it answers "continue" to the first and "ok" to the second.
type fakeGSS struct{}

type fakeGSSContext struct {
	step      int
	principal string
}

func (fakeGSS) NewContext() GSSContext { return &fakeGSSContext{} }

func (c *fakeGSSContext) Step(token []byte) ([]byte, bool, error) {
	c.step++
	switch {
	case c.step == 1 && string(token) == "hello":
		return []byte("continue"), false, nil
	case c.step == 2 && strings.HasPrefix(string(token), "principal:"):
		c.principal = strings.TrimPrefix(string(token), "principal:")
		return []byte("ok"), true, nil
	}
	return nil, false, errors.New("defective token")
}

func (c *fakeGSSContext) Principal() string { return c.principal }

// gssLogin runs the GSSAPI exchange by hand and returns the server's last
// message: AuthenticationOk's ReadyForQuery, or the ErrorResponse.
func gssLogin(t *testing.T, ts *testServer, user string, tokens ...string) pgproto3.BackendMessage {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fe := pgproto3.NewFrontend(c, c)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": user}})
	fe.Flush()
	var got []string
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		switch m := m.(type) {
		case *pgproto3.AuthenticationGSS:
			got = append(got, "GSS")
		case *pgproto3.AuthenticationGSSContinue:
			got = append(got, "GSSContinue:"+string(m.Data))
			if string(m.Data) == "ok" {
				continue
			}
		case *pgproto3.ReadyForQuery, *pgproto3.ErrorResponse:
			return m
		default:
			continue
		}
		if len(tokens) == 0 {
			t.Fatalf("server wants more tokens after %v", got)
		}
		fe.Send(&pgproto3.GSSResponse{Data: []byte(tokens[0])})
		fe.Flush()
		tokens = tokens[1:]
	}
}

// TestAuthGSS: the gss method's message loop and the mapping of the principal
// to the role name (include_realm, krb_realm), with a fake acceptor.
func TestAuthGSS(t *testing.T) {
	rules := `
host all kerb             127.0.0.1/32 gss include_realm=0 krb_realm=EXAMPLE.COM
host all kerb@EXAMPLE.COM 127.0.0.1/32 gss
host all all              127.0.0.1/32 gss include_realm=0
`
	ts := authServer(t, rules, func(o *Options) { o.GSS = fakeGSS{} })
	ok := func(what, user, principal string) {
		t.Helper()
		if m := gssLogin(t, ts, user, "hello", "principal:"+principal); fmt.Sprintf("%T", m) != "*pgproto3.ReadyForQuery" {
			t.Errorf("%s: %#v", what, m)
		}
	}
	refused := func(what, user, code, msg string, tokens ...string) {
		t.Helper()
		e, isErr := gssLogin(t, ts, user, tokens...).(*pgproto3.ErrorResponse)
		if !isErr || e.Code != code || e.Message != msg {
			t.Errorf("%s: %#v, want %s %q", what, e, code, msg)
		}
	}
	failed := func(u string) string { return fmt.Sprintf("GSSAPI authentication failed for user \"%s\"", u) }
	ok("include_realm=0, realm checked", "kerb", "kerb@EXAMPLE.COM")
	refused("wrong realm", "kerb", "28000", failed("kerb"), "hello", "principal:kerb@EVIL.COM")
	ok("include_realm=1", "kerb@EXAMPLE.COM", "kerb@EXAMPLE.COM")
	refused("include_realm=1, other principal", "kerb@EXAMPLE.COM", "28000", failed("kerb@EXAMPLE.COM"), "hello", "principal:alice@EXAMPLE.COM")
	refused("principal of another user", "alice", "28000", failed("alice"), "hello", "principal:kerb@EXAMPLE.COM")
	refused("defective token", "kerb", "28000", failed("kerb"), "bogus")
	refused("authenticated, but no such role", "ghost", "28000", `role "ghost" does not exist`, "hello", "principal:ghost@OTHER.ORG")

	// Without an acceptor a gss rule refuses everybody.
	ts2 := authServer(t, rules)
	if e, isErr := gssLogin(t, ts2, "kerb").(*pgproto3.ErrorResponse); !isErr || e.Code != "28000" || e.Message != failed("kerb") {
		t.Errorf("no acceptor: %#v", e)
	}
}

// TestAuthMessagesOverTLS: messages name the encryption as PostgreSQL 15's do.
func TestAuthMessagesOverTLS(t *testing.T) {
	ts := authServer(t, "host all alice 127.0.0.1/32 reject\n", func(o *Options) { o.TLSConfig = selfSigned(t) })
	wantFatal(t, "reject over TLS", login(t, ts, "", "alice", "", "sslmode=require"), "28000",
		`pg_hba.conf rejects connection for host "127.0.0.1", user "alice", database "strata", SSL encryption`)
}

// TestAuthMatchesPostgres runs the same logins against PostgreSQL 15 with the
// same pg_hba.conf and roles, and against strata: every refusal must carry the
// same severity, SQLSTATE and message, and the same logins must succeed.
func TestAuthMatchesPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	rules := `host all postgres 127.0.0.1/32 trust
host all rejectme 127.0.0.1/32 reject
host all trustme,nologin_t,ghost 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
`
	if out, err := pg.Psql("-d", "postgres", "-c", `CREATE ROLE rejectme LOGIN; CREATE ROLE trustme LOGIN; CREATE ROLE nologin_t;
		CREATE ROLE alice LOGIN PASSWORD 'alice-pw'; CREATE ROLE bob PASSWORD 'bob-pw';
		CREATE ROLE old LOGIN PASSWORD 'old-pw' VALID UNTIL '2000-01-01'; CREATE ROLE nopw LOGIN`, "-c", "CREATE DATABASE strata"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := pg.SetHBA(rules); err != nil {
		t.Fatal(err)
	}
	roles := &fakeRoles{roles: map[string]sql.RoleAuth{
		"rejectme":  {Name: "rejectme", Login: true},
		"trustme":   {Name: "trustme", Login: true},
		"nologin_t": {Name: "nologin_t"},
		"alice":     {Name: "alice", Login: true, Verifier: verifier(t, "alice-pw")},
		"bob":       {Name: "bob", Verifier: verifier(t, "bob-pw")},
		"old":       {Name: "old", Login: true, Verifier: verifier(t, "old-pw"), ValidUntil: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"nopw":      {Name: "nopw", Login: true},
	}}
	rs, err := hba.Parse(strings.NewReader(rules), "pg_hba.conf")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(o *Options) { o.Roles, o.HBA = roles, rs })
	pgServer := &testServer{addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: pg.Port}}

	describe := func(err error) string {
		var pe *pgconn.PgError
		if err == nil {
			return "ok"
		}
		if errors.As(err, &pe) {
			return pe.Severity + " " + pe.Code + " " + pe.Message
		}
		return "not a server error: " + err.Error()
	}
	for _, tc := range []struct{ from, user, password string }{
		{"", "rejectme", ""},
		{"", "trustme", ""},
		{"", "nologin_t", ""},
		{"", "ghost", ""},
		{"", "alice", "alice-pw"},
		{"", "alice", "wrong"},
		{"", "mallory", "alice-pw"},
		{"", "bob", "bob-pw"},
		{"", "bob", "wrong"},
		{"", "old", "old-pw"},
		{"", "nopw", "x"},
		{"127.0.0.2", "alice", "alice-pw"},
	} {
		want := describe(login(t, pgServer, tc.from, tc.user, tc.password))
		got := describe(login(t, ts, tc.from, tc.user, tc.password))
		if strings.Contains(want, "not a server error") {
			t.Fatalf("PostgreSQL: %s", want)
		}
		if got != want {
			t.Errorf("%s@%s with %q:\nstrata:     %s\nPostgreSQL: %s", tc.user, tc.from, tc.password, got, want)
		}
	}
}
