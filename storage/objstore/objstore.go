// Package objstore is the object store under strata's Delta Lake tier: one small
// interface (Store) with a local-folder implementation, an S3 implementation and a
// local read cache (NewCached) that can wrap either.
//
// Keys are '/'-separated relative paths ("tbl/_delta_log/00000000000000000003.json").
// A valid key is non-empty, does not start or end with '/', has no empty, "." or ".."
// element, no NUL or '\\' byte, and no element starting with ".objstore-" (reserved for
// this package's temp files). Every implementation rejects other keys with an error.
// In the local folder a key cannot also be a '/'-prefix of another key ("a/b" and
// "a/b/c"), because "a/b" cannot be both a file and a folder; S3 allows it, Delta
// tables never need it, so portable callers must not rely on it.
//
// The local folder is confined by os.Root: no key or symlink reaches outside it,
// List shows no symlink, and Delete removes a symlink, never its target (local.go).
//
// Files: objstore.go (interface, Open, keys), local.go (folder), s3.go (S3),
// retry.go (the retry loop and what is retryable), cache.go (NewCached read cache),
// ranges.go (GetRanges: several ranges of one object in coalesced GETs, several in
// flight; Cached serves them from its entries and fetches only the misses).
//
// Invariants every Store keeps (the conformance suite in this package checks them on
// the local folder and on a real S3 server):
//
//   - PutIfAbsent never overwrites. It either creates the key with exactly the given
//     bytes or returns an error wrapping ErrExists and leaves the stored bytes alone.
//     Among concurrent PutIfAbsent calls on one key exactly one succeeds. Delta Lake
//     commits (_delta_log/NNN.json) rely on this: it is the commit's mutual exclusion.
//     Local folder: the bytes go to a temp file that is fsynced and then hard-linked to
//     the final name with link(2), which fails with EEXIST when the name exists (a
//     rename would silently replace it). S3: PutObject with "If-None-Match: *"; a 412
//     PreconditionFailed means the key exists.
//   - Put may overwrite; readers see the old or the new bytes, never a mix (temp file +
//     fsync + rename locally; a single PutObject on S3).
//   - Get/GetRange/Stat of a missing key return an error wrapping ErrNotExist; Delete of
//     a missing key succeeds.
//   - List/ListFrom return every key with the prefix (a plain string prefix, not a
//     directory), sorted by key in byte order; ListFrom only keys > startAfter.
//
// Retries (S3 only; the local folder does not retry). Every S3 operation is retried
// with exponential backoff and full jitter, up to Options.MaxAttempts attempts, each
// attempt bounded by Options.AttemptTimeout, when the attempt failed with: an HTTP 5xx,
// 429 or 408, a throttling or timeout error code (SlowDown, Throttling, RequestTimeout,
// ...), 409 ConditionalRequestConflict (a conditional write raced another one on the
// server), a per-attempt timeout, or a connection error. It is never retried when the
// caller's context is done or on any other 4xx (404, 403, 412, ...). The AWS SDK's own
// retryer is switched off so that this is the only retry loop.
//
// PutIfAbsent and retries: a retry after an ambiguous failure (timeout, 5xx, dropped
// connection) may find that the previous attempt did land, so the retry gets 412 for
// our own write. Then the stored object is read back and compared with our bytes: equal
// bytes count as success, different bytes as ErrExists. This is sound because the
// operation is idempotent: if the stored bytes equal ours, the state is exactly what a
// successful first attempt would have left, and no other writer's bytes were
// replaced (a 412 never writes). Delta commit contents are unique per writer (they
// carry commitInfo with a timestamp and txn ids), so a different writer's equal bytes
// do not occur in practice; if they did, both "winning" would still leave one correct
// commit. A 412 on the first attempt is always ErrExists, without reading.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotExist is wrapped by errors for a missing key.
var ErrNotExist = errors.New("object does not exist")

// ErrExists is wrapped by PutIfAbsent's error when the key already exists.
var ErrExists = errors.New("object already exists")

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string // relative to the store's root, without the S3 prefix
	Size    int64
	ModTime time.Time
}

// Store is an object store. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the whole object. Missing key: error wrapping ErrNotExist.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetRange returns bytes [off, off+n) of the object, clipped to its end; n < 0
	// reads to the end. off must be >= 0; off at or past the end gives an empty slice.
	GetRange(ctx context.Context, key string, off, n int64) ([]byte, error)
	// Put stores data under key, replacing any existing object.
	Put(ctx context.Context, key string, data []byte) error
	// PutIfAbsent stores data under key only if no object exists there; otherwise it
	// returns an error wrapping ErrExists and never overwrites.
	PutIfAbsent(ctx context.Context, key string, data []byte) error
	// List returns all objects whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// ListFrom is List restricted to keys > startAfter.
	ListFrom(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Stat returns the object's info. Missing key: error wrapping ErrNotExist.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
}

// Options configure Open. Zero values mean "default"; the S3 fields fall back to the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL)
// and then to the standard AWS credential chain (shared config, SSO, IMDS, ...).
type Options struct {
	Endpoint  string // e.g. "http://127.0.0.1:7070"; empty: AWS_ENDPOINT_URL or AWS
	Region    string // empty: AWS_REGION, AWS_DEFAULT_REGION, shared config, "us-east-1"
	AccessKey string // empty: AWS_ACCESS_KEY_ID, then the standard chain
	SecretKey string
	PathStyle bool // bucket in the path (http://host/bucket/key), needed by most non-AWS servers

	// MaxAttempts bounds the attempts per S3 operation (first try included).
	// 0 means DefaultMaxAttempts; 1 disables retries.
	MaxAttempts int
	// AttemptTimeout bounds one attempt (request and reading the body).
	// 0 means DefaultAttemptTimeout; < 0 means no per-attempt timeout.
	AttemptTimeout time.Duration
	// BaseBackoff and MaxBackoff shape the backoff: attempt i waits a uniformly random
	// time in [0, min(MaxBackoff, BaseBackoff*2^(i-1))]. 0 means the defaults.
	BaseBackoff, MaxBackoff time.Duration
	// ListPageSize is ListObjectsV2's MaxKeys (0: the server's default, 1000).
	ListPageSize int32
	// HTTPClient replaces the SDK's HTTP client (tests, proxies). Optional.
	HTTPClient *http.Client
}

// Defaults for Options.
const (
	DefaultMaxAttempts    = 8
	DefaultAttemptTimeout = 60 * time.Second
	DefaultBaseBackoff    = 50 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
)

// Open opens the store at url: "file:///abs/dir" or "/abs/dir" for a local folder
// (created if missing), "s3://bucket" or "s3://bucket/prefix" for S3.
func Open(ctx context.Context, rawURL string, opts Options) (Store, error) {
	switch {
	case strings.HasPrefix(rawURL, "s3://"):
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fmt.Errorf("objstore: open %q: %w", rawURL, err)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("objstore: open %q: missing bucket", rawURL)
		}
		prefix := strings.Trim(u.Path, "/")
		if prefix != "" {
			if err := ValidKey(prefix); err != nil {
				return nil, fmt.Errorf("objstore: open %q: prefix: %w", rawURL, err)
			}
		}
		return openS3(ctx, u.Host, prefix, opts)
	case strings.HasPrefix(rawURL, "file://"):
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fmt.Errorf("objstore: open %q: %w", rawURL, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("objstore: open %q: file URL with host %q", rawURL, u.Host)
		}
		if !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("objstore: open %q: path is not absolute", rawURL)
		}
		return OpenLocal(u.Path)
	case filepath.IsAbs(rawURL):
		return OpenLocal(rawURL)
	default:
		return nil, fmt.Errorf("objstore: open %q: want file:///abs/dir, /abs/dir or s3://bucket/prefix", rawURL)
	}
}

// tempPrefix starts the name of every temp file this package creates; keys may not
// contain an element with this prefix, and List skips such files.
const tempPrefix = ".objstore-"

// ValidKey reports why key is not a valid object key, or nil.
func ValidKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	if strings.ContainsAny(key, "\x00\\") {
		return fmt.Errorf("key %q: contains NUL or backslash", key)
	}
	for elem := range strings.SplitSeq(key, "/") {
		switch {
		case elem == "":
			return fmt.Errorf("key %q: empty path element (leading, trailing or double '/')", key)
		case elem == "." || elem == "..":
			return fmt.Errorf("key %q: %q path element", key, elem)
		case strings.HasPrefix(elem, tempPrefix):
			return fmt.Errorf("key %q: element prefix %q is reserved", key, tempPrefix)
		}
	}
	return nil
}

// checkRange validates GetRange arguments.
func checkRange(key string, off int64) error {
	if off < 0 {
		return fmt.Errorf("objstore: get range %s: negative offset %d", key, off)
	}
	return nil
}
