package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// TestRowGroupsAndDeletionVector: a 10-row file in row groups of 4 (rows 0-3,
// 4-7, 8-9) with an inline DV deleting rows 1, 5 and 9. Reading all row groups
// or skipping the first must drop exactly the DV rows by file row number.
func TestRowGroupsAndDeletionVector(t *testing.T) {
	dir := t.TempDir()
	sc := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := int64(0); i < 10; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	p := filepath.Join(dir, "t", "f.parquet")
	os.MkdirAll(filepath.Dir(p), 0o755)
	out, _ := os.Create(p)
	w, err := pqarrow.NewFileWriter(sc, out, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(4)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	st, _ := os.Stat(p)

	raw := dvBytes(t, []uint64{1, 5, 9})
	commit := `{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}}` + "\n" + testMeta[:len(testMeta)-len(`"partitionColumns":[],"configuration":{}}}`)] +
		`"partitionColumns":[],"configuration":{}}}` + "\n" +
		fmt.Sprintf(`{"add":{"path":"f.parquet","partitionValues":{},"size":%d,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":10,\"minValues\":{\"v\":0}}","deletionVector":{"storageType":"i","pathOrInlineDv":%q,"sizeInBytes":%d,"cardinality":3}}}`,
			st.Size(), encodeZ85(raw), len(raw)) + "\n"
	// testMeta's column is "a"; the file's is "v": read "v" by declaring it.
	commit = replaceOnce(commit, `\"name\":\"a\"`, `\"name\":\"v\"`)
	fsys := writeLog(t, dir, commit)
	s, err := OpenTable(fsys, "t").Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := s.Files()[0]
	read := func(keep RowGroupFilter) []int64 {
		var got []int64
		err := s.ReadFileRowGroups(context.Background(), f, []string{"v"}, keep, func(r arrow.RecordBatch) error {
			got = append(got, r.Column(0).(*array.Int64).Int64Values()...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := fmt.Sprint(read(nil)); got != "[0 2 3 4 6 7 8]" {
		t.Fatalf("all row groups: %s", got)
	}
	skipFirst := func(rg int, md *metadata.RowGroupMetaData) bool { return rg != 0 }
	if got := fmt.Sprint(read(skipFirst)); got != "[4 6 7 8]" {
		t.Fatalf("row groups 1-2: %s", got)
	}
	if n, _ := s.Count(context.Background()); n != 7 {
		t.Fatalf("Count = %d", n)
	}
	if n, _ := s.CountFile(context.Background(), f); n != 7 {
		t.Fatalf("CountFile = %d", n)
	}
	if min, _, _, ok := s.ColumnStats(f, "v"); !ok || string(min) != "0" {
		t.Fatalf("ColumnStats min %s %v", min, ok)
	}
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}
