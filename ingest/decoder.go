package ingest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/stratadb/strata/storage"
)

const (
	defaultBatchRows  = 100_000
	defaultMaxRejects = 100
	// readBufferBytes is the bufio buffer; lines longer than it are assembled in
	// lineReader.long up to the line limit.
	readBufferBytes = 1 << 20
	// ctxCheckLines: ctx.Err is checked once per this many lines, cheap enough to be
	// invisible and often enough (~1 ms of work) for cancel to feel immediate.
	ctxCheckLines = 4096
	ctxCheckBytes = 8 << 20
	// maxQuotedValue bounds the value quoted in a reject reason.
	maxQuotedValue = 64
	// initialBatchRows caps the first allocation of a batch so that a decoder fed a
	// handful of lines (a Kafka poll) does not allocate BatchRows slots per column.
	initialBatchRows = 4096
)

// colInfo is what the hot path needs about a schema column.
type colInfo struct {
	name    string
	typ     storage.Type
	notNull bool
	// kind refines typ by the declared SQL type (range checks, messages).
	kind     sqlKind
	typeName string // PostgreSQL's name for messages: "bigint", "timestamp with time zone"
	// prec and scale of a numeric(p,s) column (kind kindDecimal, stored scaled;
	// kind kindNumeric with hasMod, stored as text).
	prec, scale int
	hasMod      bool
	// maxChars is n of a varchar(n) column (its storage.Column.TypMod), 0 for none.
	maxChars int
	bpchar   bool // a character(n) column
}

type sqlKind uint8

const (
	kindOther sqlKind = iota
	kindInt16
	kindInt32
	kindFloat32
	kindDecimal // numeric(p,s): an int64 holding value × 10^s (storage.ParseDecimal)
	kindTimestampNoZone
	kindDate     // date: days since 1970-01-01
	kindUUID     // uuid: its canonical text (internal/pguuid)
	kindInterval // interval: its output text (internal/pginterval)
	kindNumeric  // numeric kept as canonical text (storage.CanonicalNumeric)
)

type decoder struct {
	ctx    context.Context
	schema *storage.Schema
	opts   Options
	sink   func(*storage.Columns) error

	stage         // the row being decoded
	targets []int // input field i goes to schema column targets[i]

	batchRows  int
	maxRejects int
	maxLine    int
	batch      *storage.Columns
	stats      Stats

	lr   lineReader
	json jsonDecoder
	csv  csvState

	// nextCap is the capacity of the next batch, batchCap the current one's.
	nextCap, batchCap int
}

func newDecoder(schema *storage.Schema, o *Options) (*decoder, error) {
	if err := schema.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	switch o.Format {
	case CSV, Text, JSON:
	default:
		return nil, fmt.Errorf("%w: unknown format %d", ErrInvalidOptions, o.Format)
	}
	d := &decoder{schema: schema, opts: *o}
	d.stage.init(schema)
	if o.FixedTime {
		d.cols[schema.TimeColumn].notNull = false
	}
	if o.Columns == nil {
		d.targets = make([]int, len(schema.Columns))
		for i := range d.targets {
			d.targets[i] = i
		}
	} else {
		if len(o.Columns) == 0 {
			return nil, fmt.Errorf("%w: empty column list", ErrInvalidOptions)
		}
		listed := make([]bool, len(schema.Columns))
		for _, name := range o.Columns {
			i := schema.Index(name)
			if i < 0 {
				return nil, fmt.Errorf("%w: column %q does not exist", ErrInvalidOptions, name)
			}
			if listed[i] {
				return nil, fmt.Errorf("%w: column %q specified more than once", ErrInvalidOptions, name)
			}
			listed[i] = true
			d.targets = append(d.targets, i)
		}
		for i, c := range d.cols {
			if c.notNull && !listed[i] {
				return nil, fmt.Errorf("%w: NOT NULL column %q is not in the column list", ErrInvalidOptions, c.name)
			}
		}
	}
	d.batchRows = o.BatchRows
	if d.batchRows <= 0 {
		d.batchRows = defaultBatchRows
	}
	d.maxRejects = o.MaxRejects
	if d.maxRejects == 0 {
		d.maxRejects = defaultMaxRejects
	}
	d.nextCap = min(d.batchRows, initialBatchRows)
	d.maxLine = o.MaxLineBytes
	if d.maxLine <= 0 {
		d.maxLine = DefaultMaxLineBytes
	}
	if o.Format != JSON {
		if err := d.checkDelimited(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// checkDelimited fills in and checks the CSV/Text punctuation defaults.
func (d *decoder) checkDelimited() error {
	o := &d.opts
	if o.Delimiter == 0 {
		o.Delimiter = '\t'
		if o.Format == CSV {
			o.Delimiter = ','
		}
	}
	if o.Null == nil {
		n := `\N`
		if o.Format == CSV {
			n = ""
		}
		o.Null = &n
	}
	if o.Delimiter == '\n' || o.Delimiter == '\r' {
		return fmt.Errorf("%w: COPY delimiter cannot be newline or carriage return", ErrInvalidOptions)
	}
	if o.Format == Text && o.Delimiter == '\\' {
		return fmt.Errorf("%w: COPY delimiter cannot be backslash", ErrInvalidOptions)
	}
	if o.Format == CSV {
		if o.Quote == 0 {
			o.Quote = '"'
		}
		if o.Escape == 0 {
			o.Escape = o.Quote
		}
		if o.Quote == o.Delimiter {
			return fmt.Errorf("%w: COPY delimiter and quote must be different", ErrInvalidOptions)
		}
		if o.Quote == '\n' || o.Quote == '\r' || o.Escape == '\n' || o.Escape == '\r' {
			return fmt.Errorf("%w: COPY quote and escape cannot be newline or carriage return", ErrInvalidOptions)
		}
	}
	return nil
}

// describeSQLType maps a column's declared type to range-check kind and the name
// PostgreSQL uses for it in error messages.
func describeSQLType(c storage.Column) (sqlKind, string) {
	if _, _, ok := c.DecimalScale(); ok {
		return kindDecimal, "numeric"
	}
	if _, _, _, ok := c.NumericTextColumn(); ok {
		return kindNumeric, "numeric"
	}
	switch c.SQLType {
	case "smallint", "int2":
		return kindInt16, "smallint"
	case "integer", "int", "int4":
		return kindInt32, "integer"
	case "real", "float4":
		return kindFloat32, "real"
	case "timestamp", "timestamp without time zone":
		return kindTimestampNoZone, "timestamp without time zone"
	case "varchar", "character varying":
		return kindOther, "character varying"
	case "bpchar":
		return kindOther, "character"
	case "date":
		return kindDate, "date"
	case "uuid":
		return kindUUID, "uuid"
	case "interval":
		return kindInterval, "interval"
	}
	switch c.Type {
	case storage.TypeTimestamp:
		return kindOther, "timestamp with time zone"
	case storage.TypeInt64:
		return kindOther, "bigint"
	case storage.TypeFloat64:
		if c.SQLType == "numeric" {
			return kindOther, "numeric"
		}
		return kindOther, "double precision"
	case storage.TypeBool:
		return kindOther, "boolean"
	}
	if c.SQLType != "" {
		return kindOther, c.SQLType
	}
	return kindOther, "text"
}

// commitRow appends the staged row to the batch, or rejects the line when a NOT
// NULL column has no value or a varchar(n) value is too long (checkRow). It
// flushes a full batch.
func (d *decoder) commitRow() error {
	if !d.checkRow() {
		d.rejectStaged()
		return nil
	}
	if d.batch == nil {
		d.batch, d.batchCap = d.reusedBatch()
		if d.batch == nil {
			d.batch = d.newBatch(d.nextCap)
			d.batchCap = d.nextCap
		}
	} else if d.batch.Len == d.batchCap {
		d.growBatch()
	}
	d.appendRow(d.batch)
	if d.batch.Len >= d.batchRows {
		d.nextCap = d.batchRows // a big input: allocate whole batches from now on
		return d.flush()
	}
	return nil
}

// growBatch gives the batch room for more rows. Growth is by 8x (not append's 1.25-2x)
// so that a large input copies its first batch at most twice.
func (d *decoder) growBatch() {
	old := d.batch
	n := min(d.batchRows, 8*d.batchCap)
	b := d.newBatch(n)
	for i := range b.Cols {
		o, c := &old.Cols[i], &b.Cols[i]
		c.Int64 = append(c.Int64, o.Int64...)
		c.Float64 = append(c.Float64, o.Float64...)
		c.Bool = append(c.Bool, o.Bool...)
		c.String = append(c.String, o.String...)
		if o.Null != nil {
			c.Null = make([]bool, len(o.Null), n)
			copy(c.Null, o.Null)
		}
	}
	b.Len = old.Len
	d.batch, d.batchCap = b, n
}

// reusedBatch returns a batch from Options.Reuse, emptied, and the rows it has
// room for in every column; nil before batches are BatchRows long (a small input
// never asks), when Reuse gives none, or one that does not fit the schema.
func (d *decoder) reusedBatch() (*storage.Columns, int) {
	if d.opts.Reuse == nil || d.nextCap < d.batchRows {
		return nil, 0
	}
	b := d.opts.Reuse()
	if b == nil || b.Schema != d.schema || len(b.Cols) != len(d.schema.Columns) {
		return nil, 0
	}
	b.Reset()
	room := math.MaxInt
	for i, c := range d.schema.Columns {
		bc := &b.Cols[i]
		bc.Dict, bc.IDs = nil, nil
		switch c.Type {
		case storage.TypeTimestamp, storage.TypeInt64:
			room = min(room, cap(bc.Int64))
		case storage.TypeFloat64:
			room = min(room, cap(bc.Float64))
		case storage.TypeBool:
			room = min(room, cap(bc.Bool))
		case storage.TypeString:
			room = min(room, cap(bc.String))
		}
	}
	if room < d.batchRows {
		return nil, 0
	}
	return b, room
}

// newBatch returns an empty batch with room for n rows.
func (d *decoder) newBatch(n int) *storage.Columns { return storage.NewColumns(d.schema, n) }

// takeBatch returns the current batch, if it has rows, and starts the next one.
func (d *decoder) takeBatch() *storage.Columns {
	b := d.batch
	if b == nil || b.Len == 0 {
		return nil
	}
	d.batch = nil
	return b
}

// flush hands the current batch, if any, to the sink.
func (d *decoder) flush() error {
	b := d.takeBatch()
	if b == nil {
		return nil
	}
	if err := d.ctx.Err(); err != nil {
		return err
	}
	if err := d.sink(b); err != nil {
		return fmt.Errorf("ingest: sink: %w", err)
	}
	d.stats.Rows += int64(b.Len)
	return nil
}

// checkCtx is called once per line; it looks at the context every ctxCheckLines
// and after every ctxCheckBytes of input, so that long lines do not delay it.
func (d *decoder) checkCtx() error {
	if d.lr.line%ctxCheckLines == 0 || d.lr.sinceCheck > ctxCheckBytes {
		d.lr.sinceCheck = 0
		return d.ctx.Err()
	}
	return nil
}

// rejectf rejects the current record (reported at lr.recordLine) with a formatted reason.
func (d *decoder) rejectf(format string, args ...any) {
	d.stats.Rejected++
	if len(d.stats.Rejects) >= d.maxRejects {
		return
	}
	line := d.lr.recordLine
	d.stats.Rejects = append(d.stats.Rejects, Reject{
		Line:   line,
		Reason: "line " + strconv.FormatInt(line, 10) + ": " + fmt.Sprintf(format, args...),
	})
}

// rejectStaged rejects the current line for the reason in d.stage.fail.
func (d *decoder) rejectStaged() {
	d.stats.Rejected++
	if len(d.stats.Rejects) >= d.maxRejects {
		return
	}
	line := d.lr.recordLine
	d.stats.Rejects = append(d.stats.Rejects, Reject{
		Line:   line,
		Reason: "line " + strconv.FormatInt(line, 10) + ": " + d.reason(),
	})
}

// quotable renders v for a message: valid UTF-8, at most maxQuotedValue bytes.
func quotable(v []byte) string {
	if len(v) > maxQuotedValue {
		cut := maxQuotedValue
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		return toValidUTF8(v[:cut]) + "..."
	}
	return toValidUTF8(v)
}

func toValidUTF8(v []byte) string {
	if utf8.Valid(v) {
		return string(v)
	}
	out := make([]byte, 0, len(v))
	for len(v) > 0 {
		r, n := utf8.DecodeRune(v)
		if r == utf8.RuneError && n == 1 {
			out = fmt.Appendf(out, `\x%02x`, v[0])
		} else {
			out = append(out, v[:n]...)
		}
		v = v[n:]
	}
	return string(out)
}

// lineReader splits its input into lines terminated by '\n'. A line is returned
// without the '\n' (a '\r' before it is left for the format to handle), valid until
// the next call.
type lineReader struct {
	ctx context.Context
	br  *bufio.Reader
	max int
	// line is the number of the last line returned, 1-based; recordLine is the line
	// a record (a CSV record may span lines) started on: the line rejects report.
	line       int64
	recordLine int64
	long       []byte // assembles lines longer than the bufio buffer
	err        error  // sticky read error other than io.EOF
	eof        bool
	first      bool
	sinceCheck int // bytes read since the decoder last looked at its context
}

func (lr *lineReader) reset(r io.Reader, max int) {
	lr.br = bufio.NewReaderSize(r, min(readBufferBytes, max+2))
	lr.max = max
	lr.first = true
}

// next returns the next line. ok is false at the end of input or on a read error
// (lr.err). tooLong reports a line longer than the limit; its content is discarded
// and line is nil. terminated reports that the line ended with '\n' (only the last
// line of the input may not).
func (lr *lineReader) next() (line []byte, tooLong, terminated, ok bool) {
	if lr.eof || lr.err != nil {
		return nil, false, false, false
	}
	frag, err := lr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		lr.long = append(lr.long[:0], frag...)
		for err == bufio.ErrBufferFull {
			// A line may be endless: look at the context between buffer fills.
			if cerr := lr.ctx.Err(); cerr != nil {
				lr.err = cerr
				return nil, false, false, false
			}
			frag, err = lr.br.ReadSlice('\n')
			if !tooLong {
				if len(lr.long)+len(frag) > lr.max+2 { // +2: room for "\r\n"
					tooLong = true
					lr.long = lr.long[:0]
				} else {
					lr.long = append(lr.long, frag...)
				}
			}
		}
		frag = lr.long
	}
	if err != nil {
		if err != io.EOF {
			lr.err = err
			return nil, false, false, false
		}
		lr.eof = true
		if len(frag) == 0 && !tooLong {
			return nil, false, false, false
		}
	}
	if lr.first {
		lr.first = false
		if len(frag) >= 3 && frag[0] == 0xEF && frag[1] == 0xBB && frag[2] == 0xBF {
			frag = frag[3:] // UTF-8 byte order mark
			if len(frag) == 0 && lr.eof {
				return nil, false, false, false
			}
		}
	}
	lr.line++
	lr.recordLine = lr.line
	lr.sinceCheck += len(frag)
	if n := len(frag); n > 0 && frag[n-1] == '\n' {
		frag = frag[:n-1]
		terminated = true
	}
	if tooLong || len(frag) > lr.max+1 || (len(frag) == lr.max+1 && frag[len(frag)-1] != '\r') {
		return nil, true, terminated, true
	}
	return frag, false, terminated, true
}

// readErr wraps the sticky read error, if any.
func (lr *lineReader) readErr() error {
	if lr.err == nil {
		return nil
	}
	return fmt.Errorf("ingest: read line %d: %w", lr.line+1, lr.err)
}

func (d *decoder) rejectTooLong() {
	d.rejectf("line too long (more than %d bytes)", d.maxLine)
}

// trimCR drops one trailing '\r' (CRLF line endings).
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
