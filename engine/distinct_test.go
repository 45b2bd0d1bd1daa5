package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
)

// unsortedSource presents a source's string columns through a shuffled dictionary,
// as a real-time head's arrival-order dictionary is: ids are permuted, Sorted is false.
type unsortedSource struct {
	storage.Source
	perm map[int][]uint32 // column → old id → new id
	inv  map[int][]uint32 // column → new id → old id
}

type permDict struct {
	d         storage.Dict
	perm, inv []uint32
}

func (d *permDict) Len() int               { return d.d.Len() }
func (d *permDict) Value(id uint32) string { return d.d.Value(d.inv[id]) }
func (d *permDict) Sorted() bool           { return false }
func (d *permDict) Lookup(s string) (uint32, bool) {
	id, ok := d.d.Lookup(s)
	if !ok {
		return 0, false
	}
	return d.perm[id], true
}

func newUnsortedSource(src storage.Source, r *rand.Rand) *unsortedSource {
	u := &unsortedSource{Source: src, perm: map[int][]uint32{}, inv: map[int][]uint32{}}
	for c, col := range src.Schema().Columns {
		if col.Type != storage.TypeString {
			continue
		}
		d, err := src.Dict(c)
		if err != nil {
			panic(err)
		}
		inv := make([]uint32, d.Len())
		for i := range inv {
			inv[i] = uint32(i)
		}
		r.Shuffle(len(inv), func(i, j int) { inv[i], inv[j] = inv[j], inv[i] })
		perm := make([]uint32, len(inv))
		for n, o := range inv {
			perm[o] = uint32(n)
		}
		u.perm[c], u.inv[c] = perm, inv
	}
	return u
}

func (u *unsortedSource) Dict(col int) (storage.Dict, error) {
	d, err := u.Source.Dict(col)
	if err != nil {
		return nil, err
	}
	return &permDict{d: d, perm: u.perm[col], inv: u.inv[col]}, nil
}

func (u *unsortedSource) Bitmap(col int, id uint32) (*roaring.Bitmap, error) {
	return u.Source.Bitmap(col, u.inv[col][id])
}

func (u *unsortedSource) ReadDictIDs(col, start, end int, dst []uint32) ([]uint32, error) {
	dst, err := u.Source.ReadDictIDs(col, start, end, dst)
	for i, id := range dst {
		if int(id) < len(u.perm[col]) {
			dst[i] = u.perm[col][id]
		}
	}
	return dst, err
}

// distinctData builds nsrc sources whose note column holds ids drawn from
// overlapping but different ranges (so the dictionaries differ), with NULLs; every
// third source has a shuffled (unsorted) dictionary. It returns the raw rows too.
func distinctData(seed uint64, nsrc, rows, card int) (*dataset, []*storage.Columns) {
	r := newRand(seed)
	d := &dataset{}
	var raw []*storage.Columns
	for k := 0; k < nsrc; k++ {
		c := genEvents(r, rows/2+r.IntN(rows), k)
		base := r.IntN(card)
		for i := range c.Cols[cNote].String {
			c.Cols[cNote].String[i] = fmt.Sprintf("v%06d", (base+r.IntN(card/2+1))%card)
		}
		c.Cols[cNote].Null = nil
		for i := 0; i < c.Len; i += 11 + k {
			c.SetNull(cNote, i)
			c.Cols[cNote].String[i] = ""
		}
		var src storage.Source = newMemSource(fmt.Sprint("d", k), c)
		if k%3 == 1 {
			src = newUnsortedSource(src, r)
		}
		d.sources = append(d.sources, src)
		raw = append(raw, c)
	}
	return d, raw
}

// TestCountDistinctDictionary checks count(DISTINCT note) and min(DISTINCT note) by
// country and overall, over sources with different, sorted and unsorted
// dictionaries, through the parallel (per-source partial) path and the single hash
// table path, against sets built by a plain loop.
func TestCountDistinctDictionary(t *testing.T) {
	for _, tc := range []struct {
		name             string
		nsrc, rows, card int
	}{
		{"one source", 1, 3000, 500},
		{"few values", 5, 2000, 40},
		{"many sources", 9, 4000, 5000},
		{"high cardinality", 4, 40000, 200000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, raw := distinctData(uint64(len(tc.name)), tc.nsrc, tc.rows, tc.card)
			type ref struct {
				set   map[string]bool
				n     int64
				min   string
				nulls int64
			}
			groups := map[string]*ref{}
			all := &ref{set: map[string]bool{}}
			for _, c := range raw {
				for i := 0; i < c.Len; i++ {
					key := c.Cols[cCountry].String[i]
					g := groups[key]
					if g == nil {
						g = &ref{set: map[string]bool{}}
						groups[key] = g
					}
					for _, x := range []*ref{g, all} {
						x.n++
						if c.IsNull(cNote, i) {
							x.nulls++
							continue
						}
						v := c.Cols[cNote].String[i]
						if len(x.set) == 0 || v < x.min {
							x.min = v
						}
						x.set[v] = true
					}
				}
			}
			row := func(x *ref) []string {
				m := "NULL"
				if len(x.set) > 0 {
					m = x.min
				}
				return []string{strconv.Itoa(len(x.set)), strconv.FormatInt(x.n, 10), m, strconv.FormatInt(x.n-x.nulls, 10)}
			}
			var want [][]string
			for k, g := range groups {
				want = append(want, append([]string{k}, row(g)...))
			}
			sortRows(want)
			wantAll := [][]string{row(all)}

			note := &ColRef{Index: 1, T: Text}
			aggs := []AggCall{
				{Func: "count", Args: []Expr{note}, Distinct: true, T: Int64},
				{Func: "count", T: Int64},
				{Func: "min", Args: []Expr{note}, Distinct: true, T: Text},
				{Func: "count", Args: []Expr{note}, T: Int64},
			}
			out := []Field{{"n", Int64}, {"count", Int64}, {"min", Text}, {"nn", Int64}}
			inputs := map[string]func() Plan{
				"parallel": func() Plan { return scanOf(d, []int{cCountry, cNote}, nil) },
				"hash":     func() Plan { return &Limit{Input: scanOf(d, []int{cCountry, cNote}, nil), Count: 1 << 40} },
			}
			defer func(b, r, pm int64, g int) {
				denseBudget, sparseRatio, pendingMax, pairsMinGroups = b, r, pm, g
			}(denseBudget, sparseRatio, pendingMax, pairsMinGroups)
			for name, in := range inputs {
				for _, par := range []int{1, 2, 3} {
					// Beyond the budget: roaring bitmaps per group (few groups), or
					// (group, id) pairs (pairsMinGroups 0: from any number of groups).
					for _, minGroups := range []int{256, 0} {
						pairsMinGroups = minGroups
						// Partials merged at the end, or each as it arrives.
						pendingMax = map[int]int64{256: 64 << 20, 0: 0}[minGroups]
						// Partials merged by dictionary merge (1, 3) and value by value (2).
						sparseRatio = map[int]int64{1: 16, 2: 1 << 40, 3: 0}[par]
						// Bitsets, roaring bitmaps (pairs) only, and a mix.
						denseBudget = []int64{8 << 20, 0, 2000}[par%3]
						if name == "hash" {
							denseBudget = []int64{8 << 20, 0, 2000}[(par+1)%3]
						}
						opts := Options{Parallelism: par}
						what := fmt.Sprint(name, ", parallelism ", par, ", budget ", denseBudget, ", pairs from ", minGroups, " groups, pending ", pendingMax)
						p := &Aggregate{Input: in(), Groups: []Expr{&ColRef{Index: 0, T: Text}}, Aggs: aggs,
							Out: append([]Field{{"country", Text}}, out...)}
						sameRows(t, what+": by country", sortRows(run(t, p, opts)), want)
						p = &Aggregate{Input: in(), Aggs: aggs, Out: out}
						sameRows(t, what+": overall", run(t, p, opts), wantAll)
					}
				}
			}
		})
	}
}

// TestCountDistinctMixedInput feeds one DISTINCT aggregate dictionary ids and plain
// strings of the same values (a text expression over the column), in both orders.
func TestCountDistinctMixedInput(t *testing.T) {
	d, raw := distinctData(5, 4, 3000, 900)
	set := map[string]bool{}
	for _, c := range raw {
		for i := 0; i < c.Len; i++ {
			if !c.IsNull(cNote, i) {
				set[c.Cols[cNote].String[i]] = true
			}
		}
	}
	want := [][]string{{strconv.Itoa(len(set))}}
	note := &ColRef{Index: 0, T: Text}
	// CASE WHEN qty > 3 THEN note || '' ELSE note END: plain strings on some batches' rows.
	expr := &Case{Whens: []When{{Cond: fn(">", &ColRef{Index: 1, T: Int64}, ki(3)), Then: fn("||", note, ks(""))}}, Else: note, T: Text}
	for _, e := range []Expr{expr, fn("||", note, ks("")), note} {
		p := &Aggregate{Input: &Limit{Input: scanOf(d, []int{cNote, cQty}, nil), Count: 1 << 40},
			Aggs: []AggCall{{Func: "count", Args: []Expr{e}, Distinct: true, T: Int64}}, Out: []Field{{"n", Int64}}}
		sameRows(t, fmt.Sprint("mixed ", e), run(t, p, Options{Parallelism: 2}), want)
	}
}

func TestMergeDicts(t *testing.T) {
	r := newRand(3)
	for iter := 0; iter < 50; iter++ {
		nd := 1 + r.IntN(6)
		dicts := make([][]string, nd)
		union := map[string]bool{}
		for k := range dicts {
			m := map[string]bool{}
			n := r.IntN(3000)
			if iter%10 == 0 {
				n = 40000
			}
			for range n {
				if iter%2 == 1 {
					// Long values sharing their first 8 bytes, "" and a prefix of others.
					m[fmt.Sprintf("session_%x", r.IntN(60000))] = true
					if iter%4 == 1 {
						m[[]string{"", "sess", "session_", "session_1"}[r.IntN(4)]] = true
					}
				} else {
					m[fmt.Sprintf("%x", r.IntN(60000))] = true
				}
			}
			for v := range m {
				dicts[k] = append(dicts[k], v)
				union[v] = true
			}
			sort.Strings(dicts[k])
		}
		var want []string
		for v := range union {
			want = append(want, v)
		}
		sort.Strings(want)
		for _, par := range []int{1, 2, 5} {
			vals, n, trans, _ := mergeDicts(dicts, par, true)
			if _, n2, _, _ := mergeDicts(dicts, par, false); n2 != n || n != len(want) {
				t.Fatalf("iter %d par %d: %d and %d values, want %d", iter, par, n, n2, len(want))
			}
			if fmt.Sprint(vals) != fmt.Sprint(want) {
				t.Fatalf("iter %d par %d: union has %d values, want %d", iter, par, len(vals), len(want))
			}
			for k, dict := range dicts {
				for id, v := range dict {
					if vals[trans[k][id]] != v {
						t.Fatalf("iter %d par %d: dict %d id %d (%q) maps to %q", iter, par, k, id, v, vals[trans[k][id]])
					}
				}
			}
		}
	}
}

// TestCountDistinctMemoryLimit: the id sets count against the limit.
func TestCountDistinctMemoryLimit(t *testing.T) {
	d, _ := distinctData(9, 4, 40000, 400000)
	note := &ColRef{Index: 0, T: Text}
	p := &Aggregate{Input: scanOf(d, []int{cNote, cTS}, nil), Groups: []Expr{&ColRef{Index: 1, T: TimestampTZ}},
		Aggs: []AggCall{{Func: "count", Args: []Expr{note}, Distinct: true, T: Int64}}, Out: []Field{{"ts", TimestampTZ}, {"n", Int64}}}
	_, err := runErr(p, Options{MemoryLimit: 1 << 20})
	var e *Error
	if !errors.As(err, &e) || e.Code != sqlstate.OutOfMemory {
		t.Fatalf("got %v, want SQLSTATE 53200", err)
	}
}

// TestCountDistinctPerUser checks count(DISTINCT session) GROUP BY user, many
// groups of few ids out of large dictionaries, against sets built by a plain loop:
// with the default budget (bitsets, then (group, id) pairs once it runs out), with
// pairs from the start, and with roaring bitmaps per group.
func TestCountDistinctPerUser(t *testing.T) {
	srcs, sessions := sessionData(7, 4, 20_000, 6_000)
	var want [][]string
	for u, n := range sessions {
		want = append(want, []string{u, strconv.Itoa(n)})
	}
	sortRows(want)
	defer func(b, pm int64, g int) { denseBudget, pendingMax, pairsMinGroups = b, pm, g }(denseBudget, pendingMax, pairsMinGroups)
	for _, tc := range []struct {
		budget, pending int64
		minGroups       int
	}{{8 << 20, 64 << 20, 256}, {0, 64 << 20, 256}, {0, 0, 1 << 30}, {100_000, 64 << 20, 0}, {100_000, 0, 0}} {
		denseBudget, pendingMax, pairsMinGroups = tc.budget, tc.pending, tc.minGroups
		for _, par := range []int{1, 2, 3} {
			got := sortRows(run(t, perUserDistinct(srcs), Options{Parallelism: par}))
			sameRows(t, fmt.Sprint("budget ", tc.budget, ", pending ", tc.pending, ", pairs from ", tc.minGroups, " groups, parallelism ", par), got, want)
		}
	}
}

// TestHashDicts checks the numbering of unsorted dictionaries' values: one number
// per distinct value, in 0..n-1, with one partition (few values or one worker) and
// with several (parallelism above 1 and at least 65536 values in all).
func TestHashDicts(t *testing.T) {
	r := newRand(4)
	for iter := 0; iter < 30; iter++ {
		dicts := make([][]string, 1+r.IntN(6))
		for k := range dicts {
			n := r.IntN(3000)
			if iter%5 == 0 {
				n = 40000
			}
			m := map[string]bool{}
			for range n {
				v := fmt.Sprintf("session_%x", r.IntN(80000))
				if !m[v] {
					m[v] = true
					dicts[k] = append(dicts[k], v) // map order: unsorted
				}
			}
			if iter%7 == 3 {
				dicts[k] = append(dicts[k], "")
			}
		}
		union := map[string]bool{}
		for _, d := range dicts {
			for _, v := range d {
				union[v] = true
			}
		}
		for _, par := range []int{1, 2, 5} {
			a := &idSets{par: par, mem: &memTracker{}}
			n, trans, err := a.hashDicts(dicts)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(union) {
				t.Fatalf("iter %d par %d: %d numbers, want %d", iter, par, n, len(union))
			}
			byNum := map[uint32]string{}
			byVal := map[string]uint32{}
			for k, d := range dicts {
				for i, v := range d {
					x := trans[k][i]
					if int(x) >= n {
						t.Fatalf("iter %d par %d: %q numbered %d of %d", iter, par, v, x, n)
					}
					if y, ok := byVal[v]; ok && y != x {
						t.Fatalf("iter %d par %d: %q numbered %d and %d", iter, par, v, y, x)
					}
					if w, ok := byNum[x]; ok && w != v {
						t.Fatalf("iter %d par %d: %d numbers %q and %q", iter, par, x, byNum[x], v)
					}
					byVal[v], byNum[x] = x, v
				}
			}
			if u := a.mem.used.Load(); u != 0 {
				t.Fatalf("iter %d par %d: %d bytes left charged", iter, par, u)
			}
		}
	}
}

// TestCompactedPartial: a partial whose sets hold a few ids of a large
// dictionary waits for the final merge over a space of just those values
// (copied), so the dictionary is not held; a dense partial stays as it is.
func TestCompactedPartial(t *testing.T) {
	dict := make([]string, 5000)
	for i := range dict {
		dict[i] = fmt.Sprintf("user%05d", 4999-i)
	}
	a := &idSets{mem: &memTracker{}}
	a.grow(3)
	x := &vec{t: Text, isDict: true, dict: dict, ids: []uint32{7, 4000, 7, 12}, n: 4}
	if err := a.update([]int32{0, 0, 2, 2}, x); err != nil {
		t.Fatal(err)
	}
	c, err := a.compacted()
	if err != nil {
		t.Fatal(err)
	}
	if c == a || c.space.size() != 3 {
		t.Fatalf("compacted space has %d values, want 3", c.space.size())
	}
	got := map[int32][]string{}
	c.forEach(func(g int32, id uint32) error {
		got[g] = append(got[g], c.space.values()[id])
		return nil
	})
	for _, v := range got {
		sort.Strings(v)
	}
	if fmt.Sprint(got) != fmt.Sprint(map[int32][]string{0: {"user00999", "user04992"}, 2: {"user04987", "user04992"}}) {
		t.Fatalf("compacted sets %v", got)
	}
	all := make([]uint32, len(dict))
	for i := range all {
		all[i] = uint32(i)
	}
	d := &idSets{mem: &memTracker{}}
	d.grow(1)
	if err := d.update(make([]int32, len(all)), &vec{t: Text, isDict: true, dict: dict, ids: all, n: len(all)}); err != nil {
		t.Fatal(err)
	}
	if c, _ := d.compacted(); c != d {
		t.Fatal("a dense partial was compacted")
	}
}
