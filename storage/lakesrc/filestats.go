package lakesrc

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// fileStats is a lake file's Delta statistics (the add action's minValues,
// maxValues and numRecords, and its partition values) as a storage.StatsView,
// so that a query's filter can leave a file out before its footer is read.
// Every column's statistics are bounds only: Delta stats count deleted rows,
// writers truncate long strings and Spark writes timestamps to the millisecond.
// A column's statistics are converted on first use.
type fileStats struct {
	snap      *lake.Snapshot
	file      *lake.AddFile
	schema    *storage.Schema
	deltaCols []string
	parsed    *lake.Stats
	rows      int
	stats     []*storage.ColumnStats
}

// maxTrustedString bounds the length (in runes) of a string max value taken from
// Delta stats: Spark and delta-rs cut longer values to a 32-character prefix,
// which is no upper bound.
const maxTrustedString = 31

func newFileStats(snap *lake.Snapshot, f *lake.AddFile, schema *storage.Schema, deltaCols []string) *fileStats {
	fs := &fileStats{snap: snap, file: f, schema: schema, deltaCols: deltaCols, rows: -1,
		stats: make([]*storage.ColumnStats, len(schema.Columns))}
	if st, err := f.ParsedStats(); err == nil && st != nil {
		fs.parsed = st
		if st.NumRecords != nil && *st.NumRecords >= 0 {
			fs.rows = int(*st.NumRecords)
		}
	}
	return fs
}

// NumRows is the file's row count from its stats (deleted rows included), or
// -1 when the stats do not say: a bound is all pruning may use.
func (fs *fileStats) NumRows() int { return fs.rows }

// Stats are the bounds the file's Delta statistics give column col.
func (fs *fileStats) Stats(col int) storage.ColumnStats {
	if col < 0 || col >= len(fs.stats) {
		return storage.ColumnStats{Bounds: true}
	}
	if fs.stats[col] == nil {
		st := fs.columnStats(col)
		st.Bounds = true
		fs.stats[col] = &st
	}
	return *fs.stats[col]
}

func (fs *fileStats) columnStats(col int) storage.ColumnStats {
	dc := fs.deltaCols[col]
	t := fs.schema.Columns[col].Type
	if dc == "" {
		if col == fs.schema.TimeColumn {
			return storage.ColumnStats{HasMinMax: true} // the hidden constant time column
		}
		return storage.ColumnStats{} // no such column in the file: all NULL, no min/max
	}
	fd := snapField(fs.snap, dc)
	if fd == nil {
		return storage.ColumnStats{}
	}
	if isPartitionColumn(fs.snap, dc) {
		v, present := fs.snap.PartitionValue(fs.file, dc)
		if !present {
			return storage.ColumnStats{}
		}
		pv, err := lake.ParsePartitionValue(fd.Type, v)
		if err != nil {
			return storage.ColumnStats{}
		}
		var out storage.ColumnStats
		switch x := pv.(type) {
		case int64:
			out.HasMinMax, out.MinInt, out.MaxInt = t == storage.TypeInt64 || t == storage.TypeTimestamp, x, x
		case int32:
			if fd.Type.Name == "date" {
				x64 := int64(x) * microsPerDay
				out.HasMinMax, out.MinInt, out.MaxInt = t == storage.TypeTimestamp, x64, x64
			} else {
				out.HasMinMax, out.MinInt, out.MaxInt = t == storage.TypeInt64, int64(x), int64(x)
			}
		case string:
			out.HasMinMax, out.MinString, out.MaxString = t == storage.TypeString, x, x
		}
		return out
	}
	if fs.parsed == nil {
		return storage.ColumnStats{}
	}
	pn := fs.snap.PhysicalName(dc)
	minJ, maxJ := fs.parsed.MinValues[pn], fs.parsed.MaxValues[pn]
	if minJ == nil || maxJ == nil {
		return storage.ColumnStats{}
	}
	var out storage.ColumnStats
	switch fd.Type.Name {
	case "long", "integer", "short", "byte":
		var lo, hi int64
		if json.Unmarshal(minJ, &lo) != nil || json.Unmarshal(maxJ, &hi) != nil || t != storage.TypeInt64 {
			return storage.ColumnStats{}
		}
		out.HasMinMax, out.MinInt, out.MaxInt = true, lo, hi
	case "decimal":
		// numeric(p,s), p <= 18, is the scaled int64 (lakeColumn); a bound with more
		// digits after the point than the scale is not trusted
		lo, ok1 := scaledBound(minJ, fd.Type.Scale)
		hi, ok2 := scaledBound(maxJ, fd.Type.Scale)
		if !ok1 || !ok2 || t != storage.TypeInt64 {
			return storage.ColumnStats{}
		}
		out.HasMinMax, out.MinInt, out.MaxInt = true, lo, hi
	case "float", "double":
		var lo, hi float64
		if json.Unmarshal(minJ, &lo) != nil || json.Unmarshal(maxJ, &hi) != nil || t != storage.TypeFloat64 {
			return storage.ColumnStats{}
		}
		out.HasMinMax, out.MinFloat, out.MaxFloat = true, lo, hi
	case "string":
		var lo, hi string
		if json.Unmarshal(minJ, &lo) != nil || json.Unmarshal(maxJ, &hi) != nil || t != storage.TypeString ||
			utf8.RuneCountInString(hi) > maxTrustedString {
			return storage.ColumnStats{}
		}
		out.HasMinMax, out.MinString, out.MaxString = true, lo, hi
	case "timestamp", "timestamp_ntz", "date":
		lo, ok1 := boundTime(fd.Type.Name, minJ, false)
		hi, ok2 := boundTime(fd.Type.Name, maxJ, true)
		if !ok1 || !ok2 || t != storage.TypeTimestamp {
			return storage.ColumnStats{}
		}
		out.HasMinMax, out.MinInt, out.MaxInt = true, lo, hi
	}
	return out
}

// boundTime parses a Delta stats time as a lower (or, with upper, an upper)
// bound in microseconds: a value written with less than microsecond precision
// may have been truncated or rounded, so it is widened by a millisecond.
func boundTime(deltaType string, raw json.RawMessage, upper bool) (int64, bool) {
	if us, ok := exactTime(deltaType, raw); ok {
		return us, true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return 0, false
	}
	var t time.Time
	var err error
	if deltaType == "timestamp_ntz" && !strings.HasSuffix(s, "Z") && (len(s) <= 19 || !strings.ContainsAny(s[19:], "+-")) {
		t, err = time.Parse("2006-01-02T15:04:05.999999999", s)
	} else {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		return 0, false
	}
	us := t.Unix()*1e6 + int64(t.Nanosecond()/1e3)
	if upper {
		return us + 1000, true
	}
	return us - 1000, true
}

func snapField(snap *lake.Snapshot, col string) *lake.Field {
	for i := range snap.Schema.Fields {
		if strings.EqualFold(snap.Schema.Fields[i].Name, col) {
			return &snap.Schema.Fields[i]
		}
	}
	return nil
}

func isPartitionColumn(snap *lake.Snapshot, col string) bool {
	for _, p := range snap.PartitionColumns() {
		if strings.EqualFold(p, col) {
			return true
		}
	}
	return false
}

// scaledBound reads a Delta stats decimal (a JSON number, or a string as some
// writers give it) as value × 10^scale; false when it is not a number, has
// digits below the scale, or does not fit int64.
func scaledBound(raw json.RawMessage, scale int) (int64, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		n = json.Number(s)
	}
	digits, exp, _, ok := storage.SplitNumber(string(n))
	if !ok {
		return 0, false
	}
	if below := -(exp + scale); below > 0 && strings.Trim(digits[max(len(digits)-below, 0):], "0") != "" {
		return 0, false
	}
	v, fits, syntax := storage.ParseDecimal(string(n), 0, scale)
	return v, fits && !syntax
}
