package hba

import (
	"net"
	"strings"
	"testing"
)

const sample = `
# comment line
local   all        postgres                      trust
host    all        rejectme     127.0.0.1/32     reject
host    sales,"all"  alice,"+bob"  10.0.0.0/8    scram-sha-256   # names, quoted keywords
hostssl all        +analysts    192.168.1.0 255.255.255.0  password
hostnossl sameuser all          172.16.0.0/12    trust
host    samerole   all          172.16.0.0/12    md5
host    all        all          samehost         trust
hostgssenc all     all          all              trust
hostssl all        all          all              gss include_realm=0 krb_realm=EXAMPLE.COM
host    all        all          ::1/128          trust
host    all        all          2001:db8::/32    reject
host    "my db"    carol \
                                all              scram-sha-256
`

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"hots all all all trust", `invalid connection type "hots"`},
		{"host all all", "end-of-line before IP address specification"},
		{"host all all all", "end-of-line before authentication method specification"},
		{"host all all 10.0.0.1/8 trust", "host bits are set (did you mean 10.0.0.0/8?)"},
		{"host all all db.example.com trust", "host names are not supported"},
		{"host all all 10.0.0.0 trust", `invalid IP mask "trust"`},
		{"host all all 10.0.0.0 255.0.255.0 trust", "not a contiguous prefix"},
		{"host all all all ldap", `authentication method "ldap" is not supported by strata`},
		{"host all all all magic", `invalid authentication method "magic"`},
		{"host all all all scram-sha-256 include_realm=0", `"include_realm" is only valid for authentication methods gss`},
		{"host all all all gss include_realm=2", "invalid value for include_realm"},
		{"host all all all gss map=krb", `authentication option "map" is not supported by strata`},
		{"hostssl all all all scram-sha-256 clientcert=verify-full", `"clientcert" is not supported`},
		{"host all all all gss frob=1", `unrecognized authentication option name: "frob"`},
		{"host all all all trust x", "not in name=value format"},
		{"host @dbs all all trust", "file inclusion"},
		{`host "all all all trust`, "unterminated quoted string"},
		{"host all, all all trust", `invalid IP address "trust"`}, // "all, all" is one list
		{"host all all all, trust", "multiple values specified for IP address"},
		{"host a,b all all,samehost trust", "multiple values specified for IP address"},
		{"host all all all trust,reject", "multiple values specified for authentication method"},
		{"host all + all trust", `"+" must be followed by a role name`},
	} {
		_, err := Parse(strings.NewReader("# first\n"+tc.text+"\n"), "hba.conf")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `line 2 of configuration file "hba.conf"`) {
			t.Errorf("%q: error %v, want %q at line 2", tc.text, err, tc.want)
		}
	}
}

func TestMatch(t *testing.T) {
	rs, err := Parse(strings.NewReader(sample), "hba.conf")
	if err != nil {
		t.Fatal(err)
	}
	interfaceAddrs = func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: net.ParseIP("203.0.113.7"), Mask: net.CIDRMask(24, 32)}}, nil
	}
	defer func() { interfaceAddrs = net.InterfaceAddrs }()
	member := func(role, group string) bool {
		return role == "dana" && group == "analysts" || role == "erin" && group == "reports"
	}
	for _, tc := range []struct {
		addr      string
		tls       bool
		user, db  string
		wantLine  int // 0: no rule
		wantMeth  Method
		wantRealm string
	}{
		{"127.0.0.1", false, "rejectme", "x", 4, Reject, ""},
		{"10.1.2.3", false, "alice", "sales", 5, SCRAM, ""},
		{"10.1.2.3", false, "alice", "all", 5, SCRAM, ""},   // "all" quoted: a database named all
		{"10.1.2.3", false, "alice", "other", 0, "", ""},    // neither sales nor "all"
		{"10.1.2.3", false, "+bob", "sales", 5, SCRAM, ""},  // a role literally named +bob
		{"10.1.2.3", false, "bob", "sales", 0, "", ""},      // "+bob" quoted is not a group
		{"192.168.1.9", true, "dana", "x", 6, Password, ""}, // member of analysts
		{"192.168.1.9", true, "analysts", "x", 6, Password, ""},
		{"192.168.1.9", false, "dana", "x", 0, "", ""}, // hostssl needs TLS; nothing else matches
		{"192.168.2.9", true, "dana", "x", 11, GSS, "EXAMPLE.COM"},
		{"172.16.5.5", false, "frank", "frank", 7, Trust, ""}, // hostnossl + sameuser
		{"172.16.5.5", true, "frank", "frank", 8, MD5, ""},    // samerole: frank is a member of frank
		{"172.16.5.5", true, "frank", "other", 11, GSS, "EXAMPLE.COM"},
		{"172.16.5.5", false, "erin", "reports", 8, MD5, ""}, // samerole
		{"172.16.5.5", false, "erin", "sales", 0, "", ""},
		{"203.0.113.7", false, "x", "y", 9, Trust, ""}, // samehost
		{"203.0.113.8", false, "x", "y", 0, "", ""},    // same net, not same host
		{"::1", false, "x", "y", 12, Trust, ""},
		{"2001:db8::5", false, "x", "y", 13, Reject, ""},
		{"2001:db9::5", false, "carol", "my db", 14, SCRAM, ""},    // continued line, quoted name with a blank
		{"::ffff:10.1.2.3", false, "alice", "sales", 5, SCRAM, ""}, // IPv4-mapped is IPv4
	} {
		c := Conn{Addr: net.ParseIP(tc.addr), TLS: tc.tls, User: tc.user, Database: tc.db}
		r := rs.Match(c, member)
		switch {
		case tc.wantLine == 0 && r != nil:
			t.Errorf("%+v: matched line %d %q, want no rule", tc, r.Line, r.Text)
		case tc.wantLine != 0 && r == nil:
			t.Errorf("%+v: no rule, want line %d", tc, tc.wantLine)
		case r != nil && (r.Line != tc.wantLine || r.Method != tc.wantMeth || r.KrbRealm != tc.wantRealm):
			t.Errorf("%+v: line %d %s realm %q, want line %d %s %q", tc, r.Line, r.Method, r.KrbRealm, tc.wantLine, tc.wantMeth, tc.wantRealm)
		}
	}
	if r := rs.Rules[8]; r.Method != GSS || r.IncludeRealm {
		t.Errorf("gss rule: %+v", r)
	}
}

func TestDefault(t *testing.T) {
	rs := Default()
	for _, tc := range []struct {
		addr string
		want Method
	}{
		{"127.0.0.1", Trust}, {"::1", Trust}, {"127.0.0.2", SCRAM}, {"10.0.0.1", SCRAM}, {"2001:db8::1", SCRAM},
	} {
		r := rs.Match(Conn{Addr: net.ParseIP(tc.addr), User: "strata", Database: "strata"}, nil)
		if r == nil || r.Method != tc.want {
			t.Errorf("%s: %+v, want %s", tc.addr, r, tc.want)
		}
	}
}

func TestMessages(t *testing.T) {
	c := Conn{Addr: net.ParseIP("10.0.0.1"), User: "bob", Database: "db"}
	// PostgreSQL 15.18's words, as psql printed them.
	if got := NoEntry(c); got != `no pg_hba.conf entry for host "10.0.0.1", user "bob", database "db", no encryption` {
		t.Error(got)
	}
	c.TLS = true
	if got := Rejected(c); got != `pg_hba.conf rejects connection for host "10.0.0.1", user "bob", database "db", SSL encryption` {
		t.Error(got)
	}
}

func TestEmptyFileRefusesAll(t *testing.T) {
	rs, err := Parse(strings.NewReader("# nothing\n\n"), "empty")
	if err != nil {
		t.Fatal(err)
	}
	if r := rs.Match(Conn{Addr: net.ParseIP("127.0.0.1"), User: "strata", Database: "strata"}, nil); r != nil {
		t.Errorf("empty file matched %+v", r)
	}
}
