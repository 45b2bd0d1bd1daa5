package engine

// BatchSize is the maximum number of rows in a batch.
const BatchSize = 4096

// ival is an interval value: months, days and microseconds, kept apart as PostgreSQL does.
type ival struct {
	M, D int32
	U    int64
}

// vec is one column of a batch. Exactly the slice of its physical kind is used:
// i for integers, exact decimals (scaled, decimal.go), timestamps (µs) and dates (days); f for floats and numeric; b for
// booleans; s or ids+dict for text; iv for intervals. nulls is nil when no row is NULL;
// the value slot of a NULL row holds an unspecified value.
//
// A vec handed out by an operator or by the evaluator is read-only for its receiver.
type vec struct {
	t      Type
	n      int
	nulls  []bool
	i      []int64
	f      []float64
	b      []bool
	s      []string
	isDict bool
	ids    []uint32
	dict   []string // shared, read-only: the source dictionary's values by id
	iv     []ival
	nx     []string // a numeric's exact values as text, or nil (numeric.go)
}

// batch is a set of row-aligned vecs with n rows.
type batch struct {
	n    int
	cols []*vec
}

type physKind uint8

const (
	kInt physKind = iota
	kFloat
	kBool
	kText
	kInterval
	kNull
)

func kindOf(t Type) physKind {
	switch t.ID {
	case TypeInt16, TypeInt32, TypeInt64, TypeTimestamp, TypeTimestampTZ, TypeDate, TypeDecimal:
		return kInt
	case TypeFloat32, TypeFloat64, TypeNumeric:
		return kFloat
	case TypeBool:
		return kBool
	case TypeText, TypeUnknown, TypeTextArray, TypeUUID:
		return kText
	case TypeBoolArray, TypeInt16Array, TypeInt32Array, TypeInt64Array, TypeFloat32Array, TypeFloat64Array,
		TypeNumericArray, TypeTimestampArray, TypeTimestampTZArray, TypeDateArray, TypeIntervalArray, TypeUUIDArray:
		return kText // the array's text form (array_types.go)
	case TypeInterval:
		return kInterval
	}
	return kNull
}

// newVec returns a vec of type t with n zero rows and no NULLs.
func newVec(t Type, n int) *vec {
	v := &vec{t: t, n: n}
	switch kindOf(t) {
	case kInt:
		v.i = make([]int64, n)
	case kFloat:
		v.f = make([]float64, n)
	case kBool:
		v.b = make([]bool, n)
	case kText:
		v.s = make([]string, n)
	case kInterval:
		v.iv = make([]ival, n)
	}
	return v
}

func (v *vec) isNull(i int) bool { return v.nulls != nil && v.nulls[i] }

func (v *vec) setNull(i int) {
	if v.nulls == nil {
		v.nulls = make([]bool, v.n)
	}
	v.nulls[i] = true
}

func (v *vec) str(i int) string {
	if v.isDict {
		return v.dict[v.ids[i]]
	}
	return v.s[i]
}

// value returns row i as a Value.
func (v *vec) value(i int) Value {
	out := Value{Type: v.t}
	if v.isNull(i) {
		out.Null = true
		return out
	}
	switch kindOf(v.t) {
	case kInt:
		out.I = v.i[i]
	case kFloat:
		out.F = v.f[i]
		if v.nx != nil {
			out.S = v.nx[i]
		}
	case kBool:
		out.B = v.b[i]
	case kText:
		out.S = v.str(i)
	case kInterval:
		out.Months, out.Days, out.I = v.iv[i].M, v.iv[i].D, v.iv[i].U
	}
	return out
}

// set stores x (of v's kind) into row i.
func (v *vec) set(i int, x Value) {
	if x.Null {
		v.setNull(i)
		return
	}
	switch kindOf(v.t) {
	case kInt:
		v.i[i] = x.I
	case kFloat:
		v.f[i] = x.F
		if v.t.ID == TypeNumeric {
			v.setExactText(i, x)
		}
	case kBool:
		v.b[i] = x.B
	case kText:
		v.s[i] = x.S
	case kInterval:
		v.iv[i] = ival{x.Months, x.Days, x.I}
	}
}

// constVec repeats x n times.
func constVec(x Value, n int) *vec {
	v := newVec(x.Type, n)
	if x.Null {
		v.nulls = make([]bool, n)
		for i := range v.nulls {
			v.nulls[i] = true
		}
		return v
	}
	switch kindOf(x.Type) {
	case kInt:
		for i := range v.i {
			v.i[i] = x.I
		}
	case kFloat:
		for i := range v.f {
			v.f[i] = x.F
		}
		if x.Type.ID == TypeNumeric && x.S != "" {
			v.nx = make([]string, n)
			for i := range v.nx {
				v.nx[i] = x.S
			}
		}
	case kBool:
		for i := range v.b {
			v.b[i] = x.B
		}
	case kText:
		for i := range v.s {
			v.s[i] = x.S
		}
	case kInterval:
		for i := range v.iv {
			v.iv[i] = ival{x.Months, x.Days, x.I}
		}
	}
	return v
}

func gatherSlice[T any](src []T, sel []int32) []T {
	out := make([]T, len(sel))
	for k, i := range sel {
		out[k] = src[i]
	}
	return out
}

// gather returns the rows sel of v, in order. Dictionary text stays dictionary text.
func (v *vec) gather(sel []int32) *vec {
	out := &vec{t: v.t, n: len(sel), isDict: v.isDict, dict: v.dict}
	if v.nulls != nil {
		out.nulls = gatherSlice(v.nulls, sel)
	}
	switch {
	case v.i != nil:
		out.i = gatherSlice(v.i, sel)
	case v.f != nil:
		out.f = gatherSlice(v.f, sel)
		if v.nx != nil {
			out.nx = gatherSlice(v.nx, sel)
		}
	case v.b != nil:
		out.b = gatherSlice(v.b, sel)
	case v.isDict:
		out.ids = gatherSlice(v.ids, sel)
	case v.s != nil:
		out.s = gatherSlice(v.s, sel)
	case v.iv != nil:
		out.iv = gatherSlice(v.iv, sel)
	}
	return out
}

// slice returns rows [lo, hi) sharing v's memory.
func (v *vec) slice(lo, hi int) *vec {
	out := *v
	out.n = hi - lo
	if v.nulls != nil {
		out.nulls = v.nulls[lo:hi]
	}
	switch {
	case v.i != nil:
		out.i = v.i[lo:hi]
	case v.f != nil:
		out.f = v.f[lo:hi]
		if v.nx != nil {
			out.nx = v.nx[lo:hi]
		}
	case v.b != nil:
		out.b = v.b[lo:hi]
	case v.isDict:
		out.ids = v.ids[lo:hi]
	case v.s != nil:
		out.s = v.s[lo:hi]
	case v.iv != nil:
		out.iv = v.iv[lo:hi]
	}
	return &out
}

// plain returns v with dictionary text decoded into strings (v itself otherwise).
func (v *vec) plain() *vec {
	if !v.isDict {
		return v
	}
	out := &vec{t: v.t, n: v.n, nulls: v.nulls, s: make([]string, v.n)}
	for i, id := range v.ids {
		if v.nulls != nil && v.nulls[i] {
			continue
		}
		out.s[i] = v.dict[id]
	}
	return out
}

// appendRows appends rows of src (a vec of the same kind; dictionary text is decoded)
// to v, growing it.
func (v *vec) appendVec(src *vec) {
	base := v.n
	v.n += src.n
	if src.nulls != nil || v.nulls != nil {
		if v.nulls == nil {
			v.nulls = make([]bool, base, v.n)
		}
		if src.nulls != nil {
			v.nulls = append(v.nulls, src.nulls...)
		} else {
			v.nulls = append(v.nulls, make([]bool, src.n)...)
		}
	}
	switch kindOf(v.t) {
	case kInt:
		v.i = append(v.i, src.i...)
	case kFloat:
		if v.t.ID == TypeNumeric && (v.nx != nil || src.nx != nil) {
			if v.nx == nil { // rows before had no exact text: as float8 → numeric
				v.nx = withExact(&vec{t: v.t, n: base, nulls: v.nulls, f: v.f}).nx
			}
			v.nx = append(v.nx, withExact(src).nx...)
		}
		v.f = append(v.f, src.f...)
	case kBool:
		v.b = append(v.b, src.b...)
	case kText:
		if src.isDict {
			for k, id := range src.ids {
				if src.nulls != nil && src.nulls[k] {
					v.s = append(v.s, "")
				} else {
					v.s = append(v.s, src.dict[id])
				}
			}
		} else {
			v.s = append(v.s, src.s...)
		}
	case kInterval:
		v.iv = append(v.iv, src.iv...)
	}
}

// appendRow appends row i of src to v (text is decoded).
func (v *vec) appendRow(src *vec, i int) {
	null := src.isNull(i)
	if null && v.nulls == nil {
		v.nulls = make([]bool, v.n, v.n+1)
	}
	if v.nulls != nil {
		v.nulls = append(v.nulls, null)
	}
	v.n++
	switch kindOf(v.t) {
	case kInt:
		v.i = append(v.i, src.i[i])
	case kFloat:
		if v.t.ID == TypeNumeric && (v.nx != nil || src.nx != nil) {
			if v.nx == nil {
				v.nx = withExact(&vec{t: v.t, n: len(v.f), nulls: v.nulls, f: v.f}).nx
			}
			switch {
			case null:
				v.nx = append(v.nx, "")
			case src.nx != nil:
				v.nx = append(v.nx, src.nx[i])
			default:
				v.nx = append(v.nx, floatNumericText(src.f[i], Float64))
			}
		}
		v.f = append(v.f, src.f[i])
	case kBool:
		v.b = append(v.b, src.b[i])
	case kText:
		switch {
		case v.isDict: // REQUIRES: src has the same dictionary
			if null {
				v.ids = append(v.ids, 0)
			} else {
				v.ids = append(v.ids, src.ids[i])
			}
		case null:
			v.s = append(v.s, "")
		default:
			v.s = append(v.s, src.str(i))
		}
	case kInterval:
		v.iv = append(v.iv, src.iv[i])
	}
}

// bytes estimates the memory v holds.
func (v *vec) bytes() int64 {
	n := int64(len(v.nulls)) + int64(len(v.i))*8 + int64(len(v.f))*8 + int64(len(v.b)) + int64(len(v.ids))*4 + int64(len(v.iv))*16
	for _, s := range v.s {
		n += 16 + int64(len(s))
	}
	for _, s := range v.nx {
		n += 16 + int64(len(s))
	}
	return n
}

func (b *batch) bytes() int64 {
	var n int64
	for _, c := range b.cols {
		n += c.bytes()
	}
	return n
}

func (b *batch) gather(sel []int32) *batch {
	out := &batch{n: len(sel), cols: make([]*vec, len(b.cols))}
	for i, c := range b.cols {
		if c != nil {
			out.cols[i] = c.gather(sel)
		}
	}
	return out
}

func (b *batch) slice(lo, hi int) *batch {
	out := &batch{n: hi - lo, cols: make([]*vec, len(b.cols))}
	for i, c := range b.cols {
		if c != nil {
			out.cols[i] = c.slice(lo, hi)
		}
	}
	return out
}
