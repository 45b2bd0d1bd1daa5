package engine

// Lazy evaluation, as PostgreSQL promises it per row: AND and OR evaluate an
// operand only on the rows the operands before it left undecided, and COALESCE
// an argument only on the rows still NULL, so a guard such as
// "y <> 0 AND x / y > 1" or "COALESCE(x, 100 / y)" never raises for a row it keeps
// out. CASE is lazy in evalCase. Operands that cannot raise are evaluated on the
// whole batch, which is cheaper than gathering the undecided rows.

// mayRaise reports whether evaluating e can fail for some input row: a division,
// a cast, a function other than a few total ones, a subquery. It errs towards
// true.
func mayRaise(e Expr) bool {
	switch e := e.(type) {
	case *ColRef, *Const, *Param:
		return false
	case *IsNull:
		return mayRaise(e.X)
	case *BoolOp:
		for _, a := range e.Args {
			if mayRaise(a) {
				return true
			}
		}
		return false
	case *InList:
		if mayRaise(e.X) {
			return true
		}
		for _, a := range e.List {
			if mayRaise(a) {
				return true
			}
		}
		return false
	case *Call:
		switch e.Func {
		case "=", "<>", "!=", "<", "<=", ">", ">=", "+", "-", "*", "||", "lower", "upper", "length", "coalesce":
		default:
			return true
		}
		for _, a := range e.Args {
			if mayRaise(a) {
				return true
			}
		}
		return false
	}
	return true
}

// evalOn evaluates e on the rows sel of b (all rows when sel is nil) and returns
// a vec of b.n rows whose rows outside sel are unspecified.
func (ev *evaluator) evalOn(e Expr, b *batch, sel []int32) (*vec, error) {
	if sel == nil || len(sel) == b.n {
		return ev.eval(e, b)
	}
	v, err := ev.eval(e, b.gather(sel))
	if err != nil {
		return nil, err
	}
	out := newVec(v.t, b.n)
	for k, r := range sel {
		out.set(int(r), v.value(k))
	}
	return out, nil
}

func (ev *evaluator) evalBoolOp(e *BoolOp, b *batch) (*vec, error) {
	out := newVec(Bool, b.n)
	isAnd := e.Op == And
	// out.b[i]: for AND starts true, for OR false; unknown tracks NULLs. A row is
	// decided once an operand gives the dominant value (false for AND, true for
	// OR).
	for i := range out.b {
		out.b[i] = isAnd
	}
	var unknown []bool
	decided := 0
	var sel []int32 // the undecided rows, when some are decided
	for k, a := range e.Args {
		if decided == b.n {
			break
		}
		var x *vec
		var err error
		if k > 0 && decided > 0 && mayRaise(a) {
			sel = sel[:0]
			for i := range out.b {
				if out.b[i] == isAnd {
					sel = append(sel, int32(i))
				}
			}
			x, err = ev.evalOn(a, b, sel)
		} else {
			x, err = ev.eval(a, b)
		}
		if err != nil {
			return nil, err
		}
		for i := 0; i < b.n; i++ {
			if out.b[i] != isAnd {
				continue // decided by an earlier operand
			}
			if x.isNull(i) {
				if unknown == nil {
					unknown = make([]bool, b.n)
				}
				unknown[i] = true
				continue
			}
			if x.b[i] != isAnd {
				out.b[i] = !isAnd
				decided++
			}
		}
	}
	if unknown != nil {
		for i, u := range unknown {
			// AND: false wins over NULL; OR: true wins over NULL.
			if u && out.b[i] == isAnd {
				out.setNull(i)
			}
		}
	}
	return out, nil
}

// evalCoalesce evaluates COALESCE's arguments in order, each (when it may raise)
// only on the rows the ones before it left NULL.
func (ev *evaluator) evalCoalesce(c *Call, b *batch) (*vec, error) {
	out := newVec(c.T, b.n)
	pending := make([]int32, b.n) // rows still NULL
	for i := range pending {
		pending[i] = int32(i)
	}
	for _, a := range c.Args {
		if len(pending) == 0 {
			break
		}
		var x *vec
		var err error
		if mayRaise(a) {
			x, err = ev.evalOn(a, b, pending)
		} else {
			x, err = ev.eval(a, b)
		}
		if err != nil {
			return nil, err
		}
		if x, err = castVec(x, c.T); err != nil {
			return nil, err
		}
		rest := pending[:0]
		for _, r := range pending {
			if x.isNull(int(r)) {
				rest = append(rest, r)
				continue
			}
			out.set(int(r), x.value(int(r)))
		}
		pending = rest
	}
	for _, r := range pending {
		out.setNull(int(r))
	}
	return out, nil
}
