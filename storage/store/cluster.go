package store

import (
	"maps"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
)

// Hooks for the cluster's lake catalog (package lakecat), which writes a table's
// definition into the metaData of the Delta table its handoffs commit to, and so
// must write the schema handoff expects (ensureLakeTable, checkLakeSchema).

// LakeSchema returns the Delta schema and partition columns of the lake of a
// table with schema: its columns and the date partition column.
func LakeSchema(schema *storage.Schema) (*lake.DataType, []string, error) {
	dt, err := lakeSchema(schema)
	if err != nil {
		return nil, nil, err
	}
	return dt, []string{partitionColumn(schema)}, nil
}

// CheckLakePath checks a lake_path for table as CreateTable would (under a lake
// root, not overlapping the data directory or another table's lake_path) and
// returns its canonical form.
func (s *Store) CheckLakePath(path, table string) (string, error) {
	return s.resolveLakePath(path, table, "")
}

// SetTableOptions replaces the options of table (ALTER TABLE … SET/RESET) in
// the catalog and the live table together. Options read when a table's lake
// or ingestion is set up (lake_path, kafka_*) are the caller's to refuse or
// to act on.
func (s *Store) SetTableOptions(table string, opts map[string]string) (catalog.TableDef, error) {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	if err := s.checkOpen(); err != nil {
		return catalog.TableDef{}, err
	}
	def, err := s.cat.SetTableOptions(table, opts)
	if err != nil {
		return def, err
	}
	s.mu.Lock()
	if lt := s.mu.tables[table]; lt != nil {
		lt.def.Options = maps.Clone(def.Options)
	}
	s.mu.Unlock()
	return def, nil
}
