package sqlstate

import (
	"bytes"
	"os"
	"testing"
)

// TestCodesMatchErrcodes regenerates codes.go from the installed PostgreSQL 15's
// errcodes.txt and requires the committed file to be the same.
func TestCodesMatchErrcodes(t *testing.T) {
	const path = "/usr/share/postgresql/15/errcodes.txt"
	src, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL 15's errcodes.txt: %v", err)
		}
		t.Skipf("PostgreSQL 15 not installed: %v", err)
	}
	want, err := Generate(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("codes.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("codes.go is not what %s generates: run go generate ./internal/sqlstate", path)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want, cond string }{
		{UndefinedFunction, "42883", "undefined_function"},
		{InvalidSQLStatementName, "26000", "invalid_sql_statement_name"},
		{IOError, "58030", "io_error"},
		{InvalidParameterValue, "22023", "invalid_parameter_value"},
		{FeatureNotSupported, "0A000", "feature_not_supported"},
	} {
		if tc.got != tc.want || Condition(tc.got) != tc.cond {
			t.Errorf("%s (%s): want %s (%s)", tc.got, Condition(tc.got), tc.want, tc.cond)
		}
	}
}
