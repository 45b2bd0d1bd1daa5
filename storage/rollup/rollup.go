// Package rollup owns ingest-time rollup (Druid's queryGranularity): rows of a
// rollup table whose dimensions are equal and whose times fall in the same bucket
// are stored as one row that keeps, per metric, what count, sum, min, max and avg
// over the raw rows need.
//
// A rollup table's logical schema is what users declare and insert: the time
// column, dimensions (text and boolean columns) and metrics (integer and
// floating-point columns). Its physical (stored) schema is the logical one, where a
// metric column holds the SUM of its raw values, followed by hidden columns, named
// with a "__" prefix that user columns may not use:
//
//	__rows          bigint   raw rows merged into the row
//	__count__<m>    bigint   raw rows where m is not NULL
//	__min__<m>      m's type smallest raw value (NULL when all were NULL)
//	__max__<m>      m's type largest raw value
//
// Invariants: the time of a stored row is its bucket's start; Reduce of rows that
// are already physical rows (ReducePhysical) is the same as Reduce of their raw
// rows, so rolled-up rows can be merged again (across batches, at persist, at
// compaction) without changing any answer.
package rollup

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
)

// Option is the table option (CREATE TABLE ... WITH (rollup = '10 seconds')) that
// makes a rollup table; its value is the bucket width.
const Option = catalog.OptRollup

// Of returns the spec of def, or nil when def is not a rollup table.
func Of(def catalog.TableDef) (*Spec, error) {
	v := def.Options[Option]
	if v == "" {
		return nil, nil
	}
	d, err := catalog.ParseDuration(v)
	if err != nil {
		return nil, fmt.Errorf("table %s: option %s: %w", def.Name, Option, err)
	}
	spec, err := New(&def.Schema, d.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", def.Name, err)
	}
	return spec, nil
}

// SchemaFor returns the stored schema of a table declared as def (its Schema the
// declared columns, its Options naming the bucket), checking that the bucket
// divides the table's time-chunk granularity.
func SchemaFor(def catalog.TableDef) (storage.Schema, error) {
	d, err := catalog.ParseDuration(def.Options[Option])
	if err != nil || d < time.Millisecond {
		return storage.Schema{}, fmt.Errorf("option %s: invalid duration %q (at least 1 ms)", Option, def.Options[Option])
	}
	if def.Granularity%d != 0 {
		return storage.Schema{}, fmt.Errorf("option %s: %s does not divide the segment granularity %s", Option, d, def.Granularity)
	}
	return Physical(def.Schema)
}

// HiddenPrefix starts the name of every column rollup adds.
const HiddenPrefix = "__"

// RowsColumn is the hidden column counting raw rows.
const RowsColumn = "__rows"

// CountColumn, MinColumn and MaxColumn name a metric's hidden columns.
func CountColumn(metric string) string { return "__count__" + metric }
func MinColumn(metric string) string   { return "__min__" + metric }
func MaxColumn(metric string) string   { return "__max__" + metric }

// IsHidden reports whether a column name is one rollup adds.
func IsHidden(name string) bool { return strings.HasPrefix(name, HiddenPrefix) }

// Metric is one metric column and its hidden columns, as physical column indices.
type Metric struct {
	Col, Count, Min, Max int
}

// Spec is a rollup table's layout.
type Spec struct {
	Logical  *storage.Schema // what users declare and insert
	Physical *storage.Schema // what is stored
	Bucket   int64           // µs
	Dims     []int           // dimension columns (same index in both schemas)
	Metrics  []Metric        // physical indices
	Rows     int             // physical index of __rows
}

func isMetric(c storage.Column) bool {
	return c.Type == storage.TypeInt64 || c.Type == storage.TypeFloat64
}

// Physical returns the stored schema of a rollup table declared with logical.
func Physical(logical storage.Schema) (storage.Schema, error) {
	if err := logical.Validate(); err != nil {
		return storage.Schema{}, err
	}
	phys := storage.Schema{TimeColumn: logical.TimeColumn, Columns: append([]storage.Column(nil), logical.Columns...)}
	for _, c := range logical.Columns {
		if IsHidden(c.Name) {
			return storage.Schema{}, fmt.Errorf("column %q: names starting with %q are reserved in rollup tables", c.Name, HiddenPrefix)
		}
	}
	phys.Columns = append(phys.Columns, storage.Column{Name: RowsColumn, Type: storage.TypeInt64, SQLType: "bigint", NotNull: true})
	for _, c := range logical.Columns {
		if !isMetric(c) {
			continue
		}
		phys.Columns = append(phys.Columns,
			storage.Column{Name: CountColumn(c.Name), Type: storage.TypeInt64, SQLType: "bigint", NotNull: true},
			storage.Column{Name: MinColumn(c.Name), Type: c.Type, SQLType: c.SQLType},
			storage.Column{Name: MaxColumn(c.Name), Type: c.Type, SQLType: c.SQLType})
	}
	return phys, phys.Validate()
}

// New returns the spec of a table whose stored schema is physical (made by
// Physical) rolled up into buckets of bucket µs.
func New(physical *storage.Schema, bucket int64) (*Spec, error) {
	if bucket <= 0 {
		return nil, fmt.Errorf("rollup bucket must be positive, not %d µs", bucket)
	}
	s := &Spec{Physical: physical, Bucket: bucket, Rows: physical.Index(RowsColumn)}
	if s.Rows < 0 {
		return nil, fmt.Errorf("rollup: schema has no %s column", RowsColumn)
	}
	logical := &storage.Schema{TimeColumn: physical.TimeColumn}
	for i, c := range physical.Columns {
		if IsHidden(c.Name) {
			continue
		}
		logical.Columns = append(logical.Columns, c)
		switch {
		case i == physical.TimeColumn:
		case isMetric(c):
			m := Metric{Col: i, Count: physical.Index(CountColumn(c.Name)), Min: physical.Index(MinColumn(c.Name)), Max: physical.Index(MaxColumn(c.Name))}
			if m.Count < 0 || m.Min < 0 || m.Max < 0 {
				return nil, fmt.Errorf("rollup: metric %q lacks its hidden columns", c.Name)
			}
			s.Metrics = append(s.Metrics, m)
		default:
			s.Dims = append(s.Dims, i)
		}
	}
	s.Logical = logical
	return s, nil
}

// MetricOf returns the metric whose value column is physical column col.
func (s *Spec) MetricOf(col int) (Metric, bool) {
	for _, m := range s.Metrics {
		if m.Col == col {
			return m, true
		}
	}
	return Metric{}, false
}

// Reduce rolls up in (rows of the logical schema, any order) into rows of the
// physical schema: one per (bucket, dimension values).
func (s *Spec) Reduce(in *storage.Columns) *storage.Columns {
	return s.reduce(in, false)
}

// Lift appends to out (physical schema) one row per row of in (logical
// schema), in order, each rolled up alone: its time its bucket's start, its
// metrics' count 1 (0 when NULL) and min = max = sum = its value. Reduce of
// lifted rows is the same as Reduce of in, so lifted rows answer as any
// rolled-up rows do; a reader keeps rows apart with it when each must stay
// one record's (a follower cuts its rows at a Kafka offset).
func (s *Spec) Lift(out, in *storage.Columns) {
	tc := s.Physical.TimeColumn
	for r := 0; r < in.Len; r++ {
		t := in.Cols[tc].Int64[r]
		s.newRow(out, in, r, t-((t%s.Bucket)+s.Bucket)%s.Bucket, false)
	}
}

// ReducePhysical merges rows that are already rolled up (physical schema), so that
// each (bucket, dimension values) occurs once.
func (s *Spec) ReducePhysical(in *storage.Columns) *storage.Columns {
	return s.reduce(in, true)
}

func (s *Spec) reduce(in *storage.Columns, physical bool) *storage.Columns {
	out := storage.NewColumns(s.Physical, 0)
	tc := s.Physical.TimeColumn
	groups := make(map[string]int, 64)
	var key []byte
	for r := 0; r < in.Len; r++ {
		t := in.Cols[tc].Int64[r]
		bt := t - ((t%s.Bucket)+s.Bucket)%s.Bucket
		key = appendKey(key[:0], bt, in, s.Dims, r)
		g, ok := groups[string(key)]
		if !ok {
			g = out.Len
			groups[string(key)] = g
			s.newRow(out, in, r, bt, physical)
			continue
		}
		s.merge(out, g, in, r, physical)
	}
	return out
}

// appendKey encodes a row's bucket and dimension values as a map key.
func appendKey(key []byte, bucket int64, in *storage.Columns, dims []int, r int) []byte {
	key = appendInt(key, bucket)
	for _, d := range dims {
		if in.IsNull(d, r) {
			key = append(key, 0)
			continue
		}
		switch in.Schema.Columns[d].Type {
		case storage.TypeString:
			v := in.Cols[d].String[r]
			key = append(key, 1)
			key = appendInt(key, int64(len(v)))
			key = append(key, v...)
		case storage.TypeBool:
			if in.Cols[d].Bool[r] {
				key = append(key, 2)
			} else {
				key = append(key, 3)
			}
		default:
			key = append(key, 4)
			key = appendInt(key, in.Cols[d].Int64[r])
		}
	}
	return key
}

func appendInt(b []byte, v int64) []byte {
	u := uint64(v)
	return append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56))
}

// newRow appends row r of in as a new output row at bucket time bt.
func (s *Spec) newRow(out, in *storage.Columns, r int, bt int64, physical bool) {
	row := out.Len
	// Columns of the logical schema have the same index in both schemas.
	for c := range s.Logical.Columns {
		col := s.Physical.Columns[c]
		null := in.IsNull(c, r)
		switch col.Type {
		case storage.TypeTimestamp, storage.TypeInt64:
			v := in.Cols[c].Int64[r]
			if c == s.Physical.TimeColumn {
				v = bt
			}
			out.Cols[c].Int64 = append(out.Cols[c].Int64, v)
		case storage.TypeFloat64:
			out.Cols[c].Float64 = append(out.Cols[c].Float64, in.Cols[c].Float64[r])
		case storage.TypeBool:
			out.Cols[c].Bool = append(out.Cols[c].Bool, in.Cols[c].Bool[r])
		case storage.TypeString:
			out.Cols[c].String = append(out.Cols[c].String, in.Cols[c].String[r])
		}
		if null {
			out.SetNull(c, row)
		}
	}
	rows := int64(1)
	if physical {
		rows = in.Cols[s.Rows].Int64[r]
	}
	out.Cols[s.Rows].Int64 = append(out.Cols[s.Rows].Int64, rows)
	for _, m := range s.Metrics {
		null := in.IsNull(m.Col, r)
		var count int64
		switch {
		case physical:
			count = in.Cols[m.Count].Int64[r]
		case !null:
			count = 1
		}
		out.Cols[m.Count].Int64 = append(out.Cols[m.Count].Int64, count)
		typ := s.Physical.Columns[m.Col].Type
		for _, hc := range []int{m.Min, m.Max} {
			src := m.Col
			if physical {
				src = hc
			}
			srcNull := in.IsNull(src, r)
			if typ == storage.TypeInt64 {
				out.Cols[hc].Int64 = append(out.Cols[hc].Int64, in.Cols[src].Int64[r])
			} else {
				out.Cols[hc].Float64 = append(out.Cols[hc].Float64, in.Cols[src].Float64[r])
			}
			if srcNull {
				out.SetNull(hc, row)
			}
		}
	}
	out.Len++
}

// merge folds row r of in into output row g.
func (s *Spec) merge(out *storage.Columns, g int, in *storage.Columns, r int, physical bool) {
	if physical {
		out.Cols[s.Rows].Int64[g] += in.Cols[s.Rows].Int64[r]
	} else {
		out.Cols[s.Rows].Int64[g]++
	}
	for _, m := range s.Metrics {
		typ := s.Physical.Columns[m.Col].Type
		// sum: NULL + x = x (SQL's sum ignores NULLs; all NULL stays NULL)
		if !in.IsNull(m.Col, r) {
			if out.IsNull(m.Col, g) {
				clearNull(out, m.Col, g)
				setVal(out, m.Col, g, typ, in, m.Col, r)
			} else if typ == storage.TypeInt64 {
				out.Cols[m.Col].Int64[g] += in.Cols[m.Col].Int64[r]
			} else {
				out.Cols[m.Col].Float64[g] += in.Cols[m.Col].Float64[r]
			}
		}
		if physical {
			out.Cols[m.Count].Int64[g] += in.Cols[m.Count].Int64[r]
		} else if !in.IsNull(m.Col, r) {
			out.Cols[m.Count].Int64[g]++
		}
		for i, hc := range []int{m.Min, m.Max} {
			src := m.Col
			if physical {
				src = hc
			}
			if in.IsNull(src, r) {
				continue
			}
			if out.IsNull(hc, g) {
				clearNull(out, hc, g)
				setVal(out, hc, g, typ, in, src, r)
				continue
			}
			better := false
			if typ == storage.TypeInt64 {
				a, b := in.Cols[src].Int64[r], out.Cols[hc].Int64[g]
				better = (i == 0 && a < b) || (i == 1 && a > b)
			} else {
				a, b := in.Cols[src].Float64[r], out.Cols[hc].Float64[g]
				// PostgreSQL orders NaN above every number.
				better = (i == 0 && (a < b || math.IsNaN(b) && !math.IsNaN(a))) || (i == 1 && (a > b || math.IsNaN(a) && !math.IsNaN(b)))
			}
			if better {
				setVal(out, hc, g, typ, in, src, r)
			}
		}
	}
}

func setVal(out *storage.Columns, oc, g int, typ storage.Type, in *storage.Columns, ic, r int) {
	if typ == storage.TypeInt64 {
		out.Cols[oc].Int64[g] = in.Cols[ic].Int64[r]
	} else {
		out.Cols[oc].Float64[g] = in.Cols[ic].Float64[r]
	}
}

func clearNull(c *storage.Columns, col, row int) {
	if n := c.Cols[col].Null; row < len(n) {
		n[row] = false
	}
}
