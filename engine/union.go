package engine

import "context"

// Union is UNION ALL: the rows of every input, input after input. Inputs have
// the same number of fields, of the same types (the binder casts); the fields are
// the first input's.
type Union struct {
	Inputs []Plan
}

func (p *Union) Fields() []Field  { return p.Inputs[0].Fields() }
func (p *Union) Children() []Plan { return p.Inputs }

type unionOp struct {
	q   *query
	ins []operator
	cur int
}

func newUnionOp(q *query, p *Union) (batchOperator, error) {
	o := &unionOp{q: q}
	for _, in := range p.Inputs {
		op, err := q.build(in)
		if err != nil {
			o.close()
			return nil, err
		}
		o.ins = append(o.ins, op)
	}
	return o, nil
}

func (o *unionOp) nextBatch(ctx context.Context) (*batch, error) {
	for o.cur < len(o.ins) {
		b, err := o.q.codec.pull(ctx, o.ins[o.cur])
		if err != nil {
			return nil, err
		}
		if b != nil {
			return b, nil
		}
		o.cur++
	}
	return nil, nil
}

func (o *unionOp) close() {
	for _, in := range o.ins {
		in.close()
	}
}
