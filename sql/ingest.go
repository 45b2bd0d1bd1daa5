package sql

import (
	"context"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/ingest/stream"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/catalog"
)

// Real-time ingestion from SQL: CREATE TABLE ... WITH (kafka_topic = ...) starts a
// table's supervisor (ddl.go calls startIngest), DROP TABLE stops it,
// ALTER TABLE t PAUSE INGEST / RESUME INGEST pause and resume it (not PostgreSQL
// grammar: recognised here before the parser; on a --cluster table they set and
// reset its option ingest_paused in the cluster's catalog, so every node pauses),
// and the view strata_ingest_status shows one row per table and partition.

// alterIngest recognises ALTER TABLE [ONLY] [public.]<name> PAUSE|RESUME INGEST
// [;] by PostgreSQL's scanner tokens; ok is false for any other statement.
func alterIngest(query string) (name string, pause, ok bool) {
	toks, ok := lex(query)
	if !ok {
		return "", false, false
	}
	if n := len(toks); n > 0 && toks[n-1].tok == pg.Token_ASCII_59 {
		toks = toks[:n-1]
	}
	if len(toks) < 5 || !toks[0].word("alter") || !toks[1].word("table") {
		return "", false, false
	}
	toks = toks[2:]
	if toks[0].word("only") && len(toks) > 3 {
		toks = toks[1:]
	}
	if len(toks) == 5 && toks[0].name() == "public" && toks[1].tok == pg.Token_ASCII_46 {
		toks = toks[2:]
	}
	if len(toks) != 3 || !toks[0].isName() || !toks[2].word("ingest") {
		return "", false, false
	}
	switch {
	case toks[1].word("pause"):
		pause = true
	case toks[1].word("resume"):
	default:
		return "", false, false
	}
	return toks[0].name(), pause, true
}

// ingestStatement binds ALTER TABLE ... PAUSE|RESUME INGEST; ok is false for any
// other statement.
func (s *Session) ingestStatement(query string) (*Statement, bool, error) {
	name, pause, ok := alterIngest(query)
	if !ok {
		return nil, false, nil
	}
	st := &Statement{Query: query}
	st.impl = &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		if _, ok := s.db.store.Table(name); !ok {
			return nil, engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", name)
		}
		ing := s.db.opts.Ingest
		if ing == nil {
			return nil, engine.Errorf(sqlstate.ObjectNotInPrerequisiteState, "table %q has no real-time ingestion", name)
		}
		if s.db.inCluster(name) {
			// Every node's ingestion: an option of the cluster's definition,
			// which the other nodes apply by restarting the table's ingestion.
			var set map[string]string
			var reset []string
			if pause {
				set = map[string]string{catalog.OptIngestPaused: "true"}
			} else {
				reset = []string{catalog.OptIngestPaused}
			}
			next, err := s.db.opts.Cluster.SetTableOptions(ctx, name, set, reset)
			if err != nil {
				return nil, lakeErr(name, err)
			}
			ing.Stop(name)
			if err := ing.Start(next); err != nil {
				return nil, engine.Errorf(sqlstate.ObjectNotInPrerequisiteState, "table %q: ingestion did not restart: %v", name, err)
			}
			return &Result{Tag: "ALTER TABLE"}, nil
		}
		var err error
		if pause {
			err = ing.Pause(name)
		} else {
			err = ing.Resume(name)
		}
		if err != nil {
			return nil, engine.Errorf(sqlstate.ObjectNotInPrerequisiteState, "%v", err)
		}
		return &Result{Tag: "ALTER TABLE"}, nil
	}, needs: []access{{kind: accessOwner, table: name}, {kind: accessWrite, what: "ALTER TABLE"}}}
	return st, true, nil
}

// ingestStatusView binds strata_ingest_status as a Values plan.
func (b *binder) ingestStatusView(rv *pg.RangeVar) (engine.Plan, []string, bool) {
	if rv.Relname != "strata_ingest_status" || (rv.Schemaname != "" && rv.Schemaname != "public") {
		return nil, nil, false
	}
	if _, ok := b.db.store.Table(rv.Relname); ok {
		return nil, nil, false // a user table of that name wins
	}
	names := []string{"table_name", "topic", "partition", "committed_offset", "lag", "rows_per_sec", "rows", "rejects", "state", "last_error", "node",
		"lake_offset", "lake_lag", "lake_lag_seconds", "lost_records", "role", "read_offset"}
	types := []engine.Type{engine.Text, engine.Text, engine.Int32, engine.Int64, engine.Int64, engine.Float64, engine.Int64, engine.Int64, engine.Text, engine.Text, engine.Text,
		engine.Int64, engine.Int64, engine.Float64, engine.Int64, engine.Text, engine.Int64}
	var status []stream.Status
	if b.db.opts.Ingest != nil {
		status = b.db.opts.Ingest.Status()
	}
	c := func(v engine.Value) engine.Expr { return &engine.Const{V: v} }
	text := func(s string) engine.Expr { return c(engine.Value{Type: engine.Text, S: s}) }
	orNull := func(t engine.Type, v int64) engine.Expr {
		if v < 0 {
			return c(engine.NullValue(t))
		}
		return c(engine.Value{Type: t, I: v})
	}
	orEmpty := func(s string) engine.Expr {
		if s == "" {
			return c(engine.NullValue(engine.Text))
		}
		return text(s)
	}
	var rows [][]engine.Expr
	for _, s := range status {
		lastErr := text(s.LastError)
		if s.LastError == "" {
			lastErr = c(engine.NullValue(engine.Text))
		}
		rows = append(rows, []engine.Expr{text(s.Table), text(s.Topic), orNull(engine.Int32, int64(s.Partition)),
			orNull(engine.Int64, s.CommittedOffset), orNull(engine.Int64, s.Lag),
			c(engine.Value{Type: engine.Float64, F: s.RowsPerSec}), c(engine.Value{Type: engine.Int64, I: s.Rows}),
			c(engine.Value{Type: engine.Int64, I: s.Rejects}), text(s.State), lastErr, orEmpty(s.Node),
			orNull(engine.Int64, s.LakeOffset), orNull(engine.Int64, s.LakeLag), c(engine.Value{Type: engine.Float64, F: s.LakeLagSeconds}),
			c(engine.Value{Type: engine.Int64, I: s.LostRecords}), orEmpty(s.Role), orNull(engine.Int64, s.ReadOffset)})
	}
	return valuesPlan(names, types, rows), names, true
}
