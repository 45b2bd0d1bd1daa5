package pgwire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// decodeWithPgx decodes a binary numeric with pgx's own codec, an independent decoder.
func decodeWithPgx(t testing.TB, body []byte) pgtype.Numeric {
	t.Helper()
	var n pgtype.Numeric
	if err := pgtype.NewMap().Scan(1700, pgtype.BinaryFormatCode, body, &n); err != nil {
		t.Fatalf("pgx cannot decode %x: %v", body, err)
	}
	return n
}

func numericBody(f float64) []byte {
	b, ok := appendBinaryFloat(nil, f, engine.Numeric)
	if !ok {
		panic("not numeric")
	}
	return b[4:]
}

func TestNumericBinaryBytes(t *testing.T) {
	cases := []struct {
		f    float64
		want []uint16 // ndigits, weight, sign, dscale, digits...
	}{
		{0, []uint16{0, 0, 0, 0}},
		{1, []uint16{1, 0, 0, 0, 1}},
		{123.45, []uint16{2, 0, 0, 2, 123, 4500}},
		{-0.001, []uint16{1, 0xffff, 0x4000, 3, 10}},
		{1e20, []uint16{1, 5, 0, 0, 1}},
		{12345678.9, []uint16{3, 1, 0, 1, 1234, 5678, 9000}},
		{math.NaN(), []uint16{0, 0, 0xC000, 0}},
		{math.Inf(1), []uint16{0, 0, 0xD000, 0}},
		{math.Inf(-1), []uint16{0, 0, 0xF000, 0}},
	}
	for _, c := range cases {
		var want []byte
		for _, w := range c.want {
			want = binary.BigEndian.AppendUint16(want, w)
		}
		if got := numericBody(c.f); !bytes.Equal(got, want) {
			t.Errorf("%v: got %x, want %x", c.f, got, want)
		}
	}
}

func checkNumericRoundTrip(t testing.TB, f float64) {
	body := numericBody(f)
	n := decodeWithPgx(t, body)
	g, err := n.Float64Value()
	if err != nil {
		t.Fatalf("%v: %v", f, err)
	}
	if !(g.Float64 == f || math.IsNaN(f) && math.IsNaN(g.Float64)) {
		t.Fatalf("%v: pgx decoded %v from %x", f, g.Float64, body)
	}
	mine, err := decodeNumeric(body)
	if err != nil || !(mine == f || math.IsNaN(f) && math.IsNaN(mine)) {
		t.Fatalf("%v: decodeNumeric %v, %v", f, mine, err)
	}
}

func TestNumericBinaryRoundTrip(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.1, 0.3, 123.45, -0.001, 1e20, 1.5e-7, 12345678.9, 1 / 3.0, math.Pi,
		math.MaxFloat64, math.SmallestNonzeroFloat64, -math.MaxFloat64, 9007199254740993, 1e-310, math.NaN(), math.Inf(1), math.Inf(-1)} {
		checkNumericRoundTrip(t, f)
	}
	for _, i := range []int64{0, 1, -1, 9999, 10000, -10001, 100000000, math.MaxInt64, math.MinInt64} {
		b, _ := appendBinaryInt(nil, i, engine.Numeric)
		n := decodeWithPgx(t, b[4:])
		g, err := n.Int64Value()
		if err != nil || g.Int64 != i {
			t.Errorf("%d: pgx decoded %v, %v from %x", i, g.Int64, err, b[4:])
		}
	}
}

func FuzzNumericBinary(f *testing.F) {
	for _, s := range []float64{0, 1, 123.45, -0.001, 1e20, 5e-324, math.MaxFloat64} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v float64) { checkNumericRoundTrip(t, v) })
}

func TestDecodeParam(t *testing.T) {
	u16 := func(v ...uint16) []byte {
		var b []byte
		for _, x := range v {
			b = binary.BigEndian.AppendUint16(b, x)
		}
		return b
	}
	cases := []struct {
		name   string
		oid    uint32
		want   engine.Type
		format int16
		data   []byte
		out    engine.Value
		code   string
	}{
		{"null", 20, engine.Int64, 1, nil, engine.NullValue(engine.Int64), ""},
		{"text", 0, engine.Int64, 0, []byte("42"), engine.Value{Type: engine.Unknown, S: "42"}, ""},
		{"text not utf8", 0, engine.Text, 0, []byte{0xff}, engine.Value{}, "22021"},
		{"int2", 21, engine.Int16, 1, []byte{0xff, 0xfe}, engine.Value{Type: engine.Int16, I: -2}, ""},
		{"int4 towards int8", 23, engine.Int64, 1, []byte{0, 0, 1, 0}, engine.Value{Type: engine.Int64, I: 256}, ""},
		{"int8", 20, engine.Int64, 1, []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, engine.Value{Type: engine.Int64, I: math.MinInt64}, ""},
		{"int8 short", 20, engine.Int64, 1, []byte{0, 0, 0, 1}, engine.Value{}, "22P03"},
		{"int8 towards float8", 20, engine.Float64, 1, []byte{0, 0, 0, 0, 0, 0, 0, 3}, engine.Value{Type: engine.Float64, F: 3}, ""},
		{"float4", 700, engine.Float32, 1, []byte{0x3f, 0xc0, 0, 0}, engine.Value{Type: engine.Float32, F: 1.5}, ""},
		{"float8", 701, engine.Float64, 1, []byte{0xbf, 0xf8, 0, 0, 0, 0, 0, 0}, engine.Value{Type: engine.Float64, F: -1.5}, ""},
		{"bool", 16, engine.Bool, 1, []byte{1}, engine.Value{Type: engine.Bool, B: true}, ""},
		{"varchar", 1043, engine.Text, 1, []byte("héllo"), engine.Value{Type: engine.Text, S: "héllo"}, ""},
		{"timestamptz", 1184, engine.TimestampTZ, 1, []byte{0, 0, 0, 0, 0, 0, 0, 1}, engine.Value{Type: engine.TimestampTZ, I: 946684800000001}, ""},
		{"timestamp infinity", 1114, engine.Timestamp, 1, []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, engine.Value{Type: engine.Timestamp, I: math.MaxInt64}, ""},
		{"date", 1082, engine.Date, 1, []byte{0xff, 0xff, 0xff, 0xff}, engine.Value{Type: engine.Date, I: 10956}, ""},
		{"interval", 1186, engine.Interval, 1, []byte{0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff}, engine.Value{Type: engine.Interval, I: 7, Days: 2, Months: -1}, ""},
		{"numeric", 1700, engine.Numeric, 1, u16(2, 0, 0x4000, 2, 123, 4500), engine.Value{Type: engine.Numeric, F: -123.45, S: "-123.45"}, ""},
		{"numeric bad digit", 1700, engine.Numeric, 1, u16(1, 0, 0, 0, 10000), engine.Value{}, "22P03"},
		{"numeric bad sign", 1700, engine.Numeric, 1, u16(0, 0, 0x1234, 0), engine.Value{}, "22P03"},
		{"numeric bad length", 1700, engine.Numeric, 1, u16(3, 0, 0, 0, 1), engine.Value{}, "22P03"},
		{"uuid", 2950, engine.UUID, 1, []byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}, engine.Value{Type: engine.UUID, S: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, ""},
		{"uuid short", 2950, engine.UUID, 1, make([]byte, 15), engine.Value{}, "22P03"},
		{"undescribed type", 2951, engine.Unknown, 1, make([]byte, 16), engine.Value{}, "22P03"},
		{"format 2", 20, engine.Int64, 2, []byte("1"), engine.Value{}, "08P01"},
		{"undeclared binary uses the statement type", 0, engine.Int32, 1, []byte{0, 0, 0, 9}, engine.Value{Type: engine.Int32, I: 9}, ""},
	}
	for _, c := range cases {
		v, err := decodeParam(c.oid, c.want, c.format, c.data)
		if c.code != "" {
			if r := errorResponse(err); err == nil || r.Code != c.code {
				t.Errorf("%s: err %v, want code %s", c.name, err, c.code)
			}
			continue
		}
		if err != nil || v != c.out {
			t.Errorf("%s: got %+v, %v; want %+v", c.name, v, err, c.out)
		}
	}
}

func FuzzDecodeParam(f *testing.F) {
	f.Add(uint32(1700), int16(1), []byte{0, 2, 0, 0, 0x40, 0, 0, 2, 0, 123, 0x11, 0x94})
	f.Add(uint32(20), int16(1), []byte{0, 0, 0, 0, 0, 0, 0, 1})
	f.Add(uint32(1184), int16(1), []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe})
	f.Add(uint32(25), int16(0), []byte("text"))
	f.Add(uint32(1186), int16(1), make([]byte, 16))
	f.Fuzz(func(t *testing.T, oid uint32, format int16, data []byte) {
		v, err := decodeParam(oid, typeForOID(oid), format, data)
		if err != nil {
			if r := errorResponse(err); r.Code == sqlstate.InternalError {
				t.Fatalf("decode error without a SQLSTATE: %v", err)
			}
			return
		}
		if oid == 1700 && format == 1 && data != nil {
			again, err := decodeNumeric(numericBody(v.F))
			if err != nil || !(again == v.F || math.IsNaN(again) && math.IsNaN(v.F)) {
				t.Fatalf("numeric %x → %v → %v, %v", data, v.F, again, err)
			}
		}
	})
}

func TestBinaryTimes(t *testing.T) {
	// Binary timestamps and dates count from 2000-01-01; pgx decodes them independently.
	fields := []engine.Field{{Name: "ts", Type: engine.TimestampTZ}, {Name: "d", Type: engine.Date}, {Name: "i", Type: engine.Interval}}
	when := time.Date(1969, 7, 20, 20, 17, 40, 123456000, time.UTC)
	b := buildBatch(fields, [][]any{{when, when.Truncate(24 * time.Hour), ival{-3, 40, -1}}}, false)
	defer b.Release()
	var e rowEncoder
	if err := e.reset(b, fields, []bool{true, true, true}); err != nil {
		t.Fatal(err)
	}
	row := e.appendRow(nil, 0)
	m := pgtype.NewMap()
	vals := splitDataRow(t, row)
	var ts, d time.Time
	var iv pgtype.Interval
	if err := m.Scan(1184, 1, vals[0], &ts); err != nil || !ts.Equal(when) {
		t.Errorf("timestamptz %v %v", ts, err)
	}
	if err := m.Scan(1082, 1, vals[1], &d); err != nil || !d.Equal(time.Date(1969, 7, 20, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date %v %v", d, err)
	}
	if err := m.Scan(1186, 1, vals[2], &iv); err != nil || iv != (pgtype.Interval{Months: -3, Days: 40, Microseconds: -1, Valid: true}) {
		t.Errorf("interval %+v %v", iv, err)
	}
}

// splitDataRow parses a DataRow message by hand.
func splitDataRow(t testing.TB, msg []byte) [][]byte {
	if msg[0] != 'D' || int(binary.BigEndian.Uint32(msg[1:])) != len(msg)-1 {
		t.Fatalf("bad DataRow header %x", msg[:7])
	}
	n := int(binary.BigEndian.Uint16(msg[5:]))
	p := 7
	var out [][]byte
	for range n {
		l := int(int32(binary.BigEndian.Uint32(msg[p:])))
		p += 4
		if l < 0 {
			out = append(out, nil)
			continue
		}
		out = append(out, msg[p:p+l])
		p += l
	}
	if p != len(msg) {
		t.Fatalf("DataRow has %d trailing bytes", len(msg)-p)
	}
	return out
}

func TestLeadingWords(t *testing.T) {
	for q, want := range map[string][3]string{
		"  rollback to savepoint a":         {"ROLLBACK", "TO", "SAVEPOINT"},
		"/* c /* nested */ */ Commit;":      {"COMMIT", "", ""},
		"-- x\nBEGIN":                       {"BEGIN", "", ""},
		"select 1":                          {"SELECT", "", ""},
		"":                                  {"", "", ""},
		"/* unterminated":                   {"", "", ""},
		"rollback transaction to savepoint": {"ROLLBACK", "TRANSACTION", "TO"},
	} {
		if got := leadingWords(q); got != want {
			t.Errorf("%q: %q, want %q", q, got, want)
		}
	}
}

// BenchmarkDataRows encodes 1M rows × 5 columns (bigint, double, dictionary text,
// timestamptz, boolean) into DataRow messages, flushing every flushSize bytes.
func BenchmarkDataRows(b *testing.B) {
	fields := []engine.Field{{Name: "id", Type: engine.Int64}, {Name: "price", Type: engine.Float64},
		{Name: "name", Type: engine.Text}, {Name: "ts", Type: engine.TimestampTZ}, {Name: "ok", Type: engine.Bool}}
	const batchRows, totalRows = 8192, 1 << 20
	rows := make([][]any, batchRows)
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	names := []string{"alpha", "beta", "gamma", "delta"}
	for i := range rows {
		var ok any = i%3 == 0
		if i%10 == 0 {
			ok = nil
		}
		rows[i] = []any{int64(i * 7919), float64(i) * 1.25, names[i%len(names)], base.Add(time.Duration(i) * 1234567 * time.Microsecond), ok}
	}
	batch := buildBatch(fields, rows, true)
	defer batch.Release()
	for _, bin := range []bool{false, true} {
		name := "text"
		if bin {
			name = "binary"
		}
		b.Run(name, func(b *testing.B) {
			var e rowEncoder
			formats := []bool{bin, bin, bin, bin, bin}
			buf := make([]byte, 0, 2*flushSize)
			var total int64
			b.ReportAllocs()
			for b.Loop() {
				total = 0
				for done := 0; done < totalRows; done += batchRows {
					if err := e.reset(batch, fields, formats); err != nil {
						b.Fatal(err)
					}
					for r := range batchRows {
						buf = e.appendRow(buf, r)
						if len(buf) >= flushSize {
							total += int64(len(buf))
							buf = buf[:0]
						}
					}
				}
			}
			b.SetBytes(total)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*totalRows), "ns/row")
		})
	}
	_ = arrow.PrimitiveTypes.Int64
}

// TestTextMatchesEngine checks the text fast paths against engine.AppendText, the
// engine's own text output (what ::text casts print), over random and edge values.
func TestTextMatchesEngine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-4, 9.99e-5, 1e-5, 123456789012345, 1e15, 999999999999999.9, 1e6, 999999, 1e100,
		-2.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 100, 1.5, 3.25e7}
	for range 20000 {
		floats = append(floats, math.Float64frombits(rng.Uint64()), rng.NormFloat64()*math.Pow(10, float64(rng.IntN(40)-20)), float64(rng.IntN(2000000)-1000000))
	}
	times := []int64{0, -1, 1, math.MaxInt64, math.MinInt64, -62135596800000000, -62135596800000001, 253402300799999999, 253402300800000000}
	for range 20000 {
		times = append(times, rng.Int64N(1<<50)-1<<49, rng.Int64()>>4)
	}
	dates := []int64{0, -1, -719162, -719163, 2932896, 2932897, math.MaxInt32, math.MinInt32}
	for range 5000 {
		dates = append(dates, rng.Int64N(1<<22)-1<<21)
	}
	check := func(fields []engine.Field, rows [][]any) {
		t.Helper()
		b := buildBatch(fields, rows, false)
		defer b.Release()
		var e rowEncoder
		if err := e.reset(b, fields, nil); err != nil {
			t.Fatal(err)
		}
		for r := range rows {
			vals := splitDataRow(t, e.appendRow(nil, r))
			for i := range fields {
				want := engine.AppendText(nil, b.Column(i), r, fields[i].Type)
				if !bytes.Equal(vals[i], want) {
					t.Errorf("%s %v: pgwire %q, engine %q", fields[i].Type, rows[r][i], vals[i], want)
				}
			}
		}
	}
	var rows [][]any
	for _, f := range floats {
		rows = append(rows, []any{f, float64(float32(f)), f})
	}
	check([]engine.Field{{Name: "d", Type: engine.Float64}, {Name: "r", Type: engine.Float32}, {Name: "n", Type: engine.Numeric}}, rows)
	rows = rows[:0]
	for _, us := range times {
		rows = append(rows, []any{time.UnixMicro(us), time.UnixMicro(us)})
	}
	check([]engine.Field{{Name: "ts", Type: engine.Timestamp}, {Name: "tz", Type: engine.TimestampTZ}}, rows)
	rows = rows[:0]
	for _, d := range dates {
		rows = append(rows, []any{time.Unix(d*86400, 0)})
	}
	check([]engine.Field{{Name: "d", Type: engine.Date}}, rows)
}

func TestDictionaryIndexTypes(t *testing.T) {
	for _, idxType := range []arrow.DataType{arrow.PrimitiveTypes.Uint32, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Uint16} {
		dt := &arrow.DictionaryType{IndexType: idxType, ValueType: arrow.BinaryTypes.String}
		bld := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
		for _, s := range []string{"b", "a", "b"} {
			if err := bld.AppendString(s); err != nil {
				t.Fatal(err)
			}
		}
		bld.AppendNull()
		arr := bld.NewArray()
		bld.Release()
		// Slice it so that the offset matters: rows "a", "b", NULL.
		sliced := array.NewSlice(arr, 1, 4)
		arr.Release()
		fields := []engine.Field{{Name: "s", Type: engine.Text}}
		rb := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "s", Type: dt, Nullable: true}}, nil), []arrow.Array{sliced}, 3)
		sliced.Release()
		var e rowEncoder
		for _, bin := range []bool{false, true} {
			if err := e.reset(rb, fields, []bool{bin}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for r := range 3 {
				v := splitDataRow(t, e.appendRow(nil, r))[0]
				if v == nil {
					got = append(got, "NULL")
				} else {
					got = append(got, string(v))
				}
			}
			if fmt.Sprint(got) != "[a b NULL]" {
				t.Errorf("%s binary=%v: %v", idxType, bin, got)
			}
		}
		rb.Release()
	}
}

// TestBinaryTextArray: a text[] asked for in binary leaves in array_send's form,
// which pgx decodes independently (elements, NULLs, the empty array).
func TestBinaryTextArray(t *testing.T) {
	fields := []engine.Field{{Name: "a", Type: engine.TextArray}}
	rows := [][]any{{`{a,"b c",NULL,"q\"",""}`}, {`{}`}}
	b := buildBatch(fields, rows, false)
	defer b.Release()
	var e rowEncoder
	if err := e.reset(b, fields, []bool{true}); err != nil {
		t.Fatal(err)
	}
	m := pgtype.NewMap()
	want := [][]*string{{ptr("a"), ptr("b c"), nil, ptr(`q"`), ptr("")}, {}}
	for r := range rows {
		vals := splitDataRow(t, e.appendRow(nil, r))
		var got []*string
		if err := m.Scan(1009, pgtype.BinaryFormatCode, vals[0], &got); err != nil {
			t.Fatalf("row %d: pgx cannot decode %x: %v", r, vals[0], err)
		}
		if len(got) != len(want[r]) {
			t.Fatalf("row %d: %d elements, want %d", r, len(got), len(want[r]))
		}
		for i := range got {
			if (got[i] == nil) != (want[r][i] == nil) || got[i] != nil && *got[i] != *want[r][i] {
				t.Errorf("row %d element %d: %v, want %v", r, i, got[i], want[r][i])
			}
		}
	}
}
