package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql/opt"
)

// Window functions in the select list and ORDER BY: each call becomes an
// engine.WindowFunc of a Window node placed between the (aggregated) input and the
// final projection; the call's place in the expression is a windowRef until the
// input's width is known, then a column reference to the Window's output.

type winCtx struct {
	funcs []engine.WindowFunc
}

// windowRef stands for the result of window function K while binding.
type windowRef struct {
	K int
	T engine.Type
}

func (r *windowRef) Type() engine.Type { return r.T }
func (r *windowRef) String() string    { return "window#" + string(rune('0'+r.K)) }

func resolveWindowRefs(e engine.Expr, base int) (engine.Expr, error) {
	return opt.RewriteExpr(e, func(x engine.Expr) (engine.Expr, error) {
		if w, ok := x.(*windowRef); ok {
			return &engine.ColRef{Index: base + w.K, T: w.T, Name: "window"}, nil
		}
		return x, nil
	})
}

// PostgreSQL's frame option bits (parsenodes.h).
const (
	frameRange                 = 0x00002
	frameRows                  = 0x00004
	frameGroups                = 0x00008
	frameStartUnboundedPrec    = 0x00020
	frameEndUnboundedFollowing = 0x00100
	frameStartCurrentRow       = 0x00200
	frameEndCurrentRow         = 0x00400
	frameStartOffsetPreceding  = 0x00800
	frameEndOffsetPreceding    = 0x01000
	frameStartOffsetFollowing  = 0x02000
	frameEndOffsetFollowing    = 0x04000
	frameExclude               = 0x08000 | 0x10000 | 0x20000
	frameNonDefault            = 0x00001
	frameStartUnboundedFollow  = 0x00080
	frameEndUnboundedPreceding = 0x00040
)

func (b *binder) windowCall(fc *pg.FuncCall, c *exprCtx) (engine.Expr, error) {
	name := funcName(fc)
	if c.win == nil {
		clause := c.clause
		if clause == "" {
			clause = "this context"
		}
		return nil, posErr(engine.Errorf(sqlstate.WindowingError, "window functions are not allowed in %s", clause), fc.Location)
	}
	w := fc.Over
	if w.Name != "" || w.Refname != "" {
		return nil, posErr(engine.Unsupported("named windows"), fc.Location)
	}
	if fc.AggDistinct || fc.AggFilter != nil || len(fc.AggOrder) > 0 {
		return nil, posErr(engine.Unsupported("DISTINCT, FILTER or ORDER BY in a window function"), fc.Location)
	}
	inner := *c
	inner.win = nil // no window function inside another
	f := engine.WindowFunc{Func: name, Frame: engine.DefaultFrame}
	var types []engine.Type
	for _, an := range fc.Args {
		e, err := b.expr(an, &inner)
		if err != nil {
			return nil, err
		}
		if e, err = b.unknownToText(e); err != nil {
			return nil, err
		}
		f.Args = append(f.Args, e)
		types = append(types, e.Type())
	}
	// lag/lead's default takes the value's type
	if (name == "lag" || name == "lead") && len(f.Args) == 3 && f.Args[2].Type() != f.Args[0].Type() {
		e, err := b.coerce(f.Args[2], f.Args[0].Type())
		if err != nil {
			return nil, err
		}
		f.Args[2], types[2] = e, e.Type()
	}
	t, err := engine.ResolveWindow(name, types)
	if err != nil {
		return nil, withPos(err, fc.Location)
	}
	f.T = t
	for _, pn := range w.PartitionClause {
		e, err := b.expr(pn, &inner)
		if err != nil {
			return nil, err
		}
		if e, err = b.unknownToText(e); err != nil {
			return nil, err
		}
		f.Partition = append(f.Partition, e)
	}
	for _, on := range w.OrderClause {
		sb := on.GetSortBy()
		e, err := b.expr(sb.Node, &inner)
		if err != nil {
			return nil, err
		}
		if e, err = b.unknownToText(e); err != nil {
			return nil, err
		}
		desc := sb.SortbyDir == pg.SortByDir_SORTBY_DESC
		nullsFirst := desc
		switch sb.SortbyNulls {
		case pg.SortByNulls_SORTBY_NULLS_FIRST:
			nullsFirst = true
		case pg.SortByNulls_SORTBY_NULLS_LAST:
			nullsFirst = false
		}
		f.Order = append(f.Order, engine.SortKey{Expr: e, Desc: desc, NullsFirst: nullsFirst})
	}
	if f.Frame, err = frameOf(w, fc.Location); err != nil {
		return nil, err
	}
	k := len(c.win.funcs)
	c.win.funcs = append(c.win.funcs, f)
	return &windowRef{K: k, T: t}, nil
}

// frameOf reads a window definition's frame clause.
func frameOf(w *pg.WindowDef, loc int32) (engine.Frame, error) {
	o := w.FrameOptions
	if o&frameNonDefault == 0 {
		return engine.DefaultFrame, nil
	}
	if o&frameGroups != 0 || o&frameExclude != 0 {
		return engine.Frame{}, posErr(engine.Unsupported("GROUPS frames and EXCLUDE"), loc)
	}
	fr := engine.Frame{Rows: o&frameRows != 0}
	offset := func(n *pg.Node) (int64, error) {
		k := n.GetAConst()
		if k == nil || k.GetIval() == nil || k.GetIval().Ival < 0 {
			return 0, posErr(engine.Unsupported("frame offsets other than a non-negative integer constant"), loc)
		}
		return int64(k.GetIval().Ival), nil
	}
	var err error
	switch {
	case o&frameStartUnboundedPrec != 0:
		fr.Start.Kind = engine.UnboundedPreceding
	case o&frameStartCurrentRow != 0:
		fr.Start.Kind = engine.CurrentRow
	case o&frameStartOffsetPreceding != 0:
		fr.Start.Kind = engine.Preceding
		fr.Start.N, err = offset(w.StartOffset)
	case o&frameStartOffsetFollowing != 0:
		fr.Start.Kind = engine.Following
		fr.Start.N, err = offset(w.StartOffset)
	case o&frameStartUnboundedFollow != 0:
		fr.Start.Kind = engine.UnboundedFollowing
	}
	if err != nil {
		return fr, err
	}
	switch {
	case o&frameEndUnboundedFollowing != 0:
		fr.End.Kind = engine.UnboundedFollowing
	case o&frameEndCurrentRow != 0:
		fr.End.Kind = engine.CurrentRow
	case o&frameEndOffsetPreceding != 0:
		fr.End.Kind = engine.Preceding
		fr.End.N, err = offset(w.EndOffset)
	case o&frameEndOffsetFollowing != 0:
		fr.End.Kind = engine.Following
		fr.End.N, err = offset(w.EndOffset)
	case o&frameEndUnboundedPreceding != 0:
		fr.End.Kind = engine.UnboundedPreceding
	default: // "ROWS n PRECEDING" without BETWEEN ends at the current row
		fr.End.Kind = engine.CurrentRow
	}
	if err != nil {
		return fr, err
	}
	if !fr.Rows && (fr.Start.Kind == engine.Preceding || fr.Start.Kind == engine.Following || fr.End.Kind == engine.Preceding || fr.End.Kind == engine.Following) {
		return fr, posErr(engine.Unsupported("RANGE frames with offsets"), loc)
	}
	return fr, nil
}
