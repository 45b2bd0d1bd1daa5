package pgwire

import (
	"context"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/sql"
)

// Backend creates one Session per client connection.
type Backend interface {
	NewSession(user, database string) Session
}

// Session is what one connection executes statements with; *sql.Session implements it.
// A Session is used by one goroutine at a time. If it also implements Close(), Close is
// called when the connection ends.
type Session interface {
	Prepare(ctx context.Context, query string, paramTypes []engine.Type) (*sql.Statement, error)
	Execute(ctx context.Context, st *sql.Statement, params []engine.Value) (*sql.Result, error)
	Setting(name string) (string, bool)
}

var _ Session = (*sql.Session)(nil)

// SQLBackend adapts a *sql.DB to Backend.
func SQLBackend(db *sql.DB) Backend { return sqlBackend{db} }

type sqlBackend struct{ db *sql.DB }

func (b sqlBackend) RoleAuth(name string) (sql.RoleAuth, bool) { return b.db.RoleAuth(name) }

func (b sqlBackend) NewSession(user, database string) Session {
	return b.db.NewSession(user, database)
}
