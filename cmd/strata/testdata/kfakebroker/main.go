// Command kfakebroker runs franz-go's kfake, a Kafka-protocol broker, in a
// process of its own, for tests that kill and restart strata beside a broker
// that lives on (cmd/strata's TestKafkaCrashLoop).
//
//	kfakebroker -addr 127.0.0.1:PORT -dir DIR -topic events -partitions 4
//
// It prints "ready" once it listens and stops at SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9092", "listen address (a 127.0.0.1 port)")
	dir := flag.String("dir", "", "data directory of the broker's log and groups (empty: memory only)")
	topic := flag.String("topic", "events", "topic to create")
	partitions := flag.Int("partitions", 4, "partitions of the topic")
	flag.Parse()
	host, portStr, err := net.SplitHostPort(*addr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || host != "127.0.0.1" {
		fmt.Fprintf(os.Stderr, "kfakebroker: -addr %s: want 127.0.0.1:PORT\n", *addr)
		os.Exit(2)
	}
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.SeedTopics(int32(*partitions), *topic),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}
	if *dir != "" {
		opts = append(opts, kfake.DataDir(*dir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfakebroker: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	c.Close()
}
