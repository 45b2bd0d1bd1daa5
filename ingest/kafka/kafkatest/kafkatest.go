// Package kafkatest starts an in-process Kafka-protocol broker (franz-go's
// kfake, listening on 127.0.0.1) and produces to it with a real client, for
// tests of anything that consumes Kafka.
//
// kfake speaks the Kafka wire protocol, consumer groups, SASL (PLAIN, SCRAM)
// and transactions; it keeps everything in memory and is gone when stopped.
package kafkatest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Start runs a one-broker cluster with topic created with the given number
// of partitions, plus any extra kfake options (e.g. kfake.EnableSASL(),
// kfake.Superuser(...)). It returns the broker address and a stop function;
// stop is idempotent and also runs at the test's cleanup.
func Start(t testing.TB, topic string, partitions int32, opts ...kfake.Opt) (addr string, stop func()) {
	t.Helper()
	opts = append([]kfake.Opt{
		kfake.Ports(0),
		kfake.SeedTopics(partitions, topic),
		// Let tests lower the session timeout to see rebalances quickly.
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kafkatest: start cluster: %v", err)
	}
	var once sync.Once
	stop = func() { once.Do(c.Close) }
	t.Cleanup(stop)
	return c.ListenAddrs()[0], stop
}

// Message is one record to produce.
type Message struct {
	Partition int32
	Key       []byte // nil: no key
	Value     []byte
	Time      time.Time // zero: now
}

// Produce writes msgs to topic, each to its Partition, waits until all are
// acknowledged and returns the offset each was written at. extra options go
// to the producing client (e.g. kgo.SASL for a SASL cluster). It fails the
// test on any error.
func Produce(t testing.TB, addr, topic string, msgs []Message, extra ...kgo.Opt) []int64 {
	t.Helper()
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.MaxBufferedRecords(len(msgs) + 1),
	}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kafkatest: producer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Topic: topic, Partition: m.Partition, Key: m.Key, Value: m.Value, Timestamp: m.Time}
	}
	res := cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("kafkatest: produce to %s: %v", topic, err)
	}
	offs := make([]int64, len(recs)) // results come in completion order; records are ours
	for i, r := range recs {
		offs[i] = r.Offset
	}
	return offs
}

// ProduceValues writes values to one partition of topic, without keys, and
// returns their offsets.
func ProduceValues(t testing.TB, addr, topic string, partition int32, values ...string) []int64 {
	t.Helper()
	msgs := make([]Message, len(values))
	for i, v := range values {
		msgs[i] = Message{Partition: partition, Value: []byte(v)}
	}
	return Produce(t, addr, topic, msgs)
}
