package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// newStoreFunc returns a Store over a fresh, empty namespace.
type newStoreFunc func(t *testing.T) Store

// conformanceCase is one behaviour every Store must have.
type conformanceCase struct {
	name string
	run  func(t *testing.T, s Store)
}

// runConformance runs the shared suite; every case gets its own empty store.
func runConformance(t *testing.T, newStore newStoreFunc) {
	for _, c := range conformanceCases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newStore(t))
		})
	}
}

var conformanceCases = []conformanceCase{
	{"RoundTrip", testRoundTrip},
	{"Ranges", testRanges},
	{"ListOrderPrefix", testListOrderPrefix},
	{"ListFromDeltaLog", testListFromDeltaLog},
	{"Delete", testDelete},
	{"Stat", testStat},
	{"NotExist", testNotExist},
	{"PutIfAbsent", testPutIfAbsent},
	{"PutIfAbsentRace", testPutIfAbsentRace},
	{"InvalidKeys", testInvalidKeys},
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func mustPut(t *testing.T, s Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, data); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func mustGet(t *testing.T, s Store, key string) []byte {
	t.Helper()
	b, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

func testRoundTrip(t *testing.T, s Store) {
	ctx := context.Background()
	cases := []struct {
		key  string
		data []byte
	}{
		{"empty", []byte{}},
		{"one", []byte{0}},
		{"text.json", []byte(`{"commitInfo":{}}` + "\n")},
		{"deep/er/part-00000.snappy.parquet", randBytes(1, 4096)},
		{"big/blob", randBytes(2, 1<<20+17)},
		{"space and ünïcode/x=1 %2F.bin", randBytes(3, 100)},
	}
	for _, c := range cases {
		mustPut(t, s, c.key, c.data)
	}
	for _, c := range cases {
		got := mustGet(t, s, c.key)
		if !bytes.Equal(got, c.data) {
			t.Errorf("get %s: %d bytes, want %d (content differs)", c.key, len(got), len(c.data))
		}
		st, err := s.Stat(ctx, c.key)
		if err != nil {
			t.Fatalf("stat %s: %v", c.key, err)
		}
		if st.Key != c.key || st.Size != int64(len(c.data)) {
			t.Errorf("stat %s = %+v, want size %d", c.key, st, len(c.data))
		}
	}
	// Put overwrites.
	for i, c := range cases {
		next := randBytes(uint64(100+i), 10+i)
		mustPut(t, s, c.key, next)
		if got := mustGet(t, s, c.key); !bytes.Equal(got, next) {
			t.Errorf("after overwrite, get %s = %x, want %x", c.key, got, next)
		}
	}
}

func testRanges(t *testing.T, s Store) {
	ctx := context.Background()
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i*7 + i/256)
	}
	mustPut(t, s, "r/obj", data)
	mustPut(t, s, "r/empty", nil)
	cases := []struct{ off, n int64 }{
		{0, -1}, {0, 10}, {10, 0}, {500, -1}, {990, 100}, {999, 1}, {999, -1},
		{1000, 5}, {1000, -1}, {1500, -1}, {1500, 3}, {0, 1000}, {0, 2000}, {1, 998},
	}
	for _, c := range cases {
		// Expected by a plain loop, independent of clipRange.
		want := []byte{}
		for i := c.off; i < int64(len(data)) && (c.n < 0 || i < c.off+c.n); i++ {
			want = append(want, data[i])
		}
		got, err := s.GetRange(ctx, "r/obj", c.off, c.n)
		if err != nil {
			t.Errorf("get range (%d,%d): %v", c.off, c.n, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("get range (%d,%d): %d bytes, want %d", c.off, c.n, len(got), len(want))
		}
	}
	for _, c := range []struct{ off, n int64 }{{0, -1}, {0, 5}, {3, -1}} {
		got, err := s.GetRange(ctx, "r/empty", c.off, c.n)
		if err != nil || len(got) != 0 {
			t.Errorf("empty object range (%d,%d) = %q, %v; want empty", c.off, c.n, got, err)
		}
	}
	if _, err := s.GetRange(ctx, "r/obj", -1, 5); err == nil {
		t.Errorf("negative offset: no error")
	}
	for _, n := range []int64{-1, 0, 5} {
		if _, err := s.GetRange(ctx, "r/missing", 0, n); !errors.Is(err, ErrNotExist) {
			t.Errorf("range of missing key (n=%d): err = %v, want ErrNotExist", n, err)
		}
	}
}

// listKeys are chosen so that byte order differs from a folder walk's order:
// '-' < '.' < '/' < '0'.
var listKeys = []string{
	"a/b.txt", "a/b/x", "a/b/y/z", "a/c", "ab", "b", "a/b0", "a/b-1", "a/b/y0", "c/d/e/f",
}

func wantList(keys []string, prefix, startAfter string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) && k > startAfter {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func infoKeys(v []ObjectInfo) []string {
	var out []string
	for _, o := range v {
		out = append(out, o.Key)
	}
	return out
}

func testListOrderPrefix(t *testing.T, s Store) {
	ctx := context.Background()
	for i, k := range listKeys {
		mustPut(t, s, k, bytes.Repeat([]byte{'x'}, i+1))
	}
	size := map[string]int64{}
	for i, k := range listKeys {
		size[k] = int64(i + 1)
	}
	prefixes := []string{"", "a", "a/", "a/b", "a/b/", "a/b/y", "ab", "c/d/", "zz", "a/b/y/z", "a/b/y/z/"}
	for _, p := range prefixes {
		got, err := s.List(ctx, p)
		if err != nil {
			t.Fatalf("list %q: %v", p, err)
		}
		if g, w := infoKeys(got), wantList(listKeys, p, ""); fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("list %q = %v, want %v", p, g, w)
		}
		for _, o := range got {
			if o.Size != size[o.Key] {
				t.Errorf("list %q: %s size %d, want %d", p, o.Key, o.Size, size[o.Key])
			}
			if o.ModTime.IsZero() {
				t.Errorf("list %q: %s has zero ModTime", p, o.Key)
			}
		}
	}
	starts := []string{"", "a", "a/b-1", "a/b.txt", "a/b/", "a/b/x", "a/b/y/z", "ab", "b", "zzz"}
	for _, p := range []string{"", "a/", "a/b"} {
		for _, sa := range starts {
			got, err := s.ListFrom(ctx, p, sa)
			if err != nil {
				t.Fatalf("list from %q %q: %v", p, sa, err)
			}
			if g, w := infoKeys(got), wantList(listKeys, p, sa); fmt.Sprint(g) != fmt.Sprint(w) {
				t.Errorf("list from %q after %q = %v, want %v", p, sa, g, w)
			}
		}
	}
}

func deltaVersion(v int) string { return fmt.Sprintf("tbl/_delta_log/%020d.json", v) }

func testListFromDeltaLog(t *testing.T, s Store) {
	ctx := context.Background()
	var keys []string
	for v := range 13 {
		keys = append(keys, deltaVersion(v))
		if v == 10 {
			keys = append(keys, fmt.Sprintf("tbl/_delta_log/%020d.checkpoint.parquet", v))
		}
	}
	keys = append(keys, "tbl/_delta_log/_last_checkpoint", "tbl/part-0.parquet", "tbl2/_delta_log/00000000000000000000.json")
	for _, k := range keys {
		if err := s.PutIfAbsent(ctx, k, []byte(k)); err != nil {
			t.Fatalf("put-if-absent %s: %v", k, err)
		}
	}
	for _, sa := range []string{"", deltaVersion(0), deltaVersion(5), "tbl/_delta_log/00000000000000000010", deltaVersion(12), "tbl/_delta_log/_"} {
		got, err := s.ListFrom(ctx, "tbl/_delta_log/", sa)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := infoKeys(got), wantList(keys, "tbl/_delta_log/", sa); fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("list from %q = %v, want %v", sa, g, w)
		}
	}
}

func testDelete(t *testing.T, s Store) {
	ctx := context.Background()
	mustPut(t, s, "d/1", []byte("one"))
	mustPut(t, s, "d/2", []byte("two"))
	if err := s.Delete(ctx, "d/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "d/1"); !errors.Is(err, ErrNotExist) {
		t.Errorf("get after delete: %v, want ErrNotExist", err)
	}
	if _, err := s.Stat(ctx, "d/1"); !errors.Is(err, ErrNotExist) {
		t.Errorf("stat after delete: %v, want ErrNotExist", err)
	}
	for _, k := range []string{"d/1", "never/was", "d"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("delete missing %s: %v", k, err)
		}
	}
	got, err := s.List(ctx, "d/")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(infoKeys(got)) != "[d/2]" {
		t.Errorf("list after delete = %v, want [d/2]", infoKeys(got))
	}
	if string(mustGet(t, s, "d/2")) != "two" {
		t.Errorf("neighbour changed by delete")
	}
	// A deleted key can be created again, also conditionally.
	if err := s.PutIfAbsent(ctx, "d/1", []byte("again")); err != nil {
		t.Errorf("put-if-absent after delete: %v", err)
	}
}

func testStat(t *testing.T, s Store) {
	ctx := context.Background()
	before := time.Now()
	mustPut(t, s, "s/x", randBytes(9, 321))
	st, err := s.Stat(ctx, "s/x")
	if err != nil {
		t.Fatal(err)
	}
	if st.Key != "s/x" || st.Size != 321 {
		t.Errorf("stat = %+v", st)
	}
	// S3 times have second precision; allow a generous skew for a loaded machine.
	if st.ModTime.Before(before.Add(-time.Minute)) || st.ModTime.After(time.Now().Add(time.Minute)) {
		t.Errorf("stat ModTime %v not near now %v", st.ModTime, before)
	}
}

func testNotExist(t *testing.T, s Store) {
	ctx := context.Background()
	mustPut(t, s, "dir/obj", []byte("x"))
	for _, k := range []string{"missing", "dir", "dir/obj/below", "dir/ob"} {
		if _, err := s.Get(ctx, k); !errors.Is(err, ErrNotExist) {
			t.Errorf("get %s: %v, want ErrNotExist", k, err)
		}
		if _, err := s.GetRange(ctx, k, 1, 2); !errors.Is(err, ErrNotExist) {
			t.Errorf("get range %s: %v, want ErrNotExist", k, err)
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, ErrNotExist) {
			t.Errorf("stat %s: %v, want ErrNotExist", k, err)
		}
	}
	got, err := s.List(ctx, "nothing/here/")
	if err != nil || len(got) != 0 {
		t.Errorf("list of empty prefix = %v, %v; want empty", got, err)
	}
}

func testPutIfAbsent(t *testing.T, s Store) {
	ctx := context.Background()
	first, second := []byte("first"), []byte("second, longer")
	if err := s.PutIfAbsent(ctx, "p/k", first); err != nil {
		t.Fatalf("first put-if-absent: %v", err)
	}
	for _, data := range [][]byte{second, first, {}} {
		if err := s.PutIfAbsent(ctx, "p/k", data); !errors.Is(err, ErrExists) {
			t.Errorf("second put-if-absent (%q): %v, want ErrExists", data, err)
		}
	}
	if got := mustGet(t, s, "p/k"); !bytes.Equal(got, first) {
		t.Errorf("stored = %q, want %q (PutIfAbsent overwrote)", got, first)
	}
	// Over an object written by Put.
	mustPut(t, s, "p/plain", []byte("plain"))
	if err := s.PutIfAbsent(ctx, "p/plain", []byte("other")); !errors.Is(err, ErrExists) {
		t.Errorf("put-if-absent over Put: %v, want ErrExists", err)
	}
	if got := mustGet(t, s, "p/plain"); string(got) != "plain" {
		t.Errorf("stored = %q, want plain", got)
	}
	// Empty object.
	if err := s.PutIfAbsent(ctx, "p/empty", nil); err != nil {
		t.Errorf("empty put-if-absent: %v", err)
	}
	if got := mustGet(t, s, "p/empty"); len(got) != 0 {
		t.Errorf("empty object read back %q", got)
	}
	// No temp files visible.
	got, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(infoKeys(got)) != "[p/empty p/k p/plain]" {
		t.Errorf("list = %v", infoKeys(got))
	}
}

// testPutIfAbsentRace: 16 writers race for each key with different bytes; exactly
// one wins, the rest get ErrExists, and the stored bytes are the winner's.
func testPutIfAbsentRace(t *testing.T, s Store) {
	const writers, rounds = 16, 4
	ctx := context.Background()
	for round := range rounds {
		key := deltaVersion(round)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, writers)
			datas = make([][]byte, writers)
		)
		for w := range writers {
			datas[w] = append([]byte(fmt.Sprintf("writer %02d round %d\n", w, round)), randBytes(uint64(round*100+w), 200+w)...)
			wg.Go(func() {
				<-start
				errs[w] = s.PutIfAbsent(ctx, key, datas[w])
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for w, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Errorf("round %d: writers %d and %d both won", round, winner, w)
				}
				winner = w
			case errors.Is(err, ErrExists):
			default:
				t.Errorf("round %d: writer %d: %v", round, w, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer won: %v", round, errs)
		}
		if got := mustGet(t, s, key); !bytes.Equal(got, datas[winner]) {
			t.Errorf("round %d: stored bytes are not the winner's (%d)", round, winner)
		}
	}
}

func testInvalidKeys(t *testing.T, s Store) {
	ctx := context.Background()
	for _, k := range []string{"", "/abs", "trail/", "a//b", "../up", "a/../b", "a/./b", ".", "..", ".objstore-tmp-1", "a/.objstore-x", "back\\slash", "nul\x00"} {
		if err := s.Put(ctx, k, []byte("x")); err == nil {
			t.Errorf("put %q: no error", k)
		}
		if err := s.PutIfAbsent(ctx, k, []byte("x")); err == nil || errors.Is(err, ErrExists) {
			t.Errorf("put-if-absent %q: %v, want a key error", k, err)
		}
		if _, err := s.Get(ctx, k); err == nil {
			t.Errorf("get %q: no error", k)
		}
	}
	got, err := s.List(ctx, "")
	if err != nil || len(got) != 0 {
		t.Errorf("after invalid puts, list = %v, %v", infoKeys(got), err)
	}
}
