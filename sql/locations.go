package sql

import (
	"errors"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lakecat"
	"github.com/stratadb/strata/storage/roots"
	"github.com/stratadb/strata/storage/store"
)

// locationError gives the client the SQLSTATE of the storage errors that guard the
// file system: a location outside the lake roots (42501, the roots in the HINT),
// a lake_path another table uses (22023), a table name no catalog key or path may
// hold (42602). Other errors pass unchanged.
func (db *DB) locationError(err error) error {
	var ee *engine.Error
	switch {
	case err == nil || errors.As(err, &ee):
		return err
	case errors.Is(err, roots.ErrOutside):
		return &engine.Error{Code: sqlstate.InsufficientPrivilege, Message: err.Error(), Hint: db.store.Roots().Hint(), Err: err}
	case errors.Is(err, store.ErrLakePathInUse):
		return &engine.Error{Code: sqlstate.InvalidParameterValue, Message: err.Error(), Err: err}
	case errors.Is(err, catalog.ErrInvalidName):
		return &engine.Error{Code: sqlstate.InvalidName, Message: err.Error(), Err: err}
	case errors.Is(err, lakecat.ErrConflict):
		return &engine.Error{Code: sqlstate.TRSerializationFailure, Message: "could not serialize access due to a concurrent change of the cluster catalog",
			Detail: err.Error(), Hint: "The transaction might succeed if retried.", Err: err}
	case errors.Is(err, lakecat.ErrRefused):
		return &engine.Error{Code: sqlstate.InvalidParameterValue, Message: err.Error(), Err: err}
	}
	return err
}
