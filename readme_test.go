package strata_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage/catalog"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the README's generated sections")

// TestReadmeTableOptions requires the README's table of CREATE TABLE options to be
// the one catalog.TableOptions renders (go test -run TestReadmeTableOptions
// -update-readme . rewrites it), so the documented options are the accepted ones.
func TestReadmeTableOptions(t *testing.T) {
	const begin, end = "<!-- table options: generated from storage/catalog/options.go -->\n", "<!-- end of table options -->\n"
	src, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q … %q section", strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	want := catalog.OptionsMarkdown()
	if got := s[i+len(begin) : j]; got != want {
		if *updateReadme {
			if err := os.WriteFile("README.md", []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's table options differ from catalog.TableOptions (go test -run TestReadmeTableOptions -update-readme .):\n--- README\n%s\n--- registry\n%s", got, want)
	}
}
