package engine

import (
	"errors"
	"fmt"
)

// SQLSTATE codes the engine and the SQL layer use. The wire layer sends Code as is.
const (
	CodeSyntaxError          = "42601"
	CodeUndefinedTable       = "42P01"
	CodeUndefinedColumn      = "42703"
	CodeUndefinedFunction    = "42883"
	CodeAmbiguousColumn      = "42702"
	CodeDuplicateTable       = "42P07"
	CodeDatatypeMismatch     = "42804"
	CodeGroupingError        = "42803"
	CodeInvalidParameter     = "22023"
	CodeObjectNotInState     = "55000"
	CodeInvalidText          = "22P02" // invalid_text_representation
	CodeDivisionByZero       = "22012"
	CodeNumericOutOfRange    = "22003"
	CodeDatetimeOverflow     = "22008"
	CodeFeatureNotSupported  = "0A000"
	CodeOutOfMemory          = "53200"
	CodeQueryCanceled        = "57014"
	CodeDataCorrupted        = "XX001"
	CodeInternalError        = "XX000"
	CodeProgramLimitExceeded = "54000"
	CodeInvalidCursorState   = "24000"
	CodeBadCopyFileFormat    = "22P04"
	CodeProtocolViolation    = "08P01"
	CodeInvalidSQLStatement  = "26000" // invalid_sql_statement_name
	CodeUndefinedObject      = "42704"
	CodeInsufficientResource = "53000"
	CodeIOError              = "58030"
	// CodeInsufficientPrivilege is insufficient_privilege: a location outside the
	// lake roots, and (package sql) privileges.
	CodeInsufficientPrivilege = "42501"
	CodeInvalidName           = "42602"
	// Window frames (PostgreSQL's windowing_error, invalid_preceding_or_following_size,
	// null_value_not_allowed, invalid_column_reference).
	CodeWindowingError            = "42P20"
	CodeInvalidPrecedingFollowing = "22013"
	CodeNullValueNotAllowed       = "22004"
	CodeInvalidColumnReference    = "42P10"
)

// Error is an error with a SQLSTATE, raised by the engine or the SQL layer.
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
	return &Error{Code: CodeFeatureNotSupported, Message: feature + " is not supported"}
}
