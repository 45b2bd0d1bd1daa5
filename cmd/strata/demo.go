package main

import (
	"context"
	"fmt"
	"time"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/sql"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/store"
)

const demoTable = "user_behavior"

// loadDemo creates user_behavior and fills it with n generated events spread over
// the seven days before now, unless the table already holds rows (a restart of the
// demo keeps its data).
func loadDemo(ctx context.Context, st *store.Store, db *sql.DB, n int, seed int64) error {
	if _, ok := st.Table(demoTable); !ok {
		sess := db.NewSession("strata", "strata")
		create := bench.CreateTableSQL + ` WITH (kafka_topic = '` + demoTopic + `', time_column = 'timestamp', segment_granularity = 'hour')`
		stmt, err := sess.Prepare(ctx, create, nil)
		if err != nil {
			return fmt.Errorf("demo: create table: %w", err)
		}
		if _, err := sess.Execute(ctx, stmt, nil); err != nil {
			return fmt.Errorf("demo: create table: %w", err)
		}
	}
	snap, err := st.Snapshot(demoTable)
	if err != nil {
		return err
	}
	rows := 0
	for _, s := range snap.Sources {
		rows += s.NumRows()
	}
	snap.Release()
	if rows > 0 {
		fmt.Printf("demo: %s already holds %d events; not generating more\n", demoTable, rows)
		return nil
	}

	end := time.Now().UTC().Truncate(time.Minute)
	start := end.Add(-7 * 24 * time.Hour)
	gen := bench.NewGenerator(seed, start, end, max(n/100, 100), max(n/1000, 100))
	// Events in time order: each batch then falls into a few time chunks, as a
	// stream would, instead of scattering a few rows into every chunk.
	gen.Ordered(n)
	schema := bench.EventSchema()
	const batch = 100_000
	// One transaction: the demo table is either fully loaded or empty.
	tx, err := st.Begin(demoTable)
	if err != nil {
		return err
	}
	defer tx.Abort()
	began := time.Now()
	last := began
	for done := 0; done < n; {
		k := min(batch, n-done)
		cols := storage.NewColumns(schema, k)
		gen.Fill(cols, k)
		if err := tx.Append(ctx, cols); err != nil {
			return fmt.Errorf("demo: load: %w", err)
		}
		done += k
		if now := time.Now(); now.Sub(last) > time.Second || done == n {
			last = now
			rate := float64(done) / now.Sub(began).Seconds()
			fmt.Printf("\rdemo: loaded %d / %d events (%.0f events/s)", done, n, rate)
		}
	}
	fmt.Println()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("demo: load: %w", err)
	}
	if err := st.Compact(ctx, demoTable); err != nil {
		return fmt.Errorf("demo: compact: %w", err)
	}
	fmt.Printf("demo: %d events from %s to %s in %s\n", n, start.Format(time.RFC3339), end.Format(time.RFC3339), time.Since(began).Round(time.Millisecond))
	return nil
}
