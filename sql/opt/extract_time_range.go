package opt

import "github.com/stratadb/strata/engine"

// ExtractTimeRange turns the conjuncts of a scan filter that compare the table's time
// column with a constant (=, <, <=, >, >=; BETWEEN is bound as >= AND <=) into the
// scan's [TimeMin, TimeMax] range, so whole sources outside it are never opened. The
// conjuncts it captures exactly are removed from the filter. It runs after
// push_down_filter (conjuncts must already be in Scan.Filter) and after
// fold_constants (now() - interval '1 hour' must already be a constant).
type ExtractTimeRange struct{}

func (ExtractTimeRange) Name() string { return "extract_time_range" }

func (ExtractTimeRange) Apply(p engine.Plan, _ *Context) (engine.Plan, error) {
	return MapPlan(p, func(n engine.Plan) (engine.Plan, error) {
		s, ok := n.(*engine.Scan)
		if !ok || s.Filter == nil || s.Schema == nil {
			return n, nil
		}
		c := *s
		var rest []engine.Expr
		for _, e := range Conjuncts(s.Filter) {
			if !narrow(&c, e) {
				rest = append(rest, e)
			}
		}
		c.Filter = And(rest)
		return &c, nil
	})
}

var flipped = map[string]string{"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

// narrow applies e to s's time range when e is "time op constant"; it reports whether
// it did (the conjunct is then fully represented by the range).
func narrow(s *engine.Scan, e engine.Expr) bool {
	call, ok := e.(*engine.Call)
	if !ok || len(call.Args) != 2 {
		return false
	}
	op, ok := flipped[call.Func]
	if !ok {
		return false
	}
	col, k := call.Args[0], call.Args[1]
	if _, isConst := col.(*engine.Const); isConst {
		col, k = k, col
	} else {
		op = call.Func
	}
	ref, ok := col.(*engine.ColRef)
	if !ok || ref.Index != s.Schema.TimeColumn || !ref.T.IsTime() {
		return false
	}
	kc, ok := k.(*engine.Const)
	if !ok || kc.V.Null || !kc.V.Type.IsTime() {
		return false
	}
	v := kc.V.I
	lo, hi := s.TimeMin, s.TimeMax
	switch op {
	case "=":
		lo, hi = max(lo, v), min(hi, v)
	case ">=":
		lo = max(lo, v)
	case ">":
		if v == engine.MaxTime {
			return false
		}
		lo = max(lo, v+1)
	case "<=":
		hi = min(hi, v)
	case "<":
		if v == engine.MinTime {
			return false
		}
		hi = min(hi, v-1)
	}
	s.TimeMin, s.TimeMax = lo, hi
	return true
}
