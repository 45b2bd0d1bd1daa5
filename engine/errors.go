package engine

import (
	"errors"
	"fmt"

	"github.com/stratadb/strata/internal/sqlstate"
)

// Error is an error with a SQLSTATE (a constant of internal/sqlstate), raised by
// the engine or the SQL layer.
// Position is the 1-based character offset into the query text (0 when unknown),
// as PostgreSQL reports it.
type Error struct {
	Code     string
	Message  string
	Detail   string
	Hint     string
	Position int
	Err      error // wrapped cause, may be nil
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// Unsupported returns a 0A000 error naming the feature.
func Unsupported(feature string) *Error {
	return &Error{Code: sqlstate.FeatureNotSupported, Message: feature + " is not supported"}
}
