package sql

// TEMPORARY stand-in for ROLES' "sql: role API" commit (Contract 1), so that the
// wire layers can be written against it; reverted when that commit is cherry-picked.

import (
	"sync"
	"time"

	"github.com/stratadb/strata/internal/pgscram"
)

// RoleAuth is what the wire layers (pgwire, http) need to authenticate a role.
type RoleAuth struct {
	Name       string
	Login      bool
	Superuser  bool
	Verifier   string
	ValidUntil time.Time
}

var stubPassword struct {
	sync.Mutex
	v string
}

// RoleAuth looks a role up by its exact name.
func (db *DB) RoleAuth(name string) (RoleAuth, bool) {
	if name != "strata" {
		return RoleAuth{}, false
	}
	stubPassword.Lock()
	defer stubPassword.Unlock()
	return RoleAuth{Name: "strata", Login: true, Superuser: true, Verifier: stubPassword.v}, true
}

// InitSuperuserPassword sets the password of "strata" when it has none.
func (db *DB) InitSuperuserPassword(password string) error {
	v, err := pgscram.Verifier(password)
	if err != nil {
		return err
	}
	stubPassword.Lock()
	defer stubPassword.Unlock()
	if stubPassword.v == "" {
		stubPassword.v = v
	}
	return nil
}

// Superuser reports whether the session's role is a superuser.
func (s *Session) Superuser() bool { return s.User == "strata" }
