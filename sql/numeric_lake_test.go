package sql

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// TestNumericLakeRoundTrip: numeric(p,s) columns answer the same exact values
// after a handoff as before it, and the lake holds them as Parquet INT32/INT64
// DECIMAL(p,s) (what Spark writes for p <= 18, so DuckDB and Spark read decimals).
func TestNumericLakeRoundTrip(t *testing.T) {
	s, st := newTestSession(t)
	mustExec(t, s, "CREATE TABLE nev (ts timestamptz NOT NULL, price numeric(10,2), q numeric(6,3))")
	day := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var sb strings.Builder
	sb.WriteString("INSERT INTO nev VALUES ")
	for i := 0; i < 500; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		price := fmt.Sprintf("%d.%02d", (i*7919)%100000-50000, i%100)
		q := "NULL"
		if i%5 != 0 {
			q = fmt.Sprintf("'%d.%03d'", i%999, (i*13)%1000)
		}
		fmt.Fprintf(&sb, "('%s', %s, %s)", day.Add(time.Duration(i)*time.Minute).Format("2006-01-02 15:04:05"), price, q)
	}
	sb.WriteString(", ('2020-01-01 12:00:00', 99999999.99, -999.999)")
	mustExec(t, s, sb.String())
	queries := []string{
		"SELECT sum(price)::text, sum(q)::text, min(price)::text, max(q)::text, count(q) FROM nev",
		"SELECT count(*) FROM nev WHERE price > 1000.5",
		"SELECT count(*) FROM nev WHERE price = 99999999.99",
		"SELECT (price * q)::text FROM nev WHERE q IS NOT NULL ORDER BY ts LIMIT 5",
		"SELECT price::text, q::text FROM nev ORDER BY price DESC LIMIT 3",
	}
	before, lake := lakeRoundTrip(t, s, st, "nev", queries)
	if got := before[2][0][0]; got != "1" {
		t.Errorf("price = 99999999.99 matched %s rows", got)
	}

	// INT32 up to 9 digits, INT64 up to 18, as the Parquet spec and Spark have it
	lake.eachColumn(t, "price", wantDecimal(t, parquet.Types.Int64, 10, 2))
	lake.eachColumn(t, "q", wantDecimal(t, parquet.Types.Int32, 6, 3))
}

// wantDecimal checks that a Parquet column is phys DECIMAL(prec, scale).
func wantDecimal(t *testing.T, phys parquet.Type, prec, scale int32) func(string, *schema.Column) {
	return func(f string, col *schema.Column) {
		t.Helper()
		dec, ok := col.LogicalType().(schema.DecimalLogicalType)
		if !ok || col.PhysicalType() != phys || dec.Precision() != prec || dec.Scale() != scale {
			t.Errorf("%s: column %s is %s %s, want %s DECIMAL(%d,%d)", f, col.Name(), col.PhysicalType(), col.LogicalType(), phys, prec, scale)
		}
	}
}

// TestNumericLakePrune: filters on numeric(p,s) columns answer the same rows
// from lake files pruned by their decimal min/max stats as before the handoff,
// at the bounds themselves (each day's file holds its own price range).
func TestNumericLakePrune(t *testing.T) {
	s, st := newTestSession(t)
	mustExec(t, s, "CREATE TABLE npr (ts timestamptz NOT NULL, price numeric(10,2), q numeric(4,1))")
	var sb strings.Builder
	sb.WriteString("INSERT INTO npr VALUES ")
	for d := 0; d < 3; d++ {
		for i := 0; i < 100; i++ {
			if d+i > 0 {
				sb.WriteString(", ")
			}
			// day d: prices d*1000 - 500.00 + i*1.25 ( -500.00 .. -376.25, 500.00 .., 1500.00 ..)
			cents := int64(d)*100_000 - 50_000 + int64(i)*125
			fmt.Fprintf(&sb, "('2020-01-0%d %02d:%02d:00', %d.%02d, %d.%d)", d+1, i/60, i%60,
				cents/100, abs64(cents%100), i%50-25, i%10)
		}
	}
	mustExec(t, s, sb.String())
	queries := []string{
		"SELECT count(*), sum(price)::text FROM npr WHERE price > 500.00",
		"SELECT count(*) FROM npr WHERE price >= 500.00",
		"SELECT count(*) FROM npr WHERE price = 623.75",
		"SELECT count(*) FROM npr WHERE price < -376.25",
		"SELECT count(*) FROM npr WHERE price <= -376.25",
		"SELECT count(*) FROM npr WHERE price BETWEEN -376.24 AND 499.99",
		"SELECT count(*) FROM npr WHERE price > 1623.75",
		"SELECT count(*) FROM npr WHERE price >= 1623.75",
		"SELECT count(*) FROM npr WHERE q < -20.5",
		"SELECT count(*) FROM npr WHERE price > 623.7 AND price < 623.8",
	}
	before, _ := lakeRoundTrip(t, s, st, "npr", queries)
	if before[2][0][0] != "1" || before[4][0][0] != "100" || before[7][0][0] != "1" {
		t.Errorf("the bound rows: %v %v %v", before[2], before[4], before[7])
	}
	explain := func(q string) string {
		var plan []string
		for _, r := range collect(t, mustExec(t, s, "EXPLAIN "+q)) {
			plan = append(plan, r[0])
		}
		return strings.Join(plan, "\n")
	}
	// each day's hours 0 and 1 are a file: 6, of which a filter's Delta stats keep some
	if p := explain("SELECT count(*) FROM npr"); !strings.Contains(p, "segments: 6 of 6") {
		t.Errorf("six lake files expected:\n%s", p)
	}
	if p := explain("SELECT count(*) FROM npr WHERE price < 1000"); !strings.Contains(p, "segments: 4 of 4") {
		t.Errorf("price < 1000 should read the first two days' files:\n%s", p)
	}
	if p := explain("SELECT count(*) FROM npr WHERE q < -20.5"); !strings.Contains(p, "segments: 3 of 3") {
		t.Errorf("q < -20.5 should read each day's first hour:\n%s", p)
	}
	if p := explain("SELECT count(*) FROM npr WHERE price = 623.75"); !strings.Contains(p, "segments: 1 of 1") {
		t.Errorf("price = 623.75 should read one lake file:\n%s", p)
	}
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// TestNumericTextLakeRoundTrip: numeric columns without a modifier and
// numeric(30,10) (stored as canonical text, storage/numeric.go) answer the
// same exact values after a handoff as before it; the lake holds numeric(30,10)
// as Parquet FIXED_LEN_BYTE_ARRAY DECIMAL(30,10) and a Delta decimal(30,10),
// and the unconstrained numeric as a Delta string of its text; delta_scan of
// the table's folder reads the decimal back as an exact numeric(30,10).
func TestNumericTextLakeRoundTrip(t *testing.T) {
	s, st := newTestSession(t)
	mustExec(t, s, "CREATE TABLE ntl (ts timestamptz NOT NULL, g text, u numeric, w numeric(30,10))")
	var sb strings.Builder
	sb.WriteString("INSERT INTO ntl VALUES ")
	for i := 0; i < 300; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		u := fmt.Sprintf("'%d.%0*d'", i*7919%1000-500, i%5, i%100)
		if i%5 == 0 {
			u = fmt.Sprintf("'%d'", i)
		}
		w := fmt.Sprintf("%d%06d.%010d", i%50, i*104729%1000000, i*7919%10000000000)
		if i%7 == 0 {
			w = "NULL"
		}
		fmt.Fprintf(&sb, "('2020-01-01 %02d:%02d:00', '%c', %s, %s)", i/60, i%60, 'a'+rune(i%3), u, w)
	}
	sb.WriteString(", ('2020-01-01 06:00:00', 'z', '123456789012345678901234567890.1234567890123', 99999999999999999999.9999999999)")
	mustExec(t, s, sb.String())
	queries := []string{
		"SELECT u::text, w::text FROM ntl ORDER BY ts",
		"SELECT sum(u)::text, sum(w)::text, avg(w)::text, min(u)::text, max(w)::text, stddev(w)::text FROM ntl",
		"SELECT g, sum(w)::text, count(DISTINCT u) FROM ntl GROUP BY g ORDER BY g",
		"SELECT count(*) FROM ntl WHERE w = 99999999999999999999.9999999999",
		"SELECT count(*) FROM ntl WHERE w BETWEEN 10000000 AND 20000000.5",
		"SELECT (w * 2)::text, round(u, 1)::text FROM ntl WHERE w IS NOT NULL ORDER BY w DESC LIMIT 3",
	}
	before, lake := lakeRoundTrip(t, s, st, "ntl", queries)
	if got := before[3][0][0]; got != "1" {
		t.Errorf("w = 99999999999999999999.9999999999 matched %s rows", got)
	}
	if got := before[0][len(before[0])-1]; got[0] != "123456789012345678901234567890.1234567890123" || got[1] != "99999999999999999999.9999999999" {
		t.Errorf("the widest row reads %v", got)
	}
	lake.eachColumn(t, "w", wantDecimal(t, parquet.Types.FixedLenByteArray, 30, 10))
	log := lake.firstLog(t)
	for name, typ := range map[string]string{"w": "decimal(30,10)", "u": "string"} {
		if !strings.Contains(log, `{\"name\":\"`+name+`\",\"type\":\"`+typ+`\"`) {
			t.Errorf("Delta schema of %s is not %s: %s", name, typ, log)
		}
	}
	got := collect(t, mustExec(t, s, "SELECT pg_typeof(max(w))::text, max(w)::text, min(w)::text, sum(w)::text FROM delta_scan('"+lake.dir+"')"))
	if want := [][]string{{"numeric", "99999999999999999999.9999999999", before[1][0][1]}}; len(got) != 1 || !reflect.DeepEqual(got[0][:2], want[0][:2]) || got[0][3] != before[1][0][1] {
		t.Errorf("delta_scan: %v, want %v", got, want)
	}
}
