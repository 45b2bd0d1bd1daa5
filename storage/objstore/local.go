package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/stratadb/strata/storage"
)

// Local is a Store over a local folder. Keys map to files under root.
type Local struct {
	root string
}

// OpenLocal opens (and creates if missing) the folder store rooted at dir.
func OpenLocal(dir string) (*Local, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("objstore: local root %q is not absolute", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("objstore: local root: %w", err)
	}
	return &Local{root: filepath.Clean(dir)}, nil
}

// Root returns the store's folder.
func (l *Local) Root() string { return l.root }

func (l *Local) path(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", fmt.Errorf("objstore: %w", err)
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// notExist maps "no such file" and "is a directory"-like failures to ErrNotExist:
// a key that names a directory (a prefix of other keys) is not an object.
func notExist(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) {
		return fmt.Errorf("objstore: %s %s: %w", op, key, ErrNotExist)
	}
	return fmt.Errorf("objstore: %s %s: %w", op, key, err)
}

func (l *Local) Get(ctx context.Context, key string) ([]byte, error) {
	return l.GetRange(ctx, key, 0, -1)
}

func (l *Local) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	if err := checkRange(key, off); err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notExist("get", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("objstore: get %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("objstore: get %s: %w", key, ErrNotExist)
	}
	size := st.Size()
	if off >= size {
		return []byte{}, nil
	}
	want := size - off
	if n >= 0 && n < want {
		want = n
	}
	buf := make([]byte, want)
	if _, err := f.ReadAt(buf, off); err != nil {
		// io.EOF means the file shrank between Stat and ReadAt: only possible if something
		// outside this package truncates files in place, since Put replaces by rename.
		return nil, fmt.Errorf("objstore: get %s: %w", key, err)
	}
	return buf, nil
}

// writeTemp writes data to a new temp file in dir and fsyncs it. The caller owns
// (and must remove or rename) the returned path.
func writeTemp(dir string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, tempPrefix+"tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(name)
		return "", werr
	}
	return name, nil
}

func (l *Local) Put(ctx context.Context, key string, data []byte) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return fmt.Errorf("objstore: put %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("objstore: put %s: %w", key, err)
	}
	if err := storage.SyncDir(dir); err != nil {
		return fmt.Errorf("objstore: put %s: sync dir: %w", key, err)
	}
	return nil
}

// PutIfAbsent links a fsynced temp file to the final name. link(2) fails with EEXIST
// if the name exists, atomically, so two racing writers cannot both succeed and an
// existing object is never replaced (rename(2) would replace it).
func (l *Local) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return fmt.Errorf("objstore: put-if-absent %s: %w", key, err)
	}
	lerr := os.Link(tmp, p)
	// A temp file that cannot be removed is skipped by List and harmless; reporting
	// it as an error would make a caller retry a write that landed (and then see
	// ErrExists for its own commit), so it is ignored.
	_ = os.Remove(tmp)
	if lerr != nil {
		if errors.Is(lerr, fs.ErrExist) {
			return fmt.Errorf("objstore: put-if-absent %s: %w", key, ErrExists)
		}
		return fmt.Errorf("objstore: put-if-absent %s: %w", key, lerr)
	}
	if err := storage.SyncDir(dir); err != nil {
		return fmt.Errorf("objstore: put-if-absent %s: sync dir: %w", key, err)
	}
	return nil
}

func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	st, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("objstore: delete %s: %w", key, err)
	}
	if st.IsDir() {
		return nil // a prefix of other keys, not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("objstore: delete %s: %w", key, err)
	}
	return nil
}

func (l *Local) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	p, err := l.path(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return ObjectInfo{}, notExist("stat", key, err)
	}
	if !st.Mode().IsRegular() {
		return ObjectInfo{}, fmt.Errorf("objstore: stat %s: %w", key, ErrNotExist)
	}
	return ObjectInfo{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

func (l *Local) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	return l.ListFrom(ctx, prefix, "")
}

// ListFrom walks the deepest folder that contains every key with the prefix and
// filters by the full prefix; the result is sorted at the end because a walk's
// per-folder order is not key order ("a/b.txt" < "a/b/x" but the walk visits "a/b"
// first).
func (l *Local) ListFrom(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error) {
	if strings.ContainsAny(prefix, "\x00\\") || strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("objstore: list %q: invalid prefix", prefix)
	}
	base := path.Dir(prefix) // "" and "abc" give "."; "a/b/c" gives "a/b"; "a/b/" gives "a/b"
	if strings.HasSuffix(prefix, "/") {
		base = strings.TrimSuffix(prefix, "/")
	}
	for elem := range strings.SplitSeq(base, "/") {
		if elem == ".." {
			return nil, fmt.Errorf("objstore: list %q: invalid prefix", prefix)
		}
	}
	start := filepath.Join(l.root, filepath.FromSlash(base))
	var out []ObjectInfo
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed during the walk
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tempPrefix) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
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
				return nil
			}
			return err
		}
		out = append(out, ObjectInfo{Key: key, Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: list %q: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
