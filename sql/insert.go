package sql

import (
	"context"
	"errors"
	"fmt"
	"github.com/stratadb/strata/internal/pginterval"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql/opt"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/rollup"
	"github.com/stratadb/strata/storage/store"
)

// assign converts e to the type of a column it is stored into (PostgreSQL's
// assignment cast: numbers convert among themselves, anything converts to text, text
// does not silently become a number or a timestamp).
func (b *binder) assign(e engine.Expr, t engine.Type, col string) (engine.Expr, error) {
	et := e.Type()
	if et == t || et == engine.Unknown {
		return b.coerce(e, t)
	}
	ok := (et.IsNumeric() && t.IsNumeric()) || (et.IsTime() && t.IsTime()) || t == engine.Text ||
		(et == engine.Date && t.IsTime())
	if !ok {
		return nil, &engine.Error{Code: sqlstate.DatatypeMismatch,
			Message: fmt.Sprintf("column %q is of type %s but expression is of type %s", col, t, et),
			Hint:    "You will need to rewrite or cast the expression."}
	}
	return &engine.Cast{X: e, T: t}, nil
}

func (b *binder) insert(is *pg.InsertStmt) (*bound, []engine.Field, error) {
	switch {
	case len(is.ReturningList) > 0:
		return nil, nil, engine.Unsupported("RETURNING")
	case is.WithClause != nil:
		return nil, nil, engine.Unsupported("WITH in INSERT")
	}
	def, err := b.table(is.Relation, accessInsert)
	if err != nil {
		return nil, nil, err
	}
	// A rollup table takes its declared columns; Session.store rolls the rows up.
	spec, err := rollup.Of(def)
	if err != nil {
		return nil, nil, err
	}
	if spec != nil {
		def.Schema = *spec.Logical
	}
	var up *upsert
	if is.OnConflictClause != nil {
		if up, err = b.onConflict(def, is); err != nil {
			return nil, nil, err
		}
	}
	schema := &def.Schema
	var targets []int
	hidden := -1 // a lookup table's hidden time column
	if hiddenTime(def) {
		hidden = schema.TimeColumn
	}
	if len(is.Cols) == 0 {
		for i := range schema.Columns {
			if i != hidden {
				targets = append(targets, i)
			}
		}
	}
	seen := map[int]bool{}
	for _, cn := range is.Cols {
		rt := cn.GetResTarget()
		i := schema.Index(rt.Name)
		if i < 0 || i == hidden {
			return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedColumn, "column %q of relation %q does not exist", rt.Name, def.Name), rt.Location)
		}
		if seen[i] {
			return nil, nil, posErr(engine.Errorf(sqlstate.DuplicateColumn, "column %q specified more than once", rt.Name), rt.Location)
		}
		seen[i] = true
		targets = append(targets, i)
	}
	sel := is.SelectStmt.GetSelectStmt()
	if sel == nil {
		return nil, nil, engine.Unsupported("INSERT DEFAULT VALUES")
	}
	plainValues := len(sel.ValuesLists) > 0 && sel.WithClause == nil && len(sel.SortClause) == 0 &&
		sel.LimitCount == nil && sel.LimitOffset == nil
	if plainValues {
		rows := make([][]engine.Expr, 0, len(sel.ValuesLists))
		for _, ln := range sel.ValuesLists {
			items := ln.GetList().GetItems()
			if len(items) > len(targets) {
				return nil, nil, engine.Errorf(sqlstate.SyntaxError, "INSERT has more expressions than target columns")
			}
			if len(items) < len(targets) && len(is.Cols) > 0 {
				return nil, nil, engine.Errorf(sqlstate.SyntaxError, "INSERT has more target columns than expressions")
			}
			row := make([]engine.Expr, len(targets))
			for j := range targets {
				col := schema.Columns[targets[j]]
				t := columnType(col)
				if j >= len(items) || items[j].GetSetToDefault() != nil {
					row[j] = &engine.Const{V: engine.NullValue(t)}
					continue
				}
				e, err := b.expr(items[j], &exprCtx{clause: "VALUES"})
				if err != nil {
					return nil, nil, err
				}
				if row[j], err = b.assign(e, t, col.Name); err != nil {
					return nil, nil, err
				}
			}
			rows = append(rows, row)
		}
		return &bound{run: func(ctx context.Context, s *Session, params []engine.Value) (*Result, error) {
			return s.insertValues(ctx, def, targets, rows, params, up)
		}}, nil, nil
	}
	for _, t := range targets {
		b.targetTypes = append(b.targetTypes, columnType(schema.Columns[t]))
	}
	p, _, err := b.selectStmt(sel)
	if err != nil {
		return nil, nil, err
	}
	fields := p.Fields()
	if len(fields) > len(targets) {
		return nil, nil, engine.Errorf(sqlstate.SyntaxError, "INSERT has more expressions than target columns")
	}
	if len(fields) < len(targets) {
		targets = targets[:len(fields)]
	}
	proj := &engine.Project{Input: p}
	for j, f := range fields {
		col := schema.Columns[targets[j]]
		e, err := b.assign(&engine.ColRef{Index: j, T: f.Type, Name: f.Name}, columnType(col), col.Name)
		if err != nil {
			return nil, nil, err
		}
		proj.Exprs = append(proj.Exprs, e)
		proj.Names = append(proj.Names, col.Name)
	}
	return &bound{run: func(ctx context.Context, s *Session, params []engine.Value) (*Result, error) {
		return s.insertSelect(ctx, def, targets, proj, params, up)
	}}, nil, nil
}

// newInsertColumns returns an empty Columns for def.
func newInsertColumns(def *catalog.TableDef, n int) *storage.Columns {
	return storage.NewColumns(&def.Schema, n)
}

// appendValue appends v to column j of cols (v already has the column's SQL type).
func appendValue(cols *storage.Columns, j int, v engine.Value) {
	d := &cols.Cols[j]
	row := cols.Len
	switch cols.Schema.Columns[j].Type {
	case storage.TypeInt64, storage.TypeTimestamp:
		d.Int64 = append(d.Int64, v.I)
	case storage.TypeFloat64:
		d.Float64 = append(d.Float64, v.F)
	case storage.TypeBool:
		d.Bool = append(d.Bool, v.B)
	case storage.TypeString:
		if v.Type.ID == engine.TypeInterval { // kept as its output text (internal/pginterval)
			if v.Null {
				d.String = append(d.String, "")
			} else {
				d.String = append(d.String, string(pginterval.Append(nil, v.Months, v.Days, v.I)))
			}
			break
		}
		if v.Type.ID == engine.TypeNumeric && !v.Null { // exact text; checkWrite canonicalizes it
			d.String = append(d.String, engine.NumericValueText(v))
			break
		}
		d.String = append(d.String, v.S)
	}
	if v.Null {
		cols.SetNull(j, row)
	}
}

// checkWrite checks rows about to be stored in def's table: 23502 for a NULL in a
// NOT NULL column, and varchar(n) lengths as PostgreSQL's assignment to varchar(n)
// does (a longer value whose excess is spaces is cut to n characters in place,
// any other longer value is 22001).
func checkWrite(def *catalog.TableDef, cols *storage.Columns) error {
	for j, c := range def.Schema.Columns {
		if c.NotNull {
			for _, isNull := range cols.Cols[j].Null {
				if isNull {
					return &engine.Error{Code: sqlstate.NotNullViolation,
						Message: fmt.Sprintf("null value in column %q of relation %q violates not-null constraint", c.Name, def.Name)}
				}
			}
		}
		if err := canonicalNumerics(c, &cols.Cols[j]); err != nil {
			return err
		}
		if n, ok := varcharMax(c); ok {
			for i, s := range cols.Cols[j].String {
				if c.SQLType == "bpchar" { // kept without trailing spaces (engine/bpchar.go)
					s = strings.TrimRight(s, " ")
					cols.Cols[j].String[i] = s
				}
				if len(s) <= n {
					continue // no more characters than bytes
				}
				cut, ok := fitVarchar(s, n)
				if !ok {
					return &engine.Error{Code: sqlstate.StringDataRightTruncation,
						Message: fmt.Sprintf("value too long for type %s(%d)", infoDataType[c.SQLType], n)}
				}
				cols.Cols[j].String[i] = cut
			}
		}
	}
	return nil
}

// canonicalNumerics rewrites the values of a numeric column kept as text into
// canonical text (storage.CanonicalNumeric), rounded to the column's scale: 22003
// for a value that does not fit numeric(p,s), as PostgreSQL's assignment does.
func canonicalNumerics(c storage.Column, d *storage.ColumnData) error {
	prec, scale, hasMod, ok := c.NumericTextColumn()
	if !ok {
		return nil
	}
	var buf []byte
	for i, s := range d.String {
		if i < len(d.Null) && d.Null[i] {
			continue
		}
		var bad storage.NumericError
		buf, bad = storage.CanonicalNumeric(buf[:0], s, prec, scale, hasMod)
		switch bad {
		case storage.NumericSyntax:
			return &engine.Error{Code: sqlstate.InvalidTextRepresentation,
				Message: fmt.Sprintf("invalid input syntax for type numeric: %q", s)}
		case storage.NumericOverflow:
			return &engine.Error{Code: sqlstate.NumericValueOutOfRange, Message: "numeric field overflow",
				Detail: storage.NumericOverflowDetail(prec, scale, s)}
		}
		if string(buf) != s {
			d.String[i] = string(buf)
		}
	}
	return nil
}

func (s *Session) insertValues(ctx context.Context, def catalog.TableDef, targets []int, rows [][]engine.Expr, params []engine.Value, up *upsert) (*Result, error) {
	now := time.Now()
	cols := newInsertColumns(&def, len(rows))
	vals := make([]engine.Value, len(def.Schema.Columns))
	for _, row := range rows {
		for j, c := range def.Schema.Columns {
			vals[j] = engine.NullValue(columnType(c))
		}
		for k, e := range row {
			e, err := opt.RewriteExpr(e, func(x engine.Expr) (engine.Expr, error) {
				return s.bindExpr(x, params), nil
			})
			if err != nil {
				return nil, err
			}
			v, err := engine.EvalConst(e, now.In(s.zone()))
			if err != nil {
				return nil, err
			}
			vals[targets[k]] = v
		}
		for j := range vals {
			appendValue(cols, j, vals[j])
		}
		cols.Len++
	}
	if up != nil {
		return s.upsert(ctx, def, cols, up, params)
	}
	return s.store(ctx, &def, cols)
}

func (s *Session) insertSelect(ctx context.Context, def catalog.TableDef, targets []int, p engine.Plan, params []engine.Value, up *upsert) (*Result, error) {
	now := time.Now()
	op, snaps, err := s.plan(ctx, p, params, now)
	if err != nil {
		return nil, err
	}
	defer release(snaps)
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := engine.Execute(ctx, op, s.execOptions(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := newInsertColumns(&def, 1024)
	where := make([]int, len(def.Schema.Columns)) // table column -> batch column, or -1
	for j := range where {
		where[j] = -1
	}
	for k, t := range targets {
		where[t] = k
	}
	for {
		rec, err := rows.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		n := int(rec.NumRows())
		for j := range def.Schema.Columns {
			if where[j] < 0 {
				appendNulls(cols, j, n)
				continue
			}
			if err := appendArrow(cols, j, rec.Column(where[j]), n); err != nil {
				rec.Release()
				return nil, err
			}
		}
		cols.Len += n
		rec.Release()
	}
	if up != nil {
		return s.upsert(ctx, def, cols, up, params)
	}
	return s.store(ctx, &def, cols)
}

// appendNulls appends n NULLs to column j of cols; cols.Len is the row number of the
// first one.
func appendNulls(cols *storage.Columns, j, n int) {
	d := &cols.Cols[j]
	for i := 0; i < n; i++ {
		switch cols.Schema.Columns[j].Type {
		case storage.TypeInt64, storage.TypeTimestamp:
			d.Int64 = append(d.Int64, 0)
		case storage.TypeFloat64:
			d.Float64 = append(d.Float64, 0)
		case storage.TypeBool:
			d.Bool = append(d.Bool, false)
		case storage.TypeString:
			d.String = append(d.String, "")
		}
		cols.SetNull(j, cols.Len+i)
	}
}

// appendArrow appends the n values of arr to column j of cols; cols.Len is the row
// number of the first one. The array type is switched on once per batch, not per row.
func appendArrow(cols *storage.Columns, j int, arr arrow.Array, n int) error {
	d := &cols.Cols[j]
	base := cols.Len
	switch a := arr.(type) {
	case *array.Dictionary:
		strs, ok := a.Dictionary().(*array.String)
		if !ok {
			return fmt.Errorf("BUG: dictionary of %s", a.Dictionary().DataType())
		}
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				d.String = append(d.String, "")
				continue
			}
			d.String = append(d.String, strs.Value(a.GetValueIndex(i)))
		}
	case *array.Int64:
		d.Int64 = append(d.Int64, a.Int64Values()[:n]...)
	case *engine.RegArray: // an oid (the catalogs' oid columns) into a bigint column
		d.Int64 = append(d.Int64, a.Int64Values()[:n]...)
	case *array.Timestamp:
		for _, v := range a.TimestampValues()[:n] {
			d.Int64 = append(d.Int64, int64(v))
		}
	case *array.Date32: // a date column: days
		for _, v := range a.Date32Values()[:n] {
			d.Int64 = append(d.Int64, int64(v))
		}
	case *array.Boolean:
		for i := 0; i < n; i++ {
			d.Bool = append(d.Bool, a.Value(i))
		}
	case *array.Float64:
		if cols.Schema.Columns[j].Type == storage.TypeString { // a numeric without exact text
			for _, f := range a.Float64Values()[:n] {
				d.String = append(d.String, engine.FloatNumericText(f)) // NULL rows: canonicalized, then ignored
			}
			break
		}
		d.Float64 = append(d.Float64, a.Float64Values()[:n]...)
	case *array.String:
		if cols.Schema.Columns[j].Type == storage.TypeFloat64 { // an exact numeric's text (engine/numeric.go)
			for i := 0; i < n; i++ {
				f, _ := strconv.ParseFloat(a.Value(i), 64) // NULL rows: "", 0
				d.Float64 = append(d.Float64, f)
			}
			break
		}
		for i := 0; i < n; i++ {
			d.String = append(d.String, a.Value(i))
		}
	case *array.MonthDayNanoInterval: // an interval column: its output text (internal/pginterval)
		for i, v := range a.MonthDayNanoIntervalValues()[:n] {
			if a.IsNull(i) {
				d.String = append(d.String, "")
				continue
			}
			d.String = append(d.String, string(pginterval.Append(nil, v.Months, v.Days, engine.IntervalMicros(v))))
		}
	case *array.Null:
		appendNulls(cols, j, n)
		return nil
	default:
		return fmt.Errorf("BUG: INSERT ... SELECT got a %s column for %s", arr.DataType(), cols.Schema.Columns[j].Name)
	}
	if arr.NullN() > 0 {
		for i := 0; i < n; i++ {
			if arr.IsNull(i) {
				cols.SetNull(j, base+i)
			}
		}
	}
	return nil
}

// store appends cols to def's table and compacts it when appends left it fragmented.
func (s *Session) store(ctx context.Context, def *catalog.TableDef, cols *storage.Columns) (*Result, error) {
	if store.IsLookup(def) {
		fillLookupTime(def, cols)
	}
	if err := checkWrite(def, cols); err != nil {
		return nil, err
	}
	stored := cols
	if cur, ok := s.db.store.Table(def.Name); ok {
		spec, err := rollup.Of(cur)
		if err != nil {
			return nil, err
		}
		if spec != nil {
			stored = spec.Reduce(cols)
		}
	}
	if stored.Len > 0 {
		if err := s.db.store.Append(ctx, def.Name, stored); err != nil {
			return nil, writeErr(fmt.Errorf("insert into %s: %w", def.Name, err))
		}
	}
	res := &Result{Tag: fmt.Sprintf("INSERT 0 %d", cols.Len)}
	if cols.Len > 0 {
		if err := s.db.maybeCompact(ctx, def); err != nil {
			res.Notices = append(res.Notices, err.Error())
		}
	}
	return res, nil
}
