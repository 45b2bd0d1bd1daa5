package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/objstore"
)

func FuzzCommitJSON(f *testing.F) {
	paths, _ := filepath.Glob("testdata/delta/*/_delta_log/*.json")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"add":{"path":"a%zz","partitionValues":{},"size":1,"modificationTime":1,"dataChange":true}}`))
	f.Add([]byte(`{"add":null}` + "\n" + `{"commitInfo":{"timestamp":"x","inCommitTimestamp":[]}}`))
	f.Add([]byte(`{"protocol":{"minReaderVersion":1}}` + "\n" + `{"protocol":{"minReaderVersion":2}}`))
	f.Add([]byte(`{"metaData":{"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"decimal(5, 2)\"}]}"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseCommit(data)
		if err != nil {
			return
		}
		// Whatever parsed must replay without panicking too.
		s := newSnapshot(OpenTable(objstore.LocalAt("/nonexistent"), "t"))
		if s.apply(a) == nil {
			_ = s.finish()
		}
		if a.Metadata != nil {
			if sc, err := ParseSchema(a.Metadata.SchemaString); err == nil {
				_, _ = sc.ArrowType()
				_ = sc.String()
			}
		}
		for _, add := range a.Adds {
			_, _ = ParseStats(add.Stats)
			_ = add.DeletionVector.UniqueID()
			if add.DeletionVector != nil {
				_, _, _ = dvFileKey(add.DeletionVector)
			}
		}
	})
}

func FuzzSchema(f *testing.F) {
	f.Add(`{"type":"struct","fields":[{"name":"a","type":"long","nullable":true,"metadata":{}}]}`)
	f.Add(`{"type":"struct","fields":[{"name":"m","type":{"type":"map","keyType":"string","valueType":{"type":"array","elementType":"decimal(38,10)","containsNull":true},"valueContainsNull":true},"nullable":true,"metadata":{"delta.columnMapping.id":1}}]}`)
	f.Add(`{"type":"struct","fields":[{"name":"s","type":{"type":"struct","fields":null}}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseSchema(s)
		if err != nil {
			return
		}
		_, _ = sc.ArrowType()
		_ = sc.String()
		for i := range sc.Fields {
			_ = sc.Fields[i].PhysicalName(MappingName)
			_, _ = sc.Fields[i].FieldID()
			_, _ = ParsePartitionValue(sc.Fields[i].Type, "1")
		}
	})
}

func FuzzDeletionVector(f *testing.F) {
	if b, err := os.ReadFile("testdata/delta/table-with-dv-small/deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin"); err == nil {
		f.Add(b[1:], int32(36))
	}
	f.Add([]byte{0, 0, 0, 4, 0xd1, 0xd3, 0x39, 0x64, 0, 0, 0, 0}, int32(4))
	// Found by fuzzing: a huge bucket count made roaring64 allocate terabytes.
	f.Add([]byte("\xd1\xd39d\x01\x00\x00\x00@\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00:0\x00\x00\x01\x00\x00\x00\x00\x00\x01\x00\x10\x00\x00\x00\x10"), int32('$'))
	f.Fuzz(func(t *testing.T, region []byte, size int32) {
		bm, err := parseDVRegion(region, size)
		if err == nil {
			_ = bm.Cardinality()
			_, _ = bm.Max()
			_ = bm.Contains(1)
		}
		_, _ = parseDVBitmap(region)
		_, _ = decodeZ85(string(region))
		_, _ = parseLogName(string(region))
	})
}

func FuzzCheckpointParquet(f *testing.F) {
	paths, _ := filepath.Glob("testdata/delta/*/_delta_log/*.checkpoint*.parquet")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer func() {
			// Panics inside arrow-go's decoder are recovered in
			// parseCheckpointParquet; one reaching here is a bug of this package.
			if r := recover(); r != nil {
				t.Fatalf("panic: %v", r)
			}
		}()
		_, _ = parseCheckpointParquet(context.Background(), data)
	})
}

// FuzzDataFilePages overwrites bytes of a Parquet data file (footer, page
// headers, dictionary and data pages, page indexes alike; its size stays what
// the log says) whose columns have dictionary, PLAIN-fallback and NULL-holding
// pages, and reads every column of every row group through each read of the
// direct scan: the footer, page indexes, dictionary pages alone, ReadDictIDs
// and ReadValues (this package's page decoders) whole and for a range of rows,
// and arrow-go's reader. Every read either succeeds or fails with an error
// wrapping storage.ErrCorrupt that names the file; none panics.
func FuzzDataFilePages(f *testing.F) {
	dir := f.TempDir()
	props := parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(1500), parquet.WithDataPageSize(512),
		parquet.WithCompression(compress.Codecs.Snappy), parquet.WithDictionaryPageSizeLimit(400),
		parquet.WithPageIndexEnabled(true), parquet.WithStats(true))
	snap := numTestFile(f, dir, 3000, props)
	path := filepath.Join(dir, "t", "f.parquet")
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	columns := []string{"s"}
	for _, c := range numTestColumns {
		columns = append(columns, c.name)
	}
	f.Add(uint32(0), []byte("XXXX"))
	f.Add(uint32(len(valid)-8), []byte{0xff, 0xff, 0xff, 0x7f})
	f.Add(uint32(len(valid)/2), []byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint32(len(valid)/3), []byte{0x15, 0x04, 0x15, 0xff, 0xff, 0x0f})
	f.Add(uint32(4), []byte{0x15, 0x00, 0x15, 0x80, 0x80, 0x80, 0x80, 0x08})
	f.Add(uint32(len(valid)-300), []byte{0x7f, 0x7f, 0x7f})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, pos uint32, patch []byte) {
		b := slices.Clone(valid)
		copy(b[int(pos)%len(b):], patch)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		check := func(what string, err error) {
			if err != nil && (!errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), "f.parquet")) {
				t.Fatalf("%s: error does not wrap ErrCorrupt and name the file: %v", what, err)
			}
		}
		df, err := snap.OpenDataFile(ctx, snap.Files()[0])
		if check("OpenDataFile", err); err != nil {
			return
		}
		for rg := range df.NumRowGroups() {
			rows := df.RowGroupRows(rg)
			lo, hi := rows/3, rows-rows/5
			_, err := df.Pages(ctx, rg, columns)
			check("Pages", err)
			for _, c := range columns {
				if c == "s" {
					_, _, err = df.DictionaryValues(ctx, rg, c)
					check("DictionaryValues", err)
					_, _, err = df.ReadDictIDs(ctx, rg, c, nil)
					check("ReadDictIDs", err)
					_, _, err = df.ReadDictIDsRange(ctx, rg, c, lo, hi)
					check("ReadDictIDsRange", err)
				} else {
					_, _, err = df.ReadValues(ctx, rg, c, nil)
					check("ReadValues", err)
					_, _, err = df.ReadValuesRange(ctx, rg, c, lo, hi)
					check("ReadValuesRange", err)
				}
				chunks, err := df.ReadColumn(ctx, rg, c, c == "s")
				check("ReadColumn", err)
				for _, a := range chunks {
					a.Release()
				}
			}
		}
	})
}
