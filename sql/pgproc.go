package sql

import (
	"strconv"
	"strings"
	"sync"

	"github.com/stratadb/strata/engine"
)

// procRows are pg_proc's rows, generated from the engine's registry of functions,
// aggregates and window functions (engine.Procs): one row per overload, in
// pg_catalog, owned by the bootstrap role, with PostgreSQL's encodings of the
// array-valued columns as text (proargtypes "25 2276", proargmodes "{i,v}").
// The rows never change while the process runs, so they are built once.
var procRows = sync.OnceValue(func() [][]engine.Expr {
	c := func(v engine.Value) engine.Expr { return &engine.Const{V: v} }
	text := func(s string) engine.Expr { return c(engine.Value{Type: engine.Text, S: s}) }
	i8 := func(v int64) engine.Expr { return c(engine.Value{Type: engine.Int64, I: v}) }
	i2 := func(v int64) engine.Expr { return c(engine.Value{Type: engine.Int16, I: v}) }
	f4 := func(v float64) engine.Expr { return c(engine.Value{Type: engine.Float32, F: v}) }
	bl := func(v bool) engine.Expr { return c(engine.Value{Type: engine.Bool, B: v}) }
	null := c(engine.NullValue(engine.Text))
	orNull := func(s string) engine.Expr {
		if s == "" {
			return null
		}
		return text(s)
	}
	var rows [][]engine.Expr
	for _, p := range engine.Procs() {
		oids := make([]string, len(p.Args))
		for i, a := range p.Args {
			oids[i] = strconv.FormatInt(a.OID, 10)
		}
		var variadic int64
		modes := ""
		if p.Variadic {
			variadic = p.Args[len(p.Args)-1].OID
			m := make([]string, len(p.Args))
			for i := range m {
				m[i] = "i"
			}
			m[len(m)-1] = "v"
			modes = "{" + strings.Join(m, ",") + "}"
		}
		names := ""
		if len(p.ArgNames) > 0 {
			names = "{" + strings.Join(p.ArgNames, ",") + "}"
		}
		defaults := ""
		if len(p.Defaults) > 0 {
			// pg_node_tree of the default expressions; strata keeps their SQL text
			defaults = "(" + strings.Join(p.Defaults, " ") + ")"
		}
		rows = append(rows, []engine.Expr{i8(p.OID), text(p.Name), i8(oidPGCatalog), i8(oidRole), i8(p.Lang),
			f4(1), f4(0), i8(variadic), i8(0), text(string(p.Kind)),
			bl(false), bl(false), bl(p.Strict), bl(false), text(string(p.Vol)),
			text("s"), i2(int64(len(p.Args))), i2(int64(len(p.Defaults))), i8(p.Ret.OID), text(strings.Join(oids, " ")),
			null, orNull(modes), orNull(names), orNull(defaults),
			null, text(p.Src), null, null, null, null})
	}
	return rows
})
