package lakesrc

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// narrow applies the file's page indexes to d: when a scan's time range or
// its judgement over column bounds (p) rules out the pages at the start or
// the end of the row group on some column, the result is a Direct over the
// rows [lo, hi) between them (a window), whose columns are read page by page:
// only the pages holding those rows are fetched. It returns d itself when no
// page index narrows it (no index, no filter, a row group with deleted rows),
// and nil when no page may hold a wanted row.
//
// The window is the hull of the pages each column's index keeps, intersected
// over the columns: rows between two kept pages are read even when a page
// between them was ruled out. A window's statistics are the row group's, as
// bounds, and its time range is read from its time column.
func (d *Direct) narrow(ctx context.Context, p storage.Prune) (*Direct, error) {
	rows := int64(d.rows)
	tc := d.schema.TimeColumn
	if rows == 0 || d.df.RowGroupHasDeletes(d.rg) {
		return d, nil
	}
	timeCut := d.deltaCols[tc] != "" && (p.TimeMin > d.min || p.TimeMax < d.max)
	if !timeCut && p.Allow == nil {
		return d, nil
	}
	// The columns whose bounds the judgement reads (and the time column when
	// the time range cuts into the row group): only their page indexes are
	// read.
	judged := make([]bool, len(d.schema.Columns))
	judged[tc] = timeCut
	if p.Allow != nil {
		p.Allow(recordingView{d, judged})
	}
	var names []string
	var cols []int
	for i, dc := range d.deltaCols {
		if judged[i] && dc != "" && d.df.HasPageIndex(d.rg, dc) {
			names, cols = append(names, dc), append(cols, i)
		}
	}
	if len(names) == 0 {
		return d, nil
	}
	pages, err := d.df.Pages(ctx, d.rg, names)
	if err != nil {
		return nil, err
	}
	lo, hi := int64(0), rows
	for j, ps := range pages {
		if len(ps) < 2 {
			continue
		}
		i := cols[j]
		a, b := rows, int64(0)
		for _, pg := range ps {
			st := pageStats(pg, d.schema.Columns[i].Type)
			if i == tc && st.HasMinMax && (st.MaxInt < p.TimeMin || st.MinInt > p.TimeMax) {
				continue
			}
			if p.Allow != nil && !p.Allow(pageView{d: d, col: i, st: st, rows: int(pg.Rows)}) {
				continue
			}
			a, b = min(a, pg.FirstRow), max(b, pg.FirstRow+pg.Rows)
		}
		lo, hi = max(lo, a), min(hi, b)
	}
	if lo >= hi {
		return nil, nil
	}
	if lo == 0 && hi == rows {
		return d, nil
	}
	w := &Direct{df: d.df, rg: d.rg, lo: lo, windowed: true, schema: d.schema, deltaCols: d.deltaCols,
		name: fmt.Sprintf("%s[%d:%d]", d.name, lo, hi), rows: int(hi - lo),
		stats: slices.Clone(d.stats), cols: make([]*directCol, len(d.schema.Columns))}
	for i := range w.stats {
		w.stats[i].Bounds = true
	}
	if d.deltaCols[tc] == "" {
		return w, nil
	}
	col, err := w.decode(ctx, tc)
	if err != nil {
		return nil, err
	}
	w.min, w.max = math.MaxInt64, math.MinInt64
	for _, v := range col.ints {
		w.min, w.max = min(w.min, v), max(w.max, v)
	}
	w.stats[tc] = storage.ColumnStats{HasMinMax: true, MinInt: w.min, MaxInt: w.max}
	w.cols[tc] = col // w is not shared yet
	return w, nil
}

// pageStats converts a page's statistics from the page index: bounds, except
// for a page of NULLs only, which is exact.
func pageStats(pg lake.PageStats, t storage.Type) storage.ColumnStats {
	if pg.HasNullCount && pg.NullCount == pg.Rows && !pg.HasMinMax {
		return storage.ColumnStats{NullCount: int(pg.Rows)}
	}
	st := convertStats(pg.ColumnStatistics, t)
	st.Bounds = true
	return st
}

// recordingView is d's statistics, noting the columns a judgement reads.
type recordingView struct {
	d    *Direct
	read []bool
}

func (v recordingView) NumRows() int { return v.d.NumRows() }

func (v recordingView) Stats(col int) storage.ColumnStats {
	if col >= 0 && col < len(v.read) {
		v.read[col] = true
	}
	return v.d.Stats(col)
}

// pageView is the statistics of one page of column col of a row group: that
// column's from the page index, the others' the row group's, as bounds.
type pageView struct {
	d    *Direct
	col  int
	st   storage.ColumnStats
	rows int
}

func (v pageView) NumRows() int { return v.rows }

func (v pageView) Stats(col int) storage.ColumnStats {
	if col == v.col {
		return v.st
	}
	st := v.d.stats[col]
	st.Bounds = true
	return st
}

// fromRange makes the decoded column col of a window from its values.
func (d *Direct) fromRange(col int, rv *lake.RangeValues) (*directCol, error) {
	sc := &d.schema.Columns[col]
	out := &directCol{}
	n := d.rows
	var got int
	switch sc.Type {
	case storage.TypeTimestamp, storage.TypeInt64:
		out.ints, got = rv.Int64, len(rv.Int64)
	case storage.TypeFloat64:
		out.floats, got = rv.Float64, len(rv.Float64)
	case storage.TypeBool:
		out.bools, got = rv.Bool, len(rv.Bool)
	default:
		return nil, fmt.Errorf("lake file %s: column %s: %s values read as %s", d.name, sc.Name, "numeric", sc.Type)
	}
	if got != n || (len(rv.Int64) > 0 && sc.Type != storage.TypeTimestamp && sc.Type != storage.TypeInt64) ||
		(len(rv.Float64) > 0 && sc.Type != storage.TypeFloat64) || (len(rv.Bool) > 0 && sc.Type != storage.TypeBool) {
		return nil, fmt.Errorf("lake file %s: column %s: %d values of another type for %d rows: %w", d.name, sc.Name, got, n, storage.ErrCorrupt)
	}
	if len(rv.Nulls) > 0 {
		if col == d.schema.TimeColumn {
			return nil, fmt.Errorf("lake file %s: column %s: NULL in the time column", d.name, sc.Name)
		}
		out.nulls = roaring.BitmapOf(rv.Nulls...)
	}
	if col == d.schema.TimeColumn {
		out.sorted = slices.IsSorted(out.ints)
	}
	return out, nil
}

// sliceChunks returns rows [lo, hi) of the arrays chunks (consecutive rows
// from 0), releasing chunks.
func sliceChunks(chunks []arrow.Array, lo, hi int64) []arrow.Array {
	var out []arrow.Array
	var base int64
	for _, c := range chunks {
		n := int64(c.Len())
		a, b := max(lo, base), min(hi, base+n)
		if a < b {
			out = append(out, array.NewSlice(c, a-base, b-base))
		}
		base += n
		c.Release()
	}
	return out
}
