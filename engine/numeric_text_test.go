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
