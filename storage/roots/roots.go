// Package roots owns the lake roots: the folders and S3 prefixes an operator
// allows SQL clients to name (strata serve --lake-root). Every location a client
// gives — a table's lake_path, CREATE EXTERNAL TABLE, delta_scan, a server-side
// COPY ... FROM 'file' — is resolved here before anything is read or written.
//
// Invariants:
//   - A location is accepted only if, after cleaning and (for local paths)
//     resolving every symlink of its existing part, it is a root or lies below
//     one. "..", "." and empty segments never survive: local paths are cleaned
//     first, S3 keys that contain them are refused (S3 gives them no meaning, but
//     other readers of the lake do).
//   - A local file is opened through os.Root at its root (OpenFile), so neither a
//     symlink nor a ".." swapped in after the check can lead outside it.
//   - Resolve never creates anything.
package roots

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrOutside is returned (wrapped) for a location under no root.
var ErrOutside = errors.New("location is outside the lake roots")

// Roots is an immutable set of roots. The zero value has none and refuses every
// location.
type Roots struct {
	list []root
	base string // relative local paths are taken relative to it
}

type root struct {
	spec   string // as the operator wrote it, for messages
	bucket string // s3 roots: the bucket ...
	prefix string // ... and the key prefix, "" or ending in "/"
	dir    string // local roots: absolute, cleaned, symlinks resolved
}

// New resolves the root specs (each a folder or s3://bucket[/prefix]) and takes
// relative local locations relative to base. A local root that does not exist
// yet is created (0700), so that its symlinks can be resolved once and for all.
func New(base string, specs []string) (Roots, error) {
	absBase, err := filepath.Abs(base)
	if err != nil {
		return Roots{}, fmt.Errorf("lake roots: base %s: %w", base, err)
	}
	if real, err := filepath.EvalSymlinks(absBase); err == nil {
		absBase = real
	}
	r := Roots{base: absBase}
	for _, spec := range specs {
		if b, key, ok := cutS3(spec); ok {
			if b == "" {
				return Roots{}, fmt.Errorf("lake root %q: no bucket", spec)
			}
			p, err := cleanKey(key)
			if err != nil {
				return Roots{}, fmt.Errorf("lake root %q: %w", spec, err)
			}
			if p != "" {
				p += "/"
			}
			r.list = append(r.list, root{spec: spec, bucket: b, prefix: p})
			continue
		}
		if strings.Contains(spec, "://") && !strings.HasPrefix(spec, "file://") {
			return Roots{}, fmt.Errorf("lake root %q: only s3:// URLs and folders are supported", spec)
		}
		dir := r.abs(strings.TrimPrefix(spec, "file://"))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return Roots{}, fmt.Errorf("lake root %q: %w", spec, err)
		}
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return Roots{}, fmt.Errorf("lake root %q: %w", spec, err)
		}
		r.list = append(r.list, root{spec: spec, dir: real})
	}
	return r, nil
}

// String lists the roots as the operator gave them, for error hints.
func (r Roots) String() string {
	if len(r.list) == 0 {
		return "(none)"
	}
	s := make([]string, len(r.list))
	for i, rt := range r.list {
		s[i] = rt.spec
		if rt.dir != "" && rt.dir != rt.spec {
			s[i] = rt.dir
		}
	}
	return strings.Join(s, ", ")
}

// Hint is the text of an error hint naming the roots.
func (r Roots) Hint() string {
	return "Locations must lie under a lake root (strata serve --lake-root): " + r.String() + "."
}

// Resolve returns the canonical form of loc — "s3://bucket/key" or an absolute,
// symlink-free local path — if it lies under a root; otherwise an error wrapping
// ErrOutside.
func (r Roots) Resolve(loc string) (string, error) {
	if strings.ContainsRune(loc, 0) {
		return "", fmt.Errorf("%q: %w (a NUL byte)", loc, ErrOutside)
	}
	if b, key, ok := cutS3(loc); ok {
		k, err := cleanKey(key)
		if err != nil || b == "" {
			return "", fmt.Errorf("%q: %w", loc, ErrOutside)
		}
		for _, rt := range r.list {
			if rt.bucket == b && (rt.prefix == "" || k+"/" == rt.prefix || strings.HasPrefix(k, rt.prefix)) {
				return "s3://" + b + "/" + k, nil
			}
		}
		return "", fmt.Errorf("%q: %w", loc, ErrOutside)
	}
	if strings.Contains(loc, "://") && !strings.HasPrefix(loc, "file://") {
		return "", fmt.Errorf("%q: only s3:// URLs and folders are supported: %w", loc, ErrOutside)
	}
	p, err := realPath(r.abs(strings.TrimPrefix(loc, "file://")))
	if err != nil {
		// A symlink loop or an unreadable folder: say no more than for any other
		// location outside the roots (the answer must not tell what exists there).
		return "", fmt.Errorf("%q: %w", loc, ErrOutside)
	}
	if _, ok := r.localRoot(p); !ok {
		return "", fmt.Errorf("%q: %w", loc, ErrOutside)
	}
	return p, nil
}

// OpenFile opens the local file at path for reading if it lies under a root,
// through os.Root, so the open itself cannot leave the root whatever the file
// system looks like by then.
func (r Roots) OpenFile(path string) (*os.File, error) {
	p, err := r.Resolve(path)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(p, "s3://") {
		return nil, fmt.Errorf("%q: not a local file: %w", path, ErrOutside)
	}
	dir, _ := r.localRoot(p)
	rt, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return nil, err
	}
	return rt.Open(rel)
}

// Contains reports whether the local path (absolute, symlink-free: a Resolve
// result) is inner or lies below it; both are taken as given.
func Contains(outer, inner string) bool {
	if outer == inner {
		return true
	}
	if !strings.HasSuffix(outer, string(filepath.Separator)) {
		outer += string(filepath.Separator)
	}
	return strings.HasPrefix(inner, outer)
}

func (r Roots) localRoot(p string) (string, bool) {
	for _, rt := range r.list {
		if rt.dir != "" && Contains(rt.dir, p) {
			return rt.dir, true
		}
	}
	return "", false
}

func (r Roots) abs(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.base, p)
	}
	return filepath.Clean(p)
}

// realPath resolves the symlinks of the longest existing prefix of the clean,
// absolute path p and appends the rest, which does not exist yet.
func realPath(p string) (string, error) {
	rest := ""
	cur := p
	for {
		real, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

func cutS3(loc string) (bucket, key string, ok bool) {
	rest, ok := strings.CutPrefix(loc, "s3://")
	if !ok {
		return "", "", false
	}
	bucket, key, _ = strings.Cut(rest, "/")
	return bucket, key, true
}

// cleanKey trims slashes at the ends of an S3 key and refuses ".", ".." and
// empty segments.
func cleanKey(key string) (string, error) {
	key = strings.Trim(key, "/")
	if key == "" {
		return "", nil
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("key %q has a %q segment", key, seg)
		}
	}
	return key, nil
}
