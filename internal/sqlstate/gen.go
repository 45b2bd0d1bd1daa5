//go:build ignore

// gen writes codes.go from PostgreSQL's errcodes.txt (src/backend/utils/errcodes.txt,
// installed as /usr/share/postgresql/<version>/errcodes.txt):
//
//	go run gen.go /usr/share/postgresql/15/errcodes.txt
package main

import (
	"fmt"
	"os"

	"github.com/stratadb/strata/internal/sqlstate"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run gen.go path/to/errcodes.txt")
		os.Exit(2)
	}
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := sqlstate.Generate(src)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile("codes.go", out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
