package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
)

// Lookup tables are the dimension tables events are joined to (products, users,
// countries): no time column of their own, keys that identify a row, rows that
// change. A lookup table keeps a hidden time column LookupTimeColumn, always 0,
// as its last column, so it is stored, scanned and snapshotted like any table; it
// is never handed off (handoff is off) and is kept whole: every write (INSERT,
// COPY, an upsert, UPDATE, DELETE) goes through Rewrite, which reads every row,
// lets the caller compute the new rows, checks the table's unique keys, and
// replaces all of the table's segments with one segment in one catalog batch. So
// a write is atomic, a reader sees the table before or after it, and a lookup
// table costs a full rewrite per statement: meant for tables of up to a few
// million rows. A lookup table of a cluster (IsSharedLookup) is kept whole in its
// Delta table instead, every node reading and writing the same rows
// (lookupshared.go).
//
// Options (catalog.TableDef.Options):
//   - OptLookup "true" marks a lookup table;
//   - OptPrimaryKey names the primary key's columns, comma-separated;
//   - OptUnique lists the other unique keys, ';'-separated, each comma-separated.
//
// Column names are kept as given (they may not contain ',' or ';': CreateTable
// refuses such keys).
const (
	OptLookup     = catalog.OptLookup
	OptPrimaryKey = catalog.OptPrimaryKey
	OptUnique     = catalog.OptUnique
	// LookupTimeColumn is the hidden time column of a lookup table.
	LookupTimeColumn = "__time"
)

// IsLookup reports whether def is a lookup table.
func IsLookup(def *catalog.TableDef) bool { return def.Options[OptLookup] == "true" }

// Key is one unique key of a table: its constraint name and columns.
type Key struct {
	Name    string // as PostgreSQL names it: <table>_pkey, <table>_<cols>_key
	Primary bool
	Columns []int // schema column indexes
}

// Keys returns def's unique keys, the primary key first.
func Keys(def *catalog.TableDef) ([]Key, error) {
	var keys []Key
	parse := func(list string, primary bool) error {
		var k Key
		k.Primary = primary
		var names []string
		for _, n := range strings.Split(list, ",") {
			i := def.Schema.Index(n)
			if i < 0 {
				return fmt.Errorf("table %s: key column %q does not exist", def.Name, n)
			}
			k.Columns = append(k.Columns, i)
			names = append(names, n)
		}
		if primary {
			k.Name = def.Name + "_pkey"
		} else {
			k.Name = def.Name + "_" + strings.Join(names, "_") + "_key"
		}
		keys = append(keys, k)
		return nil
	}
	if pk := def.Options[OptPrimaryKey]; pk != "" {
		if err := parse(pk, true); err != nil {
			return nil, err
		}
	}
	if u := def.Options[OptUnique]; u != "" {
		for _, list := range strings.Split(u, ";") {
			if err := parse(list, false); err != nil {
				return nil, err
			}
		}
	}
	return keys, nil
}

// UniqueViolation is the error of a write that would leave two rows with equal
// values in a unique key (no column of the key NULL, as in PostgreSQL).
type UniqueViolation struct {
	Table, Constraint string
	Columns, Values   []string
}

func (e *UniqueViolation) Error() string {
	return fmt.Sprintf("duplicate key value violates unique constraint %q", e.Constraint)
}

// Detail is PostgreSQL's DETAIL line: Key (a, b)=(1, x) already exists.
func (e *UniqueViolation) Detail() string {
	return fmt.Sprintf("Key (%s)=(%s) already exists.", strings.Join(e.Columns, ", "), strings.Join(e.Values, ", "))
}

// ErrNotLookup is returned by Rewrite for a table that is not a lookup table.
var ErrNotLookup = errors.New("not a lookup table")

// KeyString returns the value of key k in row i of cols as one comparable
// string, and false when a key column is NULL (a NULL never conflicts).
func KeyString(cols *storage.Columns, k *Key, i int) (string, bool) {
	var b []byte
	for _, c := range k.Columns {
		if cols.IsNull(c, i) {
			return "", false
		}
		d := &cols.Cols[c]
		switch cols.Schema.Columns[c].Type {
		case storage.TypeString:
			b = strconv.AppendQuote(b, d.String[i])
		case storage.TypeFloat64:
			f := d.Float64[i]
			if f == 0 {
				f = 0 // -0 equals 0
			}
			b = strconv.AppendFloat(b, f, 'g', -1, 64)
		case storage.TypeBool:
			b = strconv.AppendBool(b, d.Bool[i])
		default:
			b = strconv.AppendInt(b, d.Int64[i], 10)
		}
		b = append(b, 0)
	}
	return string(b), true
}

// checkUnique returns a *UniqueViolation for the first row of cols whose key
// repeats an earlier row's.
func checkUnique(def *catalog.TableDef, keys []Key, cols *storage.Columns) error {
	for ki := range keys {
		k := &keys[ki]
		seen := make(map[string]struct{}, cols.Len)
		for i := 0; i < cols.Len; i++ {
			s, ok := KeyString(cols, k, i)
			if !ok {
				continue
			}
			if _, dup := seen[s]; dup {
				v := &UniqueViolation{Table: def.Name, Constraint: k.Name}
				for _, c := range k.Columns {
					v.Columns = append(v.Columns, def.Schema.Columns[c].Name)
					v.Values = append(v.Values, cellText(cols, c, i))
				}
				return v
			}
			seen[s] = struct{}{}
		}
	}
	return nil
}

// cellText renders a key cell for a message.
func cellText(cols *storage.Columns, c, i int) string {
	d := &cols.Cols[c]
	switch cols.Schema.Columns[c].Type {
	case storage.TypeString:
		return d.String[i]
	case storage.TypeFloat64:
		return strconv.FormatFloat(d.Float64[i], 'g', -1, 64)
	case storage.TypeBool:
		if d.Bool[i] {
			return "t"
		}
		return "f"
	}
	return strconv.FormatInt(d.Int64[i], 10)
}

// Rewrite replaces every row of lookup table table with the rows fn returns,
// given the current ones (fn must not keep or change cur; its result uses the
// table's schema, and the hidden time column is set to 0 here). Rewrites, and
// every other change of a table's segments, are serialized. The new rows must
// satisfy the table's unique keys (else *UniqueViolation, and nothing changes).
// fn returning a nil Columns leaves the table as it is. A shared lookup table's
// rewrite may call fn again, on newer rows, after losing a race to another
// node's write (lookupshared.go): fn must not count across calls.
func (s *Store) Rewrite(ctx context.Context, table string, fn func(cur *storage.Columns) (*storage.Columns, error)) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	def, ok := s.cat.Table(table)
	if !ok {
		return fmt.Errorf("rewrite %s: %w", table, ErrNoTable)
	}
	if !IsLookup(&def) {
		return fmt.Errorf("rewrite %s: %w", table, ErrNotLookup)
	}
	if IsSharedLookup(&def) {
		return s.rewriteShared(ctx, def, fn)
	}
	refs, release, err := s.holdSegments(def, nil)
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", table, err)
	}
	defer release()
	srcs := make([]storage.Source, len(refs))
	for i, ref := range refs {
		srcs[i] = ref.reader
	}
	cur, err := readAll(&def.Schema, srcs)
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", table, err)
	}
	next, err := fn(cur)
	if err != nil || next == nil {
		return err
	}
	if err := checkRewrite(ctx, &def, next); err != nil {
		return err
	}
	var added []*segRef
	if next.Len > 0 {
		seq, err := s.cat.ReserveSeqs(table, 1)
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", table, err)
		}
		ref, err := s.writeSegment(&def, 0, seq, next)
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", table, err)
		}
		added = append(added, ref)
	}
	if len(added) == 0 && len(refs) == 0 {
		return nil
	}
	if err := s.publish(def, added, refs, nil); err != nil {
		discard(added)
		return fmt.Errorf("rewrite %s: %w", table, err)
	}
	return nil
}

// checkRewrite checks next, the rows a Rewrite of def replaces the table's
// with, and sets their hidden time column to 0.
func checkRewrite(ctx context.Context, def *catalog.TableDef, next *storage.Columns) error {
	if err := storage.CheckColumns(&def.Schema, next); err != nil {
		return fmt.Errorf("rewrite %s: %w", def.Name, err)
	}
	tc := &next.Cols[def.Schema.TimeColumn]
	for i := range tc.Int64 {
		tc.Int64[i] = 0
	}
	keys, err := Keys(def)
	if err != nil {
		return err
	}
	if err := checkUnique(def, keys, next); err != nil {
		return err
	}
	return ctx.Err()
}

// appendLookup is Append for a lookup table: a Rewrite that adds cols.
func (s *Store) appendLookup(ctx context.Context, table string, cols *storage.Columns) error {
	return s.Rewrite(ctx, table, func(cur *storage.Columns) (*storage.Columns, error) {
		out := storage.NewColumns(cur.Schema, cur.Len+cols.Len)
		out.Append(cur)
		out.Append(cols)
		return out, nil
	})
}
