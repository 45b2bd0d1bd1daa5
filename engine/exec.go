package engine

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Options control one execution.
type Options struct {
	// MemoryLimit bounds the bytes a query may hold in hash tables, sort buffers and
	// materialized batches; exceeding it ends the query with SQLSTATE 53200. 0: no limit.
	MemoryLimit int64
	// Budget, when set, is the server-wide cap the query's memory is also reserved
	// from (shared by every running query); a query that cannot get memory waits
	// briefly and then fails with 53200.
	Budget *MemoryBudget
	// Parallelism is the number of worker goroutines; 0 means runtime.GOMAXPROCS(0).
	Parallelism int
	// Now is the statement's timestamp (now(), CURRENT_TIMESTAMP); its Location is
	// the session's TimeZone, in which every zone-dependent operation computes
	// (tz.go).
	Now time.Time
	// TextZone, when set and not UTC, is the zone the result's timestamptz columns
	// print in: their Arrow type carries it (AppendText and the wire layer read
	// it). Set for results a client reads, not for rows stored (INSERT … SELECT).
	TextZone *time.Location
	// RegNames names the relations, roles and schemas of the statement's database
	// for the text of reg types (regtypes.go): casts to text, and the result's reg
	// columns, which leave as RegArray.
	RegNames RegNamer
	// Funcs are functions the caller supplies, for a Call whose Func names one: the
	// SQL layer's functions that act on the server (pg_cancel_backend,
	// pg_terminate_backend). They are called row by row and never folded.
	Funcs map[string]HostFunc
	// Params are the outer row's values a correlated subquery's plan reads through
	// Param (subplan.go); empty for a statement.
	Params []Value
}

// HostFunc is a function Options.Funcs supplies; args are one row's argument
// values, the result must have the Call's type.
type HostFunc func(args []Value) (Value, error)

// hostFuncs are the names the SQL layer binds to Options.Funcs (fn_catalog.go's
// volatile pg_cancel_backend, pg_terminate_backend); scan.go keeps them out of
// dictionary-answered predicates.
var hostFuncs = map[string]bool{"pg_cancel_backend": true, "pg_terminate_backend": true}

// Rows streams a query's result as Arrow record batches.
type Rows interface {
	Fields() []Field
	// Next returns the next non-empty batch, or (nil, io.EOF) at the end. The caller
	// must Release each batch it gets.
	Next(ctx context.Context) (arrow.RecordBatch, error)
	// Close stops the query and frees its resources; safe to call more than once.
	Close()
}
