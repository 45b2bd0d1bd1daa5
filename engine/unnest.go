package engine

import "fmt"

// Unnest is unnest(Array) in FROM: one text column with the elements of a text[]
// value, in order (NULL elements as NULL), no rows for a NULL or empty array, as
// in PostgreSQL. Array is evaluated once per execution; it may be a Param of a
// correlated subquery (psql's \d+ unnests an outer row's reloptions).
type Unnest struct {
	Array Expr
	Out   []Field
}

func (p *Unnest) Fields() []Field  { return p.Out }
func (p *Unnest) Children() []Plan { return nil }

func (p *Unnest) explainLine() string { return fmt.Sprintf("FunctionScan unnest(%s)", p.Array) }

func newUnnestOp(q *query, p *Unnest) (batchOperator, error) {
	v, err := q.newEvaluator().eval(p.Array, &batch{n: 1})
	if err != nil {
		return nil, err
	}
	var elems []ArrayElem
	if !v.isNull(0) {
		if elems, err = ParseTextArray(v.str(0)); err != nil {
			return nil, err
		}
	}
	b := &batch{n: len(elems), cols: []*vec{newVec(Text, len(elems))}}
	for i, e := range elems {
		if e.Null {
			b.cols[0].setNull(i)
		} else {
			b.cols[0].s[i] = e.S
		}
	}
	return &valuesOp{b: b}, nil
}
