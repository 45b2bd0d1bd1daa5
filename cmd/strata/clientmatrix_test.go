package main

// The client matrix (issue 5): real PostgreSQL client libraries of other languages
// — psycopg2, node-postgres, PgJDBC — and lib/pq, pgx and psql run the same listing
// and analytic queries against `strata serve`, and their answers are checked against
// values computed here in Go from the generated events. The matrix runs twice (issue
// 9): on loopback as the built-in rules trust it, and with an hba file that allows
// only hostssl + scram-sha-256, each client verifying the server's certificate
// against a test CA (sslmode=verify-full) and giving the superuser's password. The clients' programs live in
// testdata/clients; testdata/clients/install.sh installs what they need on Debian.
// Each client talks to strata through a logging proxy (wireProxy) that records the SQL
// it sent and the errors strata answered, so that a failure names the exact statement
// (the whole log is printed on failure, or always with STRATA_WIRE_LOG=1).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/lib/pq"

	"github.com/stratadb/strata/bench"

	"github.com/stratadb/strata/internal/testpki"
)

const (
	matrixEvents  = 4000
	clientInstall = "bash cmd/strata/testdata/clients/install.sh"
)

// matrixSince is the bound of the timestamptz-parameter query.
var matrixSince = time.Date(2026, 11, 4, 6, 30, 0, 0, time.UTC)

// matrixParam is a bound parameter: typ is "text" or "timestamptz".
type matrixParam struct{ typ, val string }

// matrixQuery is one step every client runs; sql uses $n placeholders (rewritten to
// the client's style). want holds the expected rows as text; a cell matches when it
// is equal or both are numbers within 1e-9 relative (closeNumbers).
type matrixQuery struct {
	name     string
	sql      string
	params   []matrixParam
	wantCols []string
	want     [][]string
	hint     string // printed with a wrong answer
}

// matrixData is the generated load and what the queries must answer over it.
type matrixData struct {
	csv     []byte
	queries []matrixQuery
	columns []string // the table's columns in order
}

// newMatrixData generates the events and computes every expected answer with plain
// loops over them.
func newMatrixData() *matrixData {
	gen := bench.NewGenerator(7, bench.DefaultStart, bench.DefaultEnd, 1500, 400)
	var (
		buf      []byte
		e        bench.Event
		byEvent  = map[string]int{}
		revenue  float64
		country  string
		users    = map[string]bool{}
		cartN    int
		cartQty  int64
		sinceN   int
		sinceCut = matrixSince.UnixMicro()
	)
	for i := 0; i < matrixEvents; i++ {
		gen.Next(&e)
		buf = bench.AppendEventCSV(buf, &e)
		buf = append(buf, '\n')
		byEvent[e.Event]++
		if e.Event == "purchase" {
			revenue += e.Price * float64(e.Quantity)
		}
		if i == 0 {
			country = e.Country
		}
		if e.Country == country {
			users[e.UserID] = true
		}
		if e.Event == "cart" {
			cartN++
			cartQty += e.Quantity
		}
		if e.Time >= sinceCut {
			sinceN++
		}
	}
	var events [][]string
	for ev, n := range byEvent {
		events = append(events, []string{ev, strconv.Itoa(n)})
	}
	sort.Slice(events, func(i, j int) bool { return events[i][0] < events[j][0] })

	d := &matrixData{csv: buf}
	var schemaRows [][]string
	dataType := map[string]string{"timestamptz": "timestamp with time zone", "text": "text", "double precision": "double precision", "integer": "integer"}
	for _, c := range bench.EventSchema().Columns {
		d.columns = append(d.columns, c.Name)
		dt, ok := dataType[c.SQLType]
		if !ok {
			panic("BUG: clientmatrix: no information_schema spelling for " + c.SQLType)
		}
		schemaRows = append(schemaRows, []string{c.Name, dt})
	}
	d.queries = []matrixQuery{
		{name: "tables", sql: "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
			wantCols: []string{"table_name"}, want: [][]string{{"products"}, {"user_behavior"}}},
		{name: "columns", sql: "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'user_behavior' ORDER BY ordinal_position",
			wantCols: []string{"column_name", "data_type"}, want: schemaRows},
		{name: "select_star", sql: "SELECT * FROM user_behavior WHERE false", wantCols: d.columns, want: nil},
		{name: "count_by_event", sql: "SELECT event, count(*) AS n FROM user_behavior GROUP BY event ORDER BY event",
			wantCols: []string{"event", "n"}, want: events},
		{name: "purchase_revenue", sql: "SELECT sum(price * quantity) AS revenue FROM user_behavior WHERE event = 'purchase'",
			wantCols: []string{"revenue"}, want: [][]string{{strconv.FormatFloat(revenue, 'g', -1, 64)}}},
		{name: "distinct_users", sql: "SELECT count(DISTINCT user_id) AS users FROM user_behavior WHERE country = '" + country + "'",
			wantCols: []string{"users"}, want: [][]string{{strconv.Itoa(len(users))}}},
		{name: "param_event", sql: "SELECT count(*) AS n, sum(quantity) AS qty FROM user_behavior WHERE event = $1",
			params: []matrixParam{{"text", "cart"}}, wantCols: []string{"n", "qty"},
			want: [][]string{{strconv.Itoa(cartN), strconv.FormatInt(cartQty, 10)}}},
		{name: "param_since", sql: `SELECT count(*) AS n FROM user_behavior WHERE "timestamp" >= $1`,
			params:   []matrixParam{{"timestamptz", matrixSince.Format(time.RFC3339)}},
			wantCols: []string{"n"}, want: [][]string{{strconv.Itoa(sinceN)}}},
	}
	return d
}

var placeholder = regexp.MustCompile(`\$[0-9]+`)

// specLines renders the queries as the client programs read them: one line each,
// NAME<TAB>SQL<TAB>TYPE:VALUE..., with $n replaced by ph ("" keeps $n).
func specLines(qs []matrixQuery, ph string) string {
	var b strings.Builder
	for _, q := range qs {
		s := q.sql
		if ph != "" {
			s = placeholder.ReplaceAllString(s, ph)
		}
		b.WriteString(q.name + "\t" + s)
		for _, p := range q.params {
			b.WriteString("\t" + p.typ + ":" + p.val)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// clientOutput is what a client program prints (and what the lib/pq runner builds).
type clientOutput struct {
	Driver       string                `json:"driver"`
	ConnectError string                `json:"connect_error"`
	Steps        map[string]stepOutput `json:"steps"`
}

type stepOutput struct {
	Columns  []string    `json:"columns"`
	Rows     [][]*string `json:"rows"`
	Error    string      `json:"error"`
	SQLState string      `json:"sqlstate"`
}

// matrixClient is one client library of the matrix.
type matrixClient struct {
	name string
	// missing says why the client cannot run here ("" when it can).
	missing func() string
	install string
	// run runs the client against addr, connecting as cn says, and returns its
	// output; steps it adds beyond the queries are checked by extra.
	run   func(t *testing.T, addr string, d *matrixData, cn matrixConn) clientOutput
	extra func(t *testing.T, out clientOutput, d *matrixData)
	// variants and paramVariants name the extra copies the client runs of the
	// parameterless and of the parameterized steps ("NAME/extended").
	variants, paramVariants []string
}

// matrixConn is how the clients of one run of the matrix connect, always as strata.
type matrixConn struct {
	sslmode  string // libpq's: disable or verify-full
	rootCert string // the CA's PEM file (verify-full)
	password string // "" for none
}

// env is what the client programs read (MATRIX_SSLMODE, MATRIX_SSLROOTCERT, MATRIX_PASSWORD).
func (cn matrixConn) env() []string {
	env := []string{"MATRIX_SSLMODE=" + cn.sslmode}
	if cn.rootCert != "" {
		env = append(env, "MATRIX_SSLROOTCERT="+cn.rootCert)
	}
	if cn.password != "" {
		env = append(env, "MATRIX_PASSWORD="+cn.password)
	}
	return env
}

// url is a postgres:// URL for addr (pgx and lib/pq read the same parameters).
func (cn matrixConn) url(addr string) string {
	u := url.URL{Scheme: "postgres", Host: addr, Path: "/strata", User: url.User("strata")}
	if cn.password != "" {
		u.User = url.UserPassword("strata", cn.password)
	}
	q := url.Values{"sslmode": {cn.sslmode}, "connect_timeout": {"10"}}
	if cn.rootCert != "" {
		q.Set("sslrootcert", cn.rootCert)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// matrixMode is one run of the whole matrix: how strata is started and how the
// clients connect.
type matrixMode struct {
	name  string
	serve func(t *testing.T) ([]string, matrixConn) // extra `strata serve` flags
}

var matrixModes = []matrixMode{
	{name: "loopback", serve: func(t *testing.T) ([]string, matrixConn) {
		return nil, matrixConn{sslmode: "disable"}
	}},
	{name: "tls-scram", serve: func(t *testing.T) ([]string, matrixConn) {
		pki := testpki.New(t)
		const pw = "matrix-pw"
		return []string{"--hba-file", writeFile(t, "pg_hba.conf", "hostssl all all 127.0.0.1/32 scram-sha-256\n"),
				"--password-file", writeFile(t, "pw", pw+"\n"), "--tls-cert", pki.CertFile, "--tls-key", pki.KeyFile},
			matrixConn{sslmode: "verify-full", rootCert: pki.CAFile, password: pw}
	}},
}

// TestClientMatrix runs each client library against its own `strata serve` loaded
// with the same events (see the file comment), once per matrixModes entry. A client
// that is not installed fails the subtest under CI=true and skips it otherwise,
// naming the install command.
func TestClientMatrix(t *testing.T) {
	d := newMatrixData()
	clients := []matrixClient{
		{name: "psycopg2", missing: missingPsycopg2, install: "apt-get install -y python3-psycopg2", run: runPsycopg2},
		{name: "node-postgres", missing: missingNodePG, install: "apt-get install -y nodejs npm && npm install --prefix " + nodeCacheDir() + " pg@8.23.1",
			run: runNodePG, variants: []string{"/extended"}, paramVariants: []string{"/named-first", "/named"}},
		{name: "jdbc", missing: missingJDBC, install: "apt-get install -y libpostgresql-jdbc-java default-jdk-headless", run: runJDBC, extra: checkJDBCMetadata,
			paramVariants: []string{"/prepared6"}},
		{name: "lib-pq", missing: func() string { return "" }, run: runLibPQ,
			variants: []string{"/prepared"}, paramVariants: []string{"/prepared"}},
		{name: "pgx", missing: func() string { return "" }, run: runPgx, variants: []string{"/simple"}, paramVariants: []string{"/simple"}},
		{name: "psql", missing: missingPsql, install: "apt-get install -y postgresql-client", run: runPsql},
		{name: "sqlalchemy", missing: missingSQLAlchemy, install: "apt-get install -y python3-sqlalchemy python3-psycopg2",
			run: runSQLAlchemy, extra: checkSQLAlchemyInspector},
	}
	for _, mode := range matrixModes {
		for _, c := range clients {
			t.Run(mode.name+"/"+c.name, func(t *testing.T) {
				if why := c.missing(); why != "" {
					msg := fmt.Sprintf("%s: %s; install with %s (all clients: %s)", c.name, why, c.install, clientInstall)
					if os.Getenv("CI") == "true" {
						t.Fatal(msg)
					}
					t.Skip(msg)
				}
				flags, cn := mode.serve(t)
				s := startStrataOn(t, filepath.Join(t.TempDir(), "data"), freeAddr(t), flags...)
				loadMatrix(t, cn.url(s.addr), d)
				proxy := startWireProxy(t, s.addr)
				out := c.run(t, proxy.addr(), d, cn)
				t.Logf("%s: %d steps", out.Driver, len(out.Steps))
				if out.ConnectError != "" {
					t.Errorf("%s could not connect: %s", c.name, out.ConnectError)
				}
				for _, q := range d.queries {
					names := []string{q.name}
					variants := c.variants
					if len(q.params) > 0 {
						variants = c.paramVariants
					}
					for _, v := range variants {
						names = append(names, q.name+v)
					}
					for _, name := range names {
						checkStep(t, c.name, name, q, out.Steps)
					}
				}
				if c.extra != nil {
					c.extra(t, out, d)
				}
				if cn.sslmode != "disable" {
					// Every connection the client made started with SSLRequest: the
					// proxy read no statement in the clear.
					for _, l := range proxy.log() {
						if !strings.Contains(l, "SSLRequest") {
							t.Errorf("%s sent something in the clear: %s", c.name, l)
						}
					}
					if len(proxy.log()) == 0 {
						t.Errorf("%s made no connection through the proxy", c.name)
					}
				}
				if errs := proxy.serverErrors(); len(errs) > 0 {
					t.Logf("errors strata answered %s with (and the statement each followed):\n%s", c.name, strings.Join(errs, "\n"))
				}
				if t.Failed() || os.Getenv("STRATA_WIRE_LOG") != "" {
					t.Logf("%s wire log (frontend statements, backend errors):\n%s", c.name, strings.Join(proxy.log(), "\n"))
				}
			})
		}
	}
}

// checkStep reports whether the client's step answered q's expected rows.
func checkStep(t *testing.T, client, name string, q matrixQuery, steps map[string]stepOutput) bool {
	t.Helper()
	st, ok := steps[name]
	switch {
	case !ok:
		t.Errorf("%s: step %s did not run", client, name)
		return false
	case st.Error != "":
		t.Errorf("%s: step %s: strata refused %q: %s (SQLSTATE %s)", client, name, q.sql, st.Error, st.SQLState)
		return false
	}
	if !equalStrings(st.Columns, q.wantCols) {
		t.Errorf("%s: step %s (%s): columns %q, want %q", client, name, q.sql, st.Columns, q.wantCols)
		return false
	}
	if !sameCells(st.Rows, q.want) {
		t.Errorf("%s: step %s (%s): rows\n%s\nwant\n%s%s", client, name, q.sql, showRows(st.Rows), showWant(q.want), q.hint)
		return false
	}
	return true
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameCells(got [][]*string, want [][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for j, g := range got[i] {
			if g == nil || (*g != want[i][j] && !closeNumbers(*g, want[i][j])) {
				return false
			}
		}
	}
	return true
}

func showRows(rows [][]*string) string {
	var b strings.Builder
	for _, r := range rows {
		for j, c := range r {
			if j > 0 {
				b.WriteByte('|')
			}
			if c == nil {
				b.WriteString("NULL")
			} else {
				b.WriteString(*c)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func showWant(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, "|") + "\n")
	}
	return b.String()
}

// matrixLookupTable is a lookup table (no time column) with a primary key and
// unique constraints of one column and of two (whose key order is not the
// columns' order), and columns with type modifiers, for the clients' metadata
// calls.
const matrixLookupTable = `CREATE TABLE products (product_id text PRIMARY KEY, name text NOT NULL, sku varchar(32) UNIQUE,
	price numeric(10,2), UNIQUE (sku, name))`

// loadMatrix creates user_behavior and products through the connection URL dsn and COPYs the
// events in through pgx.
func loadMatrix(t *testing.T, dsn string, d *matrixData) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, bench.CreateTableSQL); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := conn.Exec(ctx, matrixLookupTable); err != nil {
		t.Fatalf("create table: %v", err)
	}
	tag, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(d.csv), "COPY user_behavior FROM STDIN WITH (FORMAT csv)")
	if err != nil {
		t.Fatalf("COPY: %v", err)
	}
	if tag.RowsAffected() != matrixEvents {
		t.Fatalf("COPY loaded %d rows, want %d", tag.RowsAffected(), matrixEvents)
	}
}

// runProgram runs a client program with the spec on stdin and decodes its JSON.
func runProgram(t *testing.T, spec string, env []string, name string, args ...string) clientOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(spec)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s ran in %v", filepath.Base(name), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", name, args, err, stdout.String(), stderr.String())
	}
	var out clientOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("%s: output is not JSON: %v\nstdout:\n%s\nstderr:\n%s", name, err, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", filepath.Base(name), stderr.String())
	}
	return out
}

func clientsDir(t *testing.T) string {
	dir, err := filepath.Abs(filepath.Join("testdata", "clients"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func hostPort(addr string) (string, string) {
	h, p, _ := net.SplitHostPort(addr)
	return h, p
}

// --- psycopg2 ---

// debianPython is the interpreter Debian's python3-psycopg2 belongs to (a python3
// earlier on PATH may be another installation without it).
const debianPython = "/usr/bin/python3"

func missingPsycopg2() string {
	if _, err := os.Stat(debianPython); err != nil {
		return debianPython + " not found"
	}
	if out, err := exec.Command(debianPython, "-c", "import psycopg2").CombinedOutput(); err != nil {
		return "import psycopg2 failed: " + strings.TrimSpace(string(out))
	}
	return ""
}

func runPsycopg2(t *testing.T, addr string, d *matrixData, cn matrixConn) clientOutput {
	h, p := hostPort(addr)
	return runProgram(t, specLines(d.queries, "%s"), cn.env(), debianPython, filepath.Join(clientsDir(t), "psycopg2_client.py"), h, p)
}

// --- SQLAlchemy ---

func missingSQLAlchemy() string {
	if why := missingPsycopg2(); why != "" {
		return why
	}
	if out, err := exec.Command(debianPython, "-c", "import sqlalchemy").CombinedOutput(); err != nil {
		return "import sqlalchemy failed: " + strings.TrimSpace(string(out))
	}
	return ""
}

func runSQLAlchemy(t *testing.T, addr string, d *matrixData, cn matrixConn) clientOutput {
	h, p := hostPort(addr)
	return runProgram(t, specLines(d.queries, "%s"), cn.env(), debianPython, filepath.Join(clientsDir(t), "sqlalchemy_client.py"), h, p)
}

// checkSQLAlchemyInspector checks what SQLAlchemy's Inspector (PostgreSQL dialect,
// as Superset uses it) reads from the catalog: the tables, their columns with
// SQLAlchemy's types and nullability, the lookup table's primary key and unique
// indexes and unique constraints (PostgreSQL's names for them, checked against
// PostgreSQL 15 when written), no foreign keys, no index on user_behavior.
func checkSQLAlchemyInspector(t *testing.T, out clientOutput, d *matrixData) {
	t.Helper()
	saType := map[string]string{"timestamptz": "TIMESTAMP", "text": "TEXT", "double precision": "DOUBLE_PRECISION", "integer": "INTEGER"} // str() of SQLAlchemy 1.4's types
	var cols [][]string
	for _, c := range bench.EventSchema().Columns {
		nullable := map[bool]string{true: "True", false: "False"}[!c.NotNull]
		cols = append(cols, []string{c.Name, saType[c.SQLType], nullable, "None"})
	}
	colsCols := []string{"name", "type", "nullable", "default"}
	pkCols := []string{"name", "constrained_columns"}
	fkCols := []string{"name", "constrained_columns", "referred_table"}
	ixCols := []string{"name", "column_names", "unique", "duplicates_constraint"}
	uqCols := []string{"name", "column_names"}
	for _, q := range []matrixQuery{
		{name: "sa_tables", sql: "Inspector.get_table_names()", wantCols: []string{"name"}, want: [][]string{{"products"}, {"user_behavior"}}},
		{name: "sa_columns/user_behavior", sql: "Inspector.get_columns('user_behavior')", wantCols: colsCols, want: cols},
		{name: "sa_columns/products", sql: "Inspector.get_columns('products')", wantCols: colsCols,
			want: [][]string{{"product_id", "TEXT", "False", "None"}, {"name", "TEXT", "False", "None"}, {"sku", "VARCHAR(32)", "True", "None"},
				{"price", "NUMERIC(10, 2)", "True", "None"}}},
		{name: "sa_pk/user_behavior", sql: "Inspector.get_pk_constraint('user_behavior')", wantCols: pkCols, want: [][]string{{"None", ""}}},
		{name: "sa_pk/products", sql: "Inspector.get_pk_constraint('products')", wantCols: pkCols, want: [][]string{{"products_pkey", "product_id"}}},
		{name: "sa_fks/user_behavior", sql: "Inspector.get_foreign_keys('user_behavior')", wantCols: fkCols},
		{name: "sa_fks/products", sql: "Inspector.get_foreign_keys('products')", wantCols: fkCols},
		{name: "sa_indexes/user_behavior", sql: "Inspector.get_indexes('user_behavior')", wantCols: ixCols},
		{name: "sa_indexes/products", sql: "Inspector.get_indexes('products')", wantCols: ixCols,
			want: [][]string{{"products_sku_key", "sku", "True", "products_sku_key"}, {"products_sku_name_key", "sku,name", "True", "products_sku_name_key"}}},
		{name: "sa_uniques/user_behavior", sql: "Inspector.get_unique_constraints('user_behavior')", wantCols: uqCols},
		{name: "sa_uniques/products", sql: "Inspector.get_unique_constraints('products')", wantCols: uqCols,
			want: [][]string{{"products_sku_key", "sku"}, {"products_sku_name_key", "sku,name"}}},
	} {
		checkStep(t, "sqlalchemy", q.name, q, out.Steps)
	}
}

// --- node-postgres ---

func nodeCacheDir() string {
	base := os.Getenv("STRATA_TEST_CACHE")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache", "strata-test")
	}
	return filepath.Join(base, "node")
}

func missingNodePG() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node not found"
	}
	if _, err := os.Stat(filepath.Join(nodeCacheDir(), "node_modules", "pg", "package.json")); err != nil {
		return "npm module pg not in " + nodeCacheDir()
	}
	return ""
}

func runNodePG(t *testing.T, addr string, d *matrixData, cn matrixConn) clientOutput {
	h, p := hostPort(addr)
	env := append(cn.env(), "NODE_PATH="+filepath.Join(nodeCacheDir(), "node_modules"))
	return runProgram(t, specLines(d.queries, ""), env, "node", filepath.Join(clientsDir(t), "node_client.js"), h, p)
}

// --- PgJDBC ---

const jdbcJar = "/usr/share/java/postgresql.jar"

func missingJDBC() string {
	if _, err := os.Stat(jdbcJar); err != nil {
		return jdbcJar + " not found"
	}
	for _, p := range []string{"javac", "java"} {
		if _, err := exec.LookPath(p); err != nil {
			return p + " not found"
		}
	}
	return ""
}

func runJDBC(t *testing.T, addr string, d *matrixData, cn matrixConn) clientOutput {
	classes := t.TempDir()
	start := time.Now()
	if out, err := exec.Command("javac", "-d", classes, filepath.Join(clientsDir(t), "JdbcClient.java")).CombinedOutput(); err != nil {
		t.Fatalf("javac JdbcClient.java: %v\n%s", err, out)
	}
	t.Logf("javac took %v", time.Since(start).Round(time.Millisecond))
	h, p := hostPort(addr)
	return runProgram(t, specLines(d.queries, "?"), cn.env(), "java", "-cp", jdbcJar+string(os.PathListSeparator)+classes, "JdbcClient", h, p)
}

// checkJDBCMetadata checks DatabaseMetaData.getTables, getColumns, getSchemas, and
// the methods that read keys, types, functions and privileges. The expected rows
// of the latter are what PgJDBC 42.5.5 answers against PostgreSQL 15 for the same
// tables (getTypeInfo: the rows of the types strata has, as PostgreSQL lists them;
// getFunctions: strpos, which both have once).
func checkJDBCMetadata(t *testing.T, out clientOutput, d *matrixData) {
	t.Helper()
	typeName := map[string]string{"timestamptz": "timestamptz", "text": "text", "double precision": "float8", "integer": "int4"}
	var cols [][]string
	for i, c := range bench.EventSchema().Columns {
		cols = append(cols, []string{c.Name, typeName[c.SQLType], strconv.Itoa(i + 1)})
	}
	for _, q := range []matrixQuery{
		{name: "jdbc_getTables", sql: "DatabaseMetaData.getTables(null, null, \"%\", {\"TABLE\"})",
			wantCols: []string{"TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE"}, want: [][]string{{"public", "products", "TABLE"}, {"public", "user_behavior", "TABLE"}}},
		{name: "jdbc_getColumns", sql: "DatabaseMetaData.getColumns(null, \"public\", \"user_behavior\", \"%\")",
			wantCols: []string{"COLUMN_NAME", "TYPE_NAME", "ORDINAL_POSITION"}, want: cols},
		{name: "jdbc_getSchemas", sql: "DatabaseMetaData.getSchemas()",
			wantCols: []string{"table_schem"}, want: [][]string{{"information_schema"}, {"pg_catalog"}, {"public"}}},
		// java.sql.ResultSetMetaData: columnNoNulls = 0, columnNullable = 1 ("timestamp"
		// is NOT NULL in bench.CreateTableSQL).
		{name: "jdbc_isNullable", sql: "ResultSetMetaData.isNullable of SELECT \"timestamp\", user_id FROM user_behavior LIMIT 1",
			wantCols: []string{"column", "isNullable"}, want: [][]string{{"timestamp", "0"}, {"user_id", "1"}},
			hint: "PgJDBC answers columnNullableUnknown (2) without asking the server when the RowDescription " +
				"gives table OID 0 and attribute number 0; PostgreSQL fills both for a plain column (see the wire log)"},
	} {
		checkStep(t, "jdbc", q.name, q, out.Steps)
	}
	privs := func(col string) [][]string {
		var rows [][]string
		for _, p := range []string{"DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"} {
			rows = append(rows, []string{col, "strata", p})
		}
		return rows
	}
	for _, q := range []matrixQuery{
		{name: "jdbc_getPrimaryKeys", sql: "getPrimaryKeys(null, \"public\", \"products\")",
			wantCols: []string{"table_name", "column_name", "key_seq", "pk_name"}, want: [][]string{{"products", "product_id", "1", "products_pkey"}}},
		{name: "jdbc_getColumns_products", sql: "getColumns(null, \"public\", \"products\", \"%\")",
			wantCols: []string{"COLUMN_NAME", "TYPE_NAME", "COLUMN_SIZE", "DECIMAL_DIGITS"},
			want: [][]string{{"product_id", "text", "2147483647", "0"}, {"name", "text", "2147483647", "0"}, {"sku", "varchar", "32", "0"},
				{"price", "numeric", "10", "2"}}},
		{name: "jdbc_getIndexInfo", sql: "getIndexInfo(null, \"public\", \"products\", false, false)",
			wantCols: []string{"TABLE_NAME", "NON_UNIQUE", "INDEX_NAME", "ORDINAL_POSITION", "COLUMN_NAME"},
			want: [][]string{{"products", "f", "products_pkey", "1", "product_id"}, {"products", "f", "products_sku_key", "1", "sku"},
				{"products", "f", "products_sku_name_key", "1", "sku"}, {"products", "f", "products_sku_name_key", "2", "name"}}},
		{name: "jdbc_getImportedKeys", sql: "getImportedKeys(null, \"public\", \"products\")", wantCols: []string{"pktable_name", "fktable_name", "fk_name"}},
		{name: "jdbc_getExportedKeys", sql: "getExportedKeys(null, \"public\", \"products\")", wantCols: []string{"pktable_name", "fktable_name", "fk_name"}},
		{name: "jdbc_getTypeInfo", sql: "getTypeInfo()", wantCols: []string{"TYPE_NAME", "DATA_TYPE"},
			want: [][]string{{"bool", "-7"}, {"int8", "-5"}, {"bigserial", "-5"}, {"oid", "-5"}, {"bpchar", "1"}, {"numeric", "2"}, {"int4", "4"},
				{"serial", "4"}, {"int2", "5"}, {"smallserial", "5"}, {"float4", "7"}, {"float8", "8"}, {"name", "12"}, {"text", "12"},
				{"varchar", "12"}, {"date", "91"}, {"timestamp", "93"}, {"timestamptz", "93"}, {"interval", "1111"}, {"uuid", "1111"}}},
		{name: "jdbc_getUDTs", sql: "getUDTs(null, \"public\", \"%\", null)", wantCols: []string{"type_name"}},
		{name: "jdbc_getFunctions", sql: "getFunctions(null, \"pg_catalog\", \"strpos\")",
			wantCols: []string{"function_schem", "function_name", "function_type"}, want: [][]string{{"pg_catalog", "strpos", "1"}}},
		{name: "jdbc_getProcedures", sql: "getProcedures(null, \"pg_catalog\", \"upper\")",
			wantCols: []string{"procedure_schem", "procedure_name", "procedure_type"}},
		{name: "jdbc_getTablePrivileges", sql: "getTablePrivileges(null, \"public\", \"products\")",
			wantCols: []string{"TABLE_NAME", "GRANTEE", "PRIVILEGE"}, want: privs("products")},
		{name: "jdbc_getColumnPrivileges", sql: "getColumnPrivileges(null, \"public\", \"products\", \"sku\")",
			wantCols: []string{"COLUMN_NAME", "GRANTEE", "PRIVILEGE"}, want: privs("sku")},
		{name: "jdbc_getBestRowIdentifier", sql: "getBestRowIdentifier(null, \"public\", \"products\", bestRowSession, true)",
			wantCols: []string{"COLUMN_NAME", "TYPE_NAME"}, want: [][]string{{"product_id", "text"}}},
		{name: "jdbc_getClientInfoProperties", sql: "getClientInfoProperties()", wantCols: []string{"NAME"}, want: [][]string{{"ApplicationName"}}},
	} {
		checkStep(t, "jdbc", q.name, q, out.Steps)
	}
}

// --- lib/pq ---

// runLibPQ runs the queries through database/sql and lib/pq: without arguments
// (simple Query), with arguments (unnamed Parse/Describe/Bind/Execute), and every
// query again through a named prepared statement (step NAME/prepared).
func runLibPQ(t *testing.T, addr string, d *matrixData, cn matrixConn) clientOutput {
	out := clientOutput{Driver: "lib/pq", Steps: map[string]stepOutput{}}
	db, err := sql.Open("postgres", cn.url(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		out.ConnectError = err.Error()
		return out
	}
	for _, q := range d.queries {
		args := queryArgs(t, q)
		rows, err := db.QueryContext(ctx, q.sql, args...)
		out.Steps[q.name] = sqlRows(rows, err)
		stmt, err := db.PrepareContext(ctx, q.sql)
		if err != nil {
			out.Steps[q.name+"/prepared"] = sqlRows(nil, err)
			continue
		}
		rows, err = stmt.QueryContext(ctx, args...)
		out.Steps[q.name+"/prepared"] = sqlRows(rows, err)
		stmt.Close()
	}
	return out
}

// sqlRows renders database/sql rows as text cells.
func sqlRows(rows *sql.Rows, err error) stepOutput {
	fail := func(err error) stepOutput {
		st := stepOutput{Error: err.Error()}
		if pe, ok := err.(interface{ SQLState() string }); ok {
			st.SQLState = pe.SQLState()
		}
		return st
	}
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fail(err)
	}
	st := stepOutput{Columns: cols}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fail(err)
		}
		row := make([]*string, len(cols))
		for i, v := range vals {
			if v == nil {
				continue
			}
			var s string
			if b, ok := v.([]byte); ok {
				s = string(b)
			} else {
				s = render(v)
			}
			row[i] = &s
		}
		st.Rows = append(st.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return st
}

// --- pgx ---

// queryArgs converts a query's parameters to Go values (timestamptz as time.Time).
func queryArgs(t *testing.T, q matrixQuery) []any {
	var args []any
	for _, p := range q.params {
		if p.typ == "timestamptz" {
			ts, err := time.Parse(time.RFC3339, p.val)
			if err != nil {
				t.Fatal(err)
			}
			args = append(args, ts)
		} else {
			args = append(args, p.val)
		}
	}
	return args
}

// runPgx runs the queries through pgx: the extended protocol with binary results
// (NAME), then the simple protocol with parameters interpolated by pgx (NAME/simple).
func runPgx(t *testing.T, addr string, d *matrixData, cn matrixConn) clientOutput {
	out := clientOutput{Driver: "pgx v5", Steps: map[string]stepOutput{}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, cn.url(addr))
	if err != nil {
		out.ConnectError = err.Error()
		return out
	}
	defer conn.Close(ctx)
	step := func(rows pgx.Rows, err error) stepOutput {
		fail := func(err error) stepOutput {
			st := stepOutput{Error: err.Error()}
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				st.SQLState = pe.Code
			}
			return st
		}
		if err != nil {
			return fail(err)
		}
		defer rows.Close()
		var st stepOutput
		for _, f := range rows.FieldDescriptions() {
			st.Columns = append(st.Columns, f.Name)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return fail(err)
			}
			row := make([]*string, len(vals))
			for i, v := range vals {
				if v != nil {
					s := render(v)
					row[i] = &s
				}
			}
			st.Rows = append(st.Rows, row)
		}
		if err := rows.Err(); err != nil {
			return fail(err)
		}
		return st
	}
	for _, q := range d.queries {
		args := queryArgs(t, q)
		out.Steps[q.name] = step(conn.Query(ctx, q.sql, args...))
		out.Steps[q.name+"/simple"] = step(conn.Query(ctx, q.sql, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...))
	}
	return out
}

// --- psql ---

func missingPsql() string {
	if _, err := exec.LookPath("psql"); err != nil {
		return "psql not found"
	}
	return ""
}

var psqlSQLState = regexp.MustCompile(`ERROR:  ([0-9A-Z]{5}): `)

// runPsql runs each query in its own psql (simple protocol, --csv output), with
// parameters written into the text as typed literals.
func runPsql(t *testing.T, addr string, d *matrixData, cn matrixConn) clientOutput {
	out := clientOutput{Driver: "psql", Steps: map[string]stepOutput{}}
	if v, err := exec.Command("psql", "--version").Output(); err == nil {
		out.Driver = strings.TrimSpace(string(v))
	}
	h, p := hostPort(addr)
	conninfo := fmt.Sprintf("host=%s port=%s user=strata dbname=strata sslmode=%s connect_timeout=10", h, p, cn.sslmode)
	if cn.rootCert != "" {
		conninfo += " sslrootcert=" + cn.rootCert
	}
	for _, q := range d.queries {
		text := placeholder.ReplaceAllStringFunc(q.sql, func(ph string) string {
			n, _ := strconv.Atoi(ph[1:])
			prm := q.params[n-1]
			return "'" + strings.ReplaceAll(prm.val, "'", "''") + "'::" + prm.typ
		})
		cmd := exec.Command("psql", conninfo, "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-c", text)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+cn.password)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if strings.Contains(msg, "connection to server") {
				out.ConnectError = msg
				return out
			}
			st := stepOutput{Error: msg}
			if m := psqlSQLState.FindStringSubmatch(msg); m != nil {
				st.SQLState = m[1]
			}
			out.Steps[q.name] = st
			continue
		}
		recs, err := csv.NewReader(&stdout).ReadAll()
		if err != nil || len(recs) == 0 {
			out.Steps[q.name] = stepOutput{Error: fmt.Sprintf("psql --csv output %q: %v", stdout.String(), err)}
			continue
		}
		st := stepOutput{Columns: recs[0]}
		for _, rec := range recs[1:] {
			row := make([]*string, len(rec))
			for i := range rec {
				row[i] = &rec[i]
			}
			st.Rows = append(st.Rows, row)
		}
		out.Steps[q.name] = st
	}
	return out
}

// --- wire proxy ---

// wireProxy forwards TCP connections to a strata server and records, per connection,
// the statements the client sent (Query, Parse, Bind parameters), the result
// descriptions and the errors the server answered. It understands only unencrypted sessions (clients use
// sslmode=disable); after an SSLRequest or GSSENCRequest it forwards blindly.
type wireProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	lines  []string
	errs   []string
	last   map[int]string // connection -> last statement text
	conns  []net.Conn
	nconns int
	wg     sync.WaitGroup
}

func startWireProxy(t *testing.T, target string) *wireProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wireProxy{ln: ln, target: target, last: map[int]string{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *wireProxy) addr() string { return p.ln.Addr().String() }

func (p *wireProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.nconns++
		id := p.nconns
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		plain := make(chan bool, 1)
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			p.frontend(id, c, s, plain)
			s.(*net.TCPConn).CloseWrite()
		}()
		go func() {
			defer p.wg.Done()
			p.backend(id, s, c, plain)
			c.(*net.TCPConn).CloseWrite()
		}()
	}
}

func (p *wireProxy) record(id int, line string, stmt bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, fmt.Sprintf("[conn %d] %s", id, line))
	if stmt {
		p.last[id] = line
	}
}

func (p *wireProxy) recordError(id int, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, fmt.Sprintf("[conn %d] <- %s", id, msg))
	p.errs = append(p.errs, fmt.Sprintf("[conn %d] %s\n    after: %s", id, msg, p.last[id]))
}

func (p *wireProxy) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

func (p *wireProxy) serverErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// frontend copies client messages to the server, recording statements. It tells
// backend on plain whether the session stays unencrypted.
func (p *wireProxy) frontend(id int, c, s net.Conn, plain chan<- bool) {
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		plain <- false
		return
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n < 8 || n > 1<<20 {
		plain <- false
		return
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(c, body); err != nil {
		plain <- false
		return
	}
	s.Write(append(hdr[:], body...))
	if code := binary.BigEndian.Uint32(body); code == 80877103 || code == 80877104 {
		p.record(id, "SSLRequest/GSSENCRequest: not recorded further", false)
		plain <- false
		io.Copy(s, c)
		return
	}
	plain <- true
	for {
		typ, msg, raw, err := readMessage(c)
		if err != nil {
			return
		}
		switch typ {
		case 'Q':
			p.record(id, "Query: "+cstring(msg), true)
		case 'P':
			name, rest := cstringNext(msg)
			p.record(id, fmt.Sprintf("Parse %q: %s", name, cstring(rest)), true)
		case 'B':
			p.record(id, "Bind "+bindParams(msg), false)
		}
		if _, err := s.Write(raw); err != nil {
			return
		}
	}
}

// backend copies server messages to the client, recording ErrorResponses.
func (p *wireProxy) backend(id int, s, c net.Conn, plain <-chan bool) {
	if !<-plain {
		io.Copy(c, s)
		return
	}
	for {
		typ, msg, raw, err := readMessage(s)
		if err != nil {
			return
		}
		switch typ {
		case 'E':
			p.recordError(id, "ERROR "+errorFields(msg))
		case 'T':
			p.record(id, "<- RowDescription "+rowDescription(msg), false)
		}
		if _, err := c.Write(raw); err != nil {
			return
		}
	}
}

func readMessage(r io.Reader) (typ byte, body, raw []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[1:]))
	if n < 4 {
		return 0, nil, nil, fmt.Errorf("message %q: length %d", hdr[0], n)
	}
	raw = make([]byte, 1+n)
	copy(raw, hdr[:])
	if _, err := io.ReadFull(r, raw[5:]); err != nil {
		return 0, nil, nil, err
	}
	return hdr[0], raw[5:], raw, nil
}

func cstring(b []byte) string {
	s, _ := cstringNext(b)
	return s
}

func cstringNext(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}

// bindParams renders a Bind message's statement and parameter values.
func bindParams(b []byte) string {
	portal, b := cstringNext(b)
	stmt, b := cstringNext(b)
	if len(b) < 2 {
		return fmt.Sprintf("portal %q stmt %q (short)", portal, stmt)
	}
	nf := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if len(b) < 2*nf+2 {
		return fmt.Sprintf("portal %q stmt %q (short)", portal, stmt)
	}
	formats := make([]int, nf)
	for i := range formats {
		formats[i] = int(binary.BigEndian.Uint16(b[2*i:]))
	}
	b = b[2*nf:]
	np := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	var vals []string
	for i := 0; i < np && len(b) >= 4; i++ {
		l := int(int32(binary.BigEndian.Uint32(b)))
		b = b[4:]
		if l < 0 {
			vals = append(vals, "NULL")
			continue
		}
		if l > len(b) {
			break
		}
		f := 0
		if nf == 1 {
			f = formats[0]
		} else if i < nf {
			f = formats[i]
		}
		if f == 0 {
			vals = append(vals, strconv.Quote(string(b[:l])))
		} else {
			vals = append(vals, fmt.Sprintf("binary %x", b[:l]))
		}
		b = b[l:]
	}
	return fmt.Sprintf("portal %q stmt %q params [%s]", portal, stmt, strings.Join(vals, ", "))
}

// errorFields renders an ErrorResponse's SQLSTATE and message.
func errorFields(b []byte) string {
	var code, msg string
	for len(b) > 0 && b[0] != 0 {
		f := b[0]
		var v string
		v, b = cstringNext(b[1:])
		switch f {
		case 'C':
			code = v
		case 'M':
			msg = v
		}
	}
	return code + ": " + msg
}

// rowDescription renders a RowDescription as name(table OID/attnum type OID)...
func rowDescription(b []byte) string {
	if len(b) < 2 {
		return "(short)"
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	var fields []string
	for i := 0; i < n; i++ {
		var name string
		name, b = cstringNext(b)
		if len(b) < 18 {
			return strings.Join(fields, " ") + " (short)"
		}
		fields = append(fields, fmt.Sprintf("%s(table %d/%d type %d)", name,
			binary.BigEndian.Uint32(b), binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint32(b[6:])))
		b = b[18:]
	}
	return strings.Join(fields, " ")
}

// FuzzWireDecoders feeds the proxy's message decoders arbitrary bodies: they must
// not panic on short or inconsistent lengths (the proxy runs them on real traffic).
func FuzzWireDecoders(f *testing.F) {
	f.Add([]byte("\x00stmt\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x04cart\xff\xff\xff\xff\x00\x00"))
	f.Add([]byte("\x00\x01n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x14\x00\x08\xff\xff\xff\xff\x00\x01"))
	f.Add([]byte("SERROR\x00C0A000\x00Mwindow functions is not supported\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		bindParams(b)
		rowDescription(b)
		errorFields(b)
		cstring(b)
		if _, _, _, err := readMessage(bytes.NewReader(b)); err == nil && len(b) < 5 {
			t.Fatalf("readMessage accepted %d bytes", len(b))
		}
	})
}
