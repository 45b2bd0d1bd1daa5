package sql

// TestSLT runs the sqllogictest-style files in testdata/*.slt against strata and,
// whenever PostgreSQL 15's server is installed (always under CI=true, where its
// absence fails the test), against a private PostgreSQL 15 server, so that every
// expected row in the files is proven by PostgreSQL, and every result column has
// the type PostgreSQL gives it.
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
// types has one letter per column: I integer, R float/numeric (values compared rounded
// to 6 significant digits), T text (also timestamps, intervals), B boolean (t/f),
// checked against each side's column types. rowsort sorts rows before comparing.
//
//	go test ./sql -run TestSLT -rewrite   regenerates the expected rows and type
//	                                      letters from PostgreSQL (records that only
//	                                      strata runs: from strata); without
//	                                      PostgreSQL it refuses

import (
	"context"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"slices"
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

func (r *strataRunner) Run(ctx context.Context, query string) ([]string, []uint32, [][]string, string, error) {
	stmts, err := Split(query)
	if err != nil {
		return nil, nil, nil, codeOf(err), err
	}
	var rows [][]string
	var names []string
	var oids []uint32
	for _, q := range stmts {
		st, err := r.s.Prepare(ctx, q, nil)
		if err != nil {
			return nil, nil, nil, codeOf(err), err
		}
		res, err := r.s.Execute(ctx, st, nil)
		if err != nil {
			return nil, nil, nil, codeOf(err), err
		}
		rows, names, oids = nil, nil, nil
		if res.Rows == nil {
			continue
		}
		for _, f := range res.Fields {
			names = append(names, f.Name)
			oid := f.Type.OID()
			if f.Type.ID == engine.TypeUnknown {
				oid = engine.Text.OID() // as the wire layer describes it (pgwire.wireOID)
			}
			oids = append(oids, oid)
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
			return nil, nil, nil, codeOf(err), err
		}
	}
	return names, oids, rows, "", nil
}

// sameStringType reports whether PostgreSQL type a and strata type b are equal or
// both strings: strata has one string type, text (25), where PostgreSQL's catalogs
// use name (19) and tables may use varchar (1043) or bpchar (1042). Every other
// type must match exactly (numeric is not float8, int4 is not int8).
func sameStringType(a, b uint32) bool {
	str := func(o uint32) bool { return o == 25 || o == 19 || o == 1043 || o == 1042 }
	return a == b || str(a) && str(b)
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
	pg := slt.StartPG(t) // nil only when PostgreSQL 15 is missing and CI is not true
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".slt")
		t.Run(name, func(t *testing.T) {
			recs, trailer, err := slt.Parse(path)
			if err != nil {
				t.Fatal(err)
			}
			var pgRows map[int]slt.Result
			t.Run("postgres", func(t *testing.T) {
				if pg == nil {
					t.Skip("PostgreSQL 15 server not installed: expected rows NOT proven (apt-get install -y postgresql-15)")
				}
				conn := pg.Database(t, "slt_"+name)
				defer conn.Close(context.Background())
				pgRows = slt.RunFile(t, "postgres", &slt.PGRunner{Conn: conn}, path, recs, *rewrite)
			})
			var strataRows map[int]slt.Result
			t.Run("strata", func(t *testing.T) {
				st, err := store.Open(t.TempDir(), store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				db := Open(st, Options{})
				strataRows = slt.RunFile(t, "strata", &strataRunner{s: db.NewSession("strata", "strata")}, path, recs, *rewrite)
			})
			// Where both sides ran a query, strata's column types are PostgreSQL's
			// (the letters cannot tell numeric from float8 or int4 from int8).
			t.Run("types", func(t *testing.T) {
				if pgRows == nil || *rewrite {
					t.Skip("needs the PostgreSQL side")
				}
				textual := 0
				for i, rec := range recs {
					p, ok1 := pgRows[i]
					s, ok2 := strataRows[i]
					if !ok1 || !ok2 || slices.Equal(p.OIDs, s.OIDs) {
						continue
					}
					if slices.EqualFunc(p.OIDs, s.OIDs, sameStringType) {
						textual++
						continue
					}
					t.Errorf("%s: column type OIDs: strata %v, PostgreSQL %v\n%s", rec.Where(path), s.OIDs, p.OIDs, rec.SQL())
				}
				if textual > 0 {
					t.Logf("%d queries differ only by name/varchar/bpchar columns that strata types as text (it has no such types)", textual)
				}
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
				if err := slt.Rewrite(path, recs, pgRows, strataRows); err != nil {
					t.Fatal(err)
				}
				if err := slt.Write(path, recs, trailer); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
