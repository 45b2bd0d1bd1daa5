package main

import (
	"context"
	"maps"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/internal/rowcheck"
)

// TestExactlyOnceCatchesMutantConsumer builds strata with the consumer mutant
// (-tags strata_mutant_dropdup: one event dropped, another of the same user
// delivered twice; see ingest/stream/mutant_dropdup.go), ingests 20,000 events
// and shows that the checks the exactly-once tests used before (count(*) and
// every user's count) pass on it, while the row-identity checks they use now
// name the two ids.
func TestExactlyOnceCatchesMutantConsumer(t *testing.T) {
	const total = 20_000
	bin := filepath.Join(t.TempDir(), "strata-mutant")
	if out, err := exec.Command("go", "build", "-tags", "strata_mutant_dropdup", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build the mutant: %v\n%s", err, out)
	}
	addr, _ := kafkatest.Start(t, "events", 4)
	s := startBinaryOn(t, bin, filepath.Join(t.TempDir(), "data"), freeAddr(t), "--kafka-brokers", addr)
	c := connect(t, s)
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), kafkaTableSQL); err != nil {
		t.Fatal(err)
	}
	p := &producer{}
	p.run(t, addr, "events", total, 31)
	got := waitCount(t, total, s)
	time.Sleep(time.Second)
	if !maps.Equal(got, p.ids.PerUser()) {
		t.Fatalf("the mutant should keep per-user counts right; they differ")
	}
	t.Logf("old checks pass on the mutant: count(*) = %d, %d users' counts equal the producer's", total, len(got))

	ctx := context.Background()
	st, err := queryIDStats(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if st.rows != total || st.distinct != total-1 {
		t.Fatalf("count(*) = %d, count(DISTINCT n) = %d: want %d and %d (one id repeated)", st.rows, st.distinct, total, total-1)
	}
	rows, err := queryIDs(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	rep := rowcheck.Check(&p.ids, rows)
	if len(rep.Missing) != 1 || len(rep.Repeated) != 1 || len(rep.Unknown)+len(rep.WrongUser)+rep.NullIDs != 0 {
		t.Fatalf("row identity on the mutant: %s; want exactly one id missing and one repeated", rep)
	}
	lost, twice := rep.Missing[0], rep.Repeated[0]
	lostUser, twiceUser := p.ids.User(lost), p.ids.User(twice)
	if lostUser != twiceUser {
		t.Fatalf("id %d (user %s) lost, id %d (user %s) repeated: want one user", lost, lostUser, twice, twiceUser)
	}
	t.Logf("the row-identity checks catch it: count(*) %d vs count(DISTINCT n) %d; %s (both of user %s)", st.rows, st.distinct, rep, lostUser)
}
