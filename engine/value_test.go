package engine

import (
	"errors"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestFloatText(t *testing.T) {
	cases := []struct {
		f    float64
		t    Type
		want string
	}{
		{1, Float64, "1"}, {0.1, Float64, "0.1"}, {1.0 / 3, Float64, "0.3333333333333333"},
		{1e15, Float64, "1e+15"}, {123456789012345, Float64, "123456789012345"},
		{1e-5, Float64, "1e-05"}, {0.0001, Float64, "0.0001"}, {-2.5, Float64, "-2.5"},
		{math.Inf(1), Float64, "Infinity"}, {math.Inf(-1), Float64, "-Infinity"}, {math.NaN(), Float64, "NaN"},
		{1234567, Float64, "1234567"}, {1e100, Float64, "1e+100"}, {-0.0, Float64, "0"},
		{1.5, Float32, "1.5"}, {1234567, Float32, "1.234567e+06"}, {float64(float32(0.1)), Float32, "0.1"},
		{2.5, Numeric, "2.5"}, {1e20, Numeric, "100000000000000000000"}, {0.000001, Numeric, "0.000001"},
	}
	for _, c := range cases {
		if got := string(appendFloat(nil, c.f, c.t)); got != c.want {
			t.Errorf("appendFloat(%v, %s) = %q, want %q", c.f, c.t, got, c.want)
		}
	}
}

func TestAppendTextArrow(t *testing.T) {
	mem := memory.NewGoAllocator()
	check := func(arr arrow.Array, ty Type, want ...string) {
		t.Helper()
		defer arr.Release()
		for i, w := range want {
			if got := string(AppendText(nil, arr, i, ty)); got != w {
				t.Errorf("%s row %d: got %q, want %q", ty, i, got, w)
			}
		}
	}
	tb := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	tb.Append(arrow.Timestamp(baseTime + 12*usPerHour))
	tb.Append(arrow.Timestamp(baseTime + 1500))
	tb.Append(arrow.Timestamp(-1))
	check(tb.NewArray(), TimestampTZ, "2023-10-01 12:00:00+00", "2023-10-01 00:00:00.0015+00", "1969-12-31 23:59:59.999999+00")
	tb.Release()
	ts := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond})
	ts.Append(arrow.Timestamp(baseTime))
	check(ts.NewArray(), Timestamp, "2023-10-01 00:00:00")
	ts.Release()
	db := array.NewDate32Builder(mem)
	db.Append(arrow.Date32(19631))
	db.Append(arrow.Date32(-1))
	check(db.NewArray(), Date, "2023-10-01", "1969-12-31")
	db.Release()
	ib := array.NewMonthDayNanoIntervalBuilder(mem)
	for _, v := range []arrow.MonthDayNanoInterval{
		IntervalArrow(0, 1, 2*usPerHour), {}, {Months: 14, Days: 3}, {Days: -1},
		IntervalArrow(0, 0, -90*usPerMin), IntervalArrow(1, 0, 1), IntervalArrow(0, -1, usPerHour),
	} {
		ib.Append(v)
	}
	check(ib.NewArray(), Interval, "1 day 02:00:00", "00:00:00", "1 year 2 mons 3 days", "-1 days", "-01:30:00", "1 mon 00:00:00.000001", "-1 days +01:00:00")
	ib.Release()
	bb := array.NewBooleanBuilder(mem)
	bb.AppendValues([]bool{true, false}, nil)
	check(bb.NewArray(), Bool, "t", "f")
	bb.Release()
	// Dictionary text.
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint32, ValueType: arrow.BinaryTypes.String}
	dbld := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
	dbld.AppendString("x")
	dbld.AppendString("yy")
	dbld.AppendString("x")
	check(dbld.NewArray(), Text, "x", "yy", "x")
	dbld.Release()
}

func TestParseValue(t *testing.T) {
	cases := []struct {
		s    string
		t    Type
		want string // text output or ERR:code
	}{
		{"42", Int32, "42"}, {" -7 ", Int64, "-7"}, {"x", Int32, "ERR:22P02"}, {"1.5", Int32, "ERR:22P02"},
		{"2147483648", Int32, "ERR:22003"}, {"32768", Int16, "ERR:22003"}, {"99999999999999999999", Int64, "ERR:22003"},
		{"1.5", Float64, "1.5"}, {"NaN", Float64, "NaN"}, {"-Infinity", Float64, "-Infinity"}, {"1e500", Float64, "ERR:22003"},
		{"abc", Float64, "ERR:22P02"}, {"1e39", Float32, "ERR:22003"},
		{"t", Bool, "t"}, {"TRUE", Bool, "t"}, {"yes", Bool, "t"}, {"on", Bool, "t"}, {"1", Bool, "t"},
		{"f", Bool, "f"}, {"no", Bool, "f"}, {"off", Bool, "f"}, {"0", Bool, "f"}, {"maybe", Bool, "ERR:22P02"},
		{"2023-10-01 12:00:00", Timestamp, "2023-10-01 12:00:00"},
		{"2023-10-01T12:00:00.25", Timestamp, "2023-10-01 12:00:00.25"},
		{"2023-10-01", Timestamp, "2023-10-01 00:00:00"},
		{"2023-10-01 12:00:00+02", Timestamp, "2023-10-01 12:00:00"},
		{"2023-10-01 12:00:00", TimestampTZ, "2023-10-01 12:00:00+00"},
		{"2023-10-01T12:00:00Z", TimestampTZ, "2023-10-01 12:00:00+00"},
		{"2023-10-01 12:00:00-05:30", TimestampTZ, "2023-10-01 17:30:00+00"},
		{"2023-10-01 12:00:00.1234567", Timestamp, "2023-10-01 12:00:00.123457"},
		{"2023-13-01", Timestamp, "ERR:22008"}, {"2023-02-30", Date, "ERR:22008"},
		{"yesterday-ish", Timestamp, "ERR:22007"}, {"epoch", TimestampTZ, "1970-01-01 00:00:00+00"},
		{"2024-02-29", Date, "2024-02-29"}, {"2023-10-01 23:00:00", Date, "2023-10-01"},
		{"5 minutes", Interval, "00:05:00"}, {"1 day 2 hours", Interval, "1 day 02:00:00"},
		{"01:00:00", Interval, "01:00:00"}, {"2.592e+06 seconds", Interval, "720:00:00"},
		{"1.5 days", Interval, "1 day 12:00:00"}, {"1 year 2 months", Interval, "1 year 2 mons"},
		{"-1 day +02:03:04.5", Interval, "-1 days +02:03:04.5"}, {"3 hours ago", Interval, "-03:00:00"},
		{"P1DT2H", Interval, "1 day 02:00:00"}, {"1 week", Interval, "7 days"}, {"10", Interval, "00:00:10"},
		{"bogus", Interval, "ERR:22007"}, {"5 parsecs", Interval, "ERR:22007"},
		{"héllo", Text, "héllo"},
	}
	for _, c := range cases {
		v, err := ParseValue(c.s, c.t)
		var got string
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ParseValue(%q, %s): non-SQL error %v", c.s, c.t, err)
			}
			got = "ERR:" + e.Code
		} else {
			got = textOf(v)
		}
		if got != c.want {
			t.Errorf("ParseValue(%q, %s) = %q, want %q (%v)", c.s, c.t, got, c.want, err)
		}
	}
	_, err := ParseValue("x", Int32)
	if err.Error() != `invalid input syntax for type integer: "x"` {
		t.Errorf("message %q", err)
	}
}

// FuzzParseValue checks that parsing never panics and that a parsed value's text
// output parses back to the same value.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"42", "1.5", "t", "2023-10-01 12:00:00+02", "1 day 02:00:00", "-1 days +01:00:00", "P1Y2M", "NaN", "epoch", "1e-05"} {
		f.Add(s, uint8(1))
	}
	types := []Type{Bool, Int16, Int32, Int64, Float32, Float64, Numeric, Text, Timestamp, TimestampTZ, Date, Interval}
	f.Fuzz(func(t *testing.T, s string, ti uint8) {
		ty := types[int(ti)%len(types)]
		v, err := ParseValue(s, ty)
		if err != nil {
			return
		}
		out := textOf(v)
		v2, err := ParseValue(out, ty)
		if err != nil {
			t.Fatalf("%s %q → %q does not parse back: %v", ty, s, out, err)
		}
		if out2 := textOf(v2); out2 != out {
			t.Fatalf("%s %q → %q → %q", ty, s, out, out2)
		}
	})
}
