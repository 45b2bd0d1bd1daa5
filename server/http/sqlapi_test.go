package http

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stratadb/strata/sql"
)

var httptestClient = http.DefaultClient

func post(t *testing.T, url, accept, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := httptestClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSQLEndpoint runs statements through POST /v1/sql: JSON with typed values
// (the expected documents written out by hand), CSV, and errors with SQLSTATE and
// position.
func TestSQLEndpoint(t *testing.T) {
	st := testStore(t)
	db := sql.Open(st, sql.Options{})
	srv := httptest.NewServer(Handler(Config{Store: st, DB: db}))
	defer srv.Close()
	url := srv.URL + "/v1/sql"

	code, body := post(t, url, "", `{"sql": "INSERT INTO t VALUES ('2026-11-20 10:00:00+00', 1), ('2026-11-20 10:00:01+00', NULL)"}`)
	if code != 200 || !strings.Contains(body, `"command":"INSERT 0 2"`) {
		t.Fatalf("insert: %d %s", code, body)
	}
	code, body = post(t, url, "", `{"sql": "SELECT ts, v, v * 1.5 AS f, v IS NULL AS n, 'x''y' AS s FROM t ORDER BY ts"}`)
	var got, want any
	json.Unmarshal([]byte(body), &got)
	json.Unmarshal([]byte(`{"columns":[{"name":"ts","type":"timestamp with time zone"},{"name":"v","type":"bigint"},
		{"name":"f","type":"numeric"},{"name":"n","type":"boolean"},{"name":"s","type":"text"}],
		"rows":[["2026-11-20 10:00:00+00",1,1.5,false,"x'y"],["2026-11-20 10:00:01+00",null,null,true,"x'y"]],
		"command":"SELECT 2"}`), &want)
	if code != 200 || !jsonEqual(got, want) {
		t.Fatalf("select: %d %s", code, body)
	}
	code, body = post(t, url, "text/csv", `{"sql": "SELECT v, v IS NULL AS n FROM t ORDER BY ts"}`)
	if code != 200 || body != "v,n\n1,f\n,t\n" {
		t.Fatalf("csv: %d %q", code, body)
	}
	code, body = post(t, url, "", `{"sql": "SELECT nope FROM t"}`)
	if code != 400 || !strings.Contains(body, `"code":"42703"`) || !strings.Contains(body, `"position":8`) {
		t.Fatalf("unknown column: %d %s", code, body)
	}
	code, body = post(t, url, "", `{"sql": "SELECT 1; SELECT 2"}`)
	if code != 400 || !strings.Contains(body, `"code":"42601"`) {
		t.Fatalf("two statements: %d %s", code, body)
	}
	code, body = post(t, url, "", `{"sql": `)
	if code != 400 || !strings.Contains(body, `"code":"08P01"`) {
		t.Fatalf("bad JSON: %d %s", code, body)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
