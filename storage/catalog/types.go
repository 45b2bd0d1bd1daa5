package catalog

import (
	"time"

	"github.com/stratadb/strata/storage"
)

// TableDef is a table as the catalog stores it.
type TableDef struct {
	Name   string
	ID     uint64 // assigned by CreateTable, never reused
	Schema storage.Schema
	// Granularity is the length of a time chunk: segments never span two chunks.
	// Default time.Hour.
	Granularity time.Duration
	// Options are the remaining WITH (...) options as given (kafka_topic, rollup, ...).
	Options map[string]string
	Created time.Time
}

// SegmentMeta describes one published segment file.
type SegmentMeta struct {
	ID         string // "<table id>/<chunk start RFC3339>/<seq>", unique forever
	Table      string
	ChunkStart int64  // µs, start of the time chunk the segment belongs to
	Seq        uint64 // per table, increasing
	Path       string // relative to the data dir
	Rows       int64
	MinTime    int64
	MaxTime    int64
	Bytes      int64
}
