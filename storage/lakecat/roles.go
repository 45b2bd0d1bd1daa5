package lakecat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
)

// The roles table: roles/ under the location, a Delta table without data whose
// metaData configuration holds the whole role catalog (keyRoles, JSON of
// clusterRoles). Every role statement is one commit of a new metaData.

const keyRoles = "strata.roles"

// clusterRoles is the role catalog as the cluster keeps it: table privileges by
// the table's metaData id, since table ids are each node's own.
type clusterRoles struct {
	Roles   []catalog.Role       `json:"roles"`
	Members []catalog.Membership `json:"members"`
	// ACLs: "public" for schema public, else a table's metaData id; absent: the
	// default privileges.
	ACLs map[string][]catalog.ACLItem `json:"acls"`
}

const schemaPublicKey = "public"

// rolesSchema is the roles table's Delta schema (it holds no rows).
const rolesSchema = `{"type":"struct","fields":[{"name":"role","type":"string","nullable":true,"metadata":{}}]}`

// decodeRoles reads and checks the role catalog in meta.
func decodeRoles(meta *lake.Metadata) (*clusterRoles, error) {
	if meta.Configuration[keyFormat] != formatVersion {
		return nil, fmt.Errorf("roles: %s is %q: %w", keyFormat, meta.Configuration[keyFormat], ErrRefused)
	}
	var cr clusterRoles
	if err := json.Unmarshal([]byte(meta.Configuration[keyRoles]), &cr); err != nil {
		return nil, fmt.Errorf("roles: %s: %v: %w", keyRoles, err, ErrRefused)
	}
	for _, r := range cr.Roles {
		if r.Password != "" && !strings.HasPrefix(r.Password, "SCRAM-SHA-256$") {
			return nil, fmt.Errorf("roles: role %q has a password that is not a SCRAM-SHA-256 verifier: %w", r.Name, ErrRefused)
		}
	}
	return &cr, nil
}

// toCluster translates the local role state: table ids become metaData ids;
// privileges of tables the cluster does not define stay local; those of
// cluster tables this node does not hold are kept from cur.
func (c *Cluster) toCluster(st catalog.RoleState, cur *clusterRoles) *clusterRoles {
	cr := &clusterRoles{Roles: st.Roles, Members: st.Members, ACLs: map[string][]catalog.ACLItem{}}
	gens := map[uint64]string{}
	held := map[string]bool{}
	for _, def := range c.st.Tables() {
		if g := def.Options[catalog.OptClusterTable]; g != "" {
			gens[def.ID] = g
			held[g] = true
		}
	}
	for id, acl := range st.ACLs {
		switch {
		case id == catalog.SchemaPublicACLID:
			cr.ACLs[schemaPublicKey] = acl
		case gens[id] != "":
			cr.ACLs[gens[id]] = acl
		}
	}
	if cur != nil {
		live := map[string]bool{}
		for _, e := range c.mu.tables {
			if e.live() {
				live[e.def.Options[catalog.OptClusterTable]] = true
			}
		}
		for k, acl := range cur.ACLs {
			if k != schemaPublicKey && !held[k] && live[k] {
				cr.ACLs[k] = acl
			}
		}
	}
	return cr
}

// toLocal translates cr for this node, keeping the privileges of its tables
// that the cluster does not define.
func (c *Cluster) toLocal(cr *clusterRoles) catalog.RoleState {
	cur := c.st.Catalog().RoleState()
	st := catalog.RoleState{Roles: cr.Roles, Members: cr.Members, ACLs: map[uint64][]catalog.ACLItem{}}
	for _, def := range c.st.Tables() {
		g := def.Options[catalog.OptClusterTable]
		if g == "" {
			if acl, ok := cur.ACLs[def.ID]; ok {
				st.ACLs[def.ID] = acl
			}
			continue
		}
		if acl, ok := cr.ACLs[g]; ok {
			st.ACLs[def.ID] = acl
		}
	}
	if acl, ok := cr.ACLs[schemaPublicKey]; ok {
		st.ACLs[catalog.SchemaPublicACLID] = acl
	}
	return st
}

func encodeRoles(cr *clusterRoles) (map[string]string, error) {
	b, err := json.Marshal(cr)
	if err != nil {
		return nil, err
	}
	return map[string]string{keyFormat: formatVersion, keyRoles: string(b)}, nil
}

// loadRolesLocked reads the roles table and installs it locally when it differs
// from the local role catalog; a location without one gets the local roles.
// REQUIRES: c.mu is held.
func (c *Cluster) loadRolesLocked(ctx context.Context) error {
	ls, _, err := c.follow(ctx, rolesRoot, c.mu.roles)
	if err != nil {
		return fmt.Errorf("roles: %w", err)
	}
	if ls.version < 0 {
		conf, err := encodeRoles(c.toCluster(c.st.Catalog().RoleState(), nil))
		if err != nil {
			return err
		}
		dt, err := lake.ParseSchema(rolesSchema)
		if err != nil {
			return err
		}
		if _, err := lake.CreateTable(ctx, c.fs, rolesRoot, dt, nil, conf); err != nil && !errors.Is(err, lake.ErrExists) {
			return fmt.Errorf("roles: create: %w", err)
		}
		if ls, _, err = c.follow(ctx, rolesRoot, ls); err != nil {
			return fmt.Errorf("roles: %w", err)
		}
	}
	c.mu.roles = ls
	if ls.meta == nil {
		return nil
	}
	cr, err := decodeRoles(ls.meta)
	if err != nil {
		c.refuseLocked("roles@"+strconv.FormatInt(ls.version, 10), err)
		return nil
	}
	want := c.toLocal(cr)
	have := c.st.Catalog().RoleState()
	if equalRoles(want, have) {
		return nil
	}
	if err := c.st.Catalog().ReplaceRoles(want); err != nil {
		c.refuseLocked("roles@"+strconv.FormatInt(ls.version, 10), fmt.Errorf("roles: %v: %w", err, ErrRefused))
	}
	return nil
}

func equalRoles(a, b catalog.RoleState) bool {
	if len(a.ACLs) != len(b.ACLs) {
		return false
	}
	for id, acl := range a.ACLs {
		other, ok := b.ACLs[id]
		if !ok || len(acl) != len(other) || len(acl) > 0 && !reflect.DeepEqual(acl, other) {
			return false
		}
	}
	norm := func(ms []catalog.Membership) []catalog.Membership {
		if len(ms) == 0 {
			return nil
		}
		return ms
	}
	if !reflect.DeepEqual(norm(a.Members), norm(b.Members)) || len(a.Roles) != len(b.Roles) {
		return false
	}
	for i := range a.Roles {
		x, y := a.Roles[i], b.Roles[i]
		if !x.ValidUntil.Equal(y.ValidUntil) {
			return false
		}
		x.ValidUntil, y.ValidUntil = time.Time{}, time.Time{}
		if x != y {
			return false
		}
	}
	return true
}

// ChangeRoles runs fn, which changes the local role catalog (a role statement,
// GRANT, REVOKE), as a change of the cluster's: the local catalog is brought to
// the cluster's latest roles first, and what fn changed is committed to the
// roles table. If another node's change won, the local catalog is set back and
// the error wraps ErrConflict.
func (c *Cluster) ChangeRoles(ctx context.Context, fn func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changeRolesLocked(ctx, fn)
}

// changeRolesLocked is ChangeRoles. REQUIRES: c.mu is held.
func (c *Cluster) changeRolesLocked(ctx context.Context, fn func() error) error {
	if err := c.loadRolesLocked(ctx); err != nil {
		return err
	}
	prev := c.st.Catalog().RoleState()
	if err := fn(); err != nil {
		return err
	}
	next := c.st.Catalog().RoleState()
	if equalRoles(prev, next) {
		return nil
	}
	if c.mu.roles.meta == nil {
		c.st.Catalog().ReplaceRoles(prev)
		return fmt.Errorf("roles: the cluster has no roles table")
	}
	cur, _ := decodeRoles(c.mu.roles.meta)
	conf, err := encodeRoles(c.toCluster(next, cur))
	if err == nil {
		meta := *c.mu.roles.meta
		meta.Configuration = conf
		_, err = lake.Commit(ctx, lake.OpenTable(c.fs, rolesRoot), c.mu.roles.version, []lake.Action{{Metadata: &meta}}, "SET TBLPROPERTIES", nil)
	}
	if err != nil {
		if rerr := c.st.Catalog().ReplaceRoles(prev); rerr != nil {
			c.log.Error("cluster catalog: the local roles could not be set back after a failed commit", "err", rerr)
		}
		if errors.Is(err, lake.ErrConflict) {
			c.loadRolesLocked(ctx)
			return fmt.Errorf("roles: %w: %v", ErrConflict, err)
		}
		return fmt.Errorf("roles: %w", err)
	}
	return c.loadRolesLocked(ctx)
}

// moveACLOwnerLocked gives new the privileges old holds or granted on table
// (PostgreSQL's aclnewowner, which catalog.SetTableOwner does on one node) in
// the cluster's roles, retrying when another role change wins.
// REQUIRES: c.mu is held.
func (c *Cluster) moveACLOwnerLocked(ctx context.Context, table string, old, new uint32) error {
	var err error
	for range 5 {
		err = c.changeRolesLocked(ctx, func() error {
			def, ok := c.st.Table(table)
			if !ok {
				return nil
			}
			acl, ok := c.st.Catalog().ACL(def.ID)
			if !ok {
				return nil
			}
			var out []catalog.ACLItem
			for _, it := range acl {
				if it.Grantee == old {
					it.Grantee = new
				}
				if it.Grantor == old {
					it.Grantor = new
				}
				if i := slices.IndexFunc(out, func(x catalog.ACLItem) bool { return x.Grantee == it.Grantee && x.Grantor == it.Grantor }); i >= 0 {
					out[i].Privs |= it.Privs
					continue
				}
				out = append(out, it)
			}
			if out == nil {
				out = []catalog.ACLItem{}
			}
			_, err := c.st.Catalog().ApplyRoles(catalog.RoleChange{ACLs: map[uint64][]catalog.ACLItem{def.ID: out}})
			return err
		})
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return err
}
