// Package krbtest starts a private MIT Kerberos KDC on loopback for tests of
// strata's GSSAPI (Kerberos) authentication: a realm of its own in a temporary
// directory (krb5.conf, kdc.conf, a fresh database), principals added with
// kadmin.local, keytabs written with ktadd, tickets got with the real kinit and
// kvno, so what strata accepts was issued by the same KDC software a deployment
// runs (Debian's krb5-kdc, krb5-admin-server and krb5-user packages).
//
// Policy (as internal/pgtest): when a program is missing the test fails if
// CI=true and is skipped with the install command otherwise.
//
// The KDC is stopped and its directory removed when the test ends. Commands run
// with KRB5_CONFIG, KRB5_KDC_PROFILE and KRB5CCNAME pointing into that
// directory (see Env), never at the machine's own configuration or cache.
package krbtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Realm is the realm every test KDC serves.
const Realm = "STRATA.TEST"

const install = "apt-get install -y krb5-kdc krb5-admin-server krb5-user (or run .ci/install-deps)"

// Programs are the outside programs a KDC test needs.
var Programs = []string{"krb5kdc", "kdb5_util", "kadmin.local", "kinit", "kvno", "klist", "kdestroy"}

// Need fails (CI=true) or skips the test when a program is missing.
func Need(t testing.TB, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err == nil {
			continue
		}
		msg := fmt.Sprintf("%s not found: install it with %s", p, install)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// KDC is a running private KDC for Realm.
type KDC struct {
	Dir    string // the temporary directory holding everything below
	Config string // krb5.conf for clients (and strata: gokrb5 does not read it)
	Port   int    // the KDC's TCP and UDP port on 127.0.0.1

	profile string // kdc.conf
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Start creates a realm and starts its KDC, stopped when the test ends.
func Start(t testing.TB) *KDC {
	t.Helper()
	Need(t, Programs...)
	dir := t.TempDir()
	k := &KDC{Dir: dir, Config: filepath.Join(dir, "krb5.conf"), profile: filepath.Join(dir, "kdc.conf")}
	var lastErr error
	// The port is picked free and then given to krb5kdc, so another process can
	// take it in between; try a few.
	for attempt := 0; attempt < 5; attempt++ {
		k.Port = freePort()
		if err := k.writeConfig(); err != nil {
			t.Fatal(err)
		}
		if attempt == 0 {
			if out, err := k.run(nil, "kdb5_util", "create", "-s", "-r", Realm, "-P", "master-"+Realm); err != nil {
				t.Fatalf("kdb5_util create: %v\n%s", err, out)
			}
		}
		if lastErr = k.startKDC(); lastErr == nil {
			t.Cleanup(k.stop)
			return k
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "kdc.log"))
	t.Fatalf("start krb5kdc: %v\n%s", lastErr, log)
	return nil
}

func (k *KDC) writeConfig() error {
	// dns_canonicalize_hostname and rdns off: "localhost" stays "localhost" in
	// the service principal libpq asks for (postgres/localhost), as in the
	// keytab. udp_preference_limit = 1: clients talk TCP, which the KDC is
	// known to be listening on once its port accepts connections.
	krb5 := fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_realm = false
	dns_lookup_kdc = false
	dns_canonicalize_hostname = false
	rdns = false
	noaddresses = true
	udp_preference_limit = 1
	default_ccache_name = FILE:%[3]s/ccache
[realms]
	%[1]s = {
		kdc = 127.0.0.1:%[2]d
	}
[domain_realm]
	localhost = %[1]s
`, Realm, k.Port, k.Dir)
	kdc := fmt.Sprintf(`[kdcdefaults]
	kdc_listen = 127.0.0.1:%[2]d
	kdc_tcp_listen = 127.0.0.1:%[2]d
[realms]
	%[1]s = {
		database_name = %[3]s/principal
		key_stash_file = %[3]s/stash
		acl_file = %[3]s/kadm5.acl
		max_life = 10h
		max_renewable_life = 1d
	}
[logging]
	kdc = FILE:%[3]s/kdc.log
	default = FILE:%[3]s/kdc.log
`, Realm, k.Port, k.Dir)
	if err := os.WriteFile(k.Config, []byte(krb5), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(k.Dir, "kadm5.acl"), nil, 0o600); err != nil {
		return err
	}
	return os.WriteFile(k.profile, []byte(kdc), 0o600)
}

func (k *KDC) startKDC() error {
	// -n: stay in the foreground, so the process is ours to stop.
	cmd := exec.Command("krb5kdc", "-n", "-r", Realm)
	cmd.Env = k.Env("")
	cmd.Dir = k.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("krb5kdc exited: %s", out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", k.Port), 200*time.Millisecond); err == nil {
			c.Close()
			k.cmd, k.exited = cmd, exited
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	return fmt.Errorf("krb5kdc did not listen on port %d: %s", k.Port, out.String())
}

func (k *KDC) stop() {
	if k.cmd == nil {
		return
	}
	k.cmd.Process.Signal(os.Interrupt)
	select {
	case <-k.exited:
	case <-time.After(5 * time.Second):
		k.cmd.Process.Kill()
		<-k.exited
	}
}

// Env returns the environment for a Kerberos client or tool of this realm,
// with its credentials cache at ccache ("" for the realm's default cache).
func (k *KDC) Env(ccache string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KRB5") {
			env = append(env, kv)
		}
	}
	if ccache == "" {
		ccache = filepath.Join(k.Dir, "ccache")
	}
	return append(env, "KRB5_CONFIG="+k.Config, "KRB5_KDC_PROFILE="+k.profile, "KRB5CCNAME=FILE:"+ccache)
}

func (k *KDC) run(stdin []byte, prog string, args ...string) ([]byte, error) {
	return k.runIn("", stdin, prog, args...)
}

func (k *KDC) runIn(ccache string, stdin []byte, prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(prog, args...)
	cmd.Env = k.Env(ccache)
	cmd.Dir = k.Dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	return cmd.CombinedOutput()
}

// Kadmin runs one kadmin.local query against the realm's database.
func (k *KDC) Kadmin(t testing.TB, query string) string {
	t.Helper()
	cmd := exec.Command("kadmin.local", "-r", Realm, "-q", query)
	cmd.Env = k.Env("")
	cmd.Dir = k.Dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// kadmin.local exits 0 when a query fails; it says so on stderr, where the
	// only other line is the note that a new principal has no policy.
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" && !strings.HasPrefix(line, "No policy specified") {
			err = fmt.Errorf("%s", line)
		}
	}
	if err != nil {
		t.Fatalf("kadmin.local -q %q: %v\n%s%s", query, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// AddUser adds the principal name@Realm with a password.
func (k *KDC) AddUser(t testing.TB, name, password string) {
	t.Helper()
	k.Kadmin(t, fmt.Sprintf("addprinc -pw %s %s", password, name))
}

// AddService adds the principal name@Realm (e.g. "postgres/localhost") with a
// random key and writes its keys to a new keytab file, whose path it returns.
func (k *KDC) AddService(t testing.TB, name string) string {
	t.Helper()
	k.Kadmin(t, "addprinc -randkey "+name)
	return k.Keytab(t, name)
}

// Keytab writes the current keys of the principals names to a new keytab file.
// ktadd gives each principal new random keys (its kvno goes up by one), so a
// keytab written earlier no longer opens tickets issued after this call.
func (k *KDC) Keytab(t testing.TB, names ...string) string {
	t.Helper()
	f, err := os.CreateTemp(k.Dir, "keytab-")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Remove(f.Name()) // ktadd appends to a keytab file; it must not exist as an empty file
	k.Kadmin(t, fmt.Sprintf("ktadd -k %s %s", f.Name(), strings.Join(names, " ")))
	return f.Name()
}

// Kinit gets a ticket-granting ticket for name@Realm with the real kinit into
// a new credentials cache, whose path it returns. args go before the name
// (e.g. "-l", "5s" for a ticket that expires in five seconds).
func (k *KDC) Kinit(t testing.TB, name, password string, args ...string) string {
	t.Helper()
	f, err := os.CreateTemp(k.Dir, "ccache-")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	ccache := f.Name()
	out, err := k.runIn(ccache, []byte(password+"\n"), "kinit", append(args, name)...)
	if err != nil {
		t.Fatalf("kinit %s: %v\n%s", name, err, out)
	}
	return ccache
}

// Kvno gets a service ticket for service (e.g. "postgres/localhost") into the
// credentials cache ccache with the real kvno, as a GSSAPI client would.
func (k *KDC) Kvno(t testing.TB, ccache, service string) {
	t.Helper()
	if out, err := k.runIn(ccache, nil, "kvno", service); err != nil {
		t.Fatalf("kvno %s: %v\n%s", service, err, out)
	}
}

// Log returns what the KDC has logged so far (for test failure messages).
func (k *KDC) Log() string {
	b, _ := os.ReadFile(filepath.Join(k.Dir, "kdc.log"))
	return string(b)
}

func freePort() int {
	// The KDC listens on TCP and UDP; find a port free in both.
	for i := 0; i < 20; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			continue
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return port
	}
	return 56000 + int(time.Now().UnixNano()%1000)
}
