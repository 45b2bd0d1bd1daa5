package gssauth

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/keytab"

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

// initiator reads the service ticket from ccache.
func (r *realm) initiator(t *testing.T, ccache string) *krbtest.Initiator {
	t.Helper()
	i, err := r.kdc.NewInitiator(ccache, service)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// libpqFlags are the GSS flags libpq asks for.
var libpqFlags = []int{gssapi.ContextFlagMutual}

// token returns a new initial context token for i with flags.
func token(t *testing.T, i *krbtest.Initiator, flags ...int) []byte {
	t.Helper()
	b, err := i.Token(flags...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apReq returns an initial context token (with mutual authentication, as
// libpq) from the service ticket in ccache.
func (r *realm) apReq(t *testing.T, ccache string) []byte {
	t.Helper()
	return token(t, r.initiator(t, ccache), libpqFlags...)
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
	i := r.initiator(t, r.serviceTicket(t))
	out, principal, err := step(a, token(t, i, libpqFlags...))
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if principal != alicePrn {
		t.Fatalf("principal %q, want %q", principal, alicePrn)
	}
	if !bytes.HasPrefix(out, []byte{0x60}) {
		t.Fatalf("reply token %x is not framed as [APPLICATION 0]", out)
	}
	if err := i.CheckReply(out); err != nil {
		t.Fatal(err)
	}
}

// Without mutual authentication there is nothing to answer: done, no token.
func TestNoMutualNoReply(t *testing.T) {
	r := newRealm(t)
	a := load(t, r.keytab)
	i := r.initiator(t, r.serviceTicket(t))
	out, principal, err := step(a, token(t, i, gssapi.ContextFlagInteg))
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
	tkt := r.initiator(t, r.serviceTicket(t)).Ticket
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
	i := r.initiator(t, r.serviceTicket(t, "-l", "5s"))
	if _, _, err := step(a, token(t, i, libpqFlags...)); err != nil {
		t.Fatalf("refused before the ticket ended: %v", err)
	}
	if d := time.Until(i.EndTime); d > 10*time.Second {
		t.Fatalf("kinit -l 5s gave a ticket ending in %v", d)
	} else {
		time.Sleep(d + 1500*time.Millisecond)
	}
	wantRefused(t, a, token(t, i, libpqFlags...), "expired at")
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
	i, err := r.kdc.NewInitiator(cc, "HTTP/localhost")
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, a, token(t, i, libpqFlags...), `not for service "postgres"`)
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
	a := load(t, "FILE:"+r.keytab)
	if got := a.Principals(); len(got) != 1 || got[0] != service+"@"+krbtest.Realm {
		t.Fatalf("Principals() = %v", got)
	}
}
