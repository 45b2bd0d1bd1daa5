package bench

import (
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
)

func TestCell(t *testing.T) {
	ts := time.Date(2026, 11, 1, 12, 30, 5, 123456000, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, "NULL"},
		{true, "t"},
		{false, "f"},
		{int64(-42), "-42"},
		{int32(7), "7"},
		{big.NewInt(1 << 40), "1099511627776"},
		{float64(3), "3"},
		{math.Copysign(0, -1), "0"},
		{1793491200.0, "1793491200"},
		{0.1, "0.1"},
		{float32(0.5), "0.5"},
		{1e20, "1e+20"},
		{"abc", "abc"},
		{[]byte("xy"), "xy"},
		{ts, "2026-11-01 11:30:05.123456"},
		{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "2026-11-01 00:00:00"},
	} {
		if got := Cell(tc.v); got != tc.want {
			t.Errorf("Cell(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b [][]string
		want string // substring of the difference; "" for equal
	}{
		{"equal", [][]string{{"a", "1"}}, [][]string{{"a", "1"}}, ""},
		{"both empty", nil, [][]string{}, ""},
		{"float within 6 digits", [][]string{{"0.12345678"}}, [][]string{{"0.12345679"}}, ""},
		{"integral float vs sum", [][]string{{"100"}}, [][]string{{"99.99999999999999"}}, ""},
		{"float differs", [][]string{{"0.1234"}}, [][]string{{"0.1235"}}, "row 0 column 0"},
		{"int differs", [][]string{{"1000000"}}, [][]string{{"1000001"}}, "row 0 column 0"},
		// At 10M events a count off by 5 is within 5e-7: integers compare exactly.
		{"count off by 5 of 10M", [][]string{{"10000000"}}, [][]string{{"10000005"}}, "row 0 column 0"},
		{"big sum off by 1", [][]string{{"-123456789012345678"}}, [][]string{{"-123456789012345679"}}, "row 0 column 0"},
		{"integer vs float within 6 digits", [][]string{{"10000000"}}, [][]string{{"10000000.5"}}, ""},
		{"text differs", [][]string{{"x", "1"}}, [][]string{{"y", "1"}}, `"x"`},
		{"null vs zero", [][]string{{"NULL"}}, [][]string{{"0"}}, "column 0"},
		{"row count", [][]string{{"a"}}, [][]string{{"a"}, {"b"}}, "returned 1 rows, B 2"},
		{"column count", [][]string{{"a"}}, [][]string{{"a", "b"}}, "has 1 columns"},
		{"order matters", [][]string{{"a"}, {"b"}}, [][]string{{"b"}, {"a"}}, "row 0"},
	} {
		got := Diff("A", tc.a, "B", tc.b)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: Diff = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSliceColumns(t *testing.T) {
	cols := storage.NewColumns(EventSchema(), 0)
	g := NewGenerator(3, DefaultStart, DefaultEnd, 100, 50)
	g.Fill(cols, 1000)
	for _, r := range [][2]int{{0, 1000}, {10, 20}, {999, 1000}, {500, 500}} {
		v := SliceColumns(cols, r[0], r[1])
		if err := v.Check(); err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		for i := range v.Len {
			for j := range numCols {
				if v.IsNull(j, i) != cols.IsNull(j, r[0]+i) {
					t.Fatalf("%v: row %d column %d null differs", r, i, j)
				}
			}
			if v.Cols[ColUserID].String[i] != cols.Cols[ColUserID].String[r[0]+i] ||
				v.Cols[ColPrice].Float64[i] != cols.Cols[ColPrice].Float64[r[0]+i] ||
				v.Cols[ColTimestamp].Int64[i] != cols.Cols[ColTimestamp].Int64[r[0]+i] {
				t.Fatalf("%v: row %d differs", r, i)
			}
		}
	}
}

func TestQueriesFor(t *testing.T) {
	if len(Queries) < 20 {
		t.Fatalf("%d queries, want 20+", len(Queries))
	}
	names := map[string]bool{}
	for _, q := range Queries {
		if names[q.Name] {
			t.Errorf("query name %s twice", q.Name)
		}
		names[q.Name] = true
		if strings.Contains(q.SQL, "$") || strings.Contains(q.Duck(), "$") {
			t.Errorf("%s: unreplaced variable: %s", q.Name, q.SQL)
		}
		if strings.Contains(strings.ToLower(q.SQL), "now()") {
			t.Errorf("%s uses now()", q.Name)
		}
	}
	var lastHour string
	for _, q := range Queries {
		if q.Name == "per_minute_last_hour" {
			lastHour = q.SQL
		}
	}
	if !strings.Contains(lastHour, `"timestamp" >= '2026-11-07 23:00:00+00' AND "timestamp" < '2026-11-08 00:00:00+00'`) {
		t.Errorf("per_minute_last_hour: %s", lastHour)
	}
}
