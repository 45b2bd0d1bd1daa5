// Package http serves strata's HTTP endpoints: /healthz (the process is up),
// /readyz (the data directory is open and how many tables it serves), /metrics
// (Prometheus text format: statements by SQLSTATE and their latency, ingestion
// rows, rejects, lag and persists, heads, segments, connections, Go runtime and
// process) and POST /v1/sql (one SQL statement, JSON or CSV out, for scripts).
//
// Metrics are read at scrape time from the components (pull), except statement
// counts and latencies, which the PostgreSQL server reports as they happen.
package http

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stratadb/strata/sql"
	"github.com/stratadb/strata/storage/store"
)

// Config is what the endpoints serve. DB nil: no /v1/sql; Metrics nil: no /metrics.
type Config struct {
	Store   *store.Store
	DB      *sql.DB
	Metrics *Metrics
}

// Handler returns the HTTP mux.
func Handler(cfg Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		// The store is opened (catalog loaded, segments mapped) before the listeners
		// start, so a server that answers is ready; report what it serves.
		fmt.Fprintf(w, "ready: %d tables\n", len(cfg.Store.Tables()))
	})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics.reg, promhttp.HandlerOpts{}))
	}
	if cfg.DB != nil {
		mux.HandleFunc("POST /v1/sql", sqlHandler(cfg.DB))
	}
	return mux
}
