package engine

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/stratadb/strata/internal/sqlstate"
)

// Every goroutine the engine starts for a query (scan workers, partial aggregation,
// dictionary merges) runs its work through safely: a panic there — a bug, or a
// Source that breaks its contract — becomes an XX000 error of that query alone,
// with the stack logged, instead of ending the process. The goroutine that called
// Execute and pulls batches is the caller's to guard (the wire layers do).

// safely runs f and turns a panic into an XX000 *Error.
func safely(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(v, debug.Stack())
		}
	}()
	return f()
}

// panicError logs a recovered panic with its stack and returns the query's error.
func panicError(v any, stack []byte) *Error {
	slog.Error("engine: panic in query worker", "panic", v, "stack", string(stack))
	return &Error{Code: sqlstate.InternalError, Message: fmt.Sprintf("internal error: %v", v)}
}

// inParallel runs f(0..n-1) on n goroutines and waits for them; a panic in any
// becomes the returned XX000 error.
func inParallel(n int, f func(r int)) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = safely(func() error { f(r); return nil })
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
