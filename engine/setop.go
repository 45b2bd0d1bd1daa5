package engine

import (
	"context"
	"fmt"
)

// SetOp is INTERSECT or EXCEPT, with or without ALL. Its Input is a UNION ALL of
// the two arms in which every row carries, as its last column, an integer tag: 0
// for a row of the left arm, 1 for the right. The fields are Input's without the
// tag. Rows compare as in SELECT DISTINCT (NULLs equal), as PostgreSQL's set
// operations do. For a distinct row seen l times on the left and r on the right,
// the result holds it
//
//	INTERSECT      once if l > 0 and r > 0    INTERSECT ALL  min(l, r) times
//	EXCEPT         once if l > 0 and r = 0    EXCEPT ALL     max(l - r, 0) times
//
// in the order rows first appeared (PostgreSQL leaves it unspecified too).
type SetOp struct {
	Input  Plan
	Except bool // false: INTERSECT
	All    bool
}

func (p *SetOp) Fields() []Field {
	in := p.Input.Fields()
	return in[:len(in)-1]
}
func (p *SetOp) Children() []Plan { return []Plan{p.Input} }

func (p *SetOp) explainLine() string {
	s := "Intersect"
	if p.Except {
		s = "Except"
	}
	if p.All {
		s += " All"
	}
	return s
}

// times is how many copies of a row seen l times left and r times right the
// result holds.
func (p *SetOp) times(l, r int64) int64 {
	switch {
	case p.Except && p.All:
		return max(l-r, 0)
	case p.Except:
		if l > 0 && r == 0 {
			return 1
		}
		return 0
	case p.All:
		return min(l, r)
	}
	if l > 0 && r > 0 {
		return 1
	}
	return 0
}

type setOp struct {
	q     *query
	p     *SetOp
	in    operator
	table *groupTable
	left  []int64 // per group: rows of the left arm
	right []int64 // per group: rows of the right arm
	built bool

	next int32 // the group to emit next
	rest int64 // copies of group next still to emit
	sel  []int32
}

func newSetOp(q *query, p *SetOp) (batchOperator, error) {
	in, err := q.build(p.Input)
	if err != nil {
		return nil, err
	}
	table := newGroupTable(fieldTypes(p.Fields()), false)
	table.mem = q.mem // charges each new group, its text included
	return &setOp{q: q, p: p, in: in, table: table, next: -1}, nil
}

// build reads the whole input, counting each distinct row per arm.
func (o *setOp) build(ctx context.Context) error {
	var gids []int32
	for {
		b, err := o.q.codec.pull(ctx, o.in)
		if err != nil {
			return err
		}
		if b == nil {
			return nil
		}
		k := len(b.cols) - 1
		tag := b.cols[k]
		gids = growInt32(gids, b.n)
		if err := o.table.find(b.cols[:k], b.n, gids); err != nil {
			return err
		}
		for len(o.left) < o.table.ngroups {
			o.left, o.right = append(o.left, 0), append(o.right, 0)
		}
		for i, g := range gids[:b.n] {
			switch tag.i[i] {
			case 0:
				o.left[g]++
			case 1:
				o.right[g]++
			default:
				return fmt.Errorf("BUG: set operation tag %d", tag.i[i])
			}
		}
	}
}

func (o *setOp) nextBatch(ctx context.Context) (*batch, error) {
	if !o.built {
		if err := o.build(ctx); err != nil {
			return nil, err
		}
		o.built = true
	}
	o.sel = o.sel[:0]
	for len(o.sel) < BatchSize {
		if o.rest == 0 {
			o.next++
			if int(o.next) >= o.table.ngroups {
				break
			}
			o.rest = o.p.times(o.left[o.next], o.right[o.next])
			continue
		}
		k := min(o.rest, int64(BatchSize-len(o.sel)))
		for range k {
			o.sel = append(o.sel, o.next)
		}
		o.rest -= k
	}
	if len(o.sel) == 0 {
		return nil, nil
	}
	out := &batch{n: len(o.sel), cols: make([]*vec, len(o.table.keys))}
	for i, k := range o.table.keys {
		out.cols[i] = k.gather(o.sel)
	}
	return out, nil
}

func (o *setOp) close() { o.in.close() }

// DistinctOn is SELECT DISTINCT ON: of each run of rows with equal values in the
// On columns (NULLs equal), only the first passes. Input must be sorted with the
// On columns as its leading keys (the binder puts a Sort below), so equal rows
// are adjacent and the first is the one ORDER BY puts first.
type DistinctOn struct {
	Input Plan
	On    []int // column indexes of Input
}

func (p *DistinctOn) Fields() []Field  { return p.Input.Fields() }
func (p *DistinctOn) Children() []Plan { return []Plan{p.Input} }

type distinctOnOp struct {
	q    *query
	on   []int
	in   operator
	last []*vec // the On columns of the last row passed, one row each; nil before the first
}

func newDistinctOnOp(q *query, p *DistinctOn) (batchOperator, error) {
	in, err := q.build(p.Input)
	if err != nil {
		return nil, err
	}
	return &distinctOnOp{q: q, on: p.On, in: in}, nil
}

func (o *distinctOnOp) nextBatch(ctx context.Context) (*batch, error) {
	cur := make([]*vec, len(o.on))
	for {
		b, err := o.q.codec.pull(ctx, o.in)
		if b == nil || err != nil {
			return nil, err
		}
		for j, c := range o.on {
			cur[j] = b.cols[c]
		}
		var sel []int32
		for i := 0; i < b.n; i++ {
			// Equal rows are adjacent: compare with the last row passed.
			if n := len(sel); n > 0 && sameRow(cur, int(sel[n-1]), cur, i) || n == 0 && o.last != nil && sameRow(o.last, 0, cur, i) {
				continue
			}
			sel = append(sel, int32(i))
		}
		if len(sel) == 0 {
			continue
		}
		last := []int32{sel[len(sel)-1]}
		o.last = make([]*vec, len(o.on))
		for j, c := range cur {
			o.last[j] = c.gather(last)
		}
		return b.gather(sel), nil
	}
}

// sameRow reports whether row r of xs equals row i of ys, column by column, NULLs
// equal.
func sameRow(xs []*vec, r int, ys []*vec, i int) bool {
	for j, x := range xs {
		y := ys[j]
		xn, yn := x.isNull(r), y.isNull(i)
		if xn != yn || !xn && cmpRow(x, r, y, i) != 0 {
			return false
		}
	}
	return true
}

func (o *distinctOnOp) close() { o.in.close() }
