// Package lake owns Delta Lake tables: the Delta log (actions, log replay to a
// snapshot, checkpoints, time travel, protocol checks), reading the Parquet data
// files of a snapshot into Arrow record batches, and writing: creating tables,
// Parquet data files with stats, commits by put-if-absent with conflict checks and
// txn idempotence, checkpoints, OPTIMIZE, VACUUM and history.
//
// A Table is a root inside an objstore.Store (a local folder, confined by
// os.Root, or S3; OpenLocation opens either). Table.Snapshot,
// SnapshotAt (VERSION AS OF) and SnapshotAsOf (TIMESTAMP AS OF) replay the log:
// _delta_log is listed once, the newest usable checkpoint at or below the target
// version is loaded (classic, multi-part, v2 with sidecars in _delta_log/_sidecars,
// JSON or Parquet), and the JSON commits after it are applied in order. The
// resulting Snapshot lists the live files (Files) with their partition values,
// stats and deletion vectors, and ReadFile reads a file's requested columns with
// partition columns materialized and deleted rows removed. Table.Update brings a
// snapshot to the latest version cheaply (the next commit key and
// _last_checkpoint; no listing when nothing changed), for readers that follow a
// table other writers commit to.
//
// Invariants:
//   - add/remove paths are URL-decoded exactly once (AddFile.DecodedPath); that is
//     the key opened, never a path re-derived from partition values. Partition
//     values come from the log, never from directory names.
//   - Files reconcile by (decoded path, deletion vector id); within a commit
//     removes apply before adds, so add(path, DV) + remove(path) in one commit
//     leaves the new add live whatever their order.
//   - _last_checkpoint is only a hint: it narrows the listing, and its checkpoint
//     must load and agree with its size and numOfAddFiles; otherwise the whole log
//     is listed and replay falls back to an older checkpoint or to version 0. A
//     missing commit between the checkpoint and the target version is an error.
//   - The protocol is checked before anything else is interpreted: a reader
//     version above 3, or any reader feature not in the supported set
//     (columnMapping, deletionVectors, timestampNtz, v2Checkpoint,
//     vacuumProtocolCheck, typeWidening), is refused with
//     `lake: table <path> requires unsupported reader feature "X"` (errors.Is
//     ErrUnsupported). Unknown actions and fields are ignored.
//   - Data is never silently misread: Parquet types are converted to the Delta
//     type only by exact widening (ints, float→double, timestamp units, INT96
//     decoded directly to microseconds, decimal scale-up); anything else, a
//     deletion vector with a bad checksum or cardinality, or a file whose rows do
//     not match its footer is an error.
//   - Time values are microseconds: timestamp → Arrow timestamp[us, UTC],
//     timestamp_ntz → timestamp[us]; partition timestamps without a zone are UTC.
//   - A Snapshot is immutable and safe for concurrent use.
//
// Deletion vector bytes (on disk: version byte, then at offset a big-endian size,
// the bitmap and a big-endian CRC-32; the bitmap is a little-endian magic
// 1681511377 followed by the portable 64-bit Roaring layout) are described in
// dv.go.
//
// The write side (writer.go, commit.go, checkpoint_write.go, optimize.go,
// vacuum.go) writes through the same store. Its invariants:
//   - A log entry is never overwritten: version N is created with PutIfAbsent
//     (local folder: temp file + fsync + link). A writer that loses the race reads the
//     winner, checks for logical conflicts (metaData/protocol change, a remove of
//     a file it removes, its txn appId: ErrTxnAlreadyCommitted or ErrConflict) and
//     retries at N+1; blind appends never conflict.
//   - Data files get random names and are written before the commit that adds
//     them; a failed commit leaves orphans that only VACUUM removes, after the
//     retention. add.path is the Hive-escaped relative path URL-encoded once.
//   - A checkpoint is written only after its version's commit exists, and
//     _last_checkpoint only after the checkpoint; both are optional for readers.
//   - VACUUM never deletes under _delta_log, a file referenced by the latest
//     snapshot, or anything younger than the retention (7 days unless forced).
//   - The Delta stats of a written file are read back from the Parquet footer
//     just written (deltaStats), with the reader's conversion (statsValues); a
//     row group whose footer lacks its min or max has no bounds.
package lake
