package ingest

import (
	"errors"
	"testing"

	"github.com/stratadb/strata/storage"
)

// TestUUIDColumns checks uuid columns in COPY and in Kafka records as
// PostgreSQL's uuid input reads them: every accepted form (upper case, braces,
// no hyphens, a hyphen after any four digits) stored in canonical form, anything
// else rejected with PostgreSQL's message; in a record, a number or boolean is
// no uuid.
func TestUUIDColumns(t *testing.T) {
	schema := &storage.Schema{Columns: []storage.Column{
		{Name: "t", Type: storage.TypeTimestamp, SQLType: "timestamp", NotNull: true},
		{Name: "id", Type: storage.TypeString, SQLType: "uuid"},
	}}
	const want = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
	res := decodeAll(t, schema, Options{Format: CSV}, ""+
		"2023-10-01 12:00:00,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\n"+
		"2023-10-01 12:00:00,A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\n"+
		"2023-10-01 12:00:00,{a0eebc999c0b4ef8bb6d6bb9bd380a11}\n"+
		"2023-10-01 12:00:00,\"a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11\"\n"+
		"2023-10-01 12:00:00,\n"+
		"2023-10-01 12:00:00,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1\n"+
		"2023-10-01 12:00:00, a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\n")
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, [][]any{{noon, want}, {noon, want}, {noon, want}, {noon, want}, {noon, null}})
	checkRejects(t, res.stats, []Reject{
		{6, `line 6: invalid input syntax for type uuid: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1" (column id)`},
		{7, `line 7: invalid input syntax for type uuid: " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" (column id)`},
	})

	d, err := NewRecordDecoder(schema, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := storage.NewColumns(schema, 0)
	for _, in := range []string{`"{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}"`, `"a0eebc999c0b4ef8bb6d6bb9bd380a11"`, `"` + want + `"`} {
		row, err := recordRow(t, d, dst, []byte(`{"t":"2023-10-01 12:00:00","id":`+in+`}`))
		if err != nil || row["id"] != want {
			t.Errorf("record with id %s: %v, %v; want id %s", in, row, err, want)
		}
	}
	var re *RecordError
	for _, in := range []string{`"nope"`, `12345678901234567890123456789012`, `true`, `{"a":1}`} {
		if _, err := recordRow(t, d, dst, []byte(`{"t":"2023-10-01 12:00:00","id":`+in+`}`)); !errors.As(err, &re) || re.Column != "id" {
			t.Errorf("record with id %s: %v, want a RecordError in column id", in, err)
		}
	}
}

// TestIntervalColumns checks interval columns in COPY and in Kafka records:
// PostgreSQL's interval input stored in its output form (which the engine reads
// back exactly), anything else rejected with PostgreSQL's message.
func TestIntervalColumns(t *testing.T) {
	schema := &storage.Schema{Columns: []storage.Column{
		{Name: "t", Type: storage.TypeTimestamp, SQLType: "timestamp", NotNull: true},
		{Name: "d", Type: storage.TypeString, SQLType: "interval"},
	}}
	res := decodeAll(t, schema, Options{Format: CSV}, ""+
		"2023-10-01 12:00:00,1 day 2 hours\n"+
		"2023-10-01 12:00:00,P1Y2M\n"+
		"2023-10-01 12:00:00,\"-1 days +02:03:04.5\"\n"+
		"2023-10-01 12:00:00,90 minutes ago\n"+
		"2023-10-01 12:00:00,\n"+
		"2023-10-01 12:00:00,1 fortnight\n")
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, [][]any{{noon, "1 day 02:00:00"}, {noon, "1 year 2 mons"}, {noon, "-1 days +02:03:04.5"}, {noon, "-01:30:00"}, {noon, null}})
	checkRejects(t, res.stats, []Reject{
		{6, `line 6: invalid input syntax for type interval: "1 fortnight" (column d)`},
	})
	d, err := NewRecordDecoder(schema, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := storage.NewColumns(schema, 0)
	if row, err := recordRow(t, d, dst, []byte(`{"t":"2023-10-01 12:00:00","d":"@ 3 days"}`)); err != nil || row["d"] != "3 days" {
		t.Errorf("record: %v, %v; want d 3 days", row, err)
	}
	var re *RecordError
	for _, in := range []string{`"nope"`, `3`, `true`} {
		if _, err := recordRow(t, d, dst, []byte(`{"t":"2023-10-01 12:00:00","d":`+in+`}`)); !errors.As(err, &re) || re.Column != "d" {
			t.Errorf("record with d %s: %v, want a RecordError in column d", in, err)
		}
	}
}

// TestNumericTextColumns checks numeric columns kept as canonical text
// (storage/numeric.go) in COPY and in Kafka records: numeric keeps each value's
// display scale, numeric(30,10) rounds to 10 digits half away from zero, a value
// too wide for it or bad text is a rejected row; in a record a JSON number is
// read exactly, never through a float.
func TestNumericTextColumns(t *testing.T) {
	schema := &storage.Schema{Columns: []storage.Column{
		{Name: "t", Type: storage.TypeTimestamp, SQLType: "timestamp", NotNull: true},
		{Name: "u", Type: storage.TypeString, SQLType: "numeric"},
		{Name: "w", Type: storage.TypeString, SQLType: "numeric", TypMod: 30<<16 | 10 + 4},
	}}
	res := decodeAll(t, schema, Options{Format: CSV}, ""+
		"2023-10-01 12:00:00,19.990,12345678901234567890.12345678905\n"+
		"2023-10-01 12:00:00, +1.5e2 ,-0.00000000004\n"+
		"2023-10-01 12:00:00,NaN,\n"+
		"2023-10-01 12:00:00,1.2.3,1\n"+
		"2023-10-01 12:00:00,1,123456789012345678901\n"+
		"2023-10-01 12:00:00,1,Infinity\n")
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, [][]any{
		{noon, "19.990", "12345678901234567890.1234567891"},
		{noon, "150", "0.0000000000"},
		{noon, "NaN", null},
	})
	checkRejects(t, res.stats, []Reject{
		{4, `line 4: invalid input syntax for type numeric: "1.2.3" (column u)`},
		{5, `line 5: numeric field overflow: "123456789012345678901" does not fit the column's precision and scale (column w)`},
		{6, `line 6: numeric field overflow: "Infinity" does not fit the column's precision and scale (column w)`},
	})
	d, err := NewRecordDecoder(schema, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := storage.NewColumns(schema, 0)
	row, err := recordRow(t, d, dst, []byte(`{"t":"2023-10-01 12:00:00","u":0.10000000000000000001,"w":"7.25"}`))
	if err != nil || row["u"] != "0.10000000000000000001" || row["w"] != "7.2500000000" {
		t.Errorf("record: %v, %v; want u 0.10000000000000000001, w 7.2500000000", row, err)
	}
	var re *RecordError
	for _, in := range []string{`"nope"`, `true`, `1e30`} {
		if _, err := recordRow(t, d, dst, []byte(`{"t":"2023-10-01 12:00:00","w":`+in+`}`)); !errors.As(err, &re) || re.Column != "w" {
			t.Errorf("record with w %s: %v, want a RecordError in column w", in, err)
		}
	}
}
