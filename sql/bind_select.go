package sql

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql/opt"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/rollup"
)

// binder turns one pg_query statement into a bound engine plan. It is used once.
type binder struct {
	db          *DB
	loc         *time.Location // the session's TimeZone (nil: UTC), for literals and folding
	user        string         // current_user: the session's role, or the one SET ROLE chose
	sessionUser string
	database    string
	// params are the $n types: declared by the client, or inferred while binding.
	params []engine.Type
	ctes   []map[string]*cte
	// targetTypes, set by INSERT ... SELECT, are the column types the outermost select
	// list is stored into: its untyped literals take them, as in PostgreSQL. The
	// outermost selectStmt takes and clears them before binding anything nested.
	targetTypes []engine.Type
	// lastRolled is set by selectStmt, as its last step, to the rollup table whose
	// rolled-up rows its output is (a non-aggregating select over one), else "".
	lastRolled string
	// lastOrigins is set by selectStmt, as its last step, to its output fields'
	// origins (nil when none is a plain table column).
	lastOrigins []ColumnOrigin
	// travel holds the time-travel clauses the pre-parser took out of the
	// statement, by the location of their table reference; fromItem attaches each
	// to its table's Scan and deletes it, so any left over after binding followed
	// something that is not a table.
	travel map[int32]*engine.AsOf
	// needs collects what the statement needs (privileges.go), as binding finds it.
	needs []access
	// outer holds, innermost last, the query levels around the subquery being bound
	// (subquery.go): a column not found in the subquery's own scope is looked up
	// there and becomes an outer reference.
	outer []*outerLevel
	// catalogRows is set when the statement reads a relation whose rows binding
	// computed from the catalog or the ingest status (pg_catalog, information_schema,
	// strata_ingest_status): a prepared statement is bound again for every later run.
	catalogRows bool
}

type cte struct {
	plan   engine.Plan
	names  []string
	rolled string // see scope.rolled
}

// column is one name visible in a FROM scope.
type column struct {
	qual string
	name string
	t    engine.Type
	// hidden columns (a rollup table's __ columns) are in the scan but have no name.
	hidden bool
	// qualifiedOnly columns are found only by a qualified name and left out of an
	// unqualified *: the right side's copy of a JOIN ... USING column (join.go).
	qualifiedOnly bool
	// system columns (a catalog relation's tableoid) are found by name and left
	// out of every *.
	system bool
	// origin is the table column this one reads as is (zero: computed, or not a
	// table's).
	origin ColumnOrigin
	// value, when set, is what the column stands for: references bind to it
	// rather than to the plan's column (an array in FROM, arrays.go).
	value engine.Expr
}

type scope struct {
	cols []column
	// rollup is set when the scope is a rollup table: its metric columns hold
	// rolled-up values, usable only as aggregate arguments (rollup.go).
	rollup      *rollup.Spec
	rollupTable string
	// rolled names the rollup table whose rolled-up rows a subquery scope holds:
	// aggregating them again would count rolled-up rows, not raw ones.
	rolled string
}

func (s *scope) find(qual, name string) (int, error) {
	found := -1
	qualSeen := qual == ""
	for i, c := range s.cols {
		if qual != "" && c.qual != qual {
			continue
		}
		qualSeen = true
		if c.hidden || c.name != name || (c.qualifiedOnly && qual == "") {
			continue
		}
		if found >= 0 {
			return 0, engine.Errorf(sqlstate.AmbiguousColumn, "column reference %q is ambiguous", name)
		}
		found = i
	}
	if !qualSeen {
		return 0, engine.Errorf(sqlstate.UndefinedTable, "missing FROM-clause entry for table %q", qual)
	}
	if found < 0 {
		if qual != "" {
			return 0, engine.Errorf(sqlstate.UndefinedColumn, "column %s.%s does not exist", qual, name)
		}
		return 0, engine.Errorf(sqlstate.UndefinedColumn, "column %q does not exist", name)
	}
	return found, nil
}

// columnType is the SQL type clients see for a stored column.
func columnType(c storage.Column) engine.Type {
	if n, ok := engine.BpcharColumn(c.SQLType, c.TypMod); ok {
		return engine.Bpchar(n)
	}
	if t, ok := engine.TypeByName(c.SQLType); ok {
		return t
	}
	switch c.Type {
	case storage.TypeTimestamp:
		return engine.TimestampTZ
	case storage.TypeString:
		return engine.Text
	case storage.TypeInt64:
		return engine.Int64
	case storage.TypeFloat64:
		return engine.Float64
	case storage.TypeBool:
		return engine.Bool
	}
	panic(fmt.Sprintf("BUG: column %q has storage type %s", c.Name, c.Type))
}

func (b *binder) lookupCTE(name string) *cte {
	for i := len(b.ctes) - 1; i >= 0; i-- {
		if c, ok := b.ctes[i][name]; ok {
			return c
		}
	}
	return nil
}

// table resolves a table the statement reads (accessSelect) or writes
// (accessInsert), and records that need.
func (b *binder) table(rv *pg.RangeVar, kind accessKind) (catalog.TableDef, error) {
	if rv.Schemaname != "" && rv.Schemaname != "public" {
		return catalog.TableDef{}, posErr(engine.Errorf(sqlstate.UndefinedTable, "relation \"%s.%s\" does not exist", rv.Schemaname, rv.Relname), rv.Location)
	}
	def, ok := b.db.store.Table(rv.Relname)
	if !ok {
		return def, posErr(engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", rv.Relname), rv.Location)
	}
	if err := b.need(access{kind: kind, table: def.Name}); err != nil {
		return def, err
	}
	return def, nil
}

// scanOf returns a scan of every column of def (optimizer rules narrow it).
func scanOf(def catalog.TableDef) *engine.Scan {
	schema := def.Schema
	s := &engine.Scan{Table: def.Name, Schema: &schema, TimeMin: engine.MinTime, TimeMax: engine.MaxTime}
	for i, c := range schema.Columns {
		s.Columns = append(s.Columns, i)
		s.Out = append(s.Out, engine.Field{Name: c.Name, Type: columnType(c)})
	}
	return s
}

// from binds the FROM clause.
func (b *binder) from(items []*pg.Node) (engine.Plan, *scope, error) {
	if len(items) == 0 {
		// SELECT without FROM reads one row of nothing.
		return &engine.Values{Rows: [][]engine.Expr{{&engine.Const{V: engine.Value{Type: engine.Int32, I: 1}}}},
			Out: []engine.Field{{Name: "?dummy?", Type: engine.Int32}}}, &scope{}, nil
	}
	p, sc, err := b.fromItem(items[0])
	if err != nil {
		return nil, nil, err
	}
	// FROM a, b: a cross join; WHERE's equalities become its keys (join.go).
	for _, it := range items[1:] {
		rp, rsc, err := b.fromItem(it)
		if err != nil {
			return nil, nil, err
		}
		if err := distinctQuals(sc, rsc); err != nil {
			return nil, nil, err
		}
		p, sc = joinOf(p, sc, rp, rsc, engine.InnerJoin)
	}
	return p, sc, nil
}

// fromItem binds one FROM item: a table, a catalog view, a CTE, a subquery or a join.
func (b *binder) fromItem(item *pg.Node) (engine.Plan, *scope, error) {
	switch x := item.Node.(type) {
	case *pg.Node_RangeVar:
		rv := x.RangeVar
		qual := rv.Relname
		if rv.Alias != nil {
			qual = rv.Alias.Aliasname
		}
		if rv.Schemaname == "" {
			if c := b.lookupCTE(rv.Relname); c != nil {
				if b.travel[rv.Location] != nil {
					return nil, nil, posErr(engine.Unsupported("time travel on a WITH query"), rv.Location)
				}
				sc := b.subScope(c.plan, c.names, qual, rv.Alias)
				sc.rolled = c.rolled
				return c.plan, sc, nil
			}
		}
		if p, names, ok := b.ingestStatusView(rv); ok {
			b.catalogRows = true
			return p, b.subScope(p, names, qual, rv.Alias), nil
		}
		if p, names, ok, err := b.pgCatalog(rv); ok {
			b.catalogRows = true
			if err != nil {
				return nil, nil, err
			}
			sc := b.subScope(p, names, qual, rv.Alias)
			if n := len(names); names[n-1] == "tableoid" {
				sc.cols[n-1].system = true
			}
			return p, sc, nil
		}
		if rv.Schemaname == "information_schema" {
			if p, names, ok := b.infoSchema(rv); ok {
				b.catalogRows = true
				return p, b.subScope(p, names, qual, rv.Alias), nil
			}
		}
		def, err := b.table(rv, accessSelect)
		if err != nil {
			return nil, nil, err
		}
		s := scanOf(def)
		if a := b.travel[rv.Location]; a != nil {
			if def.Options[rollup.Option] != "" {
				return nil, nil, posErr(engine.Unsupported("time travel on a rollup table"), rv.Location)
			}
			s.AsOf = a
			delete(b.travel, rv.Location)
		}
		names := make([]string, len(s.Out))
		for i, f := range s.Out {
			names[i] = f.Name
		}
		sc := b.subScope(s, names, qual, rv.Alias)
		if err := markRollup(sc, def); err != nil {
			return nil, nil, err
		}
		if hiddenTime(def) {
			sc.cols[def.Schema.TimeColumn].hidden = true
		}
		for n, i := range visibleColumns(def) {
			sc.cols[i].origin = ColumnOrigin{TableOID: uint32(tableOID(def)), Column: int16(n + 1)}
			switch c := def.Schema.Columns[i]; c.SQLType {
			case "numeric":
				sc.cols[i].origin.TypMod = c.TypMod
			case "varchar":
				sc.cols[i].origin.TypeOID, sc.cols[i].origin.TypMod = uint32(typeOIDs["varchar"]), c.TypMod
			case "bpchar":
				sc.cols[i].origin.TypMod = c.TypMod
			}
		}
		return s, sc, nil
	case *pg.Node_RangeSubselect:
		rs := x.RangeSubselect
		if rs.Lateral {
			return nil, nil, engine.Unsupported("LATERAL")
		}
		sel := rs.Subquery.GetSelectStmt()
		if sel == nil {
			return nil, nil, engine.Unsupported("this subquery")
		}
		p, names, err := b.selectStmt(sel)
		if err != nil {
			return nil, nil, err
		}
		qual := ""
		if rs.Alias != nil {
			qual = rs.Alias.Aliasname
		}
		sc := b.subScope(p, names, qual, rs.Alias)
		sc.rolled = b.lastRolled
		// a column the subquery passes through keeps its table column's origin, as
		// PostgreSQL's RowDescription shows it
		if len(b.lastOrigins) == len(sc.cols) {
			for i := range sc.cols {
				sc.cols[i].origin = b.lastOrigins[i]
			}
		}
		return p, sc, nil
	case *pg.Node_JoinExpr:
		return b.joinExpr(x.JoinExpr)
	case *pg.Node_RangeFunction:
		return b.rangeFunction(x.RangeFunction)
	}
	return nil, nil, engine.Unsupported(fmt.Sprintf("FROM item %T", item.Node))
}

func (b *binder) subScope(p engine.Plan, names []string, qual string, alias *pg.Alias) *scope {
	s := &scope{}
	fields := p.Fields()
	for i, f := range fields {
		name := names[i]
		if alias != nil && i < len(alias.Colnames) {
			name = alias.Colnames[i].GetString_().GetSval()
		}
		s.cols = append(s.cols, column{qual: qual, name: name, t: f.Type})
	}
	return s
}

// containsAgg reports whether n calls an aggregate (any aggregate not in a subquery).
func containsAgg(n *pg.Node) bool { return containsAggWhere(n, nil) }

// containsAggWhere reports whether n calls an aggregate, outside subqueries, for
// which mine (when not nil) is true.
func containsAggWhere(n *pg.Node, mine func(*pg.FuncCall) bool) bool {
	found := false
	walkQueryLevel(n, func(m protoreflect.ProtoMessage) bool {
		switch v := m.(type) {
		case *pg.FuncCall:
			if isAggregate(funcName(v)) && v.Over == nil {
				found = found || mine == nil || mine(v)
				return false
			}
		case *pg.GroupingFunc:
			found = true
		}
		return !found
	})
	return found
}

// walkQueryLevel calls visit for n and each message below it in this query
// level (subqueries are not entered); visit returns whether to go below m.
func walkQueryLevel(n *pg.Node, visit func(m protoreflect.ProtoMessage) bool) {
	if n == nil {
		return
	}
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		if _, sub := m.Interface().(*pg.SelectStmt); sub || !visit(m.Interface()) {
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
			if fd.Kind() != protoreflect.MessageKind {
				return true
			}
			if fd.IsList() {
				l := val.List()
				for i := 0; i < l.Len(); i++ {
					walk(l.Get(i).Message())
				}
			} else if !fd.IsMap() {
				walk(val.Message())
			}
			return true
		})
	}
	walk(n.ProtoReflect())
}

type target struct {
	node *pg.Node
	name string
	loc  int32
}

// with binds the common table expressions of w as a new innermost level; pop
// removes it.
func (b *binder) with(w *pg.WithClause) (pop func(), err error) {
	if w.Recursive {
		return nil, engine.Unsupported("WITH RECURSIVE")
	}
	level := map[string]*cte{}
	b.ctes = append(b.ctes, level)
	pop = func() { b.ctes = b.ctes[:len(b.ctes)-1] }
	for _, cn := range w.Ctes {
		ct := cn.GetCommonTableExpr()
		sel := ct.Ctequery.GetSelectStmt()
		if sel == nil {
			pop()
			return nil, posErr(engine.Unsupported("data-modifying statements in WITH"), ct.Location)
		}
		p, names, err := b.selectStmt(sel)
		if err != nil {
			pop()
			return nil, err
		}
		for i, cn := range ct.Aliascolnames {
			if i < len(names) {
				names[i] = cn.GetString_().GetSval()
			}
		}
		level[ct.Ctename] = &cte{plan: p, names: names, rolled: b.lastRolled}
	}
	return pop, nil
}

// selectStmt binds a SELECT; it returns the plan and its output column names.
func (b *binder) selectStmt(s *pg.SelectStmt) (engine.Plan, []string, error) {
	targetTypes := b.targetTypes
	b.targetTypes = nil
	if s.Op != pg.SetOperation_SETOP_NONE && s.Op != pg.SetOperation_SET_OPERATION_UNDEFINED {
		// psql's \d unions catalog relations that are always empty here.
		if p, names, ok := emptyCatalogSelect(s.Larg); ok {
			if _, _, ok := emptyCatalogSelect(s.Rarg); ok {
				return p, names, nil
			}
		}
		return b.setOperation(s)
	}
	if s.IntoClause != nil {
		return nil, nil, engine.Unsupported("SELECT INTO")
	}
	if len(s.LockingClause) > 0 {
		return nil, nil, engine.Unsupported("FOR UPDATE/SHARE")
	}
	if s.WithClause != nil {
		pop, err := b.with(s.WithClause)
		if err != nil {
			return nil, nil, err
		}
		defer pop()
	}
	if len(s.ValuesLists) > 0 {
		b.lastRolled = ""
		return b.values(s.ValuesLists)
	}
	if p, names, ok := emptyCatalogSelect(s); ok {
		b.lastRolled = ""
		return p, names, nil
	}
	s = seriesTarget(s) // series_time.go: SELECT generate_series(…)

	input, sc, err := b.from(s.FromClause)
	if err != nil {
		return nil, nil, err
	}
	if s.WhereClause != nil {
		cond, err := b.expr(s.WhereClause, &exprCtx{scope: sc, clause: "WHERE"})
		if err != nil {
			return nil, nil, err
		}
		if cond, err = b.asBool(cond, "WHERE"); err != nil {
			return nil, nil, err
		}
		input = whereOver(input, cond)
	}

	// The select list, with * expanded.
	var targets []target
	for _, tn := range s.TargetList {
		rt := tn.GetResTarget()
		if cr := rt.Val.GetColumnRef(); cr != nil && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			qual := ""
			if len(cr.Fields) == 2 {
				qual = cr.Fields[0].GetString_().GetSval()
			}
			n := 0
			for _, c := range sc.cols {
				if (qual != "" && c.qual != qual) || c.hidden || c.system || (c.qualifiedOnly && qual == "") {
					continue
				}
				// Qualified by the column's own FROM item, so that equal names from
				// two joined items stay apart.
				fields := []*pg.Node{}
				if c.qual != "" {
					fields = append(fields, pg.MakeStrNode(c.qual))
				}
				fields = append(fields, pg.MakeStrNode(c.name))
				targets = append(targets, target{node: &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: fields, Location: cr.Location}}}, name: c.name, loc: cr.Location})
				n++
			}
			if n == 0 && len(s.FromClause) == 0 {
				return nil, nil, posErr(engine.Errorf(sqlstate.SyntaxError, "SELECT * with no tables specified is not valid"), cr.Location)
			}
			if n == 0 && qual != "" {
				return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedTable, "missing FROM-clause entry for table %q", qual), cr.Location)
			}
			continue
		}
		name := rt.Name
		if name == "" {
			name, _ = figureName(rt.Val)
		}
		targets = append(targets, target{node: rt.Val, name: name, loc: rt.Location})
	}

	// An aggregate in a subquery of the select list can belong to this level
	// (PostgreSQL's rule, outer_agg.go), which then aggregates although no
	// aggregate of its own shows it: found while binding the select list, it
	// makes the list bound again as an aggregating one.
	// (setFunctions changes targets and sc.cols, binding takes travel clauses.)
	travel, orig, ncols := maps.Clone(b.travel), slices.Clone(targets), len(sc.cols)
	p, names, err := b.selectList(s, input, sc, targets, targetTypes, false)
	if na := (*needsAggregate)(nil); errors.As(err, &na) && na.scope == sc {
		b.travel, sc.cols = travel, sc.cols[:ncols]
		p, names, err = b.selectList(s, input, sc, orig, targetTypes, true)
	}
	return p, names, err
}

// selectList binds the select list of s over input (FROM and WHERE bound, in
// scope sc), with its GROUP BY, HAVING, windows, DISTINCT, ORDER BY and LIMIT;
// forceAgg makes it an aggregating query without an aggregate of its own.
func (b *binder) selectList(s *pg.SelectStmt, input engine.Plan, sc *scope, targets []target, targetTypes []engine.Type, forceAgg bool) (engine.Plan, []string, error) {
	var err error
	hasAgg := forceAgg || len(s.GroupClause) > 0 || s.HavingClause != nil
	for _, t := range targets {
		hasAgg = hasAgg || b.containsLocalAgg(t.node, sc)
	}
	for _, sn := range s.SortClause {
		hasAgg = hasAgg || b.containsLocalAgg(sn.GetSortBy().Node, sc)
	}
	if input, targets, err = b.setFunctions(input, sc, targets, hasAgg); err != nil {
		return nil, nil, err
	}

	ctx := &exprCtx{scope: sc}
	var agg *aggCtx
	if hasAgg {
		agg = &aggCtx{input: sc}
		if hasGroupingSets(s.GroupClause) || s.GroupDistinct {
			if err := b.groupingSets(s.GroupClause, s.GroupDistinct, sc, targets, agg); err != nil {
				return nil, nil, err
			}
		}
		for _, g := range s.GroupClause {
			if agg.sets != nil {
				break
			}
			e, err := b.groupKey(g, sc, targets)
			if err != nil {
				return nil, nil, err
			}
			if e.Type() == engine.Unknown {
				if e, err = b.coerce(e, engine.Text); err != nil {
					return nil, nil, err
				}
			}
			k := exprKey(e)
			dup := false
			for _, gk := range agg.groupKeys {
				dup = dup || gk == k
			}
			if !dup {
				agg.groups = append(agg.groups, e)
				agg.groupKeys = append(agg.groupKeys, k)
			}
		}
		ctx = &exprCtx{agg: agg}
	}
	win := &winCtx{}
	if win.named, err = namedWindows(s.WindowClause); err != nil {
		return nil, nil, err
	}
	ctx.win = win

	var exprs []engine.Expr
	var names []string
	for i, t := range targets {
		e, err := b.expr(t.node, ctx)
		if err != nil {
			return nil, nil, err
		}
		if e.Type() == engine.Unknown && i < len(targetTypes) {
			if e, err = b.coerce(e, targetTypes[i]); err != nil {
				return nil, nil, err
			}
		}
		if e, err = b.unknownToText(e); err != nil {
			return nil, nil, err
		}
		exprs = append(exprs, e)
		names = append(names, t.name)
	}
	var having engine.Expr
	if s.HavingClause != nil {
		hctx := *ctx
		hctx.win, hctx.clause = nil, "HAVING"
		h, err := b.expr(s.HavingClause, &hctx)
		if err != nil {
			return nil, nil, err
		}
		if having, err = b.asBool(h, "HAVING"); err != nil {
			return nil, nil, err
		}
	}

	// DISTINCT ON (exprs): distinctOn holds their output positions.
	distinct := false
	var distinctOn []int
	if len(s.DistinctClause) > 0 && !(len(s.DistinctClause) == 1 && (s.DistinctClause[0] == nil || s.DistinctClause[0].Node == nil)) {
		distinctOn = make([]int, 0, len(s.DistinctClause))
	} else if len(s.DistinctClause) > 0 {
		distinct = true
	}

	// ORDER BY and DISTINCT ON items: output positions, output names, or
	// expressions (hidden columns when they are not in the select list).
	visible := len(exprs)
	outputColumn := func(n *pg.Node, loc int32) (int, error) {
		idx, err := b.orderTarget(n, names[:visible], exprs[:visible], ctx)
		if err != nil || idx >= 0 {
			return idx, err
		}
		e, err := b.expr(n, ctx)
		if err != nil {
			return 0, err
		}
		if e, err = b.unknownToText(e); err != nil {
			return 0, err
		}
		k := exprKey(e)
		for i, x := range exprs {
			if exprKey(x) == k {
				return i, nil
			}
		}
		if distinct {
			return 0, posErr(engine.Errorf(sqlstate.InvalidColumnReference, "for SELECT DISTINCT, ORDER BY expressions must appear in select list"), loc)
		}
		exprs = append(exprs, e)
		names = append(names, "?sort?")
		return len(exprs) - 1, nil
	}
	for _, n := range s.DistinctClause {
		if distinctOn == nil {
			break
		}
		idx, err := outputColumn(n, exprLocation(n))
		if err != nil {
			return nil, nil, err
		}
		if !slices.Contains(distinctOn, idx) {
			distinctOn = append(distinctOn, idx)
		}
	}
	var keys []engine.SortKey
	for _, sn := range s.SortClause {
		sb := sn.GetSortBy()
		if sb.SortbyDir == pg.SortByDir_SORTBY_USING {
			return nil, nil, posErr(engine.Unsupported("ORDER BY USING"), sb.Location)
		}
		idx, err := outputColumn(sb.Node, sb.Location)
		if err != nil {
			return nil, nil, err
		}
		desc := sb.SortbyDir == pg.SortByDir_SORTBY_DESC
		nullsFirst := desc
		switch sb.SortbyNulls {
		case pg.SortByNulls_SORTBY_NULLS_FIRST:
			nullsFirst = true
		case pg.SortByNulls_SORTBY_NULLS_LAST:
			nullsFirst = false
		}
		keys = append(keys, engine.SortKey{Expr: &engine.ColRef{Index: idx, T: exprs[idx].Type(), Name: names[idx]}, Desc: desc, NullsFirst: nullsFirst})
	}

	if distinctOn != nil {
		// PostgreSQL's rule (transformDistinctOnClause): the ORDER BY items that are
		// DISTINCT ON expressions must come before any that are not, and an ON
		// expression missing from ORDER BY is sorted on after it, allowed only when
		// ORDER BY has no other items. So the first row of each group is the one
		// ORDER BY puts first.
		skipped := false
		covered := map[int]bool{}
		bad := posErr(engine.Errorf(sqlstate.InvalidColumnReference, "SELECT DISTINCT ON expressions must match initial ORDER BY expressions"), exprLocation(s.DistinctClause[0]))
		for _, k := range keys {
			idx := k.Expr.(*engine.ColRef).Index
			switch {
			case !slices.Contains(distinctOn, idx):
				skipped = true
			case skipped:
				return nil, nil, bad
			default:
				covered[idx] = true
			}
		}
		for _, idx := range distinctOn {
			if covered[idx] {
				continue
			}
			if skipped {
				return nil, nil, bad
			}
			keys = append(keys, engine.SortKey{Expr: &engine.ColRef{Index: idx, T: exprs[idx].Type(), Name: names[idx]}})
		}
	}

	if agg != nil {
		out := make([]engine.Field, 0, len(agg.groups)+len(agg.aggs))
		for _, g := range agg.groups {
			out = append(out, engine.Field{Name: exprName(g), Type: g.Type()})
		}
		for i, a := range agg.aggs {
			out = append(out, engine.Field{Name: agg.names[i], Type: a.T})
		}
		if agg.sets != nil {
			input = groupingSetsPlan(input, agg, out)
		} else {
			input = &engine.Aggregate{Input: input, Groups: agg.groups, Aggs: agg.aggs, Out: out}
		}
		if having != nil {
			input = &engine.Filter{Input: input, Cond: having}
		}
	}
	if len(win.funcs) > 0 {
		base := len(input.Fields())
		input = &engine.Window{Input: input, Funcs: win.funcs}
		for i, e := range exprs {
			if exprs[i], err = resolveWindowRefs(e, base); err != nil {
				return nil, nil, err
			}
		}
	}
	var p engine.Plan = &engine.Project{Input: input, Exprs: exprs, Names: names}
	if distinct {
		p = &engine.Distinct{Input: p}
	}
	if len(keys) > 0 {
		p = &engine.Sort{Input: p, Keys: keys}
	}
	if distinctOn != nil {
		p = &engine.DistinctOn{Input: p, On: distinctOn}
	}
	if s.LimitCount != nil || s.LimitOffset != nil {
		if p, err = b.limit(s, p); err != nil {
			return nil, nil, err
		}
	}
	if len(exprs) > visible {
		strip := &engine.Project{Input: p}
		for i := 0; i < visible; i++ {
			strip.Exprs = append(strip.Exprs, &engine.ColRef{Index: i, T: exprs[i].Type(), Name: names[i]})
			strip.Names = append(strip.Names, names[i])
		}
		p = strip
		names = names[:visible]
	}
	b.lastOrigins = nil
	if !hasAgg {
		for i := 0; i < visible; i++ {
			if cr, ok := exprs[i].(*engine.ColRef); ok && cr.Index < len(sc.cols) && sc.cols[cr.Index].origin.TableOID != 0 {
				if b.lastOrigins == nil {
					b.lastOrigins = make([]ColumnOrigin, visible)
				}
				b.lastOrigins[i] = sc.cols[cr.Index].origin
			}
		}
	}
	b.lastRolled = ""
	if !hasAgg {
		if sc.rollup != nil {
			b.lastRolled = sc.rollupTable
		} else {
			b.lastRolled = sc.rolled
		}
	}
	return p, names, nil
}

func (b *binder) asBool(e engine.Expr, clause string) (engine.Expr, error) {
	if e.Type() == engine.Bool {
		return e, nil
	}
	if e.Type() == engine.Unknown {
		return b.coerce(e, engine.Bool)
	}
	return nil, engine.Errorf(sqlstate.DatatypeMismatch, "argument of %s must be type boolean, not type %s", clause, e.Type())
}

// groupKey binds one GROUP BY item: a select-list position, a select-list alias that
// is not an input column, or an expression over the input.
func (b *binder) groupKey(g *pg.Node, sc *scope, targets []target) (engine.Expr, error) {
	plain := &exprCtx{scope: sc, clause: "GROUP BY"}
	if c := g.GetAConst(); c != nil {
		if iv, ok := c.Val.(*pg.A_Const_Ival); ok {
			k := int(iv.Ival.Ival)
			if k < 1 || k > len(targets) {
				return nil, posErr(engine.Errorf(sqlstate.InvalidColumnReference, "GROUP BY position %d is not in select list", k), c.Location)
			}
			return b.expr(targets[k-1].node, plain)
		}
	}
	if cr := g.GetColumnRef(); cr != nil && len(cr.Fields) == 1 {
		name := cr.Fields[0].GetString_().GetSval()
		if _, err := sc.find("", name); err != nil {
			for _, t := range targets {
				if t.name == name {
					return b.expr(t.node, plain)
				}
			}
		}
	}
	if gs := g.GetGroupingSet(); gs != nil {
		return nil, posErr(engine.Unsupported("this grouping set nesting"), gs.Location)
	}
	return b.expr(g, plain)
}

// orderTarget resolves an ORDER BY item that names an output column by position or
// by name; -1 when it is an expression.
func (b *binder) orderTarget(n *pg.Node, names []string, exprs []engine.Expr, ctx *exprCtx) (int, error) {
	if c := n.GetAConst(); c != nil {
		if iv, ok := c.Val.(*pg.A_Const_Ival); ok {
			k := int(iv.Ival.Ival)
			if k < 1 || k > len(names) {
				return 0, posErr(engine.Errorf(sqlstate.InvalidColumnReference, "ORDER BY position %d is not in select list", k), c.Location)
			}
			return k - 1, nil
		}
	}
	if cr := n.GetColumnRef(); cr != nil && len(cr.Fields) == 1 {
		name := cr.Fields[0].GetString_().GetSval()
		found := -1
		for i, nm := range names {
			if nm == name {
				if found >= 0 && exprKey(exprs[found]) != exprKey(exprs[i]) {
					return 0, posErr(engine.Errorf(sqlstate.AmbiguousColumn, "ORDER BY %q is ambiguous", name), cr.Location)
				}
				if found < 0 {
					found = i
				}
			}
		}
		return found, nil
	}
	return -1, nil
}

// limit puts s's LIMIT and OFFSET over p.
func (b *binder) limit(s *pg.SelectStmt, p engine.Plan) (engine.Plan, error) {
	if s.LimitOption == pg.LimitOption_LIMIT_OPTION_WITH_TIES {
		return nil, engine.Unsupported("FETCH ... WITH TIES")
	}
	count, cp, err := b.limitValue(s.LimitCount, -1, "LIMIT")
	if err != nil {
		return nil, err
	}
	offset, op, err := b.limitValue(s.LimitOffset, 0, "OFFSET")
	if err != nil {
		return nil, err
	}
	if cp != nil || op != nil {
		return &paramLimit{Input: p, Count: count, Offset: offset, CountParam: cp, OffsetParam: op}, nil
	}
	return &engine.Limit{Input: p, Count: count, Offset: offset}, nil
}

// limitValue binds a LIMIT or OFFSET: a constant, or a parameter resolved when the
// statement executes (returned as the *paramRef).
func (b *binder) limitValue(n *pg.Node, def int64, clause string) (int64, *paramRef, error) {
	if n == nil {
		return def, nil, nil
	}
	e, err := b.expr(n, &exprCtx{clause: clause})
	if err != nil {
		return 0, nil, err
	}
	if pr, ok := e.(*paramRef); ok {
		if _, err := b.coerce(pr, engine.Int64); err != nil {
			return 0, nil, err
		}
		return def, pr, nil
	}
	if e.Type() == engine.Unknown {
		if e, err = b.coerce(e, engine.Int64); err != nil {
			return 0, nil, err
		}
	}
	v, err := engine.EvalConst(e, time.Now().In(b.zone()))
	if err != nil {
		return 0, nil, err
	}
	n64, err := limitInt(v, def, clause)
	return n64, nil, err
}

func limitInt(v engine.Value, def int64, clause string) (int64, error) {
	if v.Null {
		return def, nil
	}
	if !v.Type.IsInteger() {
		return 0, engine.Errorf(sqlstate.DatatypeMismatch, "argument of %s must be type bigint, not type %s", clause, v.Type)
	}
	if v.I < 0 {
		if clause == "LIMIT" {
			return 0, engine.Errorf(sqlstate.InvalidRowCountInLimitClause, "LIMIT must not be negative")
		}
		return 0, engine.Errorf(sqlstate.InvalidRowCountInResultOffsetClause, "OFFSET must not be negative")
	}
	return v.I, nil
}

// paramLimit is a LIMIT/OFFSET with a $n, a plan node of the SQL layer only:
// resolveLimits turns it into an engine.Limit before the plan is optimized.
type paramLimit struct {
	Input                   engine.Plan
	Count, Offset           int64
	CountParam, OffsetParam *paramRef
}

func (p *paramLimit) Fields() []engine.Field  { return p.Input.Fields() }
func (p *paramLimit) Children() []engine.Plan { return []engine.Plan{p.Input} }

// resolveLimits replaces every paramLimit of the tree with an engine.Limit.
func resolveLimits(p engine.Plan, params []engine.Value) (engine.Plan, error) {
	kids := p.Children()
	if len(kids) != 1 {
		return p, nil
	}
	in, err := resolveLimits(kids[0], params)
	if err != nil {
		return nil, err
	}
	pl, ok := p.(*paramLimit)
	if !ok {
		return opt.WithInput(p, in), nil
	}
	l := &engine.Limit{Input: in, Count: pl.Count, Offset: pl.Offset}
	if pl.CountParam != nil {
		if l.Count, err = limitInt(params[pl.CountParam.N-1], -1, "LIMIT"); err != nil {
			return nil, err
		}
	}
	if pl.OffsetParam != nil {
		if l.Offset, err = limitInt(params[pl.OffsetParam.N-1], 0, "OFFSET"); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// values binds a VALUES list as a query.
func (b *binder) values(lists []*pg.Node) (engine.Plan, []string, error) {
	var rows [][]engine.Expr
	width := -1
	for _, ln := range lists {
		items := ln.GetList().GetItems()
		if width >= 0 && len(items) != width {
			return nil, nil, engine.Errorf(sqlstate.SyntaxError, "VALUES lists must all be the same length")
		}
		width = len(items)
		var row []engine.Expr
		for _, it := range items {
			e, err := b.expr(it, &exprCtx{clause: "VALUES"})
			if err != nil {
				return nil, nil, err
			}
			row = append(row, e)
		}
		rows = append(rows, row)
	}
	out := make([]engine.Field, width)
	names := make([]string, width)
	for j := 0; j < width; j++ {
		types := make([]engine.Type, len(rows))
		for i := range rows {
			types[i] = rows[i][j].Type()
		}
		t, err := engine.ResultType(types)
		if err != nil {
			return nil, nil, err
		}
		for i := range rows {
			if rows[i][j], err = b.coerce(rows[i][j], t); err != nil {
				return nil, nil, err
			}
		}
		names[j] = fmt.Sprintf("column%d", j+1)
		out[j] = engine.Field{Name: names[j], Type: t}
	}
	return &engine.Values{Rows: rows, Out: out}, names, nil
}

// figureName derives an output column name the way PostgreSQL's FigureColname does;
// strength 2 is a real name, 1 a type name, 0 "?column?".
func figureName(n *pg.Node) (string, int) {
	if n == nil {
		return "?column?", 0
	}
	switch x := n.Node.(type) {
	case *pg.Node_ColumnRef:
		f := x.ColumnRef.Fields
		if s := f[len(f)-1].GetString_(); s != nil {
			return s.Sval, 2
		}
	case *pg.Node_FuncCall:
		return opName(x.FuncCall.Funcname), 2
	case *pg.Node_AExpr:
		if x.AExpr.Kind == pg.A_Expr_Kind_AEXPR_NULLIF {
			return "nullif", 2
		}
	case *pg.Node_TypeCast:
		name, strength := figureName(x.TypeCast.Arg)
		if strength <= 1 {
			tn := x.TypeCast.TypeName.Names
			return tn[len(tn)-1].GetString_().GetSval(), 1
		}
		return name, strength
	case *pg.Node_CaseExpr:
		return "case", 1
	case *pg.Node_AArrayExpr:
		return "array", 2
	case *pg.Node_GroupingFunc:
		return "grouping", 2
	case *pg.Node_SubLink:
		switch x.SubLink.SubLinkType {
		case pg.SubLinkType_EXISTS_SUBLINK:
			return "exists", 2
		case pg.SubLinkType_ARRAY_SUBLINK:
			return "array", 2
		case pg.SubLinkType_EXPR_SUBLINK:
			// the name of the subquery's one column (of its first SELECT)
			sel := x.SubLink.Subselect.GetSelectStmt()
			for sel != nil && sel.Larg != nil {
				sel = sel.Larg
			}
			if sel != nil && len(sel.TargetList) > 0 {
				rt := sel.TargetList[0].GetResTarget()
				if rt.Name != "" {
					return rt.Name, 2
				}
				name, _ := figureName(rt.Val)
				return name, 2
			}
		}
	case *pg.Node_CoalesceExpr:
		return "coalesce", 2
	case *pg.Node_MinMaxExpr:
		if x.MinMaxExpr.Op == pg.MinMaxOp_IS_LEAST {
			return "least", 2
		}
		return "greatest", 2
	case *pg.Node_SqlvalueFunction:
		switch x.SqlvalueFunction.Op {
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
			return "current_timestamp", 2
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
			return "current_date", 2
		case pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
			return "localtimestamp", 2
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_USER:
			return "current_user", 2
		case pg.SQLValueFunctionOp_SVFOP_SESSION_USER:
			return "session_user", 2
		case pg.SQLValueFunctionOp_SVFOP_USER:
			return "user", 2
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:
			return "current_role", 2
		}
	}
	return "?column?", 0
}
