package pgwire

import (
	"context"
	"errors"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
)

// errorResponse maps err to PostgreSQL's ErrorResponse: the SQLSTATE of an
// *engine.Error, XX001 for storage corruption, 57014 for a cancelled context and
// XX000 for anything else.
func errorResponse(err error) *pgproto3.ErrorResponse {
	r := &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: sqlstate.InternalError, Message: err.Error()}
	var ee *engine.Error
	switch {
	case errors.As(err, &ee):
		r.Message, r.Detail, r.Hint, r.Position = ee.Message, ee.Detail, ee.Hint, int32(ee.Position)
		if ee.Code != "" {
			r.Code = ee.Code
		}
		if r.Code == sqlstate.InternalError && errors.Is(err, storage.ErrCorrupt) {
			r.Code = sqlstate.DataCorrupted
		}
	case errors.Is(err, storage.ErrCorrupt):
		r.Code = sqlstate.DataCorrupted
	case errors.Is(err, context.Canceled):
		r.Code, r.Message = sqlstate.QueryCanceled, "canceling statement due to user request"
	case errors.Is(err, context.DeadlineExceeded):
		r.Code, r.Message = sqlstate.QueryCanceled, "canceling statement due to statement timeout"
	}
	if r.Message == "" {
		r.Message = "internal error"
	}
	return r
}

// shiftPosition moves the Position of an *engine.Error by offset characters: the
// statement was cut out of a longer query string, and positions count from the
// start of what the client sent.
func shiftPosition(err error, offset int) error {
	var ee *engine.Error
	if offset == 0 || !errors.As(err, &ee) || ee.Position == 0 {
		return err
	}
	shifted := *ee
	shifted.Position += offset
	return &shifted
}

// locate returns the number of characters before piece in query, searching from
// byte *from on and advancing *from past it; 0 when piece is not a substring.
func locate(query, piece string, from *int) int {
	if *from > len(query) {
		return 0
	}
	i := indexOf(query[*from:], piece)
	if i < 0 {
		return 0
	}
	start := *from + i
	*from = start + len(piece)
	return utf8.RuneCountInString(query[:start])
}

func indexOf(s, sub string) int {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if s[i:i+n] == sub {
			return i
		}
	}
	return -1
}

// leadingWords returns the first three keywords of a statement in upper case,
// skipping white space and comments; enough to recognize transaction control.
func leadingWords(q string) [3]string {
	var w [3]string
	i := 0
	for k := 0; k < len(w); k++ {
		for i < len(q) {
			switch {
			case q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r' || q[i] == '\f':
				i++
			case q[i] == '-' && i+1 < len(q) && q[i+1] == '-':
				for i < len(q) && q[i] != '\n' {
					i++
				}
			case q[i] == '/' && i+1 < len(q) && q[i+1] == '*':
				depth := 0
				for i < len(q) {
					if q[i] == '/' && i+1 < len(q) && q[i+1] == '*' {
						depth++
						i += 2
					} else if q[i] == '*' && i+1 < len(q) && q[i+1] == '/' {
						depth--
						i += 2
						if depth == 0 {
							break
						}
					} else {
						i++
					}
				}
			default:
				goto word
			}
		}
	word:
		start := i
		for i < len(q) && (q[i] >= 'a' && q[i] <= 'z' || q[i] >= 'A' && q[i] <= 'Z' || q[i] == '_') {
			i++
		}
		if start == i {
			break
		}
		b := []byte(q[start:i])
		for j, ch := range b {
			if ch >= 'a' && ch <= 'z' {
				b[j] = ch - 'a' + 'A'
			}
		}
		w[k] = string(b)
	}
	return w
}
