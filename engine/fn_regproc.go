package engine

import "strconv"

// regproc_name(oid) and regprocedure_name(oid): the output of oid::regproc
// (the function's name) and oid::regprocedure (name(argument types)), from
// pg_proc as strata generates it (proc.go); the number itself when no function
// has that oid, as PostgreSQL prints an unknown oid. The binder binds
// x::regproc and x::regprocedure to them (KindSyntax: not in pg_proc).

func init() {
	k := func(withArgs bool) Kernel {
		return func(ev *evaluator, c *Call, args []*vec, n int) (*vec, error) {
			return textN(n, args, func(i int) (string, error) {
				oid := args[0].i[i]
				p, ok := ProcByOID(oid)
				if !ok {
					if oid == 0 {
						return "-", nil
					}
					return strconv.FormatInt(oid, 10), nil
				}
				if !withArgs {
					return p.Name, nil
				}
				s := p.Name + "("
				for j, t := range p.Args {
					if j > 0 {
						s += ","
					}
					s += t.Name
				}
				return s + ")", nil
			})
		}
	}
	register(
		&Func{Name: "regproc_name", Args: sig(Int64), Ret: Text, Strict: true, Vol: Stable, Kind: KindSyntax, kernel: k(false)},
		&Func{Name: "regprocedure_name", Args: sig(Int64), Ret: Text, Strict: true, Vol: Stable, Kind: KindSyntax, kernel: k(true)},
	)
}
