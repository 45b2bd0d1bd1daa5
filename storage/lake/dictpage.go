package lake

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"

	"github.com/stratadb/strata/storage"
)

// DictionaryValues returns every value that logical string column column may
// hold in row group rg, read from the column chunk's dictionary page alone (its
// data pages are not fetched), for skipping a row group whose dictionary lacks
// the values an equality or IN filter wants. ok is false when the chunk's
// dictionary does not list every value (no dictionary page, a data page that
// fell back to plain encoding, encodings the footer does not tell), when the
// dictionary page is more than half of the chunk (not worth reading apart),
// and for a column that is not a plain string column of the file (a partition
// column, one the file lacks). Deleted rows' values are included. The values
// are copies.
func (d *DataFile) DictionaryValues(ctx context.Context, rg int, column string) (vals []string, ok bool, err error) {
	if rg < 0 || rg >= len(d.live) {
		return nil, false, fmt.Errorf("lake: file %s: no row group %d", d.file.DecodedPath, rg)
	}
	fd := d.snap.field(column)
	if fd == nil || fd.Type.Name != "string" || d.snap.isPartition(fd) {
		return nil, false, nil
	}
	pi := d.snap.findParquetField(d.manifest.Fields, fd)
	if pi < 0 || !d.manifest.Fields[pi].IsLeaf() {
		return nil, false, nil
	}
	ci := d.manifest.Fields[pi].ColIndex
	if d.meta.Schema.Column(ci).PhysicalType() != parquet.Types.ByteArray {
		return nil, false, nil
	}
	cc, err := d.meta.RowGroup(rg).ColumnChunk(ci)
	if err != nil {
		return nil, false, fmt.Errorf("lake: file %s: row group %d: %w: %v", d.file.DecodedPath, rg, storage.ErrCorrupt, err)
	}
	if !cc.HasDictionaryPage() || cc.DictionaryPageOffset() <= 0 || cc.DictionaryPageOffset() >= cc.DataPageOffset() ||
		cc.CryptoMetadata() != nil || !allDictionaryEncoded(cc) {
		return nil, false, nil
	}
	if 2*(cc.DataPageOffset()-cc.DictionaryPageOffset()) > cc.TotalCompressedSize() {
		// The dictionary is most of the chunk (values that rarely repeat):
		// reading it apart costs about what reading the chunk does, and a
		// row group that holds a wanted value would read it twice.
		return nil, false, nil
	}
	r := d.snap.newTrackedReader(ctx, d.file)
	defer func() {
		if p := recover(); p != nil {
			if cp, isCaller := p.(callerPanic); isCaller {
				panic(cp.v)
			}
			vals, ok, err = nil, false, r.classify(ctx, fmt.Errorf("parquet decoder failed: %v", p))
		}
		if err != nil {
			err = fmt.Errorf("lake: table %s: file %s: row group %d: column %s: dictionary page: %w", d.snap.table.name(), d.file.DecodedPath, rg, column, err)
		}
	}()
	// A buffered stream reads only what the page reader asks for: the
	// dictionary page, not the whole column chunk.
	props := parquet.NewReaderProperties(nil)
	props.BufferedStreamEnabled = true
	props.BufferSize = min(cc.DataPageOffset()-cc.DictionaryPageOffset(), 1<<20)
	pr, err := file.NewParquetReader(r, file.WithMetadata(d.meta), file.WithReadProps(props))
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	pages, err := pr.RowGroup(rg).GetColumnPageReader(ci)
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	defer pages.Close()
	page, err := pages.GetDictionaryPage()
	if err != nil {
		return nil, false, r.classify(ctx, err)
	}
	if page == nil {
		return nil, false, nil
	}
	defer page.Release()
	switch parquet.Encoding(page.Encoding()) {
	case parquet.Encodings.Plain, parquet.Encodings.PlainDict:
	default:
		return nil, false, nil
	}
	vals, err = PlainByteArrays(page.Data(), int(page.NumValues()))
	if err != nil {
		return nil, false, err
	}
	return vals, true, nil
}

// allDictionaryEncoded reports whether the footer says that every data page of
// the chunk is dictionary-encoded, so its dictionary lists every value.
func allDictionaryEncoded(cc *metadata.ColumnChunkMetaData) bool {
	if st := cc.EncodingStats(); len(st) > 0 {
		data := false
		for _, s := range st {
			switch s.PageType {
			case file.PageTypeDataPage, file.PageTypeDataPageV2:
				if s.Encoding != parquet.Encodings.PlainDict && s.Encoding != parquet.Encodings.RLEDict {
					return false
				}
				data = true
			}
		}
		return data
	}
	// Without page encoding stats: dictionary encodings and level encodings
	// only (PLAIN would mean a fallback page, or a writer that marks its
	// dictionary page so; either way not known).
	dict := false
	for _, e := range cc.Encodings() {
		switch e {
		case parquet.Encodings.PlainDict, parquet.Encodings.RLEDict:
			dict = true
		case parquet.Encodings.RLE, parquet.Encodings.BitPacked:
		default:
			return false
		}
	}
	return dict
}

// PlainByteArrays decodes n PLAIN-encoded BYTE_ARRAY values (each a 4-byte
// little-endian length and its bytes) that must fill b exactly; the strings
// share one copy of b.
func PlainByteArrays(b []byte, n int) ([]string, error) { return plainByteArrays(b, n, true) }

// plainByteArrays decodes n PLAIN BYTE_ARRAY values from b; exact: they must
// fill b (else bytes after them are ignored, as readers do for a data page).
func plainByteArrays(b []byte, n int, exact bool) ([]string, error) {
	if n < 0 || n > len(b)/4 {
		return nil, fmt.Errorf("%w: %d values in %d bytes", storage.ErrCorrupt, n, len(b))
	}
	all := string(b)
	out := make([]string, n)
	off := 0
	for i := range out {
		if len(all)-off < 4 {
			return nil, fmt.Errorf("%w: value %d of %d: truncated length", storage.ErrCorrupt, i, n)
		}
		l := int(binary.LittleEndian.Uint32(b[off:]))
		off += 4
		if l < 0 || l > len(all)-off {
			return nil, fmt.Errorf("%w: value %d of %d: length %d past the page end", storage.ErrCorrupt, i, n, l)
		}
		out[i] = all[off : off+l]
		off += l
	}
	if exact && off != len(all) {
		return nil, fmt.Errorf("%w: %d bytes after %d values", storage.ErrCorrupt, len(all)-off, n)
	}
	return out, nil
}

// dictOrPlainEncoded reports whether the footer says that every data page of
// the chunk is dictionary-encoded or PLAIN (what ReadDictIDs decodes).
func dictOrPlainEncoded(cc *metadata.ColumnChunkMetaData) bool {
	if st := cc.EncodingStats(); len(st) > 0 {
		for _, s := range st {
			switch s.PageType {
			case file.PageTypeDataPage, file.PageTypeDataPageV2:
				switch s.Encoding {
				case parquet.Encodings.PlainDict, parquet.Encodings.RLEDict, parquet.Encodings.Plain:
				default:
					return false
				}
			}
		}
		return true
	}
	for _, e := range cc.Encodings() {
		switch e {
		case parquet.Encodings.PlainDict, parquet.Encodings.RLEDict, parquet.Encodings.Plain,
			parquet.Encodings.RLE, parquet.Encodings.BitPacked:
		default:
			return false
		}
	}
	return true
}
