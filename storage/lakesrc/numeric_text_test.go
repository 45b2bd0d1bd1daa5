package lakesrc

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// TestNumericTextColumns: numeric columns kept as canonical text
// (storage/numeric.go) go to the lake as a Parquet FIXED_LEN_BYTE_ARRAY
// DECIMAL(30,10) (numeric(30,10)) and a string (numeric without a modifier),
// and come back as the same texts through both read paths: a row group read in
// place (Direct) and a file converted into a cached segment (ToColumns).
// TableSchema maps a Delta decimal(30,10) to the same numeric text column.
func TestNumericTextColumns(t *testing.T) {
	sch := &storage.Schema{TimeColumn: 0, Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "w", Type: storage.TypeString, SQLType: "numeric", TypMod: 30<<16 | 10 + 4},
		{Name: "u", Type: storage.TypeString, SQLType: "numeric"},
	}}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 3000
	cols := storage.NewColumns(sch, n)
	fixed := []string{"99999999999999999999.9999999999", "-99999999999999999999.9999999999", "0.0000000000", "-0.0000000001"}
	for r := range n {
		cols.Cols[0].Int64 = append(cols.Cols[0].Int64, 1_700_000_000_000_000+int64(r))
		w := fmt.Sprintf("%d.%010d", rng.Int64N(1e18)*int64(1-2*rng.IntN(2)), rng.Int64N(1e10))
		if r < len(fixed) {
			w = fixed[r]
		}
		var buf []byte
		buf, bad := storage.CanonicalNumeric(buf, w, 30, 10, true)
		if bad != storage.NumericOK {
			t.Fatalf("%s: %v", w, bad)
		}
		cols.Cols[1].String = append(cols.Cols[1].String, string(buf))
		u := []string{"19.990", "NaN", "-Infinity", "123456789012345678901234567890.123456789", "0.5", ""}[r%6]
		cols.Cols[2].String = append(cols.Cols[2].String, u)
		if u == "" {
			cols.SetNull(2, r)
		}
		cols.Len++
	}
	tt := writeTable(t, cols, nil, lake.WriteOptions{MaxRowsPerFile: 2000, RowGroupRows: 700})
	got, deltaCols, err := TableSchema(tt.snap, "ts")
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Columns[1]; c != sch.Columns[1] {
		t.Errorf("Delta decimal(30,10) read as %+v, want %+v", c, sch.Columns[1])
	}
	if c := got.Columns[2]; c.Type != storage.TypeString || c.SQLType != "text" {
		t.Errorf("Delta string read as %+v, want text", c)
	}
	cache, err := OpenCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	_, keys, _ := directAll(t, cache, tt.location, tt.snap, sch, deltaCols)
	sameMultiset(t, "direct read", keys, rowKeys(cols))
	var converted []string
	for _, f := range tt.snap.Files() {
		s := mustSource(t, cache, tt, f, sch, deltaCols)
		mustLoad(t, s)
		converted = append(converted, rowKeys(readSource(t, s))...)
		s.Close()
	}
	sameMultiset(t, "cached segment", converted, rowKeys(cols))

	for _, f := range tt.snap.Files() {
		r, err := file.OpenParquetFile(tt.dir+"/tbl/"+f.DecodedPath, false)
		if err != nil {
			t.Fatal(err)
		}
		md := r.MetaData().Schema
		w := md.Column(md.ColumnIndexByName("w"))
		dec, ok := w.LogicalType().(schema.DecimalLogicalType)
		if !ok || w.PhysicalType() != parquet.Types.FixedLenByteArray || dec.Precision() != 30 || dec.Scale() != 10 {
			t.Errorf("column w is %s %s, want FIXED_LEN_BYTE_ARRAY DECIMAL(30,10)", w.PhysicalType(), w.LogicalType())
		}
		u := md.Column(md.ColumnIndexByName("u"))
		if _, ok := u.LogicalType().(schema.StringLogicalType); !ok {
			t.Errorf("column u is %s %s, want a string", u.PhysicalType(), u.LogicalType())
		}
		r.Close()
	}
}

// TestNumericTextToLake: values a Delta decimal cannot hold are an error at
// handoff naming the column, never a rounded or dropped value.
func TestNumericTextToLake(t *testing.T) {
	sch := &storage.Schema{TimeColumn: 0, Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "w", Type: storage.TypeString, SQLType: "numeric", TypMod: 30<<16 | 10 + 4},
	}}
	for _, v := range []string{"NaN", "Infinity", "1.5"} {
		cols := storage.NewColumns(sch, 1)
		cols.Cols[0].Int64 = append(cols.Cols[0].Int64, 0)
		cols.Cols[1].String = append(cols.Cols[1].String, v)
		cols.Len = 1
		rec, err := FromColumns(memoryDefault(), sch, cols)
		if v == "1.5" { // not canonical for scale 10, but a whole number of 10^-10
			if err != nil {
				t.Errorf("%s: %v", v, err)
			} else {
				rec.Release()
			}
			continue
		}
		if err == nil {
			rec.Release()
			t.Errorf("%s written to a Delta decimal", v)
		}
	}
}
