package sql

import (
	"fmt"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// Set-returning functions in a select list, as catalog queries of drivers use
// them (SQLAlchemy: SELECT unnest(ix.indkey) attnum, generate_subscripts(ix.indkey,
// 1) ord FROM pg_index ix; PgJDBC: (information_schema._pg_expandarray(i.indkey)).n):
// unnest(a), generate_subscripts(a, 1) and the x and n fields of
// information_schema._pg_expandarray(a), over an array (elements of its element
// type) or an int2vector/oidvector catalog column, each a whole select-list item. They become an
// engine.ProjectSet under the projection (PostgreSQL's rules for several of them:
// as many rows as the longest, the others padded with NULL). Not in an
// aggregating query (0A000), nor nested in another expression.

// setFuncOf recognizes a select-list item that is a set-returning function.
func setFuncOf(n *pg.Node) (kind string, arg *pg.Node, ok bool) {
	if ind := n.GetAIndirection(); ind != nil && len(ind.Indirection) == 1 {
		fc := ind.Arg.GetFuncCall()
		field := ind.Indirection[0].GetString_().GetSval()
		if fc != nil && funcName(fc) == "_pg_expandarray" && len(fc.Args) == 1 && (field == "x" || field == "n") {
			return "expand_" + field, fc.Args[0], true
		}
		return "", nil, false
	}
	fc := n.GetFuncCall()
	if fc == nil || fc.Over != nil {
		return "", nil, false
	}
	switch name := funcName(fc); {
	case name == "_pg_expandarray" && len(fc.Args) == 1:
		return "expand", fc.Args[0], true
	case name == "unnest" && len(fc.Args) == 1:
		return "unnest", fc.Args[0], true
	case name == "generate_subscripts" && len(fc.Args) == 2:
		if k := fc.Args[1].GetAConst(); k != nil && k.GetIval() != nil && k.GetIval().Ival == 1 {
			return "subscripts", fc.Args[0], true
		}
	}
	return "", nil, false
}

// setFunctions puts the set-returning items of targets into a ProjectSet over
// input: each such item becomes a reference to the ProjectSet's column for it.
func (b *binder) setFunctions(input engine.Plan, sc *scope, targets []target, aggregating bool) (engine.Plan, []target, error) {
	var funcs []engine.SetFunc
	var fields []engine.Field
	for i, t := range targets {
		kind, argNode, ok := setFuncOf(t.node)
		if !ok {
			continue
		}
		if aggregating {
			return nil, nil, posErr(engine.Unsupported("set-returning functions in an aggregating query"), t.loc)
		}
		arg, err := b.expr(argNode, &exprCtx{scope: sc, clause: "set-returning functions"})
		if err != nil {
			return nil, nil, err
		}
		if arg.Type() == engine.Unknown {
			if arg, err = b.coerce(arg, engine.TextArray); err != nil {
				return nil, nil, err
			}
		}
		if !arg.Type().IsArray() && arg.Type() != engine.Text {
			return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedFunction, "function %s(%s) does not exist", kind, arg.Type()), t.loc)
		}
		// the scope's columns are the plan's (a FROM-less SELECT's one-row input has
		// a column no name refers to)
		for len(sc.cols) < len(input.Fields()) {
			sc.cols = append(sc.cols, column{hidden: true, t: input.Fields()[len(sc.cols)].Type})
		}
		col := fmt.Sprintf("?setfunc%d?", len(funcs))
		funcs = append(funcs, engine.SetFunc{Kind: kind, Arg: arg})
		fields = append(fields, engine.Field{Name: col, Type: engine.SetFuncType(kind, arg.Type())})
		sc.cols = append(sc.cols, column{name: col, t: fields[len(fields)-1].Type})
		targets[i].node = &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: []*pg.Node{pg.MakeStrNode(col)}, Location: t.loc}}}
	}
	if funcs == nil {
		return input, targets, nil
	}
	out := append(append([]engine.Field(nil), input.Fields()...), fields...)
	return &engine.ProjectSet{Input: input, Funcs: funcs, Out: out}, targets, nil
}
