// Package pguuid reads and writes PostgreSQL's uuid: its text input (uuid_in's
// string_to_uuid) and its canonical text form, which strata stores and computes
// with. The canonical form (36 characters, lower-case hex, hyphens after bytes
// 4, 6, 8 and 10) orders as text exactly as PostgreSQL's uuid orders (memcmp of
// the 16 bytes): every digit sits at a fixed position and '0' < … < '9' < 'a'
// < … < 'f'; so equality, ordering, hashing and grouping of the text are those of
// the uuid.
package pguuid

import (
	"crypto/rand"
	"encoding/hex"
)

// TextLen is the length of the canonical text form.
const TextLen = 36

// Parse reads s as PostgreSQL's uuid input does: 32 hex digits of either case,
// optionally wrapped in braces, with a hyphen allowed after any group of four
// digits (but not after the last), and nothing else (no white space). ok is false
// where PostgreSQL raises 22P02 (invalid input syntax for type uuid).
func Parse(s []byte) (u [16]byte, ok bool) {
	i := 0
	braces := len(s) > 0 && s[0] == '{'
	if braces {
		i++
	}
	for k := 0; k < 16; k++ {
		if i+1 >= len(s) {
			return u, false
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[k] = hi<<4 | lo
		i += 2
		if i < len(s) && s[i] == '-' && k%2 == 1 && k < 15 {
			i++
		}
	}
	if braces {
		if i >= len(s) || s[i] != '}' {
			return u, false
		}
		i++
	}
	return u, i == len(s)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Append appends the canonical text form of u to dst.
func Append(dst []byte, u [16]byte) []byte {
	var b [TextLen]byte
	j := 0
	for k := 0; k < 16; k++ {
		if k == 4 || k == 6 || k == 8 || k == 10 {
			b[j] = '-'
			j++
		}
		hex.Encode(b[j:j+2], u[k:k+1])
		j += 2
	}
	return append(dst, b[:]...)
}

// Canonical returns s in canonical form, or ok false when s is no uuid input.
// s already canonical is returned as is, without allocating.
func Canonical(s string) (string, bool) {
	if IsCanonical(s) {
		return s, true
	}
	u, ok := Parse([]byte(s))
	if !ok {
		return "", false
	}
	return string(Append(nil, u)), true
}

// IsCanonical reports whether s is already in canonical form.
func IsCanonical(s string) bool {
	if len(s) != TextLen {
		return false
	}
	for j := 0; j < TextLen; j++ {
		c := s[j]
		if j == 8 || j == 13 || j == 18 || j == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Bytes returns the 16 bytes of a canonical text form (PostgreSQL's binary
// wire form); ok is false when s is not canonical.
func Bytes(s string) (u [16]byte, ok bool) {
	if !IsCanonical(s) {
		return u, false
	}
	return Parse([]byte(s))
}

// Random returns a version 4 (random) uuid in canonical form, as PostgreSQL's
// gen_random_uuid: 122 random bits, version nibble 4, variant bits 10.
func Random() string {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		panic("BUG: crypto/rand: " + err.Error())
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return string(Append(nil, u))
}
