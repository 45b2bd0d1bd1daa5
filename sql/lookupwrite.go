package sql

import (
	"context"
	"errors"
	"fmt"
	"github.com/stratadb/strata/internal/pginterval"
	"io"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

// UPDATE, DELETE and INSERT … ON CONFLICT on lookup tables. Each runs inside
// one store.Rewrite: the table's writers are serialized, the new rows are
// computed by the engine from the table as it is, and they replace the table in
// one catalog batch (keys checked), so a statement is atomic and isolated from
// other writers. Event tables (with a time column) stay append-only.

// lookupTable resolves the target of an UPDATE or DELETE and needs kind on it.
func (b *binder) lookupTable(rv *pg.RangeVar, kind accessKind, verb string) (catalog.TableDef, error) {
	def, err := b.table(rv, kind)
	if err != nil {
		return def, err
	}
	if !store.IsLookup(&def) {
		return def, posErr(&engine.Error{Code: sqlstate.FeatureNotSupported,
			Message: fmt.Sprintf("%s on table %q: tables with a time column are append-only", verb, def.Name),
			Hint:    "Tables created without a time column (lookup tables) take UPDATE, DELETE and INSERT … ON CONFLICT."}, rv.Location)
	}
	return def, nil
}

// tableScope scans every column of def as alias (or its name), the hidden time
// column hidden.
func (b *binder) tableScope(def catalog.TableDef, alias *pg.Alias) (*engine.Scan, *scope) {
	s := scanOf(def)
	names := make([]string, len(s.Out))
	for i, f := range s.Out {
		names[i] = f.Name
	}
	qual := def.Name
	if alias != nil {
		qual = alias.Aliasname
	}
	sc := b.subScope(s, names, qual, nil)
	sc.cols[def.Schema.TimeColumn].hidden = true
	return s, sc
}

// whereCond binds an optional WHERE over sc (nil: every row).
func (b *binder) whereCond(n *pg.Node, sc *scope) (engine.Expr, error) {
	if n == nil {
		return &engine.Const{V: engine.Value{Type: engine.Bool, B: true}}, nil
	}
	cond, err := b.expr(n, &exprCtx{scope: sc, clause: "WHERE"})
	if err != nil {
		return nil, err
	}
	return b.asBool(cond, "WHERE")
}

// setList binds UPDATE's (or DO UPDATE's) SET list over sc: the new value of
// each assigned column (schema index → expression of the column's type).
func (b *binder) setList(def catalog.TableDef, targets []*pg.Node, sc *scope) (map[int]engine.Expr, error) {
	set := map[int]engine.Expr{}
	for _, tn := range targets {
		rt := tn.GetResTarget()
		if len(rt.Indirection) > 0 {
			return nil, posErr(engine.Unsupported("assigning to a part of a column"), rt.Location)
		}
		if _, ok := rt.Val.Node.(*pg.Node_MultiAssignRef); ok {
			return nil, posErr(engine.Unsupported("(a, b) = (…) in SET"), rt.Location)
		}
		i := def.Schema.Index(rt.Name)
		if i < 0 || i == def.Schema.TimeColumn {
			return nil, posErr(engine.Errorf(sqlstate.UndefinedColumn, "column %q of relation %q does not exist", rt.Name, def.Name), rt.Location)
		}
		if _, dup := set[i]; dup {
			return nil, posErr(engine.Errorf(sqlstate.DuplicateColumn, "multiple assignments to same column %q", rt.Name), rt.Location)
		}
		col := def.Schema.Columns[i]
		t := columnType(col)
		if rt.Val.GetSetToDefault() != nil {
			set[i] = &engine.Const{V: engine.NullValue(t)}
			continue
		}
		e, err := b.expr(rt.Val, &exprCtx{scope: sc, clause: "UPDATE"})
		if err != nil {
			return nil, err
		}
		if set[i], err = b.assign(e, t, col.Name); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// update binds UPDATE t SET … [WHERE …] on a lookup table.
func (b *binder) update(us *pg.UpdateStmt) (*bound, []engine.Field, error) {
	switch {
	case len(us.FromClause) > 0:
		return nil, nil, engine.Unsupported("UPDATE … FROM")
	case len(us.ReturningList) > 0:
		return nil, nil, engine.Unsupported("RETURNING")
	case us.WithClause != nil:
		return nil, nil, engine.Unsupported("WITH in UPDATE")
	}
	def, err := b.lookupTable(us.Relation, accessUpdate, "UPDATE")
	if err != nil {
		return nil, nil, err
	}
	if us.WhereClause != nil {
		if err := b.need(access{kind: accessSelect, table: def.Name}); err != nil {
			return nil, nil, err
		}
	}
	scan, sc := b.tableScope(def, us.Relation.Alias)
	cond, err := b.whereCond(us.WhereClause, sc)
	if err != nil {
		return nil, nil, err
	}
	set, err := b.setList(def, us.TargetList, sc)
	if err != nil {
		return nil, nil, err
	}
	// Each column: its new value on the rows WHERE selects, else itself; then
	// whether the row was selected.
	p := &engine.Project{Input: scan}
	for i, f := range scan.Out {
		var e engine.Expr = &engine.ColRef{Index: i, T: f.Type, Name: f.Name}
		if v, ok := set[i]; ok {
			e = &engine.Case{Whens: []engine.When{{Cond: cond, Then: v}}, Else: e, T: f.Type}
		}
		p.Exprs, p.Names = append(p.Exprs, e), append(p.Names, f.Name)
	}
	p.Exprs = append(p.Exprs, &engine.Case{Whens: []engine.When{{Cond: cond, Then: &engine.Const{V: engine.Value{Type: engine.Bool, B: true}}}},
		Else: &engine.Const{V: engine.Value{Type: engine.Bool}}, T: engine.Bool})
	p.Names = append(p.Names, "?updated?")
	return &bound{run: func(ctx context.Context, s *Session, params []engine.Value) (*Result, error) {
		n, err := s.rewriteLookup(ctx, def, p, params, func(cur *storage.Columns, rows *storage.Columns, flags []bool) (*storage.Columns, int) {
			hit := 0
			for _, f := range flags {
				if f {
					hit++
				}
			}
			return rows, hit
		})
		if err != nil {
			return nil, err
		}
		return &Result{Tag: fmt.Sprintf("UPDATE %d", n)}, nil
	}}, nil, nil
}

// deleteStmt binds DELETE FROM t [WHERE …] on a lookup table.
func (b *binder) deleteStmt(ds *pg.DeleteStmt) (*bound, []engine.Field, error) {
	switch {
	case len(ds.UsingClause) > 0:
		return nil, nil, engine.Unsupported("DELETE … USING")
	case len(ds.ReturningList) > 0:
		return nil, nil, engine.Unsupported("RETURNING")
	case ds.WithClause != nil:
		return nil, nil, engine.Unsupported("WITH in DELETE")
	}
	def, err := b.lookupTable(ds.Relation, accessDelete, "DELETE")
	if err != nil {
		return nil, nil, err
	}
	if ds.WhereClause != nil {
		if err := b.need(access{kind: accessSelect, table: def.Name}); err != nil {
			return nil, nil, err
		}
	}
	scan, sc := b.tableScope(def, ds.Relation.Alias)
	cond, err := b.whereCond(ds.WhereClause, sc)
	if err != nil {
		return nil, nil, err
	}
	// Every row, and whether WHERE selects it (NULL does not).
	p := &engine.Project{Input: scan}
	for i, f := range scan.Out {
		p.Exprs, p.Names = append(p.Exprs, &engine.ColRef{Index: i, T: f.Type, Name: f.Name}), append(p.Names, f.Name)
	}
	p.Exprs = append(p.Exprs, &engine.Case{Whens: []engine.When{{Cond: cond, Then: &engine.Const{V: engine.Value{Type: engine.Bool, B: true}}}},
		Else: &engine.Const{V: engine.Value{Type: engine.Bool}}, T: engine.Bool})
	p.Names = append(p.Names, "?deleted?")
	return &bound{run: func(ctx context.Context, s *Session, params []engine.Value) (*Result, error) {
		n, err := s.rewriteLookup(ctx, def, p, params, func(cur *storage.Columns, rows *storage.Columns, flags []bool) (*storage.Columns, int) {
			kept := storage.NewColumns(rows.Schema, rows.Len)
			for i, del := range flags {
				if !del {
					appendRow(kept, rows, i)
				}
			}
			return kept, rows.Len - kept.Len
		})
		if err != nil {
			return nil, err
		}
		return &Result{Tag: fmt.Sprintf("DELETE %d", n)}, nil
	}}, nil, nil
}

// rewriteLookup runs plan p (the table's columns, then a flag column) over the
// lookup table inside a store.Rewrite and lets apply turn its rows into the new
// table; it returns apply's count.
func (s *Session) rewriteLookup(ctx context.Context, def catalog.TableDef, p engine.Plan, params []engine.Value,
	apply func(cur, rows *storage.Columns, flags []bool) (*storage.Columns, int)) (int, error) {
	var n int
	err := s.db.store.Rewrite(ctx, def.Name, func(cur *storage.Columns) (*storage.Columns, error) {
		// The table's writers are serialized by Rewrite, so the snapshot the plan
		// reads holds exactly cur's rows.
		rows, flags, err := s.collect(ctx, &def, p, params)
		if err != nil {
			return nil, err
		}
		if rows.Len != cur.Len {
			return nil, fmt.Errorf("BUG: %s: the plan read %d rows, the table holds %d", def.Name, rows.Len, cur.Len)
		}
		out, k := apply(cur, rows, flags)
		if err := checkWrite(&def, out); err != nil {
			return nil, err
		}
		n = k
		return out, nil
	})
	if err != nil {
		return 0, writeErr(err)
	}
	return n, nil
}

// collect runs p, whose fields are def's columns followed by one boolean flag,
// and returns the rows and the flags (NULL as false).
func (s *Session) collect(ctx context.Context, def *catalog.TableDef, p engine.Plan, params []engine.Value) (*storage.Columns, []bool, error) {
	now := time.Now()
	op, snaps, err := s.plan(ctx, p, params, now)
	if err != nil {
		return nil, nil, err
	}
	defer release(snaps)
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := engine.Execute(ctx, op, s.execOptions(now))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols := storage.NewColumns(&def.Schema, 0)
	var flags []bool
	nc := len(def.Schema.Columns)
	for {
		rec, err := rows.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		n := int(rec.NumRows())
		for j := 0; j < nc; j++ {
			if err := appendArrow(cols, j, rec.Column(j), n); err != nil {
				rec.Release()
				return nil, nil, err
			}
		}
		fc := rec.Column(nc)
		for i := 0; i < n; i++ {
			flags = append(flags, !fc.IsNull(i) && boolAt(fc, i))
		}
		cols.Len += n
		rec.Release()
	}
	return cols, flags, nil
}

// appendRow appends row i of src to dst (same schema).
func appendRow(dst, src *storage.Columns, i int) {
	for c := range dst.Cols {
		d, sd := &dst.Cols[c], &src.Cols[c]
		switch dst.Schema.Columns[c].Type {
		case storage.TypeString:
			d.String = append(d.String, sd.String[i])
		case storage.TypeFloat64:
			d.Float64 = append(d.Float64, sd.Float64[i])
		case storage.TypeBool:
			d.Bool = append(d.Bool, sd.Bool[i])
		default:
			d.Int64 = append(d.Int64, sd.Int64[i])
		}
		if src.IsNull(c, i) {
			dst.SetNull(c, dst.Len)
		}
	}
	dst.Len++
}

// conflictKey returns the key of def that ON CONFLICT (cols) names, or -1 for
// none given (any key).
func conflictKey(def *catalog.TableDef, keys []store.Key, oc *pg.OnConflictClause) (int, error) {
	if oc.Infer == nil || len(oc.Infer.IndexElems) == 0 {
		if oc.Infer != nil && oc.Infer.Conname != "" {
			for k, key := range keys {
				if key.Name == oc.Infer.Conname {
					return k, nil
				}
			}
			return 0, engine.Errorf(sqlstate.UndefinedObject, "constraint %q for table %q does not exist", oc.Infer.Conname, def.Name)
		}
		if oc.Action == pg.OnConflictAction_ONCONFLICT_UPDATE {
			return 0, &engine.Error{Code: sqlstate.SyntaxError, Message: "ON CONFLICT DO UPDATE requires inference specification or constraint name",
				Hint: "For example, ON CONFLICT (column_name)."}
		}
		return -1, nil
	}
	if oc.Infer.WhereClause != nil {
		return 0, engine.Unsupported("ON CONFLICT … WHERE (partial unique indexes)")
	}
	var cols []int
	for _, n := range oc.Infer.IndexElems {
		ie := n.GetIndexElem()
		if ie == nil || ie.Name == "" {
			return 0, engine.Unsupported("ON CONFLICT on an expression")
		}
		i := def.Schema.Index(ie.Name)
		if i < 0 || i == def.Schema.TimeColumn {
			return 0, engine.Errorf(sqlstate.UndefinedColumn, "column %q does not exist", ie.Name)
		}
		cols = append(cols, i)
	}
	slices.Sort(cols)
	for k, key := range keys {
		kc := slices.Sorted(slices.Values(key.Columns))
		if slices.Equal(kc, slices.Compact(cols)) {
			return k, nil
		}
	}
	return 0, engine.Errorf(sqlstate.InvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
}

// boolAt reads row i of a boolean arrow column.
func boolAt(a arrow.Array, i int) bool {
	b, ok := a.(*array.Boolean)
	return ok && b.Value(i)
}

// upsert is a bound ON CONFLICT clause.
type upsert struct {
	key    int  // index into keys; -1: any key (DO NOTHING without a target)
	update bool // DO UPDATE; else DO NOTHING
	keys   []store.Key
	// set (schema index → expression) and where are DO UPDATE's, over a row of
	// the table's columns followed by the proposed row's (EXCLUDED).
	set   map[int]engine.Expr
	where engine.Expr // nil: every conflicting row is updated
	pairs []engine.Field
}

// onConflict binds INSERT … ON CONFLICT on a lookup table.
func (b *binder) onConflict(def catalog.TableDef, is *pg.InsertStmt) (*upsert, error) {
	oc := is.OnConflictClause
	if !store.IsLookup(&def) {
		return nil, posErr(&engine.Error{Code: sqlstate.FeatureNotSupported,
			Message: fmt.Sprintf("ON CONFLICT on table %q: tables with a time column enforce no keys", def.Name),
			Hint:    "Tables created without a time column (lookup tables) enforce PRIMARY KEY and UNIQUE."}, oc.Location)
	}
	keys, err := store.Keys(&def)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, engine.Errorf(sqlstate.InvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
	}
	up := &upsert{keys: keys, update: oc.Action == pg.OnConflictAction_ONCONFLICT_UPDATE}
	if up.key, err = conflictKey(&def, keys, oc); err != nil {
		return nil, err
	}
	if !up.update {
		return up, nil
	}
	if err := b.need(access{kind: accessUpdate, table: def.Name}); err != nil {
		return nil, err
	}
	// The scope: the existing row (as the table or its alias), then EXCLUDED.
	qual := def.Name
	if is.Relation.Alias != nil {
		qual = is.Relation.Alias.Aliasname
	}
	sc := &scope{}
	for _, q := range []string{qual, "excluded"} {
		for i, c := range def.Schema.Columns {
			sc.cols = append(sc.cols, column{qual: q, name: c.Name, t: columnType(c), hidden: i == def.Schema.TimeColumn})
			up.pairs = append(up.pairs, engine.Field{Name: c.Name, Type: columnType(c)})
		}
	}
	if up.set, err = b.setList(def, oc.TargetList, sc); err != nil {
		return nil, err
	}
	if oc.WhereClause != nil {
		if up.where, err = b.whereCond(oc.WhereClause, sc); err != nil {
			return nil, err
		}
	}
	return up, nil
}

// upsert inserts rows into lookup table def, resolving conflicts on up's key as
// ON CONFLICT says, all in one Rewrite.
func (s *Session) upsert(ctx context.Context, def catalog.TableDef, rows *storage.Columns, up *upsert, params []engine.Value) (*Result, error) {
	fillLookupTime(&def, rows)
	if err := checkWrite(&def, rows); err != nil {
		return nil, err
	}
	var n int
	err := s.db.store.Rewrite(ctx, def.Name, func(cur *storage.Columns) (*storage.Columns, error) {
		out := storage.NewColumns(&def.Schema, cur.Len+rows.Len)
		out.Append(cur)
		// Where each key value is, in out; and which rows of out this statement
		// inserted or updated (a second proposal for one of them is an error for DO
		// UPDATE, as in PostgreSQL).
		index := make([]map[string]int, len(up.keys))
		for k := range up.keys {
			index[k] = make(map[string]int, out.Len)
			for i := 0; i < out.Len; i++ {
				if ks, ok := store.KeyString(out, &up.keys[k], i); ok {
					index[k][ks] = i
				}
			}
		}
		touched := map[int]bool{}
		var pairs [][2]int // (row of out, row of rows) to update
		n = 0
		for r := 0; r < rows.Len; r++ {
			conflict := -1
			for k := range up.keys {
				if up.key >= 0 && k != up.key {
					continue
				}
				if ks, ok := store.KeyString(rows, &up.keys[k], r); ok {
					if i, hit := index[k][ks]; hit {
						conflict = i
						break
					}
				}
			}
			if conflict < 0 {
				appendRow(out, rows, r)
				i := out.Len - 1
				for k := range up.keys {
					if ks, ok := store.KeyString(out, &up.keys[k], i); ok {
						index[k][ks] = i
					}
				}
				touched[i] = true
				n++
				continue
			}
			if !up.update {
				continue
			}
			if touched[conflict] {
				return nil, &engine.Error{Code: sqlstate.CardinalityViolation, Message: "ON CONFLICT DO UPDATE command cannot affect row a second time",
					Hint: "Ensure that no rows proposed for insertion within the same command have duplicate constrained values."}
			}
			touched[conflict] = true
			pairs = append(pairs, [2]int{conflict, r})
		}
		if len(pairs) > 0 {
			k, err := s.applyConflictUpdates(ctx, &def, out, rows, pairs, up, params)
			if err != nil {
				return nil, err
			}
			n += k
		}
		if err := checkWrite(&def, out); err != nil {
			return nil, err
		}
		return out, nil
	})
	if err != nil {
		return nil, writeErr(err)
	}
	return &Result{Tag: fmt.Sprintf("INSERT 0 %d", n)}, nil
}

// applyConflictUpdates evaluates DO UPDATE's SET and WHERE over the (existing,
// proposed) row pairs and writes the new values into out; it returns how many
// rows it updated (WHERE may skip some).
func (s *Session) applyConflictUpdates(ctx context.Context, def *catalog.TableDef, out, rows *storage.Columns, pairs [][2]int,
	up *upsert, params []engine.Value) (int, error) {
	vals := &engine.Values{Out: up.pairs}
	for _, pr := range pairs {
		row := make([]engine.Expr, 0, len(up.pairs))
		for _, src := range []struct {
			c *storage.Columns
			i int
		}{{out, pr[0]}, {rows, pr[1]}} {
			for c := range def.Schema.Columns {
				row = append(row, &engine.Const{V: cellValue(src.c, c, src.i, up.pairs[c].Type)})
			}
		}
		vals.Rows = append(vals.Rows, row)
	}
	nc := len(def.Schema.Columns)
	p := &engine.Project{Input: vals}
	for c := 0; c < nc; c++ {
		var e engine.Expr = &engine.ColRef{Index: c, T: up.pairs[c].Type, Name: up.pairs[c].Name}
		if v, ok := up.set[c]; ok {
			e = v
		}
		p.Exprs, p.Names = append(p.Exprs, e), append(p.Names, up.pairs[c].Name)
	}
	var flag engine.Expr = &engine.Const{V: engine.Value{Type: engine.Bool, B: true}}
	if up.where != nil {
		flag = up.where
	}
	p.Exprs, p.Names = append(p.Exprs, flag), append(p.Names, "?update?")
	newRows, flags, err := s.collect(ctx, def, p, params)
	if err != nil {
		return 0, err
	}
	n := 0
	for k, pr := range pairs {
		if !flags[k] {
			continue
		}
		n++
		setRow(out, pr[0], newRows, k)
	}
	return n, nil
}

// cellValue returns row i of column c of cols as a Value of type t.
func cellValue(cols *storage.Columns, c, i int, t engine.Type) engine.Value {
	v := engine.Value{Type: t}
	if cols.IsNull(c, i) {
		v.Null = true
		return v
	}
	d := &cols.Cols[c]
	switch cols.Schema.Columns[c].Type {
	case storage.TypeString:
		if t.ID == engine.TypeInterval { // kept as its output text (internal/pginterval)
			v.Months, v.Days, v.I, _ = pginterval.Parse(d.String[i])
			break
		}
		if t.ID == engine.TypeNumeric { // kept as its canonical text (storage/numeric.go)
			v = engine.NumericTextValue(d.String[i])
			break
		}
		v.S = d.String[i]
	case storage.TypeFloat64:
		v.F = d.Float64[i]
	case storage.TypeBool:
		v.B = d.Bool[i]
	default:
		v.I = d.Int64[i]
	}
	return v
}

// setRow overwrites row i of dst with row j of src (same schema).
func setRow(dst *storage.Columns, i int, src *storage.Columns, j int) {
	for c := range dst.Cols {
		d, sd := &dst.Cols[c], &src.Cols[c]
		switch dst.Schema.Columns[c].Type {
		case storage.TypeString:
			d.String[i] = sd.String[j]
		case storage.TypeFloat64:
			d.Float64[i] = sd.Float64[j]
		case storage.TypeBool:
			d.Bool[i] = sd.Bool[j]
		default:
			d.Int64[i] = sd.Int64[j]
		}
		null := src.IsNull(c, j)
		if null {
			dst.SetNull(c, i)
		} else if i < len(d.Null) {
			d.Null[i] = false
		}
	}
}
