package engine

import (
	"context"
	"strconv"
	"strings"

	"github.com/stratadb/strata/internal/sqlstate"
)

// Correlated subqueries, as PostgreSQL runs them (a SubPlan): the subquery's plan
// refers to values of the outer row through Params, and is run again for each
// outer row with those values (Options.Params of the inner execution). Each
// evaluator caches the results of the last distinct argument sets it saw, so an
// outer table with few distinct correlation values runs the subquery few times.
// Uncorrelated subqueries never get here: the SQL layer runs them once, before
// the statement (an InitPlan), and puts their results in the plan as constants.

// Param is the value of an outer-query expression inside a correlated subquery's
// plan: Options.Params[Index] of the execution that runs that plan.
type Param struct {
	Index int
	T     Type
}

func (e *Param) Type() Type     { return e.T }
func (e *Param) String() string { return "$outer" + strconv.Itoa(e.Index+1) }

// SubPlanKind is what a SubPlan makes of its subquery's rows.
type SubPlanKind uint8

const (
	// SubPlanScalar is (SELECT x …): NULL for no row, the value for one row, and
	// error 21000 for more.
	SubPlanScalar SubPlanKind = iota
	// SubPlanExists is EXISTS (SELECT …): whether there is a row.
	SubPlanExists
	// SubPlanAny is X IN (SELECT y …) / X op ANY (…) (op is SubPlan.Op, = when
	// empty): true when X op y for some y; else NULL when X or some y is NULL and
	// the set is not empty; else false. With SubPlan.All, X op ALL (…): false when
	// X op y is false for some y; else NULL when some comparison is NULL; else
	// true (also for no rows).
	SubPlanAny
	// SubPlanArray is ARRAY(SELECT x …): the values as an array of x's type, {}
	// for no row.
	SubPlanArray
)

// SubPlan is a correlated subquery in an expression. Plan has one output column
// (any for SubPlanExists) and refers to Param{i}, which is Args[i] evaluated over
// the outer row. X (SubPlanAny only) is the left operand, over the outer row.
// Plan is ready to run: its sources are attached and stay open while the outer
// query runs.
type SubPlan struct {
	Kind SubPlanKind
	Plan Plan
	Args []Expr
	X    Expr
	T    Type
	Op   string // SubPlanAny's comparison operator; "" is =
	All  bool   // SubPlanAny: ALL rather than ANY
}

func (e *SubPlan) Type() Type { return e.T }
func (e *SubPlan) String() string {
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = a.String()
	}
	s := "(subplan(" + strings.Join(args, ", ") + "))"
	switch e.Kind {
	case SubPlanExists:
		return "EXISTS " + s
	case SubPlanAny:
		op, q := e.Op, "ANY"
		if op == "" {
			op = "="
		}
		if e.All {
			q = "ALL"
		}
		return e.X.String() + " " + op + " " + q + " " + s
	case SubPlanArray:
		return "ARRAY" + s
	}
	return s
}

// maxSubPlanRows bounds the rows one run of a SubPlan may collect.
const maxSubPlanRows = 1_000_000

// maxSubPlanCache bounds the argument sets an evaluator remembers per SubPlan.
const maxSubPlanCache = 4096

// subPlanKey identifies one set of argument values.
func subPlanKey(vals []Value) string {
	var b []byte
	for _, v := range vals {
		b = strconv.AppendInt(b, int64(v.Type.ID), 10)
		if v.Null {
			b = append(b, 'N', 0)
			continue
		}
		b = append(b, ':')
		b = appendValueText(b, v)
		b = append(b, 0)
	}
	return string(b)
}

func (ev *evaluator) evalSubPlan(e *SubPlan, b *batch) (*vec, error) {
	if ev.q == nil {
		// EvalConst (constant folding): a SubPlan is never constant.
		return nil, Unsupported("a subquery in a constant expression")
	}
	args := make([]*vec, len(e.Args))
	for i, a := range e.Args {
		v, err := ev.eval(a, b)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	var x *vec
	if e.Kind == SubPlanAny {
		var err error
		if x, err = ev.eval(e.X, b); err != nil {
			return nil, err
		}
	}
	out := newVec(e.T, b.n)
	vals := make([]Value, len(args))
	for r := 0; r < b.n; r++ {
		for i, a := range args {
			vals[i] = a.value(r)
		}
		rows, err := ev.subPlanRows(e, vals)
		if err != nil {
			return nil, err
		}
		var res Value
		switch e.Kind {
		case SubPlanScalar:
			switch len(rows) {
			case 0:
				res = NullValue(e.T)
			case 1:
				res = rows[0]
			default:
				return nil, Errorf(sqlstate.CardinalityViolation, "more than one row returned by a subquery used as an expression")
			}
		case SubPlanExists:
			res = Value{Type: Bool, B: len(rows) > 0}
		case SubPlanAny:
			if res, err = compareSet(e.Op, e.All, x.value(r), rows); err != nil {
				return nil, err
			}
		case SubPlanArray:
			res = Value{Type: e.T, S: FormatArray(rows, ev.now.Location())}
		}
		if res.Type != e.T && !res.Null {
			c, err := castVec(constVec(res, 1), e.T)
			if err != nil {
				return nil, err
			}
			res = c.value(0)
		}
		out.set(r, res)
	}
	return out, nil
}

// compareSet is x op ANY (set), or x op ALL (set) when all, with SQL's NULL
// rules (op "" is =).
func compareSet(op string, all bool, x Value, set []Value) (Value, error) {
	if op == "" {
		op = "="
	}
	// ANY stops at the first true, ALL at the first false; decided is that value.
	decided := !all
	unknown := false
	xv := constVec(x, 1)
	for _, y := range set {
		c, err := compareVec(op, xv, constVec(y, 1))
		if err != nil {
			return Value{}, err
		}
		if c.isNull(0) {
			unknown = true
			continue
		}
		if c.b[0] == decided {
			return Value{Type: Bool, B: decided}, nil
		}
	}
	if unknown {
		return NullValue(Bool), nil
	}
	return Value{Type: Bool, B: !decided}, nil
}

// subPlanRows runs e.Plan with vals as its Params (or finds the rows of an earlier
// run with the same values) and returns its first column.
func (ev *evaluator) subPlanRows(e *SubPlan, vals []Value) ([]Value, error) {
	key := subPlanKey(vals)
	if ev.subCache == nil {
		ev.subCache = make(map[*SubPlan]map[string][]Value)
	}
	cache := ev.subCache[e]
	if rows, ok := cache[key]; ok {
		return rows, nil
	}
	opts := ev.q.opts
	opts.Params = append([]Value(nil), vals...)
	opts.Parallelism = 1
	rows, err := collectFirstColumn(ev.q.ctx, e.Plan, opts)
	if err != nil {
		return nil, err
	}
	if cache == nil || len(cache) >= maxSubPlanCache {
		cache = make(map[string][]Value)
		ev.subCache[e] = cache
	}
	cache[key] = rows
	return rows, nil
}

// collectFirstColumn executes p and returns the values of its first column.
func collectFirstColumn(ctx context.Context, p Plan, opts Options) ([]Value, error) {
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := &query{opts: opts, mem: &memTracker{limit: opts.MemoryLimit, budget: opts.Budget, ctx: qctx}, ctx: qctx, codec: newCodec()}
	defer q.mem.close()
	op, err := q.build(p)
	if err != nil {
		return nil, err
	}
	defer op.close()
	var t Type
	if fs := p.Fields(); len(fs) > 0 {
		t = fs[0].Type
	}
	var out []Value
	for {
		b, err := q.codec.pull(qctx, op)
		if err != nil {
			return nil, err
		}
		if b == nil {
			return out, nil
		}
		if len(b.cols) == 0 {
			for i := 0; i < b.n; i++ {
				out = append(out, NullValue(t))
			}
		} else {
			col := b.cols[0]
			if col.t != t {
				if col, err = castVec(col, t); err != nil {
					return nil, err
				}
			}
			for i := 0; i < b.n; i++ {
				out = append(out, col.value(i))
			}
		}
		if len(out) > maxSubPlanRows {
			return nil, Errorf(sqlstate.ProgramLimitExceeded, "a subquery in an expression returned more than %d rows", maxSubPlanRows)
		}
	}
}
