package sql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/pgscram"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/catalog"
)

// CREATE ROLE | USER, ALTER ROLE, DROP ROLE, GRANT / REVOKE on tables and schema
// public, GRANT / REVOKE role, ALTER TABLE ... OWNER TO, read from pg_query's parse
// tree. Each runs its permission checks when it executes, against the catalog as
// it is then (the target roles may have changed since it was bound), with
// PostgreSQL 15's rules and wording (src/backend/commands/user.c, aclchk.c).

// roleOptions are the options of CREATE ROLE / ALTER ROLE, each set only when given.
type roleOptions struct {
	login, superuser, inherit, createRole, createDB, replication, bypassRLS *bool
	password                                                                *string // "" after PASSWORD NULL
	validUntil                                                              *time.Time
	inRoles, members, admins                                                []string
}

func roleOptionsOf(opts []*pg.Node) (*roleOptions, error) {
	ro := &roleOptions{}
	for _, n := range opts {
		d := n.GetDefElem()
		if d == nil {
			continue
		}
		b := func() *bool { v := d.Arg.GetBoolean().GetBoolval(); return &v }
		switch d.Defname {
		case "canlogin":
			ro.login = b()
		case "superuser":
			ro.superuser = b()
		case "inherit":
			ro.inherit = b()
		case "createrole":
			ro.createRole = b()
		case "createdb":
			ro.createDB = b()
		case "isreplication":
			ro.replication = b()
		case "bypassrls":
			ro.bypassRLS = b()
		case "password":
			var p string
			if d.Arg != nil {
				p = d.Arg.GetString_().GetSval()
			}
			ro.password = &p
		case "validUntil":
			s := d.Arg.GetString_().GetSval()
			var t time.Time
			if !strings.EqualFold(strings.TrimSpace(s), "infinity") {
				v, err := engine.ParseValue(s, engine.TimestampTZ)
				if err != nil {
					return nil, err
				}
				t = time.UnixMicro(v.I).UTC()
			}
			ro.validUntil = &t
		case "addroleto", "rolemembers", "adminmembers":
			var names []string
			for _, it := range d.Arg.GetList().GetItems() {
				rs := it.GetRoleSpec()
				if rs == nil || rs.Roletype != pg.RoleSpecType_ROLESPEC_CSTRING {
					return nil, engine.Unsupported("this role specification")
				}
				names = append(names, rs.Rolename)
			}
			switch d.Defname {
			case "addroleto":
				ro.inRoles = names
			case "rolemembers":
				ro.members = names
			default:
				ro.admins = names
			}
		case "sysid":
			// ignored, as PostgreSQL does
		case "connectionlimit":
			if d.Arg.GetInteger().GetIval() != -1 {
				return nil, posErr(engine.Unsupported("CONNECTION LIMIT"), d.Location)
			}
		default:
			return nil, posErr(engine.Unsupported("role option "+strings.ToUpper(d.Defname)), d.Location)
		}
	}
	return ro, nil
}

// apply sets the given options on r; a password becomes a SCRAM-SHA-256 verifier.
func (ro *roleOptions) apply(r *catalog.Role) error {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&r.Login, ro.login)
	set(&r.Superuser, ro.superuser)
	set(&r.Inherit, ro.inherit)
	set(&r.CreateRole, ro.createRole)
	set(&r.CreateDB, ro.createDB)
	set(&r.Replication, ro.replication)
	set(&r.BypassRLS, ro.bypassRLS)
	if ro.validUntil != nil {
		r.ValidUntil = *ro.validUntil
	}
	if ro.password != nil {
		switch p := *ro.password; {
		case p == "": // PASSWORD NULL, or PASSWORD '' (with a notice)
			r.Password = ""
		case pgscram.IsVerifier(p):
			if _, err := pgscram.Parse(p); err != nil {
				return engine.Errorf(sqlstate.InvalidParameterValue, "invalid SCRAM-SHA-256 verifier for role %q", r.Name)
			}
			r.Password = p
		case strings.HasPrefix(p, "md5") && len(p) == 35:
			return &engine.Error{Code: sqlstate.FeatureNotSupported,
				Message: "MD5 password hashes are not supported",
				Hint:    "Give the password itself, or a SCRAM-SHA-256 verifier (SCRAM-SHA-256$...)."}
		default:
			v, err := pgscram.Verifier(p)
			if err != nil {
				return fmt.Errorf("role %s: password: %w", r.Name, err)
			}
			r.Password = v
		}
	}
	return nil
}

// passwordOnly reports whether the options change nothing but the password.
func (ro *roleOptions) passwordOnly() bool {
	return ro.login == nil && ro.superuser == nil && ro.inherit == nil && ro.createRole == nil &&
		ro.createDB == nil && ro.replication == nil && ro.bypassRLS == nil && ro.validUntil == nil &&
		len(ro.inRoles)+len(ro.members)+len(ro.admins) == 0
}

func undefinedRole(name string) error {
	return engine.Errorf(sqlstate.UndefinedObject, "role %q does not exist", name)
}

func denied(format string, args ...any) error {
	return engine.Errorf(sqlstate.InsufficientPrivilege, format, args...)
}

// emptyPasswordNotice is PostgreSQL's answer to PASSWORD ”.
const emptyPasswordNotice = "empty string is not a valid password, clearing password"

func (b *binder) createRole(cs *pg.CreateRoleStmt) (*bound, []engine.Field, error) {
	ro, err := roleOptionsOf(cs.Options)
	if err != nil {
		return nil, nil, err
	}
	name := cs.Role
	if err := b.need(access{kind: accessCreateRole}); err != nil {
		return nil, nil, err
	}
	if strings.HasPrefix(name, "pg_") {
		return nil, nil, &engine.Error{Code: sqlstate.ReservedName, Message: fmt.Sprintf("role name %q is reserved", name),
			Detail: `Role names starting with "pg_" are reserved.`}
	}
	switch name {
	case "public", "none":
		return nil, nil, engine.Errorf(sqlstate.ReservedName, "role name %q is reserved", name)
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		me := s.db.principalOf(s.currentUser())
		if (ro.superuser != nil && *ro.superuser) && !me.superuser() {
			return nil, denied("must be superuser to create superusers")
		}
		if ((ro.replication != nil && *ro.replication) || (ro.bypassRLS != nil && *ro.bypassRLS)) && !me.superuser() {
			return nil, denied("must be superuser to create replication users")
		}
		cat := s.db.store.Catalog()
		if _, ok := cat.Role(name); ok {
			return nil, engine.Errorf(sqlstate.DuplicateObject, "role %q already exists", name)
		}
		r := catalog.Role{Name: name, Inherit: true, Login: cs.StmtType == pg.RoleStmtType_ROLESTMT_USER}
		var res Result
		res.Tag = "CREATE ROLE"
		if passwordIsEmptyString(cs.Options) {
			res.Notices = append(res.Notices, emptyPasswordNotice)
		}
		if err := ro.apply(&r); err != nil {
			return nil, err
		}
		ch := catalog.RoleChange{Put: []catalog.Role{r}}
		grantor := me.role.OID
		for _, in := range ro.inRoles {
			up, ok := cat.Role(in)
			if !ok {
				return nil, undefinedRole(in)
			}
			if err := s.db.checkGrantRole(me, up); err != nil {
				return nil, err
			}
			ch.Grant = append(ch.Grant, catalog.Membership{Role: up.OID, Member: catalog.NewRoleRef(0), Grantor: grantor})
		}
		for i, list := range [][]string{ro.members, ro.admins} {
			for _, m := range list {
				mr, ok := cat.Role(m)
				if !ok {
					return nil, undefinedRole(m)
				}
				ch.Grant = append(ch.Grant, catalog.Membership{Role: catalog.NewRoleRef(0), Member: mr.OID, Grantor: grantor, Admin: i == 1})
			}
		}
		if _, err := cat.ApplyRoles(ch); err != nil {
			if errors.Is(err, catalog.ErrRoleExists) {
				return nil, engine.Errorf(sqlstate.DuplicateObject, "role %q already exists", name)
			}
			return nil, err
		}
		return &res, nil
	}}, nil, nil
}

// passwordIsEmptyString reports whether the options hold PASSWORD ” (not PASSWORD NULL).
func passwordIsEmptyString(opts []*pg.Node) bool {
	for _, n := range opts {
		if d := n.GetDefElem(); d != nil && d.Defname == "password" && d.Arg != nil && d.Arg.GetString_().GetSval() == "" {
			return true
		}
	}
	return false
}

// roleSpecName resolves a role specification (name, CURRENT_USER, CURRENT_ROLE,
// SESSION_USER).
func roleSpecName(rs *pg.RoleSpec, current, session string) (string, error) {
	switch rs.Roletype {
	case pg.RoleSpecType_ROLESPEC_CSTRING:
		return rs.Rolename, nil
	case pg.RoleSpecType_ROLESPEC_CURRENT_USER, pg.RoleSpecType_ROLESPEC_CURRENT_ROLE:
		return current, nil
	case pg.RoleSpecType_ROLESPEC_SESSION_USER:
		return session, nil
	case pg.RoleSpecType_ROLESPEC_PUBLIC:
		return "", posErr(engine.Errorf(sqlstate.UndefinedObject, "role \"public\" does not exist"), rs.Location)
	}
	return "", engine.Unsupported("this role specification")
}

func (b *binder) alterRole(as *pg.AlterRoleStmt) (*bound, []engine.Field, error) {
	if as.Action != 1 {
		return nil, nil, engine.Unsupported("ALTER GROUP")
	}
	name, err := roleSpecName(as.Role, b.user, b.sessionUser)
	if err != nil {
		return nil, nil, err
	}
	ro, err := roleOptionsOf(as.Options)
	if err != nil {
		return nil, nil, err
	}
	if len(ro.inRoles)+len(ro.members)+len(ro.admins) > 0 {
		return nil, nil, engine.Unsupported("ALTER ROLE ... IN ROLE / ROLE / ADMIN (use GRANT role TO role)")
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		cat := s.db.store.Catalog()
		r, ok := cat.Role(name)
		if !ok {
			return nil, undefinedRole(name)
		}
		me := s.db.principalOf(s.currentUser())
		switch {
		case me.superuser():
		case r.Superuser || ro.superuser != nil:
			return nil, denied("must be superuser to alter superuser roles or change superuser attribute")
		case ro.replication != nil:
			return nil, denied("must be superuser to alter replication roles or change replication attribute")
		case ro.bypassRLS != nil:
			return nil, denied("must be superuser to change bypassrls attribute")
		case me.exists && me.role.CreateRole:
		case me.exists && me.role.OID == r.OID && ro.passwordOnly():
		default:
			return nil, denied("permission denied")
		}
		if r.Predefined() && !me.superuser() {
			return nil, denied("permission denied")
		}
		res := &Result{Tag: "ALTER ROLE"}
		if passwordIsEmptyString(as.Options) {
			res.Notices = append(res.Notices, emptyPasswordNotice)
		}
		if err := ro.apply(&r); err != nil {
			return nil, err
		}
		if _, err := cat.ApplyRoles(catalog.RoleChange{Put: []catalog.Role{r}}); err != nil {
			return nil, err
		}
		return res, nil
	}}, nil, nil
}

func (b *binder) renameRole(rs *pg.RenameStmt) (*bound, []engine.Field, error) {
	old, name := rs.Subname, rs.Newname
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		cat := s.db.store.Catalog()
		r, ok := cat.Role(old)
		if !ok {
			return nil, undefinedRole(old)
		}
		switch r.Name {
		case s.User:
			return nil, engine.Errorf(sqlstate.FeatureNotSupported, "session user cannot be renamed")
		case s.currentUser():
			return nil, engine.Errorf(sqlstate.FeatureNotSupported, "current user cannot be renamed")
		}
		if r.Predefined() || r.OID == catalog.BootstrapSuperuserOID {
			return nil, engine.Errorf(sqlstate.ReservedName, "role name %q is reserved", r.Name)
		}
		if strings.HasPrefix(name, "pg_") {
			return nil, &engine.Error{Code: sqlstate.ReservedName, Message: fmt.Sprintf("role name %q is reserved", name),
				Detail: `Role names starting with "pg_" are reserved.`}
		}
		if _, ok := cat.Role(name); ok {
			return nil, engine.Errorf(sqlstate.DuplicateObject, "role %q already exists", name)
		}
		me := s.db.principalOf(s.currentUser())
		switch {
		case r.Superuser && !me.superuser():
			return nil, denied("must be superuser to rename superusers")
		case !me.superuser() && !(me.exists && me.role.CreateRole):
			return nil, denied("permission denied to rename role")
		}
		r.Name = name
		if _, err := cat.ApplyRoles(catalog.RoleChange{Put: []catalog.Role{r}}); err != nil {
			return nil, err
		}
		return &Result{Tag: "ALTER ROLE"}, nil
	}}, nil, nil
}

func (b *binder) dropRole(ds *pg.DropRoleStmt) (*bound, []engine.Field, error) {
	var names []string
	for _, n := range ds.Roles {
		name, err := roleSpecName(n.GetRoleSpec(), b.user, b.sessionUser)
		if err != nil {
			return nil, nil, err
		}
		names = append(names, name)
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		cat := s.db.store.Catalog()
		me := s.db.principalOf(s.currentUser())
		if !me.superuser() && !(me.exists && me.role.CreateRole) {
			return nil, denied("permission denied to drop role")
		}
		res := &Result{Tag: "DROP ROLE"}
		var drop []uint32
		for _, name := range names {
			r, ok := cat.Role(name)
			if !ok {
				if ds.MissingOk {
					res.Notices = append(res.Notices, fmt.Sprintf("role %q does not exist, skipping", name))
					continue
				}
				return nil, undefinedRole(name)
			}
			switch {
			case r.OID < catalog.FirstNormalRoleOID:
				return nil, engine.Errorf(sqlstate.DependentObjectsStillExist, "cannot drop role %s because it is required by the database system", r.Name)
			case r.Name == s.currentUser():
				return nil, engine.Errorf(sqlstate.ObjectInUse, "current user cannot be dropped")
			case r.Name == s.User:
				return nil, engine.Errorf(sqlstate.ObjectInUse, "session user cannot be dropped")
			case r.Superuser && !me.superuser():
				return nil, denied("must be superuser to drop superusers")
			}
			drop = append(drop, r.OID)
		}
		if len(drop) == 0 {
			return res, nil
		}
		_, err := cat.ApplyRoles(catalog.RoleChange{Drop: drop})
		var inUse *catalog.RoleInUseError
		if errors.As(err, &inUse) {
			var detail []string
			for _, t := range inUse.Owns {
				detail = append(detail, "owner of table "+t)
			}
			for _, t := range inUse.Privileges {
				detail = append(detail, "privileges for table "+t)
			}
			if inUse.Schema {
				detail = append(detail, "privileges for schema public")
			}
			return nil, &engine.Error{Code: sqlstate.DependentObjectsStillExist, Detail: strings.Join(detail, "\n"),
				Message: fmt.Sprintf("role %q cannot be dropped because some objects depend on it", inUse.Role)}
		}
		if err != nil {
			return nil, err
		}
		return res, nil
	}}, nil, nil
}

// checkGrantRole decides whether me may grant or revoke membership in role r
// (PostgreSQL 15's AddRoleMems / DelRoleMems).
func (db *DB) checkGrantRole(me *principal, r catalog.Role) error {
	switch {
	case me.superuser():
		return nil
	case r.Superuser:
		return denied("must be superuser to alter superusers")
	case me.exists && me.role.CreateRole && !r.Predefined():
		return nil
	}
	for _, m := range db.store.Catalog().Memberships() {
		if m.Role == r.OID && m.Admin && me.memberOf[m.Member] {
			return nil
		}
	}
	return denied("must have admin option on role %q", r.Name)
}

func (b *binder) grantRole(gs *pg.GrantRoleStmt) (*bound, []engine.Field, error) {
	var granted, grantees []string
	for _, n := range gs.GrantedRoles {
		granted = append(granted, n.GetAccessPriv().GetPrivName())
	}
	for _, n := range gs.GranteeRoles {
		name, err := roleSpecName(n.GetRoleSpec(), b.user, b.sessionUser)
		if err != nil {
			return nil, nil, err
		}
		grantees = append(grantees, name)
	}
	admin := false
	for _, o := range gs.Opt {
		d := o.GetDefElem()
		switch {
		case d == nil:
		case d.Defname == "admin":
			admin = d.Arg == nil || d.Arg.GetBoolean().GetBoolval()
		default:
			return nil, nil, posErr(engine.Unsupported("GRANT role WITH "+strings.ToUpper(d.Defname)), d.Location)
		}
	}
	if gs.Grantor != nil {
		return nil, nil, engine.Unsupported("GRANTED BY")
	}
	tag := "GRANT ROLE"
	if !gs.IsGrant {
		tag = "REVOKE ROLE"
		if admin {
			return nil, nil, engine.Unsupported("REVOKE ADMIN OPTION FOR")
		}
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		cat := s.db.store.Catalog()
		me := s.db.principalOf(s.currentUser())
		res := &Result{Tag: tag}
		var ch catalog.RoleChange
		members := cat.Memberships()
		isMember := func(role, member uint32) bool {
			return slices.ContainsFunc(members, func(m catalog.Membership) bool { return m.Role == role && m.Member == member })
		}
		for _, gname := range granted {
			r, ok := cat.Role(gname)
			if !ok {
				return nil, undefinedRole(gname)
			}
			if err := s.db.checkGrantRole(me, r); err != nil {
				return nil, err
			}
			for _, mname := range grantees {
				m, ok := cat.Role(mname)
				if !ok {
					return nil, undefinedRole(mname)
				}
				if !gs.IsGrant {
					if !isMember(r.OID, m.OID) {
						res.Notices = append(res.Notices, fmt.Sprintf("role %q is not a member of role %q", m.Name, r.Name))
						continue
					}
					ch.Revoke = append(ch.Revoke, catalog.Membership{Role: r.OID, Member: m.OID})
					continue
				}
				// A membership loop would make a role a member of itself.
				if m.OID == r.OID || s.db.principalOf(r.Name).memberOf[m.OID] {
					return nil, engine.Errorf(sqlstate.InvalidGrantOperation, "role %q is a member of role %q", r.Name, m.Name)
				}
				if isMember(r.OID, m.OID) && !admin {
					res.Notices = append(res.Notices, fmt.Sprintf("role %q is already a member of role %q", m.Name, r.Name))
					continue
				}
				grantor := catalog.BootstrapSuperuserOID
				if me.exists {
					grantor = me.role.OID
				}
				ch.Grant = append(ch.Grant, catalog.Membership{Role: r.OID, Member: m.OID, Grantor: grantor, Admin: admin})
			}
		}
		if len(ch.Grant)+len(ch.Revoke) > 0 {
			if _, err := cat.ApplyRoles(ch); err != nil {
				return nil, err
			}
		}
		return res, nil
	}}, nil, nil
}

// tablePrivNames are the privileges GRANT on a table takes, by PostgreSQL's name.
var tablePrivNames = map[string]catalog.Privileges{
	"select": catalog.PrivSelect, "insert": catalog.PrivInsert, "update": catalog.PrivUpdate,
	"delete": catalog.PrivDelete, "truncate": catalog.PrivTruncate, "references": catalog.PrivReferences,
	"trigger": catalog.PrivTrigger,
}

func (b *binder) grant(gs *pg.GrantStmt) (*bound, []engine.Field, error) {
	if gs.GrantOption {
		return nil, nil, engine.Unsupported("WITH GRANT OPTION")
	}
	if gs.Grantor != nil {
		return nil, nil, engine.Unsupported("GRANTED BY")
	}
	schema := false
	switch {
	case gs.Objtype == pg.ObjectType_OBJECT_SCHEMA && gs.Targtype == pg.GrantTargetType_ACL_TARGET_OBJECT:
		schema = true
	case gs.Objtype == pg.ObjectType_OBJECT_TABLE && (gs.Targtype == pg.GrantTargetType_ACL_TARGET_OBJECT || gs.Targtype == pg.GrantTargetType_ACL_TARGET_ALL_IN_SCHEMA):
	default:
		return nil, nil, engine.Unsupported("GRANT and REVOKE on objects other than tables and schema public")
	}
	all, names := catalog.PrivAll, tablePrivNames
	if schema {
		all, names = catalog.PrivUsage|catalog.PrivCreate, map[string]catalog.Privileges{"usage": catalog.PrivUsage, "create": catalog.PrivCreate}
	}
	privs := all
	if len(gs.Privileges) > 0 {
		privs = 0
		for _, n := range gs.Privileges {
			ap := n.GetAccessPriv()
			if len(ap.Cols) > 0 {
				return nil, nil, engine.Unsupported("column privileges")
			}
			p, ok := names[ap.PrivName]
			if !ok {
				what := "relation"
				if schema {
					what = "schema"
				}
				return nil, nil, engine.Errorf(sqlstate.InvalidGrantOperation, "invalid privilege type %s for %s", strings.ToUpper(ap.PrivName), what)
			}
			privs |= p
		}
	}
	var grantees []*pg.RoleSpec
	for _, n := range gs.Grantees {
		grantees = append(grantees, n.GetRoleSpec())
	}
	// The tables, resolved when the statement runs (ALL TABLES IN SCHEMA: those there then).
	var tables []string
	var allTables bool
	for _, o := range gs.Objects {
		switch {
		case o.GetRangeVar() != nil:
			rv := o.GetRangeVar()
			if rv.Schemaname != "" && rv.Schemaname != "public" {
				return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedTable, "relation \"%s.%s\" does not exist", rv.Schemaname, rv.Relname), rv.Location)
			}
			if _, ok := b.db.store.Table(rv.Relname); !ok {
				return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", rv.Relname), rv.Location)
			}
			tables = append(tables, rv.Relname)
		case o.GetString_() != nil:
			if s := o.GetString_().Sval; s != "public" {
				return nil, nil, engine.Errorf(sqlstate.InvalidSchemaName, "schema %q does not exist", s)
			}
			allTables = !schema
		}
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		cat := s.db.store.Catalog()
		me := s.db.principalOf(s.currentUser())
		var oids []uint32
		for _, rs := range grantees {
			if rs.Roletype == pg.RoleSpecType_ROLESPEC_PUBLIC {
				oids = append(oids, catalog.PublicOID)
				continue
			}
			name, err := roleSpecName(rs, s.currentUser(), s.User)
			if err != nil {
				return nil, err
			}
			r, ok := cat.Role(name)
			if !ok {
				return nil, undefinedRole(name)
			}
			oids = append(oids, r.OID)
		}
		tag := "GRANT"
		if !gs.IsGrant {
			tag = "REVOKE"
		}
		ch := catalog.RoleChange{ACLs: map[uint64][]catalog.ACLItem{}}
		if schema {
			if !me.superuser() && !me.privsOf[catalog.BootstrapSuperuserOID] {
				return nil, denied("permission denied for schema public")
			}
			ch.ACLs[catalog.SchemaPublicACLID] = editACL(schemaACL(cat), catalog.BootstrapSuperuserOID, oids, privs, gs.IsGrant)
		} else {
			names := tables
			if allTables {
				names = nil
				for _, def := range s.db.store.Tables() {
					names = append(names, def.Name)
				}
			}
			for _, name := range names {
				def, ok := s.db.store.Table(name)
				if !ok {
					return nil, engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", name)
				}
				// PostgreSQL lets the owner (or a member of the owning role) grant;
				// the grant is recorded as the owner's.
				if !me.hasPrivsOf(def.OwnerOID()) {
					return nil, denied("permission denied for table %s", def.Name)
				}
				ch.ACLs[def.ID] = editACL(effectiveACL(cat, &def), def.OwnerOID(), oids, privs, gs.IsGrant)
			}
		}
		if _, err := cat.ApplyRoles(ch); err != nil {
			return nil, err
		}
		return &Result{Tag: tag}, nil
	}}, nil, nil
}

// editACL returns acl with privs granted to (or revoked from) each grantee, as
// granted by grantor: an item per (grantee, grantor), new ones appended, emptied
// ones removed (PostgreSQL's aclupdate).
func editACL(acl []catalog.ACLItem, grantor uint32, grantees []uint32, privs catalog.Privileges, grant bool) []catalog.ACLItem {
	out := slices.Clone(acl)
	for _, g := range grantees {
		i := slices.IndexFunc(out, func(it catalog.ACLItem) bool { return it.Grantee == g && it.Grantor == grantor })
		switch {
		case grant && i >= 0:
			out[i].Privs |= privs
		case grant:
			out = append(out, catalog.ACLItem{Grantee: g, Grantor: grantor, Privs: privs})
		case i >= 0:
			out[i].Privs &^= privs
			if out[i].Privs == 0 {
				out = slices.Delete(out, i, i+1)
			}
		}
	}
	if out == nil {
		out = []catalog.ACLItem{} // an empty ACL, not the default
	}
	return out
}

// alterOwner binds ALTER TABLE t OWNER TO r, and ALTER TABLE t SET/RESET
// (options) through alterOptions: the ALTER TABLEs strata runs.
func (b *binder) alterTable(at *pg.AlterTableStmt) (*bound, []engine.Field, error) {
	options := len(at.Cmds) > 0
	for _, c := range at.Cmds {
		st := c.GetAlterTableCmd().GetSubtype()
		options = options && (st == pg.AlterTableType_AT_SetRelOptions || st == pg.AlterTableType_AT_ResetRelOptions)
	}
	if !options && (len(at.Cmds) != 1 || at.Cmds[0].GetAlterTableCmd().GetSubtype() != pg.AlterTableType_AT_ChangeOwner) {
		return nil, nil, engine.Unsupported("ALTER TABLE")
	}
	rv := at.Relation
	if rv.Schemaname != "" && rv.Schemaname != "public" {
		return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedTable, "relation \"%s.%s\" does not exist", rv.Schemaname, rv.Relname), rv.Location)
	}
	def, ok := b.db.store.Table(rv.Relname)
	if !ok {
		if at.MissingOk {
			return &bound{run: func(context.Context, *Session, []engine.Value) (*Result, error) {
				return &Result{Tag: "ALTER TABLE", Notices: []string{fmt.Sprintf("relation %q does not exist, skipping", rv.Relname)}}, nil
			}}, nil, nil
		}
		return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", rv.Relname), rv.Location)
	}
	if options {
		return b.alterOptions(at, def)
	}
	if err := b.need(access{kind: accessOwner, table: def.Name}); err != nil {
		return nil, nil, err
	}
	newOwner, err := roleSpecName(at.Cmds[0].GetAlterTableCmd().Newowner, b.user, b.sessionUser)
	if err != nil {
		return nil, nil, err
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		cat := s.db.store.Catalog()
		r, ok := cat.Role(newOwner)
		if !ok {
			return nil, undefinedRole(newOwner)
		}
		me := s.db.principalOf(s.currentUser())
		if !me.superuser() && !me.memberOf[r.OID] {
			return nil, denied("must be member of role %q", r.Name)
		}
		if err := s.db.setTableOwner(ctx, def.Name, r.OID); err != nil {
			return nil, lakeErr(def.Name, err)
		}
		return &Result{Tag: "ALTER TABLE"}, nil
	}}, nil, nil
}

// currentUser is the role the session's statements run as (current_user): the
// session user, or the role SET ROLE chose.
func (s *Session) currentUser() string {
	if s.role != "" {
		return s.role
	}
	return s.User
}

// setRole binds SET ROLE r | NONE and RESET ROLE. As PostgreSQL 15, the session
// user must be a superuser or a member of r.
func (b *binder) setRole(vs *pg.VariableSetStmt) (*bound, []engine.Field, error) {
	name := ""
	if vs.Kind == pg.VariableSetKind_VAR_SET_VALUE && len(vs.Args) == 1 {
		name = vs.Args[0].GetAConst().GetSval().GetSval()
		if strings.EqualFold(name, "none") {
			name = ""
		}
	} else if vs.Kind != pg.VariableSetKind_VAR_RESET && vs.Kind != pg.VariableSetKind_VAR_SET_DEFAULT {
		return nil, nil, engine.Unsupported("this form of SET ROLE")
	}
	tag := "SET"
	if vs.Kind == pg.VariableSetKind_VAR_RESET {
		tag = "RESET"
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		if name != "" {
			r, ok := s.db.store.Catalog().Role(name)
			if !ok {
				return nil, engine.Errorf(sqlstate.InvalidParameterValue, "role %q does not exist", name)
			}
			me := s.db.principalOf(s.User)
			if !me.superuser() && !me.memberOf[r.OID] {
				return nil, denied("permission denied to set role %q", name)
			}
		}
		s.role = name
		return &Result{Tag: tag}, nil
	}}, nil, nil
}
