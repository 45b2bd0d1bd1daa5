package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// writeParquet writes one record to dir/name with pqarrow (field ids from the
// "PARQUET:field_id" metadata) and returns its size.
func writeParquet(t *testing.T, path string, rec arrow.RecordBatch) int64 {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	return st.Size()
}

func idMeta(id int) arrow.Metadata {
	return arrow.NewMetadata([]string{"PARQUET:field_id"}, []string{fmt.Sprint(id)})
}

// TestColumnMappingIDMode builds a table in mode "id" whose Parquet column names
// match nothing in the schema: only field ids connect them. A nested struct
// checks child renaming, and a schema column absent from the file reads as null.
func TestColumnMappingIDMode(t *testing.T) {
	mem := memory.DefaultAllocator
	dir := t.TempDir()
	child := arrow.Field{Name: "whatever_b", Type: arrow.PrimitiveTypes.Int32, Nullable: true, Metadata: idMeta(3)}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "zzz", Type: arrow.PrimitiveTypes.Int64, Nullable: true, Metadata: idMeta(1)},
		{Name: "col-s", Type: arrow.StructOf(child), Nullable: true, Metadata: idMeta(2)},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{10, 20, 30}, nil)
	sb := b.Field(1).(*array.StructBuilder)
	for _, v := range []int32{1, 2, 3} {
		sb.Append(true)
		sb.FieldBuilder(0).(*array.Int32Builder).Append(v)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	size := writeParquet(t, filepath.Join(dir, "t", "p=x%2Fy", "part-0.parquet"), rec)

	schema := `{"type":"struct","fields":[` +
		`{"name":"a","type":"long","nullable":true,"metadata":{"delta.columnMapping.id":1,"delta.columnMapping.physicalName":"col-a"}},` +
		`{"name":"s","type":{"type":"struct","fields":[{"name":"b","type":"long","nullable":true,"metadata":{"delta.columnMapping.id":3,"delta.columnMapping.physicalName":"whatever_b"}}]},"nullable":true,"metadata":{"delta.columnMapping.id":2,"delta.columnMapping.physicalName":"col-s"}},` +
		`{"name":"missing","type":"string","nullable":true,"metadata":{"delta.columnMapping.id":4,"delta.columnMapping.physicalName":"col-m"}},` +
		`{"name":"p","type":"string","nullable":true,"metadata":{"delta.columnMapping.id":5,"delta.columnMapping.physicalName":"col-p"}}]}`
	quoted := strings.ReplaceAll(schema, `"`, `\"`)
	commit := `{"protocol":{"minReaderVersion":2,"minWriterVersion":5}}` + "\n" +
		`{"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"` + quoted + `","partitionColumns":["p"],"configuration":{"delta.columnMapping.mode":"id"}}}` + "\n" +
		fmt.Sprintf(`{"add":{"path":"p=x%%252Fy/part-0.parquet","partitionValues":{"col-p":"x/y"},"size":%d,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":3}"}}`, size) + "\n"
	fsys := writeLog(t, dir, commit)
	s, err := OpenTable(fsys, "t").Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = s.ReadFile(context.Background(), s.Files()[0], []string{"p", "s", "a", "missing"}, func(r arrow.RecordBatch) error {
		for i := 0; i < int(r.NumRows()); i++ {
			var row []string
			for c := 0; c < int(r.NumCols()); c++ {
				row = append(row, fmt.Sprint(r.Column(c).GetOneForMarshal(i)))
			}
			got = append(got, strings.Join(row, "|"))
		}
		if r.Schema().Field(1).Type.(*arrow.StructType).Field(0).Name != "b" {
			t.Errorf("struct child not renamed: %s", r.Schema())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "x/y|map[b:1]|10|<nil> x/y|map[b:2]|20|<nil> x/y|map[b:3]|30|<nil>"
	if strings.Join(got, " ") != want {
		t.Fatalf("rows %q\nwant %q", strings.Join(got, " "), want)
	}
	pv, err := s.PartitionValues(s.Files()[0])
	if err != nil || pv["p"] != "x/y" {
		t.Fatalf("PartitionValues = %v, %v", pv, err)
	}
}

// TestConcurrentReads reads every file of a snapshot from several goroutines
// (run with -race).
func TestConcurrentReads(t *testing.T) {
	ctx := context.Background()
	s := openTestTable(t, "dv-partitioned-with-checkpoint")
	want := readAllRows(t, ctx, s)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int64
			for _, f := range s.Files() {
				err := s.ReadFile(ctx, f, []string{"part", "col1"}, func(r arrow.RecordBatch) error {
					n += r.NumRows()
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
			if n != want {
				errs <- fmt.Errorf("%d rows, want %d", n, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCallerPanicNotSwallowed(t *testing.T) {
	s := openTestTable(t, "table-with-dv-small")
	defer func() {
		if r := recover(); r != "caller bug" {
			t.Fatalf("recovered %v", r)
		}
	}()
	s.ReadFile(context.Background(), s.Files()[0], nil, func(arrow.RecordBatch) error { panic("caller bug") })
	t.Fatal("no panic")
}
