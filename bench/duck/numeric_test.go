package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/lakesrc"
	"github.com/stratadb/strata/storage/objstore"
)

// TestDuckDBReadsNumericText: a numeric(30,10) column, which strata keeps as
// canonical text and hands to the lake as a Delta decimal(30,10) (Parquet
// FIXED_LEN_BYTE_ARRAY), reads in DuckDB as DECIMAL(30,10) with the same values
// to the last digit, and its sum equals the exact sum of the texts.
func TestDuckDBReadsNumericText(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sch := &storage.Schema{TimeColumn: 0, Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "w", Type: storage.TypeString, SQLType: "numeric", TypMod: 30<<16 | 10 + 4},
	}}
	rng := rand.New(rand.NewPCG(12, 2))
	cols := storage.NewColumns(sch, 2000)
	var want []string
	for r := range 2000 {
		cols.Cols[0].Int64 = append(cols.Cols[0].Int64, 1_700_000_000_000_000+int64(r))
		v := fmt.Sprintf("%d%09d.%010d", rng.Int64N(1e11), rng.Int64N(1e9), rng.Int64N(1e10))
		if r%2 == 1 {
			v = "-" + v
		}
		if r == 0 {
			v = "99999999999999999999.9999999999"
		}
		text, bad := storage.CanonicalNumeric(nil, v, 30, 10, true)
		if bad != storage.NumericOK {
			t.Fatalf("%s: %v", v, bad)
		}
		cols.Cols[1].String = append(cols.Cols[1].String, string(text))
		want = append(want, string(text))
		cols.Len++
	}
	rec, err := lakesrc.FromColumns(memory.DefaultAllocator, sch, cols)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	schema, err := lake.SchemaFromArrow(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := lake.CreateTable(ctx, objstore.LocalAt(dir), "tbl", schema, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adds, err := lake.WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, lake.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var quoted []string
	for _, a := range adds {
		quoted = append(quoted, sqlString(filepath.Join(dir, "tbl", filepath.FromSlash(a.DecodedPath))))
	}
	duck, err := openDuck(2)
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	src := "read_parquet([" + strings.Join(quoted, ", ") + "])"
	var got []string
	var typ string
	if err := duck.run(ctx, "SELECT w::VARCHAR, typeof(w) FROM "+src, func(v []any) {
		got = append(got, v[0].(string))
		typ = v[1].(string)
	}); err != nil {
		t.Fatal(err)
	}
	if typ != "DECIMAL(30,10)" {
		t.Errorf("DuckDB reads w as %s, want DECIMAL(30,10)", typ)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("DuckDB read %d values, first %v; want %d, first %v", len(got), got[:min(3, len(got))], len(want), want[:3])
	}
}
