package engine

// Array functions over strata's one array type, text[] (arrays.go): array_to_string,
// and the accessors the binder rewrites subscripts, array_length, array_lower,
// array_upper and cardinality of string_to_array(…) and parse_ident(…) into
// (series.go's arrayFunc; KindSyntax: strata-internal names).

func init() {
	a2s := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) { return arrayToStringVec(args, n) }
	// Over text[], or over a catalog column that is an array in PostgreSQL (relacl,
	// datacl: aclitem[]) and text in its array form in strata.
	for _, t := range []Type{TextArray, Text} {
		register(
			&Func{Name: "array_to_string", Args: sig(t, Text), Ret: Text, Strict: true, Vol: Stable, kernel: a2s},
			&Func{Name: "array_to_string", Args: sig(t, Text, Text), Ret: Text, Vol: Stable, kernel: a2s},
		)
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
