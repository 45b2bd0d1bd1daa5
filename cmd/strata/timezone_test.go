package main

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratadb/strata/internal/pgtest"
)

// TestTimeZoneReachesClients: the session's TimeZone reaches clients as
// PostgreSQL 15 delivers it. pgx: a TimeZone in the startup packet is the
// session's and is reported back in ParameterStatus; SET TIME ZONE reports the
// new zone at once; a timestamptz's text is in the zone while its binary value is
// the instant. psql (PGTZ): SHOW, timestamptz output and date_trunc('day') print
// what the real PostgreSQL prints for the same commands.
func TestTimeZoneReachesClients(t *testing.T) {
	pgtest.Need(t, "psql", "psql")
	pg := pgtest.Shared(t)
	s := startStrata(t, t.TempDir())
	ctx := context.Background()

	cfg, err := pgx.ParseConfig(s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["timezone"] = "Asia/Shanghai"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if got := c.PgConn().ParameterStatus("TimeZone"); got != "Asia/Shanghai" {
		t.Errorf("ParameterStatus TimeZone after startup = %q, want Asia/Shanghai", got)
	}
	var text string
	var at time.Time
	if err := c.QueryRow(ctx, "SELECT timestamptz '2024-03-01 00:00:00+00'::text, timestamptz '2024-03-01 00:00:00'").Scan(&text, &at); err != nil {
		t.Fatal(err)
	}
	if text != "2024-03-01 08:00:00+08" {
		t.Errorf("timestamptz text in Asia/Shanghai = %q, want 2024-03-01 08:00:00+08", text)
	}
	if want := time.Date(2024, 2, 29, 16, 0, 0, 0, time.UTC); !at.Equal(want) {
		t.Errorf("a literal without an offset read as %v, want %v (midnight in Shanghai)", at.UTC(), want)
	}
	if _, err := c.Exec(ctx, "SET TIME ZONE 'america/new_york'"); err != nil {
		t.Fatal(err)
	}
	if got := c.PgConn().ParameterStatus("TimeZone"); got != "America/New_York" {
		t.Errorf("ParameterStatus TimeZone after SET = %q, want America/New_York", got)
	}
	if _, err := c.Exec(ctx, "SET TIME ZONE 'Nowhere/Special'"); err == nil || !strings.Contains(err.Error(), "22023") {
		t.Errorf("SET TIME ZONE of an unknown zone: %v, want SQLSTATE 22023", err)
	}

	// psql with PGTZ, against strata and PostgreSQL.
	script := []string{"-c", "SHOW timezone",
		"-c", "SELECT timestamptz '2024-03-01 15:30:00+00', date_trunc('day', timestamptz '2024-03-01 16:30:00+00')",
		"-c", "SELECT to_char(timestamptz '2024-03-01 16:30:00+00', 'YYYY-MM-DD HH24:MI TZ'), (timestamptz '2024-03-01 16:30:00+00')::date"}
	run := func(port, user, db string) string {
		args := append([]string{"-h", "127.0.0.1", "-p", port, "-U", user, "-d", db, "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1"}, script...)
		cmd := exec.Command("psql", args...)
		cmd.Env = append(cmd.Environ(), "PGTZ=Asia/Shanghai")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("psql on port %s: %v\n%s", port, err, out)
		}
		return strings.TrimRight(string(out), "\n")
	}
	got, want := run(s.port(), "strata", "strata"), run(strconv.Itoa(pg.Port), "postgres", "postgres")
	if got != want {
		t.Errorf("psql with PGTZ=Asia/Shanghai:\nstrata:\n%s\nPostgreSQL:\n%s", got, want)
	}
	if !strings.Contains(want, "2024-03-01 23:30:00+08") {
		t.Errorf("PostgreSQL's output does not show Shanghai time; the test proves nothing:\n%s", want)
	}
}
