package sql

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// TestNumericLakeRoundTrip: numeric(p,s) columns answer the same exact values
// after a handoff as before it, and the lake holds them as Parquet INT32/INT64
// DECIMAL(p,s) (what Spark writes for p <= 18, so DuckDB and Spark read decimals).
func TestNumericLakeRoundTrip(t *testing.T) {
	ctx := context.Background()
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
	before := make([][][]string, len(queries))
	for i, q := range queries {
		before[i] = collect(t, mustExec(t, s, q))
	}
	if res, err := st.Handoff(ctx, "nev", farFuture); err != nil || res.Version != 1 {
		t.Fatalf("handoff: %+v, %v", res, err)
	}
	for i, q := range queries {
		if got := collect(t, mustExec(t, s, q)); !reflect.DeepEqual(got, before[i]) {
			t.Errorf("%s\nfrom the lake: %v\nbefore the handoff: %v", q, got, before[i])
		}
	}
	if got := before[2][0][0]; got != "1" {
		t.Errorf("price = 99999999.99 matched %s rows", got)
	}

	def, _ := st.Table("nev")
	lakeDir := filepath.Join(st.Dir(), "lake", strconv.FormatUint(def.ID, 10))
	var files []string
	filepath.Walk(lakeDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatalf("no Parquet file under %s", lakeDir)
	}
	for _, f := range files {
		r, err := file.OpenParquetFile(f, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"price", "q"} {
			col := r.MetaData().Schema.Column(r.MetaData().Schema.ColumnIndexByName(name))
			// INT32 up to 9 digits, INT64 up to 18, as the Parquet spec and Spark have it
			phys := map[string]parquet.Type{"price": parquet.Types.Int64, "q": parquet.Types.Int32}[name]
			dec, ok := col.LogicalType().(schema.DecimalLogicalType)
			if !ok || col.PhysicalType() != phys {
				t.Errorf("%s: column %s is %s %s, want %s DECIMAL", f, name, col.PhysicalType(), col.LogicalType(), phys)
				continue
			}
			if want := map[string][2]int32{"price": {10, 2}, "q": {6, 3}}[name]; dec.Precision() != want[0] || dec.Scale() != want[1] {
				t.Errorf("%s: column %s is DECIMAL(%d,%d), want %v", f, name, dec.Precision(), dec.Scale(), want)
			}
		}
		r.Close()
	}
}

// TestNumericLakePrune: filters on numeric(p,s) columns answer the same rows
// from lake files pruned by their decimal min/max stats as before the handoff,
// at the bounds themselves (each day's file holds its own price range).
func TestNumericLakePrune(t *testing.T) {
	ctx := context.Background()
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
	before := make([][][]string, len(queries))
	for i, q := range queries {
		before[i] = collect(t, mustExec(t, s, q))
	}
	if res, err := st.Handoff(ctx, "npr", farFuture); err != nil || res.Version != 1 {
		t.Fatalf("handoff: %+v, %v", res, err)
	}
	for i, q := range queries {
		if got := collect(t, mustExec(t, s, q)); !reflect.DeepEqual(got, before[i]) {
			t.Errorf("%s\nfrom the lake: %v\nbefore the handoff: %v", q, got, before[i])
		}
	}
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
