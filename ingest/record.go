package ingest

import (
	"fmt"
	"strconv"

	"github.com/stratadb/strata/storage"
)

// DefaultMaxRecordBytes is the largest record RecordDecoder accepts when
// RecordOptions.MaxRecordBytes is 0: Kafka's default message.max.bytes is ~1 MB.
const DefaultMaxRecordBytes = 1 << 20

// RecordOptions configure a RecordDecoder.
type RecordOptions struct {
	// KeepUnknown names a text column that receives, as a JSON object, the fields
	// that match no column ("" = unknown fields are ignored). The column must exist
	// and be a string column.
	KeepUnknown string
	// MaxRecordBytes: larger records are rejected; 0 = DefaultMaxRecordBytes.
	MaxRecordBytes int
}

// RecordDecoder decodes single JSON records — one object per Kafka message — into
// rows. It is the decoder COPY ... (FORMAT json) uses for each line, so both load a
// record the same way. It keeps its buffers between records: make one per
// partition consumer and reuse it; it is not safe for concurrent use.
//
// Fields map to columns by name: exactly, else ignoring case (the first such column
// in schema order). When several fields map to one column, the last wins (this
// includes duplicate keys). A missing field or JSON null is NULL; the time column
// (and any NOT NULL column) missing or null is an error. Unknown fields are checked
// and ignored, or, with RecordOptions.KeepUnknown, go to that column as one JSON
// object of the raw member texts in record order (NULL when there are none); that
// column is not itself matched by any field name, and duplicate unknown keys are
// all kept (a JSON reader takes the last).
//
// Values convert by column type:
//
//   - text: a string; a number, true or false as its JSON text (12.50 -> "12.50");
//     an object or array as its raw JSON text. Strings must be valid UTF-8 without
//     NUL (\u0000), as in PostgreSQL.
//   - integer (smallint, integer, bigint): an integral number (3, -7, 3.0, 1e3) in
//     the column's range; a string holding one ("12", " 3.0 "). 3.5, overflow, true
//     and objects are errors.
//   - float (real, double precision): a number; a string holding a number
//     or NaN / Infinity / -Infinity (any case). Out of the type's range is an error.
//   - numeric: a number, read exactly (never through a float), or a string holding
//     one (or NaN, Infinity); rounded to a numeric(p,s)'s scale, and an error when
//     it does not fit p (storage.CanonicalNumeric).
//   - boolean: true/false, the numbers 1/0, and strings in PostgreSQL's spellings:
//     "t"/"f", "true"/"false", "1"/"0", "yes"/"no", "on"/"off" (any case).
//   - timestamp: an ISO-8601 / RFC 3339 string: YYYY-MM-DD, optionally followed by
//     'T' or a space and HH:MM[:SS[.fraction]], optionally followed by a zone (Z,
//     UTC, GMT, ±HH, ±HHMM, ±HH:MM); no zone means UTC; fractions are rounded to µs.
//     A zone is dropped for a "timestamp without time zone" column, as PostgreSQL
//     does. Or a Unix epoch number (or a string holding only one), its unit chosen by
//     magnitude: |v| < 1e11 seconds, < 1e14 milliseconds, < 1e17 microseconds, else
//     nanoseconds (each unit alone spans 1973..5138, so none is mistaken for another).
//   - uuid: a string in any of PostgreSQL's uuid input forms (upper case, braces,
//     hyphens after any group of four digits or none), stored in canonical form;
//     a number or boolean is an error.
//   - interval: a string in PostgreSQL's interval input ("1 day 02:00", "P1D",
//     "3 hours ago"), stored in its output form; a number or boolean is an error.
//   - An object or array for a column that is not text is an error.
//
// A record must be exactly one JSON object (white space around it allowed):
// empty input, invalid UTF-8 anywhere, bad escapes and trailing data are errors.
type RecordDecoder struct {
	schema *storage.Schema
	max    int
	st     stage
	js     jsonDecoder
}

// RecordError says why Decode refused a record.
type RecordError struct {
	// Field is the JSON member at fault; "" when the record as a whole is (a syntax
	// error between members, a missing time field).
	Field string
	// Column is the column the value was for, when there is one.
	Column string
	// Reason is worded like PostgreSQL's error, e.g.
	//   invalid input syntax for type bigint: "abc" (column quantity)
	Reason string
}

func (e *RecordError) Error() string { return e.Reason }

// NewRecordDecoder returns a decoder of records into rows of schema.
func NewRecordDecoder(schema *storage.Schema, opts RecordOptions) (*RecordDecoder, error) {
	if err := schema.Validate(); err != nil {
		return nil, fmt.Errorf("ingest: record decoder: %w", err)
	}
	d := &RecordDecoder{schema: schema, max: opts.MaxRecordBytes}
	switch {
	case d.max == 0:
		d.max = DefaultMaxRecordBytes
	case d.max < 0:
		return nil, fmt.Errorf("ingest: record decoder: negative MaxRecordBytes %d", d.max)
	}
	keep := -1
	if opts.KeepUnknown != "" {
		keep = schema.Index(opts.KeepUnknown)
		if keep < 0 {
			return nil, fmt.Errorf("ingest: record decoder: KeepUnknown column %q does not exist", opts.KeepUnknown)
		}
		if t := schema.Columns[keep].Type; t != storage.TypeString {
			return nil, fmt.Errorf("ingest: record decoder: KeepUnknown column %q is %s, not text", opts.KeepUnknown, t)
		}
	}
	d.st.init(schema)
	targets := make([]int, 0, len(schema.Columns))
	for i := range schema.Columns {
		if i != keep {
			targets = append(targets, i)
		}
	}
	d.js.init(&d.st, targets, keep)
	return d, nil
}

// Decode parses one JSON object and appends exactly one row to dst, or returns a
// *RecordError that says why and leaves dst unchanged. String values in dst never
// alias rec. Besides growing dst's slices it allocates at most once per record (the
// row's new string values, together; values repeated in a column are reused).
// REQUIRES: dst.Schema is the decoder's schema and all columns hold dst.Len values.
func (d *RecordDecoder) Decode(rec []byte, dst *storage.Columns) error {
	if dst.Schema != d.schema || len(dst.Cols) != len(d.schema.Columns) {
		panic("BUG: ingest: RecordDecoder.Decode: dst has another schema")
	}
	if len(rec) > d.max {
		return &RecordError{Reason: "record of " + strconv.Itoa(len(rec)) + " bytes exceeds the limit of " + strconv.Itoa(d.max) + " bytes"}
	}
	switch d.js.decodeObject(rec) {
	case objBlank:
		return &RecordError{Reason: "empty record"}
	case objFailed:
		return d.err()
	}
	if !d.st.checkRow() {
		return d.err()
	}
	d.st.appendRow(dst)
	return nil
}

func (d *RecordDecoder) err() error {
	f := &d.st.fail
	e := &RecordError{Reason: d.st.reason(), Field: string(f.field)}
	if f.kind == failValue || f.kind == failNotNull {
		e.Column = d.st.cols[f.col].name
	}
	return e
}
