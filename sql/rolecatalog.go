package sql

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/catalog"
)

// The catalog's view of roles and privileges: pg_roles, pg_authid (superusers
// only), pg_user, pg_auth_members, pg_class.relowner/relacl,
// information_schema.table_privileges and has_table_privilege. An aclitem[] is
// text in PostgreSQL's output form ("{strata=arwdDxt/strata,=r/strata}"), NULL for
// the default ACL, as pgcatalog.go represents arrays.

// roleNames maps OIDs to role names.
func roleNames(cat *catalog.Catalog) map[uint32]string {
	names := map[uint32]string{}
	for _, r := range cat.Roles() {
		names[r.OID] = r.Name
	}
	return names
}

// aclItemName quotes a role name in an aclitem as PostgreSQL's putid does: names of
// letters, digits and underscores stay bare, others are double-quoted.
func aclItemName(name string) string {
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80) {
			return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
		}
	}
	return name
}

// aclText is acl in aclitem[] output form. An element holding characters special
// to array syntax (a quoted name, a comma, spaces) is quoted as array_out does.
func aclText(acl []catalog.ACLItem, names map[uint32]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, it := range acl {
		if i > 0 {
			b.WriteByte(',')
		}
		item := ""
		if it.Grantee != catalog.PublicOID {
			item = aclItemName(names[it.Grantee])
		}
		item += "=" + it.Privs.String() + "/" + aclItemName(names[it.Grantor])
		if strings.ContainsAny(item, "\"\\{}, ") {
			item = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(item) + `"`
		}
		b.WriteString(item)
	}
	b.WriteByte('}')
	return b.String()
}

// relACL is pg_class.relacl of def: NULL for the default ACL.
func relACL(cat *catalog.Catalog, def *catalog.TableDef, names map[uint32]string) engine.Expr {
	acl, ok := cat.ACL(def.ID)
	if !ok {
		return &engine.Const{V: engine.NullValue(engine.Text)}
	}
	return &engine.Const{V: engine.Value{Type: engine.Text, S: aclText(acl, names)}}
}

// roleRows builds pg_roles, pg_authid, pg_user and pg_auth_members; ok is false
// for any other relation. pg_authid's passwords are there only because only a
// superuser may read it (pgCatalog checks).
func (b *binder) roleRows(rel string) ([][]engine.Expr, bool) {
	cat := b.db.store.Catalog()
	c := func(v engine.Value) engine.Expr { return &engine.Const{V: v} }
	text := func(s string) engine.Expr { return c(engine.Value{Type: engine.Text, S: s}) }
	i8 := func(v int64) engine.Expr { return c(engine.Value{Type: engine.Int64, I: v}) }
	i4 := func(v int64) engine.Expr { return c(engine.Value{Type: engine.Int32, I: v}) }
	bl := func(v bool) engine.Expr { return c(engine.Value{Type: engine.Bool, B: v}) }
	null := func(t engine.Type) engine.Expr { return c(engine.NullValue(t)) }
	validUntil := func(r catalog.Role) engine.Expr {
		if r.ValidUntil.IsZero() {
			return null(engine.TimestampTZ)
		}
		return c(engine.Value{Type: engine.TimestampTZ, I: r.ValidUntil.UnixMicro()})
	}
	var rows [][]engine.Expr
	switch rel {
	case "pg_roles":
		for _, r := range cat.Roles() {
			rows = append(rows, []engine.Expr{text(r.Name), bl(r.Superuser), bl(r.Inherit), bl(r.CreateRole), bl(r.CreateDB),
				bl(r.Login), bl(r.Replication), i4(-1), text("********"), validUntil(r), bl(r.BypassRLS), null(engine.Text), i8(int64(r.OID))})
		}
	case "pg_authid":
		for _, r := range cat.Roles() {
			pw := null(engine.Text)
			if r.Password != "" {
				pw = text(r.Password)
			}
			rows = append(rows, []engine.Expr{i8(int64(r.OID)), text(r.Name), bl(r.Superuser), bl(r.Inherit), bl(r.CreateRole),
				bl(r.CreateDB), bl(r.Login), bl(r.Replication), bl(r.BypassRLS), i4(-1), pw, validUntil(r)})
		}
	case "pg_user":
		for _, r := range cat.Roles() {
			if !r.Login {
				continue
			}
			rows = append(rows, []engine.Expr{text(r.Name), i8(int64(r.OID)), bl(r.CreateDB), bl(r.Superuser), bl(r.Replication),
				bl(r.BypassRLS), text("********"), validUntil(r), null(engine.Text)})
		}
	case "pg_auth_members":
		for _, m := range cat.Memberships() {
			rows = append(rows, []engine.Expr{i8(int64(m.Role)), i8(int64(m.Member)), i8(int64(m.Grantor)), bl(m.Admin)})
		}
	default:
		return nil, false
	}
	return rows, true
}

// privilegeNames are the table privileges in information_schema's order and spelling.
var privilegeNames = []struct {
	name string
	p    catalog.Privileges
}{
	{"INSERT", catalog.PrivInsert}, {"SELECT", catalog.PrivSelect}, {"UPDATE", catalog.PrivUpdate},
	{"DELETE", catalog.PrivDelete}, {"TRUNCATE", catalog.PrivTruncate}, {"REFERENCES", catalog.PrivReferences},
	{"TRIGGER", catalog.PrivTrigger},
}

// tablePrivilegeRows is information_schema.table_privileges: one row per ACL item
// and privilege, of the items whose grantor or grantee the current user has the
// privileges of, or granted to PUBLIC (PostgreSQL's view definition).
func (b *binder) tablePrivilegeRows() ([]string, []engine.Type, [][]engine.Expr) {
	cat := b.db.store.Catalog()
	me := b.db.principalOf(b.user)
	names := roleNames(cat)
	text := func(s string) engine.Expr { return &engine.Const{V: engine.Value{Type: engine.Text, S: s}} }
	yesNo := func(v bool) engine.Expr {
		if v {
			return text("YES")
		}
		return text("NO")
	}
	var rows [][]engine.Expr
	for _, def := range b.db.store.Tables() {
		for _, it := range effectiveACL(cat, &def) {
			if !(me.hasPrivsOf(it.Grantor) || me.hasPrivsOf(it.Grantee) || it.Grantee == catalog.PublicOID) {
				continue
			}
			grantee := "PUBLIC"
			if it.Grantee != catalog.PublicOID {
				grantee = names[it.Grantee]
			}
			// The owner (and a member of the owning role) may always grant.
			grantable := it.Grantee != catalog.PublicOID && b.db.principalOf(names[it.Grantee]).hasPrivsOf(def.OwnerOID())
			for _, pn := range privilegeNames {
				if it.Privs&pn.p == 0 {
					continue
				}
				rows = append(rows, []engine.Expr{text(names[it.Grantor]), text(grantee), text(b.database), text("public"),
					text(def.Name), text(pn.name), yesNo(grantable), yesNo(pn.p == catalog.PrivSelect)})
			}
		}
	}
	return []string{"grantor", "grantee", "table_catalog", "table_schema", "table_name", "privilege_type", "is_grantable", "with_hierarchy"},
		[]engine.Type{engine.Text, engine.Text, engine.Text, engine.Text, engine.Text, engine.Text, engine.Text, engine.Text}, rows
}

// hasTablePrivilege binds has_table_privilege([user,] table, privilege): the
// privilege must be a constant; user and table may be names or oids, constant or
// not (the answer is computed for every role and table when the statement is
// bound, as pg_class's rows are).
func (b *binder) hasTablePrivilege(fc *pg.FuncCall, c *exprCtx) (engine.Expr, error) {
	args := make([]engine.Expr, len(fc.Args))
	for i, a := range fc.Args {
		e, err := b.expr(a, c)
		if err != nil {
			return nil, err
		}
		args[i] = e
	}
	var userArg engine.Expr
	if len(args) == 3 {
		userArg, args = args[0], args[1:]
	}
	pk, ok := args[1].(*engine.Const)
	if !ok || (pk.V.Type != engine.Text && pk.V.Type != engine.Unknown) {
		return nil, posErr(engine.Unsupported("has_table_privilege with a privilege that is not a text constant"), fc.Location)
	}
	if pk.V.Null {
		return &engine.Const{V: engine.NullValue(engine.Bool)}, nil
	}
	want, grantOption, err := parsePrivilegeList(pk.V.S)
	if err != nil {
		return nil, posErr(err, fc.Location)
	}
	cat := b.db.store.Catalog()
	tables := b.db.store.Tables()
	// The principals the user argument may name.
	type who struct {
		match engine.Expr // condition on the user argument; nil: the current user
		p     *principal
	}
	var whos []who
	switch {
	case userArg == nil:
		whos = []who{{p: b.db.principalOf(b.user)}}
	case isConst(userArg):
		name, err := b.roleArg(userArg.(*engine.Const))
		if err != nil {
			return nil, posErr(err, fc.Location)
		}
		whos = []who{{p: b.db.principalOf(name)}}
	default:
		for _, r := range cat.Roles() {
			var key engine.Expr = &engine.Const{V: engine.Value{Type: engine.Text, S: r.Name}}
			if userArg.Type().IsInteger() {
				key = &engine.Const{V: engine.Value{Type: engine.Int64, I: int64(r.OID)}}
			}
			whos = append(whos, who{match: eq(userArg, key), p: b.db.principalOf(r.Name)})
		}
	}
	answer := func(p *principal, def *catalog.TableDef) bool {
		privs := b.db.tablePrivileges(p, def)
		if grantOption && !p.hasPrivsOf(def.OwnerOID()) {
			return false
		}
		return privs&want != 0
	}
	tableArg := args[0]
	if k, ok := tableArg.(*engine.Const); ok && !k.V.Type.IsInteger() {
		if k.V.Null {
			return &engine.Const{V: engine.NullValue(engine.Bool)}, nil
		}
		name := strings.TrimPrefix(k.V.S, "public.")
		def, ok := b.db.store.Table(strings.Trim(name, `"`))
		if !ok {
			return nil, posErr(engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", k.V.S), fc.Location)
		}
		tables = []catalog.TableDef{def}
		tableArg = &engine.Const{V: engine.Value{Type: engine.Int64, I: tableOID(def)}}
	} else if tableArg.Type() == engine.Text {
		// a name computed per row (Metabase: '"' || schemaname || '"."' || ...):
		// the table whose name, in any of the forms PostgreSQL reads, it equals;
		// NULL for another
		var oid engine.Expr = &engine.Const{V: engine.NullValue(engine.Int64)}
		for _, def := range tables {
			for _, form := range tableNameForms(def.Name) {
				oid = &engine.Case{Whens: []engine.When{{Cond: eq(tableArg, &engine.Const{V: engine.Value{Type: engine.Text, S: form}}),
					Then: &engine.Const{V: engine.Value{Type: engine.Int64, I: tableOID(def)}}}}, Else: oid, T: engine.Int64}
			}
		}
		tableArg = oid
	} else if !tableArg.Type().IsInteger() {
		return nil, posErr(engine.Unsupported("has_table_privilege of a table name that is not text"), fc.Location)
	}
	if tableArg.Type() != engine.Int64 {
		tableArg = &engine.Cast{X: tableArg, T: engine.Int64}
	}
	// CASE over (user, table) pairs; NULL for an oid that is no table (PostgreSQL's answer).
	var expr engine.Expr = &engine.Const{V: engine.NullValue(engine.Bool)}
	for i := range tables {
		def := &tables[i]
		for _, w := range whos {
			cond := eq(tableArg, &engine.Const{V: engine.Value{Type: engine.Int64, I: tableOID(*def)}})
			if w.match != nil {
				cond = &engine.BoolOp{Op: engine.And, Args: []engine.Expr{cond, w.match}}
			}
			expr = &engine.Case{Whens: []engine.When{{Cond: cond, Then: &engine.Const{V: engine.Value{Type: engine.Bool, B: answer(w.p, def)}}}},
				Else: expr, T: engine.Bool}
		}
	}
	return expr, nil
}

// tableNameForms are the spellings of table name that name it in schema public.
func tableNameForms(name string) []string {
	quoted := `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	forms := []string{quoted, `"public".` + quoted, "public." + quoted}
	if q := engine.QuoteIdent(name); q != quoted {
		forms = append(forms, q, "public."+q, `"public".`+q)
	}
	return forms
}

// hasSchemaPrivilege binds has_schema_privilege([user,] schema, privilege): USAGE
// on strata's three schemas for everyone; CREATE on public as CREATE TABLE checks
// it (schemaCreateAllowed), on pg_catalog and information_schema for superusers.
// The schema may be computed per row; NULL for another schema (PostgreSQL: an error).
func (b *binder) hasSchemaPrivilege(fc *pg.FuncCall, c *exprCtx) (engine.Expr, error) {
	args := make([]engine.Expr, len(fc.Args))
	for i, a := range fc.Args {
		e, err := b.expr(a, c)
		if err != nil {
			return nil, err
		}
		if args[i], err = b.unknownToText(e); err != nil {
			return nil, err
		}
	}
	p := b.db.principalOf(b.user)
	if len(args) == 3 {
		k, ok := args[0].(*engine.Const)
		if !ok {
			return nil, posErr(engine.Unsupported("has_schema_privilege of a role that is not a constant"), fc.Location)
		}
		name, err := b.roleArg(k)
		if err != nil {
			return nil, posErr(err, fc.Location)
		}
		p, args = b.db.principalOf(name), args[1:]
	}
	pk, ok := args[1].(*engine.Const)
	if !ok || pk.V.Type != engine.Text {
		return nil, posErr(engine.Unsupported("has_schema_privilege with a privilege that is not a text constant"), fc.Location)
	}
	create := false
	for _, part := range strings.Split(strings.ToLower(pk.V.S), ",") {
		switch strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(part), " with grant option")) {
		case "usage": // every role, every schema
		case "create":
			create = true
		default:
			return nil, posErr(engine.Errorf(sqlstate.InvalidParameterValue, "unrecognized privilege type: %q", part), fc.Location)
		}
	}
	var expr engine.Expr = &engine.Const{V: engine.NullValue(engine.Bool)}
	for _, s := range []string{"pg_catalog", "information_schema", "public"} {
		ok := !create || p.superuser() || s == "public" && b.db.schemaCreateAllowed(p)
		expr = &engine.Case{Whens: []engine.When{{Cond: eq(args[0], &engine.Const{V: engine.Value{Type: engine.Text, S: s}}),
			Then: &engine.Const{V: engine.Value{Type: engine.Bool, B: ok}}}}, Else: expr, T: engine.Bool}
	}
	return expr, nil
}

func isConst(e engine.Expr) bool { _, ok := e.(*engine.Const); return ok }

func eq(a, b engine.Expr) engine.Expr {
	return engine.MustCall("=", a, b)
}

// roleArg resolves a constant role argument (a name, or an oid).
func (b *binder) roleArg(k *engine.Const) (string, *engine.Error) {
	cat := b.db.store.Catalog()
	if k.V.Type.IsInteger() {
		if r, ok := cat.RoleByOID(uint32(k.V.I)); ok {
			return r.Name, nil
		}
		return "", engine.Errorf(sqlstate.UndefinedObject, "role with OID %d does not exist", k.V.I)
	}
	if strings.EqualFold(k.V.S, "public") {
		return "", engine.Unsupported("has_table_privilege for PUBLIC")
	}
	if _, ok := cat.Role(k.V.S); !ok {
		return "", engine.Errorf(sqlstate.UndefinedObject, "role %q does not exist", k.V.S)
	}
	return k.V.S, nil
}

// parsePrivilegeList reads has_table_privilege's privilege text: a comma-separated
// list of privilege names, each optionally WITH GRANT OPTION (PostgreSQL's
// convert_any_priv_string).
func parsePrivilegeList(s string) (catalog.Privileges, bool, *engine.Error) {
	var privs catalog.Privileges
	grant := false
	for _, part := range strings.Split(s, ",") {
		p := strings.ToLower(strings.TrimSpace(part))
		if q, ok := strings.CutSuffix(p, " with grant option"); ok {
			p, grant = strings.TrimSpace(q), true
		}
		v, ok := tablePrivNames[p]
		if !ok {
			return 0, false, engine.Errorf(sqlstate.InvalidParameterValue, "unrecognized privilege type: %q", strings.TrimSpace(part))
		}
		privs |= v
	}
	return privs, grant, nil
}
