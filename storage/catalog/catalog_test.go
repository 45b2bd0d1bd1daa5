package catalog

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/storage"
)

func testSchema() storage.Schema {
	return storage.Schema{
		Columns: []storage.Column{
			{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
			{Name: "user_id", Type: storage.TypeString, SQLType: "text"},
			{Name: "price", Type: storage.TypeFloat64, SQLType: "double precision"},
		},
	}
}

func openT(t *testing.T, dir string) *Catalog {
	t.Helper()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustCreate(t *testing.T, c *Catalog, name string) TableDef {
	t.Helper()
	def, err := c.CreateTable(TableDef{Name: name, Schema: testSchema(), Options: map[string]string{"kafka_topic": name}})
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// seg builds a valid segment record for def in the chunk containing t (hour granularity).
func seg(def TableDef, t int64, seq uint64) SegmentMeta {
	chunk, _ := ChunkStart(t, def.Granularity)
	return SegmentMeta{
		ID:         SegmentID(def.ID, chunk, seq),
		Table:      def.Name,
		ChunkStart: chunk,
		Seq:        seq,
		Path:       fmt.Sprintf("segments/%d/%d-%d.seg", def.ID, chunk, seq),
		Rows:       10,
		MinTime:    t,
		MaxTime:    t,
		Bytes:      1000,
	}
}

func mustReserve(t *testing.T, c *Catalog, table string, n int) uint64 {
	t.Helper()
	s, err := c.ReserveSeqs(table, n)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const hour = int64(time.Hour / time.Microsecond)

func TestCreateTable(t *testing.T) {
	c := openT(t, t.TempDir())
	defer c.Close()

	a := mustCreate(t, c, "a")
	b := mustCreate(t, c, "b")
	if a.ID == 0 || b.ID <= a.ID {
		t.Fatalf("ids %d, %d: want positive and increasing", a.ID, b.ID)
	}
	if a.Granularity != time.Hour {
		t.Fatalf("default granularity %v", a.Granularity)
	}
	if a.Created.IsZero() {
		t.Fatal("Created not set")
	}
	if _, err := c.CreateTable(TableDef{Name: "a", Schema: testSchema()}); !errors.Is(err, ErrTableExists) {
		t.Fatalf("duplicate: %v", err)
	}
	noTime := testSchema()
	noTime.Columns[0].NotNull = false
	bad := []TableDef{
		{Name: "", Schema: testSchema()},
		{Name: "x", Schema: storage.Schema{}},
		{Name: "x", Schema: noTime},
		{Name: "x", Schema: testSchema(), Granularity: -time.Hour},
		{Name: "x", Schema: testSchema(), Granularity: time.Nanosecond},
	}
	v := c.Version()
	for i, def := range bad {
		if _, err := c.CreateTable(def); err == nil {
			t.Errorf("case %d: bad table accepted", i)
		}
	}
	if c.Version() != v {
		t.Fatal("failed CreateTable changed the version")
	}
	if _, ok := c.Table("x"); ok {
		t.Fatal("failed CreateTable left a table")
	}

	// The returned definition is a copy.
	got, _ := c.Table("a")
	got.Schema.Columns[0].Name = "changed"
	got.Options["kafka_topic"] = "changed"
	again, _ := c.Table("a")
	if again.Schema.Columns[0].Name != "ts" || again.Options["kafka_topic"] != "a" {
		t.Fatal("caller changed the catalog's table definition")
	}

	names := []string{}
	for _, d := range c.Tables() {
		names = append(names, d.Name)
	}
	if !reflect.DeepEqual(names, []string{"a", "b"}) {
		t.Fatalf("Tables: %v", names)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir)
	events := mustCreate(t, c, "events")
	other := mustCreate(t, c, "other")
	dropped := mustCreate(t, c, "dropped")

	s := mustReserve(t, c, "events", 3)
	want := []SegmentMeta{seg(events, -1, s), seg(events, 5*hour+7, s+1), seg(events, 0, s+2)}
	if err := c.Commit(Batch{Table: "events", Add: want, Offsets: map[string]int64{"ev/0": 100, "ev/1": 7}}); err != nil {
		t.Fatal(err)
	}
	s2 := mustReserve(t, c, "other", 1)
	if err := c.Commit(Batch{Table: "other", Add: []SegmentMeta{seg(other, 0, s2)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DropTable("dropped"); err != nil {
		t.Fatal(err)
	}
	// A reserved but never committed number must not be handed out again.
	lost := mustReserve(t, c, "events", 1)
	version := c.Version()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c = openT(t, dir)
	defer c.Close()
	if c.Version() != version {
		t.Fatalf("version %d after reopen, want %d", c.Version(), version)
	}
	def, ok := c.Table("events")
	if !ok {
		t.Fatal("table lost")
	}
	if !reflect.DeepEqual(def, events) {
		t.Fatalf("table def after reopen:\n%+v\nwant\n%+v", def, events)
	}
	// Sorted by (ChunkStart, Seq): the segment at -1 µs is in the chunk before 0.
	sorted := []SegmentMeta{want[0], want[2], want[1]}
	if got := c.Segments("events"); !reflect.DeepEqual(got, sorted) {
		t.Fatalf("segments after reopen:\n%+v\nwant\n%+v", got, sorted)
	}
	if got := c.Offsets("events"); !reflect.DeepEqual(got, map[string]int64{"ev/0": 100, "ev/1": 7}) {
		t.Fatalf("offsets after reopen: %v", got)
	}
	if len(c.Segments("other")) != 1 {
		t.Fatal("other table's segment lost")
	}
	if _, ok := c.Table("dropped"); ok {
		t.Fatal("dropped table came back")
	}
	if n := c.NextSeq("events"); n <= lost {
		t.Fatalf("NextSeq %d after reopen, want > %d", n, lost)
	}
	d := mustCreate(t, c, "new")
	if d.ID <= dropped.ID {
		t.Fatalf("table id %d reused (dropped table had %d)", d.ID, dropped.ID)
	}
	if c.Version() <= version {
		t.Fatal("version did not grow")
	}
}

func TestCommitValidation(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir)
	def := mustCreate(t, c, "events")
	other := mustCreate(t, c, "other")
	s := mustReserve(t, c, "events", 4)
	base := seg(def, 10, s)
	if err := c.Commit(Batch{Table: "events", Add: []SegmentMeta{base}, Offsets: map[string]int64{"ev/0": 50}}); err != nil {
		t.Fatal(err)
	}
	good := seg(def, 2*hour, s+1)

	mod := func(f func(m *SegmentMeta)) SegmentMeta {
		m := seg(def, 3*hour, s+2)
		f(&m)
		return m
	}
	cases := []struct {
		name string
		b    Batch
		want error
	}{
		{"no table", Batch{Table: "nope", Add: []SegmentMeta{good}}, ErrNoTable},
		{"empty", Batch{Table: "events"}, ErrInvalidBatch},
		{"remove unknown", Batch{Table: "events", Add: []SegmentMeta{good}, Remove: []string{"1/x/9"}}, ErrInvalidBatch},
		{"remove twice", Batch{Table: "events", Remove: []string{base.ID, base.ID}}, ErrInvalidBatch},
		{"add existing", Batch{Table: "events", Add: []SegmentMeta{good, base}}, ErrInvalidBatch},
		{"add twice", Batch{Table: "events", Add: []SegmentMeta{good, good}}, ErrInvalidBatch},
		{"unreserved seq", Batch{Table: "events", Add: []SegmentMeta{good, seg(def, 0, s+100)}}, ErrInvalidBatch},
		{"seq zero", Batch{Table: "events", Add: []SegmentMeta{good, seg(def, 0, 0)}}, ErrInvalidBatch},
		{"wrong table", Batch{Table: "events", Add: []SegmentMeta{good, seg(other, 0, s+2)}}, ErrInvalidBatch},
		{"wrong id", Batch{Table: "events", Add: []SegmentMeta{good, mod(func(m *SegmentMeta) { m.ID = "x" })}}, ErrInvalidBatch},
		{"other table id", Batch{Table: "events", Add: []SegmentMeta{good, mod(func(m *SegmentMeta) { m.ID = SegmentID(other.ID, m.ChunkStart, m.Seq) })}}, ErrInvalidBatch},
		{"empty path", Batch{Table: "events", Add: []SegmentMeta{good, mod(func(m *SegmentMeta) { m.Path = "" })}}, ErrInvalidBatch},
		{"unaligned chunk", Batch{Table: "events", Add: []SegmentMeta{good, mod(func(m *SegmentMeta) {
			m.ChunkStart++
			m.ID = SegmentID(def.ID, m.ChunkStart, m.Seq)
		})}}, ErrInvalidBatch},
		{"time after chunk", Batch{Table: "events", Add: []SegmentMeta{good, mod(func(m *SegmentMeta) { m.MaxTime = m.ChunkStart + hour })}}, ErrInvalidBatch},
		{"time before chunk", Batch{Table: "events", Add: []SegmentMeta{good, mod(func(m *SegmentMeta) { m.MinTime = m.ChunkStart - 1 })}}, ErrInvalidBatch},
		{"negative rows", Batch{Table: "events", Add: []SegmentMeta{good, mod(func(m *SegmentMeta) { m.Rows = -1 })}}, ErrInvalidBatch},
		{"offset back", Batch{Table: "events", Add: []SegmentMeta{good}, Offsets: map[string]int64{"ev/0": 49}}, ErrInvalidBatch},
		{"negative offset", Batch{Table: "events", Add: []SegmentMeta{good}, Offsets: map[string]int64{"ev/1": -1}}, ErrInvalidBatch},
		{"empty source", Batch{Table: "events", Add: []SegmentMeta{good}, Offsets: map[string]int64{"": 1}}, ErrInvalidBatch},
		{"rewind forward", Batch{Table: "events", Rewind: map[string]int64{"ev/0": 51}}, ErrInvalidBatch},
		{"rewind unknown source", Batch{Table: "events", Rewind: map[string]int64{"ev/9": 1}}, ErrInvalidBatch},
		{"rewind and advance", Batch{Table: "events", Offsets: map[string]int64{"ev/0": 60}, Rewind: map[string]int64{"ev/0": 40}}, ErrInvalidBatch},
	}
	check := func(c *Catalog, version uint64) {
		t.Helper()
		if got := c.Segments("events"); !reflect.DeepEqual(got, []SegmentMeta{base}) {
			t.Fatalf("segments changed: %+v", got)
		}
		if got := c.Offsets("events"); !reflect.DeepEqual(got, map[string]int64{"ev/0": 50}) {
			t.Fatalf("offsets changed: %v", got)
		}
		if len(c.Segments("other")) != 0 {
			t.Fatal("other table changed")
		}
		if c.Version() != version {
			t.Fatalf("version %d, want %d", c.Version(), version)
		}
	}
	version := c.Version()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Commit(tc.b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			check(c, version)
		})
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = openT(t, dir)
	defer c.Close()
	check(c, version)

	// The good segment alone still commits, and an equal offset is accepted.
	if err := c.Commit(Batch{Table: "events", Add: []SegmentMeta{good}, Remove: []string{base.ID}, Offsets: map[string]int64{"ev/0": 50}}); err != nil {
		t.Fatal(err)
	}
	if got := c.Segments("events"); !reflect.DeepEqual(got, []SegmentMeta{good}) {
		t.Fatalf("segments: %+v", got)
	}

	// A retraction: the segment leaves, one offset goes back, another away,
	// durably.
	if err := c.Commit(Batch{Table: "events", Offsets: map[string]int64{"ev/1": 9}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(Batch{Table: "events", Remove: []string{good.ID}, Rewind: map[string]int64{"ev/0": 20, "ev/1": -1}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Catalog{c, reopen(t, c, dir)} {
		if got := c.Offsets("events"); !reflect.DeepEqual(got, map[string]int64{"ev/0": 20}) || len(c.Segments("events")) != 0 {
			t.Fatalf("after the retraction: offsets %v, segments %+v", got, c.Segments("events"))
		}
	}
}

// reopen closes c and opens dir again; the new catalog is closed at the end of
// the test.
func reopen(t *testing.T, c *Catalog, dir string) *Catalog {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := openT(t, dir)
	t.Cleanup(func() { c2.Close() })
	return c2
}

func TestConcurrentCommits(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir)
	defs := []TableDef{mustCreate(t, c, "a"), mustCreate(t, c, "b")}
	const workers, perWorker = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			def := defs[w%2]
			src := fmt.Sprintf("topic/%d", w)
			for i := range perWorker {
				s, err := c.ReserveSeqs(def.Name, 2)
				if err != nil {
					errs <- err
					return
				}
				b := Batch{
					Table:   def.Name,
					Add:     []SegmentMeta{seg(def, int64(w)*hour, s), seg(def, int64(i)*hour, s+1)},
					Offsets: map[string]int64{src: int64(i + 1)},
				}
				if err := c.Commit(b); err != nil {
					errs <- err
					return
				}
				// Readers run alongside writers.
				if len(c.Segments(def.Name)) == 0 {
					errs <- errors.New("no segments after commit")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	check := func(c *Catalog) {
		t.Helper()
		// Version: 2 creates + one per commit.
		if v, want := c.Version(), uint64(2+workers*perWorker); v != want {
			t.Fatalf("version %d, want %d", v, want)
		}
		for _, def := range defs {
			segs := c.Segments(def.Name)
			if len(segs) != workers/2*perWorker*2 {
				t.Fatalf("%s: %d segments, want %d", def.Name, len(segs), workers/2*perWorker*2)
			}
			seen := map[uint64]bool{}
			for i, m := range segs {
				if seen[m.Seq] {
					t.Fatalf("%s: sequence %d used twice", def.Name, m.Seq)
				}
				seen[m.Seq] = true
				if i > 0 && (segs[i-1].ChunkStart > m.ChunkStart || segs[i-1].ChunkStart == m.ChunkStart && segs[i-1].Seq >= m.Seq) {
					t.Fatalf("%s: segments not sorted at %d", def.Name, i)
				}
			}
		}
		for w := range workers {
			off := c.Offsets(defs[w%2].Name)[fmt.Sprintf("topic/%d", w)]
			if off != perWorker {
				t.Fatalf("worker %d: offset %d, want %d", w, off, perWorker)
			}
		}
	}
	check(c)
	c.Close()
	c = openT(t, dir)
	defer c.Close()
	check(c)
}

func TestDropTable(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir)
	def := mustCreate(t, c, "events")
	keep := mustCreate(t, c, "keep")
	s := mustReserve(t, c, "events", 2)
	segs := []SegmentMeta{seg(def, 0, s), seg(def, hour, s+1)}
	if err := c.Commit(Batch{Table: "events", Add: segs, Offsets: map[string]int64{"t/0": 9}}); err != nil {
		t.Fatal(err)
	}
	ks := mustReserve(t, c, "keep", 1)
	if err := c.Commit(Batch{Table: "keep", Add: []SegmentMeta{seg(keep, 0, ks)}, Offsets: map[string]int64{"k/0": 3}}); err != nil {
		t.Fatal(err)
	}
	v := c.Version()
	got, err := c.DropTable("events")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, segs) {
		t.Fatalf("dropped segments %+v, want %+v", got, segs)
	}
	if c.Version() != v+1 {
		t.Fatal("version did not grow by one")
	}
	if _, err := c.DropTable("events"); !errors.Is(err, ErrNoTable) {
		t.Fatalf("second drop: %v", err)
	}
	if c.Segments("events") != nil || c.Offsets("events") != nil || c.NextSeq("events") != 0 {
		t.Fatal("dropped table still answers")
	}
	if err := c.Commit(Batch{Table: "events", Add: segs}); !errors.Is(err, ErrNoTable) {
		t.Fatalf("commit to dropped table: %v", err)
	}
	// Re-create under the same name: new id, nothing of the old table.
	c.Close()
	c = openT(t, dir)
	defer c.Close()
	again := mustCreate(t, c, "events")
	if again.ID == def.ID {
		t.Fatal("table id reused")
	}
	if len(c.Segments("events")) != 0 || len(c.Offsets("events")) != 0 {
		t.Fatal("re-created table inherited old records")
	}
	if c.NextSeq("events") != 1 {
		t.Fatal("re-created table's sequence should start at 1")
	}
	if len(c.Segments("keep")) != 1 || c.Offsets("keep")["k/0"] != 3 {
		t.Fatal("drop touched another table")
	}
	// Segments of the old table id cannot be committed to the new table.
	if err := c.Commit(Batch{Table: "events", Add: segs[:1]}); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("old segment into new table: %v", err)
	}
}

func TestChunkStart(t *testing.T) {
	cases := []struct {
		t    int64
		gran time.Duration
		want int64
		ok   bool
	}{
		{0, time.Hour, 0, true},
		{1, time.Hour, 0, true},
		{hour - 1, time.Hour, 0, true},
		{hour, time.Hour, hour, true},
		{-1, time.Hour, -hour, true},
		{-hour, time.Hour, -hour, true},
		{-hour - 1, time.Hour, -2 * hour, true},
		{90 * 60e6, time.Hour, hour, true},
		{-90 * 60e6, time.Hour, -2 * hour, true},
		{7, time.Microsecond, 7, true},
		{-7, 5 * time.Microsecond, -10, true},
		{math.MaxInt64, time.Hour, math.MaxInt64 / hour * hour, true},
		{math.MinInt64, time.Hour, 0, false},
		{math.MinInt64, time.Microsecond, math.MinInt64, true},
		{math.MinInt64 + 1, 2 * time.Microsecond, math.MinInt64, true},
	}
	for _, tc := range cases {
		got, ok := ChunkStart(tc.t, tc.gran)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("ChunkStart(%d, %v) = %d, %v; want %d, %v", tc.t, tc.gran, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSegmentID(t *testing.T) {
	if got := SegmentID(3, -hour, 12); got != "3/1969-12-31T23:00:00Z/12" {
		t.Fatal(got)
	}
}

func TestClosed(t *testing.T) {
	c := openT(t, t.TempDir())
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTable(TableDef{Name: "a", Schema: testSchema()}); err == nil {
		t.Fatal("CreateTable after Close succeeded")
	}
	if err := c.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
}
