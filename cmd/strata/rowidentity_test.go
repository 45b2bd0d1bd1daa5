package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/stratadb/strata/internal/rowcheck"
	"github.com/stratadb/strata/storage/lake"
)

// Row identity: every exactly-once test checks the ids the producer recorded in a
// rowcheck.Ledger, not only totals and per-user counts (which a lost row and a
// repeated row of the same user leave unchanged).

// kill SIGKILLs s and checks that the signal is what ended it (see killProcess).
func kill(t *testing.T, s *strataServer) {
	t.Helper()
	if err := killProcess(s.cmd); err != nil {
		t.Fatalf("kill: %v\noutput:\n%s", err, s.out)
	}
}

// killProcess SIGKILLs cmd and reports an error unless the process was alive to
// receive it (Signal succeeded) and Wait reports death by SIGKILL, not an exit of
// its own: a crash before the kill would otherwise pass for a kill.
func killProcess(cmd *exec.Cmd) error {
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("the process was not running: %w", err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("wait = %v, want death by SIGKILL", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		return fmt.Errorf("the process ended with %v, not by the SIGKILL sent", ee)
	}
	return nil
}

// TestKillSeesAnEarlierDeath: killProcess refuses a process that had exited on
// its own before the kill (still unreaped, so Signal itself succeeds) and one
// already reaped, and accepts a real kill.
func TestKillSeesAnEarlierDeath(t *testing.T) {
	exited := exec.Command(strataBin, "no-such-command")
	if err := exited.Start(); err != nil {
		t.Fatal(err)
	}
	stat := fmt.Sprintf("/proc/%d/stat", exited.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(stat)
		if err == nil && strings.Contains(string(b), ") Z ") {
			break // a zombie: exited, not reaped
		}
		if time.Now().After(deadline) {
			t.Fatalf("strata no-such-command did not exit: %s %v", b, err)
		}
	}
	err := killProcess(exited)
	if err == nil {
		t.Fatal("killProcess accepted a process that had exited on its own")
	}
	t.Logf("exited on its own: %v", err)
	if err := killProcess(exited); err == nil {
		t.Fatal("killProcess accepted a process already reaped")
	} else {
		t.Logf("already reaped: %v", err)
	}
	alive := exec.Command("sleep", "60")
	if err := alive.Start(); err != nil {
		t.Fatal(err)
	}
	if err := killProcess(alive); err != nil {
		t.Fatalf("a real kill: %v", err)
	}
}

// idStats are ev's identity aggregates on one server, computed by strata's SQL.
type idStats struct {
	rows, distinct, nulls int64
	min, max              *int64
}

func queryIDStats(ctx context.Context, c *pgx.Conn) (idStats, error) {
	var st idStats
	err := c.QueryRow(ctx, `SELECT count(*), count(DISTINCT n), count(*) - count(n), min(n), max(n) FROM ev`).
		Scan(&st.rows, &st.distinct, &st.nulls, &st.min, &st.max)
	return st, err
}

// queryIDs reads every (n, user_id) of ev.
func queryIDs(ctx context.Context, c *pgx.Conn) ([]rowcheck.Row, error) {
	rows, err := c.Query(ctx, `SELECT n, user_id FROM ev`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rowcheck.Row
	for rows.Next() {
		var n *int64
		var u *string
		if err := rows.Scan(&n, &u); err != nil {
			return nil, err
		}
		r := rowcheck.Row{Null: n == nil}
		if n != nil {
			r.ID = *n
		}
		if u != nil {
			r.User = *u
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// exactlyOnce checks, on each server, count(*) = count(DISTINCT n), no NULL id and
// min/max of the ids within the produced range; then, over the rows of all the
// servers together, that every produced id is there exactly once with its user.
// It fails the test with the ids that are wrong.
func exactlyOnce(t *testing.T, ids *rowcheck.Ledger, servers ...*strataServer) rowcheck.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var all []rowcheck.Row
	lo, hi := int64(-1), int64(-1)
	for i, s := range servers {
		c, err := pgx.Connect(ctx, s.dsn())
		if err != nil {
			t.Fatal(err)
		}
		st, err := queryIDStats(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if st.rows != st.distinct || st.nulls != 0 {
			t.Errorf("server %d: count(*) = %d, count(DISTINCT n) = %d, %d NULL ids", i, st.rows, st.distinct, st.nulls)
		}
		if st.min != nil && (lo < 0 || *st.min < lo) {
			lo = *st.min
		}
		if st.max != nil && *st.max > hi {
			hi = *st.max
		}
		rows, err := queryIDs(ctx, c)
		c.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(rows)) != st.rows {
			t.Errorf("server %d: count(*) = %d but SELECT n returned %d rows", i, st.rows, len(rows))
		}
		all = append(all, rows...)
	}
	if want := int64(ids.Len()) - 1; lo != 0 || hi != want {
		t.Errorf("ids span [%d, %d], want [0, %d]", lo, hi, want)
	}
	rep := rowcheck.Check(ids, all)
	if !rep.OK() {
		t.Fatalf("not exactly once: %s", rep)
	}
	return rep
}

// lakeRowsFromBytes reads the (n, user_id) of every row of the Parquet files the
// Delta log lists at snap: the column values themselves, not the numRecords or
// column statistics strata wrote into the log.
func lakeRowsFromBytes(ctx context.Context, snap *lake.Snapshot) ([]rowcheck.Row, error) {
	var rows []rowcheck.Row
	for _, f := range snap.Files() {
		err := snap.ReadFile(ctx, f, []string{"n", "user_id"}, func(rec arrow.RecordBatch) error {
			var err error
			rows, err = rowcheck.AppendArrow(rows, rec)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.DecodedPath, err)
		}
	}
	return rows, nil
}
