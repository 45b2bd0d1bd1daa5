package hba

import (
	"fmt"
	"net"
)

// Conn is what a rule is matched against: one client's connection attempt.
type Conn struct {
	Addr     net.IP // the client's address
	TLS      bool   // the connection is encrypted with TLS
	User     string // the role name the client asks for
	Database string
}

// Membership reports whether role is a member of group, directly or through
// other roles. nil means no role belongs to another: +group then matches only
// the role named group, which is a member of itself as in PostgreSQL.
type Membership func(role, group string) bool

// interfaceAddrs lists this machine's addresses (samehost, samenet); tests
// replace it.
var interfaceAddrs = net.InterfaceAddrs

// Match returns the first rule that governs c, or nil when none does (the
// connection must then be refused with NoEntry).
func (rs *Rules) Match(c Conn, member Membership) *Rule {
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.matches(c, member) {
			return r
		}
	}
	return nil
}

func (r *Rule) matches(c Conn, member Membership) bool {
	switch r.Type {
	case Local, HostGSSEnc:
		return false
	case HostSSL:
		if !c.TLS {
			return false
		}
	case HostNoSSL:
		if c.TLS {
			return false
		}
	}
	return r.Addr.contains(c.Addr) && r.matchDatabase(c, member) && r.matchUser(c, member)
}

func (r *Rule) matchDatabase(c Conn, member Membership) bool {
	for _, t := range r.Databases {
		switch {
		case t.keyword("all"):
			return true
		case t.keyword("sameuser"):
			if c.Database == c.User {
				return true
			}
		case t.keyword("samerole"), t.keyword("samegroup"):
			if isMember(member, c.User, c.Database) {
				return true
			}
		case t.keyword("replication"):
			// strata serves no replication connections
		case t.S == c.Database:
			return true
		}
	}
	return false
}

func (r *Rule) matchUser(c Conn, member Membership) bool {
	for _, t := range r.Users {
		switch {
		case t.keyword("all"):
			return true
		case !t.Quoted && len(t.S) > 1 && t.S[0] == '+':
			if isMember(member, c.User, t.S[1:]) {
				return true
			}
		case t.S == c.User:
			return true
		}
	}
	return false
}

func isMember(member Membership, role, group string) bool {
	if role == group {
		return true
	}
	return member != nil && member(role, group)
}

func (a Address) contains(ip net.IP) bool {
	if ip == nil {
		return false
	}
	switch a.Kind {
	case AddrAll:
		return true
	case AddrNet:
		return sameFamily(a.Net.IP, ip) && a.Net.Contains(ip)
	case AddrSameHost, AddrSameNet:
		addrs, err := interfaceAddrs()
		if err != nil {
			return false
		}
		for _, ad := range addrs {
			n, ok := ad.(*net.IPNet)
			if !ok {
				continue
			}
			if a.Kind == AddrSameHost && n.IP.Equal(ip) {
				return true
			}
			if a.Kind == AddrSameNet && sameFamily(n.IP, ip) && n.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// sameFamily reports whether a and b are both IPv4 or both IPv6: an IPv4 rule
// never matches an IPv6 client and the other way round, as in PostgreSQL.
func sameFamily(a, b net.IP) bool {
	return (a.To4() == nil) == (b.To4() == nil)
}

// Encryption is how PostgreSQL 15 names a connection's encryption at the end of
// its authentication messages.
func (c Conn) Encryption() string {
	if c.TLS {
		return "SSL encryption"
	}
	return "no encryption"
}

// NoEntry is PostgreSQL's message (SQLSTATE 28000) for a connection no rule matches.
func NoEntry(c Conn) string {
	return fmt.Sprintf("no pg_hba.conf entry for host \"%s\", user \"%s\", database \"%s\", %s", c.Addr.String(), c.User, c.Database, c.Encryption())
}

// Rejected is PostgreSQL's message (SQLSTATE 28000) for a connection a reject
// rule matches.
func Rejected(c Conn) string {
	return fmt.Sprintf("pg_hba.conf rejects connection for host \"%s\", user \"%s\", database \"%s\", %s", c.Addr.String(), c.User, c.Database, c.Encryption())
}

// Where names the rule for logs: file and line, or "built-in rule N".
func (r *Rule) Where() string {
	if r.File == "" {
		return fmt.Sprintf("built-in rule %q", r.Text)
	}
	return fmt.Sprintf("%s:%d", r.File, r.Line)
}
