package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/storage"
)

// duckDB is an in-memory DuckDB database holding the workload.
type duckDB struct {
	connector *duckdb.Connector
	db        *sql.DB
}

// openDuck opens an in-memory DuckDB limited to threads worker threads, with the
// session time zone UTC (so date_trunc on timestamptz matches strata's UTC).
func openDuck(threads int) (*duckDB, error) {
	init := func(ex driver.ExecerContext) error {
		for _, q := range []string{
			"SET threads = " + strconv.Itoa(threads),
			"SET TimeZone = 'UTC'",
		} {
			if _, err := ex.ExecContext(context.Background(), q, nil); err != nil {
				return fmt.Errorf("duckdb %s: %w", q, err)
			}
		}
		return nil
	}
	c, err := duckdb.NewConnector("", init)
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	db := sql.OpenDB(c)
	// One connection: settings are per connection, and the suite runs serially.
	db.SetMaxOpenConns(1)
	return &duckDB{connector: c, db: db}, nil
}

func (d *duckDB) Close() error {
	err := d.db.Close()
	if cerr := d.connector.Close(); err == nil {
		err = cerr
	}
	return err
}

// zonelessTableSQL is bench.CreateTableSQL with a zone-less "timestamp" column:
// DuckDB then runs date_trunc and time comparisons without its ICU time-zone
// extension (timestamptz goes through ICU even in UTC), the fairer peer for
// strata, which computes in UTC microseconds.
var zonelessTableSQL = strings.Replace(bench.CreateTableSQL, `"timestamp" timestamptz`, `"timestamp" timestamp`, 1)

// load creates the table (createSQL: bench.CreateTableSQL or zonelessTableSQL) and
// appends cols with the Appender API; it returns the time spent appending.
func (d *duckDB) load(ctx context.Context, createSQL string, cols *storage.Columns) (time.Duration, error) {
	if _, err := d.db.ExecContext(ctx, createSQL); err != nil {
		return 0, fmt.Errorf("duckdb create table: %w", err)
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	begin := time.Now()
	err = conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", bench.TableName)
		if err != nil {
			return fmt.Errorf("duckdb appender: %w", err)
		}
		row := make([]driver.Value, len(cols.Cols))
		for i := range cols.Len {
			for j, c := range cols.Schema.Columns {
				row[j] = bench.GoValue(cols, j, i)
				if v, ok := row[j].(int64); ok && c.SQLType == "integer" {
					row[j] = int32(v) // DuckDB's appender wants the column's own width
				}
			}
			if err := app.AppendRow(row...); err != nil {
				app.Close()
				return fmt.Errorf("duckdb append row %d: %w", i, err)
			}
		}
		if err := app.Close(); err != nil {
			return fmt.Errorf("duckdb appender close: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return time.Since(begin), nil
}

// query runs q and renders its rows with bench.Cell.
func (d *duckDB) query(ctx context.Context, q string) ([][]string, error) {
	var out [][]string
	err := d.run(ctx, q, func(vals []any) {
		r := make([]string, len(vals))
		for j, v := range vals {
			r[j] = bench.Cell(duckValue(v))
		}
		out = append(out, r)
	})
	return out, err
}

// time runs q, scanning every row, and returns its wall time.
func (d *duckDB) time(ctx context.Context, q string) (time.Duration, error) {
	begin := time.Now()
	err := d.run(ctx, q, func([]any) {})
	return time.Since(begin), err
}

func (d *duckDB) run(ctx context.Context, q string, each func([]any)) error {
	rows, err := d.db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("duckdb scan: %w", err)
		}
		each(vals)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	return nil
}

// duckValue maps DuckDB driver types bench.Cell does not know.
func duckValue(v any) any {
	switch x := v.(type) {
	case duckdb.Decimal:
		return x.Float64()
	case *big.Int:
		return x
	case duckdb.Interval:
		return fmt.Sprintf("%d mons %d days %d us", x.Months, x.Days, x.Micros)
	}
	return v
}
