package engine

import (
	"errors"
	"testing"

	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
)

// panicSource is a Source whose reads panic, as a broken storage tier or a bug in a
// decoder would.
type panicSource struct{ storage.Source }

func (s panicSource) ReadInt64(col, start, end int, dst []int64) ([]int64, error) {
	panic("injected panic in a scan worker")
}
func (s panicSource) ReadFloat64(col, start, end int, dst []float64) ([]float64, error) {
	panic("injected panic in a scan worker")
}
func (s panicSource) ReadDictIDs(col, start, end int, dst []uint32) ([]uint32, error) {
	panic("injected panic in a scan worker")
}

// TestPanicInWorker: a panic in any worker goroutine (parallel scan, partial
// aggregation, distinct, sort, top-N) fails that query alone with XX000, and the
// same plan over healthy sources still runs.
func TestPanicInWorker(t *testing.T) {
	d := newDataset(7, 6, 500)
	bad := &dataset{rows: d.rows, sources: append([]storage.Source(nil), d.sources...)}
	bad.sources[3] = panicSource{d.sources[3]}
	price := &ColRef{Index: 1, T: Float64, Name: "price"}
	country := &ColRef{Index: 0, T: Text, Name: "country"}
	plans := map[string]func(d *dataset) Plan{
		"scan": func(d *dataset) Plan { return scanOf(d, []int{1, 3}, nil) },
		"aggregate": func(d *dataset) Plan {
			return &Aggregate{Input: scanOf(d, []int{1, 3}, nil), Groups: []Expr{country},
				Aggs: []AggCall{{Func: "sum", Args: []Expr{price}, T: Float64}},
				Out:  []Field{{Name: "country", Type: Text}, {Name: "sum", Type: Float64}}}
		},
		"count distinct": func(d *dataset) Plan {
			return &Aggregate{Input: scanOf(d, []int{1, 3}, nil),
				Aggs: []AggCall{{Func: "count", Args: []Expr{country}, Distinct: true, T: Int64}},
				Out:  []Field{{Name: "count", Type: Int64}}}
		},
		"top-n": func(d *dataset) Plan {
			return &Limit{Input: &Sort{Input: scanOf(d, []int{1, 3}, nil), Keys: []SortKey{{Expr: price}}}, Count: 5}
		},
		"sort": func(d *dataset) Plan {
			return &Sort{Input: scanOf(d, []int{1, 3}, nil), Keys: []SortKey{{Expr: price}}}
		},
		"distinct": func(d *dataset) Plan { return &Distinct{Input: scanOf(d, []int{1}, nil)} },
	}
	for name, plan := range plans {
		for _, par := range []int{1, 4} {
			_, err := runErr(plan(bad), Options{Parallelism: par})
			var e *Error
			if !errors.As(err, &e) || e.Code != sqlstate.InternalError || e.Message != "internal error: injected panic in a scan worker" {
				t.Errorf("%s (parallelism %d): got %v, want XX000 internal error: injected panic in a scan worker", name, par, err)
			}
			if _, err := runErr(plan(d), Options{Parallelism: par}); err != nil {
				t.Errorf("%s over healthy sources: %v", name, err)
			}
		}
	}
}
