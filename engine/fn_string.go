package engine

import (
	"crypto/md5"
	"encoding/hex"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/stratadb/strata/internal/sqlstate"
)

// String functions (PostgreSQL 15 §9.4) and regexp_like (§9.7.3). A function of one
// text maps over a dictionary once per distinct value (mapText).

func init() {
	text1 := func(name string, f func(string) string) *Func {
		return &Func{Name: name, Args: sig(Text), Ret: Text, Strict: true,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) { return mapText(args[0], f), nil }}
	}
	register(
		text1("lower", strings.ToLower),
		text1("upper", strings.ToUpper),
		text1("reverse", reverseString),
		text1("initcap", initcap),
		text1("md5", func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }),
		text1("quote_ident", QuoteIdent),
	)
	for _, name := range []string{"btrim", "ltrim", "rtrim", "trim"} {
		kind := KindFunction
		if name == "trim" {
			kind = KindSyntax // TRIM(BOTH … FROM …) is parsed to btrim/ltrim/rtrim
		}
		k := trimKernel(name)
		register(
			&Func{Name: name, Args: sig(Text), Ret: Text, Strict: true, Kind: kind, kernel: k},
			&Func{Name: name, Args: sig(Text, Text), Ret: Text, Strict: true, Kind: kind, kernel: k},
		)
	}
	for _, name := range []string{"length", "char_length", "character_length"} {
		register(&Func{Name: name, Args: sig(Text), Ret: Int32, Strict: true, kernel: lengthKernel(utf8.RuneCountInString)})
	}
	register(&Func{Name: "octet_length", Args: sig(Text), Ret: Int32, Strict: true,
		kernel: lengthKernel(func(s string) int { return len(s) })})
	for _, name := range []string{"position", "strpos"} {
		register(&Func{Name: name, Args: sig(Text, Text), Ret: Int32, Strict: true, kernel: strposKernel})
	}
	for _, name := range []string{"substr", "substring"} {
		register(
			&Func{Name: name, Args: sig(Text, Int32), Ret: Text, Strict: true, kernel: substrKernel},
			&Func{Name: name, Args: sig(Text, Int32, Int32), Ret: Text, Strict: true, kernel: substrKernel},
		)
	}
	register(
		&Func{Name: "starts_with", Args: sig(Text, Text), Ret: Bool, Strict: true, kernel: startsWithKernel},
		&Func{Name: "left", Args: sig(Text, Int32), Ret: Text, Strict: true, kernel: leftRightKernel(true)},
		&Func{Name: "right", Args: sig(Text, Int32), Ret: Text, Strict: true, kernel: leftRightKernel(false)},
		&Func{Name: "repeat", Args: sig(Text, Int32), Ret: Text, Strict: true, kernel: repeatKernel},
		&Func{Name: "replace", Args: sig(Text, Text, Text), Ret: Text, Strict: true, kernel: replaceKernel},
		&Func{Name: "split_part", Args: sig(Text, Text, Int32), Ret: Text, Strict: true, kernel: splitPartKernel},
		&Func{Name: "concat", VariadicAny: true, Ret: Text, Vol: Stable, kernel: concatKernel(false)},
		&Func{Name: "concat_ws", Args: sig(Text), VariadicAny: true, Ret: Text, Vol: Stable, kernel: concatKernel(true)},
	)
	regexK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		return regexMatch("regexp_like", args, n)
	}
	register(
		&Func{Name: "regexp_like", Args: sig(Text, Text), Ret: Bool, Strict: true, kernel: regexK},
		&Func{Name: "regexp_like", Args: sig(Text, Text, Text), Ret: Bool, Strict: true, kernel: regexK},
	)
}

func trimKernel(name string) Kernel {
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		set := " "
		if len(args) == 2 {
			v, ok := constText(args[1])
			if !ok {
				return textN(n, args, func(i int) (string, error) {
					return trimBy(name, args[0].str(i), args[1].str(i)), nil
				})
			}
			set = v
		}
		return mapText(args[0], func(s string) string { return trimBy(name, s, set) }), nil
	}
}

func lengthKernel(f func(string) int) Kernel {
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		x := args[0]
		out := newVec(c.T, n)
		out.nulls = x.nulls
		for i := 0; i < n; i++ {
			if !x.isNull(i) {
				out.i[i] = int64(f(x.str(i)))
			}
		}
		return out, nil
	}
}

func strposKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(Int32, n)
	out.nulls = unionNulls(n, args...)
	for i := 0; i < n; i++ {
		if out.isNull(i) {
			continue
		}
		s, sub := args[0].str(i), args[1].str(i)
		if k := strings.Index(s, sub); k >= 0 {
			out.i[i] = int64(utf8.RuneCountInString(s[:k])) + 1
		}
	}
	return out, nil
}

func startsWithKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(Bool, n)
	out.nulls = unionNulls(n, args...)
	for i := 0; i < n; i++ {
		if !out.isNull(i) {
			out.b[i] = strings.HasPrefix(args[0].str(i), args[1].str(i))
		}
	}
	return out, nil
}

func substrKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	return textN(n, args, func(i int) (string, error) {
		count := int64(math.MaxInt64)
		if len(args) == 3 {
			if count = args[2].i[i]; count < 0 {
				return "", Errorf(sqlstate.SubstringError, "negative substring length not allowed")
			}
		}
		return substr(args[0].str(i), args[1].i[i], count), nil
	})
}

func leftRightKernel(left bool) Kernel {
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		return textN(n, args, func(i int) (string, error) {
			r := []rune(args[0].str(i))
			k, l := int(args[1].i[i]), len(r)
			if k < 0 {
				k = max(l+k, 0)
			}
			k = min(k, l)
			if left {
				return string(r[:k]), nil
			}
			return string(r[l-k:]), nil
		})
	}
}

func repeatKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	return textN(n, args, func(i int) (string, error) {
		k := args[1].i[i]
		if k <= 0 {
			return "", nil
		}
		if int64(len(args[0].str(i)))*k > 1<<28 {
			return "", Errorf(sqlstate.InvalidParameterValue, "requested length too large")
		}
		return strings.Repeat(args[0].str(i), int(k)), nil
	})
}

func replaceKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	if from, ok := constText(args[1]); ok {
		if to, ok := constText(args[2]); ok {
			if from == "" {
				return mapText(args[0], func(s string) string { return s }), nil
			}
			return mapText(args[0], func(s string) string { return strings.ReplaceAll(s, from, to) }), nil
		}
	}
	return textN(n, args, func(i int) (string, error) {
		if args[1].str(i) == "" {
			return args[0].str(i), nil
		}
		return strings.ReplaceAll(args[0].str(i), args[1].str(i), args[2].str(i)), nil
	})
}

func splitPartKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	return textN(n, args, func(i int) (string, error) {
		s, d, k := args[0].str(i), args[1].str(i), args[2].i[i]
		if k == 0 {
			return "", Errorf(sqlstate.InvalidParameterValue, "field position must not be zero")
		}
		parts := []string{s}
		if d != "" {
			parts = strings.Split(s, d)
		}
		if k < 0 {
			if k = int64(len(parts)) + k + 1; k <= 0 {
				return "", nil
			}
		}
		if k > int64(len(parts)) {
			return "", nil
		}
		return parts[k-1], nil
	})
}

// concatKernel is concat(…) (NULLs skipped) or, with ws, concat_ws(sep, …) (NULL
// when sep is NULL).
func concatKernel(ws bool) Kernel {
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		texts := make([]*vec, len(args))
		for k, a := range args {
			v, err := ev.castToText(a) // the output form, as PostgreSQL's concat
			if err != nil {
				return nil, err
			}
			texts[k] = v
		}
		out := newVec(Text, n)
		var sb strings.Builder
		for i := 0; i < n; i++ {
			sb.Reset()
			if !ws {
				for _, t := range texts {
					if !t.isNull(i) {
						sb.WriteString(t.str(i))
					}
				}
				out.s[i] = sb.String()
				continue
			}
			if texts[0].isNull(i) {
				out.setNull(i)
				continue
			}
			sep := texts[0].str(i)
			first := true
			for _, t := range texts[1:] {
				if t.isNull(i) {
					continue
				}
				if !first {
					sb.WriteString(sep)
				}
				first = false
				sb.WriteString(t.str(i))
			}
			out.s[i] = sb.String()
		}
		return out, nil
	}
}
