//go:build !nostrata

package main

import (
	"bytes"
	"context"
	"testing"
)

// TestSuite runs the whole comparison on 100,000 events and fails on any error or
// mismatch between strata and DuckDB.
func TestSuite(t *testing.T) {
	var out bytes.Buffer
	rep, err := runSuite(context.Background(), config{
		events: testEvents, runs: 1, seed: 1, batch: 30_000, threads: 2, strata: true, wire: true, inproc: true, zoneless: true, out: &out,
	})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.queries) == 0 {
		t.Fatal("no query ran")
	}
	if rep.failures > 0 {
		t.Fatalf("%d queries failed or differ (see the log above)", rep.failures)
	}
}
