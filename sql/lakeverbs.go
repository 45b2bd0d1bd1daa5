package sql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/store"
)

// The Delta Lake verbs, which are not PostgreSQL syntax, recognised by a small
// pre-parser in front of pg_query (preparse):
//
//	SELECT ... FROM t VERSION AS OF 3 [AS] x        time travel to a Delta version
//	SELECT ... FROM t TIMESTAMP AS OF '2026-11-20'  ... or to the version current at a time
//	DESCRIBE HISTORY t [LIMIT n]                    the Delta log, newest first
//	OPTIMIZE t [ZORDER BY (col)]                    compact the small lake files
//	VACUUM t [RETAIN n HOURS] [DRY RUN]             delete unreferenced lake files
//	CREATE EXTERNAL TABLE t LOCATION '...' | WITH (lake_path = '...' [, time_column = '...'])
//
// The pre-parser works on PostgreSQL's own scanner tokens (pg.Scan), so nothing
// inside a string literal, a quoted identifier or a comment is ever taken for a
// verb. A time-travel clause is blanked out of the SQL handed to pg_query (replaced
// by as many spaces, so every position PostgreSQL reports still points into the
// client's text) and remembered by the byte offset of its table reference, which
// is the RangeVar's Location in the parse tree. The binder attaches each clause to
// the Scan of that RangeVar (engine.Scan.AsOf, in fromItem), and Session.plan takes
// store.SnapshotAt for it: the lake alone, at that version, without the rows not
// handed off yet.
//
// Invariants:
//   - The SQL given to pg_query has the same length as the client's, byte for byte
//     outside the blanked clauses.
//   - A time-travel clause that does not follow a table reference in FROM is left
//     for pg_query to reject; one whose table reference is not bound as a table is
//     an error, never silently ignored.
//   - Lake errors keep their SQLSTATE: unknown table 42P01, no lake yet 55000, a
//     version or time outside the log 22023, retention below the safety check
//     22023, writing an external table 42809.

// settingVacuumCheck is the run-time parameter that turns VACUUM's retention
// check off (Delta's spark.databricks.delta.retentionDurationCheck.enabled).
const settingVacuumCheck = "strata.vacuum_retention_check"

// lexToken is one token of PostgreSQL's scanner.
type lexToken struct {
	tok        pg.Token
	kw         pg.KeywordKind
	start, end int32 // byte offsets into the query
	text       string
}

// lex returns the tokens of query without comments; ok is false when PostgreSQL's
// scanner rejects it (pg_query then reports the error with its position).
func lex(query string) ([]lexToken, bool) {
	res, err := pg.Scan(query)
	if err != nil {
		return nil, false
	}
	out := make([]lexToken, 0, len(res.Tokens))
	for _, t := range res.Tokens {
		if t.Token == pg.Token_SQL_COMMENT || t.Token == pg.Token_C_COMMENT {
			continue
		}
		if t.Start < 0 || t.End > int32(len(query)) || t.Start > t.End {
			return nil, false
		}
		out = append(out, lexToken{tok: t.Token, kw: t.KeywordKind, start: t.Start, end: t.End, text: query[t.Start:t.End]})
	}
	return out, true
}

// isName reports whether t can be an unqualified table or column name: an
// identifier or a keyword PostgreSQL accepts as one.
func (t *lexToken) isName() bool {
	return t.tok == pg.Token_IDENT || t.kw == pg.KeywordKind_UNRESERVED_KEYWORD || t.kw == pg.KeywordKind_COL_NAME_KEYWORD
}

// name returns the identifier t spells: quoted ones as written, others lower-cased.
func (t *lexToken) name() string {
	if strings.HasPrefix(t.text, `"`) && len(t.text) >= 2 {
		return strings.ReplaceAll(t.text[1:len(t.text)-1], `""`, `"`)
	}
	return strings.ToLower(t.text)
}

// word reports whether t is the bare word w (case-insensitive), keyword or not.
func (t *lexToken) word(w string) bool {
	return !strings.HasPrefix(t.text, `"`) && strings.EqualFold(t.text, w)
}

// stringLiteral returns the value of a standard string constant ('...').
func (t *lexToken) stringLiteral() (string, bool) {
	if t.tok != pg.Token_SCONST || len(t.text) < 2 || t.text[0] != '\'' || t.text[len(t.text)-1] != '\'' {
		return "", false
	}
	return strings.ReplaceAll(t.text[1:len(t.text)-1], "''", "'"), true
}

// syntaxErrAt is PostgreSQL's syntax error at a token (nil: the end of the input).
func syntaxErrAt(query string, t *lexToken) error {
	if t == nil {
		return &engine.Error{Code: sqlstate.SyntaxError, Message: "syntax error at end of input", Position: len(query) + 1}
	}
	return &engine.Error{Code: sqlstate.SyntaxError, Message: fmt.Sprintf("syntax error at or near %q", t.text), Position: int(t.start) + 1}
}

func errAt(t *lexToken, code, format string, args ...any) error {
	e := engine.Errorf(code, format, args...)
	e.Position = int(t.start) + 1
	return e
}

// preparsed is the pre-parser's view of one statement.
type preparsed struct {
	sql    string                 // the SQL for pg_query (time-travel clauses blanked)
	travel map[int32]*engine.AsOf // by the byte offset of the table reference
	verb   *bound                 // a lake verb, bound entirely here (sql unused)
	fields []engine.Field         // the verb's result columns
}

// preparse recognises the lake verbs in query.
func preparse(query string) (*preparsed, error) {
	pp := &preparsed{sql: query}
	if !mayHaveLakeVerb(query) {
		return pp, nil
	}
	toks, ok := lex(query)
	if !ok || len(toks) == 0 {
		return pp, nil
	}
	c := &cursor{query: query, toks: toks}
	bd, fields, ok, err := c.verb()
	if err != nil || ok {
		pp.verb, pp.fields = bd, fields
		return pp, err
	}
	return pp, pp.timeTravel(toks)
}

// lakeWords are the words every lake verb and clause holds as a bare token.
var lakeWords = []string{"version", "timestamp", "describe", "optimize", "vacuum", "external"}

// mayHaveLakeVerb is a quick test that spares most statements the scanner: false
// when query cannot hold a lake verb or clause.
func mayHaveLakeVerb(query string) bool {
	q := strings.ToLower(query)
	for _, w := range lakeWords {
		if strings.Contains(q, w) {
			return true
		}
	}
	return false
}

// timeTravel finds the VERSION AS OF / TIMESTAMP AS OF clauses that follow a
// table reference in a FROM list (after FROM, JOIN or a comma), records them and
// blanks them out of pp.sql.
func (pp *preparsed) timeTravel(toks []lexToken) error {
	var buf []byte
	for i := 0; i+2 < len(toks); i++ {
		t := &toks[i]
		if (t.tok != pg.Token_VERSION_P && t.tok != pg.Token_TIMESTAMP) || toks[i+1].tok != pg.Token_AS || toks[i+2].tok != pg.Token_OF {
			continue
		}
		j := i - 1
		if j < 0 || !toks[j].isName() {
			continue
		}
		for j >= 2 && toks[j-1].tok == pg.Token_ASCII_46 && toks[j-2].isName() {
			j -= 2
		}
		if j < 1 {
			continue
		}
		if p := toks[j-1].tok; p != pg.Token_FROM && p != pg.Token_JOIN && p != pg.Token_ASCII_44 {
			continue
		}
		var val *lexToken
		if i+3 < len(toks) {
			val = &toks[i+3]
		}
		asOf := &engine.AsOf{}
		if t.tok == pg.Token_VERSION_P {
			if val == nil || val.tok != pg.Token_ICONST {
				if val == nil {
					return syntaxErrAt(pp.sql, nil)
				}
				return errAt(val, sqlstate.SyntaxError, "VERSION AS OF takes a version number (a non-negative integer constant)")
			}
			v, err := strconv.ParseInt(val.text, 10, 64)
			if err != nil {
				return errAt(val, sqlstate.InvalidParameterValue, "invalid Delta version %s", val.text)
			}
			asOf.HasVersion, asOf.Version = true, v
		} else {
			if val == nil {
				return syntaxErrAt(pp.sql, nil)
			}
			s, ok := val.stringLiteral()
			if next := i + 4; ok && next < len(toks) {
				switch toks[next].tok {
				case pg.Token_TYPECAST, pg.Token_Op, pg.Token_ASCII_43, pg.Token_ASCII_45, pg.Token_ASCII_42,
					pg.Token_ASCII_47, pg.Token_ASCII_40, pg.Token_ASCII_91, pg.Token_AT:
					ok = false // an expression that starts with a literal
				}
			}
			if !ok {
				return errAt(val, sqlstate.FeatureNotSupported,
					"TIMESTAMP AS OF takes a string literal, such as '2026-11-20 12:00:00' (UTC unless it names a zone); expressions are not supported")
			}
			tv, err := engine.ParseValue(s, engine.TimestampTZ)
			if err != nil {
				var ee *engine.Error
				if errors.As(err, &ee) && ee.Position == 0 {
					ee.Position = int(val.start) + 1
					return ee
				}
				return errAt(val, sqlstate.InvalidDatetimeFormat, "invalid TIMESTAMP AS OF value %q: %v", s, err)
			}
			asOf.Time = tv.I
		}
		if pp.travel == nil {
			pp.travel = map[int32]*engine.AsOf{}
			buf = []byte(pp.sql)
		}
		pp.travel[toks[j].start] = asOf
		for k := t.start; k < val.end; k++ {
			if buf[k] != '\n' {
				buf[k] = ' '
			}
		}
		i += 3
	}
	if buf != nil {
		pp.sql = string(buf)
	}
	return nil
}

// cursor walks the tokens of one statement.
type cursor struct {
	query string
	toks  []lexToken
	i     int
}

// peek returns the next token, nil at the end (trailing semicolons included).
func (c *cursor) peek() *lexToken {
	if c.i >= len(c.toks) {
		return nil
	}
	for k := c.i; k < len(c.toks); k++ {
		if c.toks[k].tok != pg.Token_ASCII_59 {
			return &c.toks[c.i]
		}
	}
	return nil
}

func (c *cursor) next() *lexToken {
	t := c.peek()
	if t != nil {
		c.i++
	}
	return t
}

// accept consumes the next token when it is the word w.
func (c *cursor) accept(w string) bool {
	if t := c.peek(); t != nil && t.word(w) {
		c.i++
		return true
	}
	return false
}

func (c *cursor) expect(w string) error {
	if !c.accept(w) {
		return syntaxErrAt(c.query, c.peek())
	}
	return nil
}

func (c *cursor) acceptTok(tok pg.Token) bool {
	if t := c.peek(); t != nil && t.tok == tok {
		c.i++
		return true
	}
	return false
}

func (c *cursor) end() error {
	if t := c.peek(); t != nil {
		return syntaxErrAt(c.query, t)
	}
	return nil
}

// tableName reads [public.]name.
func (c *cursor) tableName() (string, *lexToken, error) {
	t := c.peek()
	if t == nil || !t.isName() {
		return "", t, syntaxErrAt(c.query, t)
	}
	c.i++
	name := t.name()
	if c.acceptTok(pg.Token_ASCII_46) {
		n := c.peek()
		if n == nil || !n.isName() {
			return "", n, syntaxErrAt(c.query, n)
		}
		c.i++
		if name != "public" {
			return "", t, errAt(t, sqlstate.UndefinedTable, "relation \"%s.%s\" does not exist", name, n.name())
		}
		name = n.name()
	}
	return name, t, nil
}

// verb recognises and binds a lake verb; ok is false for any other statement.
func (c *cursor) verb() (*bound, []engine.Field, bool, error) {
	first := c.peek()
	if first == nil {
		return nil, nil, false, nil
	}
	var second *lexToken
	if len(c.toks) > 1 {
		second = &c.toks[1]
	}
	switch {
	case first.word("describe") && second != nil && second.word("history"):
		c.i = 2
		bd, f, err := c.describeHistory()
		return bd, f, true, err
	case first.word("optimize"):
		c.i = 1
		bd, f, err := c.optimize()
		return bd, f, true, err
	case first.tok == pg.Token_VACUUM && second != nil && second.isName():
		c.i = 1
		bd, f, err := c.vacuum()
		return bd, f, true, err
	case first.tok == pg.Token_CREATE && second != nil && second.tok == pg.Token_EXTERNAL:
		c.i = 2
		bd, err := c.createExternal()
		return bd, nil, true, err
	}
	return nil, nil, false, nil
}

// lakeErr maps a store error about table to a client error.
func lakeErr(table string, err error) error {
	var ee *engine.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return err
	case errors.Is(err, store.ErrNoTable):
		return engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", table)
	case errors.Is(err, store.ErrNoLake):
		return &engine.Error{Code: sqlstate.ObjectNotInPrerequisiteState, Err: err,
			Message: fmt.Sprintf("table %q has no lake versions yet: no data has been handed off to its Delta table", table),
			Hint:    "Rows move to the lake when their time chunk closes and its handoff_grace has passed."}
	case errors.Is(err, lake.ErrRetentionTooShort):
		return retentionErr()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return err // the store's errors name the table
}

// retentionErr is Delta's refusal of a short VACUUM retention.
func retentionErr() error {
	return &engine.Error{Code: sqlstate.InvalidParameterValue,
		Message: "Are you sure you would like to vacuum files with such a low retention period? If you have writers that are " +
			"currently writing to this table, there is a risk that you may corrupt the state of your Delta table.",
		Hint: "If you are certain that there are no operations being performed on this table, such as insert/upsert/delete/optimize, " +
			"then you may turn off this check by setting: SET " + settingVacuumCheck + " = off. " +
			"If you are not sure, please use a value not less than \"168 hours\"."}
}

// lakeTable returns the definition of a table a lake verb names.
func (s *Session) lakeTable(name string) (catalog.TableDef, error) {
	def, ok := s.db.store.Table(name)
	if !ok {
		return def, engine.Errorf(sqlstate.UndefinedTable, "relation %q does not exist", name)
	}
	return def, nil
}

func externalErr(name string) error {
	return engine.Errorf(sqlstate.WrongObjectType, "table %s is an external Delta table", name)
}

// valuesResult returns rows as a result of fields.
func (s *Session) valuesResult(ctx context.Context, fields []engine.Field, rows [][]engine.Expr, tag string) (*Result, error) {
	names := make([]string, len(fields))
	types := make([]engine.Type, len(fields))
	for i, f := range fields {
		names[i], types[i] = f.Name, f.Type
	}
	now := time.Now()
	r, err := engine.Execute(ctx, valuesPlan(names, types, rows), s.execOptions(now))
	if err != nil {
		return nil, err
	}
	return &Result{Fields: fields, Rows: r, Tag: tag}, nil
}

func constOf(v engine.Value) engine.Expr { return &engine.Const{V: v} }
func int64Val(v int64) engine.Expr       { return constOf(engine.Value{Type: engine.Int64, I: v}) }
func textOrNull(v string) engine.Expr {
	if v == "" {
		return constOf(engine.NullValue(engine.Text))
	}
	return constOf(engine.Value{Type: engine.Text, S: v})
}

// historyFields are DESCRIBE HISTORY's columns (Delta's names).
var historyFields = []engine.Field{
	{Name: "version", Type: engine.Int64}, {Name: "timestamp", Type: engine.TimestampTZ},
	{Name: "operation", Type: engine.Text}, {Name: "operationParameters", Type: engine.Text},
	{Name: "readVersion", Type: engine.Int64}, {Name: "isBlindAppend", Type: engine.Bool},
	{Name: "engineInfo", Type: engine.Text},
}

// describeHistory binds DESCRIBE HISTORY t [LIMIT n].
func (c *cursor) describeHistory() (*bound, []engine.Field, error) {
	name, _, err := c.tableName()
	if err != nil {
		return nil, nil, err
	}
	limit := 0
	if c.accept("limit") {
		t := c.next()
		if t == nil || t.tok != pg.Token_ICONST {
			return nil, nil, syntaxErrAt(c.query, t)
		}
		n, err := strconv.Atoi(t.text)
		if err != nil || n <= 0 {
			return nil, nil, errAt(t, sqlstate.InvalidParameterValue, "DESCRIBE HISTORY LIMIT must be a positive integer")
		}
		limit = n
	}
	if err := c.end(); err != nil {
		return nil, nil, err
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		if _, err := s.lakeTable(name); err != nil {
			return nil, err
		}
		tctx, cancel := s.withTimeout(ctx)
		hist, err := s.db.store.LakeHistory(tctx, name, limit)
		cancel()
		if err != nil {
			return nil, lakeErr(name, err)
		}
		rows := make([][]engine.Expr, 0, len(hist))
		for _, h := range hist {
			params := "{}"
			if len(h.OperationParameters) > 0 {
				b, err := json.Marshal(h.OperationParameters)
				if err != nil {
					return nil, fmt.Errorf("describe history %s: version %d: %w", name, h.Version, err)
				}
				params = string(b)
			}
			readVersion := constOf(engine.NullValue(engine.Int64))
			if h.ReadVersion != nil {
				readVersion = int64Val(*h.ReadVersion)
			}
			blind := constOf(engine.NullValue(engine.Bool))
			if h.IsBlindAppend != nil {
				blind = constOf(engine.Value{Type: engine.Bool, B: *h.IsBlindAppend})
			}
			rows = append(rows, []engine.Expr{int64Val(h.Version),
				constOf(engine.Value{Type: engine.TimestampTZ, I: h.Timestamp.UnixMicro()}),
				textOrNull(h.Operation), constOf(engine.Value{Type: engine.Text, S: params}),
				readVersion, blind, textOrNull(h.EngineInfo)})
		}
		return s.valuesResult(ctx, historyFields, rows, "SELECT")
	}, needs: []access{{kind: accessSelect, table: name}}}, historyFields, nil
}

// optimizeFields are OPTIMIZE's result columns.
var optimizeFields = []engine.Field{
	{Name: "version", Type: engine.Int64}, {Name: "files_removed", Type: engine.Int64},
	{Name: "files_added", Type: engine.Int64}, {Name: "rows_rewritten", Type: engine.Int64},
}

// optimize binds OPTIMIZE t [ZORDER BY (col)].
func (c *cursor) optimize() (*bound, []engine.Field, error) {
	name, _, err := c.tableName()
	if err != nil {
		return nil, nil, err
	}
	var sortBy string
	var sortTok *lexToken
	if t := c.peek(); t != nil && t.tok == pg.Token_WHERE {
		return nil, nil, errAt(t, sqlstate.FeatureNotSupported, "OPTIMIZE ... WHERE is not supported")
	}
	if c.accept("zorder") {
		if err := c.expect("by"); err != nil {
			return nil, nil, err
		}
		paren := c.acceptTok(pg.Token_ASCII_40)
		var cols []*lexToken
		for {
			t := c.next()
			if t == nil || !t.isName() {
				return nil, nil, syntaxErrAt(c.query, t)
			}
			cols = append(cols, t)
			if !c.acceptTok(pg.Token_ASCII_44) {
				break
			}
		}
		if paren && !c.acceptTok(pg.Token_ASCII_41) {
			return nil, nil, syntaxErrAt(c.query, c.peek())
		}
		if len(cols) > 1 {
			return nil, nil, errAt(cols[1], sqlstate.FeatureNotSupported,
				"ZORDER BY more than one column is not supported: strata sorts the compacted files by one column")
		}
		sortBy, sortTok = cols[0].name(), cols[0]
	}
	if err := c.end(); err != nil {
		return nil, nil, err
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		def, err := s.lakeTable(name)
		if err != nil {
			return nil, err
		}
		if store.IsExternal(&def) {
			return nil, externalErr(name)
		}
		if sortBy != "" && def.Schema.Index(sortBy) < 0 {
			return nil, errAt(sortTok, sqlstate.UndefinedColumn, "column %q does not exist", sortBy)
		}
		tctx, cancel := s.withTimeout(ctx)
		res, err := s.db.store.Optimize(tctx, name, 0, sortBy)
		cancel()
		if err != nil {
			return nil, lakeErr(name, err)
		}
		version := constOf(engine.NullValue(engine.Int64))
		if res.Version >= 0 {
			version = int64Val(res.Version)
		}
		row := []engine.Expr{version, int64Val(int64(res.FilesRemoved)), int64Val(int64(res.FilesAdded)), int64Val(res.Rows)}
		return s.valuesResult(ctx, optimizeFields, [][]engine.Expr{row}, "OPTIMIZE")
	}, needs: []access{{kind: accessOwner, table: name}, {kind: accessWrite, what: "OPTIMIZE"}}}, optimizeFields, nil
}

// vacuumFields is VACUUM's result column.
var vacuumFields = []engine.Field{{Name: "path", Type: engine.Text}}

// vacuum binds VACUUM t [RETAIN n HOURS] [DRY RUN].
func (c *cursor) vacuum() (*bound, []engine.Field, error) {
	name, _, err := c.tableName()
	if err != nil {
		return nil, nil, err
	}
	retain := time.Duration(-1)
	if c.accept("retain") {
		t := c.next()
		if t == nil || (t.tok != pg.Token_ICONST && t.tok != pg.Token_FCONST) {
			return nil, nil, syntaxErrAt(c.query, t)
		}
		h, err := strconv.ParseFloat(t.text, 64)
		if err != nil || h < 0 || h > 1e6 {
			return nil, nil, errAt(t, sqlstate.InvalidParameterValue, "invalid VACUUM retention %s hours", t.text)
		}
		if err := c.expect("hours"); err != nil {
			return nil, nil, err
		}
		retain = time.Duration(h * float64(time.Hour))
	}
	dryRun := false
	if c.accept("dry") {
		if err := c.expect("run"); err != nil {
			return nil, nil, err
		}
		dryRun = true
	}
	if err := c.end(); err != nil {
		return nil, nil, err
	}
	return vacuumBound(name, retain, dryRun), vacuumFields, nil
}

// vacuumBound runs VACUUM on table.
func vacuumBound(name string, retain time.Duration, dryRun bool) *bound {
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		def, err := s.lakeTable(name)
		if err != nil {
			return nil, err
		}
		if store.IsExternal(&def) {
			return nil, externalErr(name)
		}
		check, err := s.vacuumRetentionCheck()
		if err != nil {
			return nil, err
		}
		if check && retain >= 0 && retain < lake.DefaultVacuumRetention {
			return nil, retentionErr()
		}
		tctx, cancel := s.withTimeout(ctx)
		paths, err := s.db.store.Vacuum(tctx, name, retain, dryRun, !check)
		cancel()
		if err != nil {
			return nil, lakeErr(name, err)
		}
		sort.Strings(paths)
		rows := make([][]engine.Expr, len(paths))
		for i, p := range paths {
			rows[i] = []engine.Expr{constOf(engine.Value{Type: engine.Text, S: p})}
		}
		return s.valuesResult(ctx, vacuumFields, rows, "VACUUM")
	}, needs: []access{{kind: accessOwner, table: name}, {kind: accessWrite, what: "VACUUM"}}}
}

// vacuumRetentionCheck reads strata.vacuum_retention_check (default on).
func (s *Session) vacuumRetentionCheck() (bool, error) {
	v, ok := s.setting(settingVacuumCheck)
	if !ok {
		return true, nil
	}
	b, ok := parseBoolSetting(v)
	if !ok {
		return true, engine.Errorf(sqlstate.InvalidParameterValue, "parameter %q requires a Boolean value, not %q", settingVacuumCheck, v)
	}
	return b, nil
}

// parseBoolSetting reads a boolean parameter value as PostgreSQL does.
func parseBoolSetting(v string) (bool, bool) {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(v), `'`)) {
	case "on", "true", "yes", "1", "t", "y":
		return true, true
	case "off", "false", "no", "0", "f", "n":
		return false, true
	}
	return false, false
}

// vacuumStmt binds a VACUUM pg_query parsed (the pre-parser takes the usual
// forms): one table without options, else 0A000.
func (b *binder) vacuumStmt(vs *pg.VacuumStmt) (*bound, []engine.Field, error) {
	if !vs.IsVacuumcmd {
		return nil, nil, engine.Unsupported("ANALYZE")
	}
	if len(vs.Options) > 0 || len(vs.Rels) != 1 {
		return nil, nil, engine.Unsupported("VACUUM without exactly one table, or with PostgreSQL options")
	}
	vr := vs.Rels[0].GetVacuumRelation()
	if vr == nil || vr.Relation == nil || len(vr.VaCols) > 0 {
		return nil, nil, engine.Unsupported("VACUUM of columns")
	}
	if vr.Relation.Schemaname != "" && vr.Relation.Schemaname != "public" {
		return nil, nil, posErr(engine.Errorf(sqlstate.UndefinedTable, "relation \"%s.%s\" does not exist", vr.Relation.Schemaname, vr.Relation.Relname), vr.Relation.Location)
	}
	return vacuumBound(vr.Relation.Relname, -1, false), vacuumFields, nil
}

// createExternal binds CREATE EXTERNAL TABLE [IF NOT EXISTS] t
// LOCATION '...' [WITH (...)] | WITH (lake_path = '...' [, time_column = '...']).
func (c *cursor) createExternal() (*bound, error) {
	if err := c.expect("table"); err != nil {
		return nil, err
	}
	ifNotExists := false
	if c.accept("if") {
		if err := c.expect("not"); err != nil {
			return nil, err
		}
		if err := c.expect("exists"); err != nil {
			return nil, err
		}
		ifNotExists = true
	}
	name, _, err := c.tableName()
	if err != nil {
		return nil, err
	}
	var path, timeCol string
	var pathTok *lexToken
	if c.accept("location") {
		t := c.next()
		v, ok := lexString(t)
		if !ok {
			return nil, syntaxErrAt(c.query, t)
		}
		path, pathTok = v, t
	}
	if c.accept("with") {
		if !c.acceptTok(pg.Token_ASCII_40) {
			return nil, syntaxErrAt(c.query, c.peek())
		}
		for {
			k := c.next()
			if k == nil || !k.isName() {
				return nil, syntaxErrAt(c.query, k)
			}
			if !c.acceptTok(pg.Token_ASCII_61) {
				return nil, syntaxErrAt(c.query, c.peek())
			}
			vt := c.next()
			v, ok := lexString(vt)
			if !ok {
				return nil, syntaxErrAt(c.query, vt)
			}
			switch k.name() {
			case store.OptLakePath:
				path, pathTok = v, vt
			case store.OptTimeColumn:
				timeCol = v
			default:
				return nil, errAt(k, sqlstate.InvalidParameterValue, "unrecognized parameter %q for an external table (lake_path, time_column)", k.name())
			}
			if !c.acceptTok(pg.Token_ASCII_44) {
				break
			}
		}
		if !c.acceptTok(pg.Token_ASCII_41) {
			return nil, syntaxErrAt(c.query, c.peek())
		}
	}
	if err := c.end(); err != nil {
		return nil, err
	}
	if path == "" {
		e := engine.Errorf(sqlstate.SyntaxError, "CREATE EXTERNAL TABLE needs the Delta table's location: LOCATION '...' or WITH (lake_path = '...')")
		e.Position = len(c.query) + 1
		if pathTok != nil {
			e.Position = int(pathTok.start) + 1
		}
		return nil, e
	}
	if err := checkLakePath(path); err != nil {
		if pathTok != nil {
			err.Position = int(pathTok.start) + 1
		}
		return nil, err
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		if _, ok := s.db.store.Table(name); ok {
			if ifNotExists {
				return &Result{Tag: "CREATE TABLE", Notices: []string{fmt.Sprintf("relation %q already exists, skipping", name)}}, nil
			}
			return nil, engine.Errorf(sqlstate.DuplicateTable, "relation %q already exists", name)
		}
		tctx, cancel := s.withTimeout(ctx)
		def, err := s.db.store.ExternalTableDef(tctx, name, path, timeCol)
		if err == nil {
			_, err = s.db.createTable(tctx, def) // under --cluster: a commit of the cluster catalog
			err = s.db.locationError(err)
		}
		cancel()
		switch {
		case errors.Is(err, store.ErrTableExists):
			if ifNotExists {
				return &Result{Tag: "CREATE TABLE", Notices: []string{fmt.Sprintf("relation %q already exists, skipping", name)}}, nil
			}
			return nil, engine.Errorf(sqlstate.DuplicateTable, "relation %q already exists", name)
		case errors.Is(err, lake.ErrNotExist):
			return nil, &engine.Error{Code: sqlstate.UndefinedTable, Err: err,
				Message: fmt.Sprintf("external table %s: no Delta table at %s", name, path), Detail: err.Error()}
		case errors.Is(err, lake.ErrUnsupported):
			return nil, &engine.Error{Code: sqlstate.FeatureNotSupported, Err: err,
				Message: fmt.Sprintf("external table %s: %v", name, err)}
		case err != nil:
			return nil, fmt.Errorf("create external table %s at %s: %w", name, path, err)
		}
		return &Result{Tag: "CREATE TABLE"}, nil
	}, needs: []access{{kind: accessSuperuser, what: "create an external table"}, {kind: accessWrite, what: "CREATE EXTERNAL TABLE"}}}, nil
}

// lexString reads an option value: a string literal, a number or a bare word.
func lexString(t *lexToken) (string, bool) {
	if t == nil {
		return "", false
	}
	if s, ok := t.stringLiteral(); ok {
		return s, true
	}
	switch {
	case t.tok == pg.Token_ICONST || t.tok == pg.Token_FCONST:
		return t.text, true
	case t.isName():
		return t.name(), true
	}
	return "", false
}

// checkLakePath validates a lake_path value: s3://bucket[/prefix] or a folder.
func checkLakePath(p string) *engine.Error {
	switch {
	case strings.TrimSpace(p) == "":
		return engine.Errorf(sqlstate.InvalidParameterValue, "invalid value for parameter %q: it must not be empty", store.OptLakePath)
	case strings.HasPrefix(p, "s3://"):
		bucket, _, _ := strings.Cut(strings.TrimPrefix(p, "s3://"), "/")
		if bucket == "" {
			return engine.Errorf(sqlstate.InvalidParameterValue, "invalid value for parameter %q: %q names no bucket (s3://bucket/prefix)", store.OptLakePath, p)
		}
	case strings.HasPrefix(p, "file://"):
	case strings.Contains(p, "://"):
		return engine.Errorf(sqlstate.InvalidParameterValue, "invalid value for parameter %q: %q: only s3:// URLs and folders are supported", store.OptLakePath, p)
	}
	return nil
}

// checkLakeOption validates the cold-tier options of CREATE TABLE ... WITH (...),
// returning the value to store; ok is false for an option that is not one of them.
func checkLakeOption(name, val string) (string, bool, *engine.Error) {
	switch name {
	case store.OptLakePath:
		if err := checkLakePath(val); err != nil {
			return "", true, err
		}
		return val, true, nil
	case store.OptHandoff:
		switch v := strings.ToLower(strings.TrimSpace(val)); v {
		case "on", "off":
			return v, true, nil
		case "true":
			return "on", true, nil
		case "false":
			return "off", true, nil
		}
		return "", true, engine.Errorf(sqlstate.InvalidParameterValue, "invalid value for parameter %q: %q (on or off)", store.OptHandoff, val)
	case store.OptHandoffGrace:
		d, err := catalog.ParseDuration(val)
		if err != nil || d < 0 {
			return "", true, engine.Errorf(sqlstate.InvalidParameterValue, "invalid value for parameter %q: %q (a duration such as '10 minutes')", store.OptHandoffGrace, val)
		}
		return val, true, nil
	}
	return "", false, nil
}

// unusedTimeTravel reports a time-travel clause no table reference took (the
// binder deletes those it attaches to a Scan).
func unusedTimeTravel(travel map[int32]*engine.AsOf) error {
	if len(travel) == 0 {
		return nil
	}
	locs := slices.Sorted(maps.Keys(travel))
	return posErr(engine.Errorf(sqlstate.SyntaxError, "VERSION AS OF and TIMESTAMP AS OF apply to a table in FROM"), locs[0])
}

// checkWritable refuses INSERT and COPY FROM into an external Delta table.
func (b *binder) checkWritable(stmt *pg.Node) error {
	var rv *pg.RangeVar
	switch x := stmt.Node.(type) {
	case *pg.Node_InsertStmt:
		rv = x.InsertStmt.Relation
	case *pg.Node_CopyStmt:
		if x.CopyStmt.IsFrom {
			rv = x.CopyStmt.Relation
		}
	}
	if rv == nil || (rv.Schemaname != "" && rv.Schemaname != "public") {
		return nil
	}
	if def, ok := b.db.store.Table(rv.Relname); ok && store.IsExternal(&def) {
		return posErr(engine.Errorf(sqlstate.WrongObjectType, "table %s is an external Delta table", def.Name), rv.Location)
	}
	return nil
}

// snapshotAsOf takes the time-travel snapshot of a scan, with Delta's errors for a
// version or time outside the table's log.
func (s *Session) snapshotAsOf(ctx context.Context, sc *engine.Scan) (*store.Snapshot, error) {
	tt := store.TimeTravel{HasVersion: sc.AsOf.HasVersion, Version: sc.AsOf.Version}
	if !tt.HasVersion {
		tt.Timestamp = time.UnixMicro(sc.AsOf.Time).UTC()
	}
	sn, err := s.db.store.SnapshotAt(ctx, sc.Table, tt)
	if err == nil {
		return sn, nil
	}
	if errors.Is(err, store.ErrNoTable) || errors.Is(err, store.ErrNoLake) || ctx.Err() != nil {
		return nil, lakeErr(sc.Table, err)
	}
	// Explain with the versions the log has (Delta's messages).
	hist, herr := s.db.store.LakeHistory(ctx, sc.Table, 0)
	if herr != nil || len(hist) == 0 {
		return nil, lakeErr(sc.Table, err)
	}
	newest, oldest := hist[0], hist[len(hist)-1]
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }
	switch {
	case tt.HasVersion && (tt.Version < oldest.Version || tt.Version > newest.Version):
		return nil, &engine.Error{Code: sqlstate.InvalidParameterValue, Err: err,
			Message: fmt.Sprintf("Cannot time travel Delta table to version %d. Available versions: [%d, %d].", tt.Version, oldest.Version, newest.Version)}
	case !tt.HasVersion && tt.Timestamp.After(newest.Timestamp):
		return nil, &engine.Error{Code: sqlstate.InvalidParameterValue, Err: err,
			Message: fmt.Sprintf("The provided timestamp (%s) is after the latest version available to this table (%s). Please use a timestamp before or at %s.",
				ts(tt.Timestamp), ts(newest.Timestamp), ts(newest.Timestamp))}
	case !tt.HasVersion && tt.Timestamp.Before(oldest.Timestamp):
		return nil, &engine.Error{Code: sqlstate.InvalidParameterValue, Err: err,
			Message: fmt.Sprintf("The provided timestamp (%s) is before the earliest version available to this table (%s). Please use a timestamp after %s.",
				ts(tt.Timestamp), ts(oldest.Timestamp), ts(oldest.Timestamp))}
	}
	return nil, lakeErr(sc.Table, err)
}
