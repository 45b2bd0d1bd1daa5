package objstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stratadb/strata/storage/objstore/s3fault"
)

const (
	vgwAccess = s3fault.VersitygwAccess
	vgwSecret = s3fault.VersitygwSecret
	vgwRegion = s3fault.VersitygwRegion
	vgwBucket = "strata-objstore-test"
)

// vgw is one versitygw process shared by the package's tests; TestMain stops it.
var vgw struct {
	once sync.Once
	srv  *s3fault.Versitygw
	skip string // reason to skip (outside CI)
	err  error  // failure (fatal under CI, and whenever the binary exists but fails)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if vgw.srv != nil {
		vgw.srv.Close()
	}
	os.Exit(code)
}

// needVersitygw returns the shared server with the test bucket created. It skips
// (outside CI) when versitygw is not installed and fails under CI=true (where
// s3fault.FindVersitygw also tries the install script first).
func needVersitygw(t *testing.T) *s3fault.Versitygw {
	t.Helper()
	vgw.once.Do(func() {
		bin, err := s3fault.FindVersitygw()
		if err != nil {
			vgw.err = err
			return
		}
		if bin == "" {
			vgw.skip = "install versitygw: " + s3fault.VersitygwInstall
			return
		}
		srv, err := s3fault.StartVersitygw(bin)
		if err != nil {
			vgw.err = err
			return
		}
		vgw.srv = srv
		s, err := openTestS3(srv.Endpoint, "", Options{})
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
	runConformance(t, s3Factory(func(t *testing.T) string { return needVersitygw(t).Endpoint }, Options{}))
}

// TestS3ConformancePaged lists in pages of 3 keys, so continuation tokens are used.
func TestS3ConformancePaged(t *testing.T) {
	runConformance(t, s3Factory(func(t *testing.T) string { return needVersitygw(t).Endpoint }, Options{ListPageSize: 3}))
}

// TestS3WrongSecret: signing is really checked, and a 403 is not retried.
func TestS3WrongSecret(t *testing.T) {
	srv := needVersitygw(t)
	s, err := Open(context.Background(), "s3://"+vgwBucket+"/wrong", Options{
		Endpoint: srv.Endpoint, Region: vgwRegion, AccessKey: vgwAccess, SecretKey: "nope", PathStyle: true,
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
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
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
