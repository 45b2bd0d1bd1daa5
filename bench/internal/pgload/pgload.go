// Package pgload loads bench's workload into a real PostgreSQL and renders its
// answers with bench.Cell, so that the suite's rows from strata and DuckDB can be
// checked against PostgreSQL's (the server itself comes from internal/pgtest).
package pgload

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/storage"
)

// Load creates bench's user_behavior table on conn and loads cols (in
// bench.EventSchema's layout) into it with binary COPY, then ANALYZEs it.
func Load(ctx context.Context, conn *pgx.Conn, cols *storage.Columns) error {
	if _, err := conn.Exec(ctx, bench.CreateTableSQL); err != nil {
		return fmt.Errorf("postgres: create table: %w", err)
	}
	names := make([]string, len(cols.Schema.Columns))
	for i, c := range cols.Schema.Columns {
		names[i] = c.Name
	}
	row := make([]any, len(names))
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == cols.Len {
			return nil, nil
		}
		for j := range cols.Schema.Columns {
			row[j] = bench.GoValue(cols, j, i)
		}
		i++
		return row, nil
	})
	n, err := conn.CopyFrom(ctx, pgx.Identifier{bench.TableName}, names, src)
	if err != nil {
		return fmt.Errorf("postgres: copy into %s: %w", bench.TableName, err)
	}
	if n != int64(cols.Len) {
		return fmt.Errorf("postgres: copied %d rows, want %d", n, cols.Len)
	}
	if _, err := conn.Exec(ctx, "ANALYZE "+bench.TableName); err != nil {
		return fmt.Errorf("postgres: analyze: %w", err)
	}
	return nil
}

// Query runs q on conn and renders its rows with bench.Cell (numeric as float64).
func Query(ctx context.Context, conn *pgx.Conn, q string) ([][]string, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		r := make([]string, len(vals))
		for j, v := range vals {
			if n, ok := v.(pgtype.Numeric); ok {
				f, err := n.Float64Value()
				if err != nil {
					return nil, fmt.Errorf("postgres: numeric: %w", err)
				}
				if !f.Valid {
					v = nil
				} else {
					v = f.Float64
				}
			}
			r[j] = bench.Cell(v)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return out, nil
}
