package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stratadb/strata/internal/sqlstate"
)

// tv is a SQL truth value in the test's own reference evaluator.
type tv uint8

const (
	tvFalse tv = iota
	tvTrue
	tvNull
)

func tvNot(a tv) tv {
	switch a {
	case tvTrue:
		return tvFalse
	case tvFalse:
		return tvTrue
	}
	return tvNull
}

func tvAnd(a, b tv) tv {
	if a == tvFalse || b == tvFalse {
		return tvFalse
	}
	if a == tvNull || b == tvNull {
		return tvNull
	}
	return tvTrue
}

func tvOr(a, b tv) tv {
	if a == tvTrue || b == tvTrue {
		return tvTrue
	}
	if a == tvNull || b == tvNull {
		return tvNull
	}
	return tvFalse
}

func tvOf(b bool) tv {
	if b {
		return tvTrue
	}
	return tvFalse
}

// pred is a random predicate: the Expr under test and the reference evaluation.
type pred struct {
	e    Expr
	eval func(row []Value) tv
}

// likeRegexp converts a LIKE pattern with the test's own (regexp based) reading.
func likeRegexp(p string, ci bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^(?s)")
	if ci {
		b.WriteString("(?i)")
	}
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '\\':
			if i+1 < len(rs) {
				i++
				b.WriteString(regexp.QuoteMeta(string(rs[i])))
			}
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func pick1[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func genLeaf(r *rand.Rand) pred {
	strCols := []int{cCountry, cDevice, cNote}
	vals := map[int][]string{cCountry: append(countries, "zz"), cDevice: append(devices, "nope"), cNote: append(notes, "zz")}
	switch r.IntN(12) {
	case 0, 1: // = / <> / < on a string column
		c := pick1(r, strCols)
		v := pick1(r, vals[c])
		op := pick1(r, []string{"=", "<>", "<", ">="})
		return pred{fn(op, col(c), ks(v)), func(row []Value) tv {
			x := row[c]
			if x.Null {
				return tvNull
			}
			cmp := strings.Compare(x.S, v)
			switch op {
			case "=":
				return tvOf(cmp == 0)
			case "<>":
				return tvOf(cmp != 0)
			case "<":
				return tvOf(cmp < 0)
			}
			return tvOf(cmp >= 0)
		}}
	case 2: // IN / NOT IN, maybe with a NULL item
		c := pick1(r, strCols)
		n := 1 + r.IntN(3)
		var list []Expr
		var set []string
		for i := 0; i < n; i++ {
			v := pick1(r, vals[c])
			list = append(list, ks(v))
			set = append(set, v)
		}
		withNull := r.IntN(4) == 0
		if withNull {
			list = append(list, knull(Text))
		}
		neg := r.IntN(2) == 0
		return pred{&InList{X: col(c), List: list, Negated: neg}, func(row []Value) tv {
			x := row[c]
			if x.Null {
				return tvNull
			}
			res := tvFalse
			for _, s := range set {
				if s == x.S {
					res = tvTrue
				}
			}
			if res == tvFalse && withNull {
				res = tvNull
			}
			if neg {
				return tvNot(res)
			}
			return res
		}}
	case 3, 4: // LIKE / ILIKE / NOT LIKE
		c := pick1(r, strCols)
		p := pick1(r, []string{"h%", "%o%", `a\%b`, "_", "%", "Hello%", `x\_y`, "%W%", "w_b", "%ü%", "d_"})
		ci, neg := r.IntN(2) == 0, r.IntN(3) == 0
		re := likeRegexp(p, ci)
		return pred{&Like{X: col(c), Pattern: ks(p), CaseInsensitive: ci, Negated: neg}, func(row []Value) tv {
			x := row[c]
			if x.Null {
				return tvNull
			}
			return tvOf(re.MatchString(x.S) != neg)
		}}
	case 5: // IS [NOT] NULL
		c := pick1(r, []int{cDevice, cNote, cPrice, cQty, cCountry})
		neg := r.IntN(2) == 0
		return pred{&IsNull{X: col(c), Negated: neg}, func(row []Value) tv { return tvOf(row[c].Null != neg) }}
	case 6: // function over a dictionary column
		return pred{fn("=", fn("lower", col(cDevice)), ks("web")), func(row []Value) tv {
			if row[cDevice].Null {
				return tvNull
			}
			return tvOf(strings.ToLower(row[cDevice].S) == "web")
		}}
	case 7: // numeric compare
		k := float64(r.IntN(100))
		op := pick1(r, []string{"<", ">=", "="})
		return pred{fn(op, col(cPrice), kf(k)), func(row []Value) tv {
			x := row[cPrice]
			if x.Null {
				return tvNull
			}
			switch op {
			case "<":
				return tvOf(x.F < k)
			case ">=":
				return tvOf(x.F >= k)
			}
			return tvOf(x.F == k)
		}}
	case 8:
		k := int64(r.IntN(20) - 5)
		op := pick1(r, []string{"<=", ">", "<>"})
		return pred{fn(op, col(cQty), ki(k)), func(row []Value) tv {
			x := row[cQty]
			if x.Null {
				return tvNull
			}
			switch op {
			case "<=":
				return tvOf(x.I <= k)
			case ">":
				return tvOf(x.I > k)
			}
			return tvOf(x.I != k)
		}}
	case 9:
		return pred{col(cFlag), func(row []Value) tv { return tvOf(row[cFlag].B) }}
	case 10: // time
		k := baseTime + r.Int64N(8*usPerHour)
		op := pick1(r, []string{">=", "<", ">"})
		kv := &Const{V: Value{Type: TimestampTZ, I: k}}
		return pred{fn(op, col(cTS), kv), func(row []Value) tv {
			x := row[cTS].I
			switch op {
			case ">=":
				return tvOf(x >= k)
			case "<":
				return tvOf(x < k)
			}
			return tvOf(x > k)
		}}
	default: // string compared across two columns (not indexable)
		return pred{fn("=", col(cCountry), col(cNote)), func(row []Value) tv {
			if row[cCountry].Null || row[cNote].Null {
				return tvNull
			}
			return tvOf(row[cCountry].S == row[cNote].S)
		}}
	}
}

func genPred(r *rand.Rand, depth int) pred {
	if depth <= 0 || r.IntN(3) == 0 {
		return genLeaf(r)
	}
	switch r.IntN(3) {
	case 0:
		a, b := genPred(r, depth-1), genPred(r, depth-1)
		return pred{&BoolOp{Op: And, Args: []Expr{a.e, b.e}}, func(row []Value) tv { return tvAnd(a.eval(row), b.eval(row)) }}
	case 1:
		a, b := genPred(r, depth-1), genPred(r, depth-1)
		return pred{&BoolOp{Op: Or, Args: []Expr{a.e, b.e}}, func(row []Value) tv { return tvOr(a.eval(row), b.eval(row)) }}
	}
	a := genPred(r, depth-1)
	return pred{fn("not", a.e), func(row []Value) tv { return tvNot(a.eval(row)) }}
}

// TestScanFilterProperty checks random predicates three ways against a plain loop:
// in Scan.Filter (bitmap index + vectorized residual), in a Filter node above the
// scan (vectorized only), and as count(*) (bitmap cardinality fast path).
func TestScanFilterProperty(t *testing.T) {
	d := newDataset(42, 8, 300)
	r := rand.New(rand.NewPCG(7, 9))
	outCols := []int{cTS, cCountry, cQty}
	for iter := 0; iter < 300; iter++ {
		p := genPred(r, 3)
		var want [][]string
		for _, row := range d.rows {
			if p.eval(row) == tvTrue {
				want = append(want, []string{textOf(row[cTS]), textOf(row[cCountry]), textOf(row[cQty])})
			}
		}
		sortRows(want)
		opts := Options{Parallelism: 1 + iter%4}
		what := fmt.Sprintf("iter %d: %s", iter, p.e)
		got := sortRows(run(t, scanOf(d, outCols, p.e), opts))
		sameRows(t, what+" (scan filter)", got, want)
		all := []int{cTS, cCountry, cDevice, cPrice, cQty, cFlag, cNote}
		proj := &Project{Input: &Filter{Input: scanOf(d, all, nil), Cond: p.e}, Exprs: []Expr{col(cTS), col(cCountry), col(cQty)}, Names: []string{"ts", "country", "qty"}}
		got = sortRows(run(t, proj, opts))
		sameRows(t, what+" (filter node)", got, want)
		cnt := run(t, &Aggregate{Input: scanOf(d, []int{cTS}, p.e), Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"count", Int64}}}, opts)
		sameRows(t, what+" (count)", cnt, [][]string{{strconv.Itoa(len(want))}})
	}
}

func TestScanTimeRangeAndPruning(t *testing.T) {
	d := newDataset(3, 10, 200) // source k covers hour k
	lo, hi := baseTime+2*usPerHour+123, baseTime+5*usPerHour-1
	s := scanOf(d, []int{cTS}, fn("=", col(cCountry), ks("de")))
	s.TimeMin, s.TimeMax = lo, hi
	want := 0
	for _, row := range d.rows {
		if row[cTS].I >= lo && row[cTS].I <= hi && row[cCountry].S == "de" {
			want++
		}
	}
	got := run(t, &Aggregate{Input: s, Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"count", Int64}}}, Options{})
	sameRows(t, "time range count", got, [][]string{{strconv.Itoa(want)}})
	lines := Explain(&Aggregate{Input: s, Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"count", Int64}}})
	joined := strings.Join(lines, "\n")
	if !strings.Contains(joined, "segments: 3 of 10 (7 pruned by time, 0 by stats)") {
		t.Errorf("explain:\n%s", joined)
	}
	// Stats pruning: qty is in [-5, 14] everywhere.
	s2 := scanOf(d, []int{cTS}, fn(">", col(cQty), ki(100)))
	joined = strings.Join(Explain(s2), "\n")
	if !strings.Contains(joined, "segments: 0 of 10 (0 pruned by time, 10 by stats)") {
		t.Errorf("explain:\n%s", joined)
	}
	if got := run(t, s2, Options{}); len(got) != 0 {
		t.Errorf("stats-pruned scan returned %d rows", len(got))
	}
	// Time conjuncts in the filter narrow the range too.
	s3 := scanOf(d, []int{cTS}, &BoolOp{Op: And, Args: []Expr{
		fn(">=", col(cTS), &Const{V: Value{Type: TimestampTZ, I: baseTime + 4*usPerHour}}),
		fn("<", col(cTS), &Const{V: Value{Type: TimestampTZ, I: baseTime + 6*usPerHour}}),
	}})
	joined = strings.Join(Explain(s3), "\n")
	if !strings.Contains(joined, "segments: 2 of 10 (8 pruned by time, 0 by stats)") || !strings.Contains(joined, "time=[2023-10-01 04:00:00, 2023-10-01 05:59:59.999999]") {
		t.Errorf("explain:\n%s", joined)
	}
}

// TestScanPruneInAndPrune: x IN (...) prunes by statistics when no listed value
// lies within a source's min/max; Scan.Prune hands the same judgement (and the
// time range narrowed by the filter) to the snapshot.
func TestScanPruneInAndPrune(t *testing.T) {
	d := newDataset(3, 10, 200) // qty in [-5, 14] everywhere
	in := func(vals ...Expr) Expr { return &InList{X: col(cQty), List: vals} }
	for _, tc := range []struct {
		e      Expr
		pruned bool
	}{
		{in(ki(100), ki(-50)), true},
		{in(ki(100), ki(3)), false},
		{in(&Const{V: NullValue(Int64)}), true},
		{&InList{X: col(cQty), List: []Expr{ki(100)}, Negated: true}, false},
	} {
		s := scanOf(d, []int{cTS}, tc.e)
		joined := strings.Join(Explain(s), "\n")
		want := "segments: 10 of 10 (0 pruned by time, 0 by stats)"
		if tc.pruned {
			want = "segments: 0 of 10 (0 pruned by time, 10 by stats)"
		}
		if !strings.Contains(joined, want) {
			t.Errorf("%s: explain:\n%s", tc.e, joined)
		}
		p := s.Prune()
		allowed := 0
		for _, src := range s.Sources {
			if p.Allows(src) {
				allowed++
			}
		}
		if tc.pruned != (allowed == 0) || !tc.pruned && allowed != 10 {
			t.Errorf("%s: Prune allows %d of 10 sources", tc.e, allowed)
		}
	}
	s := scanOf(d, []int{cTS}, &BoolOp{Op: And, Args: []Expr{
		fn(">=", col(cTS), &Const{V: Value{Type: TimestampTZ, I: baseTime + 4*usPerHour}}),
		fn("=", col(cQty), ki(3)),
	}})
	if p := s.Prune(); p.TimeMin != baseTime+4*usPerHour || p.TimeMax != s.TimeMax || p.Allow == nil {
		t.Errorf("Prune of a time and qty filter: [%d, %d] allow=%v", p.TimeMin, p.TimeMax, p.Allow != nil)
	}
	if p := scanOf(d, []int{cTS}, nil).Prune(); p.Allow != nil {
		t.Error("Prune of an unfiltered scan has an Allow")
	}
}

// proberSource is a memSource that answers storage.ValueProber from its
// dictionary, counting the probes; wrong makes it claim no value is there.
type proberSource struct {
	*memSource
	probes atomic.Int64
	wrong  bool
}

func (p *proberSource) MayHold(col int, vals []string) (bool, error) {
	p.probes.Add(1)
	if p.wrong {
		return false, nil
	}
	d, err := p.Dict(col)
	if err != nil {
		return false, err
	}
	for _, v := range vals {
		if _, ok := d.Lookup(v); ok {
			return true, nil
		}
	}
	return false, nil
}

// TestScanValueProber: equality and IN on a string column ask a ValueProber
// before reading a source, and a source that cannot hold the values is skipped
// (its rows are not counted); EXPLAIN does not probe.
func TestScanValueProber(t *testing.T) {
	d := newDataset(3, 6, 200)
	var probers []*proberSource
	for i, src := range d.sources {
		p := &proberSource{memSource: src.(*memSource), wrong: i%2 == 0}
		probers = append(probers, p)
		d.sources[i] = p
	}
	for _, e := range []Expr{
		fn("=", col(cCountry), ks("de")),
		&InList{X: col(cCountry), List: []Expr{ks("de"), ks("zz")}},
	} {
		// Expected: the count over the sources that do not deny the values.
		odd := scanOf(d, []int{cTS}, e)
		odd.Sources = nil
		for i, p := range probers {
			if i%2 == 1 {
				odd.Sources = append(odd.Sources, p.memSource)
			}
		}
		count := func(s *Scan) [][]string {
			return run(t, &Aggregate{Input: s, Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"count", Int64}}}, Options{})
		}
		want := count(odd)
		if want[0][0] == "0" {
			t.Fatalf("%s: no row to count", e)
		}
		s := scanOf(d, []int{cTS}, e)
		Explain(s)
		for _, p := range probers {
			if p.probes.Load() != 0 {
				t.Fatalf("%s: EXPLAIN probed", e)
			}
		}
		sameRows(t, e.String(), count(s), want)
		for _, p := range probers {
			if p.probes.Swap(0) != 1 {
				t.Fatalf("%s: a source was not probed once", e)
			}
		}
	}
}

func TestScanEmptyAndErrors(t *testing.T) {
	d := &dataset{}
	got := run(t, scanOf(d, []int{cTS, cCountry}, nil), Options{})
	if len(got) != 0 {
		t.Fatalf("empty scan returned rows")
	}
	got = run(t, &Aggregate{Input: scanOf(d, []int{cQty}, nil), Aggs: []AggCall{{Func: "count", T: Int64}, {Func: "sum", Args: []Expr{&ColRef{Index: 0, T: Int64}}, T: Numeric}}, Out: []Field{{"count", Int64}, {"sum", Numeric}}}, Options{})
	sameRows(t, "empty agg", got, [][]string{{"0", "NULL"}})
	// An error in the residual filter surfaces with its SQLSTATE.
	d = newDataset(5, 3, 50)
	_, err := runErr(scanOf(d, []int{cTS}, fn("=", fn("/", col(cQty), ki(0)), ki(1))), Options{})
	var e *Error
	if !errors.As(err, &e) || e.Code != sqlstate.DivisionByZero {
		t.Fatalf("got %v, want division by zero", err)
	}
}

func TestCancel(t *testing.T) {
	d := newDataset(5, 6, 5000)
	ctx, cancel := context.WithCancel(context.Background())
	rs, err := Execute(ctx, scanOf(d, []int{cTS, cCountry}, nil), Options{Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := rs.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	cancel()
	_, err = rs.Next(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Code != sqlstate.QueryCanceled || e.Message != "canceling statement due to user request" {
		t.Fatalf("got %v, want 57014", err)
	}
	rs.Close()
	rs.Close()
	// Canceled before execution.
	if _, err := Execute(ctx, scanOf(d, []int{cTS}, nil), Options{}); !errors.As(err, &e) || e.Code != sqlstate.QueryCanceled {
		t.Fatalf("got %v, want 57014", err)
	}
	// Canceled during a blocking aggregate.
	ctx2, cancel2 := context.WithCancel(context.Background())
	rs, err = Execute(ctx2, &Aggregate{Input: scanOf(d, []int{cTS}, nil), Groups: []Expr{&ColRef{Index: 0, T: TimestampTZ}}, Aggs: []AggCall{{Func: "count", T: Int64}}, Out: []Field{{"ts", TimestampTZ}, {"count", Int64}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel2()
	if _, err = rs.Next(ctx2); !errors.As(err, &e) || e.Code != sqlstate.QueryCanceled {
		t.Fatalf("got %v, want 57014", err)
	}
	rs.Close()
}

// failingSource fails float reads, like a segment with a corrupt block.
type failingSource struct{ *memSource }

var errBadBlock = errors.New("checksum mismatch")

func (f failingSource) ReadFloat64(col, start, end int, dst []float64) ([]float64, error) {
	return nil, errBadBlock
}

func TestSourceErrors(t *testing.T) {
	d := newDataset(9, 4, 100)
	d.sources[2] = failingSource{d.sources[2].(*memSource)}
	for _, par := range []int{1, 4} {
		_, err := runErr(scanOf(d, []int{cTS, cPrice}, nil), Options{Parallelism: par})
		if !errors.Is(err, errBadBlock) || !strings.Contains(err.Error(), "seg2") || !strings.Contains(err.Error(), "price") {
			t.Errorf("scan: got %v, want the source's error naming seg2 and price", err)
		}
		_, err = runErr(&Aggregate{Input: scanOf(d, []int{cPrice}, nil), Aggs: []AggCall{{Func: "sum", Args: []Expr{&ColRef{Index: 0, T: Float64}}, T: Float64}}, Out: []Field{{"sum", Float64}}}, Options{Parallelism: par})
		if !errors.Is(err, errBadBlock) {
			t.Errorf("aggregate: got %v", err)
		}
	}
	// Columns that are not read do not fail.
	if _, err := runErr(scanOf(d, []int{cTS, cCountry}, nil), Options{}); err != nil {
		t.Errorf("scan without price: %v", err)
	}
}
