package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// retryPolicy runs one S3 operation with retries (see the package doc for the rules).
type retryPolicy struct {
	maxAttempts    int
	attemptTimeout time.Duration // <= 0: none
	base, max      time.Duration
}

func newRetryPolicy(o Options) retryPolicy {
	p := retryPolicy{maxAttempts: o.MaxAttempts, attemptTimeout: o.AttemptTimeout, base: o.BaseBackoff, max: o.MaxBackoff}
	if p.maxAttempts <= 0 {
		p.maxAttempts = DefaultMaxAttempts
	}
	if p.attemptTimeout == 0 {
		p.attemptTimeout = DefaultAttemptTimeout
	}
	if p.base <= 0 {
		p.base = DefaultBaseBackoff
	}
	if p.max <= 0 {
		p.max = DefaultMaxBackoff
	}
	return p
}

// errAttemptTimeout marks an attempt cut off by the per-attempt timeout.
var errAttemptTimeout = errors.New("attempt timed out")

// do calls fn until it succeeds, fails with a non-retryable error, the attempts are
// used up or ctx is done. fn gets a context bounded by the attempt timeout and must
// finish all its I/O (including reading a response body) with it.
func (p retryPolicy) do(ctx context.Context, fn func(ctx context.Context, attempt int) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = p.attempt(ctx, fn, attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !retryable(err) {
			return err
		}
		if attempt >= p.maxAttempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		// Full jitter: uniform in [0, min(max, base*2^(attempt-1))].
		backoff := p.base << min(attempt-1, 30)
		if backoff <= 0 || backoff > p.max {
			backoff = p.max
		}
		t := time.NewTimer(rand.N(backoff + 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while retrying after: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func (p retryPolicy) attempt(ctx context.Context, fn func(ctx context.Context, attempt int) error, attempt int) error {
	if p.attemptTimeout <= 0 {
		return fn(ctx, attempt)
	}
	actx, cancel := context.WithTimeoutCause(ctx, p.attemptTimeout, errAttemptTimeout)
	defer cancel()
	err := fn(actx, attempt)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		// The attempt's own deadline fired: make that visible whatever the SDK wrapped.
		return fmt.Errorf("%w after %v: %w", errAttemptTimeout, p.attemptTimeout, err)
	}
	return err
}

// retryCodes are S3 error codes worth another attempt.
var retryCodes = []string{
	"InternalError", "ServiceUnavailable", "SlowDown", "Throttling", "ThrottlingException",
	"RequestTimeout", "RequestTimeoutException", "RequestThrottled", "TooManyRequestsException",
	"ConditionalRequestConflict", // 409: a conditional write raced another one; retry it
}

// retryable classifies one attempt's error (the caller's context is not done).
func retryable(err error) bool {
	if errors.Is(err, errAttemptTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if st := httpStatus(err); st >= 500 || st == 429 || st == 408 {
		return true
	}
	if slices.Contains(retryCodes, errorCode(err)) {
		return true
	}
	// 412 and other 4xx are answers, not failures.
	if httpStatus(err) != 0 {
		return false
	}
	// No HTTP response: a transport failure.
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	return strings.Contains(err.Error(), "connection reset") // some wrappers lose the errno
}

func sortInfos(v []ObjectInfo) {
	slices.SortFunc(v, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
}
