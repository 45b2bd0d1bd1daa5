package engine

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stratadb/strata/internal/sqlstate"
)

// to_number(text, text): the input side of to_char's number templates
// (formatting.c's NUM_processor reading, with NUM_numpart_from_char). The template
// is walked with the input: each 9 or 0 reads one digit (or, where the input has
// none, consumes one character), . or D reads the decimal point, , or G consumes
// the input's comma if it is there (nothing under FM), L eats one non-digit
// character, MI/PL/SG read a sign where they stand, S reads one before or after
// the number, PR reads an opening '<' as a minus, V divides by 10 per digit after
// it; any other template character consumes one input character. A sign before
// the first digit is read wherever it is. strata's locale is C: D is '.', G ','.

type numParseTemplate struct {
	nodes                   []numParseNode
	fm, dec, lsign, bracket bool
	plus, minus, vSeen      bool
	lsignPre                bool
	pre, post, multi        int
}

type numParseNode struct {
	key string // upper-case keyword, or "" for a literal character
	ch  string
}

var numKeywords = []string{"EEEE", "FM", "MI", "PL", "PR", "RN", "SG", "SP", "TH", ",", ".", "0", "9", "B", "C", "D", "E", "G", "L", "S", "V"}

func compileNumParse(f string) (*numParseTemplate, error) {
	t := &numParseTemplate{}
	syntax := func(msg string) error { return Errorf(sqlstate.SyntaxError, "%s", msg) }
	for i := 0; i < len(f); {
		up := strings.ToUpper(f[i:min(len(f), i+4)])
		key := ""
		for _, k := range numKeywords {
			if strings.HasPrefix(up, k) {
				key = k
				break
			}
		}
		if key == "" {
			_, w := utf8.DecodeRuneInString(f[i:])
			t.nodes = append(t.nodes, numParseNode{ch: f[i : i+w]})
			i += w
			continue
		}
		i += len(key)
		switch key {
		case "9", "0":
			if t.bracket {
				return nil, syntax(`"9" must be ahead of "PR"`)
			}
			switch {
			case t.vSeen:
				t.multi++
			case t.dec:
				t.post++
			default:
				t.pre++
			}
		case ".", "D":
			if t.dec {
				return nil, syntax("multiple decimal points")
			}
			if t.vSeen {
				return nil, syntax(`cannot use "V" and decimal point together`)
			}
			t.dec = true
		case "FM":
			t.fm = true
		case "S":
			if t.lsign {
				return nil, syntax(`cannot use "S" twice`)
			}
			if t.plus || t.minus || t.bracket {
				return nil, syntax(`cannot use "S" and "PL"/"MI"/"SG"/"PR" together`)
			}
			t.lsign = true
			t.lsignPre = !t.dec && t.pre == 0
		case "MI":
			if t.lsign {
				return nil, syntax(`cannot use "S" and "MI" together`)
			}
			t.minus = true
		case "PL":
			if t.lsign {
				return nil, syntax(`cannot use "S" and "PL" together`)
			}
			t.plus = true
		case "SG":
			if t.lsign {
				return nil, syntax(`cannot use "S" and "SG" together`)
			}
			t.plus, t.minus = true, true
		case "PR":
			if t.lsign || t.plus || t.minus {
				return nil, syntax(`cannot use "PR" and "S"/"PL"/"MI"/"SG" together`)
			}
			t.bracket = true
		case "V":
			if t.dec {
				return nil, syntax(`cannot use "V" and decimal point together`)
			}
			t.vSeen = true
		case "RN":
			return nil, Errorf(sqlstate.FeatureNotSupported, `"RN" not supported for input`)
		case "EEEE":
			return nil, Errorf(sqlstate.FeatureNotSupported, `"EEEE" not supported for input`)
		}
		t.nodes = append(t.nodes, numParseNode{key: key})
	}
	return t, nil
}

// parse reads in by t into the digits PostgreSQL hands numeric_in: sign,
// integer digits, '.', fraction digits.
func (t *numParseTemplate) parse(in string) (float64, error) {
	sign := byte(' ')
	var num []byte
	readPre, readPost, readDec := 0, 0, false
	p := 0
	end := len(in)
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	eat := func(n int) { // NUM_eat_non_data_chars
		for ; n > 0 && p < end; n-- {
			if strings.IndexByte("0123456789.,+-", in[p]) >= 0 {
				break
			}
			_, w := utf8.DecodeRuneInString(in[p:])
			p += w
		}
	}
	numpart := func(key string) {
		if p < end && in[p] == ' ' {
			p++
		}
		if p < end && in[p] == ' ' {
			p++
		}
		if p >= end {
			return
		}
		if sign == ' ' && (key == "0" || key == "9") && readPre+readPost == 0 {
			if t.lsign && t.lsignPre {
				switch in[p] {
				case '-':
					p++
					sign = '-'
				case '+':
					p++
					sign = '+'
				}
			} else {
				switch {
				case in[p] == '-' || t.bracket && in[p] == '<':
					sign = '-'
					p++
				case in[p] == '+':
					sign = '+'
					p++
				}
			}
		}
		if p >= end {
			return
		}
		isread := false
		switch {
		case isDigit(in[p]):
			if readDec && readPost == t.post {
				return
			}
			num = append(num, in[p])
			if readDec {
				readPost++
			} else {
				readPre++
			}
			isread = true
		case t.dec && !readDec:
			if in[p] == '.' {
				num = append(num, '.')
				readDec = true
				isread = true
			}
		}
		if p >= end {
			return
		}
		if sign == ' ' && readPre+readPost > 0 {
			if t.lsign && isread && p+1 < end && !isDigit(in[p+1]) {
				switch in[p+1] {
				case '-':
					p++
					sign = '-'
				case '+':
					p++
					sign = '+'
				}
			} else if !isread && !t.lsign && (t.plus || t.minus) {
				if in[p] == '-' || in[p] == '+' {
					sign = in[p]
				}
			}
		}
	}
	for _, n := range t.nodes {
		if p >= end {
			break
		}
		switch n.key {
		case "":
			_, w := utf8.DecodeRuneInString(in[p:])
			p += w
			continue
		case "9", "0", ".", "D":
			numpart(n.key)
		case ",", "G":
			if t.fm || in[p] != ',' {
				continue
			}
		case "L":
			eat(1)
			continue
		case "TH":
			if t.dec {
				continue
			}
			eat(2)
			continue
		case "MI":
			if in[p] != '-' {
				eat(1)
				continue
			}
			sign = '-'
		case "PL":
			if in[p] != '+' {
				eat(1)
				continue
			}
			sign = '+'
		case "SG":
			if in[p] != '-' && in[p] != '+' {
				eat(1)
				continue
			}
			sign = in[p]
		default:
			continue
		}
		p++
	}
	s := string(num)
	s = strings.TrimSuffix(s, ".")
	text := string(sign) + s
	if s == "" {
		return 0, Errorf(sqlstate.InvalidTextRepresentation, "invalid input syntax for type numeric: %q", text)
	}
	intPart, _, _ := strings.Cut(s, ".")
	if len(strings.TrimLeft(intPart, "0")) > t.pre+t.multi {
		return 0, Errorf(sqlstate.NumericValueOutOfRange, "numeric field overflow")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, Errorf(sqlstate.InvalidTextRepresentation, "invalid input syntax for type numeric: %q", text)
	}
	if sign == '-' {
		v = -v
	}
	if t.multi > 0 {
		v /= math.Pow10(t.multi)
	}
	return v, nil
}

func toNumber(in, f *vec, n int) (*vec, error) {
	out := newVec(Numeric, n)
	out.nulls = unionNulls(n, in, f)
	var (
		lastF string
		t     *numParseTemplate
	)
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		if s := f.str(i); t == nil || s != lastF {
			var err error
			if t, err = compileNumParse(s); err != nil {
				return nil, err
			}
			lastF = s
		}
		v, err := t.parse(in.str(i))
		if err != nil {
			return nil, err
		}
		out.f[i] = v
	}
	return out, nil
}
