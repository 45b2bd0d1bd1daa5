package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/bench/inproc"
	"github.com/stratadb/strata/server/pgwire"
)

const copyCSVRows = 1_000_000

// copyCSVInput is BenchmarkCopyCSV's input, generated once per process so that
// -count runs (and their profiles) do not generate it again each time.
var copyCSVInput = sync.OnceValue(func() []byte {
	// One day of events in time order, as an export is: 24 hourly chunks of ~42k
	// rows, about the density of the 10M-event week the suite loads (60k an hour).
	gen := bench.NewGenerator(3, bench.DefaultStart, bench.DefaultStart.Add(24*time.Hour), 100_000, 10_000)
	gen.Ordered(copyCSVRows)
	var input []byte
	for i := 0; i < copyCSVRows; i++ {
		input = gen.AppendCSV(input)
		input = append(input, '\n')
	}
	return input
})

// segmentBytes is the size of the segment files under a data directory: what
// the loaded rows take at rest.
func segmentBytes(b *testing.B, dir string) int64 {
	var total int64
	err := filepath.WalkDir(filepath.Join(dir, "segments"), func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		total += info.Size()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}

// BenchmarkCopyCSV (here, in cmd, since a benchmark over the wire needs the
// server, which package bench may not import) loads 1M generated events with COPY ... FROM STDIN (FORMAT csv)
// over the PostgreSQL wire (pgx's CopyFrom on loopback, as psql \copy sends it)
// into a fresh table, and checks the row count. Reports rows/s and the process's
// CPU time per row (client, server and segment writing together) and the
// segment files' bytes per row at rest.
func BenchmarkCopyCSV(b *testing.B) {
	const n = copyCSVRows
	input := copyCSVInput()
	b.SetBytes(int64(len(input)))
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		st, err := inproc.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Query(ctx, bench.CreateTableSQL); err != nil {
			b.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := pgwire.NewServer(pgwire.SQLBackend(st.DB), pgwire.Options{Logger: slog.New(slog.DiscardHandler)})
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://strata@%s/strata?sslmode=disable", ln.Addr()))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpuBegan, err := inproc.ProcessCPU()
		if err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		tag, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(input), `COPY user_behavior FROM STDIN (FORMAT csv)`)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n)/time.Since(began).Seconds(), "rows/s")
		cpuEnded, err := inproc.ProcessCPU()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64((cpuEnded-cpuBegan).Microseconds())/float64(n), "cpu-µs/row")
		b.StopTimer()
		if tag.RowsAffected() != n {
			b.Fatalf("COPY %d, want %d", tag.RowsAffected(), n)
		}
		rows, err := st.Query(ctx, `SELECT count(*) FROM user_behavior`)
		if err != nil {
			b.Fatal(err)
		}
		if got := rows[0][0]; got != fmt.Sprint(n) {
			b.Fatalf("count(*) = %s, want %d", got, n)
		}
		b.ReportMetric(float64(segmentBytes(b, dir))/float64(n), "disk-B/row")
		conn.Close(ctx)
		srv.Shutdown(ctx)
		<-served
		st.Close()
	}
}
