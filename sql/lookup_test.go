package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// TestLookupUpsertsAreSerialized: sessions incrementing one counter row with
// INSERT … ON CONFLICT DO UPDATE and UPDATE at the same time lose no increment,
// and inserting distinct keys loses no row: every write of a lookup table reads
// the table as the previous write left it.
func TestLookupUpsertsAreSerialized(t *testing.T) {
	s0, st := newTestSession(t)
	mustExec(t, s0, "CREATE TABLE counters (k text PRIMARY KEY, n int NOT NULL)")
	mustExec(t, s0, "INSERT INTO counters VALUES ('c', 0)")
	db := s0.db
	const workers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := db.NewSession("strata", "strata")
			for i := range each {
				var q string
				switch i % 3 {
				case 0:
					q = "INSERT INTO counters VALUES ('c', 1) ON CONFLICT (k) DO UPDATE SET n = counters.n + 1"
				case 1:
					q = "UPDATE counters SET n = n + 1 WHERE k = 'c'"
				default:
					q = fmt.Sprintf("INSERT INTO counters VALUES ('w%d-%d', 1)", w, i)
				}
				st, err := s.Prepare(context.Background(), q, nil)
				if err == nil {
					_, err = s.Execute(context.Background(), st, nil)
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", q, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Worker iterations i%3==0 upsert and i%3==1 update (each adds 1 to the
	// counter), i%3==2 insert a new key.
	var ups, updates, inserts int
	for i := range each {
		switch i % 3 {
		case 0:
			ups++
		case 1:
			updates++
		default:
			inserts++
		}
	}
	got := queryInts(t, s0, "SELECT n FROM counters WHERE k = 'c'")
	if want := int64(workers * (ups + updates)); len(got) != 1 || got[0] != want {
		t.Fatalf("counter = %v, want %d: increments lost", got, want)
	}
	if n := queryInts(t, s0, "SELECT count(*) FROM counters WHERE k <> 'c'"); n[0] != int64(workers*inserts) {
		t.Fatalf("%d distinct keys inserted, want %d", n[0], workers*inserts)
	}
	if def, _ := st.Table("counters"); def.Options["lookup"] != "true" {
		t.Fatalf("not a lookup table: %v", def.Options)
	}
}

// queryInts runs q and returns its first column as integers.
func queryInts(t *testing.T, s *Session, q string) []int64 {
	t.Helper()
	res := mustExec(t, s, q)
	defer res.Rows.Close()
	var out []int64
	for {
		rec, err := res.Rows.Next(context.Background())
		if err != nil {
			break
		}
		col := rec.Column(0).(*array.Int64)
		for i := 0; i < col.Len(); i++ {
			out = append(out, col.Value(i))
		}
		rec.Release()
	}
	return out
}

// TestLookupCopy: COPY into a lookup table loads its visible columns (the hidden
// time column is neither expected in the input nor accepted in a column list),
// checks its keys over the table and the input together, and a COPY that breaks
// a key loads nothing.
func TestLookupCopy(t *testing.T) {
	s, _ := newTestSession(t)
	mustExec(t, s, "CREATE TABLE countries (code text PRIMARY KEY, name text)")
	mustExec(t, s, "INSERT INTO countries VALUES ('CN', 'China')")
	copyIn := func(q, data string) (CopyStats, error) {
		res := mustExec(t, s, q)
		if res.CopyIn == nil {
			t.Fatalf("%s: not a COPY FROM STDIN", q)
		}
		return res.CopyIn(context.Background(), strings.NewReader(data))
	}
	if st, err := copyIn("COPY countries FROM STDIN (FORMAT csv)", "US,United States\nDE,Germany\n"); err != nil || st.Rows != 2 {
		t.Fatalf("COPY: %+v %v", st, err)
	}
	if st, err := copyIn("COPY countries (name, code) FROM STDIN (FORMAT csv)", "France,FR\n"); err != nil || st.Rows != 1 {
		t.Fatalf("COPY with a column list: %+v %v", st, err)
	}
	_, err := copyIn("COPY countries FROM STDIN (FORMAT csv)", "JP,Japan\nDE,Deutschland\n")
	var e *engine.Error
	if !errors.As(err, &e) || e.Code != sqlstate.UniqueViolation || !strings.Contains(e.Detail, "(code)=(DE)") {
		t.Fatalf("COPY breaking the key: %v, want 23505 naming DE", err)
	}
	if n := queryInts(t, s, "SELECT count(*) FROM countries"); n[0] != 4 {
		t.Fatalf("%d rows after the failed COPY, want 4 (JP not loaded)", n[0])
	}
	if _, err := s.Prepare(context.Background(), "COPY countries (code, __time) FROM STDIN", nil); err == nil {
		t.Fatal("COPY naming the hidden time column was accepted")
	}
}
