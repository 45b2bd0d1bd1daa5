package lakecat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/internal/pgscram"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/store"
)

// node is one strata data directory joined to a cluster location.
type node struct {
	st  *store.Store
	c   *Cluster
	log *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// openNode opens a store in a new folder whose lake roots hold the cluster
// location (and root, when not empty), and joins it to the location.
func openNode(t *testing.T, location string, objOpts objstore.Options, extraRoots ...string) *node {
	t.Helper()
	dir := t.TempDir()
	roots := append([]string{filepath.Join(dir, "lake"), location}, extraRoots...)
	st, err := store.Open(dir, store.Options{ObjStore: objOpts, LakeRoots: roots})
	must(t, err)
	t.Cleanup(func() { st.Close() })
	buf := &syncBuffer{}
	c, err := Open(context.Background(), st, location, Options{ObjStore: objOpts, Logger: slog.New(slog.NewTextHandler(buf, nil))})
	must(t, err)
	return &node{st: st, c: c, log: buf}
}

var base = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixMicro()

func eventsDef(name string) catalog.TableDef {
	return catalog.TableDef{Name: name, Granularity: time.Hour, Schema: storage.Schema{Columns: []storage.Column{
		{Name: "ts", Type: storage.TypeTimestamp, SQLType: "timestamptz", NotNull: true},
		{Name: "user_id", Type: storage.TypeString, SQLType: "varchar", TypMod: 20 + 4},
		{Name: "price", Type: storage.TypeInt64, SQLType: "numeric(10,2)", TypMod: (10<<16 | 2) + 4},
	}}, Options: map[string]string{catalog.OptHandoffGrace: "0"}}
}

func appendRows(t *testing.T, st *store.Store, table string, n int) {
	t.Helper()
	def, _ := st.Table(table)
	cols := storage.NewColumns(&def.Schema, n)
	for i := range n {
		cols.Cols[0].Int64 = append(cols.Cols[0].Int64, base+int64(i)*1000)
		cols.Cols[1].String = append(cols.Cols[1].String, fmt.Sprintf("u%d", i%7))
		cols.Cols[2].Int64 = append(cols.Cols[2].Int64, int64(i))
	}
	cols.Len = n
	must(t, st.Append(context.Background(), table, cols))
}

// rows counts the rows a query of table on st reads (lake, segments, head).
func rows(t *testing.T, st *store.Store, table string) int {
	t.Helper()
	sn, err := st.Snapshot(table)
	must(t, err)
	defer sn.Release()
	n := 0
	for _, s := range sn.Sources {
		n += s.NumRows()
	}
	return n
}

// waitFor refreshes n until ok holds, for at most a few seconds.
func waitFor(t *testing.T, n *node, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s: %s", what)
		}
		if err := n.c.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTablesOnEveryNode: a table created on A is on B with the same columns
// (types and modifiers), its lake under the cluster location; rows A hands
// off are read on B; ALTER (owner) and DROP reach B; a new CREATE of the name
// on B is a new generation on A, without the old rows.
func TestTablesOnEveryNode(t *testing.T) {
	testTablesOnEveryNode(t, t.TempDir(), objstore.Options{})
}

func testTablesOnEveryNode(t *testing.T, location string, o objstore.Options) {
	ctx := context.Background()
	a, b := openNode(t, location, o), openNode(t, location, o)
	def, err := a.c.CreateTable(ctx, eventsDef("events"))
	must(t, err)
	if want := a.c.TablePath("events"); def.Options[catalog.OptLakePath] != want {
		t.Fatalf("lake_path %q, want %q", def.Options[catalog.OptLakePath], want)
	}
	waitFor(t, b, "B has table events", func() bool { _, ok := b.st.Table("events"); return ok })
	got, _ := b.st.Table("events")
	if got.Schema.String() != def.Schema.String() || got.Schema.Columns[1].TypMod != 24 || got.Schema.Columns[2].TypMod != def.Schema.Columns[2].TypMod || got.Granularity != time.Hour {
		t.Fatalf("B's events: %s %v, A's: %s", got.Schema.String(), got.Schema.Columns, def.Schema.String())
	}
	if got.Options[catalog.OptLakePath] != b.c.TablePath("events") || got.Options[catalog.OptClusterTable] != def.Options[catalog.OptClusterTable] {
		t.Fatalf("B's options %v, A's %v", got.Options, def.Options)
	}

	appendRows(t, a.st, "events", 1000)
	if _, err := a.st.Handoff(ctx, "events", time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rows(t, b.st, "events") != 1000 {
		if time.Now().After(deadline) {
			t.Fatalf("B reads %d rows of events, A handed off 1000", rows(t, b.st, "events"))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// ALTER TABLE … OWNER TO: a role made on A, the table given to it on A.
	var oid uint32
	must(t, a.c.ChangeRoles(ctx, func() error {
		rs, err := a.st.Catalog().ApplyRoles(catalog.RoleChange{Put: []catalog.Role{{Name: "owner1", Login: true, Inherit: true}}})
		if err == nil {
			oid = rs[0].OID
		}
		return err
	}))
	must(t, a.c.SetTableOwner(ctx, "events", oid))
	waitFor(t, b, "B sees the new owner", func() bool {
		d, _ := b.st.Table("events")
		return d.OwnerOID() == oid
	})

	// ALTER TABLE … SET / RESET.
	if _, err := a.c.SetTableOptions(ctx, "events", map[string]string{catalog.OptLakeRefresh: "5 seconds"}, []string{catalog.OptHandoffGrace}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "B sees the new options", func() bool {
		d, _ := b.st.Table("events")
		_, grace := d.Options[catalog.OptHandoffGrace]
		return d.Options[catalog.OptLakeRefresh] == "5 seconds" && !grace
	})

	must(t, a.c.DropTable(ctx, "events"))
	if _, ok := a.st.Table("events"); ok {
		t.Fatal("A still has events after DROP")
	}
	waitFor(t, b, "B drops events", func() bool { _, ok := b.st.Table("events"); return !ok })
	if _, err := b.c.CreateTable(ctx, eventsDef("events")); err != nil {
		t.Fatalf("CREATE after DROP: %v", err)
	}
	waitFor(t, a, "A has the new events", func() bool { _, ok := a.st.Table("events"); return ok })
	if n := rows(t, a.st, "events"); n != 0 {
		t.Fatalf("the new events holds %d rows of the dropped one", n)
	}
	if n := rows(t, b.st, "events"); n != 0 {
		t.Fatalf("on B the new events holds %d rows of the dropped one", n)
	}
}

// TestRacingCreates: two nodes CREATE the same names at once; for each name
// exactly one gets ErrTableExists, and both end with the winner's definition.
func TestRacingCreates(t *testing.T) { testRacingCreates(t, t.TempDir(), objstore.Options{}) }

func testRacingCreates(t *testing.T, loc string, o objstore.Options) {
	ctx := context.Background()
	a, b := openNode(t, loc, o), openNode(t, loc, o)
	for i := range 8 {
		name := fmt.Sprintf("race%d", i)
		var errs [2]error
		var wg sync.WaitGroup
		for j, n := range []*node{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				def := eventsDef(name)
				def.Options[catalog.OptPersistRows] = fmt.Sprint(1000 + j)
				_, errs[j] = n.c.CreateTable(ctx, def)
			}()
		}
		wg.Wait()
		dup := 0
		for _, err := range errs {
			switch {
			case errors.Is(err, catalog.ErrTableExists):
				dup++
			case err != nil:
				t.Fatalf("%s: %v", name, err)
			}
		}
		if dup != 1 {
			t.Fatalf("%s: %d of 2 racing CREATEs failed with ErrTableExists (%v)", name, dup, errs)
		}
		must(t, a.c.Refresh(ctx))
		must(t, b.c.Refresh(ctx))
		da, _ := a.st.Table(name)
		db, _ := b.st.Table(name)
		if da.Options[catalog.OptPersistRows] != db.Options[catalog.OptPersistRows] || da.Options[catalog.OptClusterTable] != db.Options[catalog.OptClusterTable] {
			t.Fatalf("%s: A has %v, B %v", name, da.Options, db.Options)
		}
	}
}

// TestRacingAlters: B commits an ALTER from the version it read while A's ALTER
// of that version already won: ErrConflict, and B's local copy is A's.
func TestRacingAlters(t *testing.T) {
	ctx := context.Background()
	loc := t.TempDir()
	a, b := openNode(t, loc, objstore.Options{}), openNode(t, loc, objstore.Options{})
	_, err := a.c.CreateTable(ctx, eventsDef("t"))
	must(t, err)
	must(t, b.c.Refresh(ctx))

	b.c.mu.Lock()
	e, err := b.c.latestLocked(ctx, "t") // B has read the latest version …
	if err != nil {
		b.c.mu.Unlock()
		t.Fatal(err)
	}
	must(t, a.c.SetTableOwner(ctx, "t", catalog.PgMonitorOID)) // … when A's ALTER lands
	meta := *e.log.meta
	meta.Configuration = cloneOpts(meta.Configuration)
	meta.Configuration[keyOwner] = fmt.Sprint(catalog.PgReadAllDataOID)
	err = b.c.commitLocked(ctx, "t", e, []lake.Action{{Metadata: &meta}}, "SET TBLPROPERTIES")
	b.c.mu.Unlock()
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("racing ALTER: %v, want ErrConflict", err)
	}
	if d, _ := b.st.Table("t"); d.OwnerOID() != catalog.PgMonitorOID {
		t.Fatalf("B's owner %d, want the winner's %d", d.OwnerOID(), catalog.PgMonitorOID)
	}
	// And a DROP racing the same way loses too.
	b.c.mu.Lock()
	e, _ = b.c.latestLocked(ctx, "t")
	stale := *e
	b.c.mu.Unlock()
	must(t, a.c.SetTableOwner(ctx, "t", catalog.BootstrapSuperuserOID))
	b.c.mu.Lock()
	err = b.c.commitLocked(ctx, "t", &stale, []lake.Action{{Metadata: stale.log.meta}}, "DROP TABLE")
	b.c.mu.Unlock()
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("DROP racing an ALTER: %v, want ErrConflict", err)
	}
}

// TestRolesOnEveryNode: a role created on A, with a password, is on B with the
// same SCRAM verifier; a role change that lost the race is ErrConflict and
// leaves the local catalog as the cluster's.
func TestRolesOnEveryNode(t *testing.T) {
	testRolesOnEveryNode(t, t.TempDir(), objstore.Options{})
}

func testRolesOnEveryNode(t *testing.T, loc string, o objstore.Options) {
	ctx := context.Background()
	a, b := openNode(t, loc, o), openNode(t, loc, o)
	v, err := pgscram.Verifier("s3cret")
	must(t, err)
	must(t, a.c.ChangeRoles(ctx, func() error {
		_, err := a.st.Catalog().ApplyRoles(catalog.RoleChange{Put: []catalog.Role{{Name: "alice", Login: true, Inherit: true, Password: v}}})
		return err
	}))
	waitFor(t, b, "B has alice", func() bool { r, ok := b.st.Catalog().Role("alice"); return ok && r.Password == v })
	ra, _ := a.st.Catalog().Role("alice")
	rb, _ := b.st.Catalog().Role("alice")
	if ra.OID != rb.OID {
		t.Fatalf("alice is %d on A, %d on B", ra.OID, rb.OID)
	}
	raw, err := a.c.fs.Get(ctx, commitKey(rolesRoot, a.c.mu.roles.version))
	must(t, err)
	if bytes.Contains(raw, []byte("s3cret")) || !bytes.Contains(raw, []byte("SCRAM-SHA-256$")) {
		t.Fatalf("the roles commit holds the password in clear or no verifier:\n%s", raw)
	}

	// A GRANT on a cluster table reaches B under B's own table id.
	_, err = a.c.CreateTable(ctx, eventsDef("g"))
	must(t, err)
	must(t, a.c.ChangeRoles(ctx, func() error {
		d, _ := a.st.Table("g")
		_, err := a.st.Catalog().ApplyRoles(catalog.RoleChange{ACLs: map[uint64][]catalog.ACLItem{d.ID: {{Grantee: ra.OID, Grantor: catalog.BootstrapSuperuserOID, Privs: catalog.PrivSelect}}}})
		return err
	}))
	waitFor(t, b, "B has the grant on g", func() bool {
		d, ok := b.st.Table("g")
		if !ok {
			return false
		}
		acl, ok := b.st.Catalog().ACL(d.ID)
		return ok && len(acl) == 1 && acl[0].Grantee == ra.OID && acl[0].Privs == catalog.PrivSelect
	})

	// ALTER TABLE g OWNER TO dave: the privileges strata granted are dave's
	// grants now, on every node (aclnewowner, through the roles table).
	var dave uint32
	must(t, a.c.ChangeRoles(ctx, func() error {
		rs, err := a.st.Catalog().ApplyRoles(catalog.RoleChange{Put: []catalog.Role{{Name: "dave", Login: true}}})
		if err == nil {
			dave = rs[0].OID
		}
		return err
	}))
	must(t, a.c.SetTableOwner(ctx, "g", dave))
	for _, n := range []*node{a, b} {
		waitFor(t, n, "the grant on g moved to dave", func() bool {
			d, _ := n.st.Table("g")
			acl, ok := n.st.Catalog().ACL(d.ID)
			return d.OwnerOID() == dave && ok && len(acl) == 1 && acl[0].Grantor == dave && acl[0].Grantee == ra.OID
		})
	}

	// B's change is made from the version it read while A's change of that
	// version lands (inside B's fn, so deterministically): B loses, its local
	// catalog is set back and then holds A's change.
	err = b.c.ChangeRoles(ctx, func() error {
		must(t, a.c.ChangeRoles(ctx, func() error {
			_, err := a.st.Catalog().ApplyRoles(catalog.RoleChange{Put: []catalog.Role{{Name: "bob", Login: true}}})
			return err
		}))
		_, err := b.st.Catalog().ApplyRoles(catalog.RoleChange{Put: []catalog.Role{{Name: "carol", Login: true}}})
		return err
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("racing role change: %v, want ErrConflict", err)
	}
	if _, ok := b.st.Catalog().Role("carol"); ok {
		t.Fatal("B kept carol, whose commit lost")
	}
	if _, ok := b.st.Catalog().Role("bob"); !ok {
		t.Fatal("B does not have bob, whose commit won")
	}
}

// TestRestartFollowsNewGeneration: a node that was down while its table was
// dropped and created again elsewhere (another schema) drops its stale copy,
// rows included, and takes the new definition when it starts.
func TestRestartFollowsNewGeneration(t *testing.T) {
	ctx := context.Background()
	loc := t.TempDir()
	a := openNode(t, loc, objstore.Options{})
	bdir := t.TempDir()
	open := func() (*store.Store, *Cluster) {
		st, err := store.Open(bdir, store.Options{LakeRoots: []string{filepath.Join(bdir, "lake"), loc}})
		must(t, err)
		c, err := Open(ctx, st, loc, Options{})
		must(t, err)
		return st, c
	}
	st, c := open()
	_, err := a.c.CreateTable(ctx, eventsDef("t"))
	must(t, err)
	must(t, c.Refresh(ctx))
	appendRows(t, st, "t", 300) // in B's segments only
	if n := rows(t, st, "t"); n != 300 {
		t.Fatalf("B has %d rows", n)
	}
	must(t, st.Close())

	must(t, a.c.DropTable(ctx, "t"))
	def := eventsDef("t")
	def.Schema.Columns = append(def.Schema.Columns, storage.Column{Name: "extra", Type: storage.TypeBool, SQLType: "boolean"})
	_, err = a.c.CreateTable(ctx, def)
	must(t, err)

	st, _ = open()
	defer st.Close()
	got, ok := st.Table("t")
	if !ok || len(got.Schema.Columns) != 4 || got.Schema.Columns[3].Name != "extra" {
		t.Fatalf("after the restart B has %v (%v)", got.Schema.String(), ok)
	}
	if n := rows(t, st, "t"); n != 0 {
		t.Fatalf("after the restart B's t holds %d rows of the dropped generation", n)
	}
}
