package realtime

import (
	"runtime"
	"testing"
)

// TestBytesEstimate checks that Bytes tracks the real heap the head holds within a
// factor of two, on the e-commerce benchmark data (64 batches, 262144 rows).
func TestBytesEstimate(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 262144 rows")
	}
	batches := benchBatches(64)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h := NewHead(batches[0].Schema, hour)
	for _, c := range batches {
		if err := h.Append(c); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(h)
	runtime.KeepAlive(batches)
	t.Logf("%d rows: Bytes %d (%.0f/row), heap grew %d (%.0f/row)", h.Rows(), h.Bytes(),
		float64(h.Bytes())/float64(h.Rows()), heap, float64(heap)/float64(h.Rows()))
	if h.Bytes() < heap/2 || h.Bytes() > heap*2 {
		t.Fatalf("Bytes %d, heap grew %d: not within a factor of 2", h.Bytes(), heap)
	}
}
