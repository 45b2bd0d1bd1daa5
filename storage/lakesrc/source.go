package lakesrc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/segment"
)

// Source is one lake file as a storage.Source, backed by a cache entry. It
// implements storage.Lazy: Schema, Name, NumRows, MinTime and MaxTime are answered
// without loading; every other method needs a successful Load first.
type Source struct {
	cache     *Cache
	entry     *entry
	snap      *lake.Snapshot
	file      *lake.AddFile
	schema    *storage.Schema
	deltaCols []string
	name      string

	rows     int
	min, max int64
	exact    bool // rows, min and max came from the stats, unverified until Load

	mu     sync.Mutex // serializes Load and Close
	reader atomic.Pointer[segment.Reader]
	closed bool
}

var (
	_ storage.Source = (*Source)(nil)
	_ storage.Lazy   = (*Source)(nil)
)

// Source returns a Source for file f of snap, read with schema and deltaCols (from
// TableSchema, or a table's own schema whose column names match the Delta columns:
// deltaCols[i] is schema column i's name, or "" for a column the Delta table lacks,
// all NULL, or zero for the time column). location identifies the table (e.g.
// "s3://bucket/t") in cache keys. NumRows, MinTime and MaxTime come from f's stats
// (numRecords minus the deletion vector cardinality; min/max of the time column,
// or its partition value) without reading the file when the stats have them
// exactly (microsecond-precision timestamps); otherwise the file is loaded here,
// so its errors are returned now. The Source holds its cache entry until Close.
func (c *Cache) Source(ctx context.Context, location string, snap *lake.Snapshot, f *lake.AddFile,
	schema *storage.Schema, deltaCols []string) (*Source, error) {
	return c.source(ctx, location, snap, f, schema, deltaCols, false)
}

// CachedSource is Source for a file whose segment is in the cache already, so
// that neither it nor a later Load converts anything (the entry is held from
// here on, so it cannot be evicted); ok is false, and nothing is held, when the
// file is not cached.
func (c *Cache) CachedSource(ctx context.Context, location string, snap *lake.Snapshot, f *lake.AddFile,
	schema *storage.Schema, deltaCols []string) (src *Source, ok bool, err error) {
	src, err = c.source(ctx, location, snap, f, schema, deltaCols, true)
	if errors.Is(err, errNotCached) {
		return nil, false, nil
	}
	return src, err == nil, err
}

var errNotCached = errors.New("not cached")

func (c *Cache) source(ctx context.Context, location string, snap *lake.Snapshot, f *lake.AddFile,
	schema *storage.Schema, deltaCols []string, cachedOnly bool) (*Source, error) {
	if err := schema.Validate(); err != nil {
		return nil, fmt.Errorf("lake file %s: %w", f.DecodedPath, err)
	}
	if len(deltaCols) != len(schema.Columns) {
		return nil, fmt.Errorf("lake file %s: %d Delta columns for %d schema columns", f.DecodedPath, len(deltaCols), len(schema.Columns))
	}
	for i, dc := range deltaCols {
		if dc != "" && !strings.EqualFold(dc, schema.Columns[i].Name) {
			return nil, fmt.Errorf("lake file %s: schema column %q reads Delta column %q: names must match", f.DecodedPath, schema.Columns[i].Name, dc)
		}
	}
	name := entryName(location, f, schema)
	e, err := c.acquire(name)
	if err != nil {
		return nil, fmt.Errorf("lake file %s: %w", f.DecodedPath, err)
	}
	if cachedOnly {
		c.mu.Lock()
		ready := e.ready && !e.bad
		c.mu.Unlock()
		if !ready {
			c.release(e)
			return nil, errNotCached
		}
	}
	s := &Source{cache: c, entry: e, snap: snap, file: f, schema: schema, deltaCols: deltaCols, name: f.DecodedPath}
	b, known := c.bounds.get(c, name)
	if !known {
		b.rows, b.min, b.max, b.exact = s.statsBounds()
		c.bounds.put(c, name, b)
	}
	s.rows, s.min, s.max, s.exact = b.rows, b.min, b.max, b.exact
	if !s.exact {
		if err := s.Load(ctx); err != nil {
			s.Close()
			return nil, err
		}
		r := s.reader.Load()
		s.rows, s.min, s.max = r.NumRows(), r.MinTime(), r.MaxTime()
	}
	return s, nil
}

// usTimestamp matches the Delta stats timestamps that are exact to the microsecond.
var usTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})?$`)

// statsBounds reads the row count and time range from the add's stats; ok is false
// when they are missing or not exact.
func (s *Source) statsBounds() (rows int, lo, hi int64, ok bool) {
	return deltaBounds(s.snap, s.file, s.schema, s.deltaCols)
}

// deltaBounds reads the live row count and time range of f from its add's
// stats; ok is false when they are missing or not exact.
func deltaBounds(snap *lake.Snapshot, f *lake.AddFile, schema *storage.Schema, deltaCols []string) (rows int, lo, hi int64, ok bool) {
	s := &Source{snap: snap, file: f, schema: schema, deltaCols: deltaCols}
	st, err := s.file.ParsedStats()
	if err != nil || st == nil || st.NumRecords == nil {
		return 0, 0, 0, false
	}
	n := *st.NumRecords
	if s.file.DeletionVector != nil {
		n -= s.file.DeletionVector.Cardinality
	}
	if n < 0 {
		return 0, 0, 0, false
	}
	tc := s.schema.TimeColumn
	col := s.deltaCols[tc]
	if col == "" || n == 0 {
		return int(n), 0, 0, true
	}
	fd := s.field(col)
	if fd == nil {
		return 0, 0, 0, false
	}
	if s.isPartition(col) {
		v, present := s.snap.PartitionValue(s.file, col)
		if !present {
			return 0, 0, 0, false // a NULL time: Load reports it
		}
		t, err := lake.ParsePartitionValue(fd.Type, v)
		if err != nil {
			return 0, 0, 0, false
		}
		var us int64
		switch t := t.(type) {
		case int64:
			us = t
		case int32: // date
			us = int64(t) * microsPerDay
		default:
			return 0, 0, 0, false
		}
		return int(n), us, us, true
	}
	minJ, maxJ, nulls, has := s.snap.ColumnStats(s.file, col)
	if !has || nulls > 0 || minJ == nil || maxJ == nil {
		return 0, 0, 0, false
	}
	lo, ok1 := exactTime(fd.Type.Name, minJ)
	hi, ok2 := exactTime(fd.Type.Name, maxJ)
	if !ok1 || !ok2 || lo > hi {
		return 0, 0, 0, false
	}
	return int(n), lo, hi, true
}

// exactTime parses a stats value of a timestamp, timestamp_ntz or date column when
// it is exact; timestamps without a zone are UTC.
func exactTime(deltaType string, raw json.RawMessage) (int64, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return 0, false
	}
	if deltaType == "date" {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return 0, false
		}
		return t.Unix() * 1e6, true
	}
	if !usTimestamp.MatchString(s) {
		return 0, false
	}
	layout := "2006-01-02T15:04:05.000000Z07:00"
	if !strings.HasSuffix(s, "Z") && !strings.ContainsAny(s[19:], "+-") {
		layout = "2006-01-02T15:04:05.000000"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return 0, false
	}
	return t.Unix()*1e6 + int64(t.Nanosecond()/1e3), true
}

func (s *Source) field(col string) *lake.Field {
	for i := range s.snap.Schema.Fields {
		if strings.EqualFold(s.snap.Schema.Fields[i].Name, col) {
			return &s.snap.Schema.Fields[i]
		}
	}
	return nil
}

func (s *Source) isPartition(col string) bool {
	for _, p := range s.snap.PartitionColumns() {
		if strings.EqualFold(p, col) {
			return true
		}
	}
	return false
}

// Load makes the file's segment available: converted from the lake file once per
// cache entry (concurrent Loads wait for one conversion; a failed conversion
// leaves no file and the next Load tries again), then opened (one reader shared by
// every Source of the entry). The segment must agree with the stats the Source
// reported: the same row count, times within MinTime..MaxTime.
func (s *Source) Load(ctx context.Context) error {
	if s.reader.Load() != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reader.Load() != nil {
		return nil
	}
	if s.closed {
		return fmt.Errorf("lake file %s: source is closed", s.name)
	}
	r, err := s.cache.open(ctx, s.entry, s.convert)
	if err != nil {
		return fmt.Errorf("lake file %s: %w", s.name, err)
	}
	if err := s.check(r); err != nil {
		return fmt.Errorf("lake file %s: cache entry %s: %w", s.name, r.Path(), err)
	}
	s.reader.Store(r)
	return nil
}

// check verifies that a segment can stand for this Source.
func (s *Source) check(r *segment.Reader) error {
	got := r.Schema()
	if len(got.Columns) != len(s.schema.Columns) || got.TimeColumn != s.schema.TimeColumn {
		return fmt.Errorf("segment columns (%s) do not match (%s)", got, s.schema)
	}
	for i, c := range s.schema.Columns {
		if g := got.Columns[i]; g.Name != c.Name || g.Type != c.Type {
			return fmt.Errorf("segment column %d is %s %s, want %s %s", i, g.Name, g.Type, c.Name, c.Type)
		}
	}
	if !s.exact {
		return nil
	}
	if r.NumRows() != s.rows {
		return fmt.Errorf("%d rows, the Delta stats say %d", r.NumRows(), s.rows)
	}
	if s.rows > 0 && (r.MinTime() < s.min || r.MaxTime() > s.max) {
		return fmt.Errorf("times %d..%d outside the Delta stats %d..%d", r.MinTime(), r.MaxTime(), s.min, s.max)
	}
	return nil
}

// convert reads the lake file into a segment file at path (written to a temporary
// file and renamed; nothing is left at path on error) and returns its size.
func (s *Source) convert(ctx context.Context, path string) (int64, error) {
	cols := storage.NewColumns(s.schema, 0)
	err := s.snap.ReadFile(ctx, s.file, nonEmpty(s.deltaCols), func(rec arrow.RecordBatch) error {
		part, err := ToColumns(s.schema, s.deltaCols, rec)
		if err != nil {
			return err
		}
		cols.Append(part)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := storage.CheckColumns(s.schema, cols); err != nil {
		return 0, err
	}
	info, err := segment.Write(path, cols)
	if err != nil {
		return 0, err
	}
	return info.Bytes, nil
}

// Close releases the Source's hold on its cache entry; it waits for a Load in
// progress. Idempotent. No other method may be used after Close.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.reader.Store(nil)
	s.cache.release(s.entry)
	return nil
}

// Schema is the schema the Source was created with.
func (s *Source) Schema() *storage.Schema { return s.schema }

// FileSize is the size of the lake file in bytes (from the log).
func (s *Source) FileSize() int64 { return s.file.Size }

// Name is the lake file path (decoded, relative to the table).
func (s *Source) Name() string { return s.name }

// Path names how the Source reads its rows, for EXPLAIN.
func (s *Source) ReadPath() string { return "cache" }

// NumRows is the number of live rows (deletion vector applied).
func (s *Source) NumRows() int { return s.rows }

// MinTime bounds the time column from below.
func (s *Source) MinTime() int64 { return s.min }

// MaxTime bounds the time column from above.
func (s *Source) MaxTime() int64 { return s.max }

// loaded returns the shared reader, or an error before Load.
func (s *Source) loaded() (*segment.Reader, error) {
	if r := s.reader.Load(); r != nil {
		return r, nil
	}
	return nil, fmt.Errorf("lake file %s: read before Load (or after Close)", s.name)
}

// readErr notes corruption of the cache file so the entry is rebuilt once unused.
func (s *Source) readErr(err error) error {
	if err != nil && errors.Is(err, storage.ErrCorrupt) {
		s.cache.markBad(s.entry)
	}
	return err
}

// Stats returns column statistics of the loaded segment (zero before Load).
func (s *Source) Stats(col int) storage.ColumnStats {
	if r := s.reader.Load(); r != nil {
		return r.Stats(col)
	}
	return storage.ColumnStats{}
}

func (s *Source) Dict(col int) (storage.Dict, error) {
	r, err := s.loaded()
	if err != nil {
		return nil, err
	}
	d, err := r.Dict(col)
	return d, s.readErr(err)
}

func (s *Source) Bitmap(col int, id uint32) (*roaring.Bitmap, error) {
	r, err := s.loaded()
	if err != nil {
		return nil, err
	}
	b, err := r.Bitmap(col, id)
	return b, s.readErr(err)
}

func (s *Source) Nulls(col int) (*roaring.Bitmap, error) {
	r, err := s.loaded()
	if err != nil {
		return nil, err
	}
	b, err := r.Nulls(col)
	return b, s.readErr(err)
}

func (s *Source) ReadInt64(col, start, end int, dst []int64) ([]int64, error) {
	r, err := s.loaded()
	if err != nil {
		return dst, err
	}
	out, err := r.ReadInt64(col, start, end, dst)
	return out, s.readErr(err)
}

func (s *Source) ReadFloat64(col, start, end int, dst []float64) ([]float64, error) {
	r, err := s.loaded()
	if err != nil {
		return dst, err
	}
	out, err := r.ReadFloat64(col, start, end, dst)
	return out, s.readErr(err)
}

func (s *Source) ReadBool(col, start, end int, dst []bool) ([]bool, error) {
	r, err := s.loaded()
	if err != nil {
		return dst, err
	}
	out, err := r.ReadBool(col, start, end, dst)
	return out, s.readErr(err)
}

func (s *Source) ReadDictIDs(col, start, end int, dst []uint32) ([]uint32, error) {
	r, err := s.loaded()
	if err != nil {
		return dst, err
	}
	out, err := r.ReadDictIDs(col, start, end, dst)
	return out, s.readErr(err)
}
