package sql

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
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
