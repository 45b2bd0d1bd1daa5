package http

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/internal/pgscram"
	"github.com/stratadb/strata/server/hba"
	"github.com/stratadb/strata/sql"
)

type fakeRoles map[string]sql.RoleAuth

func (r fakeRoles) RoleAuth(name string) (sql.RoleAuth, bool) { ra, ok := r[name]; return ra, ok }

func testRoles(t *testing.T) fakeRoles {
	v := func(pw string) string {
		s, err := pgscram.Verifier(pw)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return fakeRoles{
		"strata": {Name: "strata", Login: true, Superuser: true},
		"alice":  {Name: "alice", Login: true, Verifier: v("alice-pw")},
		"bob":    {Name: "bob", Verifier: v("bob-pw")},
		"old":    {Name: "old", Login: true, Verifier: v("old-pw"), ValidUntil: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
}

func rules(t *testing.T, text string) *hba.Rules {
	t.Helper()
	rs, err := hba.Parse(strings.NewReader(text), "test_hba.conf")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// request runs one request through h as if it came from remote (host:port),
// over TLS when tls is set; user "" sends no credentials.
func request(t *testing.T, h http.Handler, method, path, remote string, overTLS bool, user, password, contentType, body string) (int, string, http.Header) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = remote
	if overTLS {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	if user != "" {
		r.SetBasicAuth(user, password)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String(), w.Header()
}

const selectOne = `{"sql": "SELECT 1 AS one"}`

// TestHTTPAuthDefaultRules: with the built-in rules a request from 127.0.0.1
// needs no credentials (as before), one from anywhere else needs a password,
// and a password sent in the clear from a non-loopback address is refused
// before it is looked at. On main every request ran as a superuser.
func TestHTTPAuthDefaultRules(t *testing.T) {
	st := testStore(t)
	h := Handler(Config{Store: st, DB: sql.Open(st, sql.Options{}), Roles: testRoles(t)})
	post := func(remote string, overTLS bool, user, pw string) (int, string, http.Header) {
		return request(t, h, "POST", "/v1/sql", remote, overTLS, user, pw, "application/json", selectOne)
	}
	if code, body, _ := post("127.0.0.1:5000", false, "", ""); code != 200 {
		t.Errorf("loopback trust: %d %s", code, body)
	}
	code, body, hdr := post("10.1.2.3:5000", true, "", "")
	if code != 401 || !strings.Contains(body, `"code":"28P01"`) || !strings.Contains(body, `password authentication failed for user \"strata\"`) ||
		!strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("remote, no credentials: %d %s %v", code, body, hdr)
	}
	if code, body, _ := post("10.1.2.3:5000", true, "alice", "alice-pw"); code != 200 || !strings.Contains(body, `"rows":[[1]]`) {
		t.Errorf("remote over HTTPS, right password: %d %s", code, body)
	}
	code, body, _ = post("10.1.2.3:5000", false, "alice", "alice-pw")
	if code != 403 || !strings.Contains(body, `"code":"28000"`) || !strings.Contains(body, "requires HTTPS") {
		t.Errorf("remote over plain HTTP with a password: %d %s", code, body)
	}
	if code, body, _ := post("[::1]:5000", false, "", ""); code != 200 {
		t.Errorf("::1 trust: %d %s", code, body)
	}
}

// TestHTTPAuthFailures: every password failure answers the same 401 and body.
func TestHTTPAuthFailures(t *testing.T) {
	st := testStore(t)
	h := Handler(Config{Store: st, DB: sql.Open(st, sql.Options{}), Roles: testRoles(t),
		HBA: rules(t, "host all all 127.0.0.0/8 scram-sha-256\n")})
	post := func(user, pw string) (int, string) {
		code, body, _ := request(t, h, "POST", "/v1/sql", "127.0.0.1:5000", false, user, pw, "application/json", selectOne)
		return code, body
	}
	if code, body := post("alice", "alice-pw"); code != 200 {
		t.Fatalf("right password: %d %s", code, body)
	}
	for _, tc := range []struct{ what, user, pw string }{
		{"wrong password", "alice", "nope"},
		{"unknown role", "mallory", "alice-pw"},
		{"no password (strata has none)", "strata", ""},
		{"expired", "old", "old-pw"},
		{"no credentials", "", ""},
	} {
		code, body := post(tc.user, tc.pw)
		name := tc.user
		if name == "" {
			name = "strata"
		}
		want := `{"error":{"code":"28P01","message":"password authentication failed for user \"` + name + `\""}}`
		if code != 401 || strings.TrimSpace(body) != want {
			t.Errorf("%s: %d %s, want 401 %s", tc.what, code, body, want)
		}
	}
	if code, body := post("bob", "bob-pw"); code != 403 || !strings.Contains(body, `role \"bob\" is not permitted to log in`) {
		t.Errorf("NOLOGIN: %d %s", code, body)
	}
}

// TestHTTPAuthRules: reject, no matching rule, password (HTTPS only) and gss.
func TestHTTPAuthRules(t *testing.T) {
	st := testStore(t)
	h := Handler(Config{Store: st, DB: sql.Open(st, sql.Options{}), Roles: testRoles(t), HBA: rules(t, `
host    all bob   all          reject
host    all alice 127.0.0.1/32 password
host    all all   127.0.0.2/32 gss
hostssl all all   127.0.0.3/32 trust
`)})
	for _, tc := range []struct {
		what, remote   string
		tls            bool
		user, pw, want string
		code           int
	}{
		{"reject", "127.0.0.1:1", false, "bob", "bob-pw", `pg_hba.conf rejects connection for host \"127.0.0.1\", user \"bob\", database \"strata\", no encryption`, 403},
		{"password over plain HTTP", "127.0.0.1:1", false, "alice", "alice-pw", `password authentication for user \"alice\" over HTTP requires HTTPS`, 403},
		{"password over HTTPS", "127.0.0.1:1", true, "alice", "alice-pw", `"rows":[[1]]`, 200},
		{"gss", "127.0.0.2:1", true, "alice", "", `GSSAPI authentication failed for user \"alice\"`, 403},
		{"hostssl without TLS", "127.0.0.3:1", false, "", "", `no pg_hba.conf entry for host \"127.0.0.3\", user \"strata\", database \"strata\", no encryption`, 403},
		{"hostssl over TLS", "127.0.0.3:1", true, "", "", `"rows":[[1]]`, 200},
		{"trust, unknown role", "127.0.0.3:1", true, "ghost", "", `role \"ghost\" does not exist`, 403},
		{"no rule", "10.0.0.1:1", true, "", "", `no pg_hba.conf entry for host \"10.0.0.1\"`, 403},
	} {
		code, body, _ := request(t, h, "POST", "/v1/sql", tc.remote, tc.tls, tc.user, tc.pw, "application/json", selectOne)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d %s", tc.what, code, body, tc.code, tc.want)
		}
	}
}

// TestHTTPSQLOnlyJSON: a body a browser page may send without asking (text/plain,
// a form) is refused with 415, even from loopback under trust. On main a
// text/plain body ran as a statement.
func TestHTTPSQLOnlyJSON(t *testing.T) {
	st := testStore(t)
	h := Handler(Config{Store: st, DB: sql.Open(st, sql.Options{}), Roles: testRoles(t)})
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		code, body, _ := request(t, h, "POST", "/v1/sql", "127.0.0.1:1", false, "", "", ct, selectOne)
		if code != 415 || !strings.Contains(body, `"code":"0A000"`) {
			t.Errorf("Content-Type %q: %d %s", ct, code, body)
		}
	}
	if code, body, _ := request(t, h, "POST", "/v1/sql", "127.0.0.1:1", false, "", "", "application/json; charset=utf-8", selectOne); code != 200 {
		t.Errorf("JSON with charset: %d %s", code, body)
	}
	// The browser's preflight for a JSON POST gets no CORS permission.
	code, _, hdr := request(t, h, "OPTIONS", "/v1/sql", "127.0.0.1:1", false, "", "", "", "")
	if code == 200 || hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("OPTIONS: %d %v", code, hdr)
	}
}

// TestHTTPAuthAll: /healthz, /readyz and /metrics are open unless AuthAll.
func TestHTTPAuthAll(t *testing.T) {
	st := testStore(t)
	m := NewMetrics(Sources{Store: st})
	hbaRules := rules(t, "host all all all scram-sha-256\n")
	for _, all := range []bool{false, true} {
		h := Handler(Config{Store: st, Metrics: m, Roles: testRoles(t), HBA: hbaRules, AuthAll: all})
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			code, body, _ := request(t, h, "GET", path, "127.0.0.1:1", false, "", "", "", "")
			if want := map[bool]int{false: 200, true: 401}[all]; code != want {
				t.Errorf("AuthAll=%v %s without credentials: %d %s", all, path, code, body)
			}
			if code, body, _ := request(t, h, "GET", path, "127.0.0.1:1", false, "alice", "alice-pw", "", ""); code != 200 {
				t.Errorf("AuthAll=%v %s with credentials: %d %s", all, path, code, body)
			}
		}
	}
}

// TestHTTPSBasicAuth: a real HTTPS server and client, Basic credentials from
// an address the rules give no trust.
func TestHTTPSBasicAuth(t *testing.T) {
	st := testStore(t)
	srv := httptest.NewTLSServer(Handler(Config{Store: st, DB: sql.Open(st, sql.Options{}), Roles: testRoles(t),
		HBA: rules(t, "hostssl all all 127.0.0.1/32 scram-sha-256\n")}))
	defer srv.Close()
	client := srv.Client()
	tr := client.Transport.(*http.Transport)
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}).DialContext(ctx, network, addr)
	}
	do := func(user, pw string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/sql", strings.NewReader(selectOne))
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := do("alice", "alice-pw"); c != 200 {
		t.Errorf("right password: %d", c)
	}
	if c := do("alice", "x"); c != 401 {
		t.Errorf("wrong password: %d", c)
	}
	if c := do("", ""); c != 401 {
		t.Errorf("no credentials: %d", c)
	}
}
