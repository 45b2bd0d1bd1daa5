package sql

import (
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// TestUUIDIntervalLakeRoundTrip: uuid and interval columns answer the same
// after a handoff as before it (filters pruned by the files' statistics
// included); the lake holds them as Parquet BYTE_ARRAY STRING of the uuid's
// canonical text and the interval's output text, Delta "string" columns (Delta
// has no uuid or interval type; Spark, DuckDB and delta-rs read the text, and
// an interval as months, days and microseconds has no lossless Delta type), and
// delta_scan of the table's Delta folder reads them back as text.
func TestUUIDIntervalLakeRoundTrip(t *testing.T) {
	s, st := newTestSession(t)
	mustExec(t, s, "CREATE TABLE uev (ts timestamptz NOT NULL, id uuid, qty int, d interval)")
	mustExec(t, s, `INSERT INTO uev VALUES ('2020-01-01 00:00:00+00', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 1, '1 mon'),
		('2020-01-01 01:00:00+00', '{00000000-0000-0000-0000-000000000002}', 2, '30 days'), ('2020-01-01 02:00:00+00', NULL, 3, NULL),
		('2020-01-01 03:00:00+00', 'ffffffffffffffffffffffffffffffff', 4, '-1 days +02:03:04.000005')`)
	queries := []string{
		"SELECT id, qty FROM uev ORDER BY ts",
		"SELECT qty FROM uev WHERE id = 'a0eebc999c0b4ef8bb6d6bb9bd380a11'",
		"SELECT count(*) FROM uev WHERE id > '10000000-0000-0000-0000-000000000000'",
		"SELECT id FROM uev ORDER BY id NULLS FIRST",
		"SELECT pg_typeof(id)::text, id::text FROM uev WHERE qty = 2",
		"SELECT d, ts + d FROM uev ORDER BY d, qty",
		"SELECT count(*) FROM uev WHERE d = interval '720 hours'",
		"SELECT sum(d), avg(d), count(DISTINCT d) FROM uev",
	}
	before, lake := lakeRoundTrip(t, s, st, "uev", queries)
	if want := [][]string{{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "1"}, {"00000000-0000-0000-0000-000000000002", "2"}, {"NULL", "3"}, {"ffffffff-ffff-ffff-ffff-ffffffffffff", "4"}}; !reflect.DeepEqual(before[0], want) {
		t.Errorf("rows: %v, want %v", before[0], want)
	}
	if want := [][]string{{"1"}}; !reflect.DeepEqual(before[1], want) {
		t.Errorf("filter: %v, want %v", before[1], want)
	}
	if want := [][]string{{"2"}}; !reflect.DeepEqual(before[6], want) {
		t.Errorf("interval filter: %v, want %v", before[6], want)
	}

	log := lake.firstLog(t)
	for _, name := range []string{"id", "d"} {
		lake.eachColumn(t, name, func(f string, col *schema.Column) {
			if _, ok := col.LogicalType().(schema.StringLogicalType); !ok || col.PhysicalType() != parquet.Types.ByteArray {
				t.Errorf("%s: column %s is %s %s, want BYTE_ARRAY STRING", f, name, col.PhysicalType(), col.LogicalType())
			}
		})
		if !strings.Contains(log, `{\"name\":\"`+name+`\",\"type\":\"string\"`) {
			t.Errorf("Delta schema of %s is not string: %s", name, log)
		}
	}

	got := collect(t, mustExec(t, s, "SELECT id, pg_typeof(id)::text, d, d::interval FROM delta_scan('"+lake.dir+"') WHERE id < 'b' ORDER BY id"))
	if want := [][]string{{"00000000-0000-0000-0000-000000000002", "text", "30 days", "30 days"}, {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "text", "1 mon", "1 mon"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("delta_scan: %v, want %v", got, want)
	}
}
