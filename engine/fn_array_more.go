package engine

// A subscript of any text[] value (regexp_match(…)[1], (array_agg(x))[1]): the
// binder rewrites arr[i] to text_array_element(arr, i) when arr is not one of the
// arrays it computes element by element (series.go). NULL when i is outside the
// array, as in PostgreSQL.

func init() {
	register(&Func{Name: "text_array_element", Args: sig(TextArray, Int64), Ret: Text, Strict: true, Kind: KindSyntax,
		kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			out := newVec(Text, n)
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
				out.s[i] = elems[k-1].S
			}
			return out, nil
		}})
}
