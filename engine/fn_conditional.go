package engine

import "github.com/stratadb/strata/internal/sqlstate"
import "strings"

// Conditional expressions (PostgreSQL 15 §9.18): COALESCE, NULLIF, GREATEST, LEAST.
// PostgreSQL parses them as syntax, not pg_proc functions; their arguments unify to
// one type (commonType), which the binder has cast them to.

func init() {
	common := func(name string) func(orig, a []Type) (Type, error) {
		return func(orig, a []Type) (Type, error) {
			if len(a) == 0 {
				return Unknown, errNoOverload
			}
			t, err := ResultType(orig)
			if err != nil {
				return Unknown, Errorf(sqlstate.DatatypeMismatch, "%s types %s cannot be matched", strings.ToUpper(name), typeList(orig))
			}
			return t, nil
		}
	}
	for _, name := range []string{"coalesce", "greatest", "least"} {
		pick := pickCoalesce
		switch name {
		case "greatest":
			pick = func(c int) bool { return c > 0 }
		case "least":
			pick = func(c int) bool { return c < 0 }
		}
		f := &Func{Name: name, Kind: KindSyntax, untyped: true, ret: common(name), kernel: firstOfKernel(pick)}
		if name == "coalesce" {
			// Arguments evaluated only on the rows still NULL (lazy.go).
			f.fast = func(ev *evaluator, c *Call, b *batch) (*vec, bool, error) {
				out, err := ev.evalCoalesce(c, b)
				return out, true, err
			}
		}
		register(f)
	}
	register(&Func{Name: "nullif", Kind: KindSyntax, untyped: true, kernel: nullifKernel,
		ret: func(orig, a []Type) (Type, error) {
			if len(a) == 2 && comparableTypes(a[0], a[1]) {
				return a[0], nil
			}
			return Unknown, errNoOverload
		}})
}

// pickCoalesce marks coalesce for firstOfKernel: the first non-NULL argument wins.
var pickCoalesce func(int) bool

// firstOfKernel is coalesce (pick nil) or greatest/least (pick reports whether a
// value comparing c against the best so far replaces it).
func firstOfKernel(pick func(c int) bool) Kernel {
	return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
		cast := make([]*vec, len(args))
		for k, a := range args {
			v, err := castVec(a, c.T)
			if err != nil {
				return nil, err
			}
			cast[k] = v
		}
		out := newVec(c.T, n)
		for i := 0; i < n; i++ {
			best := -1
			for k, a := range cast {
				if a.isNull(i) {
					continue
				}
				if best < 0 {
					best = k
					if pick == nil {
						break
					}
					continue
				}
				if pick(cmpRow(a, i, cast[best], i)) {
					best = k
				}
			}
			if best < 0 {
				out.setNull(i)
			} else {
				out.set(i, cast[best].value(i))
			}
		}
		return out, nil
	}
}

func nullifKernel(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
	eq, err := compareVec("=", args[0], args[1])
	if err != nil {
		return nil, err
	}
	out, err := castVec(args[0], c.T)
	if err != nil {
		return nil, err
	}
	cp := *out
	cp.nulls = make([]bool, n)
	for i := 0; i < n; i++ {
		cp.nulls[i] = out.isNull(i) || (!eq.isNull(i) && eq.b[i])
	}
	return &cp, nil
}
