package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/ingest/stream"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage/store"
)

// TestKafkaTableFromSQL drives real-time ingestion through SQL alone: CREATE TABLE
// ... WITH (kafka_topic ...) against a real Kafka-protocol broker, rows visible to
// SELECT, strata_ingest_status, ALTER TABLE ... PAUSE/RESUME INGEST, and the errors
// for bad options and unknown tables.
func TestKafkaTableFromSQL(t *testing.T) {
	addr, _ := kafkatest.Start(t, "clicks", 2)
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := stream.NewManager(st, stream.Options{Brokers: []string{addr}})
	defer m.Close()
	s := Open(st, Options{Ingest: m}).NewSession("strata", "db")

	mustExec(t, s, `CREATE TABLE clicks (ts timestamptz NOT NULL, page text) WITH (kafka_topic = 'clicks', persist_interval = '100ms')`)
	var msgs []kafkatest.Message
	for i := 0; i < 100; i++ {
		msgs = append(msgs, kafkatest.Message{Partition: int32(i % 2), Value: fmt.Appendf(nil, `{"ts":"2026-11-20T10:00:%02d","page":"p%d"}`, i%60, i%3)})
	}
	kafkatest.Produce(t, addr, "clicks", msgs)
	waitFor(t, s, `SELECT count(*) FROM clicks`, "100")
	waitFor(t, s, `SELECT count(*), sum(committed_offset) FROM strata_ingest_status WHERE table_name = 'clicks'`, "2|100")

	mustExec(t, s, `ALTER TABLE clicks PAUSE INGEST`)
	if got := collect(t, mustExec(t, s, `SELECT DISTINCT state FROM strata_ingest_status`)); len(got) != 1 || got[0][0] != "paused" {
		t.Fatalf("state after PAUSE INGEST: %v", got)
	}
	kafkatest.Produce(t, addr, "clicks", msgs[:10])
	time.Sleep(500 * time.Millisecond)
	waitFor(t, s, `SELECT count(*) FROM clicks`, "100")
	mustExec(t, s, `alter table "clicks" resume ingest;`)
	waitFor(t, s, `SELECT count(*) FROM clicks`, "110")
	waitFor(t, s, `SELECT page, count(*) FROM clicks WHERE page = 'p0' GROUP BY page`, "p0|38")

	for _, c := range []struct{ q, code string }{
		{`CREATE TABLE bad (ts timestamptz NOT NULL) WITH (kafka_topic = 't', persist_rows = 'lots')`, sqlstate.InvalidParameterValue},
		{`CREATE TABLE bad (ts timestamptz NOT NULL) WITH (kafka_topic = 't', kafka_sasl_mechanism = 'GSSAPI')`, sqlstate.InvalidParameterValue},
		{`ALTER TABLE nope PAUSE INGEST`, sqlstate.UndefinedTable},
	} {
		stmt, err := s.Prepare(context.Background(), c.q, nil)
		if err == nil {
			_, err = s.Execute(context.Background(), stmt, nil)
		}
		if !codeIs(err, c.code) {
			t.Errorf("%s: got %v, want SQLSTATE %s", c.q, err, c.code)
		}
	}
	// A table without Kafka cannot be paused.
	mustExec(t, s, `CREATE TABLE plain (ts timestamptz NOT NULL)`)
	stmt, _ := s.Prepare(context.Background(), `ALTER TABLE plain PAUSE INGEST`, nil)
	if _, err := s.Execute(context.Background(), stmt, nil); !codeIs(err, sqlstate.ObjectNotInPrerequisiteState) {
		t.Errorf("pausing a table without ingestion: %v", err)
	}
}

// waitFor polls q until its rows, joined with | and newlines, equal want.
func waitFor(t *testing.T, s *Session, q, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := ""
		for i, row := range collect(t, mustExec(t, s, q)) {
			if i > 0 {
				got += "\n"
			}
			for j, c := range row {
				if j > 0 {
					got += "|"
				}
				got += c
			}
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %q, want %q", q, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKafkaSASLPasswordNeverShown creates a Kafka-fed table with SASL options and
// reads every catalog view, the ingest status and the errors a bad option gives:
// none shows kafka_sasl_password's value.
func TestKafkaSASLPasswordNeverShown(t *testing.T) {
	addr, _ := kafkatest.Start(t, "secure", 1)
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := stream.NewManager(st, stream.Options{Brokers: []string{addr}})
	defer m.Close()
	db := Open(st, Options{Ingest: m})
	s := db.NewSession("strata", "db")
	const secret = "hunter2-sasl-secret"
	// The broker has no SASL, so the consumer fails: its error lands in strata_ingest_status.
	mustExec(t, s, `CREATE TABLE secure (ts timestamptz NOT NULL, page text) WITH (kafka_topic = 'secure',
		kafka_sasl_mechanism = 'SCRAM-SHA-256', kafka_sasl_user = 'ingest', kafka_sasl_password = '`+secret+`')`)
	time.Sleep(300 * time.Millisecond)
	var seen []string
	for _, q := range []string{
		`SELECT * FROM pg_class`, `SELECT * FROM pg_tables`, `SELECT * FROM pg_attribute`, `SELECT * FROM pg_settings`,
		`SELECT * FROM information_schema.tables`, `SELECT * FROM information_schema.columns`,
		`SELECT * FROM information_schema.table_privileges`, `SELECT * FROM strata_ingest_status`, `SELECT * FROM pg_authid`,
		`SHOW tables`,
	} {
		for _, row := range collect(t, mustExec(t, s, q)) {
			seen = append(seen, row...)
		}
	}
	for _, q := range []string{
		`CREATE TABLE secure (ts timestamptz NOT NULL) WITH (kafka_topic = 'x', kafka_sasl_password = '` + secret + `')`,
		`CREATE TABLE bad (ts timestamptz NOT NULL) WITH (kafka_topic = 'x', kafka_sasl_mechanism = 'GSSAPI', kafka_sasl_password = '` + secret + `')`,
	} {
		if _, err := run(s, q); err == nil {
			t.Fatalf("%s: no error", q)
		} else {
			var e *engine.Error
			if errors.As(err, &e) {
				seen = append(seen, e.Message, e.Detail, e.Hint)
			}
			seen = append(seen, err.Error())
		}
	}
	// And a non-superuser may not set it at all.
	mustExec(t, s, "CREATE ROLE writer LOGIN")
	mustExec(t, s, "GRANT CREATE ON SCHEMA public TO writer")
	if _, err := run(db.NewSession("writer", "db"), `CREATE TABLE w (ts timestamptz NOT NULL) WITH (kafka_topic = 'x', kafka_sasl_password = '`+secret+`')`); !codeIs(err, sqlstate.InsufficientPrivilege) {
		t.Fatalf("non-superuser kafka_sasl_password: %v", err)
	}
	for _, v := range seen {
		if strings.Contains(v, secret) {
			t.Fatalf("the SASL password is shown: %q", v)
		}
	}
}
