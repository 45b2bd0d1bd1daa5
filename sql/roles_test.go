package sql

import (
	"testing"

	"github.com/stratadb/strata/internal/pgscram"
)

func TestRoleAuthContract(t *testing.T) {
	s, _ := newTestSession(t)
	db := s.db
	ra, ok := db.RoleAuth("strata")
	if !ok || !ra.Login || !ra.Superuser || ra.Verifier != "" || !ra.ValidUntil.IsZero() {
		t.Fatalf("strata: %+v %v", ra, ok)
	}
	if _, ok := db.RoleAuth("STRATA"); ok {
		t.Fatal("role names are exact")
	}
	if ra, ok := db.RoleAuth("pg_read_all_data"); !ok || ra.Login {
		t.Fatalf("pg_read_all_data: %+v %v", ra, ok)
	}
	if err := db.InitSuperuserPassword("s3cret"); err != nil {
		t.Fatal(err)
	}
	ra, _ = db.RoleAuth("strata")
	if !pgscram.IsVerifier(ra.Verifier) {
		t.Fatalf("verifier %q", ra.Verifier)
	}
	if err := db.InitSuperuserPassword("other"); err != nil {
		t.Fatal(err)
	}
	if ra2, _ := db.RoleAuth("strata"); ra2.Verifier != ra.Verifier {
		t.Fatal("InitSuperuserPassword replaced an existing password")
	}
	if !db.NewSession("strata", "strata").Superuser() || db.NewSession("nobody", "strata").Superuser() {
		t.Fatal("Superuser")
	}
}
