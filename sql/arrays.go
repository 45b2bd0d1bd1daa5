package sql

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql/opt"
)

// Arrays, as far as clients' catalog SQL uses them. strata's one array type is
// text[] (engine/arrays.go: ARRAY(SELECT …) in subquery.go, '{…}'::text[],
// array_to_string); the arrays of string_to_array(s, delim) and parse_ident(s),
// which are not values of it, exist only while
// binding (arrayExpr), and what is done with them becomes a function of their
// arguments: a subscript a[i], array_length(a, 1), array_upper(a, 1),
// array_lower(a, 1) and cardinality(a) (engine's string_to_array_* and
// parse_ident_* functions). Such an array may also be a FROM item
// (FROM string_to_array(…) s: one row, s names the array). Grafana's query
// builder lists tables and columns with exactly this:
//
//	quote_ident(table_schema) IN (SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
//	  FROM generate_series(array_lower(string_to_array(current_setting('search_path'),','),1),
//	                       array_upper(string_to_array(current_setting('search_path'),','),1)) AS i,
//	       string_to_array(current_setting('search_path'),',') s)
//
// Any other use of such an array value (selecting it, comparing it, passing it
// to another function) is refused with 0A000.

// arrayExpr is the array of string_to_array(args[0], args[1]) or
// parse_ident(args[0]), or a constant array (consts, for current_schemas).
type arrayExpr struct {
	fn     string // "string_to_array", "parse_ident" or "" (consts)
	args   []engine.Expr
	consts []string
	loc    int32
}

func (a *arrayExpr) Type() engine.Type { return engine.Text } // never reaches the engine
func (a *arrayExpr) String() string {
	if a.fn == "" {
		return "'{" + strings.Join(a.consts, ",") + "}'"
	}
	s := a.fn + "("
	for i, x := range a.args {
		if i > 0 {
			s += ", "
		}
		s += x.String()
	}
	return s + ")"
}

// arrayFunc binds the functions that make or take an array; ok is false for any
// other function.
func (b *binder) arrayFunc(fc *pg.FuncCall, name string, c *exprCtx) (engine.Expr, bool, error) {
	switch name {
	case "current_schemas":
		// current_schemas(include_implicit): the search path's schemas that exist,
		// pg_catalog first when implicit ones are included.
		if len(fc.Args) != 1 {
			return nil, false, nil
		}
		e, err := b.expr(fc.Args[0], c)
		if err != nil {
			return nil, true, err
		}
		k, ok := e.(*engine.Const)
		if !ok || k.V.Type != engine.Bool {
			return nil, true, posErr(engine.Unsupported("current_schemas of a non-constant"), fc.Location)
		}
		a := &arrayExpr{consts: []string{"public"}, loc: fc.Location}
		if !k.V.Null && k.V.B {
			a.consts = []string{"pg_catalog", "public"}
		}
		return a, true, nil
	case "string_to_array", "parse_ident":
		want := 2
		if name == "parse_ident" {
			want = 1
		}
		// parse_ident(s, strict) and string_to_array(s, d, null_string) are not supported.
		if len(fc.Args) != want {
			return nil, true, posErr(engine.Unsupported(name+" with these arguments"), fc.Location)
		}
		a := &arrayExpr{fn: name, loc: fc.Location}
		for _, n := range fc.Args {
			e, err := b.expr(n, c)
			if err != nil {
				return nil, true, err
			}
			if e, err = b.coerce(e, engine.Text); err != nil {
				return nil, true, err
			}
			a.args = append(a.args, e)
		}
		return a, true, nil
	case "array_length", "array_upper", "array_lower", "cardinality":
		if len(fc.Args) == 0 {
			return nil, false, nil
		}
		e, err := b.expr(fc.Args[0], c)
		if err != nil {
			return nil, true, err
		}
		a, ok := e.(*arrayExpr)
		if !ok && e.Type().IsArray() {
			x, err := b.arraySize(fc, name, e, c)
			return x, true, err
		}
		if !ok {
			return nil, true, posErr(engine.Unsupported(name+" of this array"), fc.Location)
		}
		op := map[string]string{"array_length": "length", "array_upper": "length", "array_lower": "lower", "cardinality": "cardinality"}[name]
		if name != "cardinality" {
			if len(fc.Args) != 2 {
				return nil, true, posErr(engine.Errorf(sqlstate.UndefinedFunction, "function %s requires an array and a dimension", name), fc.Location)
			}
			dim, err := b.expr(fc.Args[1], c)
			if err != nil {
				return nil, true, err
			}
			k, ok := dim.(*engine.Const)
			if !ok || k.V.Null || !k.V.Type.IsInteger() {
				return nil, true, posErr(engine.Unsupported(name+" with a dimension that is not an integer constant"), fc.Location)
			}
			if k.V.I != 1 {
				// These arrays have one dimension: any other is NULL, as in PostgreSQL.
				return &engine.Const{V: engine.NullValue(engine.Int32)}, true, nil
			}
		} else if len(fc.Args) != 1 {
			return nil, true, posErr(engine.Errorf(sqlstate.UndefinedFunction, "function cardinality takes one array"), fc.Location)
		}
		if a.fn == "" {
			n := int64(len(a.consts))
			v := engine.Value{Type: engine.Int32, I: n}
			switch {
			case op == "lower":
				v.I = 1
				v.Null = n == 0
			case op == "length":
				v.Null = n == 0
			}
			return &engine.Const{V: v}, true, nil
		}
		x, err := b.call(a.fn+"_"+op, a.args, fc.Location)
		return x, true, err
	}
	return nil, false, nil
}

// indirection binds a subscript, arr[i], of an arrayExpr.
func (b *binder) indirection(ind *pg.A_Indirection, c *exprCtx) (engine.Expr, error) {
	e, err := b.expr(ind.Arg, c)
	if err != nil {
		return nil, err
	}
	for _, n := range ind.Indirection {
		if f := n.GetString_(); f != nil && e.Type() == engine.Text {
			// (r).x, (r).n of a record information_schema._pg_expandarray made
			pos, ok := map[string]int64{"x": 0, "n": 1}[f.Sval]
			if !ok {
				return nil, engine.Errorf(sqlstate.UndefinedColumn, "column %q not found in data type record", f.Sval)
			}
			if e, err = b.call(engine.ExpandArrayField, []engine.Expr{e, &engine.Const{V: engine.Value{Type: engine.Int64, I: pos}}}, 0); err != nil {
				return nil, err
			}
			continue
		}
		idx := n.GetAIndices()
		if _, isArr := e.(*arrayExpr); !isArr && idx != nil && !idx.IsSlice && e.Type() == engine.Text {
			// a subscript of an int2vector, oidvector or int2[] catalog column
			i, err := b.expr(idx.Uidx, c)
			if err != nil {
				return nil, err
			}
			if i, err = b.coerce(i, engine.Int64); err != nil {
				return nil, err
			}
			if e, err = b.call(engine.VectorElement, []engine.Expr{e, i}, 0); err != nil {
				return nil, err
			}
			continue
		}
		a, ok := e.(*arrayExpr)
		if idx != nil && !idx.IsSlice && !ok && e.Type().IsArray() {
			if e, err = b.textArrayElement(e, idx, c); err != nil {
				return nil, err
			}
			continue
		}
		if idx == nil || idx.IsSlice || !ok {
			return nil, engine.Unsupported("this subscript or field selection")
		}
		i, err := b.expr(idx.Uidx, c)
		if err != nil {
			return nil, err
		}
		if i, err = b.coerce(i, engine.Int64); err != nil {
			return nil, err
		}
		if !i.Type().IsInteger() {
			return nil, engine.Errorf(sqlstate.DatatypeMismatch, "array subscript must have type integer")
		}
		if a.fn == "" {
			e = constElement(a.consts, i)
			continue
		}
		if e, err = b.call(a.fn+"_element", append(append([]engine.Expr{}, a.args...), i), a.loc); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// constElement is consts[i] (1-based), NULL out of range.
func constElement(consts []string, i engine.Expr) engine.Expr {
	text := func(s string) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Text, S: s}} }
	var out engine.Expr = &engine.Const{V: engine.NullValue(engine.Text)}
	for k := len(consts); k >= 1; k-- {
		out = &engine.Case{Whens: []engine.When{{
			Cond: engine.MustCall("=", i, &engine.Const{V: engine.Value{Type: engine.Int64, I: int64(k)}}),
			Then: text(consts[k-1])}}, Else: out, T: engine.Text}
	}
	return out
}

// rangeFunction binds a function in FROM: generate_series, unnest, an array
// function (string_to_array, parse_ident) or delta_scan.
func (b *binder) rangeFunction(rf *pg.RangeFunction) (engine.Plan, *scope, error) {
	var fc *pg.FuncCall
	if len(rf.Functions) == 1 {
		if items := rf.Functions[0].GetList().GetItems(); len(items) > 0 {
			fc = items[0].GetFuncCall()
		}
	}
	if fc == nil || rf.Lateral || rf.Ordinality || rf.IsRowsfrom {
		return b.deltaScan(rf)
	}
	name := funcName(fc)
	alias := name
	if rf.Alias != nil {
		alias = rf.Alias.Aliasname
	}
	colName := alias
	if rf.Alias != nil && len(rf.Alias.Colnames) == 1 {
		colName = rf.Alias.Colnames[0].GetString_().GetSval()
	}
	// The arguments may not refer to columns: no LATERAL.
	c := &exprCtx{clause: "functions in FROM"}
	switch name {
	case "generate_series":
		if len(fc.Args) < 2 || len(fc.Args) > 3 {
			return nil, nil, posErr(engine.Unsupported("generate_series with these arguments"), fc.Location)
		}
		var bounds []engine.Expr
		t := engine.Int32
		if s, err := b.timeSeries(fc, c, colName); s != nil || err != nil {
			if err != nil {
				return nil, nil, err
			}
			return s, b.subScope(s, []string{colName}, alias, nil), nil
		}
		for _, n := range fc.Args {
			e, err := b.expr(n, c)
			if err != nil {
				return nil, nil, err
			}
			if e.Type() == engine.Unknown {
				if e, err = b.coerce(e, engine.Int32); err != nil {
					return nil, nil, err
				}
			}
			if !e.Type().IsInteger() {
				return nil, nil, posErr(engine.Unsupported("generate_series over "+e.Type().String()), fc.Location)
			}
			if e.Type() == engine.Int64 {
				t = engine.Int64
			}
			bounds = append(bounds, e)
		}
		s := &engine.Series{Start: bounds[0], Stop: bounds[1], Out: []engine.Field{{Name: colName, Type: t}}}
		if len(bounds) == 3 {
			s.Step = bounds[2]
		}
		return s, b.subScope(s, []string{colName}, alias, nil), nil
	case "unnest":
		// unnest(text[]): its argument may refer to an outer query's columns (a
		// correlated subquery's Param), not to this FROM's.
		if len(fc.Args) != 1 {
			return nil, nil, posErr(engine.Unsupported("unnest with these arguments"), fc.Location)
		}
		e, err := b.expr(fc.Args[0], c)
		if err != nil {
			return nil, nil, err
		}
		if e.Type() == engine.Unknown {
			if e, err = b.coerce(e, engine.TextArray); err != nil {
				return nil, nil, err
			}
		}
		elem, ok := engine.ArrayElemType(e.Type())
		if !ok {
			return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedFunction, "function unnest(%s) does not exist", e.Type()), fc.Location)
		}
		u := &engine.Unnest{Array: e, Out: []engine.Field{{Name: colName, Type: elem}}}
		return u, b.subScope(u, []string{colName}, alias, nil), nil
	case "string_to_array", "parse_ident":
		e, _, err := b.arrayFunc(fc, name, c)
		if err != nil {
			return nil, nil, err
		}
		// One row; the scope's one column stands for the array itself.
		v := &engine.Values{Rows: [][]engine.Expr{{&engine.Const{V: engine.Value{Type: engine.Int32, I: 1}}}},
			Out: []engine.Field{{Name: colName, Type: engine.Int32}}}
		sc := b.subScope(v, []string{colName}, alias, nil)
		sc.cols[0].value = e
		return v, sc, nil
	}
	return b.deltaScan(rf)
}

// checkNoArrays refuses a plan in which an array value is left over (selected,
// compared or passed on), which strata cannot compute.
func checkNoArrays(p engine.Plan) error {
	var found *arrayExpr
	_, err := opt.RewritePlanExprs(p, func(e engine.Expr) (engine.Expr, error) {
		if a, ok := e.(*arrayExpr); ok && found == nil {
			found = a
		}
		return e, nil
	})
	if err != nil {
		return err
	}
	if found != nil {
		return posErr(engine.Unsupported("array values (strata has no array type)"), found.loc)
	}
	return nil
}

// arrayCompare binds x op ANY (a) and x op ALL (a) (a comparison operator) over an
// array value or an int2vector/oidvector catalog column (engine.ArrayCompare).
func (b *binder) arrayCompare(a *pg.A_Expr, op string, c *exprCtx) (engine.Expr, error) {
	switch op {
	case "=", "<>", "!=", "<", "<=", ">", ">=":
	default:
		return nil, posErr(engine.Unsupported("operator "+op+" with ANY/ALL"), a.Location)
	}
	x, err := b.expr(a.Lexpr, c)
	if err != nil {
		return nil, err
	}
	arr, err := b.expr(a.Rexpr, c)
	if err != nil {
		return nil, err
	}
	if arr.Type() == engine.Unknown {
		if arr, err = b.coerce(arr, engine.TextArray); err != nil {
			return nil, err
		}
	}
	if x, err = b.unknownToText(x); err != nil {
		return nil, err
	}
	if t := arr.Type(); !t.IsArray() && t != engine.Text {
		return nil, posErr(engine.Errorf(sqlstate.WrongObjectType, "op ANY/ALL (array) requires array on right side"), a.Location)
	}
	return b.call(engine.ArrayCompare, []engine.Expr{x, arr, &engine.Const{V: engine.Value{Type: engine.Text, S: op}},
		&engine.Const{V: engine.Value{Type: engine.Bool, B: a.Kind == pg.A_Expr_Kind_AEXPR_OP_ALL}}}, a.Location)
}

// arrayExpr binds ARRAY[x, y, …]: the elements take their common type (as
// CASE's results do), or the element type of t when the constructor is cast to
// the array type t. Nested (multidimensional) constructors are not supported.
func (b *binder) arrayExpr(ae *pg.A_ArrayExpr, t engine.Type, c *exprCtx) (engine.Expr, error) {
	elem, cast := engine.ArrayElemType(t)
	if len(ae.Elements) == 0 {
		if !cast {
			return nil, posErr(engine.Errorf(sqlstate.IndeterminateDatatype, "cannot determine type of empty array"), ae.Location)
		}
		return &engine.Const{V: engine.Value{Type: t, S: "{}"}}, nil
	}
	args := make([]engine.Expr, len(ae.Elements))
	types := make([]engine.Type, len(ae.Elements))
	for i, n := range ae.Elements {
		if n.GetAArrayExpr() != nil {
			return nil, posErr(engine.Unsupported("multidimensional arrays"), ae.Location)
		}
		e, err := b.expr(n, c)
		if err != nil {
			return nil, err
		}
		args[i], types[i] = e, e.Type()
	}
	if !cast {
		var err error
		if elem, err = engine.ResultType(types); err != nil {
			if ee, ok := err.(*engine.Error); ok {
				ee.Message = "ARRAY " + ee.Message
			}
			return nil, withPos(err, ae.Location)
		}
		if elem == engine.Unknown {
			elem = engine.Text
		}
	}
	for i := range args {
		var err error
		if args[i], err = b.coerce(args[i], elem); err != nil {
			return nil, err
		}
	}
	return b.call("array", args, ae.Location)
}
