package http

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

func TestHealthAndReady(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	schema := storage.Schema{Columns: []storage.Column{{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true}}}
	if _, err := st.CreateTable(catalog.TableDef{Name: "t", Schema: schema}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(Config{Store: st}))
	defer srv.Close()
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready: 1 tables"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, resp.StatusCode, body, want)
		}
	}
	resp, err := srv.Client().Post(srv.URL+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST /healthz = %d, want 405", resp.StatusCode)
	}
}
