package engine

import (
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
	t := columnType(schema.Columns[cQty])
	scan := &Scan{Table: "events", Schema: &schema, Sources: benchData(), Columns: []int{cQty},
		TimeMin: MinTime, TimeMax: MaxTime, Out: []Field{{Name: "qty", Type: t}}}
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
