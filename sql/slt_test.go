package sql

// TestSLT runs the sqllogictest-style files in testdata/*.slt against strata and, when
// STRATA_PG_TEST=1 or CI=true, against a private PostgreSQL 15 server, so that every
// expected row in the files is proven by PostgreSQL.
//
// File format (one record per paragraph, '#' starts a comment line):
//
//	onlyif strata|postgres       (optional, before a record: run it on one side only)
//	skipif strata|postgres
//	statement ok
//	<sql>
//
//	statement error <SQLSTATE>
//	<sql>
//
//	query <types> [rowsort]
//	<sql>
//	----
//	<rows: values separated by tabs (or single spaces when no value has one), NULL for NULL, (empty) for ''>
//
// types has one letter per column: I integer, R float/numeric (compared rounded to 6
// significant digits, so PostgreSQL's numeric and strata's float8 agree), T text (also
// timestamps, intervals), B boolean (t/f). rowsort sorts rows before comparing.
//
//	go test ./sql -run TestSLT -rewrite   regenerates the expected rows (from
//	                                      PostgreSQL when it runs, else from strata)

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/sql/internal/slt"
	"github.com/stratadb/strata/sql/opt"
	"github.com/stratadb/strata/storage/store"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/*.slt")

// strataRunner runs SQL through this package.
type strataRunner struct{ s *Session }

func (r *strataRunner) Run(ctx context.Context, query string) ([]string, [][]string, string, error) {
	stmts, err := Split(query)
	if err != nil {
		return nil, nil, codeOf(err), err
	}
	var rows [][]string
	var names []string
	for _, q := range stmts {
		st, err := r.s.Prepare(ctx, q, nil)
		if err != nil {
			return nil, nil, codeOf(err), err
		}
		res, err := r.s.Execute(ctx, st, nil)
		if err != nil {
			return nil, nil, codeOf(err), err
		}
		if res.Rows == nil {
			rows, names = nil, nil
			continue
		}
		rows, names = nil, nil
		for _, f := range res.Fields {
			names = append(names, f.Name)
		}
		err = func() error {
			defer res.Rows.Close()
			for {
				rec, err := res.Rows.Next(ctx)
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				for i := 0; i < int(rec.NumRows()); i++ {
					row := make([]string, rec.NumCols())
					for j := range row {
						col := rec.Column(j)
						if col.IsNull(i) {
							row[j] = "NULL"
							continue
						}
						row[j] = string(engine.AppendText(nil, col, i, res.Fields[j].Type))
					}
					rows = append(rows, row)
				}
				rec.Release()
			}
		}()
		if err != nil {
			return nil, nil, codeOf(err), err
		}
	}
	return names, rows, "", nil
}

func codeOf(err error) string {
	var e *engine.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "XX000"
}

func TestSLT(t *testing.T) {
	files, err := filepath.Glob("testdata/*.slt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.slt files: %v", err)
	}
	var pg *slt.Server
	pgWanted := os.Getenv("STRATA_PG_TEST") == "1" || os.Getenv("CI") == "true"
	if pgWanted {
		pg = slt.StartPG(t)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".slt")
		t.Run(name, func(t *testing.T) {
			recs, trailer, err := slt.Parse(path)
			if err != nil {
				t.Fatal(err)
			}
			var pgRows map[int][][]string
			t.Run("postgres", func(t *testing.T) {
				if pg == nil {
					t.Skip("PostgreSQL check off: set STRATA_PG_TEST=1 (needs /usr/lib/postgresql/15/bin: apt-get install -y postgresql-15)")
				}
				conn := pg.Database(t, "slt_"+name)
				defer conn.Close(context.Background())
				pgRows = slt.RunFile(t, "postgres", &slt.PGRunner{Conn: conn}, path, recs, *rewrite)
			})
			var strataRows map[int][][]string
			t.Run("strata", func(t *testing.T) {
				st, err := store.Open(t.TempDir(), store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				db := Open(st, Options{})
				strataRows = slt.RunFile(t, "strata", &strataRunner{s: db.NewSession("strata", "strata")}, path, recs, *rewrite)
			})
			// The optimizer must not change results: the same file with every rule
			// disabled, and with each rule disabled alone, gives the same rows (EXPLAIN
			// output aside).
			var all []string
			for _, r := range opt.Rules() {
				all = append(all, r.Name())
			}
			variants := map[string][]string{"all": all}
			for _, r := range all {
				variants[r] = []string{r}
			}
			for name, disabled := range variants {
				t.Run("strata-without-"+name, func(t *testing.T) {
					if *rewrite {
						t.Skip("rewriting")
					}
					st, err := store.Open(t.TempDir(), store.Options{})
					if err != nil {
						t.Fatal(err)
					}
					defer st.Close()
					db := Open(st, Options{DisabledRules: disabled})
					var plain []*slt.Record
					for _, rec := range recs {
						if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(rec.SQL())), "EXPLAIN") {
							plain = append(plain, rec)
						}
					}
					slt.RunFile(t, "strata", &strataRunner{s: db.NewSession("strata", "strata")}, path, plain, false)
				})
			}
			if *rewrite {
				for i, rec := range recs {
					if rows, ok := pgRows[i]; ok {
						rec.Expected = rows
					} else if rows, ok := strataRows[i]; ok {
						rec.Expected = rows
					}
				}
				if err := slt.Write(path, recs, trailer); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
