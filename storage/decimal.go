package storage

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// ParseDecimal reads numeric text ("12.34", "-1e3", " 5 ") as a numeric(prec,
// scale) column stores it: value × 10^scale in an int64, extra fractional digits
// rounded half away from zero as PostgreSQL does. syntax is true when s is not a
// number; ok is false (and syntax false) when it does not fit prec digits (prec 0:
// any int64). Used by COPY, INSERT and Kafka ingest and by the engine, so every path
// stores the same value.
func ParseDecimal(s string, prec, scale int) (v int64, ok, syntax bool) {
	digits, exp, neg, good := SplitNumber(s)
	if !good {
		return 0, false, true
	}
	v, ok = ScaleDigits(digits, exp+scale, neg)
	if ok && prec > 0 && prec < 19 {
		lim := int64(1)
		for range prec {
			lim *= 10
		}
		ok = v < lim && v > -lim
	}
	return v, ok, false
}

// SplitNumber splits numeric text into its digits (no point, leading zeros kept)
// and the power of ten they are scaled by; false when s is not a number.
func SplitNumber(s string) (digits string, exp int, neg, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", 0, false, false
	}
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	mant, e := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, e = s[:i], s[i+1:]
	}
	ip, fp, _ := strings.Cut(mant, ".")
	if ip == "" && fp == "" {
		return "", 0, false, false
	}
	for _, c := range ip + fp {
		if c < '0' || c > '9' {
			return "", 0, false, false
		}
	}
	if e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n > 1000 || n < -1000 {
			return "", 0, false, false
		}
		exp = n
	}
	return ip + fp, exp - len(fp), neg, true
}

// ScaleDigits returns digits × 10^k as an int64, rounding dropped digits half away
// from zero; false on overflow.
func ScaleDigits(digits string, k int, neg bool) (int64, bool) {
	keep, roundUp := digits, false
	if k < 0 {
		if -k >= len(digits) {
			keep = ""
			roundUp = -k == len(digits) && digits[0] >= '5'
		} else {
			keep = digits[:len(digits)+k]
			roundUp = digits[len(digits)+k] >= '5'
		}
		k = 0
	}
	var u uint64
	for i := 0; i < len(keep); i++ {
		hi, lo := bits.Mul64(u, 10)
		lo, c := bits.Add64(lo, uint64(keep[i]-'0'), 0)
		if hi != 0 || c != 0 {
			return 0, false
		}
		u = lo
	}
	if roundUp {
		u++
	}
	for ; k > 0 && u != 0; k-- {
		hi, lo := bits.Mul64(u, 10)
		if hi != 0 {
			return 0, false
		}
		u = lo
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// FormatDecimal is the text of scaled value v (value × 10^scale) with scale
// digits after the point: "-12.30" for -1230 at scale 2.
func FormatDecimal(v int64, scale int) string {
	u := uint64(v)
	if v < 0 {
		u = -u // also right for MinInt64
	}
	d := strconv.FormatUint(u, 10)
	if scale > 0 {
		if len(d) <= scale {
			d = strings.Repeat("0", scale-len(d)+1) + d
		}
		d = d[:len(d)-scale] + "." + d[len(d)-scale:]
	}
	if v < 0 {
		return "-" + d
	}
	return d
}
