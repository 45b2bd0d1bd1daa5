// Package engine owns query execution: bound expressions and their functions,
// physical operators (scan, filter, project, hash aggregate, hash join, window, sort,
// top-N, limit, distinct, values, generate_series, unnest and set-returning functions
// in a select list), memory accounting and parallel execution over
// storage.Sources.
//
// # Execution model
//
// Execute compiles a Plan into a tree of pull-based operators that exchange Arrow
// record batches (github.com/apache/arrow-go/v18) of at most BatchSize (4096) rows.
// Inside an operator, kernels work on vecs: one typed Go slice per column viewing the
// Arrow buffers (arrow.go). Crossing an operator boundary is zero-copy for integers,
// timestamps, floats and dictionary ids; validity and boolean bitmaps are packed and
// unpacked; text leaves as an Arrow Dictionary(uint32 → String) array when the batch
// is large against its dictionary (the dictionary converted once per query) and as a
// String array otherwise. Each field's engine type travels in its metadata. Rows
// returns the root operator's record batches with text always as String arrays.
// Expressions are evaluated a whole batch at a time with typed loops; CASE evaluates
// each branch only on the rows that reach it; a constant is materialized once per
// evaluator and shared by every batch. Aggregates without GROUP BY fold a batch into
// locals in one typed loop.
//
// # Functions
//
// Every scalar function and operator is an overload in one registry (fn.go; one
// fn_<family>.go file per family: math, string, datetime, conditional, catalog,
// array, operator) declaring its parameter types, result type, volatility and
// vectorized kernel. The SQL layer resolves a call once, with PostgreSQL's rules
// for implicit casts (NewCall), and the Call keeps the overload: evaluation calls
// its kernel directly. pg_proc is generated from the same registry (Funcs).
//
// # Numbers
//
// Integers are int64, floats float64. numeric(p,s) with p <= 18 is exact
// (decimal.go): an int64 holding value × 10^s whose Type carries p and s, so it
// runs the integer kernels (filters, sorts, GROUP BY, min, max, sum) and only
// scale-aware work (+ - * rescaling, casts, text, round) is its own. numeric
// without a modifier (TypeNumeric) is float64, and beside it, where the value is
// known exactly (division, avg, sums of decimals and bigints, the math
// functions, numerics of mixed scales, literals, text), the exact text with
// PostgreSQL's per-value display scale (numeric.go, numeric_math.go). A stored
// numeric column without a modifier or wider than 18 digits is that exact text
// (storage/numeric.go), its float parsed once per dictionary value by the scan;
// where both sides carry the text, comparisons (filters, sort, min, max) break
// float ties by it, and grouping, DISTINCT and join keys are the value's text
// without trailing fraction zeros (1.50 = 1.5), so values a float64 cannot tell
// apart stay apart.
//
// # Time zones
//
// The session's TimeZone is the Location of Options.Now (tz.go): every operation
// PostgreSQL computes in the session's zone — timestamptz casts to and from text,
// timestamp and date, date_trunc, extract, to_char, AT TIME ZONE, timestamptz plus
// days or months — reads the evaluator's now.Location(); UTC takes the paths that
// ignore zones. A result's timestamptz columns carry Options.TextZone in their Arrow
// type so that AppendText prints them in it; values themselves are always instants
// (µs since the epoch, UTC).
//
// # uuid and interval
//
// A uuid is its canonical text (internal/pguuid) in a text vec: that text orders,
// hashes and groups as PostgreSQL's 16 bytes do, so text kernels serve it; casts
// go to and from text only. An interval is months, days and microseconds (ival);
// it compares, sorts, groups and joins by its span (ivalNorm: a month is 30 days,
// a day 24 hours), as PostgreSQL's interval_cmp. A stored interval column is its
// output text (internal/pginterval) in a string column, parsed once per
// dictionary value by the scan and never compared as text.
//
// # Arrays
//
// An array value (text[], and the arrays of every element type array_agg returns)
// travels as its PostgreSQL text form in a String column (arrays.go,
// array_types.go); subscripts and sizes parse it.
//
// # Scans
//
// For each storage.Source a Scan (1) prunes the source by time and by column
// statistics against "column op constant" conjuncts, (2) turns the time range, after
// folding conjuncts on the time column into it, into a row range by binary search on
// the sorted time column, (3) answers every conjunct that reads one string column from
// the dictionary: the predicate is evaluated once per dictionary value (and once for
// NULL) and the bitmaps of the matching values are ORed (x = 'v' is one Lookup);
// AND/OR/NOT combine such answers as three-valued bitmaps (true rows, NULL rows), and
// (4) reads only the needed columns, only over row windows holding selected rows,
// evaluating the remaining conjuncts vectorized on those rows. Sources are processed
// by Options.Parallelism workers (default GOMAXPROCS). Filter/Project chains over a
// Scan run inside the workers; batch order across sources is not defined. Text
// vecs carry a source's dictionary as its []string of values, which a sealed segment
// keeps while open (storage.DictValues), so no query decodes a dictionary.
//
// # Aggregation
//
// An Aggregate over such a chain aggregates each source separately (a single
// dictionary key is grouped through a dense id-indexed array, several dictionary keys
// through their ids packed into one integer (a flat array or an open-addressing
// table), other keys through hash maps) and merges the partial states. Partials
// grouped by sorted dictionaries are merged by a k-way merge over the dictionaries
// (split into key ranges merged in parallel; a single key's groups come out in key
// order), packed keys being repacked in the merged ids. DISTINCT aggregates over
// dictionary text keep per group a bitset (or roaring bitmap) of dictionary ids, or,
// with many groups over large dictionaries (count(DISTINCT session_id) per user),
// one hash set of packed (group, id) pairs, translated to the merged dictionary once
// per value at the end (the workers translate the partials' pairs and scatter them
// by ranges of groups, then fill and count one partition's table each): no value
// is hashed;
// when the sets are sparse against their dictionaries (a selective filter) only the
// ids met are translated, through a hash of their values.
// count(*) whose filters the index answers is the cardinality of the selection, with
// no column read.
//
// # Sort and top-N
//
// Sort materializes its input and sorts a permutation (stable). Limit over Sort keeps
// only the best Count+Offset rows: once it holds that many, an incoming row costs one
// comparison with the current last kept row (a typed loop when the first key is a
// number without NULLs) and survivors are merged in by periodic re-sorts. When the
// first key is the time column, sources are read newest first (ASC: oldest first),
// each from its end in growing windows, and a shared bound (the time of the N-th
// best row any worker holds) stops every source and window that cannot place a row
// (topn_time.go).
//
// # Answers from metadata
//
// Ungrouped min/max of integer and time columns, count(*) and count(col) over a
// scan whose filter the index and time range answer come from MinTime/MaxTime, the
// first and last selected rows, column statistics and bitmap cardinalities, with
// no column read (minmax_meta.go). Ungrouped count, sum, avg, min and max of plain
// columns, with no filter left, take each segment the time range holds whole from
// its write-time column sums and statistics instead of its rows (sum_meta.go;
// EXPLAIN says how many sources); heads, lake files and segments the range cuts
// are scanned, and both fold into the same states.
//
// # Invariants
//
//   - A batch never holds more than BatchSize rows; a vec handed to an operator is
//     read-only for it.
//   - Bytes held in hash tables (charged in 64 KiB steps), sort buffers, DISTINCT sets
//     and materialized batches count against Options.MemoryLimit; exceeding it ends the
//     query with SQLSTATE 53200, never an out-of-memory crash.
//   - Cancellation of the Execute or Next context is checked between batches and ends
//     the query with SQLSTATE 57014; Close stops the workers and waits for them, so
//     no source is read after Close returns.
package engine
