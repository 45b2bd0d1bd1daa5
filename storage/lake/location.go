package lake

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/stratadb/strata/storage/objstore"
)

// ErrNotExist is wrapped by errors for a missing key or table (objstore.ErrNotExist).
var ErrNotExist = objstore.ErrNotExist

// FS is the object store a Table lives in: objstore.Store, named here so that
// packages above the lake (which may not import objstore) can wrap one.
type FS = objstore.Store

// LocalFolder is the store of the local folder dir, confined to it by os.Root
// and created only by a first write (objstore.LocalAt).
func LocalFolder(dir string) FS { return objstore.LocalAt(dir) }

// OpenLocation opens the Delta table location path: "s3://bucket/prefix" through
// objstore.Open (opts give endpoint and credentials), anything else ("file:///dir"
// or a plain folder) as objstore.LocalAt, which creates nothing until a write. It
// returns the store rooted at the table and the location's canonical name
// ("s3://bucket/prefix" or "file:///abs/dir").
func OpenLocation(ctx context.Context, path string, opts objstore.Options) (objstore.Store, string, error) {
	if strings.HasPrefix(path, "s3://") {
		st, err := objstore.Open(ctx, path, opts)
		if err != nil {
			return nil, "", err
		}
		return st, strings.TrimRight(path, "/"), nil
	}
	if strings.Contains(path, "://") && !strings.HasPrefix(path, "file://") {
		return nil, "", fmt.Errorf("lake path %q: only s3:// and local folders are supported", path)
	}
	dir, err := filepath.Abs(strings.TrimPrefix(path, "file://"))
	if err != nil {
		return nil, "", fmt.Errorf("lake path %q: %w", path, err)
	}
	return objstore.LocalAt(dir), "file://" + filepath.ToSlash(dir), nil
}
