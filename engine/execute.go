package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stratadb/strata/internal/sqlstate"
)

// operator is a pull-based physical operator. next returns the next non-empty Arrow
// record batch, or (nil, nil) at the end; the caller releases it. Batches returned
// are read-only for the caller (arrow.go: kernels view the Arrow buffers).
type operator interface {
	next(ctx context.Context) (arrow.RecordBatch, error)
	close()
}

// query is the state shared by the operators of one execution.
type query struct {
	opts  Options
	mem   *memTracker
	ctx   context.Context // canceled when the query ends or its Execute context ends
	codec *codec          // batches ↔ Arrow record batches at operator boundaries
}

func (q *query) newEvaluator() *evaluator {
	ev := newEvaluator(q.opts.Now)
	ev.funcs = q.opts.Funcs
	ev.q = q
	return ev
}

var errCanceled = &Error{Code: sqlstate.QueryCanceled, Message: "canceling statement due to user request"}

// ctxErr maps a context's end to SQLSTATE 57014.
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: sqlstate.QueryCanceled, Message: "canceling statement due to statement timeout", Err: err}
	}
	return errCanceled
}

// Execute runs plan p and returns its rows. Sources referenced by p must stay open
// until Rows is closed.
func Execute(ctx context.Context, p Plan, opts Options) (Rows, error) {
	if opts.Parallelism <= 0 {
		opts.Parallelism = runtime.GOMAXPROCS(0)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	qctx, cancel := context.WithCancel(ctx)
	q := &query{opts: opts, mem: &memTracker{limit: opts.MemoryLimit, budget: opts.Budget, ctx: qctx}, ctx: qctx, codec: newCodec()}
	op, err := q.build(p)
	if err != nil {
		cancel()
		q.mem.close()
		return nil, err
	}
	return &rows{q: q, op: op, cancel: cancel, fields: p.Fields()}, nil
}

type rows struct {
	q      *query
	op     operator
	cancel context.CancelFunc
	fields []Field
	schema *arrow.Schema
	once   sync.Once
	done   bool
}

func (r *rows) Fields() []Field { return r.fields }

func (r *rows) arrowSchema() *arrow.Schema {
	if r.schema == nil {
		fs := make([]arrow.Field, len(r.fields))
		for i, f := range r.fields {
			fs[i] = arrow.Field{Name: f.Name, Type: r.arrowType(f.Type), Nullable: true}
		}
		r.schema = arrow.NewSchema(fs, nil)
	}
	return r.schema
}

func (r *rows) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if r.done {
		return nil, io.EOF
	}
	if err := ctxErr(ctx); err != nil {
		r.Close()
		return nil, err
	}
	b, err := r.q.codec.pull(ctx, r.op)
	if err != nil {
		r.Close()
		return nil, err
	}
	if b == nil {
		r.Close()
		return nil, io.EOF
	}
	cols := make([]arrow.Array, len(r.fields))
	for i := range r.fields {
		v := b.cols[i]
		if v.t != r.fields[i].Type {
			if v, err = castVec(v, r.fields[i].Type); err != nil {
				r.Close()
				return nil, err
			}
		}
		cols[i] = r.q.codec.array(v, false)
		if r.zoned(r.fields[i].Type) {
			cols[i] = retype(cols[i], r.arrowType(r.fields[i].Type))
		}
		if ints, ok := cols[i].(*array.Int64); ok && r.fields[i].Type.Reg != 0 && r.q.opts.RegNames != nil {
			cols[i] = regResult(ints, r.q.opts.RegNames)
		}
	}
	schema := r.arrowSchema()
	for i, c := range cols {
		if !arrow.TypeEqual(c.DataType(), schema.Field(i).Type) {
			// An exact numeric leaves as the String array of its texts (numeric.go).
			fs := slices.Clone(schema.Fields())
			for k, c := range cols {
				fs[k].Type = c.DataType()
			}
			schema = arrow.NewSchema(fs, nil)
			break
		}
	}
	rec := array.NewRecordBatch(schema, cols, int64(b.n))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

func (r *rows) Close() {
	r.once.Do(func() {
		r.done = true
		r.cancel()
		r.op.close()
		r.q.mem.close()
	})
}

// build compiles a plan node into an operator whose batches leave as Arrow record
// batches.
func (q *query) build(p Plan) (operator, error) {
	op, err := q.buildOp(p)
	if err != nil {
		return nil, err
	}
	return q.arrowOut(op), nil
}

func (q *query) arrowOut(op batchOperator) operator { return arrowOp{c: q.codec, op: op} }

// buildOp compiles a plan node into a physical operator.
func (q *query) buildOp(p Plan) (batchOperator, error) {
	switch p := p.(type) {
	case *Scan, *Filter, *Project:
		if pl, ok := pipelineOf(p); ok {
			return newParallelScan(q, pl), nil
		}
		switch p := p.(type) {
		case *Filter:
			in, err := q.build(p.Input)
			if err != nil {
				return nil, err
			}
			return &filterOp{q: q, in: in, cond: p.Cond, ev: q.newEvaluator()}, nil
		case *Project:
			in, err := q.build(p.Input)
			if err != nil {
				return nil, err
			}
			return &projectOp{q: q, in: in, exprs: p.Exprs, ev: q.newEvaluator()}, nil
		}
	case *Aggregate:
		if pl, ok := pipelineOf(p.Input); ok {
			if op := newMetaAgg(q, p, pl); fastPaths && op != nil {
				return op, nil
			}
			return newParallelAgg(q, p, pl)
		}
		in, err := q.build(p.Input)
		if err != nil {
			return nil, err
		}
		return newHashAgg(q, p, in)
	case *Sort:
		in, err := q.build(p.Input)
		if err != nil {
			return nil, err
		}
		return newSortOp(q, in, p.Keys, -1), nil
	case *Limit:
		if s, ok := p.Input.(*Sort); ok && p.Count >= 0 {
			if pl, ok := pipelineOf(s.Input); ok {
				var top batchOperator
				if fastPaths && timeSortKey(s.Keys, pl) {
					top = newTimeTopN(q, s.Keys, p.Count+p.Offset, pl)
				} else {
					top = newParallelTopN(q, s.Keys, p.Count+p.Offset, pl)
				}
				return &limitOp{q: q, in: q.arrowOut(top), count: p.Count, offset: p.Offset}, nil
			}
			in, err := q.build(s.Input)
			if err != nil {
				return nil, err
			}
			top := newSortOp(q, in, s.Keys, p.Count+p.Offset)
			return &limitOp{q: q, in: q.arrowOut(top), count: p.Count, offset: p.Offset}, nil
		}
		in, err := q.build(p.Input)
		if err != nil {
			return nil, err
		}
		return &limitOp{q: q, in: in, count: p.Count, offset: p.Offset}, nil
	case *Distinct:
		in, err := q.build(p.Input)
		if err != nil {
			return nil, err
		}
		table := newGroupTable(fieldTypes(p.Fields()), false)
		table.mem = q.mem // charges each new group, its text included
		return &distinctOp{q: q, in: in, table: table}, nil
	case *Values:
		return newValuesOp(q, p)
	case *Series:
		return newSeriesOp(q, p)
	case *Unnest:
		return newUnnestOp(q, p)
	case *ProjectSet:
		in, err := q.build(p.Input)
		if err != nil {
			return nil, err
		}
		return &projectSetOp{q: q, p: p, in: in, ev: q.newEvaluator()}, nil
	case *Join:
		return newJoinOp(q, p)
	case *Window:
		return newWindowOp(q, p)
	case *Union:
		return newUnionOp(q, p)
	case *SetOp:
		return newSetOp(q, p)
	case *DistinctOn:
		return newDistinctOnOp(q, p)
	}
	return nil, Unsupported(fmt.Sprintf("plan node %T", p))
}

func fieldTypes(fs []Field) []Type {
	out := make([]Type, len(fs))
	for i, f := range fs {
		out[i] = f.Type
	}
	return out
}

// fastPaths enables the specialized paths (time-ordered top-N, metadata
// aggregates, constant CASE, vec-op-constant arithmetic, bulk NULL masks); the
// general paths answer the same queries. Benchmarks turn it off to measure the
// difference (see export_test.go); nothing else touches it.
var fastPaths = true

// stage is one Filter or Project step run inside scan workers.
type stage struct {
	filter Expr   // set for a Filter
	exprs  []Expr // set for a Project
}

// pipeline is a Scan followed by Filter/Project stages (bottom-up order).
type pipeline struct {
	scan   *Scan
	stages []stage
}

func pipelineOf(p Plan) (*pipeline, bool) {
	var stages []stage
	for {
		switch n := p.(type) {
		case *Scan:
			// stages were collected top-down; run them bottom-up.
			for i, j := 0, len(stages)-1; i < j; i, j = i+1, j-1 {
				stages[i], stages[j] = stages[j], stages[i]
			}
			return &pipeline{scan: n, stages: stages}, true
		case *Filter:
			stages = append(stages, stage{filter: n.Cond})
			p = n.Input
		case *Project:
			stages = append(stages, stage{exprs: n.Exprs})
			p = n.Input
		default:
			return nil, false
		}
	}
}

// applyFilter keeps the rows of b where cond is true.
func applyFilter(ev *evaluator, cond Expr, b *batch) (*batch, error) {
	c, err := ev.eval(cond, b)
	if err != nil {
		return nil, err
	}
	sel := selTrue(c, make([]int32, 0, b.n))
	if len(sel) == b.n {
		return b, nil
	}
	return b.gather(sel), nil
}

func applyProject(ev *evaluator, exprs []Expr, b *batch) (*batch, error) {
	out := &batch{n: b.n, cols: make([]*vec, len(exprs))}
	for i, e := range exprs {
		v, err := ev.eval(e, b)
		if err != nil {
			return nil, err
		}
		out.cols[i] = v
	}
	return out, nil
}

func runStages(ev *evaluator, stages []stage, b *batch) (*batch, error) {
	var err error
	for _, s := range stages {
		if b.n == 0 {
			return b, nil
		}
		if s.filter != nil {
			b, err = applyFilter(ev, s.filter, b)
		} else {
			b, err = applyProject(ev, s.exprs, b)
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

type filterOp struct {
	q    *query
	in   operator
	cond Expr
	ev   *evaluator
}

func (o *filterOp) nextBatch(ctx context.Context) (*batch, error) {
	for {
		b, err := o.q.codec.pull(ctx, o.in)
		if b == nil || err != nil {
			return nil, err
		}
		if b, err = applyFilter(o.ev, o.cond, b); err != nil {
			return nil, err
		}
		if b.n > 0 {
			return b, nil
		}
	}
}

func (o *filterOp) close() { o.in.close() }

type projectOp struct {
	q     *query
	in    operator
	exprs []Expr
	ev    *evaluator
}

func (o *projectOp) nextBatch(ctx context.Context) (*batch, error) {
	b, err := o.q.codec.pull(ctx, o.in)
	if b == nil || err != nil {
		return nil, err
	}
	return applyProject(o.ev, o.exprs, b)
}

func (o *projectOp) close() { o.in.close() }

type limitOp struct {
	q             *query
	in            operator
	count, offset int64
	seen, emitted int64
	done          bool
}

func (o *limitOp) nextBatch(ctx context.Context) (*batch, error) {
	for !o.done {
		if o.count >= 0 && o.emitted >= o.count {
			o.done = true
			o.in.close()
			break
		}
		b, err := o.q.codec.pull(ctx, o.in)
		if b == nil || err != nil {
			o.done = b == nil && err == nil
			return nil, err
		}
		lo := int64(0)
		if o.seen < o.offset {
			lo = min(o.offset-o.seen, int64(b.n))
		}
		o.seen += int64(b.n)
		hi := int64(b.n)
		if o.count >= 0 && hi-lo > o.count-o.emitted {
			hi = lo + o.count - o.emitted
		}
		if hi <= lo {
			continue
		}
		o.emitted += hi - lo
		if lo == 0 && hi == int64(b.n) {
			return b, nil
		}
		return b.slice(int(lo), int(hi)), nil
	}
	return nil, nil
}

func (o *limitOp) close() { o.in.close() }

type valuesOp struct {
	b    *batch
	done bool
}

func newValuesOp(q *query, p *Values) (batchOperator, error) {
	b := &batch{n: len(p.Rows), cols: make([]*vec, len(p.Out))}
	for c, f := range p.Out {
		b.cols[c] = newVec(f.Type, len(p.Rows))
	}
	ev := q.newEvaluator()
	one := &batch{n: 1}
	for r, row := range p.Rows {
		if len(row) != len(p.Out) {
			panic("BUG: VALUES row width differs from its fields")
		}
		for c, e := range row {
			v, err := ev.eval(e, one)
			if err != nil {
				return nil, err
			}
			if v, err = castVec(v, p.Out[c].Type); err != nil {
				return nil, err
			}
			b.cols[c].set(r, v.value(0))
		}
	}
	return &valuesOp{b: b}, nil
}

func (o *valuesOp) nextBatch(ctx context.Context) (*batch, error) {
	if o.done || o.b.n == 0 {
		return nil, nil
	}
	o.done = true
	return o.b, nil
}

func (o *valuesOp) close() {}

type distinctOp struct {
	q     *query
	in    operator
	table *groupTable
	gids  []int32
}

func (o *distinctOp) nextBatch(ctx context.Context) (*batch, error) {
	for {
		b, err := o.q.codec.pull(ctx, o.in)
		if b == nil || err != nil {
			return nil, err
		}
		before := o.table.ngroups
		o.gids = growInt32(o.gids, b.n)
		if err := o.table.find(b.cols, b.n, o.gids); err != nil {
			return nil, err
		}
		added := o.table.ngroups - before
		if added == 0 {
			continue
		}
		sel := make([]int32, 0, added)
		want := int32(before)
		for i, g := range o.gids[:b.n] {
			if g == want {
				sel = append(sel, int32(i))
				want++
			}
		}
		return b.gather(sel), nil
	}
}

func (o *distinctOp) close() { o.in.close() }

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}
