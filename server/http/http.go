// Package http serves strata's HTTP endpoints: /healthz (the process is up) and
// /readyz (the data directory is open and how many tables it serves). Prometheus metrics and the HTTP SQL endpoint come with
// the observability work.
package http

import (
	"fmt"
	"net/http"

	"github.com/stratadb/strata/storage/store"
)

// Handler returns the HTTP mux over st.
func Handler(st *store.Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		// The store is opened (catalog loaded, segments mapped) before the listeners
		// start, so a server that answers is ready; report what it serves.
		fmt.Fprintf(w, "ready: %d tables\n", len(st.Tables()))
	})
	return mux
}
