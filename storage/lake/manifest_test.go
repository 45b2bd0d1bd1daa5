package lake

import (
	"bufio"
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/stratadb/strata/storage/objstore"
)

// manifestTable is one row of testdata/delta/MANIFEST.md: expected live row counts
// per version, written down by the people who copied the tables, not by this code.
type manifestTable struct {
	num            string
	name           string
	readerFeatures []string
	hasStats       bool // counts are "(stats …)": every live add has numRecords
	latest         int64
	counts         map[int64]int64
}

var (
	reFeatures = regexp.MustCompile(`\br(?:,w)?:\[([^\]]*)\]`)
	reEarlier  = regexp.MustCompile(`v(\d+): (\d+)`)
	reLeadInt  = regexp.MustCompile(`^(\d+)`)
)

func parseManifest(t *testing.T) []manifestTable {
	t.Helper()
	f, err := os.Open("testdata/delta/MANIFEST.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []manifestTable
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 12 {
			continue
		}
		if _, err := strconv.Atoi(cells[0]); err != nil {
			continue // header
		}
		mt := manifestTable{num: cells[0], name: cells[1], counts: map[int64]int64{}}
		if m := reFeatures.FindStringSubmatch(cells[4]); m != nil {
			for _, f := range strings.Split(m[1], ",") {
				mt.readerFeatures = append(mt.readerFeatures, strings.TrimSpace(f))
			}
		}
		vs := cells[9]
		if i := strings.LastIndex(vs, ".."); i >= 0 {
			vs = vs[i+2:]
		}
		if mt.latest, err = strconv.ParseInt(vs, 10, 64); err != nil {
			t.Fatalf("manifest row %s: versions %q", cells[0], cells[9])
		}
		m := reLeadInt.FindString(cells[10])
		if m == "" {
			t.Fatalf("manifest row %s: rows %q", cells[0], cells[10])
		}
		n, _ := strconv.ParseInt(m, 10, 64)
		mt.counts[mt.latest] = n
		mt.hasStats = strings.Contains(cells[10], "(stats")
		for _, e := range reEarlier.FindAllStringSubmatch(cells[11], -1) {
			v, _ := strconv.ParseInt(e[1], 10, 64)
			c, _ := strconv.ParseInt(e[2], 10, 64)
			mt.counts[v] = c
		}
		out = append(out, mt)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readAllRows reads every column of every live file and counts the rows returned
// (deletion vectors applied), checking each batch's schema.
func readAllRows(t *testing.T, ctx context.Context, s *Snapshot) int64 {
	t.Helper()
	want, err := s.ArrowSchema(nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, f := range s.Files() {
		err := s.ReadFile(ctx, f, nil, func(rec arrow.RecordBatch) error {
			if !rec.Schema().Equal(want) {
				t.Errorf("%s: batch schema %s, want %s", f.DecodedPath, rec.Schema(), want)
			}
			for i, c := range rec.Columns() {
				if int64(c.Len()) != rec.NumRows() {
					t.Errorf("%s: column %d has %d rows, batch %d", f.DecodedPath, i, c.Len(), rec.NumRows())
				}
			}
			n += rec.NumRows()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// statsCount is Σ numRecords − DV cardinality, computed here from the raw stats
// strings; ok is false when some live file has no numRecords.
func statsCount(t *testing.T, s *Snapshot) (int64, bool) {
	var n int64
	for _, f := range s.Files() {
		st, err := ParseStats(f.Stats)
		if err != nil {
			t.Fatal(err)
		}
		if st == nil || st.NumRecords == nil {
			return 0, false
		}
		n += *st.NumRecords
		if f.DeletionVector != nil {
			n -= f.DeletionVector.Cardinality
		}
	}
	return n, true
}

func TestManifestTables(t *testing.T) {
	tables := parseManifest(t)
	// The manifest's own headline ("22 real Delta tables") must match its rows.
	head, err := os.ReadFile("testdata/delta/MANIFEST.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(\d+) real Delta tables`).FindSubmatch(head)
	if m == nil || string(m[1]) != strconv.Itoa(len(tables)) {
		t.Fatalf("parsed %d tables from MANIFEST.md, its headline says %s", len(tables), m)
	}
	fsys := objstore.LocalAt("testdata/delta")
	ctx := context.Background()
	for _, mt := range tables {
		t.Run(mt.name, func(t *testing.T) {
			tbl := OpenTable(fsys, mt.name)
			var unsupported []string
			for _, f := range mt.readerFeatures {
				if !supportedReaderFeatures[f] {
					unsupported = append(unsupported, f)
				}
			}
			latest, err := tbl.Snapshot(ctx)
			if len(unsupported) > 0 {
				want := `requires unsupported reader feature "`
				if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), want) {
					t.Fatalf("features %v: got err %v, want a refusal", unsupported, err)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if latest.Version != mt.latest {
				t.Fatalf("latest version %d, manifest says %d", latest.Version, mt.latest)
			}
			for v, want := range mt.counts {
				s, err := tbl.SnapshotAt(ctx, v)
				if err != nil {
					t.Fatalf("v%d: %v", v, err)
				}
				if s.Version != v {
					t.Fatalf("v%d: snapshot has version %d", v, s.Version)
				}
				got := readAllRows(t, ctx, s)
				if got != want {
					t.Errorf("v%d: read %d rows, manifest says %d", v, got, want)
				}
				c, err := s.Count(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if c != want {
					t.Errorf("v%d: Count()=%d, manifest says %d", v, c, want)
				}
				sc, ok := statsCount(t, s)
				if mt.hasStats && !ok && len(s.Files()) > 0 {
					t.Errorf("v%d: manifest says stats, but a live file has none", v)
				}
				if ok && len(s.Files()) > 0 && sc != want {
					t.Errorf("v%d: stats sum %d, manifest says %d", v, sc, want)
				}
				t.Logf("v%d: %d files, %d rows (stats sum ok=%v)", v, len(s.Files()), got, ok)
			}
			if got := readAllRows(t, ctx, latest); got != mt.counts[mt.latest] {
				t.Errorf("latest: read %d rows, manifest says %d", got, mt.counts[mt.latest])
			}
		})
	}
}
