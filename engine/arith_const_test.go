package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestArithConst checks vec-op-constant arithmetic (arithConst) against arith over
// a materialized constant: same values, same NULLs, same errors (division by zero,
// overflow), for float and integer vecs with NULLs, zeros and huge values.
func TestArithConst(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	consts := []Value{
		{Type: Float64, F: 300}, {Type: Float64, F: 0}, {Type: Float64, F: -2.5}, {Type: Float64, F: 1e308},
		{Type: Int32, I: 60}, {Type: Int32, I: 0}, {Type: Int64, I: -7}, {Type: Numeric, F: 0.1},
	}
	for iter := 0; iter < 400; iter++ {
		n := 1 + r.IntN(50)
		var x *vec
		if r.IntN(2) == 0 {
			x = newVec(Float64, n)
			for i := range x.f {
				switch r.IntN(6) {
				case 0:
					x.f[i] = 0
				case 1:
					x.f[i] = 1e308
				default:
					x.f[i] = r.Float64()*1000 - 500
				}
			}
		} else {
			x = newVec(Int64, n)
			for i := range x.i {
				x.i[i] = r.Int64N(9) - 4
			}
		}
		if r.IntN(2) == 0 {
			x.nulls = make([]bool, n)
			for i := range x.nulls {
				x.nulls[i] = r.IntN(3) == 0
			}
		}
		k := consts[r.IntN(len(consts))]
		op := []string{"+", "-", "*", "/"}[r.IntN(4)]
		rt := Float64
		if k.Type.ID == TypeNumeric || (x.t.ID == TypeInt64 && k.Type.ID != TypeFloat64) {
			rt = Numeric
		}
		b := &batch{n: n, cols: []*vec{x}}
		xr := &ColRef{Index: 0, T: x.t}
		kc := &Const{V: k}
		call := &Call{Func: op, Args: []Expr{xr, kc}, T: rt}
		if r.IntN(2) == 0 {
			call.Args = []Expr{kc, xr}
		}
		what := fmt.Sprintf("iter %d: %s %v", iter, call, x)
		ev := newEvaluator(time.Unix(0, 0))
		got, ok, gotErr := ev.arithConst(call, b)
		if !ok {
			t.Fatalf("%s: declined", what)
		}
		args := []*vec{b.cols[0], constVec(k, n)}
		if _, right := call.Args[1].(*Const); !right {
			args[0], args[1] = args[1], args[0]
		}
		want, wantErr := arith(op, args[0], args[1], rt)
		if (gotErr != nil) != (wantErr != nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("%s: error %v, want %v", what, gotErr, wantErr)
		}
		if gotErr != nil {
			continue
		}
		for i := 0; i < n; i++ {
			if got.isNull(i) != want.isNull(i) {
				t.Fatalf("%s: row %d: null %v, want %v", what, i, got.isNull(i), want.isNull(i))
			}
			if !got.isNull(i) && math.Float64bits(got.f[i]) != math.Float64bits(want.f[i]) {
				t.Fatalf("%s: row %d: %v, want %v", what, i, got.f[i], want.f[i])
			}
		}
	}
}

// BenchmarkTimeBucket evaluates floor(extract(epoch from ts)/300)*300 (Grafana's
// time bucketing) over one batch, with the fast paths on and off.
func BenchmarkTimeBucket(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ts := &vec{t: TimestampTZ, n: BatchSize, i: make([]int64, BatchSize)}
	for i := range ts.i {
		ts.i[i] = baseTime + r.Int64N(24*usPerHour)
	}
	bt := &batch{n: BatchSize, cols: []*vec{ts}}
	epoch := &Call{Func: "extract", Args: []Expr{ks("epoch"), &ColRef{Index: 0, T: TimestampTZ}}, T: Numeric}
	bucket := &Call{Func: "*", Args: []Expr{
		&Call{Func: "floor", Args: []Expr{&Call{Func: "/", Args: []Expr{epoch, &Const{V: Value{Type: Numeric, F: 300}}}, T: Numeric}}, T: Numeric},
		&Const{V: Value{Type: Numeric, F: 300}}}, T: Numeric}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("fast=%v", on), func(b *testing.B) {
			fastPaths = on
			defer func() { fastPaths = true }()
			ev := newEvaluator(time.Unix(0, 0))
			for i := 0; i < b.N; i++ {
				if _, err := ev.eval(bucket, bt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestExtractConst checks extract with a constant unit (extractConst) against the
// per-row extract for every unit over random timestamps with NULLs and infinities.
func TestExtractConst(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	units := []string{"microseconds", "milliseconds", "second", "minute", "hour", "day", "week", "month", "quarter",
		"year", "decade", "century", "millennium", "epoch", "dow", "isodow", "doy", "isoyear", "julian", "timezone", "EPOCH"}
	for iter := 0; iter < 200; iter++ {
		n := 1 + r.IntN(40)
		x := newVec(TimestampTZ, n)
		x.nulls = make([]bool, n)
		for i := range x.i {
			x.i[i] = r.Int64N(1<<52) - 1<<51
			switch r.IntN(10) {
			case 0:
				x.nulls[i] = true
			case 1:
				x.i[i] = math.MaxInt64
			case 2:
				x.i[i] = math.MinInt64
			}
		}
		unit := units[r.IntN(len(units))]
		call := &Call{Func: "extract", Args: []Expr{ks(unit), &ColRef{Index: 0, T: TimestampTZ}}, T: Numeric}
		b := &batch{n: n, cols: []*vec{x}}
		got, ok, gotErr := newEvaluator(time.Unix(0, 0)).extractConst(call, b)
		if !ok {
			t.Fatalf("iter %d %s: declined", iter, unit)
		}
		want, wantErr := extract(constVec(Value{Type: Text, S: unit}, n), x, Numeric, true)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("iter %d %s: error %v, want %v", iter, unit, gotErr, wantErr)
		}
		if gotErr != nil {
			continue
		}
		for i := 0; i < n; i++ {
			if got.isNull(i) != want.isNull(i) || (!got.isNull(i) && math.Float64bits(got.f[i]) != math.Float64bits(want.f[i])) {
				t.Fatalf("iter %d %s: row %d (%d): got %v, want %v", iter, unit, i, x.i[i], got.value(i), want.value(i))
			}
		}
	}
}

// TestMixedArith checks float-op-integer arithmetic (mixedArith) against the
// general path (fast paths off), with NULLs and overflow.
func TestMixedArith(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	for iter := 0; iter < 300; iter++ {
		n := 1 + r.IntN(40)
		f := newVec(Float64, n)
		k := newVec(Int64, n)
		f.nulls, k.nulls = make([]bool, n), make([]bool, n)
		for i := 0; i < n; i++ {
			f.f[i] = r.Float64()*200 - 100
			if r.IntN(15) == 0 {
				f.f[i] = math.MaxFloat64
			}
			k.i[i] = r.Int64N(11) - 5
			f.nulls[i] = r.IntN(5) == 0
			k.nulls[i] = r.IntN(5) == 0
		}
		op := []string{"+", "-", "*"}[r.IntN(3)]
		x, y := f, k
		if r.IntN(2) == 0 {
			x, y = k, f
		}
		got, gotErr := arith(op, x, y, Float64)
		fastPaths = false
		want, wantErr := arith(op, x, y, Float64)
		fastPaths = true
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("iter %d: error %v, want %v", iter, gotErr, wantErr)
		}
		if gotErr != nil {
			continue
		}
		for i := 0; i < n; i++ {
			if got.isNull(i) != want.isNull(i) || (!got.isNull(i) && math.Float64bits(got.f[i]) != math.Float64bits(want.f[i])) {
				t.Fatalf("iter %d: %s row %d: got %v, want %v", iter, op, i, got.value(i), want.value(i))
			}
		}
	}
}
