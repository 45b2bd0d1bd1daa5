package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/storage/objstore"
)

// TestCheckpointStatsParsedOnly writes a classic checkpoint whose adds carry only
// stats_parsed (delta.checkpoint.writeStatsAsJson=false), columns in an unusual
// order, and checks the reader takes numRecords from the struct.
func TestCheckpointStatsParsedOnly(t *testing.T) {
	str := arrow.BinaryTypes.String
	i64 := arrow.PrimitiveTypes.Int64
	i32 := arrow.PrimitiveTypes.Int32
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "add", Nullable: true, Type: arrow.StructOf(
			arrow.Field{Name: "path", Type: str, Nullable: true},
			arrow.Field{Name: "size", Type: i64, Nullable: true},
			arrow.Field{Name: "modificationTime", Type: i64, Nullable: true},
			arrow.Field{Name: "dataChange", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
			arrow.Field{Name: "partitionValues", Type: arrow.MapOf(str, str), Nullable: true},
			arrow.Field{Name: "stats_parsed", Nullable: true, Type: arrow.StructOf(
				arrow.Field{Name: "numRecords", Type: i64, Nullable: true},
				arrow.Field{Name: "minValues", Nullable: true, Type: arrow.StructOf(arrow.Field{Name: "a", Type: i64, Nullable: true})},
			)},
		)},
		{Name: "metaData", Nullable: true, Type: arrow.StructOf(
			arrow.Field{Name: "id", Type: str, Nullable: true},
			arrow.Field{Name: "schemaString", Type: str, Nullable: true},
			arrow.Field{Name: "partitionColumns", Type: arrow.ListOf(str), Nullable: true},
			arrow.Field{Name: "configuration", Type: arrow.MapOf(str, str), Nullable: true},
			arrow.Field{Name: "format", Nullable: true, Type: arrow.StructOf(arrow.Field{Name: "provider", Type: str, Nullable: true})},
		)},
		{Name: "protocol", Nullable: true, Type: arrow.StructOf(
			arrow.Field{Name: "minReaderVersion", Type: i32, Nullable: true},
			arrow.Field{Name: "minWriterVersion", Type: i32, Nullable: true},
		)},
	}, nil)
	schemaString := `{"type":"struct","fields":[{"name":"a","type":"long","nullable":true,"metadata":{}}]}`
	rows := []string{
		`{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}`,
		fmt.Sprintf(`{"metaData":{"id":"x","schemaString":%q,"partitionColumns":[],"configuration":[{"key":"delta.checkpoint.writeStatsAsJson","value":"false"}],"format":{"provider":"parquet"}}}`, schemaString),
		`{"add":{"path":"f%201.parquet","size":1,"modificationTime":1,"dataChange":true,"partitionValues":[],"stats_parsed":{"numRecords":7,"minValues":{"a":3}}}}`,
		`{"add":{"path":"f2.parquet","size":1,"modificationTime":1,"dataChange":true,"partitionValues":[],"stats_parsed":{"numRecords":5,"minValues":{"a":1}}}}`,
	}
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader("["+strings.Join(rows, ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "t", "_delta_log", "00000000000000000003.checkpoint.parquet"), rec)
	os.WriteFile(filepath.Join(dir, "t", "_delta_log", "00000000000000000003.json"), []byte(`{"commitInfo":{}}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "t", "_delta_log", "_last_checkpoint"), []byte(`{"version":3,"size":4,"numOfAddFiles":2}`), 0o644)

	s, err := OpenTable(objstore.LocalAt(dir), "t").Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.CheckpointVersion != 3 || len(s.Files()) != 2 || s.Files()[0].DecodedPath != "f 1.parquet" {
		t.Fatalf("checkpoint %d, files %v", s.CheckpointVersion, s.Files())
	}
	n, err := s.Count(context.Background()) // from stats only: the data files do not exist
	if err != nil || n != 12 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	st, _ := s.Files()[0].ParsedStats()
	if string(st.MinValues["a"]) != "3" {
		t.Fatalf("minValues %v", st.MinValues)
	}
	if s.Metadata.Configuration["delta.checkpoint.writeStatsAsJson"] != "false" {
		t.Fatalf("configuration map: %v", s.Metadata.Configuration)
	}
}
