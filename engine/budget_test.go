package engine

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/internal/sqlstate"
)

// sortedSeries is SELECT n FROM generate_series(1, rows) ORDER BY n DESC: the sort
// holds every row (8 bytes and more each) until its output is read.
func sortedSeries(rows int64) Plan {
	n := &ColRef{Index: 0, T: Int64, Name: "n"}
	return &Sort{Input: &Series{Start: &Const{V: Value{Type: Int64, I: 1}}, Stop: &Const{V: Value{Type: Int64, I: rows}},
		Out: []Field{{Name: "n", Type: Int64}}}, Keys: []SortKey{{Expr: n, Desc: true}}}
}

// TestMemoryBudgetOneQueryFails: a query that needs more than the server-wide cap
// fails alone with 53200, while a query running beside it finishes, and every byte
// goes back to the budget.
func TestMemoryBudgetOneQueryFails(t *testing.T) {
	// The wait is long: the big query fails as soon as both wait (every byte in
	// use held by waiting queries), and the small one may wait out a big one
	// that computes slowly (-race, a loaded machine) before it asks for more.
	budget := NewMemoryBudget(8<<20, time.Minute)
	var wg sync.WaitGroup
	var bigErr, smallErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, bigErr = runErr(sortedSeries(2_000_000), Options{Budget: budget})
	}()
	go func() {
		defer wg.Done()
		for range 20 {
			if _, smallErr = runErr(sortedSeries(20_000), Options{Budget: budget}); smallErr != nil {
				return
			}
		}
	}()
	wg.Wait()
	var e *Error
	if !errors.As(bigErr, &e) || e.Code != sqlstate.OutOfMemory || e.Message != "out of memory" ||
		e.Detail == "" {
		t.Fatalf("big query: got %v, want 53200 out of memory", bigErr)
	}
	t.Logf("DETAIL: %s", e.Detail)
	if smallErr != nil {
		t.Fatalf("small query beside it: %v", smallErr)
	}
	if u := budget.Used(); u != 0 {
		t.Fatalf("budget holds %d bytes after every query ended", u)
	}
}

// TestMemoryBudgetDeadlockFailsAtOnce: a query that needs more than the budget
// has left, with no other query running to release any, fails at once rather
// than after the budget's wait (an hour here; the test gives up after a minute).
func TestMemoryBudgetDeadlockFailsAtOnce(t *testing.T) {
	budget := NewMemoryBudget(8<<20, time.Hour)
	done := make(chan error, 1)
	go func() {
		_, err := runErr(sortedSeries(2_000_000), Options{Budget: budget})
		done <- err
	}()
	select {
	case err := <-done:
		var e *Error
		if !errors.As(err, &e) || e.Code != sqlstate.OutOfMemory {
			t.Fatalf("got %v, want 53200 out of memory", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the query alone waited for memory nobody else holds")
	}
	if u := budget.Used(); u != 0 {
		t.Fatalf("budget holds %d bytes after the query ended", u)
	}
}

// TestMemoryBudgetWaits: a query that cannot get memory waits for another to
// release it instead of failing at once.
func TestMemoryBudgetWaits(t *testing.T) {
	budget := NewMemoryBudget(12<<20, 5*time.Second)
	ctx := context.Background()
	holder, err := Execute(ctx, sortedSeries(400_000), Options{Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := holder.Next(ctx) // the sort has read (and charged) its whole input
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	held := budget.Used()
	if held < 4<<20 {
		t.Fatalf("holder reserved %d bytes; the test needs it to hold most of the budget", held)
	}
	closed := make(chan struct{})
	time.AfterFunc(200*time.Millisecond, func() { holder.Close(); close(closed) })
	start := time.Now()
	if _, err := runErr(sortedSeries(800_000), Options{Budget: budget}); err != nil {
		t.Fatalf("second query: %v (holder had %d bytes)", err, held)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("second query finished after %v: it did not need to wait, the test proves nothing", waited)
	}
	<-closed // on a slow machine the second query may end before the holder is closed
	if u := budget.Used(); u != 0 {
		t.Fatalf("budget holds %d bytes after every query ended", u)
	}
	_, err = holder.Next(ctx)
	if err != io.EOF && err == nil {
		t.Fatalf("closed holder: %v", err)
	}
}
