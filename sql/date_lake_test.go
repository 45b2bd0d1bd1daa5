package sql

import (
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// TestDateLakeRoundTrip: date and char(n) columns answer the same after a
// handoff as before it; the lake holds the dates as Parquet INT32 DATE (what
// Spark, DuckDB and delta-rs read as dates), and delta_scan of the table's
// Delta folder reads them back as date.
func TestDateLakeRoundTrip(t *testing.T) {
	s, st := newTestSession(t)
	mustExec(t, s, "CREATE TABLE dev (ts timestamptz NOT NULL, day date, country char(3), qty int)")
	mustExec(t, s, `INSERT INTO dev VALUES ('2020-01-01 00:00:00+00', '2019-12-31', 'CN', 1),
		('2020-01-01 01:00:00+00', '1969-07-20', 'US ', 2), ('2020-01-01 02:00:00+00', NULL, NULL, 3),
		('2020-01-01 03:00:00+00', '2020-02-29', 'DE', 4)`)
	queries := []string{
		"SELECT day, country, country || '|', qty FROM dev ORDER BY ts",
		"SELECT count(*) FROM dev WHERE day >= '2020-01-01'",
		"SELECT count(*) FROM dev WHERE day < DATE '1970-01-01'",
		"SELECT count(*) FROM dev WHERE country = 'US'",
		"SELECT (day + 1)::text, pg_typeof(day)::text FROM dev WHERE qty = 4",
	}
	before, lake := lakeRoundTrip(t, s, st, "dev", queries)
	if want := [][]string{{"2019-12-31", "CN ", "CN|", "1"}, {"1969-07-20", "US ", "US|", "2"}, {"NULL", "NULL", "NULL", "3"}, {"2020-02-29", "DE ", "DE|", "4"}}; !reflect.DeepEqual(before[0], want) {
		t.Errorf("rows: %v, want %v", before[0], want)
	}

	lake.eachColumn(t, "day", func(f string, col *schema.Column) {
		if _, ok := col.LogicalType().(schema.DateLogicalType); !ok || col.PhysicalType() != parquet.Types.Int32 {
			t.Errorf("%s: column day is %s %s, want INT32 DATE", f, col.PhysicalType(), col.LogicalType())
		}
	})

	got := collect(t, mustExec(t, s, "SELECT day, pg_typeof(day)::text FROM delta_scan('"+lake.dir+"') WHERE day > '2000-01-01' ORDER BY day"))
	if want := [][]string{{"2019-12-31", "date"}, {"2020-02-29", "date"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("delta_scan: %v, want %v", got, want)
	}
}
