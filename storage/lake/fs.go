package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrNotExist is returned (wrapped) by an FS when a key does not exist. It is
// fs.ErrNotExist, so os errors and other stores that wrap it match errors.Is.
var ErrNotExist = fs.ErrNotExist

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string // slash-separated, relative to the FS root
	Size    int64
	ModTime time.Time
}

// FS is the minimal read-only object store the lake reader needs. Keys are
// slash-separated and never start with '/'. The storage/objstore package is adapted
// to it; LocalFS implements it over a local folder.
type FS interface {
	// Get returns the whole object. A missing key yields an error wrapping ErrNotExist.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetRange returns n bytes at offset off (fewer only at the end of the object).
	GetRange(ctx context.Context, key string, off, n int64) ([]byte, error)
	// List returns every object whose key starts with prefix, at any depth, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// ListFrom is List restricted to keys > startAfter.
	ListFrom(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error)
}

// LocalFS is an FS over a local folder. Every access goes through os.Root at
// Root, so no key, ".." or symlink can reach a file outside the folder, and only
// regular files are listed (a symlink is never listed, so VACUUM never follows or
// deletes one). Hidden files (".name") are listed like any other; the reader
// ignores what it does not recognise.
type LocalFS struct {
	Root string
}

// key checks a key: relative, slash-separated, no "." or ".." segments.
func (l LocalFS) key(key string) (string, error) {
	if strings.HasPrefix(key, "/") || strings.Contains("/"+key+"/", "/../") || strings.Contains("/"+key+"/", "/./") || strings.IndexByte(key, 0) >= 0 {
		return "", fmt.Errorf("lake: invalid key %q", key)
	}
	return filepath.FromSlash(key), nil
}

// open runs f with the folder's os.Root and the key's relative name.
func (l LocalFS) open(key string, f func(r *os.Root, name string) error) error {
	name, err := l.key(key)
	if err != nil {
		return err
	}
	r, err := os.OpenRoot(l.Root)
	if err != nil {
		return err
	}
	defer r.Close()
	return f(r, name)
}

func (l LocalFS) Get(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := l.open(key, func(r *os.Root, name string) (err error) {
		b, err = r.ReadFile(name)
		return err
	})
	return b, err
}

func (l LocalFS) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("lake: get %s: invalid range %d+%d", key, off, n)
	}
	var out []byte
	err := l.open(key, func(r *os.Root, name string) error {
		f, err := r.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		buf := make([]byte, n)
		m, err := f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		out = buf[:m]
		return nil
	})
	return out, err
}

func (l LocalFS) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	return l.ListFrom(ctx, prefix, "")
}

func (l LocalFS) ListFrom(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error) {
	// Walk the deepest folder the prefix names fully, then filter by the prefix.
	dir := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir = prefix[:i]
	}
	rel, err := l.key(dir)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(l.Root, rel)
	var out []ObjectInfo
	err = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if p == base {
					return fs.SkipAll
				}
				return nil // removed during the walk (a writer's temp file)
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil // folders are walked, symlinks and other non-files ignored
		}
		rel, err := filepath.Rel(l.Root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) || key <= startAfter {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed between the directory read and the stat
			}
			return err
		}
		out = append(out, ObjectInfo{Key: key, Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
