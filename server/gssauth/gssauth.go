// Package gssauth is the server side of Kerberos V5 authentication over GSS-API,
// as PostgreSQL's "gss" authentication method runs it (AuthenticationGSS,
// GSSResponse, AuthenticationGSSContinue): an Acceptor holds the service's
// keys (a keytab, service name "postgres"), and one Context per connection turns
// the client's initial context token into the client's principal and, when the
// client asks for mutual authentication (libpq always does), the AP-REP token
// that proves the server holds the key too.
//
// The tokens (what the client sends, what Step answers):
//
//	initial context token (RFC 2743 §3.1, RFC 4121 §4.1):
//	  0x60 <DER length>                        [APPLICATION 0], constructed
//	    0x06 0x09 2a 86 48 86 f7 12 01 02 02   mech OID 1.2.840.113554.1.2.2 (Kerberos V5)
//	    0x01 0x00                              TOK_ID KRB_AP_REQ
//	    KRB_AP_REQ (RFC 4120 §5.5.1)           ticket (enc. with the service key) + authenticator
//	                                           (enc. with the session key; its checksum of type
//	                                           0x8003 carries the GSS flags, RFC 4121 §4.1.1)
//	reply token (only when mutual authentication is asked for):
//	  0x60 <DER length> 0x06 0x09 <mech OID>
//	    0x02 0x00                              TOK_ID KRB_AP_REP
//	    KRB_AP_REP (RFC 4120 §5.5.2)           EncAPRepPart {ctime, cusec of the authenticator,
//	                                           seq-number}, enc. with the session key, key usage 12
//
// What a Context checks before it names a principal (RFC 4120 §3.2.3, the
// checks MIT's acceptor makes): the ticket is for this service ("postgres/<host>")
// and opens with a key in the keytab (same realm, kvno and enctype); it is not
// marked invalid, has started, and has not ended, each within the allowed clock
// skew; the authenticator opens with the ticket's session key and names the same
// client as the ticket; its time is within the clock skew of ours; and the same
// authenticator has not been seen before (the Acceptor's replay cache keeps each
// one for as long as its time would still pass the skew check).
//
// Not supported, and refused or ignored as noted: user-to-user tickets (refused:
// no key in the keytab opens them); tickets restricted to client addresses are
// accepted without an address check (as MIT's acceptor does when, as in
// PostgreSQL, no channel bindings are given); delegated credentials are ignored;
// per-message tokens (GSS encryption, gssencmode=require) are not offered.
package gssauth

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/stratadb/strata/server/pgwire"
)

// DefaultService is the service name PostgreSQL clients ask for (libpq's
// krbsrvname, PostgreSQL's krb_srvname): tickets are for "postgres/<host>@REALM".
const DefaultService = "postgres"

// DefaultMaxClockSkew is how far a client's clock may be from ours, as MIT's
// and gokrb5's default (krb5.conf clockskew).
const DefaultMaxClockSkew = 5 * time.Minute

// Acceptor accepts Kerberos tickets for one service with the keys of a keytab.
// It is safe for concurrent use; each connection gets its own Context.
type Acceptor struct {
	kt      *keytab.Keytab
	service string
	skew    time.Duration
	now     func() time.Time // time.Now; tests move it
	replays replayCache
}

// Option changes an Acceptor's defaults.
type Option func(*Acceptor)

// Service sets the service name (default DefaultService).
func Service(name string) Option { return func(a *Acceptor) { a.service = name } }

// MaxClockSkew sets the allowed clock skew (default DefaultMaxClockSkew).
func MaxClockSkew(d time.Duration) Option { return func(a *Acceptor) { a.skew = d } }

// Load reads the keytab file at path (as written by kadmin's ktadd or ktutil;
// a "FILE:" prefix, as in krb5.conf and PostgreSQL's krb_server_keyfile, is
// allowed) and returns an Acceptor for the service's principals in it.
func Load(path string, opts ...Option) (*Acceptor, error) {
	path = strings.TrimPrefix(path, "FILE:")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read keytab: %w", err)
	}
	kt := keytab.New()
	if err := kt.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("keytab %s: %v", path, err)
	}
	a, err := New(kt, opts...)
	if err != nil {
		return nil, fmt.Errorf("keytab %s: %w", path, err)
	}
	return a, nil
}

// New returns an Acceptor for the keys of kt. It fails when kt holds no key
// for a principal "<service>/<host>".
func New(kt *keytab.Keytab, opts ...Option) (*Acceptor, error) {
	a := &Acceptor{kt: kt, service: DefaultService, skew: DefaultMaxClockSkew, now: time.Now}
	for _, o := range opts {
		o(a)
	}
	for _, e := range kt.Entries {
		if a.isService(e.Principal.Components) {
			return a, nil
		}
	}
	var have []string
	for _, e := range kt.Entries {
		have = append(have, e.Principal.String())
	}
	return nil, fmt.Errorf("no key for a principal %s/<host>@<REALM> (it holds %s)", a.service, strings.Join(dedup(have), ", "))
}

// Principals lists the principals the Acceptor holds keys for, for the log.
func (a *Acceptor) Principals() []string {
	var ps []string
	for _, e := range a.kt.Entries {
		if a.isService(e.Principal.Components) {
			ps = append(ps, e.Principal.String())
		}
	}
	return dedup(ps)
}

func (a *Acceptor) isService(name []string) bool {
	return len(name) == 2 && name[0] == a.service
}

// NewContext starts the server side of one connection's exchange.
func (a *Acceptor) NewContext() pgwire.GSSContext { return &Context{a: a} }

var _ pgwire.GSSAcceptor = (*Acceptor)(nil)

// Context is one connection's security context. Not safe for concurrent use.
type Context struct {
	a         *Acceptor
	principal string
	done      bool
	failed    bool
}

// Principal is the authenticated client "user@REALM" once Step reported done.
func (c *Context) Principal() string {
	if !c.done {
		return ""
	}
	return c.principal
}

// Step consumes the client's initial context token. The Kerberos mechanism
// establishes a context in one round: Step returns done with the AP-REP token to
// send (when the client asked for mutual authentication), or an error saying
// why the client is refused (for the server's log; the client gets 28000).
func (c *Context) Step(token []byte) (out []byte, done bool, err error) {
	if c.done || c.failed {
		return nil, false, errors.New("gssauth: context already used")
	}
	out, principal, err := c.a.accept(token)
	if err != nil {
		c.failed = true
		return nil, false, err
	}
	c.principal, c.done = principal, true
	return out, true, nil
}

// accept verifies one initial context token and returns the reply token and the
// client's principal.
func (a *Acceptor) accept(token []byte) (reply []byte, principal string, err error) {
	// The token comes from a client nobody has authenticated yet; gokrb5's
	// decoders are not known to be safe on every malformed input, and a panic
	// here must cost this connection, not the server.
	defer func() {
		if r := recover(); r != nil {
			reply, principal, err = nil, "", fmt.Errorf("gssauth: malformed token: %v", r)
		}
	}()
	var tok spnego.KRB5Token
	if err := tok.Unmarshal(token); err != nil {
		return nil, "", fmt.Errorf("gssauth: not a Kerberos V5 initial context token: %v", err)
	}
	if !tok.IsAPReq() {
		return nil, "", errors.New("gssauth: the initial context token holds no AP-REQ")
	}
	req := &tok.APReq
	if err := a.verify(req); err != nil {
		return nil, "", err
	}
	auth := &req.Authenticator
	mutual := types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) ||
		gssFlags(auth.Cksum)&gssapi.ContextFlagMutual != 0
	if mutual {
		if reply, err = apRepToken(auth, req.Ticket.DecryptedEncPart.Key); err != nil {
			return nil, "", fmt.Errorf("gssauth: build AP-REP: %v", err)
		}
	}
	return reply, auth.CName.PrincipalNameString() + "@" + auth.CRealm, nil
}

// verify checks an AP-REQ as the package comment lists, decrypting its ticket
// and authenticator in place.
func (a *Acceptor) verify(req *messages.APReq) error {
	tkt := &req.Ticket
	sname := tkt.SName.PrincipalNameString() + "@" + tkt.Realm
	if !a.isService(tkt.SName.NameString) {
		return fmt.Errorf("gssauth: ticket is for %s, not for service %q", sname, a.service)
	}
	if types.IsFlagSet(&req.APOptions, flags.APOptionUseSessionKey) {
		return errors.New("gssauth: user-to-user tickets are not accepted")
	}
	// The keytab lookup matches principal, realm, kvno and enctype: a ticket
	// made with a key we do not have (another kvno, another realm's key) stops
	// here; one made with a different key of the same kvno fails decryption.
	if err := tkt.DecryptEncPart(a.kt, nil); err != nil {
		return fmt.Errorf("gssauth: ticket for %s (kvno %d, enctype %d) does not open with the keytab: %v", sname, tkt.EncPart.KVNO, tkt.EncPart.EType, err)
	}
	enc := &tkt.DecryptedEncPart
	client := enc.CName.PrincipalNameString() + "@" + enc.CRealm
	now := a.now().UTC()
	start := enc.StartTime
	if start.IsZero() {
		start = enc.AuthTime
	}
	switch {
	case types.IsFlagSet(&enc.Flags, flags.Invalid):
		return fmt.Errorf("gssauth: ticket of %s is marked invalid (postdated, not yet validated)", client)
	case start.Sub(now) > a.skew:
		return fmt.Errorf("gssauth: ticket of %s is not valid before %s", client, start.Format(time.RFC3339))
	case now.Sub(enc.EndTime) > a.skew:
		return fmt.Errorf("gssauth: ticket of %s expired at %s", client, enc.EndTime.Format(time.RFC3339))
	}
	if err := req.DecryptAuthenticator(enc.Key); err != nil {
		return fmt.Errorf("gssauth: authenticator of %s does not open with the ticket's session key: %v", client, err)
	}
	auth := &req.Authenticator
	if !auth.CName.Equal(enc.CName) || auth.CRealm != enc.CRealm {
		return fmt.Errorf("gssauth: authenticator names %s@%s, ticket %s", auth.CName.PrincipalNameString(), auth.CRealm, client)
	}
	if auth.Cksum.CksumType != chksumtype.GSSAPI || len(auth.Cksum.Checksum) < 24 {
		return fmt.Errorf("gssauth: authenticator of %s has no GSS-API checksum (type %#x, RFC 4121 §4.1.1)", client, auth.Cksum.CksumType)
	}
	ctime := authTime(auth)
	if d := now.Sub(ctime); d > a.skew || -d > a.skew {
		return fmt.Errorf("gssauth: authenticator of %s was made at %s, more than the allowed clock skew %v from the server's time %s",
			client, ctime.Format(time.RFC3339Nano), a.skew, now.Format(time.RFC3339Nano))
	}
	if !a.replays.add(replayKey{client: client, server: sname, ctime: ctime.UnixNano()}, ctime.Add(a.skew), now) {
		return fmt.Errorf("gssauth: replayed authenticator of %s (made at %s)", client, ctime.Format(time.RFC3339Nano))
	}
	return nil
}

func authTime(auth *types.Authenticator) time.Time {
	return auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond).UTC()
}

// gssFlags returns the GSS context flags of an authenticator checksum of type
// 0x8003: Lgth (4 bytes) | Bnd (16 bytes) | Flags (4 bytes, little endian) | ...
func gssFlags(ck types.Checksum) uint32 {
	if ck.CksumType != chksumtype.GSSAPI || len(ck.Checksum) < 24 {
		return 0
	}
	return binary.LittleEndian.Uint32(ck.Checksum[20:24])
}

// tokIDAPRep is the reply token's TOK_ID (RFC 4121 §4.1).
var tokIDAPRep = []byte{0x02, 0x00}

// apRepToken builds the reply token for an accepted authenticator: a KRB_AP_REP
// whose encrypted part repeats the authenticator's time (which proves to the
// client that we opened it) and gives our initial sequence number, framed as a
// GSS-API context token. gokrb5 parses AP-REPs but does not build them.
func apRepToken(auth *types.Authenticator, sessionKey types.EncryptionKey) ([]byte, error) {
	seq, err := rand.Int(rand.Reader, big.NewInt(1<<30))
	if err != nil {
		return nil, err
	}
	part := messages.EncAPRepPart{
		CTime: auth.CTime.UTC(),
		Cusec: auth.Cusec,
		// 0 would be left out (the field is optional); MIT also picks 30 bits.
		SequenceNumber: seq.Int64() | 1,
	}
	b, err := asn1.Marshal(part)
	if err != nil {
		return nil, err
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncAPRepPart)
	ed, err := crypto.GetEncryptedData(b, sessionKey, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, err
	}
	rep := messages.APRep{PVNO: iana.PVNO, MsgType: msgtype.KRB_AP_REP, EncPart: ed}
	b, err = asn1.Marshal(rep)
	if err != nil {
		return nil, err
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.APREP)
	oid, err := asn1.Marshal(gssapi.OIDKRB5.OID())
	if err != nil {
		return nil, err
	}
	inner := append(append(oid, tokIDAPRep...), b...)
	return asn1tools.AddASNAppTag(inner, 0), nil
}

// replayCache remembers accepted authenticators until their time falls out of
// the clock-skew window, after which the skew check refuses them anyway
// (RFC 4120 §3.2.3). Only authenticators that passed every other check are
// added, so its size is bounded by the rate of successful logins times the
// window.
type replayCache struct {
	mu struct {
		sync.Mutex
		seen      map[replayKey]time.Time // -> when the entry may be forgotten
		nextSweep time.Time
	}
}

type replayKey struct {
	client, server string
	ctime          int64 // authenticator ctime + cusec, in Unix nanoseconds
}

// add records k until expires and reports whether it was new.
func (c *replayCache) add(k replayKey, expires, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.seen == nil {
		c.mu.seen = make(map[replayKey]time.Time)
	}
	if now.After(c.mu.nextSweep) {
		for k, exp := range c.mu.seen {
			if now.After(exp) {
				delete(c.mu.seen, k)
			}
		}
		c.mu.nextSweep = now.Add(time.Second)
	}
	if _, ok := c.mu.seen[k]; ok {
		return false
	}
	c.mu.seen[k] = expires
	return true
}

func dedup(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
