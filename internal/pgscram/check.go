package pgscram

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"

	"github.com/xdg-go/scram"
)

// Check reports whether password is the one cred was made from: the check of a
// cleartext password (PostgreSQL's password method, HTTP Basic). It costs one
// PBKDF2 of cred.Iters rounds whatever the answer, so a Check against Mock
// credentials takes as long as one against a real role's.
func Check(cred scram.StoredCredentials, password string) bool {
	c, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		c, err = scram.SHA256.NewClientUnprepped("", password, "")
		if err != nil {
			return false
		}
	}
	got := c.GetStoredCredentials(cred.KeyFactors)
	okStored := hmac.Equal(got.StoredKey, cred.StoredKey)
	okServer := hmac.Equal(got.ServerKey, cred.ServerKey)
	return okStored && okServer && len(cred.StoredKey) > 0
}

// mockSecret keys the mock credentials of this process.
var mockSecret = func() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("BUG: crypto/rand: " + err.Error())
	}
	return b
}()

// Mock returns credentials for a role that does not exist, has no password or
// has expired, as PostgreSQL's scram_mock_salt does: the exchange runs to its
// end against them and fails like a wrong password, so a client cannot tell an
// unknown role from a wrong password. The salt is the same for the same name
// for the life of the process (a salt that changed between attempts would give
// the role away); no password matches the keys.
func Mock(name string) scram.StoredCredentials {
	mac := func(label string) []byte {
		h := hmac.New(sha256.New, mockSecret)
		h.Write([]byte(label))
		h.Write([]byte{0})
		h.Write([]byte(name))
		return h.Sum(nil)
	}
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(mac("salt")[:saltLen]), Iters: Iterations},
		StoredKey:  mac("stored"),
		ServerKey:  mac("server"),
	}
}
