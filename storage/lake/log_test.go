package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/storage/objstore"
)

// copyTable copies testdata/delta/<name> to a temp folder and returns its store
// and the table root within it.
func copyTable(t *testing.T, name string) (*objstore.Local, string) {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata/delta", name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, name, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return objstore.LocalAt(dst), name
}

func fileSet(s *Snapshot) string {
	var keys []string
	for _, f := range s.Files() {
		keys = append(keys, f.DecodedPath+"#"+f.DeletionVector.UniqueID())
	}
	sort.Strings(keys)
	return strings.Join(keys, "\n")
}

// TestCheckpointReplayMatchesJSON loads every checkpoint of every table on its own
// (classic, multi-part, v2 + sidecars, delta-rs column order) and checks that it
// gives the same live files as replaying the JSON commits from version 0.
func TestCheckpointReplayMatchesJSON(t *testing.T) {
	ctx := context.Background()
	fsys := objstore.LocalAt("testdata/delta")
	kinds := map[int]int{}
	for _, mt := range parseManifest(t) {
		tbl := OpenTable(fsys, mt.name)
		l, err := tbl.list(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for i := range l.checkpoints {
			c := &l.checkpoints[i]
			fromCkpt, err := tbl.replayFrom(ctx, l, c, c.version)
			if err != nil {
				t.Fatalf("%s checkpoint %d: %v", mt.name, c.version, err)
			}
			fromJSON, err := tbl.replayFrom(ctx, l, nil, c.version)
			if err != nil {
				t.Fatalf("%s JSON replay to %d: %v", mt.name, c.version, err)
			}
			if a, b := fileSet(fromCkpt), fileSet(fromJSON); a != b {
				t.Errorf("%s v%d: checkpoint files\n%s\nJSON files\n%s", mt.name, c.version, a, b)
			}
			if fromCkpt.Metadata.SchemaString != fromJSON.Metadata.SchemaString {
				t.Errorf("%s v%d: schema differs", mt.name, c.version)
			}
			kinds[c.kind]++
		}
		// The hint, where there is one, agrees with its checkpoint.
		if hint := tbl.lastCheckpointHint(ctx); hint != nil {
			ok := false
			for i := range l.checkpoints {
				c := l.checkpoints[i]
				if c.version == *hint.Version {
					c.hint = hint
					if _, err := tbl.loadCheckpoint(ctx, &c); err != nil {
						t.Errorf("%s: checkpoint %d vs _last_checkpoint: %v", mt.name, c.version, err)
					}
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s: _last_checkpoint names version %d, not listed", mt.name, *hint.Version)
			}
		}
	}
	if kinds[ckptClassic] == 0 || kinds[ckptMultiPart] == 0 || kinds[ckptV2] == 0 {
		t.Fatalf("checkpoint kinds seen: %v", kinds)
	}
	// delta-0.2.0's checkpoint carries the streaming txn.
	s, err := OpenTable(fsys, "delta-0.2.0").Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := s.TxnVersion("e4a20b59-dd0e-4c50-b074-e8ae4786df30"); !ok || v != 0 || s.CheckpointVersion != 3 {
		t.Fatalf("txn = %d, %v; checkpoint %d", v, ok, s.CheckpointVersion)
	}
	// Reading v9 of simple_table_with_checkpoint must not use the v10 checkpoint.
	s, err = OpenTable(fsys, "simple_table_with_checkpoint").SnapshotAt(ctx, 9)
	if err != nil || s.CheckpointVersion != -1 {
		t.Fatalf("v9: %v, checkpoint %d", err, s.CheckpointVersion)
	}
	// liquid clustering: domain metadata replayed.
	s = openTestTable(t, "table_with_liquid_clustering")
	if _, ok := s.DomainMetadata()["delta.liquid"]; !ok {
		t.Fatalf("domains %v", s.DomainMetadata())
	}
}

func TestLastCheckpointFallback(t *testing.T) {
	ctx := context.Background()
	type tc struct {
		name     string
		table    string
		rows     int64
		breakIt  func(t *testing.T, dir string)
		wantCkpt int64 // checkpoint the snapshot must have started from
		wantErr  bool
	}
	logf := func(dir, name string) string { return filepath.Join(dir, "_delta_log", name) }
	write := func(t *testing.T, p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const classic = "00000000000000000010.checkpoint.parquet"
	cases := []tc{
		{"intact", "simple_table_with_checkpoint", 11, func(*testing.T, string) {}, 10, false},
		{"hint points at missing version", "simple_table_with_checkpoint", 11, func(t *testing.T, d string) {
			write(t, logf(d, "_last_checkpoint"), `{"version":99,"size":12}`)
		}, 10, false},
		{"hint is garbage", "simple_table_with_checkpoint", 11, func(t *testing.T, d string) {
			write(t, logf(d, "_last_checkpoint"), `{"vers`)
		}, 10, false},
		{"hint missing", "simple_table_with_checkpoint", 11, func(t *testing.T, d string) {
			os.Remove(logf(d, "_last_checkpoint"))
		}, 10, false},
		{"checkpoint file deleted", "simple_table_with_checkpoint", 11, func(t *testing.T, d string) {
			os.Remove(logf(d, classic))
		}, -1, false},
		{"checkpoint file corrupt", "simple_table_with_checkpoint", 11, func(t *testing.T, d string) {
			b, _ := os.ReadFile(logf(d, classic))
			write(t, logf(d, classic), string(b[:len(b)/2]))
		}, -1, false},
		{"checkpoint is not parquet", "simple_table_with_checkpoint", 11, func(t *testing.T, d string) {
			write(t, logf(d, classic), "PAR1 this is not a checkpoint PAR1")
		}, -1, false},
		{"corrupt checkpoint and no commit 0", "simple_table_with_checkpoint", 0, func(t *testing.T, d string) {
			write(t, logf(d, classic), "garbage")
			os.Remove(logf(d, "00000000000000000000.json"))
		}, -1, true},
		{"checkpoint replaced by another table's", "simple_table_with_checkpoint", 11, func(t *testing.T, d string) {
			b, err := os.ReadFile("testdata/delta/delta-0.2.0/_delta_log/00000000000000000003.checkpoint.parquet")
			if err != nil {
				t.Fatal(err)
			}
			write(t, logf(d, classic), string(b))
		}, -1, false},
		{"multi-part with a part missing", "multi-part-checkpoint", 31, func(t *testing.T, d string) {
			os.Remove(logf(d, "00000000000000000001.checkpoint.0000000002.0000000002.parquet"))
		}, -1, false},
		{"v2 checkpoint with sidecar missing", "v2-checkpoint-parquet", 10, func(t *testing.T, d string) {
			ents, _ := os.ReadDir(logf(d, "_sidecars"))
			os.Remove(filepath.Join(logf(d, "_sidecars"), ents[0].Name()))
		}, -1, false},
		{"v2 checkpoint intact", "v2-checkpoint-parquet", 10, func(*testing.T, string) {}, 2, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys, root := copyTable(t, c.table)
			c.breakIt(t, filepath.Join(fsys.Root(), root))
			s, err := OpenTable(fsys, root).Snapshot(ctx)
			if c.wantErr {
				if err == nil {
					t.Fatalf("snapshot of a broken log succeeded with %d files", len(s.Files()))
				}
				t.Logf("error as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.CheckpointVersion != c.wantCkpt {
				t.Errorf("started from checkpoint %d, want %d", s.CheckpointVersion, c.wantCkpt)
			}
			if got := readAllRows(t, ctx, s); got != c.rows {
				t.Errorf("%d rows, want %d", got, c.rows)
			}
		})
	}
}

func writeLog(t testing.TB, dir string, commits ...string) *objstore.Local {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "t", "_delta_log"), 0o755); err != nil {
		t.Fatal(err)
	}
	for v, c := range commits {
		p := filepath.Join(dir, "t", "_delta_log", strings.Repeat("0", 19)+string(rune('0'+v))+".json")
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return objstore.LocalAt(dir)
}

const testMeta = `{"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}]}","partitionColumns":[],"configuration":{}}}`

func TestUnsupportedReaderFeatureRefused(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		protocol string
		want     string
	}{
		{`{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors","fancyFutureThing"],"writerFeatures":["deletionVectors","fancyFutureThing"]}}`,
			`lake: table t requires unsupported reader feature "fancyFutureThing"`},
		{`{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["variantType"],"writerFeatures":["variantType"]}}`,
			`lake: table t requires unsupported reader feature "variantType"`},
		{`{"protocol":{"minReaderVersion":4,"minWriterVersion":7}}`,
			`lake: table t requires unsupported reader version 4`},
	}
	for _, c := range cases {
		fsys := writeLog(t, t.TempDir(), c.protocol+"\n"+testMeta+"\n")
		_, err := OpenTable(fsys, "t").Snapshot(ctx)
		if err == nil || !errors.Is(err, ErrUnsupported) || err.Error() != c.want {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	// Upgraded later: the old version is still readable, the new one is refused.
	fsys := writeLog(t, t.TempDir(),
		`{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}`+"\n"+testMeta+"\n"+`{"add":{"path":"a%20b.parquet","partitionValues":{},"size":1,"modificationTime":1,"dataChange":true}}`+"\n",
		`{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["catalogManaged"],"writerFeatures":["catalogManaged"]}}`+"\n")
	tbl := OpenTable(fsys, "t")
	s, err := tbl.SnapshotAt(ctx, 0)
	if err != nil || len(s.Files()) != 1 || s.Files()[0].DecodedPath != "a b.parquet" {
		t.Fatalf("v0: %v", err)
	}
	if _, err := tbl.Snapshot(ctx); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"catalogManaged"`) {
		t.Fatalf("latest: %v", err)
	}
	if _, err := tbl.SnapshotAt(ctx, 2); err == nil {
		t.Fatal("version 2 does not exist")
	}
	// The feature dropped again at v2 (DROP FEATURE): v2 reads, v1 stays refused.
	os.WriteFile(filepath.Join(fsys.Root(), "t", "_delta_log", "00000000000000000002.json"),
		[]byte(`{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}`+"\n"), 0o644)
	if s, err := tbl.Snapshot(ctx); err != nil || s.Version != 2 || len(s.Files()) != 1 {
		t.Fatalf("after downgrade: %v", err)
	}
	if _, err := tbl.SnapshotAt(ctx, 1); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("v1: %v", err)
	}
}

func TestPathsDecodedOnce(t *testing.T) {
	for _, c := range []struct {
		in, want string
		abs      bool
	}{
		{"x=A%252FA/part-0.parquet", "x=A%2FA/part-0.parquet", false},
		{"a%20b/c+d.parquet", "a b/c+d.parquet", false},
		{"tsNtzPartition=2021-11-18%2002%253A30%253A00.123456/p.parquet", "tsNtzPartition=2021-11-18 02%3A30%3A00.123456/p.parquet", false},
		{"s3://bucket/t/x%20y.parquet", "s3://bucket/t/x%20y.parquet", true},
		{"file:/tmp/t/p.parquet", "file:/tmp/t/p.parquet", true},
	} {
		got, abs, err := decodePath(c.in)
		if err != nil || got != c.want || abs != c.abs {
			t.Errorf("decodePath(%q) = %q, %v, %v; want %q, %v", c.in, got, abs, err, c.want, c.abs)
		}
	}
	if _, _, err := decodePath("bad%zz"); err == nil {
		t.Error("invalid escape accepted")
	}
}

func setCommitMtimes(t *testing.T, fsys *objstore.Local, root string, ms []int64) {
	for v, m := range ms {
		p := filepath.Join(fsys.Root(), root, "_delta_log", strings.Repeat("0", 19)+string(rune('0'+v))+".json")
		tm := time.UnixMilli(m)
		if err := os.Chtimes(p, tm, tm); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTimestampAsOf(t *testing.T) {
	ctx := context.Background()
	// commitInfo.timestamp values listed in MANIFEST.md "Caveats".
	ms := []int64{1587968586154, 1587968596254, 1587968604143, 1587968614187, 1587968626537}
	fsys, root := copyTable(t, "simple_table")
	setCommitMtimes(t, fsys, root, ms)
	tbl := OpenTable(fsys, root)
	for _, c := range []struct {
		at      int64
		version int64
	}{
		{ms[0], 0}, {ms[1] - 1, 0}, {ms[1], 1}, {ms[2] + 5000, 2}, {ms[4], 4},
	} {
		s, err := tbl.SnapshotAsOf(ctx, time.UnixMilli(c.at))
		if err != nil || s.Version != c.version {
			t.Errorf("AS OF %d: version %v, err %v; want %d", c.at, s, err, c.version)
		}
	}
	for _, at := range []int64{ms[0] - 1, ms[4] + 1} {
		if s, err := tbl.SnapshotAsOf(ctx, time.UnixMilli(at)); err == nil {
			t.Errorf("AS OF %d: version %d, want an error", at, s.Version)
		}
	}
	// Non-monotonic mtimes are monotonized: v1 older than v0 counts as v0+1ms.
	setCommitMtimes(t, fsys, root, []int64{ms[0], ms[0] - 10000})
	if s, err := tbl.SnapshotAsOf(ctx, time.UnixMilli(ms[0]+1)); err != nil || s.Version != 1 {
		t.Errorf("monotonized: %v %v", s, err)
	}

	// In-commit timestamps: the file mtimes (copy time) are ignored.
	ict := OpenTable(objstore.LocalAt("testdata/delta"), "cdc_ict_table")
	for _, c := range []struct {
		at      int64
		version int64
		rows    int64
	}{
		{1783874212175, 2, 2}, {1783874213880, 2, 2}, {1783874213881, 3, 2},
	} {
		s, err := ict.SnapshotAsOf(ctx, time.UnixMilli(c.at))
		if err != nil || s.Version != c.version {
			t.Fatalf("ICT AS OF %d: %v, %v; want version %d", c.at, s, err, c.version)
		}
		if n := readAllRows(t, ctx, s); n != c.rows {
			t.Errorf("ICT AS OF %d: %d rows, want %d", c.at, n, c.rows)
		}
	}
	if _, err := ict.SnapshotAsOf(ctx, time.UnixMilli(1783874213882)); err == nil {
		t.Error("after the latest ICT must fail")
	}
}

// TestCleanedUpLog removes commits 0..4 behind the v10 checkpoint (log cleanup):
// v10 reads from the checkpoint, older versions are errors, not wrong answers.
func TestCleanedUpLog(t *testing.T) {
	ctx := context.Background()
	fsys, root := copyTable(t, "simple_table_with_checkpoint")
	for v := 0; v <= 4; v++ {
		os.Remove(filepath.Join(fsys.Root(), root, "_delta_log", strings.Repeat("0", 19)+string(rune('0'+v))+".json"))
	}
	tbl := OpenTable(fsys, root)
	s, err := tbl.SnapshotAt(ctx, 10)
	if err != nil || s.CheckpointVersion != 10 || readAllRows(t, ctx, s) != 11 {
		t.Fatalf("v10: %v", err)
	}
	for _, v := range []int64{0, 5, 9} {
		if _, err := tbl.SnapshotAt(ctx, v); err == nil || !strings.Contains(err.Error(), "missing") {
			t.Errorf("v%d: %v", v, err)
		}
	}
	// Only v10 is reconstructable, so a time before its commit is out of range.
	ts := time.Now().Add(-time.Hour)
	for v := 5; v <= 10; v++ {
		p := filepath.Join(fsys.Root(), root, "_delta_log", fmt.Sprintf("%020d.json", v))
		tm := ts.Add(time.Duration(v) * time.Minute)
		os.Chtimes(p, tm, tm)
	}
	if s, err := tbl.SnapshotAsOf(ctx, ts.Add(7*time.Minute)); err == nil {
		t.Errorf("AS OF before v10: got version %d", s.Version)
	}
	if s, err := tbl.SnapshotAsOf(ctx, ts.Add(10*time.Minute)); err != nil || s.Version != 10 {
		t.Errorf("AS OF v10: %v", err)
	}
}
