package gssauth

import (
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
)

// FuzzStep feeds the Acceptor what an unauthenticated client may send. The
// seed corpus holds a real initial context token (testdata/fuzz/FuzzStep,
// made by the KDC of these tests for a key this target does not have). Nothing
// may be accepted and nothing may panic out of Step.
func FuzzStep(f *testing.F) {
	f.Add([]byte{0x60, 0x00})
	f.Add([]byte{0x60, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02})
	kt := keytab.New()
	if err := kt.AddEntry(service, "STRATA.TEST", "fuzz", time.Now(), 2, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		f.Fatal(err)
	}
	a, err := New(kt)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token []byte) {
		c := a.NewContext()
		out, done, err := c.Step(token)
		if err == nil || done || out != nil || c.Principal() != "" {
			t.Fatalf("accepted: %x %v %v %q", out, done, err, c.Principal())
		}
	})
}
