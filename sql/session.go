package sql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql/opt"
	"github.com/stratadb/strata/storage/store"
)

// copyFormatJSON returns query with the json of a COPY's FORMAT json option
// written as the string 'json' (found by PostgreSQL's scanner tokens); ok is
// false when query is no such COPY.
func copyFormatJSON(query string) (string, bool) {
	toks, ok := lex(query)
	if !ok || len(toks) == 0 || !toks[0].word("copy") {
		return "", false
	}
	for i := 1; i+1 < len(toks); i++ {
		if toks[i].word("format") && toks[i+1].word("json") {
			j := toks[i+1]
			return query[:j.start] + "'json'" + query[j.end:], true
		}
	}
	return "", false
}

// bound is the SQL layer's form of a prepared statement: a closure over the bound
// plan. Params arrive already converted to ParamTypes.
type bound struct {
	run func(ctx context.Context, s *Session, params []engine.Value) (*Result, error)
	// needs are the privileges the statement needs and whether it writes
	// (privileges.go); checked before every run.
	needs []access
	// rebind: the statement's rows were computed from the catalog when it was
	// bound (binder.catalogRows), so every run but the first binds it again and
	// reads the catalog as it is then, as PostgreSQL's catalog scans do.
	rebind bool
	ran    atomic.Bool
}

// grammarCodes are the SQLSTATEs of errors PostgreSQL's grammar raises with a code
// other than syntax_error (ereport calls in gram.y); pg_query reports only their
// message.
var grammarCodes = map[string]string{
	"frame start cannot be UNBOUNDED FOLLOWING":                    sqlstate.WindowingError,
	"frame end cannot be UNBOUNDED PRECEDING":                      sqlstate.WindowingError,
	"frame starting from current row cannot have preceding rows":   sqlstate.WindowingError,
	"frame starting from following row cannot have preceding rows": sqlstate.WindowingError,
}

// parseError turns pg_query's error into a 42601 (or the grammar's own code) with
// PostgreSQL's 1-based position.
func parseError(err error) error {
	var pe *pgparser.Error
	if errors.As(err, &pe) {
		code := sqlstate.SyntaxError
		if c, ok := grammarCodes[pe.Message]; ok {
			code = c
		}
		return &engine.Error{Code: code, Message: pe.Message, Position: pe.Cursorpos}
	}
	return &engine.Error{Code: sqlstate.SyntaxError, Message: err.Error()}
}

// split cuts query at top-level semicolons found by PostgreSQL's own scanner (so
// semicolons in strings, quoted identifiers and comments do not cut), keeping each
// piece that holds at least one token besides comments. Input the scanner rejects (an
// unterminated string) is returned whole, for Prepare to report with a position.
func split(query string) ([]string, error) {
	res, err := pg.Scan(query)
	if err != nil {
		if strings.TrimSpace(query) == "" {
			return nil, nil
		}
		return []string{query}, nil
	}
	var out []string
	start, tokens := 0, false
	flush := func(end int) {
		if tokens {
			out = append(out, strings.TrimSpace(query[start:end]))
		}
		tokens = false
	}
	for _, t := range res.Tokens {
		switch t.Token {
		case pg.Token_ASCII_59:
			flush(int(t.Start))
			start = int(t.End)
		case pg.Token_SQL_COMMENT, pg.Token_C_COMMENT:
		default:
			tokens = true
		}
	}
	flush(len(query))
	return out, nil
}

func (s *Session) prepare(ctx context.Context, query string, paramTypes []engine.Type) (*Statement, error) {
	if st, ok, err := s.ingestStatement(query); ok || err != nil {
		if err == nil {
			err = s.checkPrivileges(st.impl.(*bound).needs)
		}
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	// The lake verbs (lakeverbs.go): bound here, or time-travel clauses blanked out.
	pp, err := preparse(query)
	if err != nil {
		return nil, err
	}
	if pp.verb != nil {
		if err := s.checkPrivileges(pp.verb.needs); err != nil {
			return nil, err
		}
		return &Statement{Query: query, Fields: pp.fields, impl: pp.verb}, nil
	}
	tree, err := pg.Parse(pp.sql)
	if err != nil {
		// PostgreSQL 16+ grammar reads FORMAT JSON as a JSON format clause, so
		// COPY ... (FORMAT json) is a syntax error there; strata accepts it as
		// FORMAT 'json'.
		if q, ok := copyFormatJSON(pp.sql); ok {
			if t2, err2 := pg.Parse(q); err2 == nil {
				tree, err = t2, nil
			}
		}
	}
	if err != nil {
		return nil, parseError(err)
	}
	st := &Statement{Query: query}
	if len(tree.Stmts) == 0 {
		st.impl = &bound{run: func(context.Context, *Session, []engine.Value) (*Result, error) { return &Result{}, nil }}
		return st, nil
	}
	if len(tree.Stmts) > 1 {
		return nil, engine.Errorf(sqlstate.SyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	b := &binder{db: s.db, user: s.currentUser(), sessionUser: s.User, database: s.Database, loc: s.zone()}
	b.params = append(b.params, paramTypes...)
	b.travel = pp.travel
	if err := b.checkWritable(tree.Stmts[0].Stmt); err != nil {
		return nil, err
	}
	bd, fields, err := b.statement(tree.Stmts[0].Stmt)
	if err != nil {
		return nil, err
	}
	bd.needs = append(bd.needs, b.needs...)
	bd.rebind = b.catalogRows
	if err := unusedTimeTravel(b.travel); err != nil {
		return nil, err
	}
	for i, t := range b.params {
		if t == engine.Unknown {
			b.params[i] = engine.Text
		}
	}
	st.ParamTypes = b.params
	st.Fields = fields
	if len(b.lastOrigins) == len(fields) && tree.Stmts[0].Stmt.GetSelectStmt() != nil {
		st.Origins = b.lastOrigins
	}
	st.impl = bd
	return st, nil
}

func (s *Session) execute(ctx context.Context, st *Statement, params []engine.Value) (*Result, error) {
	bd, ok := st.impl.(*bound)
	if !ok {
		return nil, engine.Errorf(sqlstate.InvalidSQLStatementName, "statement was not prepared by this SQL layer")
	}
	if bd.rebind && bd.ran.Swap(true) {
		again, err := s.prepare(ctx, st.Query, st.ParamTypes)
		if err != nil {
			return nil, err
		}
		if !sameFields(again.Fields, st.Fields) {
			return nil, engine.Errorf(sqlstate.FeatureNotSupported, "cached plan must not change result type")
		}
		if bd, ok = again.impl.(*bound); !ok {
			return nil, engine.Errorf(sqlstate.InvalidSQLStatementName, "statement was not prepared by this SQL layer")
		}
		bd.ran.Store(true)
	}
	if err := s.checkAccess(bd.needs); err != nil {
		return nil, err
	}
	if len(params) != len(st.ParamTypes) {
		return nil, engine.Errorf(sqlstate.ProtocolViolation, "bind message supplies %d parameters, but prepared statement requires %d", len(params), len(st.ParamTypes))
	}
	vals := make([]engine.Value, len(params))
	for i, p := range params {
		t := st.ParamTypes[i]
		switch {
		case p.Null:
			vals[i] = engine.NullValue(t)
		case p.Type == t:
			vals[i] = p
		case p.Type == engine.Unknown:
			v, err := engine.ParseValueIn(p.S, t, s.zone())
			if err != nil {
				return nil, err
			}
			vals[i] = v
		default:
			v, err := engine.EvalConst(&engine.Cast{X: &engine.Const{V: p}, T: t}, time.Now().In(s.zone()))
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
	}
	return bd.run(ctx, s, vals)
}

// sameFields reports whether a and b describe the same result columns.
func sameFields(a, b []engine.Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Type != b[i].Type {
			return false
		}
	}
	return true
}

// statement binds one parsed statement.
func (b *binder) statement(n *pg.Node) (*bound, []engine.Field, error) {
	if cmd := writeCommand(n); cmd != "" {
		b.needs = append(b.needs, access{kind: accessWrite, what: cmd})
	}
	switch x := n.Node.(type) {
	case *pg.Node_SelectStmt:
		p, _, err := b.selectStmt(x.SelectStmt)
		if err != nil {
			return nil, nil, err
		}
		return &bound{run: func(ctx context.Context, s *Session, params []engine.Value) (*Result, error) {
			return s.query(ctx, p, params)
		}}, p.Fields(), nil
	case *pg.Node_ExplainStmt:
		return b.explain(x.ExplainStmt)
	case *pg.Node_InsertStmt:
		return b.insert(x.InsertStmt)
	case *pg.Node_CopyStmt:
		return b.copyStmt(x.CopyStmt)
	case *pg.Node_CreateStmt:
		return b.createTable(x.CreateStmt)
	case *pg.Node_DropStmt:
		return b.dropTable(x.DropStmt)
	case *pg.Node_VariableSetStmt:
		return b.setStmt(x.VariableSetStmt)
	case *pg.Node_VariableShowStmt:
		return b.showStmt(x.VariableShowStmt)
	case *pg.Node_TransactionStmt:
		return b.transaction(x.TransactionStmt)
	case *pg.Node_UpdateStmt:
		return b.update(x.UpdateStmt)
	case *pg.Node_DeleteStmt:
		return b.deleteStmt(x.DeleteStmt)
	case *pg.Node_CreateTableAsStmt:
		return nil, nil, engine.Unsupported("CREATE TABLE AS")
	case *pg.Node_ViewStmt:
		return nil, nil, engine.Unsupported("CREATE VIEW")
	case *pg.Node_IndexStmt:
		return b.createIndex(x.IndexStmt)
	case *pg.Node_AlterTableStmt:
		return b.alterTable(x.AlterTableStmt)
	case *pg.Node_CreateRoleStmt:
		return b.clusterRoles(b.createRole(x.CreateRoleStmt))
	case *pg.Node_AlterRoleStmt:
		return b.clusterRoles(b.alterRole(x.AlterRoleStmt))
	case *pg.Node_DropRoleStmt:
		return b.clusterRoles(b.dropRole(x.DropRoleStmt))
	case *pg.Node_RenameStmt:
		if x.RenameStmt.RenameType == pg.ObjectType_OBJECT_ROLE {
			return b.clusterRoles(b.renameRole(x.RenameStmt))
		}
		return nil, nil, engine.Unsupported("ALTER ... RENAME")
	case *pg.Node_GrantStmt:
		return b.clusterRoles(b.grant(x.GrantStmt))
	case *pg.Node_GrantRoleStmt:
		return b.clusterRoles(b.grantRole(x.GrantRoleStmt))
	case *pg.Node_TruncateStmt:
		return nil, nil, engine.Unsupported("TRUNCATE")
	case *pg.Node_VacuumStmt:
		return b.vacuumStmt(x.VacuumStmt)
	}
	name := fmt.Sprintf("%T", n.Node)
	name = strings.TrimPrefix(strings.TrimPrefix(name, "*pg_query.Node_"), "*")
	return nil, nil, engine.Unsupported("statement " + name)
}

func command(tag string) *bound {
	return &bound{run: func(context.Context, *Session, []engine.Value) (*Result, error) { return &Result{Tag: tag}, nil }}
}

func (b *binder) transaction(t *pg.TransactionStmt) (*bound, []engine.Field, error) {
	switch t.Kind {
	case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
		return beginBound(t.Options)
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT:
		return endBound("COMMIT"), nil, nil
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		return endBound("ROLLBACK"), nil, nil
	}
	return nil, nil, engine.Unsupported("savepoints and two-phase commit")
}

// bindParams returns p with every parameter placeholder (and current_setting) replaced
// by its value, and LIMIT/OFFSET parameters resolved.
func (s *Session) bindParams(p engine.Plan, params []engine.Value) (engine.Plan, error) {
	p, err := resolveLimits(p, params)
	if err != nil {
		return nil, err
	}
	return opt.RewritePlanExprs(p, func(e engine.Expr) (engine.Expr, error) {
		return s.bindExpr(e, params), nil
	})
}

func (s *Session) bindExpr(e engine.Expr, params []engine.Value) engine.Expr {
	switch x := e.(type) {
	case *paramRef:
		return &engine.Const{V: params[x.N-1]}
	case *backendPIDRef:
		return &engine.Const{V: engine.Value{Type: engine.Int32, I: int64(s.pid)}}
	case *settingRef:
		v, ok := s.setting(x.Name)
		if !ok {
			return &engine.Const{V: engine.NullValue(engine.Text)}
		}
		return &engine.Const{V: engine.Value{Type: engine.Text, S: v}}
	}
	return e
}

func (s *Session) optimizer() *opt.Optimizer {
	disabled := append([]string(nil), s.db.opts.DisabledRules...)
	if v, ok := s.settings["strata.disabled_rules"]; ok {
		for _, r := range strings.Split(v, ",") {
			if r = strings.TrimSpace(r); r != "" {
				disabled = append(disabled, r)
			}
		}
	}
	return opt.New(disabled...)
}

// plan binds parameters, optimizes and attaches snapshots (the lake at the
// Scan's AsOf for time travel); the caller must release the snapshots.
func (s *Session) plan(ctx context.Context, p engine.Plan, params []engine.Value, now time.Time) (engine.Plan, []*store.Snapshot, error) {
	p, err := s.bindParams(p, params)
	if err != nil {
		return nil, nil, err
	}
	// Snapshots read by correlated subqueries' plans come first in snaps.
	p, snaps, err := s.resolveSubqueries(ctx, p, params, now)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (engine.Plan, []*store.Snapshot, error) {
		release(snaps)
		return nil, nil, err
	}
	if err := checkNoArrays(p); err != nil { // an array left as a value (arrays.go)
		return fail(err)
	}
	if p, err = opt.MapPlan(p, s.resolveActivity); err != nil {
		return fail(err)
	}
	if p, err = s.optimizer().Optimize(p, &opt.Context{Now: now.In(s.zone())}); err != nil {
		return fail(err)
	}
	p, err = opt.MapPlan(p, func(n engine.Plan) (engine.Plan, error) {
		sc, ok := n.(*engine.Scan)
		if !ok {
			return n, nil
		}
		if path, ok := strings.CutPrefix(sc.Table, deltaScanPrefix); ok {
			sn, err := deltaSnapshot(ctx, s.db.store, path, sc.Schema)
			if err != nil {
				return nil, err
			}
			snaps = append(snaps, sn)
			c := *sc
			c.Sources = sn.Sources
			return &c, nil
		}
		var sn *store.Snapshot
		var err error
		if sc.AsOf != nil {
			sn, err = s.snapshotAsOf(ctx, sc)
		} else {
			sn, err = s.db.store.SnapshotPruned(ctx, sc.Table, sc.Prune())
		}
		if err != nil {
			var ee *engine.Error
			if errors.As(err, &ee) {
				return nil, err
			}
			if errors.Is(err, store.ErrNoTable) {
				return nil, engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", sc.Table)
			}
			return nil, fmt.Errorf("snapshot of %s: %w", sc.Table, err)
		}
		snaps = append(snaps, sn)
		if len(sn.Table.Schema.Columns) != len(sc.Schema.Columns) {
			return nil, engine.Errorf(sqlstate.FeatureNotSupported, "cached plan must not change result type")
		}
		c := *sc
		c.Sources = sn.Sources
		return &c, nil
	})
	if err != nil {
		release(snaps)
		return nil, nil, err
	}
	return p, snaps, nil
}

func release(snaps []*store.Snapshot) {
	for _, sn := range snaps {
		sn.Release()
	}
}

func (s *Session) execOptions(now time.Time) engine.Options {
	return engine.Options{MemoryLimit: s.db.opts.MemoryLimit, Budget: s.db.opts.Budget, Now: now.In(s.zone()), Funcs: s.hostFuncs(),
		RegNames: s.db.regNamer()}
}

// withTimeout applies the session's statement_timeout to ctx; the engine reports its
// expiry as 57014 "canceling statement due to statement timeout".
func (s *Session) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	v, _ := s.setting("statement_timeout")
	if d, err := parseTimeout(v); err == nil && d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// parseTimeout reads a PostgreSQL time setting: a number of milliseconds, or a number
// with a unit (us, ms, s, min, h, d).
func parseTimeout(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(v[:i], 64)
	if err != nil {
		return 0, err
	}
	unit := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := unit[strings.ToLower(strings.TrimSpace(v[i:]))]
	if !ok {
		return 0, fmt.Errorf("invalid unit in %q", v)
	}
	return time.Duration(n * float64(u)), nil
}

// query runs a SELECT plan.
func (s *Session) query(ctx context.Context, p engine.Plan, params []engine.Value) (*Result, error) {
	now := time.Now()
	fields := p.Fields()
	ctx, cancel := s.withTimeout(ctx)
	p, snaps, err := s.plan(ctx, p, params, now)
	if err != nil {
		cancel()
		return nil, err
	}
	opts := s.execOptions(now)
	opts.TextZone = s.zone() // timestamptz columns print in the session's zone
	rows, err := engine.Execute(ctx, p, opts)
	if err != nil {
		cancel()
		release(snaps)
		return nil, err
	}
	return &Result{Fields: fields, Rows: &snapRows{Rows: rows, snaps: snaps, cancel: cancel}, Tag: "SELECT"}, nil
}

// snapRows releases the snapshots a query reads (and its statement timeout) when the
// query is closed.
type snapRows struct {
	engine.Rows
	snaps  []*store.Snapshot
	cancel context.CancelFunc
	once   sync.Once
}

func (r *snapRows) Close() {
	r.Rows.Close()
	r.once.Do(func() {
		r.cancel()
		release(r.snaps)
	})
}
