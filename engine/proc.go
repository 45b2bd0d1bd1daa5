package engine

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// pg_proc's view of what the engine computes: the registry's functions (fn.go), the
// aggregates ResolveAgg types and the window functions ResolveWindow types. The SQL
// layer's pg_proc and the pg_get_function_* functions (fn_catalog.go) read Procs.

// ProcType is a type as pg_proc shows it: a type, or one of PostgreSQL's
// pseudo-types ("any", anyelement) for a parameter that takes every type.
type ProcType struct {
	OID  int64
	Name string // format_type's spelling
}

var (
	procAny        = ProcType{2276, `"any"`}
	procAnyElement = ProcType{2283, "anyelement"}
	procAnyCompat  = ProcType{5077, "anycompatible"}
)

// langInternal is pg_language "internal": every strata function is built in.
const langInternal = 12

func procTypeOf(t Type) ProcType { return ProcType{int64(t.OID()), t.String()} }

// Proc is one row of pg_proc.
type Proc struct {
	OID      int64
	Name     string
	Kind     byte // prokind: 'f' function, 'a' aggregate, 'w' window function
	Args     []ProcType
	ArgNames []string // empty, or one per argument
	Variadic bool     // the last argument is VARIADIC
	Defaults []string // SQL text of the trailing arguments' defaults
	Ret      ProcType
	Vol      Volatility
	Strict   bool
	Src      string // prosrc: the implementing routine's name
	Lang     int64  // prolang: pg_language oid (12, internal)
}

// Arguments is pg_get_function_arguments: the arguments with names, VARIADIC and
// DEFAULT, as CREATE FUNCTION would write them.
func (p *Proc) Arguments() string { return p.args(true) }

// IdentityArguments is pg_get_function_identity_arguments: what identifies the
// function (names, no defaults).
func (p *Proc) IdentityArguments() string { return p.args(false) }

func (p *Proc) args(defaults bool) string {
	var b strings.Builder
	for i, t := range p.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		if p.Variadic && i == len(p.Args)-1 {
			b.WriteString("VARIADIC ")
		}
		if i < len(p.ArgNames) && p.ArgNames[i] != "" {
			b.WriteString(p.ArgNames[i])
			b.WriteByte(' ')
		}
		b.WriteString(t.Name)
		if k := i - (len(p.Args) - len(p.Defaults)); defaults && k >= 0 {
			b.WriteString(" DEFAULT ")
			b.WriteString(p.Defaults[k])
		}
	}
	return b.String()
}

// Procs returns pg_proc's rows in OID order. The caller must not modify them.
func Procs() []Proc { return procs().list }

// ProcByOID returns the pg_proc row with oid.
func ProcByOID(oid int64) (*Proc, bool) {
	p, ok := procs().byOID[oid]
	return p, ok
}

type procTable struct {
	list  []Proc
	byOID map[int64]*Proc
}

var procs = sync.OnceValue(func() procTable {
	var list []Proc
	for _, f := range Funcs() {
		if f.Kind != KindFunction {
			continue
		}
		p := Proc{OID: f.OID, Name: f.Name, Kind: 'f', ArgNames: f.ArgNames, Defaults: f.Defaults,
			Ret: procTypeOf(f.Ret), Vol: f.Vol, Strict: f.Strict, Src: f.Name, Lang: langInternal}
		for _, t := range f.Args {
			p.Args = append(p.Args, procTypeOf(t))
		}
		if f.VariadicAny {
			p.Args, p.Variadic = append(p.Args, procAny), true
		}
		list = append(list, p)
	}
	var more []Proc
	for _, name := range aggregateNames {
		for _, s := range probeSignatures(func(args []Type) (Type, error) { return ResolveAgg(name, args, false) }) {
			more = append(more, Proc{Name: name, Kind: 'a', Args: s.args, Ret: s.ret, Vol: Immutable, Src: "aggregate_dummy", Lang: langInternal})
		}
	}
	for _, w := range windowProcs {
		w.Kind, w.Vol, w.Src, w.Lang = 'w', Immutable, "window_"+w.Name, langInternal
		more = append(more, w)
	}
	slices.SortStableFunc(more, func(a, b Proc) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.IdentityArguments(), b.IdentityArguments()))
	})
	next := int64(firstFuncOID + len(Funcs()))
	for i := range more {
		more[i].OID = next
		next++
	}
	list = append(list, more...)
	t := procTable{list: list, byOID: make(map[int64]*Proc, len(list))}
	for i := range t.list {
		t.byOID[t.list[i].OID] = &t.list[i]
	}
	return t
})

// aggregateNames are the aggregates the binder knows (sql treats a call of one of
// these names without OVER as an aggregate); ResolveAgg types them.
var aggregateNames = []string{
	"count", "sum", "min", "max", "avg",
	"stddev", "stddev_samp", "stddev_pop", "variance",
	"var_samp", "var_pop", "bool_and", "bool_or", "every",
	"string_agg", "array_agg", "approx_count_distinct",
	"percentile_cont", "percentile_disc", "mode", "regr_slope", "regr_intercept",
	"corr", "covar_pop", "covar_samp", "regr_count", "regr_r2",
	"regr_avgx", "regr_avgy", "regr_sxx", "regr_syy", "regr_sxy",
}

// IsAggregate reports whether name is an aggregate function.
func IsAggregate(name string) bool { return slices.Contains(aggregateNames, name) }

// windowProcs are the window functions (ResolveWindow) as PostgreSQL declares them;
// TestWindowProcs checks each against ResolveWindow.
var windowProcs = []Proc{
	{Name: "row_number", Ret: procTypeOf(Int64)},
	{Name: "rank", Ret: procTypeOf(Int64)},
	{Name: "dense_rank", Ret: procTypeOf(Int64)},
	{Name: "lag", Args: []ProcType{procAnyElement}, Ret: procAnyElement, Strict: true},
	{Name: "lag", Args: []ProcType{procAnyElement, procTypeOf(Int32)}, Ret: procAnyElement, Strict: true},
	{Name: "lead", Args: []ProcType{procAnyElement}, Ret: procAnyElement, Strict: true},
	{Name: "lag", Args: []ProcType{procAnyCompat, procTypeOf(Int32), procAnyCompat}, Ret: procAnyCompat, Strict: true},
	{Name: "lead", Args: []ProcType{procAnyElement, procTypeOf(Int32)}, Ret: procAnyElement, Strict: true},
	{Name: "lead", Args: []ProcType{procAnyCompat, procTypeOf(Int32), procAnyCompat}, Ret: procAnyCompat, Strict: true},
	{Name: "first_value", Args: []ProcType{procAnyElement}, Ret: procAnyElement, Strict: true},
	{Name: "last_value", Args: []ProcType{procAnyElement}, Ret: procAnyElement, Strict: true},
}

// probeTypes are the types an aggregate's signatures are probed with.
var probeTypes = []Type{Bool, Int16, Int32, Int64, Float32, Float64, Numeric, Text, Timestamp, TimestampTZ, Date, Interval, TextArray}

type probed struct {
	args []ProcType
	ret  ProcType
	ts   []Type
}

// probeSignatures lists the signatures resolve accepts among zero to two
// arguments of probeTypes, as PostgreSQL would declare them: a one-argument
// signature taking every type is one "any" (one anyelement when the result is the
// argument's type), and a signature whose arguments widen along the number chain
// to another's with the same result is left out (sum(smallint) is sum(integer)'s).
func probeSignatures(resolve func([]Type) (Type, error)) []probed {
	var out []probed
	if t, err := resolve(nil); err == nil {
		out = append(out, probed{ret: procTypeOf(t)})
	}
	var ones []probed
	sameRet, retIsArg := true, true
	for _, a := range probeTypes {
		t, err := resolve([]Type{a})
		if err != nil {
			continue
		}
		ones = append(ones, probed{args: []ProcType{procTypeOf(a)}, ret: procTypeOf(t), ts: []Type{a}})
		sameRet = sameRet && procTypeOf(t) == ones[0].ret
		retIsArg = retIsArg && t == a
	}
	switch {
	case len(ones) == len(probeTypes) && retIsArg:
		out = append(out, probed{args: []ProcType{procAnyElement}, ret: procAnyElement})
	case len(ones) == len(probeTypes) && sameRet:
		out = append(out, probed{args: []ProcType{procAny}, ret: ones[0].ret})
	default:
		out = append(out, dropWidened(ones)...)
	}
	var twos []probed
	for _, a := range probeTypes {
		for _, b := range probeTypes {
			if t, err := resolve([]Type{a, b}); err == nil {
				twos = append(twos, probed{args: []ProcType{procTypeOf(a), procTypeOf(b)}, ret: procTypeOf(t), ts: []Type{a, b}})
			}
		}
	}
	return append(out, dropWidened(twos)...)
}

// dropWidened leaves out each signature whose every argument equals or widens to
// another's of the same result type.
func dropWidened(sigs []probed) []probed {
	var out []probed
	for i, s := range sigs {
		covered := false
		for j, o := range sigs {
			if i == j || o.ret != s.ret {
				continue
			}
			all := true
			for k, t := range s.ts {
				u := o.ts[k]
				if t != u && !(t.IsNumeric() && u.IsNumeric() && numRank(t) < numRank(u)) {
					all = false
					break
				}
			}
			if all {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, s)
		}
	}
	return out
}
