// Package lakesrc owns serving Delta Lake data files as strata scan Sources: the
// mapping between Delta and strata schemas (TableSchema, ToColumns, and the reverse
// ArrowSchema and FromColumns used to hand segments to the lake); Direct, one
// Parquet row group read in place; and Cache, a size-limited local directory of
// segment files converted from lake files that keep being read (as Druid
// historicals load deep-storage segments).
//
// Two read paths, and the cache is an accelerator, not a gate:
//   - Direct (Cache.DirectSources): a file not in the cache is read where it
//     lies, one Source per row group. Its footer (read once per file and
//     remembered) answers NumRows, MinTime, MaxTime and Stats, so the engine
//     prunes row groups on any filtered column before a data page is read; a
//     column chunk is fetched and decoded only when the engine first reads that
//     column, and dropped again when the engine's scan of the row group ends
//     (storage.Releasable). No cache entry is created. Before any of that, a
//     scan's storage.Prune (its time range and a judgement over column bounds)
//     leaves out files by their Delta stats and partition values (FileWanted:
//     no byte of the file read) and row groups by their footer statistics;
//     equality and IN filters on a string column skip a row group whose
//     dictionary page lacks every wanted value (Direct.MayHold reads that page
//     alone, when every data page of the chunk is dictionary-encoded). Within a
//     row group without deleted rows, the file's page indexes (column and
//     offset index; strata's writer writes them) narrow the Source to the rows
//     between the first and the last page that the time range and the
//     judgement over bounds keep on any column (a window, window.go); its
//     columns are then read page by page, only the pages holding those rows
//     fetched (lake.DataFile.ReadDictIDsRange, ReadValuesRange). A scan
//     announces the columns it is about to read (Direct.Prefetch), so that on
//     object storage their chunks come in coalesced range reads, several in
//     flight. A text column chunk of dictionary-encoded or PLAIN data pages
//     is read as its dictionary page, its encoded pages' indices and its
//     PLAIN pages' values (lake.DataFile.ReadDictIDs): no dictionary row's
//     value is materialized or hashed, each value listed is hashed once (the
//     table that answers Lookup and folds repeated values into one id).
//     Numeric, timestamp and boolean chunks of PLAIN or dictionary-encoded
//     pages are decoded by lake.DataFile.ReadValues; other encodings (DELTA_*,
//     BYTE_STREAM_SPLIT), decimals and rows under a deletion vector go
//     through arrow-go's pqarrow reader. An equality filter on a text column
//     not decoded yet compares the chunk's listed values with the wanted one
//     and passes once over the indices (Direct.RowsWithValues): no value is
//     hashed, and the chunk read is kept for decoding should the query read
//     the column. Other filters on a text column find their rows by
//     dictionary id in one pass (Direct.RowsWithIDs), not per-id bitmaps. A
//     row group of a file on object storage reports it (RemoteReads), and the
//     engine then scans with more workers than cores.
//   - Cached (Cache.CachedSource): a file whose segment is in the cache (adopted
//     at handoff, or converted in the background) is read from the segment:
//     bitmap indexes, sorted dictionaries, rows sorted by time.
//
// A file read directly by ConvertAfterReads snapshots is converted into the
// cache by one background worker (background.go); no query waits for it.
// Cache.Source, which the background worker uses, converts on Load: it
// answers NumRows, MinTime and MaxTime from the Delta add's stats when they are
// exact, so time pruning needs no I/O, and Load converts the file into a
// segment or reuses the cached one.
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
//   - A Direct agrees with its row group: NumRows is its live rows (footer count
//     minus the deletion vector's rows in it), MinTime and MaxTime are attained by
//     its rows (read from the time column when the footer's statistics are not
//     exact), and Stats bound its values, marked Bounds unless exact. Corrupt
//     Parquet is an error wrapping storage.ErrCorrupt naming the file.
//   - LRU order survives restarts approximately: an entry's mtime is set when it
//     is opened, and OpenCache orders entries by mtime.
//
// One directory belongs to one Cache at a time (no cross-process locking).
package lakesrc
