package objstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Local is a Store over a local folder. Keys map to files under root.
//
// Every access goes through an os.Root opened at the folder, so neither a key
// nor a symlink inside the folder can reach a file outside it: a symlink that
// points out fails like a missing key, and writes through a symlinked folder are
// refused. List reports regular files only: a symlink is never listed (so a
// caller that deletes what it lists, like VACUUM, never touches one), nor are the
// temp files of this package. Delete removes a symlink itself, never its target.
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

// LocalAt is the folder store at dir (a relative dir is made absolute) without
// creating anything: while the folder does not exist the store is empty (Get and
// Stat find nothing, List lists nothing), and the first Put or PutIfAbsent creates
// it. Readers of a folder someone else owns (a Delta table to scan) use it.
func LocalAt(dir string) *Local {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &Local{root: filepath.Clean(dir)}
}

// Root returns the store's folder.
func (l *Local) Root() string { return l.root }

// name checks key and returns it as a name inside the root.
func (l *Local) name(op, key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", fmt.Errorf("objstore: %s: %w", op, err)
	}
	return filepath.FromSlash(key), nil
}

// open runs f with the folder's os.Root. A missing folder is ErrNotExist unless
// create, which creates it first (for writes).
func (l *Local) open(op, key string, create bool, f func(r *os.Root) error) error {
	if create {
		if err := os.MkdirAll(l.root, 0o755); err != nil {
			return fmt.Errorf("objstore: %s %s: %w", op, key, err)
		}
	}
	r, err := os.OpenRoot(l.root)
	if err != nil {
		return notExist(op, key, err)
	}
	defer r.Close()
	return f(r)
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
	name, err := l.name("get", key)
	if err != nil {
		return nil, err
	}
	if err := checkRange(key, off); err != nil {
		return nil, err
	}
	var buf []byte
	err = l.open("get", key, false, func(r *os.Root) error {
		f, err := r.Open(name)
		if err != nil {
			return notExist("get", key, err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("objstore: get %s: %w", key, err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("objstore: get %s: %w", key, ErrNotExist)
		}
		size := st.Size()
		if off >= size {
			buf = []byte{}
			return nil
		}
		want := size - off
		if n >= 0 && n < want {
			want = n
		}
		buf = make([]byte, want)
		if _, err := f.ReadAt(buf, off); err != nil {
			// io.EOF means the file shrank between Stat and ReadAt: only possible if
			// something outside this package truncates files in place, since Put
			// replaces by rename.
			return fmt.Errorf("objstore: get %s: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return buf, nil
}

// writeTemp writes data to a new temp file in the folder of name (inside r,
// created if missing) and fsyncs it. The caller owns (and must remove or rename)
// the returned name.
func writeTemp(r *os.Root, name string, data []byte) (string, error) {
	dir := filepath.Dir(name)
	if err := r.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var f *os.File
	var tmp string
	var err error
	for range 100 {
		tmp = filepath.Join(dir, tempPrefix+"tmp-"+randomHex())
		if f, err = r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		r.Remove(tmp)
		return "", werr
	}
	return tmp, nil
}

// syncDir fsyncs the folder of name inside r, so a rename or link into it is durable.
func syncDir(r *os.Root, name string) error {
	d, err := r.Open(filepath.Dir(name))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (l *Local) Put(ctx context.Context, key string, data []byte) error {
	name, err := l.name("put", key)
	if err != nil {
		return err
	}
	return l.open("put", key, true, func(r *os.Root) error {
		tmp, err := writeTemp(r, name, data)
		if err != nil {
			return fmt.Errorf("objstore: put %s: %w", key, err)
		}
		if err := r.Rename(tmp, name); err != nil {
			r.Remove(tmp)
			return fmt.Errorf("objstore: put %s: %w", key, err)
		}
		if err := syncDir(r, name); err != nil {
			return fmt.Errorf("objstore: put %s: sync dir: %w", key, err)
		}
		return nil
	})
}

// PutIfAbsent links a fsynced temp file to the final name. link(2) fails with EEXIST
// if the name exists, atomically, so two racing writers cannot both succeed and an
// existing object is never replaced (rename(2) would replace it).
func (l *Local) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	name, err := l.name("put-if-absent", key)
	if err != nil {
		return err
	}
	return l.open("put-if-absent", key, true, func(r *os.Root) error {
		tmp, err := writeTemp(r, name, data)
		if err != nil {
			return fmt.Errorf("objstore: put-if-absent %s: %w", key, err)
		}
		lerr := r.Link(tmp, name)
		// A temp file that cannot be removed is skipped by List and harmless;
		// reporting it as an error would make a caller retry a write that landed
		// (and then see ErrExists for its own commit), so it is ignored.
		_ = r.Remove(tmp)
		if lerr != nil {
			if errors.Is(lerr, fs.ErrExist) {
				return fmt.Errorf("objstore: put-if-absent %s: %w", key, ErrExists)
			}
			return fmt.Errorf("objstore: put-if-absent %s: %w", key, lerr)
		}
		if err := syncDir(r, name); err != nil {
			return fmt.Errorf("objstore: put-if-absent %s: sync dir: %w", key, err)
		}
		return nil
	})
}

func (l *Local) Delete(ctx context.Context, key string) error {
	name, err := l.name("delete", key)
	if err != nil {
		return err
	}
	err = l.open("delete", key, false, func(r *os.Root) error {
		st, err := r.Lstat(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return nil
			}
			return fmt.Errorf("objstore: delete %s: %w", key, err)
		}
		if st.IsDir() {
			return nil // a prefix of other keys, not an object
		}
		if err := r.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("objstore: delete %s: %w", key, err)
		}
		return nil
	})
	if errors.Is(err, ErrNotExist) {
		return nil // no folder: nothing to delete
	}
	return err
}

func (l *Local) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	name, err := l.name("stat", key)
	if err != nil {
		return ObjectInfo{}, err
	}
	var info ObjectInfo
	err = l.open("stat", key, false, func(r *os.Root) error {
		st, err := r.Stat(name)
		if err != nil {
			return notExist("stat", key, err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("objstore: stat %s: %w", key, ErrNotExist)
		}
		info = ObjectInfo{Key: key, Size: st.Size(), ModTime: st.ModTime()}
		return nil
	})
	return info, err
}

func (l *Local) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	return l.ListFrom(ctx, prefix, "")
}

// ListFrom walks, inside the folder's os.Root, the deepest folder that contains
// every key with the prefix and filters by the full prefix; the result is sorted
// at the end because a walk's per-folder order is not key order ("a/b.txt" <
// "a/b/x" but the walk visits "a/b" first). Symlinks are not followed.
func (l *Local) ListFrom(ctx context.Context, prefix, startAfter string) ([]ObjectInfo, error) {
	if strings.ContainsAny(prefix, "\x00\\") || strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("objstore: list %q: invalid prefix", prefix)
	}
	base := path.Dir(prefix) // "" and "abc" give "."; "a/b/c" gives "a/b"; "a/b/" gives "a/b"
	if strings.HasSuffix(prefix, "/") {
		base = strings.TrimSuffix(prefix, "/")
	}
	for elem := range strings.SplitSeq(base, "/") {
		if elem == ".." || elem == "" {
			return nil, fmt.Errorf("objstore: list %q: invalid prefix", prefix)
		}
	}
	var out []ObjectInfo
	err := l.open("list", prefix, false, func(r *os.Root) error {
		return fs.WalkDir(r.FS(), base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == base && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
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
				return nil // folders are walked; symlinks and other non-files ignored
			}
			key := p
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
	})
	if errors.Is(err, ErrNotExist) {
		return nil, nil // no folder yet: an empty store
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: list %q: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// randomHex is 16 random bytes in hex: a temp file name no other writer picks.
func randomHex() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("BUG: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
