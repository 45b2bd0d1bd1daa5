package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratadb/strata/bench"
)

// The demo's streaming half: an embedded Kafka-protocol broker (franz-go's kfake,
// its log kept under the data directory so a restarted demo resumes where it
// stopped) and the event generator producing live events to it at a set rate.

const demoTopic = "user_behavior_topic"

// startBroker starts kfake on addr (a 127.0.0.1 port) with topic's partitions,
// persisting its log in dir.
func startBroker(addr, dir string, partitions int32) (*kfake.Cluster, error) {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--kafka-addr %s: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("--kafka-addr %s: bad port", addr)
	}
	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(partitions, demoTopic), kfake.DataDir(filepath.Join(dir, "kafka")))
	if err != nil {
		return nil, fmt.Errorf("embedded Kafka broker on %s: %w", addr, err)
	}
	return c, nil
}

// produceEvents produces generated events, stamped with the current time, to
// topic at rate events/s until ctx ends.
func produceEvents(ctx context.Context, broker string, rate int, seed int64, log *slog.Logger) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic(demoTopic),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		log.Error("demo producer", "err", err)
		return
	}
	defer cl.Close()
	now := time.Now()
	gen := bench.NewGenerator(seed+1, now.Add(-time.Hour), now, 10_000, 1_000)
	const tick = 20 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	began := time.Now()
	sent := 0
	var e bench.Event
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		due := int(time.Since(began).Seconds()*float64(rate)) - sent
		for i := 0; i < due; i++ {
			gen.Next(&e)
			e.Time = time.Now().UnixMicro()
			cl.Produce(ctx, &kgo.Record{Value: bench.AppendEventJSON(nil, &e)}, func(_ *kgo.Record, err error) {
				if err != nil && ctx.Err() == nil {
					log.Warn("demo producer", "err", err)
				}
			})
		}
		sent += due
	}
}
