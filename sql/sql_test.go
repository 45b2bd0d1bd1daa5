package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

// newTestSession opens a session over a new data directory whose lake roots are
// the system's temporary folder (where tests make their lakes and files) and the
// Delta tables under storage/lake/testdata.
func newTestSession(t *testing.T) (*Session, *store.Store) {
	t.Helper()
	testdata, err := filepath.Abs("../storage/lake/testdata")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir(), store.Options{LakeRoots: []string{os.TempDir(), testdata}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return Open(st, Options{}).NewSession("strata", "db"), st
}

func mustExec(t *testing.T, s *Session, q string) *Result {
	t.Helper()
	st, err := s.Prepare(context.Background(), q, nil)
	if err != nil {
		t.Fatalf("prepare %q: %v", q, err)
	}
	res, err := s.Execute(context.Background(), st, nil)
	if err != nil {
		t.Fatalf("execute %q: %v", q, err)
	}
	return res
}

// collect reads every row of res as PostgreSQL text.
func collect(t *testing.T, res *Result) [][]string {
	t.Helper()
	if res.Rows == nil {
		return nil
	}
	defer res.Rows.Close()
	var out [][]string
	for {
		rec, err := res.Rows.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]string, rec.NumCols())
			for j := range row {
				if rec.Column(j).IsNull(i) {
					row[j] = "NULL"
				} else {
					row[j] = string(engine.AppendText(nil, rec.Column(j), i, res.Fields[j].Type))
				}
			}
			out = append(out, row)
		}
		rec.Release()
	}
}

func codeIs(err error, code string) bool {
	var e *engine.Error
	return errors.As(err, &e) && e.Code == code
}

func TestSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \n\t", nil},
		{";;", nil},
		{"-- only a comment", nil},
		{"/* block */ ; -- and another\n;", nil},
		{"SELECT 1", []string{"SELECT 1"}},
		{"SELECT 1;", []string{"SELECT 1"}},
		{"SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"SELECT ';' AS x; SELECT \"a;b\" FROM t", []string{"SELECT ';' AS x", "SELECT \"a;b\" FROM t"}},
		{"-- lead\nSELECT 1; -- tail", []string{"-- lead\nSELECT 1"}},
		{"SELEC 1; SELECT 2", []string{"SELEC 1", "SELECT 2"}},
		{"SELECT 'unterminated", []string{"SELECT 'unterminated"}},
	}
	for _, c := range cases {
		got, err := Split(c.in)
		if err != nil {
			t.Errorf("Split(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPrepareSyntaxErrorPosition(t *testing.T) {
	s, _ := newTestSession(t)
	_, err := s.Prepare(context.Background(), "SELECT 1 FROM WHERE", nil)
	var e *engine.Error
	if !errors.As(err, &e) || e.Code != sqlstate.SyntaxError {
		t.Fatalf("got %v, want 42601", err)
	}
	// PostgreSQL: syntax error at or near "WHERE", position 15.
	if e.Position != 15 {
		t.Errorf("position %d, want 15", e.Position)
	}
}

func TestPrepareParams(t *testing.T) {
	s, _ := newTestSession(t)
	mustExec(t, s, "CREATE TABLE ev (ts timestamptz NOT NULL, kind text, n int, price double precision)")
	mustExec(t, s, `INSERT INTO ev VALUES ('2023-10-01 00:00:00+00', 'view', 1, 1.5),
		('2023-10-01 01:00:00+00', 'buy', 2, 2.5), ('2023-10-01 02:00:00+00', 'view', 3, NULL)`)
	cases := []struct {
		query    string
		declared []engine.Type
		want     []engine.Type
		params   []engine.Value
		rows     [][]string
	}{
		{
			query:  "SELECT n FROM ev WHERE kind = $1 ORDER BY n",
			want:   []engine.Type{engine.Text},
			params: []engine.Value{{Type: engine.Unknown, S: "view"}},
			rows:   [][]string{{"1"}, {"3"}},
		},
		{
			query:  "SELECT count(*) FROM ev WHERE ts >= $1 AND ts < $2",
			want:   []engine.Type{engine.TimestampTZ, engine.TimestampTZ},
			params: []engine.Value{{Type: engine.Unknown, S: "2023-10-01 00:30:00+00"}, {Type: engine.Unknown, S: "2023-10-01 02:00:00+00"}},
			rows:   [][]string{{"1"}},
		},
		{
			query:  "SELECT kind FROM ev WHERE n > $1 AND price < $2",
			want:   []engine.Type{engine.Int32, engine.Float64},
			params: []engine.Value{{Type: engine.Int32, I: 1}, {Type: engine.Unknown, S: "3"}},
			rows:   [][]string{{"buy"}},
		},
		{
			// $1 + n: the parameter takes the other operand's type.
			query:  "SELECT $1 + n FROM ev WHERE n = 1",
			want:   []engine.Type{engine.Int32},
			params: []engine.Value{{Type: engine.Unknown, S: "41"}},
			rows:   [][]string{{"42"}},
		},
		{
			// Nothing decides the type: text.
			query:  "SELECT $1",
			want:   []engine.Type{engine.Text},
			params: []engine.Value{{Type: engine.Unknown, S: "hello"}},
			rows:   [][]string{{"hello"}},
		},
		{
			// The client's declared type wins over inference.
			query:    "SELECT $1::int * 2",
			declared: []engine.Type{engine.Int64},
			want:     []engine.Type{engine.Int64},
			params:   []engine.Value{{Type: engine.Int64, I: 21}},
			rows:     [][]string{{"42"}},
		},
		{
			// A correlated subquery: $1 inside it, $2 in the outer value it reads.
			query:  "SELECT n, (SELECT count(*) FROM ev y WHERE y.kind = x.kind AND y.n <> $1 AND x.n + $2 > 0) FROM ev x ORDER BY n",
			want:   []engine.Type{engine.Int32, engine.Int32},
			params: []engine.Value{{Type: engine.Unknown, S: "3"}, {Type: engine.Unknown, S: "-1"}},
			rows:   [][]string{{"1", "0"}, {"2", "1"}, {"3", "1"}},
		},
		{
			query:  "SELECT n FROM ev WHERE kind IN ($1, $2) ORDER BY n DESC",
			want:   []engine.Type{engine.Text, engine.Text},
			params: []engine.Value{{Type: engine.Unknown, S: "buy"}, {Type: engine.Text, S: "view"}},
			rows:   [][]string{{"3"}, {"2"}, {"1"}},
		},
		{
			query:  "SELECT n FROM ev WHERE kind = $1",
			want:   []engine.Type{engine.Text},
			params: []engine.Value{{Null: true}},
			rows:   nil,
		},
		{
			query:  "SELECT n FROM ev ORDER BY n LIMIT $1 OFFSET $2",
			want:   []engine.Type{engine.Int64, engine.Int64},
			params: []engine.Value{{Type: engine.Unknown, S: "1"}, {Type: engine.Int64, I: 1}},
			rows:   [][]string{{"2"}},
		},
		{
			query:  "SELECT n FROM ev ORDER BY n LIMIT $1",
			want:   []engine.Type{engine.Int64},
			params: []engine.Value{{Null: true}},
			rows:   [][]string{{"1"}, {"2"}, {"3"}},
		},
		{
			query:  "INSERT INTO ev (ts, kind, n) VALUES ($1, $2, $3)",
			want:   []engine.Type{engine.TimestampTZ, engine.Text, engine.Int32},
			params: []engine.Value{{Type: engine.Unknown, S: "2023-10-02 00:00:00+00"}, {Type: engine.Unknown, S: "new"}, {Type: engine.Unknown, S: "9"}},
		},
		{
			query:  "SELECT n FROM ev WHERE kind = $1",
			want:   []engine.Type{engine.Text},
			params: []engine.Value{{Type: engine.Unknown, S: "new"}},
			rows:   [][]string{{"9"}},
		},
	}
	for _, c := range cases {
		st, err := s.Prepare(context.Background(), c.query, c.declared)
		if err != nil {
			t.Errorf("prepare %q: %v", c.query, err)
			continue
		}
		if !reflect.DeepEqual(st.ParamTypes, c.want) {
			t.Errorf("%q: ParamTypes %v, want %v", c.query, st.ParamTypes, c.want)
		}
		res, err := s.Execute(context.Background(), st, c.params)
		if err != nil {
			t.Errorf("execute %q: %v", c.query, err)
			continue
		}
		if got := collect(t, res); !reflect.DeepEqual(got, c.rows) {
			t.Errorf("%q: rows %v, want %v", c.query, got, c.rows)
		}
	}
}

func TestPrepareFieldsAndReuse(t *testing.T) {
	s, _ := newTestSession(t)
	mustExec(t, s, "CREATE TABLE ev (ts timestamptz NOT NULL, kind text, n int)")
	st, err := s.Prepare(context.Background(), "SELECT kind AS k, count(*), sum(n) FROM ev WHERE n > $1 GROUP BY kind", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Field{{Name: "k", Type: engine.Text}, {Name: "count", Type: engine.Int64}, {Name: "sum", Type: engine.Int64}}
	if !reflect.DeepEqual(st.Fields, want) {
		t.Errorf("fields %v, want %v", st.Fields, want)
	}
	mustExec(t, s, "INSERT INTO ev VALUES ('2023-10-01 00:00:00+00', 'a', 1), ('2023-10-01 00:00:01+00', 'a', 5)")
	// The same statement runs twice with different parameters.
	for _, c := range []struct {
		p    string
		rows [][]string
	}{{"0", [][]string{{"a", "2", "6"}}}, {"1", [][]string{{"a", "1", "5"}}}, {"9", nil}} {
		res, err := s.Execute(context.Background(), st, []engine.Value{{Type: engine.Unknown, S: c.p}})
		if err != nil {
			t.Fatal(err)
		}
		if got := collect(t, res); !reflect.DeepEqual(got, c.rows) {
			t.Errorf("n > %s: %v, want %v", c.p, got, c.rows)
		}
	}
	if _, err := s.Execute(context.Background(), st, nil); !codeIs(err, sqlstate.ProtocolViolation) {
		t.Errorf("missing parameter: %v, want 08P01", err)
	}
	if _, err := s.Execute(context.Background(), st, []engine.Value{{Type: engine.Unknown, S: "x"}}); !codeIs(err, sqlstate.InvalidTextRepresentation) {
		t.Errorf("bad parameter text: %v, want 22P02", err)
	}
	for _, q := range []string{"SELECT 1; SELECT 2"} {
		if _, err := s.Prepare(context.Background(), q, nil); !codeIs(err, sqlstate.SyntaxError) {
			t.Errorf("%q: %v, want 42601", q, err)
		}
	}
}

func TestSettings(t *testing.T) {
	s, _ := newTestSession(t)
	if v, ok := s.Setting("TimeZone"); !ok || v != "UTC" {
		t.Errorf("TimeZone = %q %v", v, ok)
	}
	mustExec(t, s, "SET application_name = 'grafana'")
	if v, _ := s.Setting("application_name"); v != "grafana" {
		t.Errorf("application_name = %q", v)
	}
	if err := s.Set("DateStyle", "ISO, MDY"); err != nil {
		t.Error(err)
	}
	if err := s.Set("TimeZone", "europe/berlin"); err != nil {
		t.Errorf("Set TimeZone Berlin: %v", err)
	}
	if v, _ := s.Setting("TimeZone"); v != "Europe/Berlin" {
		t.Errorf("TimeZone after Set = %q, want Europe/Berlin", v)
	}
	if err := s.Set("TimeZone", "Atlantis/Capital"); !codeIs(err, sqlstate.InvalidParameterValue) {
		t.Errorf("Set TimeZone Atlantis: %v", err)
	}
	got := collect(t, mustExec(t, s, "SELECT current_setting('application_name'), current_database(), current_schema(), current_user, version() LIKE 'PostgreSQL 15%'"))
	if want := [][]string{{"grafana", "db", "public", "strata", "t"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("session functions: %v, want %v", got, want)
	}
	res := mustExec(t, s, "SHOW application_name")
	if got := collect(t, res); !reflect.DeepEqual(got, [][]string{{"grafana"}}) || res.Tag != "SHOW" {
		t.Errorf("SHOW: %v %q", got, res.Tag)
	}
	for q, tag := range map[string]string{"BEGIN": "BEGIN", "COMMIT": "COMMIT", "ROLLBACK": "ROLLBACK", "RESET ALL": "RESET", "START TRANSACTION": "BEGIN"} {
		if res := mustExec(t, s, q); res.Tag != tag {
			t.Errorf("%s: tag %q, want %q", q, res.Tag, tag)
		}
	}
	if v, _ := s.Setting("application_name"); v != "" {
		t.Errorf("after RESET ALL application_name = %q", v)
	}
}

func TestCopy(t *testing.T) {
	s, st := newTestSession(t)
	mustExec(t, s, "CREATE TABLE c (ts timestamptz NOT NULL, kind text, n int)")
	res := mustExec(t, s, "COPY c (ts, kind, n) FROM STDIN WITH (FORMAT csv, HEADER true)")
	if res.CopyIn == nil || res.CopyColumns != 3 || !res.CopyText {
		t.Fatalf("COPY FROM STDIN result %+v", res)
	}
	in := "ts,kind,n\n2023-10-01 00:00:00+00,view,1\n2023-10-01 00:00:01+00,buy,x\n2023-10-01 00:00:02+00,,3\n"
	stats, err := res.CopyIn(context.Background(), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Rows != 2 || stats.Rejected != 1 || len(stats.FirstErrors) != 1 {
		t.Errorf("stats %+v, want 2 rows and 1 reject", stats)
	}
	got := collect(t, mustExec(t, s, "SELECT kind, n FROM c ORDER BY ts"))
	if want := [][]string{{"view", "1"}, {"NULL", "3"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}

	// COPY from a server file, text format (a lake root).
	path := filepath.Join(t.TempDir(), "in.tsv")
	if err := os.WriteFile(path, []byte("2023-10-01 01:00:00+00\tclick\t7\n2023-10-01 01:00:01+00\t\\N\t\\N\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = mustExec(t, s, "COPY c FROM '"+path+"'")
	if res.Tag != "COPY 2" {
		t.Errorf("tag %q, want COPY 2", res.Tag)
	}
	got = collect(t, mustExec(t, s, "SELECT count(*), count(kind), sum(n) FROM c"))
	if want := [][]string{{"4", "2", "11"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if _, err := s.Prepare(context.Background(), "COPY c TO STDOUT", nil); !codeIs(err, sqlstate.FeatureNotSupported) {
		t.Errorf("COPY TO: %v", err)
	}
	if _, err := s.Prepare(context.Background(), "COPY nope FROM STDIN", nil); !codeIs(err, sqlstate.UndefinedTable) {
		t.Errorf("COPY nope: %v", err)
	}
	if _, err := s.Execute(context.Background(), mustPrepare(t, s, "COPY c FROM '"+filepath.Join(t.TempDir(), "no-such-file")+"'"), nil); !codeIs(err, sqlstate.IOError) {
		t.Errorf("COPY missing file: %v", err)
	}
	_ = st
}

// TestCopyManyBatches loads more rows than four of the decoder's batches, so the
// batches written are handed back and filled again (ingest.Options.Reuse), and
// checks every value: the first batch has NULLs in kind and n, the others none,
// and the text values differ row by row.
func TestCopyManyBatches(t *testing.T) {
	s, _ := newTestSession(t)
	mustExec(t, s, "CREATE TABLE m (ts timestamptz NOT NULL, kind text, n int)")
	const rows = 350_000
	var in strings.Builder
	wantSum, wantKinds := 0, 0
	for i := range rows {
		ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 10 * time.Millisecond).Format("2006-01-02 15:04:05.999999Z07")
		if i < 50_000 && i%3 == 0 {
			fmt.Fprintf(&in, "%s,,\n", ts)
			continue
		}
		fmt.Fprintf(&in, "%s,k%d,%d\n", ts, i, i%1000)
		wantSum += i % 1000
		wantKinds++
	}
	res := mustExec(t, s, "COPY m FROM STDIN (FORMAT csv)")
	stats, err := res.CopyIn(context.Background(), strings.NewReader(in.String()))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Rows != rows || stats.Rejected != 0 {
		t.Fatalf("stats %+v, want %d rows", stats, rows)
	}
	got := collect(t, mustExec(t, s, "SELECT count(*), count(kind), count(DISTINCT kind), count(n), sum(n) FROM m"))
	want := [][]string{{fmt.Sprint(rows), fmt.Sprint(wantKinds), fmt.Sprint(wantKinds), fmt.Sprint(wantKinds), fmt.Sprint(wantSum)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Each row's text names its own row: compare a sample by time.
	got = collect(t, mustExec(t, s, "SELECT kind, n FROM m WHERE ts IN ('2024-01-01 00:00:00+00', '2024-01-01 00:00:00.01+00', '2024-01-01 00:58:19.99+00') ORDER BY ts"))
	if want := [][]string{{"NULL", "NULL"}, {"k1", "1"}, {"k349999", "999"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("sample rows %v, want %v", got, want)
	}
}

func mustPrepare(t *testing.T, s *Session, q string) *Statement {
	t.Helper()
	st, err := s.Prepare(context.Background(), q, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestCompactAfterInserts checks that many single-row INSERTs into one time chunk
// are compacted (see compactThreshold) and that no row is lost or doubled.
func TestCompactAfterInserts(t *testing.T) {
	s, st := newTestSession(t)
	mustExec(t, s, "CREATE TABLE k (ts timestamptz NOT NULL, i int)")
	want := 0
	for i := 1; i <= 20; i++ {
		mustExec(t, s, "INSERT INTO k VALUES ('2023-10-01 00:00:00+00'::timestamptz + "+itoa(i)+" * interval '1 second', "+itoa(i)+")")
		want += i
		sn, err := st.Snapshot("k")
		if err != nil {
			t.Fatal(err)
		}
		n := len(sn.Sources)
		sn.Release()
		if n >= compactThreshold {
			t.Fatalf("after %d inserts the chunk has %d segments, want < %d", i, n, compactThreshold)
		}
	}
	got := collect(t, mustExec(t, s, "SELECT count(*), sum(i) FROM k"))
	if !reflect.DeepEqual(got, [][]string{{"20", itoa(want)}}) {
		t.Errorf("got %v, want 20 rows summing to %d", got, want)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// FuzzPrepare feeds arbitrary text to Split and Prepare: they may fail, but only
// with an *engine.Error, and must never panic.
func FuzzPrepare(f *testing.F) {
	for _, seed := range []string{
		"SELECT 1", "SELECT count(*) FROM ev WHERE ts > now() - interval '5 minutes'",
		"SELECT kind, sum(n) FROM ev GROUP BY 1 HAVING sum(n) > $1 ORDER BY 2 DESC LIMIT 3",
		"INSERT INTO ev VALUES ('2023-01-01', 'a', 1)", "CREATE TABLE x (ts timestamptz NOT NULL)",
		"SELECT CASE WHEN n > 1 THEN 'a' END FROM ev", "SET TimeZone = 'UTC'", "COPY ev FROM STDIN",
		"WITH a AS (SELECT 1 AS x) SELECT x FROM a", "SELECT $1 + $2", "EXPLAIN SELECT * FROM ev", ";;--",
		"SELECT k, c FROM (SELECT kind AS k, count(*) AS c FROM ev GROUP BY 1) s WHERE k = 'a' AND c > 0 ORDER BY c DESC",
		"SELECT DISTINCT kind FROM ev WHERE ts >= '2023-10-01' AND ts < now() ORDER BY kind NULLS FIRST LIMIT 2 OFFSET 1",
		"SELECT count(*) FILTER (WHERE n > 1), sum(n) FROM ev HAVING count(*) > 0",
		"SELECT floor(extract(epoch from ts)/60)*60 AS t, count(*) FROM ev GROUP BY 1 ORDER BY 1",
		"SELECT n FROM ev ORDER BY n * -1, kind LIMIT $1",
	} {
		f.Add(seed)
	}
	st, err := store.Open(f.TempDir(), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	s := Open(st, Options{}).NewSession("strata", "db")
	for _, q := range []string{"CREATE TABLE ev (ts timestamptz NOT NULL, kind text, n int)",
		"INSERT INTO ev VALUES ('2023-10-01 00:00:00+00', 'a', 1), ('2023-10-01 01:00:00+00', NULL, 2), ('2023-10-02 00:00:00+00', 'b', NULL)"} {
		stmt, err := s.Prepare(context.Background(), q, nil)
		if err == nil {
			_, err = s.Execute(context.Background(), stmt, nil)
		}
		if err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, q string) {
		parts, err := Split(q)
		if err != nil {
			return
		}
		for _, p := range parts {
			stmt, err := s.Prepare(context.Background(), p, nil)
			if err != nil {
				var e *engine.Error
				if !errors.As(err, &e) {
					t.Fatalf("Prepare(%q) returned a %T without SQLSTATE: %v", p, err, err)
				}
				continue
			}
			// Run read-only statements (with NULL parameters) to exercise the
			// optimizer rules and the executor on whatever bound.
			if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(p)), "SELECT") {
				continue
			}
			params := make([]engine.Value, len(stmt.ParamTypes))
			for i := range params {
				params[i] = engine.Value{Null: true}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			res, err := s.Execute(ctx, stmt, params)
			if err == nil && res.Rows != nil {
				for {
					rec, err := res.Rows.Next(ctx)
					if err != nil {
						break
					}
					rec.Release()
				}
				res.Rows.Close()
			}
			cancel()
		}
	})
}

// TestConcurrentSessions runs sessions of one DB in parallel: writers append while
// readers run a shared prepared statement. Run with -race.
func TestConcurrentSessions(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db := Open(st, Options{})
	setup := db.NewSession("strata", "db")
	mustExec(t, setup, "CREATE TABLE c (ts timestamptz NOT NULL, w int, i int)")
	reader := db.NewSession("strata", "db")
	shared := mustPrepare(t, reader, "SELECT count(*), sum(i) FROM c WHERE w = $1")

	const writers, rows = 4, 25
	errs := make(chan error, 16)
	done := make(chan struct{})
	for w := 0; w < writers; w++ {
		go func(w int) {
			s := db.NewSession("strata", "db")
			for i := 1; i <= rows; i++ {
				q := "INSERT INTO c VALUES ('2023-10-01 00:00:00+00'::timestamptz + " + itoa(w*rows+i) + " * interval '1 second', " + itoa(w) + ", " + itoa(i) + ")"
				stmt, err := s.Prepare(context.Background(), q, nil)
				if err == nil {
					_, err = s.Execute(context.Background(), stmt, nil)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	go func() {
		defer close(done)
		for k := 0; k < 50; k++ {
			for w := 0; w < writers; w++ {
				s := db.NewSession("strata", "db") // the statement is shared, sessions are not
				res, err := s.Execute(context.Background(), shared, []engine.Value{{Type: engine.Int32, I: int64(w)}})
				if err != nil {
					errs <- err
					return
				}
				if res.Rows != nil {
					res.Rows.Close()
				}
			}
		}
	}()
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	<-done
	select {
	case err := <-errs:
		if err != nil {
			t.Fatal(err)
		}
	default:
	}
	for w := 0; w < writers; w++ {
		res, err := reader.Execute(context.Background(), shared, []engine.Value{{Type: engine.Int32, I: int64(w)}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := collect(t, res), [][]string{{itoa(rows), itoa(rows * (rows + 1) / 2)}}; !reflect.DeepEqual(got, want) {
			t.Errorf("writer %d: %v, want %v", w, got, want)
		}
	}
}

func TestCopyJSON(t *testing.T) {
	s, _ := newTestSession(t)
	mustExec(t, s, "CREATE TABLE j (ts timestamptz NOT NULL, kind text, n bigint)")
	res := mustExec(t, s, "COPY j FROM STDIN (FORMAT json)")
	in := `{"ts":"2023-10-01T00:00:00Z","kind":"a","n":1}
{"ts":"2023-10-01T00:00:01Z","kind":"b"}
not json
{"kind":"no time"}
`
	stats, err := res.CopyIn(context.Background(), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Rows != 2 || stats.Rejected != 2 {
		t.Errorf("stats %+v, want 2 rows, 2 rejected", stats)
	}
	got := collect(t, mustExec(t, s, "SELECT kind, n FROM j ORDER BY ts"))
	if want := [][]string{{"a", "1"}, {"b", "NULL"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
}

func TestErrorPositions(t *testing.T) {
	s, _ := newTestSession(t)
	mustExec(t, s, "CREATE TABLE p (ts timestamptz NOT NULL, a int)")
	cases := []struct {
		q    string
		code string
		pos  int // PostgreSQL's 1-based position
	}{
		{"SELECT nope FROM p", sqlstate.UndefinedColumn, 8},
		{"SELECT a FROM missing", sqlstate.UndefinedTable, 15},
		{"SELECT a, ts FROM p GROUP BY a", sqlstate.GroupingError, 11},
		{"SELECT a FROM p JOIN p q ON true", sqlstate.AmbiguousColumn, 8},
		{"SELECT 1 FROM (p FULL JOIN p q ON p.a = q.a) AS j", sqlstate.FeatureNotSupported, 0}, // an alias on a join
	}
	for _, c := range cases {
		_, err := s.Prepare(context.Background(), c.q, nil)
		var e *engine.Error
		if !errors.As(err, &e) || e.Code != c.code {
			t.Errorf("%q: %v, want %s", c.q, err, c.code)
			continue
		}
		if c.pos != 0 && e.Position != c.pos {
			t.Errorf("%q: position %d, want %d", c.q, e.Position, c.pos)
		}
	}
}

func TestCreateTableDef(t *testing.T) {
	s, st := newTestSession(t)
	mustExec(t, s, `CREATE TABLE d (id bigint, ts timestamptz, "Created" timestamp NOT NULL, v real, name varchar(10))
		WITH (time_column = 'ts', segment_granularity = 'day', persist_rows = 1000, handoff_grace = '5 minutes')`)
	def, ok := st.Table("d")
	if !ok {
		t.Fatal("table d not created")
	}
	if def.Schema.TimeColumn != 1 || !def.Schema.Columns[1].NotNull {
		t.Errorf("time column %d (%+v), want 1 and NOT NULL", def.Schema.TimeColumn, def.Schema.Columns[1])
	}
	if def.Granularity != 24*time.Hour {
		t.Errorf("granularity %v, want 24h", def.Granularity)
	}
	if want := map[string]string{"persist_rows": "1000", "handoff_grace": "5 minutes"}; !reflect.DeepEqual(def.Options, want) {
		t.Errorf("options %v, want %v", def.Options, want)
	}
	gotTypes := []string{}
	for _, c := range def.Schema.Columns {
		gotTypes = append(gotTypes, c.Name+" "+c.SQLType+" "+c.Type.String())
	}
	want := []string{"id bigint int64", "ts timestamptz timestamp", "Created timestamp timestamp", "v real float64", "name varchar string"}
	if !reflect.DeepEqual(gotTypes, want) {
		t.Errorf("columns %v, want %v", gotTypes, want)
	}
	// Without the option, the first NOT NULL timestamp column is the time column.
	mustExec(t, s, "CREATE TABLE d2 (a timestamptz, b timestamp NOT NULL, c timestamptz NOT NULL)")
	if def, _ := st.Table("d2"); def.Schema.TimeColumn != 1 || def.Granularity != time.Hour {
		t.Errorf("d2 time column %d granularity %v, want 1 and 1h", def.Schema.TimeColumn, def.Granularity)
	}
	res := mustExec(t, s, "CREATE TABLE IF NOT EXISTS d2 (x timestamptz NOT NULL)")
	if res.Tag != "CREATE TABLE" || len(res.Notices) != 1 {
		t.Errorf("IF NOT EXISTS on an existing table: %+v", res)
	}
	if res := mustExec(t, s, "DROP TABLE d, d2"); res.Tag != "DROP TABLE" {
		t.Errorf("tag %q", res.Tag)
	}
	if len(st.Tables()) != 0 {
		t.Errorf("tables left: %v", st.Tables())
	}
}

func TestStatementTimeout(t *testing.T) {
	s, _ := newTestSession(t)
	mustExec(t, s, "CREATE TABLE big (ts timestamptz NOT NULL, i int)")
	mustExec(t, s, "INSERT INTO big VALUES ('2023-10-01 00:00:00+00', 1), ('2023-10-01 00:00:01+00', 2)")
	for _, c := range []struct {
		v    string
		want time.Duration
	}{{"0", 0}, {"1500", 1500 * time.Millisecond}, {"2s", 2 * time.Second}, {"1min", time.Minute}, {"250ms", 250 * time.Millisecond}} {
		if got, err := parseTimeout(c.v); err != nil || got != c.want {
			t.Errorf("parseTimeout(%q) = %v, %v; want %v", c.v, got, err, c.want)
		}
	}
	if _, err := s.Prepare(context.Background(), "SET statement_timeout = 'soon'", nil); !codeIs(err, sqlstate.InvalidParameterValue) {
		t.Errorf("bad statement_timeout: %v", err)
	}
	mustExec(t, s, "SET statement_timeout = '1ms'")
	res := mustExec(t, s, "SELECT i FROM big")
	time.Sleep(20 * time.Millisecond)
	var err error
	for err == nil {
		var rec interface{ Release() }
		rec, err = res.Rows.Next(context.Background())
		if err == nil {
			rec.Release()
		}
	}
	res.Rows.Close()
	if !codeIs(err, sqlstate.QueryCanceled) {
		t.Errorf("after the timeout: %v, want 57014", err)
	}
	mustExec(t, s, "SET statement_timeout = 0")
	if got := collect(t, mustExec(t, s, "SELECT count(*) FROM big")); !reflect.DeepEqual(got, [][]string{{"2"}}) {
		t.Errorf("without timeout: %v", got)
	}
}

// TestTableOptionsChecked: every CREATE TABLE option is declared in
// catalog.TableOptions; an unknown option (a typo that used to create a batch
// table quietly) or a value not of the option's kind is 22023 naming the option,
// and no table is created.
func TestTableOptionsChecked(t *testing.T) {
	s, st := newTestSession(t)
	for _, tc := range []struct{ with, option string }{
		{"kafka_topc = 'x'", "kafka_topc"},
		{"comment = 'events'", "comment"},
		{"persist_rows = 0", "persist_rows"},
		{"persist_rows = 'many'", "persist_rows"},
		{"persist_interval = '0 seconds'", "persist_interval"},
		{"handoff_grace = 'soon'", "handoff_grace"},
		{"handoff = 'maybe'", "handoff"},
		{"segment_granularity = 'fortnight'", "segment_granularity"},
		{"rollup = '-1 minute'", "rollup"},
		{"late_message_rejection = 'x'", "late_message_rejection"},
		{"max_record_bytes = -5", "max_record_bytes"},
		{"external = 'true'", "external"},
	} {
		err := execErr(s, "CREATE TABLE o (ts timestamptz NOT NULL) WITH ("+tc.with+")")
		var e *engine.Error
		if !errors.As(err, &e) || e.Code != "22023" || !strings.Contains(e.Message, `"`+tc.option+`"`) {
			t.Errorf("WITH (%s): %v; want 22023 naming %q", tc.with, err, tc.option)
		}
		if _, ok := st.Table("o"); ok {
			t.Fatalf("WITH (%s) created the table", tc.with)
		}
	}
	// The values of each kind that are accepted.
	mustExec(t, s, `CREATE TABLE o (ts timestamptz NOT NULL) WITH (handoff = 'OFF', handoff_grace = '0',
		segment_granularity = 'Day', persist_interval = '1h30m', late_message_rejection = '1 hour', max_record_bytes = 4096)`)
	def, _ := st.Table("o")
	if want := map[string]string{"handoff": "off", "handoff_grace": "0", "persist_interval": "1h30m",
		"late_message_rejection": "1 hour", "max_record_bytes": "4096"}; !reflect.DeepEqual(def.Options, want) || def.Granularity != 24*time.Hour {
		t.Errorf("options %v granularity %v, want %v and 24h", def.Options, def.Granularity, want)
	}
}

// TestGranularitiesDeclared: segment_granularity's declared values are the ones
// the binder has a chunk length for.
func TestGranularitiesDeclared(t *testing.T) {
	if len(catalog.Granularities) != len(granularities) {
		t.Fatalf("declared %v, binder knows %d", catalog.Granularities, len(granularities))
	}
	for _, g := range catalog.Granularities {
		if granularities[g] == 0 {
			t.Errorf("segment_granularity %q has no chunk length", g)
		}
	}
}
