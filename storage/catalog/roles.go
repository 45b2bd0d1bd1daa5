package catalog

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/stratadb/strata/storage"
)

// Roles, memberships and table privileges, as PostgreSQL's pg_authid,
// pg_auth_members and pg_class.relacl hold them. Roles are named by OID everywhere
// else (table owners, ACL items, memberships), so renaming a role changes one record.

// Errors of the role catalog, for errors.Is.
var (
	ErrRoleExists = errors.New("role already exists")
	ErrNoRole     = errors.New("role does not exist")
	// ErrReservedRole marks a change to the bootstrap superuser or a predefined role
	// that PostgreSQL refuses too (dropping it, renaming it).
	ErrReservedRole = errors.New("role is reserved")
)

// OIDs of the roles every catalog holds. They are PostgreSQL's own (pg_authid.dat),
// so clients that know them (pg_read_all_data is 6181 in every PostgreSQL 14+) agree.
const (
	BootstrapSuperuserOID uint32 = 10
	PgSignalBackendOID    uint32 = 4200
	PgReadServerFilesOID  uint32 = 4569
	PgMonitorOID          uint32 = 3373
	PgReadAllDataOID      uint32 = 6181
	PgWriteAllDataOID     uint32 = 6182

	// FirstNormalRoleOID is the OID of the first role CreateRole makes
	// (PostgreSQL's FirstNormalObjectId).
	FirstNormalRoleOID uint32 = 16384
)

// BootstrapSuperuser is the name of the role Open creates in every catalog (as
// initdb creates the role named after the OS user).
const BootstrapSuperuser = "strata"

// bootstrapRoles are created by Open when missing, so an existing data directory
// gets them on its first open by this version.
var bootstrapRoles = []Role{
	{OID: BootstrapSuperuserOID, Name: BootstrapSuperuser, Superuser: true, Inherit: true, CreateRole: true, CreateDB: true, Login: true, Replication: true, BypassRLS: true},
	{OID: PgMonitorOID, Name: "pg_monitor", Inherit: true},
	{OID: PgSignalBackendOID, Name: "pg_signal_backend", Inherit: true},
	{OID: PgReadServerFilesOID, Name: "pg_read_server_files", Inherit: true},
	{OID: PgReadAllDataOID, Name: "pg_read_all_data", Inherit: true},
	{OID: PgWriteAllDataOID, Name: "pg_write_all_data", Inherit: true},
}

// Role is one role (pg_authid row).
type Role struct {
	OID         uint32
	Name        string
	Superuser   bool // rolsuper
	Inherit     bool // rolinherit: uses the privileges of the roles it is a member of
	CreateRole  bool // rolcreaterole
	CreateDB    bool // rolcreatedb (shown by \du; strata has one database)
	Login       bool // rolcanlogin
	Replication bool `json:",omitempty"` // rolreplication (shown only)
	BypassRLS   bool `json:",omitempty"` // rolbypassrls (shown only)
	// Password is a SCRAM-SHA-256 verifier (package internal/pgscram), never a
	// password in clear; "" when the role has none.
	Password string `json:",omitempty"`
	// ValidUntil is when the password stops being accepted; zero: never.
	ValidUntil time.Time `json:",omitzero"`
}

// Predefined reports whether r is one of PostgreSQL's predefined roles (pg_*),
// which no one can log in as, drop or rename.
func (r Role) Predefined() bool {
	return r.OID < FirstNormalRoleOID && r.OID != BootstrapSuperuserOID
}

// Membership says Member is a member of Role (pg_auth_members row).
type Membership struct {
	Role    uint32
	Member  uint32
	Grantor uint32
	Admin   bool // WITH ADMIN OPTION
}

// Privileges is a set of privileges, one bit per letter of PostgreSQL's aclitem
// text, in its bit order (ACL_INSERT is 1<<0 ... ACL_CREATE 1<<9).
type Privileges uint16

// The table privileges of PostgreSQL 15.
const (
	PrivInsert Privileges = 1 << iota
	PrivSelect
	PrivUpdate
	PrivDelete
	PrivTruncate
	PrivReferences
	PrivTrigger
	PrivExecute // functions; unused, keeps PostgreSQL's bit order
	PrivUsage   // schemas
	PrivCreate  // schemas

	// PrivAll is what GRANT ALL on a table gives and its owner has by default.
	PrivAll = PrivInsert | PrivSelect | PrivUpdate | PrivDelete | PrivTruncate | PrivReferences | PrivTrigger
)

// privLetters are the aclitem letters of the bits above, in bit order.
const privLetters = "arwdDxtXUC"

// String returns the aclitem letters of p ("arwdDxt", "r", ...).
func (p Privileges) String() string {
	var b strings.Builder
	for i := range len(privLetters) {
		if p&(1<<i) != 0 {
			b.WriteByte(privLetters[i])
		}
	}
	return b.String()
}

// PublicOID stands for PUBLIC (every role) as an ACL item's grantee.
const PublicOID uint32 = 0

// SchemaPublicACLID is the table id under which ACL and ApplyRoles keep the ACL of
// schema public (table ids start at 1).
const SchemaPublicACLID uint64 = 0

// ACLItem is one entry of a table's access control list (aclitem).
type ACLItem struct {
	Grantee uint32 // PublicOID for PUBLIC
	Grantor uint32
	Privs   Privileges
}

// RoleInUseError is DropRole's refusal: the role owns tables or holds privileges
// on them (PostgreSQL's 2BP01 "role ... cannot be dropped because some objects
// depend on it").
type RoleInUseError struct {
	Role       string
	Owns       []string // tables the role owns
	Privileges []string // tables on which the role is granted privileges
	Schema     bool     // the role is granted privileges on schema public
}

func (e *RoleInUseError) Error() string {
	return fmt.Sprintf("role %q cannot be dropped because some objects depend on it", e.Role)
}

const (
	prefixRole       = "r/"
	prefixMembership = "a/"
	prefixACL        = "g/"
	keyNextRoleOID   = "m/nextRoleOID"
)

func roleKey(oid uint32) []byte { return binary.BigEndian.AppendUint32([]byte(prefixRole), oid) }

func membershipKey(role, member uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32([]byte(prefixMembership), role), member)
}

func aclKey(tableID uint64) []byte { return binary.BigEndian.AppendUint64([]byte(prefixACL), tableID) }

// roleState is the in-memory copy of the role catalog. Guarded by Catalog.mu;
// replaced, never modified, once published (copy on write), so readers may keep
// a copy after unlocking.
type roleState struct {
	roles   map[uint32]Role
	byName  map[string]uint32
	members []Membership         // sorted by (Role, Member)
	acls    map[uint64][]ACLItem // table id → ACL; absent: the default (owner has PrivAll)
	nextOID uint32
}

func (rs *roleState) clone() *roleState {
	n := &roleState{
		roles:   make(map[uint32]Role, len(rs.roles)),
		byName:  make(map[string]uint32, len(rs.byName)),
		members: slices.Clone(rs.members),
		acls:    make(map[uint64][]ACLItem, len(rs.acls)),
		nextOID: rs.nextOID,
	}
	for k, v := range rs.roles {
		n.roles[k] = v
	}
	for k, v := range rs.byName {
		n.byName[k] = v
	}
	for k, v := range rs.acls {
		n.acls[k] = v
	}
	return n
}

// addRoleRecord decodes one role-catalog record; false if k is not one.
func (l *loader) addRoleRecord(k, v []byte) (bool, error) {
	if l.roles == nil {
		l.roles = &roleState{roles: map[uint32]Role{}, byName: map[string]uint32{}, acls: map[uint64][]ACLItem{}}
	}
	rs := l.roles
	switch {
	case hasPrefix(k, prefixRole):
		var r Role
		if len(k) != len(prefixRole)+4 {
			return true, fmt.Errorf("role key %x: %w", k, storage.ErrCorrupt)
		}
		if err := json.Unmarshal(v, &r); err != nil {
			return true, fmt.Errorf("role key %x: %w: %v", k, storage.ErrCorrupt, err)
		}
		if r.OID != binary.BigEndian.Uint32(k[len(prefixRole):]) || r.Name == "" {
			return true, fmt.Errorf("role key %x: record for %q, oid %d: %w", k, r.Name, r.OID, storage.ErrCorrupt)
		}
		if _, dup := rs.byName[r.Name]; dup {
			return true, fmt.Errorf("role %q: name used twice: %w", r.Name, storage.ErrCorrupt)
		}
		rs.roles[r.OID] = r
		rs.byName[r.Name] = r.OID
	case hasPrefix(k, prefixMembership):
		var m Membership
		if len(k) != len(prefixMembership)+8 {
			return true, fmt.Errorf("membership key %x: %w", k, storage.ErrCorrupt)
		}
		if err := json.Unmarshal(v, &m); err != nil {
			return true, fmt.Errorf("membership key %x: %w: %v", k, storage.ErrCorrupt, err)
		}
		m.Role = binary.BigEndian.Uint32(k[len(prefixMembership):])
		m.Member = binary.BigEndian.Uint32(k[len(prefixMembership)+4:])
		rs.members = append(rs.members, m)
	case hasPrefix(k, prefixACL):
		var acl []ACLItem
		if len(k) != len(prefixACL)+8 {
			return true, fmt.Errorf("acl key %x: %w", k, storage.ErrCorrupt)
		}
		if err := json.Unmarshal(v, &acl); err != nil {
			return true, fmt.Errorf("acl key %x: %w: %v", k, storage.ErrCorrupt, err)
		}
		if acl == nil {
			acl = []ACLItem{}
		}
		rs.acls[binary.BigEndian.Uint64(k[len(prefixACL):])] = acl
	case string(k) == keyNextRoleOID:
		if len(v) != 8 {
			return true, fmt.Errorf("next role oid: %w", storage.ErrCorrupt)
		}
		rs.nextOID = uint32(binary.BigEndian.Uint64(v))
	default:
		return false, nil
	}
	return true, nil
}

// finishRoles checks the role records against each other and the tables.
func (l *loader) finishRoles() (*roleState, error) {
	if l.roles == nil {
		l.addRoleRecord(nil, nil) // initializes the maps
	}
	rs := l.roles
	for _, m := range rs.members {
		if _, ok := rs.roles[m.Role]; !ok {
			return nil, fmt.Errorf("membership of missing role %d: %w", m.Role, storage.ErrCorrupt)
		}
		if _, ok := rs.roles[m.Member]; !ok {
			return nil, fmt.Errorf("membership of missing member %d: %w", m.Member, storage.ErrCorrupt)
		}
	}
	sortMembers(rs.members)
	for id := range rs.acls {
		if id != SchemaPublicACLID && l.byID[id] == nil {
			return nil, fmt.Errorf("privileges of missing table %d: %w", id, storage.ErrCorrupt)
		}
	}
	rs.nextOID = max(rs.nextOID, FirstNormalRoleOID)
	for oid := range rs.roles {
		if oid >= rs.nextOID {
			rs.nextOID = oid + 1
		}
	}
	return rs, nil
}

func sortMembers(ms []Membership) {
	slices.SortFunc(ms, func(a, b Membership) int {
		if a.Role != b.Role {
			return cmp.Compare(a.Role, b.Role)
		}
		return cmp.Compare(a.Member, b.Member)
	})
}

// bootstrapRolesLocked writes the bootstrap superuser and the predefined roles that
// the catalog does not hold yet (a new data directory, or one made before roles).
// REQUIRES: c.writeMu is held.
func (c *Catalog) bootstrapRolesLocked() error {
	c.mu.Lock()
	rs := c.mu.roles
	c.mu.Unlock()
	var missing []Role
	for _, r := range bootstrapRoles {
		if _, ok := rs.roles[r.OID]; !ok {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	n := rs.clone()
	b := c.db.NewBatch()
	defer b.Close()
	for _, r := range missing {
		if other, taken := n.byName[r.Name]; taken {
			return fmt.Errorf("bootstrap role %q: the name belongs to role %d: %w", r.Name, other, storage.ErrCorrupt)
		}
		v, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		b.Set(roleKey(r.OID), v, nil)
		n.roles[r.OID] = r
		n.byName[r.Name] = r.OID
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("bootstrap roles: %w", err)
	}
	c.mu.Lock()
	c.mu.roles = n
	c.mu.Unlock()
	return nil
}

// roles returns the current role state; nil when closed.
func (c *Catalog) roles() *roleState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.roles
}

// Role returns the role named name.
func (c *Catalog) Role(name string) (Role, bool) {
	rs := c.roles()
	oid, ok := rs.byName[name]
	if !ok {
		return Role{}, false
	}
	return rs.roles[oid], true
}

// RoleByOID returns the role with oid.
func (c *Catalog) RoleByOID(oid uint32) (Role, bool) {
	r, ok := c.roles().roles[oid]
	return r, ok
}

// Roles returns every role, sorted by OID.
func (c *Catalog) Roles() []Role {
	rs := c.roles()
	out := make([]Role, 0, len(rs.roles))
	for _, r := range rs.roles {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Role) int { return cmp.Compare(a.OID, b.OID) })
	return out
}

// Memberships returns every membership, sorted by (Role, Member). The slice is the caller's.
func (c *Catalog) Memberships() []Membership { return slices.Clone(c.roles().members) }

// ACL returns the access control list of the table with id tableID; ok is false
// when the table has the default one (its owner holds PrivAll, no one else
// anything), which pg_class.relacl shows as NULL. The slice is the caller's.
func (c *Catalog) ACL(tableID uint64) (acl []ACLItem, ok bool) {
	acl, ok = c.roles().acls[tableID]
	return slices.Clone(acl), ok
}

// RoleChange is one atomic change of the role catalog, built by the caller (the SQL
// layer decides what a statement means; the catalog checks that the result is
// consistent and writes it in one synced batch).
type RoleChange struct {
	// Put creates or replaces roles. A role with OID 0 is new: it gets the next OID.
	Put []Role
	// Drop removes roles by OID with their memberships (either side). Refused with
	// a *RoleInUseError while a table is owned by the role or grants it privileges.
	Drop []uint32
	// Grant adds (or replaces) memberships; Revoke removes them. A Grant may name a
	// role created in the same change by the index of its Put entry: use NewRoleRef(i).
	Grant  []Membership
	Revoke []Membership
	// ACLs replaces tables' access control lists (table id → list; a nil list
	// restores the default).
	ACLs map[uint64][]ACLItem
}

// NewRoleRef stands, in a RoleChange's Grant, for the role of Put[i] that has no
// OID yet.
func NewRoleRef(i int) uint32 { return ^uint32(i) }

// ApplyRoles applies ch atomically and durably, returning the roles of ch.Put as
// stored (with their OIDs).
func (c *Catalog) ApplyRoles(ch RoleChange) ([]Role, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	tables, _, _, err := c.readState()
	if err != nil {
		return nil, err
	}
	n := c.roles().clone()
	b := c.db.NewBatch()
	defer b.Close()

	put := make([]Role, len(ch.Put))
	for i, r := range ch.Put {
		if r.Name == "" {
			return nil, errors.New("role with an empty name")
		}
		if r.OID == 0 {
			if _, taken := n.byName[r.Name]; taken {
				return nil, fmt.Errorf("create role %s: %w", r.Name, ErrRoleExists)
			}
			r.OID = n.nextOID
			n.nextOID++
			b.Set([]byte(keyNextRoleOID), u64(uint64(n.nextOID)), nil)
		} else {
			old, ok := n.roles[r.OID]
			if !ok {
				return nil, fmt.Errorf("alter role %d: %w", r.OID, ErrNoRole)
			}
			if old.Name != r.Name {
				if old.Predefined() {
					return nil, fmt.Errorf("rename role %s: %w", old.Name, ErrReservedRole)
				}
				if _, taken := n.byName[r.Name]; taken {
					return nil, fmt.Errorf("rename role %s: %s: %w", old.Name, r.Name, ErrRoleExists)
				}
				delete(n.byName, old.Name)
			}
		}
		v, err := json.Marshal(&r)
		if err != nil {
			return nil, err
		}
		b.Set(roleKey(r.OID), v, nil)
		n.roles[r.OID] = r
		n.byName[r.Name] = r.OID
		put[i] = r
	}
	resolve := func(oid uint32) (uint32, error) {
		if oid >= ^uint32(len(put)-1) && len(put) > 0 {
			return put[^oid].OID, nil
		}
		if _, ok := n.roles[oid]; !ok {
			return 0, fmt.Errorf("role %d: %w", oid, ErrNoRole)
		}
		return oid, nil
	}
	for _, m := range ch.Revoke {
		i := slices.IndexFunc(n.members, func(x Membership) bool { return x.Role == m.Role && x.Member == m.Member })
		if i >= 0 {
			n.members = slices.Delete(n.members, i, i+1)
			b.Delete(membershipKey(m.Role, m.Member), nil)
		}
	}
	for _, m := range ch.Grant {
		if m.Role, err = resolve(m.Role); err != nil {
			return nil, err
		}
		if m.Member, err = resolve(m.Member); err != nil {
			return nil, err
		}
		if m.Grantor, err = resolve(m.Grantor); err != nil {
			return nil, err
		}
		v, err := json.Marshal(&Membership{Grantor: m.Grantor, Admin: m.Admin})
		if err != nil {
			return nil, err
		}
		b.Set(membershipKey(m.Role, m.Member), v, nil)
		n.members = slices.DeleteFunc(n.members, func(x Membership) bool { return x.Role == m.Role && x.Member == m.Member })
		n.members = append(n.members, m)
	}
	sortMembers(n.members)
	byID := make(map[uint64]*tableState, len(tables))
	for _, ts := range tables {
		byID[ts.def.ID] = ts
	}
	for id, acl := range ch.ACLs {
		if id != SchemaPublicACLID && byID[id] == nil {
			return nil, fmt.Errorf("privileges of table %d: %w", id, ErrNoTable)
		}
		if acl == nil {
			delete(n.acls, id)
			b.Delete(aclKey(id), nil)
			continue
		}
		acl = slices.Clone(acl)
		v, err := json.Marshal(acl)
		if err != nil {
			return nil, err
		}
		b.Set(aclKey(id), v, nil)
		n.acls[id] = acl
	}
	for _, oid := range ch.Drop {
		r, ok := n.roles[oid]
		if !ok {
			return nil, fmt.Errorf("drop role %d: %w", oid, ErrNoRole)
		}
		if oid < FirstNormalRoleOID {
			return nil, fmt.Errorf("drop role %s: %w", r.Name, ErrReservedRole)
		}
		inUse := &RoleInUseError{Role: r.Name}
		for _, ts := range tables {
			if ts.def.OwnerOID() == oid {
				inUse.Owns = append(inUse.Owns, ts.def.Name)
			}
			for _, it := range n.acls[ts.def.ID] {
				if it.Grantee == oid || it.Grantor == oid {
					inUse.Privileges = append(inUse.Privileges, ts.def.Name)
					break
				}
			}
		}
		for _, it := range n.acls[SchemaPublicACLID] {
			if it.Grantee == oid || it.Grantor == oid {
				inUse.Schema = true
				break
			}
		}
		if len(inUse.Owns) > 0 || len(inUse.Privileges) > 0 || inUse.Schema {
			slices.Sort(inUse.Owns)
			slices.Sort(inUse.Privileges)
			return nil, inUse
		}
		delete(n.roles, oid)
		delete(n.byName, r.Name)
		b.Delete(roleKey(oid), nil)
		n.members = slices.DeleteFunc(n.members, func(m Membership) bool {
			if m.Role == oid || m.Member == oid {
				b.Delete(membershipKey(m.Role, m.Member), nil)
				return true
			}
			return false
		})
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	c.mu.Lock()
	c.mu.roles = n
	c.mu.Unlock()
	return put, nil
}

// SetTableOwner makes the role with OID owner the owner of table, and moves the
// old owner's ACL items to the new owner (PostgreSQL's aclnewowner), in one batch.
func (c *Catalog) SetTableOwner(table string, owner uint32) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	tables, _, _, err := c.readState()
	if err != nil {
		return err
	}
	ts, ok := tables[table]
	if !ok {
		return fmt.Errorf("alter table %s: %w", table, ErrNoTable)
	}
	n := c.roles().clone()
	if _, ok := n.roles[owner]; !ok {
		return fmt.Errorf("alter table %s owner: role %d: %w", table, owner, ErrNoRole)
	}
	def := cloneDef(ts.def)
	old := def.OwnerOID()
	def.Owner = owner
	v, err := json.Marshal(&def)
	if err != nil {
		return err
	}
	b := c.db.NewBatch()
	defer b.Close()
	b.Set(tableKey(table), v, nil)
	if acl, ok := n.acls[def.ID]; ok {
		var out []ACLItem
		for _, it := range acl {
			if it.Grantee == old {
				it.Grantee = owner
			}
			if it.Grantor == old {
				it.Grantor = owner
			}
			if i := slices.IndexFunc(out, func(x ACLItem) bool { return x.Grantee == it.Grantee && x.Grantor == it.Grantor }); i >= 0 {
				out[i].Privs |= it.Privs
				continue
			}
			out = append(out, it)
		}
		if out == nil {
			out = []ACLItem{}
		}
		av, err := json.Marshal(out)
		if err != nil {
			return err
		}
		b.Set(aclKey(def.ID), av, nil)
		n.acls[def.ID] = out
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("alter table %s owner: %w", table, err)
	}
	nts := *ts
	nts.def = def
	c.mu.Lock()
	c.mu.tables[table] = &nts
	c.mu.roles = n
	c.mu.Unlock()
	return nil
}
