package kafka_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratadb/strata/ingest/kafka"
	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/internal/testpki"
)

// TestTLS consumes from a broker that speaks only TLS: with the broker's CA the
// records arrive; with an empty trust store nothing does and Run keeps failing to
// connect (no plaintext fallback).
func TestTLS(t *testing.T) {
	pki := testpki.New(t)
	cert, pool := pki.Server, pki.Pool
	addr, _ := kafkatest.Start(t, "events", 1, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	clientTLS := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	var msgs []kafkatest.Message
	for i := 0; i < 5; i++ {
		msgs = append(msgs, kafkatest.Message{Value: fmt.Appendf(nil, "m%d", i)})
	}
	kafkatest.Produce(t, addr, "events", msgs, kgo.DialTLSConfig(clientTLS))

	o := newOwner(t, "a", newLake())
	cfg := testConfig(addr, "events", "g")
	cfg.TLS = clientTLS
	c, err := kafka.New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	o.c = c
	stop, _, _ := run(t, c)
	waitFor(t, 20*time.Second, "5 records over TLS", func() bool { d, _ := o.snapshot(); return len(d[0]) == 5 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d, _ := o.snapshot(); !slices.Equal(d[0], seq(0, 5)) {
		t.Errorf("delivered %v", d[0])
	}

	// Not trusting the broker's certificate: nothing is delivered.
	o2 := newOwner(t, "b", newLake())
	cfg2 := testConfig(addr, "events", "g2")
	cfg2.TLS = &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}
	c2, err := kafka.New(cfg2, o2)
	if err != nil {
		t.Fatal(err)
	}
	o2.c = c2
	stop2, _, _ := run(t, c2)
	time.Sleep(time.Second)
	stop2()
	if d, _ := o2.snapshot(); len(d[0]) != 0 {
		t.Errorf("untrusted broker: %d records delivered", len(d[0]))
	}
}
