package engine

import (
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/stratadb/strata/storage"
)

// FuzzCmpNumericText: cmpNumericText orders canonical numeric texts as apd
// orders their values (NaN greatest), and appendNumericKey is equal exactly for
// equal values, so grouping and joins on the text agree with comparisons.
func FuzzCmpNumericText(f *testing.F) {
	for _, p := range [][2]string{{"1.50", "1.5"}, {"-0.000", "0"}, {"NaN", "Infinity"}, {"-1", "-1.0000001"}, {"12345678901234567890.1234567891", "12345678901234567890.1234567890"}, {"0.001", "-0.01"}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, x, y string) {
		a, ok1 := storage.CanonicalNumeric(nil, x, 0, 0, false)
		b, ok2 := storage.CanonicalNumeric(nil, y, 0, 0, false)
		if ok1 != storage.NumericOK || ok2 != storage.NumericOK {
			return
		}
		got := cmpNumericText(string(a), string(b))
		want := apdOrder(t, string(a), string(b))
		if got != want {
			t.Fatalf("cmpNumericText(%q, %q) = %d, want %d", a, b, got, want)
		}
		ka, kb := appendNumericKey(nil, string(a)), appendNumericKey(nil, string(b))
		if (string(ka) == string(kb)) != (want == 0) {
			t.Fatalf("keys %q and %q of %q and %q (order %d)", ka, kb, a, b, want)
		}
	})
}

// apdOrder is PostgreSQL's order of two numeric texts: NaN above everything.
func apdOrder(t *testing.T, a, b string) int {
	var x, y apd.Decimal
	if _, _, err := x.SetString(a); err != nil {
		t.Fatal(err)
	}
	if _, _, err := y.SetString(b); err != nil {
		t.Fatal(err)
	}
	xn, yn := x.Form == apd.NaN, y.Form == apd.NaN
	switch {
	case xn && yn:
		return 0
	case xn:
		return 1
	case yn:
		return -1
	}
	return x.Cmp(&y)
}

// FuzzSetShortNumeric: the allocation-free reader of short numeric text agrees
// with apd's SetString, digits and exponent alike, whenever it accepts.
func FuzzSetShortNumeric(f *testing.F) {
	for _, s := range []string{"12.340", "-0.5", "0", "-0.00", "123456789012345678", "1234567890123456789", "1.", ".5", "1e3", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want apd.Decimal
		if !setShortNumeric(&got, s) {
			return
		}
		if _, _, err := want.SetString(s); err != nil {
			t.Fatalf("%q read, but apd refuses it: %v", s, err)
		}
		if got.Cmp(&want) != 0 || got.Exponent != want.Exponent || got.Negative != want.Negative {
			t.Fatalf("%q read as %s (exp %d), apd %s (exp %d)", s, got.String(), got.Exponent, want.String(), want.Exponent)
		}
	})
}
