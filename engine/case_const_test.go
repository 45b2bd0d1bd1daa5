package engine

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
	"time"
)

// TestConstCase checks CASE with constant results (case_const.go) against a plain
// loop, projected row by row and grouped by with count(*), and against the lazy
// evaluation, over random conditions with NULLs (three-valued: a NULL condition
// does not take its branch), NULL results, and text, integer and float results.
func TestConstCase(t *testing.T) {
	d := newDataset(77, 5, 400)
	r := rand.New(rand.NewPCG(31, 32))
	all := []int{cTS, cCountry, cDevice, cPrice, cQty, cFlag, cNote}
	textVals := []string{"low", "mid", "high", "anomaly", "low", ""}
	for iter := 0; iter < 150; iter++ {
		nw := 1 + r.IntN(4)
		var preds []pred
		var whens []When
		typ := []Type{Text, Int64, Float64}[r.IntN(3)]
		mkConst := func() (Expr, string) {
			if r.IntN(6) == 0 {
				return &Const{V: Value{Type: typ, Null: true}}, "NULL"
			}
			switch typ.ID {
			case TypeText:
				s := pick1(r, textVals)
				return ks(s), s
			case TypeInt64:
				v := r.Int64N(5) - 2
				return &Const{V: Value{Type: Int64, I: v}}, strconv.FormatInt(v, 10)
			}
			v := float64(r.IntN(9)) / 4
			return kf(v), textOf(Value{Type: Float64, F: v})
		}
		var vals []string
		for k := 0; k < nw; k++ {
			p := genPred(r, 2)
			preds = append(preds, p)
			c, txt := mkConst()
			whens = append(whens, When{Cond: p.e, Then: c})
			vals = append(vals, txt)
		}
		var elseE Expr
		elseTxt := "NULL"
		if r.IntN(3) > 0 {
			elseE, elseTxt = mkConst()
		}
		ce := &Case{Whens: whens, Else: elseE, T: typ}
		if !prepareConstCase(ce).ok {
			t.Fatalf("iter %d: %s not prepared as constant", iter, ce)
		}
		var want [][]string
		counts := map[string]int{}
		for _, row := range d.rows {
			v := elseTxt
			for k, p := range preds {
				if p.eval(row) == tvTrue {
					v = vals[k]
					break
				}
			}
			want = append(want, []string{textOf(row[cTS]), v})
			counts[v]++
		}
		var wantGroups [][]string
		for v, n := range counts {
			wantGroups = append(wantGroups, []string{v, strconv.Itoa(n)})
		}
		sortRows(want)
		sortRows(wantGroups)
		what := fmt.Sprintf("iter %d: %s", iter, ce)
		opts := Options{Parallelism: 1 + iter%2}
		proj := &Project{Input: scanOf(d, all, nil), Exprs: []Expr{col(cTS), ce}, Names: []string{"ts", "c"}}
		sameRows(t, what+" (project)", sortRows(run(t, proj, opts)), want)
		agg := &Aggregate{Input: scanOf(d, all, nil), Groups: []Expr{ce}, Aggs: []AggCall{{Func: "count", T: Int64}},
			Out: []Field{{"c", typ}, {"n", Int64}}}
		sameRows(t, what+" (group by)", sortRows(run(t, agg, opts)), wantGroups)

		// The lazy evaluation agrees batch by batch.
		b := &batch{n: len(d.rows), cols: make([]*vec, len(all))}
		for ci := range all {
			v := newVec(colTypes[ci], 0)
			v.n = 0
			for _, row := range d.rows {
				one := newVec(colTypes[ci], 1)
				one.set(0, row[ci])
				v.appendVec(one)
			}
			b.cols[ci] = v
		}
		fast, ok := newEvaluator(time.Unix(0, 0)).evalConstCase(ce, b)
		if !ok {
			t.Fatalf("%s: fast path declined", what)
		}
		lazyEv := newEvaluator(time.Unix(0, 0))
		lazyEv.cases = map[*Case]*constCase{ce: {}} // not ok: forces the lazy path
		lazy, err := lazyEv.evalCase(ce, b)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < b.n; i++ {
			if textOf(fast.value(i)) != textOf(lazy.value(i)) {
				t.Fatalf("%s: row %d: fast %s, lazy %s", what, i, textOf(fast.value(i)), textOf(lazy.value(i)))
			}
		}
	}
	// A failing condition on a row an earlier branch takes: the fast path declines and
	// the lazy path does not raise the error.
	qty := col(cQty)
	ce := &Case{Whens: []When{
		{Cond: &IsNull{X: qty}, Then: ks("none")},
		{Cond: fn("=", qty, ki(0)), Then: ks("zero")},
		{Cond: fn(">", fn("/", ki(10), qty), ki(1)), Then: ks("small")},
	}, Else: ks("big"), T: Text}
	agg := &Aggregate{Input: scanOf(d, all, nil), Groups: []Expr{ce}, Aggs: []AggCall{{Func: "count", T: Int64}},
		Out: []Field{{"c", Text}, {"n", Int64}}}
	counts := map[string]int{}
	for _, row := range d.rows {
		q := row[cQty]
		switch {
		case q.Null:
			counts["none"]++
		case q.I == 0:
			counts["zero"]++
		case 10/q.I > 1:
			counts["small"]++
		default:
			counts["big"]++
		}
	}
	var want [][]string
	for v, n := range counts {
		want = append(want, []string{v, strconv.Itoa(n)})
	}
	sort.Slice(want, func(i, j int) bool { return want[i][0] < want[j][0] })
	sameRows(t, "division guarded by an earlier branch", sortRows(run(t, agg, Options{})), want)
}
