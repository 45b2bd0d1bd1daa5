package ingest

import (
	"errors"
	"testing"

	"github.com/stratadb/strata/storage"
)

// TestDateAndCharColumns checks date and char(n) columns in COPY and in Kafka
// records as PostgreSQL stores them: a date as days since 1970 (a timestamp's
// date accepted, as PostgreSQL's date input does; a bad date rejected with its
// message), a char(n) value without its trailing spaces, a longer one rejected.
func TestDateAndCharColumns(t *testing.T) {
	schema := &storage.Schema{Columns: []storage.Column{
		{Name: "t", Type: storage.TypeTimestamp, SQLType: "timestamp", NotNull: true},
		{Name: "day", Type: storage.TypeInt64, SQLType: "date"},
		{Name: "cc", Type: storage.TypeString, SQLType: "bpchar", TypMod: 2 + 4},
	}}
	res := decodeAll(t, schema, Options{Format: CSV}, ""+
		"2023-10-01 12:00:00,2023-10-01,CN\n"+
		"2023-10-01 12:00:00,1969-12-31,U \n"+
		"2023-10-01 12:00:00,2024-02-29 23:59:59,é     \n"+
		"2023-10-01 12:00:00,,\n"+
		"2023-10-01 12:00:00,2023-02-30,CN\n"+
		"2023-10-01 12:00:00,someday,CN\n"+
		"2023-10-01 12:00:00,2023-10-01,USA\n")
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, [][]any{{noon, int64(19631), "CN"}, {noon, int64(-1), "U"}, {noon, int64(19782), "é"}, {noon, null, null}})
	checkRejects(t, res.stats, []Reject{
		{5, `line 5: date/time field value out of range: "2023-02-30" (column day)`},
		{6, `line 6: invalid input syntax for type date: "someday" (column day)`},
		{7, `line 7: value too long for type character(2) (column cc)`},
	})

	d, err := NewRecordDecoder(schema, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := storage.NewColumns(schema, 0)
	row, err := recordRow(t, d, dst, []byte(`{"t":"2023-10-01 12:00:00","day":"2023-10-01","cc":"x   "}`))
	if err != nil || row["day"] != int64(19631) || row["cc"] != "x" {
		t.Errorf("record: %v, %v; want day 19631 and cc %q", row, err, "x")
	}
	var re *RecordError
	if _, err := recordRow(t, d, dst, []byte(`{"t":"2023-10-01 12:00:00","cc":"xyz"}`)); !errors.As(err, &re) ||
		re.Column != "cc" || re.Reason != `value too long for type character(2) (column cc)` {
		t.Errorf("record with 3 characters: %v, want a RecordError in column cc", err)
	}
	if _, err := recordRow(t, d, dst, []byte(`{"t":"2023-10-01 12:00:00","day":19631}`)); !errors.As(err, &re) ||
		re.Column != "day" || re.Reason != `invalid input syntax for type date: "19631" (column day)` {
		t.Errorf("record with a number for a date: %v, want a RecordError in column day", err)
	}
}
