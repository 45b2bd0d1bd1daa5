package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// S3 is a Store over one S3 bucket, optionally under a key prefix.
type S3 struct {
	client *s3.Client
	bucket string
	prefix string // "" or "dir/sub/" (with the trailing '/')
	retry  retryPolicy
	page   int32 // ListObjectsV2 MaxKeys; 0: server default
}

func openS3(ctx context.Context, bucket, prefix string, opts Options) (*S3, error) {
	region := firstNonEmpty(opts.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"))
	endpoint := firstNonEmpty(opts.Endpoint, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"))
	var loadOpts []func(*config.LoadOptions) error
	if region != "" {
		loadOpts = append(loadOpts, config.WithRegion(region))
	}
	if opts.AccessKey != "" || opts.SecretKey != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKey, opts.SecretKey, "")))
	}
	// LoadDefaultConfig is the standard chain: env (AWS_ACCESS_KEY_ID, ...), shared
	// config/credentials files, SSO, web identity, ECS and EC2 metadata.
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("objstore: s3://%s: load AWS config: %w", bucket, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = opts.PathStyle
		// Our retry loop is the only one: it knows which failures are safe to retry
		// (see the package doc), and the SDK's would multiply the attempts.
		o.Retryer = aws.NopRetryer{}
		// A ranged GET has no checksum to validate (S3 returns the whole
		// object's): without this the SDK logs a line to stderr for every one.
		o.DisableLogOutputChecksumValidationSkipped = true
		if opts.HTTPClient != nil {
			o.HTTPClient = opts.HTTPClient
		}
	})
	if prefix != "" {
		prefix += "/"
	}
	return &S3{client: client, bucket: bucket, prefix: prefix, retry: newRetryPolicy(opts), page: opts.ListPageSize}, nil
}

// Client returns the underlying SDK client (for bucket setup in tests and tools).
func (s *S3) Client() *s3.Client { return s.client }

// Bucket returns the bucket name.
func (s *S3) Bucket() string { return s.bucket }

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func (s *S3) objectKey(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", fmt.Errorf("objstore: %w", err)
	}
	return s.prefix + key, nil
}

func (s *S3) where(key string) string { return "s3://" + s.bucket + "/" + s.prefix + key }

// httpStatus returns the HTTP status of an SDK error, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// errorCode returns the S3 error code of an SDK error, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound reports a missing object (not a missing bucket: that is a setup error).
func isNotFound(err error) bool {
	code := errorCode(err)
	if code == "NoSuchBucket" {
		return false
	}
	return code == "NoSuchKey" || code == "NotFound" || httpStatus(err) == 404
}

func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	return s.getRange(ctx, key, 0, -1, "get")
}

func (s *S3) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if err := checkRange(key, off); err != nil {
		return nil, err
	}
	if n == 0 {
		// An empty Range header is not expressible; still report a missing key.
		if _, err := s.Stat(ctx, key); err != nil {
			return nil, err
		}
		return []byte{}, nil
	}
	return s.getRange(ctx, key, off, n, "get range")
}

func (s *S3) getRange(ctx context.Context, key string, off, n int64, op string) ([]byte, error) {
	k, err := s.objectKey(key)
	if err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &k}
	switch {
	case n > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	case off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	var data []byte
	err = s.retry.do(ctx, func(ctx context.Context, attempt int) error {
		out, err := s.client.GetObject(ctx, in)
		if err != nil {
			return err
		}
		defer out.Body.Close()
		// The body is read inside the attempt so a stalled body is bounded by the
		// attempt timeout and retried like any other timeout.
		var buf bytes.Buffer
		if out.ContentLength != nil && *out.ContentLength > 0 {
			buf.Grow(int(*out.ContentLength))
		}
		if _, err := io.Copy(&buf, out.Body); err != nil {
			return err
		}
		data = buf.Bytes()
		return nil
	})
	if err != nil {
		if httpStatus(err) == 416 { // range starts at or past the end
			return []byte{}, nil
		}
		if isNotFound(err) {
			return nil, fmt.Errorf("objstore: %s %s: %w", op, s.where(key), ErrNotExist)
		}
		return nil, fmt.Errorf("objstore: %s %s: %w", op, s.where(key), err)
	}
	if n > 0 && int64(len(data)) > n {
		return nil, fmt.Errorf("objstore: %s %s: server returned %d bytes for a %d-byte range", op, s.where(key), len(data), n)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	k, err := s.objectKey(key)
	if err != nil {
		return err
	}
	err = s.retry.do(ctx, func(ctx context.Context, attempt int) error {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.bucket, Key: &k, Body: bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("objstore: put %s: %w", s.where(key), err)
	}
	return nil
}

// PutIfAbsent sends PutObject with "If-None-Match: *". See the package doc for why a
// 412 after an ambiguous earlier attempt is resolved by comparing bytes.
func (s *S3) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	k, err := s.objectKey(key)
	if err != nil {
		return err
	}
	ambiguous := false // an earlier attempt may have written our bytes
	var exists bool
	err = s.retry.do(ctx, func(ctx context.Context, attempt int) error {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.bucket, Key: &k, Body: bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))),
			IfNoneMatch:   aws.String("*"),
		})
		if err == nil {
			return nil
		}
		if httpStatus(err) == 412 || errorCode(err) == "PreconditionFailed" {
			exists = true
			return err // not retryable: stops the loop
		}
		// Anything else may or may not have reached the server (a 5xx can come after
		// the write, a timeout can fire while the response is in flight).
		ambiguous = true
		return err
	})
	if err == nil {
		return nil
	}
	if !exists {
		return fmt.Errorf("objstore: put-if-absent %s: %w", s.where(key), err)
	}
	if !ambiguous {
		return fmt.Errorf("objstore: put-if-absent %s: %w", s.where(key), ErrExists)
	}
	stored, gerr := s.Get(ctx, key)
	if gerr != nil {
		return fmt.Errorf("objstore: put-if-absent %s: 412 after a failed attempt, reading it back: %w", s.where(key), gerr)
	}
	if bytes.Equal(stored, data) {
		return nil // our earlier attempt landed
	}
	return fmt.Errorf("objstore: put-if-absent %s: %w", s.where(key), ErrExists)
}

func (s *S3) Delete(ctx context.Context, key string) error {
	k, err := s.objectKey(key)
	if err != nil {
		return err
	}
	err = s.retry.do(ctx, func(ctx context.Context, attempt int) error {
		_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &k})
		if err != nil && isNotFound(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("objstore: delete %s: %w", s.where(key), err)
	}
	return nil
}

func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	k, err := s.objectKey(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	var info ObjectInfo
	err = s.retry.do(ctx, func(ctx context.Context, attempt int) error {
		out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &k})
		if err != nil {
			return err
		}
		info = ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}
		return nil
	})
	if err != nil {
		if isNotFound(err) {
			return ObjectInfo{}, fmt.Errorf("objstore: stat %s: %w", s.where(key), ErrNotExist)
		}
		return ObjectInfo{}, fmt.Errorf("objstore: stat %s: %w", s.where(key), err)
	}
	return info, nil
}

func (s *S3) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	return s.ListFrom(ctx, prefix, "")
}

// ListFrom pages through ListObjectsV2. Each page is one retried request; paging
// resumes from the last continuation token, so a retry never repeats a whole listing.
func (s *S3) ListFrom(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error) {
	if strings.ContainsAny(prefix, "\x00\\") || strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("objstore: list %q: invalid prefix", prefix)
	}
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix)}
	if s.page > 0 {
		in.MaxKeys = aws.Int32(s.page)
	}
	if startAfter != "" {
		in.StartAfter = aws.String(s.prefix + startAfter)
	}
	var out []ObjectInfo
	for {
		var page *s3.ListObjectsV2Output
		err := s.retry.do(ctx, func(ctx context.Context, attempt int) error {
			var err error
			page, err = s.client.ListObjectsV2(ctx, in)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("objstore: list s3://%s/%s%s: %w", s.bucket, s.prefix, prefix, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			rel, ok := strings.CutPrefix(k, s.prefix)
			if !ok {
				return nil, fmt.Errorf("objstore: list s3://%s/%s%s: server returned key %q outside the prefix", s.bucket, s.prefix, prefix, k)
			}
			if rel <= startAfter || !strings.HasPrefix(rel, prefix) {
				continue // defensive: some servers ignore StartAfter with a continuation
			}
			out = append(out, ObjectInfo{Key: rel, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
		}
		if !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextContinuationToken) == "" {
			break
		}
		in.ContinuationToken = page.NextContinuationToken
	}
	// S3 lists in UTF-8 binary order, which is byte order; sort anyway so that a
	// server that differs cannot break the contract.
	sortInfos(out)
	return out, nil
}
