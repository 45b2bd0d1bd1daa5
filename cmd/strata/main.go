// Command strata is the one binary: serve, demo, ingest, version.
//
//	strata serve  --data-dir DIR --pg-addr 127.0.0.1:5433 --http-addr 127.0.0.1:8080 --memory-limit 4GiB
//	strata demo   [serve flags] [--events 1000000] [--seed 1]
//	strata ingest --table T [--addr 127.0.0.1:5433] [--format csv|text|json] file.jsonl|file.csv|-
//	strata version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	// Everything strata creates — the data directory, segments, the catalog, the
	// embedded broker's log, local lake files — is readable by its user alone, as
	// PostgreSQL's umask(0077).
	syscall.Umask(0o077)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go forceExitOnSignals(sigs) // see shutdown.go
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = runServe(ctx, args, false)
	case "demo":
		err = runServe(ctx, args, true)
	case "ingest":
		err = runIngest(ctx, args)
	case "version", "--version", "-v":
		fmt.Println("strata", version)
	case "help", "--help", "-h":
		usage(os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "strata: unknown command %q\n\n", cmd)
		usage(os.Stderr)
		os.Exit(2)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "strata:", err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `strata — real-time analytics over the PostgreSQL wire protocol

Usage:
  strata serve  [--data-dir DIR] [--pg-addr 127.0.0.1:5433] [--http-addr 127.0.0.1:8080] [--memory-limit 4GiB]
                [--hba-file pg_hba.conf] [--password-file FILE] [--tls-cert PEM --tls-key PEM] [--http-auth-all]
  strata demo   [serve flags] [--events 1000000] [--seed 1]   load generated e-commerce events, then serve
  strata ingest --table T [--addr 127.0.0.1:5433] [--user strata] [--format csv|text|json] FILE   load a file into a running server
  strata version

Connect with: psql -h 127.0.0.1 -p 5433 -U strata strata
`)
}

// parseBytes reads sizes like "4GiB", "512MiB", "1GB", "1000000".
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("invalid size %q", s)
			}
			return int64(f * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 4GiB, 512MiB)", s)
	}
	return n, nil
}

type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }
func (b *byteSize) Set(s string) error {
	n, err := parseBytes(s)
	*b = byteSize(n)
	return err
}

var _ flag.Value = (*byteSize)(nil)
