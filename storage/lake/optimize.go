package lake

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// OptimizeResult describes what Optimize committed.
type OptimizeResult struct {
	Version      int64 // the OPTIMIZE commit; -1 when there was nothing to do
	FilesRemoved int
	FilesAdded   int
	Rows         int64 // rows rewritten
}

// Optimize bin-packs the small files (size < targetFileSize) of each partition
// into files of about targetFileSize and commits, in one OPTIMIZE commit, a
// remove (dataChange=false, deletionTimestamp=now) for each compacted file and an
// add (dataChange=false) for each new one. Only bins of two or more files are
// rewritten. sortBy, when not empty, orders the rows of each output file by that
// column (nulls first). Rows deleted by deletion vectors are dropped. The old files
// stay on storage (time travel reads them) until VACUUM.
func Optimize(ctx context.Context, t *Table, targetFileSize int64, sortBy string) (OptimizeResult, error) {
	res := OptimizeResult{Version: -1}
	if targetFileSize <= 0 {
		return res, fmt.Errorf("lake: table %s: optimize: target file size must be positive", t.name())
	}
	snap, err := t.Snapshot(ctx)
	if err != nil {
		return res, err
	}
	if sortBy != "" {
		if f := snap.field(sortBy); f == nil {
			return res, fmt.Errorf("lake: table %s: optimize: no column %q", t.name(), sortBy)
		}
	}
	// Group small files by partition, in path order for determinism.
	groups := map[string][]*AddFile{}
	var keys []string
	for _, f := range snap.Files() {
		if f.Size >= targetFileSize || f.IsAbsolute {
			continue
		}
		k := mustJSON(f.PartitionValues) // encoding/json sorts map keys
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], f)
	}
	var bins [][]*AddFile
	for _, k := range keys {
		var bin []*AddFile
		var size int64
		for _, f := range groups[k] {
			if len(bin) > 0 && size+f.Size > targetFileSize {
				bins = append(bins, bin)
				bin, size = nil, 0
			}
			bin = append(bin, f)
			size += f.Size
		}
		bins = append(bins, bin)
	}
	w, err := newFileWriter(snap, WriteOptions{dataChangeFalse: true})
	if err != nil {
		return res, err
	}
	defer w.abort()
	var actions []Action
	now := time.Now().UnixMilli()
	for _, bin := range bins {
		if len(bin) < 2 {
			continue
		}
		n, err := w.rewrite(ctx, bin, sortBy)
		if err != nil {
			return res, err
		}
		res.Rows += n
		for _, f := range bin {
			size := f.Size
			actions = append(actions, Action{Remove: &RemoveFile{
				Path: f.Path, DeletionTimestamp: &now, DataChange: false, ExtendedFileMetadata: true,
				PartitionValues: f.PartitionValues, Size: &size, DeletionVector: f.DeletionVector,
				DecodedPath: f.DecodedPath,
			}})
			res.FilesRemoved++
		}
	}
	adds, err := w.finish(ctx)
	if err != nil {
		return res, err
	}
	if res.FilesRemoved == 0 {
		return res, nil
	}
	res.FilesAdded = len(adds)
	actions = append(actions, AddActions(adds)...)
	zorder := "[]"
	params := map[string]any{"predicate": "[]", "zOrderBy": zorder, "auto": false, "targetFileSize": targetFileSize}
	if sortBy != "" {
		params["sortBy"] = sortBy
	}
	v, err := Commit(ctx, t, snap.Version, actions, "OPTIMIZE", params)
	if err != nil {
		// The new files are unreferenced: VACUUM removes them once old enough.
		return res, err
	}
	res.Version = v
	return res, nil
}

// rewrite reads the files of one bin (all in one partition), optionally sorts the
// rows, and writes them as one new file of that partition.
func (w *fileWriter) rewrite(ctx context.Context, bin []*AddFile, sortBy string) (int64, error) {
	names := make([]string, len(w.data))
	for i, f := range w.data {
		names[i] = f.Name
	}
	cols := make([][]arrow.Array, len(w.data))
	defer func() {
		for _, cs := range cols {
			for _, c := range cs {
				c.Release()
			}
		}
	}()
	var sortChunks []arrow.Array
	defer func() {
		for _, c := range sortChunks {
			c.Release()
		}
	}()
	var sortCol string
	if sortBy != "" {
		sortCol = w.snap.field(sortBy).Name
	}
	read := names
	if sortCol != "" {
		read = append(append([]string{}, names...), sortCol)
	}
	for _, f := range bin {
		err := w.snap.ReadFile(ctx, f, read, func(rec arrow.RecordBatch) error {
			for i := range w.data {
				c := rec.Column(i)
				c.Retain()
				cols[i] = append(cols[i], c)
			}
			if sortCol != "" {
				c := rec.Column(len(names))
				c.Retain()
				sortChunks = append(sortChunks, c)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	mem := memory.DefaultAllocator
	whole := make([]arrow.Array, len(w.data))
	defer func() {
		for _, a := range whole {
			if a != nil {
				a.Release()
			}
		}
	}()
	for i := range cols {
		a, err := concatOrEmpty(mem, cols[i], w.fileSchma.Field(i).Type)
		if err != nil {
			return 0, fmt.Errorf("lake: table %s: optimize: %w", w.snap.table.name(), err)
		}
		whole[i] = a
	}
	n := 0
	if len(whole) > 0 {
		n = whole[0].Len()
	}
	if sortCol != "" && n > 1 {
		key, err := array.Concatenate(sortChunks, mem)
		if err != nil {
			return 0, fmt.Errorf("lake: table %s: optimize: %w", w.snap.table.name(), err)
		}
		perm, err := sortPermutation(key)
		key.Release()
		if err != nil {
			return 0, fmt.Errorf("lake: table %s: optimize: sort by %s: %w", w.snap.table.name(), sortCol, err)
		}
		for i, a := range whole {
			s, err := takeRows(mem, a, perm)
			if err != nil {
				return 0, fmt.Errorf("lake: table %s: optimize: %w", w.snap.table.name(), err)
			}
			a.Release()
			whole[i] = s
		}
	}
	// One new file per bin: a distinct key keeps bins of one partition apart.
	vals := make([]*string, len(w.parts))
	for i, p := range w.parts {
		vals[i] = bin[0].PartitionValues[p.Name]
	}
	key := fmt.Sprintf("optimize-%d-%s", len(w.order), bin[0].DecodedPath)
	if err := w.writeRun(ctx, key, vals, whole, 0, n); err != nil {
		return 0, err
	}
	if w.open[key] == nil { // nothing written (all rows deleted): no file
		return int64(n), nil
	}
	return int64(n), w.flush(ctx, key)
}

func concatOrEmpty(mem memory.Allocator, chunks []arrow.Array, t arrow.DataType) (arrow.Array, error) {
	if len(chunks) == 0 {
		b := array.NewBuilder(mem, t)
		defer b.Release()
		return b.NewArray(), nil
	}
	return array.Concatenate(chunks, mem)
}

// sortPermutation returns row indexes ordering a by value, nulls first, stable.
func sortPermutation(a arrow.Array) ([]int, error) {
	n := a.Len()
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	var less func(i, j int) int
	switch c := a.(type) {
	case *array.Int8:
		less = func(i, j int) int { return cmp.Compare(c.Value(i), c.Value(j)) }
	case *array.Int16:
		less = func(i, j int) int { return cmp.Compare(c.Value(i), c.Value(j)) }
	case *array.Int32:
		less = func(i, j int) int { return cmp.Compare(c.Value(i), c.Value(j)) }
	case *array.Int64:
		less = func(i, j int) int { return cmp.Compare(c.Value(i), c.Value(j)) }
	case *array.Float32:
		less = func(i, j int) int { return cmp.Compare(c.Value(i), c.Value(j)) }
	case *array.Float64:
		less = func(i, j int) int { return cmp.Compare(c.Value(i), c.Value(j)) }
	case *array.Date32:
		less = func(i, j int) int { return cmp.Compare(c.Value(i), c.Value(j)) }
	case *array.Timestamp:
		less = func(i, j int) int { return cmp.Compare(c.Value(i), c.Value(j)) }
	case *array.String:
		less = func(i, j int) int { return strings.Compare(c.Value(i), c.Value(j)) }
	case *array.Boolean:
		b := func(v bool) int {
			if v {
				return 1
			}
			return 0
		}
		less = func(i, j int) int { return cmp.Compare(b(c.Value(i)), b(c.Value(j))) }
	default:
		return nil, fmt.Errorf("cannot sort by type %s", a.DataType())
	}
	sort.SliceStable(perm, func(x, y int) bool {
		i, j := perm[x], perm[y]
		ni, nj := a.IsNull(i), a.IsNull(j)
		if ni || nj {
			return ni && !nj
		}
		return less(i, j) < 0
	})
	return perm, nil
}

// takeRows returns a new array of a's rows in perm order. It concatenates runs of
// consecutive indexes as slices, so it works for every type.
func takeRows(mem memory.Allocator, a arrow.Array, perm []int) (arrow.Array, error) {
	var parts []arrow.Array
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	for i := 0; i < len(perm); {
		j := i + 1
		for j < len(perm) && perm[j] == perm[j-1]+1 {
			j++
		}
		parts = append(parts, array.NewSlice(a, int64(perm[i]), int64(perm[j-1]+1)))
		i = j
	}
	if len(parts) == 0 {
		return array.NewSlice(a, 0, 0), nil
	}
	return array.Concatenate(parts, mem)
}
