package segment

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/klauspost/compress/s2"

	"github.com/stratadb/strata/storage"
)

// Info describes a written or opened segment.
type Info struct {
	Rows             int64
	MinTime, MaxTime int64 // 0, 0 when Rows is 0
	Bytes            int64 // file size
}

// Write encodes cols (rows in any order; Write sorts them by the time column,
// stable) into a new segment file at path: written to path+".tmp", fsynced, renamed,
// parent dir fsynced. Returns stats of what was written. On error no file is left
// at path and the temporary file is removed.
func Write(path string, cols *storage.Columns) (Info, error) {
	return write(path, cols, true)
}

// WriteUnsynced is Write without the fsyncs: the file is complete and renamed
// into place but may not survive a crash. The caller makes it durable (Sync on
// the file, SyncDir on its directory) before anything refers to it: a
// transaction of many segments syncs them together at its commit instead of one
// by one on its write path.
//
// Its caller is a statement that waits for the segments (COPY, INSERT), so it
// also prepares string columns on a second goroutine while it writes
// (prepareStrings). Write does not: a persist or compaction beside ingestion
// is background work, which should not take a second core from the appends and
// queries that wait for it.
func WriteUnsynced(path string, cols *storage.Columns) (Info, error) {
	return write(path, cols, false)
}

// Sync makes a file written by WriteUnsynced durable (its directory entry
// excepted: see storage.SyncDir).
func Sync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func write(path string, cols *storage.Columns, durable bool) (Info, error) {
	if cols == nil || cols.Schema == nil {
		return Info{}, fmt.Errorf("write segment %s: no columns or schema", path)
	}
	if err := cols.Schema.Validate(); err != nil {
		return Info{}, fmt.Errorf("write segment %s: %w", path, err)
	}
	if err := cols.Check(); err != nil {
		return Info{}, fmt.Errorf("write segment %s: %w", path, err)
	}
	if cols.Len > maxNumRows {
		return Info{}, fmt.Errorf("write segment %s: %d rows, at most %d fit", path, cols.Len, maxNumRows)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return Info{}, fmt.Errorf("write segment %s: %w", path, err)
	}
	info, err := writeFile(f, cols, !durable)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	renamed := false
	if err == nil {
		err = os.Rename(tmp, path)
		renamed = err == nil
	}
	if err == nil && durable {
		err = storage.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		if renamed {
			// The rename may not be durable; keep the promise that a failed Write
			// leaves nothing behind.
			os.Remove(path)
		}
		return Info{}, fmt.Errorf("write segment %s: %w", path, err)
	}
	return info, nil
}

// segmentWriter appends sections to a file, tracking the offset.
type segmentWriter struct {
	w   *bufio.Writer
	off uint64
	err error

	raw   []byte           // scratch: raw block body
	bm    []byte           // scratch: a small value bitmap (appendSmallBitmap)
	conts []smallContainer // scratch of appendSmallBitmap
	comp  []byte           // scratch: compressed block body
	u64   []uint64
	sum   [4]byte // scratch: a section's CRC (a slice of a local would escape)
}

// section writes parts as one section followed by the CRC of their concatenation.
func (sw *segmentWriter) section(parts ...[]byte) sectionRef {
	ref := sectionRef{off: sw.off}
	var crc uint32
	for _, p := range parts {
		crc = crc32.Update(crc, castagnoli, p)
		sw.write(p)
	}
	binary.LittleEndian.PutUint32(sw.sum[:], crc)
	sw.write(sw.sum[:])
	ref.len = sw.off - ref.off
	return ref
}

func (sw *segmentWriter) write(p []byte) {
	if sw.err != nil {
		return
	}
	n, err := sw.w.Write(p)
	sw.off += uint64(n)
	sw.err = err
}

// block compresses raw with s2 when that makes it smaller and writes the block section.
func (sw *segmentWriter) block(raw []byte) sectionRef {
	sw.comp = s2.Encode(sw.comp[:cap(sw.comp)], raw)
	if len(sw.comp) < len(raw) {
		return sw.section([]byte{codecS2}, sw.comp)
	}
	return sw.section([]byte{codecStored}, raw)
}

// columnMeta is what the directory records about one column.
type columnMeta struct {
	col     storage.Column
	stats   storage.ColumnStats
	nulls   sectionRef
	dictLen int
	dict    sectionRef
	blocks  []sectionRef
	sum     storage.ColumnSum // of an int64 or float64 column (sums.go)
}

// writeFile writes the segment of cols to f; ahead prepares string columns on a
// second goroutine (prepareStrings).
func writeFile(f *os.File, cols *storage.Columns, ahead bool) (Info, error) {
	schema := cols.Schema
	n := cols.Len
	sw := &segmentWriter{w: bufio.NewWriterSize(f, 1<<20)}
	sw.write(append(magic[:], Version))

	perm := timePermutation(cols.Cols[schema.TimeColumn].Int64)
	metas := make([]columnMeta, len(schema.Columns))
	var nullScratch []bool
	nextString, stop := prepareStrings(cols, perm, ahead)
	defer stop()
	for i, c := range schema.Columns {
		d := &cols.Cols[i]
		nulls := permuteNulls(d.Null, perm, n, &nullScratch)
		m := &metas[i]
		m.col = c
		m.nulls = sw.nullBitmap(nulls, &m.stats)
		switch c.Type {
		case storage.TypeTimestamp, storage.TypeInt64:
			vals := permute(d.Int64, perm)
			if c.Type == storage.TypeInt64 {
				m.sum = intSum(vals, nulls)
			}
			sw.int64Column(m, vals, nulls, i == schema.TimeColumn)
		case storage.TypeFloat64:
			vals := permute(d.Float64, perm)
			m.sum = floatSum(vals, nulls)
			sw.float64Column(m, vals, nulls)
		case storage.TypeBool:
			sw.boolColumn(m, permute(d.Bool, perm), nulls)
		case storage.TypeString:
			if err := sw.stringColumn(m, nextString()); err != nil {
				return Info{}, err
			}
		default:
			panic(fmt.Sprintf("BUG: column %q has type %s after Validate", c.Name, c.Type))
		}
	}

	info := Info{Rows: int64(n)}
	if ts := metas[schema.TimeColumn].stats; ts.HasMinMax {
		info.MinTime, info.MaxTime = ts.MinInt, ts.MaxInt
	}
	dir := appendDirectory(nil, n, BlockRows, info, schema.TimeColumn, metas)
	dir = appendSums(dir, metas)
	dirRef := sw.section(dir)
	footer := binary.LittleEndian.AppendUint64(nil, dirRef.off)
	footer = binary.LittleEndian.AppendUint64(footer, dirRef.len)
	footer = binary.LittleEndian.AppendUint32(footer, checksum(footer))
	footer = append(footer, magic[:]...)
	footer = append(footer, Version)
	sw.write(footer)
	if sw.err == nil {
		sw.err = sw.w.Flush()
	}
	if sw.err != nil {
		return Info{}, sw.err
	}
	info.Bytes = int64(sw.off)
	return info, nil
}

// timePermutation returns the stable sort order of times, or nil when times is
// already sorted (the common case for data arriving in time order).
func timePermutation(times []int64) []uint32 {
	if slices.IsSorted(times) {
		return nil
	}
	perm := make([]uint32, len(times))
	for i := range perm {
		perm[i] = uint32(i)
	}
	slices.SortStableFunc(perm, func(a, b uint32) int { return cmp.Compare(times[a], times[b]) })
	return perm
}

// permute returns vals in perm order (vals itself when perm is nil).
func permute[T any](vals []T, perm []uint32) []T {
	if perm == nil {
		return vals
	}
	out := make([]T, len(vals))
	for i, p := range perm {
		out[i] = vals[p]
	}
	return out
}

// permuteNulls returns the null flags of n rows in perm order, padded to n, or nil
// when no row is NULL.
func permuteNulls(null []bool, perm []uint32, n int, scratch *[]bool) []bool {
	if !slices.Contains(null, true) {
		return nil
	}
	out := slices.Grow((*scratch)[:0], n)[:n]
	*scratch = out
	for i := range out {
		p := i
		if perm != nil {
			p = int(perm[i])
		}
		out[i] = p < len(null) && null[p]
	}
	return out
}

func (sw *segmentWriter) nullBitmap(nulls []bool, stats *storage.ColumnStats) sectionRef {
	if nulls == nil {
		return sectionRef{}
	}
	bm := roaring.New()
	for i, isNull := range nulls {
		if isNull {
			bm.Add(uint32(i))
			stats.NullCount++
		}
	}
	bm.RunOptimize()
	var buf bytes.Buffer
	if _, err := bm.WriteTo(&buf); err != nil {
		panic("BUG: roaring WriteTo a bytes.Buffer failed: " + err.Error())
	}
	return sw.section(buf.Bytes())
}

func blockBounds(b, n int) (lo, hi int) {
	lo = b * BlockRows
	return lo, min(lo+BlockRows, n)
}

func numBlocks(n, blockRows int) int { return (n + blockRows - 1) / blockRows }

func (sw *segmentWriter) int64Column(m *columnMeta, vals []int64, nulls []bool, isTime bool) {
	st := &m.stats
	for i, v := range vals {
		if nulls != nil && nulls[i] {
			continue
		}
		if !st.HasMinMax {
			st.HasMinMax, st.MinInt, st.MaxInt = true, v, v
		}
		st.MinInt, st.MaxInt = min(st.MinInt, v), max(st.MaxInt, v)
	}
	if nulls != nil {
		// NULL slots take the preceding value (the column min at the start) so they
		// cost no width in either encoding; the reader zeroes them.
		filled := slices.Clone(vals)
		prev := st.MinInt
		for i := range filled {
			if nulls[i] {
				filled[i] = prev
			} else {
				prev = filled[i]
			}
		}
		vals = filled
	}
	for b := range numBlocks(len(vals), BlockRows) {
		lo, hi := blockBounds(b, len(vals))
		sw.raw = sw.appendInt64Block(sw.raw[:0], vals[lo:hi], isTime)
		m.blocks = append(m.blocks, sw.block(sw.raw))
	}
}

// appendInt64Block appends the raw body of an int64 block: delta-encoded for the
// time column, otherwise whichever of delta and frame-of-reference packs smaller.
func (sw *segmentWriter) appendInt64Block(dst []byte, vals []int64, forceDelta bool) []byte {
	lo, hi := vals[0], vals[0]
	dlo, dhi := int64(0), int64(0)
	for i, v := range vals {
		lo, hi = min(lo, v), max(hi, v)
		if i > 0 {
			d := v - vals[i-1]
			if i == 1 {
				dlo, dhi = d, d
			}
			dlo, dhi = min(dlo, d), max(dhi, d)
		}
	}
	// Differences are taken as uint64 so that wrapping ranges stay exact.
	forW := bitWidth(uint64(hi) - uint64(lo))
	deltaW := bitWidth(uint64(dhi) - uint64(dlo))
	useDelta := forceDelta || packedLen(len(vals)-1, deltaW) < packedLen(len(vals), forW)
	sw.u64 = slices.Grow(sw.u64[:0], len(vals))[:len(vals)]
	if useDelta {
		dst = append(dst, intDelta)
		dst = binary.AppendVarint(dst, vals[0])
		dst = binary.AppendVarint(dst, dlo)
		dst = append(dst, byte(deltaW))
		u := sw.u64[:len(vals)-1]
		for i := range u {
			u[i] = uint64(vals[i+1]-vals[i]) - uint64(dlo)
		}
		return appendPacked(dst, u, deltaW)
	}
	dst = append(dst, intFOR)
	dst = binary.AppendVarint(dst, lo)
	dst = append(dst, byte(forW))
	u := sw.u64
	for i, v := range vals {
		u[i] = uint64(v) - uint64(lo)
	}
	return appendPacked(dst, u, forW)
}

func (sw *segmentWriter) float64Column(m *columnMeta, vals []float64, nulls []bool) {
	st := &m.stats
	for i, v := range vals {
		if (nulls != nil && nulls[i]) || math.IsNaN(v) {
			continue
		}
		if !st.HasMinMax {
			st.HasMinMax, st.MinFloat, st.MaxFloat = true, v, v
		}
		st.MinFloat, st.MaxFloat = min(st.MinFloat, v), max(st.MaxFloat, v)
	}
	for b := range numBlocks(len(vals), BlockRows) {
		lo, hi := blockBounds(b, len(vals))
		raw := sw.raw[:0]
		for i := lo; i < hi; i++ {
			v := vals[i]
			if nulls != nil && nulls[i] {
				v = 0
			}
			raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
		}
		sw.raw = raw
		m.blocks = append(m.blocks, sw.block(raw))
	}
}

func (sw *segmentWriter) boolColumn(m *columnMeta, vals []bool, nulls []bool) {
	st := &m.stats
	for i, v := range vals {
		if nulls != nil && nulls[i] {
			continue
		}
		x := int64(0)
		if v {
			x = 1
		}
		if !st.HasMinMax {
			st.HasMinMax, st.MinInt, st.MaxInt = true, x, x
		}
		st.MinInt, st.MaxInt = min(st.MinInt, x), max(st.MaxInt, x)
	}
	for b := range numBlocks(len(vals), BlockRows) {
		lo, hi := blockBounds(b, len(vals))
		raw := slices.Grow(sw.raw[:0], (hi-lo+7)/8)[:(hi-lo+7)/8]
		clear(raw)
		for i := lo; i < hi; i++ {
			if vals[i] && (nulls == nil || !nulls[i]) {
				raw[(i-lo)/8] |= 1 << ((i - lo) % 8)
			}
		}
		sw.raw = raw
		m.blocks = append(m.blocks, sw.block(raw))
	}
}

// indexPool holds dictEncode's maps (*map[string]uint32), empty, of at most
// maxPooledIndex values when last used.
var indexPool sync.Pool

const maxPooledIndex = 1 << 18

// dictEncode assigns ids to vals in arrival order of the values, with one map pass
// (a run of equal values costs one string compare, no lookup).
func dictEncode(vals []string, nulls []bool) (ids []uint32, arrival []string, dictBytes uint64) {
	// The map comes from a pool, cleared: a column of many values grows it once per
	// process, not once per segment (growing was a tenth of a COPY's segment writing).
	ip, _ := indexPool.Get().(*map[string]uint32)
	if ip == nil {
		m := make(map[string]uint32)
		ip = &m
	}
	index := *ip
	defer func() {
		if len(index) > maxPooledIndex {
			return // not kept: a rare huge column would pin its map's memory
		}
		clear(index) // drops the keys: the pool must not keep the values alive
		indexPool.Put(ip)
	}()
	ids = make([]uint32, len(vals))
	var prev string
	var prevID uint32
	havePrev := false
	// A value the decoder interned (one string for all its rows) is found by its
	// address, without hashing it.
	recent := recentPool.Get().(*storage.RecentIDs)
	defer func() { recent.Reset(); recentPool.Put(recent) }()
	for i, v := range vals {
		if nulls != nil && nulls[i] {
			continue
		}
		if havePrev && v == prev {
			ids[i] = prevID
			continue
		}
		id, ok := recent.Lookup(v)
		if !ok {
			if id, ok = index[v]; !ok {
				id = uint32(len(arrival))
				index[v] = id
				arrival = append(arrival, v)
				dictBytes += uint64(len(v))
			}
			recent.Store(v, id)
		}
		ids[i], prev, prevID, havePrev = id, v, id, true
	}
	return ids, arrival, dictBytes
}

var recentPool = sync.Pool{New: func() any { return new(storage.RecentIDs) }}

// dictFromHint returns what dictEncode does, in perm order, from d's dictionary
// hint (d.Dict, d.IDs) without hashing a string (the caller checks that the values
// are distinct): the values of the dictionary used by a non-NULL row, renumbered
// densely in order of first use. It returns nil ids when d has no hint or one that
// does not match d.String (a row's id out of range, or naming another value): the
// caller then encodes the strings. Checking costs a string compare per row, most
// of them equal pointers.
//
// When d.Dict is strictly ascending (a COPY batch's dictionary, sorted by the
// decoder: checked here, one compare per value), the values are numbered in Dict
// order instead, so they are already sorted: sorted is then true and the caller
// needs no sort.
func dictFromHint(d *storage.ColumnData, perm []uint32, nulls []bool) (ids []uint32, arrival []string, dictBytes uint64, sorted bool) {
	n := len(d.String)
	if d.Dict == nil || len(d.IDs) != n {
		return nil, nil, 0, false
	}
	sorted = strictlyAscending(d.Dict)
	const unused = ^uint32(0)
	dense := make([]uint32, len(d.Dict))
	for i := range dense {
		dense[i] = unused
	}
	ids = make([]uint32, n)
	for i := range ids {
		r := i
		if perm != nil {
			r = int(perm[i])
		}
		if nulls != nil && nulls[i] {
			continue
		}
		id := d.IDs[r]
		if int(id) >= len(d.Dict) || d.String[r] != d.Dict[id] {
			return nil, nil, 0, false
		}
		if sorted {
			dense[id] = 0 // used; numbered below
			ids[i] = id
			continue
		}
		k := dense[id]
		if k == unused {
			k = uint32(len(arrival))
			dense[id] = k
			v := d.Dict[id]
			arrival = append(arrival, v)
			dictBytes += uint64(len(v))
		}
		ids[i] = k
	}
	if sorted {
		used := 0
		for _, k := range dense {
			if k != unused {
				used++
			}
		}
		arrival = make([]string, 0, used)
		for id, k := range dense {
			if k != unused {
				dense[id] = uint32(len(arrival))
				v := d.Dict[id]
				arrival = append(arrival, v)
				dictBytes += uint64(len(v))
			}
		}
		for i, id := range ids {
			if nulls == nil || !nulls[i] {
				ids[i] = dense[id]
			}
		}
	}
	return ids, arrival, dictBytes, sorted
}

// strictlyAscending reports whether every value of vals is less than the next.
func strictlyAscending(vals []string) bool {
	for i := 1; i < len(vals); i++ {
		if vals[i-1] >= vals[i] {
			return false
		}
	}
	return true
}

// DictEncode returns the ids of vals' non-NULL values (NULL rows get 0) in a
// dictionary of the distinct values in order of first appearance (arrival), and
// the dictionary's total length: what the writer does for a string column without
// a hint, for code that hands it one (storage.ColumnData.Dict, IDs).
func DictEncode(vals []string, nulls []bool) (ids []uint32, arrival []string, dictBytes uint64) {
	return dictEncode(vals, nulls)
}

// SortedOrder returns the indexes of vals in ascending order of their values
// (vals distinct): what the writer sorts a dictionary with, for code that hands
// it a sorted one (storage.ColumnData.Dict).
func SortedOrder(vals []string) []uint32 { return sortedOrder(vals) }

// sortedOrder returns the ids of vals in order of their values. It sorts the
// values themselves, each with its first 8 bytes as a big-endian integer, so that
// most comparisons are one integer compare without following a pointer.
func sortedOrder(vals []string) []uint32 {
	type key struct {
		prefix uint64
		s      string
		id     uint32
	}
	keys := make([]key, len(vals))
	for i, v := range vals {
		keys[i] = key{prefix: prefix8(v), s: v, id: uint32(i)}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.prefix != b.prefix {
			if a.prefix < b.prefix {
				return -1
			}
			return 1
		}
		return strings.Compare(a.s, b.s)
	})
	order := make([]uint32, len(vals))
	for i := range keys {
		order[i] = keys[i].id
	}
	return order
}

// prefix8 is s's first 8 bytes as a big-endian integer, zero-padded: a < b for
// prefix8(s) < prefix8(t) implies s < t; equal prefixes decide nothing.
func prefix8(s string) uint64 {
	var p uint64
	n := min(len(s), 8)
	for i := 0; i < n; i++ {
		p |= uint64(s[i]) << (56 - 8*i)
	}
	return p
}

// distinctSorted reports whether no two values of vals are equal, given their
// sorted order.
func distinctSorted(vals []string, order []uint32) bool {
	for i := 1; i < len(order); i++ {
		if vals[order[i]] == vals[order[i-1]] {
			return false
		}
	}
	return true
}

// stringPrep is a string column made ready for writing: its dictionary sorted
// and every row's id in it (NULL rows: 0), and the rows of each value. Computing
// it is most of a string column's cost and needs nothing of the file, so
// writeFile prepares the next string column on another goroutine while it writes
// this one (prepareStrings).
type stringPrep struct {
	ids       []uint32 // per row (in the segment's time order), into dict
	dict      []string // sorted
	dictBytes uint64
	// rows lists the rows of each value, value by value: rows[counts[id]:counts[id+1]].
	rows   []uint32
	counts []uint32
	err    error
}

// prepareString dictionary-encodes column d (rows in perm order; nulls already
// in that order).
func prepareString(name string, d *storage.ColumnData, perm []uint32, nulls []bool) stringPrep {
	// The rows' ids in arrival order of the values: from the column's dictionary
	// hint when it has a valid one (distinct values: no two neighbours equal once
	// sorted), else from one map pass.
	// A sorted hint numbers the values in their order already (order stays nil:
	// the identity).
	ids, arrival, dictBytes, sorted := dictFromHint(d, perm, nulls)
	var order []uint32
	if ids != nil && !sorted {
		if order = sortedOrder(arrival); !distinctSorted(arrival, order) {
			ids = nil
		}
	}
	if ids == nil {
		ids, arrival, dictBytes = dictEncode(permute(d.String, perm), nulls)
		order = sortedOrder(arrival)
	}
	if dictBytes > math.MaxUint32 {
		return stringPrep{err: fmt.Errorf("column %s: dictionary of %d bytes exceeds 4 GiB", name, dictBytes)}
	}
	var remap []uint32
	dict := arrival
	if order != nil {
		remap = make([]uint32, len(arrival))
		dict = make([]string, len(arrival))
		for sortedID, a := range order {
			remap[a] = uint32(sortedID)
			dict[sortedID] = arrival[a]
		}
	}

	// Sorted ids; NULL rows keep id 0 (and are in no value bitmap).
	counts := make([]uint32, len(dict)+1)
	for i := range ids {
		if nulls != nil && nulls[i] {
			continue
		}
		id := ids[i]
		if remap != nil {
			id = remap[id]
			ids[i] = id
		}
		counts[id+1]++
	}
	// The rows of each value: a counting sort of the row numbers by id.
	for id := 1; id < len(counts); id++ {
		counts[id] += counts[id-1]
	}
	rows := make([]uint32, counts[len(dict)])
	next := slices.Clone(counts[:len(dict)])
	for i, id := range ids {
		if nulls != nil && nulls[i] {
			continue
		}
		rows[next[id]] = uint32(i)
		next[id]++
	}
	return stringPrep{ids: ids, dict: dict, dictBytes: dictBytes, rows: rows, counts: counts}
}

// prepareStrings returns the string columns of cols prepared (prepareString), in
// column order, one per call of next. With ahead (and more than one goroutine
// allowed to run), they are prepared one column ahead on a goroutine of their
// own; stop ends it (and must be called, also when not every column was taken).
func prepareStrings(cols *storage.Columns, perm []uint32, ahead bool) (next func() stringPrep, stop func()) {
	schema := cols.Schema
	var strCols []int
	for i, c := range schema.Columns {
		if c.Type == storage.TypeString {
			strCols = append(strCols, i)
		}
	}
	prep := func(ci int, scratch *[]bool) stringPrep {
		d := &cols.Cols[ci]
		return prepareString(schema.Columns[ci].Name, d, perm, permuteNulls(d.Null, perm, cols.Len, scratch))
	}
	if !ahead || len(strCols) < 2 || cols.Len < parallelPrepareRows || runtime.GOMAXPROCS(0) < 2 {
		k := 0
		var scratch []bool
		return func() stringPrep { k++; return prep(strCols[k-1], &scratch) }, func() {}
	}
	out := make(chan stringPrep, 1)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			// A panic here would end the process; the writer's goroutine gets it as
			// an error instead, as it would have got the panic.
			if v := recover(); v != nil {
				select {
				case out <- stringPrep{err: fmt.Errorf("BUG: preparing a string column: %v", v)}:
				case <-quit:
				}
			}
		}()
		var scratch []bool
		for _, ci := range strCols {
			p := prep(ci, &scratch) // p holds nothing of scratch
			select {
			case out <- p:
			case <-quit:
				return
			}
		}
	}()
	return func() stringPrep { return <-out }, func() { close(quit); <-done }
}

// parallelPrepareRows is the segment size from which writeFile prepares string
// columns on a second goroutine.
const parallelPrepareRows = 4096

func (sw *segmentWriter) stringColumn(m *columnMeta, p stringPrep) error {
	if p.err != nil {
		return p.err
	}
	ids, dict, dictBytes := p.ids, p.dict, p.dictBytes
	m.dictLen = len(dict)
	if len(dict) > 0 {
		m.stats.HasMinMax = true
		m.stats.MinString, m.stats.MaxString = dict[0], dict[len(dict)-1]
	}

	w := dictWidth(len(dict))
	for b := range numBlocks(len(ids), BlockRows) {
		lo, hi := blockBounds(b, len(ids))
		u := slices.Grow(sw.u64[:0], hi-lo)[:hi-lo]
		for i := range u {
			u[i] = uint64(ids[lo+i])
		}
		sw.u64 = u
		raw := append(sw.raw[:0], byte(w))
		sw.raw = appendPacked(raw, u, w)
		m.blocks = append(m.blocks, sw.block(sw.raw))
	}

	// Value bitmaps, one per id.
	rows, counts := p.rows, p.counts
	bitmapRefs := make([]byte, 0, 12*len(dict))
	bm := roaring.New()
	var buf bytes.Buffer
	for id := range dict {
		rs := rows[counts[id]:counts[id+1]]
		var ref sectionRef
		small, conts, ok := appendSmallBitmap(sw.bm[:0], rs, sw.conts)
		sw.conts = conts
		if ok {
			sw.bm = small
			ref = sw.section(small)
		} else {
			bm.Clear()
			bm.AddMany(rs)
			bm.RunOptimize()
			buf.Reset()
			if _, err := bm.WriteTo(&buf); err != nil {
				panic("BUG: roaring WriteTo a bytes.Buffer failed: " + err.Error())
			}
			ref = sw.section(buf.Bytes())
		}
		bitmapRefs = binary.LittleEndian.AppendUint64(bitmapRefs, ref.off)
		bitmapRefs = binary.LittleEndian.AppendUint32(bitmapRefs, uint32(ref.len))
	}

	// Dictionary section.
	offsets := make([]byte, 0, 4*(len(dict)+1))
	var off uint32
	offsets = binary.LittleEndian.AppendUint32(offsets, 0)
	values := make([]byte, 0, dictBytes)
	for _, v := range dict {
		off += uint32(len(v))
		offsets = binary.LittleEndian.AppendUint32(offsets, off)
		values = append(values, v...)
	}
	m.dict = sw.section(offsets, values, bitmapRefs)
	return nil
}

// appendSmallBitmap appends to dst the roaring portable serialization of rows
// (ascending, distinct) exactly as roaring's AddMany, RunOptimize and WriteTo
// write it, when every 65536-row container of rows holds at most 4096 of them
// (array or run containers, no bitmap container): the values of a
// high-cardinality column, for which a roaring.Bitmap costs several allocations.
// ok is false otherwise (dst unchanged): the caller uses roaring. conts is
// scratch, returned for reuse.
func appendSmallBitmap(dst []byte, rows []uint32, conts []smallContainer) (out []byte, _ []smallContainer, ok bool) {
	const (
		arrayMax          = 4096
		cookieNoRuns      = 12346
		cookieRuns        = 12347
		noOffsetThreshold = 4
	)
	if len(rows) == 0 {
		return dst, conts, false
	}
	conts = conts[:0]
	anyRun := false
	for lo := 0; lo < len(rows); {
		key := rows[lo] >> 16
		hi, runs := lo+1, 1
		for hi < len(rows) && rows[hi]>>16 == key {
			if rows[hi] != rows[hi-1]+1 {
				runs++
			}
			hi++
		}
		if hi-lo > arrayMax {
			return dst, conts, false
		}
		// roaring's RunOptimize: a run container when strictly smaller than the array.
		isRun := 2+4*runs < 2*(hi-lo)
		anyRun = anyRun || isRun
		conts = append(conts, smallContainer{key: uint16(key), lo: lo, hi: hi, runs: runs, isRun: isRun})
		lo = hi
	}
	k := len(conts)
	le := binary.LittleEndian
	var preamble int
	if anyRun {
		dst = le.AppendUint16(dst, cookieRuns)
		dst = le.AppendUint16(dst, uint16(k-1))
		var flags byte
		for i, c := range conts {
			if c.isRun {
				flags |= 1 << (i % 8)
			}
			if i%8 == 7 || i == k-1 {
				dst = append(dst, flags)
				flags = 0
			}
		}
		preamble = 4 + (k+7)/8 + 4*k
	} else {
		dst = le.AppendUint32(dst, cookieNoRuns)
		dst = le.AppendUint32(dst, uint32(k))
		preamble = 8 + 4*k
	}
	for _, c := range conts {
		dst = le.AppendUint16(dst, c.key)
		dst = le.AppendUint16(dst, uint16(c.hi-c.lo-1))
	}
	if !anyRun || k >= noOffsetThreshold {
		off := uint32(preamble + 4*k)
		for _, c := range conts {
			dst = le.AppendUint32(dst, off)
			if c.isRun {
				off += uint32(2 + 4*c.runs)
			} else {
				off += uint32(2 * (c.hi - c.lo))
			}
		}
	}
	for _, c := range conts {
		rs := rows[c.lo:c.hi]
		if !c.isRun {
			for _, r := range rs {
				dst = le.AppendUint16(dst, uint16(r))
			}
			continue
		}
		dst = le.AppendUint16(dst, uint16(c.runs))
		start := 0
		for i := 1; i <= len(rs); i++ {
			if i == len(rs) || rs[i] != rs[i-1]+1 {
				dst = le.AppendUint16(dst, uint16(rs[start]))
				dst = le.AppendUint16(dst, uint16(rs[i-1]-rs[start]))
				start = i
			}
		}
	}
	return dst, conts, true
}

// smallContainer is one container of appendSmallBitmap: rows[lo:hi] share key.
type smallContainer struct {
	key    uint16
	lo, hi int
	runs   int
	isRun  bool
}

func appendDirectory(dst []byte, numRows, blockRows int, info Info, timeCol int, metas []columnMeta) []byte {
	dst = binary.AppendUvarint(dst, uint64(numRows))
	dst = binary.AppendUvarint(dst, uint64(blockRows))
	dst = binary.AppendVarint(dst, info.MinTime)
	dst = binary.AppendVarint(dst, info.MaxTime)
	dst = binary.AppendUvarint(dst, uint64(len(metas)))
	dst = binary.AppendUvarint(dst, uint64(timeCol))
	for i := range metas {
		m := &metas[i]
		dst = appendString(dst, m.col.Name)
		dst = append(dst, byte(m.col.Type))
		dst = appendString(dst, m.col.SQLType)
		var flags byte
		if m.col.NotNull {
			flags |= 1
		}
		dst = append(dst, flags)
		st := &m.stats
		dst = binary.AppendUvarint(dst, uint64(st.NullCount))
		if !st.HasMinMax {
			dst = append(dst, 0)
		} else {
			dst = append(dst, 1)
			switch m.col.Type {
			case storage.TypeTimestamp, storage.TypeInt64, storage.TypeBool:
				dst = binary.AppendVarint(dst, st.MinInt)
				dst = binary.AppendVarint(dst, st.MaxInt)
			case storage.TypeFloat64:
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(st.MinFloat))
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(st.MaxFloat))
			case storage.TypeString:
				dst = appendString(dst, st.MinString)
				dst = appendString(dst, st.MaxString)
			}
		}
		dst = appendRef(dst, m.nulls)
		if m.col.Type == storage.TypeString {
			dst = binary.AppendUvarint(dst, uint64(m.dictLen))
			dst = appendRef(dst, m.dict)
		}
		dst = binary.AppendUvarint(dst, uint64(len(m.blocks)))
		for _, b := range m.blocks {
			dst = appendRef(dst, b)
		}
	}
	return dst
}
