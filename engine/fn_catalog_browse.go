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
