package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/objstore"
)

// DataFile is one live data file of a snapshot opened for reading column chunk
// by column chunk: its Parquet footer is parsed once (range reads of the file's
// tail) and its deletion vector loaded once; ReadColumn then fetches and decodes
// only the one column chunk it is asked for, so a query reads the columns and
// row groups it needs and nothing else.
//
// Row numbers: RowGroupRows and ReadColumn count live rows (the deletion vector
// applied); a row group's rows keep the file's order.
//
// A DataFile is immutable after OpenDataFile and safe for concurrent use: every
// ReadColumn opens its own reader over the shared footer.
//
// Errors: a file whose bytes fail to decode (bad magic, truncated footer,
// corrupt page) gives an error wrapping storage.ErrCorrupt and naming the file;
// a failed object store read gives that error instead.
type DataFile struct {
	snap     *Snapshot
	file     *AddFile
	key      string
	meta     *metadata.FileMetaData
	manifest *pqarrow.SchemaManifest
	dv       *DeletedRows
	rgStart  []int64 // file row number of each row group's first row
	live     []int64 // live rows per row group
}

// trackedReaderAt reads an object through objstore.Store.GetRange and remembers the first
// read error, so that a decoder failure caused by a failed read is reported as
// that read error rather than as corruption.
type trackedReaderAt struct {
	rangeReaderAt
	chunks *ChunkBytes // bytes fetched ahead, read first; may be nil
	mu     sync.Mutex
	ioErr  error
}

func (r *trackedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if r.chunks.readAt(p, off) {
		return len(p), nil
	}
	n, err := r.rangeReaderAt.ReadAt(p, off)
	dataBytesRead.Add(int64(n))
	r.mu.Lock()
	if err != nil && !errors.Is(err, io.EOF) && r.ioErr == nil {
		r.ioErr = err
	}
	r.mu.Unlock()
	return n, err
}

func (r *trackedReaderAt) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.pos)
	r.pos += int64(n)
	return n, err
}

// classify turns a decoder error into a read error (when a read failed), the
// context's error, or corruption.
func (r *trackedReaderAt) classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	r.mu.Lock()
	ioErr := r.ioErr
	r.mu.Unlock()
	if ioErr != nil {
		return ioErr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, storage.ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: %v", storage.ErrCorrupt, err)
}

func (s *Snapshot) newTrackedReader(ctx context.Context, f *AddFile) *trackedReaderAt {
	return &trackedReaderAt{rangeReaderAt: rangeReaderAt{ctx: ctx, fs: s.table.fs, key: s.table.key(f.DecodedPath), size: f.Size}}
}

// OpenDataFile reads the footer and the deletion vector of file f of s.
func (s *Snapshot) OpenDataFile(ctx context.Context, f *AddFile) (*DataFile, error) {
	d, err := s.openDataFile(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("lake: table %s: file %s: %w", s.table.name(), f.DecodedPath, err)
	}
	return d, nil
}

func (s *Snapshot) openDataFile(ctx context.Context, f *AddFile) (d *DataFile, err error) {
	if f.IsAbsolute {
		return nil, errors.New("absolute data file paths are not supported yet")
	}
	if f.Size <= 0 {
		return nil, fmt.Errorf("%w: file size %d in the log", storage.ErrCorrupt, f.Size)
	}
	r := s.newTrackedReader(ctx, f)
	defer func() {
		if p := recover(); p != nil {
			err = r.classify(ctx, fmt.Errorf("parquet decoder failed: %v", p))
		}
	}()
	pr, err := file.NewParquetReader(r)
	if err != nil {
		return nil, r.classify(ctx, err)
	}
	meta := withoutArrowSchema(pr.MetaData())
	manifest, err := pqarrow.NewSchemaManifest(meta.Schema, meta.KeyValueMetadata(), nil)
	if err != nil {
		return nil, r.classify(ctx, err)
	}
	d = &DataFile{snap: s, file: f, key: s.table.key(f.DecodedPath), meta: meta, manifest: manifest}
	if f.DeletionVector != nil {
		if d.dv, err = s.LoadDeletionVector(ctx, f.DeletionVector); err != nil {
			return nil, err
		}
	}
	var start int64
	for rg := 0; rg < meta.NumRowGroups(); rg++ {
		n := meta.RowGroup(rg).NumRows()
		if n < 0 {
			return nil, fmt.Errorf("%w: row group %d has %d rows", storage.ErrCorrupt, rg, n)
		}
		d.rgStart = append(d.rgStart, start)
		d.live = append(d.live, n-int64(d.deletedIn(start, start+n)))
		start += n
	}
	if start != meta.NumRows {
		return nil, fmt.Errorf("%w: row groups hold %d rows, the footer says %d", storage.ErrCorrupt, start, meta.NumRows)
	}
	if m, ok := d.dv.maxRow(); ok && m >= uint64(start) {
		return nil, fmt.Errorf("deletion vector deletes row %d of a %d-row file", m, start)
	}
	return d, nil
}

// deletedIn counts the deleted rows in [lo, hi).
func (d *DataFile) deletedIn(lo, hi int64) uint64 {
	if d.dv == nil || lo >= hi {
		return 0
	}
	var n uint64
	for i, k := range d.dv.keys {
		base := int64(k) << 32
		a, b := max(lo, base), min(hi, base+1<<32)
		if a >= b {
			continue
		}
		bm := d.dv.buckets[i]
		n += bm.Rank(uint32(b-1-base)) - rankBelow(bm.Rank, uint32(a-base))
	}
	return n
}

func rankBelow(rank func(uint32) uint64, x uint32) uint64 {
	if x == 0 {
		return 0
	}
	return rank(x - 1)
}

// File is the Delta add action the DataFile reads.
func (d *DataFile) File() *AddFile { return d.file }

// NumRowGroups is the number of row groups of the file.
func (d *DataFile) NumRowGroups() int { return len(d.live) }

// Remote reports whether the file's bytes come from object storage (through a
// byte-range cache or not), not from a local folder.
func (d *DataFile) Remote() bool {
	_, local := d.snap.table.fs.(*objstore.Local)
	return !local
}

// RowGroupRows is the number of live rows of row group rg.
func (d *DataFile) RowGroupRows(rg int) int64 { return d.live[rg] }

// RowGroupHasDeletes reports whether the deletion vector removes rows of rg.
func (d *DataFile) RowGroupHasDeletes(rg int) bool {
	return d.live[rg] != d.meta.RowGroup(rg).NumRows()
}

// ColumnStatistics are what a file says about one column of one row group,
// converted to the column's Delta type: Min and Max are int64 for integer types
// (microseconds for timestamps, timestamp_ntz and dates), float64 for float and
// double, string for strings, bool for booleans; decimals and nested types have
// none. They bound the live rows; with deleted rows in the row group (or a row
// group without a NullCount) they are bounds only, which Exact reports.
type ColumnStatistics struct {
	HasMinMax bool
	Min, Max  any
	// HasNullCount reports whether NullCount is known; it counts the file's rows,
	// deleted ones included.
	HasNullCount bool
	NullCount    int64
	// Exact is true when Min and Max are attained by live rows and NullCount is
	// the live rows' count: no row of the group is deleted and the statistics are
	// complete.
	Exact bool
}

// Statistics returns the statistics of logical column column in row group rg:
// for a partition column its value, for a column the file lacks all NULL, else
// the Parquet footer's statistics. ok is false when nothing is known.
func (d *DataFile) Statistics(rg int, column string) (st ColumnStatistics, ok bool) {
	defer func() {
		if recover() != nil { // malformed statistics: know nothing
			st, ok = ColumnStatistics{}, false
		}
	}()
	fd := d.snap.field(column)
	if fd == nil {
		return st, false
	}
	rows := d.meta.RowGroup(rg).NumRows()
	deletes := d.RowGroupHasDeletes(rg)
	if d.snap.isPartition(fd) {
		v, present := d.snap.PartitionValue(d.file, fd.Name)
		if !present {
			return ColumnStatistics{HasNullCount: true, NullCount: rows, Exact: !deletes}, true
		}
		val, err := ParsePartitionValue(fd.Type, v)
		if err != nil {
			return st, false
		}
		switch x := val.(type) {
		case int64:
			if fd.Type.Name == "timestamp" || fd.Type.Name == "timestamp_ntz" || isIntegerType(fd.Type.Name) {
				st.Min, st.Max = x, x
			}
		case int32: // date
			st.Min, st.Max = int64(x)*usPerDay, int64(x)*usPerDay
		case float64:
			st.Min, st.Max = x, x
		case string:
			st.Min, st.Max = x, x
		case bool:
			st.Min, st.Max = x, x
		}
		st.HasMinMax = st.Min != nil
		st.HasNullCount, st.Exact = true, true // every live row holds the value
		return st, st.HasMinMax
	}
	pi := d.snap.findParquetField(d.manifest.Fields, fd)
	if pi < 0 {
		return ColumnStatistics{HasNullCount: true, NullCount: rows, Exact: !deletes}, true
	}
	pf := &d.manifest.Fields[pi]
	if !pf.IsLeaf() {
		return st, false
	}
	cc, err := d.meta.RowGroup(rg).ColumnChunk(pf.ColIndex)
	if err != nil {
		return st, false
	}
	if set, err := cc.StatsSet(); err != nil || !set {
		return st, false
	}
	ps, err := cc.Statistics()
	if err != nil || ps == nil {
		return st, false
	}
	st.HasNullCount = ps.HasNullCount()
	if st.HasNullCount {
		st.NullCount = ps.NullCount()
	}
	st.Exact = st.HasNullCount && !deletes
	if !ps.HasMinMax() || !chunkHasBounds(d.meta, rg, pf.ColIndex) {
		if st.HasNullCount && st.NullCount == rows {
			return st, true // all NULL
		}
		st.Exact = false
		return st, st.HasNullCount
	}
	descr := d.meta.Schema.Column(pf.ColIndex)
	lo, hi, ok := statsValues(fd.Type.Name, descr, ps)
	if !ok {
		st.Exact = false
		return st, st.HasNullCount
	}
	st.HasMinMax, st.Min, st.Max = true, lo, hi
	return st, true
}

func isIntegerType(name string) bool {
	switch name {
	case "byte", "short", "integer", "long":
		return true
	}
	return false
}

const usPerDay = 86_400_000_000

// chunkHasBounds reports whether the footer holds both a min and a max for
// column col of row group rg. A writer may store one without the other (arrow-go
// leaves out either when it is longer than its size limit, 4096 bytes), and
// arrow-go still reports HasMinMax then, with the missing one empty: such a chunk
// has no bounds.
func chunkHasBounds(meta *metadata.FileMetaData, rg, col int) bool {
	if meta.FileMetaData == nil || rg >= len(meta.RowGroups) || col >= len(meta.RowGroups[rg].Columns) {
		return false
	}
	cm := meta.RowGroups[rg].Columns[col].MetaData
	if cm == nil || cm.Statistics == nil {
		return false
	}
	st := cm.Statistics
	if meta.Schema.Column(col).ColumnOrder() == parquet.ColumnOrders.TypeDefinedOrder {
		return st.IsSetMinValue() && st.IsSetMaxValue() // what arrow-go decodes then
	}
	return st.IsSetMin() && st.IsSetMax()
}

// statsValues converts Parquet min/max statistics to the Go values of Delta type
// deltaType (see ColumnStatistics); ok is false when they cannot be trusted.
// Callers check chunkHasBounds first.
// isDecimalColumn reports whether a Delta decimal column is stored as a Parquet
// INT32/INT64 DECIMAL: its bounds are then the unscaled integers (value × 10^scale),
// as strata keeps numeric(p,s), p <= 18.
func isDecimalColumn(deltaType string, descr *schema.Column) bool {
	_, ok := descr.LogicalType().(schema.DecimalLogicalType)
	return deltaType == "decimal" && ok
}

func statsValues(deltaType string, descr *schema.Column, ps metadata.TypedStatistics) (lo, hi any, ok bool) {
	switch s := ps.(type) {
	case *metadata.Int32Statistics:
		switch {
		case isIntegerType(deltaType) || deltaType == "long" || isDecimalColumn(deltaType, descr):
			return int64(s.Min()), int64(s.Max()), true
		case deltaType == "date":
			return int64(s.Min()) * usPerDay, int64(s.Max()) * usPerDay, true
		}
	case *metadata.Int64Statistics:
		switch {
		case isIntegerType(deltaType) || isDecimalColumn(deltaType, descr):
			return s.Min(), s.Max(), true
		case deltaType == "timestamp" || deltaType == "timestamp_ntz":
			ts, isTS := descr.LogicalType().(schema.TimestampLogicalType)
			if !isTS {
				return nil, nil, false
			}
			switch ts.TimeUnit() {
			case schema.TimeUnitMicros:
				return s.Min(), s.Max(), true
			case schema.TimeUnitMillis:
				if s.Min() < math.MinInt64/1000 || s.Max() > math.MaxInt64/1000 {
					return nil, nil, false
				}
				return s.Min() * 1000, s.Max() * 1000, true
			case schema.TimeUnitNanos:
				return floorDiv(s.Min(), 1000), floorDiv(s.Max(), 1000), true
			}
		}
	case *metadata.Float32Statistics:
		if deltaType == "float" || deltaType == "double" {
			lo, hi := float64(s.Min()), float64(s.Max())
			if math.IsNaN(lo) || math.IsNaN(hi) {
				return nil, nil, false
			}
			return lo, hi, true
		}
	case *metadata.Float64Statistics:
		if deltaType == "double" || deltaType == "float" {
			if math.IsNaN(s.Min()) || math.IsNaN(s.Max()) {
				return nil, nil, false
			}
			return s.Min(), s.Max(), true
		}
	case *metadata.BooleanStatistics:
		if deltaType == "boolean" {
			return s.Min(), s.Max(), true
		}
	case *metadata.ByteArrayStatistics:
		// UTF-8 strings order as unsigned bytes in Parquet and in Go.
		if deltaType == "string" && descr.SortOrder() == schema.SortUNSIGNED {
			return string(s.Min()), string(s.Max()), true
		}
	}
	return nil, nil, false
}

// ReadColumn reads logical column column of row group rg: only its column chunk
// is fetched and decoded. The result holds RowGroupRows(rg) values (deletion
// vector applied) of the column's Delta Arrow type, in chunks, except that with
// dict a string column stored dictionary-encoded comes as Dictionary arrays of
// its values (each chunk its own dictionary). The caller releases the chunks.
func (d *DataFile) ReadColumn(ctx context.Context, rg int, column string, dict bool) (out []arrow.Array, err error) {
	return d.ReadColumnWith(ctx, rg, column, dict, nil)
}

// ReadColumnWith is ReadColumn taking the column chunk's bytes from pre (of
// FetchChunks) when it holds them.
func (d *DataFile) ReadColumnWith(ctx context.Context, rg int, column string, dict bool, pre *ChunkBytes) (out []arrow.Array, err error) {
	defer func() {
		if err != nil {
			for _, a := range out {
				a.Release()
			}
			out = nil
			err = fmt.Errorf("lake: table %s: file %s: row group %d: column %s: %w", d.snap.table.name(), d.file.DecodedPath, rg, column, err)
		}
	}()
	if rg < 0 || rg >= len(d.live) {
		return nil, fmt.Errorf("no row group %d", rg)
	}
	fd := d.snap.field(column)
	if fd == nil {
		return nil, errors.New("no such column")
	}
	mem := memory.DefaultAllocator
	rows := d.meta.RowGroup(rg).NumRows()
	if d.snap.isPartition(fd) {
		v, ok := d.snap.PartitionValue(d.file, fd.Name)
		a, err := partitionArray(mem, fd.Type, v, !ok, int(d.live[rg]))
		if err != nil {
			return nil, err
		}
		return []arrow.Array{a}, nil
	}
	pi := d.snap.findParquetField(d.manifest.Fields, fd)
	if pi < 0 {
		t, err := fd.Type.ArrowType()
		if err != nil {
			return nil, err
		}
		return []arrow.Array{array.MakeArrayOfNull(mem, t, int(d.live[rg]))}, nil
	}
	r := d.snap.newTrackedReader(ctx, d.file)
	r.chunks = pre
	defer func() {
		if p := recover(); p != nil {
			if cp, ok := p.(callerPanic); ok {
				panic(cp.v)
			}
			err = r.classify(ctx, fmt.Errorf("parquet decoder failed: %v", p))
		}
	}()
	pf := &d.manifest.Fields[pi]
	var chunks []arrow.Array
	if pf.IsLeaf() && d.meta.Schema.Column(pf.ColIndex).PhysicalType() == parquet.Types.Int96 {
		pr, err := file.NewParquetReader(r, file.WithMetadata(d.meta))
		if err != nil {
			return nil, r.classify(ctx, err)
		}
		c, err := readInt96RowGroup(pr, pf.ColIndex, rg)
		if err != nil {
			return nil, r.classify(ctx, err)
		}
		t, err := fd.Type.ArrowType()
		if err != nil {
			return nil, err
		}
		a, err := c.slice(mem, t, 0, int64(len(c.micros)))
		if err != nil {
			return nil, err
		}
		chunks = []arrow.Array{a}
	} else {
		if chunks, err = d.readParquetColumn(ctx, r, rg, pi, fd, dict); err != nil {
			return nil, err
		}
	}
	var got int64
	for _, c := range chunks {
		got += int64(c.Len())
	}
	if got != rows {
		for _, c := range chunks {
			c.Release()
		}
		return nil, fmt.Errorf("%w: read %d rows, the footer says %d", storage.ErrCorrupt, got, rows)
	}
	if d.live[rg] == rows {
		return chunks, nil
	}
	// Drop the deleted rows, by file row number.
	base := d.rgStart[rg]
	for _, c := range chunks {
		if err == nil {
			var kept arrow.Array
			kept, err = d.dropDeleted(c, base)
			if err == nil {
				out = append(out, kept)
			}
		}
		base += int64(c.Len())
		c.Release()
	}
	return out, err
}

func (d *DataFile) readParquetColumn(ctx context.Context, r *trackedReaderAt, rg, pi int, fd *Field, dict bool) ([]arrow.Array, error) {
	pr, err := file.NewParquetReader(r, file.WithMetadata(d.meta))
	if err != nil {
		return nil, r.classify(ctx, err)
	}
	pf := &d.manifest.Fields[pi]
	props := pqarrow.ArrowReadProperties{BatchSize: max(1, d.meta.RowGroup(rg).NumRows())}
	readDict := dict && fd.Type.Name == "string" && pf.IsLeaf() &&
		d.meta.Schema.Column(pf.ColIndex).PhysicalType() == parquet.Types.ByteArray
	if readDict {
		props.SetReadDict(pf.ColIndex, true)
	}
	mem := memory.DefaultAllocator
	fr, err := pqarrow.NewFileReader(pr, props, mem)
	if err != nil {
		return nil, r.classify(ctx, err)
	}
	leaves := map[int]bool{}
	for _, l := range leafIndices(nil, pf) {
		leaves[l] = true
	}
	cr, err := fr.GetFieldReader(ctx, pi, leaves, []int{rg})
	if err != nil {
		return nil, r.classify(ctx, err)
	}
	if cr == nil {
		return nil, fmt.Errorf("BUG: no reader for Parquet field %d", pi)
	}
	defer cr.Release()
	chunked, err := fr.ReadColumn([]int{rg}, cr)
	if err != nil {
		return nil, r.classify(ctx, err)
	}
	defer chunked.Release()
	var out []arrow.Array
	for _, c := range chunked.Chunks() {
		if da, ok := c.(*array.Dictionary); ok && readDict {
			switch da.Dictionary().(type) {
			case *array.String, *array.Binary, *array.LargeString:
				da.Retain()
				out = append(out, da)
				continue
			}
		}
		conv, err := conform(mem, c, fd.Type, d.snap.ColumnMapping)
		if err != nil {
			for _, a := range out {
				a.Release()
			}
			return nil, err
		}
		out = append(out, conv)
	}
	return out, nil
}

// dropDeleted returns a without the rows whose file row number (base + i) is
// deleted.
func (d *DataFile) dropDeleted(a arrow.Array, base int64) (arrow.Array, error) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "c", Type: a.DataType(), Nullable: true}}, nil)
	rec := array.NewRecordBatch(sc, []arrow.Array{a}, int64(a.Len()))
	defer rec.Release()
	kept := dropRows(rec, d.dv, base)
	defer kept.Release()
	out := kept.Column(0)
	out.Retain()
	return out, nil
}

// readInt96RowGroup reads the INT96 column col of row group rg in microseconds.
func readInt96RowGroup(pr *file.Reader, col, rg int) (*int96Column, error) {
	out := &int96Column{}
	if err := out.appendRowGroup(pr, col, rg); err != nil {
		return nil, err
	}
	return out, nil
}

// For returns d reading through s, a snapshot of the same table (a file's footer
// and deletion vector are its own; the schema, column mapping and partition
// values come from the snapshot). A DataFile for a nil snapshot only keeps the
// file's own state, to be bound with For before use.
func (d *DataFile) For(s *Snapshot) *DataFile {
	c := *d
	c.snap = s
	if s == nil {
		f := *d.file // nor the snapshot's file list, which d.file may point into
		c.file = &f
	}
	return &c
}

// withoutArrowSchema returns md without the serialized Arrow schema that Arrow
// writers store in the footer (key ARROW:schema). pqarrow decodes it with
// flatbuffers, which trust the lengths inside: a damaged one makes it allocate
// whatever a corrupt length says and kills the process (found by
// FuzzDirectParquet). The Parquet schema alone gives every type ReadColumn
// needs, since values are converted to their Delta types anyway.
func withoutArrowSchema(md *metadata.FileMetaData) *metadata.FileMetaData {
	if md.KeyValueMetadata().FindValue("ARROW:schema") == nil {
		return md
	}
	thrift := *md.FileMetaData
	thrift.KeyValueMetadata = nil
	for _, kv := range md.FileMetaData.KeyValueMetadata {
		if kv.Key != "ARROW:schema" {
			thrift.KeyValueMetadata = append(thrift.KeyValueMetadata, kv)
		}
	}
	out := *md
	out.FileMetaData = &thrift
	return &out
}
