package inproc_test

import (
	"testing"
	"time"

	"github.com/stratadb/strata/bench/inproc"
)

// cpuMeter measures the CPU time (user + system) the whole test process spends
// between start and report: on a machine shared with other work the wall-clock
// rate moves with the load, the CPU cost per event much less.
type cpuMeter struct{ began time.Duration }

func processCPU(b *testing.B) time.Duration {
	d, err := inproc.ProcessCPU()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func (m *cpuMeter) start(b *testing.B) { m.began = processCPU(b) }

// report adds the metric cpu-µs/<unit>: process CPU time since start per item.
func (m *cpuMeter) report(b *testing.B, items int, unit string) {
	used := processCPU(b) - m.began
	b.ReportMetric(float64(used.Microseconds())/float64(items), "cpu-µs/"+unit)
}
