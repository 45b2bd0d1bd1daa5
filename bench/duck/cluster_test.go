package main

// DuckDB reading a Delta table strata's cluster wrote (issue 13 part 6, "readable
// elsewhere"): cmd/strata's TestClusterThreeNodesUnderKills runs this test, in
// this module because duckdb-go is a dependency of bench/duck only, with
// STRATA_DUCK_CHECK naming a JSON file: the S3 endpoint and path of the Delta
// table, and the rows the producer sent (total and per user).

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
)

// TestDuckDBReadsClusterLake: DuckDB, reading the Parquet files that the Delta
// log's newest version lists (fetched from S3 first: DuckDB's httpfs and delta
// extensions would be downloaded at run time, which this machine cannot do),
// counts exactly the produced rows, each id once, and every user's count.
// It runs only when STRATA_DUCK_CHECK is set (by the cluster test).
func TestDuckDBReadsClusterLake(t *testing.T) {
	specFile := os.Getenv("STRATA_DUCK_CHECK")
	if specFile == "" {
		t.Skip("run by cmd/strata TestClusterThreeNodesUnderKills (STRATA_DUCK_CHECK)")
	}
	raw, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Endpoint string         `json:"endpoint"`
		Path     string         `json:"path"`
		Total    int64          `json:"total"`
		PerUser  map[string]int `json:"per_user"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := objstore.Open(ctx, spec.Path, objstore.Options{Endpoint: spec.Endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := lake.OpenTable(store, "").Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var quoted []string
	for i, f := range snap.Files() {
		if f.IsAbsolute || f.DeletionVector != nil {
			t.Fatalf("file %s: absolute or with a deletion vector; the test reads plain relative files", f.Path)
		}
		b, err := store.Get(ctx, f.DecodedPath)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("%05d.parquet", i))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		quoted = append(quoted, sqlString(p))
	}
	if len(quoted) == 0 {
		t.Fatal("the Delta table lists no file")
	}
	src := "read_parquet([" + strings.Join(quoted, ", ") + "])"
	duck, err := openDuck(2)
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	var rows, ids, lo, hi int64
	if err := duck.run(ctx, "SELECT count(*), count(DISTINCT n), min(n), max(n) FROM "+src, func(v []any) {
		rows, ids, lo, hi = v[0].(int64), v[1].(int64), v[2].(int64), v[3].(int64)
	}); err != nil {
		t.Fatal(err)
	}
	if rows != spec.Total || ids != spec.Total || lo != 0 || hi != spec.Total-1 {
		t.Fatalf("DuckDB: %d rows, %d distinct ids from %d to %d; want %d rows, ids 0..%d each once", rows, ids, lo, hi, spec.Total, spec.Total-1)
	}
	per := map[string]int{}
	if err := duck.run(ctx, "SELECT user_id, count(*) FROM "+src+" GROUP BY user_id", func(v []any) {
		per[v[0].(string)] = int(v[1].(int64))
	}); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(per, spec.PerUser) {
		t.Fatalf("DuckDB's per-user counts (%d users) differ from the producer's (%d users)", len(per), len(spec.PerUser))
	}
	t.Logf("DuckDB over Delta version %d (%d files): %d rows, ids 0..%d each once, %d users' counts equal the producer's",
		snap.Version, len(quoted), rows, hi, len(per))
}
