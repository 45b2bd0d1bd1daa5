package opt

import (
	"sort"

	"github.com/stratadb/strata/engine"
)

// PruneColumns narrows every Scan to the table columns the plan above it reads, and
// drops projected expressions nobody reads (except at the root, whose row is the
// query's result). Column references above a changed node are renumbered.
type PruneColumns struct{}

func (PruneColumns) Name() string { return "prune_columns" }

func (PruneColumns) Apply(p engine.Plan, _ *Context) (engine.Plan, error) {
	need := make([]bool, len(p.Fields()))
	for i := range need {
		need[i] = true
	}
	np, _ := prune(p, need, true)
	return np, nil
}

// prune returns p rewritten to produce at least the needed output columns, and the map
// from old output positions to new ones (-1: dropped).
func prune(p engine.Plan, need []bool, root bool) (engine.Plan, []int) {
	switch x := p.(type) {
	case *engine.Scan:
		used := map[int]bool{}
		for i, n := range need {
			if n {
				used[x.Columns[i]] = true
			}
		}
		if len(used) == 0 {
			// Nothing is read (count(*)): keep the time column so batches still carry
			// their row count.
			used[x.Schema.TimeColumn] = true
		}
		c := *x
		c.Columns = nil
		c.Out = nil
		remap := make([]int, len(x.Columns))
		for i, col := range x.Columns {
			remap[i] = -1
			if used[col] {
				remap[i] = len(c.Columns)
				c.Columns = append(c.Columns, col)
				c.Out = append(c.Out, x.Out[i])
			}
		}
		return &c, remap
	case *engine.Project:
		keep := make([]int, 0, len(x.Exprs))
		remap := make([]int, len(x.Exprs))
		for i := range x.Exprs {
			remap[i] = -1
			if root || need[i] {
				remap[i] = len(keep)
				keep = append(keep, i)
			}
		}
		if len(keep) == 0 && len(x.Exprs) > 0 {
			// Keep one expression so the node still has rows to count.
			keep = append(keep, 0)
			remap[0] = 0
		}
		childNeed := make([]bool, len(x.Input.Fields()))
		used := map[int]bool{}
		for _, i := range keep {
			ColumnsUsed(x.Exprs[i], used)
		}
		mark(childNeed, used)
		in, m := prune(x.Input, childNeed, false)
		c := &engine.Project{Input: in}
		for _, i := range keep {
			c.Exprs = append(c.Exprs, RemapColumns(x.Exprs[i], at(m)))
			c.Names = append(c.Names, x.Names[i])
		}
		return c, remap
	case *engine.Filter:
		used := trues(need)
		ColumnsUsed(x.Cond, used)
		childNeed := make([]bool, len(need))
		mark(childNeed, used)
		in, m := prune(x.Input, childNeed, false)
		return &engine.Filter{Input: in, Cond: RemapColumns(x.Cond, at(m))}, m
	case *engine.Sort:
		used := trues(need)
		for _, k := range x.Keys {
			ColumnsUsed(k.Expr, used)
		}
		childNeed := make([]bool, len(need))
		mark(childNeed, used)
		in, m := prune(x.Input, childNeed, false)
		c := &engine.Sort{Input: in, Keys: make([]engine.SortKey, len(x.Keys))}
		for i, k := range x.Keys {
			k.Expr = RemapColumns(k.Expr, at(m))
			c.Keys[i] = k
		}
		return c, m
	case *engine.Limit:
		in, m := prune(x.Input, need, false)
		c := *x
		c.Input = in
		return &c, m
	case *engine.Distinct:
		// Every column takes part in the duplicate test.
		all := make([]bool, len(need))
		for i := range all {
			all[i] = true
		}
		in, m := prune(x.Input, all, false)
		return &engine.Distinct{Input: in}, m
	case *engine.Aggregate:
		used := map[int]bool{}
		for _, g := range x.Groups {
			ColumnsUsed(g, used)
		}
		for _, a := range x.Aggs {
			for _, e := range a.Args {
				ColumnsUsed(e, used)
			}
			ColumnsUsed(a.Filter, used)
		}
		childNeed := make([]bool, len(x.Input.Fields()))
		mark(childNeed, used)
		in, m := prune(x.Input, childNeed, false)
		c := *x
		c.Input = in
		c.Groups = make([]engine.Expr, len(x.Groups))
		for i, g := range x.Groups {
			c.Groups[i] = RemapColumns(g, at(m))
		}
		c.Aggs = make([]engine.AggCall, len(x.Aggs))
		for i, a := range x.Aggs {
			na := a
			na.Args = make([]engine.Expr, len(a.Args))
			for j, e := range a.Args {
				na.Args[j] = RemapColumns(e, at(m))
			}
			if a.Filter != nil {
				na.Filter = RemapColumns(a.Filter, at(m))
			}
			c.Aggs[i] = na
		}
		return &c, identity(len(need))
	case *engine.Window:
		// The output is the input's row followed by one column per function; every
		// function is kept, and reads its own columns.
		width := len(x.Input.Fields())
		used := map[int]bool{}
		for i := 0; i < width; i++ {
			if need[i] {
				used[i] = true
			}
		}
		for _, f := range x.Funcs {
			for _, e := range windowExprs(f) {
				ColumnsUsed(e, used)
			}
		}
		childNeed := make([]bool, width)
		mark(childNeed, used)
		in, m := prune(x.Input, childNeed, false)
		c := &engine.Window{Input: in, Funcs: make([]engine.WindowFunc, len(x.Funcs))}
		re := func(e engine.Expr) engine.Expr { return RemapColumns(e, at(m)) }
		for i, f := range x.Funcs {
			nf := f
			nf.Args = make([]engine.Expr, len(f.Args))
			for j, e := range f.Args {
				nf.Args[j] = re(e)
			}
			nf.Partition = make([]engine.Expr, len(f.Partition))
			for j, e := range f.Partition {
				nf.Partition[j] = re(e)
			}
			nf.Order = make([]engine.SortKey, len(f.Order))
			for j, k := range f.Order {
				k.Expr = re(k.Expr)
				nf.Order[j] = k
			}
			nf.Filter = re(f.Filter)
			nf.Frame.Start.Offset = re(f.Frame.Start.Offset)
			nf.Frame.End.Offset = re(f.Frame.End.Offset)
			c.Funcs[i] = nf
		}
		newWidth := len(in.Fields())
		remap := make([]int, len(need))
		for i := range remap {
			if i < width {
				remap[i] = m[i]
			} else {
				remap[i] = newWidth + i - width
			}
		}
		return c, remap
	case *engine.Union:
		// Every input keeps its whole row (the inputs' layouts must stay equal);
		// what is pruned is below each input's own projection.
		c := &engine.Union{Inputs: make([]engine.Plan, len(x.Inputs))}
		for i, in := range x.Inputs {
			all := make([]bool, len(in.Fields()))
			for j := range all {
				all[j] = true
			}
			np, m := prune(in, all, false)
			for j, k := range m {
				if k != j {
					return p, identity(len(need))
				}
			}
			c.Inputs[i] = np
		}
		return c, identity(len(need))
	}
	return p, identity(len(need))
}

// windowExprs are the expressions of window function f.
func windowExprs(f engine.WindowFunc) []engine.Expr {
	out := append([]engine.Expr{f.Filter, f.Frame.Start.Offset, f.Frame.End.Offset}, f.Args...)
	out = append(out, f.Partition...)
	for _, k := range f.Order {
		out = append(out, k.Expr)
	}
	return out
}

func at(m []int) func(int) int {
	return func(i int) int {
		if m[i] < 0 {
			panic("BUG: prune_columns dropped a column that is still read")
		}
		return m[i]
	}
}

func trues(need []bool) map[int]bool {
	used := map[int]bool{}
	for i, n := range need {
		if n {
			used[i] = true
		}
	}
	return used
}

func mark(dst []bool, used map[int]bool) {
	idx := make([]int, 0, len(used))
	for i := range used {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		if i < len(dst) {
			dst[i] = true
		}
	}
}

func identity(n int) []int {
	m := make([]int, n)
	for i := range m {
		m[i] = i
	}
	return m
}
