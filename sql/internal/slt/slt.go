// Package slt runs sqllogictest-style files (testdata/*.slt) against any SQL
// front end and, to prove the expected rows, against a private PostgreSQL 15 server.
//
// File format (one record per paragraph, '#' starts a comment line):
//
//	onlyif strata|postgres       (optional, before a record: run it on one side only)
//	skipif strata|postgres
//	statement ok
//	<sql>
//
//	statement error <SQLSTATE>
//	<sql>
//
//	query <types> [rowsort] [colnames]
//	<sql>
//	----
//	<rows: values separated by tabs (or single spaces when no value has one), NULL for NULL, (empty) for ''>
//
// types has one letter per column: I integer, R float/numeric (values compared
// rounded to 6 significant digits), T text (also timestamps, intervals, and every
// other type), B boolean (t/f). The letters are checked against the result's
// column types on each side (TypeLetter); package sql's TestSLT also requires
// strata's column type OIDs to equal PostgreSQL's. rowsort sorts rows before
// comparing; colnames makes the first expected line the result's column names
// (checked too).
//
//	go test ./sql -run TestSLT -rewrite   regenerates the expected rows and type
//	                                      letters from PostgreSQL; a record that
//	                                      PostgreSQL checks is never rewritten
//	                                      from strata (see Rewrite)
package slt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratadb/strata/internal/pgtest"
	"github.com/stratadb/strata/internal/sqlstate"
)

type Record struct {
	comments []string // lines before the record (comments, blank lines kept as "")
	onlyif   string
	skipif   string
	kind     string // "statement" or "query"
	errCode  string // statement error <code>
	types    string
	rowsort  bool
	colnames bool
	sql      string
	Expected [][]string
	line     int
}

// SQL returns the record's statement text.
func (r *Record) SQL() string { return r.sql }

// RunsOn reports whether the record runs on side ("strata" or "postgres").
func (r *Record) RunsOn(side string) bool {
	if r.onlyif != "" && r.onlyif != side {
		return false
	}
	return r.skipif != side
}

func Parse(path string) ([]*Record, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var recs []*Record
	var pending []string
	cur := &Record{}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l)
		switch {
		case t == "" || strings.HasPrefix(t, "#"):
			pending = append(pending, l)
			continue
		case strings.HasPrefix(t, "onlyif "):
			cur.onlyif = strings.TrimSpace(t[len("onlyif "):])
			pending = append(pending, l)
			continue
		case strings.HasPrefix(t, "skipif "):
			cur.skipif = strings.TrimSpace(t[len("skipif "):])
			pending = append(pending, l)
			continue
		}
		f := strings.Fields(t)
		cur.line = i + 1
		cur.comments = pending
		pending = nil
		switch f[0] {
		case "statement":
			cur.kind = "statement"
			if len(f) >= 3 && f[1] == "error" {
				cur.errCode = f[2]
			} else if len(f) < 2 || f[1] != "ok" {
				return nil, nil, fmt.Errorf("%s:%d: bad statement line %q", path, i+1, l)
			}
		case "query":
			cur.kind = "query"
			if len(f) < 2 {
				return nil, nil, fmt.Errorf("%s:%d: query needs types", path, i+1)
			}
			cur.types = f[1]
			for _, o := range f[2:] {
				switch o {
				case "rowsort":
					cur.rowsort = true
				case "colnames":
					cur.colnames = true
				case "nosort":
				default:
					return nil, nil, fmt.Errorf("%s:%d: unknown query option %q", path, i+1, o)
				}
			}
		default:
			return nil, nil, fmt.Errorf("%s:%d: unknown record %q", path, i+1, l)
		}
		var sqlLines []string
		i++
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != "" && strings.TrimSpace(lines[i]) != "----"; i++ {
			sqlLines = append(sqlLines, lines[i])
		}
		cur.sql = strings.Join(sqlLines, "\n")
		if cur.kind == "query" {
			if i >= len(lines) || strings.TrimSpace(lines[i]) != "----" {
				return nil, nil, fmt.Errorf("%s:%d: query without ----", path, cur.line)
			}
			i++
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
				cur.Expected = append(cur.Expected, splitRow(lines[i], len(cur.types)))
			}
		}
		i-- // the loop's i++ lands on the blank line
		recs = append(recs, cur)
		cur = &Record{}
	}
	return recs, pending, nil
}

func splitRow(line string, n int) []string {
	if strings.Contains(line, "\t") {
		return strings.Split(line, "\t")
	}
	if n == 1 {
		return []string{line}
	}
	return strings.Fields(line)
}

func Write(path string, recs []*Record, trailer []string) error {
	var b strings.Builder
	for _, r := range recs {
		for _, c := range r.comments {
			b.WriteString(c)
			b.WriteByte('\n')
		}
		switch {
		case r.kind == "statement" && r.errCode != "":
			fmt.Fprintf(&b, "statement error %s\n%s\n", r.errCode, r.sql)
		case r.kind == "statement":
			fmt.Fprintf(&b, "statement ok\n%s\n", r.sql)
		default:
			b.WriteString("query " + r.types)
			if r.rowsort {
				b.WriteString(" rowsort")
			}
			if r.colnames {
				b.WriteString(" colnames")
			}
			fmt.Fprintf(&b, "\n%s\n----\n", r.sql)
			for _, row := range r.Expected {
				b.WriteString(strings.Join(row, "\t"))
				b.WriteByte('\n')
			}
		}
	}
	for _, c := range trailer {
		b.WriteString(c)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// Runner runs one record's SQL on one side.
type Runner interface {
	// Run executes sql; rows is nil for statements without a result set; oids has
	// the type OID of each result column. The error's SQLSTATE is returned
	// separately ("" on success).
	Run(ctx context.Context, sql string) (names []string, oids []uint32, rows [][]string, code string, err error)
}

// TypeLetter is the .slt letter of a column of PostgreSQL type oid.
func TypeLetter(oid uint32) byte {
	switch oid {
	case 20, 21, 23, 26: // int8, int2, int4, oid
		return 'I'
	case 700, 701, 1700: // float4, float8, numeric
		return 'R'
	case 16: // bool
		return 'B'
	}
	return 'T'
}

// Letters is TypeLetter of each oid.
func Letters(oids []uint32) string {
	b := make([]byte, len(oids))
	for i, o := range oids {
		b[i] = TypeLetter(o)
	}
	return string(b)
}

// Result is what one query record produced on one side.
type Result struct {
	Rows [][]string // displayed (see display); the names first when colnames
	OIDs []uint32
}

// PGRunner runs SQL on a real PostgreSQL over the simple query protocol (text results).
type PGRunner struct{ Conn *pgconn.PgConn }

func (r *PGRunner) Run(ctx context.Context, query string) ([]string, []uint32, [][]string, string, error) {
	mrr := r.Conn.Exec(ctx, query)
	var rows [][]string
	var names []string
	var oids []uint32
	var firstErr error
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		fds := rr.FieldDescriptions()
		rows, names, oids = nil, nil, nil
		for _, fd := range fds {
			names = append(names, fd.Name)
			oids = append(oids, fd.DataTypeOID)
		}
		for rr.NextRow() {
			vals := rr.Values()
			row := make([]string, len(vals))
			for j, v := range vals {
				if v == nil {
					row[j] = "NULL"
				} else {
					row[j] = string(v)
				}
			}
			rows = append(rows, row)
		}
		if _, err := rr.Close(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if err := mrr.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		return nil, nil, nil, pgCode(firstErr), firstErr
	}
	return names, oids, rows, "", nil
}

// display turns a raw value into its file form.
func display(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, row := range rows {
		out[i] = make([]string, len(row))
		for j, v := range row {
			if v == "" {
				v = "(empty)"
			}
			out[i][j] = v
		}
	}
	return out
}

// normalize prepares displayed rows for comparison: R values rounded to 6
// significant digits, rows sorted when rowsort.
func normalize(rows [][]string, types string, rowsort, colnames bool) []string {
	var head []string
	if colnames && len(rows) > 0 {
		head = []string{strings.Join(rows[0], "\t")}
		rows = rows[1:]
	}
	out := make([]string, len(rows))
	for i, row := range rows {
		vals := make([]string, len(row))
		for j, v := range row {
			if j < len(types) && types[j] == 'R' && v != "NULL" {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					if f == 0 || math.Abs(f) < 1e-12 {
						f = 0 // -0 and 0 agree
					}
					v = strconv.FormatFloat(f, 'g', 6, 64)
				}
			}
			vals[j] = v
		}
		out[i] = strings.Join(vals, "\t")
	}
	if rowsort {
		sort.Strings(out)
	}
	return append(head, out...)
}

func sortedRows(rows [][]string) [][]string {
	sort.SliceStable(rows, func(a, b int) bool { return strings.Join(rows[a], "\t") < strings.Join(rows[b], "\t") })
	return rows
}

// RunFile runs every record of recs on one side; it returns what each query
// produced (indexed like recs), for -rewrite and for comparing the sides' types.
// A query's column types must have the record's letters (unless rewriting).
func RunFile(t *testing.T, side string, r Runner, path string, recs []*Record, rewrite bool) map[int]Result {
	t.Helper()
	ctx := context.Background()
	got := map[int]Result{}
	for i, rec := range recs {
		if !rec.RunsOn(side) {
			continue
		}
		where := fmt.Sprintf("%s:%d (%s)", filepath.Base(path), rec.line, side)
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		names, oids, rows, code, err := r.Run(qctx, rec.sql)
		ncols := len(names)
		cancel()
		switch {
		case rec.kind == "statement" && rec.errCode != "":
			if err == nil {
				t.Errorf("%s: expected error %s, statement succeeded\n%s", where, rec.errCode, rec.sql)
			} else if code != rec.errCode {
				t.Errorf("%s: expected error %s, got %s: %v\n%s", where, rec.errCode, code, err, rec.sql)
			}
		case rec.kind == "statement":
			if err != nil {
				t.Errorf("%s: statement failed (%s): %v\n%s", where, code, err, rec.sql)
			}
		default:
			if err != nil {
				t.Errorf("%s: query failed (%s): %v\n%s", where, code, err, rec.sql)
				continue
			}
			if ncols != len(rec.types) {
				t.Errorf("%s: query returned %d columns, types say %d\n%s", where, ncols, len(rec.types), rec.sql)
			}
			disp := display(rows)
			if rec.rowsort {
				disp = sortedRows(disp)
			}
			if rec.colnames {
				disp = append([][]string{names}, disp...)
			}
			got[i] = Result{Rows: disp, OIDs: oids}
			if rewrite {
				continue
			}
			if letters := Letters(oids); len(oids) == len(rec.types) && letters != rec.types {
				t.Errorf("%s: column types %s (OIDs %v), the record says %s\n%s", where, letters, oids, rec.types, rec.sql)
			}
			want := normalize(rec.Expected, rec.types, rec.rowsort, rec.colnames)
			have := normalize(disp, rec.types, rec.rowsort, rec.colnames)
			if strings.Join(want, "\n") != strings.Join(have, "\n") {
				t.Errorf("%s: wrong rows\n%s\n--- want\n%s\n--- got\n%s", where, rec.sql, strings.Join(want, "\n"), strings.Join(have, "\n"))
			}
		}
	}
	return got
}

// Where names a record for messages: file:line.
func (r *Record) Where(path string) string { return fmt.Sprintf("%s:%d", filepath.Base(path), r.line) }

// Rewrite sets each query record's expected rows and type letters from what
// PostgreSQL produced (pg) or, for a record PostgreSQL does not check (onlyif
// strata / skipif postgres), from strata (strata). It refuses — returning an
// error naming the records and changing nothing — when a record PostgreSQL
// checks has no PostgreSQL result: expected rows that PostgreSQL is meant to
// prove are never regenerated from strata itself.
func Rewrite(path string, recs []*Record, pg, strata map[int]Result) error {
	var refused []string
	for i, rec := range recs {
		if rec.kind != "query" {
			continue
		}
		if _, ok := pg[i]; rec.RunsOn("postgres") && !ok {
			refused = append(refused, rec.Where(path))
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("refusing to rewrite %d records PostgreSQL checks without a PostgreSQL result (is PostgreSQL 15 installed? did the query fail there?): %s",
			len(refused), strings.Join(refused[:min(10, len(refused))], ", "))
	}
	for i, rec := range recs {
		res, ok := pg[i]
		if !ok {
			res, ok = strata[i]
		}
		if ok {
			rec.Expected = res.Rows
			rec.types = Letters(res.OIDs)
		}
	}
	return nil
}

// Server is a private PostgreSQL 15 on loopback (internal/pgtest), started for the
// test run.
type Server struct{ pg *pgtest.Server }

// StartPG starts the server whenever PostgreSQL 15's server programs are
// installed. When they are missing it fails the test under CI=true and otherwise
// returns nil after logging, loudly, that the PostgreSQL proof did not run.
func StartPG(t *testing.T) *Server {
	t.Helper()
	if !pgtest.Installed() {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the PostgreSQL 15 server is not installed in %s: the .slt files cannot be proven (%s)", pgtest.BinDir, pgtest.Install)
		}
		t.Logf("WARNING: PostgreSQL 15 server not found in %s: the expected rows are NOT being proven against PostgreSQL; install it with %s", pgtest.BinDir, pgtest.Install)
		return nil
	}
	return &Server{pg: pgtest.Start(t)}
}

func (s *Server) connect(t *testing.T, db string) *pgconn.PgConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable timezone=UTC", s.pg.Port, db))
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	return conn
}

// database creates a fresh database and returns a connection to it.
func (s *Server) Database(t *testing.T, name string) *pgconn.PgConn {
	t.Helper()
	admin := s.connect(t, "postgres")
	defer admin.Close(context.Background())
	ctx := context.Background()
	for _, q := range []string{fmt.Sprintf("DROP DATABASE IF EXISTS %q", name), fmt.Sprintf("CREATE DATABASE %q", name)} {
		if _, err := admin.Exec(ctx, q).ReadAll(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return s.connect(t, name)
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return sqlstate.InternalError
}
