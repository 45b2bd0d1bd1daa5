package engine

import "github.com/stratadb/strata/internal/sqlstate"

// The operators: + - * / % ^ (binary and unary minus, "neg"), the comparisons,
// || , NOT and the regular-expression matches. Each symbol is one untyped overload
// whose ret applies PostgreSQL's operator typing as strata does (arithType,
// comparableTypes); their kernels (arith.go, eval.go's compareVec) still dispatch
// on the symbol inside, once per batch. pg_operator is not generated from here.

func init() {
	op := func(name string, ret func(orig, a []Type) (Type, error), k Kernel, fast fastPath) *Func {
		switch name {
		case "+", "-", "*", "/", "%", "^", "neg":
			ret = noRegArith(ret)
		}
		return &Func{Name: name, Kind: KindOperator, Strict: true, untyped: true, ret: ret, kernel: k, fast: fast}
	}
	arithK := func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		if len(args) == 1 && c.Func == "-" {
			return negVec(args[0])
		}
		if len(args) != 2 {
			return nil, undefinedFunc(c.Func, argTypes(args))
		}
		if out, ok := ev.zonedArith(c.Func, args[0], args[1], c.T); ok { // tz.go
			return out, nil
		}
		return arith(c.Func, args[0], args[1], c.T)
	}
	arithFast := func(ev *evaluator, c *Call, b *batch) (*vec, bool, error) { return ev.arithConst(c, b) }
	for _, name := range []string{"+", "-"} {
		register(op(name, addSubType(name), arithK, arithFast))
	}
	register(
		op("*", arityRet(2, func(a []Type) (Type, bool) {
			switch {
			case a[0].IsNumeric() && a[1].IsNumeric():
				if t, ok := decimalArithType("*", a[0], a[1]); ok {
					return t, true
				}
				return arithType(a[0], a[1]), true
			case a[0].ID == TypeInterval && a[1].IsNumeric(), a[0].IsNumeric() && a[1].ID == TypeInterval:
				return Interval, true
			}
			return Unknown, false
		}), arithK, arithFast),
		op("/", arityRet(2, func(a []Type) (Type, bool) {
			switch {
			case a[0].IsNumeric() && a[1].IsNumeric():
				return arithType(a[0], a[1]), true
			case a[0].ID == TypeInterval && a[1].IsNumeric():
				return Interval, true
			}
			return Unknown, false
		}), arithK, arithFast),
		op("%", arityRet(2, modType), arithK, nil),
		op("neg", arityRet(1, negType), func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			return negVec(args[0])
		}, nil),
		op("^", arityRet(2, powerType), func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			return mathPower(args[0], args[1], c.T)
		}, nil),
		op("||", func(orig, a []Type) (Type, error) {
			// text || anynonarray: an untyped side is text (uuid || 'x')
			isText := func(i int) bool { return a[i].ID == TypeText || orig[i].ID == TypeUnknown }
			if len(a) == 2 && (isText(0) || isText(1)) && !a[0].IsArray() && !a[1].IsArray() {
				return Text, nil
			}
			return Unknown, errNoOverload
		}, concatOpKernel, nil),
		op("not", arityRet(1, func(a []Type) (Type, bool) { return Bool, a[0].ID == TypeBool }), notKernel, nil),
	)
	for _, name := range []string{"=", "<>", "!=", "<", "<=", ">", ">="} {
		register(op(name, compareType(name), func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			if len(args) != 2 {
				return nil, undefinedFunc(c.Func, argTypes(args))
			}
			return compareVec(c.Func, args[0], args[1])
		}, compareConstFast))
	}
	for _, name := range []string{"~", "!~", "~*", "!~*"} {
		register(op(name, arityRet(2, func(a []Type) (Type, bool) { return Bool, allText(a) }),
			func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
				if args[0].t.Pad != 0 { // character(n) ~ matches the padded value, as PostgreSQL's bpcharregexeq
					args = []*vec{padVec(args[0]), args[1]}
				}
				return regexMatch(c.Func, args, n)
			}, nil))
	}
}

// arityRet makes an operator's ret from a rule over exactly n argument types
// (after fillUnknown); a false rule is 42883 for the types as written.
func arityRet(n int, rule func(a []Type) (Type, bool)) func(orig, a []Type) (Type, error) {
	return func(orig, a []Type) (Type, error) {
		if len(a) == n {
			if t, ok := rule(a); ok {
				return t, nil
			}
		}
		return Unknown, errNoOverload
	}
}

// noRegArith refuses arithmetic on object identifiers (regtypes.go), as
// PostgreSQL has no such operators.
func noRegArith(ret func(orig, a []Type) (Type, error)) func(orig, a []Type) (Type, error) {
	return func(orig, a []Type) (Type, error) {
		for _, t := range a {
			if t.Reg != 0 {
				return Unknown, errNoOverload
			}
		}
		return ret(orig, a)
	}
}

// errNoOverload is a ret's "no such overload"; LookupFunc turns it into 42883
// naming the function and the argument types as written.
var errNoOverload = &Error{Code: sqlstate.UndefinedFunction, Message: "no overload"}

// addSubType types x + y and x - y, and unary minus.
func addSubType(name string) func(orig, a []Type) (Type, error) {
	return func(orig, a []Type) (Type, error) {
		if len(a) == 1 && name == "-" {
			if t, ok := negType(a); ok {
				return t, nil
			}
			return Unknown, undefinedFunc("neg", orig)
		}
		if len(a) != 2 {
			return Unknown, errNoOverload
		}
		x, y := a[0], a[1]
		// An untyped literal next to a timestamp/date in +/- is an interval (or int for dates).
		if orig[1].ID == TypeUnknown && (x.IsTime() || x.ID == TypeDate) {
			if x.ID == TypeDate {
				y = Int32
			} else {
				y = Interval
			}
			if name == "-" && x.IsTime() {
				y = Interval
			}
		}
		switch {
		case x.IsNumeric() && y.IsNumeric():
			if t, ok := decimalArithType(name, x, y); ok {
				return t, nil
			}
			return arithType(x, y), nil
		case x.IsTime() && y.ID == TypeInterval:
			return x, nil
		case name == "+" && x.ID == TypeInterval && y.IsTime():
			return y, nil
		case x.ID == TypeDate && y.IsInteger():
			return Date, nil
		case name == "+" && x.IsInteger() && y.ID == TypeDate:
			return Date, nil
		case x.ID == TypeDate && y.ID == TypeInterval:
			return Timestamp, nil
		case name == "+" && x.ID == TypeInterval && y.ID == TypeDate:
			return Timestamp, nil
		case name == "-" && x.ID == TypeDate && y.ID == TypeDate:
			return Int32, nil
		case name == "-" && x.IsTime() && y.IsTime():
			return Interval, nil
		case name == "-" && x.IsTime() && y.ID == TypeDate, name == "-" && x.ID == TypeDate && y.IsTime():
			return Interval, nil
		case x.ID == TypeInterval && y.ID == TypeInterval:
			return Interval, nil
		}
		return Unknown, errNoOverload
	}
}

func negType(a []Type) (Type, bool) {
	return a[0], a[0].IsNumeric() || a[0].ID == TypeInterval
}

func modType(a []Type) (Type, bool) {
	x, y := a[0], a[1]
	if x.IsInteger() && y.IsInteger() {
		return arithType(x, y), true
	}
	if t, ok := decimalArithType("%", x, y); ok {
		return t, true
	}
	return Numeric, (x.IsInteger() || x.ID == TypeNumeric) && (y.IsInteger() || y.ID == TypeNumeric)
}

// powerType is x ^ y: numeric when either side is numeric and neither is a float.
func powerType(a []Type) (Type, bool) {
	if !a[0].IsNumeric() || !a[1].IsNumeric() {
		return Unknown, false
	}
	if a[0].ID == TypeNumeric || a[1].ID == TypeNumeric || a[0].IsDecimal() || a[1].IsDecimal() {
		if a[0].ID != TypeFloat64 && a[1].ID != TypeFloat64 && a[0].ID != TypeFloat32 && a[1].ID != TypeFloat32 {
			return Numeric, true
		}
	}
	return Float64, true
}

func compareType(name string) func(orig, a []Type) (Type, error) {
	return func(orig, a []Type) (Type, error) {
		if len(a) == 2 && a[0].IsArray() && name != "=" && name != "<>" && name != "!=" {
			// arrays.go: the text form orders differently from PostgreSQL's element order
			return Type{}, Unsupported("operator " + name + " on arrays")
		}
		if len(a) == 2 && comparableTypes(a[0], a[1]) && a[0].ID != TypeUnknown {
			return Bool, nil
		}
		return Unknown, errNoOverload
	}
}

// compareConstFast compares a column with a constant without materializing the
// constant.
func compareConstFast(ev *evaluator, c *Call, b *batch) (*vec, bool, error) {
	if len(c.Args) != 2 {
		return nil, false, nil
	}
	if k, ok := c.Args[1].(*Const); ok {
		x, err := ev.eval(c.Args[0], b)
		if err != nil {
			return nil, true, err
		}
		if out, ok := fastCompareConst(c.Func, x, k.V); ok {
			return out, true, nil
		}
		out, err := compareVec(c.Func, x, constVec(k.V, b.n))
		return out, true, err
	}
	if k, ok := c.Args[0].(*Const); ok {
		y, err := ev.eval(c.Args[1], b)
		if err != nil {
			return nil, true, err
		}
		if out, ok := fastCompareConst(flipOp(c.Func), y, k.V); ok {
			return out, true, nil
		}
		out, err := compareVec(c.Func, constVec(k.V, b.n), y)
		return out, true, err
	}
	return nil, false, nil
}

func concatOpKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	out := newVec(Text, n)
	out.nulls = unionNulls(n, args...)
	// text || anynonarray casts the other side to text (true is 'true')
	ta, err := ev.cast(args[0], Text)
	if err != nil {
		return nil, err
	}
	tb, err := ev.cast(args[1], Text)
	if err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		if !out.isNull(i) {
			out.s[i] = ta.str(i) + tb.str(i)
		}
	}
	return out, nil
}

func notKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	x := args[0]
	out := newVec(Bool, n)
	out.nulls = x.nulls
	for i, v := range x.b {
		out.b[i] = !v
	}
	return out, nil
}
