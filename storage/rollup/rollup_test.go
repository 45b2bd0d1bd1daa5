package rollup

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/stratadb/strata/storage"
)

var logical = storage.Schema{TimeColumn: 0, Columns: []storage.Column{
	{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
	{Name: "event", Type: storage.TypeString, SQLType: "text"},
	{Name: "mobile", Type: storage.TypeBool, SQLType: "boolean"},
	{Name: "price", Type: storage.TypeFloat64, SQLType: "double precision"},
	{Name: "qty", Type: storage.TypeInt64, SQLType: "integer"},
}}

const bucket = 10_000_000 // 10 s

// rawRows makes n random logical rows with NULLs in every nullable column.
func rawRows(r *rand.Rand, n int) *storage.Columns {
	c := storage.NewColumns(&logical, n)
	for i := 0; i < n; i++ {
		c.Cols[0].Int64 = append(c.Cols[0].Int64, 1_700_000_000_000_000+r.Int64N(60_000_000)-30_000_000)
		c.Cols[1].String = append(c.Cols[1].String, []string{"view", "click", "cart"}[r.IntN(3)])
		c.Cols[2].Bool = append(c.Cols[2].Bool, r.IntN(2) == 0)
		c.Cols[3].Float64 = append(c.Cols[3].Float64, float64(r.IntN(1000))/4)
		c.Cols[4].Int64 = append(c.Cols[4].Int64, r.Int64N(11)-5)
		for col := 1; col <= 4; col++ {
			if r.IntN(6) == 0 {
				c.SetNull(col, i)
			}
		}
	}
	c.Len = n
	return c
}

// agg is the expected aggregate state of one (bucket, event, mobile) group, computed
// from raw rows by a plain loop.
type agg struct {
	rows               int64
	priceN, qtyN       int64
	priceSum           float64
	qtySum             int64
	priceMin, priceMax float64
	qtyMin, qtyMax     int64
	priceNull, qtyNull bool // sum NULL (no value)
}

func keyOf(c *storage.Columns, r int, ts int64) string {
	ev, mob := "NULL", "NULL"
	if !c.IsNull(1, r) {
		ev = c.Cols[1].String[r]
	}
	if !c.IsNull(2, r) {
		mob = fmt.Sprint(c.Cols[2].Bool[r])
	}
	return fmt.Sprintf("%d|%s|%s", ts, ev, mob)
}

func expected(c *storage.Columns) map[string]agg {
	out := map[string]agg{}
	for r := 0; r < c.Len; r++ {
		t := c.Cols[0].Int64[r]
		b := t - t%bucket
		if t%bucket < 0 {
			b -= bucket
		}
		k := keyOf(c, r, b)
		a, ok := out[k]
		if !ok {
			a = agg{priceNull: true, qtyNull: true}
		}
		a.rows++
		if !c.IsNull(3, r) {
			v := c.Cols[3].Float64[r]
			if a.priceNull {
				a.priceMin, a.priceMax = v, v
			}
			a.priceNull = false
			a.priceN++
			a.priceSum += v
			a.priceMin, a.priceMax = min(a.priceMin, v), max(a.priceMax, v)
		}
		if !c.IsNull(4, r) {
			v := c.Cols[4].Int64[r]
			if a.qtyNull {
				a.qtyMin, a.qtyMax = v, v
			}
			a.qtyNull = false
			a.qtyN++
			a.qtySum += v
			a.qtyMin, a.qtyMax = min(a.qtyMin, v), max(a.qtyMax, v)
		}
		out[k] = a
	}
	return out
}

// stored reads rolled-up rows back into the same shape.
func stored(t *testing.T, s *Spec, c *storage.Columns) map[string]agg {
	t.Helper()
	out := map[string]agg{}
	pm, _ := s.MetricOf(3)
	qm, _ := s.MetricOf(4)
	for r := 0; r < c.Len; r++ {
		k := keyOf(c, r, c.Cols[0].Int64[r])
		if _, dup := out[k]; dup {
			t.Fatalf("group %s stored twice", k)
		}
		a := agg{rows: c.Cols[s.Rows].Int64[r], priceN: c.Cols[pm.Count].Int64[r], qtyN: c.Cols[qm.Count].Int64[r],
			priceNull: c.IsNull(3, r), qtyNull: c.IsNull(4, r)}
		if !a.priceNull {
			a.priceSum, a.priceMin, a.priceMax = c.Cols[3].Float64[r], c.Cols[pm.Min].Float64[r], c.Cols[pm.Max].Float64[r]
			if c.IsNull(pm.Min, r) || c.IsNull(pm.Max, r) {
				t.Fatalf("group %s: price sum set but min/max NULL", k)
			}
		}
		if !a.qtyNull {
			a.qtySum, a.qtyMin, a.qtyMax = c.Cols[4].Int64[r], c.Cols[qm.Min].Int64[r], c.Cols[qm.Max].Int64[r]
		}
		out[k] = a
	}
	return out
}

func concat(a, b *storage.Columns) *storage.Columns {
	out := storage.NewColumns(a.Schema, a.Len+b.Len)
	for _, src := range []*storage.Columns{a, b} {
		for r := 0; r < src.Len; r++ {
			for c, col := range src.Schema.Columns {
				switch col.Type {
				case storage.TypeTimestamp, storage.TypeInt64:
					out.Cols[c].Int64 = append(out.Cols[c].Int64, src.Cols[c].Int64[r])
				case storage.TypeFloat64:
					out.Cols[c].Float64 = append(out.Cols[c].Float64, src.Cols[c].Float64[r])
				case storage.TypeBool:
					out.Cols[c].Bool = append(out.Cols[c].Bool, src.Cols[c].Bool[r])
				case storage.TypeString:
					out.Cols[c].String = append(out.Cols[c].String, src.Cols[c].String[r])
				}
				if src.IsNull(c, r) {
					out.SetNull(c, out.Len)
				}
			}
			out.Len++
		}
	}
	return out
}

// TestReduce checks rolled-up rows against aggregates computed from the raw rows,
// and that merging rolled-up batches again (ReducePhysical) gives the same.
func TestReduce(t *testing.T) {
	phys, err := Physical(logical)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(&phys, bucket)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 50; iter++ {
		a, b := rawRows(r, r.IntN(500)), rawRows(r, r.IntN(500))
		all := concat(a, b)
		want := expected(all)
		if err := s.Reduce(all).Check(); err != nil {
			t.Fatal(err)
		}
		if got := stored(t, s, s.Reduce(all)); !maps.Equal(got, want) {
			t.Fatalf("iter %d: Reduce differs from the raw aggregates", iter)
		}
		merged := s.ReducePhysical(concat(s.Reduce(a), s.Reduce(b)))
		if got := stored(t, s, merged); !maps.Equal(got, want) {
			t.Fatalf("iter %d: ReducePhysical of two reduced batches differs from the raw aggregates", iter)
		}
		// Lift keeps a row per raw row; merged again, or with reduced rows,
		// they give the same aggregates.
		lifted := storage.NewColumns(&phys, 0)
		s.Lift(lifted, a)
		s.Lift(lifted, b)
		if err := lifted.Check(); err != nil {
			t.Fatal(err)
		}
		if lifted.Len != all.Len {
			t.Fatalf("iter %d: Lift made %d rows of %d", iter, lifted.Len, all.Len)
		}
		if got := stored(t, s, s.ReducePhysical(lifted)); !maps.Equal(got, want) {
			t.Fatalf("iter %d: ReducePhysical of lifted rows differs from the raw aggregates", iter)
		}
		if got := stored(t, s, s.ReducePhysical(concat(s.Reduce(a), lifted))); len(a.Cols[0].Int64) > 0 && maps.Equal(got, want) {
			t.Fatalf("iter %d: a counted twice gives the raw aggregates: the check cannot see a repeat", iter)
		}
	}
}

func TestPhysicalRejectsReservedNames(t *testing.T) {
	bad := logical
	bad.Columns = append(append([]storage.Column(nil), logical.Columns...), storage.Column{Name: "__x", Type: storage.TypeInt64, SQLType: "bigint"})
	if _, err := Physical(bad); err == nil {
		t.Fatal("a column named __x was accepted")
	}
}
