package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stratadb/strata/storage/objstore"
)

// colSummary is min/max/null count of one column, computed by a plain loop here.
type colSummary struct {
	min, max any // int64, float64, string (for strings/timestamps/dates as stats render them)
	nulls    int64
	rows     int64
}

// statsValue renders the value of row i the way Delta stats write it: numbers as
// numbers, timestamps truncated to milliseconds in ISO form, dates YYYY-MM-DD.
func statsValue(c arrow.Array, i int) (any, bool) {
	switch a := c.(type) {
	case *array.Int8:
		return int64(a.Value(i)), true
	case *array.Int16:
		return int64(a.Value(i)), true
	case *array.Int32:
		return int64(a.Value(i)), true
	case *array.Int64:
		return a.Value(i), true
	case *array.Float32:
		return float64(a.Value(i)), true
	case *array.Float64:
		return a.Value(i), true
	case *array.String:
		return a.Value(i), true
	case *array.Date32:
		return time.Unix(int64(a.Value(i))*86400, 0).UTC().Format("2006-01-02"), true
	case *array.Timestamp:
		us := int64(a.Value(i))
		t := time.UnixMilli(floorDiv(us, 1000)).UTC()
		if a.DataType().(*arrow.TimestampType).TimeZone == "" {
			return t.Format("2006-01-02T15:04:05.000"), true
		}
		return t.Format("2006-01-02T15:04:05.000Z"), true
	}
	return nil, false
}

func less(a, b any) bool {
	switch x := a.(type) {
	case int64:
		return x < b.(int64)
	case float64:
		return x < b.(float64)
	case string:
		return x < b.(string)
	}
	return false
}

// TestStatsAgreeWithData checks, for every live file without a deletion vector
// in every manifest table, that the values read back agree with the min/max/null
// counts the writer put into the file's stats (keyed by physical names). This is
// an independent check of the values (not only the row counts): column mapping,
// INT96 and timestamp units must all be right for it to pass.
func TestStatsAgreeWithData(t *testing.T) {
	ctx := context.Background()
	fsys := objstore.LocalAt("testdata/delta")
	checked := 0
	for _, mt := range parseManifest(t) {
		s, err := OpenTable(fsys, mt.name).Snapshot(ctx)
		if err != nil {
			t.Fatalf("%s: %v", mt.name, err)
		}
		for _, f := range s.Files() {
			st, err := ParseStats(f.Stats)
			if err != nil || st == nil || f.DeletionVector != nil || st.NumRecords == nil {
				continue
			}
			sum := map[string]*colSummary{}
			err = s.ReadFile(ctx, f, nil, func(rec arrow.RecordBatch) error {
				for ci, c := range rec.Columns() {
					name := rec.ColumnName(ci)
					cs := sum[name]
					if cs == nil {
						cs = &colSummary{}
						sum[name] = cs
					}
					for i := 0; i < c.Len(); i++ {
						cs.rows++
						if c.IsNull(i) {
							cs.nulls++
							continue
						}
						v, ok := statsValue(c, i)
						if !ok {
							continue
						}
						if cs.min == nil || less(v, cs.min) {
							cs.min = v
						}
						if cs.max == nil || less(cs.max, v) {
							cs.max = v
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range s.Schema.Fields {
				fd := &s.Schema.Fields[i]
				if s.isPartition(fd) {
					continue
				}
				cs := sum[fd.Name]
				if cs == nil || cs.rows != *st.NumRecords {
					t.Errorf("%s %s %s: read %v rows, stats numRecords %d", mt.name, f.DecodedPath, fd.Name, cs, *st.NumRecords)
					continue
				}
				pn := fd.PhysicalName(s.ColumnMapping)
				where := fmt.Sprintf("%s %s column %s (%s)", mt.name, f.DecodedPath, fd.Name, pn)
				if raw, ok := st.NullCount[pn]; ok {
					var n int64
					if json.Unmarshal(raw, &n) == nil {
						checked++
						if n != cs.nulls {
							t.Errorf("%s: %d nulls read, stats nullCount %d", where, cs.nulls, n)
						}
					}
				}
				for _, b := range []struct {
					raw  json.RawMessage
					got  any
					kind string
				}{{st.MinValues[pn], cs.min, "min"}, {st.MaxValues[pn], cs.max, "max"}} {
					if b.raw == nil || b.got == nil {
						continue
					}
					var want any
					switch b.got.(type) {
					case int64:
						var n int64
						if json.Unmarshal(b.raw, &n) != nil {
							continue
						}
						want = n
					case float64:
						var x float64
						if json.Unmarshal(b.raw, &x) != nil {
							continue
						}
						want = x
					case string:
						var x string
						if json.Unmarshal(b.raw, &x) != nil {
							continue
						}
						if g := b.got.(string); len(g) > 32 || strings.ContainsRune(x, '\U0010FFFF') {
							continue // Spark truncates string stats to 32 characters
						}
						want = x
					}
					checked++
					if want != b.got {
						t.Errorf("%s: %s read %v, stats say %v", where, b.kind, b.got, want)
					}
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d stats values compared", checked)
	}
	t.Logf("%d stats values agree with the data", checked)
}

// readColumn reads one column of every live file, as Go values (nil for null),
// files in path order.
func readColumn(t *testing.T, s *Snapshot, col string) []any {
	t.Helper()
	var out []any
	for _, f := range s.Files() {
		err := s.ReadFile(context.Background(), f, []string{col}, func(rec arrow.RecordBatch) error {
			c := rec.Column(0)
			for i := 0; i < c.Len(); i++ {
				if c.IsNull(i) {
					out = append(out, nil)
					continue
				}
				out = append(out, c.GetOneForMarshal(i))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func openTestTable(t *testing.T, name string) *Snapshot {
	t.Helper()
	s, err := OpenTable(objstore.LocalAt("testdata/delta"), name).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDeletionVectorRowsRemoved(t *testing.T) {
	// v1 is "DELETE WHERE value IN (0, 9)" over the values 0..9 (commitInfo predicate).
	s := openTestTable(t, "table-with-dv-small")
	got := readColumn(t, s, "value")
	want := []any{int32(1), int32(2), int32(3), int32(4), int32(5), int32(6), int32(7), int32(8)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("values %v, want %v", got, want)
	}
	// v0 has no DV: all ten.
	s0, err := OpenTable(objstore.LocalAt("testdata/delta"), "table-with-dv-small").SnapshotAt(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := readColumn(t, s0, "value"); len(got) != 10 {
		t.Fatalf("v0: %d values", len(got))
	}
}

func TestPartitionValuesTyped(t *testing.T) {
	s := openTestTable(t, "data-reader-partition-values")
	cols := []string{"as_int", "as_long", "as_byte", "as_short", "as_boolean", "as_float", "as_double",
		"as_string", "as_string_lit_null", "as_date", "as_timestamp", "as_big_decimal"}
	rows := map[string][]any{}
	for _, c := range cols {
		rows[c] = readColumn(t, s, c)
	}
	// The generator wrote rows i = 0, 1 with every partition column derived from i
	// and one row with every partition value null (GoldenTables.scala).
	nulls, seen := 0, map[string]bool{}
	for r := range rows["as_int"] {
		if rows["as_int"][r] == nil {
			nulls++
			for _, c := range cols {
				if rows[c][r] != nil {
					t.Errorf("null partition row: %s = %v", c, rows[c][r])
				}
			}
			continue
		}
		i := rows["as_int"][r].(int32)
		seen[fmt.Sprint(i)] = true
		checks := map[string]any{
			"as_long": int64(i), "as_byte": int8(i), "as_short": int16(i), "as_boolean": i%2 == 0,
			"as_float": float32(i), "as_double": float64(i), "as_string": fmt.Sprint(i),
			"as_string_lit_null": "null", "as_date": "2021-09-08",
		}
		for c, w := range checks {
			if fmt.Sprint(rows[c][r]) != fmt.Sprint(w) {
				t.Errorf("row as_int=%d: %s = %v, want %v", i, c, rows[c][r], w)
			}
		}
		if ts := fmt.Sprint(rows["as_timestamp"][r]); !strings.HasPrefix(ts, "2021-09-08T11:11:11") {
			t.Errorf("as_timestamp = %s", ts)
		}
		if d := fmt.Sprint(rows["as_big_decimal"][r]); d != fmt.Sprint(i) {
			t.Errorf("as_big_decimal = %s, want %d", d, i)
		}
	}
	if nulls != 1 || !seen["0"] || !seen["1"] {
		t.Fatalf("rows: %d all-null, ints seen %v", nulls, seen)
	}
}

func TestColumnMappingNames(t *testing.T) {
	s := openTestTable(t, "table_with_column_mapping")
	sc, err := s.ArrowSchema(nil)
	if err != nil {
		t.Fatal(err)
	}
	if sc.FieldIndices("Company Very Short") == nil {
		t.Fatalf("schema %s lacks the logical name", sc)
	}
	vals := readColumn(t, s, "Company Very Short")
	if len(vals) != 5 {
		t.Fatalf("%d values", len(vals))
	}
	for _, v := range vals {
		if v == nil {
			t.Fatalf("partition column under column mapping read as null: %v", vals)
		}
	}
	// Renamed partition column (id→newid): values still come from the physical key "id".
	s = openTestTable(t, "table_with_partitioning_mapping")
	for _, v := range readColumn(t, s, "newid") {
		if v == nil {
			t.Fatalf("renamed partition column read as null")
		}
	}
}

func TestTimestampNtzPartition(t *testing.T) {
	s := openTestTable(t, "data-reader-timestamp_ntz")
	got := map[string]int{}
	for _, v := range readColumn(t, s, "tsNtzPartition") {
		got[fmt.Sprint(v)]++
	}
	// partitionValues in the log: 2013-07-05 17:01:00.123456 (3 rows), 2021-11-18
	// 02:30:00.123456 (3 rows), null (3 rows).
	want := map[string]int{"2013-07-05T17:01:00.123456": 3, "2021-11-18T02:30:00.123456": 3, "<nil>": 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("partition values %v, want %v", got, want)
	}
}

func TestEdgeTimestamps(t *testing.T) {
	s := openTestTable(t, "table_with_edge_timestamps")
	got := fmt.Sprint(readColumn(t, s, "BIG_DATE"))
	// Stats in the log: 9999-12-31T00:00:00.000Z and 9999-12-30T00:00:00.000Z.
	if !strings.Contains(got, "9999-12-31T00:00:00") || !strings.Contains(got, "9999-12-30T00:00:00") {
		t.Fatalf("BIG_DATE = %s", got)
	}
}
