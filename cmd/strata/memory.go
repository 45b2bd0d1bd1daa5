package main

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// physicalMemory returns the memory this process may use: the machine's RAM
// (/proc/meminfo MemTotal) or, when smaller, its cgroup's limit (v2 memory.max,
// v1 memory.limit_in_bytes), so that a container's limit is what counts. 0 when
// neither can be read.
func physicalMemory() int64 {
	var total int64
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil {
					total = kb << 10
				}
				break
			}
		}
		f.Close()
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64) // "max": no limit
		if err == nil && n > 0 && (total == 0 || n < total) {
			total = n
		}
	}
	return total
}

// defaultMaxMemory is --max-memory's default: 75% of physicalMemory (4 GiB when
// it cannot be read).
func defaultMaxMemory() int64 {
	if m := physicalMemory(); m > 0 {
		return m / 4 * 3
	}
	return 4 << 30
}

// setSoftMemoryLimit makes the Go runtime collect garbage harder as the heap nears
// 90% of physicalMemory, so that memory the queries' accounting does not see
// (buffers, garbage not yet collected) does not bring the kernel's OOM killer. An
// operator's GOMEMLIMIT wins.
func setSoftMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if m := physicalMemory(); m > 0 {
		debug.SetMemoryLimit(m / 10 * 9)
	}
}
