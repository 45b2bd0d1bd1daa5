package lake

// The write side: table creation, Parquet data files with Delta
// stats and Hive-style partition directories. Commits are in commit.go.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/objstore"
)

// ErrExists is wrapped by PutIfAbsent's error when the key already exists
// (objstore.ErrExists).
var ErrExists = objstore.ErrExists

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("BUG: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// MarshalJSON writes the schemaString form of a type: primitives as their name,
// decimal as "decimal(p,s)", nested types as objects; struct fields always carry
// "metadata" (an empty object when there is none), as Spark writes them.
func (t *DataType) MarshalJSON() ([]byte, error) {
	switch t.Name {
	case "decimal":
		return json.Marshal(fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale))
	case "struct":
		type field struct {
			Name     string                     `json:"name"`
			Type     *DataType                  `json:"type"`
			Nullable bool                       `json:"nullable"`
			Metadata map[string]json.RawMessage `json:"metadata"`
		}
		fs := make([]field, len(t.Fields))
		for i, f := range t.Fields {
			md := f.Metadata
			if md == nil {
				md = map[string]json.RawMessage{}
			}
			fs[i] = field{f.Name, f.Type, f.Nullable, md}
		}
		return json.Marshal(struct {
			Type   string  `json:"type"`
			Fields []field `json:"fields"`
		}{"struct", fs})
	case "array":
		return json.Marshal(struct {
			Type         string    `json:"type"`
			ElementType  *DataType `json:"elementType"`
			ContainsNull bool      `json:"containsNull"`
		}{"array", t.Element, t.ContainsNull})
	case "map":
		return json.Marshal(struct {
			Type              string    `json:"type"`
			KeyType           *DataType `json:"keyType"`
			ValueType         *DataType `json:"valueType"`
			ValueContainsNull bool      `json:"valueContainsNull"`
		}{"map", t.Key, t.Value, t.ValueContainsNull})
	}
	if !primitiveTypes[t.Name] {
		return nil, fmt.Errorf("schema: unknown type %q", t.Name)
	}
	return json.Marshal(t.Name)
}

// SchemaFromArrow converts an Arrow schema of primitive columns to a Delta struct
// schema. timestamp[*, zone] maps to "timestamp"; zone-less timestamps
// (timestamp_ntz, a reader/writer table feature) are refused, as are nested types.
func SchemaFromArrow(s *arrow.Schema) (*DataType, error) {
	out := &DataType{Name: "struct"}
	for _, f := range s.Fields() {
		var name string
		dt := &DataType{}
		switch t := f.Type.(type) {
		case *arrow.Int8Type:
			name = "byte"
		case *arrow.Int16Type:
			name = "short"
		case *arrow.Int32Type:
			name = "integer"
		case *arrow.Int64Type:
			name = "long"
		case *arrow.Float32Type:
			name = "float"
		case *arrow.Float64Type:
			name = "double"
		case *arrow.BooleanType:
			name = "boolean"
		case *arrow.StringType:
			name = "string"
		case *arrow.BinaryType:
			name = "binary"
		case *arrow.Date32Type:
			name = "date"
		case *arrow.TimestampType:
			if t.TimeZone == "" {
				return nil, fmt.Errorf("lake: column %s: zone-less timestamps (timestamp_ntz) are not supported by the writer", f.Name)
			}
			name = "timestamp"
		case *arrow.Decimal128Type:
			name = "decimal"
			dt.Precision, dt.Scale = int(t.Precision), int(t.Scale)
		default:
			return nil, fmt.Errorf("lake: column %s: Arrow type %s is not supported by the writer", f.Name, f.Type)
		}
		dt.Name = name
		out.Fields = append(out.Fields, Field{Name: f.Name, Type: dt, Nullable: f.Nullable})
	}
	return out, nil
}

// CreateTable writes version 0 of a new table at root: protocol (reader 1,
// writer 2), metaData (random id, parquet, the schema, partition columns, props as
// configuration) and commitInfo. It fails with ErrExists if version 0 exists.
func CreateTable(ctx context.Context, wfs objstore.Store, root string, schema *DataType, partitionColumns []string, props map[string]string) (*Table, error) {
	t := OpenTable(wfs, root)
	if schema == nil || schema.Name != "struct" || len(schema.Fields) == 0 {
		return nil, fmt.Errorf("lake: create table %s: schema must be a non-empty struct", t.name())
	}
	ss, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("lake: create table %s: %w", t.name(), err)
	}
	parsed, err := ParseSchema(string(ss)) // also rejects duplicate column names
	if err != nil {
		return nil, fmt.Errorf("lake: create table %s: %w", t.name(), err)
	}
	pcs := append([]string{}, partitionColumns...)
	for i, pc := range pcs {
		var fd *Field
		for j := range parsed.Fields {
			if strings.EqualFold(parsed.Fields[j].Name, pc) {
				fd = &parsed.Fields[j]
			}
		}
		if fd == nil {
			return nil, fmt.Errorf("lake: create table %s: partition column %q is not in the schema", t.name(), pc)
		}
		switch fd.Type.Name {
		case "struct", "array", "map", "binary", "void", "variant":
			return nil, fmt.Errorf("lake: create table %s: partition column %q has type %s", t.name(), pc, fd.Type)
		}
		pcs[i] = fd.Name
	}
	if len(pcs) == len(parsed.Fields) {
		return nil, fmt.Errorf("lake: create table %s: every column is a partition column", t.name())
	}
	conf := map[string]string{}
	for k, v := range props {
		conf[k] = v
	}
	now := time.Now().UnixMilli()
	acts := []Action{
		{Protocol: &Protocol{MinReaderVersion: 1, MinWriterVersion: 2}},
		{Metadata: &Metadata{
			ID: newUUID(), Format: Format{Provider: "parquet", Options: map[string]string{}},
			SchemaString: string(ss), PartitionColumns: pcs, Configuration: conf, CreatedTime: &now,
		}},
	}
	params := map[string]any{"partitionBy": mustJSON(pcs), "description": nil, "isManaged": "false", "properties": mustJSON(conf)}
	b, err := encodeCommit(acts, commitInfo("CREATE TABLE", params, -1, false, now))
	if err != nil {
		return nil, err
	}
	if err := wfs.PutIfAbsent(ctx, t.commitKey(0), b); err != nil {
		return nil, fmt.Errorf("lake: create table %s: %w", t.name(), err)
	}
	return t, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return string(b)
}

// WriteOptions tunes WriteFiles.
type WriteOptions struct {
	// RowGroupRows is the maximum rows per Parquet row group (default 128Ki).
	RowGroupRows int64
	// RowGroupBytes starts a new row group once the rows buffered for the current
	// one reach about this many uncompressed bytes (estimated from the Arrow
	// buffers of the input; default 64 MiB).
	RowGroupBytes int64
	// MaxRowsPerFile starts a new file in a partition after this many rows
	// (default: unlimited, one file per partition per call).
	MaxRowsPerFile int64
	// PageBytes is the size data pages are aimed at (default DataPageBytes).
	PageBytes int64
	// dataChangeFalse marks rewritten rows (OPTIMIZE): adds carry dataChange=false.
	dataChangeFalse bool
}

// DataPageBytes is the size the writer aims its data pages at (arrow-go's
// default is 1 MiB, which makes most column chunks of a row group one page,
// leaving a page index nothing to skip).
const DataPageBytes = 128 << 10

// WriteFiles writes the rows of batches as Parquet data files of the table at
// snap and returns their add actions (not committed: pass them to Commit). Each
// batch must carry every schema column (partition columns included, by name).
// Rows are split by the table's partition columns into Hive-style directories
// (col=value/part-<uuid>.zstd.parquet); partition columns are not stored in the
// files. Files are zstd-compressed with column statistics and page indexes
// (column and offset index, pages of about DataPageBytes), and each add carries
// stats JSON (numRecords, minValues, maxValues, nullCount) for data columns.
func WriteFiles(ctx context.Context, snap *Snapshot, batches []arrow.RecordBatch, opts WriteOptions) ([]*AddFile, error) {
	w, err := newFileWriter(snap, opts)
	if err != nil {
		return nil, err
	}
	defer w.abort()
	for _, rec := range batches {
		if err := w.write(ctx, rec); err != nil {
			return nil, err
		}
	}
	return w.finish(ctx)
}

// WriteFromReader is WriteFiles over the batches of a record reader (which it
// does not release).
func WriteFromReader(ctx context.Context, snap *Snapshot, rr array.RecordReader, opts WriteOptions) ([]*AddFile, error) {
	w, err := newFileWriter(snap, opts)
	if err != nil {
		return nil, err
	}
	defer w.abort()
	for rr.Next() {
		if err := w.write(ctx, rr.RecordBatch()); err != nil {
			return nil, err
		}
	}
	if err := rr.Err(); err != nil {
		return nil, fmt.Errorf("lake: table %s: write: %w", snap.table.name(), err)
	}
	return w.finish(ctx)
}

// fileWriter splits rows by partition and keeps one open Parquet writer per
// partition.
type fileWriter struct {
	snap      *Snapshot
	wfs       objstore.Store
	opts      WriteOptions
	parts     []*Field // partition fields, in metaData order
	data      []*Field // data fields, in schema order
	fileSchma *arrow.Schema
	open      map[string]*partFile
	order     []string
	adds      []*AddFile
}

type partFile struct {
	values  []*string // partition values, nil = null
	buf     bytes.Buffer
	pw      *pqarrow.FileWriter
	rows    int64
	rgBytes int64 // estimated bytes buffered in the current row group
	// rgFull: the current row group reached RowGroupBytes; the next write starts
	// a new one (starting it at once would leave an empty row group at the end
	// of a file that ends there).
	rgFull bool
	nulls  []int64 // per data column, its top-level NULLs (nested columns' stats)
}

func newFileWriter(snap *Snapshot, opts WriteOptions) (*fileWriter, error) {
	wfs := snap.table.fs
	if snap.ColumnMapping != MappingNone {
		return nil, fmt.Errorf("lake: table %s: writing with column mapping is not supported", snap.table.name())
	}
	if snap.Protocol.MinWriterVersion > 2 {
		return nil, fmt.Errorf("lake: table %s: writer version %d is not supported: %w", snap.table.name(), snap.Protocol.MinWriterVersion, ErrUnsupported)
	}
	if opts.RowGroupRows <= 0 {
		opts.RowGroupRows = 128 << 10
	}
	if opts.PageBytes <= 0 {
		opts.PageBytes = DataPageBytes
	}
	if opts.RowGroupBytes <= 0 {
		opts.RowGroupBytes = 64 << 20
	}
	w := &fileWriter{snap: snap, wfs: wfs, opts: opts, open: map[string]*partFile{}}
	var afs []arrow.Field
	for i := range snap.Schema.Fields {
		f := &snap.Schema.Fields[i]
		if snap.isPartition(f) {
			continue
		}
		t, err := f.Type.ArrowType()
		if err != nil {
			return nil, fmt.Errorf("lake: table %s: column %s: %w", snap.table.name(), f.Name, err)
		}
		w.data = append(w.data, f)
		afs = append(afs, arrow.Field{Name: f.Name, Type: t, Nullable: f.Nullable})
	}
	for _, pc := range snap.Metadata.PartitionColumns {
		w.parts = append(w.parts, snap.field(pc))
	}
	w.fileSchma = arrow.NewSchema(afs, nil)
	return w, nil
}

func (w *fileWriter) abort() {
	for _, pf := range w.open {
		if pf.pw != nil {
			pf.pw.Close()
		}
	}
	w.open = nil
}

// columnIndex finds a column of rec by name (exact, then case-insensitive).
func columnIndex(s *arrow.Schema, name string) int {
	if idx := s.FieldIndices(name); len(idx) == 1 {
		return idx[0]
	}
	for i, f := range s.Fields() {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

func (w *fileWriter) write(ctx context.Context, rec arrow.RecordBatch) error {
	name := w.snap.table.name()
	dataCols := make([]arrow.Array, len(w.data))
	for i, f := range w.data {
		c := columnIndex(rec.Schema(), f.Name)
		if c < 0 {
			return fmt.Errorf("lake: table %s: write: batch lacks column %s", name, f.Name)
		}
		if !arrow.TypeEqual(rec.Column(c).DataType(), w.fileSchma.Field(i).Type) {
			return fmt.Errorf("lake: table %s: write: column %s is %s, table wants %s", name, f.Name, rec.Column(c).DataType(), w.fileSchma.Field(i).Type)
		}
		if !f.Nullable && rec.Column(c).NullN() > 0 {
			return fmt.Errorf("lake: table %s: write: column %s is not nullable but has %d nulls", name, f.Name, rec.Column(c).NullN())
		}
		dataCols[i] = rec.Column(c)
	}
	partCols := make([]arrow.Array, len(w.parts))
	for i, f := range w.parts {
		c := columnIndex(rec.Schema(), f.Name)
		if c < 0 {
			return fmt.Errorf("lake: table %s: write: batch lacks partition column %s", name, f.Name)
		}
		want, _ := f.Type.ArrowType()
		if !arrow.TypeEqual(rec.Column(c).DataType(), want) {
			return fmt.Errorf("lake: table %s: write: partition column %s is %s, table wants %s", name, f.Name, rec.Column(c).DataType(), want)
		}
		partCols[i] = rec.Column(c)
	}
	n := int(rec.NumRows())
	if len(w.parts) == 0 {
		return w.writeRun(ctx, "", nil, dataCols, 0, n)
	}
	// Runs of rows with equal partition values go to the same file as one slice;
	// the partition values are serialized once per run, not per row.
	start := 0
	for r := 1; r <= n; r++ {
		if r < n && samePartition(partCols, r-1, r) {
			continue
		}
		vals := make([]*string, len(w.parts))
		var kb strings.Builder
		for i, c := range partCols {
			v, err := partitionString(c, start)
			if err != nil {
				return fmt.Errorf("lake: table %s: write: partition column %s: %w", name, w.parts[i].Name, err)
			}
			vals[i] = v
			if v == nil {
				kb.WriteString("\x01N")
			} else {
				kb.WriteString("\x01V" + *v)
			}
		}
		if err := w.writeRun(ctx, kb.String(), vals, dataCols, start, r); err != nil {
			return err
		}
		start = r
	}
	return nil
}

// samePartition reports whether rows i and j have equal partition values. It
// may say false for equal values (a float NaN, or "" vs null): that only splits
// a run, and runs with equal serialized values still share a file.
func samePartition(cols []arrow.Array, i, j int) bool {
	for _, a := range cols {
		ni, nj := a.IsNull(i), a.IsNull(j)
		if ni || nj {
			if ni != nj {
				return false
			}
			continue
		}
		var eq bool
		switch c := a.(type) {
		case *array.String:
			eq = c.Value(i) == c.Value(j)
		case *array.Int8:
			eq = c.Value(i) == c.Value(j)
		case *array.Int16:
			eq = c.Value(i) == c.Value(j)
		case *array.Int32:
			eq = c.Value(i) == c.Value(j)
		case *array.Int64:
			eq = c.Value(i) == c.Value(j)
		case *array.Float32:
			eq = c.Value(i) == c.Value(j)
		case *array.Float64:
			eq = c.Value(i) == c.Value(j)
		case *array.Boolean:
			eq = c.Value(i) == c.Value(j)
		case *array.Date32:
			eq = c.Value(i) == c.Value(j)
		case *array.Timestamp:
			eq = c.Value(i) == c.Value(j)
		case *array.Decimal128:
			eq = c.Value(i) == c.Value(j)
		}
		if !eq {
			return false
		}
	}
	return true
}

func (w *fileWriter) writeRun(ctx context.Context, key string, vals []*string, cols []arrow.Array, from, to int) error {
	for from < to {
		pf := w.open[key]
		if pf == nil {
			pw := &partFile{values: vals, nulls: make([]int64, len(w.data))}
			wprops := []parquet.WriterProperty{
				parquet.WithCompression(compress.Codecs.Zstd),
				parquet.WithStats(true),
				parquet.WithMaxRowGroupLength(w.opts.RowGroupRows),
				// Page indexes (column index and offset index), over pages
				// small enough that a filter can skip some of a row group's.
				parquet.WithPageIndexEnabled(true),
				parquet.WithDataPageSize(w.opts.PageBytes),
				// decimal(p,s) with p <= 18 as INT32/INT64 DECIMAL, as Spark writes it
				parquet.WithStoreDecimalAsInteger(true),
			}
			for _, f := range w.fileSchma.Fields() {
				if _, ts := f.Type.(*arrow.TimestampType); ts {
					// Timestamps rarely repeat: a dictionary of them is as
					// big as the values, and a read of some pages would
					// need all of it.
					wprops = append(wprops, parquet.WithDictionaryFor(f.Name, false))
				}
			}
			props := parquet.NewWriterProperties(wprops...)
			var err error
			pw.pw, err = pqarrow.NewFileWriter(w.fileSchma, &pw.buf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
			if err != nil {
				return fmt.Errorf("lake: table %s: write: %w", w.snap.table.name(), err)
			}
			w.open[key] = pw
			w.order = append(w.order, key)
			pf = pw
		}
		end := to
		if m := w.opts.MaxRowsPerFile; m > 0 && pf.rows+int64(end-from) > m {
			end = from + int(m-pf.rows)
		}
		if pf.rgFull {
			pf.pw.NewBufferedRowGroup()
			pf.rgFull = false
		}
		slice := make([]arrow.Array, len(cols))
		for i, c := range cols {
			slice[i] = array.NewSlice(c, int64(from), int64(end))
			pf.nulls[i] += int64(slice[i].NullN())
		}
		rec := array.NewRecordBatch(w.fileSchma, slice, int64(end-from))
		err := pf.pw.WriteBuffered(rec)
		rec.Release()
		size := sliceBytes(slice)
		for _, s := range slice {
			s.Release()
		}
		if err != nil {
			return fmt.Errorf("lake: table %s: write: %w", w.snap.table.name(), err)
		}
		pf.rows += int64(end - from)
		if pf.rows%w.opts.RowGroupRows == 0 {
			pf.rgBytes = 0 // WriteBuffered starts the next row group itself
		} else if pf.rgBytes += size; pf.rgBytes >= w.opts.RowGroupBytes {
			pf.rgFull = true
			pf.rgBytes = 0
		}
		if m := w.opts.MaxRowsPerFile; m > 0 && pf.rows >= m {
			if err := w.flush(ctx, key); err != nil {
				return err
			}
		}
		from = end
	}
	return nil
}

// flush closes the open file of a partition, stores it and records its add.
func (w *fileWriter) flush(ctx context.Context, key string) error {
	pf := w.open[key]
	delete(w.open, key)
	pw := pf.pw
	pf.pw = nil
	if err := pw.Close(); err != nil {
		return fmt.Errorf("lake: table %s: write: %w", w.snap.table.name(), err)
	}
	var dir strings.Builder
	pv := make(map[string]*string, len(w.parts))
	for i, f := range w.parts {
		pv[f.Name] = pf.values[i]
		dir.WriteString(escapePartitionName(f.Name))
		dir.WriteByte('=')
		if pf.values[i] == nil {
			dir.WriteString("__HIVE_DEFAULT_PARTITION__")
		} else {
			dir.WriteString(escapePartitionName(*pf.values[i]))
		}
		dir.WriteByte('/')
	}
	rel := dir.String() + "part-00000-" + newUUID() + ".c000.zstd.parquet"
	meta, err := pw.FileMetadata() // the footer just written
	if err != nil {
		return fmt.Errorf("lake: table %s: write %s: %w", w.snap.table.name(), rel, err)
	}
	stats, err := deltaStats(meta, w.data, pf.nulls)
	if err != nil {
		return fmt.Errorf("lake: table %s: write %s: stats: %w", w.snap.table.name(), rel, err)
	}
	if meta.NumRows != pf.rows {
		return fmt.Errorf("BUG: lake: table %s: write %s: %d rows in the footer, %d written", w.snap.table.name(), rel, meta.NumRows, pf.rows)
	}
	data := pf.buf.Bytes()
	if err := w.wfs.PutIfAbsent(ctx, w.snap.table.key(rel), data); err != nil {
		return fmt.Errorf("lake: table %s: write %s: %w", w.snap.table.name(), rel, err)
	}
	add := &AddFile{
		Path: encodeLogPath(rel), DecodedPath: rel, PartitionValues: pv,
		Size: int64(len(data)), ModificationTime: time.Now().UnixMilli(),
		DataChange: !w.opts.dataChangeFalse, Stats: mustJSON(stats),
	}
	w.adds = append(w.adds, add)
	return nil
}

func (w *fileWriter) finish(ctx context.Context) ([]*AddFile, error) {
	for _, k := range w.order {
		if w.open[k] != nil {
			if err := w.flush(ctx, k); err != nil {
				return nil, err
			}
		}
	}
	w.order = nil
	return w.adds, nil
}

// escapePartitionName escapes a partition column name or value for a directory
// name the way Spark/Kernel do (PartitionUtils.escapePathName).
func escapePartitionName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte("\"#%'*/:=?\\{[]^", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// encodeLogPath URI-encodes a relative path for add.path, segment by segment
// (the reader decodes it exactly once with url.PathUnescape).
func encodeLogPath(rel string) string {
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// partitionString serializes row r of a partition column the Delta way; nil for
// null. An empty string is null in Delta.
func partitionString(a arrow.Array, r int) (*string, error) {
	if a.IsNull(r) {
		return nil, nil
	}
	var s string
	switch c := a.(type) {
	case *array.String:
		s = c.Value(r)
		if s == "" {
			return nil, nil
		}
	case *array.Int8:
		s = strconv.FormatInt(int64(c.Value(r)), 10)
	case *array.Int16:
		s = strconv.FormatInt(int64(c.Value(r)), 10)
	case *array.Int32:
		s = strconv.FormatInt(int64(c.Value(r)), 10)
	case *array.Int64:
		s = strconv.FormatInt(c.Value(r), 10)
	case *array.Float32:
		s = strconv.FormatFloat(float64(c.Value(r)), 'g', -1, 32)
	case *array.Float64:
		s = strconv.FormatFloat(c.Value(r), 'g', -1, 64)
	case *array.Boolean:
		s = strconv.FormatBool(c.Value(r))
	case *array.Date32:
		s = time.Unix(int64(c.Value(r))*86400, 0).UTC().Format("2006-01-02")
	case *array.Timestamp:
		us, err := TimestampMicros(c, r)
		if err != nil {
			return nil, err
		}
		s = formatMicros(us)
	case *array.Decimal128:
		s = c.Value(r).ToString(c.DataType().(*arrow.Decimal128Type).Scale)
	default:
		return nil, fmt.Errorf("type %s cannot be a partition value", a.DataType())
	}
	return &s, nil
}

// TimestampMicros returns row r of a timestamp array in µs, whatever its unit.
func TimestampMicros(c *array.Timestamp, r int) (int64, error) {
	v := int64(c.Value(r))
	switch c.DataType().(*arrow.TimestampType).Unit {
	case arrow.Second:
		return v * 1e6, nil
	case arrow.Millisecond:
		return v * 1e3, nil
	case arrow.Microsecond:
		return v, nil
	case arrow.Nanosecond:
		return floorDiv(v, 1000), nil
	}
	return 0, fmt.Errorf("bad timestamp unit")
}

// formatMicros is ISO-8601 UTC with microseconds: 2026-11-20T10:00:00.000000Z.
func formatMicros(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// statsStringPrefix is the number of characters string stats keep (Spark's
// delta.dataSkippingStringPrefixLength default).
const statsStringPrefix = 32

// deltaStats reads the Delta stats of a written file from its Parquet footer:
// numRecords, and per top-level data column (fields, in file order) nullCount
// (the row groups' null counts added up) and minValues/maxValues (the smallest
// minimum and largest maximum over the row groups) for integers, floats, dates,
// timestamps and strings. A column gets no min/max when some row group with
// non-NULL values has none in the footer (Parquet leaves out a min or max longer
// than parquet.DefaultMaxStatsSize bytes) or when they cannot be trusted
// (statsValues). Nested columns have no Parquet statistics of their own:
// topNulls gives their top-level NULL counts.
func deltaStats(meta *metadata.FileMetaData, fields []*Field, topNulls []int64) (map[string]any, error) {
	man, err := pqarrow.NewSchemaManifest(meta.Schema, nil, nil)
	if err != nil {
		return nil, err
	}
	if len(man.Fields) != len(fields) {
		return nil, fmt.Errorf("BUG: written file has %d columns, want %d", len(man.Fields), len(fields))
	}
	minV, maxV, nulls := map[string]any{}, map[string]any{}, map[string]any{}
	for i, f := range fields {
		mf := &man.Fields[i]
		if !mf.IsLeaf() {
			nulls[f.Name] = topNulls[i]
			continue
		}
		descr := meta.Schema.Column(mf.ColIndex)
		var n int64
		var lo, hi any
		bounded := boundedType(f.Type.Name)
		for rg := range meta.NumRowGroups() {
			rgm := meta.RowGroup(rg)
			if rgm.NumRows() == 0 {
				continue // an empty row group (a file ending on a row group boundary) has no statistics
			}
			cc, err := rgm.ColumnChunk(mf.ColIndex)
			if err != nil {
				return nil, err
			}
			ps, err := cc.Statistics()
			if err != nil {
				return nil, err
			}
			if ps == nil || !ps.HasNullCount() {
				return nil, fmt.Errorf("column %s: row group %d has no statistics", f.Name, rg)
			}
			n += ps.NullCount()
			if !bounded {
				continue
			}
			if !ps.HasMinMax() || !chunkHasBounds(meta, rg, mf.ColIndex) {
				// All NULL, or (floats) all NULL or NaN: nothing to bound. Otherwise
				// Parquet left the min or max out (too long): no bounds.
				bounded = ps.NullCount() == rgm.NumRows() || f.Type.Name == "float" || f.Type.Name == "double"
				continue
			}
			l, h, ok := statsValues(f.Type.Name, descr, ps)
			if !ok {
				bounded = false
				continue
			}
			if lo == nil || lessStat(l, lo) {
				lo = l
			}
			if hi == nil || lessStat(hi, h) {
				hi = h
			}
		}
		nulls[f.Name] = n
		if bounded && lo != nil {
			minV[f.Name], maxV[f.Name] = statJSON(f.Type, lo, false), statJSON(f.Type, hi, true)
		}
	}
	return map[string]any{"numRecords": meta.NumRows, "minValues": minV, "maxValues": maxV, "nullCount": nulls}, nil
}

// boundedType reports whether the Delta stats carry min/max for a column of
// Delta type name (Spark's choice: numbers, decimals, dates, timestamps and
// strings; not booleans or binary). A decimal is bounded when its Parquet values
// are INT32/INT64 (statsValues).
func boundedType(name string) bool {
	switch name {
	case "byte", "short", "integer", "long", "float", "double", "decimal", "date", "timestamp", "timestamp_ntz", "string":
		return true
	}
	return false
}

// lessStat orders two values statsValues returned for one column.
func lessStat(a, b any) bool {
	switch x := a.(type) {
	case int64:
		return x < b.(int64)
	case float64:
		return x < b.(float64)
	case string:
		return x < b.(string)
	}
	panic(fmt.Sprintf("BUG: stats value of type %T", a))
}

// statJSON is the Delta stats value of v (as statsValues gives it) for a
// column of Delta type dt: dates as YYYY-MM-DD, timestamps ISO-8601 in µs,
// decimals as JSON numbers with their scale's digits (12.30, as Spark writes
// them), strings cut to statsStringPrefix characters (a max cut so gets
// U+10FFFF appended, to stay above every value with that prefix).
func statJSON(dt *DataType, v any, isMax bool) any {
	switch name := dt.Name; name {
	case "decimal":
		return json.Number(storage.FormatDecimal(v.(int64), dt.Scale))
	case "date":
		return time.UnixMicro(v.(int64)).UTC().Format("2006-01-02")
	case "timestamp", "timestamp_ntz":
		return formatMicros(v.(int64))
	case "string":
		s := v.(string)
		if utf8.RuneCountInString(s) > statsStringPrefix {
			s = truncRunes(s, statsStringPrefix) // a prefix is <= the value
			if isMax {
				s += "\U0010FFFF"
			}
		}
		return s
	}
	if f, ok := v.(float64); ok && f == 0 {
		return 0.0 // Parquet may give -0 as a bound of 0
	}
	return v
}

func truncRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// sliceBytes estimates the uncompressed Parquet bytes of a set of column slices:
// the fixed width of each value, and string/binary value bytes plus a 4-byte
// length each.
func sliceBytes(cols []arrow.Array) int64 {
	var n int64
	for _, a := range cols {
		rows := int64(a.Len())
		switch c := a.(type) {
		case *array.String:
			if rows > 0 {
				n += int64(c.ValueOffset(int(rows)-1)+len(c.Value(int(rows)-1))-c.ValueOffset(0)) + 4*rows
			}
		case *array.Binary:
			if rows > 0 {
				n += int64(c.ValueOffset(int(rows)-1)+len(c.Value(int(rows)-1))-c.ValueOffset(0)) + 4*rows
			}
		default:
			if fw, ok := a.DataType().(arrow.FixedWidthDataType); ok {
				n += rows * int64(max(fw.BitWidth()/8, 1))
			} else {
				n += rows * 8
			}
		}
	}
	return n
}
