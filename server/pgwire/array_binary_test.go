package pgwire

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratadb/strata/engine"
)

// TestBinaryArrays: arrays of every element type array_agg returns leave in
// array_send's binary form with their element type's OID and binary elements,
// which pgx decodes independently; the text form is array_out's.
func TestBinaryArrays(t *testing.T) {
	ts := time.Date(2024, 3, 1, 12, 30, 0, 500000000, time.UTC)
	for _, tc := range []struct {
		t    engine.Type
		text string
		dst  func() any
		want string
	}{
		{engine.Type{ID: engine.TypeInt32Array}, "{1,NULL,-3}", func() any { return new([]*int32) }, "[1 <nil> -3]"},
		{engine.Type{ID: engine.TypeInt64Array}, "{9007199254740993}", func() any { return new([]int64) }, "[9007199254740993]"},
		{engine.Type{ID: engine.TypeInt16Array}, "{7,8}", func() any { return new([]int16) }, "[7 8]"},
		{engine.Type{ID: engine.TypeFloat64Array}, "{2.5,-0.125}", func() any { return new([]float64) }, "[2.5 -0.125]"},
		{engine.Type{ID: engine.TypeBoolArray}, "{t,f}", func() any { return new([]bool) }, "[true false]"},
		{engine.Type{ID: engine.TypeTimestampTZArray}, `{"2024-03-01 12:30:00.5+00"}`, func() any { return new([]time.Time) }, fmt.Sprint([]time.Time{ts})},
		{engine.Type{ID: engine.TypeDateArray}, "{2024-03-01,NULL}", func() any { return new([]pgtype.Date) }, "[{2024-03-01 00:00:00 +0000 UTC finite true} {0001-01-01 00:00:00 +0000 UTC finite false}]"},
		{engine.Type{ID: engine.TypeIntervalArray}, `{"1 mon 2 days 00:00:03"}`, func() any { return new([]pgtype.Interval) }, "[{3000000 2 1 true}]"},
		{engine.Type{ID: engine.TypeNumericArray}, "{1.25,100}", func() any { return new([]float64) }, "[1.25 100]"},
		{engine.Type{ID: engine.TypeInt32Array}, "{}", func() any { return new([]int32) }, "[]"},
	} {
		fields := []engine.Field{{Name: "a", Type: tc.t}}
		b := buildBatch(fields, [][]any{{tc.text}}, false)
		for _, bin := range []bool{true, false} {
			var e rowEncoder
			if err := e.reset(b, fields, []bool{bin}); err != nil {
				t.Fatal(err)
			}
			vals := splitDataRow(t, e.appendRow(nil, 0))
			if !bin {
				if string(vals[0]) != tc.text {
					t.Errorf("%s text: %s, want %s", tc.t, vals[0], tc.text)
				}
				continue
			}
			dst := tc.dst()
			if err := pgtype.NewMap().Scan(tc.t.OID(), pgtype.BinaryFormatCode, vals[0], dst); err != nil {
				t.Fatalf("%s: pgx cannot decode %x: %v", tc.t, vals[0], err)
			}
			var got string
			switch d := dst.(type) {
			case *[]*int32:
				var s []any
				for _, p := range *d {
					if p == nil {
						s = append(s, nil)
					} else {
						s = append(s, *p)
					}
				}
				got = fmt.Sprint(s)
			default:
				got = fmt.Sprint(derefSlice(dst))
			}
			if got != tc.want {
				t.Errorf("%s binary: %s, want %s", tc.t, got, tc.want)
			}
		}
		b.Release()
	}
}

func derefSlice(p any) any {
	switch d := p.(type) {
	case *[]int64:
		return *d
	case *[]int16:
		return *d
	case *[]int32:
		return *d
	case *[]float64:
		return *d
	case *[]bool:
		return *d
	case *[]time.Time:
		return *d
	case *[]pgtype.Date:
		return *d
	case *[]pgtype.Interval:
		return *d
	}
	return p
}
