package engine

import (
	"math"
	"strconv"

	"github.com/stratadb/strata/storage"
)

// This file is the contract between the SQL layer and the engine: the SQL layer
// builds a tree of these declarative nodes (bound, typed, optimized) and hands it to
// Execute. Nothing here refers to SQL syntax; nothing in the engine refers to pg_query.

// Expr is a bound, typed scalar expression. Column references are positions in the
// input row of the plan node that owns the expression.
type Expr interface {
	Type() Type
	String() string
}

// ColRef reads column Index of the input.
type ColRef struct {
	Index int
	T     Type
	Name  string // for EXPLAIN only
}

// Const is a literal or folded constant.
type Const struct{ V Value }

// Call is a scalar function or operator. Func is lower case: an operator symbol
// ("+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=", "||", "not", "neg") or a
// function name ("date_trunc", "extract", "floor", "round", "to_timestamp",
// "coalesce", "nullif", "abs", "lower", "upper", "length", ...). Fn is the overload
// the binder resolved (NewCall, fn.go) and T its result type for the argument
// types; a Call built without Fn is resolved when evaluated.
type Call struct {
	Func string
	Args []Expr
	T    Type
	Fn   *Func
}

// Cast converts X to T with PostgreSQL's rules ('12'::int, ts::date, 1::float8 ...).
type Cast struct {
	X Expr
	T Type
}

// BoolOp is AND / OR over two or more boolean args, with SQL three-valued logic.
type BoolOp struct {
	Op   BoolOpKind
	Args []Expr
}

type BoolOpKind uint8

const (
	And BoolOpKind = iota
	Or
)

// Case is a searched CASE (a simple CASE is bound into this form).
type Case struct {
	Whens []When
	Else  Expr // nil means NULL
	T     Type
}

type When struct {
	Cond, Then Expr
}

// IsNull is X IS NULL, or X IS NOT NULL when Negated.
type IsNull struct {
	X       Expr
	Negated bool
}

// InList is X IN (List...), or NOT IN when Negated; SQL NULL rules apply.
type InList struct {
	X       Expr
	List    []Expr
	Negated bool
}

// Like is X LIKE Pattern (ILIKE when CaseInsensitive; NOT when Negated), with '\'
// as the escape character as in PostgreSQL.
type Like struct {
	X, Pattern      Expr
	CaseInsensitive bool
	Negated         bool
}

func (e *ColRef) Type() Type { return e.T }
func (e *Const) Type() Type  { return e.V.Type }
func (e *Call) Type() Type   { return e.T }
func (e *Cast) Type() Type   { return e.T }
func (e *BoolOp) Type() Type { return Bool }
func (e *Case) Type() Type   { return e.T }
func (e *IsNull) Type() Type { return Bool }
func (e *InList) Type() Type { return Bool }
func (e *Like) Type() Type   { return Bool }

// AggCall is one aggregate: count, sum, min, max, avg (and more as the engine grows).
// Args is empty for count(*). Filter, when not nil, is the FILTER (WHERE ...) clause,
// evaluated against the aggregate's input row.
type AggCall struct {
	Func     string
	Args     []Expr
	Distinct bool
	Filter   Expr
	T        Type // what ResolveAgg returned
	// Order sorts the values string_agg concatenates: 1 ascending, -1 descending,
	// 0 unspecified. (percentile_cont/_disc always order their values.)
	Order int
}

// Plan is a node of a physical query plan. Fields is the node's output row.
type Plan interface {
	Fields() []Field
	Children() []Plan
}

// Unbounded time range ends for Scan.
const (
	MinTime = math.MinInt64
	MaxTime = math.MaxInt64
)

// Scan reads a table's sources. It outputs the table columns listed in Columns, in that
// order. Rows outside [TimeMin, TimeMax] (µs, inclusive) and rows where Filter is not
// true are dropped by the scan itself: whole sources are pruned by time and column
// statistics, conjuncts on string columns are answered from bitmap indexes, the rest
// is evaluated vectorized. Filter's ColRefs index the TABLE schema (not Columns), so
// a filter may use columns that are not output.
type Scan struct {
	Table   string
	Schema  *storage.Schema
	Sources []storage.Source // the snapshot being read; owned by the caller of Execute
	Columns []int
	TimeMin int64
	TimeMax int64
	Filter  Expr // nil: no filter
	Out     []Field
	// AsOf, when set, reads the table's Delta Lake history instead of its current
	// data (VERSION AS OF / TIMESTAMP AS OF): the SQL layer takes the snapshot.
	AsOf *AsOf
}

// AsOf selects an older version of a table's lake: Version when HasVersion, else
// the newest version committed at or before Time (µs since the epoch, UTC).
type AsOf struct {
	HasVersion bool
	Version    int64
	Time       int64
}

// String renders a for EXPLAIN: "version 3" or "2026-11-20 12:00:00+00".
func (a *AsOf) String() string {
	if a.HasVersion {
		return "version " + strconv.FormatInt(a.Version, 10)
	}
	return string(appendTimestamp(nil, a.Time, true))
}

// Filter keeps rows where Cond is true.
type Filter struct {
	Input Plan
	Cond  Expr
}

// Project computes Exprs over each input row; Names label the output.
type Project struct {
	Input Plan
	Exprs []Expr
	Names []string
}

// Aggregate groups by Groups and computes Aggs; output is the group values followed by
// the aggregate values. With no Groups it outputs exactly one row, even on empty input.
type Aggregate struct {
	Input  Plan
	Groups []Expr
	Aggs   []AggCall
	Out    []Field
}

// SortKey orders by Expr; NullsFirst follows PostgreSQL's default (NULLS LAST for ASC,
// NULLS FIRST for DESC) unless the query said otherwise.
type SortKey struct {
	Expr       Expr
	Desc       bool
	NullsFirst bool
}

// Sort orders its input. The sort is stable.
type Sort struct {
	Input Plan
	Keys  []SortKey
}

// Limit skips Offset rows, then passes at most Count rows (Count < 0: no limit).
// A Limit directly over a Sort runs as a top-N.
type Limit struct {
	Input  Plan
	Count  int64
	Offset int64
}

// Distinct removes duplicate rows (NULLs compare equal, as in SELECT DISTINCT).
type Distinct struct {
	Input Plan
}

// Values produces constant rows (SELECT without FROM, VALUES lists). Each row has one
// Expr per field; the exprs have no column references.
type Values struct {
	Rows [][]Expr
	Out  []Field
}

func (p *Scan) Fields() []Field      { return p.Out }
func (p *Filter) Fields() []Field    { return p.Input.Fields() }
func (p *Aggregate) Fields() []Field { return p.Out }
func (p *Sort) Fields() []Field      { return p.Input.Fields() }
func (p *Limit) Fields() []Field     { return p.Input.Fields() }
func (p *Distinct) Fields() []Field  { return p.Input.Fields() }
func (p *Values) Fields() []Field    { return p.Out }
func (p *Project) Fields() []Field {
	out := make([]Field, len(p.Exprs))
	for i, e := range p.Exprs {
		out[i] = Field{Name: p.Names[i], Type: e.Type()}
	}
	return out
}

func (p *Scan) Children() []Plan      { return nil }
func (p *Values) Children() []Plan    { return nil }
func (p *Filter) Children() []Plan    { return []Plan{p.Input} }
func (p *Project) Children() []Plan   { return []Plan{p.Input} }
func (p *Aggregate) Children() []Plan { return []Plan{p.Input} }
func (p *Sort) Children() []Plan      { return []Plan{p.Input} }
func (p *Limit) Children() []Plan     { return []Plan{p.Input} }
func (p *Distinct) Children() []Plan  { return []Plan{p.Input} }
