package lake

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// RowGroupInfo is one row group of a data file, from its Parquet footer.
type RowGroupInfo struct {
	Rows int64
	// MinTime and MaxTime are the exact minimum and maximum of the timestamp
	// column RowGroups was asked about, in microseconds; HasTime is false when
	// the footer has no usable statistics for it (absent, INT96, nanoseconds, or
	// a NULL in the column).
	MinTime, MaxTime int64
	HasTime          bool
}

// RowGroups reads the Parquet footer of f (range reads of its tail, never the
// whole file) and returns its row groups with the statistics of the timestamp
// column timeCol (a logical column name; "" for none). Row numbers are the
// file's: deletion vectors are not applied.
func (s *Snapshot) RowGroups(ctx context.Context, f *AddFile, timeCol string) (out []RowGroupInfo, err error) {
	defer recoverDecoder(&err)
	if f.IsAbsolute {
		return nil, fmt.Errorf("lake: table %s: file %s: absolute data file paths are not supported yet", s.table.name(), f.DecodedPath)
	}
	pr, err := file.NewParquetReader(&rangeReaderAt{ctx: ctx, fs: s.table.fs, key: s.table.key(f.DecodedPath), size: f.Size})
	if err != nil {
		return nil, fmt.Errorf("lake: table %s: file %s: %w", s.table.name(), f.DecodedPath, err)
	}
	defer pr.Close()
	col := -1
	var unit int64 // µs per stored unit
	if fd := s.field(timeCol); timeCol != "" && fd != nil && !s.isPartition(fd) {
		manifest, err := pqarrow.NewSchemaManifest(pr.MetaData().Schema, pr.MetaData().KeyValueMetadata(), nil)
		if err != nil {
			return nil, fmt.Errorf("lake: table %s: file %s: %w", s.table.name(), f.DecodedPath, err)
		}
		if pi := s.findParquetField(manifest.Fields, fd); pi >= 0 && manifest.Fields[pi].IsLeaf() {
			c := manifest.Fields[pi].ColIndex
			if d := pr.MetaData().Schema.Column(c); d.PhysicalType() == parquet.Types.Int64 {
				if ts, ok := d.LogicalType().(schema.TimestampLogicalType); ok {
					switch ts.TimeUnit() {
					case schema.TimeUnitMicros:
						col, unit = c, 1
					case schema.TimeUnitMillis:
						col, unit = c, 1000
					}
				}
			}
		}
	}
	for i := 0; i < pr.NumRowGroups(); i++ {
		md := pr.MetaData().RowGroup(i)
		info := RowGroupInfo{Rows: md.NumRows()}
		if col >= 0 {
			info.MinTime, info.MaxTime, info.HasTime = int64Bounds(md, col, unit)
		}
		out = append(out, info)
	}
	return out, nil
}

// int64Bounds returns the min/max statistics of an INT64 column chunk, times unit,
// when present and the chunk has no NULL.
func int64Bounds(md *metadata.RowGroupMetaData, col int, unit int64) (lo, hi int64, ok bool) {
	cc, err := md.ColumnChunk(col)
	if err != nil {
		return 0, 0, false
	}
	set, err := cc.StatsSet()
	if err != nil || !set {
		return 0, 0, false
	}
	st, err := cc.Statistics()
	if err != nil || st == nil || !st.HasMinMax() || !st.HasNullCount() || st.NullCount() > 0 {
		return 0, 0, false
	}
	is, ok := st.(*metadata.Int64Statistics)
	if !ok {
		return 0, 0, false
	}
	return is.Min() * unit, is.Max() * unit, true
}
