package inproc

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestAppendRecordCells renders a batch of every type a strata result can hold.
func TestAppendRecordCells(t *testing.T) {
	mem := memory.NewGoAllocator()
	tsType := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint32, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "t", Type: tsType, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "d", Type: dictType, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{7, 0}, []bool{true, false})
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{2.5, 3}, nil)
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"x", ""}, []bool{true, false})
	b.Field(3).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1793491200000001, 0}, []bool{true, false})
	b.Field(4).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	db := b.Field(5).(*array.BinaryDictionaryBuilder)
	if err := db.AppendString("view"); err != nil {
		t.Fatal(err)
	}
	db.AppendNull()
	b.Field(6).(*array.Date32Builder).AppendValues([]arrow.Date32{20758, 0}, []bool{true, false})
	rec := b.NewRecordBatch()
	defer rec.Release()

	got, err := AppendRecordCells(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"7", "2.5", "x", "2026-11-01 00:00:00.000001", "t", "view", "2026-11-01 00:00:00"},
		{"NULL", "3", "NULL", "NULL", "f", "NULL", "NULL"},
	}
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Errorf("row %d column %d: %q, want %q", i, j, got[i][j], want[i][j])
			}
		}
	}
}
