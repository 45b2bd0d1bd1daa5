package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// runIngest streams a local file into a running server with COPY ... FROM STDIN, so
// the server's decoders (and their reject accounting) do the work.
func runIngest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	table := fs.String("table", "", "target table (required)")
	addr := fs.String("addr", "127.0.0.1:5433", "strata server PostgreSQL address")
	format := fs.String("format", "", "csv, text or json (default: from the file extension)")
	header := fs.Bool("header", true, "CSV: the first line is a header")
	user := fs.String("user", "strata", "role to log in as (the password comes from PGPASSWORD or ~/.pgpass, TLS settings from PGSSLMODE and PGSSLROOTCERT, as for psql)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *table == "" || fs.NArg() != 1 {
		return fmt.Errorf("usage: strata ingest --table T [--addr HOST:PORT] [--format csv|text|json] FILE")
	}
	path := fs.Arg(0)
	f := *format
	if f == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			f = "csv"
		case ".json", ".jsonl", ".ndjson":
			f = "json"
		case ".tsv", ".txt":
			f = "text"
		default:
			return fmt.Errorf("cannot tell the format of %s: pass --format csv|text|json", path)
		}
	}
	var opts string
	switch f {
	case "csv":
		opts = fmt.Sprintf("FORMAT csv, HEADER %v", *header)
	case "text", "json":
		opts = "FORMAT " + f
	default:
		return fmt.Errorf("unknown --format %q (want csv, text or json)", f)
	}
	var in io.Reader = os.Stdin
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		in = file
	}
	// No sslmode here: PGSSLMODE applies, and without it libpq's default prefer
	// (TLS when the server offers it).
	cfg, err := pgconn.ParseConfig(fmt.Sprintf("postgres://%s@%s/strata", url.PathEscape(*user), *addr))
	if err != nil {
		return err
	}
	// The server reports rejected lines as notices; show them as they come.
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		fmt.Fprintf(os.Stderr, "%s: %s\n", n.Severity, n.Message)
		if n.Detail != "" {
			fmt.Fprintln(os.Stderr, n.Detail)
		}
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *addr, err)
	}
	defer conn.Close(context.Background())
	tag, err := conn.CopyFrom(ctx, in, fmt.Sprintf("COPY %s FROM STDIN WITH (%s)", pgx.Identifier{*table}.Sanitize(), opts))
	if err != nil {
		return fmt.Errorf("ingest %s into %s: %w", path, *table, err)
	}
	fmt.Printf("%s: loaded %d rows into %s\n", path, tag.RowsAffected(), *table)
	return nil
}
