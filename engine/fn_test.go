package engine

import (
	"errors"
	"testing"

	"github.com/stratadb/strata/internal/sqlstate"
)

// TestRegistryDeclaredSignatures checks the registry's declarations against its
// resolution: each function overload, called with exactly its declared parameter
// types, resolves to itself and its declared result type; no two overloads of a name
// declare the same parameters; OIDs are dense and FuncByOID finds each.
func TestRegistryDeclaredSignatures(t *testing.T) {
	seen := map[string]bool{}
	for i, f := range Funcs() {
		if f.OID != firstFuncOID+int64(i) {
			t.Fatalf("%s: oid %d at position %d", f.Signature(), f.OID, i)
		}
		if g, ok := FuncByOID(f.OID); !ok || g != f {
			t.Errorf("FuncByOID(%d) = %v, want %s", f.OID, g, f.Signature())
		}
		if seen[f.Signature()] {
			t.Errorf("%s declared twice", f.Signature())
		}
		seen[f.Signature()] = true
		if f.untyped || f.VariadicAny {
			continue
		}
		got, rt, err := LookupFunc(f.Name, f.Args)
		if err != nil {
			t.Errorf("%s: %v", f.Signature(), err)
			continue
		}
		if got != f {
			t.Errorf("%s resolves to %s", f.Signature(), got.Signature())
		}
		if f.ret == nil && rt != f.Ret {
			t.Errorf("%s: result %s, declared %s", f.Signature(), rt, f.Ret)
		}
	}
}

// TestResolveOverloads is PostgreSQL 15's choice among overloads (pg_typeof of the call in
// psql), and 42883 where it has none.
func TestResolveOverloads(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []Type
		want Type // Unknown: 42883
	}{
		{"floor", []Type{Int32}, Float64},
		{"floor", []Type{Numeric}, Numeric},
		{"floor", []Type{Float32}, Float64},
		{"round", []Type{Int64, Int32}, Numeric},
		{"round", []Type{Float64, Int32}, Unknown},
		{"power", []Type{Int32, Numeric}, Numeric},
		{"power", []Type{Int32, Int32}, Float64},
		{"power", []Type{Numeric, Float64}, Float64},
		{"mod", []Type{Int16, Int32}, Int32},
		{"mod", []Type{Int64, Int16}, Int64},
		{"mod", []Type{Int32, Numeric}, Numeric},
		{"mod", []Type{Float64, Int32}, Unknown},
		{"abs", []Type{Int16}, Int16},
		{"abs", []Type{Text}, Unknown},
		{"date_trunc", []Type{Text, Timestamp}, Timestamp},
		{"date_trunc", []Type{Text, TimestampTZ}, TimestampTZ},
		{"date_trunc", []Type{Text, Int32}, Unknown},
		{"to_char", []Type{Int16, Text}, Text},
		{"to_char", []Type{Text, Text}, Unknown},
		{"lower", []Type{Unknown}, Text},
		{"lower", []Type{Int32}, Unknown},
		{"concat", []Type{Text, Int32, TimestampTZ}, Text},
		{"concat_ws", []Type{Int32, Text}, Unknown},
		{"no_such_function", []Type{Int32}, Unknown},
	} {
		_, got, err := LookupFunc(tc.name, tc.args)
		if tc.want == Unknown {
			var e *Error
			if !errors.As(err, &e) || e.Code != sqlstate.UndefinedFunction {
				t.Errorf("%s%v: got %v, %v; want 42883", tc.name, tc.args, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s%v = %v, %v; want %v", tc.name, tc.args, got, err, tc.want)
		}
	}
}

// TestWindowProcs checks pg_proc's window functions against ResolveWindow: each
// declared signature, with a pseudo-type replaced by a real type, resolves, to
// that type where the result is the pseudo-type.
func TestWindowProcs(t *testing.T) {
	for _, p := range windowProcs {
		for _, elem := range []Type{Int64, Text, TimestampTZ} {
			args := make([]Type, len(p.Args))
			for i, a := range p.Args {
				args[i] = elem
				if a.OID != procAnyElement.OID && a.OID != procAnyCompat.OID {
					args[i] = Int32
				}
			}
			got, err := ResolveWindow(p.Name, args)
			want := Int64
			if p.Ret.OID == procAnyElement.OID || p.Ret.OID == procAnyCompat.OID {
				want = elem
			}
			if err != nil || got != want {
				t.Errorf("%s(%v) = %v, %v; want %v", p.Name, args, got, err, want)
			}
		}
	}
}

// TestProcArguments is pg_get_function_arguments and _identity_arguments as
// PostgreSQL 15 prints them for the same declarations.
func TestProcArguments(t *testing.T) {
	find := func(name string, nargs int) *Proc {
		for _, p := range Procs() {
			if p.Name == name && len(p.Args) == nargs {
				return &p
			}
		}
		t.Fatalf("no %s with %d arguments in pg_proc", name, nargs)
		return nil
	}
	for _, tc := range []struct {
		name           string
		nargs          int
		args, identity string
		result         string
	}{
		{"pg_terminate_backend", 2, "pid integer, timeout bigint DEFAULT 0", "pid integer, timeout bigint", "boolean"},
		{"concat_ws", 2, `text, VARIADIC "any"`, `text, VARIADIC "any"`, "text"},
		{"count", 1, `"any"`, `"any"`, "bigint"},
		{"lag", 3, "anycompatible, integer, anycompatible", "anycompatible, integer, anycompatible", "anycompatible"},
		{"to_char", 2, "bigint, text", "bigint, text", "text"},
	} {
		p := find(tc.name, tc.nargs)
		if p.Name == "to_char" {
			for _, q := range Procs() {
				if q.Name == "to_char" && q.Args[0].Name == "bigint" {
					p = &q
				}
			}
		}
		if p.Arguments() != tc.args || p.IdentityArguments() != tc.identity || p.Ret.Name != tc.result {
			t.Errorf("%s: (%s) (%s) %s; want (%s) (%s) %s", tc.name, p.Arguments(), p.IdentityArguments(), p.Ret.Name, tc.args, tc.identity, tc.result)
		}
	}
}

// TestParamType: the type an untyped argument takes is the parameter type of the
// overloads the other arguments fit, when they agree (PostgreSQL's rule for an
// unknown-type literal); none when they disagree.
func TestParamType(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []Type
		i    int
		want Type // Unknown: no agreement
	}{
		{"to_timestamp", []Type{Unknown}, 0, Float64},
		{"time_bucket", []Type{Unknown, TimestampTZ}, 0, Interval},
		{"date_bin", []Type{Interval, Timestamp, Unknown}, 2, Timestamp},
		{"date_bin", []Type{Interval, TimestampTZ, Unknown}, 2, TimestampTZ},
		{"format_type", []Type{Int64, Unknown}, 1, Int32},
		{"date_trunc", []Type{Unknown, TimestampTZ}, 0, Text},
		{"round", []Type{Numeric, Unknown}, 1, Int32},
		{"floor", []Type{Unknown}, 0, Unknown},
		{"power", []Type{Int32, Unknown}, 1, Unknown},
		{"concat", []Type{Text, Unknown}, 1, Unknown},
	} {
		got, ok := ParamType(tc.name, tc.args, tc.i)
		if !ok {
			got = Unknown
		}
		if got != tc.want {
			t.Errorf("ParamType(%s, %v, %d) = %v, want %v", tc.name, tc.args, tc.i, got, tc.want)
		}
	}
}
