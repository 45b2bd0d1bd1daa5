package engine

// Subscripts and sizes of any array value (regexp_match(…)[1],
// (array_agg(x))[1], cardinality(array_agg(x))): the binder rewrites arr[i] to
// array_element(arr, i), cardinality(arr) to array_cardinality(arr) and
// array_length(arr, 1) to array_length1(arr) when arr is not one of the arrays it
// computes element by element (series.go). Out of range is NULL, as in
// PostgreSQL; the element has the array's element type.

func init() {
	anyArray := func(n int) func(a []Type) bool {
		return func(a []Type) bool { return len(a) == n && a[0].IsArray() && (n == 1 || a[1].IsInteger()) }
	}
	register(
		&Func{Name: "array_element", Args: sig(TextArray, Int64), Ret: Text, Strict: true, Kind: KindSyntax,
			accept: anyArray(2),
			ret: func(orig, a []Type) (Type, error) {
				e, _ := ArrayElemType(a[0])
				return e, nil
			},
			kernel: arrayElementKernel},
		&Func{Name: "array_cardinality", Args: sig(TextArray), Ret: Int32, Strict: true, Kind: KindSyntax,
			accept: anyArray(1), kernel: arraySizeKernel(false)},
		&Func{Name: "array_length1", Args: sig(TextArray), Ret: Int32, Strict: true, Kind: KindSyntax,
			accept: anyArray(1), kernel: arraySizeKernel(true)},
	)
}

func arrayElementKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(c.T, n)
	out.nulls = unionNulls(n, args...)
	if out.nulls == nil {
		out.nulls = make([]bool, n)
	}
	for i := 0; i < n; i++ {
		if out.nulls[i] {
			continue
		}
		elems, err := ParseTextArray(args[0].str(i))
		if err != nil {
			return nil, err
		}
		k := args[1].i[i]
		if k < 1 || k > int64(len(elems)) || elems[k-1].Null {
			out.nulls[i] = true
			continue
		}
		v, err := ParseValue(elems[k-1].S, c.T)
		if err != nil {
			return nil, err
		}
		out.set(i, v)
	}
	return out, nil
}

// arraySizeKernel is cardinality (0 for an empty array) or array_length(arr, 1)
// (NULL for an empty array).
func arraySizeKernel(nullEmpty bool) Kernel {
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		out := newVec(Int32, n)
		out.nulls = unionNulls(n, args...)
		if out.nulls == nil {
			out.nulls = make([]bool, n)
		}
		for i := 0; i < n; i++ {
			if out.nulls[i] {
				continue
			}
			elems, err := ParseTextArray(args[0].str(i))
			if err != nil {
				return nil, err
			}
			out.i[i] = int64(len(elems))
			out.nulls[i] = nullEmpty && len(elems) == 0
		}
		return out, nil
	}
}
