package http

// Authentication of HTTP requests by the same hba rules and roles as the
// PostgreSQL port. The rule is picked for the client's address (the TCP peer:
// X-Forwarded-For is never believed), TLS (HTTPS), the user named in the Basic
// credentials (strata when there are none) and database strata:
//
//   - trust: no credentials needed; the role is the Basic user name, or strata;
//   - scram-sha-256, md5, password: HTTP Basic credentials checked against the
//     role's SCRAM verifier. Basic sends the password as it is, so over plain
//     HTTP it is accepted only from a loopback address, and for the password
//     method (cleartext, as on the PostgreSQL port) only over HTTPS;
//   - reject, no matching rule, gss (no SPNEGO here): refused.
//
// Answers: 401 with WWW-Authenticate for missing or wrong credentials
// (SQLSTATE 28P01, PostgreSQL's words, the same for an unknown role), 403 for
// everything credentials cannot fix (28000).

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/xdg-go/scram"

	"github.com/stratadb/strata/internal/pgscram"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/server/hba"
	"github.com/stratadb/strata/sql"
)

// Roles looks up the roles requests authenticate as; *sql.DB implements it.
type Roles interface {
	RoleAuth(name string) (sql.RoleAuth, bool)
}

// httpDatabase is the database requests are matched against (and sessions open).
const httpDatabase = "strata"

// anonymousRole is the role of a request without credentials under trust.
const anonymousRole = "strata"

// authFailure is a refused request.
type authFailure struct {
	status int
	code   string
	msg    string
	why    string // for the log only
}

type authenticator struct {
	log   *slog.Logger
	rules *hba.Rules
	roles Roles // nil: no role catalog; every name is a role without password
}

func newAuthenticator(cfg Config) *authenticator {
	a := &authenticator{log: cfg.Logger, rules: cfg.HBA, roles: cfg.Roles}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.rules == nil {
		a.rules = hba.Default()
	}
	if a.roles == nil && cfg.DB != nil {
		a.roles = cfg.DB
	}
	return a
}

// authenticate returns the role r acts as.
func (a *authenticator) authenticate(r *http.Request) (string, *authFailure) {
	user, f := a.decide(r)
	if f != nil {
		a.log.Info("http: authentication failed", "remote", r.RemoteAddr, "path", r.URL.Path,
			"status", f.status, "sqlstate", f.code, "err", f.msg, "why", f.why)
	}
	return user, f
}

func (a *authenticator) decide(r *http.Request) (string, *authFailure) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	user, password, hasCreds := r.BasicAuth()
	if !hasCreds {
		user = anonymousRole
	}
	hc := hba.Conn{Addr: ip, TLS: r.TLS != nil, User: user, Database: httpDatabase}
	var member hba.Membership
	if m, ok := a.roles.(interface{ IsMemberOf(role, group string) bool }); ok {
		member = m.IsMemberOf
	}
	rule := a.rules.Match(hc, member)
	if rule == nil {
		return "", &authFailure{status: http.StatusForbidden, code: sqlstate.InvalidAuthorizationSpecification, msg: hba.NoEntry(hc)}
	}
	switch rule.Method {
	case hba.Trust:
	case hba.SCRAM, hba.MD5, hba.Password:
		if !hc.TLS && (rule.Method == hba.Password || ip == nil || !ip.IsLoopback()) {
			return "", &authFailure{status: http.StatusForbidden, code: sqlstate.InvalidAuthorizationSpecification,
				msg: fmt.Sprintf("password authentication for user \"%s\" over HTTP requires HTTPS", user),
				why: "rule " + rule.Where()}
		}
		if !hasCreds {
			return "", &authFailure{status: http.StatusUnauthorized, code: sqlstate.InvalidPassword,
				msg: fmt.Sprintf("password authentication failed for user \"%s\"", user), why: "no credentials"}
		}
		if why := a.checkPassword(user, password); why != "" {
			return "", &authFailure{status: http.StatusUnauthorized, code: sqlstate.InvalidPassword,
				msg: fmt.Sprintf("password authentication failed for user \"%s\"", user), why: why}
		}
	case hba.Reject:
		return "", &authFailure{status: http.StatusForbidden, code: sqlstate.InvalidAuthorizationSpecification, msg: hba.Rejected(hc), why: "rule " + rule.Where()}
	case hba.GSS:
		return "", &authFailure{status: http.StatusForbidden, code: sqlstate.InvalidAuthorizationSpecification,
			msg: fmt.Sprintf("GSSAPI authentication failed for user \"%s\"", user),
			why: "rule " + rule.Where() + " uses gss, which HTTP does not offer; use the PostgreSQL protocol"}
	default:
		panic("BUG: hba method " + string(rule.Method) + " has no HTTP implementation")
	}
	if a.roles != nil {
		role, ok := a.roles.RoleAuth(user)
		if !ok {
			return "", &authFailure{status: http.StatusForbidden, code: sqlstate.InvalidAuthorizationSpecification, msg: fmt.Sprintf("role \"%s\" does not exist", user)}
		}
		if !role.Login {
			return "", &authFailure{status: http.StatusForbidden, code: sqlstate.InvalidAuthorizationSpecification, msg: fmt.Sprintf("role \"%s\" is not permitted to log in", user)}
		}
	}
	return user, nil
}

// checkPassword returns why password is not user's ("" when it is). Unknown,
// passwordless and expired roles are checked against mock credentials so that
// every failure costs the same.
func (a *authenticator) checkPassword(user, password string) string {
	cred, why := pgscram.Mock(user), "no role catalog"
	if a.roles != nil {
		role, ok := a.roles.RoleAuth(user)
		switch {
		case !ok:
			why = "role does not exist"
		case role.Verifier == "":
			why = "role has no password"
		case !role.ValidUntil.IsZero() && time.Now().After(role.ValidUntil):
			why = "password expired"
		default:
			var err error
			var c scram.StoredCredentials
			if c, err = pgscram.Parse(role.Verifier); err != nil {
				why = "verifier: " + err.Error()
			} else {
				cred, why = c, ""
			}
		}
	}
	if !pgscram.Check(cred, password) && why == "" {
		why = "wrong password"
	}
	return why
}

// writeAuthFailure answers a refused request in the /v1/sql error form.
func writeAuthFailure(w http.ResponseWriter, f *authFailure) {
	if f.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="strata", charset="UTF-8"`)
	}
	writeError(w, f.status, sqlError{Code: f.code, Message: f.msg})
}

// requireAuth wraps h so that it runs only for authenticated requests.
func (a *authenticator) requireAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, f := a.authenticate(r); f != nil {
			writeAuthFailure(w, f)
			return
		}
		h.ServeHTTP(w, r)
	})
}
