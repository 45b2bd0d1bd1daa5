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
	named map[string]*pg.WindowDef // the SELECT's WINDOW clause, bases merged in
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
	frameExcludeCurrentRow     = 0x08000
	frameExcludeGroup          = 0x10000
	frameExcludeTies           = 0x20000
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
	w, err := windowDef(fc.Over, c.win.named)
	if err != nil {
		return nil, err
	}
	// PostgreSQL's messages (parse_func.c)
	switch {
	case fc.AggDistinct:
		return nil, posErr(engine.Errorf(sqlstate.FeatureNotSupported, "DISTINCT is not implemented for window functions"), fc.Location)
	case len(fc.AggOrder) > 0:
		return nil, posErr(engine.Errorf(sqlstate.FeatureNotSupported, "aggregate ORDER BY is not implemented for window functions"), fc.Location)
	case fc.AggFilter != nil && !windowAggregate(name):
		return nil, posErr(engine.Errorf(sqlstate.FeatureNotSupported, "FILTER is not implemented for non-aggregate window functions"), fc.Location)
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
	if fc.AggFilter != nil {
		e, err := b.expr(fc.AggFilter, &inner)
		if err != nil {
			return nil, err
		}
		if f.Filter, err = b.coerce(e, engine.Bool); err != nil {
			return nil, err
		}
	}
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
	if f.Frame, err = b.frameOf(w, f.Order, &inner); err != nil {
		return nil, err
	}
	k := len(c.win.funcs)
	c.win.funcs = append(c.win.funcs, f)
	return &windowRef{K: k, T: t}, nil
}

// windowAggregate reports whether name is an aggregate (not a window-only
// function) when called with OVER.
func windowAggregate(name string) bool {
	switch name {
	case "count", "sum", "avg", "min", "max":
		return true
	}
	return false
}

// frameOf reads a window definition's frame clause. The grammar has already
// refused impossible bound pairs (UNBOUNDED FOLLOWING as a start, …); what is left
// to check is PostgreSQL's transformFrameOffset: GROUPS needs ORDER BY, a RANGE
// offset needs exactly one ORDER BY column of a type with an in_range rule, and
// an offset must not refer to the row.
func (b *binder) frameOf(w *pg.WindowDef, order []engine.SortKey, c *exprCtx) (engine.Frame, error) {
	o := w.FrameOptions
	if o&frameNonDefault == 0 {
		return engine.DefaultFrame, nil
	}
	var fr engine.Frame
	mode := "RANGE"
	switch {
	case o&frameRows != 0:
		fr.Mode, mode = engine.FrameRows, "ROWS"
	case o&frameGroups != 0:
		fr.Mode, mode = engine.FrameGroups, "GROUPS"
		if len(order) == 0 {
			return fr, posErr(engine.Errorf(sqlstate.WindowingError, "GROUPS mode requires an ORDER BY clause"), w.Location)
		}
	}
	switch {
	case o&frameExcludeCurrentRow != 0:
		fr.Exclude = engine.ExcludeCurrentRow
	case o&frameExcludeGroup != 0:
		fr.Exclude = engine.ExcludeGroup
	case o&frameExcludeTies != 0:
		fr.Exclude = engine.ExcludeTies
	}
	switch {
	case o&frameStartUnboundedPrec != 0:
		fr.Start.Kind = engine.UnboundedPreceding
	case o&frameStartCurrentRow != 0:
		fr.Start.Kind = engine.CurrentRow
	case o&frameStartOffsetPreceding != 0:
		fr.Start.Kind = engine.Preceding
	case o&frameStartOffsetFollowing != 0:
		fr.Start.Kind = engine.Following
	case o&frameStartUnboundedFollow != 0:
		fr.Start.Kind = engine.UnboundedFollowing
	}
	switch {
	case o&frameEndUnboundedFollowing != 0:
		fr.End.Kind = engine.UnboundedFollowing
	case o&frameEndOffsetPreceding != 0:
		fr.End.Kind = engine.Preceding
	case o&frameEndOffsetFollowing != 0:
		fr.End.Kind = engine.Following
	case o&frameEndUnboundedPreceding != 0:
		fr.End.Kind = engine.UnboundedPreceding
	default: // CURRENT ROW, also "ROWS n PRECEDING" without BETWEEN
		fr.End.Kind = engine.CurrentRow
	}
	offset := func(n *pg.Node) (engine.Expr, error) {
		if fr.Mode == engine.FrameRange && len(order) != 1 {
			return nil, posErr(engine.Errorf(sqlstate.WindowingError, "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column"), w.Location)
		}
		loc := exprLocation(n)
		e, err := b.expr(n, &exprCtx{scope: c.scope, clause: "window " + mode})
		if err != nil {
			return nil, err
		}
		used := map[int]bool{}
		opt.ColumnsUsed(e, used)
		if len(used) > 0 {
			return nil, posErr(engine.Errorf(sqlstate.InvalidColumnReference, "argument of %s must not contain variables", mode), loc)
		}
		if fr.Mode != engine.FrameRange {
			if t := e.Type(); t != engine.Unknown && !t.IsNumeric() {
				return nil, posErr(engine.Errorf(sqlstate.DatatypeMismatch, "argument of %s must be type bigint, not type %s", mode, t), loc)
			}
			return b.coerce(e, engine.Int64)
		}
		col := order[0].Expr.Type()
		want, ok := engine.RangeOffsetType(col, e.Type())
		if e.Type() == engine.Unknown {
			// an untyped literal or parameter takes the type in_range wants
			want, ok = engine.RangeOffsetType(col, rangeOffsetDefault(col))
		}
		if !ok {
			if _, any := engine.RangeOffsetType(col, rangeOffsetDefault(col)); !any {
				return nil, posErr(engine.Errorf(sqlstate.FeatureNotSupported, "RANGE with offset PRECEDING/FOLLOWING is not supported for column type %s", col), loc)
			}
			err := engine.Errorf(sqlstate.FeatureNotSupported, "RANGE with offset PRECEDING/FOLLOWING is not supported for column type %s and offset type %s", col, e.Type())
			err.Hint = "Cast the offset value to an appropriate type."
			return nil, posErr(err, loc)
		}
		return b.coerce(e, want)
	}
	var err error
	if fr.Start.Kind == engine.Preceding || fr.Start.Kind == engine.Following {
		if fr.Start.Offset, err = offset(w.StartOffset); err != nil {
			return fr, err
		}
	}
	if fr.End.Kind == engine.Preceding || fr.End.Kind == engine.Following {
		if fr.End.Offset, err = offset(w.EndOffset); err != nil {
			return fr, err
		}
	}
	return fr, nil
}

// rangeOffsetDefault is the offset type in_range takes for an ORDER BY column of
// type col (Unknown when there is none).
func rangeOffsetDefault(col engine.Type) engine.Type {
	switch {
	case col.IsInteger():
		return engine.Int64
	case col.ID == engine.TypeFloat32 || col.ID == engine.TypeFloat64:
		return engine.Float64
	case col.ID == engine.TypeNumeric:
		return engine.Numeric
	case col.IsTime(), col.ID == engine.TypeDate, col.ID == engine.TypeInterval:
		return engine.Interval
	}
	return engine.Unknown
}

// namedWindows reads a SELECT's WINDOW clause into definitions by name; a
// definition may build on an earlier one (WINDOW a AS (…), b AS (a ORDER BY …)).
func namedWindows(defs []*pg.Node) (map[string]*pg.WindowDef, error) {
	named := map[string]*pg.WindowDef{}
	for _, n := range defs {
		w := n.GetWindowDef()
		if _, dup := named[w.Name]; dup {
			return nil, posErr(engine.Errorf(sqlstate.WindowingError, "window %q is already defined", w.Name), w.Location)
		}
		m, err := mergeWindow(w, named)
		if err != nil {
			return nil, err
		}
		named[w.Name] = m
	}
	return named, nil
}

// windowDef returns the window an OVER clause stands for: OVER w is the named
// window itself, frame included; OVER (w …) builds on it (mergeWindow).
func windowDef(over *pg.WindowDef, named map[string]*pg.WindowDef) (*pg.WindowDef, error) {
	if over.Name == "" {
		return mergeWindow(over, named)
	}
	w, ok := named[over.Name]
	if !ok {
		return nil, posErr(engine.Errorf(sqlstate.UndefinedObject, "window %q does not exist", over.Name), over.Location)
	}
	return w, nil
}

// mergeWindow applies SQL's rules for a window built on the window named by
// w.Refname (PostgreSQL's transformWindowDefinitions): it takes the base's
// PARTITION BY and must not have its own; it may add ORDER BY only when the base
// has none; it has its own frame, and the base must not have one.
func mergeWindow(w *pg.WindowDef, named map[string]*pg.WindowDef) (*pg.WindowDef, error) {
	if w.Refname == "" {
		return w, nil
	}
	ref, ok := named[w.Refname]
	if !ok {
		return nil, posErr(engine.Errorf(sqlstate.UndefinedObject, "window %q does not exist", w.Refname), w.Location)
	}
	windowing := func(format string) error {
		return posErr(engine.Errorf(sqlstate.WindowingError, format, w.Refname), w.Location)
	}
	if len(w.PartitionClause) > 0 {
		return nil, windowing("cannot override PARTITION BY clause of window %q")
	}
	out := &pg.WindowDef{Name: w.Name, PartitionClause: ref.PartitionClause, OrderClause: ref.OrderClause,
		FrameOptions: w.FrameOptions, StartOffset: w.StartOffset, EndOffset: w.EndOffset, Location: w.Location}
	if len(w.OrderClause) > 0 {
		if len(ref.OrderClause) > 0 {
			return nil, windowing("cannot override ORDER BY clause of window %q")
		}
		out.OrderClause = w.OrderClause
	}
	if ref.FrameOptions&frameNonDefault != 0 {
		return nil, windowing("cannot copy window %q because it has a frame clause")
	}
	return out, nil
}
