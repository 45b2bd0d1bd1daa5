package gssauth

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/stratadb/strata/internal/krbtest"
)

// The tickets in these tests are issued by a real MIT KDC to the real kinit and
// kvno (internal/krbtest). gokrb5 only wraps a ticket from the credentials
// cache into an AP-REQ with a fresh authenticator, as libgssapi does; the
// psql end-to-end test (cmd/strata) has libgssapi make the whole token.

const (
	service  = "postgres/localhost"
	alice    = "alice"
	alicePw  = "alice-secret"
	alicePrn = "alice@" + krbtest.Realm
)

type realm struct {
	kdc    *krbtest.KDC
	keytab string // postgres/localhost's current keys
}

func newRealm(t *testing.T) *realm {
	k := krbtest.Start(t)
	k.AddUser(t, alice, alicePw)
	return &realm{kdc: k, keytab: k.AddService(t, service)}
}

// serviceTicket runs kinit and kvno (with kinit's extra args) and returns the
// credentials cache holding alice's ticket for service.
func (r *realm) serviceTicket(t *testing.T, kinitArgs ...string) string {
	cc := r.kdc.Kinit(t, alice, alicePw, kinitArgs...)
	r.kdc.Kvno(t, cc, service)
	return cc
}

// apReq builds a GSS-API initial context token from the service ticket in the
// credentials cache at ccache, with a new authenticator made now, asking for
// mutual authentication as libpq does.
func (r *realm) apReq(t *testing.T, ccache string) []byte {
	t.Helper()
	tkt, key := r.ticket(t, ccache)
	return r.token(t, tkt, key, []int{gssapi.ContextFlagMutual, gssapi.ContextFlagInteg, gssapi.ContextFlagConf}, []int{flags.APOptionMutualRequired})
}

func (r *realm) ticket(t *testing.T, ccache string) (messages.Ticket, types.EncryptionKey) {
	t.Helper()
	cc, err := credentials.LoadCCache(ccache)
	if err != nil {
		t.Fatal(err)
	}
	cred, ok := cc.GetEntry(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, service))
	if !ok {
		t.Fatalf("no %s ticket in %s", service, ccache)
	}
	var tkt messages.Ticket
	if err := tkt.Unmarshal(cred.Ticket); err != nil {
		t.Fatal(err)
	}
	return tkt, cred.Key
}

func (r *realm) token(t *testing.T, tkt messages.Ticket, key types.EncryptionKey, gssFlags, apOptions []int) []byte {
	t.Helper()
	cfg, err := config.Load(r.kdc.Config)
	if err != nil {
		t.Fatal(err)
	}
	// Only the client's name is taken from cl; it never talks to the KDC.
	cl := client.NewWithPassword(alice, krbtest.Realm, "", cfg)
	tok, err := spnego.NewKRB5TokenAPREQ(cl, tkt, key, gssFlags, apOptions)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tok.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func load(t *testing.T, path string, opts ...Option) *Acceptor {
	t.Helper()
	a, err := Load(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func step(a *Acceptor, token []byte) (out []byte, principal string, err error) {
	c := a.NewContext()
	out, done, err := c.Step(token)
	if err == nil && !done {
		panic("BUG: Step returned neither done nor an error")
	}
	return out, c.Principal(), err
}

func wantRefused(t *testing.T, a *Acceptor, token []byte, why string) {
	t.Helper()
	out, principal, err := step(a, token)
	if err == nil {
		t.Fatalf("accepted as %q; want refused (%s)", principal, why)
	}
	if out != nil || principal != "" {
		t.Fatalf("refused but answered %x, principal %q", out, principal)
	}
	if !strings.Contains(err.Error(), why) {
		t.Fatalf("refused with %q; want the reason to say %q", err, why)
	}
}

// A ticket kinit and kvno got from the KDC logs in as its principal, and the
// reply is an AP-REP token that proves the server opened the authenticator:
// its encrypted part, under the session key with key usage 12, repeats the
// authenticator's time.
func TestAcceptsKinitTicket(t *testing.T) {
	r := newRealm(t)
	a := load(t, r.keytab)
	cc := r.serviceTicket(t)
	token := r.apReq(t, cc)
	out, principal, err := step(a, token)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if principal != alicePrn {
		t.Fatalf("principal %q, want %q", principal, alicePrn)
	}

	var sent spnego.KRB5Token
	if err := sent.Unmarshal(token); err != nil {
		t.Fatal(err)
	}
	_, key := r.ticket(t, cc)
	if err := sent.APReq.DecryptAuthenticator(key); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte{0x60}) {
		t.Fatalf("reply token %x is not framed as [APPLICATION 0]", out)
	}
	var reply spnego.KRB5Token
	if err := reply.Unmarshal(out); err != nil {
		t.Fatalf("reply token: %v", err)
	}
	if !reply.IsAPRep() {
		t.Fatalf("reply token %x holds no AP-REP", out)
	}
	plain, err := crypto.DecryptEncPart(reply.APRep.EncPart, key, keyusage.AP_REP_ENCPART)
	if err != nil {
		t.Fatalf("AP-REP does not open with the session key: %v", err)
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	if !part.CTime.Equal(sent.APReq.Authenticator.CTime) || part.Cusec != sent.APReq.Authenticator.Cusec {
		t.Fatalf("AP-REP time %v.%06d, authenticator's %v.%06d", part.CTime, part.Cusec, sent.APReq.Authenticator.CTime, sent.APReq.Authenticator.Cusec)
	}
	if part.SequenceNumber == 0 {
		t.Fatal("AP-REP has no sequence number")
	}
}

// Without mutual authentication there is nothing to answer: done, no token.
func TestNoMutualNoReply(t *testing.T) {
	r := newRealm(t)
	a := load(t, r.keytab)
	tkt, key := r.ticket(t, r.serviceTicket(t))
	out, principal, err := step(a, r.token(t, tkt, key, []int{gssapi.ContextFlagInteg}, nil))
	if err != nil || principal != alicePrn || out != nil {
		t.Fatalf("got %x %q %v; want no reply token, %q", out, principal, err, alicePrn)
	}
}

// A ticket the KDC made with a newer key than the server's keytab holds (the
// service was rekeyed, kvno 3, and the server still has kvno 2) is refused.
func TestRefusesTicketForOtherKvno(t *testing.T) {
	r := newRealm(t)
	old := load(t, r.keytab)
	r.kdc.Keytab(t, service) // new random keys, kvno 3
	wantRefused(t, old, r.apReq(t, r.serviceTicket(t)), "does not open with the keytab")
}

// A keytab with a key of the ticket's principal, kvno and enctype but made
// from another password (a keytab for another KDC's principal of the same
// name, or one made with ktutil from a guessed password) does not open it.
func TestRefusesWrongServiceKey(t *testing.T) {
	r := newRealm(t)
	tkt, _ := r.ticket(t, r.serviceTicket(t))
	kt := keytab.New()
	if err := kt.AddEntry(service, krbtest.Realm, "not-the-key", time.Now(), uint8(tkt.EncPart.KVNO), tkt.EncPart.EType); err != nil {
		t.Fatal(err)
	}
	a, err := New(kt)
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, a, r.apReq(t, r.serviceTicket(t)), "does not open with the keytab")
}

// A ticket past its end time is refused even with a fresh authenticator: kinit
// -l 5s gets a ticket that ends five seconds later; with the clock skew set to
// one second the same ticket is accepted before its end and refused after it.
func TestRefusesExpiredTicket(t *testing.T) {
	r := newRealm(t)
	a := load(t, r.keytab, MaxClockSkew(time.Second))
	cc := r.serviceTicket(t, "-l", "5s")
	tkt, key := r.ticket(t, cc)
	if _, _, err := step(a, r.apReq(t, cc)); err != nil {
		t.Fatalf("refused before the ticket ended: %v", err)
	}
	cred, _ := credentials.LoadCCache(cc)
	end, _ := cred.GetEntry(tkt.SName)
	if d := time.Until(end.EndTime); d > 10*time.Second {
		t.Fatalf("kinit -l 5s gave a ticket ending in %v", d)
	} else {
		time.Sleep(d + 1500*time.Millisecond)
	}
	mutual := []int{gssapi.ContextFlagMutual}
	wantRefused(t, a, r.token(t, tkt, key, mutual, []int{flags.APOptionMutualRequired}), "expired at")
}

// The same token sent twice (captured off the wire and replayed within the
// clock-skew window) logs in once.
func TestRefusesReplay(t *testing.T) {
	r := newRealm(t)
	a := load(t, r.keytab)
	token := r.apReq(t, r.serviceTicket(t))
	if _, _, err := step(a, token); err != nil {
		t.Fatalf("first use refused: %v", err)
	}
	wantRefused(t, a, token, "replayed authenticator")
	// A new authenticator for the same ticket is not a replay.
	if _, _, err := step(a, r.apReq(t, r.serviceTicket(t))); err != nil {
		t.Fatalf("fresh authenticator refused: %v", err)
	}
}

// The replay cache forgets an authenticator only once its time is outside the
// clock-skew window, where the skew check refuses it anyway.
func TestReplayCacheForgetsOnlyWhatSkewRefuses(t *testing.T) {
	r := newRealm(t)
	a := load(t, r.keytab, MaxClockSkew(time.Minute))
	token := r.apReq(t, r.serviceTicket(t))
	if _, _, err := step(a, token); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a.now = func() time.Time { return time.Now().Add(59 * time.Second) }
	wantRefused(t, a, token, "replayed authenticator")
	a.now = func() time.Time { return time.Now().Add(61*time.Second + time.Since(start)) }
	wantRefused(t, a, token, "clock skew")
	// The next add sweeps the entry out.
	a.replays.add(replayKey{client: "other"}, a.now().Add(time.Minute), a.now())
	if n := len(a.replays.mu.seen); n != 1 {
		t.Fatalf("replay cache holds %d entries, want only the new one", n)
	}
}

// An authenticator made more than the allowed skew from the server's clock is
// refused (the client's clock, or ours, is wrong; or the token is old).
func TestRefusesClockSkew(t *testing.T) {
	r := newRealm(t)
	a := load(t, r.keytab)
	a.now = func() time.Time { return time.Now().Add(6 * time.Minute) }
	wantRefused(t, a, r.apReq(t, r.serviceTicket(t)), "clock skew")
	a.now = func() time.Time { return time.Now().Add(-6 * time.Minute) }
	wantRefused(t, a, r.apReq(t, r.serviceTicket(t)), "not valid before")
}

// A ticket for another service whose key the keytab also holds (a shared host
// keytab with HTTP/localhost) does not log in to the database.
func TestRefusesOtherService(t *testing.T) {
	r := newRealm(t)
	r.kdc.Kadmin(t, "addprinc -randkey HTTP/localhost")
	a := load(t, r.kdc.Keytab(t, service, "HTTP/localhost"))
	cc := r.kdc.Kinit(t, alice, alicePw)
	r.kdc.Kvno(t, cc, "HTTP/localhost")
	c, _ := credentials.LoadCCache(cc)
	cred, ok := c.GetEntry(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/localhost"))
	if !ok {
		t.Fatal("no HTTP/localhost ticket")
	}
	var tkt messages.Ticket
	if err := tkt.Unmarshal(cred.Ticket); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, a, r.token(t, tkt, cred.Key, []int{gssapi.ContextFlagMutual}, nil), `not for service "postgres"`)
}

// A token altered on the way (one bit of the encrypted authenticator flipped)
// fails its integrity check; garbage and truncated tokens are refused, never
// a panic.
func TestRefusesDamagedTokens(t *testing.T) {
	r := newRealm(t)
	a := load(t, r.keytab)
	token := r.apReq(t, r.serviceTicket(t))
	flipped := bytes.Clone(token)
	flipped[len(flipped)-5] ^= 0x01 // inside the authenticator's ciphertext, the token's last field
	wantRefused(t, a, flipped, "does not open with the ticket's session key")
	for _, bad := range [][]byte{nil, {0x60}, []byte("not a token"), token[:len(token)/2], token[:40]} {
		if _, _, err := step(a, bad); err == nil {
			t.Fatalf("accepted %x", bad)
		}
	}
}

// A context takes one token; a second Step (a client that goes on after done,
// or retries after a refusal) is an error.
func TestContextIsOneShot(t *testing.T) {
	r := newRealm(t)
	a := load(t, r.keytab)
	c := a.NewContext()
	if _, done, err := c.Step(r.apReq(t, r.serviceTicket(t))); !done || err != nil {
		t.Fatalf("step: %v %v", done, err)
	}
	if _, _, err := c.Step(r.apReq(t, r.serviceTicket(t))); err == nil {
		t.Fatal("second step accepted")
	}
	c = a.NewContext()
	if _, _, err := c.Step([]byte("junk")); err == nil {
		t.Fatal("junk accepted")
	}
	if _, _, err := c.Step(r.apReq(t, r.serviceTicket(t))); err == nil || c.Principal() != "" {
		t.Fatal("a refused context accepted a second token")
	}
}

// A keytab without a postgres/<host> key cannot start an Acceptor: the
// operator hears it at startup, not from every client.
func TestLoadNeedsServiceKey(t *testing.T) {
	r := newRealm(t)
	r.kdc.Kadmin(t, "addprinc -randkey HTTP/localhost")
	_, err := Load(r.kdc.Keytab(t, "HTTP/localhost"))
	if err == nil || !strings.Contains(err.Error(), "no key for a principal postgres/<host>") {
		t.Fatalf("Load: %v", err)
	}
	if _, err := Load(r.kdc.Dir + "/missing.keytab"); err == nil {
		t.Fatal("missing keytab loaded")
	}
	a := load(t, r.keytab)
	if got := a.Principals(); len(got) != 1 || got[0] != service+"@"+krbtest.Realm {
		t.Fatalf("Principals() = %v", got)
	}
}
