package main

// Authentication and TLS of the real binary (issue 9, parts 2, 3 and 6): the
// flags --hba-file, --password-file, --tls-cert, --tls-key and --http-auth-all,
// driven by psql, pgx and an HTTPS client.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// testPKI is a test certificate authority and a server certificate it signed
// for 127.0.0.1, ::1 and localhost, as PEM files.
type testPKI struct {
	dir               string
	caFile, cert, key string
	pool              *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "strata test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: dir, caFile: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "server.pem"), key: filepath.Join(dir, "server.key"),
		pool: x509.NewCertPool()}
	p.pool.AddCert(caCert)
	write := func(path, typ string, der []byte, mode os.FileMode) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(p.caFile, "CERTIFICATE", caDER, 0o644)
	write(p.cert, "CERTIFICATE", srvDER, 0o644)
	write(p.key, "PRIVATE KEY", keyDER, 0o600)
	return p
}

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
	pki := newTestPKI(t)
	hbaFile := writeFile(t, "pg_hba.conf", "hostssl all all 127.0.0.1/32 scram-sha-256\n")
	pwFile := writeFile(t, "pw", "s3cret-pw\n")
	httpAddr := freeAddr(t)
	s := startStrataOn(t, filepath.Join(t.TempDir(), "data"), freeAddr(t), "--http-addr", httpAddr,
		"--hba-file", hbaFile, "--password-file", pwFile, "--tls-cert", pki.cert, "--tls-key", pki.key)
	host, port := hostPort(s.addr)
	base := "host=" + host + " port=" + port + " dbname=strata connect_timeout=10 "
	verify := base + "sslmode=verify-full sslrootcert=" + pki.caFile

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
	// A client that does not trust the CA refuses the server.
	if out, err := psqlConn(base+"sslmode=verify-full sslrootcert="+writeFile(t, "other.pem", "")+" user=strata", "s3cret-pw", "-c", "SELECT 1"); err == nil {
		t.Errorf("psql trusted a certificate of an unknown CA:\n%s", out)
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool}}}
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
