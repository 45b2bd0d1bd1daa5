package catalog

import (
	"errors"
	"testing"
)

func TestBootstrapRoles(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir)
	r, ok := c.Role(BootstrapSuperuser)
	if !ok || r.OID != BootstrapSuperuserOID || !r.Superuser || !r.Login || r.Password != "" {
		t.Fatalf("bootstrap superuser: %+v, %v", r, ok)
	}
	for _, name := range []string{"pg_read_all_data", "pg_write_all_data", "pg_read_server_files", "pg_signal_backend", "pg_monitor"} {
		r, ok := c.Role(name)
		if !ok || r.Login || r.Superuser || !r.Predefined() {
			t.Errorf("%s: %+v, %v", name, r, ok)
		}
	}
	if r, _ := c.Role("pg_read_all_data"); r.OID != PgReadAllDataOID {
		t.Errorf("pg_read_all_data oid %d", r.OID)
	}
	c.Close()
	c = openT(t, dir)
	defer c.Close()
	if n := len(c.Roles()); n != len(bootstrapRoles) {
		t.Fatalf("reopened: %d roles, want %d", n, len(bootstrapRoles))
	}
}

func TestRolesPersist(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir)
	def := mustCreate(t, c, "events")
	put, err := c.ApplyRoles(RoleChange{
		Put:   []Role{{Name: "grafana", Login: true, Inherit: true, Password: "SCRAM-SHA-256$4096:x$y:z"}, {Name: "readers", Inherit: true}},
		Grant: []Membership{{Role: NewRoleRef(1), Member: NewRoleRef(0), Grantor: BootstrapSuperuserOID}},
		ACLs:  map[uint64][]ACLItem{def.ID: {{Grantee: BootstrapSuperuserOID, Grantor: BootstrapSuperuserOID, Privs: PrivAll}, {Grantee: 0, Grantor: BootstrapSuperuserOID, Privs: PrivSelect}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if put[0].OID != FirstNormalRoleOID || put[1].OID != FirstNormalRoleOID+1 {
		t.Fatalf("oids %d %d", put[0].OID, put[1].OID)
	}
	if _, err := c.ApplyRoles(RoleChange{Put: []Role{{Name: "grafana"}}}); !errors.Is(err, ErrRoleExists) {
		t.Fatalf("duplicate role: %v", err)
	}
	c.Close()

	c = openT(t, dir)
	r, ok := c.Role("grafana")
	if !ok || !r.Login || r.Password != "SCRAM-SHA-256$4096:x$y:z" {
		t.Fatalf("grafana after reopen: %+v %v", r, ok)
	}
	ms := c.Memberships()
	if len(ms) != 1 || ms[0].Role != put[1].OID || ms[0].Member != put[0].OID {
		t.Fatalf("memberships %+v", ms)
	}
	acl, ok := c.ACL(def.ID)
	if !ok || len(acl) != 2 || acl[1].Privs.String() != "r" || acl[0].Privs.String() != "arwdDxt" {
		t.Fatalf("acl %+v %v", acl, ok)
	}
	// A role granted privileges cannot be dropped; without them it can, with its memberships.
	if _, err := c.ApplyRoles(RoleChange{ACLs: map[uint64][]ACLItem{def.ID: {{Grantee: put[0].OID, Grantor: 10, Privs: PrivSelect}}}}); err != nil {
		t.Fatal(err)
	}
	var inUse *RoleInUseError
	if _, err := c.ApplyRoles(RoleChange{Drop: []uint32{put[0].OID}}); !errors.As(err, &inUse) || len(inUse.Privileges) != 1 {
		t.Fatalf("drop a role with privileges: %v", err)
	}
	if _, err := c.ApplyRoles(RoleChange{Drop: []uint32{BootstrapSuperuserOID}}); !errors.Is(err, ErrReservedRole) {
		t.Fatalf("drop the bootstrap superuser: %v", err)
	}
	if _, err := c.DropTable("events"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ApplyRoles(RoleChange{Drop: []uint32{put[0].OID}}); err != nil {
		t.Fatal(err)
	}
	if len(c.Memberships()) != 0 {
		t.Fatalf("memberships left: %+v", c.Memberships())
	}
	c.Close()
	c = openT(t, dir) // the dropped table's ACL and the role's memberships are gone on disk too
	defer c.Close()
	if _, ok := c.Role("grafana"); ok || len(c.Memberships()) != 0 {
		t.Fatal("dropped role came back")
	}
	// An owner is refused too.
	def2, err := c.CreateTable(TableDef{Name: "t2", Schema: testSchema(), Owner: put[1].OID})
	if err != nil || def2.OwnerOID() != put[1].OID {
		t.Fatal(err, def2.Owner)
	}
	if _, err := c.ApplyRoles(RoleChange{Drop: []uint32{put[1].OID}}); !errors.As(err, &inUse) || len(inUse.Owns) != 1 {
		t.Fatalf("drop an owner: %v", err)
	}
}
