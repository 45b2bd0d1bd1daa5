package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stratadb/strata/storage"
)

// Explain renders p, one line per node, each child indented two spaces deeper than
// its parent. A Scan line names the table, the columns read, the effective time range
// (TimeMin/TimeMax narrowed by conjuncts on the time column), the filter and the
// pruning outcome computed from the sources' metadata, e.g.
// "segments: 3 of 168 (165 pruned by time, 0 by stats)", followed for lake files
// by how the sources left read them ("lake: cache=1 parquet=2": a Parquet row
// group read directly, a file's segment in the lake cache).
func Explain(p Plan) []string {
	var out []string
	explain(p, 0, &out)
	return out
}

func exprList(es []Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

func timeText(us int64, low bool) string {
	if low && us == MinTime {
		return "-infinity"
	}
	if !low && us == MaxTime {
		return "infinity"
	}
	return string(appendTimestamp(nil, us, false))
}

func explain(p Plan, depth int, out *[]string) {
	ind := strings.Repeat("  ", depth)
	var line string
	switch n := p.(type) {
	case *Scan:
		sc := newScanner(nil, n)
		cols := make([]string, len(n.Columns))
		for i, c := range n.Columns {
			if c >= 0 && c < len(n.Schema.Columns) {
				cols[i] = n.Schema.Columns[c].Name
			} else {
				cols[i] = fmt.Sprintf("$%d", c)
			}
		}
		line = fmt.Sprintf("Scan %s columns=[%s] time=[%s, %s]", n.Table, strings.Join(cols, ", "),
			timeText(sc.tmin, true), timeText(sc.tmax, false))
		if n.AsOf != nil {
			line += " asof=" + n.AsOf.String()
		}
		if n.Filter != nil {
			line += " filter=" + n.Filter.String()
		}
		var byTime, byStats int
		paths := map[string]int{}
		for _, src := range n.Sources {
			r, _ := sc.prune(src, false) // metadata only: never an error
			switch r {
			case prunedByTime:
				byTime++
			case prunedByStats:
				byStats++
			default:
				if rp, ok := src.(storage.ReadPath); ok {
					paths[rp.ReadPath()]++
				}
			}
		}
		total := len(n.Sources)
		line += fmt.Sprintf(" segments: %d of %d (%d pruned by time, %d by stats)", total-byTime-byStats, total, byTime, byStats)
		if len(paths) > 0 {
			// How the lake sources left read their rows, e.g. "lake: parquet=12 cache=2".
			line += " lake:"
			for _, p := range slices.Sorted(maps.Keys(paths)) {
				line += fmt.Sprintf(" %s=%d", p, paths[p])
			}
		}
	case *Filter:
		line = "Filter " + n.Cond.String()
	case *Project:
		line = "Project " + exprList(n.Exprs)
	case *Aggregate:
		aggs := make([]string, len(n.Aggs))
		for i := range n.Aggs {
			aggs[i] = n.Aggs[i].String()
		}
		line = "Aggregate"
		if len(n.Groups) > 0 {
			line += " groups=[" + exprList(n.Groups) + "]"
		}
		line += " aggs=[" + strings.Join(aggs, ", ") + "]"
		if pl, ok := pipelineOf(n.Input); ok {
			line += " (partial per source)" + explainSumMeta(n, pl)
		}
	case *Sort:
		line = "Sort " + sortKeysText(n.Keys)
	case *Limit:
		if s, ok := n.Input.(*Sort); ok && n.Count >= 0 {
			line = fmt.Sprintf("TopN %d offset=%d ", n.Count, n.Offset) + sortKeysText(s.Keys)
			*out = append(*out, ind+line)
			for _, c := range s.Children() {
				explain(c, depth+1, out)
			}
			return
		}
		line = "Limit"
		if n.Count >= 0 {
			line += fmt.Sprintf(" %d", n.Count)
		}
		if n.Offset > 0 {
			line += fmt.Sprintf(" offset=%d", n.Offset)
		}
	case *Distinct:
		line = "Distinct"
	case *Values:
		line = fmt.Sprintf("Values %d rows", len(n.Rows))
	case *Series:
		line = n.explainLine()
	case *Unnest:
		line = n.explainLine()
	case *ProjectSet:
		line = n.explainLine()
	case *Join:
		line = n.explainLine()
	case *Window:
		line = n.explainLine()
	case *Union:
		line = "UnionAll"
	case *SetOp:
		line = n.explainLine()
	case *DistinctOn:
		line = fmt.Sprintf("DistinctOn %d", len(n.On))
	default:
		line = fmt.Sprintf("%T", p)
	}
	*out = append(*out, ind+line)
	for _, c := range p.Children() {
		explain(c, depth+1, out)
	}
}

func sortKeysText(keys []SortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		s := k.Expr.String()
		if k.Desc {
			s += " DESC"
		}
		if k.NullsFirst != k.Desc {
			if k.NullsFirst {
				s += " NULLS FIRST"
			} else {
				s += " NULLS LAST"
			}
		}
		parts[i] = s
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
