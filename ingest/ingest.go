// Package ingest owns the decoders that turn bytes into storage.Columns: the
// PostgreSQL COPY `text` and `csv` formats and JSON lines (Decode), and single JSON
// records as Kafka delivers them (RecordDecoder). COPY's JSON lines and
// RecordDecoder share one JSON object decoder (json.go), so a record loads the same
// way either way.
//
// Decode reads its input to the end, converts every line (record) into a row of the
// target schema and hands batches of rows to a sink. RecordDecoder.Decode converts
// one record and appends its row to a caller-owned Columns.
//
// Invariants:
//   - A malformed line never stops decoding and never reaches the sink: it is
//     rejected (counted in Stats.Rejected, the first Options.MaxRejects kept with
//     their 1-based line number and a PostgreSQL-style reason) and the next line is
//     decoded. Only an I/O error, a sink error or a cancelled context stop Decode.
//   - A row is all or nothing: it is staged field by field and appended only after
//     every field converted, so a rejected line or record leaves no partial values
//     behind (RecordDecoder.Decode leaves dst unchanged on error).
//   - Every row appended has a non-NULL time column and no NULL in a NOT NULL
//     column; string values are valid UTF-8 without NUL bytes (PostgreSQL's rule).
//   - Time values are µs since the Unix epoch, UTC. A timestamp without a zone is UTC.
//     For a column declared "timestamp" (without time zone) a zone in the input is
//     ignored, as PostgreSQL does.
//   - The sink owns each batch it is given; Decode never touches it again, unless
//     the sink hands it back through Options.Reuse.
//
// Speed: lines are decoded in place in the read buffer (bufio, 1 MiB; longer lines
// are assembled up to Options.MaxLineBytes). The JSON decoder is a hand-written
// scanner that maps member names to columns without reflection or maps. A row costs
// at most one allocation: its new string values are copied out together, and values
// repeated in a column (event types, countries) come from a small per-column intern
// cache. No interface call and no map lookup happen per row.
//
// A Decode call allocates its state (about 4 KiB per string column); a Kafka
// consumer decoding one message at a time keeps a RecordDecoder per partition.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/stratadb/strata/storage"
)

// Format is an input format.
type Format uint8

const (
	CSV  Format = iota + 1 // PostgreSQL COPY ... (FORMAT csv)
	Text                   // PostgreSQL COPY ... (FORMAT text), the COPY default
	JSON                   // JSON lines: one object per line, fields matched to columns by name
)

func (f Format) String() string {
	switch f {
	case CSV:
		return "csv"
	case Text:
		return "text"
	case JSON:
		return "json"
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// DefaultMaxLineBytes is the longest line (CSV: record) accepted when
// Options.MaxLineBytes is 0; a longer one is rejected.
const DefaultMaxLineBytes = 16 << 20

// Options configure Decode. The zero value of every field selects PostgreSQL's default.
type Options struct {
	Format Format
	// Header: the first line is a header and is skipped (CSV and Text; ignored for JSON).
	Header bool
	// Delimiter separates fields: 0 = ',' for CSV, '\t' for Text. Ignored for JSON.
	Delimiter byte
	// Null is the string that stands for NULL: nil = "" (unquoted) for CSV, `\N` for
	// Text. Ignored for JSON (JSON null is NULL).
	Null *string
	// Quote and Escape are CSV's quote and escape characters; 0 = '"'. Escape 0 means
	// the same as Quote.
	Quote, Escape byte
	// Columns lists the input's columns in order (COPY t (a, b, c)); nil = all table
	// columns in schema order. Columns not listed are NULL, so a NOT NULL column
	// (always the time column) must be listed. For JSON only listed names are loaded.
	Columns []string
	// FixedTime means the input has no time column (a lookup table's hidden one):
	// it may be left out of Columns, and every row has it NULL for the caller to
	// set.
	FixedTime bool
	// BatchRows is the number of rows per sink call; 0 = 100_000.
	BatchRows int
	// MaxRejects is how many Reject records Stats keeps; 0 = 100, negative = none.
	// Rejected lines are always counted.
	MaxRejects int
	// MaxLineBytes is the longest accepted line (CSV: record) without its
	// terminator; 0 = DefaultMaxLineBytes. A longer one is rejected.
	MaxLineBytes int
	// Reuse, when set, is asked for each new batch once batches are BatchRows
	// long: it returns a batch the sink is done with (of the schema, any length;
	// Decode empties it), or nil for a new one. A large load then fills the same
	// few batches again instead of allocating (and the garbage collector
	// scanning) ~170 bytes per row of new column slices. The sink must hand a
	// batch back only once nothing it started holds the batch's slices.
	Reuse func() *storage.Columns
}

// Reject describes one rejected line.
type Reject struct {
	Line int64 // 1-based line number in the input (CSV: the first line of the record)
	// Reason reads like PostgreSQL's error, prefixed with the line:
	//   line 7: invalid input syntax for type bigint: "abc" (column quantity)
	Reason string
}

// Stats count what Decode did.
type Stats struct {
	Rows     int64    // rows handed to sink calls that succeeded
	Rejected int64    // malformed lines, all counted
	Rejects  []Reject // the first MaxRejects of them
}

// ErrInvalidOptions marks an error in Options or in their fit to the schema,
// detected before any input is read (unknown column, NOT NULL column not listed...).
var ErrInvalidOptions = errors.New("invalid COPY options")

// Decode reads r to the end, converting each line/record into a row of schema, and
// calls sink with batches of decoded rows (sink owns the batch). A malformed line is
// rejected — counted, its 1-based line number and reason kept — and decoding goes
// on: the good lines still load. Only an I/O error, a sink error or ctx cancel stops
// it; Stats then count what was done up to that point.
func Decode(ctx context.Context, r io.Reader, schema *storage.Schema, opts Options, sink func(*storage.Columns) error) (Stats, error) {
	d, err := newDecoder(schema, &opts)
	if err != nil {
		return Stats{}, err
	}
	d.sink = sink
	d.ctx = ctx
	d.lr.reset(r, d.maxLine)
	d.lr.ctx = ctx
	if opts.Format == JSON {
		err = d.runJSON()
	} else {
		err = d.runDelimited()
	}
	if err == nil {
		err = d.flush()
	}
	return d.stats, err
}
