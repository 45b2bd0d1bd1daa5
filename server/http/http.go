// Package http serves strata's HTTP endpoints: /healthz (the process is up) and
// /readyz (the store answers). Prometheus metrics and the HTTP SQL endpoint come with
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
		// Listing tables reads the catalog: it fails when the store is closed.
		n := len(st.Tables())
		fmt.Fprintf(w, "ready: %d tables\n", n)
	})
	return mux
}
