package main

// Authentication and TLS of `strata serve` (issue 9, parts 2, 3 and 6): the
// flags, and what they turn into for the PostgreSQL and HTTP servers.

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/stratadb/strata/server/hba"
	"github.com/stratadb/strata/sql"
)

type authFlags struct {
	hbaFile      string
	passwordFile string
	tlsCert      string
	tlsKey       string
	httpAuthAll  bool
}

func (a *authFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.hbaFile, "hba-file", "", "authentication rules in pg_hba.conf syntax for the PostgreSQL and HTTP ports (default: trust from 127.0.0.1 and ::1, scram-sha-256 from anywhere else)")
	fs.StringVar(&a.passwordFile, "password-file", "", "file whose first line becomes the password of the superuser strata when it has none (like initdb --pwfile)")
	fs.StringVar(&a.tlsCert, "tls-cert", "", "PEM certificate (with its chain) for TLS on the PostgreSQL port (SSLRequest) and HTTPS")
	fs.StringVar(&a.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.BoolVar(&a.httpAuthAll, "http-auth-all", false, "require authentication for /healthz, /readyz and /metrics too (always required for /v1/sql)")
}

// authSetup is what the flags give the servers.
type authSetup struct {
	rules *hba.Rules
	tls   *tls.Config // nil: no TLS
	gss   bool        // --krb-keytab was given
}

// warn logs the rules that can never match.
func (s *authSetup) warn(log *slog.Logger) {
	for _, r := range s.rules.List() {
		if r.Type == hba.HostSSL && s.tls == nil {
			log.Warn("hba rule needs TLS, but no --tls-cert is given: it matches no connection", "rule", r.Where())
		}
		if r.Method == hba.GSS && !s.gss {
			log.Warn("hba rule uses gss, but no --krb-keytab is given: it refuses every connection it matches", "rule", r.Where())
		}
		if r.Type == hba.Local {
			log.Warn("hba local rule ignored: strata listens on TCP only", "rule", r.Where())
		}
	}
}

// reloadOnHangup re-reads the hba file on SIGHUP, as PostgreSQL does on
// pg_ctl reload: new connections follow the new rules; a file with an error
// leaves the previous rules in force. It returns when ctx ends.
func (a *authFlags) reloadOnHangup(ctx context.Context, s *authSetup, log *slog.Logger) {
	if a.hbaFile == "" {
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		rs, err := hba.ParseFile(a.hbaFile)
		if err != nil {
			log.Error("SIGHUP: --hba-file not reloaded; the previous rules stay in force", "err", err)
			continue
		}
		s.rules.Replace(rs)
		s.warn(log)
		log.Info("SIGHUP: --hba-file reloaded", "file", a.hbaFile, "rules", len(rs.List()))
	}
}

// setup reads the hba file, the certificate and the password file, and sets the
// superuser's password. It refuses to start on anything it cannot honour.
func (a *authFlags) setup(db *sql.DB, pgAddr string, gss bool, log *slog.Logger) (*authSetup, error) {
	s := &authSetup{rules: hba.Default(), gss: gss}
	if a.hbaFile != "" {
		rs, err := hba.ParseFile(a.hbaFile)
		if err != nil {
			return nil, fmt.Errorf("--hba-file: %w", err)
		}
		s.rules = rs
	}
	switch {
	case (a.tlsCert == "") != (a.tlsKey == ""):
		return nil, errors.New("--tls-cert and --tls-key go together")
	case a.tlsCert != "":
		cert, err := tls.LoadX509KeyPair(a.tlsCert, a.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	s.warn(log)
	if a.passwordFile != "" {
		b, err := os.ReadFile(a.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
		pw, _, _ := strings.Cut(string(b), "\n")
		pw = strings.TrimSuffix(pw, "\r")
		if pw == "" {
			return nil, fmt.Errorf("--password-file %s: the first line is empty", a.passwordFile)
		}
		if err := db.InitSuperuserPassword(pw); err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
	}
	if host, _, err := net.SplitHostPort(pgAddr); err == nil {
		ip := net.ParseIP(host)
		if role, ok := db.RoleAuth("strata"); ok && role.Verifier == "" && (ip == nil || !ip.IsLoopback()) {
			log.Warn("the superuser strata has no password: clients that the hba rules ask for one cannot log in as strata; set one with --password-file or ALTER ROLE strata PASSWORD", "pg_addr", pgAddr)
		}
	}
	return s, nil
}
