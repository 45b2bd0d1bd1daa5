// Package storage owns the contract every data tier answers and the types it is
// written in: a table Schema (exactly one time column), the in-memory Columns that
// writers consume, and Source, the scan contract.
//
// A sealed segment (storage/segment), a snapshot of the real-time head
// (storage/realtime) and a lake file (storage/lake) all implement Source, so the
// query engine never cares which tier a row lives in, and persisting, compacting or
// handing off data is "write from a Source".
//
// Invariants:
//   - Time values are int64 microseconds since the Unix epoch, UTC (PostgreSQL's
//     resolution). Every Schema has exactly one time column, of TypeTimestamp, NOT NULL.
//   - A Source is immutable while it is open: NumRows, dictionaries, bitmaps and values
//     never change under a reader. Bitmaps and dictionaries it returns are read-only.
//   - A numeric column wider than an int64 holds (numeric without a modifier,
//     numeric(p,s) with p > 18 or a negative scale) is a TypeString column of
//     canonical numeric text (numeric.go): equal values of a numeric(p,s) have
//     equal text, and every writer canonicalizes through CanonicalNumeric.
//   - Row numbers are dense, 0..NumRows()-1, and a Source's rows are sorted by time,
//     unless it implements TimeOrder and SortedByTime reports false (a real-time head
//     holds rows in arrival order).
package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// ErrCorrupt marks an error caused by bytes on disk that fail validation (bad
// checksum, truncated file, impossible length). The wire layer maps it to SQLSTATE XX001.
var ErrCorrupt = errors.New("data corrupted")

// Type is the physical type of a stored column.
type Type uint8

const (
	TypeInvalid   Type = iota
	TypeTimestamp      // int64 µs since epoch, UTC
	TypeString         // dictionary-encoded UTF-8 text
	TypeInt64          // SQL smallint, integer, bigint
	TypeFloat64        // SQL real, double precision (and numeric of tables from before numeric.go)
	TypeBool
)

func (t Type) String() string {
	switch t {
	case TypeTimestamp:
		return "timestamp"
	case TypeString:
		return "string"
	case TypeInt64:
		return "int64"
	case TypeFloat64:
		return "float64"
	case TypeBool:
		return "bool"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Column describes one stored column.
type Column struct {
	Name string
	Type Type
	// SQLType is the PostgreSQL type name the column was declared with, lower case and
	// canonical: "timestamptz", "timestamp", "text", "varchar", "smallint", "integer",
	// "bigint", "real", "double precision", "numeric", "numeric(p,s)", "boolean". The
	// physical Type follows from it; clients see this one. A numeric(p,s) column
	// (p <= 18) is TypeInt64 holding value × 10^s, exactly (DecimalScale); any
	// other numeric is TypeString holding canonical text (numeric.go,
	// NumericTextColumn), or TypeFloat64 in a table created before that form.
	SQLType string
	// TypMod is the type modifier the column was declared with, encoded as
	// PostgreSQL's atttypmod (varchar(n): n+4; numeric(p,s): (p<<16 | s&0x7ff)+4), or
	// 0 for none (PostgreSQL's -1; 0 is no valid modifier of varchar or numeric, the
	// only types whose modifier strata keeps). The SQL layer's catalog shows it.
	TypMod  int32 `json:",omitempty"`
	NotNull bool
}

// DecimalScale returns p and s of a numeric(p,s) column; ok is false for any other.
func (c Column) DecimalScale() (p, s int, ok bool) {
	if c.Type != TypeInt64 {
		return 0, 0, false
	}
	if n, err := fmt.Sscanf(c.SQLType, "numeric(%d,%d)", &p, &s); err != nil || n != 2 {
		return 0, 0, false
	}
	return p, s, true
}

// Schema is the ordered column list of a table. TimeColumn indexes Columns.
type Schema struct {
	Columns    []Column
	TimeColumn int
}

// Index returns the position of the column with the given name, or -1. Names are
// compared exactly (the SQL layer folds unquoted identifiers to lower case).
func (s *Schema) Index(name string) int {
	for i, c := range s.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Validate checks the invariants of a schema: unique non-empty names and exactly one
// NOT NULL time column at TimeColumn.
func (s *Schema) Validate() error {
	if len(s.Columns) == 0 {
		return errors.New("schema has no columns")
	}
	seen := make(map[string]bool, len(s.Columns))
	for _, c := range s.Columns {
		if c.Name == "" {
			return errors.New("schema has a column without a name")
		}
		if seen[c.Name] {
			return fmt.Errorf("column %q specified more than once", c.Name)
		}
		seen[c.Name] = true
		if c.Type == TypeInvalid || c.Type > TypeBool {
			return fmt.Errorf("column %q has invalid type %d", c.Name, c.Type)
		}
	}
	if s.TimeColumn < 0 || s.TimeColumn >= len(s.Columns) {
		return fmt.Errorf("time column index %d out of range", s.TimeColumn)
	}
	tc := s.Columns[s.TimeColumn]
	if tc.Type != TypeTimestamp {
		return fmt.Errorf("time column %q is %s, not a timestamp", tc.Name, tc.Type)
	}
	if !tc.NotNull {
		return fmt.Errorf("time column %q must be NOT NULL", tc.Name)
	}
	return nil
}

// String renders the schema as "name type, ..." for messages and tests.
func (s *Schema) String() string {
	var b strings.Builder
	for i, c := range s.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
		b.WriteByte(' ')
		b.WriteString(c.SQLType)
		if i == s.TimeColumn {
			b.WriteString(" TIME")
		}
	}
	return b.String()
}

// ColumnData holds one column of a Columns set. Exactly the slice matching the
// column's Type is used (Int64 for TypeTimestamp and TypeInt64), with Len entries.
type ColumnData struct {
	Int64   []int64
	Float64 []float64
	Bool    []bool
	String  []string
	// Null is nil when the column has no NULLs; otherwise Null[i] reports whether row
	// i is NULL (the value slot then holds the zero value).
	Null []bool
	// Dict and IDs, both optional, describe a string column already dictionary
	// encoded (the real-time head's parts): Dict holds distinct values and
	// String[i] == Dict[IDs[i]] for every non-NULL row. A hint only: a segment writer then encodes from the ids instead
	// of hashing every string, after checking that they agree with String (it
	// ignores a hint that does not). Code that builds or changes String leaves them
	// nil.
	Dict []string
	IDs  []uint32
}

// Columns is an in-memory, row-aligned set of columns: the input of segment writers
// and the unit the ingest decoders produce. Rows need not be sorted.
type Columns struct {
	Schema *Schema
	Len    int
	Cols   []ColumnData
}

// NewColumns returns an empty set for schema with capacity for n rows.
func NewColumns(schema *Schema, n int) *Columns {
	c := &Columns{Schema: schema, Cols: make([]ColumnData, len(schema.Columns))}
	for i, col := range schema.Columns {
		switch col.Type {
		case TypeTimestamp, TypeInt64:
			c.Cols[i].Int64 = make([]int64, 0, n)
		case TypeFloat64:
			c.Cols[i].Float64 = make([]float64, 0, n)
		case TypeBool:
			c.Cols[i].Bool = make([]bool, 0, n)
		case TypeString:
			c.Cols[i].String = make([]string, 0, n)
		}
	}
	return c
}

// SetNull marks row of column col as NULL. The value slot for the row must already
// have been appended.
func (c *Columns) SetNull(col, row int) {
	d := &c.Cols[col]
	if d.Null == nil {
		d.Null = make([]bool, row+1, cap(d.Int64)+cap(d.Float64)+cap(d.Bool)+cap(d.String))
	}
	for len(d.Null) <= row {
		d.Null = append(d.Null, false)
	}
	d.Null[row] = true
}

// Reset empties c, keeping its capacity.
func (c *Columns) Reset() { c.Truncate(0) }

// Truncate drops the rows from n on.
func (c *Columns) Truncate(n int) {
	c.Len = n
	for i := range c.Cols {
		d := &c.Cols[i]
		d.Int64, d.Float64, d.Bool, d.String = d.Int64[:min(n, len(d.Int64))], d.Float64[:min(n, len(d.Float64))], d.Bool[:min(n, len(d.Bool))], d.String[:min(n, len(d.String))]
		if len(d.Null) > n {
			d.Null = d.Null[:n]
		}
	}
}

// Append appends src's rows (the same schema) to c.
func (c *Columns) Append(src *Columns) {
	base := c.Len
	for i := range c.Cols {
		d, sc := &c.Cols[i], &src.Cols[i]
		d.Int64 = append(d.Int64, sc.Int64...)
		d.Float64 = append(d.Float64, sc.Float64...)
		d.Bool = append(d.Bool, sc.Bool...)
		d.String = append(d.String, sc.String...)
		for r, null := range sc.Null {
			if null {
				c.SetNull(i, base+r)
			}
		}
	}
	c.Len += src.Len
}

// IsNull reports whether row of column col is NULL.
func (c *Columns) IsNull(col, row int) bool {
	n := c.Cols[col].Null
	return row < len(n) && n[row]
}

// Check verifies that every column has exactly Len values of its type and that the
// time column holds no NULL. Writers call it before encoding.
func (c *Columns) Check() error {
	if len(c.Cols) != len(c.Schema.Columns) {
		return fmt.Errorf("columns: %d column slices for %d schema columns", len(c.Cols), len(c.Schema.Columns))
	}
	for i, col := range c.Schema.Columns {
		d := &c.Cols[i]
		var n int
		switch col.Type {
		case TypeTimestamp, TypeInt64:
			n = len(d.Int64)
		case TypeFloat64:
			n = len(d.Float64)
		case TypeBool:
			n = len(d.Bool)
		case TypeString:
			n = len(d.String)
		}
		if n != c.Len {
			return fmt.Errorf("column %q: %d values, want %d", col.Name, n, c.Len)
		}
		if len(d.Null) > c.Len {
			return fmt.Errorf("column %q: %d null flags, want at most %d", col.Name, len(d.Null), c.Len)
		}
		if i == c.Schema.TimeColumn {
			for _, isNull := range d.Null {
				if isNull {
					return fmt.Errorf("column %q: NULL in the time column", col.Name)
				}
			}
		}
	}
	return nil
}

// ColumnStats are the per-column statistics a Source keeps. Only the min/max fields of
// the column's type are meaningful, and only when HasMinMax (false when every value is NULL).
type ColumnStats struct {
	NullCount int
	HasMinMax bool
	// Bounds marks statistics that are not exact (a Parquet row group with deleted
	// rows, or a footer without complete statistics): the values lie within
	// [min, max] when HasMinMax, but min and max need not occur, NullCount means
	// nothing, and !HasMinMax does not mean all NULL. Pruning may use them; answers
	// may not.
	Bounds    bool
	MinInt    int64 // TypeTimestamp, TypeInt64; for TypeBool 0/1
	MaxInt    int64
	MinFloat  float64 // TypeFloat64 (NaN is excluded from min/max)
	MaxFloat  float64
	MinString string // TypeString
	MaxString string
}

// StatsView is what pruning reads: a row count and per-column statistics. Every
// Source is one; so are a lake file's Delta statistics before its footer is read.
type StatsView interface {
	NumRows() int
	Stats(col int) ColumnStats
}

// Prune narrows a snapshot to what one scan can match, so that lake files and
// row groups that cannot hold a matching row are left out before they are read.
// The zero value prunes nothing but time; use NoPrune for "everything".
type Prune struct {
	TimeMin, TimeMax int64 // rows with times outside [TimeMin, TimeMax] are not wanted
	// Allow, when set, reports whether a source with these statistics may hold a
	// row the scan matches. It must hold for every source that may: it is given
	// bounds (Stats marked Bounds), and with Bounds it may only judge by min/max.
	Allow func(StatsView) bool
}

// NoPrune wants every row.
var NoPrune = Prune{TimeMin: math.MinInt64, TimeMax: math.MaxInt64}

// Allows reports whether p lets a source with statistics v through (its time
// range is checked by the caller).
func (p Prune) Allows(v StatsView) bool { return p.Allow == nil || p.Allow(v) }

// IDRows is implemented by Sources whose string columns keep dictionary ids
// per row but no per-id bitmaps (a Parquet row group read directly): the rows
// of several ids are found in one pass over the ids, cheaper than building
// every id's bitmap. Callers use it instead of ORing Bitmap over ids.
type IDRows interface {
	// RowsWithIDs returns the rows of string column col whose dictionary id is
	// one of ids (NULL rows never). The bitmap is the caller's.
	RowsWithIDs(col int, ids []uint32) (*roaring.Bitmap, error)
}

// Prefetcher is implemented by Sources that fetch column data on first use from
// slow storage (a Parquet row group on S3). A reader about to read several
// columns announces them, so that they are fetched together (coalesced range
// requests, several in flight) instead of one request per column as each is
// first read. A hint: errors surface when the columns are read.
type Prefetcher interface {
	Prefetch(cols []int)
}

// ValueRows is implemented by Sources that can find the rows of a string column
// holding one of some values without building the column's dictionary (a
// Parquet column chunk read as its pages' values and indices: the values are
// compared, not hashed). ok is false when the Source cannot: use Dict, Lookup
// and IDRows. NULL rows are never in rows; the bitmap is the caller's.
type ValueRows interface {
	RowsWithValues(col int, vals []string) (rows *roaring.Bitmap, ok bool, err error)
}

// RemoteReader is implemented by Sources whose reads wait on object storage (a
// Parquet row group on S3, not yet in a local cache). The engine then scans with
// more workers than cores (RemoteScanWorkers per core), so that one source's
// requests overlap another's decoding instead of leaving a core idle.
type RemoteReader interface {
	RemoteReads() bool
}

// RemoteScanWorkers is how many scan workers per core the engine runs over
// Sources that read from object storage (RemoteReader).
const RemoteScanWorkers = 4

// ValueProber is implemented by Sources that can tell, without decoding a string
// column, that none of its rows holds any of some values (a Parquet column chunk
// whose data pages are all dictionary-encoded: its dictionary page lists every
// value it holds). The engine asks before it reads a Source filtered by
// equality or IN on the column.
type ValueProber interface {
	// MayHold reports false only when no row's value of string column col is one
	// of vals; true when it may be, or when that is not known.
	MayHold(col int, vals []string) (bool, error)
}

// Dict is the dictionary of a string column: ids 0..Len()-1, one per distinct non-NULL
// value. A sealed segment's dictionary is sorted (id order = byte order of values);
// a real-time head's is in arrival order, so callers must check Sorted before using
// id order as value order.
type Dict interface {
	Len() int
	Value(id uint32) string
	// Lookup returns the id of s, or false when s does not occur.
	Lookup(s string) (uint32, bool)
	Sorted() bool
}

// TimeOrder is implemented by Sources whose rows may not be sorted by time. When
// SortedByTime returns false, readers must not binary-search the time column or read
// its first and last rows as its extremes; MinTime and MaxTime still bound it. A Source
// that does not implement TimeOrder is sorted.
type TimeOrder interface {
	SortedByTime() bool
}

// IsSortedByTime reports whether src's rows are sorted by time.
func IsSortedByTime(src Source) bool {
	if o, ok := src.(TimeOrder); ok {
		return o.SortedByTime()
	}
	return true
}

// DictValues is implemented by dictionaries that can hand out all their values at
// once, by id, without copying (a sealed segment's). The slice is read-only and
// stays valid while the Source is open. Scans use it to avoid decoding a large
// dictionary value by value.
type DictValues interface {
	Values() []string
}

// Source is the scan contract. Values are read in row ranges [start, end) into
// caller-owned slices (dst is truncated and appended to, then returned), so scans do
// not allocate per batch. Implementations are safe for concurrent use by many readers.
type Source interface {
	Schema() *Schema
	NumRows() int
	// MinTime and MaxTime bound the time column, inclusive. Undefined when NumRows is 0.
	MinTime() int64
	MaxTime() int64
	Stats(col int) ColumnStats

	// Dict returns the dictionary of string column col.
	Dict(col int) (Dict, error)
	// Bitmap returns the rows of string column col whose value has dictionary id id.
	Bitmap(col int, id uint32) (*roaring.Bitmap, error)
	// Nulls returns the rows where column col is NULL; nil when there are none.
	Nulls(col int) (*roaring.Bitmap, error)

	ReadInt64(col, start, end int, dst []int64) ([]int64, error) // TypeTimestamp, TypeInt64
	ReadFloat64(col, start, end int, dst []float64) ([]float64, error)
	ReadBool(col, start, end int, dst []bool) ([]bool, error)
	// ReadDictIDs reads dictionary ids of string column col; the id of a NULL row is
	// unspecified (check Nulls).
	ReadDictIDs(col, start, end int, dst []uint32) ([]uint32, error)

	// Name identifies the source in errors and EXPLAIN (a segment id, "head", a file path).
	Name() string
}

// CheckColumns verifies that cols can be appended to a table of schema: the same
// column names and types, consistent lengths (Columns.Check) and no NULL in a NOT
// NULL column.
func CheckColumns(schema *Schema, cols *Columns) error {
	if cols == nil || cols.Schema == nil {
		return errors.New("columns without a schema")
	}
	got := cols.Schema
	if len(got.Columns) != len(schema.Columns) || got.TimeColumn != schema.TimeColumn {
		return fmt.Errorf("columns (%s) do not match the table (%s)", got, schema)
	}
	for i, c := range schema.Columns {
		if g := got.Columns[i]; g.Name != c.Name || g.Type != c.Type {
			return fmt.Errorf("column %d is %s %s, the table has %s %s", i, g.Name, g.Type, c.Name, c.Type)
		}
	}
	if err := cols.Check(); err != nil {
		return err
	}
	for i, c := range schema.Columns {
		if c.NotNull && slices.Contains(cols.Cols[i].Null, true) {
			return fmt.Errorf("null value in column %q violates not-null constraint", c.Name)
		}
	}
	return nil
}

// Releasable is implemented by Sources that decode data on demand and keep it
// (a lake file read directly from Parquet). A reader that has finished a scan of
// the Source calls ReleaseDecoded so that the decoded data can be freed; it is
// decoded again if read later, so calling it while another reader still uses
// the Source costs time, never correctness.
type Releasable interface {
	ReleaseDecoded()
}

// NullCounter is implemented by Sources that can count a column's NULLs from
// metadata when Nulls would have to decode the column (a Parquet row group whose
// footer statistics are exact). ok is false when the count is not known exactly.
type NullCounter interface {
	NullCount(col int) (n int, ok bool)
}

// ColumnSum is the sum of a numeric column's non-NULL values, computed when the
// Source was written (Summer). The count of those values is NumRows minus the
// column's exact Stats NullCount.
type ColumnSum struct {
	// TypeInt64: the exact sum is High × 2^64 + Low, Low being the sum modulo
	// 2^64 as a two's-complement int64 (High is 0 unless the sum leaves int64).
	High, Low int64
	// TypeFloat64: the values added one at a time in row order to a float64 that
	// starts at 0, which is bit for bit what a scan adding the rows in order
	// computes (an addition in another order may differ in the last bits).
	Float float64
	// NaNs is how many of a TypeFloat64 column's values are NaN: Stats leave NaN
	// out of min/max, and PostgreSQL orders NaN above every number.
	NaNs int
}

// Summer is implemented by Sources that keep, from when they were written, the
// sum of each TypeInt64 and TypeFloat64 column (a segment of format 2). ok is
// false for a column without one (another type, or an older file); when ok, the
// column's Stats are exact.
type Summer interface {
	ColumnSum(col int) (sum ColumnSum, ok bool)
}

// ReadPath is implemented by Sources that serve lake files, to say how they read
// their rows (shown by EXPLAIN): "parquet" straight from the Parquet file, or
// "cache" from the file's segment in the local lake cache.
type ReadPath interface {
	ReadPath() string
}

// Lazy is implemented by Sources whose data is fetched on first use (a lake file
// materialized from object storage). NumRows, MinTime, MaxTime, Schema and Name are
// answered without loading; every other method may be called only after Load has
// returned nil. Load is idempotent and safe for concurrent callers; readers call it
// once they have decided, from the time bounds, that they need the source.
type Lazy interface {
	Load(ctx context.Context) error
}

// Load calls src.Load when src is Lazy.
func Load(ctx context.Context, src Source) error {
	if l, ok := src.(Lazy); ok {
		return l.Load(ctx)
	}
	return nil
}
