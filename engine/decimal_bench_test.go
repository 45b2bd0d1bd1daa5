package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stratadb/strata/storage"
)

// BenchmarkSumDecimal is sum, min and max of qty read as numeric(12,2) (the same
// int64 values, scaled) over benchData: the exact decimal path. Compare with
// BenchmarkSumBigint, the same query over the column as bigint.
func BenchmarkSumDecimal(b *testing.B) { benchSums(b, "numeric(12,2)") }

// BenchmarkSumBigint is BenchmarkSumDecimal's query over qty as bigint.
func BenchmarkSumBigint(b *testing.B) { benchSums(b, "bigint") }

func benchSums(b *testing.B, sqlType string) {
	schema := storage.Schema{TimeColumn: eventsSchema.TimeColumn, Columns: append([]storage.Column(nil), eventsSchema.Columns...)}
	schema.Columns[cQty].SQLType = sqlType
	benchSumMinMax(b, &schema, benchData(), cQty)
}

// benchSumMinMax runs sum, min and max of column col over srcs (1.2M rows).
func benchSumMinMax(b *testing.B, schema *storage.Schema, srcs []storage.Source, col int) {
	t := columnType(schema.Columns[col])
	scan := &Scan{Table: "events", Schema: schema, Sources: srcs, Columns: []int{col},
		TimeMin: MinTime, TimeMax: MaxTime, Out: []Field{{Name: "x", Type: t}}}
	x := &ColRef{Index: 0, T: t}
	sumT, err := ResolveAgg("sum", []Type{t}, false)
	if err != nil {
		b.Fatal(err)
	}
	p := &Aggregate{Input: scan,
		Aggs: []AggCall{{Func: "sum", Args: []Expr{x}, T: sumT}, {Func: "min", Args: []Expr{x}, T: t}, {Func: "max", Args: []Expr{x}, T: t}},
		Out:  []Field{{"s", sumT}, {"lo", t}, {"hi", t}}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, p)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1.2e6, "ns/row")
}

var numericTextSrcs []storage.Source

// BenchmarkSumNumericText is sum, min and max of a numeric column kept as
// canonical text (storage/numeric.go), 1.2M rows of 12-digit values with two
// decimals over 10 sources: the exact path over each row's text.
func BenchmarkSumNumericText(b *testing.B) {
	schema := storage.Schema{TimeColumn: 0, Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "w", Type: storage.TypeString, SQLType: "numeric"},
	}}
	if numericTextSrcs == nil {
		r := rand.New(rand.NewPCG(3, 4))
		for k := 0; k < 10; k++ {
			c := storage.NewColumns(&schema, 120_000)
			for i := 0; i < 120_000; i++ {
				c.Cols[0].Int64 = append(c.Cols[0].Int64, int64(k*120_000+i))
				v := r.Int64N(2e12) - 1e12
				c.Cols[1].String = append(c.Cols[1].String, string(AppendDecimal(nil, v, 2)))
				c.Len++
			}
			numericTextSrcs = append(numericTextSrcs, newMemSource(fmt.Sprintf("seg%d", k), c))
		}
	}
	benchSumMinMax(b, &schema, numericTextSrcs, 1)
}
