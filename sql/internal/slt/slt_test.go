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
	pg := StartPG(t) // fails under CI=true when PostgreSQL 15 is missing
	if pg == nil {
		t.Skip("PostgreSQL 15 server not installed: expected rows NOT proven (apt-get install -y postgresql-15)")
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
				// Records only strata runs keep their rows: pass them as strata's.
				keep := map[int]Result{}
				for i, rec := range recs {
					if !rec.RunsOn("postgres") && rec.kind == "query" {
						keep[i] = Result{Rows: rec.Expected, OIDs: oidsOf(rec.types)}
					}
				}
				if err := Rewrite(path, recs, rows, keep); err != nil {
					t.Fatal(err)
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

// oidsOf is an OID per letter with that letter (the inverse of TypeLetter).
func oidsOf(letters string) []uint32 {
	oids := make([]uint32, len(letters))
	for i, l := range letters {
		oids[i] = map[rune]uint32{'I': 20, 'R': 701, 'B': 16}[l]
		if oids[i] == 0 {
			oids[i] = 25
		}
	}
	return oids
}

// TestRewriteRefusesWithoutPostgres is the mutant "a rewrite run without
// PostgreSQL": strata's rows offered for records PostgreSQL checks are refused
// and the file's records stay as they were; a record only strata runs is
// rewritten from strata.
func TestRewriteRefusesWithoutPostgres(t *testing.T) {
	const src = `statement ok
CREATE TABLE t (v int)

query I
SELECT 1
----
1

onlyif strata
query T
SELECT strata_only()
----
old
`
	path := filepath.Join(t.TempDir(), "x.slt")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, _, err := Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	fromStrata := map[int]Result{
		1: {Rows: [][]string{{"2"}}, OIDs: []uint32{20}}, // wrong, and PostgreSQL checks it
		2: {Rows: [][]string{{"new"}}, OIDs: []uint32{25}},
	}
	err = Rewrite(path, recs, nil, fromStrata)
	if err == nil || !strings.Contains(err.Error(), "x.slt:4") {
		t.Fatalf("Rewrite without PostgreSQL = %v, want a refusal naming x.slt:4", err)
	}
	if recs[1].Expected[0][0] != "1" || recs[2].Expected[0][0] != "old" {
		t.Fatalf("a refused rewrite changed records: %v %v", recs[1].Expected, recs[2].Expected)
	}
	t.Logf("refused: %v", err)

	fromPG := map[int]Result{1: {Rows: [][]string{{"1"}}, OIDs: []uint32{23}}}
	if err := Rewrite(path, recs, fromPG, fromStrata); err != nil {
		t.Fatal(err)
	}
	if recs[1].Expected[0][0] != "1" || recs[2].Expected[0][0] != "new" || recs[1].types != "I" {
		t.Fatalf("rewrite with PostgreSQL: %v %v", recs[1].Expected, recs[2].Expected)
	}
}

func TestTypeLetters(t *testing.T) {
	// int4, int8, numeric, float8, bool, text, timestamptz, interval
	if got := Letters([]uint32{23, 20, 1700, 701, 16, 25, 1184, 1186}); got != "IIRRBTTT" {
		t.Fatalf("Letters = %s", got)
	}
}
