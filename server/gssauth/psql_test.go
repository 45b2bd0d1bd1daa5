package gssauth

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/internal/krbtest"
	"github.com/stratadb/strata/internal/pgtest"
	"github.com/stratadb/strata/server/hba"
	"github.com/stratadb/strata/server/pgwire"
	"github.com/stratadb/strata/sql"
	"github.com/stratadb/strata/storage/store"
)

// These tests have libpq's own GSSAPI code (psql linked with MIT's
// libgssapi_krb5) log in to a pgwire.Server whose GSS acceptor is an
// Acceptor: libgssapi makes the initial context token from kinit's ticket and
// checks our AP-REP, which libpq asks for (GSS_C_MUTUAL_FLAG). cmd/strata runs
// the same against `strata serve --krb-keytab`.

// roles is the role catalog of these tests: alice may log in.
type roles map[string]bool

func (r roles) RoleAuth(name string) (sql.RoleAuth, bool) {
	if !r[name] {
		return sql.RoleAuth{}, false
	}
	return sql.RoleAuth{Name: name, Login: true}, true
}

// serve starts a pgwire.Server on 127.0.0.1 with a's keys and the hba rule
// "host all all 127.0.0.1/32 gss include_realm=0".
func serve(t *testing.T, a *Acceptor) (port int) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rules, err := hba.Parse(strings.NewReader("host all all 127.0.0.1/32 gss include_realm=0\n"), "pg_hba.conf")
	if err != nil {
		t.Fatal(err)
	}
	srv := pgwire.NewServer(pgwire.SQLBackend(sql.Open(st, sql.Options{})), pgwire.Options{
		HBA: rules, GSS: a, Roles: roles{"alice": true},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// psql connects to host localhost (the name libpq asks the KDC a
// postgres/<host> ticket for) at 127.0.0.1:port with the credentials cache
// ccache and prints current_user.
func psql(k *krbtest.KDC, port int, ccache string) (string, error) {
	conn := fmt.Sprintf("host=localhost hostaddr=127.0.0.1 port=%d user=alice dbname=strata krbsrvname=postgres gssencmode=disable sslmode=disable connect_timeout=10", port)
	cmd := exec.Command("psql", "-X", "-w", "-A", "-t", "-d", conn, "-c", "SELECT current_user")
	cmd.Env = k.Env(ccache)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// libpq with kinit's ticket logs in as alice: libgssapi accepted our AP-REP
// (psql stops with "GSSAPI continuation error: ... Mutual authentication
// failed" when the AP-REP does not repeat the authenticator's time).
func TestPsqlLogsIn(t *testing.T) {
	pgtest.Need(t, "psql", "PostgreSQL's client psql")
	r := newRealm(t)
	port := serve(t, load(t, r.keytab))
	out, err := psql(r.kdc, port, r.kdc.Kinit(t, alice, alicePw))
	if err != nil || out != "alice" {
		t.Fatalf("psql: %v\n%s\nKDC log:\n%s", err, out, r.kdc.Log())
	}
}

// A ticket for a key the server does not have (the service rekeyed after the
// server's keytab was written) is refused with 28000, and psql shows it.
func TestPsqlWrongKeyRefused(t *testing.T) {
	pgtest.Need(t, "psql", "PostgreSQL's client psql")
	r := newRealm(t)
	port := serve(t, load(t, r.keytab))
	r.kdc.Keytab(t, service) // kvno 3 at the KDC, kvno 2 in the server's keytab
	start := time.Now()
	out, err := psql(r.kdc, port, r.kdc.Kinit(t, alice, alicePw))
	if err == nil || !strings.Contains(out, `FATAL:  GSSAPI authentication failed for user "alice"`) {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refusal took %v", d)
	}
}
