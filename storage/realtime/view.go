package realtime

import (
	"fmt"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stratadb/strata/storage"
)

// View is a read-only prefix of one part of the Head: a storage.Source and a
// storage.TimeOrder. It answers for the rows published when Snapshot created it,
// however many rows are appended later, and stays readable after Drop. Safe for
// concurrent use.
type View struct {
	p  *part
	st *partState // immutable
	// from is the part's row that is the view's row 0: 0, or for a view of
	// the rows at or past an offset (SnapshotFrom) the first such row; base is
	// then the published state the suffix was cut from.
	from int
	base *partState

	mu      sync.Mutex
	bitmaps map[uint64]*roaring.Bitmap // (col<<32 | id) → trimmed clone; col<<32 | nullsKey for Nulls
}

var (
	_ storage.Source     = (*View)(nil)
	_ storage.TimeOrder  = (*View)(nil)
	_ storage.DictValues = (*viewDict)(nil)
)

// nullsKey marks the null bitmap in View.bitmaps (dictionary ids are < 2^32-1).
const nullsKey = 1<<32 - 1

// ChunkStart returns the start (µs) of the time chunk the view's rows belong to.
func (v *View) ChunkStart() int64 { return v.p.chunkStart }

// SortedByTime reports whether the view's rows arrived in non-decreasing time order.
func (v *View) SortedByTime() bool { return v.st.sorted }

// Name identifies the view's part in errors and EXPLAIN: "head/<chunk start>/<seq>".
func (v *View) Name() string {
	if v.from > 0 {
		return fmt.Sprintf("%s+%d", v.p.name, v.from)
	}
	return v.p.name
}

func (v *View) Schema() *storage.Schema { return v.p.schema }

func (v *View) NumRows() int   { return v.st.n }
func (v *View) MinTime() int64 { return v.st.minTime }
func (v *View) MaxTime() int64 { return v.st.maxTime }

// Stats returns the statistics of column col over the view's rows.
func (v *View) Stats(col int) storage.ColumnStats { return v.st.stats[col] }

func (v *View) column(col int, op string, types ...storage.Type) (*colState, error) {
	schema := v.p.schema
	if col < 0 || col >= len(schema.Columns) {
		return nil, fmt.Errorf("%s: %s: column %d out of range [0,%d)", v.p.name, op, col, len(schema.Columns))
	}
	c := &schema.Columns[col]
	for _, t := range types {
		if c.Type == t {
			return &v.st.cols[col], nil
		}
	}
	return nil, fmt.Errorf("%s: column %s: %s on a %s column", v.p.name, c.Name, op, c.Type)
}

func readRange[T any](v *View, col, start, end int, src, dst []T) ([]T, error) {
	dst = dst[:0]
	if start < 0 || end > v.st.n || start > end {
		return dst, fmt.Errorf("%s: column %s: row range [%d,%d) out of range [0,%d)",
			v.p.name, v.p.schema.Columns[col].Name, start, end, v.st.n)
	}
	return append(dst, src[start:end]...), nil
}

// ReadInt64 reads rows [start, end) of a timestamp or int64 column; NULL rows read as 0.
func (v *View) ReadInt64(col, start, end int, dst []int64) ([]int64, error) {
	c, err := v.column(col, "ReadInt64", storage.TypeInt64, storage.TypeTimestamp)
	if err != nil {
		return dst[:0], err
	}
	return readRange(v, col, start, end, c.i64, dst)
}

// ReadFloat64 reads rows [start, end) of a float64 column; NULL rows read as 0.
func (v *View) ReadFloat64(col, start, end int, dst []float64) ([]float64, error) {
	c, err := v.column(col, "ReadFloat64", storage.TypeFloat64)
	if err != nil {
		return dst[:0], err
	}
	return readRange(v, col, start, end, c.f64, dst)
}

// ReadBool reads rows [start, end) of a bool column; NULL rows read as false.
func (v *View) ReadBool(col, start, end int, dst []bool) ([]bool, error) {
	c, err := v.column(col, "ReadBool", storage.TypeBool)
	if err != nil {
		return dst[:0], err
	}
	return readRange(v, col, start, end, c.b, dst)
}

// ReadDictIDs reads rows [start, end) of a string column as dictionary ids; NULL rows
// read as id 0.
func (v *View) ReadDictIDs(col, start, end int, dst []uint32) ([]uint32, error) {
	c, err := v.column(col, "ReadDictIDs", storage.TypeString)
	if err != nil {
		return dst[:0], err
	}
	return readRange(v, col, start, end, c.ids, dst)
}

// Dict returns the dictionary of string column col as of the view: ids in arrival
// order, not sorted.
func (v *View) Dict(col int) (storage.Dict, error) {
	c, err := v.column(col, "Dict", storage.TypeString)
	if err != nil {
		return nil, err
	}
	return &viewDict{p: v.p, col: col, values: c.dict}, nil
}

// Bitmap returns the rows of string column col whose dictionary id is id. The bitmap
// is built on first use and cached in the view; it is read-only.
func (v *View) Bitmap(col int, id uint32) (*roaring.Bitmap, error) {
	c, err := v.column(col, "Bitmap", storage.TypeString)
	if err != nil {
		return nil, err
	}
	if int(id) >= len(c.dict) {
		return nil, fmt.Errorf("%s: column %s: dictionary id %d out of range [0,%d)", v.p.name, v.p.schema.Columns[col].Name, id, len(c.dict))
	}
	return v.cached(uint64(col)<<32|uint64(id), func() *roaring.Bitmap {
		c := &v.p.cols[col]
		if bm := c.bitmaps[id]; bm != nil {
			return bm.Clone()
		}
		return roaring.BitmapOf(c.small[id]...)
	}), nil
}

// Nulls returns the rows where column col is NULL; nil when there are none. The
// bitmap is built on first use and cached in the view; it is read-only.
func (v *View) Nulls(col int) (*roaring.Bitmap, error) {
	if col < 0 || col >= len(v.st.cols) {
		return nil, fmt.Errorf("%s: Nulls: column %d out of range [0,%d)", v.p.name, col, len(v.st.cols))
	}
	if v.st.stats[col].NullCount == 0 {
		return nil, nil
	}
	return v.cached(uint64(col)<<32|nullsKey, func() *roaring.Bitmap { return v.p.cols[col].nulls.Clone() }), nil
}

// cached returns the view's trimmed copy of a part bitmap, building it on first use:
// pick, called under the part's mutex, returns a bitmap the caller owns.
func (v *View) cached(key uint64, pick func() *roaring.Bitmap) *roaring.Bitmap {
	v.mu.Lock()
	bm := v.bitmaps[key]
	v.mu.Unlock()
	if bm != nil {
		return bm
	}

	v.p.mu.Lock()
	bm = pick() // a Clone is O(containers): copy-on-write shares them
	v.p.mu.Unlock()
	// The appender may have added rows past the view since it was taken, and a
	// suffix view leaves out the part's first rows. The clone is ours: trimming
	// copies the shared last container first.
	bm = v.trimBitmap(bm)
	// Readers may clone or combine the bitmap concurrently: with copy-on-write off,
	// that only reads it (its shared containers stay flagged, so even a write would
	// copy them first).
	bm.SetCopyOnWrite(false)

	v.mu.Lock()
	defer v.mu.Unlock()
	if prev := v.bitmaps[key]; prev != nil {
		return prev
	}
	if v.bitmaps == nil {
		v.bitmaps = make(map[uint64]*roaring.Bitmap)
	}
	v.bitmaps[key] = bm
	return bm
}

// viewDict is a string column's dictionary as of a view.
type viewDict struct {
	p      *part
	col    int
	values []string // the view's prefix of the part's values
}

func (d *viewDict) Len() int         { return len(d.values) }
func (d *viewDict) Sorted() bool     { return false }
func (d *viewDict) Values() []string { return d.values }

func (d *viewDict) Value(id uint32) string {
	if int(id) >= len(d.values) {
		panic(fmt.Sprintf("BUG: dictionary id %d out of range [0,%d)", id, len(d.values)))
	}
	return d.values[id]
}

// Lookup returns the id of s if s is among the view's values.
func (d *viewDict) Lookup(s string) (uint32, bool) {
	d.p.dictMu.RLock()
	id, ok := d.p.cols[d.col].index[s]
	d.p.dictMu.RUnlock()
	if !ok || int(id) >= len(d.values) {
		return 0, false
	}
	return id, true
}
