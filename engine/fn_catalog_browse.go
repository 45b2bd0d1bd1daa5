package engine

// Catalog functions psql's \d commands and the JDBC, SQLAlchemy and Metabase
// drivers call while browsing (sql/pgcatalog_*.go builds the relations they read):
// visibility tests (every object strata has is in pg_catalog or public, on every
// search path), pg_tablespace_location, and array_cat for text[] (a || b of two
// text[] is bound to it).

func init() {
	for _, name := range []string{"pg_type_is_visible", "pg_operator_is_visible", "pg_conversion_is_visible",
		"pg_ts_config_is_visible", "pg_opclass_is_visible", "pg_collation_is_visible"} {
		register(&Func{Name: name, Args: sig(Int64), Ret: Bool, Strict: true, Vol: Stable, kernel: trueOf})
	}
	register(
		// pg_default and pg_global, strata's two tablespaces, live in the data
		// directory: '' as PostgreSQL answers for them.
		&Func{Name: "pg_tablespace_location", Args: sig(Int64), Ret: Text, Strict: true, Vol: Stable,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				out := newVec(Text, n)
				out.nulls = unionNulls(n, args...)
				return out, nil
			}},
		// array_cat(a, b): a NULL array is the other one, as in PostgreSQL.
		&Func{Name: "array_cat", Args: sig(TextArray, TextArray), Ret: TextArray, Vol: Immutable,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				out := newVec(TextArray, n)
				for i := 0; i < n; i++ {
					var elems []ArrayElem
					null := true
					for _, a := range args {
						if a.isNull(i) {
							continue
						}
						null = false
						e, err := ParseTextArray(a.str(i))
						if err != nil {
							return nil, err
						}
						elems = append(elems, e...)
					}
					if null {
						out.setNull(i)
						continue
					}
					out.s[i] = FormatTextArray(elems)
				}
				return out, nil
			}},
	)
}

// ArrayCompare is the name the binder gives x op ANY (a) and x op ALL (a) over an
// array: ArrayCompare(x, a, op, all), a being a text[] or an int2vector/oidvector
// catalog column in its text form ("3 2"; PgJDBC and SQLAlchemy ask a.attnum =
// ANY(ix.indkey)). Each element is read as a value of x's type and compared with
// op; PostgreSQL's NULL rules: ANY is true when some comparison is, else NULL when
// x or an element is NULL, else false (ALL the other way round).
const ArrayCompare = "array_compare"

func init() {
	register(&Func{Name: ArrayCompare, Args: sig(Text, TextArray, Text, Bool), Ret: Bool, Vol: Immutable, Kind: KindSyntax,
		accept: func(a []Type) bool {
			return len(a) == 4 && (a[1].ID == TypeTextArray || a[1].ID == TypeText) && a[2].ID == TypeText && a[3].ID == TypeBool
		},
		kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			x, arr, op, all := args[0], args[1], args[2], args[3]
			out := newVec(Bool, n)
			for i := 0; i < n; i++ {
				if arr.isNull(i) || op.isNull(i) || all.isNull(i) {
					out.setNull(i)
					continue
				}
				elems, _, err := setElems(arr, i)
				if err != nil {
					return nil, err
				}
				isAll := all.b[i]
				result, sawNull := isAll, false
				xi := newVec(x.t, 1)
				xi.set(0, x.value(i))
				for _, e := range elems {
					if e.Null || x.isNull(i) {
						sawNull = true
						continue
					}
					v, err := ParseValue(e.S, x.t)
					if err != nil {
						return nil, err
					}
					ei := newVec(x.t, 1)
					ei.set(0, v)
					r, err := compareVec(op.str(i), xi, ei)
					if err != nil {
						return nil, err
					}
					if r.b[0] != isAll { // a true for ANY, a false for ALL decides
						result = !isAll
						sawNull = false
						break
					}
				}
				switch {
				case result != isAll:
					out.b[i] = result
				case sawNull:
					out.setNull(i)
				default:
					out.b[i] = result
				}
			}
			return out, nil
		}})
}
