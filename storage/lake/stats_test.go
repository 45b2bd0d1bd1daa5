package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/objstore"
)

// statsOracle computes the Delta stats of one column the way the writer used to,
// from the values themselves: min and max of the non-NULL, non-NaN values.
type statsOracle struct {
	nulls  int64
	lo, hi any
	kind   string // "int", "float", "dec", "string", "date", "ts", "" (no bounds)
}

func (o *statsOracle) add(v any) {
	if v == nil {
		o.nulls++
		return
	}
	if f, ok := v.(float64); ok && math.IsNaN(f) {
		return
	}
	less := func(a, b any) bool {
		switch x := a.(type) {
		case int64:
			return x < b.(int64)
		case float64:
			return x < b.(float64)
		case string:
			return x < b.(string)
		}
		return false
	}
	if o.lo == nil || less(v, o.lo) {
		o.lo = v
	}
	if o.hi == nil || less(o.hi, v) {
		o.hi = v
	}
}

// json returns the expected min and max stats values (nil: none).
func (o *statsOracle) json() (lo, hi any) {
	if o.lo == nil {
		return nil, nil
	}
	switch o.kind {
	case "int", "float":
		return o.lo, o.hi
	case "dec": // decimal(10,2): JSON numbers at the scale, as Spark writes them
		return json.Number(storage.FormatDecimal(o.lo.(int64), 2)), json.Number(storage.FormatDecimal(o.hi.(int64), 2))
	case "date":
		f := func(v any) any { return time.Unix(v.(int64)*86400, 0).UTC().Format("2006-01-02") }
		return f(o.lo), f(o.hi)
	case "ts":
		return formatMicros(o.lo.(int64)), formatMicros(o.hi.(int64))
	case "string":
		l, h := o.lo.(string), o.hi.(string)
		if utf8.RuneCountInString(l) > 32 {
			l = string([]rune(l)[:32])
		}
		if utf8.RuneCountInString(h) > 32 {
			h = string([]rune(h)[:32]) + "\U0010FFFF"
		}
		return l, h
	}
	return nil, nil
}

// decodeJSON round-trips v through JSON, so expected and stored values compare
// as the same Go types (numbers as float64: -0 equals 0).
func decodeJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWrittenStatsEqualTheValues: the Delta stats the writer reads back from the
// Parquet footer it wrote equal min, max and NULL count computed from the values
// for every column type: integers of each width, float and double (NaN left out,
// a row group of NaN only, -0), decimal, boolean and binary (NULL counts only),
// date, timestamp, strings cut to 32 characters (multibyte, max marked with
// U+10FFFF), a column of NULLs only; over several row groups and two
// partitions. One documented difference: Parquet leaves out a min or max longer
// than 4096 bytes, and then the column has no min/max in the Delta stats (the
// file is still read, just not skipped on that column).
func TestWrittenStatsEqualTheValues(t *testing.T) {
	ctx := context.Background()
	fields := []arrow.Field{
		{Name: "b", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "s", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "l", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "d", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "str", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "none", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "big", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "p", Type: arrow.BinaryTypes.String},
	}
	kinds := []string{"int", "int", "int", "int", "float", "float", "", "string", "", "date", "ts", "dec", "int", "string"}
	sch := arrow.NewSchema(fields, nil)
	schema, err := SchemaFromArrow(sch)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := CreateTable(ctx, objstore.LocalAt(t.TempDir()), "", schema, []string{"p"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	oracles := map[string][]*statsOracle{}
	rowsOf := map[string]int64{}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for k := range n {
		part := "b"
		if k%3 == 0 {
			part = "a"
		}
		rowsOf[part]++
		if oracles[part] == nil {
			for c := range len(fields) - 1 {
				oracles[part] = append(oracles[part], &statsOracle{kind: kinds[c]})
			}
		}
		for c := range len(fields) - 1 {
			fb := b.Field(c)
			if (k+c)%(c+3) == 0 || fields[c].Name == "none" {
				fb.AppendNull()
				oracles[part][c].add(nil)
				continue
			}
			var v any
			switch fields[c].Name {
			case "b":
				x := int8(k%200 - 100)
				fb.(*array.Int8Builder).Append(x)
				v = int64(x)
			case "s":
				x := int16(k*37%30000 - 15000)
				fb.(*array.Int16Builder).Append(x)
				v = int64(x)
			case "i":
				x := int32(k*7919%1_000_000 - 500_000)
				fb.(*array.Int32Builder).Append(x)
				v = int64(x)
			case "l":
				x := int64(k)*1_000_000_000_000 - 500_000_000_000_000
				fb.(*array.Int64Builder).Append(x)
				v = x
			case "f":
				x := float32(k)*0.5 - 100
				switch k % 50 {
				case 0:
					x = float32(math.NaN())
				case 1:
					x = float32(math.Copysign(0, -1))
				}
				fb.(*array.Float32Builder).Append(x)
				v = float64(x)
			case "d":
				x := float64(k)*1.25 - 300
				switch {
				case k >= 300 && k < 400: // with RowGroupRows 50: whole row groups of NaN only
					x = math.NaN()
				case k%7 == 0:
					x = math.Copysign(0, -1)
				}
				fb.(*array.Float64Builder).Append(x)
				v = x
			case "ok":
				fb.(*array.BooleanBuilder).Append(k%2 == 0)
				v = k%2 == 0
			case "str":
				x := fmt.Sprintf("é%03d-%s", (k*13)%500, strings.Repeat("ü", k%40))
				fb.(*array.StringBuilder).Append(x)
				v = x
			case "bin":
				fb.(*array.BinaryBuilder).Append([]byte{byte(k), byte(k >> 8)})
				v = "bin"
			case "day":
				x := int32(19000 + (k*17)%400)
				fb.(*array.Date32Builder).Append(arrow.Date32(x))
				v = int64(x)
			case "ts":
				x := int64(1_700_000_000_000_000) + int64((k*31)%n)*1_000_003
				fb.(*array.TimestampBuilder).Append(arrow.Timestamp(x))
				v = x
			case "dec":
				fb.(*array.Decimal128Builder).Append(decimal128.FromI64(int64(k*100 + 7)))
				v = int64(k*100 + 7)
			case "big":
				x := fmt.Sprintf("v%04d", k)
				if k == 500 {
					x = strings.Repeat("z", 5000)
				}
				fb.(*array.StringBuilder).Append(x)
				v = x
			}
			if oracles[part][c].kind == "" {
				v = "counted" // a non-NULL value without bounds
			}
			oracles[part][c].add(v)
		}
		b.Field(len(fields) - 1).(*array.StringBuilder).Append(part)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adds, err := WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, WriteOptions{RowGroupRows: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(adds) != 2 {
		t.Fatalf("%d files, want one per partition", len(adds))
	}
	if _, err := Commit(ctx, tbl, snap.Version, AddActions(adds), "WRITE", nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range adds {
		part := *a.PartitionValues["p"]
		st, err := a.ParsedStats()
		if err != nil || st == nil || st.NumRecords == nil {
			t.Fatalf("file %s: stats %v, %v", a.DecodedPath, st, err)
		}
		if *st.NumRecords != rowsOf[part] {
			t.Errorf("partition %s: numRecords %d, want %d", part, *st.NumRecords, rowsOf[part])
		}
		for c, o := range oracles[part] {
			name := fields[c].Name
			var nulls int64
			if err := json.Unmarshal(st.NullCount[name], &nulls); err != nil || nulls != o.nulls {
				t.Errorf("partition %s: column %s: nullCount %s, want %d", part, name, st.NullCount[name], o.nulls)
			}
			wlo, whi := o.json()
			if name == "big" && part == "b" { // holds the 5000-byte value
				wlo, whi = nil, nil
			}
			for _, mm := range []struct {
				what string
				raw  json.RawMessage
				want any
			}{{"min", st.MinValues[name], wlo}, {"max", st.MaxValues[name], whi}} {
				if mm.want == nil {
					if mm.raw != nil {
						t.Errorf("partition %s: column %s: %s %s, want none", part, name, mm.what, mm.raw)
					}
					continue
				}
				var got any
				if err := json.Unmarshal(mm.raw, &got); err != nil || !reflect.DeepEqual(got, decodeJSON(t, mm.want)) {
					t.Errorf("partition %s: column %s: %s %s, want %v", part, name, mm.what, mm.raw, mm.want)
				}
			}
		}
	}
	// The stats are the ones readers use: every row group is read back.
	if got := readRowsCount(t, tbl); got != n {
		t.Fatalf("read back %d rows, want %d", got, n)
	}
	// Readers see no bounds, rather than a wrong one, for the row group whose
	// max the footer left out.
	snap, err = tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range snap.Files() {
		df, err := snap.OpenDataFile(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for rg := range df.NumRowGroups() {
			st, ok := df.Statistics(rg, "big")
			bigRG := (500 - (500+2)/3) / 50 // row 500 is partition b's 333rd
			if *f.PartitionValues["p"] == "b" && rg == bigRG {
				if st.HasMinMax {
					t.Errorf("row group %d of %s: big in [%v, %v], but its max is not in the footer", rg, f.DecodedPath, st.Min, st.Max)
				}
				continue
			}
			if !ok || !st.HasMinMax || st.Max.(string) < st.Min.(string) {
				t.Errorf("row group %d of %s: big has statistics %+v", rg, f.DecodedPath, st)
			}
		}
	}
}

func readRowsCount(t *testing.T, tbl *Table) int64 {
	t.Helper()
	snap, err := tbl.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, f := range snap.Files() {
		if err := snap.ReadFile(context.Background(), f, nil, func(rec arrow.RecordBatch) error { n += rec.NumRows(); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return n
}
