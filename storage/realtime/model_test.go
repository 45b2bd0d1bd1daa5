package realtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stratadb/strata/storage"
)

// The tests compare the head with a brute-force model: every appended row kept as a
// list of cells, grouped per chunk and per part exactly as the documented contract
// says, and every expected answer computed by a plain loop over those rows.

const hour = int64(3600e6) // µs

func testSchema() *storage.Schema {
	return &storage.Schema{
		Columns: []storage.Column{
			{Name: "host", Type: storage.TypeString, SQLType: "text"},
			{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
			{Name: "bytes", Type: storage.TypeInt64, SQLType: "bigint"},
			{Name: "price", Type: storage.TypeFloat64, SQLType: "double precision"},
			{Name: "ok", Type: storage.TypeBool, SQLType: "boolean"},
			{Name: "region", Type: storage.TypeString, SQLType: "varchar", NotNull: true},
			{Name: "void", Type: storage.TypeString, SQLType: "text"}, // mostly NULL
			{Name: "user", Type: storage.TypeString, SQLType: "text"}, // high cardinality
		},
		TimeColumn: 1,
	}
}

var testStrings = []string{"", "a", "b", "ä", "日本語", "🙂 emoji", "web-01", "web-02", "db-1", "z\x00z"}

// cell is one value of the model.
type cell struct {
	null bool
	i    int64
	f    float64
	b    bool
	s    string
}

type row []cell

type genOpts struct {
	n        int
	base     int64   // time of the first row, µs
	spread   int64   // times fall in [base, base+spread)
	ordered  bool    // non-decreasing times
	nullProb float64 // per nullable cell
	extreme  bool    // int64 extremes, NaN and infinities
}

// genRows returns n random rows for testSchema.
func genRows(rng *rand.Rand, o genOpts) []row {
	rows := make([]row, o.n)
	t := o.base
	for i := range rows {
		r := make(row, 8)
		if o.ordered {
			t += rng.Int64N(max(1, o.spread/int64(o.n+1)) + 1)
			r[1].i = t
		} else {
			r[1].i = o.base + rng.Int64N(max(1, o.spread))
		}
		null := func() bool { return rng.Float64() < o.nullProb }
		if null() {
			r[0].null = true
		} else {
			r[0].s = testStrings[rng.IntN(len(testStrings))]
		}
		if null() {
			r[2].null = true
		} else {
			r[2].i = rng.Int64N(2000) - 1000
			if o.extreme && rng.IntN(10) == 0 {
				r[2].i = []int64{math.MinInt64, math.MaxInt64, 0}[rng.IntN(3)]
			}
		}
		if null() {
			r[3].null = true
		} else {
			r[3].f = rng.NormFloat64() * 100
			if o.extreme && rng.IntN(10) == 0 {
				r[3].f = []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0}[rng.IntN(4)]
			}
		}
		if null() {
			r[4].null = true
		} else {
			r[4].b = rng.IntN(2) == 0
		}
		r[5].s = []string{"eu", "us", "apac"}[rng.IntN(3)]
		if rng.IntN(20) != 0 {
			r[6].null = true
		} else {
			r[6].s = "v" + string(rune('a'+rng.IntN(3)))
		}
		if null() {
			r[7].null = true
		} else {
			r[7].s = fmt.Sprintf("user-%d", rng.IntN(o.n+1))
		}
		rows[i] = r
	}
	return rows
}

// toColumns builds the Columns an ingest decoder would produce for rows.
func toColumns(schema *storage.Schema, rows []row) *storage.Columns {
	c := storage.NewColumns(schema, len(rows))
	c.Len = len(rows)
	for i, r := range rows {
		for ci, col := range schema.Columns {
			d := &c.Cols[ci]
			switch col.Type {
			case storage.TypeTimestamp, storage.TypeInt64:
				d.Int64 = append(d.Int64, r[ci].i)
			case storage.TypeFloat64:
				d.Float64 = append(d.Float64, r[ci].f)
			case storage.TypeBool:
				d.Bool = append(d.Bool, r[ci].b)
			case storage.TypeString:
				d.String = append(d.String, r[ci].s)
			}
			if r[ci].null {
				c.SetNull(ci, i)
			}
		}
	}
	return c
}

// fromColumns is the inverse of toColumns.
func fromColumns(c *storage.Columns) []row {
	rows := make([]row, c.Len)
	for i := range rows {
		r := make(row, len(c.Cols))
		for ci, col := range c.Schema.Columns {
			d := &c.Cols[ci]
			if c.IsNull(ci, i) {
				r[ci].null = true
				continue
			}
			switch col.Type {
			case storage.TypeTimestamp, storage.TypeInt64:
				r[ci].i = d.Int64[i]
			case storage.TypeFloat64:
				r[ci].f = d.Float64[i]
			case storage.TypeBool:
				r[ci].b = d.Bool[i]
			case storage.TypeString:
				r[ci].s = d.String[i]
			}
		}
		rows[i] = r
	}
	return rows
}

// mpart is a part of the model: the rows of one chunk between two Freezes.
type mpart struct {
	start  int64
	rows   []row
	frozen bool
}

// model mirrors the head: per chunk, frozen parts in Freeze order, then the active one.
type model struct {
	chunk  int64
	chunks map[int64][]*mpart
}

func newModel(chunk int64) *model { return &model{chunk: chunk, chunks: map[int64][]*mpart{}} }

func floorDiv(t, g int64) int64 {
	q := t / g
	if t%g != 0 && t < 0 {
		q--
	}
	return q * g
}

func (m *model) append(rows []row, timeCol int) {
	for _, r := range rows {
		s := floorDiv(r[timeCol].i, m.chunk)
		ps := m.chunks[s]
		if len(ps) == 0 || ps[len(ps)-1].frozen {
			ps = append(ps, &mpart{start: s})
			m.chunks[s] = ps
		}
		p := ps[len(ps)-1]
		p.rows = append(p.rows, r)
	}
}

// freeze seals the active parts and returns them by chunk start.
func (m *model) freeze() []*mpart {
	var out []*mpart
	for _, ps := range m.chunks {
		if p := ps[len(ps)-1]; !p.frozen {
			p.frozen = true
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *mpart) int { return cmpInt64(a.start, b.start) })
	return out
}

func (m *model) drop(parts []*mpart) {
	for _, p := range parts {
		ps := m.chunks[p.start]
		ps = slices.DeleteFunc(ps, func(q *mpart) bool { return q == p })
		if len(ps) == 0 {
			delete(m.chunks, p.start)
		} else {
			m.chunks[p.start] = ps
		}
	}
}

// snapshot returns copies of the non-empty parts, in Snapshot order.
func (m *model) snapshot() []mpart {
	var out []mpart
	for _, s := range slices.Sorted(func(yield func(int64) bool) {
		for s := range m.chunks {
			if !yield(s) {
				return
			}
		}
	}) {
		for _, p := range m.chunks[s] {
			if len(p.rows) > 0 {
				out = append(out, mpart{start: p.start, rows: slices.Clip(p.rows), frozen: p.frozen})
			}
		}
	}
	return out
}

func (m *model) rows() int {
	n := 0
	for _, ps := range m.chunks {
		for _, p := range ps {
			n += len(p.rows)
		}
	}
	return n
}

// wantStats computes a column's statistics by a plain loop.
func wantStats(typ storage.Type, rows []row, ci int) storage.ColumnStats {
	var st storage.ColumnStats
	for _, r := range rows {
		c := r[ci]
		if c.null {
			st.NullCount++
			continue
		}
		switch typ {
		case storage.TypeTimestamp, storage.TypeInt64, storage.TypeBool:
			v := c.i
			if typ == storage.TypeBool {
				v = 0
				if c.b {
					v = 1
				}
			}
			if !st.HasMinMax || v < st.MinInt {
				st.MinInt = v
			}
			if !st.HasMinMax || v > st.MaxInt {
				st.MaxInt = v
			}
			st.HasMinMax = true
		case storage.TypeFloat64:
			if math.IsNaN(c.f) {
				continue
			}
			if !st.HasMinMax || c.f < st.MinFloat {
				st.MinFloat = c.f
			}
			if !st.HasMinMax || c.f > st.MaxFloat {
				st.MaxFloat = c.f
			}
			st.HasMinMax = true
		case storage.TypeString:
			if !st.HasMinMax || c.s < st.MinString {
				st.MinString = c.s
			}
			if !st.HasMinMax || c.s > st.MaxString {
				st.MaxString = c.s
			}
			st.HasMinMax = true
		}
	}
	return st
}

func sameFloat(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}

// checkSource checks every Source method of src against rows (the part's rows in
// arrival order, or any order when ordered is false for a sorted segment).
// laterValues are string values that exist in the part only after rows (Lookup must
// not find them).
func checkSource(t *testing.T, src storage.Source, schema *storage.Schema, rows []row, laterValues map[int][]string) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s (%d rows): %s", src.Name(), len(rows), fmt.Sprintf(format, args...))
	}
	n := len(rows)
	if src.NumRows() != n {
		fail("NumRows %d", src.NumRows())
	}
	tc := schema.TimeColumn
	if n > 0 {
		lo, hi, sorted := rows[0][tc].i, rows[0][tc].i, true
		for i, r := range rows {
			lo, hi = min(lo, r[tc].i), max(hi, r[tc].i)
			if i > 0 && r[tc].i < rows[i-1][tc].i {
				sorted = false
			}
		}
		if src.MinTime() != lo || src.MaxTime() != hi {
			fail("time range [%d,%d], want [%d,%d]", src.MinTime(), src.MaxTime(), lo, hi)
		}
		if got := storage.IsSortedByTime(src); got != sorted {
			fail("SortedByTime %v, want %v", got, sorted)
		}
	}
	var (
		i64 []int64
		f64 []float64
		bs  []bool
		ids []uint32
	)
	for ci, col := range schema.Columns {
		if got, want := src.Stats(ci), wantStats(col.Type, rows, ci); !statsEqual(got, want) {
			fail("column %s: stats %+v, want %+v", col.Name, got, want)
		}
		// Nulls.
		var wantNulls []uint32
		for i, r := range rows {
			if r[ci].null {
				wantNulls = append(wantNulls, uint32(i))
			}
		}
		nb, err := src.Nulls(ci)
		if err != nil {
			fail("Nulls(%d): %v", ci, err)
		}
		if len(wantNulls) == 0 {
			if nb != nil && !nb.IsEmpty() {
				fail("column %s: Nulls %v, want none", col.Name, nb.ToArray())
			}
		} else if nb == nil || !slices.Equal(nb.ToArray(), wantNulls) {
			fail("column %s: Nulls has %d rows, want %d: %v", col.Name, len(bitmapRows(nb)), len(wantNulls), wantNulls[:min(len(wantNulls), 20)])
		}

		// Values, over the full range and a random sub-range.
		ranges := [][2]int{{0, n}}
		if n > 2 {
			ranges = append(ranges, [2]int{n / 3, n - n/4}, [2]int{n - 1, n}, [2]int{n / 2, n / 2})
		}
		for _, rg := range ranges {
			lo, hi := rg[0], rg[1]
			switch col.Type {
			case storage.TypeTimestamp, storage.TypeInt64:
				if i64, err = src.ReadInt64(ci, lo, hi, i64); err != nil || len(i64) != hi-lo {
					fail("ReadInt64(%d, %d, %d): %d values, %v", ci, lo, hi, len(i64), err)
				}
				for i, v := range i64 {
					if c := rows[lo+i][ci]; (c.null && v != 0) || (!c.null && v != c.i) {
						fail("column %s row %d: %d, want %+v", col.Name, lo+i, v, c)
					}
				}
			case storage.TypeFloat64:
				if f64, err = src.ReadFloat64(ci, lo, hi, f64); err != nil || len(f64) != hi-lo {
					fail("ReadFloat64(%d, %d, %d): %d values, %v", ci, lo, hi, len(f64), err)
				}
				for i, v := range f64 {
					if c := rows[lo+i][ci]; (c.null && v != 0) || (!c.null && !sameFloat(v, c.f)) {
						fail("column %s row %d: %v, want %+v", col.Name, lo+i, v, c)
					}
				}
			case storage.TypeBool:
				if bs, err = src.ReadBool(ci, lo, hi, bs); err != nil || len(bs) != hi-lo {
					fail("ReadBool(%d, %d, %d): %d values, %v", ci, lo, hi, len(bs), err)
				}
				for i, v := range bs {
					if c := rows[lo+i][ci]; (c.null && v) || (!c.null && v != c.b) {
						fail("column %s row %d: %v, want %+v", col.Name, lo+i, v, c)
					}
				}
			case storage.TypeString:
				d, err := src.Dict(ci)
				if err != nil {
					fail("Dict(%d): %v", ci, err)
				}
				if ids, err = src.ReadDictIDs(ci, lo, hi, ids); err != nil || len(ids) != hi-lo {
					fail("ReadDictIDs(%d, %d, %d): %d values, %v", ci, lo, hi, len(ids), err)
				}
				for i, id := range ids {
					if c := rows[lo+i][ci]; !c.null && (int(id) >= d.Len() || d.Value(id) != c.s) {
						fail("column %s row %d: id %d, want %q", col.Name, lo+i, id, c.s)
					}
				}
			}
		}
		if col.Type == storage.TypeString {
			checkDict(t, src, ci, rows, laterValues[ci])
		}
		// Wrong-type reads fail.
		if col.Type != storage.TypeInt64 && col.Type != storage.TypeTimestamp {
			if _, err := src.ReadInt64(ci, 0, n, nil); err == nil {
				fail("ReadInt64 on %s column: no error", col.Type)
			}
		}
		if col.Type != storage.TypeString {
			if _, err := src.Dict(ci); err == nil {
				fail("Dict on %s column: no error", col.Type)
			}
		}
	}
	if _, err := src.ReadInt64(tc, 0, n+1, nil); err == nil {
		fail("ReadInt64 past NumRows: no error")
	}
	if _, err := src.ReadInt64(tc, -1, n, nil); err == nil {
		fail("ReadInt64 from -1: no error")
	}
	if _, err := src.Nulls(len(schema.Columns)); err == nil {
		fail("Nulls of a missing column: no error")
	}
}

func bitmapRows(b *roaring.Bitmap) []uint32 {
	if b == nil {
		return nil
	}
	return b.ToArray()
}

func statsEqual(a, b storage.ColumnStats) bool {
	return a.NullCount == b.NullCount && a.HasMinMax == b.HasMinMax &&
		a.MinInt == b.MinInt && a.MaxInt == b.MaxInt &&
		sameFloat(a.MinFloat, b.MinFloat) && sameFloat(a.MaxFloat, b.MaxFloat) &&
		a.MinString == b.MinString && a.MaxString == b.MaxString
}

// checkDict checks a string column's dictionary and bitmaps: for a head, the values
// in first-arrival order; for any source, each value's bitmap is exactly its rows.
func checkDict(t *testing.T, src storage.Source, ci int, rows []row, later []string) {
	t.Helper()
	d, err := src.Dict(ci)
	if err != nil {
		t.Fatalf("%s: Dict(%d): %v", src.Name(), ci, err)
	}
	var order []string
	want := map[string][]uint32{}
	for i, r := range rows {
		if c := r[ci]; !c.null {
			if _, ok := want[c.s]; !ok {
				order = append(order, c.s)
			}
			want[c.s] = append(want[c.s], uint32(i))
		}
	}
	// A view of a part's rows at or past an offset (SnapshotFrom) keeps the
	// part's dictionary: values of the rows before it too.
	v, isView := src.(*View)
	suffix := isView && v.from > 0
	if d.Len() != len(order) && !suffix {
		t.Fatalf("%s: column %d: dictionary of %d values, want %d", src.Name(), ci, d.Len(), len(order))
	}
	if isView && !suffix {
		if d.Sorted() {
			t.Fatalf("%s: head dictionary claims to be sorted", src.Name())
		}
		for id, s := range order {
			if d.Value(uint32(id)) != s {
				t.Fatalf("%s: column %d: Value(%d) = %q, want %q (arrival order)", src.Name(), ci, id, d.Value(uint32(id)), s)
			}
		}
		dv, ok := d.(storage.DictValues)
		if !ok || !slices.Equal(dv.Values(), order) {
			t.Fatalf("%s: column %d: DictValues %v, want %v", src.Name(), ci, ok, order)
		}
	}
	for s, wantRows := range want {
		id, ok := d.Lookup(s)
		if !ok || d.Value(id) != s {
			t.Fatalf("%s: column %d: Lookup(%q) = %d, %v", src.Name(), ci, s, id, ok)
		}
		bm, err := src.Bitmap(ci, id)
		if err != nil {
			t.Fatalf("%s: column %d: Bitmap(%d): %v", src.Name(), ci, id, err)
		}
		if got := bm.ToArray(); !slices.Equal(got, wantRows) {
			t.Fatalf("%s: column %d: Bitmap(%q) = %v, want %v", src.Name(), ci, s, got, wantRows)
		}
	}
	for _, s := range append(later, "never-appended") {
		if _, present := want[s]; present {
			continue
		}
		if id, ok := d.Lookup(s); ok {
			t.Fatalf("%s: column %d: Lookup(%q) = %d for a value the view does not hold", src.Name(), ci, s, id)
		}
	}
	if _, err := src.Bitmap(ci, uint32(d.Len())); err == nil {
		t.Fatalf("%s: column %d: Bitmap past the dictionary: no error", src.Name(), ci)
	}
}

// checkSnapshot checks a Snapshot against the model's snapshot taken at the same point.
func checkSnapshot(t *testing.T, schema *storage.Schema, views []*View, want []mpart, chunk int64) {
	t.Helper()
	if len(views) != len(want) {
		t.Fatalf("%d views, want %d", len(views), len(want))
	}
	for i, v := range views {
		w := want[i]
		if v.ChunkStart() != w.start {
			t.Fatalf("view %d (%s): chunk %d, want %d", i, v.Name(), v.ChunkStart(), w.start)
		}
		if v.MinTime() < w.start || uint64(v.MaxTime())-uint64(w.start) >= uint64(chunk) {
			t.Fatalf("view %d: times [%d,%d] outside chunk %d", i, v.MinTime(), v.MaxTime(), w.start)
		}
		checkSource(t, v, schema, w.rows, nil)
	}
}
