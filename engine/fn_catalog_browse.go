package engine

import (
	"strconv"
	"strings"

	"github.com/stratadb/strata/internal/sqlstate"
)

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
// array: ArrayCompare(x, a, op, all), a being an array or an int2vector/oidvector
// catalog column in its text form ("3 2"; PgJDBC and SQLAlchemy ask a.attnum =
// ANY(ix.indkey)). Each element is read as a value of x's type and compared with
// op; PostgreSQL's NULL rules: ANY is true when some comparison is, else NULL when
// x or an element is NULL, else false (ALL the other way round).
const ArrayCompare = "array_compare"

func init() {
	register(&Func{Name: ArrayCompare, Args: sig(Text, TextArray, Text, Bool), Ret: Bool, Vol: Immutable, Kind: KindSyntax,
		accept: func(a []Type) bool {
			return len(a) == 4 && (a[1].IsArray() || a[1].ID == TypeText) && a[2].ID == TypeText && a[3].ID == TypeBool
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

// Catalog integer arrays. strata keeps int2vector and oidvector catalog columns
// (pg_index.indkey) in their text form, "3 2", and int2[] ones (pg_constraint.conkey)
// as smallint[], "{3,2}"; VectorElement is a[i] of such a column (0-based for a vector, 1-based
// for an array, NULL out of range), an integer. ExpandArrayField is field x or n of
// the record information_schema._pg_expandarray(a) returns (a ProjectSet's
// "expand" column holds it in PostgreSQL's record text form, "(3,1)").
const (
	VectorElement    = "catalog_vector_element"
	ExpandArrayField = "expandarray_field"
)

func init() {
	intOut := func(f func(s string, k int64) (int64, bool, error)) Kernel {
		return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			out := newVec(Int64, n)
			for i := 0; i < n; i++ {
				if args[0].isNull(i) || args[1].isNull(i) {
					out.setNull(i)
					continue
				}
				v, ok, err := f(args[0].str(i), args[1].i[i])
				if err != nil {
					return nil, err
				}
				if !ok {
					out.setNull(i)
					continue
				}
				out.i[i] = v
			}
			return out, nil
		}
	}
	parseInt := func(s string) (int64, bool, error) {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return 0, false, Errorf(sqlstate.InvalidTextRepresentation, "invalid input syntax for type bigint: %q", s)
		}
		return v, true, nil
	}
	register(
		&Func{Name: VectorElement, Args: sig(Text, Int64), Ret: Int64, Kind: KindSyntax, Strict: true,
			accept: func(a []Type) bool { return len(a) == 2 && a[0].ID == TypeText && a[1].IsInteger() },
			kernel: intOut(func(s string, k int64) (int64, bool, error) {
				v := &vec{t: Text, n: 1, s: []string{s}}
				elems, lower, err := setElems(v, 0)
				if err != nil {
					return 0, false, err
				}
				k -= int64(lower)
				if k < 0 || k >= int64(len(elems)) || elems[k].Null {
					return 0, false, nil
				}
				return parseInt(elems[k].S)
			})},
		&Func{Name: ExpandArrayField, Args: sig(Text, Int64), Ret: Int64, Kind: KindSyntax, Strict: true,
			accept: func(a []Type) bool { return len(a) == 2 && a[0].ID == TypeText && a[1].IsInteger() },
			kernel: intOut(func(s string, k int64) (int64, bool, error) {
				f := strings.Split(strings.TrimSuffix(strings.TrimPrefix(s, "("), ")"), ",")
				if len(f) != 2 || k < 0 || k > 1 {
					return 0, false, Errorf(sqlstate.InvalidTextRepresentation, "malformed record literal: %q", s)
				}
				if f[k] == "" {
					return 0, false, nil
				}
				return parseInt(f[k])
			})},
	)
	// Bitwise and/or of integers (PgJDBC's getIndexInfo: indoption[i] & 1).
	for _, name := range []string{"&", "|"} {
		register(&Func{Name: name, Kind: KindOperator, Strict: true, untyped: true,
			ret: func(orig, a []Type) (Type, error) {
				if len(a) == 2 && a[0].IsInteger() && a[1].IsInteger() {
					if a[0].Size() >= a[1].Size() {
						return a[0], nil
					}
					return a[1], nil
				}
				return Unknown, undefinedFunc(name, a)
			},
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				out := newVec(c.T, n)
				out.nulls = unionNulls(n, args...)
				for i := 0; i < n; i++ {
					if c.Func == "&" {
						out.i[i] = args[0].i[i] & args[1].i[i]
					} else {
						out.i[i] = args[0].i[i] | args[1].i[i]
					}
				}
				return out, nil
			}})
	}
}
