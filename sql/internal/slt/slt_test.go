package slt

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewritePG = flag.Bool("rewrite", false, "rewrite expected rows of ../../testdata/*.slt from PostgreSQL")

// TestPostgresOnly checks sql/testdata/*.slt against PostgreSQL alone (the strata side
// runs in package sql's TestSLT). It proves the expected rows independently of strata.
func TestPostgresOnly(t *testing.T) {
	if os.Getenv("STRATA_PG_TEST") != "1" && os.Getenv("CI") != "true" {
		t.Skip("set STRATA_PG_TEST=1 to run against PostgreSQL 15 (apt-get install -y postgresql-15)")
	}
	pg := StartPG(t)
	if pg == nil {
		t.Skip("PostgreSQL 15 not installed: apt-get install -y postgresql-15")
	}
	files, _ := filepath.Glob("../../testdata/*.slt")
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".slt")
		t.Run(name, func(t *testing.T) {
			recs, trailer, err := Parse(path)
			if err != nil {
				t.Fatal(err)
			}
			conn := pg.Database(t, "slt_"+name)
			defer conn.Close(context.Background())
			rows := RunFile(t, "postgres", &PGRunner{Conn: conn}, path, recs, *rewritePG)
			if *rewritePG {
				for i, rec := range recs {
					if r, ok := rows[i]; ok {
						rec.Expected = r
					}
				}
				if err := Write(path, recs, trailer); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestParseWriteRoundTrip(t *testing.T) {
	const src = `# comment

statement ok
CREATE TABLE t (ts timestamptz NOT NULL, v int)

onlyif strata
statement error 42P01
SELECT * FROM nope

query IT rowsort
SELECT 1, 'a b'
----
1	a b
`
	dir := t.TempDir()
	path := filepath.Join(dir, "x.slt")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, trailer, err := Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[1].onlyif != "strata" || recs[1].errCode != "42P01" || !recs[2].rowsort || recs[2].Expected[0][1] != "a b" {
		t.Fatalf("parsed %+v", recs)
	}
	if err := Write(path, recs, trailer); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != src {
		t.Fatalf("round trip changed the file:\n%s", got)
	}
}
