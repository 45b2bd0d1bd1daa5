package bench

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/stratadb/strata/storage"
)

// Result rows are compared across engines as text: each engine's driver values are
// rendered by Cell into one canonical spelling, so that the differences between
// engines' result types (bigint vs hugeint, numeric vs double, timestamptz in a
// session zone) do not matter, while every value still does.

// Cell renders one result value canonically:
//   - NULL as "NULL", booleans as "t"/"f", integers in decimal;
//   - floats: integral values (|v| < 1e15) as integers, others in Go's shortest
//     round-trip form (Equal compares them to 6 significant digits);
//   - times in UTC as "2006-01-02 15:04:05.999999";
//   - strings and []byte as they are.
func Cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case bool:
		if x {
			return "t"
		}
		return "f"
	case int:
		return strconv.Itoa(x)
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint8:
		return strconv.FormatUint(uint64(x), 10)
	case uint16:
		return strconv.FormatUint(uint64(x), 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case *big.Int:
		if x == nil {
			return "NULL"
		}
		return x.String()
	case float32:
		return FloatCell(float64(x))
	case float64:
		return FloatCell(x)
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return TimeCell(x)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// FloatCell renders a float as Cell does.
func FloatCell(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// TimeCell renders a time as Cell does.
func TimeCell(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.999999")
}

// cellsEqual reports whether two rendered cells denote the same value: equal text,
// or two numbers equal to 6 significant digits unless both are integers, which
// must be equal exactly (a count off by one is never "close enough").
func cellsEqual(a, b string) bool {
	if a == b {
		return true
	}
	if isInteger(a) && isInteger(b) {
		return false // Cell spells integers canonically: different text, different value
	}
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA != nil || errB != nil {
		return false
	}
	if math.IsNaN(fa) || math.IsNaN(fb) {
		return math.IsNaN(fa) && math.IsNaN(fb)
	}
	scale := math.Max(math.Abs(fa), math.Abs(fb))
	return math.Abs(fa-fb) <= 5e-7*scale
}

// isInteger reports whether s is a decimal integer as Cell writes it.
func isInteger(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Diff compares two results row by row and returns "" when they are equal, else a
// description of the first difference naming the engines.
func Diff(nameA string, a [][]string, nameB string, b [][]string) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if len(a[i]) != len(b[i]) {
			return fmt.Sprintf("row %d: %s has %d columns, %s %d", i, nameA, len(a[i]), nameB, len(b[i]))
		}
		for j := range a[i] {
			if !cellsEqual(a[i][j], b[i][j]) {
				return fmt.Sprintf("row %d column %d: %s %q, %s %q\n  %s row: %s\n  %s row: %s",
					i, j, nameA, a[i][j], nameB, b[i][j], nameA, FormatRow(a[i]), nameB, FormatRow(b[i]))
			}
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("%s returned %d rows, %s %d", nameA, len(a), nameB, len(b))
	}
	return ""
}

// FormatRow joins a rendered row with " | ", floats shortened to 6 significant digits.
func FormatRow(row []string) string {
	var sb strings.Builder
	for i, c := range row {
		if i > 0 {
			sb.WriteString(" | ")
		}
		if f, err := strconv.ParseFloat(c, 64); err == nil && strings.ContainsAny(c, ".eE") {
			c = strconv.FormatFloat(f, 'g', 6, 64)
		}
		sb.WriteString(c)
	}
	return sb.String()
}

// SliceColumns returns a view of rows [from, to) of cols sharing its buffers.
func SliceColumns(cols *storage.Columns, from, to int) *storage.Columns {
	v := &storage.Columns{Schema: cols.Schema, Len: to - from, Cols: make([]storage.ColumnData, len(cols.Cols))}
	for i, d := range cols.Cols {
		w := &v.Cols[i]
		switch {
		case d.Int64 != nil:
			w.Int64 = d.Int64[from:to:to]
		case d.Float64 != nil:
			w.Float64 = d.Float64[from:to:to]
		case d.Bool != nil:
			w.Bool = d.Bool[from:to:to]
		case d.String != nil:
			w.String = d.String[from:to:to]
		}
		if len(d.Null) > from {
			w.Null = d.Null[from:min(to, len(d.Null)):min(to, len(d.Null))]
		}
	}
	return v
}

// GenerateColumns generates n events of the reference workload (seed, the default
// range and sizes, times in order) into one Columns.
func GenerateColumns(seed int64, n int) *storage.Columns {
	g := NewGenerator(seed, DefaultStart, DefaultEnd, DefaultUsers, DefaultProducts)
	g.Ordered(n)
	cols := storage.NewColumns(EventSchema(), n)
	g.Fill(cols, n)
	return cols
}

// GoValue returns row i of column j of cols as a Go value for a database driver:
// nil for NULL, time.Time (UTC) for timestamps, int64, float64, bool or string.
func GoValue(cols *storage.Columns, j, i int) any {
	if cols.IsNull(j, i) {
		return nil
	}
	d := &cols.Cols[j]
	switch cols.Schema.Columns[j].Type {
	case storage.TypeTimestamp:
		return time.UnixMicro(d.Int64[i]).UTC()
	case storage.TypeInt64:
		return d.Int64[i]
	case storage.TypeFloat64:
		return d.Float64[i]
	case storage.TypeBool:
		return d.Bool[i]
	case storage.TypeString:
		return d.String[i]
	}
	panic(fmt.Sprintf("BUG: column %d has type %s", j, cols.Schema.Columns[j].Type))
}
