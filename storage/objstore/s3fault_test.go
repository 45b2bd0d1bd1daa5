package objstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratadb/strata/storage/objstore/s3fault"
)

// s3faultConfig breaks about 20% of requests: 8% 5xx before the server acts, 8% 500
// after it acted, 4% delayed past the client's attempt timeout.
var s3faultConfig = s3fault.Config{Seed: 2026, Fail5xx: 0.08, FailAfter: 0.08, Delay: 0.04, DelayFor: 2 * time.Second}

// s3faultOptions: attempts short enough that a delayed request costs 300 ms, and
// enough of them that an operation fails only if 12 attempts in a row break
// (0.2^12, about 4e-9).
var s3faultOptions = Options{MaxAttempts: 12, AttemptTimeout: 300 * time.Millisecond, BaseBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, ListPageSize: 4}

// TestS3ConformanceThroughS3Fault runs the conformance suite against versitygw
// through the s3fault proxy: retries (and PutIfAbsent resolving the 412 of its own
// landed write) keep every invariant.
func TestS3ConformanceThroughS3Fault(t *testing.T) {
	srv := needVersitygw(t)
	proxy := s3fault.New(srv.endpoint, s3faultConfig)
	defer proxy.Close()
	runConformance(t, s3Factory(func(t *testing.T) string { return proxy.URL() }, s3faultOptions))
	c := proxy.Counts()
	t.Log(c)
	if c.Fail500 == 0 || c.Fail503 == 0 || c.FailAfter == 0 || c.Delayed == 0 {
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
	proxy := s3fault.New(srv.endpoint, s3faultConfig)
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
