// Package sql is strata's SQL front: it parses PostgreSQL's dialect with PostgreSQL's
// own grammar (pg_query), binds names and types, plans, optimizes and runs statements
// against one store. The wire layers (server/pgwire, server/http) talk to it through
// api.go: DB, Session, Split, Prepare, Execute, Result.
//
// Pipeline, in file order:
//
//	session.go       Split, Prepare (parse + bind), Execute (params → optimize → snapshot → engine)
//	bind_select.go   SELECT: FROM (one table, subquery or CTE), WHERE, GROUP BY/HAVING,
//	                 select list, DISTINCT, ORDER BY, LIMIT/OFFSET, VALUES
//	bind_expr.go     expressions: names, operators, functions, aggregates, casts, $n
//	subquery.go      subqueries in expressions: uncorrelated ones run once before the
//	                 statement (InitPlan), correlated ones become engine.SubPlan (per row)
//	insert.go        INSERT ... VALUES / SELECT into storage.Columns → store.Append
//	copy.go          COPY ... FROM STDIN / 'file' through package ingest; compaction
//	ddl.go           CREATE/DROP TABLE, SET/SHOW/RESET; settings.go holds the parameters;
//	                 typmod.go the type modifiers columns keep (varchar(n), char(n), numeric(p,s))
//	explain.go       EXPLAIN (engine.Explain of the optimized plan)
//	infoschema.go    information_schema.tables / columns / table_constraints / key_column_usage
//	pgcatalog.go     pg_catalog relations clients browse, as Values plans built from the catalog;
//	                 pgcatalog_keys.go shows lookup tables' keys as indexes and constraints
//	arrays.go        arrays and catalog arrays: unnest in FROM, subscripts, x op ANY/ALL (array)
//	setfuncs.go      set-returning functions in a select list (engine.ProjectSet)
//	ingest.go        Kafka-fed tables: start/stop with CREATE/DROP, ALTER TABLE ... PAUSE|RESUME
//	                 INGEST (recognised before the parser), strata_ingest_status
//	rollup.go        rollup tables: hidden columns, aggregates rewritten to read them
//	lakeverbs.go     Delta Lake verbs: the pre-parser (VERSION/TIMESTAMP AS OF, DESCRIBE
//	                 HISTORY, OPTIMIZE, VACUUM ... RETAIN, CREATE EXTERNAL TABLE)
//	deltascan.go     delta_scan('path'): any Delta table, read-only
//	opt/             optimizer rules, one per file, each can be disabled by name
//	internal/slt     the .slt runner (testdata/*.slt), also against a real PostgreSQL
//
// The pg_query AST is translated at once into the engine's declarative plan
// (engine/plan.go); nothing past the binder sees pg_query nodes.
//
// Invariants:
//   - A bound plan (Statement.impl) is immutable: Execute copies it while binding
//     parameters and optimizing, so one Statement runs concurrently in many executions
//     with different parameters.
//   - Untyped literals take the type of the operand they meet ('2023-10-01' next to a
//     timestamptz column is a timestamptz constant, parsed at bind time); $n takes the
//     client's declared type, else the type its context decides, else text.
//   - Every error a client can cause is an *engine.Error with a SQLSTATE; features
//     outside the supported surface fail with 0A000 "<feature> is not supported".
//   - A session computes in its TimeZone (timezone.go): an untyped timestamptz literal
//     without an offset is read in it at bind time, the engine gets it as the Location
//     of Options.Now, and a query's timestamptz columns print in it (Options.TextZone).
//   - Scans read the snapshot taken when the statement executes; the snapshots are
//     released when the result's Rows are closed (or at once on error).
package sql
