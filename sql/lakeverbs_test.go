package sql

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/store"
)

// farFuture is a handoff "now" after every chunk of the tests: everything
// persisted is handed off.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// execErr prepares and executes q and returns the error of whichever step failed
// (closing any rows).
func execErr(s *Session, q string) error {
	st, err := s.Prepare(context.Background(), q, nil)
	if err != nil {
		return err
	}
	res, err := s.Execute(context.Background(), st, nil)
	if err == nil && res.Rows != nil {
		res.Rows.Close()
	}
	return err
}

func wantCode(t *testing.T, s *Session, q, code string) *engine.Error {
	t.Helper()
	err := execErr(s, q)
	var e *engine.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: got %v, want SQLSTATE %s", q, err, code)
	}
	return e
}

func one(t *testing.T, s *Session, q string) string {
	t.Helper()
	rows := collect(t, mustExec(t, s, q))
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%s: got %v, want one value", q, rows)
	}
	return rows[0][0]
}

// insertBatch inserts n rows at base + i seconds with v = i*7 % 13 + off and
// returns the sum of v.
func insertBatch(t *testing.T, s *Session, table string, base time.Time, n, off int) int {
	t.Helper()
	var sb strings.Builder
	sum := 0
	fmt.Fprintf(&sb, "INSERT INTO %s VALUES ", table)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		v := i*7%13 + off
		sum += v
		fmt.Fprintf(&sb, "('%s', 'k%d', %d)", base.Add(time.Duration(i)*time.Second).Format("2006-01-02 15:04:05"), i%3, v)
	}
	mustExec(t, s, sb.String())
	return sum
}

// removedInCommit reads the paths of the remove actions of one Delta commit file.
func removedInCommit(t *testing.T, lakeDir string, version int64) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(lakeDir, "_delta_log", fmt.Sprintf("%020d.json", version)))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var line struct {
			Remove *struct {
				Path string `json:"path"`
			} `json:"remove"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Remove != nil {
			out = append(out, line.Remove.Path)
		}
	}
	sort.Strings(out)
	return out
}

// TestLakeVerbs runs the lake verbs over a table with two handoffs (Delta
// versions 1 and 2 after the CREATE TABLE commit 0) and a third batch left hot.
func TestLakeVerbs(t *testing.T) {
	ctx := context.Background()
	s, st := newTestSession(t)
	mustExec(t, s, "CREATE TABLE ev (ts timestamptz NOT NULL, k text, v bigint)")
	day := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	const n1, n2, n3 = 40, 25, 17
	sum1 := insertBatch(t, s, "ev", day.Add(1*time.Hour), n1, 0)
	if _, err := st.Handoff(ctx, "ev", farFuture); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond) // commit times differ by more than a millisecond
	sum2 := insertBatch(t, s, "ev", day.Add(3*time.Hour), n2, 100)
	if res, err := st.Handoff(ctx, "ev", farFuture); err != nil || res.Version != 2 {
		t.Fatalf("second handoff: %+v, %v", res, err)
	}
	sum3 := insertBatch(t, s, "ev", day.Add(5*time.Hour), n3, 1000)

	count := func(q string) int {
		t.Helper()
		n, err := strconv.Atoi(one(t, s, q))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := count("SELECT count(*) FROM ev"); got != n1+n2+n3 {
		t.Errorf("count over hot and cold: %d, want %d", got, n1+n2+n3)
	}
	if got := count("SELECT sum(v) FROM ev"); got != sum1+sum2+sum3 {
		t.Errorf("sum over hot and cold: %d, want %d", got, sum1+sum2+sum3)
	}
	travel := []struct {
		q    string
		want int
	}{
		{"SELECT count(*) FROM ev VERSION AS OF 1", n1},
		{"SELECT count(*) FROM ev VERSION AS OF 2", n1 + n2},
		{"SELECT count(*) FROM ev VERSION AS OF 0", 0},
		{"SELECT sum(v) FROM ev VERSION AS OF 1", sum1},
		{"SELECT count(*) FROM ev VERSION AS OF 1 AS x WHERE x.v >= 0", n1},
		{"SELECT count(*) FROM ev VERSION AS OF 1 x WHERE x.k = 'k0'", (n1 + 2) / 3},
		{"SELECT count(*) FROM public.ev VERSION AS OF 2 WHERE ev.v >= 100", n2},
		// A self-join of two versions: the rows of version 2 not in version 1.
		{"SELECT count(*) FROM ev VERSION AS OF 2 a LEFT JOIN ev VERSION AS OF 1 b ON a.ts = b.ts WHERE b.ts IS NULL", n2},
		{"SELECT count(*) FROM (SELECT * FROM ev VERSION AS OF 1) s", n1},
		{"WITH c AS (SELECT v FROM ev VERSION AS OF 1) SELECT count(*) FROM c", n1},
		{"INSERT INTO ev2 SELECT * FROM ev VERSION AS OF 1", -1},
	}
	mustExec(t, s, "CREATE TABLE ev2 (ts timestamptz NOT NULL, k text, v bigint)")
	for _, c := range travel {
		if c.want < 0 {
			mustExec(t, s, c.q)
			if got := count("SELECT count(*) FROM ev2"); got != n1 {
				t.Errorf("%s: inserted %d rows, want %d", c.q, got, n1)
			}
			continue
		}
		if got := count(c.q); got != c.want {
			t.Errorf("%s: %d, want %d", c.q, got, c.want)
		}
	}
	// EXPLAIN shows the version a scan reads.
	var plan []string
	for _, r := range collect(t, mustExec(t, s, "EXPLAIN SELECT count(*) FROM ev VERSION AS OF 1")) {
		plan = append(plan, r[0])
	}
	if !strings.Contains(strings.Join(plan, "\n"), "Scan ev") || !strings.Contains(strings.Join(plan, "\n"), "asof=version 1") {
		t.Errorf("EXPLAIN does not show the version:\n%s", strings.Join(plan, "\n"))
	}

	// DESCRIBE HISTORY: newest first, versions 2, 1, 0.
	hist := collect(t, mustExec(t, s, "DESCRIBE HISTORY ev"))
	if len(hist) != 3 {
		t.Fatalf("DESCRIBE HISTORY: %v", hist)
	}
	for i, r := range hist {
		if r[0] != strconv.Itoa(2-i) {
			t.Errorf("history row %d: version %s, want %d", i, r[0], 2-i)
		}
		var params map[string]any
		if err := json.Unmarshal([]byte(r[3]), &params); err != nil {
			t.Errorf("history row %d: operationParameters %q is not a JSON object: %v", i, r[3], err)
		}
	}
	if hist[0][2] != "WRITE" || hist[1][2] != "WRITE" {
		t.Errorf("handoff commits: operations %q, %q, want WRITE", hist[0][2], hist[1][2])
	}
	res := mustExec(t, s, "DESCRIBE HISTORY ev LIMIT 1")
	var names []string
	for _, f := range res.Fields {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "version,timestamp,operation,operationParameters,readVersion,isBlindAppend,engineInfo" {
		t.Errorf("DESCRIBE HISTORY columns: %s", got)
	}
	if rows := collect(t, res); len(rows) != 1 || rows[0][0] != "2" {
		t.Errorf("DESCRIBE HISTORY LIMIT 1: %v", rows)
	}

	// TIMESTAMP AS OF: between the two handoff commits reads version 1.
	parse := func(s string) time.Time {
		t.Helper()
		v, err := engine.ParseValue(s, engine.TimestampTZ)
		if err != nil {
			t.Fatal(err)
		}
		return time.UnixMicro(v.I).UTC()
	}
	t1, t2 := parse(hist[1][1]), parse(hist[0][1])
	if !t1.Before(t2) {
		t.Fatalf("commit times %s, %s are not increasing", t1, t2)
	}
	mid := t1.Add(t2.Sub(t1) / 2)
	lit := func(tm time.Time) string { return tm.Format("2006-01-02 15:04:05.000000") }
	if got := count("SELECT count(*) FROM ev TIMESTAMP AS OF '" + lit(mid) + "'"); got != n1 {
		t.Errorf("TIMESTAMP AS OF between the commits: %d, want %d", got, n1)
	}
	// With a zone: the same instant two hours east.
	east := mid.In(time.FixedZone("", 2*3600)).Format("2006-01-02 15:04:05.000000-07")
	if got := count("SELECT count(*) FROM ev TIMESTAMP AS OF '" + east + "'"); got != n1 {
		t.Errorf("TIMESTAMP AS OF %s: %d, want %d", east, got, n1)
	}

	// Errors.
	e := wantCode(t, s, "SELECT count(*) FROM ev VERSION AS OF 99", sqlstate.InvalidParameterValue)
	if !strings.Contains(e.Message, "version 99") || !strings.Contains(e.Message, "[0, 2]") {
		t.Errorf("version 99: %q", e.Message)
	}
	wantCode(t, s, "SELECT count(*) FROM ev TIMESTAMP AS OF '1999-01-01'", sqlstate.InvalidParameterValue)
	wantCode(t, s, "SELECT count(*) FROM ev TIMESTAMP AS OF '"+lit(t2.Add(time.Hour))+"'", sqlstate.InvalidParameterValue)
	wantCode(t, s, "SELECT count(*) FROM nope VERSION AS OF 1", sqlstate.UndefinedTable)
	wantCode(t, s, "DESCRIBE HISTORY nope", sqlstate.UndefinedTable)
	mustExec(t, s, "CREATE TABLE hot (ts timestamptz NOT NULL, v bigint)")
	mustExec(t, s, "INSERT INTO hot VALUES ('2020-01-01 00:00:00', 1)")
	e = wantCode(t, s, "SELECT count(*) FROM hot VERSION AS OF 0", sqlstate.ObjectNotInPrerequisiteState)
	if !strings.Contains(e.Message, "handed off") {
		t.Errorf("no lake yet: %q", e.Message)
	}
	wantCode(t, s, "DESCRIBE HISTORY hot", sqlstate.ObjectNotInPrerequisiteState)
	wantCode(t, s, "OPTIMIZE hot", sqlstate.ObjectNotInPrerequisiteState)
	wantCode(t, s, "VACUUM hot", sqlstate.ObjectNotInPrerequisiteState)

	// OPTIMIZE: the two handoff files of 2020-01-01 become one; results unchanged.
	wantCode(t, s, "OPTIMIZE ev ZORDER BY (k, v)", sqlstate.FeatureNotSupported)
	wantCode(t, s, "OPTIMIZE ev ZORDER BY (nope)", sqlstate.UndefinedColumn)
	opt := collect(t, mustExec(t, s, "OPTIMIZE ev ZORDER BY (v)"))
	if len(opt) != 1 || opt[0][0] != "3" || opt[0][1] != "2" || opt[0][2] != "1" || opt[0][3] != strconv.Itoa(n1+n2) {
		t.Errorf("OPTIMIZE: %v, want version 3, 2 removed, 1 added, %d rows", opt, n1+n2)
	}
	if got := count("SELECT count(*) FROM ev"); got != n1+n2+n3 {
		t.Errorf("count after OPTIMIZE: %d, want %d", got, n1+n2+n3)
	}
	if got := count("SELECT sum(v) FROM ev"); got != sum1+sum2+sum3 {
		t.Errorf("sum after OPTIMIZE: %d, want %d", got, sum1+sum2+sum3)
	}
	if got := count("SELECT count(*) FROM ev VERSION AS OF 1"); got != n1 {
		t.Errorf("VERSION AS OF 1 after OPTIMIZE: %d, want %d", got, n1)
	}
	if h := collect(t, mustExec(t, s, "DESCRIBE HISTORY ev LIMIT 1")); len(h) != 1 || h[0][0] != "3" || h[0][2] != "OPTIMIZE" {
		t.Errorf("history after OPTIMIZE: %v", h)
	}
	if again := collect(t, mustExec(t, s, "optimize ev;")); len(again) != 1 || again[0][0] != "NULL" || again[0][1] != "0" {
		t.Errorf("second OPTIMIZE: %v, want nothing to do", again)
	}

	// VACUUM: below 168 hours refused until the check is off; DRY RUN lists the
	// files OPTIMIZE removed (read from its Delta commit), VACUUM deletes them.
	e = wantCode(t, s, "VACUUM ev RETAIN 0 HOURS", sqlstate.InvalidParameterValue)
	if !strings.Contains(e.Hint, "SET strata.vacuum_retention_check = off") {
		t.Errorf("retention hint: %q", e.Hint)
	}
	wantCode(t, s, "SET strata.vacuum_retention_check = maybe", sqlstate.InvalidParameterValue)
	mustExec(t, s, "SET strata.vacuum_retention_check = off")
	time.Sleep(5 * time.Millisecond) // the tombstones are older than now - 0 hours
	def, _ := st.Table("ev")
	lakeDir := filepath.Join(st.Dir(), "lake", strconv.FormatUint(def.ID, 10))
	removed := removedInCommit(t, lakeDir, 3)
	if len(removed) != 2 {
		t.Fatalf("OPTIMIZE commit removes %v", removed)
	}
	paths := func(q string) []string {
		var out []string
		for _, r := range collect(t, mustExec(t, s, q)) {
			out = append(out, r[0])
		}
		sort.Strings(out)
		return out
	}
	if got := paths("VACUUM ev RETAIN 0 HOURS DRY RUN"); strings.Join(got, ",") != strings.Join(removed, ",") {
		t.Errorf("DRY RUN lists %v, want %v", got, removed)
	}
	for _, p := range removed {
		if _, err := os.Stat(filepath.Join(lakeDir, filepath.FromSlash(p))); err != nil {
			t.Errorf("DRY RUN deleted %s: %v", p, err)
		}
	}
	if got := paths("VACUUM ev RETAIN 0 HOURS"); strings.Join(got, ",") != strings.Join(removed, ",") {
		t.Errorf("VACUUM deleted %v, want %v", got, removed)
	}
	for _, p := range removed {
		if _, err := os.Stat(filepath.Join(lakeDir, filepath.FromSlash(p))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("VACUUM left %s: %v", p, err)
		}
	}
	if got := paths("VACUUM ev RETAIN 0 HOURS DRY RUN"); len(got) != 0 {
		t.Errorf("DRY RUN after VACUUM: %v", got)
	}
	if got := count("SELECT count(*) FROM ev"); got != n1+n2+n3 {
		t.Errorf("count after VACUUM: %d, want %d", got, n1+n2+n3)
	}
	// PostgreSQL's own VACUUM t (default retention: nothing this young goes).
	if got := paths("VACUUM ev"); len(got) != 0 {
		t.Errorf("VACUUM ev: %v", got)
	}
	wantCode(t, s, "VACUUM (VERBOSE) ev", sqlstate.FeatureNotSupported)
	wantCode(t, s, "VACUUM", sqlstate.FeatureNotSupported)
	wantCode(t, s, "VACUUM nope RETAIN 200 HOURS", sqlstate.UndefinedTable)
}

// TestLakeExternalTable registers real Delta tables (storage/lake/testdata/delta)
// and compares counts with MANIFEST.md.
func TestLakeExternalTable(t *testing.T) {
	s, _ := newTestSession(t)
	root, err := filepath.Abs("../storage/lake/testdata/delta")
	if err != nil {
		t.Fatal(err)
	}
	basic := filepath.Join(root, "basic-with-inserts-overwrite-restore")
	mustExec(t, s, "CREATE EXTERNAL TABLE basic LOCATION '"+basic+"'")
	mustExec(t, s, "CREATE EXTERNAL TABLE dv WITH (lake_path = '"+filepath.Join(root, "table-with-dv-small")+"')")
	// MANIFEST.md: basic-with-inserts-overwrite-restore has 200 rows at its latest
	// version 3, 500 at v2, 200 at v1; table-with-dv-small 8 (10 - 2 deleted), 10 at v0.
	for q, want := range map[string]string{
		"SELECT count(*) FROM basic":                   "200",
		"SELECT count(*) FROM basic VERSION AS OF 2":   "500",
		"SELECT count(*) FROM basic VERSION AS OF 1":   "200",
		"SELECT count(*) FROM dv":                      "8",
		"SELECT count(*) FROM dv VERSION AS OF 0":      "10",
		"SELECT count(*) FROM dv AS d VERSION AS OF 0": "", // AS before VERSION: not Spark's order
	} {
		if want == "" {
			wantCode(t, s, q, sqlstate.SyntaxError)
			continue
		}
		if got := one(t, s, q); got != want {
			t.Errorf("%s: %s, want %s (MANIFEST.md)", q, got, want)
		}
	}
	// Time travel does not show the hidden time column of a table without one.
	res := mustExec(t, s, "SELECT * FROM basic VERSION AS OF 1 LIMIT 1")
	for _, f := range res.Fields {
		if strings.HasPrefix(f.Name, "__") {
			t.Errorf("SELECT * shows the hidden column %s", f.Name)
		}
	}
	collect(t, res)
	if h := collect(t, mustExec(t, s, "DESCRIBE HISTORY basic")); len(h) != 4 || h[0][0] != "3" || h[3][0] != "0" {
		t.Errorf("DESCRIBE HISTORY basic: %v", h)
	}
	for _, q := range []string{
		"INSERT INTO basic SELECT * FROM basic",
		"COPY basic FROM STDIN",
		"OPTIMIZE basic",
		"VACUUM basic",
	} {
		e := wantCode(t, s, q, sqlstate.WrongObjectType)
		if !strings.Contains(e.Message, "external Delta table") {
			t.Errorf("%s: %q", q, e.Message)
		}
	}
	wantCode(t, s, "CREATE EXTERNAL TABLE basic LOCATION '"+basic+"'", sqlstate.DuplicateTable)
	mustExec(t, s, "CREATE EXTERNAL TABLE IF NOT EXISTS basic LOCATION '"+basic+"'")
	wantCode(t, s, "CREATE EXTERNAL TABLE gone LOCATION '"+filepath.Join(t.TempDir(), "none")+"'", sqlstate.UndefinedTable)
	wantCode(t, s, "CREATE EXTERNAL TABLE x WITH (path = '/tmp')", sqlstate.InvalidParameterValue)
	wantCode(t, s, "CREATE EXTERNAL TABLE x", sqlstate.SyntaxError)
	wantCode(t, s, "CREATE EXTERNAL TABLE x LOCATION 'ftp://h/p'", sqlstate.InvalidParameterValue)
	if _, ok := s.db.store.Table("gone"); ok {
		t.Errorf("a failed CREATE EXTERNAL TABLE left a table")
	}
	mustExec(t, s, "DROP TABLE dv")
	if _, err := os.Stat(filepath.Join(root, "table-with-dv-small", "_delta_log")); err != nil {
		t.Errorf("DROP TABLE of an external table touched its Delta table: %v", err)
	}
}

// TestLakeTableOptions: CREATE TABLE validates the cold-tier options.
func TestLakeTableOptions(t *testing.T) {
	s, st := newTestSession(t)
	dir := t.TempDir()
	for _, c := range []struct {
		with   string
		code   string
		option string
	}{
		{"handoff = 'sometimes'", sqlstate.InvalidParameterValue, "handoff"},
		{"handoff_grace = 'soon'", sqlstate.InvalidParameterValue, "handoff_grace"},
		{"handoff_grace = '-5 minutes'", sqlstate.InvalidParameterValue, "handoff_grace"},
		{"lake_path = ''", sqlstate.InvalidParameterValue, "lake_path"},
		{"lake_path = 's3:///prefix'", sqlstate.InvalidParameterValue, "lake_path"},
		{"lake_path = 'gs://bucket/x'", sqlstate.InvalidParameterValue, "lake_path"},
		{"external = 'true'", sqlstate.InvalidParameterValue, "external"},
	} {
		q := "CREATE TABLE o (ts timestamptz NOT NULL) WITH (" + c.with + ")"
		e := wantCode(t, s, q, c.code)
		if !strings.Contains(e.Message, c.option) {
			t.Errorf("%s: message %q does not name %s", q, e.Message, c.option)
		}
		if want := strings.Index(q, c.with) + 1; e.Position != want {
			t.Errorf("%s: position %d, want %d", q, e.Position, want)
		}
	}
	mustExec(t, s, "CREATE TABLE o (ts timestamptz NOT NULL) WITH (lake_path = '"+dir+"', handoff = 'OFF', handoff_grace = '5 minutes')")
	def, _ := st.Table("o")
	if def.Options[store.OptLakePath] != dir || def.Options[store.OptHandoff] != "off" || def.Options[store.OptHandoffGrace] != "5 minutes" {
		t.Errorf("options stored: %v", def.Options)
	}
}

// rangeVarLocations returns the Location of every RangeVar in sql's parse tree.
func rangeVarLocations(t *testing.T, sql string) map[int32]string {
	t.Helper()
	tree, err := pg.Parse(sql)
	if err != nil {
		t.Fatalf("pg_query rejects the rewritten %q: %v", sql, err)
	}
	out := map[int32]string{}
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		if rv, ok := m.Interface().(*pg.RangeVar); ok {
			out[rv.Location] = rv.Relname
		}
		m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
			if fd.Kind() != protoreflect.MessageKind {
				return true
			}
			if fd.IsList() {
				for i := 0; i < val.List().Len(); i++ {
					walk(val.List().Get(i).Message())
				}
			} else if !fd.IsMap() {
				walk(val.Message())
			}
			return true
		})
	}
	for _, st := range tree.Stmts {
		walk(st.Stmt.ProtoReflect())
	}
	return out
}

// TestPreparse checks the pre-parser alone: what it rewrites, where it records
// each clause (the table reference's RangeVar Location in pg_query's tree of the
// rewritten SQL) and what it leaves alone (strings, quoted identifiers, comments,
// valid PostgreSQL).
func TestPreparse(t *testing.T) {
	ts := func(s string) int64 {
		tm, err := time.Parse("2006-01-02 15:04:05Z07:00", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMicro()
	}
	cases := []struct {
		q string
		// the table references with time travel (their text, found in q between
		// spaces) and their clauses
		refs  map[string]engine.AsOf
		clean string // the SQL for pg_query, "" when the same as q
	}{
		{q: "SELECT * FROM t VERSION AS OF 3", refs: map[string]engine.AsOf{"t": {HasVersion: true, Version: 3}},
			clean: "SELECT * FROM t                "},
		{q: "SELECT * FROM t VERSION AS OF 3 AS x WHERE x.a = 1", refs: map[string]engine.AsOf{"t": {HasVersion: true, Version: 3}}},
		{q: "SELECT * FROM t version as of 12 x", refs: map[string]engine.AsOf{"t": {HasVersion: true, Version: 12}}},
		{q: "SELECT * FROM public.t TIMESTAMP AS OF '2026-11-20 12:00:00'", refs: map[string]engine.AsOf{"public.t": {Time: ts("2026-11-20 12:00:00Z")}}},
		{q: "SELECT * FROM a, b TIMESTAMP AS OF '2026-11-20 12:00:00+02'", refs: map[string]engine.AsOf{"b": {Time: ts("2026-11-20 10:00:00Z")}}},
		{q: "SELECT * FROM a VERSION AS OF 1 JOIN b VERSION AS OF 2 ON a.x = b.x",
			refs: map[string]engine.AsOf{"a": {HasVersion: true, Version: 1}, "b": {HasVersion: true, Version: 2}}},
		{q: "SELECT 'é', * FROM \"My Tab\" VERSION AS OF 4\n-- VERSION AS OF 5\n", refs: map[string]engine.AsOf{`"My Tab"`: {HasVersion: true, Version: 4}}},
		{q: "SELECT * FROM (SELECT * FROM t VERSION AS OF 7) s", refs: map[string]engine.AsOf{"t": {HasVersion: true, Version: 7}}},
		// Left alone.
		{q: "SELECT 'FROM t VERSION AS OF 3'"},
		{q: `SELECT * FROM "t VERSION AS OF 3"`},
		{q: "SELECT * FROM t -- VERSION AS OF 3"},
		{q: "SELECT * FROM t /* TIMESTAMP AS OF '2026-01-01' */"},
		{q: "SELECT timestamp AS of FROM t"},
		{q: "SELECT x, timestamp AS of FROM t"},
		{q: "SELECT CAST(x AS timestamp) AS of FROM t"},
		{q: "SELECT $$ FROM t VERSION AS OF 3 $$"},
	}
	for _, c := range cases {
		pp, err := preparse(c.q)
		if err != nil {
			t.Errorf("%q: %v", c.q, err)
			continue
		}
		if pp.verb != nil {
			t.Errorf("%q: taken for a verb", c.q)
			continue
		}
		if len(pp.sql) != len(c.q) {
			t.Errorf("%q: rewritten length %d, want %d", c.q, len(pp.sql), len(c.q))
		}
		want := c.clean
		if want == "" && len(c.refs) == 0 {
			want = c.q
		}
		if want != "" && pp.sql != want {
			t.Errorf("%q: rewritten to %q, want %q", c.q, pp.sql, want)
		}
		if len(pp.travel) != len(c.refs) {
			t.Errorf("%q: %d time-travel references, want %d", c.q, len(pp.travel), len(c.refs))
		}
		locs := rangeVarLocations(t, pp.sql)
		for ref, asOf := range c.refs {
			loc := int32(strings.Index(c.q, " "+ref+" ") + 1)
			got, ok := pp.travel[loc]
			if !ok {
				t.Errorf("%q: nothing recorded at %d (%s); have %v", c.q, loc, ref, pp.travel)
				continue
			}
			if *got != asOf {
				t.Errorf("%q: %s: %+v, want %+v", c.q, ref, *got, asOf)
			}
			if _, ok := locs[loc]; !ok {
				t.Errorf("%q: no RangeVar at %d in pg_query's tree (%v)", c.q, loc, locs)
			}
		}
	}
}

// TestPreparseErrors: errors of the pre-parser carry a SQLSTATE and the 1-based
// position of the offending token (PostgreSQL's convention), found here by
// searching the query text for it.
func TestPreparseErrors(t *testing.T) {
	cases := []struct {
		q, at, code string // at: the offending text ("" for the end of the input)
	}{
		{"SELECT * FROM t VERSION AS OF 'x'", "'x'", sqlstate.SyntaxError},
		{"SELECT * FROM t VERSION AS OF -1", "-1", sqlstate.SyntaxError},
		{"SELECT * FROM t VERSION AS OF", "", sqlstate.SyntaxError},
		{"SELECT * FROM t TIMESTAMP AS OF now()", "now()", sqlstate.FeatureNotSupported},
		{"SELECT * FROM t TIMESTAMP AS OF '2026-01-01'::timestamptz", "'2026-01-01'", sqlstate.FeatureNotSupported},
		{"SELECT * FROM t TIMESTAMP AS OF '2026-01-01' + interval '1 day'", "'2026-01-01'", sqlstate.FeatureNotSupported},
		{"SELECT * FROM t TIMESTAMP AS OF 'yesterday-ish'", "'yesterday-ish'", sqlstate.InvalidDatetimeFormat},
		{"DESCRIBE HISTORY t LIMIT", "", sqlstate.SyntaxError},
		{"DESCRIBE HISTORY t LIMIT 0", "0", sqlstate.InvalidParameterValue},
		{"DESCRIBE HISTORY 'x'", "'x'", sqlstate.SyntaxError},
		{"DESCRIBE HISTORY other.t", "other", sqlstate.UndefinedTable},
		{"OPTIMIZE t ZORDER BY (a, b)", "b)", sqlstate.FeatureNotSupported},
		{"OPTIMIZE t ZORDER (a)", "(a)", sqlstate.SyntaxError},
		{"OPTIMIZE t WHERE a = 1", "WHERE", sqlstate.FeatureNotSupported},
		{"OPTIMIZE t extra", "extra", sqlstate.SyntaxError},
		{"VACUUM t RETAIN 1 DAYS", "DAYS", sqlstate.SyntaxError},
		{"VACUUM t RETAIN 10 HOURS DRY", "", sqlstate.SyntaxError},
		{"VACUUM t DRY RUN RETAIN 1 HOURS", "RETAIN", sqlstate.SyntaxError},
		{"CREATE EXTERNAL TABLE x WITH (lake_path = '/a', color = 'red')", "color", sqlstate.InvalidParameterValue},
		{"CREATE EXTERNAL TABLE x LOCATION 's3:///p'", "'s3:///p'", sqlstate.InvalidParameterValue},
		{"CREATE EXTERNAL TABLE x LOCATION", "", sqlstate.SyntaxError},
	}
	for _, c := range cases {
		_, err := preparse(c.q)
		var e *engine.Error
		if !errors.As(err, &e) || e.Code != c.code {
			t.Errorf("%q: got %v, want %s", c.q, err, c.code)
			continue
		}
		want := len(c.q) + 1
		if c.at != "" {
			want = strings.LastIndex(c.q, c.at) + 1
		}
		if e.Position != want {
			t.Errorf("%q: position %d, want %d (%q)", c.q, e.Position, want, c.at)
		}
	}
}

// TestPreparseVerbs: the verbs are recognised whatever their case and trailing
// semicolons, and statements that only look like them are not.
func TestPreparseVerbs(t *testing.T) {
	for _, c := range []struct {
		q    string
		verb bool
	}{
		{"DESCRIBE HISTORY t", true},
		{"describe history \"T\" limit 5;", true},
		{"OPTIMIZE t", true},
		{"optimize public.t zorder by v ;", true},
		{"VACUUM t", true},
		{"vacuum t retain 200 hours dry run", true},
		{"CREATE EXTERNAL TABLE t LOCATION '/x'", true},
		{"create external table if not exists t with (lake_path = '/x', time_column = 'ts')", true},
		{"-- comment first\nDESCRIBE HISTORY t", true},
		{"VACUUM", false},
		{"VACUUM FULL t", false},
		{"VACUUM (VERBOSE) t", false},
		{"SELECT 'OPTIMIZE t'", false},
		{"CREATE TABLE t (ts timestamptz NOT NULL)", false},
		{"DESCRIBE t", false},
	} {
		pp, err := preparse(c.q)
		if err != nil {
			t.Errorf("%q: %v", c.q, err)
			continue
		}
		if (pp.verb != nil) != c.verb {
			t.Errorf("%q: verb %v, want %v", c.q, pp.verb != nil, c.verb)
		}
	}
}

// TestLakeCountFromStatistics: count(*) and min/max of the time column over
// lake files are answered from the Delta statistics, without loading a file;
// a filter loads them.
func TestLakeCountFromStatistics(t *testing.T) {
	ctx := context.Background()
	s, st := newTestSession(t)
	mustExec(t, s, "CREATE TABLE ev (ts timestamptz NOT NULL, k text, v bigint)")
	day := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	insertBatch(t, s, "ev", day.Add(time.Hour), 30, 0)
	insertBatch(t, s, "ev", day.Add(26*time.Hour), 20, 100)
	if _, err := st.Handoff(ctx, "ev", farFuture); err != nil {
		t.Fatal(err)
	}
	loads := func() int64 { c := st.LakeStats().Cache; return c.Hits + c.Misses }
	before := loads()
	if got := one(t, s, "SELECT count(*) FROM ev"); got != "50" {
		t.Fatalf("count(*) = %s, want 50", got)
	}
	minmax := one(t, s, "SELECT min(ts)::text || ' ' || max(ts)::text FROM ev")
	want := one(t, s, "SELECT min(ts)::text || ' ' || max(ts)::text FROM ev WHERE v >= 0") // loads: the independent answer
	if minmax != want {
		t.Fatalf("min/max(ts) from statistics %q, from the rows %q", minmax, want)
	}
	if n := loads() - before; n == 0 {
		t.Fatal("the filtered query loaded no lake file")
	} else if n != 2 {
		t.Fatalf("%d lake file loads, want 2 (only the filtered query's, one per file)", n)
	}
}

// TestLakePruneFilters: filters on any column (=, IN, BETWEEN, <, on text and
// integers) answer the same over the lake files, read directly and pruned by
// Delta file statistics, footer statistics and dictionary pages, as over the
// segments before the handoff; a filter that only one file can match reads
// one file.
func TestLakePruneFilters(t *testing.T) {
	ctx := context.Background()
	s, st := newTestSession(t)
	mustExec(t, s, "CREATE TABLE ev (ts timestamptz NOT NULL, k text, v bigint)")
	day := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		insertBatch(t, s, "ev", day.Add(time.Duration(24*i+1)*time.Hour), 30, 100*i)
	}
	queries := []string{
		"SELECT count(*), sum(v) FROM ev WHERE v = 105",
		"SELECT count(*), sum(v) FROM ev WHERE v IN (3, 204, 999)",
		"SELECT count(*), sum(v) FROM ev WHERE v BETWEEN 100 AND 110",
		"SELECT count(*), sum(v) FROM ev WHERE v < 50 AND k = 'k1'",
		"SELECT count(*), sum(v) FROM ev WHERE k IN ('k0', 'k9')",
		"SELECT count(*), sum(v) FROM ev WHERE k = 'nope'",
		"SELECT count(*), sum(v) FROM ev WHERE k IN ('nope', 'never') OR v = 1",
		"SELECT count(*), sum(v) FROM ev WHERE v > 1000",
		"SELECT count(*), sum(v) FROM ev WHERE v <> 105 AND k NOT IN ('k2')",
		"SELECT count(*), sum(v) FROM ev WHERE k >= 'k1' AND v >= 200",
	}
	hot := make([]string, len(queries))
	for i, q := range queries {
		hot[i] = fmt.Sprint(collect(t, mustExec(t, s, q)))
	}
	if _, err := st.Handoff(ctx, "ev", farFuture); err != nil {
		t.Fatal(err)
	}
	for i, q := range queries {
		if got := fmt.Sprint(collect(t, mustExec(t, s, q))); got != hot[i] {
			t.Errorf("%s: lake %s, segments %s", q, got, hot[i])
		}
	}
	explain := func(q string) string {
		var plan []string
		for _, r := range collect(t, mustExec(t, s, "EXPLAIN "+q)) {
			plan = append(plan, r[0])
		}
		return strings.Join(plan, "\n")
	}
	if p := explain("SELECT count(*) FROM ev WHERE v < 1000"); !strings.Contains(p, "segments: 3 of 3") {
		t.Fatalf("three lake files expected:\n%s", p)
	}
	if p := explain("SELECT count(*) FROM ev WHERE v = 105"); !strings.Contains(p, "segments: 1 of 1") {
		t.Fatalf("v = 105 should read one lake file:\n%s", p)
	}
}
