package pgwire

import (
	"context"
	"sync"
	"syscall"
	"time"
)

// peerWatch cancels a running statement when its client disconnects. While a
// statement runs, nobody reads the socket, so a client that gives up (pgx closes
// the socket when its context ends, which is how Grafana cancels) would otherwise
// be noticed only when the result is written, after all the work. Like PostgreSQL's
// client_connection_check_interval, it peeks at the socket on a timer; the timer
// costs nothing for statements shorter than the interval.
type peerWatch struct {
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// startWatch watches the client until stopWatch; cancel ends the statement.
// REQUIRES: no watch is running.
func (c *conn) startWatch(cancel context.CancelFunc) {
	interval := c.srv.opts.PeerCheckInterval
	if c.raw == nil || interval < 0 {
		return
	}
	if interval == 0 {
		interval = defaultPeerCheckInterval
	}
	w := &peerWatch{}
	rc := c.raw
	var check func()
	check = func() {
		if peerClosed(rc) {
			cancel()
			return
		}
		w.mu.Lock()
		if !w.stopped {
			w.timer.Reset(interval)
		}
		w.mu.Unlock()
	}
	w.mu.Lock()
	w.timer = time.AfterFunc(interval, check)
	w.mu.Unlock()
	c.watch = w
}

func (c *conn) stopWatch() {
	w := c.watch
	if w == nil {
		return
	}
	c.watch = nil
	w.mu.Lock()
	w.stopped = true
	w.timer.Stop()
	w.mu.Unlock()
}

func rawConn(v any) syscall.RawConn {
	sc, ok := v.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
