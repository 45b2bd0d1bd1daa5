package sql

import (
	"context"
	"regexp"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/ingest/stream"
	"github.com/stratadb/strata/internal/sqlstate"
)

// Real-time ingestion from SQL: CREATE TABLE ... WITH (kafka_topic = ...) starts a
// table's supervisor (ddl.go calls startIngest), DROP TABLE stops it,
// ALTER TABLE t PAUSE INGEST / RESUME INGEST pause and resume it (not PostgreSQL
// grammar: recognised here before the parser), and the view strata_ingest_status
// shows one row per table and partition.

// alterIngest matches ALTER TABLE <name> PAUSE|RESUME INGEST.
var alterIngest = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?:public\.)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\s+(PAUSE|RESUME)\s+INGEST\s*;?\s*$`)

// ingestStatement binds ALTER TABLE ... PAUSE|RESUME INGEST; ok is false for any
// other statement.
func (s *Session) ingestStatement(query string) (*Statement, bool, error) {
	m := alterIngest.FindStringSubmatch(query)
	if m == nil {
		return nil, false, nil
	}
	name := m[1]
	if strings.HasPrefix(name, `"`) {
		name = strings.ReplaceAll(name[1:len(name)-1], `""`, `"`)
	} else {
		name = strings.ToLower(name)
	}
	pause := strings.EqualFold(m[2], "PAUSE")
	st := &Statement{Query: query}
	st.impl = &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		if _, ok := s.db.store.Table(name); !ok {
			return nil, engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", name)
		}
		ing := s.db.opts.Ingest
		if ing == nil {
			return nil, engine.Errorf(sqlstate.ObjectNotInPrerequisiteState, "table %q has no real-time ingestion", name)
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
