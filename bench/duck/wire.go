//go:build !nostrata

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/bench/inproc"
	"github.com/stratadb/strata/server/pgwire"
	"github.com/stratadb/strata/sql"
)

// wireStrata is strata as a client meets it: the real PostgreSQL wire server
// (server/pgwire, as `strata serve` runs it) listening on loopback over the store
// the in-process engine loaded, and one pgx connection to it. pgx uses the
// extended protocol with a statement cache and binary results where it knows the
// type, as most drivers do; every timed run decodes every value (rows.Values), as
// the DuckDB side scans every value.
type wireStrata struct {
	srv  *pgwire.Server
	ln   net.Listener
	done chan error
	conn *pgx.Conn
}

// serveWire starts the wire server over st's database on a free loopback port and
// connects to it.
func serveWire(ctx context.Context, st strataEngine) (wireEngine, error) {
	s, ok := st.(*inproc.Strata)
	if !ok {
		return nil, fmt.Errorf("BUG: serveWire over %T, want *inproc.Strata", st)
	}
	return openWire(ctx, s.DB)
}

func openWire(ctx context.Context, db *sql.DB) (*wireStrata, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("strata wire: listen: %w", err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := &wireStrata{srv: pgwire.NewServer(pgwire.SQLBackend(db), pgwire.Options{Logger: quiet}), ln: ln, done: make(chan error, 1)}
	go func() { w.done <- w.srv.Serve(ln) }()
	// Loopback is trusted by the default hba rules; "strata" is the bootstrap superuser.
	url := fmt.Sprintf("postgres://strata@%s/strata?sslmode=disable", ln.Addr())
	if w.conn, err = pgx.Connect(ctx, url); err != nil {
		w.srv.Shutdown(ctx)
		return nil, fmt.Errorf("strata wire: connect %s: %w", url, err)
	}
	return w, nil
}

// Addr is the server's address.
func (w *wireStrata) Addr() string { return w.ln.Addr().String() }

func (w *wireStrata) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := w.conn.Close(ctx)
	if serr := w.srv.Shutdown(ctx); err == nil {
		err = serr
	}
	if serr := <-w.done; err == nil && !errors.Is(serr, pgwire.ErrServerClosed) {
		err = serr
	}
	return err
}

// Query runs q over the wire and renders its rows with bench.Cell.
func (w *wireStrata) Query(ctx context.Context, q string) ([][]string, error) {
	var out [][]string
	err := w.run(ctx, q, func(vals []any) error {
		r := make([]string, len(vals))
		for j, v := range vals {
			c, err := wireCell(v)
			if err != nil {
				return err
			}
			r[j] = c
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// Time runs q over the wire, decoding every value of every row, and returns the
// wall time from sending the query to the last row.
func (w *wireStrata) Time(ctx context.Context, q string) (time.Duration, error) {
	begin := time.Now()
	err := w.run(ctx, q, func([]any) error { return nil })
	return time.Since(begin), err
}

func (w *wireStrata) run(ctx context.Context, q string, each func([]any) error) error {
	rows, err := w.conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("strata wire: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return fmt.Errorf("strata wire: %w", err)
		}
		if err := each(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("strata wire: %w", err)
	}
	return nil
}

// wireCell renders one pgx value with bench.Cell; numeric goes through float64 as
// DuckDB's DECIMAL and PostgreSQL's numeric do in the other engines' renderings.
func wireCell(v any) (string, error) {
	switch x := v.(type) {
	case pgtype.Numeric:
		f, err := x.Float64Value()
		if err != nil {
			return "", fmt.Errorf("strata wire: numeric: %w", err)
		}
		if !f.Valid {
			return bench.Cell(nil), nil
		}
		return bench.Cell(f.Float64), nil
	case pgtype.Interval:
		return fmt.Sprintf("%d mons %d days %d us", x.Months, x.Days, x.Microseconds), nil
	}
	return bench.Cell(v), nil
}
