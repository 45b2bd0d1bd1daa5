package pgwire

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// rawClient speaks the protocol message by message, for what drivers do not expose.
type rawClient struct {
	t  testing.TB
	c  net.Conn
	fe *pgproto3.Frontend
}

// newRawClient connects and runs startup up to the first ReadyForQuery.
func newRawClient(t testing.TB, c net.Conn) *rawClient {
	t.Helper()
	r := &rawClient{t: t, c: c, fe: pgproto3.NewFrontend(c, c)}
	r.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "strata", "database": "strata"}})
	for {
		if _, ok := r.recv().(*pgproto3.ReadyForQuery); ok {
			return r
		}
	}
}

func (r *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	r.t.Helper()
	for _, m := range msgs {
		r.fe.Send(m)
	}
	if err := r.fe.Flush(); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

func (r *rawClient) recv() pgproto3.BackendMessage {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := r.fe.Receive()
	if err != nil {
		r.t.Fatalf("receive: %v", err)
	}
	return m
}

// until collects a short text form of each message up to and including ReadyForQuery.
func (r *rawClient) until() string {
	r.t.Helper()
	var out []string
	for {
		m := r.recv()
		switch m := m.(type) {
		case *pgproto3.DataRow:
			var vals []string
			for _, v := range m.Values {
				if v == nil {
					vals = append(vals, "NULL")
				} else {
					vals = append(vals, string(v))
				}
			}
			out = append(out, "D("+strings.Join(vals, ",")+")")
		case *pgproto3.CommandComplete:
			out = append(out, "C("+string(m.CommandTag)+")")
		case *pgproto3.ErrorResponse:
			out = append(out, "E("+m.Code+")")
		case *pgproto3.ReadyForQuery:
			out = append(out, "Z("+string(m.TxStatus)+")")
			return strings.Join(out, " ")
		case *pgproto3.RowDescription:
			var f []string
			for _, d := range m.Fields {
				f = append(f, fmt.Sprintf("%s:%d:%d", d.Name, d.DataTypeOID, d.Format))
			}
			out = append(out, "T("+strings.Join(f, ",")+")")
		case *pgproto3.ParameterDescription:
			out = append(out, fmt.Sprintf("t%v", m.ParameterOIDs))
		default:
			name := fmt.Sprintf("%T", m)
			out = append(out, name[strings.LastIndexByte(name, '.')+1:])
		}
	}
}

func queryMsg(q string) *pgproto3.Query { return &pgproto3.Query{String: q} }

func TestExtendedProtocol(t *testing.T) {
	ts := startServer(t)
	c, err := net.Dial("tcp", ts.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := newRawClient(t, c)
	steps := []struct {
		name string
		msgs []pgproto3.FrontendMessage
		want string
	}{
		{"describe statement",
			[]pgproto3.FrontendMessage{&pgproto3.Parse{Name: "s1", Query: "select n from big"}, &pgproto3.Describe{ObjectType: 'S', Name: "s1"}, &pgproto3.Sync{}},
			"ParseComplete t[] T(n:20:0) Z(I)"},
		{"portal suspended and resumed",
			[]pgproto3.FrontendMessage{&pgproto3.Bind{DestinationPortal: "p1", PreparedStatement: "s1", ResultFormatCodes: []int16{0}},
				&pgproto3.Describe{ObjectType: 'P', Name: "p1"},
				&pgproto3.Execute{Portal: "p1", MaxRows: 2}, &pgproto3.Execute{Portal: "p1", MaxRows: 1}, &pgproto3.Sync{}},
			"BindComplete T(n:20:0) D(1) D(2) PortalSuspended D(3) PortalSuspended Z(I)"},
		{"portal gone after sync outside a transaction",
			[]pgproto3.FrontendMessage{&pgproto3.Execute{Portal: "p1"}, &pgproto3.Sync{}},
			"E(34000) Z(I)"},
		{"portal kept inside a transaction, across a batch boundary",
			[]pgproto3.FrontendMessage{queryMsg("begin"),
				&pgproto3.Bind{DestinationPortal: "p2", PreparedStatement: "s1", ResultFormatCodes: []int16{1}},
				&pgproto3.Execute{Portal: "p2", MaxRows: 999}, &pgproto3.Sync{}},
			"C(BEGIN) Z(T) BindComplete " + rowsText(1, 999, true) + " PortalSuspended Z(T)"},
		{"resume to the end",
			[]pgproto3.FrontendMessage{&pgproto3.Execute{Portal: "p2", MaxRows: 0}, &pgproto3.Execute{Portal: "p2", MaxRows: 0}, &pgproto3.Close{ObjectType: 'P', Name: "p2"}, &pgproto3.Sync{}, queryMsg("commit")},
			"<9001 rows> C(SELECT 9001) C(SELECT 0) CloseComplete Z(T) C(COMMIT) Z(I)"},
		{"parameters described, binary bind",
			[]pgproto3.FrontendMessage{&pgproto3.Parse{Query: echoQuery, ParameterOIDs: []uint32{0, 1043}}, &pgproto3.Describe{ObjectType: 'S'},
				&pgproto3.Bind{ParameterFormatCodes: []int16{1, 0, 1, 1, 1, 1, 1, 1},
					Parameters: [][]byte{{0, 0, 0, 0, 0, 0, 0, 5}, []byte("txt"), {0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, {1},
						{0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 1}, {0, 2, 0, 0, 0, 0, 0, 1, 0, 12, 0x0d, 0x80}, nil}},
				&pgproto3.Execute{}, &pgproto3.Sync{}},
			"ParseComplete t[20 1043 701 16 1184 1082 1700 23] T(p1:20:0,p2:25:0,p3:701:0,p4:16:0,p5:1184:0,p6:1082:0,p7:1700:0,p8:23:0) BindComplete " +
				"D(5,txt,1.5,t,2000-01-01 00:00:00+00,2000-01-02,12.3456,NULL) C(SELECT 1) Z(I)"},
		{"error skips to sync",
			[]pgproto3.FrontendMessage{&pgproto3.Bind{PreparedStatement: "nope"}, &pgproto3.Execute{}, &pgproto3.Parse{Query: "select 1"}, &pgproto3.Sync{}},
			"E(26000) Z(I)"},
		{"wrong parameter count",
			[]pgproto3.FrontendMessage{&pgproto3.Parse{Query: echoQuery}, &pgproto3.Bind{Parameters: [][]byte{[]byte("1")}}, &pgproto3.Sync{}},
			"ParseComplete E(08P01) Z(I)"},
		{"bad binary parameter",
			[]pgproto3.FrontendMessage{&pgproto3.Parse{Query: echoQuery}, &pgproto3.Bind{ParameterFormatCodes: []int16{1}, Parameters: make([][]byte, 8)},
				&pgproto3.Bind{ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{1, 2, 3}, nil, nil, nil, nil, nil, nil, nil}}, &pgproto3.Sync{}},
			"ParseComplete BindComplete E(22P03) Z(I)"},
		{"empty query",
			[]pgproto3.FrontendMessage{&pgproto3.Parse{Query: " -- nothing"}, &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{}},
			"ParseComplete BindComplete NoData EmptyQueryResponse Z(I)"},
		{"statement without rows",
			[]pgproto3.FrontendMessage{&pgproto3.Parse{Name: "ins", Query: "insert into items values (1)"}, &pgproto3.Describe{ObjectType: 'S', Name: "ins"},
				&pgproto3.Bind{PreparedStatement: "ins"}, &pgproto3.Execute{}, &pgproto3.Sync{}},
			"ParseComplete t[] NoData BindComplete C(INSERT 0 1) Z(I)"},
		{"duplicate statement name",
			[]pgproto3.FrontendMessage{&pgproto3.Parse{Name: "ins", Query: "select 1"}, &pgproto3.Sync{}},
			"E(42P05) Z(I)"},
		{"close statement, then it is gone",
			[]pgproto3.FrontendMessage{&pgproto3.Close{ObjectType: 'S', Name: "ins"}, &pgproto3.Close{ObjectType: 'S', Name: "never"}, &pgproto3.Bind{PreparedStatement: "ins"}, &pgproto3.Sync{}},
			"CloseComplete CloseComplete E(26000) Z(I)"},
		{"bad result format count",
			[]pgproto3.FrontendMessage{&pgproto3.Parse{Query: "select * from items"}, &pgproto3.Bind{ResultFormatCodes: []int16{0, 1}}, &pgproto3.Sync{}},
			"ParseComplete E(08P01) Z(I)"},
		{"flush sends what is pending",
			[]pgproto3.FrontendMessage{&pgproto3.Parse{Query: "select 1"}, &pgproto3.Flush{}},
			"ParseComplete"},
		{"function call is refused",
			[]pgproto3.FrontendMessage{&pgproto3.Sync{}, &pgproto3.FunctionCall{Function: 1}},
			"Z(I) E(0A000) Z(I)"},
		{"DEALLOCATE belongs to the wire layer",
			[]pgproto3.FrontendMessage{&pgproto3.Parse{Name: "Keep", Query: "select 1"}, &pgproto3.Parse{Name: "gone", Query: "select 1"}, &pgproto3.Sync{},
				queryMsg("deallocate gone"), queryMsg("DEALLOCATE PREPARE \"Keep\""), queryMsg("deallocate gone"),
				&pgproto3.Parse{Name: "x1", Query: "select 1"}, &pgproto3.Parse{Name: "x2", Query: "select 1"},
				&pgproto3.Parse{Query: "deallocate all"}, &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{},
				&pgproto3.Bind{PreparedStatement: "x1"}, &pgproto3.Sync{}},
			"ParseComplete ParseComplete Z(I) C(DEALLOCATE) Z(I) C(DEALLOCATE) Z(I) E(26000) Z(I) " +
				"ParseComplete ParseComplete ParseComplete BindComplete NoData C(DEALLOCATE ALL) E(26000) Z(I)"},
		{"empty simple query",
			[]pgproto3.FrontendMessage{queryMsg(";;")},
			"EmptyQueryResponse Z(I)"},
	}
	for _, s := range steps {
		r.send(s.msgs...)
		var got string
		if s.name == "flush sends what is pending" {
			got = "ParseComplete"
			if _, ok := r.recv().(*pgproto3.ParseComplete); !ok {
				got = "?"
			}
		} else {
			var parts []string
			for _, m := range s.msgs {
				switch m.(type) {
				case *pgproto3.Sync, *pgproto3.Query, *pgproto3.FunctionCall:
					parts = append(parts, r.until())
				}
			}
			got = strings.Join(parts, " ")
		}
		if strings.HasPrefix(s.want, "<9001 rows>") {
			want := rowsText(1000, 10000, true)
			if !strings.HasPrefix(got, want) {
				t.Errorf("%s: rows differ", s.name)
				continue
			}
			got = "<9001 rows>" + got[len(want):]
		}
		if got != s.want {
			if len(got) > 300 {
				got = got[:150] + " ... " + got[len(got)-150:]
			}
			t.Errorf("%s:\n got %s\nwant %s", s.name, got, s.want)
		}
	}
}

// rowsText is the until() form of DataRows n = from..to of "select n from big";
// binary values are 8-byte big-endian integers.
func rowsText(from, to int, binary bool) string {
	var b strings.Builder
	for n := from; n <= to; n++ {
		if n > from {
			b.WriteByte(' ')
		}
		if binary {
			v := []byte{0, 0, 0, 0, 0, 0, byte(n >> 8), byte(n)}
			fmt.Fprintf(&b, "D(%s)", v)
		} else {
			fmt.Fprintf(&b, "D(%d)", n)
		}
	}
	return b.String()
}
