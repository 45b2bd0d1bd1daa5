// Package rowcheck checks exactly-once delivery row by row: a Ledger records,
// independently of strata, which user each produced id belongs to; Check compares
// the rows a table (or a lake) holds with it and names every id lost, repeated,
// unknown, NULL or moved to another user. Totals and per-user counts cannot see a
// lost row and a repeated row of the same user; this can.
//
// It is test support: it imports storage/lake only to read Parquet files.
package rowcheck

import (
	"fmt"
	"strings"
	"sync"
)

// Ledger records the user of each produced id. Ids are dense from 0; Add may be
// called from several goroutines.
type Ledger struct {
	mu    sync.Mutex
	users []string // users[id]; "" = not produced
	n     int
}

// Add records that id was produced for user. Producing an id twice is a bug of
// the test: it panics.
func (l *Ledger) Add(id int64, user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for int64(len(l.users)) <= id {
		l.users = append(l.users, "")
	}
	if l.users[id] != "" {
		panic(fmt.Sprintf("BUG: rowcheck: id %d produced twice", id))
	}
	l.users[id] = user
	l.n++
}

// Len is the number of ids produced.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// User returns the user id was produced for ("" if it was not).
func (l *Ledger) User(id int64) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id < 0 || id >= int64(len(l.users)) {
		return ""
	}
	return l.users[id]
}

// PerUser returns how many ids each user was produced with.
func (l *Ledger) PerUser() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string]int{}
	for _, u := range l.users {
		if u != "" {
			m[u]++
		}
	}
	return m
}

// Row is one row read back: its id (Null when the id is NULL) and its user.
type Row struct {
	ID   int64
	Null bool
	User string
}

// Report is what Check found. The zero Report (OK) means every produced id is
// present exactly once, with its user, and nothing else is.
type Report struct {
	Rows      int     // rows read
	Missing   []int64 // produced, absent
	Repeated  []int64 // present more than once (each id once here)
	Unknown   []int64 // present, never produced
	WrongUser []int64 // present with another user than produced
	NullIDs   int
}

// OK reports whether the rows are exactly the produced ones.
func (r Report) OK() bool {
	return len(r.Missing)+len(r.Repeated)+len(r.Unknown)+len(r.WrongUser)+r.NullIDs == 0
}

func (r Report) String() string {
	if r.OK() {
		return fmt.Sprintf("%d rows: every produced id exactly once, with its user", r.Rows)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows:", r.Rows)
	part := func(name string, ids []int64) {
		if len(ids) > 0 {
			fmt.Fprintf(&b, " %d %s (first %v);", len(ids), name, ids[:min(10, len(ids))])
		}
	}
	part("missing", r.Missing)
	part("repeated", r.Repeated)
	part("unknown", r.Unknown)
	part("with another user", r.WrongUser)
	if r.NullIDs > 0 {
		fmt.Fprintf(&b, " %d NULL ids;", r.NullIDs)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Check compares rows with what l recorded.
func Check(l *Ledger, rows []Row) Report {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := Report{Rows: len(rows)}
	seen := make([]uint32, len(l.users))
	wrong := map[int64]bool{}
	unknown := map[int64]bool{}
	for _, row := range rows {
		switch {
		case row.Null:
			r.NullIDs++
		case row.ID < 0 || row.ID >= int64(len(l.users)) || l.users[row.ID] == "":
			if !unknown[row.ID] {
				unknown[row.ID] = true
				r.Unknown = append(r.Unknown, row.ID)
			}
		default:
			if seen[row.ID]++; seen[row.ID] == 2 {
				r.Repeated = append(r.Repeated, row.ID)
			}
			if row.User != l.users[row.ID] && !wrong[row.ID] {
				wrong[row.ID] = true
				r.WrongUser = append(r.WrongUser, row.ID)
			}
		}
	}
	for id, k := range seen {
		if k == 0 && l.users[id] != "" {
			r.Missing = append(r.Missing, int64(id))
		}
	}
	return r
}
