package objstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Range is a byte range [Off, Off+N) of an object; N > 0.
type Range struct{ Off, N int64 }

// RangesGetter is implemented by stores that fetch several ranges of one object
// their own way (Cached: from its files, the misses from the store it wraps).
type RangesGetter interface {
	GetRanges(ctx context.Context, key string, ranges []Range) ([][]byte, error)
}

// Coalescing of range reads (GetRanges): ranges closer than CoalesceGap are
// fetched by one GET, as long as it stays under CoalesceMax bytes, and up to
// MaxInFlight GETs run at once. An S3 GET costs tens of milliseconds before
// its first byte, so reading a gap of a few hundred KiB is cheaper than a
// second request.
const (
	CoalesceGap = 256 << 10
	CoalesceMax = 16 << 20
	MaxInFlight = 8
)

// GetRanges returns the bytes of each range of key (result i for ranges[i];
// clipped to the object's end as GetRange does). Ranges are merged into as few
// GETs as CoalesceGap and CoalesceMax allow, fetched MaxInFlight at a time; the
// first error fails the call.
func GetRanges(ctx context.Context, s Store, key string, ranges []Range) ([][]byte, error) {
	if rg, ok := s.(RangesGetter); ok {
		return rg.GetRanges(ctx, key, ranges)
	}
	return getCoalesced(ctx, s.GetRange, key, ranges)
}

// fetch is the GetRange of the store being read.
type fetch func(ctx context.Context, key string, off, n int64) ([]byte, error)

// span is one GET covering the ranges idx of the request.
type span struct {
	off, end int64
	idx      []int
}

// coalesce groups ranges into spans (in offset order).
func coalesce(ranges []Range) []span {
	order := make([]int, len(ranges))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case ranges[a].Off < ranges[b].Off:
			return -1
		case ranges[a].Off > ranges[b].Off:
			return 1
		}
		return 0
	})
	var out []span
	for _, i := range order {
		r := ranges[i]
		end := r.Off + r.N
		if n := len(out); n > 0 {
			last := &out[n-1]
			if r.Off <= last.end+CoalesceGap && max(end, last.end)-last.off <= CoalesceMax {
				last.end = max(last.end, end)
				last.idx = append(last.idx, i)
				continue
			}
		}
		out = append(out, span{off: r.Off, end: end, idx: []int{i}})
	}
	return out
}

func getCoalesced(ctx context.Context, get fetch, key string, ranges []Range) ([][]byte, error) {
	for _, r := range ranges {
		if r.Off < 0 || r.N <= 0 {
			return nil, fmt.Errorf("objstore: range [%d, +%d) of %s: not a range", r.Off, r.N, key)
		}
	}
	out := make([][]byte, len(ranges))
	spans := coalesce(ranges)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, MaxInFlight)
	for _, sp := range spans {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			b, err := get(ctx, key, sp.off, sp.end-sp.off)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			for _, i := range sp.idx {
				lo := min(ranges[i].Off-sp.off, int64(len(b)))
				hi := min(lo+ranges[i].N, int64(len(b)))
				out[i] = b[lo:hi:hi]
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// GetRanges serves each range from the cache (an entry of exactly that range,
// or a cached whole object) and fetches the misses from the inner store,
// coalesced; every fetched range is cached as its own entry, so that the next
// read of the same column chunk or footer hits whatever ranges it is fetched
// with.
func (c *Cached) GetRanges(ctx context.Context, key string, ranges []Range) ([][]byte, error) {
	if !c.cacheable(key) {
		return GetRanges(ctx, c.inner, key, ranges)
	}
	out := make([][]byte, len(ranges))
	var missIdx []int
	var miss []Range
	for i, r := range ranges {
		if r.Off < 0 || r.N <= 0 {
			return nil, fmt.Errorf("objstore: range [%d, +%d) of %s: not a range", r.Off, r.N, key)
		}
		if data, ok := c.lookupRange(cacheID{key: key, off: 0, n: -1}, r.Off, r.N); ok {
			out[i] = data
			continue
		}
		if data, ok := c.lookup(cacheID{key: key, off: r.Off, n: r.N}); ok {
			out[i] = data
			continue
		}
		missIdx = append(missIdx, i)
		miss = append(miss, r)
	}
	if len(miss) == 0 {
		return out, nil
	}
	for range miss {
		c.beginFill(key) // one fill per entry, all before the fetch (invalidation marks them stale)
	}
	got, err := GetRanges(ctx, c.inner, key, miss)
	for j, r := range miss {
		var data []byte
		if err == nil {
			data = got[j]
			out[missIdx[j]] = data
		}
		c.endFill(key, cacheID{key: key, off: r.Off, n: r.N}, data, err)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
