package engine

// Array functions over strata's one array type, text[] (arrays.go): array_to_string,
// and the accessors the binder rewrites subscripts, array_length, array_lower,
// array_upper and cardinality of string_to_array(…) and parse_ident(…) into
// (series.go's arrayFunc; KindSyntax: strata-internal names).

func init() {
	a2s := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) { return arrayToStringVec(args, n) }
	// Over any array (anyarray: its elements' output text), or over a catalog
	// column that is an array in PostgreSQL (relacl, datacl: aclitem[]) and text in
	// its array form in strata.
	anyArray := func(n int) func(a []Type) bool {
		return func(a []Type) bool {
			return len(a) == n && a[0].IsArray() && a[1].ID == TypeText && (n == 2 || a[2].ID == TypeText)
		}
	}
	for _, t := range []Type{TextArray, Text} {
		f2 := &Func{Name: "array_to_string", Args: sig(t, Text), Ret: Text, Strict: true, Vol: Stable, kernel: a2s}
		f3 := &Func{Name: "array_to_string", Args: sig(t, Text, Text), Ret: Text, Vol: Stable, kernel: a2s}
		if t == TextArray {
			f2.accept, f3.accept = anyArray(2), anyArray(3)
		}
		register(f2, f3)
	}
	accessor := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		out, _, err := arrayFunc(c.Func, n, args)
		return out, err
	}
	// The same names as series.go's arrayFuncs, listed here as init order within
	// the package puts this file first.
	for _, p := range []string{"string_to_array_", "parse_ident_"} {
		for _, op := range []string{"element", "length", "lower", "cardinality"} {
			args := sig(Text)
			if p == "string_to_array_" {
				args = sig(Text, Text)
			}
			ret := Int32
			if op == "element" {
				args, ret = append(args, Int32), Text
			}
			register(&Func{Name: p + op, Args: args, Ret: ret, Kind: KindSyntax, kernel: accessor})
		}
	}
}

// ARRAY[x, y, …]: the array of its arguments, which the binder has cast to one
// element type (PostgreSQL's ArrayExpr; never NULL, its NULL arguments are NULL
// elements). A timestamptz element prints in the session's zone.
func init() {
	register(&Func{Name: "array", Kind: KindSyntax, untyped: true,
		ret: func(orig, a []Type) (Type, error) {
			if len(a) == 0 {
				return Unknown, errNoOverload
			}
			if t, ok := ArrayOf(a[0]); ok && a[0].Reg == 0 {
				return t, nil
			}
			return Unknown, Unsupported("arrays of type " + a[0].String())
		},
		kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			out := newVec(c.T, n)
			vals := make([]Value, len(args))
			for i := 0; i < n; i++ {
				for k, a := range args {
					vals[k] = a.value(i)
				}
				out.s[i] = FormatArray(vals, ev.now.Location())
			}
			return out, nil
		}})
}
