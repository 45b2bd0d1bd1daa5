package engine

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// The scalar function registry. Every scalar function and operator the engine
// computes is a *Func: one overload, declared once in the fn_<family>.go file of its
// family with its parameter types, result type, volatility and vectorized kernel.
// The binder resolves a call once (NewCall) to one overload, which the Call keeps;
// evaluation calls that overload's kernel with no lookup by name.
// pg_proc is generated from the same list (Funcs), so what psql's \df shows is what
// resolves.
//
// Resolution follows PostgreSQL's func_select_candidate as strata applies it:
//
//  1. The binder gives an untyped literal or NULL argument the parameter type its
//     overloads agree on (ParamType), else text. An argument still Unknown here
//     takes the type of the first typed argument, or text (fillUnknown).
//  2. An overload whose parameter types equal the argument types wins.
//  3. Otherwise the candidates are the overloads every argument reaches by an
//     implicit cast (implicitCast): along the number chain int2 → int4 → int8 →
//     numeric → real → double precision, and, as strata keeps every integer in an
//     int64, from any integer to any integer parameter (a narrowing PostgreSQL
//     would refuse; it never loses a value here). A few overloads accept more than
//     their declared types (accept), as strata did before the registry existed.
//  4. Among candidates: the most arguments matching exactly, then the fewest
//     narrowing integer casts, then the most casts to a preferred type (double
//     precision, timestamptz, text), then declaration order.
//
// No overload: 42883 with PostgreSQL's "function f(types) does not exist" (or
// "operator does not exist") and hint.

// Volatility is pg_proc.provolatile: whether a call may be folded at plan time
// (immutable), is fixed within a statement (stable), or changes per row (volatile).
type Volatility byte

const (
	Immutable Volatility = 'i'
	Stable    Volatility = 's'
	Volatile  Volatility = 'v'
)

// FuncKind says how pg_proc shows an overload.
type FuncKind uint8

const (
	// KindFunction is a function PostgreSQL also lists in pg_proc under this name.
	KindFunction FuncKind = iota
	// KindOperator implements an operator (+, =, ||, NOT, unary -): in pg_operator,
	// not under its symbol in pg_proc.
	KindOperator
	// KindSyntax is a construct PostgreSQL parses as syntax, not a pg_proc function
	// (COALESCE, NULLIF, GREATEST, LEAST, CURRENT_DATE, LOCALTIMESTAMP,
	// CURRENT_TIMESTAMP), or a strata-internal form the binder rewrites to (the
	// array accessors of series.go). Resolved like any other; not in pg_proc.
	KindSyntax
)

// Kernel computes a function over one batch: args are the evaluated arguments (n
// rows each, of the argument expressions' types, which may differ from the declared
// parameter types by an implicit cast), c the call (its result type c.T). The
// result has n rows and type c.T. Kernels do not keep args.
type Kernel func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error)

// fastPath computes a call without evaluating every argument as a vec (a column
// compared with a constant, arithmetic with a constant); ok false falls back to the
// kernel.
type fastPath func(ev *evaluator, c *Call, b *batch) (out *vec, ok bool, err error)

// Func is one overload of a scalar function or operator. Immutable after init.
type Func struct {
	Name string
	// Args are the parameter types (pg_proc.proargtypes). With VariadicAny the
	// function takes any number of further arguments of any type after them
	// (PostgreSQL's VARIADIC "any").
	Args        []Type
	VariadicAny bool
	// ArgNames are the parameters' names where PostgreSQL declares them
	// (pg_proc.proargnames); Defaults the SQL text of the trailing parameters' default
	// values, which a call may leave out (pronargdefaults = len(Defaults)).
	ArgNames []string
	Defaults []string
	// Ret is the result type (pg_proc.prorettype), unless ret computes it.
	Ret    Type
	Vol    Volatility
	Strict bool // NULL in any argument gives NULL (pg_proc.proisstrict)
	Kind   FuncKind
	// OID is pg_proc.oid (numberFuncs); read it through Funcs or FuncByOID.
	OID int64

	// accept, when set, replaces arity and implicit-cast matching (rule 3).
	accept func(a []Type) bool
	// untyped: the overload takes any arguments and ret alone decides the result
	// type or the error (the operators, COALESCE and its kin); the only overload of
	// its name.
	untyped bool
	// ret, when set, computes the result type from the argument types (after
	// fillUnknown; orig as written), or returns the error the call gets: the
	// polymorphic functions and the operators.
	ret    func(orig, a []Type) (Type, error)
	kernel Kernel
	fast   fastPath
}

// Volatile reports whether the planner must not fold a call of f.
func (f *Func) Volatile() bool { return f.Vol == Volatile }

// Signature is "name(type, type)" as PostgreSQL's regprocedure prints it.
func (f *Func) Signature() string {
	return f.Name + "(" + f.IdentityArgs() + ")"
}

// IdentityArgs is pg_get_function_identity_arguments: the parameter types.
func (f *Func) IdentityArgs() string {
	var b strings.Builder
	for i, t := range f.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.String())
	}
	if f.VariadicAny {
		if len(f.Args) > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`VARIADIC "any"`)
	}
	return b.String()
}

// registry: every overload, by name, in declaration order.
var registry = map[string][]*Func{}

// allFuncs in registration order.
var allFuncs []*Func

// firstFuncOID is pg_proc.oid of the first overload; the functions, then the
// aggregates and window functions (proc.go), are numbered from it. It lies below
// FirstNormalObjectId (16384), where strata's table OIDs start (sql/pgcatalog.go),
// and above the OIDs of the catalog relations and types clients know.
const firstFuncOID = 8000

// register adds overloads; called from the init functions of the fn_*.go files.
func register(fs ...*Func) {
	for _, f := range fs {
		if f.kernel == nil {
			panic("BUG: function " + f.Name + " registered without a kernel")
		}
		if f.Vol == 0 {
			f.Vol = Immutable
		}
		registry[f.Name] = append(registry[f.Name], f)
		allFuncs = append(allFuncs, f)
	}
}

// numberFuncs gives the overloads their OIDs in a stable order (name, then
// argument types), so that an OID does not depend on which family file registers
// first. Run once, after every init has registered.
var numberFuncs = sync.OnceValue(func() []*Func {
	sorted := slices.Clone(allFuncs)
	slices.SortStableFunc(sorted, func(a, b *Func) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.IdentityArgs(), b.IdentityArgs()))
	})
	for i, f := range sorted {
		f.OID = firstFuncOID + int64(i)
	}
	return sorted
})

// Funcs returns every registered overload in OID order (for pg_proc). The caller
// must not modify them.
func Funcs() []*Func { return numberFuncs() }

// FuncByOID returns the overload with pg_proc.oid oid.
func FuncByOID(oid int64) (*Func, bool) {
	fs := numberFuncs()
	i := oid - firstFuncOID
	if i < 0 || i >= int64(len(fs)) {
		return nil, false
	}
	return fs[i], true
}

// IsFunc reports whether name is a registered function or operator.
func IsFunc(name string) bool { return len(registry[name]) > 0 }

// NewCall resolves name over args and returns the call holding the chosen overload,
// or the 42883/42804 error PostgreSQL gives.
func NewCall(name string, args ...Expr) (*Call, error) {
	types := make([]Type, len(args))
	for i, a := range args {
		types[i] = a.Type()
	}
	f, t, err := LookupFunc(name, types)
	if err != nil {
		return nil, err
	}
	return &Call{Func: name, Args: args, T: decimalCallType(name, args, t), Fn: f}, nil
}

// MustCall is NewCall for calls the SQL layer builds itself, whose argument types it
// knows resolve (x = y over one type, nullif over floats); it panics otherwise.
func MustCall(name string, args ...Expr) *Call {
	c, err := NewCall(name, args...)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return c
}

// ResolveFunc returns the result type of scalar function or operator name applied
// to arguments of types args, or a 42883 error when no overload exists.
func ResolveFunc(name string, args []Type) (Type, error) {
	_, t, err := LookupFunc(name, args)
	return t, err
}

// LookupFunc resolves name over argument types args (rules at the top of this
// file) to an overload and the call's result type.
func LookupFunc(name string, args []Type) (*Func, Type, error) {
	name = strings.ToLower(name)
	cands := registry[name]
	if len(cands) == 0 {
		return nil, Unknown, undefinedFunc(name, args)
	}
	a := fillUnknown(args)
	var best *Func
	var bestScore [3]int
	for _, f := range cands {
		score, ok := f.match(a)
		if !ok {
			continue
		}
		if best == nil || better(score, bestScore) {
			best, bestScore = f, score
		}
	}
	if best == nil {
		return nil, Unknown, undefinedFunc(name, args)
	}
	if best.ret != nil {
		t, err := best.ret(args, a)
		if err == errNoOverload {
			err = undefinedFunc(name, args)
		}
		if err != nil {
			return nil, Unknown, err
		}
		return best, t, nil
	}
	return best, best.Ret, nil
}

// better reports whether score s beats t: more exact matches, fewer narrowing
// casts, more preferred types (rule 4).
func better(s, t [3]int) bool {
	if s[0] != t[0] {
		return s[0] > t[0]
	}
	if s[1] != t[1] {
		return s[1] < t[1]
	}
	return s[2] > t[2]
}

// match reports whether f takes arguments of types a, with its score (exact
// matches, narrowing casts, casts to preferred types).
func (f *Func) match(a []Type) (score [3]int, ok bool) {
	if f.untyped {
		return score, true
	}
	if f.accept != nil {
		if !f.accept(a) {
			return score, false
		}
		for i, t := range a[:min(len(a), len(f.Args))] {
			if t == f.Args[i] || t.IsDecimal() && f.Args[i].ID == TypeNumeric {
				score[0]++
			}
		}
		return score, true
	}
	lo, hi := len(f.Args)-len(f.Defaults), len(f.Args)
	if f.VariadicAny {
		hi = len(a)
	}
	if len(a) < lo || len(a) > hi {
		return score, false
	}
	for i, t := range a[:min(len(a), len(f.Args))] {
		p := f.Args[i]
		switch {
		case t == p, t.IsDecimal() && p.ID == TypeNumeric: // an exact decimal is a numeric
			score[0]++
		case !implicitCast(t, p):
			return score, false
		case t.IsInteger() && p.IsInteger() && numRank(t) > numRank(p):
			score[1]++
		case p.ID == TypeFloat64 || p.ID == TypeTimestampTZ || p.ID == TypeText:
			score[2]++
		}
	}
	return score, true
}

// implicitCast reports whether a value of type from is passed to a parameter of
// type to without an explicit cast (rule 3). Kernels accept every argument type
// that reaches their parameters this way.
func implicitCast(from, to Type) bool {
	switch {
	case from == to:
		return true
	case from.IsInteger() && to.IsInteger():
		return true
	case from.ID == TypeText && to.ID == TypeText: // character(n) and text
		return true
	case from.IsNumeric() && to.IsNumeric():
		return numRank(from) < numRank(to)
	}
	return false
}

// Overload returns the overload c calls: c.Fn, or for a Call built without it (by
// hand, in tests) the one LookupFunc resolves now.
func (c *Call) Overload() (*Func, error) {
	if c.Fn != nil {
		return c.Fn, nil
	}
	types := make([]Type, len(c.Args))
	for i, a := range c.Args {
		types[i] = a.Type()
	}
	f, _, err := LookupFunc(c.Func, types)
	return f, err
}

// Volatile reports whether c must not be folded at plan time (random(),
// clock_timestamp(), the host functions).
func (c *Call) Volatile() bool {
	f, err := c.Overload()
	return err == nil && f.Volatile()
}

// evalCall evaluates a call through its overload.
func (ev *evaluator) evalCall(c *Call, b *batch) (*vec, error) {
	f, err := c.Overload()
	if err != nil {
		return nil, err
	}
	if f.fast != nil {
		if out, ok, err := f.fast(ev, c, b); ok || err != nil {
			return out, err
		}
	}
	args, err := ev.evalArgs(c.Args, b)
	if err != nil {
		return nil, err
	}
	if out, ok, err := decimalCall(c.Func, args, c.T); ok { // decimal.go: round(price, 1) stays exact
		return out, err
	}
	if !f.untyped {
		// A decimal reaching a numeric or float parameter: its value as a float, since
		// those kernels read floats.
		for i, a := range args {
			if a.t.IsDecimal() && i < len(f.Args) && kindOf(f.Args[i]) == kFloat {
				if args[i], err = castVec(a, f.Args[i]); err != nil {
					return nil, err
				}
			}
		}
	}
	return f.kernel(ev, c, args, b.n)
}

// argTypes are the types of evaluated arguments, for a kernel's 42883 error.
func argTypes(args []*vec) []Type {
	ts := make([]Type, len(args))
	for i, a := range args {
		ts[i] = a.t
	}
	return ts
}

// sig builds a parameter list.
func sig(ts ...Type) []Type { return ts }

// ParamType is the type an untyped argument (a literal or NULL of type Unknown) at
// position i of a call of name takes, as in PostgreSQL: the parameter type at i of
// every overload the other arguments fit, when they all agree; false otherwise
// (the caller then reads it as text).
func ParamType(name string, args []Type, i int) (Type, bool) {
	var t Type
	found := false
	for _, f := range registry[strings.ToLower(name)] {
		if f.untyped || i >= len(f.Args) {
			continue
		}
		trial := make([]Type, len(args))
		for j, a := range args {
			switch {
			case a.ID != TypeUnknown:
				trial[j] = a
			case j < len(f.Args):
				trial[j] = f.Args[j]
			default:
				trial[j] = Text
			}
		}
		if _, ok := f.match(trial); !ok {
			continue
		}
		if found && f.Args[i] != t {
			return Unknown, false
		}
		t, found = f.Args[i], true
	}
	return t, found
}

// FuncOverloads returns the overloads registered under name, in declaration
// order. The caller must not modify them.
func FuncOverloads(name string) []*Func { return registry[strings.ToLower(name)] }
