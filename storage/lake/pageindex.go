package lake

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/stratadb/strata/storage"
)

// PageStats is what a file's page index (column index and offset index) says
// of one data page of a column chunk: the rows it holds, [FirstRow,
// FirstRow+Rows) of the row group's rows (deleted rows included), and bounds
// of its values, converted as ColumnStatistics are (Exact is always false:
// writers may truncate page bounds).
type PageStats struct {
	FirstRow, Rows int64
	ColumnStatistics
}

// HasPageIndex reports whether the footer locates a column index and an
// offset index for logical column column in row group rg (no I/O).
func (d *DataFile) HasPageIndex(rg int, column string) bool {
	ci, ok := d.leafColumn(column)
	if !ok || rg < 0 || rg >= len(d.live) {
		return false
	}
	rgm := d.meta.RowGroup(rg)
	_, okC := rgm.ColumnIndexLocation(ci)
	_, okO := rgm.OffsetIndexLocation(ci)
	return okC && okO
}

// leafColumn is the Parquet leaf index of logical column column when it is a
// stored, non-nested column of the file.
func (d *DataFile) leafColumn(column string) (int, bool) {
	fd := d.snap.field(column)
	if fd == nil || d.snap.isPartition(fd) {
		return 0, false
	}
	pi := d.snap.findParquetField(d.manifest.Fields, fd)
	if pi < 0 || !d.manifest.Fields[pi].IsLeaf() {
		return 0, false
	}
	return d.manifest.Fields[pi].ColIndex, true
}

// Pages returns, for each of columns, the data pages of its chunk in row
// group rg with their statistics from the file's page index, or nil for a
// column whose chunk has no page index (or that is not a stored, non-nested
// column). The page indexes of the row group are read in one range read each
// (column indexes, offset indexes), and only when some column has one.
func (d *DataFile) Pages(ctx context.Context, rg int, columns []string) (out [][]PageStats, err error) {
	if rg < 0 || rg >= len(d.live) {
		return nil, fmt.Errorf("lake: file %s: no row group %d", d.file.DecodedPath, rg)
	}
	out = make([][]PageStats, len(columns))
	some := false
	for _, c := range columns {
		some = some || d.HasPageIndex(rg, c)
	}
	if !some {
		return out, nil
	}
	r := d.snap.newTrackedReader(ctx, d.file)
	defer func() {
		if p := recover(); p != nil {
			if cp, isCaller := p.(callerPanic); isCaller {
				panic(cp.v)
			}
			out, err = nil, r.classify(ctx, fmt.Errorf("parquet decoder failed: %v", p))
		}
		if err != nil {
			err = fmt.Errorf("lake: table %s: file %s: row group %d: page index: %w", d.snap.table.name(), d.file.DecodedPath, rg, err)
		}
	}()
	pr, err := file.NewParquetReader(r, file.WithMetadata(d.meta))
	if err != nil {
		return nil, r.classify(ctx, err)
	}
	pir := pr.GetPageIndexReader()
	if pir == nil {
		return out, nil
	}
	var want []int32
	for _, c := range columns {
		if ci, ok := d.leafColumn(c); ok && d.HasPageIndex(rg, c) {
			want = append(want, int32(ci))
		}
	}
	// Read the indexes of these columns only (one range each for column and
	// offset indexes, from the first column's to the last's).
	if err := pir.WillNeed([]int32{int32(rg)}, want, metadata.PageIndexSelection{ColumnIndex: true, OffsetIndex: true}); err != nil {
		return nil, r.classify(ctx, err)
	}
	rgr, err := pir.RowGroup(rg)
	if err != nil || rgr == nil {
		return out, r.classify(ctx, err)
	}
	rows := d.meta.RowGroup(rg).NumRows()
	for i, c := range columns {
		if !d.HasPageIndex(rg, c) {
			continue
		}
		ci, _ := d.leafColumn(c)
		cidx, err := rgr.GetColumnIndex(ci)
		if err != nil {
			return nil, r.classify(ctx, err)
		}
		oidx, err := rgr.GetOffsetIndex(ci)
		if err != nil {
			return nil, r.classify(ctx, err)
		}
		if cidx == nil || oidx == nil {
			continue
		}
		locs := oidx.GetPageLocations()
		if len(locs) != len(cidx.GetNullPages()) {
			return nil, fmt.Errorf("%w: %d pages in the offset index, %d in the column index", storage.ErrCorrupt, len(locs), len(cidx.GetNullPages()))
		}
		fd := d.snap.field(c)
		descr := d.meta.Schema.Column(ci)
		pages := make([]PageStats, len(locs))
		for k, l := range locs {
			end := rows
			if k+1 < len(locs) {
				end = locs[k+1].FirstRowIndex
			}
			if l.FirstRowIndex < 0 || end < l.FirstRowIndex || end > rows || (k == 0 && l.FirstRowIndex != 0) {
				return nil, fmt.Errorf("%w: page %d starts at row %d of %d", storage.ErrCorrupt, k, l.FirstRowIndex, rows)
			}
			ps := PageStats{FirstRow: l.FirstRowIndex, Rows: end - l.FirstRowIndex}
			if cidx.IsSetNullCounts() {
				ps.HasNullCount, ps.NullCount = true, cidx.GetNullCounts()[k]
			}
			if !cidx.GetNullPages()[k] {
				ps.Min, ps.Max, ps.HasMinMax = pageBounds(fd.Type.Name, descr, cidx, k)
			} else {
				ps.HasNullCount, ps.NullCount = true, ps.Rows // all NULL
			}
			pages[k] = ps
		}
		out[i] = pages
	}
	return out, nil
}

// pageBounds converts page k's bounds of a column index to the Go values of
// Delta type deltaType, as statsValues does for a chunk's statistics.
func pageBounds(deltaType string, descr *schema.Column, cidx metadata.ColumnIndex, k int) (lo, hi any, ok bool) {
	switch x := cidx.(type) {
	case *metadata.TypedColumnIndex[int32]:
		a, b := x.MinValues()[k], x.MaxValues()[k]
		switch {
		case isIntegerType(deltaType) || isDecimalColumn(deltaType, descr):
			return int64(a), int64(b), true
		case deltaType == "date":
			return int64(a) * usPerDay, int64(b) * usPerDay, true
		}
	case *metadata.TypedColumnIndex[int64]:
		a, b := x.MinValues()[k], x.MaxValues()[k]
		switch {
		case isIntegerType(deltaType) || isDecimalColumn(deltaType, descr):
			return a, b, true
		case deltaType == "timestamp" || deltaType == "timestamp_ntz":
			ts, isTS := descr.LogicalType().(schema.TimestampLogicalType)
			if !isTS {
				return nil, nil, false
			}
			switch ts.TimeUnit() {
			case schema.TimeUnitMicros:
				return a, b, true
			case schema.TimeUnitMillis:
				if a < math.MinInt64/1000 || b > math.MaxInt64/1000 {
					return nil, nil, false
				}
				return a * 1000, b * 1000, true
			case schema.TimeUnitNanos:
				return floorDiv(a, 1000), floorDiv(b, 1000), true
			}
		}
	case *metadata.TypedColumnIndex[float32]:
		a, b := float64(x.MinValues()[k]), float64(x.MaxValues()[k])
		if (deltaType == "float" || deltaType == "double") && !math.IsNaN(a) && !math.IsNaN(b) {
			return a, b, true
		}
	case *metadata.TypedColumnIndex[float64]:
		a, b := x.MinValues()[k], x.MaxValues()[k]
		if (deltaType == "float" || deltaType == "double") && !math.IsNaN(a) && !math.IsNaN(b) {
			return a, b, true
		}
	case *metadata.TypedColumnIndex[bool]:
		if deltaType == "boolean" {
			return x.MinValues()[k], x.MaxValues()[k], true
		}
	case *metadata.TypedColumnIndex[parquet.ByteArray]:
		if deltaType == "string" && descr.SortOrder() == schema.SortUNSIGNED {
			return string(x.MinValues()[k]), string(x.MaxValues()[k]), true
		}
	}
	return nil, nil, false
}
