package storage

import (
	"fmt"
	"math/big"
	"strings"
)

// A numeric column without a modifier, or numeric(p,s) beyond what an int64 holds
// (p > 18, or a negative scale), is stored exactly as its canonical text in a
// TypeString column, dictionary encoded, as uuid and interval are: the text
// PostgreSQL prints for the value (no exponent, no leading zeros, no "+", no
// negative zero; "NaN", "Infinity", "-Infinity"), with the value's own display
// scale when the column has no modifier ('19.990' stays 19.990) and exactly s
// digits after the point for numeric(p,s) (s <= 0: none). Every writer (INSERT,
// COPY, Kafka, the lake read) canonicalizes through CanonicalNumeric, so equal
// values of a numeric(p,s) column have equal text; the engine parses each
// dictionary value once and computes on it exactly (engine/numeric.go).
//
// Text and not a wider binary (int128, or apd's coefficient and exponent): an
// unconstrained numeric has no fixed scale, so any fixed-width form would either
// lose the display scale or need a scale beside it per value, and the text is
// what every output path prints; the dictionary holds each distinct value once.
// Tables written before this form existed keep TypeFloat64 numeric columns (their
// stored schema says so) and read as before.

// NumericTextColumn reports whether c is a numeric kept as canonical text, and
// its modifier: hasMod with prec and scale for numeric(p,s), none for numeric.
func (c Column) NumericTextColumn() (prec, scale int, hasMod, ok bool) {
	if c.Type != TypeString || c.SQLType != "numeric" {
		return 0, 0, false, false
	}
	if c.TypMod < 4 {
		return 0, 0, false, true
	}
	prec, scale = NumericTypMod(c.TypMod)
	return prec, scale, true, true
}

// NumericTypMod splits PostgreSQL's numeric atttypmod ((p<<16 | s&0x7ff) + 4)
// into p and s; s is an 11-bit two's complement (PostgreSQL 15 allows -1000..1000).
func NumericTypMod(typmod int32) (prec, scale int) {
	m := typmod - 4
	return int(m >> 16 & 0xffff), int((m&0x7ff ^ 1024) - 1024)
}

// NumericError is why CanonicalNumeric refused a value.
type NumericError uint8

const (
	NumericOK       NumericError = iota
	NumericSyntax                // not numeric text: 22P02
	NumericOverflow              // does not fit numeric(p,s), or is infinite there: 22003
)

// NumericOverflowDetail is PostgreSQL's DETAIL for input, a value CanonicalNumeric
// found not to fit numeric(prec,scale) (apply_typmod).
func NumericOverflowDetail(prec, scale int, input string) string {
	switch strings.ToLower(strings.TrimLeft(strings.TrimSpace(input), "+-")) {
	case "inf", "infinity":
		return fmt.Sprintf("A field with precision %d, scale %d cannot hold an infinite value.", prec, scale)
	case "nan":
		return fmt.Sprintf("strata keeps numeric(%d,%d) as a Delta decimal in the lake, which cannot hold NaN.", prec, scale)
	}
	if prec == scale {
		return fmt.Sprintf("A field with precision %d, scale %d must round to an absolute value less than 1.", prec, scale)
	}
	return fmt.Sprintf("A field with precision %d, scale %d must round to an absolute value less than 10^%d.", prec, scale, prec-scale)
}

// CanonicalNumeric appends to dst the canonical text (see above) of numeric input
// s (PostgreSQL's numeric_in: surrounding blanks, a sign, digits with an optional
// point, an exponent; NaN, Infinity and inf in any case) for a column of modifier
// (prec, scale) when hasMod: rounded half away from zero to scale digits (a
// negative scale rounds to tens, hundreds, …) and checked against prec, as
// PostgreSQL's apply_typmod; NaN there is NumericOverflow too, unlike PostgreSQL,
// since the lake keeps such a column as a Delta decimal. Text already canonical for the column is appended
// as it is, with no other work.
func CanonicalNumeric(dst []byte, s string, prec, scale int, hasMod bool) ([]byte, NumericError) {
	if isCanonicalNumeric(s, prec, scale, hasMod) {
		return append(dst, s...), NumericOK
	}
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "nan":
		if hasMod { // a Delta decimal has no NaN (lakesrc writes numeric(p,s) as one)
			return dst, NumericOverflow
		}
		return append(dst, "NaN"...), NumericOK
	case "infinity", "+infinity", "inf", "+inf", "-infinity", "-inf":
		if hasMod {
			return dst, NumericOverflow
		}
		if t[0] == '-' {
			return append(dst, "-Infinity"...), NumericOK
		}
		return append(dst, "Infinity"...), NumericOK
	}
	digits, exp, neg, ok := SplitNumber(t)
	if !ok {
		return dst, NumericSyntax
	}
	// Without a modifier the display scale is the digits written after the point,
	// less the exponent (1.50e1 is 15.0), never below 0.
	dscale := max(0, -exp)
	if hasMod {
		dscale = max(0, scale)
		digits, exp = roundDigits(digits, exp, -scale)
	}
	digits = strings.TrimLeft(digits, "0")
	if hasMod && len(digits) > 0 && len(digits)+exp > prec-scale {
		return dst, NumericOverflow
	}
	// The value is digits × 10^exp; print it with dscale digits after the point.
	if digits == "" {
		neg = false
	}
	if neg {
		dst = append(dst, '-')
	}
	intLen := len(digits) + exp // digits before the point
	if digits == "" {
		intLen = 0 // zero: "0", whatever its exponent
	}
	switch {
	case intLen <= 0:
		dst = append(dst, '0')
	default:
		if intLen <= len(digits) {
			dst = append(dst, digits[:intLen]...)
		} else {
			dst = append(dst, digits...)
			dst = appendZeros(dst, intLen-len(digits))
		}
	}
	if dscale == 0 {
		return dst, NumericOK
	}
	dst = append(dst, '.')
	// fraction: positions 1..dscale after the point
	for k := 1; k <= dscale; k++ {
		// digit at 10^-k is digits[intLen+k-1] when in range
		j := intLen + k - 1
		if j >= 0 && j < len(digits) {
			dst = append(dst, digits[j])
		} else {
			dst = append(dst, '0')
		}
	}
	return dst, NumericOK
}

func appendZeros(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, '0')
	}
	return dst
}

// roundDigits rounds digits × 10^exp half away from zero to a multiple of
// 10^minExp; the result's exponent is at least minExp.
func roundDigits(digits string, exp, minExp int) (string, int) {
	if exp >= minExp {
		return digits, exp
	}
	drop := minExp - exp // digits to drop from the right
	if drop > len(digits) {
		return "", minExp
	}
	keep, up := digits[:len(digits)-drop], digits[len(digits)-drop] >= '5'
	if !up {
		return keep, minExp
	}
	b := []byte("0" + keep)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			break
		}
		b[i] = '0'
	}
	return string(b), minExp
}

// isCanonicalNumeric reports whether s is already the canonical text of its value
// for the column: an optional "-", digits without a leading zero (but "0"), and,
// when the column fixes a positive scale, exactly scale digits after a point,
// with no more integer digits than prec - scale; without a modifier any digits
// after a point. Negative zero is not canonical.
func isCanonicalNumeric(s string, prec, scale int, hasMod bool) bool {
	if s == "" {
		return false
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	ip, fp, point := strings.Cut(s, ".")
	if ip == "" || len(ip) > 1 && ip[0] == '0' || point && fp == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	if strings.Count(s, ".") > 1 {
		return false
	}
	if hasMod {
		switch {
		case scale < 0:
			return false // rounding to tens: the slow path
		case scale == 0 && (point || len(ip) > prec):
			return false
		case scale > 0 && (len(fp) != scale || ip != "0" && len(ip) > prec-scale):
			return false
		}
	}
	if neg && strings.Trim(ip+fp, "0") == "" {
		return false
	}
	return true
}

// NumericDigits returns canonical numeric text t (CanonicalNumeric's, finite) as
// an unscaled integer at the given scale: t × 10^scale, which must be whole.
func NumericDigits(t string, scale int) (*big.Int, bool) {
	digits, exp, neg, ok := SplitNumber(t)
	if !ok || exp+scale < 0 {
		return nil, false
	}
	var n big.Int
	if _, ok := n.SetString(digits, 10); !ok {
		return nil, false
	}
	if k := exp + scale; k > 0 {
		n.Mul(&n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil))
	}
	if neg {
		n.Neg(&n)
	}
	return &n, true
}
