package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stratadb/strata/storage/objstore"
)

// wrow is one test row; the table is (id long, name string, amount double,
// ts timestamp, day date [partition], region string [partition]).
type wrow struct {
	id     int64
	name   *string
	amount float64
	ts     int64 // µs
	day    int32
	region *string
}

var testArrowSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func sp(s string) *string { return &s }

// makeRows generates n deterministic rows with ids from base.
func makeRows(base int64, n int) []wrow {
	regions := []*string{sp("eu"), sp("us west"), sp("a/b%c=d"), nil}
	out := make([]wrow, n)
	for i := range out {
		id := base + int64(i)
		r := wrow{id: id, amount: float64(id) * 1.5, ts: 1_790_000_000_000_000 + id*1_000_001, day: 20412 + int32(id%3), region: regions[id%4]}
		if id%5 != 0 {
			r.name = sp(fmt.Sprintf("name-%04d", id))
		}
		out[i] = r
	}
	return out
}

func buildBatch(t *testing.T, rows []wrow) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, testArrowSchema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.id)
		if r.name == nil {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(*r.name)
		}
		b.Field(2).(*array.Float64Builder).Append(r.amount)
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(r.ts))
		b.Field(4).(*array.Date32Builder).Append(arrow.Date32(r.day))
		if r.region == nil {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.StringBuilder).Append(*r.region)
		}
	}
	return b.NewRecordBatch()
}

func newTestTable(t *testing.T, props map[string]string) (*Table, string) {
	t.Helper()
	dir := t.TempDir()
	schema, err := SchemaFromArrow(testArrowSchema)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := CreateTable(context.Background(), objstore.LocalAt(dir), "tbl", schema, []string{"day", "region"}, props)
	if err != nil {
		t.Fatal(err)
	}
	return tbl, dir
}

// appendRows writes rows and commits them as a blind append; returns the version.
func appendRows(t *testing.T, tbl *Table, rows []wrow, opts WriteOptions) int64 {
	t.Helper()
	ctx := context.Background()
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := buildBatch(t, rows)
	defer rec.Release()
	adds, err := WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, opts)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Commit(ctx, tbl, snap.Version, AddActions(adds), "WRITE", map[string]any{"mode": "Append"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// readAll reads every live row through the existing reader, sorted by id, and
// checks each file's stats against the rows read back from that file.
func readAll(t *testing.T, snap *Snapshot) []wrow {
	t.Helper()
	ctx := context.Background()
	var out []wrow
	for _, f := range snap.Files() {
		var rows []wrow
		err := snap.ReadFile(ctx, f, nil, func(rec arrow.RecordBatch) error {
			id := rec.Column(0).(*array.Int64)
			name := rec.Column(1).(*array.String)
			amt := rec.Column(2).(*array.Float64)
			ts := rec.Column(3).(*array.Timestamp)
			day := rec.Column(4).(*array.Date32)
			reg := rec.Column(5).(*array.String)
			for i := 0; i < int(rec.NumRows()); i++ {
				r := wrow{id: id.Value(i), amount: amt.Value(i), ts: int64(ts.Value(i)), day: int32(day.Value(i))}
				if name.IsValid(i) {
					r.name = sp(name.Value(i))
				}
				if reg.IsValid(i) {
					r.region = sp(reg.Value(i))
				}
				if day.IsNull(i) {
					t.Errorf("file %s: null day", f.DecodedPath)
				}
				rows = append(rows, r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		checkFileStats(t, f, rows)
		out = append(out, rows...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// checkFileStats recomputes stats from the rows of one file with a plain loop.
func checkFileStats(t *testing.T, f *AddFile, rows []wrow) {
	t.Helper()
	var st struct {
		NumRecords int64                      `json:"numRecords"`
		MinValues  map[string]json.RawMessage `json:"minValues"`
		MaxValues  map[string]json.RawMessage `json:"maxValues"`
		NullCount  map[string]int64           `json:"nullCount"`
	}
	if err := json.Unmarshal([]byte(f.Stats), &st); err != nil {
		t.Fatalf("file %s: stats %q: %v", f.DecodedPath, f.Stats, err)
	}
	if st.NumRecords != int64(len(rows)) {
		t.Errorf("file %s: numRecords %d, read %d rows", f.DecodedPath, st.NumRecords, len(rows))
	}
	if len(rows) == 0 {
		return
	}
	minID, maxID := rows[0].id, rows[0].id
	minA, maxA := rows[0].amount, rows[0].amount
	minT, maxT := rows[0].ts, rows[0].ts
	var minN, maxN string
	nullNames := int64(0)
	for _, r := range rows {
		minID, maxID = min(minID, r.id), max(maxID, r.id)
		minA, maxA = min(minA, r.amount), max(maxA, r.amount)
		minT, maxT = min(minT, r.ts), max(maxT, r.ts)
		if r.name == nil {
			nullNames++
		} else {
			if minN == "" || *r.name < minN {
				minN = *r.name
			}
			if *r.name > maxN {
				maxN = *r.name
			}
		}
	}
	want := map[string][2]string{
		"id":     {fmt.Sprint(minID), fmt.Sprint(maxID)},
		"amount": {mustJSON(minA), mustJSON(maxA)},
		"ts": {`"` + time.UnixMicro(minT).UTC().Format("2006-01-02T15:04:05.000000Z") + `"`,
			`"` + time.UnixMicro(maxT).UTC().Format("2006-01-02T15:04:05.000000Z") + `"`},
	}
	if minN != "" {
		want["name"] = [2]string{`"` + minN + `"`, `"` + maxN + `"`}
	}
	for col, mm := range want {
		if got := string(st.MinValues[col]); got != mm[0] {
			t.Errorf("file %s: min %s = %s, want %s", f.DecodedPath, col, got, mm[0])
		}
		if got := string(st.MaxValues[col]); got != mm[1] {
			t.Errorf("file %s: max %s = %s, want %s", f.DecodedPath, col, got, mm[1])
		}
	}
	if st.NullCount["name"] != nullNames || st.NullCount["id"] != 0 {
		t.Errorf("file %s: nullCount %v, want name=%d id=0", f.DecodedPath, st.NullCount, nullNames)
	}
	for pc := range f.PartitionValues {
		if _, ok := st.NullCount[pc]; ok {
			t.Errorf("file %s: stats for partition column %s", f.DecodedPath, pc)
		}
	}
}

func sameRows(t *testing.T, got, want []wrow) {
	t.Helper()
	want = append([]wrow(nil), want...)
	sort.Slice(want, func(i, j int) bool { return want[i].id < want[j].id })
	if len(got) != len(want) {
		t.Fatalf("read %d rows, want %d", len(got), len(want))
	}
	str := func(p *string) string {
		if p == nil {
			return "<null>"
		}
		return *p
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.id != w.id || str(g.name) != str(w.name) || g.amount != w.amount || g.ts != w.ts || g.day != w.day || str(g.region) != str(w.region) {
			t.Fatalf("row %d: got {%d %s %v %d %d %s}, want {%d %s %v %d %d %s}", i,
				g.id, str(g.name), g.amount, g.ts, g.day, str(g.region), w.id, str(w.name), w.amount, w.ts, w.day, str(w.region))
		}
	}
}

func TestWriteCommitReadBack(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newTestTable(t, map[string]string{"delta.appendOnly": "false"})
	var all []wrow
	for v := int64(1); v <= 4; v++ {
		rows := makeRows(v*1000, 50+int(v)*37)
		all = append(all, rows...)
		got := appendRows(t, tbl, rows, WriteOptions{RowGroupRows: 16, MaxRowsPerFile: 20})
		if got != v {
			t.Fatalf("commit %d landed at version %d", v, got)
		}
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != 4 || snap.Protocol.MinReaderVersion != 1 || snap.Protocol.MinWriterVersion != 2 {
		t.Fatalf("version %d protocol %+v", snap.Version, snap.Protocol)
	}
	if got := snap.Metadata.PartitionColumns; len(got) != 2 || got[0] != "day" || got[1] != "region" {
		t.Fatalf("partition columns %v", got)
	}
	if snap.Metadata.Configuration["delta.appendOnly"] != "false" || snap.Metadata.Format.Provider != "parquet" || len(snap.Metadata.ID) != 36 {
		t.Fatalf("metadata %+v", snap.Metadata)
	}
	sameRows(t, readAll(t, snap), all)
	n, err := snap.Count(ctx)
	if err != nil || n != int64(len(all)) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(all))
	}
	// Partition values and paths: each file's rows share the log's partition values;
	// the directory is Hive-escaped and add.path URL-encodes it once more.
	for _, f := range snap.Files() {
		if !f.DataChange || f.Size <= 0 || f.ModificationTime <= 0 {
			t.Errorf("add %+v", f)
		}
		st, err := os.Stat(filepath.Join(dir, "tbl", filepath.FromSlash(f.DecodedPath)))
		if err != nil || st.Size() != f.Size {
			t.Errorf("file %s: stat %v size %d", f.DecodedPath, err, f.Size)
		}
		reg := f.PartitionValues["region"]
		switch {
		case reg == nil:
			if !strings.Contains(f.DecodedPath, "region=__HIVE_DEFAULT_PARTITION__/") {
				t.Errorf("null partition path %s", f.DecodedPath)
			}
		case *reg == "a/b%c=d":
			if !strings.Contains(f.DecodedPath, "region=a%2Fb%25c%3Dd/") || !strings.Contains(f.Path, "region=a%252Fb%2525c%253Dd/") {
				t.Errorf("escaped partition: path %s decoded %s", f.Path, f.DecodedPath)
			}
		case *reg == "us west":
			if !strings.Contains(f.Path, "region=us%20west/") {
				t.Errorf("space in path %s", f.Path)
			}
		}
		pv, err := snap.PartitionValues(f)
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := pv["day"].(int32); !ok || !strings.HasPrefix(f.DecodedPath, "day="+time.Unix(int64(d)*86400, 0).UTC().Format("2006-01-02")+"/") {
			t.Errorf("file %s: day partition %v", f.DecodedPath, pv["day"])
		}
	}
	// Commit file layout: commitInfo first, exact field names.
	b, err := os.ReadFile(filepath.Join(dir, "tbl/_delta_log/00000000000000000001.json"))
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(string(b), "\n", 2)[0]
	for _, want := range []string{`{"commitInfo":{`, `"operation":"WRITE"`, `"readVersion":0`, `"isBlindAppend":true`} {
		if !strings.Contains(first, want) {
			t.Errorf("commit 1 first line %s lacks %s", first, want)
		}
	}
	if !strings.Contains(string(b), `"add":{"path":"day=`) || !strings.Contains(string(b), `"partitionValues":{"day":"`) {
		t.Errorf("commit 1: %s", b)
	}
	b0, _ := os.ReadFile(filepath.Join(dir, "tbl/_delta_log/00000000000000000000.json"))
	for _, want := range []string{`"protocol":{"minReaderVersion":1,"minWriterVersion":2}`, `"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"nullable\":false,\"metadata\":{}}`, `"partitionColumns":["day","region"]`, `"createdTime":`} {
		if !strings.Contains(string(b0), want) {
			t.Errorf("commit 0 lacks %s:\n%s", want, b0)
		}
	}
	// Time travel to version 2 sees the first two appends only.
	s2, err := tbl.SnapshotAt(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	sameRows(t, readAll(t, s2), all[:50+37+50+74])

	h, err := History(ctx, tbl, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || h[0].Version != 4 || h[2].Version != 2 || h[0].Operation != "WRITE" || h[0].ReadVersion == nil || *h[0].ReadVersion != 3 ||
		h[0].IsBlindAppend == nil || !*h[0].IsBlindAppend || h[0].OperationParameters["mode"] != "Append" {
		t.Fatalf("history %+v", h)
	}
	h, _ = History(ctx, tbl, 0)
	if len(h) != 5 || h[4].Operation != "CREATE TABLE" || h[4].ReadVersion != nil {
		t.Fatalf("full history %+v", h)
	}
}

func TestCreateTableTwice(t *testing.T) {
	dir := t.TempDir()
	schema, _ := SchemaFromArrow(testArrowSchema)
	if _, err := CreateTable(context.Background(), objstore.LocalAt(dir), "", schema, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err := CreateTable(context.Background(), objstore.LocalAt(dir), "", schema, nil, nil)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := CreateTable(context.Background(), objstore.LocalAt(dir), "x", schema, []string{"nope"}, nil); err == nil {
		t.Fatal("unknown partition column accepted")
	}
}

func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newTestTable(t, nil)
	var cpErr error
	var mu sync.Mutex
	OnCheckpointError = func(_ string, _ int64, err error) { mu.Lock(); cpErr = err; mu.Unlock() }
	defer func() { OnCheckpointError = nil }()
	const writers, rounds = 8, 3
	var all []wrow
	// Round 1: all writers from the same read version; later rounds from whatever
	// version each writer last saw, so commits race across checkpoints (10, 20).
	batches := make([][][]wrow, writers)
	for i := range batches {
		for r := 0; r < rounds; r++ {
			rows := makeRows(int64(i+1)*100000+int64(r)*1000, 10+i+r)
			batches[i] = append(batches[i], rows)
			all = append(all, rows...)
		}
	}
	snap0, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	versions := make([][]int64, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			snap := snap0
			for r := 0; r < rounds; r++ {
				if r > 0 {
					var err error
					if snap, err = tbl.Snapshot(ctx); err != nil {
						errs[i] = err
						return
					}
				}
				rec := buildBatch(t, batches[i][r])
				adds, err := WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, WriteOptions{})
				rec.Release()
				if err != nil {
					errs[i] = err
					return
				}
				v, err := Commit(ctx, tbl, snap.Version, AddActions(adds), "WRITE", nil)
				if err != nil {
					errs[i] = err
					return
				}
				versions[i] = append(versions[i], v)
			}
		}(i)
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i := range versions {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		for _, v := range versions[i] {
			if seen[v] || v < 1 || v > writers*rounds {
				t.Fatalf("versions %v", versions)
			}
			seen[v] = true
		}
	}
	if cpErr != nil {
		t.Fatal(cpErr)
	}
	final, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if final.Version != writers*rounds || final.CheckpointVersion != 20 {
		t.Fatalf("final version %d, checkpoint %d", final.Version, final.CheckpointVersion)
	}
	sameRows(t, readAll(t, final), all)
	for _, v := range []string{"10", "20"} {
		if _, err := os.Stat(filepath.Join(dir, "tbl/_delta_log/000000000000000000"+v+".checkpoint.parquet")); err != nil {
			t.Fatal(err)
		}
	}
	// Each round-1 commit saw read version 0; the log records it.
	h, err := History(ctx, tbl, 0)
	if err != nil {
		t.Fatal(err)
	}
	zero := 0
	for _, e := range h {
		if e.ReadVersion != nil && *e.ReadVersion == 0 {
			zero++
		}
	}
	if zero != writers {
		t.Fatalf("%d commits read version 0, want %d", zero, writers)
	}
}

func TestTxnIdempotence(t *testing.T) {
	ctx := context.Background()
	tbl, _ := newTestTable(t, nil)
	commitBatch := func(rows []wrow, app string, ver int64, readVersion int64) (int64, error) {
		snap, err := tbl.SnapshotAt(ctx, readVersion)
		if err != nil {
			t.Fatal(err)
		}
		rec := buildBatch(t, rows)
		defer rec.Release()
		adds, err := WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		acts := append(AddActions(adds), Action{Txn: &Txn{AppID: app, Version: ver}})
		return Commit(ctx, tbl, readVersion, acts, "STREAMING UPDATE", map[string]any{"epochId": ver})
	}
	rows := makeRows(1, 30)
	if v, err := commitBatch(rows, "query-1", 7, 0); err != nil || v != 1 {
		t.Fatalf("first: %d %v", v, err)
	}
	// The same batch again, read at the new version: refused up front.
	if _, err := commitBatch(rows, "query-1", 7, 1); !errors.Is(err, ErrTxnAlreadyCommitted) {
		t.Fatalf("replay at latest: %v", err)
	}
	// The same batch from the stale read version: loses the race to version 1, sees the txn.
	if _, err := commitBatch(rows, "query-1", 7, 0); !errors.Is(err, ErrTxnAlreadyCommitted) {
		t.Fatalf("replay from stale version: %v", err)
	}
	// An older batch id is also already committed.
	if _, err := commitBatch(rows, "query-1", 3, 1); !errors.Is(err, ErrTxnAlreadyCommitted) {
		t.Fatalf("older batch: %v", err)
	}
	snap, _ := tbl.Snapshot(ctx)
	if snap.Version != 1 {
		t.Fatalf("version %d after refused replays", snap.Version)
	}
	if v, ok := snap.TxnVersion("query-1"); !ok || v != 7 {
		t.Fatalf("TxnVersion %d %v", v, ok)
	}
	n, _ := snap.Count(ctx)
	if n != 30 {
		t.Fatalf("count %d", n)
	}
	// The next batch and another app go through.
	if v, err := commitBatch(makeRows(100, 5), "query-1", 8, 1); err != nil || v != 2 {
		t.Fatalf("next batch: %d %v", v, err)
	}
	if v, err := commitBatch(makeRows(200, 5), "query-2", 0, 1); err != nil || v != 3 {
		t.Fatalf("other app from stale read: %d %v", v, err)
	}
}

func TestConflicts(t *testing.T) {
	ctx := context.Background()
	tbl, _ := newTestTable(t, nil)
	appendRows(t, tbl, makeRows(1, 10), WriteOptions{})
	snap, _ := tbl.Snapshot(ctx)
	md := snap.Metadata
	md.Configuration = map[string]string{"k": "v"}
	if _, err := Commit(ctx, tbl, 1, []Action{{Metadata: &md}}, "SET TBLPROPERTIES", nil); err != nil {
		t.Fatal(err)
	}
	// An append that read version 1 races the metaData change at version 2.
	rec := buildBatch(t, makeRows(50, 3))
	defer rec.Release()
	adds, err := WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(ctx, tbl, 1, AddActions(adds), "WRITE", nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("append over metaData change: %v", err)
	}
	// Two removes of the same file: the second conflicts.
	f := snap.Files()[0]
	rm := func() []Action {
		ts := time.Now().UnixMilli()
		return []Action{{Remove: &RemoveFile{Path: f.Path, DeletionTimestamp: &ts, DataChange: true}}}
	}
	if _, err := Commit(ctx, tbl, 2, rm(), "DELETE", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(ctx, tbl, 2, rm(), "DELETE", nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("double remove: %v", err)
	}
}

func TestCheckpointEqualsReplay(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newTestTable(t, nil)
	var cpErr error
	OnCheckpointError = func(_ string, _ int64, err error) { cpErr = err }
	defer func() { OnCheckpointError = nil }()
	for i := 1; i <= 9; i++ {
		acts := AddActions(nil)
		snap, _ := tbl.Snapshot(ctx)
		rec := buildBatch(t, makeRows(int64(i)*100, 7))
		adds, err := WriteFiles(ctx, snap, []arrow.RecordBatch{rec}, WriteOptions{})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		acts = append(acts, AddActions(adds)...)
		if i == 3 {
			acts = append(acts, Action{Txn: &Txn{AppID: "app", Version: 3}})
		}
		if i == 5 { // a tombstone: remove one file of version 1
			f := snap.Files()[0]
			ts := time.Now().UnixMilli()
			sz := f.Size
			acts = append(acts, Action{Remove: &RemoveFile{Path: f.Path, DeletionTimestamp: &ts, DataChange: true, ExtendedFileMetadata: true, PartitionValues: f.PartitionValues, Size: &sz}})
		}
		if _, err := Commit(ctx, tbl, snap.Version, acts, "WRITE", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tbl/_delta_log/00000000000000000009.checkpoint.parquet")); err == nil {
		t.Fatal("checkpoint before version 10")
	}
	v := appendRows(t, tbl, makeRows(5000, 4), WriteOptions{})
	if v != 10 || cpErr != nil {
		t.Fatalf("version %d, checkpoint error %v", v, cpErr)
	}
	lc, err := os.ReadFile(filepath.Join(dir, "tbl/_delta_log/_last_checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	var hint struct{ Version, Size, NumOfAddFiles int64 }
	if err := json.Unmarshal(lc, &hint); err != nil || hint.Version != 10 {
		t.Fatalf("_last_checkpoint %s %v", lc, err)
	}
	fromCP, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fromCP.CheckpointVersion != 10 {
		t.Fatalf("snapshot did not use the checkpoint: %d", fromCP.CheckpointVersion)
	}
	// JSON replay: read the log with the checkpoint hidden.
	cp := filepath.Join(dir, "tbl/_delta_log/00000000000000000010.checkpoint.parquet")
	raw, _ := os.ReadFile(cp)
	jsonOnly := t.TempDir()
	copyTree(t, filepath.Join(dir, "tbl"), jsonOnly, func(rel string) bool {
		return !strings.Contains(rel, "checkpoint")
	})
	replay, err := OpenTable(objstore.LocalAt(jsonOnly), "").Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if replay.CheckpointVersion != -1 || len(raw) == 0 {
		t.Fatal("replay used a checkpoint")
	}
	if hint.NumOfAddFiles != int64(len(replay.Files())) || hint.Size != int64(2+len(replay.Files())+1+len(replay.Tombstones())) {
		t.Fatalf("hint %+v vs %d files %d tombstones", hint, len(replay.Files()), len(replay.Tombstones()))
	}
	compareSnapshots(t, fromCP, replay)
	sameRows(t, readAll(t, fromCP), readAll(t, replay))
}

func compareSnapshots(t *testing.T, a, b *Snapshot) {
	t.Helper()
	if a.Version != b.Version || mustJSON(a.Protocol) != mustJSON(b.Protocol) || mustJSON(a.Metadata) != mustJSON(b.Metadata) {
		t.Fatalf("protocol/metadata differ:\n%s %s\n%s %s", mustJSON(a.Protocol), mustJSON(a.Metadata), mustJSON(b.Protocol), mustJSON(b.Metadata))
	}
	fa, fb := a.Files(), b.Files()
	if len(fa) != len(fb) {
		t.Fatalf("%d vs %d files", len(fa), len(fb))
	}
	for i := range fa {
		x, y := *fa[i], *fb[i]
		x.DataChange, y.DataChange = false, false // not kept by checkpoints
		if mustJSON(x) != mustJSON(y) || x.DecodedPath != y.DecodedPath {
			t.Fatalf("file %d:\n%s\n%s", i, mustJSON(x), mustJSON(y))
		}
	}
	ta, tb := a.Tombstones(), b.Tombstones()
	if len(ta) != len(tb) || len(ta) != 1 {
		t.Fatalf("tombstones %d vs %d", len(ta), len(tb))
	}
	x, y := *ta[0], *tb[0]
	x.DataChange, y.DataChange = false, false
	if mustJSON(x) != mustJSON(y) {
		t.Fatalf("tombstone:\n%s\n%s", mustJSON(x), mustJSON(y))
	}
	if mustJSON(a.txns) != mustJSON(b.txns) || len(a.txns) != 1 {
		t.Fatalf("txns %v vs %v", a.txns, b.txns)
	}
}

func copyTree(t *testing.T, from, to string, keep func(rel string) bool) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if !keep(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
		return os.Chtimes(dst, info.ModTime(), info.ModTime())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLocalStorePutIfAbsent(t *testing.T) {
	ctx := context.Background()
	fsys := objstore.LocalAt(t.TempDir())
	if err := fsys.PutIfAbsent(ctx, "a/b/c.json", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := fsys.PutIfAbsent(ctx, "a/b/c.json", []byte("two")); !errors.Is(err, ErrExists) {
		t.Fatalf("second PutIfAbsent: %v", err)
	}
	if b, _ := fsys.Get(ctx, "a/b/c.json"); string(b) != "one" {
		t.Fatalf("content %q", b)
	}
	if err := fsys.Put(ctx, "a/b/c.json", []byte("three")); err != nil {
		t.Fatal(err)
	}
	if b, _ := fsys.Get(ctx, "a/b/c.json"); string(b) != "three" {
		t.Fatalf("content %q", b)
	}
	objs, _ := fsys.List(ctx, "a/")
	if len(objs) != 1 { // no temp files left behind
		t.Fatalf("listing %v", objs)
	}
	if err := fsys.Delete(ctx, "a/b/c.json"); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Delete(ctx, "a/b/c.json"); err != nil {
		t.Fatalf("delete missing: %v", err)
	}
	if _, err := fsys.Get(ctx, "a/b/c.json"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("after delete: %v", err)
	}
	// Racing PutIfAbsent: exactly one wins.
	var wg sync.WaitGroup
	wins := make([]bool, 16)
	for i := range wins {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			wins[i] = fsys.PutIfAbsent(ctx, "race", []byte(fmt.Sprint(i))) == nil
		}(i)
	}
	wg.Wait()
	n := 0
	for _, w := range wins {
		if w {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d winners", n)
	}
}
