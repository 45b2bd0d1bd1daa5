package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	vgwAccess = "testkey"
	vgwSecret = "testsecret"
	vgwRegion = "us-east-1"
	vgwBucket = "strata-objstore-test"
)

// vgwServer is one versitygw process shared by the package's tests; TestMain stops it.
type vgwServer struct {
	cmd      *exec.Cmd
	exited   chan error // receives cmd.Wait's result
	endpoint string     // http://127.0.0.1:port
	dataDir  string
	logFile  *os.File
}

var vgw struct {
	once sync.Once
	srv  *vgwServer
	skip string // reason to skip (outside CI)
	err  error  // failure (fatal under CI, and whenever the binary exists but fails)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if vgw.srv != nil {
		vgw.srv.stop()
	}
	os.Exit(code)
}

const vgwInstallCmd = "GOBIN=$HOME/.cache/strata-test/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 (or storage/objstore/testdata/install-versitygw.sh)"

// findVersitygw returns the binary: $STRATA_VERSITYGW, the test cache dir, or PATH.
// Under CI=true it runs the install script when none is found.
func findVersitygw() (string, error) {
	if p := os.Getenv("STRATA_VERSITYGW"); p != "" {
		return p, nil
	}
	bin := os.Getenv("STRATA_TEST_BIN")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "strata-test", "bin")
	}
	cached := filepath.Join(bin, "versitygw")
	if _, err := os.Stat(cached); err == nil {
		return cached, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	if os.Getenv("CI") != "true" {
		return "", nil
	}
	out, err := exec.Command("bash", "testdata/install-versitygw.sh").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("install versitygw: %v\n%s", err, out)
	}
	if _, err := os.Stat(cached); err != nil {
		return "", fmt.Errorf("install versitygw: script succeeded but %s is missing:\n%s", cached, out)
	}
	return cached, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startVersitygw(bin string) (*vgwServer, error) {
	var lastErr error
	for try := 0; try < 3; try++ { // a free port can be taken between probe and bind
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		dataDir, err := os.MkdirTemp("", "objstore-vgw-")
		if err != nil {
			return nil, err
		}
		logFile, err := os.Create(filepath.Join(dataDir, "..", filepath.Base(dataDir)+".log"))
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cmd := exec.Command(bin, "--port", addr, "--access", vgwAccess, "--secret", vgwSecret,
			"--region", vgwRegion, "posix", dataDir)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		// If the test binary dies (panic, timeout) the server dies with it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w", bin, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }() // reaps the process whenever it ends
		srv := &vgwServer{cmd: cmd, exited: exited, endpoint: "http://" + addr, dataDir: dataDir, logFile: logFile}
		if lastErr = srv.waitListening(addr); lastErr == nil {
			return srv, nil
		}
		srv.stop()
	}
	return nil, lastErr
}

// waitListening waits until addr accepts TCP (0.4 s typically) or the process exits.
func (s *vgwServer) waitListening(addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.exited:
			s.exited <- err // for stop
			log, _ := os.ReadFile(s.logFile.Name())
			return fmt.Errorf("versitygw exited at start: %v\n%s", err, log)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw did not listen on %s within 30s", addr)
}

// stop kills the server (by its PID) and waits for it to be reaped.
func (s *vgwServer) stop() {
	s.cmd.Process.Kill()
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
	}
	s.logFile.Close()
	os.RemoveAll(s.dataDir)
	os.Remove(s.logFile.Name())
}

// needVersitygw returns the shared server with the test bucket created. It skips
// (outside CI) when versitygw is not installed and fails under CI=true.
func needVersitygw(t *testing.T) *vgwServer {
	t.Helper()
	vgw.once.Do(func() {
		bin, err := findVersitygw()
		if err != nil {
			vgw.err = err
			return
		}
		if bin == "" {
			vgw.skip = "install versitygw: " + vgwInstallCmd
			return
		}
		srv, err := startVersitygw(bin)
		if err != nil {
			vgw.err = err
			return
		}
		vgw.srv = srv
		s, err := openTestS3(srv.endpoint, "", Options{})
		if err != nil {
			vgw.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(vgwBucket)}); err != nil {
			vgw.err = fmt.Errorf("create bucket: %w", err)
		}
	})
	switch {
	case vgw.err != nil:
		t.Fatalf("versitygw: %v", vgw.err)
	case vgw.skip != "":
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s", vgw.skip)
		}
		t.Skip(vgw.skip)
	}
	return vgw.srv
}

func openTestS3(endpoint, prefix string, o Options) (*S3, error) {
	o.Endpoint, o.Region, o.AccessKey, o.SecretKey, o.PathStyle = endpoint, vgwRegion, vgwAccess, vgwSecret, true
	u := "s3://" + vgwBucket
	if prefix != "" {
		u += "/" + prefix
	}
	s, err := Open(context.Background(), u, o)
	if err != nil {
		return nil, err
	}
	return s.(*S3), nil
}

var prefixSeq atomic.Int64

// s3Factory gives each conformance case its own prefix in the shared bucket.
func s3Factory(endpoint func(t *testing.T) string, o Options) newStoreFunc {
	return func(t *testing.T) Store {
		ep := endpoint(t)
		prefix := fmt.Sprintf("t%d-%s", prefixSeq.Add(1), strings.ReplaceAll(t.Name(), "/", "_"))
		s, err := openTestS3(ep, prefix, o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestS3Conformance(t *testing.T) {
	runConformance(t, s3Factory(func(t *testing.T) string { return needVersitygw(t).endpoint }, Options{}))
}

// TestS3ConformancePaged lists in pages of 3 keys, so continuation tokens are used.
func TestS3ConformancePaged(t *testing.T) {
	runConformance(t, s3Factory(func(t *testing.T) string { return needVersitygw(t).endpoint }, Options{ListPageSize: 3}))
}

// TestS3WrongSecret: signing is really checked, and a 403 is not retried.
func TestS3WrongSecret(t *testing.T) {
	srv := needVersitygw(t)
	s, err := Open(context.Background(), "s3://"+vgwBucket+"/wrong", Options{
		Endpoint: srv.endpoint, Region: vgwRegion, AccessKey: vgwAccess, SecretKey: "nope", PathStyle: true,
		BaseBackoff: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Put(context.Background(), "k", []byte("x"))
	if err == nil || httpStatus(err) != 403 {
		t.Fatalf("put with wrong secret: %v, want 403", err)
	}
	if strings.Contains(err.Error(), "gave up after") || time.Since(start) > 900*time.Millisecond {
		t.Errorf("403 was retried: %v", err)
	}
}

// TestS3EnvCredentials: empty Options fall back to the AWS_* environment.
func TestS3EnvCredentials(t *testing.T) {
	srv := needVersitygw(t)
	t.Setenv("AWS_ACCESS_KEY_ID", vgwAccess)
	t.Setenv("AWS_SECRET_ACCESS_KEY", vgwSecret)
	t.Setenv("AWS_REGION", vgwRegion)
	t.Setenv("AWS_ENDPOINT_URL", srv.endpoint)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s, err := Open(context.Background(), "s3://"+vgwBucket+"/env", Options{PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "k", []byte("env"))
	if got := mustGet(t, s, "k"); string(got) != "env" {
		t.Errorf("get = %q", got)
	}
}

// faultKind is what the proxy does to one request.
type faultKind int

const (
	faultNone        faultKind = iota
	fault500Before             // answer 500 without forwarding
	fault503Before             // answer 503 SlowDown without forwarding
	fault500After              // forward (the server acts), then answer 500
	faultStallBefore           // hang without forwarding until the client gives up
	faultStallAfter            // forward (the server acts), then hang
	numFaultKinds
)

// faultProxy sits between the client and versitygw and breaks a share of requests.
// It keeps the Host header, so SigV4 signatures made for the proxy's address verify.
type faultProxy struct {
	srv      *httptest.Server
	rp       *httputil.ReverseProxy
	percent  int // share of requests broken
	mu       sync.Mutex
	rng      *rand.Rand
	force    atomic.Int32 // if set, the next request gets this fault kind
	closed   chan struct{}
	injected [numFaultKinds]atomic.Int64
	requests atomic.Int64
}

type faultCtxKey struct{}

func newFaultProxy(t *testing.T, target string, percent int, seed uint64) *faultProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{percent: percent, rng: rand.New(rand.NewPCG(seed, 7)), closed: make(chan struct{})}
	p.rp = httputil.NewSingleHostReverseProxy(u) // keeps r.Host: the signed host
	p.rp.ModifyResponse = func(resp *http.Response) error {
		switch resp.Request.Context().Value(faultCtxKey{}) {
		case fault500After:
			return errors.New("injected 500 after the server acted")
		case faultStallAfter:
			p.stall(resp.Request.Context())
			return errors.New("injected stall after the server acted")
		}
		return nil
	}
	p.rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		writeS3Error(w, http.StatusInternalServerError, "InternalError")
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() { close(p.closed); p.srv.Close() })
	return p
}

func writeS3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected</Message></Error>`, code)
}

func (p *faultProxy) pick() faultKind {
	if f := p.force.Swap(0); f != 0 {
		return faultKind(f)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rng.IntN(100) >= p.percent {
		return faultNone
	}
	return faultKind(1 + p.rng.IntN(int(numFaultKinds)-1))
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	f := p.pick()
	p.injected[f].Add(1)
	switch f {
	case fault500Before:
		io.Copy(io.Discard, r.Body)
		writeS3Error(w, http.StatusInternalServerError, "InternalError")
	case fault503Before:
		io.Copy(io.Discard, r.Body)
		writeS3Error(w, http.StatusServiceUnavailable, "SlowDown")
	case faultStallBefore:
		io.Copy(io.Discard, r.Body) // lets the server notice the client hanging up
		p.stall(r.Context())
	default:
		p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), faultCtxKey{}, f)))
	}
}

// stall hangs until the client hangs up, the proxy closes or 3 s pass (a client
// whose attempt timeout does not work would then see an error and the test's
// timing checks, not a hang, would show it).
func (p *faultProxy) stall(ctx context.Context) {
	t := time.NewTimer(3 * time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-p.closed:
	case <-t.C:
	}
}

func (p *faultProxy) summary() string {
	return fmt.Sprintf("%d requests; injected 500-before %d, 503-before %d, 500-after %d, stall-before %d, stall-after %d",
		p.requests.Load(), p.injected[fault500Before].Load(), p.injected[fault503Before].Load(),
		p.injected[fault500After].Load(), p.injected[faultStallBefore].Load(), p.injected[faultStallAfter].Load())
}

// faultOptions: short attempt timeout so stalls cost little; enough attempts that a
// 25% fault rate fails an operation with probability 0.25^12 (about 6e-8).
var faultOptions = Options{MaxAttempts: 12, AttemptTimeout: 400 * time.Millisecond, BaseBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, ListPageSize: 4}

// TestS3ConformanceWithFaults: the whole suite passes through a proxy that breaks
// 25% of requests, thanks to the retries (including PutIfAbsent whose write landed
// but whose answer was lost: the retry's 412 is resolved by comparing bytes).
func TestS3ConformanceWithFaults(t *testing.T) {
	srv := needVersitygw(t)
	proxy := newFaultProxy(t, srv.endpoint, 25, 42)
	runConformance(t, s3Factory(func(t *testing.T) string { return proxy.srv.URL }, faultOptions))
	t.Log(proxy.summary())
	for k := fault500Before; k < numFaultKinds; k++ {
		if proxy.injected[k].Load() == 0 {
			t.Errorf("fault kind %d never injected: the test did not exercise it (%s)", k, proxy.summary())
		}
	}
}

// TestS3FaultsWithoutRetries is the control: the same proxy with retries off makes
// operations fail, so the test above can fail.
func TestS3FaultsWithoutRetries(t *testing.T) {
	srv := needVersitygw(t)
	proxy := newFaultProxy(t, srv.endpoint, 25, 43)
	o := faultOptions
	o.MaxAttempts = 1
	s := s3Factory(func(t *testing.T) string { return proxy.srv.URL }, o)(t)
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
	t.Logf("%d of 40 put+get pairs failed without retries; %s", failures, proxy.summary())
	if failures == 0 {
		t.Errorf("no failures with retries off: the fault proxy injects nothing")
	}
}

// TestS3PutIfAbsentLostAnswer: the write lands but its answer is lost (500 or a
// stall after the server acted). The retry gets 412 for our own bytes and must
// report success; another writer's bytes must still give ErrExists.
func TestS3PutIfAbsentLostAnswer(t *testing.T) {
	srv := needVersitygw(t)
	proxy := newFaultProxy(t, srv.endpoint, 0, 1)
	s := s3Factory(func(t *testing.T) string { return proxy.srv.URL }, faultOptions)(t)
	ctx := context.Background()
	for _, kind := range []faultKind{fault500After, faultStallAfter} {
		key := fmt.Sprintf("_delta_log/%d.json", kind)
		proxy.force.Store(int32(kind)) // break exactly the next request
		err := s.PutIfAbsent(ctx, key, []byte("mine"))
		if err != nil {
			t.Errorf("fault %d: put-if-absent whose answer was lost: %v, want success", kind, err)
		}
		if proxy.injected[kind].Load() != 1 {
			t.Fatalf("fault %d not injected exactly once: %s", kind, proxy.summary())
		}
		if err := s.PutIfAbsent(ctx, key, []byte("theirs")); !errors.Is(err, ErrExists) {
			t.Errorf("fault %d: other writer: %v, want ErrExists", kind, err)
		}
		if got := mustGet(t, s, key); string(got) != "mine" {
			t.Errorf("fault %d: stored %q, want mine", kind, got)
		}
	}
	// The same lost answer for a writer that lost the race: the retry's 412 is for
	// someone else's bytes, so it is ErrExists.
	key := "_delta_log/race.json"
	if err := s.PutIfAbsent(ctx, key, []byte("first")); err != nil {
		t.Fatal(err)
	}
	proxy.force.Store(int32(fault500Before))
	if err := s.PutIfAbsent(ctx, key, []byte("second")); !errors.Is(err, ErrExists) {
		t.Errorf("loser after a 500: %v, want ErrExists", err)
	}
	t.Log(proxy.summary())
}
