package lakesrc

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// Direct is one row group of a lake file as a storage.Source read straight from
// the Parquet file, with no cache entry: a column chunk is fetched and decoded
// the first time a reader asks for that column, so a query reads only the
// columns it projects or filters on, of only the row groups that survive
// pruning. Text columns come out dictionary-encoded (the chunk's Parquet
// dictionary page and indices as stored when every data page is
// dictionary-encoded, else through arrow-go's reader; stripped of unused
// values; not Sorted, as a real-time head's); Bitmap builds, on its first call for a column, a
// row list per dictionary id in one pass over the ids.
//
// Metadata is answered without reading data pages: NumRows from the footer and
// the deletion vector; MinTime, MaxTime and Stats from the footer's row group
// statistics (partition values for partition columns). When the time
// statistics are not exact (absent, INT96, or rows of the group deleted) the
// time column is read when the Source is created.
//
// Decoded columns stay until ReleaseDecoded (storage.Releasable), which the
// engine calls once a scan of the Source ends, so a scan holds about one row
// group per worker; a later read decodes the column again.
//
// Direct reads with context.Background(): Source methods carry no context, and
// one read is bounded by one column chunk.
type Direct struct {
	df        *lake.DataFile
	rg        int
	lo        int64 // window: the rows are the row group's [lo, lo+rows); see window.go
	windowed  bool
	schema    *storage.Schema
	deltaCols []string
	name      string
	rows      int
	min, max  int64
	stats     []storage.ColumnStats

	mu      sync.Mutex
	cols    []*directCol     // by schema column; nil until decoded. Guarded by mu.
	pre     *lake.ChunkBytes // column chunks fetched ahead (Prefetch). Guarded by mu.
	fetched []bool           // by schema column: in pre or being fetched. Guarded by mu.
	// raw holds string chunks read by RowsWithValues as values and indices,
	// not decoded yet (decode takes them). By schema column. Guarded by mu.
	raw []*lake.DictIDs
}

var (
	_ storage.Source       = (*Direct)(nil)
	_ storage.TimeOrder    = (*Direct)(nil)
	_ storage.Releasable   = (*Direct)(nil)
	_ storage.NullCounter  = (*Direct)(nil)
	_ storage.ValueProber  = (*Direct)(nil)
	_ storage.IDRows       = (*Direct)(nil)
	_ storage.Prefetcher   = (*Direct)(nil)
	_ storage.RemoteReader = (*Direct)(nil)
	_ storage.ValueRows    = (*Direct)(nil)
)

// directCol is one decoded column chunk. Immutable once built, except the
// postings, built once.
type directCol struct {
	ints   []int64
	floats []float64
	bools  []bool
	ids    []uint32
	dict   *directDict
	nulls  *roaring.Bitmap // nil: no NULL
	sorted bool            // ints are non-decreasing (time column)

	postingsOnce sync.Once
	offs         []uint32 // rows of id k: rowsByID[offs[k]:offs[k+1]]
	rowsByID     []uint32
}

// directDict is the dictionary of a decoded text column: distinct values in
// the order of the chunk's Parquet dictionary (not sorted). Lookup uses the
// open-addressing table tab when decoding built one (a chunk read by
// dictionary ids, see fromDictIDs), else a map built on the first Lookup
// unless decoding built it.
type directDict struct {
	vals   []string
	tab    *strTable
	once   sync.Once
	lookup map[string]uint32
}

func (d *directDict) Len() int               { return len(d.vals) }
func (d *directDict) Value(id uint32) string { return d.vals[id] }
func (d *directDict) Sorted() bool           { return false }
func (d *directDict) Values() []string       { return d.vals }
func (d *directDict) Lookup(s string) (uint32, bool) {
	if d.tab != nil {
		return d.tab.find(d.vals, s)
	}
	d.once.Do(func() {
		if d.lookup == nil {
			d.lookup = make(map[string]uint32, len(d.vals))
			for i, v := range d.vals {
				d.lookup[v] = uint32(i)
			}
		}
	})
	id, ok := d.lookup[s]
	return id, ok
}

// newDirect builds the Source of row group rg of df; it reads the time column
// when the footer does not bound it exactly.
func newDirect(ctx context.Context, df *lake.DataFile, rg int, schema *storage.Schema, deltaCols []string) (*Direct, error) {
	d := &Direct{df: df, rg: rg, schema: schema, deltaCols: deltaCols,
		name: fmt.Sprintf("%s#rg%d", df.File().DecodedPath, rg), rows: int(df.RowGroupRows(rg)),
		stats: make([]storage.ColumnStats, len(schema.Columns)), cols: make([]*directCol, len(schema.Columns))}
	for i, c := range schema.Columns {
		d.stats[i] = d.columnStats(i, c.Type)
	}
	tc := schema.TimeColumn
	switch ts := d.stats[tc]; {
	case deltaCols[tc] == "":
		d.min, d.max = 0, 0
	case ts.HasMinMax && !ts.Bounds:
		d.min, d.max = ts.MinInt, ts.MaxInt
	case d.rows == 0:
	default:
		col, err := d.decode(ctx, tc)
		if err != nil {
			return nil, err
		}
		d.min, d.max = math.MaxInt64, math.MinInt64
		for _, v := range col.ints {
			d.min, d.max = min(d.min, v), max(d.max, v)
		}
		d.stats[tc] = storage.ColumnStats{HasMinMax: true, MinInt: d.min, MaxInt: d.max}
		d.cols[tc] = col // d is not shared yet
	}
	return d, nil
}

// columnStats converts the row group's statistics of schema column i.
func (d *Direct) columnStats(i int, t storage.Type) storage.ColumnStats {
	dc := d.deltaCols[i]
	if dc == "" {
		if i == d.schema.TimeColumn {
			return storage.ColumnStats{HasMinMax: true}
		}
		return storage.ColumnStats{NullCount: d.rows}
	}
	st, ok := d.df.Statistics(d.rg, dc)
	if !ok {
		return storage.ColumnStats{Bounds: true}
	}
	return convertStats(st, t)
}

// convertStats converts a lake file's statistics of a column of type t.
func convertStats(st lake.ColumnStatistics, t storage.Type) storage.ColumnStats {
	out := storage.ColumnStats{Bounds: !st.Exact, NullCount: int(st.NullCount)}
	if !st.HasMinMax {
		return out
	}
	switch t {
	case storage.TypeInt64, storage.TypeTimestamp:
		lo, ok1 := st.Min.(int64)
		hi, ok2 := st.Max.(int64)
		out.HasMinMax, out.MinInt, out.MaxInt = ok1 && ok2, lo, hi
	case storage.TypeFloat64:
		lo, ok1 := st.Min.(float64)
		hi, ok2 := st.Max.(float64)
		out.HasMinMax, out.MinFloat, out.MaxFloat = ok1 && ok2, lo, hi
	case storage.TypeString:
		lo, ok1 := st.Min.(string)
		hi, ok2 := st.Max.(string)
		out.HasMinMax, out.MinString, out.MaxString = ok1 && ok2, lo, hi
	case storage.TypeBool:
		lo, ok1 := st.Min.(bool)
		hi, ok2 := st.Max.(bool)
		out.HasMinMax, out.MinInt, out.MaxInt = ok1 && ok2, b2i(lo), b2i(hi)
	}
	if !out.HasMinMax {
		out.Bounds = true // min/max present but of an unexpected type: claim nothing
	}
	return out
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// column returns the decoded column col, decoding it on first use.
func (d *Direct) column(col int) (*directCol, error) {
	if col < 0 || col >= len(d.schema.Columns) {
		return nil, fmt.Errorf("lake file %s: no column %d", d.name, col)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.cols[col]; c != nil {
		return c, nil
	}
	c, err := d.decode(context.Background(), col)
	if err != nil {
		return nil, err
	}
	d.cols[col] = c
	return c, nil
}

// decode reads and converts column col of the row group.
func (d *Direct) decode(ctx context.Context, col int) (*directCol, error) {
	sc := &d.schema.Columns[col]
	out := &directCol{}
	n := d.rows
	if d.deltaCols[col] == "" {
		switch sc.Type {
		case storage.TypeTimestamp, storage.TypeInt64:
			out.ints = make([]int64, n)
		case storage.TypeFloat64:
			out.floats = make([]float64, n)
		case storage.TypeBool:
			out.bools = make([]bool, n)
		case storage.TypeString:
			out.ids, out.dict = make([]uint32, n), &directDict{}
		}
		if col != d.schema.TimeColumn && n > 0 {
			out.nulls = roaring.New()
			out.nulls.AddRange(0, uint64(n))
		}
		out.sorted = true
		return out, nil
	}
	if sc.Type == storage.TypeString {
		// A dictionary-encoded chunk: its dictionary page and indices as
		// they are, no value materialized.
		di, ok, err := d.takeRaw(col) // read by RowsWithValues
		switch {
		case di != nil:
		case d.windowed:
			di, ok, err = d.df.ReadDictIDsRange(ctx, d.rg, d.deltaCols[col], d.lo, d.lo+int64(n))
		default:
			di, ok, err = d.df.ReadDictIDs(ctx, d.rg, d.deltaCols[col], d.pre)
		}
		if err != nil {
			return nil, err
		}
		if ok {
			if len(di.IDs) != n {
				return nil, fmt.Errorf("lake file %s: column %s: %d values for %d rows: %w", d.name, sc.Name, len(di.IDs), n, storage.ErrCorrupt)
			}
			out.fromDictIDs(di)
			return out, nil
		}
	}
	if sc.Type != storage.TypeString {
		// PLAIN and dictionary-encoded pages of numbers, timestamps and
		// booleans, decoded by the lake package itself.
		var rv *lake.RangeValues
		var ok bool
		var err error
		if d.windowed {
			rv, ok, err = d.df.ReadValuesRange(ctx, d.rg, d.deltaCols[col], d.lo, d.lo+int64(n))
		} else {
			rv, ok, err = d.df.ReadValues(ctx, d.rg, d.deltaCols[col], d.pre)
		}
		if err != nil {
			return nil, err
		}
		if ok {
			return d.fromRange(col, rv)
		}
	}
	chunks, err := d.df.ReadColumnWith(ctx, d.rg, d.deltaCols[col], sc.Type == storage.TypeString, d.pre)
	if err != nil {
		return nil, err
	}
	if d.windowed {
		chunks = sliceChunks(chunks, d.lo, d.lo+int64(n))
	}
	defer func() {
		for _, c := range chunks {
			c.Release()
		}
	}()
	fail := func(err error) (*directCol, error) {
		return nil, fmt.Errorf("lake file %s: column %s: %w", d.name, sc.Name, err)
	}
	var nulls []uint32
	base := 0
	for _, c := range chunks {
		for r := 0; r < c.Len() && c.NullN() > 0; r++ {
			if c.IsNull(r) {
				nulls = append(nulls, uint32(base+r))
			}
		}
		base += c.Len()
	}
	if base != n {
		return fail(fmt.Errorf("%d values for %d rows: %w", base, n, storage.ErrCorrupt))
	}
	if len(nulls) > 0 {
		if col == d.schema.TimeColumn {
			return fail(fmt.Errorf("NULL in the time column"))
		}
		out.nulls = roaring.BitmapOf(nulls...)
	}
	if sc.Type == storage.TypeString {
		if err := out.buildDict(chunks, n); err != nil {
			return fail(err)
		}
		return out, nil
	}
	var cd storage.ColumnData
	switch sc.Type {
	case storage.TypeTimestamp, storage.TypeInt64:
		cd.Int64 = make([]int64, 0, n)
	case storage.TypeFloat64:
		cd.Float64 = make([]float64, 0, n)
	case storage.TypeBool:
		cd.Bool = make([]bool, 0, n)
	}
	for _, c := range chunks {
		// Microsecond timestamps without NULLs (what strata writes) are copied
		// as they are; anything else goes through the shared conversion.
		if ts, ok := c.(*array.Timestamp); ok && c.NullN() == 0 && sc.Type == storage.TypeTimestamp &&
			ts.DataType().(*arrow.TimestampType).Unit == arrow.Microsecond {
			for _, v := range ts.TimestampValues() {
				cd.Int64 = append(cd.Int64, int64(v))
			}
			continue
		}
		if err := convertColumn(&cd, sc, c, c.Len()); err != nil {
			return fail(err)
		}
	}
	out.ints, out.floats, out.bools = cd.Int64, cd.Float64, cd.Bool
	if col == d.schema.TimeColumn {
		out.sorted = slices.IsSorted(out.ints)
	}
	return out, nil
}

// buildDict turns string chunks (Dictionary arrays of string or binary values,
// or plain strings) into dictionary ids. A single dictionary-encoded chunk (the
// usual Parquet column chunk) keeps its dictionary's order, minus values no row
// uses; several chunks, or plain ones, are merged through a map.
func (out *directCol) buildDict(chunks []arrow.Array, n int) error {
	out.ids = make([]uint32, n)
	if len(chunks) == 1 {
		if da, ok := chunks[0].(*array.Dictionary); ok {
			return out.oneDictChunk(da)
		}
	}
	ids := map[string]uint32{}
	var vals []string
	base := 0
	for _, c := range chunks {
		switch a := c.(type) {
		case *array.Dictionary:
			dvals, err := dictStrings(a.Dictionary())
			if err != nil {
				return err
			}
			remap := make([]uint32, len(dvals))
			mapped := make([]bool, len(dvals))
			for r := 0; r < a.Len(); r++ {
				if a.IsNull(r) {
					continue
				}
				k := a.GetValueIndex(r)
				if k < 0 || k >= len(dvals) {
					return fmt.Errorf("dictionary index %d of %d: %w", k, len(dvals), storage.ErrCorrupt)
				}
				if !mapped[k] {
					id, ok := ids[dvals[k]]
					if !ok {
						id = uint32(len(vals))
						ids[dvals[k]] = id
						vals = append(vals, dvals[k])
					}
					remap[k], mapped[k] = id, true
				}
				out.ids[base+r] = remap[k]
			}
		default:
			var value func(int) string
			switch v := c.(type) {
			case *array.String:
				value = v.Value
			case *array.LargeString:
				value = v.Value
			case *array.Decimal128: // numeric(p,s) kept as text: canonical at the column's scale
				scale := v.DataType().(*arrow.Decimal128Type).Scale
				value = func(r int) string { return v.Value(r).ToString(scale) }
			default:
				return fmt.Errorf("Delta data of type %s cannot be read as text", c.DataType())
			}
			for r := 0; r < c.Len(); r++ {
				if c.IsNull(r) {
					continue
				}
				s := value(r)
				id, ok := ids[s]
				if !ok {
					s = strings.Clone(s)
					id = uint32(len(vals))
					ids[s] = id
					vals = append(vals, s)
				}
				out.ids[base+r] = id
			}
		}
		base += c.Len()
	}
	out.dict = &directDict{vals: vals, lookup: ids}
	return nil
}

// oneDictChunk takes the ids of a single dictionary-encoded chunk.
func (out *directCol) oneDictChunk(da *array.Dictionary) error {
	dvals, err := dictStrings(da.Dictionary())
	if err != nil {
		return err
	}
	nd := len(dvals)
	used := make([]bool, nd)
	idx32, fast := da.Indices().(*array.Int32)
	for r := 0; r < da.Len(); r++ {
		if da.IsNull(r) {
			continue
		}
		var k int
		if fast {
			k = int(idx32.Value(r))
		} else {
			k = da.GetValueIndex(r)
		}
		if k < 0 || k >= nd {
			return fmt.Errorf("dictionary index %d of %d: %w", k, nd, storage.ErrCorrupt)
		}
		out.ids[r] = uint32(k)
		used[k] = true
	}
	// Drop values no row uses (a Parquet dictionary may hold some, and a
	// dictionary may repeat a value only if one copy is unused).
	if slices.Contains(used, false) {
		remap := make([]uint32, nd)
		kept := dvals[:0:0]
		for k, u := range used {
			if u {
				remap[k] = uint32(len(kept))
				kept = append(kept, dvals[k])
			}
		}
		for r, k := range out.ids {
			out.ids[r] = remap[k]
		}
		dvals = kept
	}
	out.dict = &directDict{vals: dvals}
	return nil
}

// dictStrings copies the values of a dictionary into Go strings sharing one
// allocation.
func dictStrings(dv arrow.Array) ([]string, error) {
	var value func(int) string
	switch v := dv.(type) {
	case *array.String:
		value = v.Value
	case *array.LargeString:
		value = v.Value
	case *array.Binary:
		value = v.ValueString
	default:
		return nil, fmt.Errorf("dictionary of %s cannot be read as text", dv.DataType())
	}
	total := 0
	for k := 0; k < dv.Len(); k++ {
		total += len(value(k))
	}
	var b strings.Builder
	b.Grow(total)
	for k := 0; k < dv.Len(); k++ {
		b.WriteString(value(k))
	}
	all := b.String()
	out := make([]string, dv.Len())
	off := 0
	for k := range out {
		l := len(value(k))
		out[k] = all[off : off+l]
		off += l
	}
	return out, nil
}

// postings builds, once, the rows of each dictionary id (a counting sort).
func (c *directCol) postings() {
	c.postingsOnce.Do(func() {
		nd := c.dict.Len()
		offs := make([]uint32, nd+1)
		isNull := func(r int) bool { return c.nulls != nil && c.nulls.Contains(uint32(r)) }
		for r, id := range c.ids {
			if !isNull(r) {
				offs[id+1]++
			}
		}
		for k := 1; k <= nd; k++ {
			offs[k] += offs[k-1]
		}
		rows := make([]uint32, offs[nd])
		next := slices.Clone(offs[:nd])
		for r, id := range c.ids {
			if !isNull(r) {
				rows[next[id]] = uint32(r)
				next[id]++
			}
		}
		c.offs, c.rowsByID = offs, rows
	})
}

// Schema is the schema the Source was created with.
func (d *Direct) Schema() *storage.Schema { return d.schema }

// Name is the lake file path and the row group ("part-0.parquet#rg2").
func (d *Direct) Name() string { return d.name }

// NumRows is the number of live rows of the row group.
func (d *Direct) NumRows() int { return d.rows }

// MinTime bounds the time column from below (exactly: a row holds it).
func (d *Direct) MinTime() int64 { return d.min }

// MaxTime bounds the time column from above (exactly: a row holds it).
func (d *Direct) MaxTime() int64 { return d.max }

// Stats are the row group's footer statistics (Bounds when not exact).
func (d *Direct) Stats(col int) storage.ColumnStats { return d.stats[col] }

// RemoteReads reports whether the row group's bytes come from object storage
// (storage.RemoteReader).
func (d *Direct) RemoteReads() bool { return d.df.Remote() }

// Path names how the Source reads its rows, for EXPLAIN.
func (d *Direct) ReadPath() string { return "parquet" }

// SortedByTime reports whether the row group's rows are sorted by time, which
// needs the time column: it is decoded here (an error reads as unsorted; the
// read that follows reports it).
func (d *Direct) SortedByTime() bool {
	c, err := d.column(d.schema.TimeColumn)
	return err == nil && c.sorted
}

// ReleaseDecoded drops the decoded columns and the chunks fetched ahead; later
// reads fetch and decode them again.
func (d *Direct) ReleaseDecoded() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.cols)
	d.pre, d.fetched, d.raw = nil, nil, nil
}

// Prefetch fetches the column chunks of the columns in cols not decoded or
// fetched yet, in one lake.DataFile.FetchChunks (coalesced range reads,
// several in flight, on object storage; nothing on a local folder). Their
// decoding then reads no more bytes.
func (d *Direct) Prefetch(cols []int) {
	if d.windowed {
		return // pages are read as the window needs them, not whole chunks
	}
	d.mu.Lock()
	if d.fetched == nil {
		d.fetched = make([]bool, len(d.schema.Columns))
	}
	var names []string
	var mine []int
	for _, c := range cols {
		if c < 0 || c >= len(d.schema.Columns) || d.cols[c] != nil || d.fetched[c] || d.deltaCols[c] == "" {
			continue
		}
		d.fetched[c] = true
		names = append(names, d.deltaCols[c])
		mine = append(mine, c)
	}
	d.mu.Unlock()
	if len(names) == 0 {
		return
	}
	pre, err := d.df.FetchChunks(context.Background(), d.rg, names)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fetched == nil {
		return // released meanwhile
	}
	if err != nil || pre == nil {
		for _, c := range mine {
			d.fetched[c] = false // the read fetches (and reports) it
		}
		return
	}
	d.pre = d.pre.Merge(pre)
}

func (d *Direct) typed(col int, t storage.Type) (*directCol, error) {
	if col < 0 || col >= len(d.schema.Columns) {
		return nil, fmt.Errorf("lake file %s: no column %d", d.name, col)
	}
	got := d.schema.Columns[col].Type
	if got != t && !(t == storage.TypeInt64 && got == storage.TypeTimestamp) {
		return nil, fmt.Errorf("lake file %s: column %s is %s, read as %s", d.name, d.schema.Columns[col].Name, got, t)
	}
	return d.column(col)
}

func checkRange(name string, start, end, n int) error {
	if start < 0 || end < start || end > n {
		return fmt.Errorf("lake file %s: rows [%d, %d) out of range [0, %d)", name, start, end, n)
	}
	return nil
}

func (d *Direct) Dict(col int) (storage.Dict, error) {
	c, err := d.typed(col, storage.TypeString)
	if err != nil {
		return nil, err
	}
	return c.dict, nil
}

func (d *Direct) Bitmap(col int, id uint32) (*roaring.Bitmap, error) {
	c, err := d.typed(col, storage.TypeString)
	if err != nil {
		return nil, err
	}
	if int(id) >= c.dict.Len() {
		return nil, fmt.Errorf("lake file %s: column %s: no dictionary id %d", d.name, d.schema.Columns[col].Name, id)
	}
	c.postings()
	bm := roaring.New()
	bm.AddMany(c.rowsByID[c.offs[id]:c.offs[id+1]])
	return bm, nil
}

// MayHold reports whether string column col may hold one of vals
// (storage.ValueProber): a decoded column answers from its dictionary; else,
// when every data page of the column chunk is dictionary-encoded, from the
// chunk's dictionary page alone, without fetching its data pages.
func (d *Direct) MayHold(col int, vals []string) (bool, error) {
	if col < 0 || col >= len(d.schema.Columns) || d.schema.Columns[col].Type != storage.TypeString {
		return true, nil
	}
	d.mu.Lock()
	c := d.cols[col]
	d.mu.Unlock()
	if c != nil {
		for _, v := range vals {
			if _, ok := c.dict.Lookup(v); ok {
				return true, nil
			}
		}
		return false, nil
	}
	if d.deltaCols[col] == "" {
		return false, nil // not in the file: every row NULL
	}
	dict, ok, err := d.df.DictionaryValues(context.Background(), d.rg, d.deltaCols[col])
	if err != nil || !ok {
		return true, err
	}
	if len(vals) > 4 {
		want := make(map[string]bool, len(vals))
		for _, v := range vals {
			want[v] = true
		}
		return slices.ContainsFunc(dict, func(s string) bool { return want[s] }), nil
	}
	for _, v := range vals {
		if slices.Contains(dict, v) {
			return true, nil
		}
	}
	return false, nil
}

// takeRaw returns (and forgets) column col as RowsWithValues read it, or nil.
// REQUIRES: d.mu is held, or d is not shared yet.
func (d *Direct) takeRaw(col int) (*lake.DictIDs, bool, error) {
	if d.raw == nil || d.raw[col] == nil {
		return nil, false, nil
	}
	di := d.raw[col]
	d.raw[col] = nil
	return di, true, nil
}

// RowsWithValues returns the rows of string column col holding one of vals
// (storage.ValueRows). A column not decoded yet is read as its values and
// indices (lake.DataFile.ReadDictIDs) and the values compared with vals, one
// pass over the ids: no value is hashed and no dictionary built, which an
// equality filter on a column of mostly distinct values (a session id) would
// otherwise pay for every row group. The chunk read is kept for decoding the
// column, should the query read it. ok is false for chunks read otherwise.
func (d *Direct) RowsWithValues(col int, vals []string) (*roaring.Bitmap, bool, error) {
	if col < 0 || col >= len(d.schema.Columns) || d.schema.Columns[col].Type != storage.TypeString {
		return nil, false, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.cols[col]; c != nil {
		var ids []uint32
		for _, v := range vals {
			if id, ok := c.dict.Lookup(v); ok {
				ids = append(ids, id)
			}
		}
		return c.rowsWithIDs(ids), true, nil
	}
	if d.deltaCols[col] == "" {
		return roaring.New(), true, nil // not in the file: every row NULL
	}
	n := d.rows
	var di *lake.DictIDs
	var ok bool
	var err error
	if d.windowed {
		di, ok, err = d.df.ReadDictIDsRange(context.Background(), d.rg, d.deltaCols[col], d.lo, d.lo+int64(n))
	} else {
		di, ok, err = d.df.ReadDictIDs(context.Background(), d.rg, d.deltaCols[col], d.pre)
	}
	if err != nil || !ok {
		return nil, false, err
	}
	if len(di.IDs) != n {
		return nil, false, fmt.Errorf("lake file %s: column %s: %d values for %d rows: %w", d.name, d.schema.Columns[col].Name, len(di.IDs), n, storage.ErrCorrupt)
	}
	match := make([]bool, len(di.Values))
	found := false
	for k, v := range di.Values {
		for _, w := range vals {
			if v == w {
				match[k], found = true, true
				break
			}
		}
	}
	bm := roaring.New()
	if found {
		var rows []uint32
		nulls := di.Nulls
		for r, id := range di.IDs {
			if len(nulls) > 0 && nulls[0] == uint32(r) {
				nulls = nulls[1:] // a NULL row's id is 0, not a value
				continue
			}
			if match[id] {
				rows = append(rows, uint32(r))
			}
		}
		bm.AddMany(rows)
	}
	if d.raw == nil {
		d.raw = make([]*lake.DictIDs, len(d.schema.Columns))
	}
	d.raw[col] = di
	return bm, true, nil
}

// RowsWithIDs returns the rows of string column col holding one of ids
// (storage.IDRows): one pass over the column's ids, with no per-id postings.
func (d *Direct) RowsWithIDs(col int, ids []uint32) (*roaring.Bitmap, error) {
	c, err := d.typed(col, storage.TypeString)
	if err != nil {
		return nil, err
	}
	nd := c.dict.Len()
	for _, id := range ids {
		if int(id) >= nd {
			return nil, fmt.Errorf("lake file %s: column %s: no dictionary id %d", d.name, d.schema.Columns[col].Name, id)
		}
	}
	return c.rowsWithIDs(ids), nil
}

func (c *directCol) rowsWithIDs(ids []uint32) *roaring.Bitmap {
	var rows []uint32
	switch len(ids) {
	case 0:
		return roaring.New()
	case 1:
		want := ids[0]
		for r, id := range c.ids {
			if id == want {
				rows = append(rows, uint32(r))
			}
		}
	default:
		want := make([]bool, c.dict.Len())
		for _, id := range ids {
			want[id] = true
		}
		for r, id := range c.ids {
			if want[id] {
				rows = append(rows, uint32(r))
			}
		}
	}
	bm := roaring.New()
	bm.AddMany(rows)
	if c.nulls != nil {
		bm.AndNot(c.nulls) // a NULL row's id is unspecified
	}
	return bm
}

// NullCount is the footer's exact NULL count of column col (storage.NullCounter).
func (d *Direct) NullCount(col int) (int, bool) {
	if col < 0 || col >= len(d.stats) || d.stats[col].Bounds {
		return 0, false
	}
	return d.stats[col].NullCount, true
}

func (d *Direct) Nulls(col int) (*roaring.Bitmap, error) {
	if col < 0 || col >= len(d.schema.Columns) {
		return nil, fmt.Errorf("lake file %s: no column %d", d.name, col)
	}
	if st := d.stats[col]; !st.Bounds && st.NullCount == 0 {
		return nil, nil // the footer says: no NULL
	}
	c, err := d.column(col)
	if err != nil {
		return nil, err
	}
	return c.nulls, nil
}

func (d *Direct) ReadInt64(col, start, end int, dst []int64) ([]int64, error) {
	c, err := d.typed(col, storage.TypeInt64)
	if err != nil {
		return dst, err
	}
	if err := checkRange(d.name, start, end, d.rows); err != nil {
		return dst, err
	}
	return append(dst[:0], c.ints[start:end]...), nil
}

func (d *Direct) ReadFloat64(col, start, end int, dst []float64) ([]float64, error) {
	c, err := d.typed(col, storage.TypeFloat64)
	if err != nil {
		return dst, err
	}
	if err := checkRange(d.name, start, end, d.rows); err != nil {
		return dst, err
	}
	return append(dst[:0], c.floats[start:end]...), nil
}

func (d *Direct) ReadBool(col, start, end int, dst []bool) ([]bool, error) {
	c, err := d.typed(col, storage.TypeBool)
	if err != nil {
		return dst, err
	}
	if err := checkRange(d.name, start, end, d.rows); err != nil {
		return dst, err
	}
	return append(dst[:0], c.bools[start:end]...), nil
}

func (d *Direct) ReadDictIDs(col, start, end int, dst []uint32) ([]uint32, error) {
	c, err := d.typed(col, storage.TypeString)
	if err != nil {
		return dst, err
	}
	if err := checkRange(d.name, start, end, d.rows); err != nil {
		return dst, err
	}
	return append(dst[:0], c.ids[start:end]...), nil
}

// maxDataFiles bounds the footers the Cache remembers (a footer of a wide file
// with many row groups is tens of kilobytes).
const maxDataFiles = 4096

// dataFile returns f's footer and deletion vector, read once per file and
// remembered.
func (c *Cache) dataFile(ctx context.Context, location string, snap *lake.Snapshot, f *lake.AddFile) (*lake.DataFile, error) {
	key := dataFileKey(location, f)
	c.mu.Lock()
	df := c.dataFiles[key]
	c.mu.Unlock()
	if df != nil {
		return df.For(snap), nil
	}
	df, err := snap.OpenDataFile(ctx, f)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.dataFiles == nil || len(c.dataFiles) >= maxDataFiles {
		c.dataFiles = map[string]*lake.DataFile{}
	}
	c.dataFiles[key] = df.For(nil) // remember the file, not the snapshot
	c.mu.Unlock()
	return df, nil
}

func dataFileKey(location string, f *lake.AddFile) string {
	return location + "\x00" + f.DecodedPath + "\x00" + f.DeletionVector.UniqueID() + "\x00" + fmt.Sprint(f.Size)
}

// FileWanted reports whether lake file f of snap may hold rows p wants, judging
// by its add action alone (no byte of the file is read): its Delta stats' row
// count and time range, and p.Allow over the bounds its stats and partition
// values give every column.
func FileWanted(snap *lake.Snapshot, f *lake.AddFile, schema *storage.Schema, deltaCols []string, p storage.Prune) bool {
	if rows, lo, hi, ok := deltaBounds(snap, f, schema, deltaCols); ok && (rows == 0 || hi < p.TimeMin || lo > p.TimeMax) {
		return false
	}
	return p.Allows(newFileStats(snap, f, schema, deltaCols))
}

// DirectSources returns the row groups of lake file f of snap that may hold rows
// p wants, each as a Direct Source over the Parquet file (schema and deltaCols
// as for Source). A file whose Delta stats put it wholly outside p's time range,
// or that p.Allow refuses by its Delta stats (bounds of every column and the
// partition values), is not opened; otherwise its footer is read (once per
// file: it is remembered) and row groups that p leaves out by their footer
// statistics are left out.
func (c *Cache) DirectSources(ctx context.Context, location string, snap *lake.Snapshot, f *lake.AddFile,
	schema *storage.Schema, deltaCols []string, p storage.Prune) ([]*Direct, error) {
	if err := schema.Validate(); err != nil {
		return nil, fmt.Errorf("lake file %s: %w", f.DecodedPath, err)
	}
	if len(deltaCols) != len(schema.Columns) {
		return nil, fmt.Errorf("lake file %s: %d Delta columns for %d schema columns", f.DecodedPath, len(deltaCols), len(schema.Columns))
	}
	for i, dc := range deltaCols {
		if dc != "" && !strings.EqualFold(dc, schema.Columns[i].Name) {
			return nil, fmt.Errorf("lake file %s: schema column %q reads Delta column %q: names must match", f.DecodedPath, schema.Columns[i].Name, dc)
		}
	}
	if !FileWanted(snap, f, schema, deltaCols, p) {
		return nil, nil
	}
	df, err := c.dataFile(ctx, location, snap, f)
	if err != nil {
		return nil, err
	}
	var out []*Direct
	for rg := 0; rg < df.NumRowGroups(); rg++ {
		if df.RowGroupRows(rg) == 0 {
			continue
		}
		d, err := newDirect(ctx, df, rg, schema, deltaCols)
		if err != nil {
			return nil, err
		}
		if d.max < p.TimeMin || d.min > p.TimeMax || !p.Allows(d) {
			continue
		}
		if d, err = d.narrow(ctx, p); err != nil {
			return nil, err
		}
		if d == nil {
			continue // no page holds a wanted row
		}
		out = append(out, d)
	}
	return out, nil
}
