package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratadb/strata/bench"
)

// blockingCSV yields left generated CSV lines, then ends, or, when ctx is set, blocks
// until ctx ends, so that a COPY is provably in flight when the server is killed.
type blockingCSV struct {
	ctx  context.Context // nil: end after the lines
	gen  *bench.Generator
	left int
	buf  bytes.Buffer
}

func (r *blockingCSV) Read(p []byte) (int, error) {
	for r.buf.Len() < len(p) && r.left > 0 {
		r.buf.Write(r.gen.AppendCSV(nil))
		r.buf.WriteByte('\n')
		r.left--
	}
	if r.buf.Len() > 0 {
		return r.buf.Read(p)
	}
	if r.ctx == nil {
		return 0, io.EOF
	}
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

// connectWithEventsTable connects to s over pgconn and creates user_behavior.
func connectWithEventsTable(t *testing.T, s *strataServer) *pgconn.PgConn {
	t.Helper()
	conn, err := pgconn.Connect(context.Background(), s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(context.Background(), bench.CreateTableSQL).Close(); err != nil {
		t.Fatal(err)
	}
	return conn
}

func countSegments(t *testing.T, dataDir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(filepath.Join(dataDir, "segments"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestKilledDuringCopy SIGKILLs the server while a COPY has staged segment files but
// not committed them: after a restart the table holds exactly the rows of the
// earlier, finished COPY, the staged files are gone, and loading works again.
func TestKilledDuringCopy(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	s := startStrata(t, dataDir)
	ctx := context.Background()
	conn := connectWithEventsTable(t, s)
	gen := bench.NewGenerator(3, bench.DefaultStart, bench.DefaultEnd, 1000, 100)
	gen.Ordered(150_000)
	copySQL := "COPY user_behavior FROM STDIN WITH (FORMAT csv)"
	tag, err := conn.CopyFrom(ctx, &blockingCSV{gen: gen, left: 50_000}, copySQL)
	if err != nil || tag.RowsAffected() != 50_000 {
		t.Fatalf("first COPY: %v %v", tag, err)
	}
	committed := countSegments(t, dataDir)

	// The second COPY sends 100,000 rows (one full decoder batch gets staged as
	// segment files) and then waits, in flight, until the server dies.
	inflight, stop := context.WithCancel(ctx)
	defer stop()
	copyErr := make(chan error, 1)
	go func() {
		_, err := conn.CopyFrom(ctx, &blockingCSV{ctx: inflight, gen: gen, left: 100_000}, copySQL)
		copyErr <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for countSegments(t, dataDir) == committed {
		if time.Now().After(deadline) {
			t.Fatal("the in-flight COPY staged no segment file within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	kill(t, s)
	stop()
	if err := <-copyErr; err == nil {
		t.Fatal("COPY to a killed server reported success")
	}
	conn.Close(ctx)

	s2 := startStrata(t, dataDir)
	if got := psql(t, "127.0.0.1", s2.port(), "strata", "strata", "-c", "SELECT count(*) FROM user_behavior"); got != "50000" {
		t.Fatalf("after the crash: count = %s, want 50000 (the uncommitted COPY must leave nothing)", got)
	}
	// Row by row: the table holds exactly the first COPY's 50,000 events (the
	// generator replayed from its seed), none of the killed COPY's.
	first := bench.NewGenerator(3, bench.DefaultStart, bench.DefaultEnd, 1000, 100)
	first.Ordered(150_000)
	sameEvents(t, s2, first, 50_000)
	if n := countSegments(t, dataDir); n != committed {
		t.Errorf("after restart: %d segment files, want the %d committed ones", n, committed)
	}
	conn2, err := pgconn.Connect(ctx, s2.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	tag, err = conn2.CopyFrom(ctx, &blockingCSV{gen: gen, left: 1000}, copySQL)
	if err != nil {
		t.Fatal(err)
	}
	if got := psql(t, "127.0.0.1", s2.port(), "strata", "strata", "-c", "SELECT count(*) FROM user_behavior"); got != strconv.Itoa(51000) {
		t.Fatalf("after reloading: count = %s, want 51000", got)
	}
}

// eventKey identifies a generated event: its time, user and session.
type eventKey struct {
	micros        int64
	user, session string
}

// sameEvents checks that user_behavior on s holds exactly the next n events of gen,
// as a multiset of (timestamp, user_id, session_id): none missing, none twice,
// none other.
func sameEvents(t *testing.T, s *strataServer, gen *bench.Generator, n int) {
	t.Helper()
	want := make(map[eventKey]int, n)
	var e bench.Event
	for range n {
		gen.Next(&e)
		want[eventKey{e.Time, e.UserID, e.SessionID}]++
	}
	ctx := context.Background()
	c := connect(t, s)
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT "timestamp", user_id, session_id FROM user_behavior`)
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra, got int
	for rows.Next() {
		var ts time.Time
		var k eventKey
		if err := rows.Scan(&ts, &k.user, &k.session); err != nil {
			t.Fatal(err)
		}
		k.micros = ts.UnixMicro()
		got++
		if want[k] == 0 {
			extra++
			continue
		}
		want[k]--
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, left := range want {
		missing += left
	}
	if missing+extra > 0 {
		t.Fatalf("%d rows: %d of the %d expected events missing, %d rows not expected (or repeated)", got, missing, n, extra)
	}
}

// TestClientDropsDuringCopy closes the client's socket in the middle of a COPY that
// has already staged segment files: the server aborts the COPY, nothing of it becomes
// visible, the staged files are deleted, and the server keeps serving.
func TestClientDropsDuringCopy(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	s := startStrata(t, dataDir)
	ctx := context.Background()
	conn := connectWithEventsTable(t, s)
	gen := bench.NewGenerator(4, bench.DefaultStart, bench.DefaultEnd, 1000, 100)
	gen.Ordered(150_000)
	inflight, stop := context.WithCancel(ctx)
	defer stop()
	copyErr := make(chan error, 1)
	go func() {
		_, err := conn.CopyFrom(ctx, &blockingCSV{ctx: inflight, gen: gen, left: 150_000}, "COPY user_behavior FROM STDIN WITH (FORMAT csv)")
		copyErr <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for countSegments(t, dataDir) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the COPY staged no segment file within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Drop the connection without CopyDone, CopyFail or Terminate.
	if err := conn.Conn().Close(); err != nil {
		t.Fatal(err)
	}
	stop()
	<-copyErr

	deadline = time.Now().Add(30 * time.Second)
	for countSegments(t, dataDir) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("staged segment files still there 30 s after the client left: %d", countSegments(t, dataDir))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := psql(t, "127.0.0.1", s.port(), "strata", "strata", "-c", "SELECT count(*) FROM user_behavior"); got != "0" {
		t.Fatalf("count after the dropped COPY = %s, want 0", got)
	}
}
