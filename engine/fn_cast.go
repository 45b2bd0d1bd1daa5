package engine

import "sync"

// Cast functions: the pg_proc functions PostgreSQL's pg_cast names for the casts
// between strata's types (int8(integer), float8(numeric), timestamptz(date), ...),
// each a call of castVec, so that int8(x) works as in PostgreSQL and psql's \dC
// lists what strata casts (sql's pg_cast is generated from Casts). Left out:
// casts of oid and name (an oid is a bigint and a name is text here) and the
// length coercions (numeric(numeric, integer), ...): strata keeps no type
// modifiers.

// CastInfo is one pg_cast row.
type CastInfo struct {
	Source, Target int64 // pg_type oids
	// Func is the cast function (nil for a binary-coercible cast, castmethod 'b').
	Func *Func
	// Context is castcontext: 'i' implicit, 'a' in assignment, 'e' explicit only.
	Context byte
}

// castRows are PostgreSQL 15's pg_cast rows between strata's types: source,
// target, the function's name (its argument is the source type) or "" for a
// binary-coercible cast, castcontext.
var castRows = []struct {
	src, dst string
	fn       string
	ctx      byte
}{
	{"bool", "int4", "int4", 'e'}, {"bool", "text", "text", 'a'}, {"bool", "varchar", "text", 'a'},
	{"date", "timestamp", "timestamp", 'i'}, {"date", "timestamptz", "timestamptz", 'i'},
	{"float4", "float8", "float8", 'i'}, {"float4", "int2", "int2", 'a'}, {"float4", "int4", "int4", 'a'},
	{"float4", "int8", "int8", 'a'}, {"float4", "numeric", "numeric", 'a'},
	{"float8", "float4", "float4", 'a'}, {"float8", "int2", "int2", 'a'}, {"float8", "int4", "int4", 'a'},
	{"float8", "int8", "int8", 'a'}, {"float8", "numeric", "numeric", 'a'},
	{"int2", "float4", "float4", 'i'}, {"int2", "float8", "float8", 'i'}, {"int2", "int4", "int4", 'i'},
	{"int2", "int8", "int8", 'i'}, {"int2", "numeric", "numeric", 'i'},
	{"int4", "bool", "bool", 'e'}, {"int4", "float4", "float4", 'i'}, {"int4", "float8", "float8", 'i'},
	{"int4", "int2", "int2", 'a'}, {"int4", "int8", "int8", 'i'}, {"int4", "numeric", "numeric", 'i'},
	{"int8", "float4", "float4", 'i'}, {"int8", "float8", "float8", 'i'}, {"int8", "int2", "int2", 'a'},
	{"int8", "int4", "int4", 'a'}, {"int8", "numeric", "numeric", 'i'},
	{"numeric", "float4", "float4", 'i'}, {"numeric", "float8", "float8", 'i'}, {"numeric", "int2", "int2", 'a'},
	{"numeric", "int4", "int4", 'a'}, {"numeric", "int8", "int8", 'a'},
	{"text", "varchar", "", 'i'},
	{"timestamp", "date", "date", 'a'}, {"timestamp", "timestamptz", "timestamptz", 'i'},
	{"timestamptz", "date", "date", 'a'}, {"timestamptz", "timestamp", "timestamp", 'a'},
	{"varchar", "text", "", 'i'},
}

func init() {
	kernel := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		return castVec(args[0], c.T)
	}
	seen := map[string]bool{}
	for _, r := range castRows {
		if r.fn == "" || seen[r.fn+"/"+r.src] {
			continue
		}
		seen[r.fn+"/"+r.src] = true
		src, _ := TypeByName(r.src)
		dst, _ := TypeByName(r.fn)
		register(&Func{Name: r.fn, Args: sig(src), Ret: dst, Strict: true, Vol: castVolatility(src, dst), kernel: kernel})
	}
}

// castVolatility: PostgreSQL's timestamp/timestamptz/date conversions depend on
// the session's time zone (stable); the others are immutable.
func castVolatility(src, dst Type) Volatility {
	zoned := func(t Type) bool { return t == TimestampTZ }
	if zoned(src) != zoned(dst) && (src.ID == TypeTimestamp || dst.ID == TypeTimestamp || src.ID == TypeDate || dst.ID == TypeDate) {
		return Stable
	}
	return Immutable
}

// Casts returns pg_cast's rows.
var Casts = sync.OnceValue(func() []CastInfo {
	numberFuncs()
	oid := func(name string) int64 {
		if t, ok := TypeByName(name); ok && name != "varchar" {
			return int64(t.OID())
		}
		return 1043 // varchar: text in strata, its own type in pg_type
	}
	var out []CastInfo
	for _, r := range castRows {
		ci := CastInfo{Source: oid(r.src), Target: oid(r.dst), Context: r.ctx}
		if r.fn != "" {
			src, _ := TypeByName(r.src)
			for _, f := range registry[r.fn] {
				if len(f.Args) == 1 && f.Args[0] == src {
					ci.Func = f
				}
			}
			if ci.Func == nil {
				panic("BUG: no cast function " + r.fn + "(" + r.src + ")")
			}
		}
		out = append(out, ci)
	}
	return out
})
