package pgtest

import "testing"

func TestServerStarts(t *testing.T) {
	s := Start(t)
	Need(t, "psql", "psql")
	out, err := s.Psql("-d", "postgres", "-tAc", "select 6*7")
	if err != nil || out != "42" {
		t.Fatalf("psql: %q %v", out, err)
	}
}
