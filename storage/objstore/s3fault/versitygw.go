package s3fault

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Credentials every Versitygw started here accepts.
const (
	VersitygwAccess = "testkey"
	VersitygwSecret = "testsecret"
	VersitygwRegion = "us-east-1"
)

// VersitygwInstall tells a developer how to install the server.
const VersitygwInstall = "GOBIN=$HOME/.cache/strata-test/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 (or storage/objstore/testdata/install-versitygw.sh)"

// FindVersitygw returns the versitygw binary: $STRATA_VERSITYGW, then versitygw in
// $STRATA_TEST_BIN (default $HOME/.cache/strata-test/bin), then PATH. When none
// exists it returns "" outside CI, and under CI=true runs
// storage/objstore/testdata/install-versitygw.sh (the same convention as the
// storage/objstore tests: skip without the server locally, fail under CI).
func FindVersitygw() (string, error) {
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
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("install versitygw: cannot locate the install script")
	}
	script := filepath.Join(filepath.Dir(self), "..", "testdata", "install-versitygw.sh")
	out, err := exec.Command("bash", script).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("install versitygw: %v\n%s", err, out)
	}
	if _, err := os.Stat(cached); err != nil {
		return "", fmt.Errorf("install versitygw: script succeeded but %s is missing:\n%s", cached, out)
	}
	return cached, nil
}

// Versitygw is a versitygw process serving a temporary posix folder on 127.0.0.1
// with the Versitygw* credentials. It has no buckets until a client creates one.
type Versitygw struct {
	Endpoint string // http://127.0.0.1:port
	cmd      *exec.Cmd
	exited   chan error
	dataDir  string
	logFile  *os.File
}

// StartVersitygw starts bin and waits until it accepts connections. The process is
// killed if the calling process dies; Close stops it and removes its folder.
func StartVersitygw(bin string) (*Versitygw, error) {
	var lastErr error
	for try := 0; try < 3; try++ { // a free port can be taken between probe and bind
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		dataDir, err := os.MkdirTemp("", "s3fault-vgw-")
		if err != nil {
			return nil, err
		}
		logFile, err := os.Create(dataDir + ".log")
		if err != nil {
			os.RemoveAll(dataDir)
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cmd := exec.Command(bin, "--port", addr, "--access", VersitygwAccess, "--secret", VersitygwSecret,
			"--region", VersitygwRegion, "posix", dataDir)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			logFile.Close()
			os.RemoveAll(dataDir)
			os.Remove(logFile.Name())
			return nil, fmt.Errorf("start %s: %w", bin, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		v := &Versitygw{Endpoint: "http://" + addr, cmd: cmd, exited: exited, dataDir: dataDir, logFile: logFile}
		if lastErr = v.waitListening(addr); lastErr == nil {
			return v, nil
		}
		v.Close()
	}
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (v *Versitygw) waitListening(addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-v.exited:
			v.exited <- err // for Close
			log, _ := os.ReadFile(v.logFile.Name())
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

// Close kills the process (by its PID), waits for it and removes its files.
func (v *Versitygw) Close() {
	v.cmd.Process.Kill()
	select {
	case <-v.exited:
	case <-time.After(10 * time.Second):
	}
	v.logFile.Close()
	os.RemoveAll(v.dataDir)
	os.Remove(v.logFile.Name())
}

// NeedVersitygw starts a private versitygw for a test and stops it when the test
// ends. Without the binary it skips the test, or fails it under CI=true.
func NeedVersitygw(t testing.TB) *Versitygw {
	t.Helper()
	bin, err := FindVersitygw()
	if err != nil {
		t.Fatalf("versitygw: %v", err)
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but versitygw is not installed: %s", VersitygwInstall)
		}
		t.Skip("install versitygw: " + VersitygwInstall)
	}
	v, err := StartVersitygw(bin)
	if err != nil {
		t.Fatalf("versitygw: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// CreateBucket creates bucket on v (path-style, with the Versitygw* credentials).
func (v *Versitygw) CreateBucket(ctx context.Context, bucket string) error {
	cl := s3.New(s3.Options{
		BaseEndpoint: aws.String(v.Endpoint),
		Region:       VersitygwRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(VersitygwAccess, VersitygwSecret, ""),
		UsePathStyle: true,
	})
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket %s on %s: %w", bucket, v.Endpoint, err)
	}
	return nil
}
