package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jcmturner/gokrb5/v8/gssapi"

	"github.com/stratadb/strata/internal/krbtest"
	"github.com/stratadb/strata/internal/pgtest"
)

// Kerberos (issue 9 part 4): strata serve --krb-keytab with an hba rule of
// method gss, against a private MIT KDC (internal/krbtest). psql links MIT's
// libgssapi, so the tokens in the psql tests are made and checked by the same
// code every PostgreSQL user's client runs. The attacks psql cannot send (it
// refuses to use an expired ticket, and makes a new authenticator for every
// connection) go through pgx with a GSS provider built on krbtest.Initiator.

const gssService = "postgres/localhost"

// krbUser is the principal (krbUser@STRATA.TEST) the tests log in as. It is
// strata's bootstrap superuser, the one role every data directory has, so
// these tests need no CREATE ROLE; server/gssauth's psql test logs in as a
// role alice. alice here has a ticket and no role.
const krbUser = "strata"

type kerberized struct {
	kdc    *krbtest.KDC
	keytab string // the keytab strata was started with
	strata *strataServer
}

// startKerberized starts a realm with the users strata and alice, a keytab
// for postgres/localhost, and strata serving it with the one hba rule
// "host all all 127.0.0.1/32 gss include_realm=0 krb_realm=STRATA.TEST".
func startKerberized(t *testing.T, extra ...string) *kerberized {
	t.Helper()
	pgtest.Need(t, "psql", "PostgreSQL's client psql")
	k := krbtest.Start(t)
	k.AddUser(t, krbUser, krbUser+"-secret")
	k.AddUser(t, "alice", "alice-secret")
	keytab := k.AddService(t, gssService)
	dir := t.TempDir()
	hbaFile := filepath.Join(dir, "pg_hba.conf")
	hbaText := "host all all 127.0.0.1/32 gss include_realm=0 krb_realm=" + krbtest.Realm + "\n"
	if err := os.WriteFile(hbaFile, []byte(hbaText), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--hba-file", hbaFile, "--krb-keytab", keytab}, extra...)
	s := startStrataOn(t, filepath.Join(dir, "data"), freeAddr(t), args...)
	return &kerberized{kdc: k, keytab: keytab, strata: s}
}

// psqlGSS runs psql as a Kerberos user would: host=localhost names the
// service principal (postgres/localhost), hostaddr keeps the connection on
// 127.0.0.1, gssencmode=disable asks for GSSAPI authentication on a plain
// connection. ccache is the user's credentials cache ("" for none).
func (k *kerberized) psqlGSS(user, ccache, query string) (string, error) {
	return k.psqlGSSAt(k.strata.port(), user, ccache, query)
}

func (k *kerberized) psqlGSSAt(port, user, ccache, query string) (string, error) {
	conn := fmt.Sprintf("host=localhost hostaddr=127.0.0.1 port=%s user=%s dbname=strata krbsrvname=postgres gssencmode=disable sslmode=disable connect_timeout=10",
		port, user)
	cmd := exec.Command("psql", "-X", "-w", "-A", "-t", "-d", conn, "-c", query)
	if ccache == "" {
		ccache = filepath.Join(k.kdc.Dir, "no-such-ccache")
	}
	cmd.Env = k.kdc.Env(ccache)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// kinit returns a credentials cache with a ticket-granting ticket of user and
// its ticket for postgres/localhost.
func (k *kerberized) kinit(t *testing.T, user string, args ...string) string {
	cc := k.kdc.Kinit(t, user, user+"-secret", args...)
	k.kdc.Kvno(t, cc, gssService)
	return cc
}

// kinit, then psql logs in as the principal's user, without a password.
func TestKerberosPsqlLogsIn(t *testing.T) {
	k := startKerberized(t)
	out, err := k.psqlGSS(krbUser, k.kdc.Kinit(t, krbUser, krbUser+"-secret"), "SELECT current_user")
	if err != nil || out != krbUser {
		t.Fatalf("psql: %v\n%s\nKDC log:\n%s", err, out, k.kdc.Log())
	}
}

// The principal names the role: alice's ticket does not log in as strata,
// with 28000 and PostgreSQL's wording; as alice, who has no role, it gets
// PostgreSQL's "role does not exist".
func TestKerberosOtherUsersTicketRefused(t *testing.T) {
	k := startKerberized(t)
	cc := k.kdc.Kinit(t, "alice", "alice-secret")
	out, err := k.psqlGSS(krbUser, cc, "SELECT current_user")
	if err == nil || !strings.Contains(out, `FATAL:  GSSAPI authentication failed for user "strata"`) {
		t.Fatalf("psql as strata with alice's ticket: %v\n%s", err, out)
	}
	out, err = k.psqlGSS("alice", cc, "SELECT current_user")
	if err == nil || !strings.Contains(out, `FATAL:  role "alice" does not exist`) {
		t.Fatalf("psql as alice: %v\n%s", err, out)
	}
	// Once the superuser (logged in with its own ticket) creates the role, alice's
	// ticket logs in as alice, with alice's privileges.
	if out, err := k.psqlGSS(krbUser, k.kdc.Kinit(t, krbUser, krbUser+"-secret"), "CREATE ROLE alice LOGIN"); err != nil {
		t.Fatalf("CREATE ROLE alice: %v\n%s", err, out)
	}
	out, err = k.psqlGSS("alice", cc, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
	if err != nil || out != "alice|f" {
		t.Fatalf("psql as alice after CREATE ROLE: %v\n%s", err, out)
	}
}

// A ticket the server's keytab cannot open (the service was rekeyed at the KDC
// after the keytab was written: kvno 3 against the keytab's 2; or a ticket
// from another realm's KDC for a principal of the same name) is refused with
// 28000: psql shows PostgreSQL's FATAL message.
func TestKerberosWrongTicketRefused(t *testing.T) {
	k := startKerberized(t)
	k.kdc.Keytab(t, gssService) // new keys at the KDC; strata keeps the old keytab
	cc := k.kinit(t, krbUser)
	out, err := k.psqlGSS(krbUser, cc, "SELECT current_user")
	if err == nil || !strings.Contains(out, `FATAL:  GSSAPI authentication failed for user "strata"`) {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if err := k.pgxLogin(t, krbUser, newProvider(t, k, cc)); !isSQLState(err, "28000") {
		t.Fatalf("pgx: %v, want 28000", err)
	}
	if !strings.Contains(k.strata.out.String(), "does not open with the keytab") {
		t.Fatalf("strata's log does not say why:\n%s", k.strata.out)
	}
}

// Without a ticket psql cannot make a token at all; it says so and nothing
// logs in (PostgreSQL behaves the same: the failure is the client's).
func TestKerberosNoTicketRefused(t *testing.T) {
	k := startKerberized(t)
	out, err := k.psqlGSS(krbUser, "", "SELECT current_user")
	if err == nil || !strings.Contains(out, "No Kerberos credentials available") {
		t.Fatalf("psql without a ticket: %v\n%s", err, out)
	}
	// The server is fine afterwards.
	if out, err := k.psqlGSS(krbUser, k.kdc.Kinit(t, krbUser, krbUser+"-secret"), "SELECT 1"); err != nil || out != "1" {
		t.Fatalf("after: %v %q", err, out)
	}
}

// An expired ticket is refused with 28000. psql does not send one (libgssapi
// stops with "Ticket expired", as against PostgreSQL); a client that does —
// pgx here, with a new authenticator for a ticket kinit -l 5s got — is refused
// by strata, whose --krb-clock-skew 1s makes the ticket count as expired one
// second after its end instead of five minutes.
func TestKerberosExpiredTicketRefused(t *testing.T) {
	k := startKerberized(t, "--krb-clock-skew", "1s")
	cc := k.kinit(t, krbUser, "-l", "5s")
	p := newProvider(t, k, cc)
	if err := k.pgxLogin(t, krbUser, p); err != nil {
		t.Fatalf("before the ticket ended: %v", err)
	}
	if d := time.Until(p.i.EndTime); d > 10*time.Second {
		t.Fatalf("kinit -l 5s gave a ticket ending in %v", d)
	} else {
		time.Sleep(d + 1500*time.Millisecond)
	}
	if err := k.pgxLogin(t, krbUser, p); !isSQLState(err, "28000") {
		t.Fatalf("expired ticket: %v, want 28000", err)
	}
	out, err := k.psqlGSS(krbUser, cc, "SELECT current_user")
	if err == nil || !strings.Contains(out, "Ticket expired") {
		t.Fatalf("psql with an expired ticket: %v\n%s", err, out)
	}
}

// A token captured off the wire and sent again (same authenticator) logs in
// once; the replay is refused with 28000.
func TestKerberosReplayRefused(t *testing.T) {
	k := startKerberized(t)
	p := newProvider(t, k, k.kinit(t, krbUser))
	p.replay = true
	if err := k.pgxLogin(t, krbUser, p); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := k.pgxLogin(t, krbUser, p); !isSQLState(err, "28000") {
		t.Fatalf("replayed token: %v, want 28000", err)
	}
}

// gssProvider is a pgconn.GSS from a credentials cache's service ticket.
type gssProvider struct {
	i      *krbtest.Initiator
	replay bool   // send the first token again on every connection
	token  []byte // the first token
}

func newProvider(t *testing.T, k *kerberized, ccache string) *gssProvider {
	i, err := k.kdc.NewInitiator(ccache, gssService)
	if err != nil {
		t.Fatal(err)
	}
	return &gssProvider{i: i}
}

func (p *gssProvider) GetInitToken(host, service string) ([]byte, error) {
	if p.replay && p.token != nil {
		return p.token, nil
	}
	tok, err := p.i.Token(gssapi.ContextFlagMutual)
	if p.token == nil {
		p.token = tok
	}
	return tok, err
}

func (p *gssProvider) GetInitTokenFromSPN(string) ([]byte, error) {
	return nil, errors.New("not used")
}

func (p *gssProvider) Continue(reply []byte) (bool, []byte, error) {
	return true, nil, p.i.CheckReply(reply)
}

// pgconn has one process-wide GSS provider; the tests that set it take turns.
var gssProviderMu sync.Mutex

// pgxLogin connects with pgx through p and runs SELECT current_user.
func (k *kerberized) pgxLogin(t *testing.T, user string, p *gssProvider) error {
	gssProviderMu.Lock()
	defer gssProviderMu.Unlock()
	pgconn.RegisterGSSProvider(func() (pgconn.GSS, error) { return p, nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%s user=%s dbname=strata sslmode=disable krbsrvname=postgres", k.strata.port(), user))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	res := c.ExecParams(ctx, "SELECT current_user", nil, nil, nil, nil).Read()
	if res.Err != nil {
		return res.Err
	}
	if len(res.Rows) != 1 || string(res.Rows[0][0]) != user {
		return fmt.Errorf("logged in as %q, want %s", res.Rows, user)
	}
	return nil
}

func isSQLState(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// A keytab without a postgres/<host> key (or no keytab file) stops strata
// serve at startup, naming what the keytab holds, rather than refusing every
// Kerberos client later.
func TestKerberosKeytabWithoutServiceKey(t *testing.T) {
	k := krbtest.Start(t)
	k.Kadmin(t, "addprinc -randkey HTTP/localhost")
	for kt, want := range map[string]string{
		k.Keytab(t, "HTTP/localhost"):   "no key for a principal postgres/<host>@<REALM> (it holds HTTP/localhost@" + krbtest.Realm + ")",
		filepath.Join(k.Dir, "missing"): "no such file",
	} {
		cmd := exec.Command(strataBin, "serve", "--data-dir", t.TempDir(), "--pg-addr", freeAddr(t), "--http-addr", "", "--krb-keytab", kt)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--krb-keytab: ") || !strings.Contains(string(out), want) {
			t.Fatalf("strata serve --krb-keytab %s: %v\n%s", kt, err, out)
		}
	}
}

// PostgreSQL 15 with the same keytab, pg_hba.conf rule and tickets answers as
// strata does, except where noted: the harness's realm is one PostgreSQL
// itself accepts, and strata's refusals are PostgreSQL's.
func TestKerberosMatchesPostgres(t *testing.T) {
	k := startKerberized(t)
	pg := pgtest.Start(t)
	keytab := postgresReadable(t, k.keytab)
	for _, q := range []string{"ALTER SYSTEM SET krb_server_keyfile = '" + keytab + "'", "CREATE ROLE strata LOGIN", "CREATE DATABASE strata"} {
		if out, err := pg.Psql("-d", "postgres", "-c", q); err != nil {
			t.Fatalf("%s: %v\n%s", q, err, out)
		}
	}
	if err := pg.SetHBA("host all postgres 127.0.0.1/32 trust\n" +
		"host all all 127.0.0.1/32 gss include_realm=0 krb_realm=" + krbtest.Realm + "\n"); err != nil {
		t.Fatal(err)
	}
	pgPort := fmt.Sprint(pg.Port)
	both := func(ccache string) (strata, postgres string) {
		t.Helper()
		s, _ := k.psqlGSS(krbUser, ccache, "SELECT current_user")
		p, _ := k.psqlGSSAt(pgPort, krbUser, ccache, "SELECT current_user")
		// Only the port differs in libpq's "connection to server at" prefix.
		p = strings.ReplaceAll(p, "port "+pgPort, "port "+k.strata.port())
		return s, p
	}

	s, p := both(k.kdc.Kinit(t, krbUser, krbUser+"-secret"))
	if s != krbUser || p != krbUser {
		t.Fatalf("with kinit's ticket: strata %q, PostgreSQL %q", s, p)
	}
	s, p = both("")
	if s != p || !strings.Contains(s, "No Kerberos credentials available") {
		t.Fatalf("without a ticket:\nstrata:     %s\nPostgreSQL: %s", s, p)
	}

	// psql does not send an expired ticket to either.
	expired := k.kdc.Kinit(t, krbUser, krbUser+"-secret", "-l", "2s")
	time.Sleep(3 * time.Second)
	s, p = both(expired)
	if s != p || !strings.Contains(s, "Ticket expired") {
		t.Fatalf("with an expired ticket:\nstrata:     %s\nPostgreSQL: %s", s, p)
	}

	// Where strata differs, on purpose: PostgreSQL hands the client the
	// KRB-ERROR token MIT's acceptor makes before its FATAL, so psql stops at
	// the token ("GSSAPI continuation error: ... Key version is not
	// available") and never shows the FATAL 28000 the server sent. strata
	// sends no error token (it would tell an unauthenticated client which
	// check failed); psql shows the FATAL 28000 PostgreSQL logs.
	k.kdc.Keytab(t, gssService) // both servers now hold an old kvno
	s, p = both(k.kdc.Kinit(t, krbUser, krbUser+"-secret"))
	if !strings.Contains(s, `FATAL:  GSSAPI authentication failed for user "strata"`) || !strings.Contains(p, "Key version is not available") {
		t.Fatalf("ticket for another kvno:\nstrata:     %s\nPostgreSQL: %s", s, p)
	}
}

// postgresReadable copies a file to one the postgres user can read (the test
// KDC's directory is private; tests run as root start PostgreSQL as postgres).
func postgresReadable(t *testing.T, path string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "strata-krb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "postgres.keytab")
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dst).CombinedOutput(); err != nil {
			t.Fatalf("chown postgres: %v\n%s", err, out)
		}
	}
	return dst
}
