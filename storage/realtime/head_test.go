package realtime

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/segment"
)

const t0 = int64(1_700_000_000_000_000) - 1_700_000_000_000_000%hour // a chunk start

func TestAppendMatchesModel(t *testing.T) {
	tests := []struct {
		name    string
		batches int
		size    int
		o       genOpts
	}{
		{"one row", 1, 1, genOpts{base: t0, spread: hour, ordered: true}},
		{"ordered one chunk", 5, 100, genOpts{base: t0, spread: hour / 10, ordered: true, nullProb: 0.1}},
		{"ordered across chunks", 4, 300, genOpts{base: t0, spread: 3 * hour, ordered: true, nullProb: 0.2}},
		{"random across chunks", 6, 200, genOpts{base: t0 - hour/2, spread: 4 * hour, nullProb: 0.3}},
		{"extremes and NaN", 3, 150, genOpts{base: t0, spread: hour, nullProb: 0.1, extreme: true}},
		{"all nulls", 2, 50, genOpts{base: t0, spread: hour, nullProb: 1}},
		{"negative times", 3, 100, genOpts{base: -3 * hour / 2, spread: 2 * hour, nullProb: 0.2}},
		{"big batches", 3, 50_000, genOpts{base: t0, spread: hour / 2, ordered: true, nullProb: 0.05}}, // bitmaps span containers
		// Parts of 5,000 rows each from batches across chunks: string columns
		// appended on two goroutines (parallelAppendRows), rows picked by chunk.
		{"big batches across chunks", 2, 20_000, genOpts{base: t0 - hour/2, spread: 4 * hour, nullProb: 0.2}},
	}
	for seed, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			schema := testSchema()
			h := NewHead(schema, hour)
			m := newModel(hour)
			type taken struct {
				views []*View
				want  []mpart
			}
			var early []taken
			for b := range tt.batches {
				o := tt.o
				o.n = tt.size
				o.base += int64(b) * o.spread / int64(tt.batches) / 2
				rows := genRows(rng, o)
				if err := h.Append(toColumns(schema, rows)); err != nil {
					t.Fatal(err)
				}
				m.append(rows, schema.TimeColumn)
				// One snapshot checked now, one only at the end: its bitmaps are first
				// built after later appends and must be trimmed to its rows.
				early = append(early, taken{h.Snapshot(), m.snapshot()})
				checkSnapshot(t, schema, h.Snapshot(), m.snapshot(), hour)
				if h.Rows() != m.rows() {
					t.Fatalf("Rows %d, want %d", h.Rows(), m.rows())
				}
				if h.Bytes() <= 0 {
					t.Fatalf("Bytes %d after appending", h.Bytes())
				}
			}
			for _, e := range early {
				checkSnapshot(t, schema, e.views, e.want, hour)
			}
		})
	}
}

func TestAppendRejects(t *testing.T) {
	schema := testSchema()
	rng := rand.New(rand.NewPCG(1, 2))
	good := func() *storage.Columns {
		return toColumns(schema, genRows(rng, genOpts{n: 3, base: t0, spread: hour, ordered: true}))
	}
	other := testSchema()
	other.Columns[2].Type = storage.TypeFloat64
	tests := []struct {
		name   string
		mutate func(c *storage.Columns) *storage.Columns
		want   string
	}{
		{"nil", func(*storage.Columns) *storage.Columns { return nil }, "without a schema"},
		{"other schema", func(c *storage.Columns) *storage.Columns { c.Schema = other; return c }, "column 2"},
		{"short column", func(c *storage.Columns) *storage.Columns { c.Cols[2].Int64 = c.Cols[2].Int64[:2]; return c }, "2 values, want 3"},
		{"null in not null", func(c *storage.Columns) *storage.Columns { c.SetNull(5, 1); return c }, "not-null"},
		{"null time", func(c *storage.Columns) *storage.Columns { c.SetNull(1, 2); return c }, "time column"},
		{"time out of range", func(c *storage.Columns) *storage.Columns { c.Cols[1].Int64[2] = math.MinInt64; return c }, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHead(schema, hour)
			err := h.Append(tt.mutate(good()))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if h.Rows() != 0 || h.Bytes() != 0 || len(h.Snapshot()) != 0 {
				t.Fatalf("after a rejected append: %d rows, %d bytes, %d views", h.Rows(), h.Bytes(), len(h.Snapshot()))
			}
		})
	}
}

// TestPartFull checks that a batch that would overflow a part is refused whole, and
// that Freeze makes room.
func TestPartFull(t *testing.T) {
	defer func(old int) { maxPartRows = old }(maxPartRows)
	maxPartRows = 10
	schema := testSchema()
	rng := rand.New(rand.NewPCG(21, 22))
	tests := []struct {
		name  string
		first int // rows appended to chunk t0 first
		times []int64
		ok    bool
	}{
		{"fits exactly", 6, []int64{t0, t0 + 1, t0 + 2, t0 + 3}, true},
		{"one too many", 6, []int64{t0, t0 + 1, t0 + 2, t0 + 3, t0 + 4}, false},
		{"overflow in the second of two chunks", 0, []int64{t0 + hour, t0, t0 + hour, t0 + hour, t0 + hour, t0 + hour, t0 + hour, t0 + hour, t0 + hour, t0 + hour, t0 + hour, t0 + hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHead(schema, hour)
			if tt.first > 0 {
				rows := genRows(rng, genOpts{n: tt.first, base: t0, spread: hour, ordered: true})
				if err := h.Append(toColumns(schema, rows)); err != nil {
					t.Fatal(err)
				}
			}
			rows := genRows(rng, genOpts{n: len(tt.times), base: t0, spread: hour})
			for i := range rows {
				rows[i][1].i = tt.times[i]
			}
			err := h.Append(toColumns(schema, rows))
			if (err == nil) != tt.ok {
				t.Fatalf("error %v, want ok=%v", err, tt.ok)
			}
			if want := tt.first + map[bool]int{true: len(rows)}[tt.ok]; h.Rows() != want {
				t.Fatalf("Rows %d, want %d", h.Rows(), want)
			}
			if !tt.ok {
				h.Freeze()
				if tt.first+len(rows) <= 2*maxPartRows {
					if err := h.Append(toColumns(schema, rows[:min(len(rows), maxPartRows)])); err != nil {
						t.Fatalf("after Freeze: %v", err)
					}
				}
			}
		})
	}
}

// TestOutOfOrder appends rows in decreasing time order across chunks, including late
// rows to an old chunk after a newer chunk was written.
func TestOutOfOrder(t *testing.T) {
	schema := testSchema()
	rng := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name  string
		times [][]int64 // batches of times
	}{
		{"reverse in one chunk", [][]int64{{t0 + 50, t0 + 40, t0 + 30}, {t0 + 20, t0 + 10}}},
		{"equal times stay sorted", [][]int64{{t0 + 5, t0 + 5, t0 + 5}, {t0 + 5}}},
		{"late row to old chunk", [][]int64{{t0 + 1, t0 + 2}, {t0 + 5*hour, t0 + 5*hour + 1}, {t0 + 3}, {t0 + hour - 1}}},
		{"late and out of order", [][]int64{{t0 + 2*hour + 9, t0 + 9, t0 + hour + 9}, {t0 + 8, t0 + 2*hour + 1, t0 - 1}}},
		{"before the epoch", [][]int64{{-1, 0, -hour, -hour - 1, hour}}},
		{"extreme times", [][]int64{{math.MaxInt64, math.MinInt64 / 2, math.MaxInt64 - hour}, {math.MinInt64/hour*hour + 1, math.MaxInt64}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHead(schema, hour)
			m := newModel(hour)
			for _, ts := range tt.times {
				rows := genRows(rng, genOpts{n: len(ts), base: t0, spread: hour, nullProb: 0.2})
				for i := range rows {
					rows[i][1].i = ts[i]
				}
				if err := h.Append(toColumns(schema, rows)); err != nil {
					t.Fatal(err)
				}
				m.append(rows, 1)
			}
			views := h.Snapshot()
			checkSnapshot(t, schema, views, m.snapshot(), hour)
			// Independently of the model: every row lies in its view's chunk.
			for _, v := range views {
				ts, _ := v.ReadInt64(1, 0, v.NumRows(), nil)
				for _, x := range ts {
					if x < v.ChunkStart() || uint64(x)-uint64(v.ChunkStart()) >= uint64(hour) {
						t.Fatalf("%s: time %d outside its chunk %d", v.Name(), x, v.ChunkStart())
					}
				}
			}
		})
	}
}

func TestFreezeDrop(t *testing.T) {
	schema := testSchema()
	rng := rand.New(rand.NewPCG(5, 6))
	h := NewHead(schema, hour)
	m := newModel(hour)
	add := func(n int, base int64) {
		rows := genRows(rng, genOpts{n: n, base: base, spread: 2 * hour, nullProb: 0.2})
		if err := h.Append(toColumns(schema, rows)); err != nil {
			t.Fatal(err)
		}
		m.append(rows, 1)
	}
	if f := h.Freeze(); f.Rows != 0 || len(f.Chunks) != 0 {
		t.Fatalf("Freeze of an empty head: %d rows, %d chunks", f.Rows, len(f.Chunks))
	}

	add(300, t0)
	s1, w1 := h.Snapshot(), m.snapshot()
	f1 := h.Freeze()
	mf1 := m.freeze()
	checkFrozen(t, f1, mf1)
	add(200, t0+hour) // chunk t0+hour gets a second part, t0+3h is new
	add(5, t0)        // late rows: a new part in the oldest chunk
	s2, w2 := h.Snapshot(), m.snapshot()
	if len(s2) != len(s1)+3 {
		t.Fatalf("%d views after Freeze and appends, want %d", len(s2), len(s1)+3)
	}
	checkSnapshot(t, schema, s2, w2, hour)
	bytesBefore := h.Bytes()

	h.Drop(f1)
	m.drop(mf1)
	checkSnapshot(t, schema, h.Snapshot(), m.snapshot(), hour)
	if h.Rows() != m.rows() || h.Rows() != 205 {
		t.Fatalf("Rows after Drop %d, model %d, want 205", h.Rows(), m.rows())
	}
	if h.Bytes() >= bytesBefore {
		t.Fatalf("Bytes %d after Drop, %d before", h.Bytes(), bytesBefore)
	}
	h.Drop(f1) // no-op
	if h.Rows() != 205 {
		t.Fatalf("Rows after a second Drop %d", h.Rows())
	}
	// Views taken before Drop still answer for their rows.
	checkSnapshot(t, schema, s1, w1, hour)
	checkSnapshot(t, schema, s2, w2, hour)

	f2 := h.Freeze()
	checkFrozen(t, f2, m.freeze())
	add(10, t0+hour)
	f3 := h.Freeze()
	checkFrozen(t, f3, m.freeze())
	h.Drop(f3) // out of Freeze order
	h.Drop(f2)
	if h.Rows() != 0 || h.Bytes() != 0 || len(h.Snapshot()) != 0 {
		t.Fatalf("after dropping everything: %d rows, %d bytes, %d views", h.Rows(), h.Bytes(), len(h.Snapshot()))
	}
	checkSnapshot(t, schema, s2, w2, hour)
}

// checkFrozen checks a Frozen against the model parts it should hold, in chunk order.
func checkFrozen(t *testing.T, f *Frozen, want []*mpart) {
	t.Helper()
	if len(f.Chunks) != len(want) {
		t.Fatalf("Frozen has %d chunks, want %d", len(f.Chunks), len(want))
	}
	total := 0
	for i, c := range f.Chunks {
		if c.Start != want[i].start {
			t.Fatalf("frozen chunk %d starts at %d, want %d", i, c.Start, want[i].start)
		}
		if err := c.Cols.Check(); err != nil {
			t.Fatal(err)
		}
		if got := fromColumns(c.Cols); !rowsEqual(got, want[i].rows) {
			t.Fatalf("frozen chunk %d: rows differ from the %d appended", i, len(want[i].rows))
		}
		total += c.Cols.Len
	}
	if f.Rows != total {
		t.Fatalf("Frozen.Rows %d, chunks hold %d", f.Rows, total)
	}
}

func rowsEqual(a, b []row) bool {
	return slices.EqualFunc(a, b, func(x, y row) bool {
		return slices.EqualFunc(x, y, func(p, q cell) bool {
			return p.null == q.null && p.i == q.i && sameFloat(p.f, q.f) && p.b == q.b && p.s == q.s
		})
	})
}

// TestSegmentRoundTrip writes each frozen chunk with segment.Write, opens it, and
// checks that the segment holds the view's rows (sorted by time, stably).
func TestSegmentRoundTrip(t *testing.T) {
	schema := testSchema()
	rng := rand.New(rand.NewPCG(8, 9))
	h := NewHead(schema, hour)
	for range 4 {
		rows := genRows(rng, genOpts{n: 3000, base: t0, spread: 3 * hour, nullProb: 0.15, extreme: true})
		if err := h.Append(toColumns(schema, rows)); err != nil {
			t.Fatal(err)
		}
	}
	views := h.Snapshot()
	f := h.Freeze()
	if len(f.Chunks) != len(views) {
		t.Fatalf("%d frozen chunks for %d views", len(f.Chunks), len(views))
	}
	dir := t.TempDir()
	for i, c := range f.Chunks {
		v := views[i]
		if c.Start != v.ChunkStart() {
			t.Fatalf("chunk %d: start %d, view %d", i, c.Start, v.ChunkStart())
		}
		path := filepath.Join(dir, v.Name()[strings.LastIndexByte(v.Name(), '/')+1:]+".seg")
		info, err := segment.Write(path, c.Cols)
		if err != nil {
			t.Fatal(err)
		}
		r, err := segment.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if info.MinTime != v.MinTime() || info.MaxTime != v.MaxTime() {
			t.Fatalf("segment time range [%d,%d], view [%d,%d]", info.MinTime, info.MaxTime, v.MinTime(), v.MaxTime())
		}
		// The view's rows, read back through the Source interface, stably sorted by time.
		viewRows := readRows(t, v, schema)
		slices.SortStableFunc(viewRows, func(a, b row) int { return cmpInt64(a[1].i, b[1].i) })
		checkSource(t, r, schema, viewRows, nil)
		for ci := range schema.Columns {
			if got, want := r.Stats(ci), v.Stats(ci); !statsEqual(got, want) {
				t.Fatalf("column %d: segment stats %+v, view %+v", ci, got, want)
			}
		}
	}
}

// readRows reads every row of src through the Source interface.
func readRows(t *testing.T, src storage.Source, schema *storage.Schema) []row {
	t.Helper()
	n := src.NumRows()
	rows := make([]row, n)
	for i := range rows {
		rows[i] = make(row, len(schema.Columns))
	}
	for ci, col := range schema.Columns {
		nulls, err := src.Nulls(ci)
		if err != nil {
			t.Fatal(err)
		}
		switch col.Type {
		case storage.TypeTimestamp, storage.TypeInt64:
			vs, err := src.ReadInt64(ci, 0, n, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range vs {
				rows[i][ci].i = v
			}
		case storage.TypeFloat64:
			vs, err := src.ReadFloat64(ci, 0, n, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range vs {
				rows[i][ci].f = v
			}
		case storage.TypeBool:
			vs, err := src.ReadBool(ci, 0, n, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range vs {
				rows[i][ci].b = v
			}
		case storage.TypeString:
			d, err := src.Dict(ci)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := src.ReadDictIDs(ci, 0, n, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				if nulls == nil || !nulls.Contains(uint32(i)) {
					rows[i][ci].s = d.Value(id)
				}
			}
		}
		if nulls != nil {
			for _, r := range nulls.ToArray() {
				rows[r][ci] = cell{null: true}
			}
		}
	}
	return rows
}
