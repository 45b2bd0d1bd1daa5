package engine

import "github.com/stratadb/strata/internal/sqlstate"

// System information and catalog functions (PostgreSQL 15 §9.26) for strata's one
// role ("strata"), one encoding (UTF8) and one schema (every table is visible), and
// the server-signalling functions the SQL layer supplies (Options.Funcs). An oid
// is a bigint in strata (the oid and reg types are bigints by another name:
// regtypes.go).

func init() {
	cat := func(name string, args []Type, ret Type, k Kernel) *Func {
		return &Func{Name: name, Args: args, Ret: ret, Strict: true, Vol: Stable, kernel: k}
	}
	textOf := func(f func(args []*vec, i int) string) Kernel {
		return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			out := newVec(Text, n)
			out.nulls = unionNulls(n, args...)
			for i := 0; i < n; i++ {
				if !out.isNull(i) {
					out.s[i] = f(args, i)
				}
			}
			return out, nil
		}
	}
	isInt := func(a []Type) bool { return len(a) > 0 && a[0].IsInteger() }
	register(
		cat("pg_get_userbyid", sig(Int64), Text, textOf(func([]*vec, int) string { return "strata" })),
		cat("pg_encoding_to_char", sig(Int32), Text, textOf(func([]*vec, int) string { return "UTF8" })),
		cat("pg_size_pretty", sig(Int64), Text, textOf(func(a []*vec, i int) string { return SizePretty(a[0].i[i]) })),
		// not strict: a NULL typmod is "no typmod"; a modifier shows in the names
		// of varchar, bpchar, numeric and the timestamps (typmod.go)
		&Func{Name: "format_type", Args: sig(Int64, Int32), Ret: Text, Vol: Stable,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				out := newVec(Text, n)
				out.nulls = unionNulls(n, args[0])
				for i := 0; i < n; i++ {
					if out.isNull(i) {
						continue
					}
					if !args[1].isNull(i) {
						if s, ok := formatTypeMod(args[0].i[i], args[1].i[i]); ok {
							out.s[i] = s
							continue
						}
					}
					if s, ok := typeNamesByOID[args[0].i[i]]; ok {
						out.s[i] = s
					} else {
						out.s[i] = "???" // PostgreSQL's answer for an unknown oid
					}
				}
				return out, nil
			}},
		cat("pg_table_is_visible", sig(Int64), Bool, trueOf),
		// pg_get_expr deparses a stored expression (a column default); strata stores
		// none, and passes the text through. The relation may be of any type.
		&Func{Name: "pg_get_expr", Args: sig(Text, Int64), Ret: Text, Strict: true, Vol: Stable, kernel: firstArg,
			accept: func(a []Type) bool { return len(a) == 2 && a[0].ID == TypeText }},
		&Func{Name: "pg_get_expr", Args: sig(Text, Int64, Bool), Ret: Text, Strict: true, Vol: Stable, kernel: firstArg,
			accept: func(a []Type) bool { return len(a) == 3 && a[0].ID == TypeText }},
	)
	// strata keeps no comments (COMMENT ON): always NULL, as in PostgreSQL without
	// one. The second argument may be of any type.
	for _, d := range []struct {
		name string
		args []Type
	}{
		{"obj_description", sig(Int64)},
		{"obj_description", sig(Int64, Text)},
		{"col_description", sig(Int64, Int32)},
		{"shobj_description", sig(Int64, Text)},
	} {
		f := cat(d.name, d.args, Text, nullOf)
		f.accept = func(a []Type) bool { return isInt(a) && len(a) == len(d.args) }
		if d.name == "shobj_description" || d.name == "col_description" {
			f.accept = func(a []Type) bool { return isInt(a) && len(a) <= 2 }
		}
		register(f)
	}
	register(
		&Func{Name: "pg_cancel_backend", Args: sig(Int32), Ret: Bool, Strict: true, Vol: Volatile, kernel: hostKernel},
		&Func{Name: "pg_terminate_backend", Args: sig(Int32, Int64), ArgNames: []string{"pid", "timeout"}, Defaults: []string{"0"},
			Ret: Bool, Strict: true, Vol: Volatile, kernel: hostKernel},
	)
}

func trueOf(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(Bool, n)
	out.nulls = unionNulls(n, args...)
	for i := range out.b {
		out.b[i] = true
	}
	return out, nil
}

func nullOf(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(c.T, n)
	out.nulls = make([]bool, n)
	for i := range out.nulls {
		out.nulls[i] = true
	}
	return out, nil
}

func firstArg(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) { return args[0], nil }

// hostKernel calls the Options.Funcs function of the call's name row by row.
func hostKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	f := ev.funcs[c.Func]
	if f == nil {
		return nil, Errorf(sqlstate.FeatureNotSupported, "function %s is not available here", c.Func)
	}
	out := newVec(c.T, n)
	row := make([]Value, len(args))
	for r := 0; r < n; r++ {
		for i, v := range args {
			row[i] = v.value(r)
		}
		x, err := f(row)
		if err != nil {
			return nil, err
		}
		out.set(r, x)
	}
	return out, nil
}

// The function-describing functions psql's \df and PgJDBC call, over Procs; NULL
// for an oid that is no function, as PostgreSQL.
func init() {
	procText := func(name string, f func(p *Proc) (string, bool)) *Func {
		return &Func{Name: name, Args: sig(Int64), Ret: Text, Strict: true, Vol: Stable,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				out := newVec(Text, n)
				out.nulls = make([]bool, n)
				x := args[0]
				for i := 0; i < n; i++ {
					p, ok := ProcByOID(x.i[i])
					s, has := "", false
					if ok && !x.isNull(i) {
						s, has = f(p)
					}
					out.s[i], out.nulls[i] = s, !has
				}
				return out, nil
			}}
	}
	register(
		procText("pg_get_function_result", func(p *Proc) (string, bool) { return p.Ret.Name, true }),
		procText("pg_get_function_arguments", func(p *Proc) (string, bool) { return p.Arguments(), true }),
		procText("pg_get_function_identity_arguments", func(p *Proc) (string, bool) { return p.IdentityArguments(), true }),
		// a function whose body is SQL text (CREATE FUNCTION … BEGIN ATOMIC): none here
		procText("pg_get_function_sqlbody", func(p *Proc) (string, bool) { return "", false }),
		// every function is in pg_catalog, which is on every search path
		&Func{Name: "pg_function_is_visible", Args: sig(Int64), Ret: Bool, Strict: true, Vol: Stable,
			kernel: func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				out := newVec(Bool, n)
				out.nulls = make([]bool, n)
				x := args[0]
				for i := 0; i < n; i++ {
					_, ok := ProcByOID(x.i[i])
					out.b[i], out.nulls[i] = ok, !ok || x.isNull(i)
				}
				return out, nil
			}},
	)
}
