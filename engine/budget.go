package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/internal/sqlstate"
)

// MemoryBudget is a server-wide memory cap shared by every running query. Each
// query's memTracker reserves from it in steps of at least reserveStep as its hash
// tables, sort buffers and materialized inputs grow, and gives everything back when
// the query ends. A reservation that does not fit waits up to the budget's wait for
// other queries to release memory, then fails that query alone with 53200; the
// other queries go on. When every byte in use is held by waiting queries, the one
// holding the most fails at once. Safe for concurrent use.
type MemoryBudget struct {
	limit int64
	wait  time.Duration
	mu    struct {
		sync.Mutex
		used    int64
		changed chan struct{} // closed and replaced on every release
		waiters map[*waiter]struct{}
	}
}

// reserveStep is the least a query reserves from the budget at a time, so that the
// shared lock is taken once per MiB a query grows, not once per hash-table step.
const reserveStep = 1 << 20

// DefaultMemoryWait is how long a query waits for memory before failing.
const DefaultMemoryWait = 2 * time.Second

// NewMemoryBudget returns a budget of limit bytes; a query that cannot get memory
// waits up to wait (0: DefaultMemoryWait) before failing.
func NewMemoryBudget(limit int64, wait time.Duration) *MemoryBudget {
	if wait <= 0 {
		wait = DefaultMemoryWait
	}
	b := &MemoryBudget{limit: limit, wait: wait}
	b.mu.changed = make(chan struct{})
	b.mu.waiters = make(map[*waiter]struct{})
	return b
}

// Limit returns the budget's size in bytes.
func (b *MemoryBudget) Limit() int64 { return b.limit }

// Used returns the bytes running queries hold.
func (b *MemoryBudget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.used
}

// reserve takes want bytes for m or, when only that fits, n <= want, waiting up to
// b.wait for n. When the wait ends and
// another waiting query holds more than m, that query fails instead and m waits on:
// the query that asked for the most gives way, not the one that came last.
func (b *MemoryBudget) reserve(ctx context.Context, m *memTracker, want, n int64) (int64, error) {
	if n > b.limit {
		return 0, b.outOfMemory(n)
	}
	var timer *time.Timer
	var w *waiter
	defer func() {
		if w != nil {
			b.mu.Lock()
			delete(b.mu.waiters, w)
			b.mu.Unlock()
		}
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		b.mu.Lock()
		for _, take := range []int64{want, n} {
			if b.mu.used+take <= b.limit {
				b.mu.used += take
				b.mu.Unlock()
				return take, nil
			}
		}
		if w == nil {
			w = &waiter{m: m, victim: make(chan struct{})}
			b.mu.waiters[w] = struct{}{}
		}
		if v := b.deadlockVictimLocked(); v == w {
			b.mu.Unlock()
			return 0, b.outOfMemory(n)
		} else if v != nil {
			v.failed = true
			close(v.victim)
		}
		changed := b.mu.changed
		b.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(b.wait)
		}
		select {
		case <-changed:
		case <-w.victim:
			return 0, b.outOfMemory(n)
		case <-timer.C:
			if !b.failBiggerWaiter(w) {
				return 0, b.outOfMemory(n)
			}
			timer.Reset(b.wait)
		case <-ctx.Done():
			return 0, ctxErr(ctx)
		}
	}
}

// waiter is a query waiting for memory.
type waiter struct {
	m      *memTracker
	victim chan struct{} // closed when another waiter chose this one to fail
	failed bool          // REQUIRES b.mu
}

// deadlockVictimLocked returns the waiting query that holds the most when every
// byte in use is held by waiting queries (none of them can go on, so only a
// failure frees memory: waiting for the timer would only delay it), and nil
// otherwise. Bytes a query has just been granted but not yet recorded count as
// held by a query that is not waiting. REQUIRES: b.mu is held.
func (b *MemoryBudget) deadlockVictimLocked() *waiter {
	var held int64
	var big *waiter
	for o := range b.mu.waiters {
		if o.failed {
			continue
		}
		r := o.m.reserved.Load()
		held += r
		if big == nil || r > big.m.reserved.Load() {
			big = o
		}
	}
	if big == nil || held < b.mu.used {
		return nil
	}
	return big
}

// failBiggerWaiter makes the waiting query that holds the most fail, when it holds
// more than w's; false when w is the biggest.
func (b *MemoryBudget) failBiggerWaiter(w *waiter) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	var big *waiter
	for o := range b.mu.waiters {
		if o != w && !o.failed && o.m.reserved.Load() > w.m.reserved.Load() &&
			(big == nil || o.m.reserved.Load() > big.m.reserved.Load()) {
			big = o
		}
	}
	if big == nil {
		return false
	}
	big.failed = true
	close(big.victim)
	return true
}

func (b *MemoryBudget) outOfMemory(n int64) error {
	return &Error{Code: sqlstate.OutOfMemory, Message: "out of memory",
		Detail: fmt.Sprintf("Failed on request of size %d bytes: running queries hold the server-wide memory limit of %d bytes (--max-memory).", n, b.limit)}
}

func (b *MemoryBudget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.mu.used -= n
	if b.mu.used < 0 {
		panic("BUG: memory budget released more than was reserved")
	}
	close(b.mu.changed)
	b.mu.changed = make(chan struct{})
	b.mu.Unlock()
}

// memTracker charges the bytes one query holds against its own limit and, through
// reservations, against the server's MemoryBudget. Safe for concurrent use by the
// query's workers.
type memTracker struct {
	limit  int64
	used   atomic.Int64
	budget *MemoryBudget   // nil: no server-wide cap
	ctx    context.Context // the query's: a wait for memory ends with it
	// reserved mirrors mu.reserved for the lock-free fast path of grow.
	reserved atomic.Int64
	mu       struct {
		sync.Mutex
		reserved int64 // bytes taken from budget
		closed   bool  // the query ended: nothing more may be reserved
	}
}

func (m *memTracker) grow(n int64) error {
	if n <= 0 {
		return nil
	}
	u := m.used.Add(n)
	if m.limit > 0 && u > m.limit {
		return &Error{Code: sqlstate.OutOfMemory, Message: fmt.Sprintf("query exceeded memory limit of %d bytes", m.limit)}
	}
	if m.budget == nil || u <= m.reserved.Load() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return errCanceled
	}
	need := u - m.mu.reserved
	if need <= 0 {
		return nil
	}
	ctx := m.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	step, err := m.budget.reserve(ctx, m, max(need, reserveStep), need)
	if err != nil {
		return err
	}
	m.mu.reserved += step
	m.reserved.Store(m.mu.reserved)
	return nil
}

func (m *memTracker) shrink(n int64) {
	u := m.used.Add(-n)
	if m.budget == nil || m.reserved.Load()-u < 4*reserveStep {
		return
	}
	// Give back what a shrinking query no longer needs (a sort that handed its
	// buffers on), keeping one step for its next growth.
	m.mu.Lock()
	defer m.mu.Unlock()
	if extra := m.mu.reserved - max(m.used.Load(), 0) - reserveStep; extra > 0 && !m.mu.closed {
		m.mu.reserved -= extra
		m.reserved.Store(m.mu.reserved)
		m.budget.release(extra)
	}
}

// close returns the query's reservation to the budget; later grows fail.
func (m *memTracker) close() {
	if m.budget == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.closed = true
	m.budget.release(m.mu.reserved)
	m.mu.reserved = 0
	m.reserved.Store(0)
}
