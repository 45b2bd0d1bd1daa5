package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/rollup"
)

// Rollup tables (CREATE TABLE ... WITH (rollup = '10 seconds'), package
// storage/rollup) store one row per time bucket and dimension values, with sums,
// counts, minima and maxima of the metric columns in hidden columns. Queries see the
// declared columns only, and the aggregates that rollup keeps are rewritten to read
// the hidden columns, so they answer exactly as over the raw rows:
//
//	count(*)  → sum(__rows)          count(m) → sum(__count__m)
//	sum(m)    → sum(m)               avg(m)   → sum(m) / sum(__count__m)
//	min(m)    → min(__min__m)        max(m)   → max(__max__m)
//
// A non-aggregating SELECT returns the stored rows, as Druid does: one per bucket
// and dimension values, a metric column showing its sum. A metric column anywhere
// else (WHERE, GROUP BY, an expression inside an aggregate, another aggregate) is
// an error, as is aggregating a subquery that returns a rollup table's rows: both
// would silently read rolled-up rows as raw ones. Dimensions and time work as in
// any table (time at the bucket's resolution).

// markRollup hides a rollup table's hidden columns in its scope and records its spec.
func markRollup(sc *scope, def catalog.TableDef) error {
	spec, err := rollup.Of(def)
	if err != nil || spec == nil {
		return err
	}
	sc.rollup, sc.rollupTable = spec, def.Name
	for i := range sc.cols {
		sc.cols[i].hidden = rollup.IsHidden(def.Schema.Columns[i].Name)
	}
	return nil
}

// rollupColumnUse refuses a metric column of a rollup table outside the aggregates
// rollupAgg rewrites and the select list and ORDER BY of a non-aggregating query.
func rollupColumnUse(c *exprCtx, idx int, loc int32) error {
	sc := c.scope
	if sc.rollup == nil || (c.agg == nil && c.clause == "") {
		return nil
	}
	if _, ok := sc.rollup.MetricOf(idx); !ok {
		return nil
	}
	return posErr(engine.Errorf(sqlstate.FeatureNotSupported,
		"column %q of rollup table %q holds rolled-up values: use it as the argument of count, sum, min, max or avg",
		sc.cols[idx].name, sc.rollupTable), loc)
}

// rollupAgg rewrites an aggregate over a rollup table; ok is false when fc is not
// one rollup rewrites (it is then bound as usual).
func (b *binder) rollupAgg(fc *pg.FuncCall, a *aggCtx) (engine.Expr, bool, error) {
	sc := a.input
	if sc.rolled != "" {
		return nil, true, posErr(engine.Errorf(sqlstate.FeatureNotSupported,
			"aggregates over a subquery that returns rows of rollup table %q would count rolled-up rows: aggregate the table directly", sc.rolled), fc.Location)
	}
	if sc.rollup == nil {
		return nil, false, nil
	}
	name := funcName(fc)
	spec := sc.rollup
	col := func(i int) engine.Expr {
		return &engine.ColRef{Index: i, T: columnType(spec.Physical.Columns[i]), Name: spec.Physical.Columns[i].Name}
	}
	call := func(fn string, arg engine.Expr) (engine.Expr, error) {
		t, err := engine.ResolveAgg(fn, []engine.Type{arg.Type()}, false)
		if err != nil {
			return nil, err
		}
		c := engine.AggCall{Func: fn, Args: []engine.Expr{arg}, T: t}
		if fc.AggFilter != nil {
			f, err := b.expr(fc.AggFilter, &exprCtx{scope: sc, clause: "aggregate function calls"})
			if err != nil {
				return nil, err
			}
			if c.Filter, err = b.coerce(f, engine.Bool); err != nil {
				return nil, err
			}
		}
		return a.add(c, name), nil
	}
	asBigint := func(e engine.Expr, err error) (engine.Expr, bool, error) {
		if err != nil {
			return nil, true, err
		}
		return &engine.Cast{X: e, T: engine.Int64}, true, nil
	}
	if fc.AggStar {
		if name != "count" {
			return nil, false, nil
		}
		return asBigint(call("sum", col(spec.Rows)))
	}
	if len(fc.Args) != 1 || fc.AggDistinct || fc.AggWithinGroup || len(fc.AggOrder) > 0 {
		return nil, false, nil
	}
	cr := fc.Args[0].GetColumnRef()
	if cr == nil {
		return nil, false, nil
	}
	qual, cname := "", ""
	switch len(cr.Fields) {
	case 1:
		cname = cr.Fields[0].GetString_().GetSval()
	case 2:
		qual, cname = cr.Fields[0].GetString_().GetSval(), cr.Fields[1].GetString_().GetSval()
	default:
		return nil, false, nil
	}
	idx, err := sc.find(qual, cname)
	if err != nil {
		return nil, false, nil
	}
	m, ok := spec.MetricOf(idx)
	if !ok {
		return nil, false, nil
	}
	switch name {
	case "count":
		return asBigint(call("sum", col(m.Count)))
	case "sum":
		e, err := call("sum", col(m.Col))
		return e, true, err
	case "min":
		e, err := call("min", col(m.Min))
		return e, true, err
	case "max":
		e, err := call("max", col(m.Max))
		return e, true, err
	case "avg":
		t, err := engine.ResolveAgg("avg", []engine.Type{col(m.Col).Type()}, false)
		if err != nil {
			return nil, true, err
		}
		sum, err := call("sum", col(m.Col))
		if err != nil {
			return nil, true, err
		}
		n, err := call("sum", col(m.Count))
		if err != nil {
			return nil, true, err
		}
		// nullif: a group whose values are all NULL has count 0 and sum NULL.
		if t.ID == engine.TypeNumeric && sum.Type().IsNumeric() && sum.Type().ID != engine.TypeFloat64 && sum.Type().ID != engine.TypeFloat32 {
			// avg of integers and decimals: sum / count exactly, at PostgreSQL's scale.
			zero := &engine.Const{V: engine.Value{Type: engine.Int64, I: 0}}
			return engine.MustCall("/", sum, engine.MustCall("nullif", n, zero)), true, nil
		}
		den := engine.MustCall("nullif", &engine.Cast{X: n, T: engine.Float64}, &engine.Const{V: engine.Value{Type: engine.Float64, F: 0}})
		div := engine.MustCall("/", &engine.Cast{X: sum, T: engine.Float64}, den)
		return &engine.Cast{X: div, T: t}, true, nil
	}
	return nil, true, posErr(engine.Errorf(sqlstate.FeatureNotSupported,
		"%s(%s) is not available on rollup table %q: rollup keeps count, sum, min, max and avg", name, cname, sc.rollupTable), fc.Location)
}
