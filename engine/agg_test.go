package engine

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/internal/sqlstate"
)

// closeRows compares result rows, allowing float columns a relative error of 1e-9
// (parallel partial sums add in a different order than the reference loop).
func closeRows(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d rows, want %d\ngot:  %v\nwant: %v", what, len(got), len(want), head(got), head(want))
	}
	for i := range got {
		for c := range got[i] {
			g, w := got[i][c], want[i][c]
			if g == w {
				continue
			}
			gf, err1 := strconv.ParseFloat(g, 64)
			wf, err2 := strconv.ParseFloat(w, 64)
			if err1 == nil && err2 == nil && math.Abs(gf-wf) <= 1e-9*math.Max(1, math.Abs(wf)) {
				continue
			}
			t.Fatalf("%s: row %d col %d: got %q, want %q\ngot row  %v\nwant row %v", what, i, c, g, w, got[i], want[i])
		}
	}
}

func fnum(f float64, t Type) string { return string(appendFloat(nil, f, t)) }

// refAgg is the reference aggregation state for one group.
type refAgg struct {
	count, countDev, countFlagQty int64
	devs                          map[string]bool
	sumQty, sumQtyFlag            int64
	nQty, nQtyFlag                int64
	sumPrice                      float64
	nPrice                        int64
	maxNote                       *string
	minPrice                      *float64
	allFlag                       bool
	prices                        []float64    // non-NULL prices, for stddev
	pairs                         [][2]float64 // (price, qty) both non-NULL, for corr
}

// twoPass computes stddev_samp of xs and corr of pairs by the textbook two-pass
// formulas, independently of the engine's streaming accumulators.
func twoPass(xs []float64, pairs [][2]float64) (sd string, corr string) {
	sd, corr = "NULL", "NULL"
	if n := float64(len(xs)); n >= 2 {
		m := 0.0
		for _, x := range xs {
			m += x
		}
		m /= n
		ss := 0.0
		for _, x := range xs {
			ss += (x - m) * (x - m)
		}
		sd = fnum(math.Sqrt(ss/(n-1)), Float64)
	}
	if n := float64(len(pairs)); n >= 1 {
		my, mx := 0.0, 0.0
		for _, p := range pairs {
			my, mx = my+p[0], mx+p[1]
		}
		my, mx = my/n, mx/n
		var sxx, syy, sxy float64
		for _, p := range pairs {
			sxx += (p[1] - mx) * (p[1] - mx)
			syy += (p[0] - my) * (p[0] - my)
			sxy += (p[1] - mx) * (p[0] - my)
		}
		if sxx != 0 && syy != 0 {
			corr = fnum(sxy/math.Sqrt(sxx*syy), Float64)
		}
	}
	return sd, corr
}

func TestAggregateGroupBy(t *testing.T) {
	d := newDataset(11, 9, 400)
	// The plan: SELECT <key>, count(*), count(device), count(DISTINCT device), sum(qty),
	// avg(qty), sum(price), avg(price), min(price), max(note), bool_and(flag),
	// sum(qty) FILTER (WHERE flag) FROM events GROUP BY <key>.
	scanCols := []int{cCountry, cDevice, cPrice, cQty, cFlag, cNote, cTS}
	in := func(c int) *ColRef {
		for i, sc := range scanCols {
			if sc == c {
				return &ColRef{Index: i, T: colTypes[c], Name: eventsSchema.Columns[c].Name}
			}
		}
		panic("column not scanned")
	}
	aggs := []AggCall{
		{Func: "count", T: Int64},
		{Func: "count", Args: []Expr{in(cDevice)}, T: Int64},
		{Func: "count", Args: []Expr{in(cDevice)}, Distinct: true, T: Int64},
		{Func: "sum", Args: []Expr{in(cQty)}, T: Numeric},
		{Func: "avg", Args: []Expr{in(cQty)}, T: Numeric},
		{Func: "sum", Args: []Expr{in(cPrice)}, T: Float64},
		{Func: "avg", Args: []Expr{in(cPrice)}, T: Float64},
		{Func: "min", Args: []Expr{in(cPrice)}, T: Float64},
		{Func: "max", Args: []Expr{in(cNote)}, T: Text},
		{Func: "bool_and", Args: []Expr{in(cFlag)}, T: Bool},
		{Func: "sum", Args: []Expr{in(cQty)}, Filter: in(cFlag), T: Numeric},
		{Func: "stddev", Args: []Expr{in(cPrice)}, T: Float64},
		{Func: "corr", Args: []Expr{in(cPrice), in(cQty)}, T: Float64},
	}
	keys := []struct {
		name  string
		exprs []Expr
		key   func(row []Value) string // reference group key text, columns joined by "|"
	}{
		{"country (dict ids)", []Expr{in(cCountry)}, func(r []Value) string { return textOf(r[cCountry]) }},
		{"device (NULL key)", []Expr{in(cDevice)}, func(r []Value) string { return textOf(r[cDevice]) }},
		{"qty (int key)", []Expr{in(cQty)}, func(r []Value) string { return textOf(r[cQty]) }},
		{"country, flag", []Expr{in(cCountry), in(cFlag)}, func(r []Value) string { return textOf(r[cCountry]) + "|" + textOf(r[cFlag]) }},
		{"lower(device)", []Expr{fn("lower", in(cDevice))}, func(r []Value) string {
			if r[cDevice].Null {
				return "NULL"
			}
			return strings.ToLower(r[cDevice].S)
		}},
		{"date_trunc hour", []Expr{fn("date_trunc", ks("hour"), in(cTS))}, func(r []Value) string {
			return textOf(Value{Type: TimestampTZ, I: r[cTS].I / usPerHour * usPerHour})
		}},
		{"no groups", nil, func(r []Value) string { return "" }},
	}
	for _, k := range keys {
		ref := map[string]*refAgg{}
		var order []string
		for _, row := range d.rows {
			key := k.key(row)
			a := ref[key]
			if a == nil {
				a = &refAgg{devs: map[string]bool{}, allFlag: true}
				ref[key] = a
				order = append(order, key)
			}
			a.count++
			if !row[cDevice].Null {
				a.countDev++
				a.devs[row[cDevice].S] = true
			}
			if !row[cQty].Null {
				a.sumQty += row[cQty].I
				a.nQty++
				if row[cFlag].B {
					a.sumQtyFlag += row[cQty].I
					a.nQtyFlag++
				}
			}
			if !row[cPrice].Null && !row[cQty].Null {
				a.pairs = append(a.pairs, [2]float64{row[cPrice].F, float64(row[cQty].I)})
			}
			if !row[cPrice].Null {
				a.prices = append(a.prices, row[cPrice].F)
				a.sumPrice += row[cPrice].F
				a.nPrice++
				if a.minPrice == nil || row[cPrice].F < *a.minPrice {
					p := row[cPrice].F
					a.minPrice = &p
				}
			}
			if !row[cNote].Null && (a.maxNote == nil || row[cNote].S > *a.maxNote) {
				s := row[cNote].S
				a.maxNote = &s
			}
			a.allFlag = a.allFlag && row[cFlag].B
		}
		var want [][]string
		for _, key := range order {
			a := ref[key]
			var row []string
			if key != "" || len(k.exprs) > 0 {
				row = append(row, strings.Split(key, "|")...)
			}
			row = append(row, strconv.FormatInt(a.count, 10), strconv.FormatInt(a.countDev, 10), strconv.Itoa(len(a.devs)))
			if a.nQty == 0 {
				row = append(row, "NULL", "NULL")
			} else {
				row = append(row, strconv.FormatInt(a.sumQty, 10), fnum(float64(a.sumQty)/float64(a.nQty), Numeric))
			}
			if a.nPrice == 0 {
				row = append(row, "NULL", "NULL", "NULL")
			} else {
				row = append(row, fnum(a.sumPrice, Float64), fnum(a.sumPrice/float64(a.nPrice), Float64), fnum(*a.minPrice, Float64))
			}
			if a.maxNote == nil {
				row = append(row, "NULL")
			} else {
				row = append(row, *a.maxNote)
			}
			row = append(row, textOf(Value{Type: Bool, B: a.allFlag}))
			if a.nQtyFlag == 0 {
				row = append(row, "NULL")
			} else {
				row = append(row, strconv.FormatInt(a.sumQtyFlag, 10))
			}
			sd, corr := twoPass(a.prices, a.pairs)
			row = append(row, sd, corr)
			want = append(want, row)
		}
		sortRows(want)
		out := make([]Field, 0, len(k.exprs)+len(aggs))
		for i, e := range k.exprs {
			out = append(out, Field{Name: fmt.Sprint("k", i), Type: e.Type()})
		}
		for _, a := range aggs {
			out = append(out, Field{Name: a.Func, Type: a.T})
		}
		for _, par := range []int{1, 3} {
			// Partial aggregation per source, merged.
			p := &Aggregate{Input: scanOf(d, scanCols, nil), Groups: k.exprs, Aggs: aggs, Out: out}
			closeRows(t, k.name+" parallel", sortRows(run(t, p, Options{Parallelism: par})), want)
			// The same over a non-pipeline input (a Limit that passes everything) runs
			// as a single hash aggregation.
			p2 := &Aggregate{Input: &Limit{Input: scanOf(d, scanCols, nil), Count: -1}, Groups: k.exprs, Aggs: aggs, Out: out}
			closeRows(t, k.name+" serial", sortRows(run(t, p2, Options{Parallelism: par})), want)
		}
	}
}

func TestAggregateEmptyAndValues(t *testing.T) {
	v := &Values{Rows: [][]Expr{{ki(1), ks("a"), kf(1.5)}, {ki(2), ks("b"), knull(Float64)}, {knull(Int32), ks("a"), kf(-1)}},
		Out: []Field{{"i", Int32}, {"s", Text}, {"f", Float64}}}
	i, s, f := &ColRef{Index: 0, T: Int32}, &ColRef{Index: 1, T: Text}, &ColRef{Index: 2, T: Float64}
	aggs := []AggCall{
		{Func: "count", T: Int64}, {Func: "sum", Args: []Expr{i}, T: Int64}, {Func: "avg", Args: []Expr{i}, T: Numeric},
		{Func: "max", Args: []Expr{f}, T: Float64}, {Func: "min", Args: []Expr{s}, T: Text},
		{Func: "count", Args: []Expr{i}, Distinct: true, T: Int64}, {Func: "sum", Args: []Expr{i}, Distinct: true, T: Int64},
		{Func: "bool_or", Args: []Expr{fn(">", i, ki(1))}, T: Bool},
		{Func: "approx_count_distinct", Args: []Expr{s}, T: Int64},
	}
	out := []Field{{"count", Int64}, {"sum", Int64}, {"avg", Numeric}, {"max", Float64}, {"min", Text}, {"cd", Int64}, {"sd", Int64}, {"bo", Bool}, {"acd", Int64}}
	got := run(t, &Aggregate{Input: v, Aggs: aggs, Out: out}, Options{})
	sameRows(t, "values agg", got, [][]string{{"3", "3", "1.5000000000000000", "1.5", "a", "2", "3", "t", "2"}})
	// Empty input without groups: one row, count 0, the rest NULL.
	empty := &Filter{Input: v, Cond: kb(false)}
	got = run(t, &Aggregate{Input: empty, Aggs: aggs, Out: out}, Options{})
	sameRows(t, "empty agg", got, [][]string{{"0", "NULL", "NULL", "NULL", "NULL", "0", "NULL", "NULL", "0"}})
	// Empty input with groups: no rows.
	got = run(t, &Aggregate{Input: empty, Groups: []Expr{s}, Aggs: aggs[:1], Out: []Field{{"s", Text}, {"count", Int64}}}, Options{})
	sameRows(t, "empty grouped agg", got, nil)
	// Grouping keeps NULL as its own group; float keys -0 and 0 group together.
	v2 := &Values{Rows: [][]Expr{{kf(0)}, {kf(math.Copysign(0, -1))}, {knull(Float64)}, {knull(Float64)}, {kf(math.NaN())}, {kf(math.NaN())}},
		Out: []Field{{"f", Float64}}}
	got = sortRows(run(t, &Aggregate{Input: v2, Groups: []Expr{&ColRef{Index: 0, T: Float64}}, Aggs: aggs[:1], Out: []Field{{"f", Float64}, {"count", Int64}}}, Options{}))
	sameRows(t, "float keys", got, [][]string{{"0", "2"}, {"NULL", "2"}, {"NaN", "2"}})
}

func TestSortAndTopN(t *testing.T) {
	d := newDataset(21, 7, 500)
	scanCols := []int{cTS, cPrice, cQty, cCountry}
	ts, price, qty, country := &ColRef{Index: 0, T: TimestampTZ}, &ColRef{Index: 1, T: Float64}, &ColRef{Index: 2, T: Int64}, &ColRef{Index: 3, T: Text}
	type row struct{ vals []Value }
	var rows []row
	for _, r := range d.rows {
		rows = append(rows, row{[]Value{r[cTS], r[cPrice], r[cQty], r[cCountry]}})
	}
	text := func(rs []row) [][]string {
		var out [][]string
		for _, r := range rs {
			var s []string
			for _, v := range r.vals {
				s = append(s, textOf(v))
			}
			out = append(out, s)
		}
		return out
	}
	// Reference order: price DESC NULLS FIRST, qty ASC NULLS LAST, country ASC, ts ASC.
	cmpNullable := func(an, bn bool, c int, desc, nullsFirst bool) int {
		switch {
		case an && bn:
			return 0
		case an:
			if nullsFirst {
				return -1
			}
			return 1
		case bn:
			if nullsFirst {
				return 1
			}
			return -1
		}
		if desc {
			return -c
		}
		return c
	}
	ref := append([]row(nil), rows...)
	sort.SliceStable(ref, func(i, j int) bool {
		a, b := ref[i].vals, ref[j].vals
		if c := cmpNullable(a[1].Null, b[1].Null, cmpFloat(a[1].F, b[1].F), true, true); c != 0 {
			return c < 0
		}
		if c := cmpNullable(a[2].Null, b[2].Null, cmpInt(a[2].I, b[2].I), false, false); c != 0 {
			return c < 0
		}
		if c := strings.Compare(a[3].S, b[3].S); c != 0 {
			return c < 0
		}
		return a[0].I < b[0].I
	})
	keys := []SortKey{{Expr: price, Desc: true, NullsFirst: true}, {Expr: qty}, {Expr: country}, {Expr: ts}}
	want := text(ref)
	sameRows(t, "full sort", run(t, &Sort{Input: scanOf(d, scanCols, nil), Keys: keys}, Options{}), want)
	for _, lim := range []struct{ count, offset int64 }{{10, 0}, {5, 3}, {0, 0}, {1, 0}, {int64(len(want)) + 5, 0}, {4000, 100}} {
		got := run(t, &Limit{Input: &Sort{Input: scanOf(d, scanCols, nil), Keys: keys}, Count: lim.count, Offset: lim.offset}, Options{Parallelism: 3})
		lo := min(int(lim.offset), len(want))
		hi := min(lo+int(lim.count), len(want))
		var w [][]string
		if hi > lo {
			w = want[lo:hi]
		}
		sameRows(t, fmt.Sprintf("top-N %d offset %d", lim.count, lim.offset), got, w)
	}
	// Top-N on keys without NULLs (typed first-key fast path): coalesce(price, -1) DESC,
	// then qty, ts; and ts DESC alone.
	cp := fn("coalesce", price, kf(-1))
	ref2 := append([]row(nil), rows...)
	pv := func(r row) float64 {
		if r.vals[1].Null {
			return -1
		}
		return r.vals[1].F
	}
	sort.SliceStable(ref2, func(i, j int) bool {
		a, b := ref2[i], ref2[j]
		if pv(a) != pv(b) {
			return pv(a) > pv(b)
		}
		if c := cmpNullable(a.vals[2].Null, b.vals[2].Null, cmpInt(a.vals[2].I, b.vals[2].I), false, false); c != 0 {
			return c < 0
		}
		return a.vals[0].I < b.vals[0].I
	})
	want2 := text(ref2)
	got2 := run(t, &Limit{Input: &Sort{Input: scanOf(d, scanCols, nil), Keys: []SortKey{{Expr: cp, Desc: true}, {Expr: qty}, {Expr: ts}}}, Count: 25}, Options{})
	sameRows(t, "top-N float key", got2, want2[:25])
	ref3 := append([]row(nil), rows...)
	sort.SliceStable(ref3, func(i, j int) bool { return ref3[i].vals[0].I > ref3[j].vals[0].I })
	got3 := run(t, &Limit{Input: &Sort{Input: scanOf(d, scanCols, nil), Keys: []SortKey{{Expr: ts, Desc: true, NullsFirst: true}}}, Count: 7, Offset: 2}, Options{})
	sameRows(t, "top-N int key", got3, text(ref3)[2:9])
	// Stability: equal keys keep input order (Values input is ordered).
	v := &Values{Rows: [][]Expr{{ki(2), ks("a")}, {ki(1), ks("b")}, {ki(2), ks("c")}, {knull(Int32), ks("d")}, {ki(1), ks("e")}, {ki(2), ks("f")}},
		Out: []Field{{"k", Int32}, {"s", Text}}}
	k := &ColRef{Index: 0, T: Int32}
	got := run(t, &Sort{Input: v, Keys: []SortKey{{Expr: k}}}, Options{})
	sameRows(t, "stable", got, [][]string{{"1", "b"}, {"1", "e"}, {"2", "a"}, {"2", "c"}, {"2", "f"}, {"NULL", "d"}})
	got = run(t, &Sort{Input: v, Keys: []SortKey{{Expr: k, Desc: true, NullsFirst: true}}}, Options{})
	sameRows(t, "stable desc", got, [][]string{{"NULL", "d"}, {"2", "a"}, {"2", "c"}, {"2", "f"}, {"1", "b"}, {"1", "e"}})
	got = run(t, &Limit{Input: &Sort{Input: v, Keys: []SortKey{{Expr: k}}}, Count: 3}, Options{})
	sameRows(t, "stable top-N", got, [][]string{{"1", "b"}, {"1", "e"}, {"2", "a"}})
}

func TestLimitDistinctValues(t *testing.T) {
	d := newDataset(31, 5, 300)
	n := len(d.rows)
	for _, c := range []struct{ count, offset int64 }{{10, 0}, {0, 0}, {-1, 0}, {-1, 5}, {7, int64(n) - 3}, {5, int64(n) + 10}} {
		got := run(t, &Limit{Input: scanOf(d, []int{cTS}, nil), Count: c.count, Offset: c.offset}, Options{})
		want := n - int(min(c.offset, int64(n)))
		if c.count >= 0 {
			want = min(want, int(c.count))
		}
		if len(got) != want {
			t.Errorf("limit %d offset %d: %d rows, want %d", c.count, c.offset, len(got), want)
		}
	}
	set := map[string]bool{}
	for _, r := range d.rows {
		set[textOf(r[cCountry])+"\x00"+textOf(r[cDevice])] = true
	}
	var want [][]string
	for k := range set {
		want = append(want, strings.Split(k, "\x00"))
	}
	sortRows(want)
	got := sortRows(run(t, &Distinct{Input: scanOf(d, []int{cCountry, cDevice}, nil)}, Options{}))
	sameRows(t, "distinct", got, want)
	v := &Values{Rows: [][]Expr{{ki(1), fn("+", ki(1), ki(1))}, {knull(Int32), ks("x")}}, Out: []Field{{"a", Int32}, {"b", Text}}}
	sameRows(t, "values", run(t, v, Options{}), [][]string{{"1", "2"}, {"NULL", "x"}})
	proj := &Project{Input: v, Exprs: []Expr{fn("*", &ColRef{Index: 0, T: Int32}, ki(10))}, Names: []string{"x"}}
	sameRows(t, "project", run(t, proj, Options{}), [][]string{{"10"}, {"NULL"}})
}

func TestMemoryLimit(t *testing.T) {
	d := newDataset(41, 4, 3000)
	plans := map[string]Plan{
		"hash aggregate": &Aggregate{Input: scanOf(d, []int{cTS}, nil), Groups: []Expr{&ColRef{Index: 0, T: TimestampTZ}},
			Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"ts", TimestampTZ}, {"count", Int64}}},
		"sort":     &Sort{Input: scanOf(d, []int{cTS, cNote}, nil), Keys: []SortKey{{Expr: &ColRef{Index: 0, T: TimestampTZ}}}},
		"distinct": &Distinct{Input: scanOf(d, []int{cTS}, nil)},
		"top-N":    &Limit{Input: &Sort{Input: scanOf(d, []int{cTS, cNote}, nil), Keys: []SortKey{{Expr: &ColRef{Index: 0, T: TimestampTZ}}}}, Count: 100000},
		"count distinct": &Aggregate{Input: scanOf(d, []int{cTS}, nil),
			Aggs: []AggCall{{Func: "count", Args: []Expr{&ColRef{Index: 0, T: TimestampTZ}}, Distinct: true, T: Int64}}, Out: []Field{{"count", Int64}}},
	}
	for name, p := range plans {
		_, err := runErr(p, Options{MemoryLimit: 20000})
		var e *Error
		if !errors.As(err, &e) || e.Code != sqlstate.OutOfMemory || e.Message != "query exceeded memory limit of 20000 bytes" {
			t.Errorf("%s: got %v, want 53200", name, err)
		}
		if _, err := runErr(p, Options{MemoryLimit: 1 << 30}); err != nil {
			t.Errorf("%s with a large limit: %v", name, err)
		}
	}
}

// TestGroupByHighCardinalitySortedMerge groups a high-cardinality dictionary column
// across sources (enough groups for the range-parallel sorted merge) and checks each
// group against a plain loop.
func TestGroupByHighCardinalitySortedMerge(t *testing.T) {
	r := newRand(77)
	d := &dataset{}
	want := map[string]int64{}
	sums := map[string]int64{}
	nq := map[string]int{}
	for k := 0; k < 4; k++ {
		c := genEvents(r, 30000, k)
		for i := range c.Cols[cNote].String {
			c.Cols[cNote].String[i] = fmt.Sprintf("u%05d", r.IntN(40000))
		}
		c.Cols[cNote].Null = nil
		for i := 0; i < c.Len; i += 97 {
			c.SetNull(cNote, i)
		}
		for i := 0; i < c.Len; i++ {
			key := "NULL"
			if !c.IsNull(cNote, i) {
				key = c.Cols[cNote].String[i]
			}
			want[key]++
			if !c.IsNull(cQty, i) {
				sums[key] += c.Cols[cQty].Int64[i]
				nq[key]++
			}
		}
		d.sources = append(d.sources, newMemSource(fmt.Sprint("hc", k), c))
	}
	var wantRows [][]string
	for k, n := range want {
		sum := "NULL"
		if nq[k] > 0 {
			sum = strconv.FormatInt(sums[k], 10)
		}
		wantRows = append(wantRows, []string{k, strconv.FormatInt(n, 10), sum})
	}
	sortRows(wantRows)
	user, qty := &ColRef{Index: 0, T: Text}, &ColRef{Index: 1, T: Int64}
	for _, par := range []int{1, 3} {
		p := &Aggregate{Input: scanOf(d, []int{cNote, cQty}, nil), Groups: []Expr{user},
			Aggs: []AggCall{{Func: "count", T: Int64}, {Func: "sum", Args: []Expr{qty}, T: Numeric}},
			Out:  []Field{{"user", Text}, {"count", Int64}, {"sum", Numeric}}}
		got := run(t, p, Options{Parallelism: par})
		// The sorted merge emits groups in key order, NULL last.
		for i := 1; i < len(got)-1; i++ {
			if got[i-1][0] >= got[i][0] {
				t.Fatalf("parallelism %d: groups out of order at %d: %v, %v", par, i, got[i-1], got[i])
			}
		}
		sameRows(t, fmt.Sprint("high cardinality, parallelism ", par), sortRows(got), wantRows)
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
