// Package realtime owns the Head: the mutable, queryable in-memory index of one table
// that ingestion appends to (Druid's IncrementalIndex, Prometheus' tsdb Head). Rows
// are queryable the moment Append returns; a persist loop periodically Freezes the
// Head, writes the frozen rows as segments through the store, and Drops them.
//
// Layout: the Head holds one chunk per time chunk (catalog granularity); a chunk holds
// zero or more frozen parts and at most one mutable part. A part keeps, per column,
// append-only value slices ([]int64, []float64, []bool), and per string column a
// dictionary in arrival order (ids never change), the dictionary id of every row and
// the rows of every value (a plain list while a value has at most 32 rows, then a
// roaring bitmap: most values of a high-cardinality column stay rare), plus a null
// bitmap per column and running statistics (storage.ColumnStats, MinTime/MaxTime,
// whether rows arrived in time order). Dictionary values are copies of the strings
// Append was given (a caller's string may share an allocation with a whole row);
// until a part is sealed, its appender also keeps up to 256 of each string column's
// caller strings (storage.RecentIDs), to find a repeated value by its address
// without a map lookup.
//
// The Head does not know about segments: between the store publishing a Frozen's
// segments and Drop, a query that took both a catalog snapshot and a Head Snapshot
// would see those rows twice. The caller (storage/store.PublishFrozen) makes
// "publish + Drop" atomic with respect to taking the pair of snapshots.
//
// Snapshot returns one View (a storage.Source) per non-empty part. A View is a prefix
// of its part: the row count, slice headers, dictionary length and statistics captured
// when the rows were published.
//
// Rows by offset (offsets.go): a head fed by one Kafka partition that this process
// follows but does not own (storage/store's follower heads) keeps each row's record
// offset (AppendAt); SnapshotFrom(o) returns views of the rows at or past offset o
// (in each part a suffix, since offsets increase in arrival order: a View of rows
// [k, n) with its own statistics and bitmaps renumbered from 0), and DropBefore(o)
// drops the parts wholly below o.
//
// Invariants:
//   - Prefix visibility: a Snapshot sees exactly the rows of the Appends that returned
//     before it (a whole batch or none of it, across all chunks), and each View answers
//     every method (values, dictionary, bitmaps, nulls, stats, time range) for its
//     first NumRows rows only, however many rows are appended afterwards.
//   - Single appender: Append and Freeze serialize on one mutex (Head.appendMu); only
//     the goroutine holding it writes part data (for a large batch it hands half of
//     the string columns to a helper goroutine and waits for it before returning;
//     the two write disjoint columns). Value slices are only ever written
//     past every published length (or copied into a new array when they grow), so
//     Views read them without locks.
//   - Bitmaps are roaring bitmaps with copy-on-write enabled, mutated only under their
//     part's mutex (as are the row lists of rare values). A View's Bitmap/Nulls clones
//     the part's bitmap under that mutex (O(containers): the containers are shared and
//     the appender copies one before changing it) or builds one from a row list,
//     trims rows >= NumRows and caches the result in the View. The bitmap returned
//     to callers has copy-on-write disabled, so reading, cloning or combining it never
//     writes to shared state (BenchmarkSnapshotBitmap compares this with a deep clone
//     and with rebuilding bitmaps from the ids).
//   - Frozen parts are immutable: Freeze seals every mutable part under appendMu, rows
//     appended later go to new parts, and a sealed part is never written again. Drop
//     only unlinks parts from the Head; Views and Frozen Columns that reference them
//     stay valid (the garbage collector frees them when the last reference goes).
//   - A part holds at most 2^32-1 rows (row numbers are roaring uint32s); Append
//     refuses, whole, a batch that would overflow one, so the caller Freezes first.
//   - Row numbers within a part are arrival order; a View reports SortedByTime false
//     (storage.TimeOrder) as soon as one row arrived earlier in time than its
//     predecessor in the part.
package realtime
