package s3fault

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// backend records what reached the server behind the proxy.
type backend struct {
	srv   *httptest.Server
	mu    sync.Mutex
	paths []string
	hosts []string
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.paths = append(b.paths, r.URL.Path)
		b.hosts = append(b.hosts, r.Host)
		b.mu.Unlock()
		w.Header().Set("X-Backend", "yes")
		w.Write([]byte("echo:" + string(body)))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.paths...)
}

func do(t *testing.T, c *http.Client, method, url, body string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestKinds forces each kind with a share of 1 and checks what the client got, what
// reached the server and, for delays and stalls, that each request waited DelayFor.
func TestKinds(t *testing.T) {
	const wait = 30 * time.Millisecond
	cases := []struct {
		name       string
		cfg        Config
		wantStatus []int // any of
		forwarded  bool
		count      func(Counts) int64
	}{
		{"none", Config{}, []int{200}, true, func(c Counts) int64 { return c.Requests - c.Injected() }},
		{"5xx", Config{Fail5xx: 1}, []int{500, 503}, false, func(c Counts) int64 { return c.Fail500 + c.Fail503 }},
		{"after", Config{FailAfter: 1}, []int{500}, true, func(c Counts) int64 { return c.FailAfter }},
		{"delay", Config{Delay: 1, DelayFor: wait}, []int{200}, true, func(c Counts) int64 { return c.Delayed }},
		{"stall-after", Config{StallAfter: 1, DelayFor: wait}, []int{200}, true, func(c Counts) int64 { return c.StallAfter }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			p := New(b.srv.URL, tc.cfg)
			defer p.Close()
			const n = 20
			start := time.Now()
			for i := range n {
				st, body, err := do(t, http.DefaultClient, "PUT", p.URL()+"/bucket/k", "x")
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				ok := false
				for _, w := range tc.wantStatus {
					ok = ok || st == w
				}
				if !ok {
					t.Fatalf("request %d: status %d (%s), want one of %v", i, st, body, tc.wantStatus)
				}
				if st == 200 && body != "echo:x" {
					t.Fatalf("request %d: body %q, want the backend's echo", i, body)
				}
				if st >= 500 && !strings.Contains(body, "<Code>") {
					t.Fatalf("request %d: %d without an S3 error document: %q", i, st, body)
				}
			}
			if d := time.Since(start); d < n*tc.cfg.DelayFor {
				t.Errorf("%d requests took %v, want at least %v", n, d, n*tc.cfg.DelayFor)
			}
			got := len(b.seen())
			if tc.forwarded && got != n || !tc.forwarded && got != 0 {
				t.Errorf("backend saw %d requests, forwarded=%v", got, tc.forwarded)
			}
			c := p.Counts()
			if c.Requests != n || tc.count(c) != n {
				t.Errorf("counts %v: want %d requests, all of the kind", c, n)
			}
		})
	}
}

// TestHostKept: the Host the client sent (and signed) reaches the server.
func TestHostKept(t *testing.T) {
	b := newBackend(t)
	p := New(b.srv.URL, Config{})
	defer p.Close()
	if _, _, err := do(t, http.DefaultClient, "GET", p.URL()+"/x", ""); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimPrefix(p.URL(), "http://")
	if b.hosts[0] != want {
		t.Errorf("backend got Host %q, want the proxy's %q", b.hosts[0], want)
	}
}

// TestSharesAndSeed: the observed shares are near the configured ones, the same
// seed breaks the same requests, and another seed others.
func TestSharesAndSeed(t *testing.T) {
	cfg := Config{Seed: 7, Fail5xx: 0.1, FailAfter: 0.1, Delay: 0.05, DelayFor: time.Microsecond}
	run := func(cfg Config) ([]int, Counts) {
		b := newBackend(t)
		p := New(b.srv.URL, cfg)
		defer p.Close()
		var statuses []int
		for range 1000 {
			st, _, err := do(t, http.DefaultClient, "GET", p.URL()+"/k", "")
			if err != nil {
				t.Fatal(err)
			}
			statuses = append(statuses, st)
		}
		return statuses, p.Counts()
	}
	a, ca := run(cfg)
	b, _ := run(cfg)
	cfg.Seed = 8
	c, _ := run(cfg)
	if !slices.Equal(a, b) {
		t.Errorf("same seed gave different faults")
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 7 and 8 gave the same faults")
	}
	// Binomial(1000, p): 5 standard deviations is about 0.05 for p = 0.1.
	for _, k := range []struct {
		name string
		got  int64
		p    float64
	}{
		{"5xx", ca.Fail500 + ca.Fail503, cfg.Fail5xx},
		{"after", ca.FailAfter, cfg.FailAfter},
		{"delay", ca.Delayed, cfg.Delay},
	} {
		sd := math.Sqrt(1000 * k.p * (1 - k.p))
		if math.Abs(float64(k.got)-1000*k.p) > 5*sd {
			t.Errorf("%s: %d of 1000, want about %.0f (%v)", k.name, k.got, 1000*k.p, ca)
		}
	}
	failed := 0
	for _, st := range a {
		if st >= 500 {
			failed++
		}
	}
	if int64(failed) != ca.Fail500+ca.Fail503+ca.FailAfter {
		t.Errorf("%d answers >= 500, counts say %v", failed, ca)
	}
}

// TestOnly: ineligible requests pass untouched and take no draw.
func TestOnly(t *testing.T) {
	b := newBackend(t)
	p := New(b.srv.URL, Config{Fail5xx: 1, Only: func(r *http.Request) bool { return r.Method == http.MethodPut }})
	defer p.Close()
	if st, _, _ := do(t, http.DefaultClient, "GET", p.URL()+"/k", ""); st != 200 {
		t.Errorf("GET: %d, want 200 (not eligible)", st)
	}
	if st, _, _ := do(t, http.DefaultClient, "PUT", p.URL()+"/k", "v"); st < 500 {
		t.Errorf("PUT: %d, want a 5xx", st)
	}
	if c := p.Counts(); c.Requests != 2 || c.Eligible != 1 {
		t.Errorf("counts %v", c)
	}
}

// TestWaitAbandoned: a client that times out during a delay never reaches the
// server, one that times out during a stall does (its write lands) but gets no
// answer; and Close ends pending waits at once, answering a 5xx.
func TestWaitAbandoned(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		// forwarded: a request reaches the server before its wait.
		forwarded bool
	}{
		{"delay", Config{Delay: 1, DelayFor: 10 * time.Second}, false},
		{"stall-after", Config{StallAfter: 1, DelayFor: 10 * time.Second}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			p := New(b.srv.URL, tc.cfg)
			wantSeen := func(requests int) int {
				if tc.forwarded {
					return requests
				}
				return 0
			}
			c := &http.Client{Timeout: 100 * time.Millisecond}
			if _, _, err := do(t, c, "PUT", p.URL()+"/k", "v"); err == nil {
				t.Fatal("request through a 10s wait did not time out")
			}
			deadline := time.Now().Add(5 * time.Second)
			for p.Counts().Abandoned == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n := len(b.seen()); n != wantSeen(1) || p.Counts().Abandoned != 1 {
				t.Errorf("abandoned request: backend saw %d, want %d; counts %v", n, wantSeen(1), p.Counts())
			}
			// A pending wait with a patient client: Close must not wait 10 s.
			type result struct {
				status int
				err    error
			}
			done := make(chan result, 1)
			go func() {
				st, _, err := do(t, http.DefaultClient, "GET", p.URL()+"/k", "")
				done <- result{st, err}
			}()
			for p.Counts().Injected() < 2 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if tc.forwarded { // the stall starts once the server answered
				for len(b.seen()) < 2 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
			}
			start := time.Now()
			p.Close()
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Close took %v with a pending wait", d)
			}
			if r := <-done; r.err == nil && r.status < 500 {
				t.Errorf("request pending at Close got %d, want a 5xx or an error", r.status)
			}
			if n := len(b.seen()); n != wantSeen(2) {
				t.Errorf("backend saw %d requests, want %d", n, wantSeen(2))
			}
		})
	}
}

// TestForwarded: the hook sees every request the server answered (with the
// server's status, even when the proxy then injects a 500) and none the proxy
// answered itself, and it runs before the client gets its answer.
func TestForwarded(t *testing.T) {
	b := newBackend(t)
	var mu sync.Mutex
	var seen []string
	release := make(chan struct{})
	p := New(b.srv.URL, Config{
		Only:      func(r *http.Request) bool { return r.URL.Path == "/after" },
		FailAfter: 1,
		Forwarded: func(r *http.Request, status int) {
			mu.Lock()
			seen = append(seen, r.Method+" "+r.URL.Path+" "+http.StatusText(status))
			mu.Unlock()
			if r.URL.Path == "/hold" {
				<-release
			}
		},
	})
	defer p.Close()
	if code, _, err := do(t, http.DefaultClient, "PUT", p.URL()+"/after", "x"); err != nil || code != 500 {
		t.Fatalf("FailAfter: %d %v", code, err)
	}
	if code, _, err := do(t, http.DefaultClient, "GET", p.URL()+"/ok", ""); err != nil || code != 200 {
		t.Fatalf("untouched: %d %v", code, err)
	}
	p2 := New(b.srv.URL, Config{Fail5xx: 1, Forwarded: func(r *http.Request, status int) {
		t.Errorf("a request the proxy answered itself reached the hook: %s", r.URL.Path)
	}})
	defer p2.Close()
	if code, _, _ := do(t, http.DefaultClient, "GET", p2.URL()+"/refused", ""); code < 500 {
		t.Fatalf("Fail5xx answered %d", code)
	}
	got := make(chan int, 1)
	go func() { code, _, _ := do(t, http.DefaultClient, "GET", p.URL()+"/ok2", ""); got <- code }()
	select {
	case c := <-got:
		if c != 200 {
			t.Fatalf("ok2: %d", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
	held := make(chan int, 1)
	go func() { code, _, _ := do(t, http.DefaultClient, "GET", p.URL()+"/hold", ""); held <- code }()
	select {
	case c := <-held:
		t.Fatalf("the client got %d before the hook returned", c)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-held
	mu.Lock()
	defer mu.Unlock()
	want := []string{"PUT /after OK", "GET /ok OK", "GET /ok2 OK", "GET /hold OK"}
	if !slices.Equal(seen, want) {
		t.Fatalf("the hook saw %q, want %q", seen, want)
	}
}
