package pgwire

import (
	"math"
	"strconv"

	"github.com/stratadb/strata/engine"
)

// Fast paths for the text output of the commonest non-trivial values. They print
// exactly what engine.AppendText prints (a test compares both over random values)
// and hand every unusual value (infinities, years outside 1..9999, NaN, zero) to it.

const usPerDay = 86_400_000_000

// twoDigits holds "00".."99".
var twoDigits = func() (t [200]byte) {
	for i := range 100 {
		t[2*i], t[2*i+1] = byte('0'+i/10), byte('0'+i%10)
	}
	return
}()

func append2(dst []byte, v int) []byte { return append(dst, twoDigits[2*v], twoDigits[2*v+1]) }

// civilDate converts days since 1970-01-01 to a proleptic Gregorian date
// (H. Hinnant's days_from_civil inverse).
func civilDate(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return
}

func appendYMD(dst []byte, y int64, m, d int) []byte {
	dst = append2(dst, int(y/100))
	dst = append2(dst, int(y%100))
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d)
}

// appendTimestampText appends timestamp[tz] text for µs since the Unix epoch.
func (c *colEncoder) appendTimestampText(dst []byte, r int) []byte {
	if c.zoned && c.typ.ID == engine.TypeTimestampTZ {
		return engine.AppendText(dst, c.arr, r, c.typ)
	}
	us := int64(c.times[r])
	days := us / usPerDay
	rem := us - days*usPerDay
	if rem < 0 {
		days--
		rem += usPerDay
	}
	y, m, d := civilDate(days)
	if y < 1 || y > 9999 || us == math.MaxInt64 || us == math.MinInt64 {
		return engine.AppendText(dst, c.arr, r, c.typ)
	}
	dst = appendYMD(dst, y, m, d)
	secs := int(rem / 1_000_000)
	frac := int(rem % 1_000_000)
	dst = append(dst, ' ')
	dst = append2(dst, secs/3600)
	dst = append(dst, ':')
	dst = append2(dst, secs/60%60)
	dst = append(dst, ':')
	dst = append2(dst, secs%60)
	if frac != 0 {
		var f [6]byte
		for i := 5; i >= 0; i-- {
			f[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := 6
		for f[n-1] == '0' {
			n--
		}
		dst = append(dst, '.')
		dst = append(dst, f[:n]...)
	}
	if c.typ.ID == engine.TypeTimestampTZ {
		dst = append(dst, "+00"...)
	}
	return dst
}

func (c *colEncoder) appendDateText(dst []byte, r int) []byte {
	y, m, d := civilDate(int64(c.dates[r]))
	if y < 1 || y > 9999 {
		return engine.AppendText(dst, c.arr, r, c.typ)
	}
	return appendYMD(dst, y, m, d)
}

// appendFloatText prints real and double precision like PostgreSQL 15: the
// shortest digits that round-trip, positional when the decimal exponent is in
// [-4, 15) ([-4, 6) for real), else in exponent form. One conversion instead of two.
func (c *colEncoder) appendFloatText(dst []byte, r int) []byte {
	f := c.floats[r]
	bits, maxExp := 64, 15
	switch c.typ.ID {
	case engine.TypeFloat64:
	case engine.TypeFloat32:
		bits, maxExp = 32, 6
	default:
		return engine.AppendText(dst, c.arr, r, c.typ)
	}
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return engine.AppendText(dst, c.arr, r, c.typ)
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits) // [-]d[.ddd]e±dd
	i := len(e) - 1
	for e[i] != 'e' {
		i--
	}
	exp := 0
	for _, ch := range e[i+2:] {
		exp = 10*exp + int(ch-'0')
	}
	if e[i+1] == '-' {
		exp = -exp
	}
	if exp < -4 || exp >= maxExp {
		return append(dst, e...)
	}
	mant := e[:i]
	if mant[0] == '-' {
		dst = append(dst, '-')
		mant = mant[1:]
	}
	var digits [24]byte
	nd := 0
	for _, ch := range mant {
		if ch != '.' {
			digits[nd] = ch
			nd++
		}
	}
	if exp < 0 {
		dst = append(dst, '0', '.')
		for range -exp - 1 {
			dst = append(dst, '0')
		}
		return append(dst, digits[:nd]...)
	}
	for k := 0; k <= exp; k++ {
		if k < nd {
			dst = append(dst, digits[k])
		} else {
			dst = append(dst, '0')
		}
	}
	if nd > exp+1 {
		dst = append(dst, '.')
		dst = append(dst, digits[exp+1:nd]...)
	}
	return dst
}
