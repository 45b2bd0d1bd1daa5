package pgwire

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

func encodeMsgs(msgs ...pgproto3.FrontendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.Encode(b); err != nil {
			panic(err)
		}
	}
	return b
}

// FuzzServerMessages feeds arbitrary bytes to a connection after a valid startup:
// the server must answer, report errors or close, and never panic or hang.
func FuzzServerMessages(f *testing.F) {
	f.Add(encodeMsgs(&pgproto3.Query{String: "select * from items"}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "copy items from stdin"}, &pgproto3.CopyData{Data: []byte("1\ta\nbad\n")}, &pgproto3.CopyDone{}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "copy items from stdin"}, &pgproto3.CopyData{Data: []byte("1\ta\n")}, &pgproto3.Query{String: "x"}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "copy items from stdin"}, &pgproto3.CopyFail{Message: "no"}, &pgproto3.Sync{}))
	f.Add(encodeMsgs(&pgproto3.Parse{Name: "a", Query: echoQuery, ParameterOIDs: []uint32{20, 1700}},
		&pgproto3.Bind{PreparedStatement: "a", ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{0, 0, 0, 0, 0, 0, 0, 1}, {0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, nil, nil, nil, nil, nil, nil}},
		&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{MaxRows: 1}, &pgproto3.Execute{}, &pgproto3.Sync{}))
	f.Add(encodeMsgs(&pgproto3.Parse{Query: "select n from big"}, &pgproto3.Bind{}, &pgproto3.Execute{MaxRows: 5}, &pgproto3.Close{ObjectType: 'S'}, &pgproto3.Flush{}, &pgproto3.Sync{}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "begin"}, &pgproto3.Query{String: "select 1/0"}, &pgproto3.Query{String: "select panic()"}, &pgproto3.Query{String: "commit"}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "select n from huge"}))
	f.Add(encodeMsgs(&pgproto3.Terminate{}))
	f.Add([]byte("Q\x00\x00\x00\x04"))
	f.Add([]byte("Q\x7f\xff\xff\xff"))
	f.Add([]byte("B\x00\x00\x00\x0a\x00\x00\xff\xff\x00\x00"))
	f.Add([]byte("p\x00\x00\x00\x05x"))
	f.Add([]byte{0, 0, 0, 8, 4, 210, 22, 47})
	f.Fuzz(func(t *testing.T, data []byte) {
		be := newFakeBackend()
		be.noSleep = true
		srv := NewServer(be, Options{Split: fakeSplit, MaxMessageSize: 1 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		srv.onPanic = func(v any, stack []byte) { t.Errorf("panic: %v\n%s", v, stack) }
		client, server := net.Pipe()
		c := newConn(srv, server)
		srv.wg.Add(1)
		done := make(chan struct{})
		go func() {
			srv.serveConn(c)
			close(done)
		}()
		r := newRawClient(t, client)
		drained := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, client)
			close(drained)
		}()
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = client.Write(data)
		// A well-formed Sync after the noise: either the server answers or it
		// already closed; both are fine, hanging is not.
		_, _ = client.Write(encodeMsgs(&pgproto3.Sync{}))
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("server hung on %q", data)
		}
		<-drained
		if n := be.rowsOpen.Load(); n != 0 {
			t.Fatalf("%d Rows left open", n)
		}
		_ = r
	})
}
