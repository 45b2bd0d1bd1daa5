package sql

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/ingest/stream"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

// fixedOptions are the table options ALTER TABLE … SET/RESET refuses: they shape
// the stored rows or name where they come from and go, so they hold from CREATE
// TABLE on.
var fixedOptions = map[string]bool{
	catalog.OptTimeColumn: true, catalog.OptSegmentGranularity: true, catalog.OptRollup: true,
	catalog.OptLakePath: true, catalog.OptKafkaTopic: true, catalog.OptKafkaGroup: true,
	catalog.OptKeepUnknownFields: true,
}

// alterOptions binds ALTER TABLE t SET (option = value, …) and RESET (option, …):
// the table's owner changes options checked as CREATE TABLE checks them; a
// Kafka-fed table's ingestion restarts with them. With a cluster the change is a
// commit of the cluster's catalog that every node applies.
func (b *binder) alterOptions(at *pg.AlterTableStmt, def catalog.TableDef) (*bound, []engine.Field, error) {
	if store.IsExternal(&def) {
		return nil, nil, engine.Unsupported("ALTER TABLE SET/RESET on an external table")
	}
	set := map[string]string{}
	var reset []string
	for _, c := range at.Cmds {
		cmd := c.GetAlterTableCmd()
		for _, item := range cmd.GetDef().GetList().GetItems() {
			d := item.GetDefElem()
			name := strings.ToLower(d.Defname)
			if o, ok := catalog.LookupOption(name); ok && !o.Internal && fixedOptions[name] {
				return nil, nil, posErr(engine.Errorf(sqlstate.FeatureNotSupported, "option %q cannot be changed after CREATE TABLE", name), d.Location)
			}
			if cmd.Subtype == pg.AlterTableType_AT_ResetRelOptions {
				if o, ok := catalog.LookupOption(name); !ok || o.Internal {
					return nil, nil, posErr(engine.Errorf(sqlstate.InvalidParameterValue, "unrecognized parameter %q", name), d.Location)
				}
				reset = append(reset, name)
				delete(set, name)
				continue
			}
			val := defString(d.Arg)
			if err := catalog.CheckOption(name, val); err != nil {
				return nil, nil, posErr(engine.Errorf(sqlstate.InvalidParameterValue, "%s", err), d.Location)
			}
			if v, ok, err := checkLakeOption(name, val); ok {
				if err != nil {
					return nil, nil, posErr(err, d.Location)
				}
				val = v
			}
			set[name] = val
			reset = slices.DeleteFunc(reset, func(r string) bool { return r == name })
		}
	}
	if err := b.need(access{kind: accessOwner, table: def.Name}); err != nil {
		return nil, nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(set)) {
		if superuserOption(name) {
			if err := b.need(access{kind: accessSuperuser, what: fmt.Sprintf("set table option %q", name)}); err != nil {
				return nil, nil, err
			}
		}
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		cur, ok := s.db.store.Table(def.Name)
		if !ok || cur.ID != def.ID {
			return nil, engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", def.Name)
		}
		next := cur
		next.Options = maps.Clone(cur.Options)
		if next.Options == nil {
			next.Options = map[string]string{}
		}
		for _, k := range reset {
			delete(next.Options, k)
		}
		maps.Copy(next.Options, set)
		ing := s.db.opts.Ingest
		if stream.IsStreaming(next) && ing != nil {
			if err := ing.Validate(next); err != nil {
				return nil, engine.Errorf(sqlstate.InvalidParameterValue, "%v", err)
			}
		}
		var err error
		if s.db.inCluster(def.Name) {
			next, err = s.db.opts.Cluster.SetTableOptions(ctx, def.Name, set, reset)
		} else {
			next, err = s.db.store.SetTableOptions(def.Name, next.Options)
		}
		if err != nil {
			return nil, lakeErr(def.Name, err)
		}
		if stream.IsStreaming(next) && ing != nil {
			ing.Stop(def.Name)
			if err := ing.Start(next); err != nil {
				return nil, engine.Errorf(sqlstate.InvalidParameterValue, "table %q: options changed, but its ingestion did not restart: %v", def.Name, err)
			}
		}
		return &Result{Tag: "ALTER TABLE"}, nil
	}}, nil, nil
}
