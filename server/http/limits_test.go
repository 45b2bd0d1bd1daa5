package http

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/sql"
)

// TestSQLStatementTimeout: a statement sent to POST /v1/sql is cancelled at the
// server's statement_timeout with 57014, as on the PostgreSQL port, instead of
// running as long as it likes.
func TestSQLStatementTimeout(t *testing.T) {
	st := testStore(t)
	db := sql.Open(st, sql.Options{StatementTimeout: 200 * time.Millisecond})
	srv := httptest.NewServer(Handler(Config{Store: st, DB: db}))
	defer srv.Close()
	start := time.Now()
	// 400 million rows: many seconds of work.
	code, body := post(t, srv.URL+"/v1/sql", "", `{"sql": "SELECT count(*) FROM generate_series(1, 20000) a CROSS JOIN generate_series(1, 20000) b"}`)
	took := time.Since(start)
	if code != 400 || !strings.Contains(body, `"code":"57014"`) || !strings.Contains(body, "canceling statement due to statement timeout") {
		t.Fatalf("got %d %s after %v, want 400 with 57014 canceling statement due to statement timeout", code, body, took)
	}
	if took > 3*time.Second {
		t.Errorf("the statement was cancelled after %v (statement_timeout 200ms)", took)
	}
	code, body = post(t, srv.URL+"/v1/sql", "", `{"sql": "SELECT 1 AS one"}`)
	if code != 200 {
		t.Fatalf("next statement: %d %s", code, body)
	}
}
