package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// lookupRows returns s's rows of products as "id:name:price" in id order.
func lookupRows(ctx context.Context, s *strataServer) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.dsn())
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT id, name, price FROM products ORDER BY id`)
	if err != nil {
		return "", err
	}
	var out []string
	for rows.Next() {
		var id int64
		var name string
		var price float64
		if err := rows.Scan(&id, &name, &price); err != nil {
			return "", err
		}
		out = append(out, fmt.Sprintf("%d:%s:%g", id, name, price))
	}
	return strings.Join(out, " "), rows.Err()
}

// waitLookup waits until every server's products rows are want.
func waitLookup(t *testing.T, want string, servers ...*strataServer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, s := range servers {
		for {
			got, err := lookupRows(context.Background(), s)
			if err == nil && got == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: products are %q (%v), want %q", s.dataDir, got, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestClusterLookupRowsShared: with --cluster, a lookup table's rows live in
// its Delta table under the cluster location, so both nodes of a cluster read
// and write the same rows: an INSERT on a is read on b, b's UPDATE and DELETE
// on a, an upsert on a on b; an INSERT on b of a key a inserted is refused
// with 23505 (the constraint is checked against the latest version, whichever
// node wrote it). Then both nodes insert rows one statement at a time, all at
// once, each retrying what fails with 40001: every row is there once on both
// nodes (no write lost to a race), and of two INSERTs of one key racing on the
// two nodes exactly one succeeds.
func TestClusterLookupRowsShared(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	flags := []string{"--cluster", filepath.Join(dir, "cluster"), "--cluster-refresh", "200ms"}
	a := startStrataOn(t, filepath.Join(dir, "a"), freeAddr(t), flags...)
	b := startStrataOn(t, filepath.Join(dir, "b"), freeAddr(t), flags...)
	ca, cb := connect(t, a), connect(t, b)
	defer ca.Close(ctx)
	defer cb.Close(ctx)
	if _, err := ca.Exec(ctx, `CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL, price double precision)`); err != nil {
		t.Fatal(err)
	}
	waitLookup(t, "", a, b) // b found the table
	if _, err := ca.Exec(ctx, `INSERT INTO products VALUES (1, 'pen', 1.5), (2, 'ink', 4), (3, 'pad', 2)`); err != nil {
		t.Fatal(err)
	}
	waitLookup(t, "1:pen:1.5 2:ink:4 3:pad:2", a, b)
	if _, err := cb.Exec(ctx, `UPDATE products SET price = price * 2 WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Exec(ctx, `DELETE FROM products WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	waitLookup(t, "1:pen:1.5 2:ink:8", a, b)
	if _, err := ca.Exec(ctx, `INSERT INTO products VALUES (1, 'quill', 9), (4, 'nib', 0.5) ON CONFLICT (id) DO UPDATE SET name = excluded.name`); err != nil {
		t.Fatal(err)
	}
	waitLookup(t, "1:quill:1.5 2:ink:8 4:nib:0.5", a, b)
	_, err := cb.Exec(ctx, `INSERT INTO products VALUES (4, 'again', 1)`)
	if !isCode(err, "23505") {
		t.Fatalf("b inserting the key a inserted: %v, want 23505", err)
	}

	// Both nodes write at once.
	const each = 15
	retries := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k, c := range map[string]*pgx.Conn{"a": ca, "b": cb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := map[string]int{"a": 100, "b": 200}[k]
			for i := range each {
				for {
					_, err := c.Exec(ctx, fmt.Sprintf(`INSERT INTO products VALUES (%d, '%s%d', %d)`, base+i, k, i, i))
					if isCode(err, "40001") {
						mu.Lock()
						retries[k]++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Errorf("%s: insert %d: %v", k, base+i, err)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want := []string{"1:quill:1.5", "2:ink:8", "4:nib:0.5"}
	for _, k := range []string{"a", "b"} {
		base := map[string]int{"a": 100, "b": 200}[k]
		for i := range each {
			want = append(want, fmt.Sprintf("%d:%s%d:%d", base+i, k, i, i))
		}
	}
	waitLookup(t, strings.Join(want, " "), a, b)
	t.Logf("%d inserts on each node at once, retried on 40001: a %d times, b %d times", each, retries["a"], retries["b"])

	// One key, both nodes, at once: exactly one INSERT wins.
	for round := range 5 {
		id := 1000 + round
		errs := make([]error, 2)
		for i, c := range []*pgx.Conn{ca, cb} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					_, errs[i] = c.Exec(ctx, fmt.Sprintf(`INSERT INTO products VALUES (%d, 'node%d', 0)`, id, i))
					if !isCode(errs[i], "40001") {
						return
					}
				}
			}()
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !isCode(err, "23505"):
				t.Fatalf("round %d: node %d: %v, want success or 23505", round, i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of the two INSERTs of key %d succeeded, want exactly 1 (%v)", round, ok, id, errs)
		}
	}
	for _, c := range []*pgx.Conn{ca, cb} {
		var n, keys int
		if err := c.QueryRow(ctx, `SELECT count(*), count(DISTINCT id) FROM products WHERE id >= 1000`).Scan(&n, &keys); err != nil || n != 5 || keys != 5 {
			t.Fatalf("%d rows with %d keys of the raced ones (%v), want 5 and 5", n, keys, err)
		}
	}
}
