package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stratadb/strata/storage"
)

// memSource is a simple in-memory storage.Source for tests: rows sorted by time, a
// sorted dictionary and one bitmap per value for string columns, stats per column.
type memSource struct {
	name    string
	cols    *storage.Columns
	dicts   map[int]*memDict
	ids     map[int][]uint32
	bitmaps map[int][]*roaring.Bitmap
	nulls   map[int]*roaring.Bitmap
	stats   []storage.ColumnStats
	// unsorted: rows are in a random order, as a real-time head's arrival order
	// can be (storage.TimeOrder reports false).
	unsorted   bool
	minT, maxT int64
}

func (s *memSource) SortedByTime() bool { return !s.unsorted }

type memDict struct{ vals []string }

func (d *memDict) Len() int               { return len(d.vals) }
func (d *memDict) Value(id uint32) string { return d.vals[id] }
func (d *memDict) Sorted() bool           { return true }
func (d *memDict) Values() []string       { return d.vals }
func (d *memDict) Lookup(s string) (uint32, bool) {
	i := sort.SearchStrings(d.vals, s)
	if i < len(d.vals) && d.vals[i] == s {
		return uint32(i), true
	}
	return 0, false
}

// sortColumns returns a copy of c with rows ordered by time (stable).
func sortColumns(c *storage.Columns) *storage.Columns {
	perm := make([]int, c.Len)
	for i := range perm {
		perm[i] = i
	}
	tc := c.Schema.TimeColumn
	sort.SliceStable(perm, func(a, b int) bool { return c.Cols[tc].Int64[perm[a]] < c.Cols[tc].Int64[perm[b]] })
	return permuteColumns(c, perm)
}

// permuteColumns returns a copy of c whose row k is c's row perm[k].
func permuteColumns(c *storage.Columns, perm []int) *storage.Columns {
	out := storage.NewColumns(c.Schema, c.Len)
	out.Len = c.Len
	for ci, col := range c.Schema.Columns {
		src := &c.Cols[ci]
		dst := &out.Cols[ci]
		for _, r := range perm {
			switch col.Type {
			case storage.TypeTimestamp, storage.TypeInt64:
				dst.Int64 = append(dst.Int64, src.Int64[r])
			case storage.TypeFloat64:
				dst.Float64 = append(dst.Float64, src.Float64[r])
			case storage.TypeBool:
				dst.Bool = append(dst.Bool, src.Bool[r])
			case storage.TypeString:
				dst.String = append(dst.String, src.String[r])
			}
		}
		if src.Null != nil {
			dst.Null = make([]bool, c.Len)
			for k, r := range perm {
				dst.Null[k] = c.IsNull(ci, r)
			}
		}
	}
	return out
}

func newMemSource(name string, c *storage.Columns) *memSource {
	return newMemSourceOrder(name, c, nil)
}

// newMemSourceOrder builds a source sorted by time when shuffle is nil, else with its
// rows in the random order shuffle gives.
func newMemSourceOrder(name string, c *storage.Columns, shuffle *rand.Rand) *memSource {
	c = sortColumns(c)
	if shuffle != nil {
		c = permuteColumns(c, shuffle.Perm(c.Len))
	}
	s := &memSource{name: name, cols: c, dicts: map[int]*memDict{}, ids: map[int][]uint32{},
		bitmaps: map[int][]*roaring.Bitmap{}, nulls: map[int]*roaring.Bitmap{}, unsorted: shuffle != nil}
	s.stats = make([]storage.ColumnStats, len(c.Schema.Columns))
	for ci, col := range c.Schema.Columns {
		st := &s.stats[ci]
		nb := roaring.New()
		for r := 0; r < c.Len; r++ {
			if c.IsNull(ci, r) {
				nb.Add(uint32(r))
			}
		}
		st.NullCount = int(nb.GetCardinality())
		if st.NullCount > 0 {
			s.nulls[ci] = nb
		}
		for r := 0; r < c.Len; r++ {
			if c.IsNull(ci, r) {
				continue
			}
			first := !st.HasMinMax
			switch col.Type {
			case storage.TypeTimestamp, storage.TypeInt64:
				v := c.Cols[ci].Int64[r]
				if first || v < st.MinInt {
					st.MinInt = v
				}
				if first || v > st.MaxInt {
					st.MaxInt = v
				}
				st.HasMinMax = true
			case storage.TypeFloat64:
				v := c.Cols[ci].Float64[r]
				if math.IsNaN(v) {
					continue
				}
				if first || v < st.MinFloat {
					st.MinFloat = v
				}
				if first || v > st.MaxFloat {
					st.MaxFloat = v
				}
				st.HasMinMax = true
			case storage.TypeBool:
				v := int64(0)
				if c.Cols[ci].Bool[r] {
					v = 1
				}
				if first || v < st.MinInt {
					st.MinInt = v
				}
				if first || v > st.MaxInt {
					st.MaxInt = v
				}
				st.HasMinMax = true
			case storage.TypeString:
				v := c.Cols[ci].String[r]
				if first || v < st.MinString {
					st.MinString = v
				}
				if first || v > st.MaxString {
					st.MaxString = v
				}
				st.HasMinMax = true
			}
		}
		if col.Type == storage.TypeString {
			set := map[string]bool{}
			for r := 0; r < c.Len; r++ {
				if !c.IsNull(ci, r) {
					set[c.Cols[ci].String[r]] = true
				}
			}
			d := &memDict{}
			for v := range set {
				d.vals = append(d.vals, v)
			}
			sort.Strings(d.vals)
			// Lay the values out contiguously, as a segment's dictionary is.
			var all strings.Builder
			for _, v := range d.vals {
				all.WriteString(v)
			}
			buf, off := all.String(), 0
			for i, v := range d.vals {
				d.vals[i] = buf[off : off+len(v)]
				off += len(v)
			}
			s.dicts[ci] = d
			idOf := make(map[string]uint32, len(d.vals))
			for i, v := range d.vals {
				idOf[v] = uint32(i)
			}
			ids := make([]uint32, c.Len)
			bms := make([]*roaring.Bitmap, len(d.vals))
			for i := range bms {
				bms[i] = roaring.New()
			}
			for r := 0; r < c.Len; r++ {
				if c.IsNull(ci, r) {
					ids[r] = 12345678 // unspecified for NULL rows
					continue
				}
				id := idOf[c.Cols[ci].String[r]]
				ids[r] = id
				bms[id].Add(uint32(r))
			}
			s.ids[ci] = ids
			s.bitmaps[ci] = bms
		}
	}
	// Reads go through ids; dropping the strings keeps the GC's work small.
	for ci := range c.Cols {
		c.Cols[ci].String = nil
	}
	return s
}

func (s *memSource) Schema() *storage.Schema           { return s.cols.Schema }
func (s *memSource) NumRows() int                      { return s.cols.Len }
func (s *memSource) MinTime() int64                    { return slices.Min(s.cols.Cols[s.cols.Schema.TimeColumn].Int64) }
func (s *memSource) MaxTime() int64                    { return slices.Max(s.cols.Cols[s.cols.Schema.TimeColumn].Int64) }
func (s *memSource) Stats(col int) storage.ColumnStats { return s.stats[col] }
func (s *memSource) Dict(col int) (storage.Dict, error) {
	d, ok := s.dicts[col]
	if !ok {
		return nil, fmt.Errorf("column %d is not a string column", col)
	}
	return d, nil
}
func (s *memSource) Bitmap(col int, id uint32) (*roaring.Bitmap, error) {
	bms := s.bitmaps[col]
	if int(id) >= len(bms) {
		return nil, fmt.Errorf("column %d: id %d out of range", col, id)
	}
	return bms[id], nil
}
func (s *memSource) Nulls(col int) (*roaring.Bitmap, error) { return s.nulls[col], nil }
func (s *memSource) check(start, end int) error {
	if start < 0 || end > s.cols.Len || start > end {
		return fmt.Errorf("range [%d, %d) out of [0, %d)", start, end, s.cols.Len)
	}
	return nil
}
func (s *memSource) ReadInt64(col, start, end int, dst []int64) ([]int64, error) {
	if err := s.check(start, end); err != nil {
		return nil, err
	}
	return append(dst[:0], s.cols.Cols[col].Int64[start:end]...), nil
}
func (s *memSource) ReadFloat64(col, start, end int, dst []float64) ([]float64, error) {
	if err := s.check(start, end); err != nil {
		return nil, err
	}
	return append(dst[:0], s.cols.Cols[col].Float64[start:end]...), nil
}
func (s *memSource) ReadBool(col, start, end int, dst []bool) ([]bool, error) {
	if err := s.check(start, end); err != nil {
		return nil, err
	}
	return append(dst[:0], s.cols.Cols[col].Bool[start:end]...), nil
}
func (s *memSource) ReadDictIDs(col, start, end int, dst []uint32) ([]uint32, error) {
	if err := s.check(start, end); err != nil {
		return nil, err
	}
	return append(dst[:0], s.ids[col][start:end]...), nil
}
func (s *memSource) Name() string { return s.name }

// ---- test data ----

// Columns of the test table "events".
const (
	cTS = iota
	cCountry
	cDevice
	cPrice
	cQty
	cFlag
	cNote
)

var eventsSchema = &storage.Schema{TimeColumn: 0, Columns: []storage.Column{
	{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
	{Name: "country", Type: storage.TypeString, SQLType: "text"},
	{Name: "device", Type: storage.TypeString, SQLType: "text"},
	{Name: "price", Type: storage.TypeFloat64, SQLType: "double precision"},
	{Name: "qty", Type: storage.TypeInt64, SQLType: "bigint"},
	{Name: "flag", Type: storage.TypeBool, SQLType: "boolean"},
	{Name: "note", Type: storage.TypeString, SQLType: "text"},
}}

var colTypes = []Type{TimestampTZ, Text, Text, Float64, Int64, Bool, Text}

var (
	countries = []string{"de", "fr", "us", "uk", "jp", "br", "in", "es"}
	devices   = []string{"ios", "android", "web", "Web", "tv"}
	notes     = []string{"", "a%b", "hello", "Hello world", "x_y", "ünï"}
)

// baseTime is 2023-10-01 00:00:00 UTC in µs.
var baseTime = time.Date(2023, 10, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

// genEvents returns n random rows; source k covers hour k (time-partitioned).
func genEvents(r *rand.Rand, n int, hour int) *storage.Columns {
	c := storage.NewColumns(eventsSchema, n)
	c.Len = n
	for i := 0; i < n; i++ {
		c.Cols[cTS].Int64 = append(c.Cols[cTS].Int64, baseTime+int64(hour)*usPerHour+r.Int64N(usPerHour))
		c.Cols[cCountry].String = append(c.Cols[cCountry].String, countries[r.IntN(len(countries))])
		c.Cols[cDevice].String = append(c.Cols[cDevice].String, devices[r.IntN(len(devices))])
		c.Cols[cPrice].Float64 = append(c.Cols[cPrice].Float64, math.Round(r.Float64()*10000)/100)
		c.Cols[cQty].Int64 = append(c.Cols[cQty].Int64, r.Int64N(20)-5)
		c.Cols[cFlag].Bool = append(c.Cols[cFlag].Bool, r.IntN(2) == 0)
		c.Cols[cNote].String = append(c.Cols[cNote].String, notes[r.IntN(len(notes))])
	}
	for i := 0; i < n; i++ {
		if r.IntN(10) == 0 {
			c.SetNull(cDevice, i)
			c.Cols[cDevice].String[i] = ""
		}
		if r.IntN(7) == 0 {
			c.SetNull(cPrice, i)
			c.Cols[cPrice].Float64[i] = 0
		}
		if r.IntN(9) == 0 {
			c.SetNull(cQty, i)
			c.Cols[cQty].Int64[i] = 0
		}
		if r.IntN(4) == 0 {
			c.SetNull(cNote, i)
			c.Cols[cNote].String[i] = ""
		}
	}
	return c
}

// dataset is a table split into sources plus its rows for expected-value loops.
type dataset struct {
	sources []storage.Source
	rows    [][]Value // all rows, table column order
}

func newDataset(seed uint64, nsrc, perSource int) *dataset {
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	d := &dataset{}
	for k := 0; k < nsrc; k++ {
		n := perSource
		if perSource > 4 {
			n = perSource/2 + r.IntN(perSource)
		}
		var shuffle *rand.Rand
		if k%3 == 2 { // every third source holds its rows in arrival order, not by time
			shuffle = r
		}
		src := newMemSourceOrder(fmt.Sprintf("seg%d", k), genEvents(r, n, k), shuffle)
		d.sources = append(d.sources, src)
		c := src.cols
		for i := 0; i < c.Len; i++ {
			row := make([]Value, len(colTypes))
			for ci, t := range colTypes {
				v := Value{Type: t}
				if c.IsNull(ci, i) {
					v.Null = true
				} else {
					switch t.ID {
					case TypeTimestampTZ, TypeInt64:
						v.I = c.Cols[ci].Int64[i]
					case TypeFloat64:
						v.F = c.Cols[ci].Float64[i]
					case TypeBool:
						v.B = c.Cols[ci].Bool[i]
					case TypeText:
						v.S = src.dicts[ci].vals[src.ids[ci][i]]
					}
				}
				row[ci] = v
			}
			d.rows = append(d.rows, row)
		}
	}
	return d
}

func col(i int) *ColRef { return &ColRef{Index: i, T: colTypes[i], Name: eventsSchema.Columns[i].Name} }

func scanOf(d *dataset, cols []int, filter Expr) *Scan {
	out := make([]Field, len(cols))
	for i, c := range cols {
		out[i] = Field{Name: eventsSchema.Columns[c].Name, Type: colTypes[c]}
	}
	return &Scan{Table: "events", Schema: eventsSchema, Sources: d.sources, Columns: cols,
		TimeMin: MinTime, TimeMax: MaxTime, Filter: filter, Out: out}
}

// run executes p and returns its rows as text ("NULL" for NULL), in output order.
func run(t testing.TB, p Plan, opts Options) [][]string {
	t.Helper()
	out, err := runErr(p, opts)
	if err != nil {
		t.Fatalf("execute: %v", err)
	}
	return out
}

func runErr(p Plan, opts Options) ([][]string, error) {
	ctx := context.Background()
	rs, err := Execute(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	fields := rs.Fields()
	var out [][]string
	for {
		rec, err := rs.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			row := make([]string, len(fields))
			for c := range fields {
				a := rec.Column(c)
				if a.IsNull(r) {
					row[c] = "NULL"
				} else {
					row[c] = string(AppendText(nil, a, r, fields[c].Type))
				}
			}
			out = append(out, row)
		}
		rec.Release()
	}
}

func sortRows(rows [][]string) [][]string {
	keys := make(map[*string]string, len(rows))
	for _, r := range rows {
		if len(r) > 0 {
			keys[&r[0]] = strings.Join(r, "\x00")
		}
	}
	sort.SliceStable(rows, func(a, b int) bool {
		if len(rows[a]) == 0 || len(rows[b]) == 0 {
			return len(rows[a]) < len(rows[b])
		}
		return keys[&rows[a][0]] < keys[&rows[b][0]]
	})
	return rows
}

func textOf(v Value) string {
	if v.Null {
		return "NULL"
	}
	return string(appendValueText(nil, v))
}

func sameRows(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d rows, want %d\ngot:  %v\nwant: %v", what, len(got), len(want), head(got), head(want))
	}
	for i := range got {
		if strings.Join(got[i], "\x00") != strings.Join(want[i], "\x00") {
			t.Fatalf("%s: row %d: got %v, want %v", what, i, got[i], want[i])
		}
	}
}

func head(r [][]string) [][]string {
	if len(r) > 10 {
		return r[:10]
	}
	return r
}
