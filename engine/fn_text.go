package engine

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stratadb/strata/internal/sqlstate"
)

// More string functions (PostgreSQL 15 §9.4): lpad, rpad, chr, ascii, translate,
// to_hex, quote_literal, quote_nullable, bit_length, and format() (§9.4.1).

func init() {
	register(
		&Func{Name: "lpad", Args: sig(Text, Int32), Ret: Text, Strict: true, kernel: padKernel(true)},
		&Func{Name: "lpad", Args: sig(Text, Int32, Text), Ret: Text, Strict: true, kernel: padKernel(true)},
		&Func{Name: "rpad", Args: sig(Text, Int32), Ret: Text, Strict: true, kernel: padKernel(false)},
		&Func{Name: "rpad", Args: sig(Text, Int32, Text), Ret: Text, Strict: true, kernel: padKernel(false)},
		&Func{Name: "chr", Args: sig(Int32), Ret: Text, Strict: true, kernel: chrKernel},
		&Func{Name: "ascii", Args: sig(Text), Ret: Int32, Strict: true, kernel: lengthKernel(func(s string) int {
			r, _ := utf8.DecodeRuneInString(s)
			if s == "" {
				return 0
			}
			return int(r)
		})},
		&Func{Name: "bit_length", Args: sig(Text), Ret: Int32, Strict: true, kernel: lengthKernel(func(s string) int { return 8 * len(s) })},
		&Func{Name: "translate", Args: sig(Text, Text, Text), Ret: Text, Strict: true, kernel: translateKernel},
		&Func{Name: "to_hex", Args: sig(Int32), Ret: Text, Strict: true, kernel: toHexKernel(32)},
		&Func{Name: "to_hex", Args: sig(Int64), Ret: Text, Strict: true, kernel: toHexKernel(64)},
		&Func{Name: "quote_literal", Args: sig(Text), Ret: Text, Strict: true,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				return mapText(args[0], QuoteLiteral), nil
			}},
		&Func{Name: "quote_nullable", Args: sig(Text), Ret: Text,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				out := mapText(args[0], QuoteLiteral)
				if args[0].nulls != nil {
					for i := 0; i < n; i++ {
						if args[0].isNull(i) {
							out = textWithNulls(out, n)
							break
						}
					}
				}
				return out, nil
			}},
		&Func{Name: "format", Args: sig(Text), VariadicAny: true, Ret: Text, Vol: Stable, kernel: formatKernel},
	)
}

// textWithNulls turns x's NULL rows into the text NULL (quote_nullable).
func textWithNulls(x *vec, n int) *vec {
	out := newVec(Text, n)
	for i := 0; i < n; i++ {
		if x.isNull(i) {
			out.s[i] = "NULL"
		} else {
			out.s[i] = x.str(i)
		}
	}
	return out
}

// QuoteLiteral is quote_literal: the string in single quotes, quotes doubled; a
// string with a backslash becomes an E” string with the backslashes doubled.
func QuoteLiteral(s string) string {
	var b strings.Builder
	if strings.Contains(s, `\`) {
		b.WriteString("E")
	}
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			b.WriteByte(s[i])
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

func padKernel(left bool) Kernel {
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		return textN(n, args, func(i int) (string, error) {
			s, k := args[0].str(i), args[1].i[i]
			fill := " "
			if len(args) == 3 {
				fill = args[2].str(i)
			}
			if k <= 0 {
				return "", nil
			}
			if k > 10<<20 {
				return "", Errorf(sqlstate.ProgramLimitExceeded, "requested length too large")
			}
			r := []rune(s)
			if int64(len(r)) >= k || fill == "" {
				return string(r[:min(int64(len(r)), k)]), nil
			}
			fr := []rune(fill)
			pad := make([]rune, 0, k-int64(len(r)))
			for j := 0; int64(len(pad)) < k-int64(len(r)); j++ {
				pad = append(pad, fr[j%len(fr)])
			}
			if left {
				return string(pad) + s, nil
			}
			return s + string(pad), nil
		})
	}
}

func chrKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	return textN(n, args, func(i int) (string, error) {
		v := args[0].i[i]
		switch {
		case v == 0:
			return "", Errorf(sqlstate.ProgramLimitExceeded, "null character not permitted")
		case v < 0:
			return "", Errorf(sqlstate.ProgramLimitExceeded, "character number must be positive")
		case v > 0x10ffff || v >= 0xd800 && v <= 0xdfff:
			return "", Errorf(sqlstate.ProgramLimitExceeded, "requested character too large for encoding: %d", v)
		}
		return string(rune(v)), nil
	})
}

func translateKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	return textN(n, args, func(i int) (string, error) {
		from, to := []rune(args[1].str(i)), []rune(args[2].str(i))
		var b strings.Builder
		for _, r := range args[0].str(i) {
			k := -1
			for j, f := range from {
				if f == r {
					k = j
					break
				}
			}
			switch {
			case k < 0:
				b.WriteRune(r)
			case k < len(to):
				b.WriteRune(to[k])
			}
		}
		return b.String(), nil
	})
}

func toHexKernel(bits int) Kernel {
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		return textN(n, args, func(i int) (string, error) {
			v := uint64(args[0].i[i])
			if bits == 32 {
				v = uint64(uint32(args[0].i[i]))
			}
			return strconv.FormatUint(v, 16), nil
		})
	}
}

// formatKernel is format(formatstr, VARIADIC "any"): %s (NULL as nothing), %I
// (quote_ident; NULL is 22004), %L (quote_literal; NULL as NULL), %%, with
// PostgreSQL's argument positions (%2$s), widths (%10s, %-10s, %*s, %*2$s).
func formatKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	texts := make([]*vec, len(args))
	for k, a := range args {
		t, err := ev.castToText(a)
		if err != nil {
			return nil, err
		}
		texts[k] = t
	}
	out := newVec(Text, n)
	var b strings.Builder
	for i := 0; i < n; i++ {
		if texts[0].isNull(i) {
			out.setNull(i)
			continue
		}
		b.Reset()
		if err := formatRow(&b, texts[0].str(i), texts[1:], args[1:], i); err != nil {
			return nil, err
		}
		out.s[i] = b.String()
	}
	return out, nil
}

func formatRow(b *strings.Builder, f string, texts, orig []*vec, row int) error {
	next := 0 // the next argument, 0-based
	bad := func(msg string) error { return Errorf(sqlstate.InvalidParameterValue, "%s", msg) }
	arg := func(k int) (string, bool, error) {
		if k >= len(texts) {
			return "", false, bad("too few arguments for format()")
		}
		return texts[k].str(row), texts[k].isNull(row), nil
	}
	readNum := func(i int) (int, int, bool) { // digits at f[i:]
		j := i
		v := 0
		for j < len(f) && f[j] >= '0' && f[j] <= '9' {
			if v > 100000000 {
				return 0, j, false
			}
			v = v*10 + int(f[j]-'0')
			j++
		}
		return v, j, j > i
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			b.WriteByte(f[i])
			continue
		}
		i++
		if i >= len(f) {
			return bad("unterminated format() type specifier")
		}
		if f[i] == '%' {
			b.WriteByte('%')
			continue
		}
		// [argpos$][flags][width][type]
		if v, j, ok := readNum(i); ok && j < len(f) && f[j] == '$' {
			if v == 0 {
				return bad("format specifies argument 0, but arguments are numbered from 1")
			}
			next = v - 1
			i = j + 1
		}
		minus := false
		for i < len(f) && f[i] == '-' {
			minus = true
			i++
		}
		width, hasWidth := 0, false
		if i < len(f) && f[i] == '*' {
			i++
			wk := next
			if v, j, ok := readNum(i); ok && j < len(f) && f[j] == '$' {
				if v == 0 {
					return bad("format specifies argument 0, but arguments are numbered from 1")
				}
				wk = v - 1
				i = j + 1
			} else {
				next++
			}
			if wk >= len(texts) {
				return bad("too few arguments for format()")
			}
			if !texts[wk].isNull(row) {
				w, err := strconv.Atoi(texts[wk].str(row))
				if err != nil || !orig[wk].t.IsInteger() {
					return Errorf(sqlstate.InvalidParameterValue, "width argument must be of type integer")
				}
				width, hasWidth = w, true
				if w < 0 {
					minus, width = true, -w
				}
			}
		} else if v, j, ok := readNum(i); ok {
			width, hasWidth, i = v, true, j
		}
		if i >= len(f) {
			return bad("unterminated format() type specifier")
		}
		s, null, err := arg(next)
		if err != nil {
			return err
		}
		next++
		switch f[i] {
		case 's':
			if null {
				s = ""
			}
		case 'I':
			if null {
				return Errorf(sqlstate.NullValueNotAllowed, "null values cannot be formatted as an SQL identifier")
			}
			s = QuoteIdent(s)
		case 'L':
			if null {
				s = "NULL"
			} else {
				s = QuoteLiteral(s)
			}
		default:
			return bad("unrecognized format() type specifier \"" + string(f[i]) + "\"")
		}
		if hasWidth {
			pad := width - utf8.RuneCountInString(s)
			if pad > 0 && !minus {
				b.WriteString(strings.Repeat(" ", pad))
			}
			b.WriteString(s)
			if pad > 0 && minus {
				b.WriteString(strings.Repeat(" ", pad))
			}
			continue
		}
		b.WriteString(s)
	}
	return nil
}
