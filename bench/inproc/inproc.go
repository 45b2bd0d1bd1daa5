// Package inproc runs strata in process for the benchmarks: a store over one data
// directory, the workload loaded into it, and the query suite run through a SQL
// session with results rendered by bench.Cell. It is apart from package bench so
// that the generator builds without the SQL stack.
package inproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/sql"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/store"
)

// Strata is an in-process strata (store + SQL session) over one data directory, for
// loading the workload and running the suite against it.
type Strata struct {
	Store   *store.Store
	DB      *sql.DB
	Session *sql.Session
}

// OpenStrata opens (creating if needed) a store in dir and a SQL session over it.
func Open(dir string) (*Strata, error) {
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, fmt.Errorf("open strata store %s: %w", dir, err)
	}
	db := sql.Open(st, sql.Options{})
	return &Strata{Store: st, DB: db, Session: db.NewSession("strata", "strata")}, nil
}

// Close closes the store.
func (s *Strata) Close() error { return s.Store.Close() }

// LoadGranularity is the time chunk of the bench table: a day, so that a week of
// events makes seven segments after compaction.
const LoadGranularity = 24 * time.Hour

// Load creates the user_behavior table and appends cols to it in batches of batch
// rows. It returns the time spent appending (table creation excluded).
func (s *Strata) Load(ctx context.Context, cols *storage.Columns, batch int) (time.Duration, error) {
	def := catalog.TableDef{Name: bench.TableName, Schema: *cols.Schema, Granularity: LoadGranularity}
	if _, err := s.Store.CreateTable(def); err != nil {
		return 0, fmt.Errorf("create table %s: %w", bench.TableName, err)
	}
	begin := time.Now()
	for from := 0; from < cols.Len; from += batch {
		to := min(from+batch, cols.Len)
		if err := s.Store.Append(ctx, bench.TableName, bench.SliceColumns(cols, from, to)); err != nil {
			return 0, fmt.Errorf("append rows %d..%d: %w", from, to, err)
		}
	}
	if err := s.compact(ctx); err != nil {
		return 0, err
	}
	return time.Since(begin), nil
}

// compact merges the table's segments, as a batch load would before queries.
func (s *Strata) compact(ctx context.Context) error {
	if err := s.Store.Compact(ctx, bench.TableName); err != nil {
		return fmt.Errorf("compact %s: %w", bench.TableName, err)
	}
	return nil
}

// Query runs one statement and renders its rows with Cell.
func (s *Strata) Query(ctx context.Context, query string) ([][]string, error) {
	var out [][]string
	err := s.run(ctx, query, func(rec arrow.RecordBatch) error {
		var err error
		out, err = AppendRecordCells(out, rec)
		return err
	})
	return out, err
}

// Time runs one statement, draining its rows without rendering them, and returns
// the wall time from Prepare to the last batch.
func (s *Strata) Time(ctx context.Context, query string) (time.Duration, error) {
	begin := time.Now()
	err := s.run(ctx, query, func(arrow.RecordBatch) error { return nil })
	return time.Since(begin), err
}

func (s *Strata) run(ctx context.Context, query string, each func(arrow.RecordBatch) error) error {
	st, err := s.Session.Prepare(ctx, query, nil)
	if err != nil {
		return fmt.Errorf("strata prepare: %w", err)
	}
	res, err := s.Session.Execute(ctx, st, nil)
	if err != nil {
		return fmt.Errorf("strata execute: %w", err)
	}
	if res.Rows == nil {
		return nil
	}
	defer res.Rows.Close()
	for {
		rec, err := res.Rows.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("strata rows: %w", err)
		}
		err = each(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
}

// AppendRecordCells appends the rows of rec rendered with Cell to dst.
func AppendRecordCells(dst [][]string, rec arrow.RecordBatch) ([][]string, error) {
	n := int(rec.NumRows())
	base := len(dst)
	for range n {
		dst = append(dst, make([]string, rec.NumCols()))
	}
	for j := range int(rec.NumCols()) {
		col := rec.Column(j)
		for i := range n {
			v, err := arrowValue(col, i)
			if err != nil {
				return dst, fmt.Errorf("column %d (%s): %w", j, rec.ColumnName(j), err)
			}
			dst[base+i][j] = bench.Cell(v)
		}
	}
	return dst, nil
}

// arrowValue returns row i of arr as a Go value Cell understands.
func arrowValue(arr arrow.Array, i int) (any, error) {
	if arr.IsNull(i) {
		return nil, nil
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return a.Value(i), nil
	case *array.Int64:
		return a.Value(i), nil
	case *array.Int32:
		return a.Value(i), nil
	case *array.Float64:
		return a.Value(i), nil
	case *array.String:
		return a.Value(i), nil
	case *array.LargeString:
		return a.Value(i), nil
	case *array.Binary:
		return a.Value(i), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit), nil
	case *array.Date32:
		return a.Value(i).ToTime(), nil
	case *array.Dictionary:
		return arrowValue(a.Dictionary(), a.GetValueIndex(i))
	case *array.MonthDayNanoInterval:
		v := a.Value(i)
		return fmt.Sprintf("%d mons %d days %d us", v.Months, v.Days, engine.IntervalMicros(v)), nil
	}
	return nil, fmt.Errorf("unsupported arrow type %s", arr.DataType())
}
