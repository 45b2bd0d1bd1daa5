package sql

import (
	"context"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/storage/catalog"
)

// Cluster makes table DDL and role changes changes of a cluster's catalog kept in
// the lake (strata serve --cluster; package storage/lakecat): each is a Delta
// commit that other nodes read, and a lost race is an error (42P07 for a
// duplicate CREATE TABLE, 40001 otherwise). The local catalog follows.
type Cluster interface {
	// CreateTable creates def in the cluster and on this node
	// (catalog.ErrTableExists for a name taken there).
	CreateTable(ctx context.Context, def catalog.TableDef) (catalog.TableDef, error)
	// DropTable drops a table the cluster defines.
	DropTable(ctx context.Context, name string) error
	// SetTableOwner changes the owner of a table the cluster defines.
	SetTableOwner(ctx context.Context, name string, owner uint32) error
	// SetTableOptions sets and resets options of a table the cluster defines and
	// returns its definition on this node.
	SetTableOptions(ctx context.Context, name string, set map[string]string, reset []string) (catalog.TableDef, error)
	// ChangeRoles runs fn, a change of the local role catalog, as a change of the
	// cluster's roles.
	ChangeRoles(ctx context.Context, fn func() error) error
}

// inCluster reports whether table name is the cluster's (not a node's own, such
// as a <table>_rejects table or one made before --cluster).
func (db *DB) inCluster(name string) bool {
	if db.opts.Cluster == nil {
		return false
	}
	def, ok := db.store.Table(name)
	return ok && def.Options[catalog.OptClusterTable] != ""
}

// createTable creates def in the cluster when there is one, else in the store.
func (db *DB) createTable(ctx context.Context, def catalog.TableDef) (catalog.TableDef, error) {
	if db.opts.Cluster != nil {
		return db.opts.Cluster.CreateTable(ctx, def)
	}
	return db.store.CreateTable(def)
}

func (db *DB) dropTable(ctx context.Context, name string) error {
	if db.inCluster(name) {
		return db.opts.Cluster.DropTable(ctx, name)
	}
	return db.store.DropTable(name)
}

func (db *DB) setTableOwner(ctx context.Context, name string, owner uint32) error {
	if db.inCluster(name) {
		return db.opts.Cluster.SetTableOwner(ctx, name, owner)
	}
	return db.store.Catalog().SetTableOwner(name, owner)
}

// clusterRoles makes a bound role statement (CREATE/ALTER/DROP ROLE, GRANT,
// REVOKE) a change of the cluster's roles when there is a cluster.
func (b *binder) clusterRoles(bd *bound, fields []engine.Field, err error) (*bound, []engine.Field, error) {
	if err != nil || b.db.opts.Cluster == nil || bd == nil {
		return bd, fields, err
	}
	run := bd.run
	bd.run = func(ctx context.Context, s *Session, params []engine.Value) (*Result, error) {
		var res *Result
		err := s.db.opts.Cluster.ChangeRoles(ctx, func() error {
			var err error
			res, err = run(ctx, s, params)
			return err
		})
		return res, err
	}
	return bd, fields, nil
}
