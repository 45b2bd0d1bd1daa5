package pgwire

import (
	"crypto/tls"
	dbsql "database/sql"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratadb/strata/internal/testpki"
)

// selfSigned is a server TLS configuration with a test CA's certificate for
// 127.0.0.1.
func selfSigned(t *testing.T) *tls.Config { return testpki.New(t).ServerConfig() }

func TestTLS(t *testing.T) {
	ts := startServer(t, func(o *Options) {
		o.TLSConfig = selfSigned(t)
		o.RequireTLS = true
	})
	// pgx with sslmode=require (encrypts, does not verify).
	conn := connect(t, ts, "sslmode=require")
	rows, err := conn.Query(ctxT(t), "select * from items")
	if err != nil {
		t.Fatal(err)
	}
	if got := scanItems(t, rows); len(got) != 4 || !got[1].equal(wantItems[1]) {
		t.Errorf("over TLS: %v", got)
	}
	if !conn.PgConn().Conn().(*tls.Conn).ConnectionState().HandshakeComplete {
		t.Error("pgx connection is not TLS")
	}
	// lib/pq's default sslmode is require.
	db, err := dbsql.Open("postgres", fmt.Sprintf("host=127.0.0.1 port=%d user=strata dbname=strata", ts.addr.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var one int32
	if err := db.QueryRowContext(ctxT(t), "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("lib/pq over TLS: %v", err)
	}
	// In the clear: refused with RequireTLS.
	_, err = pgx.Connect(ctxT(t), ts.url+"?sslmode=disable")
	if pe := pgErr(t, err); pe.Code != "28000" {
		t.Errorf("plain connection: %v", err)
	}
}
