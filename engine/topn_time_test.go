package engine

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage"
)

// timeTopNData builds nsrc sources (some empty) with overlapping time ranges and
// timestamps rounded to quantum µs, so that many rows tie on time.
func timeTopNData(r *rand.Rand, nsrc int, quantum int64) *dataset {
	d := &dataset{}
	for k := 0; k < nsrc; k++ {
		n := r.IntN(2500)
		if r.IntN(5) == 0 {
			n = 0
		}
		c := genEvents(r, n, 0)
		start := baseTime + r.Int64N(5*usPerHour)
		span := 1 + r.Int64N(3*usPerHour)
		for i := range c.Cols[cTS].Int64 {
			t := start + r.Int64N(span)
			c.Cols[cTS].Int64[i] = t - t%quantum
		}
		var shuffle *rand.Rand
		if r.IntN(3) == 0 { // rows in arrival order, as a real-time head holds them
			shuffle = r
		}
		src := newMemSourceOrder(fmt.Sprintf("seg%d", k), c, shuffle)
		d.sources = append(d.sources, src)
		c = src.cols
		for i := 0; i < c.Len; i++ {
			row := make([]Value, len(colTypes))
			for ci, t := range colTypes {
				v := Value{Type: t}
				if c.IsNull(ci, i) {
					v.Null = true
				} else {
					switch t.ID {
					case TypeTimestampTZ, TypeInt64:
						v.I = c.Cols[ci].Int64[i]
					case TypeFloat64:
						v.F = c.Cols[ci].Float64[i]
					case TypeBool:
						v.B = c.Cols[ci].Bool[i]
					case TypeText:
						v.S = src.dicts[ci].vals[src.ids[ci][i]]
					}
				}
				row[ci] = v
			}
			d.rows = append(d.rows, row)
		}
	}
	return d
}

// cmpTestValue orders two non-NULL values of one of the test columns.
func cmpTestValue(a, b Value) int {
	if a.Type.ID == TypeText {
		return strings.Compare(a.S, b.S)
	}
	return cmpInt(a.I, b.I)
}

// TestTimeTopN checks ORDER BY time [, more keys] LIMIT/OFFSET (the time-ordered
// top-N) against a plain loop and against the general full sort, over random data
// with ties on time, NULLs in later keys, filters in the scan and above it, time
// ranges, overlapping and empty sources.
func TestTimeTopN(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	quanta := []int64{1, 1_000_000, 60_000_000, usPerHour}
	outTable := []int{cTS, cCountry, cQty, cNote} // table columns projected
	for iter := 0; iter < 250; iter++ {
		d := timeTopNData(r, 1+r.IntN(8), quanta[r.IntN(len(quanta))])
		// Sort keys: time first, then the other output columns in random order.
		rest := []int{1, 2, 3}
		r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		keys := []SortKey{{Desc: r.IntN(2) == 0}}
		keys[0].NullsFirst = keys[0].Desc
		// Every output column is a key, so rows tying on all keys are identical
		// and the expected rows are well defined.
		for _, k := range rest {
			desc := r.IntN(2) == 0
			keys = append(keys, SortKey{Expr: nil, Desc: desc, NullsFirst: r.IntN(2) == 0})
			keys[len(keys)-1].Expr = &ColRef{Index: k} // project position; typed below
		}
		// The projection may put the time column anywhere.
		perm := r.Perm(len(outTable))
		projExprs := make([]Expr, len(outTable))
		names := make([]string, len(outTable))
		posOf := map[int]int{} // position in outTable -> projection position
		for p, o := range perm {
			projExprs[p] = &ColRef{Index: outTable[o], T: colTypes[outTable[o]]}
			names[p] = eventsSchema.Columns[outTable[o]].Name
			posOf[o] = p
		}
		keys[0].Expr = &ColRef{Index: posOf[0], T: colTypes[cTS]}
		for i := 1; i < len(keys); i++ {
			o := keys[i].Expr.(*ColRef).Index
			keys[i].Expr = &ColRef{Index: posOf[o], T: colTypes[outTable[o]]}
		}

		var pr *pred
		if r.IntN(3) > 0 {
			p := genPred(r, 2)
			pr = &p
		}
		inScan := r.IntN(2) == 0
		tmin, tmax := int64(MinTime), int64(MaxTime)
		if r.IntN(3) == 0 {
			tmin = baseTime + r.Int64N(4*usPerHour)
			tmax = tmin + r.Int64N(3*usPerHour)
		}
		count := int64(1 + r.IntN(40))
		if r.IntN(10) == 0 {
			count = 0
		}
		offset := int64(0)
		if r.IntN(3) == 0 {
			offset = int64(r.IntN(30))
		}

		// Expected: a plain loop.
		var rows [][]Value
		for _, row := range d.rows {
			ts := row[cTS].I
			if ts < tmin || ts > tmax || (pr != nil && pr.eval(row) != tvTrue) {
				continue
			}
			rows = append(rows, row)
		}
		sortCols := []int{cTS}
		for _, k := range keys[1:] {
			sortCols = append(sortCols, outTable[perm[k.Expr.(*ColRef).Index]])
		}
		sort.SliceStable(rows, func(a, b int) bool {
			for i, k := range keys {
				x, y := rows[a][sortCols[i]], rows[b][sortCols[i]]
				var c int
				switch {
				case x.Null && y.Null:
					continue
				case x.Null:
					c = 1
					if k.NullsFirst {
						c = -1
					}
				case y.Null:
					c = -1
					if k.NullsFirst {
						c = 1
					}
				default:
					c = cmpTestValue(x, y)
					if k.Desc {
						c = -c
					}
				}
				if c != 0 {
					return c < 0
				}
			}
			return false
		})
		var want [][]string
		for i := offset; i < offset+count && i < int64(len(rows)); i++ {
			line := make([]string, len(outTable))
			for p, o := range perm {
				line[p] = textOf(rows[i][outTable[o]])
			}
			want = append(want, line)
		}

		mk := func(limited bool) Plan {
			// Scan every column, in table order: a Filter node's column references
			// then equal the table's.
			s := scanOf(d, []int{cTS, cCountry, cDevice, cPrice, cQty, cFlag, cNote}, nil)
			s.TimeMin, s.TimeMax = tmin, tmax
			var in Plan = s
			if pr != nil {
				if inScan {
					s.Filter = pr.e
				} else {
					in = &Filter{Input: s, Cond: pr.e}
				}
			}
			proj := &Project{Input: in, Exprs: projExprs, Names: names}
			sorted := &Sort{Input: proj, Keys: keys}
			if !limited {
				return sorted
			}
			return &Limit{Input: sorted, Count: count, Offset: offset}
		}
		what := fmt.Sprintf("iter %d: keys %v count %d offset %d filter %v", iter, keys, count, offset, pr != nil)
		if pr != nil {
			what += " " + pr.e.String()
		}
		if !timeSortKey(keys, mustPipeline(t, mk(false).(*Sort).Input)) {
			t.Fatalf("%s: time key not recognized", what)
		}
		opts := Options{Parallelism: 1 + iter%3}
		full := run(t, mk(false), opts)
		var general [][]string
		for i := offset; i < offset+count && i < int64(len(full)); i++ {
			general = append(general, full[i])
		}
		sameRows(t, what+" (general sort)", general, want)
		got := run(t, mk(true), opts)
		sameRows(t, what+" (time top-N)", got, want)
	}
}

func mustPipeline(t *testing.T, p Plan) *pipeline {
	t.Helper()
	pl, ok := pipelineOf(p)
	if !ok {
		t.Fatal("not a pipeline")
	}
	return pl
}

var _ storage.Source = (*memSource)(nil)
