package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/stratadb/strata/ingest/stream"
	"github.com/stratadb/strata/server/pgwire"
)

// Shutdown. The first SIGINT or SIGTERM ends the command's context: serve stops
// the servers and the ingestion together (shutdownServe) within drainBudget, then
// closes the store. A second signal, or shutdownDeadline after the first, ends
// the process at once (forceExitOnSignals): nothing is lost by that, since rows
// not yet persisted are read again from Kafka (their offsets were not
// committed) and a commit in flight is atomic in the catalog.
const (
	shutdownDeadline = 4500 * time.Millisecond
	// drainBudget bounds stopping the servers and the ingestion: each table's
	// head is persisted and its consumer leaves the group (kafka.Config.
	// LeaveTimeout is 2 s), leaving the rest of shutdownDeadline to the store.
	drainBudget = 3500 * time.Millisecond
)

// forceExitOnSignals exits the process at the second signal on sigs, or
// shutdownDeadline after the first.
func forceExitOnSignals(sigs <-chan os.Signal) {
	first := <-sigs
	select {
	case sig := <-sigs:
		fmt.Fprintf(os.Stderr, "strata: second %v: exiting at once\n", sig)
	case <-time.After(shutdownDeadline):
		fmt.Fprintf(os.Stderr, "strata: still shutting down %v after %v: exiting at once\n", shutdownDeadline, first)
	}
	os.Exit(1)
}

// shutdownServe stops serve's HTTP and PostgreSQL servers and the ingestion
// (persist the heads, leave the consumer groups) at the same time, within
// drainBudget.
func shutdownServe(log *slog.Logger, ing *stream.Manager, hs *http.Server, pg *pgwire.Server) error {
	fmt.Println("strata: shutting down")
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), drainBudget)
	defer cancel()
	ingDone := make(chan struct{})
	go func() { defer close(ingDone); ing.Close() }()
	if hs != nil {
		if err := hs.Shutdown(ctx); err != nil {
			hs.Close()
		}
	}
	err := pg.Shutdown(ctx)
	select {
	case <-ingDone:
		log.Info("ingestion stopped", "took", time.Since(began).Round(time.Millisecond))
	case <-ctx.Done():
		log.Warn("ingestion did not stop in time; rows not yet persisted will be read again from Kafka at the next start",
			"budget", drainBudget)
	}
	return err
}
