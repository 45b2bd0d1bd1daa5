//go:build !unix

package pgwire

import "syscall"

// peerClosed cannot peek at the socket here: a vanished client is noticed at the
// next write.
func peerClosed(syscall.RawConn) bool { return false }
