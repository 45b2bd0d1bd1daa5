package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// randomVec returns a vec of type t with n rows, about a quarter NULL when nulls.
func randomVec(r *rand.Rand, t Type, n int, nulls bool, dict []string) *vec {
	v := newVec(t, n)
	if t.ID == TypeText && dict != nil {
		v = &vec{t: t, n: n, isDict: true, dict: dict, ids: make([]uint32, n)}
	}
	for i := 0; i < n; i++ {
		if nulls && r.IntN(4) == 0 {
			v.setNull(i)
			continue
		}
		switch {
		case v.isDict:
			v.ids[i] = uint32(r.IntN(len(dict)))
		case t.ID == TypeDate:
			v.i[i] = int64(r.IntN(40000) - 20000)
		case kindOf(t) == kInt:
			v.i[i] = r.Int64() - r.Int64()
		case kindOf(t) == kFloat:
			v.f[i] = r.NormFloat64() * 1e6
		case kindOf(t) == kBool:
			v.b[i] = r.IntN(2) == 0
		case kindOf(t) == kText:
			v.s[i] = fmt.Sprintf("s%d-é", r.IntN(1000))
		case kindOf(t) == kInterval:
			v.iv[i] = ival{int32(r.IntN(100)), int32(r.IntN(100)), r.Int64N(1e12)}
		}
	}
	return v
}

// builderArray builds the Arrow array a vec should export to, value by value with
// Arrow's own builders: an independent construction of the expected array.
func builderArray(t *testing.T, v *vec) arrow.Array {
	t.Helper()
	b := array.NewBuilder(memory.NewGoAllocator(), v.t.Arrow())
	defer b.Release()
	for i := 0; i < v.n; i++ {
		if v.isNull(i) {
			b.AppendNull()
			continue
		}
		switch b := b.(type) {
		case *array.Int64Builder:
			b.Append(v.i[i])
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(v.i[i]))
		case *array.Date32Builder:
			b.Append(arrow.Date32(v.i[i]))
		case *array.Float64Builder:
			b.Append(v.f[i])
		case *array.BooleanBuilder:
			b.Append(v.b[i])
		case *array.StringBuilder:
			b.Append(v.str(i))
		case *array.MonthDayNanoIntervalBuilder:
			b.Append(IntervalArrow(v.iv[i].M, v.iv[i].D, v.iv[i].U))
		default:
			t.Fatalf("no builder case for %T", b)
		}
	}
	return b.NewArray()
}

// TestCodecRoundTrip checks, for every engine type, with and without NULLs, whole
// and sliced, that a vec leaves as a valid Arrow array equal to one Arrow's builders
// make from the same values, and comes back with the same type and values.
func TestCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dict := []string{"apple", "banana", "cherry", "", "dürüm"}
	types := []Type{Bool, Int16, Int32, Int64, Float32, Float64, Numeric, Text, Timestamp, TimestampTZ, Date, Interval}
	for _, typ := range types {
		for _, nulls := range []bool{false, true} {
			for _, useDict := range []bool{false, true} {
				if useDict && typ != Text {
					continue
				}
				name := fmt.Sprintf("%s/nulls=%v/dict=%v", typ, nulls, useDict)
				t.Run(name, func(t *testing.T) {
					var d []string
					if useDict {
						d = dict
					}
					full := randomVec(r, typ, 300, nulls, d)
					for _, v := range []*vec{full, full.slice(17, 250)} {
						c := newCodec()
						rec := c.record(&batch{n: v.n, cols: []*vec{v}}, false)
						got := rec.Column(0)
						if err := array.ValidateFull(got); err != nil {
							t.Fatalf("exported array invalid: %v", err)
						}
						if _, isDict := got.(*array.Dictionary); isDict != useDict {
							t.Fatalf("exported %s, dictionary=%v wanted", got.DataType(), useDict)
						}
						want := builderArray(t, v)
						plain := got
						if dictArr, ok := got.(*array.Dictionary); ok {
							plain = decodeDict(t, dictArr)
						}
						if !array.Equal(plain, want) {
							t.Fatalf("exported array differs:\n got %v\nwant %v", plain, want)
						}
						back := c.batch(rec).cols[0]
						if back.t != v.t || back.n != v.n {
							t.Fatalf("round trip: type %s n %d, want %s n %d", back.t, back.n, v.t, v.n)
						}
						for i := 0; i < v.n; i++ {
							if g, w := back.value(i), v.value(i); !valuesEqual(g, w) {
								t.Fatalf("row %d: got %v want %v", i, g, w)
							}
						}
						rec.Release()
					}
				})
			}
		}
	}
}

func valuesEqual(a, b Value) bool {
	if a.Null || b.Null {
		return a.Null == b.Null
	}
	return a == b
}

func decodeDict(t *testing.T, d *array.Dictionary) arrow.Array {
	t.Helper()
	b := array.NewStringBuilder(memory.NewGoAllocator())
	defer b.Release()
	vals := d.Dictionary().(*array.String)
	for i := 0; i < d.Len(); i++ {
		if d.IsNull(i) {
			b.AppendNull()
		} else {
			b.Append(vals.Value(d.GetValueIndex(i)))
		}
	}
	return b.NewArray()
}

// TestCodecSharesBuffers pins the zero-copy contract: fixed-width values and
// dictionary ids cross a boundary without being copied, and a dictionary is
// converted once per query however many batches carry it.
func TestCodecSharesBuffers(t *testing.T) {
	c := newCodec()
	ints := &vec{t: Int64, n: 3, i: []int64{1, 2, 3}}
	dict := []string{"a", "b"}
	ids := &vec{t: Text, n: 4, isDict: true, dict: dict, ids: []uint32{0, 1, 1, 0}}
	r1 := c.record(&batch{n: 3, cols: []*vec{ints}}, false)
	if got := c.batch(r1).cols[0].i; &got[0] != &ints.i[0] {
		t.Errorf("int64 column was copied crossing the boundary")
	}
	r2 := c.record(&batch{n: 4, cols: []*vec{ids}}, false)
	r3 := c.record(&batch{n: 4, cols: []*vec{ids}}, false)
	d2 := r2.Column(0).(*array.Dictionary).Dictionary()
	d3 := r3.Column(0).(*array.Dictionary).Dictionary()
	if d2.Data() != d3.Data() {
		t.Errorf("dictionary converted twice in one query")
	}
	back := c.batch(r2).cols[0]
	if &back.ids[0] != &ids.ids[0] || &back.dict[0] != &dict[0] {
		t.Errorf("dictionary ids or values were copied crossing the boundary")
	}
}

// TestOperatorsExchangeArrow runs a plan whose operators hand batches to each other
// (sort over a filter over a non-pipelined input) and checks every record batch the
// root operator returns is valid Arrow with the plan's types.
func TestOperatorsExchangeArrow(t *testing.T) {
	vals := &Values{Out: []Field{{Name: "x", Type: Int64}, {Name: "s", Type: Text}}}
	for i := 0; i < 5000; i++ {
		x := int64((i * 7919) % 5000)
		vals.Rows = append(vals.Rows, []Expr{&Const{V: Value{Type: Int64, I: x}}, &Const{V: Value{Type: Text, S: fmt.Sprint("v", x%10)}}})
	}
	cond := &Call{Func: "=", Args: []Expr{
		&Call{Func: "%", Args: []Expr{&ColRef{Index: 0, T: Int64}, &Const{V: Value{Type: Int64, I: 2}}}, T: Int64},
		&Const{V: Value{Type: Int64, I: 0}},
	}, T: Bool}
	plan := &Sort{Input: &Filter{Input: vals, Cond: cond}, Keys: []SortKey{{Expr: &ColRef{Index: 0, T: Int64}}}}
	q := &query{opts: Options{Parallelism: 2}, mem: &memTracker{}, ctx: context.Background(), codec: newCodec()}
	op, err := q.build(plan)
	if err != nil {
		t.Fatal(err)
	}
	defer op.close()
	var got []int64
	for {
		rec, err := op.next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			break
		}
		if rec.NumRows() > BatchSize {
			t.Fatalf("record of %d rows exceeds BatchSize", rec.NumRows())
		}
		for i, col := range rec.Columns() {
			if err := array.ValidateFull(col); err != nil {
				t.Fatalf("column %d: %v", i, err)
			}
		}
		if ft := fieldType(rec.Schema().Field(1)); ft != Text {
			t.Fatalf("column 1 arrived as %s", ft)
		}
		got = append(got, rec.Column(0).(*array.Int64).Int64Values()...)
		rec.Release()
	}
	// independent expectation: the even numbers 0..4998 in order
	if len(got) != 2500 {
		t.Fatalf("got %d rows, want 2500", len(got))
	}
	for i, x := range got {
		if x != int64(2*i) {
			t.Fatalf("row %d = %d, want %d", i, x, 2*i)
		}
	}
}
