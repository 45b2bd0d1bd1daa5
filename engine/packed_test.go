package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/internal/sqlstate"
)

func TestU64Table(t *testing.T) {
	r := newRand(8)
	tab := newU64Table(0)
	ref := map[uint64]int32{}
	for i := 0; i < 200000; i++ {
		k := r.Uint64() >> r.IntN(64) // many small keys, 0 included
		g := tab.get(k)
		want, ok := ref[k]
		if !ok {
			want = -1
		}
		if g != want {
			t.Fatalf("step %d: get(%d) = %d, want %d", i, k, g, want)
		}
		if !ok {
			ref[k] = int32(len(ref))
			tab.put(k, ref[k])
		}
	}
	if tab.n != len(ref) {
		t.Fatalf("table holds %d keys, want %d", tab.n, len(ref))
	}
}

func TestPackMults(t *testing.T) {
	if _, _, ok := packMults([]uint64{1 << 32, 1 << 31}); ok {
		t.Fatal("2^63 key space accepted")
	}
	m, space, ok := packMults([]uint64{3, 5, 7})
	if !ok || space != 105 || fmt.Sprint(m) != "[1 3 15]" {
		t.Fatalf("got %v %d %v", m, space, ok)
	}
}

// TestGroupByPackedKeys groups by two and three dictionary columns (one of high
// cardinality, all with NULLs) over sources with different, sorted and unsorted
// dictionaries, and checks every group against a plain loop.
func TestGroupByPackedKeys(t *testing.T) {
	defer func(m, g uint64) { packedDenseMax, mergeDenseMax = m, g }(packedDenseMax, mergeDenseMax)
	for _, card := range []int{50, 3000, 400000} {
		packedDenseMax, mergeDenseMax = 1<<20, 1<<22
		if card == 3000 {
			packedDenseMax, mergeDenseMax = 0, 0 // hash table lookups
		}
		d, raw := distinctData(uint64(card), 7, 6000, card)
		for _, ncol := range []int{2, 3} {
			scanCols := []int{cNote, cDevice, cCountry}[:ncol]
			want := map[string]int64{}
			sums := map[string]int64{}
			times := map[string]map[int64]bool{} // distinct timestamps per group
			for _, c := range raw {
				for i := 0; i < c.Len; i++ {
					var key []string
					for _, sc := range scanCols {
						v := "NULL"
						if !c.IsNull(sc, i) {
							v = c.Cols[sc].String[i]
						}
						key = append(key, v)
					}
					k := strings.Join(key, "\x00")
					want[k]++
					if times[k] == nil {
						times[k] = map[int64]bool{}
					}
					times[k][c.Cols[cTS].Int64[i]/3600e6] = true
					if !c.IsNull(cQty, i) {
						sums[k] += c.Cols[cQty].Int64[i]
					}
				}
			}
			var wantRows [][]string
			for k, n := range want {
				wantRows = append(wantRows, append(strings.Split(k, "\x00"), strconv.FormatInt(n, 10), strconv.FormatInt(sums[k], 10), strconv.Itoa(len(times[k]))))
			}
			sortRows(wantRows)
			var groups []Expr
			var out []Field
			for i, sc := range scanCols {
				groups = append(groups, &ColRef{Index: i, T: Text})
				out = append(out, Field{eventsSchema.Columns[sc].Name, Text})
			}
			out = append(out, Field{"count", Int64}, Field{"sum", Numeric}, Field{"hours", Int64})
			qty := &ColRef{Index: ncol, T: Int64}
			hour := fn("date_trunc", ks("hour"), &ColRef{Index: ncol + 1, T: TimestampTZ})
			aggs := []AggCall{{Func: "count", T: Int64}, {Func: "sum", Args: []Expr{qty}, T: Numeric},
				{Func: "count", Args: []Expr{hour}, Distinct: true, T: Int64}}
			for _, in := range []string{"parallel", "hash"} {
				for _, par := range []int{1, 3} {
					var input Plan = scanOf(d, append(append([]int{}, scanCols...), cQty, cTS), nil)
					if in == "hash" {
						input = &Limit{Input: input, Count: 1 << 40}
					}
					p := &Aggregate{Input: input, Groups: groups, Aggs: aggs, Out: out}
					got := sortRows(run(t, p, Options{Parallelism: par}))
					// sum over a group of only NULL quantities is NULL.
					for _, r := range got {
						if r[len(r)-2] == "NULL" {
							r[len(r)-2] = "0"
						}
					}
					sameRows(t, fmt.Sprintf("card %d, %d keys, %s, parallelism %d", card, ncol, in, par), got, wantRows)
				}
			}
		}
	}
}

// TestGroupTableUnpack feeds a by-id table batches of two different dictionaries:
// the packed groups move to the encoded map and equal values still meet.
func TestGroupTableUnpack(t *testing.T) {
	mk := func(dict []string, ids []uint32, nulls []bool) *vec {
		return &vec{t: Text, n: len(ids), isDict: true, dict: dict, ids: ids, nulls: nulls}
	}
	g := newGroupTable([]Type{Text, Text}, true)
	d1, d2 := []string{"a", "b", "c"}, []string{"b", "c", "d"}
	gids := make([]int32, 4)
	if err := g.find([]*vec{mk(d1, []uint32{0, 1, 2, 1}, nil), mk(d1, []uint32{0, 0, 1, 0}, []bool{false, false, true, false})}, 4, gids); err != nil {
		t.Fatal(err)
	}
	if g.packed == nil || fmt.Sprint(gids) != "[0 1 2 1]" {
		t.Fatalf("packed %v, gids %v", g.packed != nil, gids)
	}
	// (b,a) (c,NULL) again through the second dictionary, then a new (d,b).
	if err := g.find([]*vec{mk(d2, []uint32{0, 1, 2, 0}, nil), mk(d2, []uint32{0, 0, 0, 0}, []bool{true, true, false, true})}, 4, gids); err != nil {
		t.Fatal(err)
	}
	if g.packed != nil {
		t.Fatal("still packed after a batch of another dictionary")
	}
	// A by-id table may keep a key met through two dictionaries as two groups (the
	// final merge folds them); each group's key must hold its rows' values, and rows
	// of one dictionary with equal keys must share a group.
	key := func(gr int32) string {
		var parts []string
		for _, k := range g.keys {
			if k.isNull(int(gr)) {
				parts = append(parts, "NULL")
			} else {
				parts = append(parts, k.str(int(gr)))
			}
		}
		return strings.Join(parts, ",")
	}
	for i, want := range []string{"b,NULL", "c,NULL", "d,b", "b,NULL"} {
		if got := key(gids[i]); got != want {
			t.Fatalf("row %d: group %d has key %s, want %s", i, gids[i], got, want)
		}
	}
	if gids[0] != gids[3] {
		t.Fatalf("equal keys in different groups: %v", gids)
	}
}

// TestGroupByPackedMemoryLimit: packed tables and the packed merge count against
// the limit.
func TestGroupByPackedMemoryLimit(t *testing.T) {
	d, _ := distinctData(4, 4, 30000, 300000)
	p := &Aggregate{Input: scanOf(d, []int{cNote, cDevice}, nil),
		Groups: []Expr{&ColRef{Index: 0, T: Text}, &ColRef{Index: 1, T: Text}},
		Aggs:   []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"note", Text}, {"device", Text}, {"count", Int64}}}
	_, err := runErr(p, Options{MemoryLimit: 1 << 20})
	var e *Error
	if !errors.As(err, &e) || e.Code != sqlstate.OutOfMemory {
		t.Fatalf("got %v, want SQLSTATE 53200", err)
	}
	if _, err := runErr(p, Options{MemoryLimit: 1 << 30}); err != nil {
		t.Fatalf("with a large limit: %v", err)
	}
}

// TestGroupTableDenseThenPlain: a by-id single-key table that met plain text after
// dictionary ids (its key rows became values) keeps correct keys for later ids.
func TestGroupTableDenseThenPlain(t *testing.T) {
	g := newGroupTable([]Type{Text}, true)
	dict := []string{"a", "b", "c"}
	gids := make([]int32, 3)
	find := func(v *vec) {
		t.Helper()
		if err := g.find([]*vec{v}, v.n, gids[:v.n]); err != nil {
			t.Fatal(err)
		}
	}
	find(&vec{t: Text, n: 2, isDict: true, dict: dict, ids: []uint32{0, 1}})
	find(&vec{t: Text, n: 1, s: []string{"z"}})
	find(&vec{t: Text, n: 3, isDict: true, dict: dict, ids: []uint32{2, 0, 2}})
	for i, want := range []string{"c", "a", "c"} {
		if got := g.keys[0].str(int(gids[i])); got != want {
			t.Fatalf("row %d: group %d has key %q, want %q", i, gids[i], got, want)
		}
	}
}
