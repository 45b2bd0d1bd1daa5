package sql

import (
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// regproc and regprocedure casts, and the text form of every object-identifier
// cast of a name (pgcatalog.go's regCast gives the oid). As in PostgreSQL:
//
//	'now'::regproc               the function's oid (42725 if the name is overloaded,
//	                             42883 if there is none)
//	'round(numeric)'::regprocedure  the overload's oid
//	oid::regproc, oid::regprocedure  the name, name(argument types); the number when no
//	                             function has that oid
//	'int4'::regtype::text, 'ev'::regclass::text, 'now'::regproc::text
//	                             the object's canonical name
//
// strata keeps an oid as a bigint, so a reg cast of a name is its oid wherever it
// is compared or joined; selected on its own (SELECT 'int4'::regtype) it prints
// the name, as PostgreSQL's reg types do (regTarget).

var regProcTypes = map[string]bool{"regproc": true, "regprocedure": true}

// regTarget rewrites a select-list item that is a reg cast of a constant name to
// that cast's text, so that it prints the name.
func regTarget(n *pg.Node) *pg.Node {
	tc := n.GetTypeCast()
	if tc == nil || len(tc.TypeName.ArrayBounds) > 0 || !isRegName(tc) {
		return n
	}
	return &pg.Node{Node: &pg.Node_TypeCast{TypeCast: &pg.TypeCast{Arg: n,
		TypeName: &pg.TypeName{Names: []*pg.Node{pg.MakeStrNode("text")}, Typemod: -1, Location: tc.Location}, Location: tc.Location}}}
}

// isRegName reports whether tc casts a constant string that is not a number to a
// reg type.
func isRegName(tc *pg.TypeCast) bool {
	name := strings.ToLower(opName(tc.TypeName.Names))
	if name == "oid" || !(regTypes[name] || regProcTypes[name]) {
		return false
	}
	k := tc.Arg.GetAConst()
	if k == nil || k.GetSval() == nil {
		return false
	}
	_, err := strconv.ParseInt(strings.TrimSpace(k.GetSval().Sval), 10, 64)
	return err != nil
}

// regCastMore binds the casts regCast does not: to regproc and regprocedure, and
// a reg cast of a name cast on to text.
func (b *binder) regCastMore(tc *pg.TypeCast, c *exprCtx) (engine.Expr, bool, error) {
	name := strings.ToLower(opName(tc.TypeName.Names))
	if len(tc.TypeName.ArrayBounds) > 0 {
		return nil, false, nil
	}
	if inner := tc.Arg.GetTypeCast(); inner != nil && (name == "text" || name == "varchar" || name == "name") && isRegName(inner) {
		e, err := b.regName(inner, c)
		return e, true, err
	}
	if !regProcTypes[name] {
		return nil, false, nil
	}
	x, err := b.expr(tc.Arg, c)
	if err != nil {
		return nil, true, err
	}
	if k, ok := x.(*engine.Const); ok && (k.V.Type == engine.Unknown || k.V.Type == engine.Text) && !k.V.Null {
		s := strings.TrimSpace(k.V.S)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			x = &engine.Const{V: engine.Value{Type: engine.Int64, I: n}}
		} else {
			p, err := lookupProc(name, s)
			if err != nil {
				// One of PostgreSQL's type input functions drivers name
				// (PgJDBC's getTypeInfo: typinput = 'pg_catalog.array_in'::regproc).
				if oid, ok := pgIOProcs[strings.TrimPrefix(s, "pg_catalog.")]; ok && name == "regproc" {
					return &engine.Const{V: engine.Value{Type: engine.Int64, I: oid}}, true, nil
				}
				return nil, true, withPos(err, tc.Location)
			}
			return &engine.Const{V: engine.Value{Type: engine.Int64, I: p.OID}}, true, nil
		}
	}
	if !x.Type().IsInteger() {
		return nil, true, posErr(engine.Errorf(sqlstate.CannotCoerce, "cannot cast type %s to %s", x.Type(), name), tc.Location)
	}
	fn := "regproc_name"
	if name == "regprocedure" {
		fn = "regprocedure_name"
	}
	e, err := b.call(fn, []engine.Expr{x}, tc.Location)
	return e, true, err
}

// lookupProc finds the pg_proc row a regproc ("name") or regprocedure
// ("name(type, …)") literal names.
func lookupProc(kind, s string) (*engine.Proc, error) {
	s = strings.TrimPrefix(s, "pg_catalog.")
	if kind == "regproc" {
		var found *engine.Proc
		procs := engine.Procs()
		for i := range procs {
			if procs[i].Name == strings.ToLower(s) {
				if found != nil {
					return nil, engine.Errorf(sqlstate.AmbiguousFunction, "more than one function named %q", s)
				}
				found = &procs[i]
			}
		}
		if found == nil {
			return nil, engine.Errorf(sqlstate.UndefinedFunction, "function %q does not exist", s)
		}
		return found, nil
	}
	fname, rest, ok := strings.Cut(s, "(")
	if !ok || !strings.HasSuffix(rest, ")") {
		return nil, engine.Errorf(sqlstate.InvalidTextRepresentation, "expected a left parenthesis")
	}
	var want []string
	if args := strings.TrimSpace(strings.TrimSuffix(rest, ")")); args != "" {
		for _, a := range strings.Split(args, ",") {
			a = strings.ToLower(strings.TrimSpace(a))
			if t, ok := engine.TypeByName(a); ok {
				a = t.String()
			}
			want = append(want, a)
		}
	}
	procs := engine.Procs()
	for i := range procs {
		p := &procs[i]
		if p.Name != strings.ToLower(strings.TrimSpace(fname)) || len(p.Args) != len(want) {
			continue
		}
		match := true
		for k, t := range p.Args {
			match = match && t.Name == want[k]
		}
		if match {
			return p, nil
		}
	}
	return nil, engine.Errorf(sqlstate.UndefinedFunction, "function %q does not exist", s)
}

// regName is the canonical name a reg cast of a constant name stands for.
func (b *binder) regName(tc *pg.TypeCast, c *exprCtx) (engine.Expr, error) {
	kind := strings.ToLower(opName(tc.TypeName.Names))
	text := func(s string) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Text, S: s}} }
	lit := strings.TrimSpace(tc.Arg.GetAConst().GetSval().Sval)
	if regProcTypes[kind] {
		p, err := lookupProc(kind, lit)
		if err != nil {
			return nil, withPos(err, tc.Location)
		}
		if kind == "regprocedure" {
			return text(p.Name + "(" + procArgTypes(p) + ")"), nil
		}
		return text(p.Name), nil
	}
	e, _, err := b.regCast(tc, c)
	if err != nil {
		return nil, err
	}
	k, ok := e.(*engine.Const)
	if !ok {
		return nil, posErr(engine.Unsupported("::"+kind+"::text of this value"), tc.Location)
	}
	oid := k.V.I
	switch kind {
	case "regtype":
		return engine.MustCall("format_type", k, &engine.Const{V: engine.Value{Type: engine.Int32, I: -1}}), nil
	case "regclass":
		for n, o := range catalogOIDs {
			if o == oid {
				return text(n), nil
			}
		}
		for _, def := range b.db.store.Tables() {
			if tableOID(def) == oid {
				return text(engine.QuoteIdent(def.Name)), nil
			}
		}
	case "regnamespace":
		switch oid {
		case oidPGCatalog:
			return text("pg_catalog"), nil
		case oidPublic:
			return text("public"), nil
		case oidInfoSchema:
			return text("information_schema"), nil
		}
	}
	return text(strconv.FormatInt(oid, 10)), nil
}

func procArgTypes(p *engine.Proc) string {
	var names []string
	for _, t := range p.Args {
		names = append(names, t.Name)
	}
	return strings.Join(names, ",")
}
