package lake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// checkpointColumns are the top-level checkpoint columns the reader understands;
// others (cdc, future actions) are not read.
var checkpointColumns = map[string]bool{
	"protocol": true, "metaData": true, "add": true, "remove": true, "txn": true,
	"domainMetadata": true, "checkpointMetadata": true, "sidecar": true,
}

// recoverDecoder turns a panic inside arrow-go's Parquet decoder (reachable with
// hostile file bytes) into an error; checkpoints and data files are external input.
func recoverDecoder(err *error) {
	if r := recover(); r != nil {
		if cp, ok := r.(callerPanic); ok {
			panic(cp.v) // not ours to swallow
		}
		*err = fmt.Errorf("parquet decoder failed: %v", r)
	}
}

// callerPanic carries a panic raised by a caller's callback through
// recoverDecoder unchanged.
type callerPanic struct{ v any }

// callCaller runs a caller's batch callback, marking any panic as the caller's.
func callCaller(fn func(arrow.RecordBatch) error, rec arrow.RecordBatch) error {
	defer func() {
		if r := recover(); r != nil {
			panic(callerPanic{r})
		}
	}()
	return fn(rec)
}

// leafIndices appends the Parquet leaf column indices under a schema field.
func leafIndices(dst []int, f *pqarrow.SchemaField) []int {
	if f.IsLeaf() {
		return append(dst, f.ColIndex)
	}
	for i := range f.Children {
		dst = leafIndices(dst, &f.Children[i])
	}
	return dst
}

// parseCheckpointParquet reads a Parquet checkpoint (classic, a part of a
// multi-part one, a v2 checkpoint or a sidecar) into actions. Columns are resolved
// by name, not position (delta-rs writes them in another order). When an add has
// no stats JSON but a stats_parsed struct, the struct becomes the stats string.
func parseCheckpointParquet(ctx context.Context, data []byte) (acts *Actions, err error) {
	defer recoverDecoder(&err)
	pr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: 1 << 14}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	var cols []int
	for i := range fr.Manifest.Fields {
		f := &fr.Manifest.Fields[i]
		if checkpointColumns[f.Field.Name] {
			cols = leafIndices(cols, f)
		}
	}
	acts = &Actions{}
	if len(cols) == 0 || pr.NumRows() == 0 {
		return acts, nil
	}
	rr, err := fr.GetRecordReader(ctx, cols, nil)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		if err := appendCheckpointRecord(acts, rec); err != nil {
			return nil, err
		}
	}
	if err := rr.Err(); err != nil {
		return nil, err
	}
	return acts, nil
}

func appendCheckpointRecord(acts *Actions, rec arrow.RecordBatch) error {
	fields := rec.Schema().Fields()
	for row := 0; row < int(rec.NumRows()); row++ {
		for c, col := range rec.Columns() {
			if col.IsNull(row) {
				continue
			}
			v := arrowToJSON(col, row)
			kind := fields[c].Name
			if m, ok := v.(map[string]any); ok && (kind == "add" || kind == "remove") {
				if s, _ := m["stats"].(string); s == "" && m["stats_parsed"] != nil {
					b, err := json.Marshal(m["stats_parsed"])
					if err != nil {
						return fmt.Errorf("checkpoint %s stats_parsed: %w", kind, err)
					}
					m["stats"] = string(b)
				}
				delete(m, "stats_parsed")
				delete(m, "partitionValues_parsed")
			}
			raw, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("checkpoint %s: %w", kind, err)
			}
			if err := acts.parseAction(kind, raw); err != nil {
				return fmt.Errorf("checkpoint %s: %w", kind, err)
			}
		}
	}
	return nil
}

// arrowToJSON converts one value of an Arrow array to the JSON-shaped Go value the
// Delta JSON form of the same action has: structs and maps become objects.
func arrowToJSON(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		m := make(map[string]any, a.NumField())
		for j := 0; j < a.NumField(); j++ {
			m[st.Field(j).Name] = arrowToJSON(a.Field(j), i)
		}
		return m
	case *array.Map:
		start, end := a.ValueOffsets(i)
		keys, items := a.Keys(), a.Items()
		m := make(map[string]any, end-start)
		for k := start; k < end; k++ {
			key := arrowToJSON(keys, int(k))
			ks, ok := key.(string)
			if !ok {
				ks = fmt.Sprint(key)
			}
			m[ks] = arrowToJSON(items, int(k))
		}
		return m
	case *array.List:
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for k := start; k < end; k++ {
			out = append(out, arrowToJSON(a.ListValues(), int(k)))
		}
		return out
	case *array.LargeList:
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for k := start; k < end; k++ {
			out = append(out, arrowToJSON(a.ListValues(), int(k)))
		}
		return out
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	}
	return arr.GetOneForMarshal(i)
}
