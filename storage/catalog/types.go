package catalog

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
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
	// Owner is the OID of the role that owns the table (pg_class.relowner); 0, as in
	// tables made before roles, means the bootstrap superuser. Use OwnerOID.
	Owner uint32 `json:",omitempty"`
}

// OwnerOID returns the OID of the table's owner.
func (d *TableDef) OwnerOID() uint32 {
	if d.Owner == 0 {
		return BootstrapSuperuserOID
	}
	return d.Owner
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
	// Source is the Kafka partition ("topic/partition") every row of the segment
	// came from; empty for rows of INSERT and COPY. A streaming table persists
	// each partition's rows into segments of their own, so that a partition's
	// rows can be handed off, or dropped, by its offsets (store: handoff by offset).
	Source string `json:",omitempty"`
}

// ParseDuration reads a duration given as a table option: "10 seconds", "5 minutes",
// "1 hour", Go durations ("10s", "1h30m") and bare seconds ("30").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	num, unit, ok := strings.Cut(s, " ")
	if !ok {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	units := map[string]time.Duration{
		"ms": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
		"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second, "secs": time.Second,
		"min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
		"day": 24 * time.Hour, "days": 24 * time.Hour,
	}
	u, ok := units[strings.TrimSpace(unit)]
	if !ok {
		return 0, fmt.Errorf("invalid duration unit in %q", s)
	}
	return time.Duration(n * float64(u)), nil
}

// LakeState is a table's progress handing closed time chunks to its Delta Lake
// table. Queries read the lake at Version plus the segments the catalog still
// lists: a segment leaves the catalog in the same batch that moves Version to a
// Delta version holding its rows.
type LakeState struct {
	// Version is the Delta version queries read; -1 (or no files) before the first
	// handoff. Zero value: no lake table yet.
	Version int64 `json:"version"`
	// Seq is the sequence number of the last handoff committed and marked here. A
	// handoff's Delta commit carries txn(appId from the table's id, version = its Seq),
	// so a retried handoff is recognised and never adds rows twice.
	Seq uint64 `json:"seq"`
	// Pending is a handoff that may have reached the Delta log but is not marked
	// here yet (the process stopped between the two). Open resolves it.
	Pending *Handoff `json:"pending,omitempty"`
	// Offsets are, per source ("topic/partition"), the version of the Delta txn
	// strata/<table>/<source> as this process last knew it: the offset below
	// which every record of the source is in the lake. The table's local
	// segments of the source hold exactly the records from there to the
	// source's catalog offset (store: handoff by offset).
	Offsets map[string]int64 `json:"offsets,omitempty"`
}

// Handoff is the intent recorded before a handoff writes to the lake.
type Handoff struct {
	Seq      uint64   `json:"seq"`
	Segments []string `json:"segments"` // segment IDs whose rows it moves
	// Offsets are the per-source txn versions the handoff commits (LakeState.Offsets
	// once it is marked).
	Offsets map[string]int64 `json:"offsets,omitempty"`
}

func (l LakeState) clone() LakeState {
	if l.Pending != nil {
		p := *l.Pending
		p.Segments = slices.Clone(p.Segments)
		p.Offsets = maps.Clone(p.Offsets)
		l.Pending = &p
	}
	l.Offsets = maps.Clone(l.Offsets)
	return l
}
