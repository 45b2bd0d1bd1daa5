package sql

import (
	"slices"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// GROUP BY with grouping sets (ROLLUP, CUBE, GROUPING SETS, and any mix of them
// with plain keys) is planned as one Aggregate per grouping set over the same
// input, each projected to the layout of one aggregate over every key (the keys
// its set leaves out are NULL), the branches combined by a UNION ALL. A hidden
// last key column holds the branch's set number, from which GROUPING(...) is a
// CASE of per-set constants.

// maxGroupingSets is PostgreSQL's limit.
const maxGroupingSets = 4096

// setIDKey is the group key of the hidden set-number column: no bound expression
// has it, so nothing in the select list matches it.
const setIDKey = "\x00grouping set"

// hasGroupingSets reports whether a GROUP BY clause uses grouping sets.
func hasGroupingSets(items []*pg.Node) bool {
	for _, g := range items {
		if g.GetGroupingSet() != nil || implicitRow(g) != nil {
			return true
		}
	}
	return false
}

// implicitRow returns the elements of a parenthesized list (a, b) in GROUP BY,
// which PostgreSQL reads as a set of keys rather than a row value.
func implicitRow(n *pg.Node) []*pg.Node {
	if r := n.GetRowExpr(); r != nil && r.RowFormat == pg.CoercionForm_COERCE_IMPLICIT_CAST {
		return r.Args
	}
	return nil
}

// groupKeyIndex binds one key expression and returns its index in agg.groups,
// adding it when new.
func (b *binder) groupKeyIndex(g *pg.Node, sc *scope, targets []target, agg *aggCtx) (int, error) {
	e, err := b.groupKey(g, sc, targets)
	if err != nil {
		return 0, err
	}
	if e.Type() == engine.Unknown {
		if e, err = b.coerce(e, engine.Text); err != nil {
			return 0, err
		}
	}
	k := exprKey(e)
	for i, gk := range agg.groupKeys {
		if gk == k {
			return i, nil
		}
	}
	agg.groups = append(agg.groups, e)
	agg.groupKeys = append(agg.groupKeys, k)
	return len(agg.groups) - 1, nil
}

// union of two key sets, in order, without repeats.
func unionKeys(a, b []int) []int {
	out := append([]int(nil), a...)
	for _, k := range b {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func tooManySets(loc int32) error {
	return posErr(engine.Errorf(sqlstate.StatementTooComplex, "too many grouping sets present (maximum %d)", maxGroupingSets), loc)
}

// expandGroupingItem returns the grouping sets one GROUP BY item (or one element of
// a grouping-set construct) stands for; each set is a list of key indices.
func (b *binder) expandGroupingItem(n *pg.Node, sc *scope, targets []target, agg *aggCtx) ([][]int, error) {
	gs := n.GetGroupingSet()
	if row := implicitRow(n); row != nil {
		gs = &pg.GroupingSet{Kind: pg.GroupingSetKind_GROUPING_SET_SIMPLE, Content: row, Location: n.GetRowExpr().Location}
		n = &pg.Node{Node: &pg.Node_GroupingSet{GroupingSet: gs}}
	}
	if gs == nil {
		k, err := b.groupKeyIndex(n, sc, targets, agg)
		if err != nil {
			return nil, err
		}
		return [][]int{{k}}, nil
	}
	// simple binds a parenthesized list (or a single expression) into one set.
	simple := func(n *pg.Node) ([]int, error) {
		s := n.GetGroupingSet()
		if row := implicitRow(n); row != nil {
			s = &pg.GroupingSet{Kind: pg.GroupingSetKind_GROUPING_SET_SIMPLE, Content: row}
		}
		if s != nil {
			if s.Kind != pg.GroupingSetKind_GROUPING_SET_SIMPLE && s.Kind != pg.GroupingSetKind_GROUPING_SET_EMPTY {
				return nil, posErr(engine.Unsupported("this grouping set nesting"), s.Location)
			}
			var set []int
			for _, c := range s.Content {
				k, err := b.groupKeyIndex(c, sc, targets, agg)
				if err != nil {
					return nil, err
				}
				set = unionKeys(set, []int{k})
			}
			return set, nil
		}
		k, err := b.groupKeyIndex(n, sc, targets, agg)
		if err != nil {
			return nil, err
		}
		return []int{k}, nil
	}
	// simpleAll binds the elements of ROLLUP (...) or CUBE (...), one set each.
	simpleAll := func(ns []*pg.Node) ([][]int, error) {
		elems := make([][]int, 0, len(ns))
		for _, c := range ns {
			set, err := simple(c)
			if err != nil {
				return nil, err
			}
			elems = append(elems, set)
		}
		return elems, nil
	}
	switch gs.Kind {
	case pg.GroupingSetKind_GROUPING_SET_EMPTY:
		return [][]int{{}}, nil
	case pg.GroupingSetKind_GROUPING_SET_SIMPLE:
		set, err := simple(n)
		if err != nil {
			return nil, err
		}
		return [][]int{set}, nil
	case pg.GroupingSetKind_GROUPING_SET_ROLLUP:
		// ROLLUP (e1, e2, ..., en): (e1, ..., en), ..., (e1), ().
		elems, err := simpleAll(gs.Content)
		if err != nil {
			return nil, err
		}
		sets := make([][]int, 0, len(elems)+1)
		for i := len(elems); i >= 0; i-- {
			var set []int
			for _, e := range elems[:i] {
				set = unionKeys(set, e)
			}
			sets = append(sets, set)
		}
		return sets, nil
	case pg.GroupingSetKind_GROUPING_SET_CUBE:
		elems, err := simpleAll(gs.Content)
		if err != nil {
			return nil, err
		}
		if len(elems) > 12 {
			return nil, tooManySets(gs.Location)
		}
		var sets [][]int
		for mask := (1 << len(elems)) - 1; mask >= 0; mask-- {
			var set []int
			for i, e := range elems {
				if mask&(1<<(len(elems)-1-i)) != 0 {
					set = unionKeys(set, e)
				}
			}
			sets = append(sets, set)
		}
		return sets, nil
	case pg.GroupingSetKind_GROUPING_SET_SETS:
		var sets [][]int
		for _, c := range gs.Content {
			sub, err := b.expandGroupingItem(c, sc, targets, agg)
			if err != nil {
				return nil, err
			}
			sets = append(sets, sub...)
			if len(sets) > maxGroupingSets {
				return nil, tooManySets(gs.Location)
			}
		}
		return sets, nil
	}
	return nil, posErr(engine.Unsupported("this grouping set"), gs.Location)
}

// groupingSets binds a GROUP BY clause with grouping sets into agg: its keys, its
// sets (the cross product of its items' sets), and the hidden set-number column.
func (b *binder) groupingSets(items []*pg.Node, distinct bool, sc *scope, targets []target, agg *aggCtx) error {
	sets := [][]int{{}}
	for _, g := range items {
		sub, err := b.expandGroupingItem(g, sc, targets, agg)
		if err != nil {
			return err
		}
		if len(sets)*len(sub) > maxGroupingSets {
			loc := int32(-1)
			if gs := g.GetGroupingSet(); gs != nil {
				loc = gs.Location
			}
			return tooManySets(loc)
		}
		var next [][]int
		for _, s := range sets {
			for _, t := range sub {
				next = append(next, unionKeys(s, t))
			}
		}
		sets = next
	}
	if distinct {
		// GROUP BY DISTINCT: each set (as a set of keys) once.
		var uniq [][]int
		seen := map[string]bool{}
		for _, s := range sets {
			c := slices.Clone(s)
			slices.Sort(c)
			k := ""
			for _, i := range c {
				k += string(rune(i + 1))
			}
			if !seen[k] {
				seen[k] = true
				uniq = append(uniq, s)
			}
		}
		sets = uniq
	}
	agg.sets = sets
	agg.setCol = len(agg.groups)
	agg.groups = append(agg.groups, &engine.ColRef{Index: -1, T: engine.Int32, Name: "?grouping?"})
	agg.groupKeys = append(agg.groupKeys, setIDKey)
	return nil
}

// groupingFunc binds GROUPING(e1, ..., en): bit n-1-i of the result is set when
// the row's grouping set leaves ei out.
func (b *binder) groupingFunc(gf *pg.GroupingFunc, c *exprCtx) (engine.Expr, error) {
	if c.agg == nil {
		clause := c.clause
		if clause == "" {
			clause = "this position"
		}
		if clause == "aggregate function calls" {
			return nil, posErr(engine.Errorf(sqlstate.GroupingError, "aggregate function calls cannot contain grouping operations"), gf.Location)
		}
		return nil, posErr(engine.Errorf(sqlstate.GroupingError, "grouping operations are not allowed in %s", clause), gf.Location)
	}
	if len(gf.Args) > 31 {
		return nil, posErr(engine.Errorf(sqlstate.TooManyArguments, "GROUPING must have fewer than 32 arguments"), gf.Location)
	}
	a := c.agg
	var keys []int
	for _, an := range gf.Args {
		e, err := b.expr(an, &exprCtx{scope: a.input, clause: "GROUP BY"})
		if err != nil {
			return nil, err
		}
		k := exprKey(e)
		found := -1
		for i, g := range a.groupKeys {
			if g == k {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, posErr(engine.Errorf(sqlstate.GroupingError, "arguments to GROUPING must be grouping expressions of the associated query level"), gf.Location)
		}
		keys = append(keys, found)
	}
	value := func(set []int) int64 {
		var v int64
		for _, k := range keys {
			v <<= 1
			if !slices.Contains(set, k) {
				v |= 1
			}
		}
		return v
	}
	i32 := func(v int64) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Int32, I: v}} }
	if a.sets == nil {
		// Plain GROUP BY: one set, with every key.
		return i32(0), nil
	}
	vals := make([]int64, len(a.sets))
	same := true
	for i, s := range a.sets {
		vals[i] = value(s)
		same = same && vals[i] == vals[0]
	}
	if same {
		return i32(vals[0]), nil
	}
	setID := &engine.ColRef{Index: a.setCol, T: engine.Int32, Name: "?grouping?"}
	cs := &engine.Case{T: engine.Int32}
	for i := 0; i < len(vals)-1; i++ {
		cond := engine.MustCall("=", setID, i32(int64(i)))
		cs.Whens = append(cs.Whens, engine.When{Cond: cond, Then: i32(vals[i])})
	}
	cs.Else = i32(vals[len(vals)-1])
	return cs, nil
}

// groupingSetsPlan is the Aggregate of a query with grouping sets: one Aggregate
// per set over input, projected to out's layout (keys, set number, aggregates),
// under a UNION ALL.
func groupingSetsPlan(input engine.Plan, agg *aggCtx, out []engine.Field) engine.Plan {
	u := &engine.Union{}
	for id, set := range agg.sets {
		a := &engine.Aggregate{Input: input, Aggs: agg.aggs}
		for _, k := range set {
			a.Groups = append(a.Groups, agg.groups[k])
			a.Out = append(a.Out, out[k])
		}
		a.Out = append(a.Out, out[len(agg.groups):]...)
		p := &engine.Project{Input: a}
		for i, g := range agg.groups {
			var e engine.Expr
			switch j := slices.Index(set, i); {
			case i == agg.setCol:
				e = &engine.Const{V: engine.Value{Type: engine.Int32, I: int64(id)}}
			case j >= 0:
				e = &engine.ColRef{Index: j, T: g.Type(), Name: out[i].Name}
			default:
				e = &engine.Const{V: engine.NullValue(g.Type())}
			}
			p.Exprs = append(p.Exprs, e)
			p.Names = append(p.Names, out[i].Name)
		}
		for j, ac := range agg.aggs {
			p.Exprs = append(p.Exprs, &engine.ColRef{Index: len(set) + j, T: ac.T, Name: out[len(agg.groups)+j].Name})
			p.Names = append(p.Names, out[len(agg.groups)+j].Name)
		}
		u.Inputs = append(u.Inputs, p)
	}
	if len(u.Inputs) == 1 {
		return u.Inputs[0]
	}
	return u
}
