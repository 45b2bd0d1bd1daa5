package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Unnest is unnest(Array) in FROM: one column with the elements of an array
// value (of the array's element type), in order (NULL elements as NULL), no rows for a NULL or empty array, as
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
	t := p.Out[0].Type
	b := &batch{n: len(elems), cols: []*vec{newVec(t, len(elems))}}
	for i, e := range elems {
		switch {
		case e.Null:
			b.cols[0].setNull(i)
		case t == Text:
			b.cols[0].s[i] = e.S
		default:
			x, err := ParseValue(e.S, t)
			if err != nil {
				return nil, err
			}
			b.cols[0].set(i, x)
		}
	}
	return &valuesOp{b: b}, nil
}

// SetFunc is one set-returning function in a select list (ProjectSet).
type SetFunc struct {
	// Kind is "unnest" (the elements), "subscripts" (generate_subscripts(a, 1):
	// their subscripts), "expand" (information_schema._pg_expandarray(a): the
	// record (x, n) of an element and its 1-based position, in its text form
	// "(3,1)", read by ExpandArrayField) or "expand_x"/"expand_n" (its fields).
	Kind string
	// Arg is the array: an array value, or an int2vector/oidvector in its text form
	// ("3 2"; elements are integers, subscripts start at 0 as in PostgreSQL).
	Arg Expr
}

// ProjectSet evaluates set-returning functions in a select list, as PostgreSQL's
// ProjectSet node: each input row becomes as many rows as its longest function
// result (none when every function returns no rows), the input columns repeated
// and each function's column padded with NULLs. Its fields are the input's, then
// one per function (Out[len(input):]).
type ProjectSet struct {
	Input Plan
	Funcs []SetFunc
	Out   []Field
}

func (p *ProjectSet) Fields() []Field  { return p.Out }
func (p *ProjectSet) Children() []Plan { return []Plan{p.Input} }

func (p *ProjectSet) explainLine() string {
	s := "ProjectSet"
	for _, f := range p.Funcs {
		s += fmt.Sprintf(" %s(%s)", f.Kind, f.Arg)
	}
	return s
}

// SetFuncType is the type of a SetFunc's column for an argument of type arg.
func SetFuncType(kind string, arg Type) Type {
	switch {
	case kind == "subscripts" || kind == "expand_n":
		return Int32
	case kind == "expand":
		return Text
	case arg.IsArray():
		e, _ := ArrayElemType(arg)
		return e
	}
	return Int64 // an element of an int2vector or oidvector
}

// setElems are the elements of an array argument, and its first subscript.
func setElems(v *vec, i int) ([]ArrayElem, int, error) {
	if v.isNull(i) {
		return nil, 1, nil
	}
	s := v.str(i)
	if v.t.IsArray() || strings.HasPrefix(s, "{") { // an array, or an int2[] column's text form
		e, err := ParseTextArray(s)
		return e, 1, err
	}
	var out []ArrayElem
	for _, f := range strings.Fields(s) {
		out = append(out, ArrayElem{S: f})
	}
	return out, 0, nil
}

type projectSetOp struct {
	q  *query
	p  *ProjectSet
	in operator
	ev *evaluator
}

func (o *projectSetOp) nextBatch(ctx context.Context) (*batch, error) {
	for {
		b, err := o.q.codec.pull(ctx, o.in)
		if b == nil || err != nil {
			return nil, err
		}
		args := make([]*vec, len(o.p.Funcs))
		for k, f := range o.p.Funcs {
			if args[k], err = o.ev.eval(f.Arg, b); err != nil {
				return nil, err
			}
		}
		nIn := len(b.cols)
		out := &batch{cols: make([]*vec, len(o.p.Out))}
		for c, f := range o.p.Out {
			out.cols[c] = newVec(f.Type, 0)
		}
		for r := 0; r < b.n; r++ {
			elems := make([][]ArrayElem, len(args))
			lower := make([]int, len(args))
			rows := 0
			for k, a := range args {
				if elems[k], lower[k], err = setElems(a, r); err != nil {
					return nil, err
				}
				rows = max(rows, len(elems[k]))
			}
			for j := 0; j < rows; j++ {
				for c := 0; c < nIn; c++ {
					appendValue(out.cols[c], b.cols[c].value(r))
				}
				for k, f := range o.p.Funcs {
					col := out.cols[nIn+k]
					v := Value{Type: col.t, Null: j >= len(elems[k])}
					if !v.Null {
						switch f.Kind {
						case "subscripts":
							v.I = int64(lower[k] + j)
						case "expand_n":
							v.I = int64(j + 1)
						case "expand":
							e := elems[k][j]
							v.S = "(" + e.S + "," + strconv.Itoa(j+1) + ")"
						default:
							e := elems[k][j]
							v.Null = e.Null
							if v.Null {
								break
							}
							if col.t == Text {
								v.S = e.S
							} else if v, err = ParseValue(e.S, col.t); err != nil {
								return nil, err
							}
						}
					}
					appendValue(col, v)
				}
				out.n++
			}
		}
		if out.n > 0 {
			return out, nil
		}
	}
}

// appendValue adds x as a new last row of v.
func appendValue(v *vec, x Value) {
	v.n++
	switch kindOf(v.t) {
	case kInt:
		v.i = append(v.i, 0)
	case kFloat:
		v.f = append(v.f, 0)
	case kBool:
		v.b = append(v.b, false)
	case kText:
		v.s = append(v.s, "")
	case kInterval:
		v.iv = append(v.iv, ival{})
	}
	if v.nulls != nil {
		v.nulls = append(v.nulls, false)
	}
	v.set(v.n-1, x)
}

func (o *projectSetOp) close() { o.in.close() }
