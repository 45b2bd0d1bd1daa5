package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// namedArgs puts the arguments of a call written with named notation
// (make_interval(days => 3), mixed: f(1, b => 2)) in parameter order, by the
// parameter names of name's overloads (pg_proc.proargnames), and fills the
// parameters left out before the last one given with their defaults; a call
// without names is returned as it is.
func (b *binder) namedArgs(name string, nodes []*pg.Node, loc int32) ([]*pg.Node, error) {
	named := false
	for _, n := range nodes {
		if n.GetNamedArgExpr() != nil {
			named = true
		}
	}
	if !named {
		return nodes, nil
	}
	for _, f := range engine.FuncOverloads(name) {
		if len(f.ArgNames) == 0 {
			continue
		}
		out := make([]*pg.Node, len(f.ArgNames))
		ok, last := true, -1
		for i, n := range nodes {
			k := i
			arg := n
			if na := n.GetNamedArgExpr(); na != nil {
				k = -1
				for j, an := range f.ArgNames {
					if an == na.Name {
						k = j
					}
				}
				arg = na.Arg
			}
			if k < 0 || k >= len(out) || out[k] != nil {
				ok = false
				break
			}
			out[k] = arg
			last = max(last, k)
		}
		if !ok {
			continue
		}
		out = out[:last+1]
		firstDefault := len(f.Args) - len(f.Defaults)
		for k, n := range out {
			if n == nil {
				if k < firstDefault {
					ok = false
					break
				}
				out[k] = pg.MakeAConstStrNode(f.Defaults[k-firstDefault], loc)
			}
		}
		if ok {
			return out, nil
		}
	}
	return nil, posErr(engine.Errorf(sqlstate.UndefinedFunction, "function %s with these named arguments does not exist", name), loc)
}
