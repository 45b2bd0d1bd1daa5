package objstore

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// slowStore delays every GetRange and records the most running at once.
type slowStore struct {
	Store
	running, most atomic.Int64
	fail          atomic.Bool
}

func (s *slowStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	now := s.running.Add(1)
	defer s.running.Add(-1)
	for {
		m := s.most.Load()
		if now <= m || s.most.CompareAndSwap(m, now) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	if s.fail.Load() && off > 0 {
		return nil, errors.New("injected")
	}
	return s.Store.GetRange(ctx, key, off, n)
}

func testObject(t *testing.T, st Store, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := st.Put(context.Background(), "obj.parquet", data); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGetRangesCoalesced: nearby ranges share one GET, far ones get their own,
// at most MaxInFlight run at once, every result equals its GetRange, and a
// failed GET fails the call.
func TestGetRangesCoalesced(t *testing.T) {
	ctx := context.Background()
	l, err := OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := testObject(t, l, 64<<20)
	slow := &slowStore{Store: l}
	inner := &countingStore{Store: slow}
	const far = 2 * CoalesceGap
	var ranges []Range
	// Three groups of nearby ranges (given out of order), then 20 far apart.
	for _, base := range []int64{40 << 20, 0, 10 << 20} {
		ranges = append(ranges, Range{base + 1000, 500}, Range{base, 100}, Range{base + 100 + CoalesceGap, 10})
	}
	for i := range int64(20) {
		ranges = append(ranges, Range{50<<20 + i*far, 1000})
	}
	ranges = append(ranges, Range{int64(len(data)) - 10, 100}) // clipped at the end
	got, err := GetRanges(ctx, inner, "obj.parquet", ranges)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range ranges {
		want := clipRangeLoop(data, r.Off, r.N)
		if !bytes.Equal(got[i], want) {
			t.Fatalf("range %d [%d, +%d): %d bytes differ from GetRange's %d", i, r.Off, r.N, len(got[i]), len(want))
		}
	}
	if n := inner.ranges.Load(); n != 3+20+1 {
		t.Fatalf("%d GETs, want 24 (3 coalesced groups, 20 far ranges, the tail)", n)
	}
	if m := slow.most.Load(); m < 2 || m > MaxInFlight {
		t.Fatalf("%d GETs in flight at most, want 2..%d", m, MaxInFlight)
	}
	// Too big to merge: two ranges of CoalesceMax/2+1 bytes side by side.
	inner.ranges.Store(0)
	half := int64(CoalesceMax/2 + 1)
	if _, err := GetRanges(ctx, inner, "obj.parquet", []Range{{0, half}, {half, half}}); err != nil {
		t.Fatal(err)
	}
	if n := inner.ranges.Load(); n != 2 {
		t.Fatalf("%d GETs for two ranges over CoalesceMax together, want 2", n)
	}
	slow.fail.Store(true)
	if _, err := GetRanges(ctx, inner, "obj.parquet", ranges); err == nil {
		t.Fatal("a failed GET did not fail GetRanges")
	}
	if _, err := GetRanges(ctx, l, "obj.parquet", []Range{{0, 0}}); err == nil {
		t.Fatal("an empty range was accepted")
	}
}

// TestCachedGetRanges: Cached serves ranges it holds (exact entries, or a whole
// object) and fetches only the misses, coalesced; each fetched range becomes an
// entry; a Put invalidates them.
func TestCachedGetRanges(t *testing.T) {
	ctx := context.Background()
	c, inner, _ := newCachedForTest(t, 1<<30)
	data := testObject(t, c, 4<<20)
	ranges := []Range{{0, 100}, {5000, 200}, {3 << 20, 1000}}
	check := func(what string, got [][]byte, ranges []Range) {
		t.Helper()
		for i, r := range ranges {
			if !bytes.Equal(got[i], clipRangeLoop(data, r.Off, r.N)) {
				t.Fatalf("%s: range %d differs", what, i)
			}
		}
	}
	got, err := c.GetRanges(ctx, "obj.parquet", ranges)
	if err != nil {
		t.Fatal(err)
	}
	check("cold", got, ranges)
	if n := inner.ranges.Load(); n != 2 {
		t.Fatalf("cold: %d GETs, want 2 (the first two coalesced)", n)
	}
	c.Wait()
	if entries, _ := c.Stats(); entries != 3 {
		t.Fatalf("%d entries, want one per range", entries)
	}
	more := append(ranges, Range{2 << 20, 10})
	got, err = c.GetRanges(ctx, "obj.parquet", more)
	if err != nil {
		t.Fatal(err)
	}
	check("warm", got, more)
	if n := inner.ranges.Load(); n != 3 {
		t.Fatalf("warm: %d GETs in all, want 3 (only the new range fetched)", n)
	}
	if b, err := c.GetRange(ctx, "obj.parquet", 5000, 200); err != nil || !bytes.Equal(b, data[5000:5200]) || inner.ranges.Load() != 3 {
		t.Fatalf("GetRange of a range GetRanges fetched: %v, %d GETs", err, inner.ranges.Load())
	}
	data = testObject(t, c, 4<<20) // same bytes, but a Put invalidates
	if _, err := c.GetRanges(ctx, "obj.parquet", ranges); err != nil {
		t.Fatal(err)
	}
	if n := inner.ranges.Load(); n != 5 {
		t.Fatalf("after a Put: %d GETs in all, want 5", n)
	}
}
