package main

// An independent reader for strata's Delta writer: DuckDB reads the live Parquet
// files of a table strata wrote (two commits and an OPTIMIZE) and must see exactly
// the rows the test generated, and per file the stats strata put in the log.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
)

// lakeRow is one generated row; nil pointers are NULLs. day is the partition.
type lakeRow struct {
	s   *string
	i32 *int32
	i64 int64
	f64 *float64
	b   *bool
	ts  *int64 // µs since the epoch, UTC
	day string
}

// key renders a row so that equal rows give equal keys (floats by their bits).
func (r lakeRow) key() string {
	var sb strings.Builder
	if r.s == nil {
		sb.WriteString("N")
	} else {
		sb.WriteString(strconv.Quote(*r.s))
	}
	if r.i32 == nil {
		sb.WriteString("|N")
	} else {
		fmt.Fprintf(&sb, "|%d", *r.i32)
	}
	fmt.Fprintf(&sb, "|%d", r.i64)
	if r.f64 == nil {
		sb.WriteString("|N")
	} else {
		fmt.Fprintf(&sb, "|%x", math.Float64bits(*r.f64))
	}
	if r.b == nil {
		sb.WriteString("|N")
	} else {
		fmt.Fprintf(&sb, "|%t", *r.b)
	}
	if r.ts == nil {
		sb.WriteString("|N")
	} else {
		fmt.Fprintf(&sb, "|%d", *r.ts)
	}
	sb.WriteString("|" + r.day)
	return sb.String()
}

var lakeSchema = arrow.NewSchema([]arrow.Field{
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "i64", Type: arrow.PrimitiveTypes.Int64},
	{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "day", Type: arrow.BinaryTypes.String},
}, nil)

// genRows makes n seeded-random rows over days; strings mix ASCII, accents, CJK,
// emoji and some longer than the 32 characters string stats keep.
func genRows(rng *rand.Rand, n int, days []string) []lakeRow {
	pieces := []string{"a", "Z", "é", "ß", "日本", "語", "😀", "🦆", " ", "-", "x", "Ωmega", "\u00a0"}
	out := make([]lakeRow, n)
	for i := range out {
		r := lakeRow{i64: rng.Int64() - math.MaxInt64/2, day: days[rng.IntN(len(days))]}
		if rng.IntN(8) != 0 {
			var sb strings.Builder
			l := rng.IntN(12)
			if rng.IntN(20) == 0 {
				// Long, and starting below or above every short string, so that
				// files have minimums and maximums over the 32-character stats prefix.
				l = 32 + rng.IntN(20)
				sb.WriteString([]string{"\t", "\U000E0100"}[rng.IntN(2)])
			}
			for range l {
				sb.WriteString(pieces[rng.IntN(len(pieces))])
			}
			s := sb.String()
			r.s = &s
		}
		if rng.IntN(10) != 0 {
			v := int32(rng.Uint32())
			r.i32 = &v
		}
		if rng.IntN(10) != 0 {
			v := (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(20)-5))
			r.f64 = &v
		}
		if rng.IntN(10) != 0 {
			v := rng.IntN(2) == 0
			r.b = &v
		}
		if rng.IntN(10) != 0 {
			// 2020..2030 at microsecond precision.
			v := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() + rng.Int64N(10*365*86400*1_000_000)
			r.ts = &v
		}
		out[i] = r
	}
	return out
}

func lakeBatch(rows []lakeRow) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, lakeSchema)
	defer b.Release()
	for _, r := range rows {
		if r.s == nil {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(*r.s)
		}
		if r.i32 == nil {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Int32Builder).Append(*r.i32)
		}
		b.Field(2).(*array.Int64Builder).Append(r.i64)
		if r.f64 == nil {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Float64Builder).Append(*r.f64)
		}
		if r.b == nil {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.BooleanBuilder).Append(*r.b)
		}
		if r.ts == nil {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(*r.ts))
		}
		b.Field(6).(*array.StringBuilder).Append(r.day)
	}
	return b.NewRecordBatch()
}

func lakeAppend(t *testing.T, tbl *lake.Table, rows []lakeRow, opts lake.WriteOptions) {
	t.Helper()
	ctx := context.Background()
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := lakeBatch(rows)
	defer rec.Release()
	adds, err := lake.WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Commit(ctx, tbl, snap.Version, lake.AddActions(adds), "WRITE", map[string]any{"mode": "Append"}); err != nil {
		t.Fatal(err)
	}
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestLakeDuckDBReadsStrataDelta: DuckDB (read_parquet over exactly the snapshot's
// live files, partition values from the log) returns the generated rows, and each
// file's count, null counts, min and max equal the stats strata wrote.
func TestLakeDuckDBReadsStrataDelta(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fsys := objstore.LocalAt(dir)
	schema, err := lake.SchemaFromArrow(lakeSchema)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := lake.CreateTable(ctx, fsys, "tbl", schema, []string{"day"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(20261120, 1))
	// Commit 1: three days, several small files per day. Commit 2: one more file per
	// day and a new day. OPTIMIZE then merges every day with two or more files
	// (removing those files) and leaves the new day's single file alone.
	first := genRows(rng, 3000, []string{"2026-11-20", "2026-11-21", "2026-11-22"})
	second := genRows(rng, 2000, []string{"2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"})
	lakeAppend(t, tbl, first, lake.WriteOptions{MaxRowsPerFile: 400, RowGroupRows: 150})
	lakeAppend(t, tbl, second, lake.WriteOptions{})
	res, err := lake.Optimize(ctx, tbl, 64<<20, "")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files := snap.Files()
	t.Logf("optimize removed %d files, added %d; %d live files, %d tombstones", res.FilesRemoved, res.FilesAdded, len(files), len(snap.Tombstones()))
	if res.FilesRemoved == 0 || len(snap.Tombstones()) == 0 {
		t.Fatal("OPTIMIZE removed no file: the test would not tell live from removed files")
	}

	// The live files, by absolute path, with the partition value from the log.
	dayOf := map[string]string{}
	var quoted []string
	for _, f := range files {
		if f.IsAbsolute || f.DeletionVector != nil {
			t.Fatalf("file %s: absolute or with a deletion vector; the test reads plain relative files", f.Path)
		}
		p := filepath.Join(dir, "tbl", filepath.FromSlash(f.DecodedPath))
		day := f.PartitionValues["day"]
		if day == nil {
			t.Fatalf("file %s: null partition value", f.DecodedPath)
		}
		dayOf[p] = *day
		quoted = append(quoted, sqlString(p))
	}
	src := "read_parquet([" + strings.Join(quoted, ", ") + "], hive_partitioning = false, filename = true)"

	duck, err := openDuck(2)
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()

	// Rows.
	var got []string
	err = duck.run(ctx, "SELECT filename, s, i32, i64, f64, b, epoch_us(ts) FROM "+src, func(v []any) {
		r := lakeRow{day: dayOf[v[0].(string)]}
		if r.day == "" {
			t.Errorf("DuckDB read a row from %v, not a live file", v[0])
		}
		if v[1] != nil {
			s := v[1].(string)
			r.s = &s
		}
		if v[2] != nil {
			x := v[2].(int32)
			r.i32 = &x
		}
		r.i64 = v[3].(int64)
		if v[4] != nil {
			x := v[4].(float64)
			r.f64 = &x
		}
		if v[5] != nil {
			x := v[5].(bool)
			r.b = &x
		}
		if v[6] != nil {
			x := v[6].(int64)
			r.ts = &x
		}
		got = append(got, r.key())
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range append(append([]lakeRow{}, first...), second...) {
		want = append(want, r.key())
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(got) != len(want) {
		t.Fatalf("DuckDB read %d rows, the test wrote %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d of the sorted multiset: DuckDB %s, written %s", i, got[i], want[i])
		}
	}

	// Per-file stats.
	type duckStats struct {
		rows       int64
		nonNull    map[string]int64
		minV, maxV map[string]any
	}
	per := map[string]*duckStats{}
	cols := []string{"s", "i32", "i64", "f64", "ts"} // b: strata keeps no bool bounds
	cut := 0                                         // files whose string bounds were cut to the stats prefix
	q := "SELECT filename, count(*), count(b)"
	for _, c := range cols {
		e := c
		if c == "ts" {
			e = "epoch_us(ts)"
		}
		q += fmt.Sprintf(", count(%s), min(%s), max(%s)", c, e, e)
	}
	q += " FROM " + src + " GROUP BY filename"
	err = duck.run(ctx, q, func(v []any) {
		d := &duckStats{rows: v[1].(int64), nonNull: map[string]int64{"b": v[2].(int64)}, minV: map[string]any{}, maxV: map[string]any{}}
		for i, c := range cols {
			d.nonNull[c] = v[3+3*i].(int64)
			d.minV[c], d.maxV[c] = v[4+3*i], v[5+3*i]
		}
		per[v[0].(string)] = d
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(per) != len(files) {
		t.Errorf("DuckDB saw %d files, the snapshot has %d", len(per), len(files))
	}
	for _, f := range files {
		p := filepath.Join(dir, "tbl", filepath.FromSlash(f.DecodedPath))
		d := per[p]
		if d == nil {
			t.Errorf("file %s: no rows in DuckDB", f.DecodedPath)
			continue
		}
		st, err := f.ParsedStats()
		if err != nil || st == nil || st.NumRecords == nil {
			t.Errorf("file %s: stats %q: %v", f.DecodedPath, f.Stats, err)
			continue
		}
		if *st.NumRecords != d.rows {
			t.Errorf("file %s: numRecords %d, DuckDB counts %d", f.DecodedPath, *st.NumRecords, d.rows)
		}
		for _, c := range append([]string{"b"}, cols...) {
			var nulls int64
			if err := json.Unmarshal(st.NullCount[c], &nulls); err != nil || nulls != d.rows-d.nonNull[c] {
				t.Errorf("file %s: nullCount.%s %s, DuckDB %d", f.DecodedPath, c, st.NullCount[c], d.rows-d.nonNull[c])
			}
		}
		if _, ok := st.MinValues["b"]; ok {
			t.Errorf("file %s: bool bounds %s: strata is not expected to write them", f.DecodedPath, st.MinValues["b"])
		}
		for _, c := range cols {
			lo, hi, ok := statBounds(c, st.MinValues[c], st.MaxValues[c])
			if d.nonNull[c] == 0 {
				if st.MinValues[c] != nil || st.MaxValues[c] != nil {
					t.Errorf("file %s: %s is all null but has bounds %s..%s", f.DecodedPath, c, st.MinValues[c], st.MaxValues[c])
				}
				continue
			}
			if !ok {
				t.Errorf("file %s: bounds of %s %s..%s do not parse", f.DecodedPath, c, st.MinValues[c], st.MaxValues[c])
				continue
			}
			wlo, whi := d.minV[c], d.maxV[c]
			if c == "s" {
				wlo, whi = stringBound(wlo.(string), false), stringBound(whi.(string), true)
				if wlo != d.minV[c] || whi != d.maxV[c] {
					cut++
				}
			}
			if lo != wlo || hi != whi {
				t.Errorf("file %s: %s bounds %v..%v (log %s..%s), DuckDB %v..%v", f.DecodedPath, c, lo, hi, st.MinValues[c], st.MaxValues[c], wlo, whi)
			}
		}
	}
	if cut == 0 {
		t.Errorf("no file has a string bound over 32 characters: the prefix rule was not checked")
	}
}

// statBound decodes a column's min or max from the log into the Go type DuckDB
// returns: string, int32, int64, float64, and µs for the timestamp.
func statBound(col string, raw json.RawMessage) (any, bool) {
	if raw == nil {
		return nil, false
	}
	switch col {
	case "s":
		var v string
		return v, json.Unmarshal(raw, &v) == nil
	case "i32":
		var v int32
		err := json.Unmarshal(raw, &v)
		return v, err == nil
	case "i64":
		var v int64
		err := json.Unmarshal(raw, &v)
		return v, err == nil
	case "f64":
		var v float64
		err := json.Unmarshal(raw, &v)
		return v, err == nil
	case "ts":
		var v string
		if json.Unmarshal(raw, &v) != nil {
			return nil, false
		}
		tm, err := time.Parse(time.RFC3339Nano, v)
		return tm.UnixMicro(), err == nil
	}
	return nil, false
}

func statBounds(col string, rawLo, rawHi json.RawMessage) (lo, hi any, ok bool) {
	lo, ok1 := statBound(col, rawLo)
	hi, ok2 := statBound(col, rawHi)
	return lo, hi, ok1 && ok2
}

// stringBound is what Delta string stats hold for a true min or max: values longer
// than 32 characters are cut to that prefix, and a cut max gets U+10FFFF appended
// so that it stays above every value with that prefix.
func stringBound(s string, isMax bool) string {
	const prefix = 32
	if utf8.RuneCountInString(s) <= prefix {
		return s
	}
	r := []rune(s)[:prefix]
	if isMax {
		r = append(r, utf8.MaxRune)
	}
	return string(r)
}
