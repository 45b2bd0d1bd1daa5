// Package pgtest starts a private PostgreSQL 15 server on loopback for tests that
// prove strata's answers against the real thing (Debian's postgresql package).
//
// Policy (the same in every test that needs an outside program): when the server
// binaries are missing the test fails if CI=true and is skipped with the install
// command otherwise. The server refuses to run as root, so as root it is started as
// the postgres user with runuser.
package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BinDir is where Debian installs the PostgreSQL 15 server programs.
const BinDir = "/usr/lib/postgresql/15/bin"

// Install is how to install what this package needs.
const Install = "apt-get install -y postgresql postgresql-client (or run .ci/install-deps)"

// Installed reports whether PostgreSQL 15's server programs (initdb, pg_ctl,
// postgres) are in BinDir. Tests that prove answers against PostgreSQL run
// whenever they are, with or without CI=true.
func Installed() bool {
	for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := exec.LookPath(filepath.Join(BinDir, p)); err != nil {
			return false
		}
	}
	return true
}

// Server is a running private PostgreSQL server.
type Server struct {
	Port int
	dir  string
	asPG bool
}

// DSN returns a connection string for database db as user postgres.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// Need fails (CI=true) or skips the test when the program at path is missing.
func Need(t testing.TB, path, what string) {
	t.Helper()
	if _, err := exec.LookPath(path); err == nil {
		return
	}
	msg := fmt.Sprintf("%s not found (%s): install it with %s", what, path, Install)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

var (
	shared     *Server
	sharedErr  error
	sharedOnce sync.Once
)

// Shared returns one server for the whole test binary, started on first use and
// stopped by Stop (call it from TestMain after m.Run).
func Shared(t testing.TB) *Server {
	t.Helper()
	Need(t, filepath.Join(BinDir, "initdb"), "PostgreSQL 15 server")
	sharedOnce.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		t.Fatalf("start PostgreSQL: %v", sharedErr)
	}
	return shared
}

// StopShared stops the shared server if one was started.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// Start starts a server of the test's own, stopped at the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	Need(t, filepath.Join(BinDir, "initdb"), "PostgreSQL 15 server")
	s, err := start()
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func start() (*Server, error) {
	dir, err := os.MkdirTemp("", "strata-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, asPG: os.Geteuid() == 0}
	if s.asPG {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := s.run(filepath.Join(BinDir, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for attempt := 0; attempt < 5; attempt++ {
		s.Port = freePort()
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c timezone=UTC -c datestyle='ISO, MDY'", s.Port, dir)
		out, err := s.run(filepath.Join(BinDir, "pg_ctl"), "-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "60", "start")
		if err == nil {
			return s, nil
		}
		if attempt == 4 {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	panic("unreachable")
}

// Stop stops the server and removes its files.
func (s *Server) Stop() {
	s.run(filepath.Join(BinDir, "pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

func (s *Server) run(prog string, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	if s.asPG {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	} else {
		cmd = exec.Command(prog, args...)
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 55000 + int(time.Now().UnixNano()%1000)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Psql runs psql against the server with extra args and returns its stdout.
func (s *Server) Psql(args ...string) (string, error) {
	full := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", "postgres", "-X", "-q"}, args...)
	out, err := exec.Command("psql", full...).CombinedOutput()
	return strings.TrimRight(string(out), "\n"), err
}

// SetHBA replaces the server's pg_hba.conf with text and reloads it (for tests
// that compare authentication with strata's). Keep a rule that lets postgres in
// over 127.0.0.1, or Psql and DSN stop working.
func (s *Server) SetHBA(text string) error {
	path := filepath.Join(s.dir, "data", "pg_hba.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return err
	}
	if s.asPG {
		u, err := user.Lookup("postgres")
		if err != nil {
			return err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(path, uid, gid); err != nil {
			return err
		}
	}
	if out, err := s.run(filepath.Join(BinDir, "pg_ctl"), "-D", filepath.Join(s.dir, "data"), "reload"); err != nil {
		return fmt.Errorf("pg_ctl reload: %v\n%s", err, out)
	}
	// pg_ctl reload only signals the postmaster; new connections see the file
	// once it has re-read it.
	time.Sleep(300 * time.Millisecond)
	return nil
}
