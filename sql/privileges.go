package sql

import (
	"fmt"
	"strings"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/catalog"
)

// Privileges, as PostgreSQL checks them. Every statement lists what it needs —
// one access per table it reads or writes, per table it alters, per superuser-only
// action — while it is bound (binder.need, or the lake and ingest verbs' own
// bound.needs); checkAccess is the one place that decides. The needs are checked when
// the statement is bound (so delta_scan is refused before it reads a path) and again
// each time it executes (so a REVOKE, or a read-only transaction begun since, applies
// to a statement prepared before it).
//
// Who may do what:
//   - a superuser may do anything (except write in a read-only transaction);
//   - reading a table needs SELECT on it (the table's ACL, through the role's own
//     grants, those of the roles it inherits from, and PUBLIC's), or membership in
//     pg_read_all_data; writing (INSERT, COPY FROM STDIN) needs INSERT, or
//     pg_write_all_data;
//   - altering or dropping a table, OPTIMIZE, VACUUM, PAUSE/RESUME INGEST need its
//     owner (or a member of the owning role);
//   - creating a table needs CREATE on schema public (PostgreSQL 15: only its owner,
//     strata, until granted);
//   - COPY FROM a server file needs pg_read_server_files; delta_scan, CREATE
//     EXTERNAL TABLE, the lake_path and kafka_* table options and
//     strata.vacuum_retention_check need a superuser: each names a server path or
//     credentials.

// accessKind is what a statement needs.
type accessKind uint8

const (
	accessSelect           accessKind = iota + 1 // read the rows of table
	accessInsert                                 // add rows to table
	accessOwner                                  // alter, drop, optimize, vacuum table
	accessCreateTable                            // create a table in schema public
	accessSuperuser                              // what: "must be superuser to <what>"
	accessReadServerFiles                        // COPY FROM a server file
	accessCreateRole                             // CREATE ROLE
	accessSetting                                // what: a parameter only superusers set
	accessSuperuserCatalog                       // read a catalog relation only superusers read (pg_authid)
	accessWrite                                  // change anything: refused in a read-only transaction; what is the command
	accessUpdate                                 // change rows of table
	accessDelete                                 // delete rows of table
)

// access is one need of a statement.
type access struct {
	kind  accessKind
	table string // the table, for the kinds on a table
	what  string // accessSuperuser: the action; accessWrite: the command ("INSERT", "CREATE TABLE")
}

// principal is a role as privilege checks see it: itself and every role whose
// privileges it has.
type principal struct {
	name   string
	role   catalog.Role
	exists bool
	// privsOf holds the OIDs whose privileges the role has: its own, and those of
	// every role it is a member of, transitively, through roles that inherit.
	privsOf map[uint32]bool
	// memberOf holds itself and every role it is a member of, transitively,
	// whether inherited or not.
	memberOf map[uint32]bool
}

// principalOf looks name up in the catalog. A name with no role (a session
// started for a role since dropped) has no privileges beyond PUBLIC's.
func (db *DB) principalOf(name string) *principal {
	cat := db.store.Catalog()
	p := &principal{name: name, privsOf: map[uint32]bool{}, memberOf: map[uint32]bool{}}
	p.role, p.exists = cat.Role(name)
	if !p.exists {
		return p
	}
	roles := map[uint32]catalog.Role{}
	for _, r := range cat.Roles() {
		roles[r.OID] = r
	}
	parents := map[uint32][]uint32{}
	for _, m := range cat.Memberships() {
		parents[m.Member] = append(parents[m.Member], m.Role)
	}
	// As PostgreSQL's roles_is_member_of: walk up from the role; a role without
	// INHERIT passes on no privileges of the roles it is a member of (but it is
	// still a member of them).
	walk := func(into map[uint32]bool, inheritOnly bool) {
		into[p.role.OID] = true
		queue := []uint32{p.role.OID}
		for len(queue) > 0 {
			oid := queue[0]
			queue = queue[1:]
			if inheritOnly && !roles[oid].Inherit {
				continue
			}
			for _, up := range parents[oid] {
				if !into[up] {
					into[up] = true
					queue = append(queue, up)
				}
			}
		}
	}
	walk(p.privsOf, true)
	walk(p.memberOf, false)
	return p
}

func (p *principal) superuser() bool { return p.exists && p.role.Superuser }

// hasPrivsOf reports whether p has the privileges of role oid (is it, or inherits from it).
func (p *principal) hasPrivsOf(oid uint32) bool { return p.superuser() || p.privsOf[oid] }

// tablePrivileges are the privileges p holds on def (all of them for a superuser).
func (db *DB) tablePrivileges(p *principal, def *catalog.TableDef) catalog.Privileges {
	if p.superuser() {
		return catalog.PrivAll
	}
	var privs catalog.Privileges
	for _, it := range effectiveACL(db.store.Catalog(), def) {
		if it.Grantee == catalog.PublicOID || p.privsOf[it.Grantee] {
			privs |= it.Privs
		}
	}
	if p.privsOf[catalog.PgReadAllDataOID] {
		privs |= catalog.PrivSelect
	}
	if p.privsOf[catalog.PgWriteAllDataOID] {
		privs |= catalog.PrivInsert | catalog.PrivUpdate | catalog.PrivDelete
	}
	return privs
}

// effectiveACL is def's ACL, or the default one: its owner holds every privilege.
func effectiveACL(cat *catalog.Catalog, def *catalog.TableDef) []catalog.ACLItem {
	if acl, ok := cat.ACL(def.ID); ok {
		return acl
	}
	return defaultACL(def)
}

func defaultACL(def *catalog.TableDef) []catalog.ACLItem {
	return []catalog.ACLItem{{Grantee: def.OwnerOID(), Grantor: def.OwnerOID(), Privs: catalog.PrivAll}}
}

// schemaCreateAllowed reports whether p may create tables in schema public.
func (db *DB) schemaCreateAllowed(p *principal) bool {
	if p.superuser() {
		return true
	}
	for _, it := range schemaACL(db.store.Catalog()) {
		if it.Privs&catalog.PrivCreate != 0 && (it.Grantee == catalog.PublicOID || p.privsOf[it.Grantee]) {
			return true
		}
	}
	return false
}

// schemaACL is schema public's ACL: PostgreSQL 15's default gives its owner
// (the bootstrap superuser here, pg_database_owner there) USAGE and CREATE, and
// PUBLIC USAGE.
func schemaACL(cat *catalog.Catalog) []catalog.ACLItem {
	if acl, ok := cat.ACL(catalog.SchemaPublicACLID); ok {
		return acl
	}
	su := catalog.BootstrapSuperuserOID
	return []catalog.ACLItem{{Grantee: su, Grantor: su, Privs: catalog.PrivUsage | catalog.PrivCreate},
		{Grantee: catalog.PublicOID, Grantor: su, Privs: catalog.PrivUsage}}
}

// checkAccess decides one need of user's statement; accessWrite is the session's
// (checkWrite). Denials are PostgreSQL's 42501 with its wording.
func (db *DB) checkAccess(user string, a access) error {
	if a.kind == accessWrite {
		return nil
	}
	p := db.principalOf(user)
	if p.superuser() {
		return nil
	}
	switch a.kind {
	case accessSelect, accessInsert, accessOwner, accessUpdate, accessDelete:
		def, ok := db.store.Table(a.table)
		if !ok {
			return nil // binding or running reports the missing table
		}
		switch a.kind {
		case accessOwner:
			if !p.privsOf[def.OwnerOID()] {
				return engine.Errorf(sqlstate.InsufficientPrivilege, "must be owner of table %s", def.Name)
			}
		case accessSelect:
			if db.tablePrivileges(p, &def)&catalog.PrivSelect == 0 {
				return engine.Errorf(sqlstate.InsufficientPrivilege, "permission denied for table %s", def.Name)
			}
		case accessInsert:
			if db.tablePrivileges(p, &def)&catalog.PrivInsert == 0 {
				return engine.Errorf(sqlstate.InsufficientPrivilege, "permission denied for table %s", def.Name)
			}
		case accessUpdate:
			if db.tablePrivileges(p, &def)&catalog.PrivUpdate == 0 {
				return engine.Errorf(sqlstate.InsufficientPrivilege, "permission denied for table %s", def.Name)
			}
		case accessDelete:
			if db.tablePrivileges(p, &def)&catalog.PrivDelete == 0 {
				return engine.Errorf(sqlstate.InsufficientPrivilege, "permission denied for table %s", def.Name)
			}
		}
	case accessCreateTable:
		if !db.schemaCreateAllowed(p) {
			return engine.Errorf(sqlstate.InsufficientPrivilege, "permission denied for schema public")
		}
	case accessSuperuser:
		return engine.Errorf(sqlstate.InsufficientPrivilege, "must be superuser to %s", a.what)
	case accessReadServerFiles:
		if !p.privsOf[catalog.PgReadServerFilesOID] {
			return &engine.Error{Code: sqlstate.InsufficientPrivilege,
				Message: "must be superuser or have privileges of the pg_read_server_files role to COPY from a file",
				Hint:    "Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone."}
		}
	case accessSuperuserCatalog:
		return engine.Errorf(sqlstate.InsufficientPrivilege, "permission denied for table %s", a.table)
	case accessSetting:
		return engine.Errorf(sqlstate.InsufficientPrivilege, "permission denied to set parameter %q", a.what)
	case accessCreateRole:
		if !p.exists || !p.role.CreateRole {
			return engine.Errorf(sqlstate.InsufficientPrivilege, "permission denied to create role")
		}
	default:
		panic(fmt.Sprintf("BUG: access kind %d", a.kind))
	}
	return nil
}

// checkAccess checks every need of a statement about to run in s: the privileges,
// and that a write is not in a read-only transaction.
func (s *Session) checkAccess(needs []access) error {
	for _, a := range needs {
		if a.kind == accessWrite {
			if s.readOnly() {
				return engine.Errorf(sqlstate.ReadOnlySQLTransaction, "cannot execute %s in a read-only transaction", a.what)
			}
			continue
		}
		if err := s.db.checkAccess(s.currentUser(), a); err != nil {
			return err
		}
	}
	return nil
}

// checkPrivileges checks the privilege needs of a statement being prepared (a
// read-only transaction is the statement's when it runs).
func (s *Session) checkPrivileges(needs []access) error {
	for _, a := range needs {
		if err := s.db.checkAccess(s.currentUser(), a); err != nil {
			return err
		}
	}
	return nil
}

// need records that the statement being bound needs a, and checks it now.
func (b *binder) need(a access) error {
	b.needs = append(b.needs, a)
	return b.db.checkAccess(b.user, a)
}

// superuserOptions are the table options only a superuser may set: they name a
// server path (lake_path) or reach an outside system with the server's
// credentials (kafka_*).
func superuserOption(name string) bool {
	o, _ := catalog.LookupOption(name)
	return o.Superuser
}

// superuserSetting reports whether only a superuser may set parameter name:
// strata.vacuum_retention_check off lets VACUUM delete files a reader may still need.
func superuserSetting(name string) bool { return strings.EqualFold(name, settingVacuumCheck) }

// secretOption reports whether a table option holds a secret that no catalog view,
// listing or message shows.
func secretOption(name string) bool {
	o, _ := catalog.LookupOption(name)
	return o.Secret
}
