package catalog

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/cockroachdb/pebble"
)

// RoleState is the whole role catalog at one moment: what a cluster's lake
// catalog (package lakecat) publishes and installs on every node.
type RoleState struct {
	Roles   []Role               // sorted by OID
	Members []Membership         // sorted by (Role, Member)
	ACLs    map[uint64][]ACLItem // table id (SchemaPublicACLID: schema public) → ACL
}

// RoleState returns a copy of the role catalog.
func (c *Catalog) RoleState() RoleState {
	rs := c.roles()
	st := RoleState{Roles: c.Roles(), Members: slices.Clone(rs.members), ACLs: make(map[uint64][]ACLItem, len(rs.acls))}
	for id, acl := range rs.acls {
		st.ACLs[id] = slices.Clone(acl)
	}
	return st
}

// ReplaceRoles makes the role catalog exactly st, in one synced batch: roles,
// memberships and ACLs not in st are removed. Role OIDs are kept as given (the
// cluster's), and later CreateRole OIDs are above every one of them. ACLs of
// tables this catalog does not hold are refused (the caller translates and
// filters them), as are memberships naming a missing role, two roles of one
// name, and a st without the bootstrap superuser.
func (c *Catalog) ReplaceRoles(st RoleState) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	tables, _, _, err := c.readState()
	if err != nil {
		return err
	}
	old := c.roles()
	n := &roleState{roles: map[uint32]Role{}, byName: map[string]uint32{}, acls: map[uint64][]ACLItem{}, nextOID: old.nextOID}
	for _, r := range st.Roles {
		if r.Name == "" || r.OID == 0 {
			return fmt.Errorf("replace roles: role %q with oid %d", r.Name, r.OID)
		}
		if _, dup := n.byName[r.Name]; dup {
			return fmt.Errorf("replace roles: role %q twice: %w", r.Name, ErrRoleExists)
		}
		if _, dup := n.roles[r.OID]; dup {
			return fmt.Errorf("replace roles: oid %d twice", r.OID)
		}
		n.roles[r.OID] = r
		n.byName[r.Name] = r.OID
		n.nextOID = max(n.nextOID, r.OID+1)
	}
	if r, ok := n.roles[BootstrapSuperuserOID]; !ok || !r.Superuser {
		return fmt.Errorf("replace roles: no bootstrap superuser")
	}
	for _, m := range st.Members {
		if _, ok := n.roles[m.Role]; !ok {
			return fmt.Errorf("replace roles: membership in role %d: %w", m.Role, ErrNoRole)
		}
		if _, ok := n.roles[m.Member]; !ok {
			return fmt.Errorf("replace roles: membership of role %d: %w", m.Member, ErrNoRole)
		}
		n.members = append(n.members, m)
	}
	sortMembers(n.members)
	ids := map[uint64]bool{SchemaPublicACLID: true}
	for _, ts := range tables {
		ids[ts.def.ID] = true
	}
	for id, acl := range st.ACLs {
		if !ids[id] {
			return fmt.Errorf("replace roles: privileges of table %d: %w", id, ErrNoTable)
		}
		if acl == nil {
			acl = []ACLItem{}
		}
		n.acls[id] = slices.Clone(acl)
	}

	b := c.db.NewBatch()
	defer b.Close()
	for _, p := range []string{prefixRole, prefixMembership, prefixACL} {
		b.DeleteRange([]byte(p), append([]byte(p[:len(p)-1]), '/'+1), nil)
	}
	for _, oid := range slices.Sorted(maps.Keys(n.roles)) {
		r := n.roles[oid]
		v, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		b.Set(roleKey(oid), v, nil)
	}
	for _, m := range n.members {
		v, err := json.Marshal(&Membership{Grantor: m.Grantor, Admin: m.Admin})
		if err != nil {
			return err
		}
		b.Set(membershipKey(m.Role, m.Member), v, nil)
	}
	for id, acl := range n.acls {
		v, err := json.Marshal(acl)
		if err != nil {
			return err
		}
		b.Set(aclKey(id), v, nil)
	}
	b.Set([]byte(keyNextRoleOID), u64(uint64(n.nextOID)), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("replace roles: %w", err)
	}
	c.mu.Lock()
	c.mu.roles = n
	c.mu.Unlock()
	return nil
}

// SetTableOptions replaces the options of table (ALTER TABLE … SET/RESET) and
// returns the definition stored. The caller has checked the options.
func (c *Catalog) SetTableOptions(table string, opts map[string]string) (TableDef, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	tables, _, version, err := c.readState()
	if err != nil {
		return TableDef{}, err
	}
	ts, ok := tables[table]
	if !ok {
		return TableDef{}, fmt.Errorf("alter table %s: %w", table, ErrNoTable)
	}
	def := cloneDef(ts.def)
	def.Options = maps.Clone(opts)
	v, err := json.Marshal(&def)
	if err != nil {
		return TableDef{}, err
	}
	b := c.db.NewBatch()
	defer b.Close()
	b.Set(tableKey(table), v, nil)
	b.Set([]byte(keyVersion), u64(version+1), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return TableDef{}, fmt.Errorf("alter table %s: %w", table, err)
	}
	nts := *ts
	nts.def = def
	c.mu.Lock()
	c.mu.tables[table] = &nts
	c.mu.version = version + 1
	c.mu.Unlock()
	return cloneDef(def), nil
}
