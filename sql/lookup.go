package sql

import (
	"errors"
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

// Lookup tables (store.IsLookup): CREATE TABLE without a time column makes one,
// with PRIMARY KEY and UNIQUE constraints enforced at every write; INSERT … ON
// CONFLICT, UPDATE and DELETE work on them (lookupwrite.go). The hidden time
// column store.LookupTimeColumn is invisible to SQL: SELECT *, INSERT and COPY
// without a column list, and the catalog leave it out.

// tableKeys collects the PRIMARY KEY and UNIQUE constraints of cs (column and
// table constraints) as column-name lists, the primary key first (nil if none).
func tableKeys(cs *pg.CreateStmt) (pk []string, unique [][]string, err error) {
	add := func(c *pg.Constraint, col string) error {
		var cols []string
		if col != "" {
			cols = []string{col}
		}
		for _, k := range c.Keys {
			cols = append(cols, k.GetString_().GetSval())
		}
		for _, n := range cols {
			if strings.ContainsAny(n, ",;") {
				return posErr(engine.Unsupported("a key column whose name holds ',' or ';'"), c.Location)
			}
		}
		switch c.Contype {
		case pg.ConstrType_CONSTR_PRIMARY:
			if pk != nil {
				return posErr(engine.Errorf(sqlstate.InvalidTableDefinition, "multiple primary keys for table %q are not allowed", cs.Relation.Relname), c.Location)
			}
			pk = cols
		case pg.ConstrType_CONSTR_UNIQUE:
			unique = append(unique, cols)
		}
		return nil
	}
	for _, e := range cs.TableElts {
		if cd := e.GetColumnDef(); cd != nil {
			for _, cn := range cd.Constraints {
				c := cn.GetConstraint()
				if c.Contype == pg.ConstrType_CONSTR_PRIMARY || c.Contype == pg.ConstrType_CONSTR_UNIQUE {
					if err := add(c, cd.Colname); err != nil {
						return nil, nil, err
					}
				}
			}
			continue
		}
		c := e.GetConstraint()
		if c == nil || c.Contype != pg.ConstrType_CONSTR_PRIMARY && c.Contype != pg.ConstrType_CONSTR_UNIQUE {
			return nil, nil, engine.Unsupported("table constraints other than PRIMARY KEY and UNIQUE")
		}
		if err := add(c, ""); err != nil {
			return nil, nil, err
		}
	}
	return pk, unique, nil
}

// makeLookup turns def, a table without a time column, into a lookup table with
// the keys of cs.
func makeLookup(def *catalog.TableDef, cs *pg.CreateStmt) error {
	for _, o := range []string{"kafka_topic", "rollup", "handoff", "lake_path"} {
		if def.Options[o] != "" {
			return &engine.Error{Code: sqlstate.InvalidTableDefinition, Message: fmt.Sprintf("table %q has no time column, which option %s needs", def.Name, o),
				Hint: "Declare a timestamp or timestamptz column NOT NULL, or name one with WITH (time_column = '...')."}
		}
	}
	if def.Schema.Index(store.LookupTimeColumn) >= 0 {
		return engine.Errorf(sqlstate.DuplicateColumn, "column name %q is reserved", store.LookupTimeColumn)
	}
	if def.Options == nil {
		def.Options = map[string]string{}
	}
	def.Options[store.OptLookup] = "true"
	def.Options["handoff"] = "off"
	def.Schema.Columns = append(def.Schema.Columns, storage.Column{Name: store.LookupTimeColumn, Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true})
	def.Schema.TimeColumn = len(def.Schema.Columns) - 1
	return setKeys(def, cs)
}

// setKeys records cs's keys in def's options, checking their columns (a
// primary key's columns become NOT NULL).
func setKeys(def *catalog.TableDef, cs *pg.CreateStmt) error {
	pk, unique, err := tableKeys(cs)
	if err != nil {
		return err
	}
	check := func(cols []string) error {
		seen := map[string]bool{}
		for _, n := range cols {
			i := def.Schema.Index(n)
			if i < 0 || n == store.LookupTimeColumn {
				return engine.Errorf(sqlstate.UndefinedColumn, "column %q named in key does not exist", n)
			}
			if seen[n] {
				return engine.Errorf(sqlstate.DuplicateColumn, "column %q appears twice in primary key constraint", n)
			}
			seen[n] = true
		}
		return nil
	}
	if pk != nil {
		if err := check(pk); err != nil {
			return err
		}
		for _, n := range pk {
			def.Schema.Columns[def.Schema.Index(n)].NotNull = true
		}
		def.Options[store.OptPrimaryKey] = strings.Join(pk, ",")
	}
	var us []string
	for _, u := range unique {
		if err := check(u); err != nil {
			return err
		}
		us = append(us, strings.Join(u, ","))
	}
	if len(us) > 0 {
		def.Options[store.OptUnique] = strings.Join(us, ";")
	}
	return nil
}

// timeTableKeys checks the keys of a table with a time column: a PRIMARY KEY
// column constraint is accepted and means NOT NULL (as before lookup tables
// existed; it is not enforced on event tables), any other key is refused.
func timeTableKeys(cs *pg.CreateStmt) error {
	for _, e := range cs.TableElts {
		if cd := e.GetColumnDef(); cd != nil {
			for _, cn := range cd.Constraints {
				if c := cn.GetConstraint(); c.Contype == pg.ConstrType_CONSTR_UNIQUE {
					return posErr(engine.Unsupported("UNIQUE on a table with a time column (only tables without one enforce keys)"), c.Location)
				}
			}
			continue
		}
		return engine.Unsupported("table constraints on a table with a time column (only tables without one enforce keys)")
	}
	return nil
}

// fillLookupTime sets the hidden time column of lookup table rows cols to 0 (not
// NULL), so INSERT and COPY need not name it.
func fillLookupTime(def *catalog.TableDef, cols *storage.Columns) {
	tc := def.Schema.TimeColumn
	d := &cols.Cols[tc]
	for len(d.Int64) < cols.Len {
		d.Int64 = append(d.Int64, 0)
	}
	for i := range d.Int64 {
		d.Int64[i] = 0
	}
	d.Null = nil
}

// writeErr gives a unique-key violation of a write PostgreSQL's SQLSTATE, message
// and DETAIL; other errors are returned as they are.
func writeErr(err error) error {
	var uv *store.UniqueViolation
	if errors.As(err, &uv) {
		return &engine.Error{Code: sqlstate.UniqueViolation, Message: uv.Error(), Detail: uv.Detail(), Err: err}
	}
	if errors.Is(err, store.ErrConcurrentWrite) {
		return &engine.Error{Code: sqlstate.TRSerializationFailure, Message: "could not serialize access due to concurrent writes of the lookup table on other nodes",
			Detail: err.Error(), Hint: "The transaction might succeed if retried.", Err: err}
	}
	return err
}
