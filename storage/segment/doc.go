// Package segment owns strata's immutable segment file format: one file per
// (table, time chunk, sequence), written once by Write and read through a
// memory-mapped Reader that implements storage.Source.
//
// Invariants:
//   - A segment file is never modified after Write renamed it into place. Write
//     publishes by path+".tmp" → fsync → rename → fsync(parent dir), so a reader never
//     sees a partial file under the final name.
//   - Rows are sorted by the time column (stable sort of the input), and every column
//     is permuted together with it.
//   - String dictionaries are sorted by byte order and hold each distinct non-NULL
//     value once; dictionary id order is value order.
//   - Every byte of the file after the header is covered by a CRC-32C (Castagnoli)
//     checksum: each column block, null bitmap, dictionary, value bitmap, the column
//     directory and the footer. Open checks header, footer and directory; blocks,
//     dictionaries and bitmaps are checked the first time they are read. Any bytes
//     that fail validation give an error wrapping storage.ErrCorrupt that names the
//     file (and the column, when the damage is inside one); decoding never panics.
//
// # Reading and caching
//
// Open maps the file read-only and parses the directory (schema, stats, section
// offsets); nothing else is touched. The first read of a column block checks its
// CRC, decompresses it, decodes it into a plain Go slice ([]int64, []float64, []bool
// or []uint32 dictionary ids) and publishes it in a per-block atomic pointer; later
// reads of that block, from any goroutine, copy out of the decoded slice without
// locking. Two goroutines racing on the same cold block may both decode it; the
// results are identical and one wins. Decoded blocks, dictionaries and bitmaps stay
// cached until Close (memory is traded for scan speed on purpose). Dictionaries and
// bitmaps are copied out of the mapping, so values a caller holds stay valid after
// Close; Close must not run concurrently with reads (REQUIRES: no reads in flight).
//
// # File format
//
// All fixed-width integers are little endian. uvarint/varint are Go's
// encoding/binary unsigned/zig-zag varints. A "string" is uvarint(len) + bytes. A
// "section" is its payload followed by crc32c(payload) as a 4-byte uint32; a section
// reference is uvarint(offset) uvarint(length), with length counting the CRC.
//
//	┌──────────────────────────────────────────────────────────────┐
//	│ header: magic "STRASEG" (7 bytes) │ version (1 byte) = 2      │
//	├──────────────────────────────────────────────────────────────┤
//	│ column 0 sections: block 0 … block n-1, null bitmap?,        │
//	│                    value bitmap 0 … d-1, dictionary          │
//	│ …                                                            │
//	│ column c-1 sections                                          │
//	├──────────────────────────────────────────────────────────────┤
//	│ directory section                                            │
//	├──────────────────────────────────────────────────────────────┤
//	│ footer (28 bytes)                                            │
//	└──────────────────────────────────────────────────────────────┘
//
// Footer, the last 28 bytes of the file:
//
//	┌──────────────────────┬──────────────────────┬─────────────────┬──────────────────┬───────────┐
//	│ dir offset (8 bytes) │ dir length (8 bytes) │ crc32c of the   │ magic "STRASEG"  │ version   │
//	│ (includes dir CRC)   │                      │ first 16 bytes  │ (7 bytes)        │ (1 byte)  │
//	└──────────────────────┴──────────────────────┴─────────────────┴──────────────────┴───────────┘
//
// Directory section payload:
//
//	uvarint numRows          (≤ 2^32-1: row numbers are roaring uint32s)
//	uvarint blockRows        (rows per block; Write uses BlockRows)
//	varint  minTime, varint maxTime   (0, 0 when numRows is 0)
//	uvarint numColumns, uvarint timeColumn
//	numColumns × column:
//	  string name │ byte type (storage.Type) │ string sqlType │ byte flags (bit 0: NOT NULL)
//	  uvarint nullCount │ byte hasMinMax │ if hasMinMax, by type:
//	      timestamp, int64, bool: varint min, varint max
//	      float64:                8-byte IEEE-754 min, max
//	      string:                 string min, string max
//	  section ref  null bitmap  (offset 0, length 0 when nullCount is 0)
//	  if type is string:
//	      uvarint dictLen │ section ref dictionary
//	  uvarint numBlocks (= ceil(numRows/blockRows)) │ numBlocks × section ref block
//	uvarint numSums (version 2 only) │ numSums × column sum, one per int64 and
//	float64 column in column order:
//	  uvarint column │ by type:
//	      int64:   varint high, varint low (the exact sum of the non-NULL values
//	               is high × 2^64 + low, low the sum modulo 2^64 as two's complement)
//	      float64: 8-byte IEEE-754 sum of the non-NULL values added in row order
//	               to 0 (what a scan computes, bit for bit) │ uvarint NaN count
//
// Version 1 files, written before the column sums, have the same layout without
// them; Open reads both (storage.Summer answers only for version 2).
//
// Block section: block b holds rows [b*blockRows, min((b+1)*blockRows, numRows)).
//
//	byte codec (0 = stored, 1 = s2 block format) │ body (raw, or s2-compressed raw) │ crc32c (4)
//
// The writer stores the raw body when s2 does not make it smaller (after bit-packing,
// random-looking data rarely compresses, so such blocks cost no decompression). s2
// was chosen over zstd by BenchmarkCodecDecode: on blocks that do compress (repeated
// prices, runs of dictionary ids) s2 decodes 2.5-3.5x faster at a ratio ~1.3x worse;
// zstd wins only on near-constant blocks (ratio < 0.01), where both are cheap per
// row. Raw bodies by column type, n being
// the block's row count and "packed(k, w)" k values of w bits packed LSB-first into
// ceil(k*w/64) little-endian 64-bit words:
//
//	timestamp, int64:
//	  byte 0 (frame of reference) │ varint base │ byte w │ packed(n, w) of v-base
//	  byte 1 (delta)              │ varint first │ varint base │ byte w │
//	                                packed(n-1, w) of (v[i]-v[i-1])-base
//	  (the time column always uses delta; other columns whichever is smaller. All
//	  arithmetic wraps in two's complement. NULL slots are written as the preceding
//	  value and read back as 0.)
//	float64: n × 8-byte IEEE-754 (NULL slots are 0)
//	bool:    ceil(n/8) bytes, row i at bit i%8 of byte i/8 (NULL slots are false)
//	string:  byte w (= ceil(log2(dictLen)), 0 when dictLen ≤ 1) │ packed(n, w) of ids
//	         (NULL slots are id 0)
//
// Null bitmap section: payload is a roaring bitmap in the portable serialization
// (github.com/RoaringBitmap/RoaringFormatSpec) of the NULL rows.
//
// Value bitmap section: roaring portable serialization of the rows holding one
// dictionary value.
//
// Dictionary section payload (d = dictLen):
//
//	(d+1) × uint32 offsets into the value bytes (offset[0] = 0, non-decreasing)
//	value bytes (values concatenated, strictly increasing in byte order)
//	d × (uint64 offset, uint32 length)  references of the value bitmap sections
package segment
