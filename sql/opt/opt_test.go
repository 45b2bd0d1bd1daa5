package opt

import (
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/storage"
)

var schema = &storage.Schema{Columns: []storage.Column{
	{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
	{Name: "kind", Type: storage.TypeString, SQLType: "text"},
	{Name: "n", Type: storage.TypeInt64, SQLType: "integer"},
	{Name: "price", Type: storage.TypeFloat64, SQLType: "double precision"},
}}

func scan() *engine.Scan {
	return &engine.Scan{Table: "ev", Schema: schema, Columns: []int{0, 1, 2, 3},
		TimeMin: engine.MinTime, TimeMax: engine.MaxTime,
		Out: []engine.Field{{Name: "ts", Type: engine.TimestampTZ}, {Name: "kind", Type: engine.Text}, {Name: "n", Type: engine.Int32}, {Name: "price", Type: engine.Float64}}}
}

func col(i int) *engine.ColRef {
	f := scan().Out[i]
	return &engine.ColRef{Index: i, T: f.Type, Name: f.Name}
}

func ts(s string) *engine.Const {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &engine.Const{V: engine.Value{Type: engine.TimestampTZ, I: t.UnixMicro()}}
}

func i32(v int64) *engine.Const  { return &engine.Const{V: engine.Value{Type: engine.Int32, I: v}} }
func txt(s string) *engine.Const { return &engine.Const{V: engine.Value{Type: engine.Text, S: s}} }

func cmp(op string, a, b engine.Expr) *engine.Call {
	return &engine.Call{Func: op, Args: []engine.Expr{a, b}, T: engine.Bool}
}

func and(xs ...engine.Expr) *engine.BoolOp { return &engine.BoolOp{Op: engine.And, Args: xs} }

func project(in engine.Plan, idx ...int) *engine.Project {
	p := &engine.Project{Input: in}
	for _, i := range idx {
		f := in.Fields()[i]
		p.Exprs = append(p.Exprs, &engine.ColRef{Index: i, T: f.Type, Name: f.Name})
		p.Names = append(p.Names, f.Name)
	}
	return p
}

// findScan returns the plan's only Scan.
func findScan(t *testing.T, p engine.Plan) *engine.Scan {
	t.Helper()
	for p != nil {
		if s, ok := p.(*engine.Scan); ok {
			return s
		}
		kids := p.Children()
		if len(kids) != 1 {
			break
		}
		p = kids[0]
	}
	t.Fatal("no scan")
	return nil
}

func str(e engine.Expr) string {
	if e == nil {
		return "<nil>"
	}
	return e.String()
}

func TestExtractTimeRange(t *testing.T) {
	t0, t1 := ts("2023-10-01T00:00:00Z"), ts("2023-10-02T00:00:00Z")
	cases := []struct {
		name       string
		filter     engine.Expr
		min, max   int64
		restFilter string
	}{
		{"ge and lt", and(cmp(">=", col(0), t0), cmp("<", col(0), t1)), t0.V.I, t1.V.I - 1, "<nil>"},
		{"gt and le", and(cmp(">", col(0), t0), cmp("<=", col(0), t1)), t0.V.I + 1, t1.V.I, "<nil>"},
		{"const on the left", cmp("<", t0, col(0)), t0.V.I + 1, engine.MaxTime, "<nil>"},
		{"equal", cmp("=", col(0), t0), t0.V.I, t0.V.I, "<nil>"},
		{"tightest bound wins", and(cmp(">=", col(0), t0), cmp(">=", col(0), t1)), t1.V.I, engine.MaxTime, "<nil>"},
		{"other conjuncts stay", and(cmp(">=", col(0), t0), cmp("=", col(1), txt("view"))), t0.V.I, engine.MaxTime, "(kind = 'view')"},
		{"OR is not a range", &engine.BoolOp{Op: engine.Or, Args: []engine.Expr{cmp(">=", col(0), t0), cmp("=", col(1), txt("x"))}}, engine.MinTime, engine.MaxTime, "((ts >= '2023-10-01 00:00:00+00'::timestamp with time zone) OR (kind = 'x'))"},
		{"NULL bound stays a filter", cmp(">=", col(0), &engine.Const{V: engine.NullValue(engine.TimestampTZ)}), engine.MinTime, engine.MaxTime, ""},
	}
	for _, c := range cases {
		s := scan()
		s.Filter = c.filter
		out, err := ExtractTimeRange{}.Apply(s, &Context{})
		if err != nil {
			t.Fatal(err)
		}
		got := findScan(t, out)
		if got.TimeMin != c.min || got.TimeMax != c.max {
			t.Errorf("%s: range [%d, %d], want [%d, %d]", c.name, got.TimeMin, got.TimeMax, c.min, c.max)
		}
		if c.restFilter != "" && str(got.Filter) != c.restFilter {
			t.Errorf("%s: filter %s, want %s", c.name, str(got.Filter), c.restFilter)
		}
		if s.TimeMin != engine.MinTime || s.Filter != c.filter {
			t.Errorf("%s: the input plan was mutated", c.name)
		}
	}
}

func TestPushDownFilter(t *testing.T) {
	// Filter(n > 1) over Project(kind, n) over Scan: the conjunct reaches the scan
	// with the column renumbered to the table's n (2).
	p := &engine.Filter{Input: project(scan(), 1, 2), Cond: cmp(">", &engine.ColRef{Index: 1, T: engine.Int32, Name: "n"}, i32(1))}
	out, err := PushDownFilter{}.Apply(p, &Context{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.(*engine.Project); !ok {
		t.Fatalf("top is %T, want the Project (filter pushed below)", out)
	}
	s := findScan(t, out)
	if got := str(s.Filter); got != "(n > 1)" {
		t.Errorf("scan filter %s", got)
	}
	if ref := s.Filter.(*engine.Call).Args[0].(*engine.ColRef); ref.Index != 2 {
		t.Errorf("pushed column index %d, want table index 2", ref.Index)
	}

	// A conjunct on an aggregate result stays above the Aggregate; one on a group key goes below.
	agg := &engine.Aggregate{Input: scan(), Groups: []engine.Expr{col(1)},
		Aggs: []engine.AggCall{{Func: "count", T: engine.Int64}},
		Out:  []engine.Field{{Name: "kind", Type: engine.Text}, {Name: "count", Type: engine.Int64}}}
	p = &engine.Filter{Input: agg, Cond: and(
		cmp("=", &engine.ColRef{Index: 0, T: engine.Text}, txt("view")),
		cmp(">", &engine.ColRef{Index: 1, T: engine.Int64}, &engine.Const{V: engine.Value{Type: engine.Int64, I: 0}}))}
	out, _ = PushDownFilter{}.Apply(p, &Context{})
	f, ok := out.(*engine.Filter)
	if !ok || !strings.Contains(str(f.Cond), "> 0") {
		t.Fatalf("want Filter(count > 0) on top, got %T", out)
	}
	if got := str(findScan(t, out).Filter); got != "(kind = 'view')" {
		t.Errorf("scan filter %s", got)
	}

	// Nothing passes a Limit.
	lim := &engine.Limit{Input: scan(), Count: 1}
	p = &engine.Filter{Input: lim, Cond: cmp(">", col(2), i32(1))}
	out, _ = PushDownFilter{}.Apply(p, &Context{})
	if _, ok := out.(*engine.Filter); !ok || findScan(t, out).Filter != nil {
		t.Errorf("filter moved below a LIMIT")
	}
}

func TestPruneColumns(t *testing.T) {
	s := scan()
	s.Filter = cmp("=", col(1), txt("view")) // filter columns are not output columns
	p := project(s, 3, 2)
	out, err := PruneColumns{}.Apply(p, &Context{})
	if err != nil {
		t.Fatal(err)
	}
	got := findScan(t, out)
	if len(got.Columns) != 2 || got.Columns[0] != 2 || got.Columns[1] != 3 {
		t.Fatalf("scan columns %v, want [2 3]", got.Columns)
	}
	pr := out.(*engine.Project)
	if pr.Exprs[0].(*engine.ColRef).Index != 1 || pr.Exprs[1].(*engine.ColRef).Index != 0 {
		t.Errorf("project refs not renumbered: %s, %s", pr.Exprs[0], pr.Exprs[1])
	}
	// count(*) reads no column: the time column is kept so batches have rows.
	agg := &engine.Aggregate{Input: scan(), Aggs: []engine.AggCall{{Func: "count", T: engine.Int64}}, Out: []engine.Field{{Name: "count", Type: engine.Int64}}}
	out, _ = PruneColumns{}.Apply(agg, &Context{})
	if c := findScan(t, out).Columns; len(c) != 1 || c[0] != 0 {
		t.Errorf("count(*) scan columns %v, want [0]", c)
	}
}

func TestFoldConstants(t *testing.T) {
	now := time.Date(2023, 10, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   engine.Expr
		want string
	}{
		{cmp("=", col(2), &engine.Call{Func: "*", Args: []engine.Expr{i32(2), i32(3)}, T: engine.Int32}), "(n = 6)"},
		{and(cmp(">", col(2), i32(1)), &engine.Const{V: engine.Value{Type: engine.Bool, B: true}}), "(n > 1)"},
		{&engine.BoolOp{Op: engine.Or, Args: []engine.Expr{cmp(">", col(2), i32(1)), &engine.Const{V: engine.Value{Type: engine.Bool, B: true}}}}, "true"},
		// 1/0 is left for the executor (it may never be evaluated).
		{&engine.Call{Func: "/", Args: []engine.Expr{i32(1), i32(0)}, T: engine.Int32}, "(1 / 0)"},
	}
	for _, c := range cases {
		p := &engine.Project{Input: scan(), Exprs: []engine.Expr{c.in}, Names: []string{"x"}}
		out, err := FoldConstants{}.Apply(p, &Context{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if got := str(out.(*engine.Project).Exprs[0]); got != c.want {
			t.Errorf("fold %s = %s, want %s", c.in, got, c.want)
		}
	}
	// now() folds to the statement time.
	nowCall := &engine.Call{Func: "now", T: engine.TimestampTZ}
	p := &engine.Project{Input: scan(), Exprs: []engine.Expr{nowCall}, Names: []string{"now"}}
	out, _ := FoldConstants{}.Apply(p, &Context{Now: now})
	k, ok := out.(*engine.Project).Exprs[0].(*engine.Const)
	if !ok || k.V.I != now.UnixMicro() {
		t.Errorf("now() folded to %v, want %d", out.(*engine.Project).Exprs[0], now.UnixMicro())
	}
}

func TestOptimizerDisable(t *testing.T) {
	p := &engine.Filter{Input: scan(), Cond: cmp(">=", col(0), ts("2023-10-01T00:00:00Z"))}
	out, err := New("push_down_filter").Optimize(p, &Context{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.(*engine.Filter); !ok {
		t.Errorf("push_down_filter disabled but the filter moved: %T", out)
	}
	out, _ = New().Optimize(p, &Context{})
	if s := findScan(t, out); s.TimeMin == engine.MinTime || s.Filter != nil {
		t.Errorf("default rules: scan %+v", s)
	}
}
