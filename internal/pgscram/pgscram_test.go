package pgscram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/xdg-go/scram"
)

// TestVerifierMatchesRFC5802 recomputes the verifier from RFC 5802's definitions
// with the standard library alone.
func TestVerifierMatchesRFC5802(t *testing.T) {
	salt := []byte("0123456789abcdef")
	got, err := verifierWith("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	salted, err := pbkdf2.Key(sha256.New, "pencil", salt, 4096, 32)
	if err != nil {
		t.Fatal(err)
	}
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	enc := base64.StdEncoding
	want := "SCRAM-SHA-256$4096:" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(stored[:]) + ":" + enc.EncodeToString(mac(salted, "Server Key"))
	if got != want {
		t.Fatalf("verifier\n got %s\nwant %s", got, want)
	}
}

func TestExchange(t *testing.T) {
	v, err := Verifier("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !IsVerifier(v) {
		t.Fatalf("IsVerifier(%q) = false", v)
	}
	for _, tc := range []struct {
		password string
		ok       bool
	}{{"s3cret", true}, {"wrong", false}} {
		cred, err := Parse(v)
		if err != nil {
			t.Fatal(err)
		}
		srv, _ := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return cred, nil })
		cl, _ := scram.SHA256.NewClient("", tc.password, "")
		cc, sc := cl.NewConversation(), srv.NewConversation()
		msg, err := cc.Step("")
		for err == nil && !sc.Done() {
			if msg, err = sc.Step(msg); err != nil {
				break
			}
			if msg, err = cc.Step(msg); err != nil {
				break
			}
		}
		if ok := err == nil && sc.Valid(); ok != tc.ok {
			t.Errorf("password %q: valid = %v, want %v (err %v)", tc.password, ok, tc.ok, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "md5abc", "SCRAM-SHA-256$", "SCRAM-SHA-256$4096:c2FsdA==$a:b", "SCRAM-SHA-256$x:c2FsdA==$" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + ":" + base64.StdEncoding.EncodeToString(make([]byte, 32))} {
		if IsVerifier(s) {
			t.Errorf("IsVerifier(%q) = true", s)
		}
	}
}

func TestCheck(t *testing.T) {
	v, err := Verifier("sécret")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := Parse(v)
	if err != nil {
		t.Fatal(err)
	}
	if !Check(cred, "sécret") {
		t.Error("right password refused")
	}
	for _, pw := range []string{"", "secret", "sécret ", "SÉCRET"} {
		if Check(cred, pw) {
			t.Errorf("%q accepted", pw)
		}
	}
	m1, m2 := Mock("ghost"), Mock("ghost")
	if m1.Salt != m2.Salt || string(m1.StoredKey) != string(m2.StoredKey) || m1.Iters != Iterations || len(m1.Salt) != saltLen {
		t.Errorf("mock credentials not stable: %+v %+v", m1, m2)
	}
	if Mock("other").Salt == m1.Salt {
		t.Error("two names, one mock salt")
	}
	if Check(m1, "") || Check(m1, "ghost") {
		t.Error("a password matched mock credentials")
	}
}
