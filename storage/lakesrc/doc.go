// Package lakesrc owns serving Delta Lake data files as strata scan Sources: the
// mapping between Delta and strata schemas (TableSchema, ToColumns, and the reverse
// ArrowSchema and FromColumns used to hand segments to the lake), and
// Cache, a size-limited local directory of segment files materialized from lake
// files on first use and reused by later queries (as Druid historicals load
// deep-storage segments).
//
// A query reads a lake file through Cache.Source, which answers NumRows, MinTime
// and MaxTime from the Delta add's stats when they are exact, so time pruning needs
// no I/O; Load (storage.Lazy) then converts the file into a segment (bitmap
// indexes, sorted dictionaries, rows sorted by time by segment.Write) or reuses the
// cached one. For a query that needs only part of a large file's time range,
// Cache.RowGroupSources serves the file as one Source per Parquet row group, with
// row counts and time bounds from the file's footer (read once per file and
// remembered), so the engine prunes row groups by time and only the row groups it
// reads are materialized, each as a cache entry of its own ("row group k" is part
// of the entry's name).
//
// Invariants:
//   - A cache entry is named by hex sha256 of the table location, the file's
//     decoded path, its deletion vector id and size, and the segment's column names
//     and physical types (time column included), plus ".seg". Lake files and
//     deletion vectors are immutable, so an entry never goes stale; a different
//     schema gets a different entry.
//   - An entry file is complete or absent: conversions and adopts write
//     name.seg.tmp and rename it. A failed conversion leaves nothing; the next Load
//     converts again. OpenCache deletes leftover .tmp files and entries that fail
//     segment.Open; Load deletes and reconverts an entry that fails segment.Open,
//     and an entry a read found corrupt is deleted when its last holder closes.
//   - Every Source holds its entry (a reference count) from Cache.Source until
//     Close. Eviction (least recently used first, while the total exceeds
//     maxBytes) only deletes entries nobody holds, so a live Source never loses
//     its file or mapping; held entries may push the total above maxBytes.
//   - One *segment.Reader per entry is shared by all Sources holding it, opened by
//     the first Load and closed when the last holder closes (its decoded-block
//     caches are freed then; the file stays cached on disk).
//   - At most one conversion, adopt or open of an entry runs at a time; others wait
//     (honouring their context) and then see its result.
//   - A Source agrees with the lake file: NumRows is exactly its live rows (stats
//     numRecords minus deletion vector cardinality, checked against the segment on
//     Load), MinTime..MaxTime bounds its time column. Stats timestamps with less
//     than microsecond precision (Spark writes milliseconds) are not trusted: such
//     a file is loaded by Cache.Source itself.
//   - A NULL in the time column, a type mismatch or a corrupt Parquet file is an
//     error naming the lake file, never a panic or a cache entry.
//   - LRU order survives restarts approximately: an entry's mtime is set when it
//     is opened, and OpenCache orders entries by mtime.
//
// One directory belongs to one Cache at a time (no cross-process locking).
package lakesrc
