// Package pgscram reads and writes SCRAM-SHA-256 password verifiers in
// PostgreSQL's pg_authid.rolpassword form:
//
//	SCRAM-SHA-256$<iterations>:<salt, base64>$<StoredKey, base64>:<ServerKey, base64>
//
// A verifier lets the server check a SCRAM exchange without knowing the password;
// it is the only form in which strata keeps a password. The SCRAM arithmetic is
// github.com/xdg-go/scram's (RFC 5802/7677, with SASLprep), not ours.
package pgscram

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xdg-go/scram"
)

// Iterations is the PBKDF2 iteration count of new verifiers, PostgreSQL's default
// (scram_iterations = 4096).
const Iterations = 4096

// saltLen is PostgreSQL's SCRAM_DEFAULT_SALT_LEN.
const saltLen = 16

const prefix = "SCRAM-SHA-256$"

// ErrMalformed is returned by Parse for a string that is not a SCRAM-SHA-256 verifier.
var ErrMalformed = errors.New("malformed SCRAM-SHA-256 verifier")

// Verifier returns a new verifier for password with a random salt.
func Verifier(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("scram salt: %w", err)
	}
	return verifierWith(password, salt, Iterations)
}

func verifierWith(password string, salt []byte, iters int) (string, error) {
	// The user name plays no part in PostgreSQL's SCRAM (clients send "n=,"), so
	// the client is built without one.
	c, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		// SASLprep refused the password; PostgreSQL then uses the raw bytes.
		c, err = scram.SHA256.NewClientUnprepped("", password, "")
		if err != nil {
			return "", fmt.Errorf("scram: %w", err)
		}
	}
	cred := c.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: iters})
	enc := base64.StdEncoding
	return prefix + strconv.Itoa(iters) + ":" + enc.EncodeToString(salt) + "$" +
		enc.EncodeToString(cred.StoredKey) + ":" + enc.EncodeToString(cred.ServerKey), nil
}

// IsVerifier reports whether s has the form of a verifier (PostgreSQL stores a
// password given in that form as is: ALTER ROLE r PASSWORD 'SCRAM-SHA-256$...').
func IsVerifier(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// Parse decodes a verifier into the credentials a scram.Server checks a client
// against.
func Parse(v string) (scram.StoredCredentials, error) {
	var none scram.StoredCredentials
	rest, ok := strings.CutPrefix(v, prefix)
	if !ok {
		return none, ErrMalformed
	}
	factors, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return none, ErrMalformed
	}
	iterStr, saltB64, ok := strings.Cut(factors, ":")
	if !ok {
		return none, ErrMalformed
	}
	storedB64, serverB64, ok := strings.Cut(keys, ":")
	if !ok {
		return none, ErrMalformed
	}
	iters, err := strconv.Atoi(iterStr)
	if err != nil || iters <= 0 {
		return none, ErrMalformed
	}
	enc := base64.StdEncoding
	salt, err1 := enc.DecodeString(saltB64)
	stored, err2 := enc.DecodeString(storedB64)
	server, err3 := enc.DecodeString(serverB64)
	if err1 != nil || err2 != nil || err3 != nil || len(salt) == 0 || len(stored) != 32 || len(server) != 32 {
		return none, ErrMalformed
	}
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: iters},
		StoredKey:  stored,
		ServerKey:  server,
	}, nil
}
