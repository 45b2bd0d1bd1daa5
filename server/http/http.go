// Package http serves strata's HTTP endpoints: /healthz (the process is up),
// /readyz (the data directory is open and how many tables it serves), /metrics
// (Prometheus text format: statements by SQLSTATE and their latency, ingestion
// rows, rejects, lag and persists, heads, segments, connections, Go runtime and
// process) and POST /v1/sql (one SQL statement, JSON or CSV out, for scripts).
//
// /v1/sql authenticates every request by the PostgreSQL port's hba rules and
// roles (auth.go) and runs it in a session of the authenticated role, so the
// role's privileges apply; with Config.AuthAll the other endpoints do too.
//
// Metrics are read at scrape time from the components (pull), except statement
// counts and latencies, which the PostgreSQL server reports as they happen.
package http

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stratadb/strata/server/hba"
	"github.com/stratadb/strata/sql"
	"github.com/stratadb/strata/storage/store"
)

// Config is what the endpoints serve. DB nil: no /v1/sql; Metrics nil: no /metrics.
type Config struct {
	Store   *store.Store
	DB      *sql.DB
	Metrics *Metrics

	// HBA decides who may send requests from where (nil: hba.Default(), trust
	// on loopback, passwords elsewhere).
	HBA *hba.Rules
	// Roles looks up roles (nil: DB).
	Roles Roles
	// AuthAll requires authentication for /healthz, /readyz and /metrics too
	// (--http-auth-all); without it they stay open for probes and scrapers.
	AuthAll bool
	// Logger receives refused requests (nil: slog.Default()).
	Logger *slog.Logger
}

// Handler returns the HTTP mux.
func Handler(cfg Config) http.Handler {
	auth := newAuthenticator(cfg)
	open := func(h http.Handler) http.Handler {
		if cfg.AuthAll {
			return auth.requireAuth(h)
		}
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", open(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})))
	mux.Handle("GET /readyz", open(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The store is opened (catalog loaded, segments mapped) before the listeners
		// start, so a server that answers is ready; report what it serves.
		fmt.Fprintf(w, "ready: %d tables\n", len(cfg.Store.Tables()))
	})))
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", open(promhttp.HandlerFor(cfg.Metrics.reg, promhttp.HandlerOpts{})))
	}
	if cfg.DB != nil {
		mux.HandleFunc("POST /v1/sql", sqlHandler(cfg.DB, auth))
	}
	return mux
}
