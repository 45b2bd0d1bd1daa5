package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

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

// seriesTarget rewrites a select list holding one generate_series(…) call
// (SELECT generate_series(a, b[, step]) [AS x] [FROM t]) into the same select
// over generate_series in FROM, which PostgreSQL's ProjectSet computes alike:
// one output row per series value (and per row of t). Only a call at the top of
// a select item whose arguments refer to no column is rewritten; anything else
// is left for the binder, which refuses it.
func seriesTarget(s *pg.SelectStmt) *pg.SelectStmt {
	k := -1
	for i, tn := range s.TargetList {
		fc := tn.GetResTarget().GetVal().GetFuncCall()
		if fc == nil || funcName(fc) != "generate_series" || fc.Over != nil {
			continue
		}
		if k >= 0 {
			return s // several: PostgreSQL zips them
		}
		for _, a := range fc.Args {
			if refersToColumn(a) {
				return s
			}
		}
		k = i
	}
	if k < 0 || len(s.GroupClause) > 0 || s.HavingClause != nil {
		return s
	}
	out := proto.Clone(s).(*pg.SelectStmt)
	rt := out.TargetList[k].GetResTarget()
	fc := rt.Val.GetFuncCall()
	name := rt.Name
	if name == "" {
		name = "generate_series"
	}
	const alias = "strata_series_target"
	out.FromClause = append(out.FromClause, &pg.Node{Node: &pg.Node_RangeFunction{RangeFunction: &pg.RangeFunction{
		Functions: []*pg.Node{pg.MakeListNode([]*pg.Node{{Node: &pg.Node_FuncCall{FuncCall: fc}}})},
		Alias:     &pg.Alias{Aliasname: alias, Colnames: []*pg.Node{pg.MakeStrNode(name)}},
	}}})
	rt.Name = name
	rt.Val = &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{
		Fields: []*pg.Node{pg.MakeStrNode(alias), pg.MakeStrNode(name)}, Location: fc.Location}}}
	return out
}

// refersToColumn reports whether n holds a column reference.
func refersToColumn(n *pg.Node) bool {
	found := false
	var walk func(m proto.Message)
	walk = func(m proto.Message) {
		if found || m == nil {
			return
		}
		if _, ok := m.(*pg.ColumnRef); ok {
			found = true
			return
		}
		m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := 0; i < v.List().Len(); i++ {
					walk(v.List().Get(i).Message().Interface())
				}
			case fd.Message() != nil && !fd.IsMap():
				walk(v.Message().Interface())
			}
			return !found
		})
	}
	walk(n)
	return found
}
