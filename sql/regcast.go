package sql

import (
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// Casts to the object-identifier types (engine/regtypes.go): oid, regclass,
// regtype, regproc, regprocedure, regnamespace, regrole, regoper. As in
// PostgreSQL:
//
//	'ev'::regclass, 'int4'::regtype,  the object's oid, typed regclass, regtype, ...:
//	'now'::regproc, 'md5(text)'::regprocedure, 'public'::regnamespace, 'strata'::regrole
//	                                  printed by name, compared and joined as an
//	                                  oid; an unknown name is PostgreSQL's error
//	                                  (42P01, 42704, 42883, 42725, 3F000)
//	1259::regclass, attrelid::regclass  the same oid under the reg type
//	format('%I', t)::regclass          a name computed per row: its table's oid,
//	                                  NULL for another name
//	x::oid, x::bigint                  the number
//	'ev'::regclass::text              the name as text
//
// A reg value's name is looked up when it is printed or cast to text, in the
// statement's database (DB.regNamer).

// regType is the object-identifier type a cast names, if it does.
func regType(tn *pg.TypeName) (engine.Type, bool) {
	if len(tn.ArrayBounds) > 0 {
		return engine.Unknown, false
	}
	t, ok := engine.TypeByName(strings.ToLower(opName(tn.Names)))
	return t, ok && t.IsOIDType()
}

// isRegName reports whether tc casts a constant string that is not a number to a
// reg type.
func isRegName(tc *pg.TypeCast) bool {
	if t, ok := regType(tc.TypeName); !ok || t.Reg == engine.RegOID {
		return false
	}
	k := tc.Arg.GetAConst()
	if k == nil || k.GetSval() == nil {
		return false
	}
	_, err := strconv.ParseInt(strings.TrimSpace(k.GetSval().Sval), 10, 64)
	return err != nil
}

// regCastMore binds a reg cast of a constant name cast on to text: the name in
// its canonical spelling, at bind time.
func (b *binder) regCastMore(tc *pg.TypeCast, c *exprCtx) (engine.Expr, bool, error) {
	name := strings.ToLower(opName(tc.TypeName.Names))
	if len(tc.TypeName.ArrayBounds) > 0 {
		return nil, false, nil
	}
	if inner := tc.Arg.GetTypeCast(); inner != nil && (name == "text" || name == "varchar" || name == "name") && isRegName(inner) {
		e, err := b.regName(inner, c)
		return e, true, err
	}
	return nil, false, nil
}

// regCast binds a cast to an object-identifier type.
func (b *binder) regCast(tc *pg.TypeCast, c *exprCtx) (engine.Expr, bool, error) {
	rt, ok := regType(tc.TypeName)
	if !ok {
		return nil, false, nil
	}
	x, err := b.expr(tc.Arg, c)
	if err != nil {
		return nil, true, err
	}
	if k, ok := x.(*engine.Const); ok && k.V.Null {
		return &engine.Const{V: engine.NullValue(rt)}, true, nil
	}
	if k, ok := x.(*engine.Const); ok && (k.V.Type == engine.Unknown || k.V.Type == engine.Text) {
		s := strings.TrimSpace(k.V.S)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if n < 0 || n > 1<<32-1 {
				return nil, true, posErr(engine.Errorf(sqlstate.NumericValueOutOfRange, "value %q is out of range for type oid", s), tc.Location)
			}
			return &engine.Const{V: engine.Value{Type: rt, I: n}}, true, nil
		}
		oid, err := b.regLookup(rt.Reg, s)
		if err != nil {
			return nil, true, withPos(err, tc.Location)
		}
		return &engine.Const{V: engine.Value{Type: rt, I: oid}}, true, nil
	}
	if x.Type().ID == engine.TypeText && rt.Reg == engine.RegClass {
		// a name computed per row (Metabase: format('%I.%I', schema, table)::regclass):
		// the oid of the table or index it names in any spelling PostgreSQL reads;
		// NULL for another name
		i8 := func(v int64) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Int64, I: v}} }
		var oid engine.Expr = &engine.Const{V: engine.NullValue(engine.Int64)}
		add := func(n string, v int64) {
			for _, form := range tableNameForms(n) {
				oid = &engine.Case{Whens: []engine.When{{Cond: engine.MustCall("=", x, &engine.Const{V: engine.Value{Type: engine.Text, S: form}}),
					Then: i8(v)}}, Else: oid, T: engine.Int64}
			}
		}
		tables := b.db.store.Tables()
		for _, def := range tables {
			add(def.Name, tableOID(def))
		}
		for _, k := range catalogKeys(tables) {
			add(k.name, k.indexOID)
		}
		return &engine.Cast{X: oid, T: rt}, true, nil
	}
	if !x.Type().IsInteger() {
		return nil, true, posErr(engine.Errorf(sqlstate.CannotCoerce, "cannot cast type %s to %s", x.Type(), rt), tc.Location)
	}
	return &engine.Cast{X: x, T: rt}, true, nil
}

// regLookup is the oid a reg type's input function finds for name s, or
// PostgreSQL's error for a name it does not find.
func (b *binder) regLookup(k engine.RegKind, s string) (int64, error) {
	unquoted := strings.Trim(strings.TrimPrefix(strings.TrimPrefix(s, "pg_catalog."), "public."), `"`)
	switch k {
	case engine.RegOID:
		return 0, engine.Errorf(sqlstate.InvalidTextRepresentation, "invalid input syntax for type oid: %q", s)
	case engine.RegClass:
		if oid, ok := catalogOIDs[unquoted]; ok {
			return oid, nil
		}
		if def, ok := b.db.store.Table(unquoted); ok {
			return tableOID(def), nil
		}
		for _, key := range catalogKeys(b.db.store.Tables()) {
			if key.name == unquoted {
				return key.indexOID, nil
			}
		}
		return 0, engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", s)
	case engine.RegType:
		name := strings.ToLower(strings.TrimPrefix(s, "pg_catalog."))
		for _, ty := range pgTypeRows {
			if ty.name == name {
				return ty.oid, nil
			}
		}
		if t, ok := engine.TypeByName(name); ok {
			return int64(t.OID()), nil
		}
		if base, _, ok := strings.Cut(name, "("); ok { // varchar(10), numeric(10,2)
			if t, ok := engine.TypeByName(strings.TrimSpace(base)); ok {
				return int64(t.OID()), nil
			}
		}
		return 0, engine.Errorf(sqlstate.UndefinedObject, "type %q does not exist", s)
	case engine.RegNamespace:
		switch unquoted {
		case "pg_catalog":
			return oidPGCatalog, nil
		case "public":
			return oidPublic, nil
		case "information_schema":
			return oidInfoSchema, nil
		}
		return 0, engine.Errorf(sqlstate.InvalidSchemaName, "schema %q does not exist", s)
	case engine.RegRole:
		if r, ok := b.db.store.Catalog().Role(strings.Trim(s, `"`)); ok {
			return int64(r.OID), nil
		}
		return 0, engine.Errorf(sqlstate.UndefinedObject, "role %q does not exist", s)
	case engine.RegProc, engine.RegProcedure:
		kind := "regproc"
		if k == engine.RegProcedure {
			kind = "regprocedure"
		}
		p, err := lookupProc(kind, s)
		if err != nil {
			// One of PostgreSQL's type input functions drivers name
			// (PgJDBC's getTypeInfo: typinput = 'pg_catalog.array_in'::regproc).
			if oid, ok := pgIOProcs[strings.TrimPrefix(s, "pg_catalog.")]; ok && k == engine.RegProc {
				return oid, nil
			}
			return 0, err
		}
		return p.OID, nil
	}
	// regoper: strata's pg_operator is empty
	return 0, engine.Errorf(sqlstate.UndefinedFunction, "operator does not exist: %s", s)
}

// regNamer names the objects of this database for reg types' text
// (engine.Options.RegNames). It reads the catalog as of each call.
func (db *DB) regNamer() engine.RegNamer {
	st := db.store
	return func(k engine.RegKind, oid int64) (string, bool) {
		switch k {
		case engine.RegClass:
			for n, o := range catalogOIDs {
				if o == oid {
					return n, true
				}
			}
			tables := st.Tables()
			for _, def := range tables {
				if tableOID(def) == oid {
					return engine.QuoteIdent(def.Name), true
				}
			}
			for _, key := range catalogKeys(tables) {
				if key.indexOID == oid {
					return engine.QuoteIdent(key.name), true
				}
			}
		case engine.RegNamespace:
			switch oid {
			case oidPGCatalog:
				return "pg_catalog", true
			case oidPublic:
				return "public", true
			case oidInfoSchema:
				return "information_schema", true
			}
		case engine.RegRole:
			if oid >= 0 && oid <= 1<<32-1 {
				if r, ok := st.Catalog().RoleByOID(uint32(oid)); ok {
					return engine.QuoteIdent(r.Name), true
				}
			}
		}
		return "", false
	}
}

// pgIOProcs are PostgreSQL 15's oids of type input functions clients name.
var pgIOProcs = map[string]int64{"array_in": 750, "record_in": 2290, "enum_in": 3504, "range_in": 3834, "domain_in": 2597}

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
	e, _, err := b.regCast(tc, c)
	if err != nil {
		return nil, err
	}
	k, ok := e.(*engine.Const)
	if !ok {
		return nil, posErr(engine.Unsupported("::"+opName(tc.TypeName.Names)+"::text of this value"), tc.Location)
	}
	return &engine.Const{V: engine.Value{Type: engine.Text, S: engine.RegText(k.V.Type, k.V.I, b.db.regNamer())}}, nil
}
