package engine

import (
	"strings"

	"github.com/stratadb/strata/internal/sqlstate"
)

// translateRegex rewrites PostgreSQL's advanced-regular-expression constructs
// that Go's RE2 spells differently, outside bracket expressions: the word
// boundaries \m (start of a word), \M (end of a word), [[:<:]] and [[:>:]]
// become \b (RE2 has no word-start/word-end of its own: \b is either, which
// agrees wherever the pattern puts a word character on the right side of it),
// \y and \Y become \b and \B, and \Z (end of string only) becomes \z. What RE2
// cannot do at all — back-references (\1 .. \9) and lookahead or lookbehind
// constraints ((?= (?! (?<= (?<!) — is 2201B, naming the construct.
func translateRegex(p string) (string, error) {
	if !strings.ContainsAny(p, `\[(`) {
		return p, nil
	}
	var b strings.Builder
	inBracket := false
	unsupported := func(what string) error {
		return Errorf(sqlstate.InvalidRegularExpression, "invalid regular expression: %s are not supported (Go's RE2 has none)", what)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			e := p[i+1]
			i++
			if inBracket {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			switch e {
			case 'm', 'M', 'y':
				b.WriteString(`\b`)
			case 'Y':
				b.WriteString(`\B`)
			case 'Z':
				b.WriteString(`\z`)
			case '1', '2', '3', '4', '5', '6', '7', '8', '9':
				return "", unsupported("back-references")
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case !inBracket && (strings.HasPrefix(p[i:], "[[:<:]]") || strings.HasPrefix(p[i:], "[[:>:]]")):
			b.WriteString(`\b`)
			i += len("[[:<:]]") - 1
		case !inBracket && c == '[':
			inBracket = true
			b.WriteByte(c)
			// a ] right after [ or [^ is a literal member
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
		case inBracket && c == '[' && i+1 < len(p) && (p[i+1] == ':' || p[i+1] == '.' || p[i+1] == '='):
			// [:alpha:], [.x.], [=x=] inside a bracket expression
			end := strings.Index(p[i+2:], string(p[i+1])+"]")
			if end < 0 {
				b.WriteByte(c)
				continue
			}
			b.WriteString(p[i : i+2+end+2])
			i += 2 + end + 1
		case inBracket && c == ']':
			inBracket = false
			b.WriteByte(c)
		case !inBracket && c == '(' && (strings.HasPrefix(p[i:], "(?=") || strings.HasPrefix(p[i:], "(?!")):
			return "", unsupported("lookahead constraints")
		case !inBracket && c == '(' && (strings.HasPrefix(p[i:], "(?<=") || strings.HasPrefix(p[i:], "(?<!")):
			return "", unsupported("lookbehind constraints")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
