package storage

import (
	"testing"

	"github.com/cockroachdb/apd/v3"
)

func TestCanonicalNumeric(t *testing.T) {
	for _, tc := range []struct {
		in       string
		prec, sc int
		mod      bool
		want     string
		bad      NumericError
	}{
		{"19.990", 0, 0, false, "19.990", NumericOK},
		{" +0001.50 ", 0, 0, false, "1.50", NumericOK},
		{"1.5e2", 0, 0, false, "150", NumericOK},
		{"1.50e1", 0, 0, false, "15.0", NumericOK},
		{"-0.000", 0, 0, false, "0.000", NumericOK},
		{"1e-3", 0, 0, false, "0.001", NumericOK},
		{".5", 0, 0, false, "0.5", NumericOK},
		{"nan", 0, 0, false, "NaN", NumericOK},
		{"-inf", 0, 0, false, "-Infinity", NumericOK},
		{"1.2.3", 0, 0, false, "", NumericSyntax},
		{"", 0, 0, false, "", NumericSyntax},
		{"1.5", 30, 10, true, "1.5000000000", NumericOK},
		{"-0.00000000005", 30, 10, true, "-0.0000000001", NumericOK},
		{"-0.000000000049", 30, 10, true, "0.0000000000", NumericOK},
		{"99999999999999999999.99999999994", 30, 10, true, "99999999999999999999.9999999999", NumericOK},
		{"99999999999999999999.99999999995", 30, 10, true, "", NumericOverflow},
		{"123456789012345678901", 30, 10, true, "", NumericOverflow},
		{"Infinity", 30, 10, true, "", NumericOverflow},
		{"NaN", 30, 10, true, "", NumericOverflow},
		{"1234.5", 20, -2, true, "1200", NumericOK},
		{"1250", 20, -2, true, "1300", NumericOK},
		{"0.05", 2, 3, true, "0.050", NumericOK},
		{"0.1", 2, 3, true, "", NumericOverflow},
		{"12", 20, 0, true, "12", NumericOK},
		{"12.5", 20, 0, true, "13", NumericOK},
	} {
		got, bad := CanonicalNumeric(nil, tc.in, tc.prec, tc.sc, tc.mod)
		if bad != tc.bad || bad == NumericOK && string(got) != tc.want {
			t.Errorf("CanonicalNumeric(%q, %d, %d, %v) = %q, %d; want %q, %d", tc.in, tc.prec, tc.sc, tc.mod, got, bad, tc.want, tc.bad)
		}
	}
}

// FuzzCanonicalNumeric: whatever the input, the canonicalizer answers without
// panicking; an accepted value's text is canonical (a fixed point of itself),
// has the column's scale, and equals the input's value (rounded to the scale
// half away from zero, for a modifier), as apd reads both.
func FuzzCanonicalNumeric(f *testing.F) {
	for _, s := range []string{"19.990", "-0.5", "1e3", " 7 ", "NaN", "-inf", "99999999999999999999.99999999995", "1.2.3", "0.0", "-0", "1e-1000"} {
		f.Add(s, 30, 10, true)
		f.Add(s, 0, 0, false)
	}
	f.Fuzz(func(t *testing.T, s string, prec, scale int, mod bool) {
		prec, scale = 1+abs(prec)%60, scale%40
		out, bad := CanonicalNumeric(nil, s, prec, scale, mod)
		if bad != NumericOK {
			return
		}
		again, bad2 := CanonicalNumeric(nil, string(out), prec, scale, mod)
		if bad2 != NumericOK || string(again) != string(out) {
			t.Fatalf("%q → %q, then %q (%d)", s, out, again, bad2)
		}
		if !isCanonicalNumeric(string(out), prec, scale, mod) && (!mod || scale > 0) && string(out) != "NaN" && string(out) != "Infinity" && string(out) != "-Infinity" {
			t.Fatalf("%q → %q, not canonical", s, out)
		}
		var in, o apd.Decimal
		if _, _, err := o.SetString(string(out)); err != nil {
			t.Fatalf("%q → %q, which apd cannot read: %v", s, out, err)
		}
		if _, _, err := in.SetString(trimSpaceASCII(s)); err != nil || in.Form != apd.Finite {
			return // PostgreSQL's spellings of NaN and infinities
		}
		if mod {
			c := apd.BaseContext.WithPrecision(4000)
			c.Rounding = apd.RoundHalfUp
			if _, err := c.Quantize(&in, &in, int32(-scale)); err != nil {
				return
			}
		}
		if in.Cmp(&o) != 0 {
			t.Fatalf("%q → %q: value changed", s, out)
		}
	})
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func trimSpaceASCII(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' || s[0] == '\f' || s[0] == '\v') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[len(s)-1] == '\n' || s[len(s)-1] == '\r' || s[len(s)-1] == '\f' || s[len(s)-1] == '\v') {
		s = s[:len(s)-1]
	}
	return s
}
