// Package hba reads host-based authentication rules in PostgreSQL's pg_hba.conf
// syntax and picks the rule that governs a connection as PostgreSQL does: the
// first rule whose connection type, database, user and client address all match
// decides; when none matches the connection is refused.
//
// A file holds one rule per line (a line ending in a backslash continues on the
// next); '#' starts a comment. Fields are separated by white space; a field may be
// a comma-separated list, and double quotes keep spaces, commas and '#' and take a
// keyword's special meaning away ("all" is a role named all):
//
//	TYPE      DATABASE        USER        ADDRESS            METHOD          [OPTIONS]
//	host      all             all         127.0.0.1/32       trust
//	hostssl   sales,"my db"   +analysts   10.0.0.0/8         scram-sha-256
//	host      all             all         192.168.1.0 255.255.255.0  reject
//	hostssl   all             all         all                gss   include_realm=0 krb_realm=EXAMPLE.COM
//
// TYPE is host (TLS or not), hostssl (TLS only), hostnossl (plain only),
// hostgssenc (never matches: strata declines GSSAPI encryption), hostnogssenc
// (as host) or local (kept for files copied from PostgreSQL, never matches:
// strata has no Unix-domain socket). DATABASE is all, sameuser, samerole (the
// user is a member of the role named like the database), replication (never
// matches) or names. USER is all, names, or +role for the members of a role.
// ADDRESS is a CIDR block, an address and a separate mask, all, samehost (any
// address of this machine) or samenet (any subnet this machine is on). METHOD is
// trust, reject, scram-sha-256, md5 (runs SCRAM-SHA-256, as PostgreSQL does for a
// role whose password is a SCRAM verifier), password (cleartext; the wire layers
// refuse it on connections without TLS) or gss (options include_realm, default 1,
// and krb_realm). Everything else PostgreSQL accepts (host names, @file lists,
// ident maps, ldap, cert, clientcert=...) is refused when the file is read, so a
// rule never means less than it says.
package hba

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// ConnType is a rule's first field.
type ConnType uint8

const (
	Local        ConnType = iota // never matches
	Host                         // TLS or not
	HostSSL                      // TLS only
	HostNoSSL                    // without TLS only
	HostGSSEnc                   // never matches: GSSAPI encryption is always declined
	HostNoGSSEnc                 // as Host
)

var connTypes = map[string]ConnType{
	"local": Local, "host": Host, "hostssl": HostSSL, "hostnossl": HostNoSSL,
	"hostgssenc": HostGSSEnc, "hostnogssenc": HostNoGSSEnc,
}

func (t ConnType) String() string {
	for name, v := range connTypes {
		if v == t {
			return name
		}
	}
	return fmt.Sprintf("ConnType(%d)", uint8(t))
}

// Method is how a matching rule authenticates.
type Method string

const (
	Trust    Method = "trust"
	Reject   Method = "reject"
	SCRAM    Method = "scram-sha-256"
	MD5      Method = "md5" // SCRAM-SHA-256: strata keeps only SCRAM verifiers
	Password Method = "password"
	GSS      Method = "gss"
)

// PostgreSQL's other methods, refused with a clearer message than "invalid".
var unsupportedMethods = map[string]bool{
	"ident": true, "peer": true, "ldap": true, "radius": true, "cert": true,
	"pam": true, "bsd": true, "sspi": true,
}

// Rule is one line of the file.
type Rule struct {
	File string // the file's name as given ("" for built-in rules)
	Line int    // 1-based line number of the rule's first line
	Text string // the line as written, for logs

	Type      ConnType
	Databases []Token
	Users     []Token
	Addr      Address // zero for local
	Method    Method

	// IncludeRealm (gss) keeps "@REALM" in the role name taken from the
	// principal; PostgreSQL's default is 1 (true).
	IncludeRealm bool
	// KrbRealm (gss), when set, is the only realm whose principals are accepted.
	KrbRealm string
}

// Token is one element of a DATABASE or USER list. A quoted token is a plain
// name even when it spells a keyword.
type Token struct {
	S      string
	Quoted bool
}

func (t Token) keyword(k string) bool { return !t.Quoted && t.S == k }

// AddrKind says how an Address matches.
type AddrKind uint8

const (
	AddrNone     AddrKind = iota // local rules
	AddrAll                      // every address
	AddrSameHost                 // any address of this machine
	AddrSameNet                  // any address on a subnet of this machine
	AddrNet                      // Net
)

// Address is a rule's ADDRESS field (with its mask).
type Address struct {
	Kind AddrKind
	Net  *net.IPNet // AddrNet only
}

// Rules is a parsed file: its rules in order.
type Rules struct {
	Rules []Rule
}

// DefaultText is what strata runs without --hba-file: trust on loopback, so
// that `strata demo` is one command, and SCRAM-SHA-256 from everywhere else, so
// that listening on a public address is never open.
const DefaultText = `# strata's built-in rules (no --hba-file)
host all all 127.0.0.1/32 trust
host all all ::1/128      trust
host all all all          scram-sha-256
`

// Default returns the built-in rules (DefaultText).
func Default() *Rules {
	rs, err := Parse(strings.NewReader(DefaultText), "")
	if err != nil {
		panic("BUG: hba.DefaultText: " + err.Error())
	}
	return rs
}

// ParseFile reads the rules of a pg_hba.conf-style file.
func ParseFile(path string) (*Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads rules; name is the file's name in errors ("" for none). An empty
// file is valid and refuses every connection, as in PostgreSQL.
func Parse(r io.Reader, name string) (*Rules, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	rs := &Rules{}
	var errs []error
	lineNo := 0
	for sc.Scan() {
		lineNo++
		start := lineNo
		line := sc.Text()
		// A backslash at the end of a line (outside a comment) continues the rule.
		for strings.HasSuffix(line, `\`) && !strings.Contains(line, "#") && sc.Scan() {
			lineNo++
			line = line[:len(line)-1] + " " + sc.Text()
		}
		fields, err := tokenize(line)
		if err == nil && len(fields) > 0 {
			var rule Rule
			rule, err = parseRule(fields)
			rule.File, rule.Line, rule.Text = name, start, strings.TrimSpace(line)
			if err == nil {
				rs.Rules = append(rs.Rules, rule)
			}
		}
		if err != nil {
			where := fmt.Sprintf("line %d", start)
			if name != "" {
				where = fmt.Sprintf("line %d of configuration file %q", start, name)
			}
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

// tokenize splits a line into fields, each a list of tokens.
func tokenize(line string) ([][]Token, error) {
	var fields [][]Token
	var field []Token
	i := 0
	for {
		// skip blanks between tokens
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
			i++
		}
		if i >= len(line) || line[i] == '#' {
			break
		}
		var tok bytes.Buffer
		quoted, inQuote := false, false
		for i < len(line) {
			ch := line[i]
			if inQuote {
				if ch == '"' {
					inQuote = false
				} else {
					tok.WriteByte(ch)
				}
				i++
				continue
			}
			if ch == ' ' || ch == '\t' || ch == '\r' || ch == ',' || ch == '#' {
				break
			}
			if ch == '"' {
				inQuote, quoted = true, true
				i++
				continue
			}
			tok.WriteByte(ch)
			i++
		}
		if inQuote {
			return nil, errors.New("unterminated quoted string")
		}
		field = append(field, Token{S: tok.String(), Quoted: quoted})
		if i < len(line) && line[i] == ',' {
			i++ // the list goes on in the next token, even after blanks
			continue
		}
		fields = append(fields, field)
		field = nil
	}
	if field != nil {
		return nil, errors.New("list ends with a comma")
	}
	return fields, nil
}

func parseRule(fields [][]Token) (Rule, error) {
	var r Rule
	next := func(what string) ([]Token, error) {
		if len(fields) == 0 {
			return nil, fmt.Errorf("end-of-line before %s specification", what)
		}
		f := fields[0]
		fields = fields[1:]
		return f, nil
	}
	single := func(f []Token, what string) (Token, error) {
		if len(f) != 1 {
			return Token{}, fmt.Errorf("multiple values specified for %s", what)
		}
		return f[0], nil
	}

	f, _ := next("connection type")
	tt, err := single(f, "connection type")
	if err != nil {
		return r, err
	}
	ct, ok := connTypes[tt.S]
	if !ok || tt.Quoted {
		return r, fmt.Errorf("invalid connection type %q", tt.S)
	}
	r.Type = ct

	if r.Databases, err = next("database"); err != nil {
		return r, err
	}
	if r.Users, err = next("role"); err != nil {
		return r, err
	}
	for _, list := range [][]Token{r.Databases, r.Users} {
		for _, t := range list {
			if !t.Quoted && strings.HasPrefix(t.S, "@") {
				return r, fmt.Errorf("file inclusion %q is not supported by strata; list the names in the rule", t.S)
			}
			if !t.Quoted && strings.HasPrefix(t.S, "/") {
				return r, fmt.Errorf("regular expression %q is not supported by strata; list the names in the rule", t.S)
			}
		}
	}
	for _, t := range r.Users {
		if t.keyword("+") {
			return r, errors.New(`"+" must be followed by a role name`)
		}
	}

	if r.Type != Local {
		f, err := next("IP address")
		if err != nil {
			return r, err
		}
		at, err := single(f, "IP address")
		if err != nil {
			return r, err
		}
		if r.Addr, err = parseAddress(at, func() ([]Token, bool) {
			if len(fields) == 0 {
				return nil, false
			}
			m := fields[0]
			fields = fields[1:]
			return m, true
		}); err != nil {
			return r, err
		}
	}

	f, err = next("authentication method")
	if err != nil {
		return r, err
	}
	mt, err := single(f, "authentication method")
	if err != nil {
		return r, err
	}
	switch m := Method(mt.S); {
	case m == Trust || m == Reject || m == SCRAM || m == MD5 || m == Password || m == GSS:
		r.Method = m
	case unsupportedMethods[mt.S]:
		return r, fmt.Errorf("authentication method %q is not supported by strata (trust, reject, scram-sha-256, md5, password and gss are)", mt.S)
	default:
		return r, fmt.Errorf("invalid authentication method %q", mt.S)
	}
	if r.Method == GSS && r.Type == Local {
		return r, errors.New("gssapi authentication is not supported on local sockets")
	}

	r.IncludeRealm = true
	for _, f := range fields {
		for _, t := range f {
			name, value, ok := strings.Cut(t.S, "=")
			if !ok {
				return r, fmt.Errorf("authentication option not in name=value format: %s", t.S)
			}
			switch name {
			case "include_realm":
				if r.Method != GSS {
					return r, fmt.Errorf("authentication option %q is only valid for authentication methods gss, sspi", name)
				}
				switch value {
				case "1":
					r.IncludeRealm = true
				case "0":
					r.IncludeRealm = false
				default:
					return r, fmt.Errorf("invalid value for include_realm: %q (0 or 1)", value)
				}
			case "krb_realm":
				if r.Method != GSS {
					return r, fmt.Errorf("authentication option %q is only valid for authentication methods gss, sspi", name)
				}
				r.KrbRealm = value
			case "map", "clientcert", "clientname", "compat_realm", "upn_username", "krb_caseins_users",
				"ldapserver", "ldapport", "ldapbasedn", "ldapbinddn", "ldapbindpasswd", "ldapsearchattribute",
				"ldapsearchfilter", "ldapprefix", "ldapsuffix", "ldaptls", "ldapscheme", "ldapurl", "pamservice",
				"pam_use_hostname", "radiusservers", "radiussecrets", "radiusidentifiers", "radiusports":
				return r, fmt.Errorf("authentication option %q is not supported by strata", name)
			default:
				return r, fmt.Errorf("unrecognized authentication option name: %q", name)
			}
		}
	}
	return r, nil
}

// parseAddress reads the ADDRESS field; mask takes the next field when the
// address is an IP address without a prefix length.
func parseAddress(t Token, mask func() ([]Token, bool)) (Address, error) {
	if !t.Quoted {
		switch t.S {
		case "all":
			return Address{Kind: AddrAll}, nil
		case "samehost":
			return Address{Kind: AddrSameHost}, nil
		case "samenet":
			return Address{Kind: AddrSameNet}, nil
		}
	}
	if strings.Contains(t.S, "/") {
		ip, n, err := net.ParseCIDR(t.S)
		if err != nil {
			return Address{}, fmt.Errorf("invalid IP address %q: %v", t.S, err)
		}
		if !ip.Equal(n.IP) {
			// PostgreSQL masks the host bits silently; say what the rule means.
			return Address{}, fmt.Errorf("invalid CIDR %q: host bits are set (did you mean %s?)", t.S, n)
		}
		return Address{Kind: AddrNet, Net: n}, nil
	}
	ip := net.ParseIP(t.S)
	if ip == nil {
		return Address{}, fmt.Errorf("invalid IP address %q: host names are not supported by strata; give an address, a CIDR block, all, samehost or samenet", t.S)
	}
	m, ok := mask()
	if !ok {
		return Address{}, fmt.Errorf("end-of-line before netmask specification")
	}
	if len(m) != 1 {
		return Address{}, errors.New("multiple values specified for netmask")
	}
	mip := net.ParseIP(m[0].S)
	if mip == nil {
		return Address{}, fmt.Errorf("invalid IP mask %q", m[0].S)
	}
	var mk net.IPMask
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
		if mip = mip.To4(); mip == nil {
			return Address{}, fmt.Errorf("IP address and mask do not match in %q", t.S)
		}
		mk = net.IPMask(mip)
	} else {
		if mip.To4() != nil {
			return Address{}, fmt.Errorf("IP address and mask do not match in %q", t.S)
		}
		mk = net.IPMask(mip.To16())
	}
	if ones, bits := mk.Size(); ones == 0 && bits == 0 {
		return Address{}, fmt.Errorf("invalid IP mask %q: not a contiguous prefix", m[0].S)
	}
	return Address{Kind: AddrNet, Net: &net.IPNet{IP: ip.Mask(mk), Mask: mk}}, nil
}
