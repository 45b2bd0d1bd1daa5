package pgwire

// Authentication, as PostgreSQL's ClientAuthentication does it: the first hba
// rule that matches the connection picks the method (Options.HBA, default
// hba.Default()); trust and reject decide at once; scram-sha-256 (and md5, which
// runs SCRAM against a SCRAM verifier as PostgreSQL does) runs a SASL exchange;
// password asks for the cleartext password, and only over TLS; gss runs the
// GSSAPI exchange with Options.GSS. After a method succeeds the role must exist
// and may log in, checked as PostgreSQL's InitializeSessionUserId does.
//
// Failures answer PostgreSQL 15's SQLSTATEs and words. A scram or password
// failure is always 28P01 `password authentication failed for user "x"`,
// whatever the cause (unknown role, no password, expired password, wrong
// password): an unknown role runs the whole exchange against mock credentials
// (pgscram.Mock), so neither the answer nor its timing tells the difference.

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/stratadb/strata/internal/pgscram"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/server/hba"
	"github.com/stratadb/strata/sql"
)

// Roles looks up the roles clients log in as; *sql.DB implements it.
type Roles interface {
	RoleAuth(name string) (sql.RoleAuth, bool)
}

// RoleMembership, when the Roles implements it, answers the "+role" and
// samerole hba rules: whether role is a member of group, directly or not.
// Without it a role is a member of itself only.
type RoleMembership interface {
	IsMemberOf(role, group string) bool
}

// GSSAcceptor starts the server side of GSSAPI exchanges (Kerberos), for hba
// rules with method gss.
type GSSAcceptor interface {
	// NewContext starts the server side of one connection's GSSAPI exchange.
	NewContext() GSSContext
}

// GSSContext is one connection's GSSAPI security context.
type GSSContext interface {
	// Step consumes one client token (the body of a GSSResponse message). out, when non-empty,
	// is sent in AuthenticationGSSContinue; done reports that the context is established.
	Step(token []byte) (out []byte, done bool, err error)
	// Principal is the client's principal "user@REALM" once done.
	Principal() string
}

// scramMechanism is the one SASL mechanism offered: no channel binding
// (SCRAM-SHA-256-PLUS), which needs the TLS endpoint hash on both sides.
const scramMechanism = "SCRAM-SHA-256"

// maxGSSRounds bounds a GSSAPI exchange (Kerberos needs one or two).
const maxGSSRounds = 16

// authError is a FATAL the authentication answers.
type authError struct {
	code, msg, detail string
	log               string // what the server log says about it (never the client)
}

func (e *authError) Error() string { return e.msg }

func passwordFailed(user, why string) *authError {
	return &authError{code: sqlstate.InvalidPassword, msg: fmt.Sprintf("password authentication failed for user \"%s\"", user), log: why}
}

// errClientGone ends authentication quietly: the client closed the connection
// (psql does so after AuthenticationSASL to ask the user for a password).
var errClientGone = errors.New("client closed the connection during authentication")

// remoteIP is the client's address; nil when the connection is not over IP.
func remoteIP(nc net.Conn) net.IP {
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.IP
	case *net.UDPAddr:
		return a.IP
	}
	return nil
}

// authenticate runs the method of the hba rule that governs the connection;
// false means the connection is over (a FATAL has been sent, or the client left).
// On success c.role is the authenticated role.
func (c *conn) authenticate(user, database string) bool {
	hc := hba.Conn{Addr: remoteIP(c.nc), TLS: c.tls, User: user, Database: database}
	err := c.runAuth(hc)
	if err == nil {
		return true
	}
	var ae *authError
	switch {
	case errors.As(err, &ae):
		c.log.Info("pgwire: authentication failed", "remote", c.nc.RemoteAddr(), "user", user, "database", database,
			"sqlstate", ae.code, "err", ae.msg, "why", ae.log)
		c.send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: ae.code, Message: ae.msg, Detail: ae.detail})
		c.flush()
	case errors.Is(err, errClientGone), isIOError(err):
		c.log.Debug("pgwire: client left during authentication", "remote", c.nc.RemoteAddr(), "user", user, "err", err)
	default:
		c.fatal(sqlstate.ProtocolViolation, err.Error())
	}
	return false
}

func (c *conn) runAuth(hc hba.Conn) error {
	rules := c.srv.opts.HBA
	if rules == nil {
		rules = defaultRules
	}
	var member hba.Membership
	if m, ok := c.srv.roles.(RoleMembership); ok {
		member = m.IsMemberOf
	}
	rule := rules.Match(hc, member)
	if rule == nil {
		return &authError{code: sqlstate.InvalidAuthorizationSpecification, msg: hba.NoEntry(hc)}
	}
	c.log.Debug("pgwire: hba rule", "remote", c.nc.RemoteAddr(), "user", hc.User, "rule", rule.Where(), "method", rule.Method)
	user := hc.User
	switch rule.Method {
	case hba.Reject:
		return &authError{code: sqlstate.InvalidAuthorizationSpecification, msg: hba.Rejected(hc), log: rule.Where()}
	case hba.Trust:
	case hba.SCRAM, hba.MD5:
		if err := c.authSCRAM(user); err != nil {
			return err
		}
	case hba.Password:
		if !c.tls {
			// Never ask for a cleartext password on a connection anyone on the
			// path can read; PostgreSQL would, strata does not.
			return &authError{code: sqlstate.InvalidAuthorizationSpecification,
				msg:    fmt.Sprintf("password authentication for user \"%s\" requires an SSL connection", user),
				detail: fmt.Sprintf("The matching pg_hba.conf rule (%s) sends the password in cleartext; connect with sslmode=require or better.", rule.Where()),
				log:    rule.Where()}
		}
		if err := c.authPassword(user); err != nil {
			return err
		}
	case hba.GSS:
		if err := c.authGSS(user, rule); err != nil {
			return err
		}
	default:
		panic("BUG: hba method " + string(rule.Method) + " has no implementation")
	}
	return c.checkRole(user)
}

// checkRole is PostgreSQL's check after authentication: the role exists and may
// log in. Without Roles (tests of the protocol alone) every name is a role.
func (c *conn) checkRole(user string) error {
	if c.srv.roles == nil {
		c.role = sql.RoleAuth{Name: user, Login: true}
		return nil
	}
	role, ok := c.srv.roles.RoleAuth(user)
	if !ok {
		return &authError{code: sqlstate.InvalidAuthorizationSpecification, msg: fmt.Sprintf("role \"%s\" does not exist", user)}
	}
	if !role.Login {
		return &authError{code: sqlstate.InvalidAuthorizationSpecification, msg: fmt.Sprintf("role \"%s\" is not permitted to log in", user)}
	}
	c.role = role
	return nil
}

// credentials returns the SCRAM credentials to check user's password against,
// or mock ones (and why) when the role cannot log in with a password.
func (c *conn) credentials(user string) (scram.StoredCredentials, string) {
	if c.srv.roles == nil {
		return pgscram.Mock(user), "no role catalog"
	}
	role, ok := c.srv.roles.RoleAuth(user)
	switch {
	case !ok:
		return pgscram.Mock(user), fmt.Sprintf("Role \"%s\" does not exist.", user)
	case role.Verifier == "":
		return pgscram.Mock(user), fmt.Sprintf("User \"%s\" has no password assigned.", user)
	case !role.ValidUntil.IsZero() && time.Now().After(role.ValidUntil):
		return pgscram.Mock(user), fmt.Sprintf("User \"%s\" has an expired password.", user)
	}
	cred, err := pgscram.Parse(role.Verifier)
	if err != nil {
		return pgscram.Mock(user), fmt.Sprintf("User \"%s\" has a password that cannot be used with SCRAM authentication.", user)
	}
	return cred, ""
}

// receiveAuth reads the client's answer to an authentication request, decoding
// 'p' messages as authType says.
func (c *conn) receiveAuth(authType uint32, want string) (pgproto3.FrontendMessage, error) {
	c.flush()
	if c.broken != nil {
		return nil, c.broken
	}
	if err := c.be.SetAuthType(authType); err != nil {
		panic("BUG: " + err.Error())
	}
	msg, err := c.be.Receive()
	if err != nil {
		if isIOError(err) {
			return nil, errClientGone
		}
		return nil, &authError{code: sqlstate.ProtocolViolation, msg: "invalid frontend message: " + err.Error()}
	}
	switch msg.(type) {
	case *pgproto3.Terminate:
		return nil, errClientGone
	case *pgproto3.SASLInitialResponse, *pgproto3.SASLResponse, *pgproto3.PasswordMessage, *pgproto3.GSSResponse:
		return msg, nil
	}
	return nil, &authError{code: sqlstate.ProtocolViolation, msg: fmt.Sprintf("expected %s response, got message type %d", want, frontendType(msg))}
}

// frontendType is a message's type byte, as PostgreSQL's messages print it.
func frontendType(msg pgproto3.FrontendMessage) int {
	b, err := msg.Encode(nil)
	if err != nil || len(b) == 0 {
		return 0
	}
	return int(b[0])
}

// authSCRAM runs SCRAM-SHA-256 over SASL (RFC 5802, 7677; PostgreSQL's
// AuthenticationSASL / SASLContinue / SASLFinal). The user name in the SCRAM
// messages is ignored, as PostgreSQL does: the startup packet's counts.
func (c *conn) authSCRAM(user string) error {
	cred, why := c.credentials(user)
	server, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return cred, nil })
	if err != nil {
		panic("BUG: scram server: " + err.Error())
	}
	conv := server.NewConversation()

	c.send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{scramMechanism}})
	msg, err := c.receiveAuth(pgproto3.AuthTypeSASL, "SASL")
	if err != nil {
		return err
	}
	first, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return &authError{code: sqlstate.ProtocolViolation, msg: fmt.Sprintf("expected SASL response, got message type %d", frontendType(msg))}
	}
	if first.AuthMechanism != scramMechanism {
		return &authError{code: sqlstate.ProtocolViolation, msg: "client selected an invalid SASL authentication mechanism",
			log: "mechanism " + first.AuthMechanism}
	}
	if strings.HasPrefix(string(first.Data), "p") {
		return &authError{code: sqlstate.ProtocolViolation, msg: "malformed SCRAM message",
			detail: "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data."}
	}
	serverFirst, err := conv.Step(string(first.Data))
	if err != nil {
		return &authError{code: sqlstate.ProtocolViolation, msg: "malformed SCRAM message", detail: err.Error()}
	}

	c.send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	msg, err = c.receiveAuth(pgproto3.AuthTypeSASLContinue, "SASL")
	if err != nil {
		return err
	}
	final, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return &authError{code: sqlstate.ProtocolViolation, msg: fmt.Sprintf("expected SASL response, got message type %d", frontendType(msg))}
	}
	serverFinal, err := conv.Step(string(final.Data))
	switch {
	case err != nil && serverFinal == "":
		return &authError{code: sqlstate.ProtocolViolation, msg: "malformed SCRAM message", detail: err.Error()}
	case err != nil && serverFinal == scram.ErrChannelBindingsDontMatch:
		return &authError{code: sqlstate.ProtocolViolation, msg: "SCRAM channel binding check failed"}
	case err != nil && serverFinal == scram.ErrOtherError && strings.Contains(err.Error(), "nonce"):
		return &authError{code: sqlstate.ProtocolViolation, msg: "malformed SCRAM message", detail: "Nonce does not match."}
	case err != nil:
		return passwordFailed(user, err.Error()+"; "+why)
	case why != "" || !conv.Valid():
		return passwordFailed(user, why) // BUG-proof: mock credentials never validate
	}
	c.send(&pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)})
	return nil
}

// authPassword asks for the cleartext password (REQUIRES: TLS) and checks it
// against the role's verifier.
func (c *conn) authPassword(user string) error {
	cred, why := c.credentials(user)
	c.send(&pgproto3.AuthenticationCleartextPassword{})
	msg, err := c.receiveAuth(pgproto3.AuthTypeCleartextPassword, "password")
	if err != nil {
		return err
	}
	pm, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return &authError{code: sqlstate.ProtocolViolation, msg: fmt.Sprintf("expected password response, got message type %d", frontendType(msg))}
	}
	if pm.Password == "" {
		// PostgreSQL refuses an empty password before looking at the role.
		pgscram.Check(cred, "x") // same cost as any other answer
		return passwordFailed(user, "empty password returned by client")
	}
	if !pgscram.Check(cred, pm.Password) || why != "" {
		if why == "" {
			why = fmt.Sprintf("Password does not match for user \"%s\".", user)
		}
		return passwordFailed(user, why)
	}
	return nil
}

// authGSS runs the GSSAPI exchange (AuthenticationGSS, GSSResponse,
// AuthenticationGSSContinue) and maps the client's principal to a role name as
// PostgreSQL does without an ident map: the principal, without its realm
// unless include_realm=1, must equal the user name the client asked for, and
// its realm must be krb_realm when that is set.
func (c *conn) authGSS(user string, rule *hba.Rule) error {
	failed := func(why string) *authError {
		return &authError{code: sqlstate.InvalidAuthorizationSpecification, msg: fmt.Sprintf("GSSAPI authentication failed for user \"%s\"", user), log: why}
	}
	if c.srv.opts.GSS == nil {
		return failed("hba rule " + rule.Where() + " uses gss but the server has no GSSAPI acceptor (--krb-keytab)")
	}
	ctx := c.srv.opts.GSS.NewContext()
	c.send(&pgproto3.AuthenticationGSS{})
	authType := uint32(pgproto3.AuthTypeGSS)
	for round := 0; ; round++ {
		if round == maxGSSRounds {
			return failed(fmt.Sprintf("no security context after %d tokens", maxGSSRounds))
		}
		msg, err := c.receiveAuth(authType, "GSS")
		if err != nil {
			return err
		}
		resp, ok := msg.(*pgproto3.GSSResponse)
		if !ok {
			return &authError{code: sqlstate.ProtocolViolation, msg: fmt.Sprintf("expected GSS response, got message type %d", frontendType(msg))}
		}
		out, done, err := ctx.Step(resp.Data)
		if err != nil {
			return failed("accepting GSS security context: " + err.Error())
		}
		if len(out) > 0 {
			c.send(&pgproto3.AuthenticationGSSContinue{Data: out})
		}
		if done {
			break
		}
		authType = pgproto3.AuthTypeGSSCont
	}
	c.flush()
	principal := ctx.Principal()
	name, realm, hasRealm := cutLast(principal, "@")
	if rule.KrbRealm != "" && (!hasRealm || !strings.EqualFold(realm, rule.KrbRealm)) {
		return failed(fmt.Sprintf("GSSAPI realm (%s) and configured realm (%s) don't match", realm, rule.KrbRealm))
	}
	mapped := principal
	if !rule.IncludeRealm {
		mapped = name
	}
	if mapped != user {
		return failed(fmt.Sprintf("provided user name (%s) and authenticated user name (%s) do not match", user, mapped))
	}
	return nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
