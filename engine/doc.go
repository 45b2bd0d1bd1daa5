// Package engine owns query execution: bound expressions and their functions,
// physical operators (scan, filter, project, hash aggregate, sort, top-N, limit,
// distinct, values), memory accounting and parallel execution over storage.Sources.
//
// Execution model. Execute compiles a Plan into a tree of pull-based operators.
// Operators exchange batches of at most BatchSize (4096) rows held in column vectors
// (Go slices per physical type; text is either plain strings or dictionary ids into
// the source's dictionary, so every operator and function accepts both). Rows converts
// the final batches into Arrow record batches (text always as plain arrow String).
//
// Scans. Each storage.Source is pruned by time and by column statistics, then a row
// selection is computed as a roaring bitmap from the time range (binary search on the
// sorted time column) and from conjuncts on string columns answered by the dictionary
// and its bitmaps; remaining conjuncts run vectorized over the selected rows only.
// Sources are processed by Options.Parallelism workers. Filter/Project chains over a
// Scan run inside the workers; an Aggregate over such a chain aggregates per source
// (grouping on dictionary ids when the key is a dictionary column) and merges the
// partial states at the end.
//
// Invariants: a batch never holds more than BatchSize rows; vectors are never shared
// mutably between operators (an operator that changes a vector owns it); every byte
// held in hash tables, sort buffers and materialized batches is charged to the query's
// memory tracker, and exceeding Options.MemoryLimit ends the query with SQLSTATE 53200.
package engine
