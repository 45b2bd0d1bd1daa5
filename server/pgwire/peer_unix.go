//go:build unix

package pgwire

import (
	"errors"
	"syscall"
)

// peerClosed reports whether the client has closed its end of the socket, without
// consuming any byte it sent (a non-blocking MSG_PEEK: 0 bytes means end of file).
func peerClosed(rc syscall.RawConn) bool {
	closed := false
	var buf [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == nil:
			closed = n == 0
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		default:
			closed = true // ECONNRESET and friends
		}
		return true
	})
	return closed
}
