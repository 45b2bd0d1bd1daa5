package engine

import (
	"math"
	"strconv"
	"strings"

	"github.com/stratadb/strata/internal/sqlstate"
)

// to_char(number, text): the common subset of PostgreSQL's numeric templates —
// digits 9 and 0, decimal point (. or D), group separator (, or G), FM, and one
// sign: S first or last, MI or PR last, or none (a '-' or ' ' right before the
// number). strata's locale is C: D is '.', G is ','. Other templates (EEEE, V,
// L, RN, TH, PL, SG, literal text) are refused with 0A000 rather than guessed.

type numTemplate struct {
	fm        bool
	slots     []byte // '9', '0', '.', ','
	pre, post int    // digit slots before and after the decimal point
	zeroStart int    // first integer slot (counted among pre) printed as 0 when empty; pre if none
	sign      string // "", "S<", "S>", "MI", "PR"
}

func compileNumTemplate(f string) (*numTemplate, error) {
	t := &numTemplate{}
	refuse := func() (*numTemplate, error) {
		return nil, Errorf(sqlstate.FeatureNotSupported, "to_char template %q for a number is not supported (supported: 9 0 . D , G FM S MI PR)", f)
	}
	s := f
	if strings.HasPrefix(strings.ToUpper(s), "FM") {
		t.fm, s = true, s[2:]
	}
	up := strings.ToUpper(s)
	switch {
	case strings.HasPrefix(up, "S"):
		t.sign, s, up = "S<", s[1:], up[1:]
	case strings.HasSuffix(up, "S"):
		t.sign, s, up = "S>", s[:len(s)-1], up[:len(up)-1]
	case strings.HasSuffix(up, "MI"), strings.HasSuffix(up, "PR"):
		t.sign, s, up = up[len(up)-2:], s[:len(s)-2], up[:len(up)-2]
	}
	t.zeroStart = -1
	seenDec := false
	for i := 0; i < len(up); i++ {
		switch c := up[i]; c {
		case '9', '0':
			if seenDec {
				t.post++
			} else {
				if c == '0' && t.zeroStart < 0 {
					t.zeroStart = t.pre
				}
				t.pre++
			}
			t.slots = append(t.slots, c)
		case '.', 'D':
			if seenDec {
				return refuse()
			}
			seenDec = true
			t.slots = append(t.slots, '.')
		case ',', 'G':
			if seenDec {
				return refuse()
			}
			t.slots = append(t.slots, ',')
		default:
			return refuse()
		}
	}
	if t.pre+t.post == 0 {
		return refuse()
	}
	if t.zeroStart < 0 {
		t.zeroStart = t.pre
	}
	return t, nil
}

// appendNum formats v (already finite) by t.
func (t *numTemplate) appendNum(dst []byte, neg bool, digits string) []byte {
	// digits is |v| rounded to t.post decimals, as "int.frac" or "int".
	intPart, frac, _ := strings.Cut(digits, ".")
	if intPart == "0" && t.post > 0 {
		intPart = ""
	}
	overflow := len(intPart) > t.pre
	var body []byte
	started := false // a digit (or forced zero) of the integer part has been written
	k, j := 0, 0     // integer slot, fraction slot
	seenDec := false
	signAt := -1 // where the floating sign goes in body
	mark := func() {
		if !started {
			started = true
			signAt = len(body)
		}
	}
	for _, c := range t.slots {
		switch {
		case c == '.':
			seenDec = true
			mark()
			body = append(body, '.')
		case c == ',':
			if started {
				body = append(body, ',')
			} else if !t.fm {
				body = append(body, ' ')
			}
		case !seenDec:
			first := t.pre - len(intPart)
			switch {
			case overflow:
				mark()
				body = append(body, '#')
			case k >= first:
				mark()
				body = append(body, intPart[k-first])
			case k >= t.zeroStart:
				mark()
				body = append(body, '0')
			case !t.fm:
				body = append(body, ' ')
			}
			k++
		default:
			if overflow {
				body = append(body, '#')
			} else {
				body = append(body, frac[j])
			}
			j++
		}
	}
	if !started {
		signAt = len(body)
	}
	if t.fm && !overflow { // FM drops trailing zeros of 9 fraction slots
		cut := len(body)
		for i := len(t.slots) - 1; i >= 0 && t.slots[i] == '9' && seenDec; i-- {
			if body[cut-1] != '0' {
				break
			}
			cut--
		}
		body = body[:cut]
		if !strings.ContainsAny(string(body), "0123456789") {
			// PostgreSQL keeps one zero rather than print no digit at all.
			body = append(body[:signAt], append([]byte{'0'}, body[signAt:]...)...)
		}
	}
	var sign string
	switch t.sign {
	case "":
		sign = " "
		if neg {
			sign = "-"
		} else if t.fm {
			sign = ""
		}
	case "S<":
		sign = "+"
		if neg {
			sign = "-"
		}
	case "PR":
		if neg {
			sign = "<"
		} else if !t.fm {
			sign = " "
		}
	}
	dst = append(dst, body[:signAt]...)
	dst = append(dst, sign...)
	dst = append(dst, body[signAt:]...)
	switch t.sign {
	case "S>":
		if neg {
			dst = append(dst, '-')
		} else {
			dst = append(dst, '+')
		}
	case "MI":
		if neg {
			dst = append(dst, '-')
		} else if !t.fm {
			dst = append(dst, ' ')
		}
	case "PR":
		if neg {
			dst = append(dst, '>')
		} else if !t.fm {
			dst = append(dst, ' ')
		}
	}
	return dst
}

func toCharNum(x, f *vec, n int) (*vec, error) {
	out := newVec(Text, n)
	out.nulls = unionNulls(n, x, f)
	var (
		lastF string
		t     *numTemplate
		buf   []byte
	)
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		if s := f.str(i); t == nil || s != lastF {
			var err error
			if t, err = compileNumTemplate(s); err != nil {
				return nil, err
			}
			lastF = s
		}
		var neg bool
		var digits string
		if kindOf(x.t) == kInt {
			v := x.i[i]
			neg = v < 0
			digits = strconv.FormatUint(absInt(v), 10)
			if t.post > 0 {
				digits += "." + strings.Repeat("0", t.post)
			}
		} else {
			v := x.f[i]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, Errorf(sqlstate.FeatureNotSupported, "to_char of NaN or infinity is not supported")
			}
			neg = v < 0
			if x.t.ID == TypeNumeric {
				// numeric rounds its decimal digits half away from zero; a float8
				// rounds its binary value, as C's printf does.
				digits = roundHalfUp(strconv.FormatFloat(math.Abs(v), 'f', -1, 64), t.post)
			} else {
				digits = strconv.FormatFloat(math.Abs(v), 'f', t.post, 64)
			}
			if neg && x.t.ID == TypeNumeric && strings.Trim(digits, "0.") == "" {
				neg = false // a numeric that rounds to zero has no sign (a float8 keeps it)
			}
		}
		buf = t.appendNum(buf[:0], neg, digits)
		out.s[i] = string(buf)
	}
	return out, nil
}

func absInt(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// roundHalfUp rounds the non-negative decimal s ("123.456") to post decimals,
// ties away from zero, and pads it to exactly post decimals.
func roundHalfUp(s string, post int) string {
	ip, fp, _ := strings.Cut(s, ".")
	if len(fp) <= post {
		fp += strings.Repeat("0", post-len(fp))
	} else {
		up := fp[post] >= '5'
		fp = fp[:post]
		if up {
			d := []byte(ip + fp)
			i := len(d) - 1
			for ; i >= 0 && d[i] == '9'; i-- {
				d[i] = '0'
			}
			if i < 0 {
				d = append([]byte{'1'}, d...)
			} else {
				d[i]++
			}
			ip, fp = string(d[:len(d)-post]), string(d[len(d)-post:])
		}
	}
	if post == 0 {
		return ip
	}
	return ip + "." + fp
}
