package engine

import (
	"context"

	"github.com/stratadb/strata/internal/sqlstate"
)

// generate_series(start, stop, step interval) over timestamp or timestamptz: the
// gap-filling time axis a dashboard LEFT JOINs its aggregated events to. Each
// value is the previous one plus step, as PostgreSQL's generate_series_timestamp
// adds it (months first, clamped to the month's end, then days and time); a
// timestamptz series adds days in the session's time zone, so that a day step
// crosses a daylight-saving change at local midnight.

type timeSeriesOp struct {
	ev            *evaluator
	t             Type
	next, stop    int64
	step          ival
	forward, done bool
	rows          int
}

func newTimeSeriesOp(q *query, p *Series) (batchOperator, error) {
	ev := q.newEvaluator()
	one := &batch{n: 1}
	t := p.Out[0].Type
	o := &timeSeriesOp{ev: ev, t: t}
	var null bool
	for k, e := range []Expr{p.Start, p.Stop} {
		v, err := ev.eval(e, one)
		if err != nil {
			return nil, err
		}
		if v, err = castVec(v, t); err != nil {
			return nil, err
		}
		if v.isNull(0) {
			null = true
			continue
		}
		if k == 0 {
			o.next = v.i[0]
		} else {
			o.stop = v.i[0]
		}
	}
	if p.Step == nil {
		return nil, Errorf(sqlstate.UndefinedFunction, "function generate_series(%s, %s) does not exist", t, t)
	}
	v, err := ev.eval(p.Step, one)
	if err != nil {
		return nil, err
	}
	if v, err = castVec(v, Interval); err != nil {
		return nil, err
	}
	if null || v.isNull(0) {
		o.done = true
		return o, nil
	}
	o.step = v.iv[0]
	// The sign of the step is that of the interval compared as PostgreSQL does,
	// a month as 30 days.
	span := (int64(o.step.M)*30+int64(o.step.D))*usPerDay + o.step.U
	if span == 0 {
		return nil, Errorf(sqlstate.InvalidParameterValue, "step size cannot equal zero")
	}
	o.forward = span > 0
	return o, nil
}

func (o *timeSeriesOp) past(v int64) bool {
	if o.forward {
		return v > o.stop
	}
	return v < o.stop
}

func (o *timeSeriesOp) nextBatch(ctx context.Context) (*batch, error) {
	if o.done || o.past(o.next) {
		return nil, nil
	}
	out := newVec(o.t, 0)
	for len(out.i) < BatchSize && !o.past(o.next) {
		if o.rows++; o.rows > maxSeriesRows {
			return nil, Errorf(sqlstate.ProgramLimitExceeded, "generate_series would return more than %d rows", maxSeriesRows)
		}
		out.i = append(out.i, o.next)
		n := o.ev.addIntervalIn(o.t, o.next, o.step)
		if n == o.next || (o.forward && n < o.next) || (!o.forward && n > o.next) {
			o.done = true // infinity, or the step overflowed
			break
		}
		o.next = n
	}
	out.n = len(out.i)
	return &batch{n: out.n, cols: []*vec{out}}, nil
}

func (o *timeSeriesOp) close() {}

// addIntervalIn adds iv to a value of type t: a timestamptz in the session's
// zone, a timestamp as a wall clock.
func (ev *evaluator) addIntervalIn(t Type, us int64, iv ival) int64 {
	if t.ID == TypeTimestampTZ {
		return addIntervalTZ(us, iv, 1, ev.now.Location())
	}
	return addInterval(us, iv, 1)
}
