package sql

import (
	"context"
	"fmt"
	"time"

	"github.com/stratadb/strata/internal/pgscram"
	"github.com/stratadb/strata/storage/catalog"
)

// RoleAuth is what the wire layers (pgwire, http) need to authenticate a role.
type RoleAuth struct {
	Name       string
	Login      bool      // rolcanlogin
	Superuser  bool      // rolsuper
	Verifier   string    // PostgreSQL rolpassword form "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>" (package internal/pgscram); "" = no password
	ValidUntil time.Time // rolvaliduntil; zero = forever
}

// RoleAuth looks a role up by its exact name (as PostgreSQL's startup "user").
func (db *DB) RoleAuth(name string) (RoleAuth, bool) {
	r, ok := db.store.Catalog().Role(name)
	if !ok {
		return RoleAuth{}, false
	}
	return RoleAuth{Name: r.Name, Login: r.Login, Superuser: r.Superuser, Verifier: r.Password, ValidUntil: r.ValidUntil}, true
}

// InitSuperuserPassword sets the password of the bootstrap superuser "strata" when
// it has none (strata serve --password-file, like initdb --pwfile); a no-op otherwise.
// With a cluster it is a change of the cluster's roles (a no-op when another
// node gave the superuser a password first).
func (db *DB) InitSuperuserPassword(password string) error {
	if db.opts.Cluster != nil {
		return db.opts.Cluster.ChangeRoles(context.Background(), func() error { return db.initSuperuserPassword(password) })
	}
	return db.initSuperuserPassword(password)
}

func (db *DB) initSuperuserPassword(password string) error {
	cat := db.store.Catalog()
	r, ok := cat.RoleByOID(catalog.BootstrapSuperuserOID)
	if !ok {
		return fmt.Errorf("BUG: the catalog has no bootstrap superuser")
	}
	if r.Password != "" {
		return nil
	}
	if password == "" {
		return fmt.Errorf("superuser password: empty password")
	}
	v, err := pgscram.Verifier(password)
	if err != nil {
		return fmt.Errorf("superuser password: %w", err)
	}
	r.Password = v
	_, err = cat.ApplyRoles(catalog.RoleChange{Put: []catalog.Role{r}})
	return err
}

// Superuser reports whether the session's role is a superuser (rechecked against the catalog).
func (s *Session) Superuser() bool {
	r, ok := s.db.store.Catalog().Role(s.currentUser())
	return ok && r.Superuser
}
