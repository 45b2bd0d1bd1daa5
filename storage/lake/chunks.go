package lake

import (
	"context"
	"sync/atomic"

	"github.com/stratadb/strata/storage/objstore"
)

// dataBytesRead counts the bytes of data files fetched for DataFile reads
// (footers, column chunks, dictionary pages), process-wide.
var dataBytesRead atomic.Int64

// DataBytesRead returns the bytes of Parquet data files the process has fetched
// to read them in place (OpenDataFile, ReadColumn, DictionaryValues,
// FetchChunks) since it started: what the direct scan costs in I/O, for
// benchmarks. Reads that convert whole files into the lake cache are not counted.
func DataBytesRead() int64 { return dataBytesRead.Load() }

// ChunkBytes holds column chunks of one row group fetched ahead by FetchChunks,
// so that ReadColumnWith decodes them without a request of its own. Immutable.
type ChunkBytes struct {
	ranges []objstore.Range
	data   [][]byte
	bytes  int64
}

// Bytes is the number of bytes held.
func (c *ChunkBytes) Bytes() int64 {
	if c == nil {
		return 0
	}
	return c.bytes
}

// Merge returns the chunks of c and o together (either may be nil).
func (c *ChunkBytes) Merge(o *ChunkBytes) *ChunkBytes {
	switch {
	case c == nil:
		return o
	case o == nil:
		return c
	}
	return &ChunkBytes{ranges: append(c.ranges[:len(c.ranges):len(c.ranges)], o.ranges...),
		data: append(c.data[:len(c.data):len(c.data)], o.data...), bytes: c.bytes + o.bytes}
}

// readAt fills p with bytes [off, off+len(p)) when one fetched range holds
// them all.
func (c *ChunkBytes) readAt(p []byte, off int64) bool {
	if c == nil {
		return false
	}
	for i, r := range c.ranges {
		if off >= r.Off && off+int64(len(p)) <= r.Off+int64(len(c.data[i])) {
			copy(p, c.data[i][off-r.Off:])
			return true
		}
	}
	return false
}

// Range is a byte range of an object, as objstore fetches them.
type Range = objstore.Range

// FetchChunks fetches the column chunks of the logical columns of row group rg
// in one call to the file system's GetRanges (nearby chunks coalesced into one
// request, several requests in flight), for ReadColumnWith. It returns nil when
// the file system reads ranges one by one anyway (a local folder) or no column
// needs bytes (partition columns, columns the file lacks). Columns whose chunk
// metadata is unusable are left to ReadColumnWith, which reports them.
func (d *DataFile) FetchChunks(ctx context.Context, rg int, columns []string) (*ChunkBytes, error) {
	fs := d.snap.table.fs
	if _, local := fs.(*objstore.Local); local || rg < 0 || rg >= len(d.live) {
		return nil, nil
	}
	var ranges []objstore.Range
	for _, column := range columns {
		fd := d.snap.field(column)
		if fd == nil || d.snap.isPartition(fd) {
			continue
		}
		pi := d.snap.findParquetField(d.manifest.Fields, fd)
		if pi < 0 {
			continue
		}
		for _, ci := range leafIndices(nil, &d.manifest.Fields[pi]) {
			if r, ok := d.chunkRange(rg, ci); ok {
				ranges = append(ranges, r)
			}
		}
	}
	if len(ranges) == 0 {
		return nil, nil
	}
	data, err := objstore.GetRanges(ctx, fs, d.key, ranges)
	if err != nil {
		return nil, err
	}
	out := &ChunkBytes{ranges: ranges, data: data}
	for _, b := range data {
		out.bytes += int64(len(b))
	}
	dataBytesRead.Add(out.bytes)
	return out, nil
}

// chunkRange is the byte range arrow-go's reader reads for leaf ci of row group
// rg (the dictionary page, if any, and the data pages).
func (d *DataFile) chunkRange(rg, ci int) (objstore.Range, bool) {
	defer func() { recover() }() // malformed metadata: no range; the read reports it
	cc, err := d.meta.RowGroup(rg).ColumnChunk(ci)
	if err != nil {
		return objstore.Range{}, false
	}
	start := cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && start > cc.DictionaryPageOffset() {
		start = cc.DictionaryPageOffset()
	}
	n := cc.TotalCompressedSize()
	if start < 0 || n <= 0 || start+n > d.file.Size || start+n < start {
		return objstore.Range{}, false
	}
	return objstore.Range{Off: start, N: n}, true
}
