// Package store owns a data directory: the catalog, the segment files and the
// open readers over them. It is the write path of batch ingest (Append) and hands
// queries consistent Snapshots.
package store

import (
	"context"
	"errors"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
)

var errTODO = errors.New("store: not built yet")

// Store is a data directory opened for reading and writing. Safe for concurrent use.
type Store struct{}

// Options configure Open.
type Options struct{}

// Open opens (creating if needed) the data directory dir.
func Open(dir string, opts Options) (*Store, error) { return nil, errTODO }

// Close closes the catalog and every segment reader.
func (s *Store) Close() error { return errTODO }

// CreateTable adds a table; ErrTableExists if the name is taken.
func (s *Store) CreateTable(def catalog.TableDef) (catalog.TableDef, error) {
	return def, errTODO
}

// DropTable removes a table and, once no snapshot uses them, its segment files.
// ErrNoTable if it does not exist.
func (s *Store) DropTable(name string) error { return errTODO }

// Table returns the definition of name.
func (s *Store) Table(name string) (catalog.TableDef, bool) { return catalog.TableDef{}, false }

// Tables lists all tables by name.
func (s *Store) Tables() []catalog.TableDef { return nil }

// Append writes cols into new segments of table (one per time chunk the rows fall in)
// and publishes them in one atomic catalog batch: after it returns nil every row is
// visible to new snapshots, after an error none is.
func (s *Store) Append(ctx context.Context, table string, cols *storage.Columns) error {
	return errTODO
}

// Snapshot returns the table's current sources. The caller must Release it; segment
// files are deleted only after every snapshot that references them is released.
func (s *Store) Snapshot(table string) (*Snapshot, error) { return nil, errTODO }

// Snapshot is a consistent, immutable view of one table.
type Snapshot struct {
	Table   catalog.TableDef
	Sources []storage.Source
}

// Release lets go of the snapshot's readers.
func (sn *Snapshot) Release() {}

// Errors callers test for with errors.Is.
var (
	ErrTableExists = errors.New("table already exists")
	ErrNoTable     = errors.New("table does not exist")
)
