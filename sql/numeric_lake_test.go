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
