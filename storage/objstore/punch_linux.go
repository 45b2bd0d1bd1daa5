package objstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// punchHole frees the disk blocks of bytes [off, off+n) of f, keeping its size;
// a file system that cannot is left as it is (the bytes stay until the file is
// closed with its last entry).
func punchHole(f *os.File, off, n int64) {
	_ = unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}
