package sql

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
)

func (b *binder) explain(ex *pg.ExplainStmt) (*bound, []engine.Field, error) {
	for _, o := range ex.Options {
		d := o.GetDefElem()
		switch strings.ToLower(d.Defname) {
		case "analyze":
			return nil, nil, engine.Unsupported("EXPLAIN ANALYZE")
		case "verbose", "costs", "format", "buffers", "timing", "summary", "settings":
			// accepted, the output is always the same text
		}
	}
	sel := ex.Query.GetSelectStmt()
	if sel == nil {
		return nil, nil, engine.Unsupported("EXPLAIN of this statement")
	}
	p, _, err := b.selectStmt(sel)
	if err != nil {
		return nil, nil, err
	}
	fields := []engine.Field{{Name: "QUERY PLAN", Type: engine.Text}}
	return &bound{run: func(ctx context.Context, s *Session, params []engine.Value) (*Result, error) {
		op, snaps, err := s.plan(ctx, p, params, time.Now())
		if err != nil {
			return nil, err
		}
		defer release(snaps)
		lines := engine.Explain(op)
		rows := make([][]string, len(lines))
		for i, l := range lines {
			rows[i] = []string{l}
		}
		return &Result{Fields: fields, Rows: newTextRows(fields, rows), Tag: "EXPLAIN"}, nil
	}}, fields, nil
}

// textRows is an engine.Rows over a few rows of text computed by the SQL layer
// (EXPLAIN, SHOW). A nil cell is NULL.
type textRows struct {
	fields []engine.Field
	rows   [][]string
	nulls  [][]bool
	done   bool
}

func newTextRows(fields []engine.Field, rows [][]string) *textRows {
	return &textRows{fields: fields, rows: rows}
}

func (r *textRows) Fields() []engine.Field { return r.fields }

func (r *textRows) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if r.done || len(r.rows) == 0 {
		r.done = true
		return nil, io.EOF
	}
	r.done = true
	mem := memory.DefaultAllocator
	cols := make([]arrow.Array, len(r.fields))
	afields := make([]arrow.Field, len(r.fields))
	for j, f := range r.fields {
		bld := array.NewStringBuilder(mem)
		for i, row := range r.rows {
			if r.nulls != nil && r.nulls[i][j] {
				bld.AppendNull()
			} else {
				bld.Append(row[j])
			}
		}
		cols[j] = bld.NewArray()
		bld.Release()
		afields[j] = arrow.Field{Name: f.Name, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(afields, nil), cols, int64(len(r.rows)))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

func (r *textRows) Close() { r.done = true }
