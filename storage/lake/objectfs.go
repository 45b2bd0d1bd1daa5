package lake

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/stratadb/strata/storage/objstore"
)

// OpenLocation opens the Delta table location path: "s3://bucket/prefix" through
// objstore (opts give endpoint and credentials), anything else ("file:///dir" or a
// plain folder) as a LocalFS. It returns the writable FS rooted at the table and
// the location's canonical name ("s3://bucket/prefix" or "file:///abs/dir").
func OpenLocation(ctx context.Context, path string, opts objstore.Options) (WFS, string, error) {
	if strings.HasPrefix(path, "s3://") {
		st, err := objstore.Open(ctx, path, opts)
		if err != nil {
			return nil, "", err
		}
		return ObjectFS(st), strings.TrimRight(path, "/"), nil
	}
	if strings.Contains(path, "://") && !strings.HasPrefix(path, "file://") {
		return nil, "", fmt.Errorf("lake path %q: only s3:// and local folders are supported", path)
	}
	dir, err := filepath.Abs(strings.TrimPrefix(path, "file://"))
	if err != nil {
		return nil, "", fmt.Errorf("lake path %q: %w", path, err)
	}
	return LocalFS{Root: dir}, "file://" + filepath.ToSlash(dir), nil
}

// ObjectFS adapts an object store to a writable FS, translating the store's
// missing-key and key-exists errors into ErrNotExist and ErrExists.
func ObjectFS(s objstore.Store) WFS { return objectFS{s} }

type objectFS struct{ s objstore.Store }

func (f objectFS) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, objstore.ErrNotExist):
		return fmt.Errorf("%w: %w", ErrNotExist, err)
	case errors.Is(err, objstore.ErrExists):
		return fmt.Errorf("%w: %w", ErrExists, err)
	}
	return err
}

func (f objectFS) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := f.s.Get(ctx, key)
	return b, f.wrap(err)
}

func (f objectFS) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	b, err := f.s.GetRange(ctx, key, off, n)
	return b, f.wrap(err)
}

func (f objectFS) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	return f.convert(f.s.List(ctx, prefix))
}

func (f objectFS) ListFrom(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error) {
	return f.convert(f.s.ListFrom(ctx, prefix, startAfter))
}

func (f objectFS) convert(in []objstore.ObjectInfo, err error) ([]ObjectInfo, error) {
	if err != nil {
		return nil, f.wrap(err)
	}
	out := make([]ObjectInfo, len(in))
	for i, o := range in {
		out[i] = ObjectInfo{Key: o.Key, Size: o.Size, ModTime: o.ModTime}
	}
	return out, nil
}

func (f objectFS) Put(ctx context.Context, key string, data []byte) error {
	return f.wrap(f.s.Put(ctx, key, data))
}

func (f objectFS) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return f.wrap(f.s.PutIfAbsent(ctx, key, data))
}

func (f objectFS) Delete(ctx context.Context, key string) error {
	return f.wrap(f.s.Delete(ctx, key))
}
