package catalog

import (
	"fmt"
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
