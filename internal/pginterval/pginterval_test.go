package pginterval

import (
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in    string
		m, d  int32
		us    int64
		valid bool
	}{
		{"1 year 2 mons 3 days 04:05:06.7", 14, 3, 4*usPerHour + 5*usPerMin + 6*usPerSec + 700000, true},
		{"-1 days +02:03:04.5", 0, -1, 2*usPerHour + 3*usPerMin + 4*usPerSec + 500000, true},
		{"5 minutes ago", 0, 0, -5 * usPerMin, true},
		{"@ 1 hour", 0, 0, usPerHour, true},
		{"P1DT2H", 0, 1, 2 * usPerHour, true},
		{"1.5 days", 0, 1, 12 * usPerHour, true},
		{"2562047788:00:54.775807", 0, 0, math.MaxInt64, true},
		{"-2562047788:00:54.775807", 0, 0, -math.MaxInt64, true},
		{"2562047788:00:54.775808", 0, 0, 0, false},
		{"", 0, 0, 0, false},
		{"1 fortnight", 0, 0, 0, false},
		// whole time units are exact to PostgreSQL's bound (a float would round
		// 2562047788 hours by hundreds of microseconds)
		{"2562047788 hours", 0, 0, 2562047788 * usPerHour, true},
		{"-2562047788 hours 1 microsecond", 0, 0, -2562047788*usPerHour + 1, true},
		{"9223372036854775807 usec", 0, 0, math.MaxInt64, true},
		{"2562047788 hours ago", 0, 0, -2562047788 * usPerHour, true},
		{"2562047789 hours", 0, 0, 0, false},
		{"2562047788 hours 1 minute", 0, 0, 0, false},
	} {
		m, d, us, ok := Parse(c.in)
		if ok != c.valid || ok && (m != c.m || d != c.d || us != c.us) {
			t.Errorf("Parse(%q) = %d, %d, %d, %v; want %d, %d, %d, %v", c.in, m, d, us, ok, c.m, c.d, c.us, c.valid)
		}
	}
}

// TestCheck: why an input is refused, PostgreSQL's 22015 (a field past its
// range) or 22007 (no interval).
func TestCheck(t *testing.T) {
	for in, want := range map[string]error{
		"2562047789 hours":          ErrFieldRange,
		"2562047788.5 hours":        ErrFieldRange,
		"-2562047788 hours -1 hour": ErrFieldRange,
		"3000000000 months":         ErrFieldRange,
		"1 fortnight":               ErrSyntax,
		"2562047788 hours":          nil,
	} {
		if _, _, _, err := Check(in); err != want {
			t.Errorf("Check(%q) = %v; want %v", in, err, want)
		}
	}
}

// FuzzRoundTrip: every interval's output text reads back as the same months,
// days and microseconds (storage keeps interval columns as that text), and
// Parse of any input does not panic.
func FuzzRoundTrip(f *testing.F) {
	f.Add(int32(14), int32(3), int64(14706700000), "1 day")
	f.Add(int32(-1), int32(1), int64(-1), "-1 days +02:03:04.5")
	f.Add(int32(math.MinInt32), int32(math.MaxInt32), int64(math.MinInt64+1), "P1Y")
	f.Fuzz(func(t *testing.T, m, d int32, us int64, in string) {
		Parse(in)
		if us == math.MinInt64 { // PostgreSQL's interval has no such value either
			return
		}
		txt := string(Append(nil, m, d, us))
		gm, gd, gus, ok := Parse(txt)
		if !ok || gm != m || gd != d || gus != us {
			t.Fatalf("(%d, %d, %d) prints %q, reads back as (%d, %d, %d), %v", m, d, us, txt, gm, gd, gus, ok)
		}
	})
}
