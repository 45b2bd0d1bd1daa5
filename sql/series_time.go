package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// timeSeries binds generate_series(start, stop, step) over timestamps: when a
// bound is a timestamp, timestamptz or date, or the step an interval, it returns
// the Series of timestamps (timestamptz unless a bound is a timestamp without
// zone, as PostgreSQL's preference for timestamptz picks); nil when the call is
// over numbers.
func (b *binder) timeSeries(fc *pg.FuncCall, c *exprCtx, colName string) (*engine.Series, error) {
	if len(fc.Args) != 3 {
		return nil, nil
	}
	args := make([]engine.Expr, 3)
	isTime := false
	t := engine.TimestampTZ
	for i, n := range fc.Args {
		e, err := b.expr(n, c)
		if err != nil {
			return nil, err
		}
		args[i] = e
		switch et := e.Type(); {
		case i < 2 && (et.IsTime() || et == engine.Date):
			isTime = true
			if et == engine.Timestamp {
				t = engine.Timestamp
			}
		case i == 2 && et == engine.Interval:
			isTime = true
		}
	}
	if !isTime {
		return nil, nil
	}
	for i, want := range []engine.Type{t, t, engine.Interval} {
		et := args[i].Type()
		if et != want && et != engine.Unknown && !(i < 2 && (et.IsTime() || et == engine.Date)) {
			return nil, posErr(engine.Errorf(sqlstate.UndefinedFunction, "function generate_series(%s, %s, %s) does not exist",
				args[0].Type(), args[1].Type(), args[2].Type()), fc.Location)
		}
		e, err := b.coerce(args[i], want)
		if err != nil {
			return nil, err
		}
		args[i] = e
	}
	return &engine.Series{Start: args[0], Stop: args[1], Step: args[2],
		Out: []engine.Field{{Name: colName, Type: t}}}, nil
}
