package main

// End-to-end: the real strata binary, driven by real clients (psql over the simple
// protocol, pgx over the extended protocol, `strata ingest`), with every answer checked
// against a real PostgreSQL 15 loaded with the same events.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/internal/pgtest"
)

var strataBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-bin-")
	if err != nil {
		panic(err)
	}
	strataBin = filepath.Join(dir, "strata")
	out, err := exec.Command("go", "build", "-o", strataBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build strata: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	pgtest.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// strataServer runs `strata serve` until the test ends.
type strataServer struct {
	addr    string
	dataDir string
	cmd     *exec.Cmd
	out     *bytes.Buffer
}

func startStrata(t *testing.T, dataDir string) *strataServer {
	t.Helper()
	return startStrataOn(t, dataDir, freeAddr(t))
}

// startStrataOn starts `strata serve` on pgAddr with extra flags.
func startStrataOn(t *testing.T, dataDir, pgAddr string, extra ...string) *strataServer {
	t.Helper()
	return startBinaryOn(t, strataBin, dataDir, pgAddr, extra...)
}

// startBinaryOn is startStrataOn with another build of strata (a mutant).
func startBinaryOn(t *testing.T, bin, dataDir, pgAddr string, extra ...string) *strataServer {
	t.Helper()
	s := &strataServer{addr: pgAddr, dataDir: dataDir, out: new(bytes.Buffer)}
	// A restart reuses pgAddr, which was free until now: the kernel may hand the
	// same port out as a "free" one, so the HTTP address must be another.
	httpAddr := freeAddr(t)
	for httpAddr == pgAddr {
		httpAddr = freeAddr(t)
	}
	args := append([]string{"serve", "--data-dir", dataDir, "--pg-addr", s.addr, "--http-addr", httpAddr, "--memory-limit", "2GiB"}, extra...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("strata output:\n%s", s.out)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", s.addr)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("strata did not listen on %s: %v\n%s", s.addr, err, s.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *strataServer) port() string { _, p, _ := net.SplitHostPort(s.addr); return p }

func (s *strataServer) dsn() string {
	return fmt.Sprintf("postgres://strata@%s/strata?sslmode=disable", s.addr)
}

// psql runs psql in unaligned, tuples-only mode with extra args.
func psql(t *testing.T, host, port, user, db string, args ...string) string {
	t.Helper()
	full := append([]string{"-h", host, "-p", port, "-U", user, "-d", db, "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1"}, args...)
	out, err := exec.Command("psql", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %v: %v\n%s", args, err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

// sameRows compares two engines' results in psql's unaligned format ("|" between
// fields, one row per line). Fields that are both numbers with a fraction or an
// exponent are compared with a relative tolerance of 1e-9: PostgreSQL computes avg
// and extract in numeric and sums floats in its own order, strata in double precision.
func sameRows(got, want string) bool {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		gf, wf := strings.Split(g[i], "|"), strings.Split(w[i], "|")
		if len(gf) != len(wf) {
			return false
		}
		for j := range gf {
			if gf[j] != wf[j] && !closeNumbers(gf[j], wf[j]) {
				return false
			}
		}
	}
	return true
}

func closeNumbers(a, b string) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	return math.Abs(x-y) <= 1e-9*math.Max(1, math.Max(math.Abs(x), math.Abs(y)))
}

// writeEvents writes n generated events as CSV (with header) and as JSON lines.
func writeEvents(t *testing.T, dir string, n int) (csvPath, jsonPath string) {
	t.Helper()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(7 * 24 * time.Hour)
	gen := bench.NewGenerator(42, start, end, 2000, 500)
	csvPath, jsonPath = filepath.Join(dir, "events.csv"), filepath.Join(dir, "events.jsonl")
	cf, err := os.Create(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	jf, err := os.Create(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	cw, jw := bufio.NewWriter(cf), bufio.NewWriter(jf)
	cw.WriteString(bench.CSVHeader + "\n")
	var buf []byte
	for i := 0; i < n; i++ {
		buf = gen.AppendCSV(buf[:0])
		cw.Write(buf)
		cw.WriteByte('\n')
		buf = gen.AppendJSON(buf[:0])
		jw.Write(buf)
		jw.WriteByte('\n')
	}
	for _, f := range []*os.File{cf, jf} {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := jw.Flush(); err != nil {
		t.Fatal(err)
	}
	cf.Close()
	jf.Close()
	return csvPath, jsonPath
}

// TestClientsAgainstPostgres loads the same events into strata (psql \copy) and into
// PostgreSQL, then runs the bench query suite through psql (simple protocol) and pgx
// (extended protocol, binary results) on both and compares the answers.
func TestClientsAgainstPostgres(t *testing.T) {
	pgtest.Need(t, "psql", "psql")
	pg := pgtest.Shared(t)
	dir := t.TempDir()
	csvPath, _ := writeEvents(t, dir, 100_000)
	s := startStrata(t, filepath.Join(dir, "data"))

	psql(t, "127.0.0.1", s.port(), "strata", "strata", "-c", bench.CreateTableSQL)
	psql(t, "127.0.0.1", s.port(), "strata", "strata", "-c", fmt.Sprintf(`\copy user_behavior FROM '%s' WITH (FORMAT csv, HEADER true)`, csvPath))
	pgPort := strconv.Itoa(pg.Port)
	psql(t, "127.0.0.1", pgPort, "postgres", "postgres", "-c", "DROP TABLE IF EXISTS user_behavior")
	psql(t, "127.0.0.1", pgPort, "postgres", "postgres", "-c", bench.CreateTableSQL)
	psql(t, "127.0.0.1", pgPort, "postgres", "postgres", "-c", fmt.Sprintf(`\copy user_behavior FROM '%s' WITH (FORMAT csv, HEADER true)`, csvPath))

	if got := psql(t, "127.0.0.1", s.port(), "strata", "strata", "-c", "SELECT count(*) FROM user_behavior"); got != "100000" {
		t.Fatalf("strata count after \\copy = %q, want 100000", got)
	}

	ctx := context.Background()
	sc, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close(ctx)
	pc, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)

	for _, q := range bench.Queries {
		t.Run(q.Name, func(t *testing.T) {
			want := psql(t, "127.0.0.1", pgPort, "postgres", "postgres", "-c", q.SQL)
			if got := psql(t, "127.0.0.1", s.port(), "strata", "strata", "-c", q.SQL); !sameRows(got, want) {
				t.Errorf("psql (simple protocol):\n%s\ngot:\n%s\nwant (PostgreSQL):\n%s", q.SQL, head(got), head(want))
			}
			wantX := pgxRows(t, pc, q.SQL)
			if got := pgxRows(t, sc, q.SQL); !sameRows(got, wantX) {
				t.Errorf("pgx (extended protocol):\n%s\ngot:\n%s\nwant (PostgreSQL):\n%s", q.SQL, head(got), head(wantX))
			}
		})
	}
}

func head(s string) string {
	lines := strings.SplitN(s, "\n", 12)
	if len(lines) > 11 {
		lines[11] = "…"
	}
	return strings.Join(lines, "\n")
}

// pgxRows runs q with pgx's default extended protocol (binary results where the
// type allows) and renders rows in psql's unaligned format.
func pgxRows(t *testing.T, c *pgx.Conn, q string) string {
	t.Helper()
	rows, err := c.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("pgx query: %v", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatalf("pgx values: %v", err)
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte('|')
			}
			b.WriteString(render(v))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("pgx rows: %v", err)
	}
	return b.String()
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999")
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case pgtype.Numeric:
		f, err := x.Float64Value()
		if err != nil || !f.Valid {
			return fmt.Sprint(x)
		}
		return strconv.FormatFloat(f.Float64, 'g', -1, 64)
	case bool:
		if x {
			return "t"
		}
		return "f"
	default:
		return fmt.Sprint(x)
	}
}
