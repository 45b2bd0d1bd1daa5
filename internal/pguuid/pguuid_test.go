package pguuid

import (
	"bytes"
	"strings"
	"testing"
)

// The accepted and refused forms are those of PostgreSQL 15's uuid_in
// (src/backend/utils/adt/uuid.c, string_to_uuid); sql/testdata/uuid_columns.slt
// proves a selection of them against the real server.
func TestParse(t *testing.T) {
	const want = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
	for _, in := range []string{
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
		"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
		"a0eebc999c0b4ef8bb6d6bb9bd380a11",
		"a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
		"{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
	} {
		got, ok := Canonical(in)
		if !ok || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{
		"", "{}", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-", "-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
		"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
		" a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 ",
		"g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}}",
	} {
		if got, ok := Canonical(in); ok {
			t.Errorf("Canonical(%q) = %q, want refused", in, got)
		}
	}
}

func TestRandom(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		s := Random()
		if !IsCanonical(s) || s[14] != '4' || !strings.ContainsRune("89ab", rune(s[19])) {
			t.Fatalf("Random() = %q: not a canonical version 4 uuid", s)
		}
		if seen[s] {
			t.Fatalf("Random() repeated %q", s)
		}
		seen[s] = true
	}
}

// FuzzParse: whatever Parse accepts prints canonically, reads back to the same
// bytes, and is accepted in every other form PostgreSQL reads (upper case,
// braces, no hyphens).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{A0EEBC999C0B4EF8BB6D6BB9BD380A11}", "a0ee-bc99", "{", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		u, ok := Parse(in)
		if !ok {
			if _, ok := Canonical(string(in)); ok {
				t.Fatalf("Canonical accepts %q, Parse does not", in)
			}
			return
		}
		c := string(Append(nil, u))
		if !IsCanonical(c) {
			t.Fatalf("Append of %q gives %q, not canonical", in, c)
		}
		for _, form := range []string{c, strings.ToUpper(c), "{" + c + "}", strings.ReplaceAll(c, "-", "")} {
			v, ok := Parse([]byte(form))
			if !ok || v != u {
				t.Fatalf("%q (from %q) reads back as %x, %v; want %x", form, in, v, ok, u)
			}
		}
		if b, ok := Bytes(c); !ok || !bytes.Equal(b[:], u[:]) {
			t.Fatalf("Bytes(%q) = %x, %v", c, b, ok)
		}
	})
}
