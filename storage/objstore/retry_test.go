package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func s3Err(status int, code string) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      &smithy.GenericAPIError{Code: code, Message: "test"},
	}}
}

func TestRetryable(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"500", s3Err(500, "InternalError"), true},
		{"503 SlowDown", s3Err(503, "SlowDown"), true},
		{"502 no code", s3Err(502, ""), true},
		{"429", s3Err(429, "TooManyRequests"), true},
		{"400 RequestTimeout", s3Err(400, "RequestTimeout"), true},
		{"409 ConditionalRequestConflict", s3Err(409, "ConditionalRequestConflict"), true},
		{"attempt timeout", fmt.Errorf("x: %w", errAttemptTimeout), true},
		{"deadline", fmt.Errorf("op: %w", context.DeadlineExceeded), true},
		{"conn reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"unexpected EOF", fmt.Errorf("body: %w", io.ErrUnexpectedEOF), true},
		{"412", s3Err(412, "PreconditionFailed"), false},
		{"404", s3Err(404, "NoSuchKey"), false},
		{"403", s3Err(403, "SignatureDoesNotMatch"), false},
		{"409 other", s3Err(409, "BucketAlreadyExists"), false},
		{"canceled", context.Canceled, false},
		{"plain", errors.New("invalid key"), false},
	}
	for _, c := range cases {
		if got := retryable(c.err); got != c.want {
			t.Errorf("%s: retryable = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRetryPolicy(t *testing.T) {
	fast := Options{MaxAttempts: 4, AttemptTimeout: 50 * time.Millisecond, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}
	cases := []struct {
		name         string
		failures     []error // error of attempt i; nil or past the end: success
		stall        int     // attempt that blocks until its context ends (1-based; 0: none)
		wantAttempts int
		wantErr      bool
	}{
		{"success", nil, 0, 1, false},
		{"two 503 then ok", []error{s3Err(503, "SlowDown"), s3Err(503, "SlowDown")}, 0, 3, false},
		{"412 not retried", []error{s3Err(412, "PreconditionFailed")}, 0, 1, true},
		{"gives up", []error{s3Err(500, ""), s3Err(500, ""), s3Err(500, ""), s3Err(500, ""), s3Err(500, "")}, 0, 4, true},
		{"stall is retried", nil, 1, 2, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newRetryPolicy(fast)
			attempts := 0
			err := p.do(context.Background(), func(ctx context.Context, attempt int) error {
				attempts++
				if attempt != attempts {
					t.Fatalf("attempt number %d, want %d", attempt, attempts)
				}
				if attempt == c.stall {
					<-ctx.Done()
					return ctx.Err()
				}
				if attempt <= len(c.failures) {
					return c.failures[attempt-1]
				}
				return nil
			})
			if (err != nil) != c.wantErr || attempts != c.wantAttempts {
				t.Errorf("err = %v, attempts = %d; want err %v, %d attempts", err, attempts, c.wantErr, c.wantAttempts)
			}
		})
	}
	// A canceled caller context stops the loop at once.
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	err := newRetryPolicy(Options{MaxAttempts: 100, BaseBackoff: time.Second}).do(ctx, func(ctx context.Context, attempt int) error {
		attempts++
		cancel()
		return s3Err(503, "SlowDown")
	})
	if err == nil || attempts != 1 {
		t.Errorf("after cancel: err = %v, attempts = %d; want an error after 1 attempt", err, attempts)
	}
}
