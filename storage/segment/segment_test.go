package segment

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stratadb/strata/storage"
)

func testSchema() *storage.Schema {
	return &storage.Schema{
		Columns: []storage.Column{
			{Name: "host", Type: storage.TypeString, SQLType: "text"},
			{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
			{Name: "bytes", Type: storage.TypeInt64, SQLType: "bigint"},
			{Name: "price", Type: storage.TypeFloat64, SQLType: "double precision"},
			{Name: "ok", Type: storage.TypeBool, SQLType: "boolean"},
			{Name: "region", Type: storage.TypeString, SQLType: "varchar"},
			{Name: "gone", Type: storage.TypeInt64, SQLType: "integer"},   // all NULL in most cases
			{Name: "void", Type: storage.TypeString, SQLType: "text"},     // all NULL in most cases
			{Name: "counter", Type: storage.TypeInt64, SQLType: "bigint"}, // increasing: delta wins
		},
		TimeColumn: 1,
	}
}

var testStrings = []string{"", "a", "b", "ä", "日本語", "🙂 emoji", "web-01", "web-02", "db-1", "z\x00z", "long-" + strings.Repeat("x", 300)}

type genOpts struct {
	n        int
	sorted   bool    // input times already sorted
	nullProb float64 // per nullable cell
	allNull  bool    // columns "gone" and "void" entirely NULL
	extreme  bool    // int64 extremes and NaN/Inf floats
	distinct int     // host cardinality (0: from testStrings)
}

func genColumns(rng *rand.Rand, o genOpts) *storage.Columns {
	s := testSchema()
	c := storage.NewColumns(s, o.n)
	c.Len = o.n
	t := int64(1_700_000_000_000_000)
	for i := range o.n {
		if o.sorted {
			t += rng.Int64N(1000)
		} else {
			t = 1_700_000_000_000_000 + rng.Int64N(int64(o.n)*10+1) // many duplicates across rows
		}
		c.Cols[1].Int64 = append(c.Cols[1].Int64, t)
		if o.distinct > 0 {
			c.Cols[0].String = append(c.Cols[0].String, fmt.Sprintf("host-%05d", rng.IntN(o.distinct)))
		} else {
			c.Cols[0].String = append(c.Cols[0].String, testStrings[rng.IntN(len(testStrings))])
		}
		v := rng.Int64N(1 << 20)
		if o.extreme {
			v = []int64{math.MinInt64, math.MaxInt64, 0, -1, 1, rng.Int64()}[rng.IntN(6)]
		}
		c.Cols[2].Int64 = append(c.Cols[2].Int64, v)
		f := rng.NormFloat64() * 100
		if o.extreme {
			f = []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, -1.5, math.MaxFloat64, f}[rng.IntN(7)]
		}
		c.Cols[3].Float64 = append(c.Cols[3].Float64, f)
		c.Cols[4].Bool = append(c.Cols[4].Bool, rng.IntN(2) == 0)
		c.Cols[5].String = append(c.Cols[5].String, []string{"eu", "us", "ap"}[rng.IntN(3)])
		c.Cols[6].Int64 = append(c.Cols[6].Int64, 0)
		c.Cols[7].String = append(c.Cols[7].String, "")
		c.Cols[8].Int64 = append(c.Cols[8].Int64, int64(i)*3+rng.Int64N(3))
	}
	for col := range s.Columns {
		if col == s.TimeColumn {
			continue
		}
		for row := range o.n {
			if (o.allNull && (col == 6 || col == 7)) || (o.nullProb > 0 && rng.Float64() < o.nullProb) {
				// Columns contract: a NULL slot holds the zero value.
				d := &c.Cols[col]
				switch s.Columns[col].Type {
				case storage.TypeInt64:
					d.Int64[row] = 0
				case storage.TypeFloat64:
					d.Float64[row] = 0
				case storage.TypeBool:
					d.Bool[row] = false
				case storage.TypeString:
					d.String[row] = ""
				}
				c.SetNull(col, row)
			}
		}
	}
	return c
}

// expected is the input re-sorted by time with a plain stable sort, written
// independently of the code under test.
type expected struct {
	cols *storage.Columns
	perm []int
}

func sortedExpected(in *storage.Columns) expected {
	perm := make([]int, in.Len)
	for i := range perm {
		perm[i] = i
	}
	ts := in.Cols[in.Schema.TimeColumn].Int64
	sort.SliceStable(perm, func(a, b int) bool { return ts[perm[a]] < ts[perm[b]] })
	out := storage.NewColumns(in.Schema, in.Len)
	out.Len = in.Len
	for col, c := range in.Schema.Columns {
		d := &in.Cols[col]
		for _, p := range perm {
			switch c.Type {
			case storage.TypeTimestamp, storage.TypeInt64:
				out.Cols[col].Int64 = append(out.Cols[col].Int64, d.Int64[p])
			case storage.TypeFloat64:
				out.Cols[col].Float64 = append(out.Cols[col].Float64, d.Float64[p])
			case storage.TypeBool:
				out.Cols[col].Bool = append(out.Cols[col].Bool, d.Bool[p])
			case storage.TypeString:
				out.Cols[col].String = append(out.Cols[col].String, d.String[p])
			}
		}
		for i, p := range perm {
			if in.IsNull(col, p) {
				out.SetNull(col, i)
			}
		}
	}
	return expected{cols: out, perm: perm}
}

func naiveStats(c *storage.Columns, col int) storage.ColumnStats {
	var st storage.ColumnStats
	d := &c.Cols[col]
	for i := range c.Len {
		if c.IsNull(col, i) {
			st.NullCount++
			continue
		}
		switch c.Schema.Columns[col].Type {
		case storage.TypeTimestamp, storage.TypeInt64, storage.TypeBool:
			var v int64
			if c.Schema.Columns[col].Type == storage.TypeBool {
				if d.Bool[i] {
					v = 1
				}
			} else {
				v = d.Int64[i]
			}
			if !st.HasMinMax || v < st.MinInt {
				st.MinInt = v
			}
			if !st.HasMinMax || v > st.MaxInt {
				st.MaxInt = v
			}
			st.HasMinMax = true
		case storage.TypeFloat64:
			v := d.Float64[i]
			if math.IsNaN(v) {
				continue
			}
			if !st.HasMinMax || v < st.MinFloat {
				st.MinFloat = v
			}
			if !st.HasMinMax || v > st.MaxFloat {
				st.MaxFloat = v
			}
			st.HasMinMax = true
		case storage.TypeString:
			v := d.String[i]
			if !st.HasMinMax || v < st.MinString {
				st.MinString = v
			}
			if !st.HasMinMax || v > st.MaxString {
				st.MaxString = v
			}
			st.HasMinMax = true
		}
	}
	return st
}

// checkSegment verifies every Source method of r against want.
func checkSegment(t *testing.T, r *Reader, want *storage.Columns, chunk int) {
	t.Helper()
	n := want.Len
	if r.NumRows() != n || r.Info().Rows != int64(n) {
		t.Fatalf("NumRows = %d, Info.Rows = %d, want %d", r.NumRows(), r.Info().Rows, n)
	}
	ts := want.Cols[want.Schema.TimeColumn].Int64
	if n > 0 && (r.MinTime() != ts[0] || r.MaxTime() != ts[n-1]) {
		t.Fatalf("time range [%d,%d], want [%d,%d]", r.MinTime(), r.MaxTime(), ts[0], ts[n-1])
	}
	if got, want := r.Schema().String(), want.Schema.String(); got != want {
		t.Fatalf("schema %q, want %q", got, want)
	}
	if !slices.Equal(r.Schema().Columns, want.Schema.Columns) {
		t.Fatalf("schema columns %+v, want %+v", r.Schema().Columns, want.Schema.Columns)
	}
	for col, c := range want.Schema.Columns {
		d := &want.Cols[col]
		gotSt, wantSt := r.Stats(col), naiveStats(want, col)
		if !statsEqual(gotSt, wantSt) {
			t.Errorf("column %s: stats %+v, want %+v", c.Name, gotSt, wantSt)
		}
		// Nulls vs a naive scan.
		nulls, err := r.Nulls(col)
		if err != nil {
			t.Fatal(err)
		}
		var wantNulls []uint32
		for i := range n {
			if want.IsNull(col, i) {
				wantNulls = append(wantNulls, uint32(i))
			}
		}
		if wantNulls == nil && nulls != nil {
			t.Errorf("column %s: Nulls = %v, want nil", c.Name, nulls)
		}
		if wantNulls != nil && (nulls == nil || !slices.Equal(nulls.ToArray(), wantNulls)) {
			t.Errorf("column %s: Nulls differ from a naive scan", c.Name)
		}
		for start := 0; start < n || start == 0; start += chunk {
			end := min(start+chunk, n)
			switch c.Type {
			case storage.TypeTimestamp, storage.TypeInt64:
				got, err := r.ReadInt64(col, start, end, make([]int64, 3))
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range got {
					w := d.Int64[start+i]
					if want.IsNull(col, start+i) {
						w = 0
					}
					if v != w {
						t.Fatalf("column %s row %d: %d, want %d", c.Name, start+i, v, w)
					}
				}
				if len(got) != end-start {
					t.Fatalf("column %s: read %d rows, want %d", c.Name, len(got), end-start)
				}
			case storage.TypeFloat64:
				got, err := r.ReadFloat64(col, start, end, nil)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range got {
					w := d.Float64[start+i]
					if want.IsNull(col, start+i) {
						w = 0
					}
					if math.Float64bits(v) != math.Float64bits(w) {
						t.Fatalf("column %s row %d: %v, want %v", c.Name, start+i, v, w)
					}
				}
				if len(got) != end-start {
					t.Fatalf("column %s: read %d rows, want %d", c.Name, len(got), end-start)
				}
			case storage.TypeBool:
				got, err := r.ReadBool(col, start, end, nil)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range got {
					if w := d.Bool[start+i] && !want.IsNull(col, start+i); v != w {
						t.Fatalf("column %s row %d: %v, want %v", c.Name, start+i, v, w)
					}
				}
				if len(got) != end-start {
					t.Fatalf("column %s: read %d rows, want %d", c.Name, len(got), end-start)
				}
			case storage.TypeString:
				dict, err := r.Dict(col)
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.ReadDictIDs(col, start, end, nil)
				if err != nil {
					t.Fatal(err)
				}
				for i, id := range got {
					if want.IsNull(col, start+i) {
						continue
					}
					if v := dict.Value(id); v != d.String[start+i] {
						t.Fatalf("column %s row %d: %q, want %q", c.Name, start+i, v, d.String[start+i])
					}
				}
				if len(got) != end-start {
					t.Fatalf("column %s: read %d rows, want %d", c.Name, len(got), end-start)
				}
			}
			if n == 0 {
				break
			}
		}
		if c.Type == storage.TypeString {
			checkDict(t, r, want, col)
		}
	}
}

func statsEqual(a, b storage.ColumnStats) bool {
	fa, fb := a, b
	fa.MinFloat, fa.MaxFloat, fb.MinFloat, fb.MaxFloat = 0, 0, 0, 0
	return fa == fb && math.Float64bits(a.MinFloat) == math.Float64bits(b.MinFloat) &&
		math.Float64bits(a.MaxFloat) == math.Float64bits(b.MaxFloat)
}

func checkDict(t *testing.T, r *Reader, want *storage.Columns, col int) {
	t.Helper()
	name := want.Schema.Columns[col].Name
	d, err := r.Dict(col)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Sorted() {
		t.Errorf("column %s: Dict.Sorted() = false", name)
	}
	// The distinct non-NULL values and their rows, by a naive scan.
	rowsOf := map[string][]uint32{}
	for i, v := range want.Cols[col].String {
		if !want.IsNull(col, i) {
			rowsOf[v] = append(rowsOf[v], uint32(i))
		}
	}
	values := make([]string, 0, len(rowsOf))
	for v := range rowsOf {
		values = append(values, v)
	}
	sort.Strings(values)
	if d.Len() != len(values) {
		t.Fatalf("column %s: dictionary of %d values, want %d", name, d.Len(), len(values))
	}
	dv, ok := d.(storage.DictValues)
	if !ok {
		t.Fatalf("column %s: the dictionary does not implement storage.DictValues", name)
	}
	if got := dv.Values(); !slices.Equal(got, values) {
		t.Fatalf("column %s: Values() = %.100q, want %.100q", name, got, values)
	}
	for id, v := range values {
		if got := d.Value(uint32(id)); got != v {
			t.Fatalf("column %s: Value(%d) = %q, want %q", name, id, got, v)
		}
		if got, ok := d.Lookup(v); !ok || got != uint32(id) {
			t.Fatalf("column %s: Lookup(%q) = %d, %v, want %d", name, v, got, ok, id)
		}
		bm, err := r.Bitmap(col, uint32(id))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(bm.ToArray(), rowsOf[v]) {
			t.Fatalf("column %s: bitmap of %q differs from a naive scan", name, v)
		}
	}
	for _, missing := range []string{"\xff\xff", "host-", "a\x00", "zzzz"} {
		if _, ok := rowsOf[missing]; ok {
			continue
		}
		if id, ok := d.Lookup(missing); ok {
			t.Errorf("column %s: Lookup(%q) = %d, true for a missing value", name, missing, id)
		}
	}
	if _, err := r.Bitmap(col, uint32(d.Len())); err == nil {
		t.Errorf("column %s: Bitmap of id %d (out of range) did not fail", name, d.Len())
	}
}

func writeOpen(t testing.TB, cols *storage.Columns) (*Reader, Info) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seg")
	info, err := Write(path, cols)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, info
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		opts  genOpts
		chunk int
	}{
		{"empty", genOpts{n: 0}, 4096},
		{"one row", genOpts{n: 1}, 4096},
		{"one row null", genOpts{n: 1, nullProb: 1}, 1},
		{"small sorted", genOpts{n: 1000, sorted: true}, 97},
		{"small unsorted nulls", genOpts{n: 1000, nullProb: 0.3, allNull: true}, 1000},
		{"extremes", genOpts{n: 5000, extreme: true, nullProb: 0.1}, 333},
		{"block rows", genOpts{n: BlockRows, sorted: true, nullProb: 0.05}, 4096},
		{"block rows plus one", genOpts{n: BlockRows + 1, nullProb: 0.05, allNull: true}, 65536},
		{"many blocks unaligned reads", genOpts{n: 3*BlockRows + 17, nullProb: 0.2, distinct: 5000}, 10007},
		{"all null", genOpts{n: 3000, nullProb: 1}, 4096},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			in := genColumns(rng, tt.opts)
			exp := sortedExpected(in)
			r, info := writeOpen(t, in)
			st, err := os.Stat(r.Path())
			if err != nil {
				t.Fatal(err)
			}
			if info != r.Info() || info.Bytes != st.Size() {
				t.Fatalf("Write info %+v, Open info %+v, file size %d", info, r.Info(), st.Size())
			}
			if _, err := os.Stat(r.Path() + ".tmp"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("temporary file left behind: %v", err)
			}
			checkSegment(t, r, exp.cols, tt.chunk)
		})
	}
}

// TestSortPermutesTogether writes rows whose every column encodes the original row
// number, in reverse time order with ties, and checks each output row is one input row.
func TestSortPermutesTogether(t *testing.T) {
	s := testSchema()
	const n = 2000
	c := storage.NewColumns(s, n)
	c.Len = n
	for i := range n {
		c.Cols[0].String = append(c.Cols[0].String, fmt.Sprintf("row-%04d", i))
		c.Cols[1].Int64 = append(c.Cols[1].Int64, int64((n-i)/2)) // descending, pairs tie
		c.Cols[2].Int64 = append(c.Cols[2].Int64, int64(i))
		c.Cols[3].Float64 = append(c.Cols[3].Float64, float64(i)+0.5)
		c.Cols[4].Bool = append(c.Cols[4].Bool, i%3 == 0)
		c.Cols[5].String = append(c.Cols[5].String, fmt.Sprint(i%7))
		c.Cols[6].Int64 = append(c.Cols[6].Int64, -int64(i))
		c.Cols[7].String = append(c.Cols[7].String, "")
		c.Cols[8].Int64 = append(c.Cols[8].Int64, int64(i)*1000)
		if i%5 == 0 {
			c.SetNull(7, i)
		}
	}
	r, _ := writeOpen(t, c)
	ts, _ := r.ReadInt64(1, 0, n, nil)
	orig, _ := r.ReadInt64(2, 0, n, nil)
	f, _ := r.ReadFloat64(3, 0, n, nil)
	b, _ := r.ReadBool(4, 0, n, nil)
	neg, _ := r.ReadInt64(6, 0, n, nil)
	ids, _ := r.ReadDictIDs(0, 0, n, nil)
	dict, _ := r.Dict(0)
	nulls, _ := r.Nulls(7)
	for i := range n {
		o := int(orig[i])
		if ts[i] != int64((n-o)/2) || f[i] != float64(o)+0.5 || b[i] != (o%3 == 0) || neg[i] != -int64(o) ||
			dict.Value(ids[i]) != fmt.Sprintf("row-%04d", o) || nulls.Contains(uint32(i)) != (o%5 == 0) {
			t.Fatalf("row %d (input row %d) not permuted together", i, o)
		}
		if i > 0 && (ts[i] < ts[i-1] || (ts[i] == ts[i-1] && orig[i] < orig[i-1])) {
			t.Fatalf("row %d: sort not stable or not sorted", i)
		}
	}
}

func TestWriteRejects(t *testing.T) {
	s := testSchema()
	bad := storage.NewColumns(s, 1)
	bad.Len = 1 // no values appended
	noTime := &storage.Columns{Schema: &storage.Schema{Columns: []storage.Column{{Name: "x", Type: storage.TypeInt64}}}, Len: 0, Cols: make([]storage.ColumnData, 1)}
	for _, c := range []*storage.Columns{bad, noTime} {
		path := filepath.Join(t.TempDir(), "seg")
		if _, err := Write(path, c); err == nil {
			t.Errorf("Write accepted invalid input")
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("file left after failed Write")
		}
	}
	// Unwritable directory.
	c := genColumns(rand.New(rand.NewPCG(1, 1)), genOpts{n: 10})
	if _, err := Write(filepath.Join(t.TempDir(), "missing", "seg"), c); err == nil {
		t.Errorf("Write into a missing directory succeeded")
	}
}

func TestPackUnpack(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for w := uint(0); w <= 64; w++ {
		for _, n := range []int{0, 1, 2, 63, 64, 65, 1000} {
			vals := make([]uint64, n)
			for i := range vals {
				if w > 0 {
					vals[i] = rng.Uint64() >> (64 - w)
				}
			}
			b := appendPacked(nil, vals, w)
			if len(b) != packedLen(n, w) {
				t.Fatalf("w=%d n=%d: %d bytes, want %d", w, n, len(b), packedLen(n, w))
			}
			got := make([]uint64, n)
			unpack(got, b, w)
			if !slices.Equal(got, vals) {
				t.Fatalf("w=%d n=%d: round trip differs", w, n)
			}
		}
	}
}

// readAll reads every column, dictionary, bitmap and null bitmap of r through the
// Source methods and returns the first error.
func readAll(r *Reader) error {
	var (
		i64 []int64
		f64 []float64
		bs  []bool
		ids []uint32
		err error
	)
	n := r.NumRows()
	for col, c := range r.Schema().Columns {
		if _, err := r.Nulls(col); err != nil {
			return err
		}
		for start := 0; start < n; start += 4096 {
			end := min(start+4096, n)
			switch c.Type {
			case storage.TypeTimestamp, storage.TypeInt64:
				i64, err = r.ReadInt64(col, start, end, i64)
			case storage.TypeFloat64:
				f64, err = r.ReadFloat64(col, start, end, f64)
			case storage.TypeBool:
				bs, err = r.ReadBool(col, start, end, bs)
			case storage.TypeString:
				ids, err = r.ReadDictIDs(col, start, end, ids)
			}
			if err != nil {
				return err
			}
		}
		if c.Type == storage.TypeString {
			d, err := r.Dict(col)
			if err != nil {
				return err
			}
			for id := range d.Len() {
				_ = d.Value(uint32(id))
				if _, err := r.Bitmap(col, uint32(id)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func writeTestSegment(t testing.TB, o genOpts) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seg")
	if _, err := Write(path, genColumns(rand.New(rand.NewPCG(3, 3)), o)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestTruncated(t *testing.T) {
	_, data := writeTestSegment(t, genOpts{n: 3000, nullProb: 0.1})
	dir := t.TempDir()
	for off := 0; off < len(data); off += 97 {
		path := filepath.Join(dir, fmt.Sprintf("trunc-%d", off))
		if err := os.WriteFile(path, data[:off], 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err == nil {
			err = readAll(r)
			r.Close()
		}
		if err == nil {
			t.Fatalf("file truncated to %d of %d bytes: no error", off, len(data))
		}
		if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Fatalf("truncated to %d bytes: error %q does not wrap ErrCorrupt or name the file", off, err)
		}
	}
}

// TestFlippedByte flips one byte inside every section of every column and checks
// the read fails with a checksum error naming the file and the column; a flip in the
// directory, footer or header fails Open.
func TestFlippedByte(t *testing.T) {
	path, data := writeTestSegment(t, genOpts{n: 2*BlockRows + 5, nullProb: 0.1})
	good, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	type target struct {
		col  string
		what string
		ref  sectionRef
	}
	var targets []target
	for i := range good.cols {
		c := &good.cols[i]
		for b, ref := range c.blocks {
			targets = append(targets, target{c.name, fmt.Sprintf("block %d", b), ref})
		}
		if c.stats.NullCount > 0 {
			targets = append(targets, target{c.name, "null bitmap", c.nullsRef})
		}
		if c.typ == storage.TypeString {
			targets = append(targets, target{c.name, "dictionary", c.dictRef})
			d, err := good.dictionary(c)
			if err != nil {
				t.Fatal(err)
			}
			for id, ref := range d.bitmapRefs {
				if id < 3 {
					targets = append(targets, target{c.name, fmt.Sprintf("bitmap %d", id), ref})
				}
			}
		}
	}
	dir := t.TempDir()
	for i, tg := range targets {
		for _, pos := range []uint64{tg.ref.off, tg.ref.off + tg.ref.len/2, tg.ref.off + tg.ref.len - 1} {
			bad := slices.Clone(data)
			bad[pos] ^= 0x20
			p := filepath.Join(dir, fmt.Sprintf("flip-%d-%d", i, pos))
			if err := os.WriteFile(p, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Open(p)
			if err != nil {
				t.Fatalf("%s of %s: Open failed: %v", tg.what, tg.col, err)
			}
			err = readAll(r)
			r.Close()
			if err == nil {
				t.Fatalf("flip at %d in %s of column %s: no error", pos, tg.what, tg.col)
			}
			msg := err.Error()
			if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(msg, p) ||
				!strings.Contains(msg, "column "+tg.col+":") || !strings.Contains(msg, "checksum") {
				t.Fatalf("flip at %d in %s of column %s: error %q", pos, tg.what, tg.col, msg)
			}
		}
	}
	// Header, directory and footer.
	for _, pos := range []int{0, 7, int(good.dirOff), int(good.dirOff) + 5, len(data) - footerLen, len(data) - 10, len(data) - 1} {
		bad := slices.Clone(data)
		bad[pos] ^= 0x01
		p := filepath.Join(dir, fmt.Sprintf("meta-%d", pos))
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(p)
		if err == nil {
			r.Close()
			t.Fatalf("flip at %d of %d: Open succeeded", pos, len(data))
		}
		if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), p) {
			t.Fatalf("flip at %d: error %q", pos, err)
		}
	}
}

func TestConcurrentReads(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	in := genColumns(rng, genOpts{n: 3*BlockRows + 100, nullProb: 0.1, distinct: 50})
	exp := sortedExpected(in).cols
	r, _ := writeOpen(t, in)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			var dst []int64
			var ids []uint32
			dict, err := r.Dict(0)
			if err != nil {
				errs <- err
				return
			}
			for k := range 40 {
				start := ((g*7 + k*13) % 16) * 4096
				end := min(start+4096, r.NumRows())
				if dst, err = r.ReadInt64(2, start, end, dst); err != nil {
					errs <- err
					return
				}
				for i, v := range dst {
					w := exp.Cols[2].Int64[start+i]
					if v != w {
						errs <- fmt.Errorf("row %d: %d, want %d", start+i, v, w)
						return
					}
				}
				if ids, err = r.ReadDictIDs(0, start, end, ids); err != nil {
					errs <- err
					return
				}
				for i, id := range ids {
					if !exp.IsNull(0, start+i) && dict.Value(id) != exp.Cols[0].String[start+i] {
						errs <- fmt.Errorf("row %d: host differs", start+i)
						return
					}
				}
				if _, err := r.Bitmap(0, uint32(k%dict.Len())); err != nil {
					errs <- err
					return
				}
				if _, err := r.Nulls(3); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestAfterClose(t *testing.T) {
	r, _ := writeOpen(t, genColumns(rand.New(rand.NewPCG(2, 2)), genOpts{n: 100}))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadInt64(1, 0, 10, nil); err == nil {
		t.Error("ReadInt64 after Close succeeded")
	}
	if _, err := r.Dict(0); err == nil {
		t.Error("Dict after Close succeeded")
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestReadArgs(t *testing.T) {
	r, _ := writeOpen(t, genColumns(rand.New(rand.NewPCG(2, 2)), genOpts{n: 100}))
	for _, err := range []error{
		func() error { _, err := r.ReadInt64(0, 0, 10, nil); return err }(), // string column
		func() error { _, err := r.ReadInt64(1, -1, 10, nil); return err }(),
		func() error { _, err := r.ReadInt64(1, 0, 101, nil); return err }(),
		func() error { _, err := r.ReadInt64(1, 5, 4, nil); return err }(),
		func() error { _, err := r.ReadFloat64(99, 0, 1, nil); return err }(),
		func() error { _, err := r.Dict(1); return err }(),
		func() error { _, err := r.Nulls(-1); return err }(),
	} {
		if err == nil {
			t.Error("invalid read succeeded")
		} else if errors.Is(err, storage.ErrCorrupt) {
			t.Errorf("caller error %q reported as corruption", err)
		}
	}
}
