package sql

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/stratadb/strata/storage/store"
)

// tableLake is what a handoff left of one table: its Delta folder, the Parquet
// data files and the Delta log commits in it.
type tableLake struct {
	dir           string
	parquet, logs []string
}

// lakeRoundTrip runs queries over table, hands all of the table's rows to the
// lake (Delta version 1), and runs them again: a query that answers differently
// from the lake fails the test. It returns the answers from before the handoff
// and the table's lake files (at least one data file and one commit).
func lakeRoundTrip(t *testing.T, s *Session, st *store.Store, table string, queries []string) ([][][]string, tableLake) {
	t.Helper()
	before := make([][][]string, len(queries))
	for i, q := range queries {
		before[i] = collect(t, mustExec(t, s, q))
	}
	if res, err := st.Handoff(context.Background(), table, farFuture); err != nil || res.Version != 1 {
		t.Fatalf("handoff: %+v, %v", res, err)
	}
	for i, q := range queries {
		if got := collect(t, mustExec(t, s, q)); !reflect.DeepEqual(got, before[i]) {
			t.Errorf("%s\nfrom the lake: %v\nbefore the handoff: %v", q, got, before[i])
		}
	}
	def, _ := st.Table(table)
	l := tableLake{dir: filepath.Join(st.Dir(), "lake", strconv.FormatUint(def.ID, 10))}
	filepath.Walk(l.dir, func(p string, info os.FileInfo, err error) error {
		switch {
		case err != nil:
		case strings.HasSuffix(p, ".parquet") && !strings.Contains(p, "_delta_log"):
			l.parquet = append(l.parquet, p)
		case strings.HasSuffix(p, ".json") && strings.Contains(p, "_delta_log"):
			l.logs = append(l.logs, p)
		}
		return nil
	})
	if len(l.parquet) == 0 || len(l.logs) == 0 {
		t.Fatalf("no Parquet file or Delta log under %s", l.dir)
	}
	return before, l
}

// eachColumn calls check with column name's descriptor in every data file.
func (l tableLake) eachColumn(t *testing.T, name string, check func(file string, col *schema.Column)) {
	t.Helper()
	for _, f := range l.parquet {
		r, err := file.OpenParquetFile(f, false)
		if err != nil {
			t.Fatal(err)
		}
		check(f, r.MetaData().Schema.Column(r.MetaData().Schema.ColumnIndexByName(name)))
		r.Close()
	}
}

// firstLog is the text of the table's first Delta commit (its schema).
func (l tableLake) firstLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(l.logs[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
