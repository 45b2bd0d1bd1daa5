package objstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratadb/strata/storage/objstore/s3fault"
)

// s3faultConfig breaks about 20% of requests: 8% 5xx before the server acts, 6% 500
// after it acted, 3% delayed and 3% whose answer is held after the server acted,
// both past the client's attempt timeout.
var s3faultConfig = s3fault.Config{Seed: 2026, Fail5xx: 0.08, FailAfter: 0.06, Delay: 0.03, StallAfter: 0.03, DelayFor: 2 * time.Second}

// s3faultOptions: attempts short enough that a delayed request costs 300 ms, and
// enough of them that an operation fails only if 12 attempts in a row break
// (0.2^12, about 4e-9).
var s3faultOptions = Options{MaxAttempts: 12, AttemptTimeout: 300 * time.Millisecond, BaseBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, ListPageSize: 4}

// TestS3ConformanceThroughS3Fault runs the conformance suite against versitygw
// through the s3fault proxy: retries (and PutIfAbsent resolving the 412 of its own
// landed write) keep every invariant.
func TestS3ConformanceThroughS3Fault(t *testing.T) {
	srv := needVersitygw(t)
	proxy := s3fault.New(srv.Endpoint, s3faultConfig)
	defer proxy.Close()
	runConformance(t, s3Factory(func(t *testing.T) string { return proxy.URL() }, s3faultOptions))
	c := proxy.Counts()
	t.Log(c)
	if c.Fail500 == 0 || c.Fail503 == 0 || c.FailAfter == 0 || c.Delayed == 0 || c.StallAfter == 0 {
		t.Errorf("a fault kind was never injected, the suite did not exercise it: %v", c)
	}
	if c.ProxyErr != 0 {
		t.Errorf("the proxy failed to forward %d requests: %v", c.ProxyErr, c)
	}
}

// TestS3FaultProxyWithoutRetries is the control: with retries off the same proxy makes
// operations fail, so the test above could fail.
func TestS3FaultProxyWithoutRetries(t *testing.T) {
	srv := needVersitygw(t)
	proxy := s3fault.New(srv.Endpoint, s3faultConfig)
	defer proxy.Close()
	o := s3faultOptions
	o.MaxAttempts = 1
	s := s3Factory(func(t *testing.T) string { return proxy.URL() }, o)(t)
	ctx := context.Background()
	failures := 0
	for i := range 40 {
		key := fmt.Sprintf("k%d", i)
		if err := s.Put(ctx, key, []byte(key)); err != nil {
			failures++
			continue
		}
		if got, err := s.Get(ctx, key); err != nil || string(got) != key {
			failures++
		}
	}
	t.Logf("%d of 40 put+get pairs failed without retries; %v", failures, proxy.Counts())
	if failures == 0 {
		t.Errorf("no failures with retries off: the proxy injects nothing")
	}
}

// TestS3PutIfAbsentLostAnswer breaks exactly one PUT of a PutIfAbsent: its write
// lands and the answer is lost (500 after, or a stall past the attempt timeout), or
// it never reaches the server (5xx before). The retry gets 412: for our own bytes
// PutIfAbsent must succeed, for bytes another writer put first it must give
// ErrExists; the stored object is the first writer's either way.
func TestS3PutIfAbsentLostAnswer(t *testing.T) {
	srv := needVersitygw(t)
	stall := s3fault.Config{StallAfter: 1, DelayFor: 2 * time.Second}
	cases := []struct {
		name  string
		cfg   s3fault.Config
		count func(s3fault.Counts) int64 // the injected kind
		raced bool                       // another writer put the key first
	}{
		{"500 after", s3fault.Config{FailAfter: 1}, func(c s3fault.Counts) int64 { return c.FailAfter }, false},
		{"stall after", stall, func(c s3fault.Counts) int64 { return c.StallAfter }, false},
		{"500 after, lost race", s3fault.Config{FailAfter: 1}, func(c s3fault.Counts) int64 { return c.FailAfter }, true},
		{"stall after, lost race", stall, func(c s3fault.Counts) int64 { return c.StallAfter }, true},
		{"5xx before, lost race", s3fault.Config{Fail5xx: 1}, func(c s3fault.Counts) int64 { return c.Fail500 + c.Fail503 }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var armed atomic.Bool
			cfg := tc.cfg
			cfg.Only = func(r *http.Request) bool { return r.Method == http.MethodPut && armed.CompareAndSwap(true, false) }
			proxy := s3fault.New(srv.Endpoint, cfg)
			defer proxy.Close()
			s := s3Factory(func(*testing.T) string { return proxy.URL() }, s3faultOptions)(t)
			ctx := context.Background()
			const key = "_delta_log/00000000000000000000.json"
			first := "mine"
			if tc.raced {
				first = "theirs"
				if err := s.PutIfAbsent(ctx, key, []byte(first)); err != nil {
					t.Fatal(err)
				}
			}
			armed.Store(true) // break exactly the next PUT
			err := s.PutIfAbsent(ctx, key, []byte("mine"))
			if c := proxy.Counts(); c.Eligible != 1 || tc.count(c) != 1 {
				t.Fatalf("the fault was not injected exactly once: %v", c)
			}
			switch {
			case tc.raced && !errors.Is(err, ErrExists):
				t.Errorf("loser whose answer was lost: %v, want ErrExists", err)
			case !tc.raced && err != nil:
				t.Errorf("put-if-absent whose answer was lost: %v, want success", err)
			}
			if !tc.raced { // a later writer still loses
				if err := s.PutIfAbsent(ctx, key, []byte("theirs")); !errors.Is(err, ErrExists) {
					t.Errorf("later writer: %v, want ErrExists", err)
				}
			}
			if got := mustGet(t, s, key); string(got) != first {
				t.Errorf("stored %q, want the first writer's %q", got, first)
			}
			t.Log(proxy.Counts())
		})
	}
}
