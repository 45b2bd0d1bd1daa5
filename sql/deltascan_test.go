package sql

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stratadb/strata/internal/sqlstate"
)

// TestDeltaScan reads real Delta tables (written by Spark, Databricks and delta-rs)
// through SQL: count(*) at the latest version equals the row count in
// storage/lake/testdata/delta/MANIFEST.md (deletion vectors, column mapping,
// checkpoints, partitions), and the rows work with filters, grouping and joins.
func TestDeltaScan(t *testing.T) {
	s, _ := newTestSession(t)
	root, err := filepath.Abs("../storage/lake/testdata/delta")
	if err != nil {
		t.Fatal(err)
	}
	// Expected counts: MANIFEST.md's "rows @latest" column.
	for table, want := range map[string]string{
		"simple_table":                         "3",
		"simple_table_with_checkpoint":         "11",
		"delta-0.8.0-partitioned":              "7",
		"delta-0.8.0-null-partition":           "2",
		"table-with-dv-small":                  "8",
		"table_with_column_mapping":            "5",
		"dv-partitioned-with-checkpoint":       "35",
		"multi-part-checkpoint":                "31",
		"v2-checkpoint-parquet":                "10",
		"basic-with-inserts-overwrite-restore": "200",
		"delta-0.8-empty":                      "0",
	} {
		q := "SELECT count(*) FROM delta_scan('" + filepath.Join(root, table) + "')"
		got := collect(t, mustExec(t, s, q))
		if got[0][0] != want {
			t.Errorf("%s: count %s, want %s (MANIFEST.md)", table, got[0][0], want)
		}
	}
	// Partition values come from the log: the 7 rows of delta-0.8.0-partitioned spread
	// over its year partitions.
	p := filepath.Join(root, "delta-0.8.0-partitioned")
	got := collect(t, mustExec(t, s, "SELECT year, count(*) FROM delta_scan('"+p+"') d GROUP BY year ORDER BY year"))
	total := 0
	for _, r := range got {
		var n int
		for _, ch := range r[1] {
			n = n*10 + int(ch-'0')
		}
		total += n
	}
	if len(got) == 0 || total != 7 {
		t.Errorf("grouped by year: %v", got)
	}
	// SELECT * shows the table's columns, not the hidden time column.
	res := mustExec(t, s, "SELECT * FROM delta_scan('"+p+"') LIMIT 1")
	for _, f := range res.Fields {
		if f.Name == "__time" {
			t.Errorf("SELECT * shows the hidden __time column")
		}
	}
	res.Rows.Close()
	// A missing table (under a lake root) is a clear error.
	st, err := s.Prepare(context.Background(), "SELECT count(*) FROM delta_scan('"+filepath.Join(t.TempDir(), "nonexistent")+"')", nil)
	if err == nil {
		_, err = s.Execute(context.Background(), st, nil)
	}
	if !codeIs(err, sqlstate.UndefinedTable) {
		t.Errorf("missing table: %v", err)
	}
}
