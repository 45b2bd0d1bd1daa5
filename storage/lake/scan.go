package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/stratadb/strata/storage/objstore"
)

// ArrowSchema is the Arrow schema of the given logical columns (nil: every column
// in schema order, partition columns included), as ReadFile produces them.
func (s *Snapshot) ArrowSchema(columns []string) (*arrow.Schema, error) {
	fields, err := s.resolveColumns(columns)
	if err != nil {
		return nil, err
	}
	out := make([]arrow.Field, len(fields))
	for i, f := range fields {
		t, err := f.Type.ArrowType()
		if err != nil {
			return nil, fmt.Errorf("lake: table %s: column %s: %w", s.table.name(), f.Name, err)
		}
		out[i] = arrow.Field{Name: f.Name, Type: t, Nullable: true}
	}
	return arrow.NewSchema(out, nil), nil
}

func (s *Snapshot) resolveColumns(columns []string) ([]*Field, error) {
	if columns == nil {
		out := make([]*Field, len(s.Schema.Fields))
		for i := range s.Schema.Fields {
			out[i] = &s.Schema.Fields[i]
		}
		return out, nil
	}
	out := make([]*Field, len(columns))
	for i, c := range columns {
		if out[i] = s.field(c); out[i] == nil {
			return nil, fmt.Errorf("lake: table %s: no column %q", s.table.name(), c)
		}
	}
	return out, nil
}

func (s *Snapshot) isPartition(f *Field) bool {
	for _, p := range s.Metadata.PartitionColumns {
		if strings.EqualFold(p, f.Name) {
			return true
		}
	}
	return false
}

// maxWholeGet is the size up to which a data file is fetched with one Get; larger
// files are read with range requests.
var maxWholeGet int64 = 16 << 20

// rangeReaderAt reads an object through objstore.Store.GetRange.
type rangeReaderAt struct {
	ctx  context.Context
	fs   objstore.Store
	key  string
	size int64
	pos  int64
}

func (r *rangeReaderAt) ReadAt(p []byte, off int64) (int, error) {
	b, err := r.fs.GetRange(r.ctx, r.key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (r *rangeReaderAt) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.pos)
	r.pos += int64(n)
	return n, err
}

func (r *rangeReaderAt) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += r.size
	}
	if off < 0 {
		return 0, errors.New("negative seek")
	}
	r.pos = off
	return off, nil
}

func (s *Snapshot) openParquet(ctx context.Context, f *AddFile) (*file.Reader, error) {
	if f.IsAbsolute {
		return nil, fmt.Errorf("absolute data file paths are not supported yet")
	}
	key := s.table.key(f.DecodedPath)
	var src parquet.ReaderAtSeeker
	if f.Size > 0 && f.Size <= maxWholeGet {
		b, err := s.table.fs.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		src = bytes.NewReader(b)
	} else {
		src = &rangeReaderAt{ctx: ctx, fs: s.table.fs, key: key, size: f.Size}
	}
	pr, err := file.NewParquetReader(src)
	if err != nil {
		return nil, err
	}
	return file.NewParquetReader(src, file.WithMetadata(withoutArrowSchema(pr.MetaData())))
}

// findParquetField returns the index in the Parquet manifest of the top-level field
// that stores f: by Parquet field_id in column mapping mode "id", else by physical
// name (exact, then case-insensitive). -1 if the file lacks the column.
func (s *Snapshot) findParquetField(fields []pqarrow.SchemaField, f *Field) int {
	if s.ColumnMapping == MappingID {
		if id, ok := f.FieldID(); ok {
			for i := range fields {
				if fields[i].Field.HasMetadata() {
					if v := fields[i].Field.Metadata.FindKey("PARQUET:field_id"); v >= 0 && fields[i].Field.Metadata.Values()[v] == strconv.FormatInt(id, 10) {
						return i
					}
				}
			}
			return -1
		}
	}
	name := f.PhysicalName(s.ColumnMapping)
	for i := range fields {
		if fields[i].Field.Name == name {
			return i
		}
	}
	for i := range fields {
		if strings.EqualFold(fields[i].Field.Name, name) {
			return i
		}
	}
	return -1
}

// ReadFile reads the logical columns (nil: all, in schema order) of one live file
// into Arrow record batches with the schema ArrowSchema(columns) gives: Parquet
// columns resolved through column mapping and converted to the Delta type,
// partition columns filled from partitionValues, columns the file lacks as nulls,
// and rows in the file's deletion vector removed. fn owns nothing: each batch is
// released after fn returns (Retain it to keep it). A batch may have 0 rows.
func (s *Snapshot) ReadFile(ctx context.Context, f *AddFile, columns []string, fn func(arrow.RecordBatch) error) error {
	return s.ReadFileRowGroups(ctx, f, columns, nil, fn)
}

// RowGroupFilter decides from a row group's Parquet metadata (statistics are
// keyed by physical column names: see Snapshot.PhysicalName) whether to read it.
type RowGroupFilter func(rowGroup int, md *metadata.RowGroupMetaData) bool

// ReadFileRowGroups is ReadFile reading only the row groups keep accepts (nil:
// all). Deletion vectors still apply by file row number.
func (s *Snapshot) ReadFileRowGroups(ctx context.Context, f *AddFile, columns []string, keep RowGroupFilter, fn func(arrow.RecordBatch) error) error {
	err := s.readFile(ctx, f, columns, keep, fn)
	if err != nil {
		return fmt.Errorf("lake: table %s: file %s: %w", s.table.name(), f.DecodedPath, err)
	}
	return nil
}

func (s *Snapshot) readFile(ctx context.Context, f *AddFile, columns []string, keep RowGroupFilter, fn func(arrow.RecordBatch) error) (err error) {
	defer recoverDecoder(&err)
	fields, err := s.resolveColumns(columns)
	if err != nil {
		return err
	}
	schema, err := s.ArrowSchema(columns)
	if err != nil {
		return err
	}
	var dv *DeletedRows
	if f.DeletionVector != nil {
		if dv, err = s.LoadDeletionVector(ctx, f.DeletionVector); err != nil {
			return err
		}
	}
	pr, err := s.openParquet(ctx, f)
	if err != nil {
		return err
	}
	defer pr.Close()
	mem := memory.DefaultAllocator
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, mem)
	if err != nil {
		return err
	}
	if m, ok := dv.maxRow(); ok && m >= uint64(pr.NumRows()) {
		return fmt.Errorf("deletion vector deletes row %d of a %d-row file", m, pr.NumRows())
	}

	// Plan each output column: a partition constant, a Parquet field, or nulls.
	const (
		fromPartition = iota
		fromParquet
		fromNothing
		fromInt96
	)
	type colPlan struct {
		src   int
		int96 *int96Column
		name  string // Parquet field name in the read batch
		value string // partition value
		null  bool   // partition value is null
	}
	plans := make([]colPlan, len(fields))
	var leaves []int
	seen := map[int]bool{}
	for i, fd := range fields {
		if s.isPartition(fd) {
			v, ok := s.PartitionValue(f, fd.Name)
			plans[i] = colPlan{src: fromPartition, value: v, null: !ok}
			continue
		}
		pi := s.findParquetField(fr.Manifest.Fields, fd)
		if pi < 0 {
			plans[i] = colPlan{src: fromNothing}
			continue
		}
		if pf := &fr.Manifest.Fields[pi]; pf.IsLeaf() && pr.MetaData().Schema.Column(pf.ColIndex).PhysicalType() == parquet.Types.Int96 {
			c, err := readInt96Column(pr, pf.ColIndex)
			if err != nil {
				return err
			}
			plans[i] = colPlan{src: fromInt96, int96: c}
			continue
		}
		plans[i] = colPlan{src: fromParquet, name: fr.Manifest.Fields[pi].Field.Name}
		if !seen[pi] {
			seen[pi] = true
			leaves = leafIndices(leaves, &fr.Manifest.Fields[pi])
		}
	}

	emit := func(batch map[string]arrow.Array, n int64, rowBase int64) error {
		cols := make([]arrow.Array, len(fields))
		defer func() {
			for _, c := range cols {
				if c != nil {
					c.Release()
				}
			}
		}()
		for i, p := range plans {
			var err error
			switch p.src {
			case fromParquet:
				cols[i], err = conform(mem, batch[p.name], fields[i].Type, s.ColumnMapping)
			case fromInt96:
				cols[i], err = p.int96.slice(mem, schema.Field(i).Type, rowBase, n)
			case fromPartition:
				cols[i], err = partitionArray(mem, fields[i].Type, p.value, p.null, int(n))
			default:
				cols[i] = array.MakeArrayOfNull(mem, schema.Field(i).Type, int(n))
			}
			if err != nil {
				return fmt.Errorf("column %s: %w", fields[i].Name, err)
			}
		}
		rec := array.NewRecordBatch(schema, cols, n)
		defer rec.Release()
		if dv != nil && dv.Cardinality() > 0 {
			kept := dropRows(rec, dv, rowBase)
			defer kept.Release()
			return callCaller(fn, kept)
		}
		return callCaller(fn, rec)
	}

	// One row group at a time, so a skipped row group never shifts the file row
	// numbers deletion vectors refer to.
	var rgStart int64
	for rg := 0; rg < pr.NumRowGroups(); rg++ {
		md := pr.MetaData().RowGroup(rg)
		n := md.NumRows()
		if keep != nil && !keep(rg, md) {
			rgStart += n
			continue
		}
		if len(leaves) == 0 {
			// No Parquet column requested (only partitions / missing columns): rows
			// still count, so emit a batch sized from the footer.
			if err := emit(nil, n, rgStart); err != nil {
				return err
			}
			rgStart += n
			continue
		}
		rr, err := fr.GetRecordReader(ctx, leaves, []int{rg})
		if err != nil {
			return err
		}
		base := rgStart
		for rr.Next() {
			rec := rr.RecordBatch()
			byName := make(map[string]arrow.Array, rec.NumCols())
			for i, c := range rec.Columns() {
				byName[rec.ColumnName(i)] = c
			}
			if err := emit(byName, rec.NumRows(), base); err != nil {
				rr.Release()
				return err
			}
			base += rec.NumRows()
		}
		err = rr.Err()
		rr.Release()
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if base-rgStart != n {
			return fmt.Errorf("row group %d: read %d rows, footer says %d", rg, base-rgStart, n)
		}
		rgStart += n
	}
	return nil
}

// dropRows returns rec without the rows whose file row index (rowBase + i) is in dv.
func dropRows(rec arrow.RecordBatch, dv *DeletedRows, rowBase int64) arrow.RecordBatch {
	n := rec.NumRows()
	var runs [][2]int64 // [start, end) of kept rows
	start := int64(-1)
	for i := int64(0); i < n; i++ {
		if dv.Contains(uint64(rowBase + i)) {
			if start >= 0 {
				runs = append(runs, [2]int64{start, i})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		runs = append(runs, [2]int64{start, n})
	}
	if len(runs) == 1 && runs[0] == [2]int64{0, n} {
		rec.Retain()
		return rec
	}
	if len(runs) == 0 {
		return rec.NewSlice(0, 0)
	}
	var kept int64
	for _, r := range runs {
		kept += r[1] - r[0]
	}
	cols := make([]arrow.Array, rec.NumCols())
	for c := range cols {
		parts := make([]arrow.Array, len(runs))
		for i, r := range runs {
			parts[i] = array.NewSlice(rec.Column(c), r[0], r[1])
		}
		var err error
		cols[c], err = array.Concatenate(parts, memory.DefaultAllocator)
		for _, p := range parts {
			p.Release()
		}
		if err != nil {
			panic("BUG: concatenating slices of one array: " + err.Error())
		}
	}
	out := array.NewRecordBatch(rec.Schema(), cols, kept)
	for _, c := range cols {
		c.Release()
	}
	return out
}

// Count returns the number of live rows: Σ stats.numRecords − DV cardinality when
// every file has stats, otherwise by reading the files that lack them.
func (s *Snapshot) Count(ctx context.Context) (int64, error) {
	var total int64
	for _, f := range s.files {
		st, err := ParseStats(f.Stats)
		if err == nil && st != nil && st.NumRecords != nil {
			n := *st.NumRecords
			if f.DeletionVector != nil {
				n -= f.DeletionVector.Cardinality
			}
			total += n
			continue
		}
		n, err := s.CountFile(ctx, f)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// CountFile counts the live rows of one file from its data (footer row count minus
// deletion vector), ignoring stats.
func (s *Snapshot) CountFile(ctx context.Context, f *AddFile) (int64, error) {
	var n int64
	err := s.ReadFile(ctx, f, []string{}, func(rec arrow.RecordBatch) error {
		n += rec.NumRows()
		return nil
	})
	return n, err
}
