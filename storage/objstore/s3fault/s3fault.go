// Package s3fault is a fault-injecting reverse proxy for tests of S3 clients: it
// listens on 127.0.0.1, forwards requests to a real S3 server (versitygw in strata's
// tests) and, drawing from an RNG seeded by Config.Seed, breaks a share of them:
//
//   - Fail5xx: answers 500 InternalError or 503 SlowDown without forwarding (the
//     server never sees the request).
//   - FailAfter: forwards, lets the server act, then answers 500 anyway: the write
//     landed but the client thinks it failed (the ambiguous case a retrying
//     PutIfAbsent must resolve).
//   - Delay: sleeps Config.DelayFor before forwarding, so a client with a shorter
//     per-attempt timeout gives up; a request whose client hung up during the sleep
//     is not forwarded.
//   - StallAfter: forwards, lets the server act, then holds the answer for
//     Config.DelayFor: a client with a shorter per-attempt timeout gives up on a
//     write that landed (the other ambiguous case); a patient client gets the
//     server's answer late.
//
// It also starts versitygw for tests in other packages (versitygw.go).
//
// Invariants:
//   - SigV4 signatures stay valid: the proxy forwards the Host header the client
//     signed (the proxy's own address) and adds no signed header. versitygw checks
//     the signature against the Host it receives, so clients simply use Proxy.URL as
//     their endpoint.
//   - Only requests for which Config.Only returns true (all when it is nil) are
//     eligible and take an RNG draw; the others are forwarded untouched. With one
//     client issuing requests one at a time, the same seed breaks the same requests;
//     concurrent requests take draws in arrival order.
//   - Every injected failure is counted (Counts), so a test can prove it exercised
//     each kind; real forwarding errors answer 502 and are counted apart.
//   - Config.Forwarded sees each answered request before its client does.
//   - Close stops the listener, ends pending delays and stalls, and waits for
//     handlers.
package s3fault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Config chooses which requests fail and how. The shares are probabilities in
// [0, 1] per eligible request; their sum must not exceed 1.
type Config struct {
	Seed       int64
	Fail5xx    float64       // answer 500 or 503 (even odds) without forwarding
	FailAfter  float64       // forward, then answer 500 whatever the server said
	Delay      float64       // sleep DelayFor, then forward (unless the client left)
	StallAfter float64       // forward, then hold the answer DelayFor (unless the client left)
	DelayFor   time.Duration // how long a delay sleeps or a stall holds the answer
	// Only selects the eligible requests; nil means all. It must not read the body.
	Only func(*http.Request) bool
	// Forwarded, when set, is called for every request the server answered (any
	// status, faults or not), after the server acted and before the answer (or
	// the injected 500) goes back to the client: the proxy waits for it to return.
	// A test can use it to observe from outside that a write landed, and to kill
	// the client before the client learns it. It must not read the bodies.
	Forwarded func(req *http.Request, status int)
}

// Counts are the requests seen and the failures injected, by kind.
type Counts struct {
	Requests   int64 // every request received
	Eligible   int64 // requests Only accepted (all when Only is nil)
	Fail500    int64 // Fail5xx answered 500
	Fail503    int64 // Fail5xx answered 503
	FailAfter  int64 // forwarded, then answered 500
	Delayed    int64 // slept before forwarding
	StallAfter int64 // forwarded, then the answer held
	// Abandoned counts delays and stalls that the client (leaving) or Close ended
	// early: the delayed request is then not forwarded, the stalled answer not sent.
	Abandoned int64
	ProxyErr  int64 // real forwarding failures (answered 502)
}

// Injected is the number of requests broken on purpose (delays included).
func (c Counts) Injected() int64 {
	return c.Fail500 + c.Fail503 + c.FailAfter + c.Delayed + c.StallAfter
}

func (c Counts) String() string {
	return fmt.Sprintf("%d requests (%d eligible): 500 %d, 503 %d, 500-after-forward %d, delayed %d, stalled-after-forward %d (abandoned %d), proxy errors %d",
		c.Requests, c.Eligible, c.Fail500, c.Fail503, c.FailAfter, c.Delayed, c.StallAfter, c.Abandoned, c.ProxyErr)
}

// Proxy is a running fault-injecting proxy. It is safe for concurrent use.
type Proxy struct {
	cfg    Config
	srv    *httptest.Server
	rp     *httputil.ReverseProxy
	closed chan struct{}
	once   sync.Once

	mu  sync.Mutex
	rng *rand.Rand

	requests, eligible, fail500, fail503, failAfter, delayed, stallAfter, abandoned, proxyErr atomic.Int64
}

type fault int

const (
	faultNone fault = iota
	fault5xx
	faultAfter
	faultDelay
	faultStallAfter
)

type faultKey struct{}

// errInjectedAfter marks the response the proxy replaces with a 500 on purpose;
// errStallEnded one whose stall the client or Close ended.
var (
	errInjectedAfter = errors.New("s3fault: injected 500 after forwarding")
	errStallEnded    = errors.New("s3fault: stall after forwarding ended early")
)

// New starts a proxy on 127.0.0.1 forwarding to target (e.g.
// "http://127.0.0.1:7070"). It panics if target is not an absolute http(s) URL or a
// share is outside [0, 1] or the shares sum above 1 (a test bug).
func New(target string, cfg Config) *Proxy {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		panic(fmt.Sprintf("s3fault: target %q is not an http(s) URL", target))
	}
	for _, s := range []float64{cfg.Fail5xx, cfg.FailAfter, cfg.Delay, cfg.StallAfter} {
		if s < 0 || s > 1 {
			panic(fmt.Sprintf("s3fault: share %v outside [0, 1]", s))
		}
	}
	if cfg.Fail5xx+cfg.FailAfter+cfg.Delay+cfg.StallAfter > 1 {
		panic("s3fault: shares sum above 1")
	}
	seed := uint64(cfg.Seed)
	p := &Proxy{cfg: cfg, closed: make(chan struct{}), rng: rand.New(rand.NewPCG(seed, seed^0x5f3759df))}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// SetURL sets Host to the target; the client signed the proxy's host.
			pr.Out.Host = pr.In.Host
		},
		// An error returned here makes the proxy close the body and call ErrorHandler.
		ModifyResponse: func(resp *http.Response) error {
			if p.cfg.Forwarded != nil {
				p.cfg.Forwarded(resp.Request, resp.StatusCode)
			}
			switch resp.Request.Context().Value(faultKey{}) {
			case faultAfter:
				return errInjectedAfter
			case faultStallAfter:
				if !p.sleep(resp.Request.Context(), p.cfg.DelayFor) {
					p.abandoned.Add(1)
					return errStallEnded
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			switch {
			case errors.Is(err, errInjectedAfter):
				writeError(w, http.StatusInternalServerError, "InternalError")
			case r.Context().Err() != nil:
				// The client left; nobody reads the answer.
			case errors.Is(err, errStallEnded): // the proxy is closing: never an empty 200
				writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable")
			default:
				p.proxyErr.Add(1)
				writeError(w, http.StatusBadGateway, "BadGateway")
			}
		},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

// URL is the proxy's base URL (http://127.0.0.1:port): use it as the S3 endpoint.
func (p *Proxy) URL() string { return p.srv.URL }

// Close stops the proxy: pending delays end, and Close waits for the handlers.
func (p *Proxy) Close() {
	p.once.Do(func() {
		close(p.closed)
		p.srv.Close()
	})
}

// Counts returns the counters so far.
func (p *Proxy) Counts() Counts {
	return Counts{
		Requests: p.requests.Load(), Eligible: p.eligible.Load(),
		Fail500: p.fail500.Load(), Fail503: p.fail503.Load(), FailAfter: p.failAfter.Load(),
		Delayed: p.delayed.Load(), StallAfter: p.stallAfter.Load(), Abandoned: p.abandoned.Load(),
		ProxyErr: p.proxyErr.Load(),
	}
}

// pick draws the fault for one eligible request; for fault5xx, status is 500 or 503.
func (p *Proxy) pick() (f fault, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.rng.Float64()
	switch c := p.cfg; {
	case x < c.Fail5xx:
		if p.rng.IntN(2) == 0 {
			return fault5xx, http.StatusInternalServerError
		}
		return fault5xx, http.StatusServiceUnavailable
	case x < c.Fail5xx+c.FailAfter:
		return faultAfter, 0
	case x < c.Fail5xx+c.FailAfter+c.Delay:
		return faultDelay, 0
	case x < c.Fail5xx+c.FailAfter+c.Delay+c.StallAfter:
		return faultStallAfter, 0
	}
	return faultNone, 0
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	f := faultNone
	status := 0
	if p.cfg.Only == nil || p.cfg.Only(r) {
		p.eligible.Add(1)
		f, status = p.pick()
	}
	switch f {
	case fault5xx:
		// Read the body so the client is not cut off while still sending it.
		io.Copy(io.Discard, r.Body)
		if status == http.StatusServiceUnavailable {
			p.fail503.Add(1)
			writeError(w, status, "SlowDown")
		} else {
			p.fail500.Add(1)
			writeError(w, status, "InternalError")
		}
		return
	case faultAfter:
		p.failAfter.Add(1)
	case faultStallAfter:
		p.stallAfter.Add(1)
	case faultDelay:
		p.delayed.Add(1)
		// Buffer the body: only once it is read does the server notice a client
		// that hangs up during the sleep.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			p.abandoned.Add(1)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !p.sleep(r.Context(), p.cfg.DelayFor) {
			p.abandoned.Add(1)
			if r.Context().Err() == nil { // the proxy is closing: never an empty 200
				writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable")
			}
			return
		}
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), faultKey{}, f)))
}

// sleep waits d; false when the client left or the proxy closed first.
func (p *Proxy) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	case <-p.closed:
		return false
	}
}

// writeError answers with an S3 error document.
func writeError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>%s</Code><Message>injected by s3fault</Message></Error>`, code)
}
