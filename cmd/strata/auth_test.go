package main

// Authentication and TLS of the real binary (issue 9, parts 2, 3 and 6): the
// flags --hba-file, --password-file, --tls-cert, --tls-key and --http-auth-all,
// driven by psql, pgx and an HTTPS client.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratadb/strata/internal/testpki"
)

// writeFile writes a test input file and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// psqlConn runs psql with a libpq connection string and PGPASSWORD, and
// returns its output and error.
func psqlConn(conninfo, password string, args ...string) (string, error) {
	cmd := exec.Command("psql", append([]string{conninfo, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"}, args...)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestServeTLSAndPasswords runs `strata serve` with an hba file that allows
// only TLS and SCRAM, a superuser password from --password-file, and a
// certificate from a test CA: psql with sslmode=verify-full and the password
// gets in; in the clear, with a wrong password or as an unknown role it does
// not; HTTPS /v1/sql wants the same password.
func TestServeTLSAndPasswords(t *testing.T) {
	pki := testpki.New(t)
	hbaFile := writeFile(t, "pg_hba.conf", "hostssl all all 127.0.0.1/32 scram-sha-256\n")
	pwFile := writeFile(t, "pw", "s3cret-pw\n")
	httpAddr := freeAddr(t)
	s := startStrataOn(t, filepath.Join(t.TempDir(), "data"), freeAddr(t), "--http-addr", httpAddr,
		"--hba-file", hbaFile, "--password-file", pwFile, "--tls-cert", pki.CertFile, "--tls-key", pki.KeyFile)
	host, port := hostPort(s.addr)
	base := "host=" + host + " port=" + port + " dbname=strata connect_timeout=10 "
	verify := base + "sslmode=verify-full sslrootcert=" + pki.CAFile

	if out, err := psqlConn(verify+" user=strata", "s3cret-pw", "-c", "SELECT current_user, 41 + 1"); err != nil || out != "strata|42" {
		t.Fatalf("psql verify-full with the password: %v\n%s", err, out)
	}
	if out, err := psqlConn(base+"sslmode=disable user=strata", "s3cret-pw", "-c", "SELECT 1"); err == nil ||
		!strings.Contains(out, `FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "strata", database "strata", no encryption`) {
		t.Errorf("psql in the clear: %v\n%s", err, out)
	}
	for _, who := range []struct{ user, pw string }{{"strata", "wrong"}, {"nobody", "s3cret-pw"}} {
		if out, err := psqlConn(verify+" user="+who.user, who.pw, "-c", "SELECT 1"); err == nil ||
			!strings.Contains(out, `FATAL:  password authentication failed for user "`+who.user+`"`) {
			t.Errorf("psql as %s with %q: %v\n%s", who.user, who.pw, err, out)
		}
	}
	// strata ingest takes libpq's environment: TLS verified against the CA, the password.
	if out, err := psqlConn(verify+" user=strata", "s3cret-pw", "-c", "CREATE TABLE ev (ts timestamptz NOT NULL, n int)"); err != nil {
		t.Fatalf("create table: %v\n%s", err, out)
	}
	ingest := exec.Command(strataBin, "ingest", "--table", "ev", "--addr", s.addr, writeFile(t, "ev.csv", "ts,n\n2026-01-01 00:00:00+00,1\n2026-01-01 00:00:01+00,2\n"))
	ingest.Env = append(os.Environ(), "PGSSLMODE=verify-full", "PGSSLROOTCERT="+pki.CAFile, "PGPASSWORD=s3cret-pw")
	if out, err := ingest.CombinedOutput(); err != nil {
		t.Errorf("strata ingest over TLS with a password: %v\n%s", err, out)
	} else if out, err := psqlConn(verify+" user=strata", "s3cret-pw", "-c", "SELECT sum(n) FROM ev"); err != nil || out != "3" {
		t.Errorf("after ingest: %v %s", err, out)
	}
	// A client that does not trust the CA refuses the server.
	if out, err := psqlConn(base+"sslmode=verify-full sslrootcert="+writeFile(t, "other.pem", "")+" user=strata", "s3cret-pw", "-c", "SELECT 1"); err == nil {
		t.Errorf("psql trusted a certificate of an unknown CA:\n%s", out)
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.Pool}}}
	post := func(scheme, user, pw, contentType string) (int, string, error) {
		req, _ := http.NewRequest("POST", scheme+"://"+httpAddr+"/v1/sql", strings.NewReader(`{"sql": "SELECT current_user AS u"}`))
		req.Header.Set("Content-Type", contentType)
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if code, body, err := post("https", "strata", "s3cret-pw", "application/json"); err != nil || code != 200 || !strings.Contains(body, `"rows":[["strata"]]`) {
		t.Errorf("HTTPS with the password: %d %s %v", code, body, err)
	}
	if code, body, err := post("https", "", "", "application/json"); err != nil || code != 401 || !strings.Contains(body, "28P01") {
		t.Errorf("HTTPS without credentials: %d %s %v", code, body, err)
	}
	if code, body, err := post("https", "strata", "s3cret-pw", "text/plain"); err != nil || code != 415 {
		t.Errorf("HTTPS text/plain: %d %s %v", code, body, err)
	}
	if code, body, err := post("http", "strata", "s3cret-pw", "application/json"); err == nil && code == 200 {
		t.Errorf("plain HTTP on the TLS port answered: %d %s", code, body)
	}
}

// TestServeDefaultRulesRemote: without --hba-file a client that is not on
// 127.0.0.1 (here 127.0.0.2) must give the superuser's password; until
// --password-file sets one it cannot log in at all. On main it was let in.
func TestServeDefaultRulesRemote(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	connect := func(s *strataServer, from, password string) error {
		cfg, err := pgx.ParseConfig("postgres://strata@" + s.addr + "/strata?sslmode=disable&connect_timeout=10")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Password = password
		cfg.DialFunc = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			c.Close(ctx)
		}
		return err
	}
	wantRefused := func(what string, err error) {
		t.Helper()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" || pe.Message != `password authentication failed for user "strata"` {
			t.Errorf("%s: %v, want 28P01", what, err)
		}
	}
	s := startStrata(t, dataDir)
	if err := connect(s, "127.0.0.1", ""); err != nil {
		t.Fatalf("127.0.0.1 (trust): %v", err)
	}
	wantRefused("127.0.0.2, no password", connect(s, "127.0.0.2", ""))
	wantRefused("127.0.0.2, superuser has no password yet", connect(s, "127.0.0.2", "guess"))
	stopStrata(t, s)

	s = startStrataOn(t, dataDir, freeAddr(t), "--password-file", writeFile(t, "pw", "pa55word"))
	if err := connect(s, "127.0.0.2", "pa55word"); err != nil {
		t.Errorf("127.0.0.2 with the password: %v", err)
	}
	wantRefused("127.0.0.2, wrong password", connect(s, "127.0.0.2", "pa55word!"))
}

// stopStrata stops s before the test ends (to reopen its data directory).
func stopStrata(t *testing.T, s *strataServer) {
	t.Helper()
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// TestServeRoleLogin: a role made with SQL logs in over the PostgreSQL port
// with its password from an address the built-in rules do not trust, and its
// statements obey its privileges; ALTER ROLE changes the password.
func TestServeRoleLogin(t *testing.T) {
	s := startStrata(t, filepath.Join(t.TempDir(), "data"))
	host, port := hostPort(s.addr)
	psql(t, host, port, "strata", "strata", "-c", "CREATE ROLE alice LOGIN PASSWORD 'alice-pw'")
	connect := func(from, user, password string) (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig("postgres://" + s.addr + "/strata?sslmode=disable&connect_timeout=10")
		if err != nil {
			t.Fatal(err)
		}
		cfg.User, cfg.Password = user, password
		cfg.DialFunc = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		return pgx.ConnectConfig(ctx, cfg)
	}
	code := func(err error) string {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pe.Code + " " + pe.Message
		}
		return fmt.Sprint(err)
	}
	c, err := connect("127.0.0.2", "alice", "alice-pw")
	if err != nil {
		t.Fatalf("alice with her password: %v", err)
	}
	ctx := context.Background()
	var who string
	if err := c.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != "alice" {
		t.Errorf("current_user = %q, %v", who, err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE mine (ts timestamptz NOT NULL, x int)"); code(err) != "42501 permission denied for schema public" {
		t.Errorf("CREATE TABLE as alice: %s", code(err))
	}
	c.Close(ctx)
	if _, err := connect("127.0.0.2", "alice", "nope"); code(err) != `28P01 password authentication failed for user "alice"` {
		t.Errorf("wrong password: %s", code(err))
	}
	if _, err := connect("127.0.0.1", "ghost", ""); code(err) != `28000 role "ghost" does not exist` {
		t.Errorf("trust, unknown role: %s", code(err))
	}
	psql(t, host, port, "strata", "strata", "-c", "ALTER ROLE alice PASSWORD 'new-pw'")
	if _, err := connect("127.0.0.2", "alice", "alice-pw"); code(err) != `28P01 password authentication failed for user "alice"` {
		t.Errorf("old password after ALTER ROLE: %s", code(err))
	}
	if c, err := connect("127.0.0.2", "alice", "new-pw"); err != nil {
		t.Errorf("new password: %v", err)
	} else {
		c.Close(ctx)
	}
}

// TestServeRefusesBadSecurityFlags: a rule strata cannot honour, a key without
// its certificate or an empty password file stop the server before it listens.
func TestServeRefusesBadSecurityFlags(t *testing.T) {
	pki := testpki.New(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--hba-file", writeFile(t, "hba", "host all all 10.0.0.0/8 ldap\n")}, `line 1 of configuration file`},
		{[]string{"--hba-file", writeFile(t, "hba", "hostssl all all all scram-sha-256 clientcert=verify-full\n")}, `"clientcert" is not supported`},
		{[]string{"--hba-file", filepath.Join(t.TempDir(), "missing")}, "--hba-file"},
		{[]string{"--tls-key", pki.KeyFile}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", pki.KeyFile, "--tls-key", pki.KeyFile}, "--tls-cert/--tls-key"},
		{[]string{"--password-file", writeFile(t, "pw", "\nsecond line\n")}, "the first line is empty"},
	} {
		args := append([]string{"serve", "--data-dir", filepath.Join(t.TempDir(), "data"), "--pg-addr", freeAddr(t), "--http-addr", ""}, tc.args...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, strataBin, args...).CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: %v\n%s\nwant an error with %q", tc.args, err, out, tc.want)
		}
	}
}

// TestServeReloadsHBAOnHangup: SIGHUP re-reads --hba-file, as pg_ctl reload
// does; a file with an error leaves the previous rules in force.
func TestServeReloadsHBAOnHangup(t *testing.T) {
	hbaFile := writeFile(t, "pg_hba.conf", "host all all 127.0.0.1/32 reject\n")
	s := startStrataOn(t, filepath.Join(t.TempDir(), "data"), freeAddr(t), "--hba-file", hbaFile)
	host, port := hostPort(s.addr)
	conninfo := "host=" + host + " port=" + port + " user=strata dbname=strata sslmode=disable"
	waitLogin := func(wantOK bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, err := psqlConn(conninfo, "", "-c", "SELECT 1")
			if (err == nil) == wantOK {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("login ok=%v, want %v: %s", err == nil, wantOK, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if out, err := psqlConn(conninfo, "", "-c", "SELECT 1"); err == nil || !strings.Contains(out, "pg_hba.conf rejects connection") {
		t.Fatalf("before reload: %v %s", err, out)
	}
	if err := os.WriteFile(hbaFile, []byte("host all all 127.0.0.1/32 trust\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitLogin(true)
	if err := os.WriteFile(hbaFile, []byte("host all all 127.0.0.1/32 reject\nhost all all nowhere.example trust\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(500 * time.Millisecond)
	waitLogin(true)  // the broken file changed nothing
	stopStrata(t, s) // s.out is written by the process until it ends
	if !strings.Contains(s.out.String(), "--hba-file not reloaded") {
		t.Errorf("no log line for the refused reload:\n%s", s.out)
	}
}
